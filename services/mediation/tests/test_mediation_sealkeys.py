"""The seal key comes from the settings, never the database: a key file (created outside production when
missing, mode 0600, the same key on the next start), the key itself, or an ephemeral key; the file exports and
the verifier's refusal of unreadable input, as subprocesses."""

import json
import os
import stat
import subprocess
import sys

import pytest
from fengqiao_mediation.adapters.sealkey import load_keyring
from fengqiao_mediation.config import Settings
from fengqiao_mediation.domain import seals


def test_a_missing_key_file_is_created_once_and_reused(tmp_path):
    path = tmp_path / "keys" / "seal.pem"
    first = load_keyring(Settings(seal_key_file=path))
    assert path.is_file() and stat.S_IMODE(os.stat(path).st_mode) == 0o600 and not first.ephemeral
    again = load_keyring(Settings(seal_key_file=path))
    assert again.key_id == first.key_id and b"PRIVATE KEY" in path.read_bytes()


def test_the_key_itself_and_retired_keys_are_published_but_never_the_private_key():
    old = seals.Keyring.generate()
    ring = load_keyring(Settings(seal_private_key="22" * 32,
                                 seal_retired_public_keys=[old.published()[0]["public_key"]]))
    assert ring.key_id == load_keyring(Settings(seal_private_key="22" * 32)).key_id
    published = ring.published()
    assert [e["current"] for e in published] == [True, False] and published[1]["key_id"] == old.key_id
    assert "PRIVATE" not in json.dumps(published)
    signed = old.signed({"kind": "x", "n": 1})
    assert ring.verifier().check(signed["statement"], signed["key_id"], signed["signature"]) is None
    assert ring.verifier().check({"kind": "x", "n": 2}, signed["key_id"], signed["signature"])


def test_no_key_setting_gives_an_ephemeral_key():
    ring = load_keyring(Settings())
    assert ring.ephemeral and ring.key_id != load_keyring(Settings()).key_id
    with pytest.raises(ValueError):
        seals.load_private("not a key")


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_the_key_export_and_the_verifier_on_bad_input(tmp_path):
    key = tmp_path / "seal.pem"
    ring = load_keyring(Settings(seal_key_file=key))
    out = tmp_path / "keys.json"
    p = _run("fengqiao_mediation.seal_export", "keys", "--out", str(out), env={"MEDIATION_SEAL_KEY_FILE": str(key)})
    assert p.returncode == 0, p.stderr
    assert [e["key_id"] for e in json.loads(out.read_text())["keys"]] == [ring.key_id]
    p = _run("fengqiao_mediation.seal_export", "keys", env={"MEDIATION_SEAL_KEY_FILE": "",
                                                          "MEDIATION_SEAL_PRIVATE_KEY": ""})
    assert p.returncode == 2 and "ephemeral" in p.stderr
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.4 nothing attached")
    p = _run("fengqiao_mediation.verify", str(tmp_path / "junk.pdf"), "--keys", str(out))
    assert p.returncode == 2 and "no record bundle" in p.stderr
    (tmp_path / "other.json").write_text(json.dumps({"format": "something/else", "mediation_id": "x"}))
    p = _run("fengqiao_mediation.verify", str(tmp_path / "other.json"), "--keys", str(out))
    assert p.returncode == 1 and "unknown bundle format" in p.stdout
