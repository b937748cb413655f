"""Tests of the C5 check (hierarchy): protocol, evidence layout, control, determinism, figures."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims import c5_hierarchy as c5
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import ClaimReport, Status
from dsb_verifier.theory.models import DirectModel

#: The smallest profile that still spans two decades of initialisation scales.
TINY = dataclasses.replace(get_profile("quick"), n_inits=1, init_scales=(0.01, 1.0), t_max=5e3)

ROW_KEYS = {"family", "init_scale", "reading", "tau", "kendall_tau", "monotone_fraction", "n_runs"}


@pytest.fixture(scope="module")
def report() -> ClaimReport:
    return c5.run(TINY, 0)


def test_status_and_protocol(report):
    assert isinstance(report, ClaimReport)
    v = report.verdict
    assert v.claim == "C5" and v.statement == c5.STATEMENT
    assert v.status in {Status.HOLDS, Status.FAILS, Status.HOLDS_UNDER_CONDITIONS, Status.INCONCLUSIVE}
    if v.status in (Status.FAILS, Status.HOLDS_UNDER_CONDITIONS):
        assert v.counterexamples
    assert isinstance(v.evidence["headline"], str) and v.evidence["headline"]


def test_rows_cover_family_scale_reading_tau(report):
    rows = report.verdict.evidence["rows"]
    assert rows and all(ROW_KEYS <= set(r) for r in rows)
    families = {r["family"] for r in rows}
    assert "direct" in families  # the required A = I row
    assert families & {"rbm-spin", "rbm-bit", "tanh-1"}  # at least one neural family
    keys = {(r["family"], r["init_scale"], r["reading"], r["tau"]) for r in rows}
    assert len(keys) == len(rows)
    expected = {
        (f, s, rd, t) for f in families for s in TINY.init_scales for rd in ("a", "b", "c") for t in TINY.taus
    }
    assert keys == expected
    for r in rows:
        assert r["n_runs"] == TINY.n_inits
        assert r["kendall_tau"] == "nan" or -1.0 <= r["kendall_tau"] <= 1.0


def test_kernel_slopes_reported_per_family_and_order(report):
    slopes = report.verdict.evidence["kernel_slopes"]
    assert "direct" in slopes and any(f in slopes for f in ("rbm-spin", "tanh-1"))
    assert all(abs(v) < 1e-8 for v in slopes["direct"].values())
    rbm = [slopes["rbm-spin"][str(k)] for k in range(1, 5)]
    assert all(b >= a - 0.25 for a, b in itertools.pairwise(rbm)) and rbm[-1] > rbm[0] + 1


def test_every_negative_control_is_caught(report):
    assert report.controls
    for control in report.controls:
        assert control.caught, (control.name, control.observed, control.verdict.evidence["headline"])
        assert control.verdict.counterexamples


def test_json_serialisable_and_figure_data_is_small(report):
    doc = report.verdict.to_json()
    text = json.dumps(doc, allow_nan=False)
    assert len(text) < 2_000_000
    for curve in doc["evidence"]["curves"]:
        assert len(curve["t"]) <= 60
    for control in report.controls:
        json.dumps(control.to_json(), allow_nan=False)


def test_deterministic_for_a_seed(report):
    again = c5.run(TINY, 0)
    assert json.dumps(again.verdict.to_json()) == json.dumps(report.verdict.to_json())


def test_figures_are_written(report, tmp_path):
    paths = c5.figures(report, tmp_path)
    assert len(paths) == 4
    for p in paths:
        with open(p, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


# ---- the control parameterisations --------------------------------------------------------------
def test_high_orders_only_model_has_identity_rows_above_min_order():
    m = c5.HighOrdersOnly(4, 3)
    assert m.n_params == 5
    A = m.jacobian(m.init(np.random.default_rng(0), 0.1))
    k = T.orders(4)[1:]
    np.testing.assert_array_equal(A[k < 3], 0.0)
    np.testing.assert_array_equal(A[k >= 3] @ A[k >= 3].T, np.eye(5))
    with pytest.raises(ValueError, match=r"min_order must be an integer in \[2, N\]"):
        c5.HighOrdersOnly(4, 1)


def test_high_order_gain_amplifies_high_orders_from_the_direct_models_start():
    N, g = 3, 3.0
    m = c5.HighOrderGain(N, g)
    theta = m.init(np.random.default_rng(1), 0.1)
    direct = DirectModel(N)
    J_direct = direct.couplings(direct.init(np.random.default_rng(1), 0.1))
    np.testing.assert_allclose(m.couplings(theta), J_direct, atol=1e-15)
    gains = g ** T.orders(N)[1:].astype(float)
    np.testing.assert_allclose(m.jacobian(theta), np.diag(gains), atol=1e-14)
    # weighted gradient sum_x w(x) d(-E)/dtheta = A^T (WHT of w): the gain multiplies order k by g^k
    w = np.random.default_rng(2).standard_normal(2**N)
    np.testing.assert_allclose(
        m.weighted_grad(theta, w), gains * direct.weighted_grad(np.zeros(2**N - 1), w), rtol=1e-13
    )
    with pytest.raises(ValueError, match="gain must be a positive finite number"):
        c5.HighOrderGain(N, 0.0)


def test_evaluate_refuses_no_runs():
    with pytest.raises(ValueError, match="evaluate needs at least one flow run"):
        c5.evaluate([], taus=(0.1,), seed=0, conditions={})


def test_user_target_joins_the_experiment(monkeypatch):
    q = T.ising_target(3, {1: 0.4, 2: 0.4, 3: 0.4}, np.random.default_rng(9))
    rep = c5.run(TINY, 0, target=q)
    cond = rep.verdict.conditions
    assert cond["user_target"] == {"N": 3, "used": True}
    assert {"N": 3, "user_data": True} in cond["targets"]
    assert all(r["n_runs"] == 2 * TINY.n_inits for r in rep.verdict.evidence["rows"])
    monkeypatch.setattr(c5, "MAX_N_USER", 2)
    rep = c5.run(TINY, 0, target=q)
    assert rep.verdict.conditions["user_target"]["used"] is False
    assert all(r["n_runs"] == TINY.n_inits for r in rep.verdict.evidence["rows"])


def test_flows_runs_family_target_init_scale_in_order_from_the_seeded_starts():
    """:func:`dsb_verifier.checks.claims.c5_hierarchy.flows` (public, for notebooks): order, starts, executor-independence."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(4)
    targets = [T.dirichlet_target(2, rng) for _ in range(2)]
    families = [("direct", DirectModel), ("gain", lambda N: c5.HighOrderGain(N, 3.0))]
    scales, n_inits = (0.01, 0.5), 2
    runs = c5.flows(families, targets, scales, n_inits, seed=5, t_max=5.0)
    expected = [
        (f, i, j, s) for (f, _), i, j, s in itertools.product(families, range(2), range(n_inits), scales)
    ]
    assert [(r.family, r.target, r.init, r.init_scale) for r in runs] == expected
    for r in runs:
        assert r.N == 2 and r.q is targets[r.target]
        model = DirectModel(2) if r.family == "direct" else c5.HighOrderGain(2, 3.0)
        start = model.init(c5.seeded_rng(5, "c5-init", 2, r.target, r.init), r.init_scale)
        np.testing.assert_array_equal(r.trajectory.theta[0], start)
        assert r.trajectory.t[-1] <= 5.0
    # the gain model starts from the same couplings as the direct one (its documented design)
    half = len(runs) // 2
    for d, g in zip(runs[:half], runs[half:], strict=True):
        Jd = DirectModel(2).couplings(d.trajectory.theta[0])
        Jg = c5.HighOrderGain(2, 3.0).couplings(g.trajectory.theta[0])
        np.testing.assert_allclose(Jg, Jd, rtol=1e-14, atol=1e-17)
    with ThreadPoolExecutor(2) as pool:
        again = c5.flows(families, targets, scales, n_inits, seed=5, t_max=5.0, executor=pool)
    for a, b in zip(runs, again, strict=True):
        np.testing.assert_array_equal(a.trajectory.theta, b.trajectory.theta)
    other = c5.flows(families[:1], targets[:1], scales[:1], 1, seed=6, t_max=5.0)
    assert not np.array_equal(other[0].trajectory.theta[0], runs[0].trajectory.theta[0])
