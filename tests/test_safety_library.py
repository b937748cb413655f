"""``run_checks`` and the claims' ``run`` from Python (audit of issue 16, branch fix16)."""

from __future__ import annotations

import inspect
import json
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from dsb_verifier.checks import runner
from dsb_verifier.checks.cli.publish import OutputLock, PublishError
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Counterexample, Status, Verdict


def _verdict(claim: str, status: Status, seed: object) -> Verdict:
    ce = (Counterexample("x", {}, 1.0),) if status is Status.FAILS else ()
    return Verdict(claim, "statement", status, {"seed": seed}, {}, {}, counterexamples=ce)


@pytest.fixture
def fake_c1(monkeypatch):
    """C1 replaced by a module whose figures() records what it sees of ``out``; returns the record."""
    seen: dict[str, object] = {}
    mod = types.ModuleType("fake_c1_figures")

    def run(profile, seed):
        seen["seed"] = seed
        return ClaimReport(
            _verdict("C1", Status.HOLDS, seed),
            (ControlResult("C1", "ctl", "d", _verdict("C1", Status.FAILS, seed)),),
        )

    def figures(rep, fig_dir):
        seen["fig_dir"] = Path(fig_dir)
        p = Path(fig_dir) / f"c1_seed{seen['seed']}.png"
        p.write_bytes(b"png")
        out = Path(str(seen["out"]))
        seen["during"] = sorted(os.listdir(out)) if out.exists() else None
        return [str(p)]

    mod.run, mod.figures = run, figures  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_c1_figures", mod)
    monkeypatch.setitem(runner.CLAIM_MODULES, "C1", "fake_c1_figures")
    return seen


def test_run_checks_publishes_out_dir_as_a_whole_under_its_lock(tmp_path, fake_c1):
    """A seed-1 run into a seed-0 report folder no longer leaves seed-1 figures beside report.json."""
    out = tmp_path / "rep"
    (out / "figures").mkdir(parents=True)
    (out / "report.json").write_text('{"seed": 0}')
    (out / "figures" / "c1_seed0.png").write_bytes(b"old")
    fake_c1["out"] = out
    rep = runner.run_checks(get_profile("quick"), 1, ["C1"], out_dir=out)
    assert rep.claims[0].verdict.figures == ("figures/c1_seed1.png",)
    assert fake_c1["fig_dir"] != out / "figures"  # drawn in a staging folder ...
    assert fake_c1["during"] == ["figures", "report.json"]  # ... while out was untouched
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["figures", "figures/c1_seed1.png"]
    assert sorted(os.listdir(tmp_path)) == ["rep"]  # no staging folder, no lock file left


def test_run_checks_refuses_a_locked_or_foreign_out_dir_before_computing(tmp_path, fake_c1):
    out = tmp_path / "rep"
    with OutputLock(out, "output directory"), pytest.raises(PublishError, match="is in use by another"):
        runner.run_checks(get_profile("quick"), 0, ["C1"], out_dir=out)
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match=r"it holds 'thesis\.tex', which is not part of a dsb-verify report"):
        runner.run_checks(get_profile("quick"), 0, ["C1"], out_dir=str(out))
    assert "seed" not in fake_c1 and os.listdir(out) == ["thesis.tex"]


def test_run_checks_accepts_numpy_integer_seeds_as_int(fake_c1):
    rep = runner.run_checks(get_profile("quick"), np.int64(1), ["C1"])
    assert type(fake_c1["seed"]) is int and fake_c1["seed"] == 1
    assert rep.provenance["seed"] == 1 and type(rep.provenance["seed"]) is int
    json.dumps(rep.to_json())
    for bad in (True, np.bool_(True), 1.0, -1, np.int64(-1)):
        with pytest.raises(ValueError, match="seed must be an integer"):
            runner.run_checks(get_profile("quick"), bad, ["C1"])


def test_a_claims_run_accepts_a_numpy_integer_seed():
    from dsb_verifier.checks.claims import c1_bijection

    rep = c1_bijection.run(get_profile("quick"), np.int64(1))
    doc = runner.Report(claims=(rep,), provenance={}, wall_seconds=0.0).to_json()
    json.dumps(doc, allow_nan=False)


@pytest.mark.parametrize("claim", ["C1", "C2", "C3", "C4", "C5", "C6"])
def test_every_claims_run_converts_its_seed(claim):
    """Each run() takes the int that check_run_arguments returns (np.int64 would break serialising)."""
    source = inspect.getsource(runner._module(claim).run)
    assert "seed = check_run_arguments(profile, seed," in source
