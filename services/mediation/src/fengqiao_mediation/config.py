from pydantic_settings import SettingsConfigDict

from fengqiao_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Environment variables: MEDIATION_DATABASE_URL, MEDIATION_PORT ... (prefix MEDIATION_), plus the shared
    KAFKA_BOOTSTRAP_SERVERS, FQ_INTERNAL_TOKEN_SECRET and FQ_ENVIRONMENT."""

    model_config = SettingsConfigDict(env_prefix="MEDIATION_", extra="ignore", populate_by_name=True)

    service_name: str = "mediation"
    port: int = 8003
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/fq_mediation"
