from pathlib import Path
from typing import Literal

from fengqiao_common.settings import REPO_ROOT, ServiceSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

# development and tests only: a key everybody can read is no key (production refuses to start with it)
DEV_REQUESTER_KEY = "dev-only-intake-requester-key-change-me-0123456789"


class Settings(ServiceSettings):
    """Environment variables: INTAKE_DATABASE_URL, INTAKE_PORT ... (prefix INTAKE_), plus the shared
    KAFKA_BOOTSTRAP_SERVERS, FQ_INTERNAL_TOKEN_SECRET and FQ_ENVIRONMENT."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"
    port: int = 8001
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/fq_intake"
    demo_data: bool = False
    timezone: str = "Asia/Shanghai"
    # the asyncpg pool of the new-case write path (reports, petitions, demands, Open311 requests)
    write_pool_size: int = 16

    # request bodies and attachments (refused before they are read whole)
    max_body_bytes: int = 1_048_576
    attachment_max_bytes: int = 20 * 1_048_576  # what phones produce; the gateway allows the same on uploads
    attachment_storage: Literal["local", "s3"] = "local"
    attachment_dir: Path = Field(default_factory=lambda: REPO_ROOT / ".run" / "attachments")
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_prefix: str = "attachments/"

    # duplicates: same category, within this distance and time of an open case
    duplicate_radius_m: float = 300.0
    duplicate_window_hours: float = 72.0
    # the review list flags a proposal "likely" when the descriptions share this share of character bigrams
    duplicate_min_similarity: float = 0.25
    # nearest grid centroid for reports that give coordinates but no grid (Open311, demands)
    grid_snap_max_m: float = 1500.0

    # webhooks
    webhook_allowed_hosts: str = ""  # comma-separated host names / patterns (*.example.com)
    webhook_allowed_private_networks: str = ""  # CIDRs allowed although private, e.g. 127.0.0.1/32
    webhook_timeout: float = 10.0
    webhook_max_attempts: int = 8
    webhook_backoff_base: float = 10.0
    webhook_backoff_max: float = 3600.0
    webhook_poll_interval: float = 1.0
    webhook_lease_seconds: float = 60.0  # per claimed row; must exceed webhook_timeout (one send's deadline)
    webhook_concurrency: int = 8  # sends in flight at once (a slow receiver holds one slot, up to the deadline)
    webhook_max_response_bytes: int = 65_536  # read at most this much of a receiver's response

    # Open311
    open311_default_days: int = 90
    open311_max_requests: int = 1000
    # anonymous GET requests: true = a coarsened public feed (service name, ~100 m location, no free text, no
    # address); false = an API key is required (each caller sees its own requests in full)
    open311_public_feed: bool = True

    # the key of requester_ref (HMAC-SHA256 over the normalised phone): only intake holds it; required in
    # production (32+ characters); make run draws one per run; empty elsewhere = DEV_REQUESTER_KEY + a warning
    requester_key: str = Field("", repr=False)
    # requester rows rekeyed per transaction by the background task (pre-HMAC refs -> HMAC)
    rekey_batch: int = 500

    # text messages to residents (pre-approved templates; the codes of the approved templates by name)
    sms_enabled: bool = True
    sms_provider: Literal["simulator", "aliyun"] = "simulator"
    sms_sign_name: str = "枫桥"
    sms_templates: dict[str, str] = Field(default_factory=lambda: {
        "accepted": "SMS_FQ_ACCEPTED", "on_site": "SMS_FQ_ON_SITE", "result": "SMS_FQ_RESULT",
        "rating_ask": "SMS_FQ_RATING_ASK", "duplicate": "SMS_FQ_DUPLICATE"})
    sms_quiet_start: str = "21:00"  # local time (INTAKE_TIMEZONE): messages wait until sms_quiet_end
    sms_quiet_end: str = "08:00"
    sms_poll_interval: float = 2.0
    sms_batch: int = 20
    sms_max_attempts: int = 5
    sms_retry_seconds: float = 300.0
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    aliyun_sms_region: str = "cn-hangzhou"
    aliyun_access_key_id: str = ""
    aliyun_access_key_secret: str = Field("", repr=False)
    # follow-up (回访): the task's deadline in calendar days after the centre verified a result; how often an
    # unsatisfied / unsolved answer reopens a case before it goes to the leader instead
    follow_up_days: float = 3.0
    follow_up_max_reopens: int = 2
    # the public case page: wrong query codes allowed per case number and client within the window
    public_lookup_limit: int = 10
    public_lookup_window_seconds: float = 600.0

    @property
    def requester_key_bytes(self) -> bytes:
        return (self.requester_key or DEV_REQUESTER_KEY).encode()

    @model_validator(mode="after")
    def _requester_key_in_production(self) -> "Settings":
        if self.environment == "production" and (
                not self.requester_key or self.requester_key == DEV_REQUESTER_KEY or len(self.requester_key) < 32):
            raise ValueError("INTAKE_REQUESTER_KEY must be set to a random value of at least 32 characters in "
                             "production (it keys the requester pseudonyms; keep it secret, keep it stable)")
        return self

    @model_validator(mode="after")
    def _aliyun_configured(self) -> "Settings":
        if self.sms_provider == "aliyun" and not (self.aliyun_access_key_id and self.aliyun_access_key_secret):
            raise ValueError("INTAKE_SMS_PROVIDER=aliyun needs INTAKE_ALIYUN_ACCESS_KEY_ID and "
                             "INTAKE_ALIYUN_ACCESS_KEY_SECRET")
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> "Settings":
        if self.webhook_lease_seconds <= self.webhook_timeout:
            raise ValueError("INTAKE_WEBHOOK_LEASE_SECONDS must exceed INTAKE_WEBHOOK_TIMEOUT (a row's lease must "
                             "outlast one send, or a slow send could be claimed and sent again)")
        return self
