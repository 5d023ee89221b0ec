"""Web commands: run the app with a production server, and manage accounts from the console."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface; put HTTPS in front then).")
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True, help="Port.")
@click.option("--threads", type=click.IntRange(1, 64), default=16, show_default=True,
              help="Request threads of the server.")
@click.option("--plan-workers", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Processes that solve patrol plans (each uses one CPU core while solving).")
@click.pass_obj
def serve(obj, host: str, port: int, threads: int, plan_workers: int) -> None:
    """Run the web app with the waitress production server.

    On first start with an empty store it loads the synthetic demo incidents, and when there is no
    account it creates `admin` with a random password printed once here.
    """
    import signal
    import sys

    import waitress

    from webapp import create_app

    app = create_app({"HOME": obj.settings.home, "PLAN_WORKERS": plan_workers,
                      "PLAN_MAX_WAITING": max(2, threads // 2)})
    app.extensions["hotspots_planner"].warm()
    click.echo(f"Serving the hotspots web app on http://{host}:{port}/ (Ctrl+C to stop)", err=True)
    if app.extensions["hotspots_data"].is_demo():
        click.echo("The store holds SYNTHETIC demo incidents; the pages say so.", err=True)
    # Stop cleanly on SIGTERM too, so the plan workers are shut down with the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Proxy headers reach the app (its ProxyFix) only when the trusted_proxies setting says so.
    trusted = app.config["HOTSPOTS_SETTINGS"].trusted_proxies > 0
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="hotspots",
                       clear_untrusted_proxy_headers=not trusted, _quiet=obj.quiet)
    finally:
        app.extensions["hotspots_planner"].shutdown()


@click.group()
def users() -> None:
    """Web app accounts: add users, reset passwords, change roles, clear login locks."""


def _app(obj):
    from webapp import create_app

    return create_app({"HOME": obj.settings.home, "BOOTSTRAP": False})


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["viewer", "guardian", "analyst", "admin"]), default="viewer",
              show_default=True)
@click.option("--team", default="", help="Patrol team (for guardians).")
@click.pass_obj
def users_add(obj, username: str, role: str, team: str) -> None:
    """Add a user with a random password (printed once)."""
    from sqlalchemy import func, select

    from hotspots.errors import InputError
    from webapp.auth import create_user
    from webapp.db import User, db_session

    app = _app(obj)
    with app.app_context():
        session = db_session()
        if session.scalars(select(User).where(func.lower(User.username) == username.casefold())).first():
            msg = f"there is already a user called {username!r}."
            raise InputError(msg)
        user, password = create_user(session, username, role, team=team)
        _audit_console("user_created", user.username, role=role)
    click.echo(f"added {user.username} ({role}); password (shown only now): {password}")


@users.command("reset-password")
@click.argument("username")
@click.pass_obj
def users_reset(obj, username: str) -> None:
    """Give a user a new random password (printed once), end their sessions and withdraw their
    API token."""
    from webapp.auth import end_sessions, hash_password, random_password

    app = _app(obj)
    with app.app_context():
        user, session = _find(username)
        password = random_password()
        user.password_hash = hash_password(password)
        user.token_hash = None
        end_sessions(user)
        session.commit()
        _audit_console("password_reset", user.username)
    click.echo(f"new password for {username} (shown only now): {password}")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["viewer", "guardian", "analyst", "admin"]))
@click.pass_obj
def users_set_role(obj, username: str, role: str) -> None:
    """Change a user's role (their sessions end: they log in again with the new role)."""
    from webapp.auth import end_sessions

    app = _app(obj)
    with app.app_context():
        user, session = _find(username)
        old = user.role
        user.role = role
        if role != old:
            end_sessions(user)
        session.commit()
        _audit_console("role_change", user.username, old=old, new=role)
    click.echo(f"{username}: {old} -> {role}")


@users.command("unlock")
@click.argument("username", required=False, default="")
@click.option("--address", default="", help="Only the lock from this address (or, with no user "
              "name, the lock on the address for every account).")
@click.pass_obj
def users_unlock(obj, username: str, address: str) -> None:
    """Clear the login lock of USERNAME after failed logins (from every address, or --address).

    The Admin > Login locks page lists the locks and clears them too.
    """
    from hotspots.errors import InputError
    from webapp.db import db_session
    from webapp.throttle import clear_locks

    if not username and not address:
        msg = "give a user name, --address or both; see Admin > Login locks for the locks."
        raise InputError(msg)
    app = _app(obj)
    with app.app_context():
        session = db_session()
        forgotten = clear_locks(session, username=username or None, address=address or None)
        session.commit()
        _audit_console("login_unlocked", username or address, cleared_address=address,
                       failures=forgotten)
    who = " from ".join(x for x in (username, address) if x)
    click.echo(f"cleared the login lock on {who}: {forgotten} failed logins forgotten")


@users.command("list")
@click.pass_obj
def users_list(obj) -> None:
    """List the accounts."""
    from sqlalchemy import select

    from webapp.db import User, db_session

    app = _app(obj)
    with app.app_context():
        for u in db_session().scalars(select(User).order_by(User.username)):
            state = "" if u.active else " (inactive)"
            click.echo(f"{u.username:<24} {u.role:<9} {u.team}{state}")


def _find(username: str):
    from sqlalchemy import func, select

    from hotspots.errors import InputError
    from webapp.db import User, db_session

    session = db_session()
    user = session.scalars(select(User).where(func.lower(User.username) == username.casefold())).first()
    if user is None:
        msg = f"there is no user called {username!r}; see `hotspots users list`."
        raise InputError(msg)
    return user, session


def _audit_console(action: str, target: str, **detail) -> None:
    from webapp.db import audit

    audit(action, target=target, username="(console)", **detail)
