from fengqiao_common.migrations_env import run
from fengqiao_analytics.adapters.orm import metadata

run(metadata)
