from pydantic_settings import SettingsConfigDict

from fengqiao_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Environment variables: INTAKE_DATABASE_URL, INTAKE_PORT ... (prefix INTAKE_), plus the shared
    KAFKA_BOOTSTRAP_SERVERS, FQ_INTERNAL_TOKEN_SECRET and FQ_ENVIRONMENT."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"
    port: int = 8001
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/fq_intake"
