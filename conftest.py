"""Repository-wide test conventions, checked before any test runs.

pytest imports test modules and their helpers by basename (``rootdir``-relative, no packages), so
two ``tests/fakes.py`` or two ``test_usecases_cases.py`` in different services would shadow each
other in one run. Every helper module and test module in ``services/*/tests`` therefore carries its
service's name (``intake_fakes.py``, ``test_intake_usecases_cases.py``)."""

from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


def pytest_sessionstart(session):
    seen = defaultdict(list)
    for f in sorted(ROOT.glob("services/*/tests/*.py")) + sorted(ROOT.glob("libs/*/tests/*.py")):
        if f.name != "conftest.py":
            seen[f.name].append(f.relative_to(ROOT))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    if clashes:
        lines = [f"  {name}: {', '.join(map(str, paths))}" for name, paths in sorted(clashes.items())]
        raise pytest.UsageError(
            "test modules must have unique basenames across services (prefix them with the service's "
            "name, e.g. intake_fakes.py, test_intake_usecases_cases.py):\n" + "\n".join(lines))
