"""Same seed and profile give the same report.json apart from timing fields (whole run)."""

import json
import subprocess
import sys

import pytest


def _report(tmp_path, name):
    out = tmp_path / name
    proc = subprocess.run(
        [sys.executable, "-m", "dsb_verifier.checks.cli.main", "run", "--seed", "11", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "report.json").read_text())
    doc["provenance"].pop("wall_seconds")
    for claim in doc["claims"]:
        claim.pop("seconds")
    return json.dumps(doc, sort_keys=True)


@pytest.mark.slow
def test_full_quick_run_is_deterministic(tmp_path):
    assert _report(tmp_path, "a") == _report(tmp_path, "b")
