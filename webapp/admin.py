"""Admin: user accounts and roles, login locks, and the audit log."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp import params
from webapp.auth import create_user, end_sessions, forget_users, hash_password, random_password
from webapp.auth import role_required as _role_required
from webapp.db import ROLES, AuditEntry, User, audit, db_session
from webapp.errors import ParameterError
from webapp.forms import ActionForm, NewUserForm, UserEditForm
from webapp.services import get_data
from webapp.throttle import clear_locks, current_locks

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE = 50
#: The audit log is paged 50 entries at a time; a million pages is 50 million entries.
MAX_AUDIT_PAGE = 1_000_000


def _admins_left(session, excluding: User) -> int:
    return session.scalar(select(func.count(User.id)).where(
        User.role == "admin", User.active.is_(True), User.id != excluding.id)) or 0


def _users_page(form: NewUserForm, new_password: tuple[str, str] | None) -> str:
    people = db_session().scalars(select(User).order_by(User.username)).all()
    edit_forms = {}
    for u in people:
        f = UserEditForm(prefix=f"u{u.id}", formdata=None)
        f.role.data, f.team.data, f.active.data = u.role, u.team, u.active
        edit_forms[u.id] = f
    teams = [spec.rpartition("=")[0].strip() or spec for spec in get_data().settings.patrol_teams]
    return render_template("admin_users.html", users=people, form=form, edit_forms=edit_forms,
                           new_password=new_password, action_form=ActionForm(), team_names=teams)


@bp.route("/users", methods=["GET", "POST"])
@_role_required("admin")
def users():
    session = db_session()
    form = NewUserForm()
    new_password = None
    status = 200
    if form.validate_on_submit():
        name = form.username.data.strip()
        exists = session.scalars(select(User).where(func.lower(User.username) == name.casefold())).first()
        if exists:
            flash(f"There is already a user called {name!r}.", "error")
            status = 400
        else:
            try:
                user, new_password = create_user(session, name, form.role.data, team=form.team.data or "")
            except IntegrityError:
                session.rollback()
                flash(f"There is already a user called {name!r}.", "error")
                status = 400
            else:
                audit("user_created", target=user.username, role=user.role, team=user.team)
                audit("role_change", target=user.username, old=None, new=user.role)
                new_password = (user.username, new_password)
                form = NewUserForm(formdata=None)
    elif form.is_submitted():
        status = 400
    return _users_page(form, new_password), status


@bp.route("/users/<int:user_id>", methods=["POST"])
@_role_required("admin")
def edit_user(user_id: int):
    session = db_session()
    user = session.get(User, user_id)
    if user is None:
        abort(404, description=f"There is no user {user_id}.")
    form = UserEditForm(prefix=f"u{user.id}")
    if not form.validate_on_submit():
        abort(400, description="The change could not be saved: check the form.")
    role, active = form.role.data, bool(form.active.data)
    if role not in ROLES:
        raise ParameterError("role", f"`role` is {role!r}; expected one of {', '.join(ROLES)}.", value=role)
    if user.role == "admin" and (role != "admin" or not active) and _admins_left(session, user) == 0:
        flash("The last active admin cannot be demoted or deactivated.", "error")
        return redirect(url_for("admin.users"))
    old_role, old_active, old_team = user.role, user.active, user.team
    user.role, user.active, user.team = role, active, (form.team.data or "").strip()
    if role != old_role or active != old_active:
        end_sessions(user)  # the user logs in again to work with the new role
    session.commit()
    forget_users()
    if role != old_role:
        audit("role_change", target=user.username, old=old_role, new=role)
    if active != old_active:
        audit("user_activated" if active else "user_deactivated", target=user.username)
    if user.team != old_team:
        audit("team_change", target=user.username, old=old_team, new=user.team)
    flash(f"Saved {user.username}.", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@_role_required("admin")
def reset_password(user_id: int):
    session = db_session()
    user = session.get(User, user_id)
    if user is None:
        abort(404, description=f"There is no user {user_id}.")
    if not ActionForm().validate_on_submit():
        abort(400, description="The form has expired; reload the page.")
    password = random_password()
    user.password_hash = hash_password(password)
    user.token_hash = None  # a reset also withdraws the API token
    end_sessions(user)
    session.commit()
    forget_users()
    audit("password_reset", target=user.username)
    return _users_page(NewUserForm(formdata=None), (user.username, password))


@bp.route("/locks")
@_role_required("admin")
def locks():
    """Logins held up after failed attempts: by account and address, or by address."""
    return render_template("admin_locks.html", locks=current_locks(db_session()),
                           action_form=ActionForm())


@bp.route("/locks/clear", methods=["POST"])
@_role_required("admin")
def clear_lock():
    if not ActionForm().validate_on_submit():
        abort(400, description="The form has expired; reload the page.")
    username = params.text(request.form.get("username"), "username", max_len=80)
    address = params.text(request.form.get("address"), "address", max_len=64)
    if not username and not address:
        raise ParameterError("username", "Give a user name, an address or both to clear a lock.")
    session = db_session()
    forgotten = clear_locks(session, username=username or None, address=address or None)
    session.commit()
    audit("login_unlocked", target=username or address, cleared_address=address, failures=forgotten)
    who = " from ".join(x for x in (username, address) if x)
    flash(f"Cleared the lock on {who} ({forgotten} failed logins forgotten).", "success")
    return redirect(url_for("admin.locks"))


@bp.route("/audit")
@_role_required("admin")
def audit_log():
    session = db_session()
    action = params.text(params.one(request.args, "action"), "action", max_len=40)
    page = params.integer(params.one(request.args, "page"), "page", lo=1, hi=MAX_AUDIT_PAGE, default=1)
    stmt = select(AuditEntry)
    count_stmt = select(func.count(AuditEntry.id))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
        count_stmt = count_stmt.where(AuditEntry.action == action)
    total = session.scalar(count_stmt) or 0
    entries = session.scalars(stmt.order_by(AuditEntry.id.desc()).offset((page - 1) * AUDIT_PAGE)
                              .limit(AUDIT_PAGE)).all()
    actions = [a for (a,) in session.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action))]
    return render_template("admin_audit.html", entries=entries, action=action, actions=actions,
                           page=page, pages=max(1, -(-total // AUDIT_PAGE)), total=total,
                           me=current_user)
