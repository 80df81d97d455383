"""Process configuration: one pydantic-settings model, read once.

Nothing else in BotScope reads ``os.environ``; the scanner receives the values it needs as
arguments (see ``botscope.scanner``), so it stays pure.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
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
    # A PEM file of CAs the scanner trusts in addition to certifi's (test CAs of local HTTPS
    # fixtures); passed into the scanner as a parameter. Verification is never turned off.
    extra_ca_bundle: str = ""
    # Web Bot Auth (docs/web-bot-auth.md): BotScope's Ed25519 signing key (PEM, or base64 of the
    # 32-byte seed; the local stack generates one) and the origin serving its key directory
    # ("" = public_base_url). The key is never logged; "" turns signing and the directory off.
    web_bot_auth_key: SecretStr = SecretStr("")
    web_bot_auth_agent: str = ""
    # Scans add signed_agent path runs (and verdicts) only when this opts in and a key is set.
    web_bot_auth_sign_scans: bool = False

    # --- API
    public_base_url: str = "http://127.0.0.1:8000"
    allowed_origins: str = ""  # comma separated, in addition to public_base_url
    port: int = 8000

    # --- scans
    scan_poll_hint_seconds: int = 5
    scan_timeout_seconds: int = 900

    # --- monitoring
    monitor_interval_seconds: int = 0  # 0 = use the plan cadence; >0 overrides it (local stack)
    # Scheduler (issue 5): starts per second across all workspaces (StartExecution quota headroom),
    # seconds one run may spend starting scans (below the function timeout; the rest stays due), and
    # how long a claimed URL waits before another run retries a start that was never confirmed.
    monitor_max_starts_per_second: float = 10.0
    monitor_run_budget_seconds: int = 100
    monitor_claim_lease_seconds: int = 600
    # Sample reports: a JSON file of {label, target_url}; "" = the packaged monitoring/sample_targets.json.
    # "{origin}" in a target URL is replaced by sample_targets_origin (the local fixture site).
    sample_targets_file: str = ""
    sample_targets_origin: str = ""

    # --- webhooks
    webhook_retry_schedule: str = ""  # comma-separated seconds between attempts; "" = production schedule
    webhook_timeout_seconds: float = 10.0
    # Total wall-clock budget of one attempt (connect + send + status line), whatever the peer
    # dribbles; well under WebhookDeliverFunction's 30 s Timeout in template.yaml (docs/invariants.md).
    webhook_attempt_deadline_seconds: float = 15.0
    # Attempts in flight at once to one endpoint, and to one host across every workspace; a message
    # over either cap waits in the queue (it is not an attempt).
    webhook_max_in_flight_per_endpoint: int = 4
    webhook_max_in_flight_per_host: int = 8
    # Attempts (first tries and retries together) one endpoint, and one host across workspaces, may
    # receive per minute; over it the message waits in the queue.
    webhook_max_attempts_per_endpoint_minute: int = 60
    webhook_max_attempts_per_host_minute: int = 120
    # POST /webhooks/{id}/test calls per endpoint per minute (429 with Retry-After beyond).
    webhook_test_per_endpoint_minute: int = 5
    # How long a rotated-out signing secret still signs deliveries (both signatures are sent).
    webhook_secret_overlap_seconds: int = 24 * 3600
    # KMS key (id, ARN or alias) that encrypts webhook signing secrets at rest; "" = local fallback
    # (botscope.webhooks.secrets documents it). The DLQ URL defaults to the queue's redrive target.
    webhook_kms_key_id: str = ""
    webhook_dlq_url: str = ""
    # An endpoint whose deliveries keep failing this long (no 2xx in between) is disabled.
    webhook_disable_after_seconds: int = 5 * 24 * 3600

    # --- proxies: comma-separated addresses/CIDRs of reverse proxies whose X-Forwarded-For is
    # believed (local stack only; deployed, the source IP is API Gateway's request context).
    # "" = none: the socket's peer is the source IP.
    trusted_proxies: str = ""

    # --- rate limits (issue 6): per credential, a fixed window counter; per workspace, running scans
    rate_limit_requests: int = 300  # requests per credential per window (0 = unlimited)
    rate_limit_window_seconds: int = 60
    max_concurrent_scans: int = 10  # running scans per workspace (0 = unlimited)

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
    def trusted_proxy_list(self) -> list[str]:
        return _split(self.trusted_proxies)

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
