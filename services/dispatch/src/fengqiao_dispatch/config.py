from fengqiao_common.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Environment variables: DISPATCH_DATABASE_URL, DISPATCH_PORT ... (prefix DISPATCH_), plus the shared
    KAFKA_BOOTSTRAP_SERVERS, FQ_INTERNAL_TOKEN_SECRET and FQ_ENVIRONMENT.

    - DISPATCH_DEMO_DATA: seed the demo routing rules (from the jurisdiction's domains) at startup.
    - DISPATCH_TIMER_POLL_INTERVAL: seconds between two scans for due timers.
    - DISPATCH_TIMER_BATCH_SIZE: timers fired per transaction.
    - DISPATCH_RUN_TIMERS: run the timer loop in this process (any number of replicas may).
    - DISPATCH_CONSUMER_GROUP: Kafka consumer group of the dispatch consumers.
    """

    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore", populate_by_name=True)

    service_name: str = "dispatch"
    port: int = 8002
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/fq_dispatch"
    demo_data: bool = False
    run_timers: bool = True
    timer_poll_interval: float = 5.0
    timer_batch_size: int = 200
    consumer_group: str = "dispatch"
