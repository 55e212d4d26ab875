from fengqiao_common.settings import ServiceSettings
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict


class WeakSignalThresholds(BaseModel):
    """Weak-signal rule thresholds; each can be set with ANALYTICS_WEAK_SIGNALS__<NAME>, e.g.
    ANALYTICS_WEAK_SIGNALS__REPEAT_COUNT=4."""

    repeat_count: int = Field(3, ge=2, description="cases of one domain in one grid within repeat_days")
    repeat_days: int = Field(7, ge=1)
    return_reopen_count: int = Field(2, ge=1, description="returns + reopenings of one case")
    escalation_count: int = Field(1, ge=1, description="escalations (督办) of one case")
    people_count: int = Field(10, ge=2, description="people involved in one case")
    requester_count: int = Field(3, ge=2, description="cases by one (pseudonymous) requester within requester_days")
    requester_days: int = Field(30, ge=1)
    trend_days: int = Field(7, ge=1, description="length of the periods compared by the rising-trend rule")
    trend_ratio: float = Field(2.0, gt=1.0)
    trend_min: int = Field(5, ge=1, description="minimum cases in the later period")
    wage_days: int = Field(14, ge=1, description="days before a public holiday watched for wage arrears")
    wage_count: int = Field(3, ge=1, description="wage-arrears reports in one community before one holiday")
    conversion_days: int = Field(30, ge=1, description="a reported signal 'became a case' if one follows within")


class Settings(ServiceSettings):
    """Environment variables: ANALYTICS_DATABASE_URL, ANALYTICS_PORT ... (prefix ANALYTICS_), plus the shared
    KAFKA_BOOTSTRAP_SERVERS, FQ_INTERNAL_TOKEN_SECRET and FQ_ENVIRONMENT."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", populate_by_name=True,
                                      env_nested_delimiter="__")

    service_name: str = "analytics"
    port: int = 8004
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/fq_analytics"
    timezone: str = "Asia/Shanghai"
    consumer_group: str = "analytics-read-models"
    generation_poll_interval: float = 2.0
    screen_public: bool = Field(True, description="the /screen page and its data/stream need no login (kiosk)")
    stream_interval: float = Field(0.3, description="SSE coalescing interval in seconds")
    export_max_rows: int = 200_000
    max_body_bytes: int = 1_048_576
    weak_signals: WeakSignalThresholds = Field(default_factory=WeakSignalThresholds)
