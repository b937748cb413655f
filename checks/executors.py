"""Executors for the claim checks: one code version everywhere, a bounded pre-flight, a capped pool.

A report computed on an executor must come from the same code as the client's:

* :class:`IdentityCheckedExecutor` wraps any :class:`concurrent.futures.Executor`;
  each task also returns its worker's ``(version, source digest)``
  (:func:`dsb_verifier.checks.provenance.package_identity`, computed once per
  worker process) and a result from different code raises
  :class:`WorkerMismatchError` instead of entering the report.
* :func:`preflight` runs one task importing the package on every worker of a
  Dask cluster (one task on any other executor) and waits at most ``timeout``
  seconds: a worker that cannot import the package fails that task at once, one
  that runs other code answers with another identity, one that never answers
  times out; each gives a one-line error instead of a silent hang.
* :func:`capped_workers` bounds a local pool by the number of tasks and of cores.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

from dsb_verifier.checks.provenance import package_identity

__all__ = [
    "PREFLIGHT_EXPRESSION",
    "PREFLIGHT_TIMEOUT",
    "ExecutorPreflightError",
    "IdentityCheckedExecutor",
    "WorkerMismatchError",
    "available_cores",
    "capped_workers",
    "preflight",
]

#: Seconds the pre-flight waits for every worker to import the package and answer.
PREFLIGHT_TIMEOUT = 60.0

Identity = tuple[str, str]


class WorkerMismatchError(ValueError):
    """A worker of the executor runs another version or source of dsb-verifier than the client."""


class ExecutorPreflightError(RuntimeError):
    """The executor's workers could not run dsb-verifier (import failure or no answer in time)."""


def _describe(identity: Identity) -> str:
    version, digest = identity
    return f"dsb-verifier {version} (source sha256 {digest[:12]})"


def _mismatch(worker: Identity, client: Identity, where: str = "a worker") -> WorkerMismatchError:
    return WorkerMismatchError(
        f"{where} of the executor runs {_describe(worker)} but this process runs {_describe(client)}; "
        "refusing to mix their results in one report: install the same dsb-verifier on every worker"
    )


def _identified_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run ``fn(*args, **kwargs)`` on a worker with one BLAS thread; return ``(worker identity, result)``.

    One BLAS thread on every worker of every executor (a Dask worker runs no pool
    initializer), so that the last bits of a task's result do not depend on where it ran.
    """
    from dsb_verifier.theory._blas import one_blas_thread

    with one_blas_thread():
        result = fn(*args, **kwargs)
    return package_identity(), result


#: The pre-flight task, run as ``eval(PREFLIGHT_EXPRESSION)`` on a worker. The function sent is
#: the builtin ``eval``, which every worker can unpickle: a worker that cannot import
#: dsb-verifier then fails the task at once with ``ModuleNotFoundError`` (a task whose
#: function lives in dsb-verifier would fail to unpickle instead, which Dask logs on the
#: worker and never reports to the client). The expression is a constant of this module.
PREFLIGHT_EXPRESSION = "__import__('dsb_verifier.checks.provenance', fromlist=['_']).package_identity()"


def _submit_preflight(executor: Any, **kwargs: Any) -> Any:
    return executor.submit(eval, PREFLIGHT_EXPRESSION, **kwargs)


class IdentityCheckedExecutor(Executor):
    """An executor that refuses results computed by a different dsb-verifier.

    Parameters
    ----------
    inner
        Any :class:`concurrent.futures.Executor` (a process pool, a Dask
        ``Client.get_executor()``...). Its owner shuts it down; this wrapper's
        :meth:`shutdown` does nothing.
    """

    def __init__(self, inner: Executor) -> None:
        if not isinstance(inner, Executor):
            raise ValueError(f"executor must be a concurrent.futures.Executor, got {type(inner).__name__}")
        self.inner = inner
        self.client_identity: Identity = package_identity()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Submit ``fn(*args, **kwargs)``; its future raises :class:`WorkerMismatchError` on other code."""
        inner = self.inner.submit(_identified_call, fn, args, kwargs)
        out: Future[Any] = Future()

        def settle(done: Future[Any]) -> None:
            if out.cancelled():
                return
            try:
                identity, result = done.result()
            except BaseException as exc:  # the task's own error, passed on unchanged
                out.set_exception(exc)
                return
            if tuple(identity) != self.client_identity:
                out.set_exception(_mismatch(tuple(identity), self.client_identity))
            else:
                out.set_result(result)

        inner.add_done_callback(settle)
        return out

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing: the wrapped executor belongs to its owner."""


def _dask_client(executor: Executor) -> Any | None:
    """The ``distributed.Client`` behind a Dask ``ClientExecutor``, else None."""
    client = getattr(executor, "_client", None)
    return client if client is not None and hasattr(client, "scheduler_info") else None


def _failed(exc: BaseException) -> ExecutorPreflightError:
    return ExecutorPreflightError(
        f"an executor worker cannot run dsb-verifier ({type(exc).__name__}: {exc}); "
        f"install dsb-verifier {package_identity()[0]} on every worker"
    )


def _timed_out(timeout: float, waiting: int) -> ExecutorPreflightError:
    return ExecutorPreflightError(
        f"{waiting} executor worker(s) did not import dsb-verifier within {timeout:g} s "
        "(is dsb-verifier installed on every worker?)"
    )


def preflight(executor: Executor, timeout: float = PREFLIGHT_TIMEOUT) -> int:
    """Check, within ``timeout`` seconds, that the executor's workers run this dsb-verifier.

    On a Dask executor one task is pinned to each worker; on any other executor
    one task runs. Returns the number of workers checked.

    Raises
    ------
    ExecutorPreflightError
        If a worker cannot import the package (or its task fails), or no answer
        comes within ``timeout``.
    WorkerMismatchError
        If a worker runs another version or source than this process.
    ValueError
        If ``timeout`` is not a positive number.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    inner = executor.inner if isinstance(executor, IdentityCheckedExecutor) else executor
    client_identity = package_identity()
    client = _dask_client(inner)
    if client is not None:
        return _preflight_dask(client, client_identity, timeout)
    fut = _submit_preflight(inner)
    try:
        identity: Identity = tuple(fut.result(timeout=timeout))
    except FuturesTimeout:
        fut.cancel()
        raise _timed_out(timeout, 1) from None
    except Exception as exc:
        raise _failed(exc) from None
    if identity != client_identity:
        raise _mismatch(identity, client_identity)
    return 1


def _preflight_dask(client: Any, client_identity: Identity, timeout: float) -> int:
    """One identity task pinned to each worker of a Dask client."""
    workers = sorted(client.scheduler_info().get("workers", {}))
    if not workers:
        raise ExecutorPreflightError("the Dask cluster has no workers")
    from distributed import wait as dask_wait

    cf = {
        addr: _submit_preflight(client, pure=False, workers=[addr], allow_other_workers=False)
        for addr in workers
    }

    try:
        dask_wait(list(cf.values()), timeout=timeout)
    except (TimeoutError, FuturesTimeout):
        waiting = sum(1 for f in cf.values() if not f.done())
        for f in cf.values():
            f.cancel()
        raise _timed_out(timeout, waiting) from None
    for addr, f in cf.items():
        if f.status == "error":
            raise _failed(f.exception()) from None
        identity = f.result()
        if tuple(identity) != client_identity:
            raise _mismatch(tuple(identity), client_identity, where=f"worker {addr}")
    return len(workers)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def capped_workers(workers: int, n_tasks: int | None = None) -> int:
    """``min(workers, n_tasks, cores)``: a local pool never larger than its work or the machine.

    Raises
    ------
    ValueError
        If ``workers`` is not an integer ``>= 1`` or ``n_tasks`` not None or an integer ``>= 1``.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if n_tasks is not None and (isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or n_tasks < 1):
        raise ValueError(f"n_tasks must be None or an integer >= 1, got {n_tasks!r}")
    cap = available_cores() if n_tasks is None else min(n_tasks, available_cores())
    return min(workers, cap)
