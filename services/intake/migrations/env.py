from fengqiao_common.migrations_env import run
from fengqiao_intake.adapters.orm import metadata

run(metadata)
