"""Group robots in roster.yaml: which robot, and which environment variables hold its secrets.

roster.yaml never holds a robot's key, token or signing secret, only the *name* of the
environment variable that does (`key_env: WECOM_DUTY_KEY`). The variable may hold the bare
credential or the whole webhook address as the platform shows it when the robot is made
(`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`); an address must be https, or
http to this machine (the emulators in tests, a local relay).

The values come from the environment as `responder.env` read it at start
(`Environment.variables`): `variable_problems(variables)` says, naming the variable and
never its value, what is unset or malformed (check-config, start-up and reload report it at
the roster's file:line:field), and `endpoint(variables)` reads them into an `Endpoint`
whose secret fields never show in its repr.

A robot is named without its secrets by its address, `platform:VARIABLE`
(`wecom:WECOM_DUTY_KEY`): that is its outbox destination (`Destination`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import AfterValidator, Field, model_validator

from ..config import StrictModel
from ..configfile import FieldProblems, Loc
from ..i18n import t
from ..present.channels import platform_name

__all__ = [
    "PLATFORMS",
    "ChatChannels",
    "Destination",
    "DingTalkRobot",
    "Endpoint",
    "FeishuRobot",
    "Robot",
    "RobotSecretError",
    "WeComRobot",
    "chat_shorthand",
]

PLATFORMS: tuple[str, ...] = ("wecom", "dingtalk", "feishu")

# Where an outbox row goes: a Telegram chat id, or a robot's address (`wecom:WECOM_DUTY_KEY`).
Destination = int | str
Platform = Literal["wecom", "dingtalk", "feishu"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,200}")
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

# Where each platform's webhook lives, and the path its address must have.
DEFAULT_BASE: dict[str, str] = {
    "wecom": "https://qyapi.weixin.qq.com",
    "dingtalk": "https://oapi.dingtalk.com",
    "feishu": "https://open.feishu.cn",
}


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(t("config_env_name"))
    if (value.upper().startswith("SEC") and len(value) > 40) or re.fullmatch(r"[0-9a-f]{32,}", value):
        # A pasted secret where its variable's name belongs: say so without repeating it.
        raise ValueError(t("config_env_name_secret"))
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]


class RobotSecretError(ValueError):
    """An environment variable named in roster.yaml is missing or malformed (never says its value)."""


@dataclass(frozen=True)
class Endpoint:
    """Where one robot's messages go, with its credentials (hidden from repr)."""

    platform: str
    base: str  # scheme://host[:port], no trailing slash
    token: str = field(repr=False)  # WeCom key, DingTalk access_token, Feishu hook token
    secret: str | None = field(default=None, repr=False)  # signing secret, when the robot signs
    token_env: str = ""
    secret_env: str | None = None
    keyword: str | None = None

    @property
    def address(self) -> str:
        """A name for this robot that holds no secret: platform and variable (wecom:WECOM_DUTY_KEY)."""
        return f"{self.platform}:{self.token_env}"


class _RobotBase(StrictModel):
    platform: ClassVar[str]
    _token_field: ClassVar[str] = "token_env"

    @property
    def token_variable(self) -> str:
        """The name of the variable holding the key or token."""
        return str(getattr(self, self._token_field))

    @property
    def secret_variable(self) -> str | None:
        """The name of the variable holding the signing secret, when the robot signs."""
        value: str | None = getattr(self, "secret_env", None)
        return value

    @property
    def address(self) -> str:
        """The robot's secret-free name (platform:variable): its outbox destination."""
        return f"{self.platform}:{self.token_variable}"

    def endpoint(self, variables: Mapping[str, str]) -> Endpoint:
        """The robot's credentials, read from `variables` (the environment as read at start);
        RobotSecretError names the variable that is unset or malformed."""
        base, token = _read_token(self.platform, self.token_variable, variables)
        secret_env = self.secret_variable
        secret = _read_secret(self.platform, secret_env, variables) if secret_env else None
        keyword: str | None = getattr(self, "keyword", None)
        return Endpoint(self.platform, base, token, secret, self.token_variable, secret_env, keyword)

    def variable_problems(self, variables: Mapping[str, str]) -> list[tuple[Loc, str]]:
        """What is wrong with the robot's variables in `variables`, at the field naming each."""
        problems: list[tuple[Loc, str]] = []
        try:
            _read_token(self.platform, self.token_variable, variables)
        except RobotSecretError as exc:
            problems.append(((self._token_field,), str(exc)))
        if self.secret_variable:
            try:
                _read_secret(self.platform, self.secret_variable, variables)
            except RobotSecretError as exc:
                problems.append((("secret_env",), str(exc)))
        return problems


class WeComRobot(_RobotBase):
    """A WeCom (企业微信) group robot: its key. WeCom robots have no signing or keyword setting."""

    platform: ClassVar[str] = "wecom"
    _token_field: ClassVar[str] = "key_env"
    key_env: EnvName


class DingTalkRobot(_RobotBase):
    """A DingTalk (钉钉) custom robot: access_token, and the signing secret (SEC…) when its
    security setting is 加签; `keyword` when it is 自定义关键词."""

    platform: ClassVar[str] = "dingtalk"
    token_env: EnvName
    secret_env: EnvName | None = None
    keyword: str | None = Field(default=None, min_length=1, max_length=20)


class FeishuRobot(_RobotBase):
    """A Feishu (飞书) custom bot: the hook token, and the signing secret when its security
    setting is 签名校验; `keyword` when it is 自定义关键词."""

    platform: ClassVar[str] = "feishu"
    token_env: EnvName
    secret_env: EnvName | None = None
    keyword: str | None = Field(default=None, min_length=1, max_length=20)


Robot = WeComRobot | DingTalkRobot | FeishuRobot


# --------------------------------------------------------------------------- reading values


def _value(name: str, env: Mapping[str, str]) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise RobotSecretError(t("robot_var_unset", name=name))
    if any(c.isspace() for c in value):
        raise RobotSecretError(t("robot_var_space", name=name))
    return value


def _read_token(platform: str, name: str, env: Mapping[str, str]) -> tuple[str, str]:
    """(base address, key/token) from the variable `name`: a bare token or a webhook address."""
    value = _value(name, env)
    if "://" not in value:
        if not _TOKEN.fullmatch(value):
            raise RobotSecretError(t("robot_var_not_key", name=name))
        return DEFAULT_BASE[platform], value
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" and not (parts.scheme == "http" and host in _LOOPBACK):
        raise RobotSecretError(t("robot_var_not_https", name=name))
    token = _token_in(platform, parts.path, parse_qs(parts.query))
    if token is None or not _TOKEN.fullmatch(token):
        raise RobotSecretError(
            t(
                "robot_var_not_webhook",
                name=name,
                platform=platform_name(platform),
                shape=_SHAPES[platform],
            )
        )
    return f"{parts.scheme}://{parts.netloc}", token


def _token_in(platform: str, path: str, query: dict[str, list[str]]) -> str | None:
    if platform == "wecom" and path == "/cgi-bin/webhook/send":
        return next(iter(query.get("key", [])), None)
    if platform == "dingtalk" and path == "/robot/send":
        return next(iter(query.get("access_token", [])), None)
    if platform == "feishu":
        m = re.fullmatch(r"/open-apis/bot/v2/hook/([^/]+)", path)
        return m.group(1) if m else None
    return None


def _read_secret(platform: str, name: str, env: Mapping[str, str]) -> str:
    value = _value(name, env)
    if platform == "dingtalk" and not value.startswith("SEC"):
        raise RobotSecretError(t("robot_var_not_sec", name=name))
    if len(value) < 8 or "://" in value:
        raise RobotSecretError(t("robot_var_not_secret", name=name))
    return value


_SHAPES = {
    "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
    "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=…",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/…",
}


# --------------------------------------------------------------------------- a roster chat


def chat_shorthand(value: object) -> object:
    """`duty: -1001234567890` (a Telegram chat id, as rosters have always said) is
    `duty: {telegram: -1001234567890}`."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value == 0:
            raise ValueError(t("config_chat_zero"))
        return {"telegram": value}
    return value


class ChatChannels(StrictModel):
    """Where one roster chat (duty, policy_office, admin) is reached: a Telegram group and/or
    group robots of WeCom, DingTalk and Feishu. Every message to the chat goes to each."""

    telegram: int | None = None
    wecom: WeComRobot | None = None
    dingtalk: DingTalkRobot | None = None
    feishu: FeishuRobot | None = None

    @model_validator(mode="after")
    def _something(self) -> ChatChannels:
        if self.telegram == 0:
            raise FieldProblems([(("telegram",), t("config_chat_zero"))])
        if self.telegram is None and not self.robots():
            raise ValueError(t("config_chat_no_channel"))
        return self

    def robots(self) -> list[Robot]:
        """The chat's group robots, in the order WeCom, DingTalk, Feishu."""
        return [r for r in (self.wecom, self.dingtalk, self.feishu) if r is not None]

    def variable_problems(self, variables: Mapping[str, str]) -> list[tuple[Loc, str]]:
        """What is wrong with the variables of the chat's robots, at the field naming each."""
        return [
            ((robot.platform, *loc), message)
            for robot in self.robots()
            for loc, message in robot.variable_problems(variables)
        ]
