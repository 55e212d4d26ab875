"""``fengqiao-verify-record`` (``python -m fengqiao_mediation.verify``): check an exported record bundle or an
agreement PDF against the published seal keys and daily statements, with no access to our database.

    fengqiao-verify-record BUNDLE.json|AGREEMENT.pdf --keys SEAL-KEYS.json [--statement DAY.json ...] [--json]

``--keys``: the published keys (``GET /api/v1/mediation/seal-keys`` or ``fengqiao-mediation-seal keys``), a
list of such entries, or a PEM public key. ``--statement``: signed daily statements received separately (the
court keeps the ones sent with each application); they are checked beside those inside the bundle.
Exit status: 0 valid, 1 not valid, 2 unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .domain.bundle import bundle_from_pdf, verify_bundle
from .domain.seals import PublishedKeys, load_public, public_entry


def load_keys(path: Path) -> PublishedKeys:
    text = path.read_text()
    if text.lstrip().startswith("-----BEGIN"):
        return PublishedKeys.from_entries([public_entry(load_public(text), current=True)])
    data = json.loads(text)
    entries = data["keys"] if isinstance(data, dict) else data
    return PublishedKeys.from_entries(entries)


def load_bundle(path: Path) -> dict:
    raw = path.read_bytes()
    if raw.startswith(b"%PDF"):
        found = bundle_from_pdf(raw)
        if found is None:
            raise ValueError(f"{path}: no record bundle attached to this PDF")
        return found
    return json.loads(raw)


def _print_report(report: dict, out) -> None:
    ok = "valid / 校验通过" if report["valid"] else "NOT VALID / 校验未通过"
    print(f"mediation {report.get('mediation_id')}: {ok}", file=out)
    for r in report.get("records", []):
        mark = "ok" if r["valid"] else "FAIL"
        print(f"  record #{r['seq']} (chain {r['chain_index']}) {r['session_id']}: {mark}", file=out)
        for p in r["problems"]:
            print(f"    - {p}", file=out)
    for s in report.get("statements", []):
        print(f"  daily statement {s['day']} ({s['key_id']}): {'ok' if s['valid'] else 'FAIL'}", file=out)
        if s["problem"]:
            print(f"    - {s['problem']}", file=out)
    agr = report.get("agreement")
    if agr:
        print(f"  agreement {agr['agreement_id']}: {'ok' if agr['valid'] else 'FAIL'}", file=out)
        for i, p in enumerate(agr.get("points") or [], 1):
            print(f"    {i}. {p}", file=out)
        for p in agr["problems"]:
            print(f"    - {p}", file=out)
    if report.get("head"):
        print(f"  chain head: {report['head']}", file=out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fengqiao-verify-record", description=__doc__.split("\n\n")[0])
    ap.add_argument("file", type=Path, help="a record bundle (JSON) or an agreement PDF")
    ap.add_argument("--keys", type=Path, required=True, help="the published seal keys (JSON) or a PEM public key")
    ap.add_argument("--statement", type=Path, action="append", default=[], help="a signed daily statement (JSON)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    try:
        keys = load_keys(args.keys)
        bundle = load_bundle(args.file)
        extra = [json.loads(p.read_text()) for p in args.statement]
    except (OSError, ValueError, KeyError) as exc:
        print(f"fengqiao-verify-record: {exc}", file=sys.stderr)
        return 2
    try:
        report = verify_bundle(bundle, keys, extra)
    except (KeyError, TypeError, ValueError) as exc:
        report = {"valid": False, "mediation_id": bundle.get("mediation_id") if isinstance(bundle, dict) else None,
                  "problems": [f"malformed bundle: {exc!r}"], "records": []}
    if args.json:
        json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        _print_report(report, sys.stdout)
        for p in report["problems"] if not report.get("records") else []:
            print(f"  - {p}")
    return 0 if report["valid"] else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
