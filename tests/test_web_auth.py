"""Console sign-in on a real database (SQLite and PostgreSQL), at fixed times: passwords, the
failed-attempt limit, one-time links, sessions; and the `web:` settings and page links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.enginekit import write_config
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from responder.config import WebConsole
from responder.configfile import ConfigError
from responder.env import Environment
from responder.models import WebLoginAttempt, WebPassword
from responder.runtime import Settings, load_settings
from responder.web.auth import (
    LoginRefused,
    Signer,
    check_password,
    create_session,
    end_session,
    issue_login_link,
    load_session,
    peek_login_token,
    redeem_login_token,
    set_password,
    signing_key,
)
from responder.web.links import base_url, incident_url, path_prefix

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
WEB = "web:\n  login_attempts: 3\n  login_window: 10m\n  public_url: https://yq.example.gov.cn/console/\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path, "  - name: 新闻\n    url: feed.xml\n", WEB))


def _token(link: str) -> str:
    return link.rsplit("/login/", 1)[1]


def test_password_is_stored_as_argon2id_and_checked(db_engine: Engine, settings: Settings) -> None:
    set_password(db_engine, settings.roster, "法规处长", PASSWORD, NOW)
    with Session(db_engine) as s:
        stored = s.get_one(WebPassword, "法规处长").hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    person = check_password(db_engine, settings, "法规处长", PASSWORD, "10.0.0.5", NOW)
    assert person.name == "法规处长" and person.roles == ["policy_office"]
    with pytest.raises(LoginRefused) as wrong:
        check_password(db_engine, settings, "法规处长", "guess", "10.0.0.5", NOW)
    assert wrong.value.reason == "web_login_wrong" and wrong.value.until is None
    # A name that is not on the roster is refused the same way (no hint that the name is unknown).
    with pytest.raises(LoginRefused) as stranger:
        check_password(db_engine, settings, "路人", PASSWORD, "10.0.0.5", NOW)
    assert stranger.value.reason == "web_login_wrong"
    with Session(db_engine) as s:
        attempts = [(a.person, a.ok) for a in s.exec(select(WebLoginAttempt)).all()]
    assert sorted(attempts) == sorted([("法规处长", True), ("法规处长", False), ("路人", False)])


def test_password_rules(db_engine: Engine, settings: Settings) -> None:
    with pytest.raises(ValueError):
        set_password(db_engine, settings.roster, "路人", PASSWORD, NOW)
    with pytest.raises(ValueError):
        set_password(db_engine, settings.roster, "局长", "short", NOW)


def test_failed_attempts_lock_the_name_until_the_window_passes(db_engine: Engine, settings: Settings) -> None:
    set_password(db_engine, settings.roster, "局长", PASSWORD, NOW)
    for i in range(3):
        with pytest.raises(LoginRefused):
            check_password(db_engine, settings, "局长", f"guess{i}", "10.0.0.7", NOW + timedelta(minutes=i))
    # Now even the right password is refused, and the person is told until when.
    with pytest.raises(LoginRefused) as limited:
        check_password(db_engine, settings, "局长", PASSWORD, "10.0.0.8", NOW + timedelta(minutes=3))
    assert limited.value.reason == "web_login_limited"
    assert limited.value.until == NOW + timedelta(minutes=10)  # the first failure leaves the window then
    # Other names are not locked by it.
    set_password(db_engine, settings.roster, "值班员甲", PASSWORD, NOW)
    assert check_password(db_engine, settings, "值班员甲", PASSWORD, "10.0.0.9", NOW + timedelta(minutes=3))
    # Once the first failures have left the window, the right password works again.
    later = NOW + timedelta(minutes=13)
    assert check_password(db_engine, settings, "局长", PASSWORD, "10.0.0.7", later).name == "局长"


def test_one_time_link_works_once_and_expires(db_engine: Engine, settings: Settings) -> None:
    link = issue_login_link(db_engine, settings, "值班员甲", NOW)
    assert link.startswith("https://yq.example.gov.cn/console/login/")
    token = _token(link)
    assert peek_login_token(db_engine, settings, token, NOW).name == "值班员甲"  # type: ignore[union-attr]
    assert (
        redeem_login_token(db_engine, settings, token, "10.0.0.5", NOW + timedelta(minutes=1)).name
        == "值班员甲"
    )
    with pytest.raises(LoginRefused) as again:
        redeem_login_token(db_engine, settings, token, "10.0.0.5", NOW + timedelta(minutes=2))
    assert again.value.reason == "web_link_invalid"
    assert peek_login_token(db_engine, settings, token, NOW + timedelta(minutes=2)) is None

    late = _token(issue_login_link(db_engine, settings, "值班员甲", NOW))
    with pytest.raises(LoginRefused):
        redeem_login_token(db_engine, settings, late, "10.0.0.5", NOW + timedelta(minutes=15))  # ttl 15m
    with pytest.raises(LoginRefused):
        redeem_login_token(db_engine, settings, "made-up-token", "10.0.0.5", NOW)
    with pytest.raises(ValueError):
        issue_login_link(db_engine, settings, "路人", NOW)


def test_sessions_expire_end_and_follow_the_roster(
    db_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    person = check_password_after_set(db_engine, settings)
    token = create_session(db_engine, settings, person, "10.0.0.5", "password", NOW)
    info = load_session(db_engine, settings, token, NOW + timedelta(hours=1))
    assert info is not None and info.person.name == "法规处长" and len(info.csrf) >= 24
    assert load_session(db_engine, settings, token, NOW + timedelta(hours=12)) is None  # session_ttl 12h
    assert load_session(db_engine, settings, "forged", NOW) is None
    # Removed from the roster: the session opens nothing, although its row is still there.
    roster = (tmp_path / "roster.yaml").read_text(encoding="utf-8")
    (tmp_path / "roster.yaml").write_text(
        roster.replace("  - {name: 法规处长, telegram_id: 1002, roles: [policy_office]}\n", ""),
        encoding="utf-8",
    )
    assert load_session(db_engine, load_settings(tmp_path / "feeds.yaml"), token, NOW) is None
    end_session(db_engine, token)
    assert load_session(db_engine, settings, token, NOW) is None
    # A new password ends the person's other sessions.
    other = create_session(db_engine, settings, person, "10.0.0.5", "password", NOW)
    set_password(db_engine, settings.roster, "法规处长", PASSWORD + "!", NOW)
    assert load_session(db_engine, settings, other, NOW) is None


def check_password_after_set(engine: Engine, settings: Settings):  # type: ignore[no-untyped-def]
    set_password(engine, settings.roster, "法规处长", PASSWORD, NOW)
    return check_password(engine, settings, "法规处长", PASSWORD, "10.0.0.5", NOW)


def test_cookie_signing_key_is_shared_through_the_database(db_engine: Engine) -> None:
    first, second = signing_key(db_engine, NOW), signing_key(db_engine, NOW + timedelta(days=1))
    assert first == second and len(first) == 32  # a second instance (or a restart) signs alike
    signer = Signer(first)
    signed = signer.sign("abc")
    assert signer.unsign(signed) == "abc"
    assert signer.unsign(signed[:-1] + ("A" if signed[-1] != "A" else "B")) is None
    assert signer.unsign(signed, "flash") is None  # a signature for one purpose is no good for another
    # RESPONDER_WEB_SECRET, read once with the rest of the environment, replaces the stored key.
    env = Environment.read({"RESPONDER_WEB_SECRET": "from-the-environment"})
    assert signing_key(db_engine, NOW, env.web_secret) != first


def test_web_settings_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as bad:
        load_settings(write_config(tmp_path, "  - name: 新闻\n    url: f.xml\n",
                                   "web:\n  port: 70000\n  public_url: yq.example.gov.cn\n  colour: red\n"))  # fmt: skip
    text = "\n".join(str(p) for p in bad.value.problems)
    assert "web.port" in text and "web.public_url" in text and "web.colour" in text


def test_links_follow_public_url() -> None:
    plain = WebConsole()
    assert base_url(plain) == "http://127.0.0.1:8080" and path_prefix(plain) == ""
    assert (
        incident_url(WebConsole(host="0.0.0.0", port=0), 7, port=43211)
        == "http://127.0.0.1:43211/incidents/7"
    )
    behind = WebConsole(public_url="https://yq.example.gov.cn/console/")
    assert incident_url(behind, 12) == "https://yq.example.gov.cn/console/incidents/12"
    assert path_prefix(behind) == "/console"


def test_guessing_links_locks_the_address_not_everyone(db_engine: Engine, settings: Settings) -> None:
    # login_attempts 3: an address may fail 12 times (4x, an office behind one NAT) within the window.
    for i in range(12):
        with pytest.raises(LoginRefused) as guess:
            redeem_login_token(db_engine, settings, f"guess-{i}", "203.0.113.9", NOW)
        assert guess.value.reason == "web_link_invalid"
    real = _token(issue_login_link(db_engine, settings, "局长", NOW))
    with pytest.raises(LoginRefused) as limited:
        redeem_login_token(db_engine, settings, real, "203.0.113.9", NOW)
    assert limited.value.reason == "web_login_limited"
    # The link itself is not spent by the refusal, and works from another address.
    assert redeem_login_token(db_engine, settings, real, "198.51.100.4", NOW).name == "局长"


@pytest.mark.parametrize(
    ("given", "kept"),
    [("/ledger?start=2026-11-01", "/ledger?start=2026-11-01"), ("//evil.example", "/"), ("/\t/evil.example", "/"),
     ("https://evil.example/", "/"), ("/\\evil.example", "/"), (None, "/")],
)  # fmt: skip
def test_sign_in_returns_only_to_a_page_of_the_console(given: str | None, kept: str) -> None:
    from responder.web.signin import _safe_next

    assert _safe_next(given) == kept
