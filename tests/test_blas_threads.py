"""Batched flows do not depend on the BLAS thread count (Claim C5's integrator; issue 15, same seed same report).

Multi-threaded BLAS changes the order of sums in large products; the batched integrator
pins one BLAS thread (:func:`dsb_verifier.theory._blas.one_blas_thread`), so a library call
in a process with several BLAS threads gives the bits of the ``dsb-verify`` command and its
single-threaded workers.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.theory import _blas
from dsb_verifier.theory.dynamics import batch_flow
from dsb_verifier.theory.models import RBM
from threadpoolctl import threadpool_info, threadpool_limits

OPTIONS = {"t_max": 200.0, "t_min": 1e-2, "n_checkpoints": 20, "gtol": 1e-7, "rtol": 1e-7, "atol": 1e-10}


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def _flows():
    rng = np.random.default_rng(11)
    model = RBM(6, 16)
    qs = np.stack([T.ising_target(6, {1: 0.4, 2: 0.4, 3: 0.4}, rng) for _ in range(32)])
    th0 = np.stack([model.init(rng, 0.01) for _ in range(32)])
    return model, th0, qs


def _run(threads: int) -> list:
    model, th0, qs = _flows()
    with threadpool_limits(limits=threads, user_api="blas"):
        return batch_flow.integrate_flows_batched(model, th0, qs, **OPTIONS)


def test_one_blas_thread_sets_and_restores_and_is_reentrant():
    with threadpool_limits(limits=2, user_api="blas"):
        with _blas.one_blas_thread():
            assert _blas_threads() == {1}
            with _blas.one_blas_thread():
                assert _blas_threads() == {1}
            assert _blas_threads() == {1}  # the inner exit does not lift the outer pin
        assert _blas_threads() == {2} and _blas._holders == 0
        with pytest.raises(RuntimeError), _blas.one_blas_thread():
            raise RuntimeError("the pin is lifted on errors too")
        assert _blas_threads() == {2} and _blas._holders == 0


@pytest.mark.skipif(len(_blas_threads()) == 0, reason="no BLAS library found by threadpoolctl")
def test_batched_flows_are_bit_identical_under_one_and_two_blas_threads():
    one, two = _run(1), _run(2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a.t, b.t)
        np.testing.assert_array_equal(a.theta, b.theta)


@pytest.mark.skipif(len(_blas_threads()) == 0, reason="no BLAS library found by threadpoolctl")
def test_without_the_pin_two_threads_change_the_bits(monkeypatch):
    """The test above can fail: with the pin removed, the thread count shows in the last bits."""
    monkeypatch.setattr(batch_flow, "one_blas_thread", contextlib.nullcontext)
    one, two = _run(1), _run(2)
    assert any(not np.array_equal(a.theta, b.theta) for a, b in zip(one, two, strict=True))


def test_run_checks_runs_every_claim_with_one_blas_thread_and_restores(monkeypatch):
    """Library calls give the CLI's bits: the caller's BLAS threads do not reach the claims."""
    import functools

    from dsb_verifier.checks import runner
    from dsb_verifier.checks.profiles import get_profile

    mod = runner._module("C1")
    seen: list[set[int]] = []
    real = mod.run

    @functools.wraps(real)
    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(mod, "run", spy)
    with threadpool_limits(limits=2, user_api="blas"):
        runner.run_checks(get_profile("quick"), 0, ["C1"])
        assert seen == [{1}]
        assert _blas_threads() == {2}


def _threads_seen_by_a_task(_: object = None) -> set[int]:
    return _blas_threads()


@pytest.mark.skipif(len(_blas_threads()) == 0, reason="no BLAS library found by threadpoolctl")
def test_tasks_through_any_executor_run_with_one_blas_thread():
    """A user's own process pool runs no initializer of ours: the task wrapper pins the thread count.

    (Thread executors are not tested: with OpenBLAS a limit set from a non-main thread is not
    reliably seen, see theory/_blas.py; Dask's nanny starts its workers with one BLAS thread.)
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from dsb_verifier.checks.executors import IdentityCheckedExecutor

    ctx = multiprocessing.get_context("fork")
    with threadpool_limits(limits=2, user_api="blas"), ProcessPoolExecutor(1, mp_context=ctx) as pool:
        assert pool.submit(_threads_seen_by_a_task).result() == {2}  # the bare pool keeps the parent's
        checked = IdentityCheckedExecutor(pool)
        assert checked.submit(_threads_seen_by_a_task).result() == {1}
        assert list(checked.map(_threads_seen_by_a_task, range(2))) == [{1}, {1}]
        assert pool.submit(_threads_seen_by_a_task).result() == {2}  # restored after each task
