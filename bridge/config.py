"""The one configuration model of Space bridge, loaded from one YAML file in one place.

Every flow reads its settings from `Settings`; nothing else parses YAML or the environment.
Unknown keys are errors (a typo must not silently fall back to a default), and every error
names the key path and the file, so an operator can fix it without reading code.

Secrets may be written as `env:NAME`: the value is then read from the environment when the
file is loaded. Secrets are held as `pydantic.SecretStr`, so they never appear in `repr`,
in logs or in `config check` output.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    PrivateAttr,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from bridge import features

ENV_PREFIX = "env:"
DEFAULT_CONFIG_PATH = "/etc/space-bridge/space.yaml"
CONFIG_ENV_VAR = "SPACE_BRIDGE_CONFIG"


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; `problems` lists each one."""

    def __init__(self, path: str | os.PathLike, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" for p in problems))


class _MissingEnv(Exception):
    pass


def _resolve_env(value: Any) -> Any:
    """Replace an `env:NAME` string by the variable's value; unset or empty is a missing secret."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX):].strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"'{value}' is not a valid env: reference (env:NAME)")
        resolved = os.environ.get(name)
        if not resolved:
            raise ValueError(f"environment variable {name} is not set (referenced as {value})")
        return resolved
    return value


def _not_blank(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("secret is empty")
    return value


Secret = Annotated[SecretStr, BeforeValidator(_resolve_env), AfterValidator(_not_blank)]
"""A required secret: a literal, or `env:NAME` resolved at load time."""


def check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value.rstrip("/")


HttpUrl = Annotated[str, BeforeValidator(_resolve_env), AfterValidator(check_http_url)]


def _check_db_url(value: str) -> str:
    scheme = value.split(":", 1)[0]
    if not scheme.startswith(("sqlite", "postgresql")):
        raise ValueError(f"'{scheme}' databases are not supported; use sqlite:///PATH or postgresql://...")
    return value


DatabaseUrl = Annotated[str, BeforeValidator(_resolve_env), AfterValidator(_check_db_url)]


class Model(BaseModel):
    """The base of every configuration section, the features' own included: unknown keys are
    errors and a loaded configuration never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_Model = Model


#: Loopback only: nginx on the same host, or a scraper on it.
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))


class MetricsSettings(_Model):
    """Who may read /metrics: it shows queue sizes and error counts, not for the public."""

    token: Secret | None = Field(None, description="Authorization: Bearer <token> admits any address")
    allow: list[IPvAnyNetwork] = Field(default_factory=lambda: list(LOOPBACK),
                                       description="client networks admitted without the token")


class BridgeSettings(_Model):
    public_url: HttpUrl
    secret_key: Secret
    database_url: DatabaseUrl = "sqlite:////var/lib/space-bridge/space-bridge.db"
    listen: str = "127.0.0.1:8090"
    state_dir: Path = Path("/var/lib/space-bridge")
    http_workers: int = Field(2, ge=1, le=64)
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    user_agent_contact: str = "https://meta.wikimedia.org/wiki/Space"
    # Web hooks and logins are small; a bigger body is refused (413) before it is read.
    max_body_bytes: int = Field(65536, ge=1024, le=16 * 1024 * 1024)
    # Peers whose X-Forwarded-For names the client (nginx on this host); others are the client.
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=lambda: list(LOOPBACK))
    metrics: MetricsSettings = MetricsSettings()

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"'{value}' is not HOST:PORT")
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (try: openssl rand -hex 32)")
        return value


class OutboxSettings(_Model):
    workers: int = Field(2, ge=1, le=64, description="job threads per worker process")
    max_attempts: int = Field(8, ge=1, le=100)
    backoff_base_seconds: float = Field(2.0, gt=0)
    backoff_max_seconds: float = Field(3600.0, gt=0)
    lease_seconds: float = Field(300.0, gt=0)
    poll_interval_seconds: float = Field(1.0, gt=0)
    batch_size: int = Field(20, ge=1, le=1000)
    keep_done_days: int = Field(14, ge=0)

    @model_validator(mode="after")
    def _backoff_order(self) -> "OutboxSettings":
        if self.backoff_max_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_max_seconds must not be below backoff_base_seconds")
        return self


class PolicySettings(_Model):
    deny_blocked: bool = True
    require_confirmed_email: bool = True
    min_edit_count: int = Field(0, ge=0)
    min_account_age_days: int = Field(0, ge=0)
    allow_users: list[str] = []
    deny_users: list[str] = []


class WikimediaSettings(_Model):
    oauth_base_url: HttpUrl = "https://meta.wikimedia.org"
    client_id: str = Field(min_length=1)
    client_secret: Secret
    # Grants asked for at login. mwoauth-authonlyprivate ("User identity verification only, with
    # access to real name and email address") is the one that puts `email` into the profile
    # (extension OAuth, src/UserStatementProvider.php); mwoauth-authonly gives identity only.
    scopes: list[str] = Field(default_factory=lambda: ["mwoauth-authonlyprivate"], min_length=1)
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="for each request to Wikimedia")
    policy: PolicySettings = PolicySettings()
    session_max_age_seconds: int = Field(7 * 24 * 3600, ge=60, le=366 * 24 * 3600,
                                         description="a bridge login older than this is refused, whatever the cookie says")

    @field_validator("scopes")
    @classmethod
    def _scope_names(cls, scopes: list[str]) -> list[str]:
        bad = [s for s in scopes if not re.fullmatch(r"[A-Za-z0-9#_-]+", s)]
        if bad:
            raise ValueError(f"not a grant name: {', '.join(bad)}")
        return scopes


class DiscourseCategory(_Model):
    """A category `space-bridge discourse setup` makes sure exists (created when missing)."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=255)
    name: str = Field(min_length=1, max_length=50)  # Category validates name length 1..50
    color: str = Field("0088CC", pattern=r"^[0-9A-Fa-f]{6}$")
    text_color: str = Field("FFFFFF", pattern=r"^[0-9A-Fa-f]{6}$")
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$",
                                 description="language of the category's topics, for a language's category")


class DiscourseSettings(_Model):
    url: HttpUrl
    api_key: Secret
    api_username: str = "system"
    connect_secret: Secret
    webhook_secret: Secret
    requests_per_minute: int = Field(60, ge=1)
    categories: list[DiscourseCategory] = []
    preexisting_categories: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="slugs of categories setup does not create but checks exist")

    @field_validator("api_username")
    @classmethod
    def _ascii_api_username(cls, value: str) -> str:
        # the bridge names the API user in the Api-Username header (bridge/clients/discourse/transport.py)
        if not value or not value.isascii():
            raise ValueError("must be the ASCII username of a forum admin (such as system)")
        return value

    @field_validator("connect_secret")
    @classmethod
    def _connect_secret_length(cls, value: SecretStr) -> SecretStr:
        # Discourse refuses a discourse_connect_secret shorter than 10 characters
        # (config/site_settings.yml: discourse_connect_secret, min: 10).
        if len(value.get_secret_value()) < 10:
            raise ValueError("must be at least 10 characters (Discourse refuses shorter ones)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_length(cls, value: SecretStr) -> SecretStr:
        # app/models/web_hook.rb: validates :secret, length: { minimum: 12 }, allow_blank: true
        if len(value.get_secret_value()) < 12:
            raise ValueError("must be at least 12 characters (Discourse refuses shorter web hook secrets)")
        return value

    @field_validator("categories")
    @classmethod
    def _unique_slugs(cls, categories: list[DiscourseCategory]) -> list[DiscourseCategory]:
        slugs = [c.slug for c in categories]
        dupes = sorted({s for s in slugs if slugs.count(s) > 1})
        if dupes:
            raise ValueError(f"category slugs must be unique; repeated: {', '.join(dupes)}")
        return categories

    def category_slugs(self) -> set[str]:
        """Every Discourse category slug the configuration may use."""
        return {c.slug for c in self.categories} | set(self.preexisting_categories)

    def check_category_slugs(self, wordpress: "WordPressSettings") -> None:
        """Every Discourse category a WordPress site maps to must be created by setup
        (`categories`) or named as pre-existing; raise a ValidationError naming each key path."""
        from pydantic_core import InitErrorDetails, PydanticCustomError

        known = self.category_slugs()
        problems = []
        for i, site in enumerate(wordpress.sites):
            uses = [(("default_category",), site.default_category)] if site.default_category else []
            uses += [(("categories", k), v) for k, v in site.categories.items()]
            uses += [(("languages", k), v) for k, v in site.languages.items()]
            for path, slug in uses:
                if slug not in known:
                    problems.append(InitErrorDetails(
                        type=PydanticCustomError(
                            "unknown_discourse_category",
                            "Discourse category '{slug}' is in neither discourse.categories nor "
                            "discourse.preexisting_categories", {"slug": slug}),
                        loc=("wordpress", "sites", i, *path), input=slug))
        if problems:
            raise ValidationError.from_exception_data("Settings", problems)


class WordPressSite(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    url: HttpUrl
    transport: Literal["rest", "xmlrpc"] = "rest"
    username: str = Field(min_length=1)
    password: Secret = Field(description="Application Password (rest) or account password (xmlrpc)")
    webhook_secret: Secret
    default_category: str | None = None
    categories: dict[str, str] = Field(default_factory=dict, description="WordPress category slug -> Discourse category slug")
    languages: dict[str, str] = Field(default_factory=dict, description="language code -> Discourse category slug")
    statuses: list[Literal["publish", "future", "private", "draft", "pending"]] = ["publish"]
    title: str | None = Field(None, min_length=1, max_length=60,
                              description="the site's name in topic titles and notes (default: name)")
    mirror_as: str | None = Field(None, description="Discourse user this site's topics are created as "
                                  "(default: mirror.username)")
    # Login with a Wikimedia account through the bridge (GET /sso/wordpress/<name>): the site's
    # mu-plugin is a DiscourseConnect consumer with this secret (its own wp-config constant holds
    # the same value). None: the site does not use the bridge for logins.
    connect_secret: Secret | None = Field(None, description="DiscourseConnect secret shared with the site's mu-plugin")
    roles: dict[str, str] = Field(default_factory=dict, description="wiki group -> WordPress role, first match wins")
    default_role: str = Field("subscriber", pattern=r"^[a-z0-9_-]+$", description="role of members no rule maps")

    @field_validator("connect_secret")
    @classmethod
    def _connect_secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 10:
            raise ValueError("must be at least 10 characters")
        return value

    @field_validator("roles")
    @classmethod
    def _role_names(cls, roles: dict[str, str]) -> dict[str, str]:
        bad = [r for r in roles.values() if not re.fullmatch(r"[a-z0-9_-]+", r)]
        if bad:
            raise ValueError(f"not a WordPress role name: {', '.join(bad)}")
        return roles


class WordPressSettings(_Model):
    sites: list[WordPressSite] = []

    @field_validator("sites")
    @classmethod
    def _unique_names(cls, sites: list[WordPressSite]) -> list[WordPressSite]:
        names = [s.name for s in sites]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"site names must be unique; repeated: {', '.join(dupes)}")
        return sites


class MediaWikiSettings(_Model):
    api_url: HttpUrl
    username: str = Field(min_length=1, description="bot password user, User@botname")
    password: Secret
    maxlag: int = Field(5, ge=1, le=60)


class Settings(_Model):
    """The platforms every flow shares; the flows' own sections (`sso`, `mirror`, `relay`, ...)
    are added by `settings_model()` from the installed features (bridge/features.py)."""

    bridge: BridgeSettings
    outbox: OutboxSettings = OutboxSettings()
    wikimedia: WikimediaSettings | None = None
    discourse: DiscourseSettings | None = None
    wordpress: WordPressSettings = WordPressSettings()
    mediawiki: MediaWikiSettings | None = None

    _source: str = PrivateAttr("<config>")

    @property
    def source(self) -> str:
        """The file this configuration was loaded from, for error messages."""
        return self._source

    def site(self, name: str) -> WordPressSite:
        for site in self.wordpress.sites:
            if site.name == name:
                return site
        raise KeyError(f"no WordPress site named '{name}' in {self.source}")

    @model_validator(mode="after")
    def _discourse_categories_known(self) -> "Settings":
        if self.discourse is not None:
            self.discourse.check_category_slugs(self.wordpress)
        return self



def settings_model() -> type[Settings]:
    """`Settings` plus the configuration section of every installed feature.

    A section whose model validates from nothing defaults to that (so `settings.relay` is always
    there); any other is optional and None when absent. The model is made once per set of sections.
    """
    sections = features.config_sections()
    taken = sorted(set(sections) & set(Settings.model_fields))
    if taken:
        raise features.FeatureError(f"a feature claims the bridge's own configuration section(s): {', '.join(taken)}")
    return _model_with(tuple(sorted(sections.items())))


@functools.cache
def _model_with(sections: tuple[tuple[str, type[BaseModel]], ...]) -> type[Settings]:
    fields: dict[str, Any] = {}
    for key, model in sections:
        try:
            fields[key] = (model, model())
        except ValidationError:
            fields[key] = (model | None, None)
    return create_model("Settings", __base__=Settings, __module__=__name__, **fields)


def known_keys(loc: tuple, model: Any = None) -> list[str]:
    """The keys allowed beside the last element of `loc`, found by walking `model` (default: the
    whole configuration); for "did you mean" hints, here and in sections that validate a part
    themselves (a relay target's options)."""
    model = model if model is not None else settings_model()
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
        for arg in (*getattr(model, "__args__", ()), model):  # Optional[X], list[X]
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                model = arg
                break
            for inner in getattr(arg, "__args__", ()):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    model = inner
    return list(getattr(model, "model_fields", {}))


def _format_error(err: dict) -> str:
    loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"])
    loc = loc.replace(".[", "[")
    kind = err["type"]
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(err["loc"][-1]), known_keys(err["loc"]), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"{loc}: unknown key{hint}"
    if kind == "string_pattern_mismatch" and loc.endswith("name"):
        return f"{loc}: '{err['input']}' must be lowercase letters, digits, '-' or '_'"
    if kind == "missing":
        return f"{loc}: required key is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return f"{loc}: {msg}"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse(data: Any, source: str = "<config>") -> Settings:
    """Validate an already-parsed mapping; raise ConfigError listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(source, ["top level must be a mapping of sections (bridge:, discourse:, ...)"])
    try:
        settings = settings_model().model_validate(data)
    except features.FeatureError as exc:  # an installed plug-in is broken: say which, as for any problem
        raise ConfigError(source, [str(exc)]) from None
    except ValidationError as exc:
        raise ConfigError(source, [_format_error(e) for e in exc.errors()]) from None
    settings._source = source
    return settings


def load(path: str | os.PathLike | None = None, *, check_secrets: bool = True) -> Settings:
    """Load the configuration from `path`, $SPACE_BRIDGE_CONFIG, or the default location.

    Every command (and so `serve`, `worker` and `config check`) loads through here, so none runs
    with a published example secret or a weak one (bridge/secret_policy.py); `check_secrets=False`
    is for reading the example file itself.
    """
    path = Path(path or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror}"]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(path, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    settings = parse(data if data is not None else {}, str(path))
    if check_secrets:
        from bridge import secret_policy

        weak = secret_policy.problems(settings)
        if weak:
            raise ConfigError(path, weak)
    return settings
