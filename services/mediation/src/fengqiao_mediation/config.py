from pathlib import Path
from typing import Literal

from fengqiao_common.settings import ServiceSettings
from pydantic import field_validator, model_validator
from pydantic_settings import SettingsConfigDict

DEV_COURT_SECRET = "dev-only-court-callback-secret-0123456789"
DEV_COURT_API_KEY = "dev-only-court-api-key"


class Settings(ServiceSettings):
    """Environment variables: MEDIATION_DATABASE_URL, MEDIATION_PORT ... (prefix MEDIATION_), plus the shared
    KAFKA_BOOTSTRAP_SERVERS, FQ_INTERNAL_TOKEN_SECRET and FQ_ENVIRONMENT."""

    model_config = SettingsConfigDict(env_prefix="MEDIATION_", extra="ignore", populate_by_name=True)

    service_name: str = "mediation"
    port: int = 8003
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/fq_mediation"

    demo_data: bool = False
    consumer_group: str = "mediation"  # Kafka consumer group of the referral consumer
    timezone: str = "Asia/Shanghai"
    slot_minutes: int = 60
    max_window_days: int = 31

    # Agreement PDF (调解协议书): a CJK font embedded (subset) in every PDF.
    pdf_font_path: Path = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
    pdf_font_index: int = 2  # index in a .ttc collection: 2 = Simplified Chinese in Noto CJK

    # Court adapter (司法确认)
    court_base_url: str = "http://127.0.0.1:8005"
    court_api_key: str = DEV_COURT_API_KEY
    court_callback_secret: str = DEV_COURT_SECRET
    court_callback_url: str = "http://127.0.0.1:8003/api/v1/mediation/court/callback"
    court_code: str | None = None  # default: the jurisdiction's judicial_confirmation.court
    court_timeout: float = 10.0
    judicial_apply_within_days: int | None = None  # default: the jurisdiction's apply_within_days
    judicial_remind_days_before: list[int] = [7, 1]
    reminder_interval: float = 300.0  # seconds between deadline scans

    # One-time codes sent to a party (SMS)
    sms_provider: Literal["dev", "http"] = "dev"
    sms_dev_file: Path | None = None  # dev provider: also append every message to this JSONL file
    sms_http_url: str | None = None
    sms_http_token: str | None = None
    otp_ttl_seconds: int = 600
    otp_max_attempts: int = 5

    # Seals (Ed25519): the private key is never in the database. A PEM (PKCS#8) or base64/hex raw key, from
    # a file (SEAL_KEY_FILE; created with a new key outside production when missing) or the value itself
    # (SEAL_PRIVATE_KEY). Neither: an ephemeral key per process (development and tests, with a warning); in
    # production the service refuses to start (adapters/sealkey.load_keyring, when the deps are built).
    seal_key_file: Path | None = None
    seal_private_key: str | None = None
    seal_retired_public_keys: list[str] = []  # base64 / PEM public keys of earlier keys, still published
    seal_statement_dir: Path | None = None  # if set: each past day's signed statement written here as a file
    seal_statement_interval: float = 3600.0  # seconds between checks for days without a statement file

    @field_validator("seal_key_file", "seal_private_key", "seal_statement_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, v):
        return None if isinstance(v, str) and not v.strip() else v

    @model_validator(mode="after")
    def _refuse_dev_secrets(self) -> "Settings":
        if self.environment == "production":
            if self.court_callback_secret == DEV_COURT_SECRET or len(self.court_callback_secret) < 32:
                raise ValueError("MEDIATION_COURT_CALLBACK_SECRET must be a random value of 32+ characters")
            if self.court_api_key == DEV_COURT_API_KEY:
                raise ValueError("MEDIATION_COURT_API_KEY must be set in production")
            if self.sms_provider == "dev":
                raise ValueError("MEDIATION_SMS_PROVIDER=dev is not allowed in production")

        return self
