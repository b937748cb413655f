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
``dsb-verify run --workers N``. Every executor is first checked by a bounded
pre-flight and then wrapped so that a result computed by another version or
source of dsb-verifier is refused (:mod:`dsb_verifier.checks.executors`).

Progress within a claim: a module whose ``run`` accepts a ``progress`` keyword
gets a callable ``progress(done, total)`` to call as its cases or flows
complete (in this process, e.g. while iterating ``executor.map``); the runner
turns the calls into lines such as ``C5: 12/48 flows, ETA 7 s`` at most every
:data:`PROGRESS_INTERVAL` seconds, and one when ``done == total``
(:class:`CaseProgress`). The unit is the module's ``PROGRESS_UNIT`` (default
``cases``). Claims submitted whole to an executor report only their end.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import platform
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from dsb_verifier.checks.claims._args import check_run_arguments
from dsb_verifier.checks.executors import IdentityCheckedExecutor, capped_workers, preflight
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.provenance import git_state, source_digest
from dsb_verifier.checks.verdict import CLAIM_IDS, ClaimReport, jsonable
from dsb_verifier.theory import __version__
from dsb_verifier.theory._blas import limit_blas_threads, one_blas_thread
from dsb_verifier.theory.precision import audit

__all__ = [
    "CLAIM_MODULES",
    "CaseProgress",
    "PROGRESS_INTERVAL",
    "Report",
    "run_checks",
    "run_checks_into",
    "parse_claims",
    "validate_run_arguments",
    "process_executor",
    "provenance",
    "task_bound",
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


#: Least time in seconds between two progress lines of one claim (the last case is always shown).
PROGRESS_INTERVAL = 2.0


class CaseProgress:
    """``progress(done, total)`` of one claim, turned into throttled one-line messages.

    Parameters
    ----------
    claim
        Claim id, the start of every line.
    say
        Where the lines go (e.g. stderr).
    unit
        What is counted (``cases``, ``flows``).
    interval
        Least time in seconds between two lines, except the last (``done == total``).
    clock
        Monotonic time source in seconds (replaceable in tests).
    """

    def __init__(
        self,
        claim: str,
        say: Callable[[str], None],
        unit: str = "cases",
        interval: float = PROGRESS_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (isinstance(interval, int | float) and interval >= 0):
            raise ValueError(f"interval must be a non-negative number of seconds, got {interval!r}")
        self.claim, self.unit, self.interval = claim, unit, float(interval)
        self._say, self._clock = say, clock
        self._t0 = self._last = clock()
        self._finished = False

    def __call__(self, done: int, total: int) -> None:
        """Report that ``done`` of ``total`` cases are complete (a line if one is due)."""
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"progress total must be an integer >= 1, got {total!r}")
        if isinstance(done, bool) or not isinstance(done, int) or not 0 <= done <= total:
            raise ValueError(f"progress done must be an integer in [0, {total}], got {done!r}")
        now = self._clock()
        elapsed = now - self._t0
        if done == total:
            if not self._finished:
                self._finished = True
                self._say(f"{self.claim}: {done}/{total} {self.unit} in {elapsed:.1f} s")
            return
        if now - self._last < self.interval:
            return
        self._last = now
        eta = f"ETA {elapsed * (total - done) / done:.0f} s" if done else "ETA unknown"
        self._say(f"{self.claim}: {done}/{total} {self.unit}, {eta}")


def parse_claims(spec: str | None) -> tuple[str, ...]:
    """Parse ``"C1,C4"`` (case-insensitive) into claim ids in report order; None means all.

    Raises
    ------
    ValueError
        On an unknown or empty claim id, naming the known ones.
    """
    if spec is None:
        return CLAIM_IDS
    if not isinstance(spec, str):
        raise ValueError(
            f"claims spec must be a comma-separated string such as 'C1,C4' or None, got {type(spec).__name__}"
        )
    ids = [s.strip().upper() for s in spec.split(",")]
    bad = [s for s in ids if s not in CLAIM_IDS]
    if bad or not ids:
        raise ValueError(
            f"unknown claim id(s) {', '.join(repr(b) for b in bad) or repr(spec)}; "
            f"expected a comma-separated subset of {','.join(CLAIM_IDS)}"
        )
    return tuple(c for c in CLAIM_IDS if c in ids)


def _limit_blas() -> None:
    """Worker initializer: one BLAS thread per process (``workers`` processes share the cores).

    numpy's and scipy's BLAS alike (:func:`~dsb_verifier.theory._blas.limit_blas_threads`),
    also in a worker started without the parent's modules (a spawned process).
    """
    limit_blas_threads()


def process_executor(workers: int, n_tasks: int | None = None) -> ProcessPoolExecutor:
    """A pool of local processes, each limited to one BLAS thread.

    Its size is :func:`dsb_verifier.checks.executors.capped_workers`: ``workers``
    at most, and never more than ``n_tasks`` (when known, e.g. :func:`task_bound`)
    or the cores this process may use.

    Raises
    ------
    ValueError
        If ``workers`` is not an integer ``>= 1`` or ``n_tasks`` not None or an integer ``>= 1``.
    """
    size = capped_workers(workers, n_tasks)
    return ProcessPoolExecutor(max_workers=size, initializer=_init_worker)


def _init_worker() -> None:
    """Initializer of :func:`process_executor`'s workers: one BLAS thread, and Ctrl-C left to the parent.

    A Ctrl-C at the terminal reaches the whole process group; the parent stops the
    run (``dsb-verify`` exits 130 with one line), so the workers ignore SIGINT
    instead of each printing a traceback. SIGTERM and SIGHUP get their default
    action back (a forked worker inherits the command's handlers), so that the
    parent's ``terminate()`` of its workers ends them at once.
    """
    import signal

    _limit_blas()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _module(claim: str) -> ModuleType:
    return importlib.import_module(CLAIM_MODULES[claim])


def task_bound(claims: Sequence[str]) -> int | None:
    """Most tasks an executor can receive for ``claims``: their number if none spreads its cases, else None.

    A claim whose ``run`` takes no ``executor`` keyword runs whole as one task;
    the others map many cases over the executor.
    """
    ordered = [c for c in CLAIM_IDS if c in set(claims)]
    if any("executor" in inspect.signature(_module(c).run).parameters for c in ordered):
        return None
    return max(1, len(ordered))


def _checked_executor(executor: Executor) -> IdentityCheckedExecutor:
    """``executor`` after a bounded pre-flight, wrapped to refuse results from other code."""
    checked = executor if isinstance(executor, IdentityCheckedExecutor) else IdentityCheckedExecutor(executor)
    preflight(checked)
    return checked


def _git_commit() -> str | None:
    """The commit of the checkout of this project the package is imported from, or None."""
    state = git_state()
    return None if state is None else state["commit"]


def provenance(profile: Profile, seed: int, claims: Sequence[str]) -> dict[str, Any]:
    """Versions, source hash, commit, seed and profile: what a paper needs to cite and replay a run.

    ``git_commit`` and ``git_dirty`` are recorded only when the package is imported
    from a git checkout of this project (:func:`dsb_verifier.checks.provenance.git_state`),
    else None; ``source_sha256`` identifies the code however it was installed.
    """
    import mpmath
    import numpy
    import scipy
    import sympy

    state = git_state()
    return {
        "dsb_verifier_version": __version__,
        "source_sha256": source_digest(),
        "git_commit": None if state is None else state["commit"],
        "git_dirty": None if state is None else state["dirty"],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "sympy": sympy.__version__,
            "mpmath": mpmath.__version__,
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
    """``run`` of one claim module (module level, so an executor's worker can run it), one BLAS thread."""
    with one_blas_thread():  # restored after: a thread executor's host process keeps its own setting
        report: ClaimReport = _module(claim).run(profile, seed, **kwargs)
    return report


def run_checks(
    profile: Profile,
    seed: int,
    claims: Sequence[str] = CLAIM_IDS,
    *,
    out_dir: str | PathLike[str] | None = None,
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
        apart from timing fields. Every claim runs with one BLAS thread
        (:func:`dsb_verifier.theory._blas.one_blas_thread`; the caller's setting is
        restored after), as in ``dsb-verify`` and its workers: with several threads,
        matrix products split between threads differ in the last bits.
    claims
        Claim ids in any order; run in report order.
    out_dir
        Where figures are written (``out_dir/figures``); None skips figures. The
        folder is published as ``dsb-verify run --out`` publishes it
        (:func:`dsb_verifier.checks.cli.publish.publish_directory`): it is locked
        for the whole call, the figures are drawn in a hidden staging folder
        beside it, and the folder is replaced as a whole only when all are drawn
        (it then holds ``figures/`` only; write the report with
        :func:`dsb_verifier.checks.cli.report.write_report`). An existing
        ``out_dir`` must be empty or a dsb-verify report folder.
    progress
        Called with a one-line message before and after each claim, and
        within the claims that report their cases (:class:`CaseProgress`);
        None: no messages, and no progress callback is passed to the claims.
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
        The report does not depend on it. A pre-flight task checks its workers
        first (bounded wait); a worker running another version or source of
        dsb-verifier raises :class:`dsb_verifier.checks.executors.WorkerMismatchError`
        (a ``ValueError``), one that cannot import it
        :class:`dsb_verifier.checks.executors.ExecutorPreflightError`.

    Raises
    ------
    ValueError
        If any argument has the wrong type or value (:func:`validate_run_arguments`),
        or ``out_dir`` cannot be published (in use by another run, not a report
        folder, a mount point: :class:`~dsb_verifier.checks.cli.publish.PublishError`),
        before anything is computed.
    """
    validate_run_arguments(profile, seed, claims, out_dir, progress, target, target_info, executor)
    from dsb_verifier.checks.cli.publish import publish_directory

    publishing = nullcontext(None) if out_dir is None else publish_directory(out_dir)
    with publishing as staging:
        return run_checks_into(
            profile,
            seed,
            claims,
            out_dir=staging,
            progress=progress,
            target=target,
            target_info=target_info,
            executor=executor,
        )


def run_checks_into(
    profile: Profile,
    seed: int,
    claims: Sequence[str] = CLAIM_IDS,
    *,
    out_dir: str | PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
    target: np.ndarray | None = None,
    target_info: dict[str, Any] | None = None,
    executor: Executor | None = None,
) -> Report:
    """:func:`run_checks` drawing the figures straight into ``out_dir/figures``, unpublished.

    For a caller that publishes ``out_dir`` itself (``dsb-verify run`` passes its
    staging folder, then writes the report there too); the arguments are those
    of :func:`run_checks`, validated again here.
    """
    validate_run_arguments(profile, seed, claims, out_dir, progress, target, target_info, executor)
    seed = int(seed)
    out_dir = None if out_dir is None else Path(out_dir)
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    if executor is not None:
        executor = _checked_executor(executor)
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
            extra: dict[str, Any] = {}
            if progress is not None and "progress" in inspect.signature(mod.run).parameters:
                extra["progress"] = CaseProgress(claim, say, getattr(mod, "PROGRESS_UNIT", "cases"))
            with one_blas_thread():  # the report must not depend on the caller's BLAS threads
                rep = mod.run(profile, seed, **calls[claim], **extra)
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
    with one_blas_thread():
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


def validate_run_arguments(
    profile: object,
    seed: object,
    claims: object,
    out_dir: object = None,
    progress: object = None,
    target: object = None,
    target_info: object = None,
    executor: object = None,
) -> None:
    """Refuse arguments of :func:`run_checks` of the wrong type or value, before anything runs.

    ``claims`` must be a list or tuple of distinct claim ids spelled as in
    :data:`~dsb_verifier.checks.verdict.CLAIM_IDS` (a string such as ``"C1,C4"``
    is parsed by :func:`parse_claims`, not here: read as a sequence it would be
    its characters). ``target`` must be a strictly positive distribution over
    ``2^N`` states summing to 1.

    Raises
    ------
    ValueError
        Naming the argument, what was given and what is expected.
    """
    check_run_arguments(profile, seed, target=target, executor=executor)
    known = ", ".join(CLAIM_IDS)
    if isinstance(claims, str | bytes) or not isinstance(claims, list | tuple):
        hint = " (parse a comma-separated string with parse_claims)" if isinstance(claims, str) else ""
        raise ValueError(
            f"claims must be a list or tuple of claim ids among {known}, got {type(claims).__name__} "
            f"{claims!r}{hint}"[:300]
        )
    if not claims:
        raise ValueError(f"claims must name at least one claim id among {known}, got {claims!r}")
    for c in claims:
        if not isinstance(c, str) or c not in CLAIM_IDS:
            raise ValueError(f"claims must be claim ids among {known} (upper case), got {c!r} in {claims!r}")
    dup = sorted({c for c in claims if claims.count(c) > 1})
    if dup:
        raise ValueError(f"claims must be distinct claim ids among {known}, got {dup[0]!r} more than once")
    if out_dir is not None and (
        not isinstance(out_dir, str | PathLike) or not isinstance(os.fspath(out_dir), str)
    ):
        raise ValueError(f"out_dir must be None or a path (str or os.PathLike), got {type(out_dir).__name__}")
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be None or a callable taking one str, got {type(progress).__name__}")
    if target_info is not None and not isinstance(target_info, dict):
        raise ValueError(f"target_info must be None or a dict, got {type(target_info).__name__}")
    if target_info is not None and target is None:
        raise ValueError("target_info describes a target: give target too, or neither")
