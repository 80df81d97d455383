"""Process configuration: one pydantic-settings model, read once.

Nothing else in BotScope reads ``os.environ``; the scanner receives the values it needs as
arguments (see ``botscope.scanner``), so it stays pure.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BOTSCOPE_", extra="ignore")

    # --- storage / AWS resources (names come from template.yaml via the function environment)
    table_name: str = "botscope"
    reports_bucket: str = "botscope-reports"
    webhook_queue_url: str = ""
    state_machine_arn: str = ""
    region: str = Field(default="us-east-1", validation_alias="AWS_REGION")

    # --- network policy
    # CIDR list of private ranges that scans and webhooks may reach (local tests, the demo).
    allow_private_targets: str = ""
    # Local mode permits http:// webhook endpoints inside allow_private_targets.
    local_mode: bool = False

    # --- API
    public_base_url: str = "http://127.0.0.1:8000"
    allowed_origins: str = ""  # comma separated, in addition to public_base_url
    port: int = 8000

    # --- scans
    scan_poll_hint_seconds: int = 5
    scan_timeout_seconds: int = 900

    # --- monitoring
    monitor_interval_seconds: int = 0  # 0 = use the plan cadence; >0 overrides it (local stack)

    # --- webhooks
    webhook_retry_schedule: str = ""  # comma-separated seconds between attempts; "" = production schedule
    webhook_timeout_seconds: float = 10.0

    @field_validator("allow_private_targets")
    @classmethod
    def _valid_cidrs(cls, value: str) -> str:
        for part in _split(value):
            ipaddress.ip_network(part, strict=False)
        return value

    @property
    def allowed_private_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p, strict=False) for p in _split(self.allow_private_targets))

    @property
    def allowed_origin_list(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([self.public_base_url.rstrip("/"), *(_split(self.allowed_origins))]))


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Tests and the local stack change the environment, then call this."""
    get_settings.cache_clear()
