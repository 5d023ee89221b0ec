"""Application state in SQLAlchemy: users, saved patrol plans, patrol visits, upload reports, audit log,
patrol teams and the register of designated hotspots.

A SQLite file in the instance folder by default; any SQLAlchemy URL (PostgreSQL in production)
through the `database_url` setting. The schema is created when the app starts, and a database made
by an older version gains the columns added since (`upgrade_schema`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.schema import CreateColumn

log = logging.getLogger(__name__)

#: Roles from least to most trusted; each role can do everything the ones before it can.
ROLES: tuple[str, ...] = ("viewer", "guardian", "analyst", "admin")


def utcnow() -> dt.datetime:
    """Now, in UTC, without tzinfo (portable across SQLite and PostgreSQL columns)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="viewer")
    team: Mapped[str] = mapped_column(String(120), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True, nullable=True)
    token_created_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    #: Part of every session's user id: raising it ends every session of this user at once
    #: (logout, password change or reset, role change, deactivation).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The id kept in the session: the user's id and session version (`id:version`)."""
        return f"{self.id}:{self.session_version or 0}"

    def has_role(self, role: str) -> bool:
        """True when this user's role is `role` or a more trusted one."""
        return ROLES.index(self.role) >= ROLES.index(role)


class LoginFailure(Base):
    """Recent failed logins, by user name and by address, for the slowdown."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class SavedPlan(Base):
    """A patrol plan: what was asked, what the planner returned, and who it is assigned to."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    period: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # PatrolPlan.to_dict()
    geojson: Mapped[str] = mapped_column(Text, default="")
    gpx: Mapped[str] = mapped_column(Text, default="")
    gpx_teams: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # team -> GPX of its route
    sheet_html: Mapped[str] = mapped_column(Text, default="")
    approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | saved
    assignments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # team -> username
    #: The day and shift the plan is for (None for plans made before plans had dates).
    shift_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True, index=True)
    shift: Mapped[str | None] = mapped_column(String(80), nullable=True)  # e.g. "Mon 2025-08-11, 16:00-20:00"


class Visit(Base):
    """One patrol visit to one stop: arrival and (once known) departure."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"), nullable=True, index=True)
    team: Mapped[str] = mapped_column(String(120), default="")
    stop_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    h3_cell: Mapped[str] = mapped_column(String(20), index=True)
    ward_code: Mapped[str] = mapped_column(String(20), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    arrived_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    departed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="")

    @property
    def minutes(self) -> float | None:
        if self.departed_at is None:
            return None
        return max(0.0, (self.departed_at - self.arrived_at).total_seconds() / 60.0)


class Upload(Base):
    """What an upload did: the ingest report, or why the file was refused."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    filenames: Mapped[list[Any]] = mapped_column(JSON, default=list)
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str] = mapped_column(Text, default="")
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditEntry(Base):
    """Who did what, when: every export, upload, plan saved and account change."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(80), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    address: Mapped[str] = mapped_column(String(64), default="")


class PatrolTeam(Base):
    """A patrol team: who patrols, from which base, how, and in which wards (the programme's teams)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True, index=True)
    base: Mapped[str] = mapped_column(String(80))  # a ward code, or "longitude latitude"
    mode: Mapped[str] = mapped_column(String(10), default="drive")  # drive | walk
    members: Mapped[list[Any]] = mapped_column(JSON, default=list)  # user names or call signs
    home_wards: Mapped[list[Any]] = mapped_column(JSON, default=list)  # ward codes
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DesignatedHotspot(Base):
    """A designated hotspot of the programme: its area, owner, tactic, dosage target and dates.

    Every change is also written to the audit log (target `hotspot <id>`) with who and why.
    """

    __tablename__ = "designated_hotspots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))  # asb | serious_violence
    cells: Mapped[list[Any]] = mapped_column(JSON, default=list)  # H3 cells (hex), one resolution
    resolution: Mapped[int] = mapped_column(Integer, default=10)
    polygon: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # GeoJSON, lon/lat
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), nullable=True, index=True)
    tactic: Mapped[str] = mapped_column(String(40), default="patrol")
    visits_per_week: Mapped[int] = mapped_column(Integer, default=7)
    minutes_per_visit: Mapped[float] = mapped_column(Float, default=15.0)
    start_date: Mapped[dt.date] = mapped_column(Date)
    review_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="proposed", index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    closed_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# ---------------------------------------------------------------------------------------------


def database_url(app: Flask) -> str:
    """The configured URL, or a SQLite file in the instance folder."""
    url = app.config.get("DATABASE_URL") or app.config["HOTSPOTS_SETTINGS"].database_url
    if url:
        return url
    return f"sqlite:///{app.config['HOTSPOTS_SETTINGS'].home.resolve() / 'hotspots.db'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers carry on while a visit or plan is written; wait rather than fail when busy.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def init_db(app: Flask) -> None:
    """Create the engine and session factory for `app` and make sure the schema exists."""
    url = database_url(app)
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    Base.metadata.create_all(engine)
    upgrade_schema(engine)
    factory = scoped_session(sessionmaker(bind=engine, expire_on_commit=False))
    app.extensions["hotspots_db"] = {"engine": engine, "session": factory}

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        factory.remove()


def upgrade_schema(engine: Engine) -> list[str]:
    """Add the columns a database made by an older version lacks; returns them as `table.column`.

    Only additions, each with the column's server default (a new NOT NULL column must declare
    one), so an existing SQLite file or PostgreSQL database keeps working after an upgrade.
    """
    added: list[str] = []
    tables = set(inspect(engine).get_table_names())
    for table in Base.metadata.sorted_tables:
        if table.name not in tables:
            continue
        have = {c["name"] for c in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable and column.server_default is None:  # pragma: no cover
                msg = (f"column {table.name}.{column.name} is NOT NULL without a server default; "
                       "give it one so that existing databases can be upgraded.")
                raise RuntimeError(msg)
            ddl = CreateColumn(column).compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    name = engine.dialect.identifier_preparer.format_table(table)
                    conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN {ddl}")
                    for index in table.indexes:
                        if column in index.columns.values():
                            index.create(conn, checkfirst=True)
            except SQLAlchemyError:
                # Another process starting at the same time may have added it first.
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise
            added.append(f"{table.name}.{column.name}")
            log.info("database upgraded: added column %s.%s", table.name, column.name)
    return added


def get_engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["hotspots_db"]["engine"]


def db_session(app: Flask | None = None) -> Session:
    """The session of the current thread (removed when the app context ends)."""
    return (app or current_app).extensions["hotspots_db"]["session"]()


def audit(action: str, target: str = "", **detail: Any) -> None:
    """Write one audit entry for the current user and commit it.

    `action` is a short verb such as `export`, `upload`, `plan_saved`, `role_change`.
    """
    from flask_login import current_user

    user = current_user if has_request_context() else None
    uid = user.id if user is not None and getattr(user, "is_authenticated", False) else None
    name = user.username if uid is not None else detail.pop("username", "")
    address = (request.remote_addr or "") if has_request_context() else ""
    session = db_session()
    entry = AuditEntry(user_id=uid, username=name, action=action, target=target[:200],
                       detail=json.loads(json.dumps(detail, default=str)), address=address)
    session.add(entry)
    session.commit()
    if has_request_context():
        g.setdefault("audited", []).append(action)
    log.info("audit: %s %s %s", name, action, target)


def count_users(session: Session) -> int:
    return len(session.scalars(select(User.id).limit(1)).all())
