"""Sweeps through a concurrent.futures.Executor: the same report as the serial run, any Executor.

The claim modules draw every case in the parent and map a module-level function over
them (order preserved), so a process pool, a thread pool or a cluster's executor gives
the verdict of the serial run, byte for byte.
"""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from dsb_verifier.checks.claims import c2_convexity, c3_fixed_points, c4_stability, c6_saddles
from dsb_verifier.checks.claims import c5 as c5_hierarchy
from dsb_verifier.checks.cli.main import main
from dsb_verifier.checks.executors import _identified_call
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.runner import process_executor, run_checks

#: Smaller than the claim tests' profiles: one start per case, short horizons.
TINY = dataclasses.replace(get_profile("quick"), name="tiny", n_cases=4, n_inits=1, t_max=2e3)
#: C5 needs two decades of scales; one small and one large.
TINY_C5 = dataclasses.replace(TINY, init_scales=(0.01, 1.0))

CASES = [(c5_hierarchy, TINY_C5), (c3_fixed_points, TINY), (c6_saddles, TINY), (c4_stability, TINY)]


def _doc(report) -> str:
    """Everything a run reports except its timing."""
    return json.dumps(
        [report.verdict.to_json(), *(c.to_json() for c in report.controls)], sort_keys=True, default=str
    )


@pytest.fixture(scope="module")
def pool():
    with process_executor(2) as ex:
        yield ex


@pytest.fixture(scope="module")
def serial() -> dict[str, str]:
    return {mod.__name__: _doc(mod.run(profile, 0)) for mod, profile in CASES}


@pytest.mark.parametrize(("mod", "profile"), CASES, ids=["C5", "C3", "C6", "C4"])
def test_process_pool_gives_the_serial_report(mod, profile, pool, serial):
    """With a pool and a progress callback, the report of the serial run without one."""
    calls: list[tuple[int, int]] = []
    assert (
        _doc(mod.run(profile, 0, executor=pool, progress=lambda d, n: calls.append((d, n))))
        == (serial[mod.__name__])
    )
    done = [d for d, _ in calls]  # in order, to a total known from the first call
    assert done == sorted(set(done)) and done[-1] == calls[0][1] and {n for _, n in calls} == {calls[0][1]}


def test_thread_pool_works_too(serial):
    with ThreadPoolExecutor(2) as ex:
        assert _doc(c5_hierarchy.run(TINY_C5, 0, executor=ex)) == serial[c5_hierarchy.__name__]


def test_runner_passes_the_executor_only_where_accepted(pool):
    """C1 takes no executor, C2 does: both run, with the serial verdicts."""
    a = run_checks(TINY, 0, ("C1", "C2"))
    b = run_checks(TINY, 0, ("C1", "C2"), executor=pool)
    assert [_doc(r) for r in a.claims] == [_doc(r) for r in b.claims]


@pytest.mark.parametrize("mod", [c2_convexity, c3_fixed_points, c4_stability, c5_hierarchy, c6_saddles])
def test_run_accepts_an_executor_keyword(mod):
    import inspect

    param = inspect.signature(mod.run).parameters["executor"]
    assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is None


@pytest.mark.parametrize("bad", [0, -3, True, 1.5])
def test_process_executor_validates_workers(bad):
    with pytest.raises(ValueError, match=r"workers must be an integer >= 1"):
        process_executor(bad)


@pytest.mark.parametrize("n", ["0", "-2"])
def test_cli_refuses_fewer_than_one_worker(n, tmp_path, capsys):
    assert main(["run", "--claims", "C1", "--workers", n, "--out", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--workers must be an integer >= 1, got {n}" in err
    assert not (tmp_path / "rep").exists()


def test_cli_workers_two_gives_the_serial_report(tmp_path):
    docs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        assert main(["run", "--claims", "C2", "--workers", workers, "--out", str(out)]) == 0
        doc = json.loads((out / "report.json").read_text())
        docs.append([{k: v for k, v in c.items() if k != "seconds"} for c in doc["claims"]])
    assert docs[0] == docs[1]


class _RecordingPool(ThreadPoolExecutor):
    """A thread pool that remembers which whole claims were submitted to it."""

    def __init__(self) -> None:
        super().__init__(2)
        self.whole: list[str] = []

    def submit(self, fn, /, *args, **kwargs):
        # run_checks wraps every task as _identified_call(task, args, kwargs)
        if fn is _identified_call and getattr(args[0], "__name__", "") == "_run_claim":
            self.whole.append(args[1][0])
        return super().submit(fn, *args, **kwargs)


def test_claims_without_an_executor_keyword_run_whole_on_the_executor():
    """C1 cannot spread its cases: with an executor it runs as one task (C2 and C4 map theirs)."""
    serial = run_checks(TINY, 0, ("C1", "C2", "C4"))
    with _RecordingPool() as ex:
        par = run_checks(TINY, 0, ("C1", "C2", "C4"), executor=ex)
    assert ex.whole == ["C1"]
    assert [_doc(r) for r in par.claims] == [_doc(r) for r in serial.claims]
    assert [r.verdict.claim for r in par.claims] == ["C1", "C2", "C4"]
