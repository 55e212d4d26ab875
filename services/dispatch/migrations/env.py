from fengqiao_common.migrations_env import run
from fengqiao_dispatch.adapters.orm import metadata

run(metadata)
