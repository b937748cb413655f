"""The claim checks C3 (two kinds of fixed points) and C6 (saddles) on a profile smaller than quick."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims import c3_fixed_points, c6_saddles
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import ClaimReport, Status

#: Smaller than ``quick``: one initialisation per pair, a shorter horizon.
TINY = dataclasses.replace(get_profile("quick"), name="tiny", n_inits=1, t_max=3e3)

ALLOWED = {Status.HOLDS, Status.FAILS, Status.HOLDS_UNDER_CONDITIONS, Status.INCONCLUSIVE}

MODULES = {"C3": c3_fixed_points, "C6": c6_saddles}

EVIDENCE_KEYS = {
    "C3": {"headline", "per_family", "existence", "implication_full_rank", "constructions", "points"},
    "C6": {"headline", "reading_primary", "reading_alternative", "spurious_points", "flow_end_histogram"},
}


@pytest.fixture(scope="module", params=["C3", "C6"])
def claim_report(request) -> tuple[str, ClaimReport]:
    return request.param, MODULES[request.param].run(TINY, 0)


def test_status_and_evidence(claim_report):
    claim, rep = claim_report
    v = rep.verdict
    assert v.claim == claim
    assert v.status in ALLOWED
    assert EVIDENCE_KEYS[claim] <= set(v.evidence)
    assert isinstance(v.evidence["headline"], str) and v.evidence["headline"]
    assert set(v.tolerances) == set(MODULES[claim].TOLERANCES)
    if v.status in (Status.FAILS, Status.HOLDS_UNDER_CONDITIONS):
        assert v.counterexamples
    assert rep.seconds > 0


def test_every_negative_control_is_caught(claim_report):
    claim, rep = claim_report
    assert len(rep.controls) >= 1
    assert all(c.claim == claim for c in rep.controls)
    assert all(c.caught for c in rep.controls), [
        (c.name, c.observed, c.verdict.evidence["headline"]) for c in rep.controls
    ]
    assert all(c.verdict.counterexamples for c in rep.controls)


def test_report_is_plain_json(claim_report):
    _, rep = claim_report
    doc = {"verdict": rep.verdict.to_json(), "controls": [c.to_json() for c in rep.controls]}
    json.loads(json.dumps(doc, allow_nan=False))


def test_figures_are_written(claim_report, tmp_path):
    claim, rep = claim_report
    paths = MODULES[claim].figures(rep, tmp_path)
    assert len(paths) == 2
    for p in paths:
        with open(p, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_report(claim_report):
    claim, first = claim_report
    again = MODULES[claim].run(TINY, 0)
    assert again.verdict.to_json() == first.verdict.to_json()
    assert [c.to_json() for c in again.controls] == [c.to_json() for c in first.controls]


def test_c6_control_hessian_is_the_gauss_newton_matrix_not_the_exact_hessian():
    """The C6 control drops the residual term: ``-A^T F A``, unlike the Hessian away from the data."""
    from dsb_verifier.theory.likelihood import exact_hessian, gauss_newton
    from dsb_verifier.theory.models import RBM

    model = RBM(3, 2, hidden="spin")
    theta = model.init(np.random.default_rng(0), 0.5)
    q = T.dirichlet_target(3, np.random.default_rng(1))
    H_gn = c6_saddles._gauss_newton_hessian(model, theta, q)
    np.testing.assert_array_equal(H_gn, gauss_newton(model, theta))
    assert np.max(np.abs(H_gn - exact_hessian(model, theta, q))) > 1e-3
