"""The environment, typed: read once at start (`Environment.read()`) and passed down.

Secrets and deployment choices come from here, never from the YAML files:

| variable | meaning |
|---|---|
| `TELEGRAM_BOT_TOKEN` | the bot's token; without it every message is printed to the console |
| `TELEGRAM_BASE_URL` | a self-hosted Bot API server (`http://host:8081` becomes `http://host:8081/bot`) |
| `TELEGRAM_FILE_BASE_URL` | its file address, likewise (`.../file/bot`) |
| `TELEGRAM_PROXY` | a proxy for Telegram alone (`http://host:3128`, `socks5://127.0.0.1:1080`); feeds and robots go direct |
| `DATABASE_URL` | the database; default a SQLite file under `var/` |
| `RESPONDER_LANG` | the message catalogue: `zh` (default; also `zh_CN`, `zh-CN`, `zh_Hans`, `zh-Hans-CN`, `zh_CN.UTF-8`) or `en` (any `en…`) |
| `RESPONDER_WEB_SECRET` | the web console's cookie-signing secret; default a key kept in the database |
| the variables roster.yaml names | chat robots' keys, tokens and signing secrets (`key_env: WECOM_DUTY_KEY`) |
| `RESPONDER_TEST_CLOCK` | tests and benchmarks only: a file whose clock `run` reads instead of the system's (`responder.clock.FileClock`) |

The command line reads it once (`Environment.read()` in `responder.cli.main`) and passes
it down; only `db.database_url` still falls back to `DATABASE_URL` itself, for callers
that give no URL (`python -m responder.migrate`). A value that cannot be right (a URL
without a scheme, a token without its secret half) is refused with a sentence naming the
variable, never echoing a secret. The robots' variables are known only once roster.yaml
is read, so `Environment.variables` keeps the whole environment as read (never shown) and
the roster checks and reads its robots' variables from it.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

__all__ = ["DEFAULT_API", "DEFAULT_FILE_API", "Environment", "TelegramEnv", "language_of", "redact_proxy"]

DEFAULT_API = "https://api.telegram.org/bot"
DEFAULT_FILE_API = "https://api.telegram.org/file/bot"


# RESPONDER_LANG as people write a locale: zh, zh_CN, zh-CN, zh_Hans, zh-Hans-CN, zh_CN.UTF-8
# (language, then script and/or region, then an encoding or modifier, case and - or _ aside).
_ZH = re.compile(r"zh(?:[-_](?:hans|cn|sg))*(?:[.@].*)?", re.IGNORECASE)
_ACCEPTED = "zh, zh_CN, zh-CN, zh_Hans, zh-Hans-CN, zh_CN.UTF-8, en, en_US, en-GB …"


def language_of(value: str | None) -> str:
    """The catalogue `RESPONDER_LANG` selects: "zh" (also when unset) or "en"; ValueError otherwise.

    Traditional Chinese (zh_TW, zh-Hant) is refused rather than shown Simplified text unasked.
    """
    v = (value or "").strip()
    if not v or _ZH.fullmatch(v):
        return "zh"
    if v.lower().startswith("en"):
        return "en"
    from .i18n import Catalogue

    # No language is chosen yet: the default catalogue says it (its text carries both).
    raise ValueError(Catalogue("zh")("env_lang_unknown", value=v[:40], accepted=_ACCEPTED))


def _api_url(url: str | None, default: str, suffix: str, name: str, lang: str | None = None) -> str:
    """A Bot API address as python-telegram-bot wants it: the server root gets `suffix`."""
    if not url:
        return default
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        from .i18n import catalogue

        example = f"http://127.0.0.1:8081{suffix}"
        raise ValueError(catalogue(lang)("env_not_http", name=name, value=url, example=example))
    if "{token}" not in url and parts.path in ("", "/"):
        # The self-hosted server's root was given: the token goes after /bot, as on api.telegram.org.
        return url.rstrip("/") + suffix
    return url


_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def redact_proxy(url: str | None) -> str | None:
    """A proxy address fit for a log line: its password (and user name) replaced."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"<hidden>@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return parts._replace(netloc=netloc).geturl()


def _proxy_url(url: str | None) -> str | None:
    """TELEGRAM_PROXY checked: http(s):// or socks5(h)://, a host, and for SOCKS the package httpx needs."""
    if not url:
        return None
    shown = redact_proxy(url)
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in _PROXY_SCHEMES or not parts.hostname or not port_ok:
        raise ValueError(
            f"TELEGRAM_PROXY={shown!r} is not a proxy address; expected e.g. http://127.0.0.1:3128 "
            "or socks5://127.0.0.1:1080"
        )
    if parts.scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
        raise ValueError(
            f"TELEGRAM_PROXY={shown!r} is a SOCKS proxy, which needs the socksio package: "
            "pip install 'httpx[socks]' (or use an HTTP proxy)"
        )
    return url


@dataclass(frozen=True)
class TelegramEnv:
    """How to reach Telegram: the token, the (normalised) API addresses and the proxy, if any."""

    token: str
    base_url: str = DEFAULT_API
    base_file_url: str = DEFAULT_FILE_API
    proxy: str | None = None  # TELEGRAM_PROXY: Telegram's requests alone go through it

    @classmethod
    def of(
        cls,
        token: str,
        base_url: str | None = None,
        base_file_url: str | None = None,
        proxy: str | None = None,
        lang: str | None = None,
    ) -> TelegramEnv:
        """Check the token's shape and normalise the addresses; ValueError says (in `lang`, default
        the language chosen at start) which variable is wrong."""
        from .i18n import catalogue

        say = catalogue(lang)
        token = token.strip()
        if ":" not in token or not token.split(":", 1)[1]:
            raise ValueError(say("env_token_shape"))
        return cls(
            token,
            _api_url(base_url, DEFAULT_API, "/bot", "TELEGRAM_BASE_URL", lang),
            _api_url(base_file_url, DEFAULT_FILE_API, "/file/bot", "TELEGRAM_FILE_BASE_URL", lang),
            _proxy_url(proxy),
        )

    def __repr__(self) -> str:
        return (
            f"TelegramEnv(token=<hidden>, base_url={self.base_url!r}, base_file_url={self.base_file_url!r}, "
            f"proxy={redact_proxy(self.proxy)!r})"
        )


@dataclass(frozen=True)
class Environment:
    """Everything the service takes from its environment."""

    telegram: TelegramEnv | None = None
    database_url: str | None = None
    lang: str = "zh"
    web_secret: str | None = None  # never shown: it signs the console's cookies
    # The whole environment as read (robots' secrets among it); never shown, never compared.
    variables: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    test_clock: str | None = None  # tests and benchmarks: the file of a FileClock

    def __repr__(self) -> str:
        secret = "<hidden>" if self.web_secret else None
        return (
            f"Environment(telegram={self.telegram!r}, database_url=<hidden>, lang={self.lang!r}, "
            f"web_secret={secret}, test_clock={self.test_clock!r})"
        )

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Environment:
        """Read and check the variables (of `environ`, default the process environment)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        lang = cls.read_language(env)  # first: the other variables' mistakes are told in it
        token = get("TELEGRAM_BOT_TOKEN")
        telegram = None
        if token is not None:
            telegram = TelegramEnv.of(
                token,
                get("TELEGRAM_BASE_URL"),
                get("TELEGRAM_FILE_BASE_URL"),
                get("TELEGRAM_PROXY"),
                lang,
            )
        return cls(
            telegram,
            get("DATABASE_URL"),
            lang,
            get("RESPONDER_WEB_SECRET"),
            MappingProxyType(dict(env)),
            get("RESPONDER_TEST_CLOCK"),
        )

    @staticmethod
    def read_language(environ: Mapping[str, str] | None = None) -> str:
        """RESPONDER_LANG alone (for code that needs words before the service has started):
        "zh" or "en"; a value naming neither is a ValueError naming the accepted ones."""
        env = os.environ if environ is None else environ
        return language_of(env.get("RESPONDER_LANG"))
