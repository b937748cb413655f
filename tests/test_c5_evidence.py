"""C5 (hierarchy) evidence, pinned against independent computations on hand-built or tiny inputs.

What this pins, beyond tests/test_c5.py and the C5 part of tests/test_claim_evidence.py:

* :func:`~dsb_verifier.checks.claims.c5_hierarchy.evaluate` fed settle times through its ``executor`` (any object with
  ``map``): the complete evidence layout, every cell (status per tau rows, the ``small_init``
  boundary ``sigma <= 0.1``), the status logic of the module docstring (holds / fails / under
  conditions / inconclusive), whole counterexample texts, their order and the caps at 20;
* the per-family settle summary (reading (a), smallest tau, smallest sigma, quartiles of the
  settled runs) and the row medians, against numpy on the same numbers;
* a real N = 2 flow: settle times are those of :func:`dsb_verifier.theory.dynamics.hierarchy.trajectory_settle_times`,
  the figure curves those of :func:`dsb_verifier.theory.walsh.order_norms`, only for the first target and seed;
* the kernel mechanism at its two thresholds (step ``>= -0.25``, spread ``>= 1``);
* :func:`~dsb_verifier.checks.claims.c5_hierarchy.run`: the complete conditions, the control's and the diagnostic's;
  the seeded targets, the models' widths, the families per profile, the flow integration settings;
* the control parameterisations' argument checks, with their whole messages.
"""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.stats
from dsb_verifier import theory as T
from dsb_verifier.checks.claims import c5_hierarchy as c5
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import Status
from dsb_verifier.theory.dynamics.flow import integrate_flow
from dsb_verifier.theory.dynamics.hierarchy import (
    SETTLE_FLOOR_REL,
    KernelScaling,
    kernel_scaling,
    trajectory_settle_times,
)
from dsb_verifier.theory.maxent import MaxEntConvergenceError
from dsb_verifier.theory.models import RBM, DirectModel, TanhNetwork
from dsb_verifier.theory.walsh import order_norms

NAN = float("nan")
INF = float("inf")
UP = np.array([NAN, 1.0, 10.0, 100.0, 1000.0])  # t_k grows with k: Kendall 1, monotone
DOWN = UP[[0, 4, 3, 2, 1]]  # reversed: Kendall -1, not monotone
FLAT = np.array([NAN, 5.0, 5.0, 5.0, 5.0])  # simultaneous: Kendall 0, monotone, no hierarchy
SWAP = np.array([NAN, 1.0, 100.0, 10.0, 1000.0])  # one swap: Kendall 2/3, not monotone
ONE_ORDER = np.array([NAN, NAN, NAN, 5.0, NAN])  # a single defined order: not ranked
PATTERNS = {"UP": UP, "DOWN": DOWN, "FLAT": FLAT, "SWAP": SWAP, "ONE": ONE_ORDER}


def _kendall(st):
    ok = ~np.isnan(st[1:])
    return float(scipy.stats.kendalltau(np.arange(1, st.size)[ok], st[1:][ok]).statistic)


class _Settled:
    """An executor for :func:`dsb_verifier.checks.claims.c5_hierarchy.evaluate` that hands back prepared settle times.

    ``table[(family, init_scale, init, reading)]`` is a list of per-tau arrays (or one array for
    every tau); ``errors`` maps the same keys to an error text (the settle times are then NaN).
    """

    def __init__(self, table, errors=None):
        self.table, self.errors, self.tasks = table, errors or {}, []

    def map(self, fn, tasks):
        out = []
        for run, reading, taus in tasks:
            self.tasks.append((run.family, run.init_scale, run.init, reading, taus))
            key = (run.family, run.init_scale, run.init, reading)
            if key in self.errors:
                out.append((np.full((len(taus), run.N + 1), np.nan), self.errors[key]))
                continue
            per_tau = self.table[key]
            per_tau = per_tau if isinstance(per_tau, list) else [per_tau] * len(taus)
            out.append((np.stack([np.asarray(x, dtype=np.float64) for x in per_tau]), None))
        return iter(out)


def _fake_run(family, sigma, init, N=4, status="converged"):
    """A flow of the second target (so that the figure curves, which need a trajectory, skip it)."""
    return c5.FlowRun(family, N, 1, sigma, init, np.full(2**N, 2.0**-N), SimpleNamespace(status=status))


def _evaluate(patterns, taus=(0.1,), n_inits=2, **kwargs):
    """``patterns[(family, sigma, reading)]``: a pattern name per tau, the same for every run."""
    runs, table = [], {}
    for family, sigma in dict.fromkeys((f, s) for f, s, _ in patterns):
        for j in range(n_inits):
            runs.append(_fake_run(family, sigma, j))
            for rd in "abc":
                names = patterns.get((family, sigma, rd), "ONE").split()
                names = names * len(taus) if len(names) == 1 else names
                table[(family, sigma, j, rd)] = [PATTERNS[n] for n in names]
    ex = _Settled(table)
    return c5.evaluate(runs, taus=taus, seed=kwargs.pop("seed", 11), conditions={}, executor=ex, **kwargs)


def _kernel(slopes):
    n = len(slopes)
    norms = np.arange(2 * (n + 1), dtype=float).reshape(2, n + 1) + 1.0
    return KernelScaling(
        scales=[0.01, 0.1], norms=norms, slopes=[NAN, *slopes], window=(0.01, 0.1), n_seeds=3
    )


# ---- evaluate: cells, status, counterexamples, evidence layout ----------------------------------
@pytest.fixture(scope="module")
def mixed():
    patterns = {
        ("direct", 0.01, "a"): "UP",
        ("direct", 0.01, "b"): "UP DOWN",  # one tau row fails: the cell fails
        ("direct", 0.01, "c"): "UP ONE",  # one tau row undecided, none fails: inconclusive
        ("direct", 0.1, "a"): "UP",  # sigma = small_init_max: still decisive
        ("direct", 0.1, "b"): "SWAP",  # Kendall 2/3 >= 0.6 but monotone fraction 0 < 0.5: fails
        ("direct", 0.1, "c"): "FLAT",  # Kendall 0: fails
        ("direct", 1.0, "a"): "DOWN",  # large sigma: reported, not decisive
        ("direct", 1.0, "b"): "UP",
    }
    kernels = {"direct": _kernel([0.0, 0.0, 0.0, 0.0]), "rbm-spin": _kernel([2.0, 4.0, 6.0, 8.0])}
    extra = {"reversed_kernel_diagnostic": {"model": "m"}}
    taus = (0.1, 0.01)
    v = _evaluate(
        patterns, taus=taus, kernels=kernels, mechanism_families=["rbm-spin", "tanh-1"], extra_evidence=extra
    )
    return v, kernels


def test_c5_evaluate_cells_follow_their_tau_rows_and_the_small_init_boundary(mixed):
    v, _ = mixed
    cells = {(c["family"], c["init_scale"], c["reading"]): c for c in v.evidence["cells"]}
    expected = {
        ("direct", 0.01, "a"): ("holds", True, 1.0, 1.0),
        ("direct", 0.01, "b"): ("fails", True, -1.0, 0.0),
        ("direct", 0.01, "c"): ("inconclusive", True, 1.0, 1.0),
        ("direct", 0.1, "a"): ("holds", True, 1.0, 1.0),
        ("direct", 0.1, "b"): ("fails", True, _kendall(SWAP), 0.0),
        ("direct", 0.1, "c"): ("fails", True, 0.0, 1.0),
        ("direct", 1.0, "a"): ("fails", False, -1.0, 0.0),
        ("direct", 1.0, "b"): ("holds", False, 1.0, 1.0),
        ("direct", 1.0, "c"): ("inconclusive", False, "nan", "nan"),
    }
    assert list(cells) == list(expected)  # grouped by (family, sigma) in run order, readings a, b, c
    for key, (status, small, kmin, mmin) in expected.items():
        family, sigma, reading = key
        assert cells[key] == {
            "family": family,
            "init_scale": sigma,
            "reading": reading,
            "status": status,
            "small_init": small,
            "min_kendall_over_tau": pytest.approx(kmin) if kmin != "nan" else "nan",
            "min_monotone_fraction_over_tau": mmin,
        }, key
    assert _kendall(SWAP) == pytest.approx(2 / 3)


def test_c5_evaluate_rows_one_per_family_sigma_reading_tau(mixed):
    v, _ = mixed
    rows = v.evidence["rows"]
    keys = [(r["family"], r["init_scale"], r["reading"], r["tau"]) for r in rows]
    assert keys == [("direct", s, rd, t) for s in (0.01, 0.1, 1.0) for rd in "abc" for t in (0.1, 0.01)]
    by_key = dict(zip(keys, rows, strict=True))
    assert by_key[("direct", 0.01, "b", 0.1)]["supports"] is True
    assert by_key[("direct", 0.01, "b", 0.01)]["supports"] is False
    assert by_key[("direct", 0.01, "c", 0.01)]["supports"] is None
    assert by_key[("direct", 0.1, "b", 0.1)]["kendall_tau"] == pytest.approx(2 / 3)
    assert by_key[("direct", 0.1, "b", 0.1)]["monotone_fraction"] == 0.0
    assert all(r["n_runs"] == 2 and r["n_failed_flows"] == 0 for r in rows)


def test_c5_evaluate_status_holds_for_fails_for_and_counterexamples(mixed):
    v, _ = mixed
    ev = v.evidence
    assert v.status is Status.HOLDS_UNDER_CONDITIONS
    assert ev["holds_for"] == [
        "direct sigma=0.01 reading=a",
        "direct sigma=0.1 reading=a",
        "rbm-spin kernel mechanism",
    ]
    assert ev["fails_for"] == [
        "direct sigma=0.01 reading=b",
        "direct sigma=0.1 reading=b",
        "direct sigma=0.1 reading=c",
    ]
    assert (ev["n_decisive_cells"], ev["n_inconclusive_decisive_cells"]) == (6, 1)
    xs = v.counterexamples
    assert [dict(x.case) for x in xs] == [
        {"family": "direct", "init_scale": 0.01, "reading": "b"},
        {"family": "direct", "init_scale": 0.1, "reading": "c"},
        {"family": "direct", "init_scale": 0.1, "reading": "b"},
    ]  # sorted by value, the smallest Kendall first
    assert [x.value for x in xs] == pytest.approx([-1.0, 0.0, 2 / 3])
    assert all(x.seed == 11 for x in xs)
    assert xs[0].description == (
        "no hierarchy for direct sigma=0.01 reading=b: over tau, mean Kendall down to -1.00 "
        "(need >= 0.6) and monotone fraction down to 0.00 (need >= 0.5)"
    )
    assert xs[2].description == (
        "no hierarchy for direct sigma=0.1 reading=b: over tau, mean Kendall down to 0.67 "
        "(need >= 0.6) and monotone fraction down to 0.00 (need >= 0.5)"
    )


def test_c5_evaluate_evidence_layout_and_kernel_entries(mixed):
    v, kernels = mixed
    ev = v.evidence
    assert set(ev) == {
        "headline",
        "rows",
        "cells",
        "holds_for",
        "fails_for",
        "n_decisive_cells",
        "n_inconclusive_decisive_cells",
        "n_flows",
        "n_failed_flows",
        "n_flows_at_t_max",
        "unranked_runs",
        "n_unranked_run_readings",
        "kernel_slopes",
        "kernel_mechanism",
        "kernel_window",
        "kernel_norms",
        "settle_summary",
        "curves",
        "reversed_kernel_diagnostic",
    }
    assert ev["headline"] == (
        "sigma <= 0.1: holds direct(a); fails direct(b,c); "
        "kernel exponents grow with k for 1/1 neural families"
    )
    assert ev["reversed_kernel_diagnostic"] == {"model": "m"}
    assert (ev["n_flows"], ev["n_failed_flows"], ev["n_flows_at_t_max"]) == (6, 0, 0)
    assert ev["unranked_runs"] == [] and ev["n_unranked_run_readings"] == 0
    assert ev["curves"] == []  # no run of the first target
    assert ev["kernel_window"] == [1e-3, 3e-2]
    assert ev["kernel_slopes"] == {
        "direct": {"1": 0.0, "2": 0.0, "3": 0.0, "4": 0.0},
        "rbm-spin": {"1": 2.0, "2": 4.0, "3": 6.0, "4": 8.0},
    }
    assert ev["kernel_mechanism"]["rbm-spin"] == {
        "slopes": {"1": 2.0, "2": 4.0, "3": 6.0, "4": 8.0},
        "non_decreasing": True,
        "strictly_increasing": True,
        "spread": 6.0,
        "holds": True,
    }
    assert ev["kernel_mechanism"]["direct"]["holds"] is False  # reported, not decided (not neural)
    for f, ks in kernels.items():
        assert ev["kernel_norms"][f] == {
            "scales": [0.01, 0.1],
            "norms": np.asarray(ks.norms)[:, 1:].tolist(),
            "n_seeds": 3,
        }
    assert v.claim == "C5" and v.statement == c5.STATEMENT and v.tolerances == c5.TOLERANCES


@pytest.mark.parametrize(
    ("patterns", "slopes", "status"),
    [
        (
            {("direct", 0.01, "a"): "UP", ("direct", 0.01, "b"): "UP", ("direct", 0.01, "c"): "UP"},
            None,
            "holds",
        ),
        ({("direct", 0.01, "a"): "DOWN", ("direct", 0.03, "b"): "FLAT"}, None, "fails"),
        ({("direct", 0.01, "a"): "UP", ("direct", 0.01, "b"): "DOWN"}, None, "holds-under-conditions"),
        ({("direct", 0.01, "a"): "UP"}, None, "inconclusive"),  # b, c undecided, nothing fails
        ({("direct", 0.01, "a"): "ONE", ("direct", 1.0, "a"): "UP"}, None, "inconclusive"),  # nothing
        ({("direct", 0.01, "a"): "ONE", ("direct", 1.0, "a"): "DOWN"}, None, "inconclusive"),
        ({("direct", 0.01, "a"): "DOWN"}, [2.0, 1.0], "fails"),  # undecided cells, every decided fails
        ({("direct", 0.01, "a"): "DOWN"}, [1.0, 2.0], "holds-under-conditions"),
        ({("direct", 0.01, "a"): "ONE"}, [1.0, 2.0], "inconclusive"),  # holds, but undecided cells
        ({("direct", 0.01, "a"): "ONE"}, [2.0, 1.0], "fails"),
        ({("direct", 0.01, "a"): "UP"}, [2.0, 1.0], "holds-under-conditions"),
        ({("direct", 0.01, rd): "UP" for rd in "abc"}, [0.0, 1.0], "holds"),
        ({("direct", 0.01, rd): "UP" for rd in "abc"}, [0.0, 0.5], "holds-under-conditions"),
    ],
)
def test_c5_evaluate_status_logic(patterns, slopes, status):
    kw = {}
    if slopes is not None:
        kw = {"kernels": {"rbm-spin": _kernel(slopes)}, "mechanism_families": ("rbm-spin",)}
    v = _evaluate(patterns, **kw)
    assert v.status.value == status


def test_c5_evaluate_mechanism_of_a_family_without_kernel_is_skipped():
    v = _evaluate(
        {("direct", 0.01, "a"): "UP"},
        kernels={"rbm-spin": _kernel([1.0, 0.0])},
        mechanism_families=("tanh-1",),
    )
    assert v.evidence["holds_for"] == ["direct sigma=0.01 reading=a"] and v.evidence["fails_for"] == []
    assert v.counterexamples == ()


def test_c5_evaluate_keeps_the_twenty_worst_counterexamples():
    # 8 failing decisive scales x 3 readings = 24 cells; Kendall -1 (DOWN) at the odd scales, 0 (FLAT) else
    scales = [0.001 * (i + 1) for i in range(8)]
    patterns = {(f"f{i}", s, rd): ("DOWN" if i % 2 else "FLAT") for i, s in enumerate(scales) for rd in "abc"}
    kernels = {"rbm-spin": _kernel([3.0, 0.0])}  # spread -3: the most negative value
    v = _evaluate(patterns, n_inits=1, kernels=kernels, mechanism_families=("rbm-spin",))
    assert v.status is Status.FAILS
    assert len(v.evidence["fails_for"]) == 25
    xs = v.counterexamples
    assert len(xs) == 20
    assert [x.value for x in xs] == [-3.0] + [-1.0] * 12 + [0.0] * 7
    assert dict(xs[0].case) == {"family": "rbm-spin", "kind": "kernel-slopes"}


def test_c5_evaluate_reports_the_first_twenty_unranked_runs_and_counts_all():
    runs = [_fake_run("direct", 0.01, j) for j in range(8)]
    errors = {("direct", 0.01, j, rd): f"reading {rd}: run {j}" for j in range(8) for rd in "abc"}
    runs.append(_fake_run("direct", 0.01, 8, status="t_max"))
    table = {("direct", 0.01, 8, rd): UP for rd in "abc"}
    ex = _Settled(table, errors)
    v = c5.evaluate(runs, taus=[0.5, 0.25], seed=0, conditions={}, executor=ex)
    ev = v.evidence
    assert ev["n_unranked_run_readings"] == 24
    assert (
        ev["unranked_runs"]
        == [
            {
                "family": "direct",
                "init_scale": 0.01,
                "target": 1,
                "init": j,
                "reading": rd,
                "error": f"reading {rd}: run {j}",
            }
            for j in range(8)
            for rd in "abc"
        ][:20]
    )
    assert (ev["n_flows"], ev["n_failed_flows"], ev["n_flows_at_t_max"]) == (9, 0, 1)
    # every (run, reading) is one task with the taus as a tuple of floats
    assert ex.tasks == [("direct", 0.01, j, rd, (0.5, 0.25)) for j in range(9) for rd in "abc"]
    # one ranked run of nine: below the ranked fraction, every row undecided
    assert {r["supports"] for r in ev["rows"]} == {None} and v.status is Status.INCONCLUSIVE


# ---- settle summary and row medians -------------------------------------------------------------
def test_c5_settle_summary_quartiles_reading_a_smallest_tau_and_sigma():
    runs = [
        _fake_run("direct", 0.1, 0),
        _fake_run("direct", 0.01, 0),
        _fake_run("direct", 0.01, 1),
        _fake_run("direct", 0.01, 2, N=3),
        _fake_run("rbm-spin", 0.5, 0, N=2),
    ]
    taus = [0.3, 0.05, 0.1]  # the smallest tau is the second
    ignored = np.array([NAN, 7.0, 7.0, 7.0, 7.0])
    a = {
        0: np.array([NAN, 1.0, 2.0, INF, NAN]),
        1: np.array([NAN, 3.0, 6.0, INF, NAN]),
        2: np.array([NAN, 5.0, NAN, INF]),
    }
    table = {}
    for r in runs:
        for rd in "abc":
            base = a[r.init] if (r.family, r.init_scale, rd) == ("direct", 0.01, "a") else ignored[: r.N + 1]
            table[(r.family, r.init_scale, r.init, rd)] = [ignored[: r.N + 1], base, ignored[: r.N + 1]]
    v = c5.evaluate(runs, taus=taus, seed=0, conditions={}, executor=_Settled(table))
    summary = v.evidence["settle_summary"]
    assert list(summary) == ["direct", "rbm-spin"]
    q1 = np.percentile([1.0, 3.0, 5.0], [25, 50, 75]).tolist()
    q2 = np.percentile([2.0, 6.0], [25, 50, 75]).tolist()
    assert summary["direct"] == {
        "init_scale": 0.01,
        "tau": 0.05,
        "reading": "a",
        "orders": [1, 2, 3, 4],
        "median": [q1[1], q2[1], None, None],
        "q25": [q1[0], q2[0], None, None],
        "q75": [q1[2], q2[2], None, None],
        "n_defined": [3, 2, 3, 0],
        "n_unsettled": [0, 0, 3, 0],
    }
    assert summary["rbm-spin"] == {
        "init_scale": 0.5,
        "tau": 0.05,
        "reading": "a",
        "orders": [1, 2],
        "median": [7.0, 7.0],
        "q25": [7.0, 7.0],
        "q75": [7.0, 7.0],
        "n_defined": [1, 1],
        "n_unsettled": [0, 0],
    }
    (row,) = [
        r
        for r in v.evidence["rows"]
        if (r["family"], r["init_scale"], r["reading"], r["tau"]) == ("direct", 0.01, "a", 0.05)
    ]
    # medians over the runs that define order k (settled or not), orders 1..max N
    assert row["median_t_k"] == [3.0, 4.0, "inf", None]
    assert (row["n_runs"], row["n_ranked"], row["n_runs_unsettled"]) == (3, 3, 3)


def test_c5_row_threshold_boundaries_and_complete_layout():
    # Kendall exactly 0.6 with everything monotone supports; monotone fraction exactly 0.5 supports
    tr = SimpleNamespace(status="converged")
    group = [c5.FlowRun("direct", 4, 0, 0.1, j, np.full(16, 1 / 16), tr) for j in range(5)]
    # mean Kendall of (1, 1, 1, 0, 0) = 0.6; FLAT is monotone (one tie group)
    row = c5._row("direct", 0.1, "c", 0.3, [UP, UP, UP, FLAT, FLAT], group)
    assert row["kendall_tau"] == pytest.approx(0.6) and row["kendall_tau"] >= 0.6
    assert row == {
        "family": "direct",
        "init_scale": 0.1,
        "reading": "c",
        "tau": 0.3,
        "kendall_tau": row["kendall_tau"],
        "monotone_fraction": 1.0,
        "n_runs": 5,
        "n_ranked": 5,
        "n_failed_flows": 0,
        "n_runs_unsettled": 0,
        "median_t_k": [1.0, 10.0, 100.0, 1000.0],
        "supports": True,
        "small_init": True,
    }
    # (1, 1, 1, 1) Kendall 1 but half of the runs monotone, then fewer
    half = c5._row("direct", 0.1, "c", 0.3, [UP, UP, SWAP, SWAP], group[:4])
    assert half["monotone_fraction"] == 0.5 and half["kendall_tau"] > 0.6 and half["supports"] is True
    below = c5._row("direct", 0.1, "c", 0.3, [UP, SWAP, SWAP], group[:3])
    assert below["kendall_tau"] > 0.6 and below["supports"] is False
    above = c5._row("direct", 0.1000001, "a", 0.3, [UP], group[:1])
    assert above["small_init"] is False
    # rows of runs of different sizes: medians over orders 1..max N, each over the runs that have it
    mixed = c5._row("direct", 0.1, "a", 0.3, [np.array([NAN, 2.0, 4.0]), UP], group[:2])
    assert mixed["median_t_k"] == [1.5, 7.0, 100.0, 1000.0]


# ---- a real flow: settle times, curves, onsets ---------------------------------------------------
@pytest.fixture(scope="module")
def real_flows():
    q = T.ising_target(2, {1: 0.4, 2: 0.4}, np.random.default_rng(3))
    runs = c5.flows([("direct", DirectModel)], [q, q], (0.01,), 2, seed=5, t_max=20.0)
    taus = (0.3, 0.1)
    return q, runs, taus, c5.evaluate(runs, taus=taus, seed=0, conditions={})


def test_c5_real_flow_settle_times_are_the_hierarchy_modules(real_flows):
    q, runs, taus, v = real_flows
    assert [(r.target, r.init) for r in runs] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for r in runs:
        for rd in "abc":
            got, err = c5._run_settle(r, rd, taus)
            assert err is None
            want = trajectory_settle_times(r.trajectory, q, rd, taus, floor_rel=SETTLE_FLOOR_REL)
            np.testing.assert_array_equal(got, want)
    rows = {(r["reading"], r["tau"]): r for r in v.evidence["rows"]}
    for rd in "abc":
        for it, tau in enumerate(taus):
            sts = [trajectory_settle_times(r.trajectory, q, rd, taus)[it] for r in runs]
            vals = [[st[k] for st in sts if not np.isnan(st[k])] for k in (1, 2)]
            med = [float(np.median(v)) if v else None for v in vals]
            got = rows[(rd, tau)]["median_t_k"]
            assert [x is None for x in got] == [x is None for x in med]
            assert [x for x in got if x is not None] == pytest.approx([x for x in med if x is not None])
    # reading (c) has no order-2 structure at N = 2 here: undefined, not ranked
    assert rows[("c", 0.1)]["median_t_k"][1] is None and rows[("c", 0.1)]["n_ranked"] == 0


def test_c5_real_flow_curves_first_target_first_seed_only(real_flows):
    q, runs, taus, v = real_flows
    (curve,) = v.evidence["curves"]
    tr = runs[0].trajectory
    J_norms = order_norms(tr.J)[:, 1:].T
    J_star = order_norms(T.couplings(q))[1:]
    onsets = []
    for k in range(2):
        hit = np.flatnonzero(J_norms[k] >= J_star[k] / 2)
        onsets.append(float(tr.t[hit[0]]) if hit.size else None)
    assert any(x is not None for x in onsets)
    assert set(curve) == {
        "family",
        "N",
        "init_scale",
        "status",
        "t",
        "J_norms",
        "J_star_norms",
        "onset_half",
        "tau",
        "settle",
    }
    assert (curve["family"], curve["N"], curve["init_scale"], curve["status"]) == (
        "direct",
        2,
        0.01,
        tr.status,
    )
    assert curve["tau"] == 0.1
    np.testing.assert_allclose(curve["t"], tr.t, rtol=0, atol=0)
    np.testing.assert_allclose(curve["J_norms"], J_norms, rtol=1e-15, atol=0)
    np.testing.assert_allclose(curve["J_star_norms"], J_star, rtol=1e-15, atol=0)
    assert curve["onset_half"] == onsets
    assert set(curve["settle"]) == {"a", "b", "c"}
    for rd in "abc":
        want = trajectory_settle_times(tr, q, rd, taus)[1, 1:]
        got = np.array([float(x) for x in curve["settle"][rd]])  # NaN is reported as "nan"
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)


def test_c5_onsets_none_without_target_couplings_or_never_half():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    J_norms = np.array(
        [[0.0, 0.1, 0.6, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.3, 0.4, 0.45], [0.0, 0.5, 0.5, 0.5]]
    )
    J_star = np.array([1.0, 0.0, 1.0, 1.0])
    assert c5._onsets(t, J_norms, J_star) == [2.0, None, None, 1.0]
    assert c5._onsets(t, J_norms[:1], np.array([1e-9])) == [None]


def test_c5_run_settle_reports_failed_flows_and_failed_readings(real_flows, monkeypatch):
    _, runs, taus, _ = real_flows
    failed = dataclasses.replace(
        runs[0], trajectory=dataclasses.replace(runs[0].trajectory, status="failed", message="step too small")
    )
    times, err = c5._run_settle(failed, "b", taus)
    assert err == "flow failed: step too small"
    assert times.shape == (2, 3) and np.all(np.isnan(times))

    def boom(*_args):
        raise MaxEntConvergenceError("no convergence after 50 steps")

    monkeypatch.setattr(c5, "order_curves", boom)
    times, err = c5._run_settle(runs[0], "c", taus)
    assert err == "reading c: no convergence after 50 steps"
    assert times.shape == (2, 3) and np.all(np.isnan(times))


# ---- kernel mechanism thresholds ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("slopes", "non_decreasing", "strictly", "holds"),
    [
        ([0.0, 1.0], True, True, True),  # spread exactly slope_spread_min
        ([0.0, 0.99], True, True, False),
        ([0.0, 1.5, 1.25, 2.0], True, False, True),  # a step of exactly -slope_step_tol is allowed
        ([0.0, 1.5, 1.2, 2.0], False, False, False),
        ([0.0, 0.25, 1.0], True, False, True),  # a step of exactly slope_step_tol is not strict
        ([0.0, 0.26, 1.0], True, True, True),
    ],
)
def test_c5_mechanism_thresholds(slopes, non_decreasing, strictly, holds):
    m = c5._mechanism(_kernel(slopes))
    assert m == {
        "slopes": {str(k + 1): s for k, s in enumerate(slopes)},
        "non_decreasing": non_decreasing,
        "strictly_increasing": strictly,
        "spread": pytest.approx(slopes[-1] - slopes[0]),
        "holds": holds,
    }


# ---- run: conditions, control, diagnostic ---------------------------------------------------------
SMALL = dataclasses.replace(get_profile("quick"), n_inits=1, init_scales=(1.0, 0.01), taus=(0.1,), t_max=10.0)


@pytest.fixture(scope="module")
def small_run():
    return c5.run(SMALL, 3)


def test_c5_run_conditions_are_complete(small_run):
    cond = small_run.verdict.conditions
    window = [1e-3, 3e-2]
    assert cond == {
        "families": ["direct", "rbm-spin", "tanh-1"],
        "n_params": {
            "direct": 15,
            "rbm-spin": RBM(4, 16, hidden="spin").n_params,
            "tanh-1": TanhNetwork(4, (8,)).n_params,
        },
        "targets": [{"N": 4, "planted_scales": {"1": 0.4, "2": 0.4, "3": 0.4}}],
        "user_target": None,
        "init_scales": [0.01, 1.0],
        "small_init_scales": [0.01],
        "n_inits": 1,
        "taus": [0.1],
        "readings": {
            "a": "moment residual |r_k(t)|",
            "b": "coupling error |J_k(t) - J*_k|",
            "c": "connected-information gap |I_k(q) - I_k(p_t)|, I_k(p) = KL(p_(k) || p_(k-1))",
        },
        "flow": {"method": "LSODA", "gtol": 1e-7, "t_max": 10.0, "t_min": 1e-2, "n_checkpoints": 56},
        "kernel": {"N": 4, "scales": list(np.geomspace(1e-3, 3.0, 15)), "window": window},
        "mechanism_families": ["rbm-spin", "tanh-1"],
        "seed": 3,
    }
    ev = small_run.verdict.evidence
    assert ev["n_flows"] == 3 * 2 * 1
    assert set(ev["kernel_slopes"]) == {"direct", "rbm-spin", "tanh-1"}
    assert {f: d["n_seeds"] for f, d in ev["kernel_norms"].items()} == {
        "direct": 1,
        "rbm-spin": 1,
        "tanh-1": 1,
    }
    assert {f: len(d["scales"]) for f, d in ev["kernel_norms"].items()} == {
        "direct": 15,
        "rbm-spin": 15,
        "tanh-1": 15,
    }
    assert set(ev["kernel_mechanism"]) == {"direct", "rbm-spin", "tanh-1"}
    # the mechanism of the neural families (only) is decided
    assert {x for x in ev["holds_for"] + ev["fails_for"] if "kernel" in x} == {
        "rbm-spin kernel mechanism",
        "tanh-1 kernel mechanism",
    }


def test_c5_run_control_and_diagnostic(small_run):
    cond = small_run.verdict.conditions
    (control,) = small_run.controls
    assert (control.claim, control.name) == ("C5", "high-orders-only")
    assert control.description == (
        "generalised Ising model with couplings of order >= 3 only, from the same "
        "small start: the high orders are learned while orders 1-2 never are"
    )
    assert control.verdict.conditions == {
        **cond,
        "families": ["high-orders-only"],
        "control": "high-orders-only",
    }
    assert control.verdict.status is Status.FAILS
    assert {r["tau"] for r in control.verdict.evidence["rows"]} == {0.1}
    assert {r["family"] for r in control.verdict.evidence["rows"]} == {"high-orders-only"}
    assert control.verdict.evidence["kernel_slopes"] == {} and "reversed_kernel_diagnostic" not in (
        control.verdict.evidence
    )
    assert all(x.seed == 3 for x in control.verdict.counterexamples)
    diag = small_run.verdict.evidence["reversed_kernel_diagnostic"]
    assert set(diag) == {"model", "status_under_this_check", "cells", "rows"}
    assert diag["model"] == "J_S = g^|S| theta_S, g = 3: K = diag(g^(2|S|)) amplifies high orders"
    assert diag["status_under_this_check"] in {s.value for s in Status}
    assert {(c["family"], c["init_scale"]) for c in diag["cells"]} == {("high-order-gain", 0.01)}
    assert {(r["family"], r["tau"], r["n_runs"]) for r in diag["rows"]} == {("high-order-gain", 0.1, 1)}


def test_c5_run_flows_start_from_the_seeded_directions(small_run):
    q = c5._targets(SMALL, 3)[0]
    for curve in small_run.verdict.evidence["curves"]:
        model = c5._model(curve["family"], 4)
        theta0 = model.init(seeded_rng(3, "c5-init", 4, 0, 0), curve["init_scale"])
        tr = c5._integrate((model, theta0, q, SMALL.t_max))
        np.testing.assert_allclose(curve["t"], tr.t, rtol=1e-12)
        np.testing.assert_allclose(curve["J_norms"], order_norms(tr.J)[:, 1:].T, rtol=1e-9, atol=1e-14)
    assert {(c["family"], c["init_scale"]) for c in small_run.verdict.evidence["curves"]} == {
        (f, s) for f in ("direct", "rbm-spin", "tanh-1") for s in (0.01, 1.0)
    }
    # the control: the high-orders-only model from the same seeded start, at the small scale only
    (curve,) = small_run.controls[0].verdict.evidence["curves"]
    model = c5.HighOrdersOnly(4, 3)
    tr = c5._integrate((model, model.init(seeded_rng(3, "c5-init", 4, 0, 0), 0.01), q, SMALL.t_max))
    assert (curve["family"], curve["init_scale"]) == ("high-orders-only", 0.01)
    np.testing.assert_allclose(curve["J_norms"], order_norms(tr.J)[:, 1:].T, rtol=1e-9, atol=1e-14)


def test_c5_run_kernel_norms_are_the_seeded_kernel_scaling(small_run):
    kn = small_run.verdict.evidence["kernel_norms"]["tanh-1"]
    ks = kernel_scaling(
        TanhNetwork(4, (8,)), np.geomspace(1e-3, 3.0, 15), seed=3, n_seeds=1, window=(1e-3, 3e-2)
    )
    np.testing.assert_allclose(kn["norms"], ks.norms[:, 1:], rtol=1e-12)
    np.testing.assert_allclose(kn["scales"], ks.scales, rtol=0)
    slopes = small_run.verdict.evidence["kernel_slopes"]["tanh-1"]
    np.testing.assert_allclose([slopes[str(k)] for k in range(1, 5)], ks.slopes[1:], rtol=1e-12)


def test_c5_run_user_target_too_large_is_recorded_not_used(monkeypatch):
    profile = SimpleNamespace(name="quick", n_inits=1, init_scales=(0.01,), taus=(0.1,), t_max=10.0)
    monkeypatch.setattr(c5, "_families", lambda p: ("direct",))
    q = T.ising_target(3, {1: 0.4, 2: 0.4}, np.random.default_rng(1))
    monkeypatch.setattr(c5, "MAX_N_USER", 2)
    rep = c5.run(profile, 0, target=q)
    cond = rep.verdict.conditions
    assert cond["user_target"] == {
        "N": 3,
        "used": False,
        "reason": "N > 2: flows too costly; generated targets only",
    }
    assert cond["targets"] == [{"N": 4, "planted_scales": {"1": 0.4, "2": 0.4, "3": 0.4}}]
    assert rep.verdict.evidence["n_flows"] == 1
    monkeypatch.setattr(c5, "MAX_N_USER", 3)
    rep = c5.run(profile, 0, target=list(q))
    cond = rep.verdict.conditions
    assert cond["user_target"] == {"N": 3, "used": True}
    assert cond["targets"][1] == {"N": 3, "user_data": True}
    assert rep.verdict.evidence["n_flows"] == 2
    assert {r["n_runs"] for r in rep.verdict.evidence["rows"]} == {2}


def test_c5_run_without_a_small_scale_uses_the_smallest_for_control_and_diagnostic(monkeypatch):
    profile = SimpleNamespace(name="quick", n_inits=1, init_scales=(1.0, 0.5), taus=(0.1,), t_max=10.0)
    monkeypatch.setattr(c5, "_families", lambda p: ("direct",))
    rep = c5.run(profile, 0)
    assert rep.verdict.conditions["small_init_scales"] == [0.5]
    assert {r["init_scale"] for r in rep.controls[0].verdict.evidence["rows"]} == {0.5}
    diag = rep.verdict.evidence["reversed_kernel_diagnostic"]
    assert {r["init_scale"] for r in diag["rows"]} == {0.5}
    assert rep.verdict.status is Status.INCONCLUSIVE  # no decisive cell, no neural family


# ---- targets, families, models, flow settings ----------------------------------------------------
def test_c5_targets_are_the_seeded_planted_ising_models():
    (quick,) = c5._targets(get_profile("quick"), 7)
    np.testing.assert_array_equal(
        quick, T.ising_target(4, {1: 0.4, 2: 0.4, 3: 0.4}, seeded_rng(7, "c5-target", 4, 0))
    )
    planted, every = c5._targets(get_profile("thorough"), 7)
    np.testing.assert_array_equal(planted, quick)
    all_orders = {k: 0.4 for k in range(1, 5)}
    np.testing.assert_array_equal(every, T.ising_target(4, all_orders, seeded_rng(7, "c5-target", 4, 1)))
    assert not np.array_equal(c5._targets(get_profile("quick"), 8)[0], quick)


def test_c5_families_per_profile():
    assert c5._families(get_profile("quick")) == ("direct", "rbm-spin", "tanh-1")
    assert c5._families(get_profile("thorough")) == ("direct", "rbm-spin", "rbm-bit", "tanh-1")


def test_c5_models_rbm_width_two_to_the_n_capped_tanh_default():
    for N, M in ((2, 4), (4, 16), (5, 16)):
        for fam, hidden in (("rbm-spin", "spin"), ("rbm-bit", "bit")):
            m = c5._model(fam, N)
            assert isinstance(m, RBM) and (m.n_visible, m.n_hidden, m.hidden) == (N, M, hidden)
            assert m.n_params == RBM(N, M, hidden=hidden).n_params
    tanh = c5._model("tanh-1", 5)
    assert isinstance(tanh, TanhNetwork) and tanh.n_params == TanhNetwork(5, (10,)).n_params
    assert isinstance(c5._model("direct", 3), DirectModel) and c5._model("direct", 3).n_params == 7


def test_c5_integrate_uses_the_documented_flow_settings():
    q = T.ising_target(2, {1: 0.4, 2: 0.4}, np.random.default_rng(2))
    model = DirectModel(2)
    theta0 = model.init(np.random.default_rng(0), 0.01)
    tr = c5._integrate((model, theta0, q, 50.0))
    want = integrate_flow(
        model, theta0, q, t_max=50.0, t_min=1e-2, n_checkpoints=56, gtol=1e-7, method="LSODA"
    )
    np.testing.assert_array_equal(tr.t, want.t)
    np.testing.assert_array_equal(tr.theta, want.theta)
    assert tr.status == want.status


def test_c5_flow_cases_are_seeded_per_target_and_init_and_shared_across_scales():
    q = T.ising_target(2, {1: 0.4}, np.random.default_rng(0))
    coords, cases = c5._flow_cases([("direct", DirectModel)], [q, q], (0.1, 0.01), 2, seed=9, t_max=3.0)
    assert [c[:5] for c in coords] == [
        ("direct", 2, i, s, j) for i in range(2) for j in range(2) for s in (0.1, 0.01)
    ]
    for (_, _, i, s, j, qq), (model, theta0, q_case, t_max) in zip(coords, cases, strict=True):
        assert qq is q and q_case is q and t_max == 3.0 and isinstance(model, DirectModel)
        np.testing.assert_array_equal(theta0, s * seeded_rng(9, "c5-init", 2, i, j).standard_normal(3))


# ---- the control parameterisations' arguments ------------------------------------------------------
@pytest.mark.parametrize("gain", [0.0, -1.0, float("inf"), float("nan"), True])
def test_c5_high_order_gain_rejects_bad_gains(gain):
    with pytest.raises(ValueError, match=re.escape(f"gain must be a positive finite number, got {gain!r}")):
        c5.HighOrderGain(3, gain)


def test_c5_high_order_gain_accepts_positive_gains_and_reprs():
    m = c5.HighOrderGain(2, 0.5)
    assert m.gain == 0.5 and repr(m) == "HighOrderGain(n_visible=2, gain=0.5)"
    np.testing.assert_allclose(m._w, [0.5, 0.5, 0.25])


@pytest.mark.parametrize("min_order", [1, 5, 0, True, 3.0])
def test_c5_high_orders_only_rejects_orders_outside_2_to_n(min_order):
    msg = f"min_order must be an integer in [2, N] = [2, 4], got {min_order!r}"
    with pytest.raises(ValueError, match=re.escape(msg)):
        c5.HighOrdersOnly(4, min_order)


@pytest.mark.parametrize(("min_order", "n_params"), [(2, 11), (3, 5), (4, 1)])
def test_c5_high_orders_only_accepts_orders_2_to_n(min_order, n_params):
    m = c5.HighOrdersOnly(4, min_order)
    assert m.min_order == min_order and m.n_params == n_params
    assert repr(m) == f"HighOrdersOnly(n_visible=4, min_order={min_order}, P={n_params})"
