"""The slowdown after failed logins, per account and address and per address, and its locks.

Failures are counted within `LOGIN_WINDOW_S` in two ways, both tied to the address an attempt
comes from, so a correct password from another address is never held up:

- per account and address: after `LOGIN_FREE_FAILURES` failures for one user name from one
  address, attempts for that name from that address wait;
- per address: after `LOGIN_ADDRESS_FREE_FAILURES` failures from one address, whatever the names
  (someone trying many accounts), attempts from that address wait.

Each further attempt waits twice as long as the one before (`LOGIN_BACKOFF_BASE_S`, doubling, at
most `LOGIN_BACKOFF_MAX_S`). The address is the connection's, or the client's as a trusted proxy
reports it (the `trusted_proxies` setting). An admin can clear a lock (Admin > Login locks, or
`hotspots users unlock`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Flask, current_app, request
from sqlalchemy import delete, func, select

from webapp.db import LoginFailure, utcnow


def init_throttle(app: Flask) -> None:
    app.config.setdefault("LOGIN_FREE_FAILURES", 5)
    app.config.setdefault("LOGIN_ADDRESS_FREE_FAILURES", 20)
    app.config.setdefault("LOGIN_WINDOW_S", 15 * 60)
    app.config.setdefault("LOGIN_BACKOFF_BASE_S", 2.0)
    app.config.setdefault("LOGIN_BACKOFF_MAX_S", 300.0)


def client_address() -> str:
    """The address of the current request's client (after `ProxyFix`, when proxies are trusted)."""
    return (request.remote_addr or "unknown")[:64]


def wait_seconds(failures: int, last: dt.datetime | None, *, free: int | None = None) -> float:
    """Seconds an attempt must still wait after `failures` recent failures, the last at `last`
    (0: it may try now); `free` failures (default `LOGIN_FREE_FAILURES`) cost nothing."""
    free = current_app.config["LOGIN_FREE_FAILURES"] if free is None else free
    if failures < free or last is None:
        return 0.0
    delay = min(current_app.config["LOGIN_BACKOFF_BASE_S"] * 2 ** (failures - free),
                current_app.config["LOGIN_BACKOFF_MAX_S"])
    remaining = delay - (utcnow() - last).total_seconds()
    return max(0.0, remaining)


def _since() -> dt.datetime:
    return utcnow() - dt.timedelta(seconds=current_app.config["LOGIN_WINDOW_S"])


def login_wait(session, username: str, address: str) -> float:
    """Seconds an attempt for `username` from `address` must wait (0: it may try now)."""
    since = _since()
    session.execute(delete(LoginFailure).where(LoginFailure.at < since))
    pair = session.execute(
        select(func.count(LoginFailure.id), func.max(LoginFailure.at)).where(
            LoginFailure.at >= since, LoginFailure.username == username.casefold()[:80],
            LoginFailure.address == address)).one()
    whole = session.execute(
        select(func.count(LoginFailure.id), func.max(LoginFailure.at)).where(
            LoginFailure.at >= since, LoginFailure.address == address)).one()
    return max(wait_seconds(int(pair[0] or 0), pair[1]),
               wait_seconds(int(whole[0] or 0), whole[1],
                            free=current_app.config["LOGIN_ADDRESS_FREE_FAILURES"]))


def record_failure(session, username: str, address: str) -> bool:
    """Count one failed login; True when it starts a lock (the free failures are used up)."""
    name = username.casefold()[:80]
    session.add(LoginFailure(username=name, address=address))
    session.flush()
    since = _since()
    pair = session.scalar(select(func.count(LoginFailure.id)).where(
        LoginFailure.at >= since, LoginFailure.username == name, LoginFailure.address == address))
    whole = session.scalar(select(func.count(LoginFailure.id)).where(
        LoginFailure.at >= since, LoginFailure.address == address))
    return (pair == current_app.config["LOGIN_FREE_FAILURES"]
            or whole == current_app.config["LOGIN_ADDRESS_FREE_FAILURES"])


def forget_failures(session, username: str, address: str) -> None:
    """After a correct password: the failures of that name from that address are forgiven."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == username.casefold()[:80],
                                               LoginFailure.address == address))


@dataclass(frozen=True)
class Lock:
    """Logins held up: for `username` from `address`, or from `address` for every name ("")."""

    username: str
    address: str
    failures: int
    last: dt.datetime
    wait_s: float


def current_locks(session) -> list[Lock]:
    """Every lock whose free failures are used up within the window, longest wait first."""
    since = _since()
    free = current_app.config["LOGIN_FREE_FAILURES"]
    free_address = current_app.config["LOGIN_ADDRESS_FREE_FAILURES"]
    locks = []
    pairs = session.execute(
        select(LoginFailure.username, LoginFailure.address, func.count(LoginFailure.id),
               func.max(LoginFailure.at))
        .where(LoginFailure.at >= since)
        .group_by(LoginFailure.username, LoginFailure.address)
        .having(func.count(LoginFailure.id) >= free)).all()
    for name, address, n, last in pairs:
        locks.append(Lock(name, address, int(n), last, wait_seconds(int(n), last)))
    addresses = session.execute(
        select(LoginFailure.address, func.count(LoginFailure.id), func.max(LoginFailure.at))
        .where(LoginFailure.at >= since)
        .group_by(LoginFailure.address)
        .having(func.count(LoginFailure.id) >= free_address)).all()
    for address, n, last in addresses:
        locks.append(Lock("", address, int(n), last, wait_seconds(int(n), last, free=free_address)))
    return sorted(locks, key=lambda lock: (-lock.wait_s, lock.username, lock.address))


def clear_locks(session, *, username: str | None = None, address: str | None = None) -> int:
    """Forget the failures of `username` (from every address, or only `address`) or of `address`
    (for every name); returns how many were forgotten. Commit to apply."""
    if not username and not address:
        msg = "give a user name, an address or both."
        raise ValueError(msg)
    stmt = delete(LoginFailure)
    if username:
        stmt = stmt.where(LoginFailure.username == username.casefold()[:80])
    if address:
        stmt = stmt.where(LoginFailure.address == address)
    return int(session.execute(stmt).rowcount or 0)
