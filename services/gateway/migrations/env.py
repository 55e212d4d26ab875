from fengqiao_common.migrations_env import run
from fengqiao_gateway.adapters.orm import metadata

run(metadata)
