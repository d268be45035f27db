"""Configuration: a TOML file plus ``CPBRIDGE_*`` environment variables.

The file is ``$CPBRIDGE_CONFIG`` or ``./cpbridge.toml`` if present. Nested keys
use ``__`` in environment variables, e.g. ``CPBRIDGE_DIRECTORY__DATABASE_URL``.
With no configuration at all everything runs embedded: SQLite files under
``./data`` and both services on localhost.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SystemAccount(BaseModel):
    """An adapter's account at the directory (WS-Security UsernameToken)."""

    secret: str
    organisation: str
    local_authority: str = "E08000035"
    #: Practitioner organisations this account may act for (empty: any).
    organisations: list[str] = Field(default_factory=list)
    #: Roles (cpbridge.codes.ActorRole values) the account may assert in onBehalfOf.
    #: Elevated roles (shield_override, management_team, administrator) must be listed.
    roles: list[str] = Field(default_factory=lambda: ["practitioner", "system"])
    #: Subject of the client certificate a TLS-terminating proxy must pass for this
    #: account (see DirectorySettings.client_cert_header); None: not checked.
    client_cert_subject: str | None = None
    #: Origins (``https://host[:port]``) whose pages may frame this system's embeddable
    #: panel (Content-Security-Policy frame-ancestors); empty: the panel cannot be framed.
    frame_origins: list[str] = Field(default_factory=list)
    #: Local systems (an event's ``sourceSystem``, e.g. ``ics``) this account may write for.
    #: Empty: any system that no other account lists. A system may be listed by one account only.
    source_systems: list[str] = Field(default_factory=list)
    #: The systems other accounts list (set by DirectorySettings.bind_source_systems).
    _listed_elsewhere: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @property
    def listed_elsewhere(self) -> frozenset[str]:
        """The local systems other accounts of the same directory list (this one may not write for them)."""
        return self._listed_elsewhere


class WebSettings(BaseModel):
    """The secure web link and the embeddable panel (cpbridge.web)."""

    #: Mark session cookies Secure (turn off only for plain-http tests on localhost).
    secure_cookies: bool = True
    #: A signed-in session ends after this many minutes without a request.
    idle_timeout_minutes: int = 15
    #: Failed sign-in steps (password, PIN or security code) before the account locks.
    max_failed_attempts: int = 5
    #: How long a lock lasts (an administrator can unlock sooner).
    lockout_minutes: int = 30


class DirectorySettings(BaseModel):
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8700
    max_message_bytes: int = 1024 * 1024
    require_digest: bool = False
    #: Searches per minute per user (token bucket per process; see docs/security.md).
    search_rate_per_minute: int = 30
    #: Searches per minute per system account, whatever user ids it asserts (a ceiling on
    #: an account that rotates onBehalfOf user ids; per process; see docs/security.md).
    search_rate_per_account_per_minute: int = 600
    #: HTTP header in which a TLS-terminating proxy passes the verified client
    #: certificate's subject (e.g. "X-SSL-Client-S-DN"); None: mutual TLS not used.
    client_cert_header: str | None = None
    #: Refuse accounts that have no client_cert_subject configured.
    require_client_cert: bool = False
    web: WebSettings = Field(default_factory=WebSettings)
    accounts: dict[str, SystemAccount] = Field(
        default_factory=lambda: {
            "adapter": SystemAccount(secret="adapter-secret", organisation="Leeds City Council"),
        }
    )

    @model_validator(mode="after")
    def _bind(self) -> DirectorySettings:
        self.bind_source_systems()
        return self

    def bind_source_systems(self) -> None:
        """Check that each local system is listed by one account at most (ValueError naming
        both), and tell every account which systems the others list."""
        owners: dict[str, str] = {}
        for name, account in self.accounts.items():
            for system in account.source_systems:
                if owners.setdefault(system, name) != name:
                    raise ValueError(
                        f"directory.accounts: source system {system!r} is listed by both {owners[system]!r} and {name!r}"
                    )
        for name, account in self.accounts.items():
            account._listed_elsewhere = frozenset(s for s, owner in owners.items() if owner != name)


class SystemConfig(BaseModel):
    """Per local system overrides (all optional)."""

    enabled: bool = True
    #: Credentials the local system must present to the adapter (none: open on localhost).
    username: str | None = None
    secret: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class AdapterSettings(BaseModel):
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8600
    directory_url: str = "http://127.0.0.1:8700/directory/soap"
    directory_username: str = "adapter"
    directory_secret: str = "adapter-secret"
    directory_timeout: float = 10.0
    mappings_dir: Path = PROJECT_ROOT / "mappings"
    max_message_bytes: int = 5 * 1024 * 1024
    systems: dict[str, SystemConfig] = Field(default_factory=dict)
    #: Delivery worker: poll interval, attempts before a transient failure is parked.
    poll_interval: float = 0.5
    max_attempts: int = 12
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    #: Delivered outbox rows are pruned after this many days.
    retain_delivered_days: int = 7
    #: How often a running adapter prunes (seconds; 0 turns the periodic prune off).
    prune_interval_seconds: float = 3600.0
    #: A worker's lease on a row (seconds); must outlast one call with its quick retries.
    lease_seconds: float = 60.0
    #: Rows one worker claims per pass.
    batch_size: int = 20
    #: Delivery threads per adapter process (one slow call then holds up only its own batch).
    delivery_workers: int = 2
    #: How often to ask the directory again about events it holds for identity review, so the
    #: local system learns the final outcome (seconds; 0 turns it off).
    review_follow_up_seconds: float = 600.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CPBRIDGE_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Path("data")
    log_level: str = "info"
    directory: DirectorySettings = Field(default_factory=DirectorySettings)
    adapter: AdapterSettings = Field(default_factory=AdapterSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = Path(os.environ.get("CPBRIDGE_CONFIG", "cpbridge.toml"))
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def directory_db_url(self) -> str:
        return self.directory.database_url or f"sqlite:///{(self.data_dir / 'directory.db').resolve()}"

    def outbox_db_url(self) -> str:
        return self.adapter.database_url or f"sqlite:///{(self.data_dir / 'outbox.db').resolve()}"


def load_settings(**overrides: Any) -> Settings:
    settings = Settings(**overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings
