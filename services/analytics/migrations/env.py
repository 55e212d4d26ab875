from fengqiao_analytics.adapters.orm import metadata
from fengqiao_common.migrations_env import run

run(metadata)
