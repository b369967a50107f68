"""roster.yaml naming robots: channels per chat, secrets only through environment variables
(checked against the environment as read at start, at their file:line:field, never echoed),
people without Telegram, and the robots' credentials kept out of the logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from kit.channelkit import alert
from kit.wecom import WeComEmulator, wecom_fixture  # noqa: F401

from responder.channels import Delivered, WeComClient, client_for
from responder.channels.redact import redact
from responder.configfile import ConfigError
from responder.env import Environment
from responder.roster import load_roster

KEY = "693a91f6-7aaa-4bc4-97a0-0ec2f1fa5aaa"
DT_TOKEN = "b955c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9"
DT_SECRET = "SECf094e0d33f1c2b3a4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8"
FS_TOKEN = "0b6b4d2e-9f3c-4e8a-b1d2-3c4e5f6a7b8c"
ENV = {
    "WECOM_DUTY_KEY": f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}",
    "DINGTALK_POLICY_TOKEN": DT_TOKEN,
    "DINGTALK_POLICY_SECRET": DT_SECRET,
    "FEISHU_ADMIN_TOKEN": FS_TOKEN,
}

# Line numbers matter: the tests below point at them.
ROSTER = """\
timezone: Asia/Shanghai
people:
  - {name: 值班员甲, roles: [duty_officer]}
  - {name: 法规处长, telegram_id: 22, roles: [policy_office]}
  - {name: 局长, roles: [head]}
chats:
  duty:
    wecom: {key_env: WECOM_DUTY_KEY}
  policy_office:
    telegram: -1002
    dingtalk: {token_env: DINGTALK_POLICY_TOKEN, secret_env: DINGTALK_POLICY_SECRET, keyword: 舆情}
  admin:
    feishu:
      token_env: FEISHU_ADMIN_TOKEN
rotation:
  start: 2026-11-02
  order: [值班员甲]
"""


def write(tmp_path: Path, text: str = ROSTER) -> Path:
    p = tmp_path / "roster.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def problems(tmp_path: Path, text: str, variables: dict[str, str] = ENV) -> list[str]:
    """What loading the roster finds, else what its robots' variables lack in `variables`."""
    try:
        roster = load_roster(write(tmp_path, text))
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    found = roster.variable_problems(Environment.read(variables).variables)
    assert found, "the roster and its variables were found in order"
    return [str(p) for p in found]


def test_a_roster_of_robots_and_people_without_telegram(tmp_path: Path) -> None:
    roster = load_roster(write(tmp_path))
    assert roster.variable_problems(Environment.read(ENV).variables) == []
    now = datetime(2026, 11, 10, 4, tzinfo=UTC)
    # Telegram where there is Telegram, robots for the rest; nobody is reached privately by a robot.
    assert roster.chats.duty is None and roster.chats.policy_office == -1002 and roster.chats.admin is None
    # 值班员甲 has no Telegram, the duty chat is WeCom.
    assert roster.chats_for_role("duty_officer", now) == []
    assert roster.chats_for_role("head", now) == [-1002]
    assert roster.destinations_for_role("duty_officer", now) == ["wecom:WECOM_DUTY_KEY"]
    assert roster.destinations_for_role("head", now) == [-1002, "dingtalk:DINGTALK_POLICY_TOKEN"]
    assert [r.address for r in roster.robots_for_role("duty_officer")] == ["wecom:WECOM_DUTY_KEY"]
    assert [r.address for r in roster.robots_for_role("head")] == ["dingtalk:DINGTALK_POLICY_TOKEN"]
    assert [r.address for r in roster.robots_for_role("admin")] == ["feishu:FEISHU_ADMIN_TOKEN"]
    assert roster.robots_for_role("spokesperson") == []
    assert roster.person_named("局长") is not None and roster.person_named("局长").telegram_id is None  # type: ignore[union-attr]
    # Credentials are read from the environment, whole address or bare key alike.
    wecom = roster.chats.channels("duty").wecom.endpoint(ENV)  # type: ignore[union-attr]
    assert (wecom.base, wecom.token) == ("https://qyapi.weixin.qq.com", KEY)
    ding = roster.chats.channels("policy_office").dingtalk.endpoint(ENV)  # type: ignore[union-attr]
    assert (ding.base, ding.token, ding.secret, ding.keyword) == (
        "https://oapi.dingtalk.com",
        DT_TOKEN,
        DT_SECRET,
        "舆情",
    )
    # The repr of an endpoint (what a traceback or a debug line would show) holds no secret.
    assert (
        DT_TOKEN not in repr(ding) and DT_SECRET not in repr(ding) and "DINGTALK_POLICY_TOKEN" in repr(ding)
    )


def test_the_admin_chat_defaults_to_the_duty_chats_channels(tmp_path: Path) -> None:
    text = ROSTER.replace("  admin:\n    feishu:\n      token_env: FEISHU_ADMIN_TOKEN\n", "")
    roster = load_roster(write(tmp_path, text))
    assert [r.address for r in roster.robots_for_role("admin")] == ["wecom:WECOM_DUTY_KEY"]


@pytest.mark.parametrize(
    ("edit", "where", "words"),
    [
        (("WECOM_DUTY_KEY", "WECOM_DUTY_KEYS"), "roster.yaml:8: chats.duty.wecom.key_env",
         "环境变量 WECOM_DUTY_KEYS 未设置"),
        (("key_env: WECOM_DUTY_KEY", "key: WECOM_DUTY_KEY"), "roster.yaml:8: chats.duty.wecom.key", "未知字段"),
        (("    wecom: {key_env: WECOM_DUTY_KEY}\n", "    wechat: {key_env: WECOM_DUTY_KEY}\n"),
         "roster.yaml:8: chats.duty.wechat", "未知字段"),
        (("    wecom: {key_env: WECOM_DUTY_KEY}\n", "    {}\n"), "roster.yaml:7: chats.duty", "至少写一个渠道"),
        (("telegram: -1002", "telegram: 0"), "roster.yaml:10: chats.policy_office.telegram", "0 不是会话 ID"),
        (("key_env: WECOM_DUTY_KEY", "key_env: WECOM-DUTY"), "roster.yaml:8: chats.duty.wecom.key_env",
         "请写环境变量的名称"),
        (("keyword: 舆情", "keyword: ''"), "roster.yaml:11: chats.policy_office.dingtalk.keyword", ""),
        (("      token_env: FEISHU_ADMIN_TOKEN\n", "      secret_env: FEISHU_ADMIN_TOKEN\n"),
         "roster.yaml:13: chats.admin.feishu.token_env", "缺少必填字段"),
    ],
)  # fmt: skip
def test_channel_mistakes_are_reported_at_their_line(
    tmp_path: Path, edit: tuple[str, str], where: str, words: str
) -> None:
    found = problems(tmp_path, ROSTER.replace(*edit))
    assert any(p.startswith(str(tmp_path / where)) and words in p for p in found), found


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("DINGTALK_POLICY_SECRET", "f094e0d33f1c2b3a4d5e6f7a8b9c0d1e", "以 SEC 开头"),
        (
            "WECOM_DUTY_KEY",
            "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + KEY,
            "须以 https:// 开头",
        ),
        (
            "WECOM_DUTY_KEY",
            "https://oapi.dingtalk.com/robot/send?access_token=" + KEY,
            "不是企业微信机器人的 Webhook",
        ),
        ("FEISHU_ADMIN_TOKEN", FS_TOKEN + " trailing", "空白字符"),
        ("DINGTALK_POLICY_TOKEN", "token=" + DT_TOKEN, "不是机器人密钥"),
    ],
)
def test_a_malformed_secret_is_named_by_its_variable_and_never_shown(
    tmp_path: Path, variable: str, value: str, words: str
) -> None:
    found = problems(tmp_path, ROSTER, {**ENV, variable: value})
    assert any(variable in p and words in p for p in found), found
    secretish = [value, KEY, DT_TOKEN, DT_SECRET, FS_TOKEN, value.split("=")[-1]]
    assert not any(s in p for s in secretish for p in found), found


def test_a_secret_pasted_where_its_variable_belongs_is_refused_without_repeating_it(tmp_path: Path) -> None:
    found = problems(tmp_path, ROSTER.replace("token_env: DINGTALK_POLICY_TOKEN", f"token_env: {DT_TOKEN}"))
    assert any("chats.policy_office.dingtalk.token_env" in p and "看起来是密钥本身" in p for p in found)
    assert not any(DT_TOKEN in p for p in found)


def test_existing_rosters_stay_valid_and_keep_their_telegram_chats(tmp_path: Path) -> None:
    roster = load_roster(Path(__file__).resolve().parents[1] / "roster.yaml")
    assert (roster.chats.duty, roster.chats.policy_office, roster.chats.admin) == (
        -1000000000001, -1000000000002, -1000000000003)  # fmt: skip
    assert roster.robots_for_role("duty_officer") == []


async def test_robot_credentials_stay_out_of_the_logs(
    wecom: WeComEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    wecom.add_robot(KEY)
    from responder.channels.robots import WeComRobot

    endpoint = WeComRobot(key_env="WECOM_DUTY_KEY").endpoint({"WECOM_DUTY_KEY": wecom.webhook(KEY)})
    client = client_for(endpoint)
    assert isinstance(client, WeComClient)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # as if someone turned request logging on
    assert await client.send(alert()) == Delivered()
    wecom.remove_robot(KEY)
    await client.send(alert())  # refused: logged as a warning, with the robot's name only
    await client.aclose()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "WECOM_DUTY_KEY" in text
    assert KEY not in text
    # And the redaction catches the address shapes of all three platforms, whatever their value.
    for leaky in (f"{wecom.webhook('x' * 36)}", f"https://oapi.dingtalk.com/robot/send?access_token={'y' * 64}&timestamp=1&sign=abc%2B",
                  f"https://open.feishu.cn/open-apis/bot/v2/hook/{'z' * 36}"):  # fmt: skip
        cleaned = redact(f"POST {leaky} 200")
        assert not any(c * 20 in cleaned for c in "xyz") and "sign=abc" not in cleaned, cleaned


def test_httpx_request_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    from responder.channels.redact import protect

    protect()
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="httpx")
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"errcode": 0}))
    with httpx.Client(transport=transport) as c:
        c.post(f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}", json={})
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines and all(KEY not in line and "key=<secret>" in line for line in lines)
