"""Run the claim checks and assemble a report with provenance.

Each claim module (``checks/cN_*.py``) exposes ``run(profile, seed) ->
ClaimReport`` and may expose ``figures(claim_report, out_dir) -> list[str]``
drawing its figures from the evidence. :func:`run_checks` runs the selected
claims in order, reports progress through a callback, and returns a frozen
:class:`Report`; :mod:`dsb_verifier.checks.cli.report` writes it out.

A user's target (``dsb-verify run --data``) is passed as ``run(profile, seed,
target=q)`` to the modules whose ``run`` accepts a ``target`` keyword; the
others run on generated targets only. Provenance (``user_target``) and each
claim's conditions (``target``) record which is which.

Independent cases (chiefly gradient flows) can be spread over cores or a
cluster: ``run_checks(..., executor=ex)`` passes any
:class:`concurrent.futures.Executor` as ``run(..., executor=ex)`` to the
modules whose ``run`` accepts it; they map a module-level function over cases
generated in the parent (order preserved), so the report is the same as the
serial one for the same seed. :func:`process_executor` builds the local pool of
``dsb-verify run --workers N``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.verdict import CLAIM_IDS, ClaimReport, jsonable
from dsb_verifier.theory import __version__
from dsb_verifier.theory.precision import audit

__all__ = [
    "CLAIM_MODULES",
    "Report",
    "run_checks",
    "parse_claims",
    "process_executor",
    "provenance",
    "SCHEMA_VERSION",
]

#: Version of the ``report.json`` layout; bump on incompatible changes.
SCHEMA_VERSION = "1.0"

#: Module implementing each claim check.
CLAIM_MODULES: dict[str, str] = {
    "C1": "dsb_verifier.checks.claims.c1_bijection",
    "C2": "dsb_verifier.checks.claims.c2_convexity",
    "C3": "dsb_verifier.checks.claims.c3_fixed_points",
    "C4": "dsb_verifier.checks.claims.c4_stability",
    "C5": "dsb_verifier.checks.claims.c5",
    "C6": "dsb_verifier.checks.claims.c6_saddles",
}


def parse_claims(spec: str | None) -> tuple[str, ...]:
    """Parse ``"C1,C4"`` (case-insensitive) into claim ids in report order; None means all.

    Raises
    ------
    ValueError
        On an unknown or empty claim id, naming the known ones.
    """
    if spec is None:
        return CLAIM_IDS
    ids = [s.strip().upper() for s in spec.split(",")]
    bad = [s for s in ids if s not in CLAIM_IDS]
    if bad or not ids:
        raise ValueError(
            f"unknown claim id(s) {', '.join(repr(b) for b in bad) or repr(spec)}; "
            f"expected a comma-separated subset of {','.join(CLAIM_IDS)}"
        )
    return tuple(c for c in CLAIM_IDS if c in ids)


def _limit_blas() -> None:
    """Worker initializer: one BLAS thread per process (``workers`` processes share the cores)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def process_executor(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` local processes, each limited to one BLAS thread.

    Raises
    ------
    ValueError
        If ``workers`` is not an integer ``>= 1``.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    return ProcessPoolExecutor(max_workers=workers, initializer=_limit_blas)


def _module(claim: str) -> ModuleType:
    return importlib.import_module(CLAIM_MODULES[claim])


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def provenance(profile: Profile, seed: int, claims: Sequence[str]) -> dict[str, Any]:
    """Versions, commit, seed and profile: what a paper needs to cite and replay a run."""
    import hypothesis
    import numpy
    import scipy
    import sympy

    return {
        "dsb_verifier_version": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "sympy": sympy.__version__,
            "hypothesis": hypothesis.__version__,
        },
        "seed": seed,
        "profile": dataclasses.asdict(profile),
        "claims": list(claims),
        "replay": f"dsb-verify run --profile {profile.name} --seed {seed} --claims {','.join(claims)}",
    }


@dataclass(frozen=True)
class Report:
    """Everything one ``dsb-verify run`` produced."""

    claims: tuple[ClaimReport, ...]
    provenance: dict[str, Any]
    wall_seconds: float

    def to_json(self) -> dict[str, Any]:
        """The ``report.json`` document (timing fields: ``wall_seconds`` and per-claim ``seconds``)."""
        return jsonable(
            {
                "schema_version": SCHEMA_VERSION,
                "claims": [{**c.verdict.to_json(), "seconds": round(c.seconds, 3)} for c in self.claims],
                "controls": [ctl.to_json() for c in self.claims for ctl in c.controls],
                "provenance": {**self.provenance, "wall_seconds": round(self.wall_seconds, 3)},
            }
        )


def _run_claim(claim: str, profile: Profile, seed: int, kwargs: dict[str, Any]) -> ClaimReport:
    """``run`` of one claim module (module level, so an executor's worker can run it)."""
    _limit_blas()
    report: ClaimReport = _module(claim).run(profile, seed, **kwargs)
    return report


def run_checks(
    profile: Profile,
    seed: int,
    claims: Sequence[str] = CLAIM_IDS,
    *,
    out_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    target: np.ndarray | None = None,
    target_info: dict[str, Any] | None = None,
    executor: Executor | None = None,
) -> Report:
    """Run the claim checks ``claims`` under ``profile`` and ``seed``.

    Parameters
    ----------
    profile
        Sizes of the sweeps (:mod:`dsb_verifier.checks.profiles`).
    seed
        Seed of every generated case; the same seed gives the same report
        apart from timing fields.
    claims
        Claim ids in any order; run in report order.
    out_dir
        Where figures are written (``out_dir/figures``); None skips figures.
    progress
        Called with a one-line message before and after each claim.
    target
        Optional user target distribution, shape ``(2^N,)`` (e.g. from
        :func:`dsb_verifier.checks.cli.io.load_target`), passed to the claim modules whose
        ``run`` accepts a ``target`` keyword.
    target_info
        Description of ``target`` for the provenance (path, columns,
        pseudo-count...); its ``replay_args`` are appended to the replay command.
    executor
        Where independent cases run (any :class:`concurrent.futures.Executor`:
        :func:`process_executor`, a Dask ``Client.get_executor()``, ...),
        passed to the claim modules whose ``run`` accepts an ``executor``
        keyword; the other claims are submitted to it whole, first, so they
        overlap with the rest. None runs everything serially in this process.
        The report does not depend on it.
    """
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    results: list[ClaimReport] = []
    ordered = [c for c in CLAIM_IDS if c in set(claims)]
    used_by: list[str] = []
    calls: dict[str, dict[str, Any]] = {}
    for claim in ordered:
        params = inspect.signature(_module(claim).run).parameters
        kwargs: dict[str, Any] = {}
        if target is not None and "target" in params:
            kwargs["target"] = target
            used_by.append(claim)
        if executor is not None and "executor" in params:
            kwargs["executor"] = executor
        calls[claim] = kwargs
    # With an executor, a claim whose cases cannot be spread over it runs whole as one task,
    # submitted first so that it overlaps with the others' cases.
    whole: dict[str, Future[ClaimReport]] = {}
    if executor is not None:
        for k, claim in enumerate(ordered, 1):
            if "executor" not in calls[claim]:
                say(f"[{k}/{len(ordered)}] {claim}: submitted whole to the executor ({profile.name} profile)")
                whole[claim] = executor.submit(_run_claim, claim, profile, seed, calls[claim])
    for k, claim in enumerate(ordered, 1):
        mod = _module(claim)
        if claim in whole:
            rep: ClaimReport = whole[claim].result()
        else:
            say(f"[{k}/{len(ordered)}] {claim}: running ({profile.name} profile) ...")
            rep = mod.run(profile, seed, **calls[claim])
        if target is not None:
            note = (
                "user data" if claim in used_by else "generated targets only (this check takes no user data)"
            )
            conditions = {**rep.verdict.conditions, "target": note}
            rep = dataclasses.replace(rep, verdict=dataclasses.replace(rep.verdict, conditions=conditions))
        if out_dir is not None and hasattr(mod, "figures"):
            fig_dir = out_dir / "figures"
            fig_dir.mkdir(parents=True, exist_ok=True)
            paths = tuple(mod.figures(rep, fig_dir))
            rel = tuple(str(Path(p).resolve().relative_to(out_dir.resolve())) for p in paths)
            rep = dataclasses.replace(rep, verdict=dataclasses.replace(rep.verdict, figures=rel))
        results.append(rep)
        caught = sum(c.caught for c in rep.controls)
        say(
            f"[{k}/{len(ordered)}] {claim}: {rep.verdict.status.value} "
            f"(controls caught {caught}/{len(rep.controls)}, {rep.seconds:.1f} s)"
        )
    prov = provenance(profile, seed, ordered)
    prov["precision_audit"] = audit(seed).to_dict()  # float64 vs 50 digits, N <= 4
    if target is not None:
        info = dict(target_info or {})
        replay = info.pop("replay_args", None)
        if replay:
            prov["replay"] += f" {replay}"
        prov["user_target"] = {
            **info,
            "n_states": int(np.shape(target)[-1]),
            "used_by": used_by,
            "generated_only": [c for c in ordered if c not in used_by],
        }
    return Report(
        claims=tuple(results),
        provenance=prov,
        wall_seconds=time.perf_counter() - t0,
    )
