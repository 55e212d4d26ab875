import ipaddress
from pathlib import Path
from typing import Literal

from fengqiao_common.settings import REPO_ROOT, ServiceSettings
from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

DEV_TOKEN_SECRET = "dev-only-gateway-token-secret-change-me-0123456789"


def _default_credentials_file() -> Path:
    return REPO_ROOT / ".run" / "demo-credentials.json"


def _default_audit_spool_dir() -> Path:
    return REPO_ROOT / ".run" / "gateway-audit-spool"


class Settings(ServiceSettings):
    """Environment variables: GATEWAY_DATABASE_URL, GATEWAY_PORT ... (prefix GATEWAY_), plus the shared
    KAFKA_BOOTSTRAP_SERVERS, FQ_INTERNAL_TOKEN_SECRET and FQ_ENVIRONMENT."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: str = "gateway"
    port: int = 8000
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/fq_gateway"

    # upstream services (path forwarded unchanged)
    intake_url: str = "http://127.0.0.1:8001"
    dispatch_url: str = "http://127.0.0.1:8002"
    mediation_url: str = "http://127.0.0.1:8003"
    analytics_url: str = "http://127.0.0.1:8004"
    upstream_connect_timeout: float = 2.0
    upstream_timeout: float = 30.0
    upstream_max_connections: int = 200
    upstream_retries: int = 2  # idempotent requests only, on connection errors
    upstream_client: Literal["httptools", "httpx"] = "httptools"  # the proxy path's client (httpx: the former one)

    # staff tokens
    token_secret: str = DEV_TOKEN_SECRET
    access_token_ttl: int = 900  # seconds
    refresh_token_ttl: int = 7 * 24 * 3600
    refresh_reuse_grace: float = 30.0  # seconds a just-rotated refresh token is refused without ending the session
    auth_cache_ttl: float = 5.0
    password_hash_time_cost: int = 3  # argon2id
    password_hash_memory_kib: int = 65536  # KiB each hash (and each verification) holds while it runs
    password_hash_concurrency: int = 4  # hashes at once (memory: concurrency x memory_kib); more wait ...
    password_hash_wait: float = 1.0  # ... this many seconds for a slot, then 503 + Retry-After

    # abuse limits
    max_body_bytes: int = 1_048_576
    # /api/v1/attachments only (whatever the content type elsewhere): a 20 MiB photo plus its multipart framing
    max_upload_bytes: int = 20 * 1_048_576 + 64 * 1024
    auth_max_body_bytes: int = 16_384  # /api/v1/auth (login, refresh)
    rate_limit_user_per_minute: int = 600
    rate_limit_key_per_minute: int = 1200
    rate_limit_anonymous_per_minute: int = 300  # per client address
    rate_limit_login_per_minute: int = 10  # per client address and username
    rate_limit_login_per_address_per_minute: int = 60  # login attempts per client address, any username
    login_failures_global_per_minute: int = 600  # failed logins of all addresses together; then 429 for everyone
    auth_failures_per_minute: int = 100  # wrong API keys / bad tokens per client address; then 429 until the window ends
    # client address: the socket peer, or (when the peer is one of these proxies) the rightmost hop of
    # X-Forwarded-For that is not one of them. JSON list of CIDRs, e.g. ["10.0.0.0/8"]; none = the peer.
    trusted_proxies: list[str] = Field(default_factory=list)
    # older switch, kept for existing deployments: without trusted_proxies, true = the peer is the one proxy in
    # front, so the client is the rightmost X-Forwarded-For hop (the one that proxy appended)
    trust_forwarded_for: bool = False
    # Server-Sent Events: their own upstream pool, so open streams never take the API's connections
    stream_paths: list[str] = Field(default_factory=lambda: ["/screen/stream", "/api/v1/analytics/stream"])
    stream_max_connections: int = 1000  # open streams through this gateway process (then 503)
    stream_max_per_address: int = 50  # open streams per client address (then 429)
    redis_url: str | None = None
    page_size_cap: int = 100
    cors_origins: list[str] = Field(default_factory=list)

    # durable audit of reads and writes of personal data: the answer waits for its row's commit (rows arriving
    # within audit_linger share one); rows the database does not take go to a local spool (fsync'd, moved into
    # the database when it answers again); a read whose row is durable in neither within audit_wait is 503
    audit_linger: float = 0.002
    audit_wait: float = 3.0
    audit_db_timeout: float = 2.0
    audit_max_pending: int = 20_000
    audit_spool_dir: Path = Field(default_factory=_default_audit_spool_dir)

    # Prometheus metrics on an internal port only (never on the public one); 0 = not served
    metrics_port: int = 9100
    metrics_host: str = "127.0.0.1"

    # demo data (make run)
    demo_data: bool = False
    demo_credentials_file: Path = Field(default_factory=_default_credentials_file)
    console_dir: Path | None = None  # defaults to the packaged web/ folder

    @model_validator(mode="after")
    def _refuse_placeholder_token_secret(self) -> "Settings":
        if self.environment == "production" and (
            self.token_secret == DEV_TOKEN_SECRET or len(self.token_secret) < 32
        ):
            raise ValueError("GATEWAY_TOKEN_SECRET must be a random value of at least 32 characters in production")
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"GATEWAY_TRUSTED_PROXIES: {cidr!r} is not an address or CIDR") from exc
        return v

    def upstreams(self) -> dict[str, str]:
        return {
            "intake": self.intake_url,
            "dispatch": self.dispatch_url,
            "mediation": self.mediation_url,
            "analytics": self.analytics_url,
        }
