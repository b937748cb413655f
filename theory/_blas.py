"""One BLAS thread for computations whose last bits must not depend on the thread count.

Multi-threaded BLAS splits large matrix products between threads, and the split changes the
order of floating-point sums: the batched flows of :mod:`~dsb_verifier.theory.dynamics.batch_flow`
(Claim C5's integrator) then differ in the last bits between a process with one BLAS thread
(the ``dsb-verify`` command, its worker processes) and one with several (a library call, a
notebook). :func:`one_blas_thread` pins the count to one for its duration. It is re-entrant:
the limit is set when the first holder enters and lifted when the last one leaves, so that
holders in several threads do not undo each other's limit. Caveat (measured with OpenBLAS
0.3.31): a limit set from a thread other than the main one may not be seen by the main thread
once the main thread has set and restored a limit itself; the guarantee is for calls from the
main thread and for single-threaded processes (``dsb-verify``, its worker processes).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["limit_blas_threads", "one_blas_thread"]

_LOCK = threading.Lock()
_holders = 0
_limiter: Any = None


def limit_blas_threads() -> Any:
    """Limit every BLAS library of numpy and scipy to one thread; returns threadpoolctl's limiter.

    threadpoolctl limits only the libraries already loaded, and numpy's and scipy's wheels
    may each carry their own BLAS (numpy 1.26 / scipy 1.11): both are loaded first.
    ``.restore_original_limits()`` on the result undoes the limit.
    """
    import numpy  # noqa: F401  # BLAS must be loaded for threadpoolctl to find it
    import scipy.linalg  # noqa: F401  # scipy's wheels may carry a BLAS of their own
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with one BLAS thread (re-entrant, thread-safe); the earlier limits come back after."""
    global _holders, _limiter
    with _LOCK:
        if _holders == 0:
            _limiter = limit_blas_threads()
        _holders += 1
    try:
        yield
    finally:
        with _LOCK:
            _holders -= 1
            if _holders == 0:
                _limiter.restore_original_limits()
                _limiter = None
