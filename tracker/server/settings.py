"""Server settings: code first, then environment variables, then defaults.

Every value is checked when the server starts, so a bad deployment fails at once with a message
that names the setting, not on the first request.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ..config import AppConfig, load_config
from ..errors import TrackerError, TrackerValidationError
from .platform.urls import default_urls

SinkName = Literal["embedded", "caliper"]
ModeName = Literal["embedded", "platform"]
MODES: tuple[str, ...] = ("embedded", "platform")
XpPolicy = Literal["accept", "cap", "reject"]
SINKS: tuple[str, ...] = ("embedded", "caliper")
# Who a request of ``tracker serve`` is from (site_identity.py): nobody (the default: nothing
# is credited until an operator chooses), a header set by a trusted reverse proxy, an HS256
# token, a Python callback, or the passwordless demo sign-in (``tracker demo``/--demo-login).
IDENTITIES: tuple[str, ...] = ("none", "proxy-header", "jwt", "callback", "demo-login")
MIN_JWT_KEY_LENGTH = 32
XP_POLICIES: tuple[str, ...] = ("accept", "cap", "reject")
ENVS: tuple[str, ...] = ("staging", "production")
# Other spellings of an env, as the official SDK takes them: local development uses staging.
ENV_ALIASES: dict[str, str] = {"local": "staging"}
DEFAULT_DATABASE = Path("data/tracker.sqlite3")

# Environment variable -> settings field.
ENV_VARS: dict[str, str] = {
    "TRACKER_CONFIG": "config_path",
    "TRACKER_DB": "database",
    "TRACKER_SINK": "sink",
    "CALIPER_URL": "caliper_url",
    "CALIPER_TOKEN_URL": "token_url",
    "CALIPER_CLIENT_ID": "client_id",
    "CALIPER_CLIENT_SECRET": "client_secret",
    "TIMEBACK_ENV": "env",
    "TRACKER_XP_POLICY": "xp_policy",
    "TRACKER_XP_TOLERANCE": "xp_tolerance",
    "TRACKER_XP_FLAG": "xp_flag",
    "TRACKER_ALLOWED_ORIGINS": "allowed_origins",
    # -- Timeback platform mode (issue 9): the official SDK's variable names. --
    "TRACKER_MODE": "mode",
    "TIMEBACK_API_BASE_URL": "platform_api_url",
    "TIMEBACK_CALIPER_URL": "caliper_url",
    "TIMEBACK_API_AUTH_URL": "token_url",
    "TIMEBACK_API_CLIENT_ID": "client_id",
    "TIMEBACK_API_CLIENT_SECRET": "client_secret",
    "TRACKER_USER_CACHE_TTL": "user_cache_ttl_s",
    "TRACKER_IDENTITY": "identity",
    "TRACKER_IDENTITY_HEADER": "identity_header",
    "TRACKER_TRUSTED_PROXIES": "trusted_proxies",
    "TRACKER_JWT_KEY": "jwt_key",
    "TRACKER_JWT_AUDIENCE": "jwt_audience",
    "TRACKER_JWT_ISSUER": "jwt_issuer",
    "TRACKER_JWT_COOKIE": "jwt_cookie",
    "TRACKER_JWT_EMAIL_CLAIM": "jwt_email_claim",
    "TRACKER_GET_EMAIL": "get_email_hook",
    "TRACKER_ALLOWED_HOSTS": "allowed_hosts",
    "TRACKER_RATE_LIMIT_BURST": "rate_limit_burst",
    "TRACKER_RATE_LIMIT_PER_MINUTE": "rate_limit_per_minute",
}


class SettingsError(TrackerError, ValueError):
    """A setting is missing or wrong; the message names it (and its environment variable)."""


def _env_name(field_name: str) -> str:
    names = [env for env, name in ENV_VARS.items() if name == field_name]
    return f" ({names[0]})" if names else ""


def database_path(value: str | Path) -> Path | str:
    """A file path, a ``sqlite:///relative`` / ``sqlite:////absolute`` URL, or a
    ``postgresql://`` URL (kept as it is: the PostgreSQL store, issue 12)."""
    text = str(value)
    if isinstance(value, str) and text.startswith(("postgresql://", "postgres://")):
        return text
    if text.startswith("sqlite://"):
        rest = text.removeprefix("sqlite://")
        if not rest.startswith("/") or rest == "/":
            raise SettingsError(f"database{_env_name('database')}: use sqlite:///path/to/file")
        text = rest[1:]
    elif "://" in text:
        raise SettingsError(
            f"database{_env_name('database')}: use a file path, sqlite:///path or "
            f"postgresql://...: {text}"
        )
    if not text:
        raise SettingsError(f"database{_env_name('database')}: empty path")
    return Path(text)


def _origin(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise SettingsError(
            f"allowed_origins{_env_name('allowed_origins')}: {value!r} is not an origin "
            "like https://app.example.com"
        )
    return f"{parts.scheme}://{parts.netloc}".lower()


def _network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise SettingsError(
            f"trusted_proxies{_env_name('trusted_proxies')}: {value!r} is not an IP address "
            "or network like 10.0.0.0/8"
        ) from None


def _host_pattern(value: str) -> str:
    host = value.strip().lower().rstrip(".")
    if not re.fullmatch(r"(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\]", host):
        raise SettingsError(
            f"allowed_hosts{_env_name('allowed_hosts')}: {value!r} is not a host name like "
            "app.example.com or *.example.com (no port)"
        )
    return host


def _http_url(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name}{_env_name(name)}: must be an absolute http(s) URL: {value}")
    return value.rstrip("/")


@dataclass(frozen=True)
class Settings:
    """How the server runs. ``Settings.from_env()`` fills the gaps from the environment."""

    # timeback.config.json: a loaded AppConfig wins over a path.
    config_path: Path | None = None
    config: AppConfig | None = None
    database: Path | str = DEFAULT_DATABASE
    sink: SinkName = "embedded"
    caliper_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    env: str = "production"
    # "accept" forwards the claim as the official server does; "cap" / "reject" hold it
    # against the run's counted minutes.
    xp_policy: XpPolicy = "accept"
    # Mark (store, dashboard, log) an accepted claim above the run's counted minutes.
    xp_flag: bool = True
    # XP allowed above ceil(active minutes of the run): absorbs the last window in flight.
    xp_tolerance: float = 1.0
    # Origins besides the request's own host that may call the API.
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = 64 * 1024
    # Per-user token bucket on the POST routes (ratelimit.py): a burst, then a steady rate.
    # 0 for either turns the limit off.
    rate_limit_burst: int = 120
    rate_limit_per_minute: float = 60.0
    # -- the site of ``tracker serve`` (tracker.server.main) --------------------------------
    identity: str = "none"
    # proxy-header: the header the proxy sets; believed only from trusted_proxies.
    identity_header: str = "X-Forwarded-Email"
    # Peers (IPs or CIDR networks) whose forwarded headers (identity, X-Forwarded-Proto) count.
    trusted_proxies: tuple[str, ...] = ()
    # jwt: the HS256 key (at least 32 characters), read from Authorization: Bearer or a cookie.
    jwt_key: str | None = field(default=None, repr=False)
    jwt_audience: tuple[str, ...] = ()
    jwt_issuer: str | None = None
    jwt_cookie: str | None = None
    jwt_email_claim: str = "email"
    # callback: "package.module:function", a get_email(request) hook.
    get_email_hook: str | None = None
    # Host names the site answers to (400 for any other Host); empty: any.
    allowed_hosts: tuple[str, ...] = ()
    # Outbox worker (sink "caliper").
    batch_size: int = 50
    retry_base_s: float = 1.0
    retry_max_s: float = 300.0
    poll_interval_s: float = 5.0
    request_timeout_s: float = 10.0
    # -- Timeback platform mode (issue 9) --
    # "platform": users resolved through OneRoster, events to the platform's Caliper.
    mode: ModeName = "embedded"
    # OneRoster base URL (default: the env's Timeback API); Caliper and token URLs above.
    platform_api_url: str | None = None
    user_cache_ttl_s: float = 300.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Keyword arguments first, then ``environ`` (default ``os.environ``), then defaults."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for env_var, name in ENV_VARS.items():
            raw = environ.get(env_var)
            if raw is not None and raw.strip() != "":
                values[name] = raw.strip()
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls.build(**values)

    @classmethod
    def build(cls, **values: Any) -> Settings:
        """Coerces strings (from the environment or a CLI) to the field types, then checks."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
        if "config_path" in values:
            values["config_path"] = Path(values["config_path"])
        if "database" in values:
            values["database"] = database_path(values["database"])
        if isinstance(values.get("xp_flag"), str):
            flag = values["xp_flag"].strip().lower()
            if flag not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise SettingsError(f"xp_flag{_env_name('xp_flag')}: not a boolean: {flag!r}")
            values["xp_flag"] = flag in ("1", "true", "yes", "on")
        for name in ("allowed_origins", "trusted_proxies", "jwt_audience", "allowed_hosts"):
            if isinstance(values.get(name), str):
                values[name] = tuple(
                    item.strip() for item in values[name].split(",") if item.strip()
                )
        for name in ("rate_limit_burst",):
            if isinstance(values.get(name), str):
                try:
                    values[name] = int(values[name])
                except ValueError:
                    raise SettingsError(f"{name}{_env_name(name)}: not a whole number") from None
        for name in (
            "xp_tolerance",
            "retry_base_s",
            "retry_max_s",
            "poll_interval_s",
            "user_cache_ttl_s",
            "rate_limit_per_minute",
        ):
            if isinstance(values.get(name), str):
                try:
                    values[name] = float(values[name])
                except ValueError:
                    raise SettingsError(f"{name}{_env_name(name)}: not a number") from None
        return cls(**values).checked()

    def checked(self) -> Settings:
        """Returns a normalised copy, or raises SettingsError naming the bad setting."""
        if self.sink not in SINKS:
            raise SettingsError(
                f"sink{_env_name('sink')}: {self.sink!r} is not one of {', '.join(SINKS)}"
            )
        env = ENV_ALIASES.get(self.env, self.env)
        if env not in ENVS:
            raise SettingsError(
                f"env{_env_name('env')}: {self.env!r} is not one of "
                f"{', '.join((*ENVS, *ENV_ALIASES))}"
            )
        if self.xp_policy not in XP_POLICIES:
            raise SettingsError(
                f"xp_policy{_env_name('xp_policy')}: {self.xp_policy!r} is not one of "
                f"{', '.join(XP_POLICIES)}"
            )
        if not self.xp_tolerance >= 0:
            raise SettingsError(f"xp_tolerance{_env_name('xp_tolerance')}: must be >= 0")
        if not 1024 <= self.max_body_bytes <= 16 * 1024 * 1024:
            raise SettingsError("max_body_bytes: must be between 1 KiB and 16 MiB")
        if not self.rate_limit_burst >= 0:
            raise SettingsError(f"rate_limit_burst{_env_name('rate_limit_burst')}: must be >= 0")
        if not self.rate_limit_per_minute >= 0:
            raise SettingsError(
                f"rate_limit_per_minute{_env_name('rate_limit_per_minute')}: must be >= 0"
            )
        if self.batch_size < 1:
            raise SettingsError("batch_size: must be at least 1")
        for name in ("retry_base_s", "retry_max_s", "poll_interval_s", "request_timeout_s"):
            if not getattr(self, name) > 0:
                raise SettingsError(f"{name}: must be > 0")
        if self.config is None and self.config_path is None:
            raise SettingsError(
                f"config_path{_env_name('config_path')}: no timeback.config.json given"
            )
        platform = self._platform_defaults(env)
        if platform is not None:
            return dataclasses.replace(self, **platform).checked()
        caliper_url = _http_url("caliper_url", self.caliper_url)
        token_url = _http_url("token_url", self.token_url)
        platform_api_url = _http_url("platform_api_url", self.platform_api_url)
        if self.sink == "caliper":
            for name in ("caliper_url", "token_url", "client_id", "client_secret"):
                if not getattr(self, name):
                    raise SettingsError(
                        f"{name}{_env_name(name)}: required when the sink is 'caliper'"
                    )
        origins = tuple(dict.fromkeys(_origin(item) for item in self.allowed_origins))
        proxies = tuple(_network(item) for item in self.trusted_proxies)
        hosts = tuple(dict.fromkeys(_host_pattern(item) for item in self.allowed_hosts))
        self._check_identity(proxies)
        return dataclasses.replace(
            self,
            env=env,
            trusted_proxies=proxies,
            allowed_hosts=hosts,
            database=database_path(self.database),
            caliper_url=caliper_url,
            token_url=token_url,
            platform_api_url=platform_api_url,
            allowed_origins=origins,
        )

    def _platform_defaults(self, env: str) -> dict[str, Any] | None:
        """Platform mode: the env's Timeback URLs where none are set, and the Caliper sink.

        None when nothing is left to fill in (embedded mode, or already filled).
        """
        if self.mode not in MODES:
            raise SettingsError(
                f"mode{_env_name('mode')}: {self.mode!r} is not one of {', '.join(MODES)}"
            )
        if self.mode != "platform":
            return None
        if not self.user_cache_ttl_s >= 0:
            raise SettingsError(f"user_cache_ttl_s{_env_name('user_cache_ttl_s')}: must be >= 0")
        for name in ("client_id", "client_secret"):
            if not getattr(self, name):
                raise SettingsError(f"{name}{_env_name(name)}: required in platform mode")
        urls = default_urls(env)
        changes = {
            "sink": "caliper",
            "platform_api_url": self.platform_api_url or urls.api,
            "caliper_url": self.caliper_url or urls.caliper,
            "token_url": self.token_url or urls.token,
            "env": env,
        }
        if all(getattr(self, key) == value for key, value in changes.items()):
            return None
        return changes

    def _check_identity(self, proxies: tuple[str, ...]) -> None:
        name = f"identity{_env_name('identity')}"
        if self.identity not in IDENTITIES:
            raise SettingsError(f"{name}: {self.identity!r} is not one of {', '.join(IDENTITIES)}")
        if self.identity == "proxy-header":
            if not proxies:
                raise SettingsError(
                    f"trusted_proxies{_env_name('trusted_proxies')}: required for identity "
                    "'proxy-header' (otherwise anyone could send the header)"
                )
            if not re.fullmatch(r"[A-Za-z0-9-]+", self.identity_header):
                raise SettingsError(
                    f"identity_header{_env_name('identity_header')}: not a header name"
                )
        if self.identity == "jwt" and len(self.jwt_key or "") < MIN_JWT_KEY_LENGTH:
            raise SettingsError(
                f"jwt_key{_env_name('jwt_key')}: required for identity 'jwt', "
                f"at least {MIN_JWT_KEY_LENGTH} characters"
            )
        if self.identity == "callback" and not re.fullmatch(
            r"[\w.]+:[\w.]+", self.get_email_hook or ""
        ):
            raise SettingsError(
                f"get_email_hook{_env_name('get_email_hook')}: identity 'callback' needs "
                "package.module:function"
            )

    def load_app_config(self) -> AppConfig:
        """The app's courses; a bad file raises SettingsError that names the file and field."""
        if self.config is not None:
            return self.config
        assert self.config_path is not None  # checked() guarantees one of them
        try:
            return load_config(self.config_path)
        except TrackerValidationError as exc:
            field_part = f"{exc.field}: " if exc.field and exc.field != "config" else ""
            raise SettingsError(f"timeback.config.json: {field_part}{exc.message}") from None
