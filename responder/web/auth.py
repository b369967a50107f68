"""Sign-in for the web console: passwords, one-time links, sessions, signed cookies, CSRF tokens.

Only people on the roster sign in; their roles come from the roster at every request, so a
person removed from `roster.yaml` loses access with the next reload. Everything lives in
the database, so any instance can serve any request:

- passwords: argon2id (argon2-cffi's RFC 9106 low-memory profile), set from the command line;
- one-time links: 32 random bytes, only their SHA-256 stored, spent by one conditional
  UPDATE (two instances redeeming the same link at once: one wins);
- sessions: the cookie carries a random token signed with HMAC-SHA256; the database holds
  its SHA-256, the person, the expiry and the session's CSRF token;
- failed attempts per name and per client address within `web.login_window` are counted
  from `web_login_attempt`; past the limit the password is not even checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from ..db import insert_ignore, session_scope
from ..models import WebKey, WebLoginAttempt, WebLoginToken, WebPassword, WebSession
from ..roster import Person, Roster
from ..runtime import Settings
from .links import login_url

__all__ = [
    "MIN_PASSWORD",
    "LoginRefused",
    "SessionInfo",
    "Signer",
    "check_password",
    "create_session",
    "end_session",
    "hash_password",
    "issue_login_link",
    "load_session",
    "redeem_login_token",
    "set_password",
    "signing_key",
]

MIN_PASSWORD = 10
# Failures from one address may come from a whole office behind one NAT: allow more than per name.
ADDRESS_FACTOR = 4
_HASHER = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4 (RFC 9106 low-memory profile)
# Verified against when the name is unknown, so an unknown name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


class LoginRefused(Exception):
    """A sign-in that did not succeed; `reason` is a catalogue key, `until` set when rate-limited."""

    def __init__(self, reason: str, until: datetime | None = None):
        super().__init__(reason)
        self.reason = reason
        self.until = until


@dataclass(frozen=True)
class SessionInfo:
    """A signed-in person as the roster has them now."""

    person: Person
    csrf: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --------------------------------------------------------------------------- signing


class Signer:
    """HMAC-SHA256 signatures for cookie values (`value.signature`, URL-safe base64)."""

    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, value: str, purpose: str) -> str:
        mac = hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def sign(self, value: str, purpose: str = "session") -> str:
        """`value` with its signature appended (value must not contain '.')."""
        return f"{value}.{self._mac(value, purpose)}"

    def unsign(self, signed: str | None, purpose: str = "session") -> str | None:
        """The value if the signature is right, else None."""
        if not signed or "." not in signed:
            return None
        value, mac = signed.rsplit(".", 1)
        return value if hmac.compare_digest(mac, self._mac(value, purpose)) else None

    def token_for(self, value: str, purpose: str) -> str:
        """A token derived from `value` (the sign-in form's CSRF token from its pre-session cookie)."""
        return self._mac(value, purpose)


def signing_key(engine: Engine, now: datetime, secret: str | None = None) -> bytes:
    """From `secret` (RESPONDER_WEB_SECRET, as `responder.env` read it) if set, else a random
    key made once and kept in the database, so every instance (and every restart) signs and
    checks cookies alike."""
    secret = (secret or "").strip()
    if secret:
        return hashlib.sha256(secret.encode()).digest()
    with session_scope(engine) as s:
        insert_ignore(s, WebKey(name="cookie", value=secrets.token_hex(32), created_at=now), ["name"])
        return bytes.fromhex(s.exec(select(WebKey.value).where(WebKey.name == "cookie")).one())


# --------------------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    """An argon2id hash string (parameters and salt included)."""
    return _HASHER.hash(password)


def _person(roster: Roster, name: str) -> Person | None:
    return next((p for p in roster.people if p.name == name), None)


def set_password(engine: Engine, roster: Roster, name: str, password: str, now: datetime) -> None:
    """Set (or replace) `name`'s console password. ValueError for a stranger or a short password;
    the person's sessions end, so a changed password locks out whoever knew the old one."""
    if _person(roster, name) is None:
        raise ValueError(name)
    if len(password) < MIN_PASSWORD:
        raise ValueError(str(MIN_PASSWORD))
    hashed = hash_password(password)
    with session_scope(engine) as s:
        row = s.get(WebPassword, name) or WebPassword(person=name, hash=hashed, set_at=now)
        row.hash, row.set_at = hashed, now
        s.add(row)
        s.execute(sa.delete(WebSession).where(col(WebSession.person) == name))


def _failures(s: Session, column: Mapped[str], value: str, since: datetime) -> list[datetime]:
    rows = s.exec(
        select(WebLoginAttempt.at)
        .where(column == value, WebLoginAttempt.ok == False)  # noqa: E712
        .where(col(WebLoginAttempt.at) > since)
        .order_by(col(WebLoginAttempt.at))
    ).all()
    return list(rows)


def _limited(
    s: Session, settings: Settings, name: str | None, address: str, now: datetime
) -> datetime | None:
    """When the name (None: links, which name nobody) or the address is over its failure limit:
    the time the limit lifts."""
    web = settings.feeds.web
    since = now - web.login_window
    checks = [(col(WebLoginAttempt.address), address, web.login_attempts * ADDRESS_FACTOR)]
    if name is not None:
        checks.insert(0, (col(WebLoginAttempt.person), name, web.login_attempts))
    for column, value, limit in checks:
        failed = _failures(s, column, value, since)
        if len(failed) >= limit:
            return failed[len(failed) - limit] + web.login_window
    return None


def _record(s: Session, name: str, address: str, ok: bool, method: str, now: datetime) -> None:
    s.add(WebLoginAttempt(at=now, person=name[:200], address=address, ok=ok, method=method))


def check_password(
    engine: Engine, settings: Settings, name: str, password: str, address: str, now: datetime
) -> Person:
    """The person if `name` and `password` are right and neither the name nor the address is
    over its failure limit; else LoginRefused. Every attempt is recorded."""
    name = name.strip()
    with session_scope(engine) as s:
        until = _limited(s, settings, name, address, now)
        if until is not None:
            _refuse(s, name, address, now, "web_login_limited", until)
        person = _person(settings.roster, name)
        row = s.get(WebPassword, name) if person is not None else None
        try:
            _HASHER.verify(row.hash if row else _DUMMY_HASH, password)
            ok = row is not None
        except (VerificationError, InvalidHashError):
            ok = False
        _record(s, name, address, ok, "password", now)
        if not ok or person is None:
            s.commit()
            raise LoginRefused("web_login_wrong")
        if row is not None and _HASHER.check_needs_rehash(row.hash):
            row.hash = hash_password(password)  # parameters were raised since it was set
            s.add(row)
        return person


def _refuse(s: Session, name: str, address: str, now: datetime, reason: str, until: datetime) -> NoReturn:
    _record(s, name, address, False, "password", now)
    s.commit()
    raise LoginRefused(reason, until)


# --------------------------------------------------------------------------- one-time links


def issue_login_link(
    engine: Engine, settings: Settings, person: str, now: datetime, *, port: int | None = None
) -> str:
    """A one-time sign-in link for roster person `person` (by name), valid `web.login_link_ttl`.

    The Telegram `/login` command and console mode call this; ValueError for a name that is
    not on the roster. `port`: the port actually bound when `web.port` is 0.
    """
    if _person(settings.roster, person) is None:
        raise ValueError(f"{person!r} is not on the roster")
    token = secrets.token_urlsafe(32)
    with session_scope(engine) as s:
        s.add(
            WebLoginToken(
                id=_digest(token),
                person=person,
                created_at=now,
                expires_at=now + settings.feeds.web.login_link_ttl,
            )
        )
    return login_url(settings.feeds.web, token, port)


def peek_login_token(engine: Engine, settings: Settings, token: str, now: datetime) -> Person | None:
    """Whose unspent, unexpired link this is (for the confirmation page); spends nothing."""
    with Session(engine) as s:
        row = s.get(WebLoginToken, _digest(token))
    if row is None or row.used_at is not None or row.expires_at is None or row.expires_at <= now:
        return None
    return _person(settings.roster, row.person)


def redeem_login_token(engine: Engine, settings: Settings, token: str, address: str, now: datetime) -> Person:
    """Spend the link: the person it was made for, once; LoginRefused if unknown, spent or expired."""
    digest = _digest(token)
    with session_scope(engine) as s:
        # Per address only: counting bad links under one name would let anyone lock out every link.
        until = _limited(s, settings, None, address, now)
        if until is not None:
            _record(s, "", address, False, "link", now)
            s.commit()
            raise LoginRefused("web_login_limited", until)
        spent = s.execute(
            sa.update(WebLoginToken)
            .where(col(WebLoginToken.id) == digest, col(WebLoginToken.used_at).is_(None))
            .where(col(WebLoginToken.expires_at) > now)
            .values(used_at=now, used_from=address)
        )
        row = s.get(WebLoginToken, digest)
        person = _person(settings.roster, row.person) if row is not None else None
        ok = spent.rowcount == 1 and person is not None  # type: ignore[attr-defined]  # a CursorResult at run time
        _record(s, row.person if row else "", address, ok, "link", now)
        if not ok:
            s.commit()
            raise LoginRefused("web_link_invalid")
        assert person is not None
        return person


# --------------------------------------------------------------------------- sessions


def create_session(
    engine: Engine, settings: Settings, person: Person, address: str, method: str, now: datetime
) -> str:
    """Start a session for `person`; returns the token to put (signed) in the cookie.

    Expired sessions, links and attempts older than a day are cleared on the way.
    """
    token = secrets.token_urlsafe(32)
    with session_scope(engine) as s:
        s.add(
            WebSession(
                id=_digest(token),
                person=person.name,
                csrf=secrets.token_urlsafe(24),
                created_at=now,
                expires_at=now + settings.feeds.web.session_ttl,
                address=address,
                method=method,
            )
        )
        old = now - max(timedelta(days=1), settings.feeds.web.login_window)
        s.execute(sa.delete(WebSession).where(col(WebSession.expires_at) <= now))
        s.execute(sa.delete(WebLoginToken).where(col(WebLoginToken.expires_at) <= old))
        s.execute(sa.delete(WebLoginAttempt).where(col(WebLoginAttempt.at) <= now - timedelta(days=90)))
    return token


def load_session(engine: Engine, settings: Settings, token: str, now: datetime) -> SessionInfo | None:
    """The live session of `token` for someone still on the roster, else None."""
    with Session(engine) as s:
        row = s.get(WebSession, _digest(token))
    if row is None or row.expires_at is None or row.expires_at <= now:
        return None
    person = _person(settings.roster, row.person)
    return SessionInfo(person, row.csrf, row.expires_at) if person is not None else None


def end_session(engine: Engine, token: str) -> None:
    """Sign out: the session's row is deleted, so its cookie opens nothing any more."""
    with session_scope(engine) as s:
        s.execute(sa.delete(WebSession).where(col(WebSession.id) == _digest(token)))
