"""Same seed and profile give the same report.json apart from timing fields (whole run).

The C1 entry of a full run equals that of ``--claims C1``, and a run on a process pool
(``--workers 2``) equals the serial one: each case is drawn from its own seeded stream.
"""

import json
import subprocess
import sys

import pytest


def _doc(tmp_path, name, *args):
    out = tmp_path / name
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dsb_verifier.checks.cli.main",
            "run",
            "--seed",
            "11",
            "--out",
            str(out),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "report.json").read_text())
    doc["provenance"].pop("wall_seconds")
    for claim in doc["claims"]:
        claim.pop("seconds")
    return doc


def _report(tmp_path, name, *args):
    return json.dumps(_doc(tmp_path, name, *args), sort_keys=True)


@pytest.mark.slow
def test_full_quick_run_is_deterministic(tmp_path):
    assert _report(tmp_path, "a") == _report(tmp_path, "b")


@pytest.mark.slow
def test_claim_entries_do_not_depend_on_the_subset_or_the_pool(tmp_path):
    full = _doc(tmp_path, "full")
    alone = _doc(tmp_path, "c1", "--claims", "C1")
    pooled = _doc(tmp_path, "pool", "--workers", "2")
    assert alone["claims"][0] == full["claims"][0] and alone["claims"][0]["id"] == "C1"
    assert [c for c in alone["controls"] if c["claim"] == "C1"] == [
        c for c in full["controls"] if c["claim"] == "C1"
    ]
    assert pooled["claims"] == full["claims"] and pooled["controls"] == full["controls"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c1", "full", "pool"]  # no .hypothesis/
