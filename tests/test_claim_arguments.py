"""Every claim check's ``run`` refuses bad arguments before computing (checks/claims/_args.py)."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.runner import CLAIM_MODULES

QUICK = get_profile("quick")
BAD: list[tuple[dict[str, object], str]] = [
    ({"profile": "quick"}, r"^profile must be a dsb_verifier\.checks\.profiles\.Profile .*got str 'quick'"),
    ({"seed": -1}, r"seed"),
    ({"seed": 1.5}, r"seed"),
    ({"seed": True}, r"seed"),
    ({"target": "q.npy"}, r"^target must be None or a distribution array of shape \(2\^N,\), got str$"),
    ({"target": np.array([0.5, 0.6])}, r"target"),
    (
        {"target": np.full((2, 4), 0.25)},
        r"^target must be one distribution of shape \(2\^N,\), got shape \(2, 4\)$",
    ),
    ({"executor": 4}, r"^executor must be None or a concurrent\.futures\.Executor .*got int$"),
]


def _call(module, profile=QUICK, seed=0, **kw):
    params = inspect.signature(module.run).parameters
    kw = {k: v for k, v in kw.items() if k in params}
    return module.run(profile, seed, **kw)


@pytest.mark.parametrize("claim", sorted(CLAIM_MODULES))
@pytest.mark.parametrize(("bad", "match"), BAD, ids=[f"{next(iter(b))}-{i}" for i, (b, _) in enumerate(BAD)])
def test_claim_run_refuses_bad_arguments_first(claim, bad, match, monkeypatch):
    module = importlib.import_module(CLAIM_MODULES[claim])
    name = next(iter(bad))
    if name not in ("profile", "seed") and name not in inspect.signature(module.run).parameters:
        pytest.skip(f"{claim}.run takes no {name}")
    # nothing may be computed before the refusal: any flow integration would fail the test
    import dsb_verifier.theory.dynamics.flow as flow

    def no_flows(*a, **k):
        raise AssertionError("computed before validating")

    monkeypatch.setattr(flow, "integrate_flow", no_flows)
    args = {"profile": QUICK, "seed": 0, **bad}
    with pytest.raises(ValueError, match=match):
        _call(module, **args)


@pytest.mark.parametrize("claim", sorted(CLAIM_MODULES))
def test_claim_run_refuses_a_progress_that_is_not_callable(claim):
    module = importlib.import_module(CLAIM_MODULES[claim])
    param = inspect.signature(module.run).parameters["progress"]  # every claim reports its cases
    assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is None
    with pytest.raises(ValueError, match=r"^progress must be None or a callable, got int$"):
        module.run(QUICK, 0, progress=3)


def test_effective_compute_and_figure_refuse_wrong_types_first():
    import io

    from dsb_verifier.checks.cli.effective_compute import compute
    from dsb_verifier.checks.cli.effective_request import Request
    from dsb_verifier.checks.cli.fig1 import write_figure

    with pytest.raises(ValueError, match=r"^source must be an RBMCheckpoints \(from load_rbm\), got str$"):
        compute("model.npz", Request())
    with pytest.raises(ValueError, match=r"^res must be an EffectiveResult \(from compute\), got dict$"):
        write_figure({}, io.BytesIO())
