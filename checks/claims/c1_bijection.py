r"""Claim C1 — the effective-model bijection.

Statement tested (docs/theory.md §5, C1): ``p <-> J`` round-trips exactly for
strictly positive ``p``; for every family the effective couplings are the Walsh
transform of :math:`u_\theta` and the Jacobian is the transform of
:math:`\partial u/\partial\theta`; symbolic (sympy) and numeric routes agree.

Evidence, each against a named tolerance:

* targets drawn by :func:`dsb_verifier.checks.claims.cases.distribution` (including
  near-degenerate ones), one seeded stream per case: relative round-trip error of ``p -> J -> p``;
* every family at every N of the profile: ``model.couplings`` against the dense
  Hadamard product of ``u`` (two routes), ``J_0`` against ``-log Z``, and
  ``model.jacobian`` against the dense route and against central finite
  differences of the couplings (on a seeded sample of columns for large P);
* for N <= ``max_n_symbolic``: the lambdified sympy twin's ``log Z``, moments and
  Fisher matrix against the numpy routes on drawn coupling vectors.

Negative controls: :class:`dsb_verifier.checks.claims.controls.WrongJacobian` (bit-reversed
transform of the Jacobian) and :class:`dsb_verifier.checks.claims.controls.WrongSpinSign`
(couplings with the opposite spin sign) must be reported as failing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims._args import check_run_arguments
from dsb_verifier.checks.claims._common import FAMILIES, Worst, make_model, seeded_rng
from dsb_verifier.checks.claims.cases import ORDER_PROFILES, coupling_vector, distribution, draw_cases
from dsb_verifier.checks.claims.controls import WrongJacobian, WrongSpinSign
from dsb_verifier.checks.claims.progress import ProgressFn, Tally
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Status, Verdict
from dsb_verifier.theory.models import EnergyModel
from dsb_verifier.theory.symbolic.effective import lambdify_twin
from dsb_verifier.theory.tolerances import FD_RTOL, ROUNDTRIP_RTOL
from scipy.special import logsumexp

__all__ = ["STATEMENT", "TOLERANCES", "evaluate", "run"]

STATEMENT = (
    "p <-> J round-trips exactly for strictly positive p; for every family the effective "
    "couplings and their Jacobian are the Walsh transforms of u_theta and du/dtheta; "
    "symbolic (sympy) and numeric routes agree."
)

#: Named tolerances of this check.
TOLERANCES: dict[str, float] = {
    "roundtrip_rel": ROUNDTRIP_RTOL,
    "couplings_abs": 1e-10,
    "jacobian_dense_abs": 1e-10,
    "jacobian_fd_rel": FD_RTOL,
    "symbolic_rel": 1e-8,
}

_FD_STEP = 1e-6
_MAX_FD_COLUMNS = 24


def _roundtrip_error(p: np.ndarray) -> float:
    return float(np.max(np.abs(T.prob(T.couplings(p)) - p) / p))


def _couplings_error(model: EnergyModel, theta: np.ndarray) -> float:
    N = model.n_visible
    u = model.neg_energy(theta)
    dense = T.hadamard(N) @ u / 2.0**N
    J = model.couplings(theta)
    scale = max(1.0, float(np.max(np.abs(u))))
    err_S = float(np.max(np.abs(J[1:] - dense[1:])))
    # J_0 = -log Z of the effective model, whose energy excludes u's constant part
    err_0 = abs(float(J[0]) + float(logsumexp(u - np.mean(u))))
    return max(err_S, err_0) / scale


def _jacobian_errors(model: EnergyModel, theta: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """(dense-route error, finite-difference relative error) of ``model.jacobian``."""
    N, P = model.n_visible, model.n_params
    A = model.jacobian(theta)
    G = model.grad_neg_energy(theta)
    dense = (T.hadamard(N) @ G.T / 2.0**N)[1:]
    scale = max(1.0, float(np.max(np.abs(G))))
    err_dense = float(np.max(np.abs(A - dense))) / scale
    cols = np.arange(P) if P <= _MAX_FD_COLUMNS else np.sort(rng.choice(P, _MAX_FD_COLUMNS, replace=False))
    fd_err = 0.0
    for j in cols:
        e = np.zeros(P)
        e[j] = _FD_STEP
        fd = (model.couplings(theta + e)[1:] - model.couplings(theta - e)[1:]) / (2 * _FD_STEP)
        denom = max(1.0, float(np.max(np.abs(A[:, j]))))
        fd_err = max(fd_err, float(np.max(np.abs(fd - A[:, j]))) / denom)
    return err_dense, fd_err


def evaluate(
    targets: Sequence[np.ndarray],
    models: Sequence[tuple[EnergyModel, np.ndarray]],
    twin_cases: Sequence[np.ndarray],
    *,
    seed: int,
    conditions: dict,
    progress: ProgressFn | None = None,
) -> Verdict:
    """Evaluate C1 on given targets, (model, theta) pairs and symbolic-parity couplings.

    The same routine serves the real run and the negative controls. ``progress(done,
    total)`` is called as each target, model and symbolic case is checked.
    """
    tally = Tally(max(1, len(targets) + len(models) + len(twin_cases)), progress)
    rt = Worst(TOLERANCES["roundtrip_rel"], "relative p -> J -> p error", seed)
    for i, p in enumerate(targets):
        rt.add(
            _roundtrip_error(p), kind="target", index=i, N=int(p.size).bit_length() - 1, min_p=float(p.min())
        )
        tally.step()
    cpl = Worst(TOLERANCES["couplings_abs"], "|J(theta) - H u / 2^N| (relative to max|u|)", seed)
    jd = Worst(TOLERANCES["jacobian_dense_abs"], "|A - H G^T / 2^N| (relative to max|G|)", seed)
    jf = Worst(TOLERANCES["jacobian_fd_rel"], "|A - finite differences of J| (relative)", seed)
    for i, (model, theta) in enumerate(models):
        case = {"family": model.family, "N": model.n_visible, "P": model.n_params, "index": i}
        cpl.add(_couplings_error(model, theta), **case)
        e_dense, e_fd = _jacobian_errors(model, theta, seeded_rng(seed, "c1-fd", i))
        jd.add(e_dense, **case)
        jf.add(e_fd, **case)
        tally.step()
    sym = Worst(TOLERANCES["symbolic_rel"], "|sympy twin - numpy| (log Z, moments, Fisher)", seed)
    for i, J in enumerate(twin_cases):
        N = int(J.size).bit_length() - 1
        twin = lambdify_twin(N)
        p = T.prob(J)
        errs = [
            abs(float(twin.log_partition(J)) - float(T.log_partition(J)))
            / max(1.0, abs(float(T.log_partition(J)))),
            float(np.max(np.abs(twin.moments(J) - T.moments(p)))),
            float(np.max(np.abs(twin.fisher(J) - T.fisher(p)))),
        ]
        sym.add(max(errs), kind="symbolic", N=N, index=i)
        tally.step()
    tally.finish()
    parts = {
        "roundtrip": rt,
        "couplings_transform": cpl,
        "jacobian_dense": jd,
        "jacobian_fd": jf,
        "symbolic_parity": sym,
    }
    failures = [c for w in parts.values() for c in w.failures]
    status = Status.HOLDS if not failures else Status.FAILS
    if any(w.n == 0 for w in parts.values()):
        status = Status.INCONCLUSIVE if not failures else status
    evidence: dict = {name: w.summary() for name, w in parts.items()}
    evidence["headline"] = (
        f"round trip ≤ {rt.value:.0e} on {rt.n} targets; J and A of {cpl.n} models ≤ "
        f"{max(cpl.value, jd.value):.0e} (FD {jf.value:.0e}); sympy parity ≤ {sym.value:.0e}"
    )
    return Verdict(
        claim="C1",
        statement=STATEMENT,
        status=status,
        conditions=conditions,
        evidence=evidence,
        tolerances=TOLERANCES,
        counterexamples=tuple(
            sorted(failures, key=lambda c: -c.value if np.isfinite(c.value) else -np.inf)[:10]
        ),
    )


def _model_cases(
    profile: Profile, seed: int, wrap: type | None = None
) -> list[tuple[EnergyModel, np.ndarray]]:
    out = []
    for N in range(2, profile.max_n_rbm + 1):
        for family in FAMILIES:
            model = make_model(family, N, width=min(2**N, 16) if family.startswith("rbm") else None)
            if wrap is not None:
                model = wrap(model)
            for j in range(2):
                theta = model.init(seeded_rng(seed, "c1", family, N, j), 0.5)
                out.append((model, theta))
    return out


def run(
    profile: Profile, seed: int, target: np.ndarray | None = None, *, progress: ProgressFn | None = None
) -> ClaimReport:
    """Run C1 under ``profile`` with ``seed``; returns the verdict and its controls.

    A user ``target`` (``dsb-verify run --data``) is added to the round-trip cases.
    ``progress(done, total)`` follows the cases of the real run (not the controls').
    """
    seed = check_run_arguments(profile, seed, target=target, progress=progress)
    t0 = time.perf_counter()
    n_max = profile.max_n_generic
    targets = draw_cases(lambda rng: distribution(rng, max_n=n_max), profile.n_cases, seed, "C1", "targets")
    targets += [T.k_body_target(3, 0b111, 4.0), T.independent_sites(np.array([0.999999, -0.5]))]
    if target is not None:
        targets.append(np.asarray(target, dtype=np.float64))
    models = _model_cases(profile, seed)
    twin_cases = []
    for N in range(1, profile.max_n_symbolic + 1):
        twin_cases += draw_cases(
            lambda rng, N=N: coupling_vector(rng, N, ORDER_PROFILES["flat"]),
            max(2, profile.n_cases // 4),
            seed,
            "C1",
            "symbolic",
            N,
        )
    conditions = {
        "families": list(FAMILIES),
        "N_targets": f"1..{profile.max_n_generic}",
        "N_models": f"2..{profile.max_n_rbm}",
        "N_symbolic": f"1..{profile.max_n_symbolic}",
        "n_targets": len(targets),
        "n_models": len(models),
        "n_symbolic_cases": len(twin_cases),
        "init_scale": 0.5,
        "seed": seed,
        "target_strategy": "dsb_verifier.checks.claims.cases.distribution(min_log10=-12) + named cases",
    }
    verdict = evaluate(targets, models, twin_cases, seed=seed, conditions=conditions, progress=progress)
    controls = []
    for name, wrap, desc in (
        ("wrong-jacobian", WrongJacobian, "Jacobian transformed with the variables in reversed bit order"),
        ("wrong-spin-sign", WrongSpinSign, "couplings computed with bit 1 read as spin +1"),
    ):
        small = dataclasses.replace(profile, max_n_rbm=min(profile.max_n_rbm, 3))
        cv = evaluate(
            targets[:2],
            _model_cases(small, seed, wrap),
            [],
            seed=seed,
            conditions={**conditions, "control": name},
        )
        controls.append(ControlResult(claim="C1", name=name, description=desc, verdict=cv))
    return ClaimReport(verdict=verdict, controls=tuple(controls), seconds=time.perf_counter() - t0)
