from fengqiao_common.migrations_env import run
from fengqiao_mediation.adapters.orm import metadata

run(metadata)
