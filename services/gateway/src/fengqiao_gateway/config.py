from pathlib import Path

from fengqiao_common.settings import REPO_ROOT, ServiceSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

DEV_TOKEN_SECRET = "dev-only-gateway-token-secret-change-me-0123456789"


def _default_credentials_file() -> Path:
    return REPO_ROOT / ".run" / "demo-credentials.json"


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

    # staff tokens
    token_secret: str = DEV_TOKEN_SECRET
    access_token_ttl: int = 900  # seconds
    refresh_token_ttl: int = 7 * 24 * 3600
    refresh_reuse_grace: float = 30.0  # seconds a just-rotated refresh token is refused without ending the session
    auth_cache_ttl: float = 5.0
    password_hash_time_cost: int = 3  # argon2id
    password_hash_memory_kib: int = 65536  # seconds a verified session / key is trusted without a database read

    # abuse limits
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 20_971_520  # multipart bodies (photos) and /api/v1/attachments
    rate_limit_user_per_minute: int = 600
    rate_limit_key_per_minute: int = 1200
    rate_limit_anonymous_per_minute: int = 300  # per client address
    rate_limit_login_per_minute: int = 10  # per client address and username
    redis_url: str | None = None
    page_size_cap: int = 100
    cors_origins: list[str] = Field(default_factory=list)
    trust_forwarded_for: bool = False

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

    def upstreams(self) -> dict[str, str]:
        return {
            "intake": self.intake_url,
            "dispatch": self.dispatch_url,
            "mediation": self.mediation_url,
            "analytics": self.analytics_url,
        }
