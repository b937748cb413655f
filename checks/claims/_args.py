"""Argument checks shared by every claim check's ``run`` and by :func:`dsb_verifier.checks.runner.run_checks`.

One function, :func:`check_run_arguments`, so that a claim module called directly from
Python refuses a wrong profile, seed, target, executor or progress callback with the same
``ValueError`` as the runner, before anything is computed.
"""

from __future__ import annotations

import numpy as np
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.theory._validation import check_int, distribution

__all__ = ["check_run_arguments"]


def check_run_arguments(
    profile: object,
    seed: object,
    *,
    target: object = None,
    executor: object = None,
    progress: object = None,
) -> int:
    """Refuse ``run`` arguments of the wrong type or value (claims C1–C6), before anything runs.

    Returns
    -------
    int
        ``seed`` as a Python ``int`` (a numpy integer such as ``np.int64(1)`` is
        accepted and converted, so that the reports it ends up in serialise).

    Raises
    ------
    ValueError
        Naming the argument, what was given and what is expected: ``profile`` not a
        :class:`~dsb_verifier.checks.profiles.Profile`; ``seed`` not an integer ``>= 0``;
        ``target`` not one strictly positive distribution of shape ``(2^N,)``; ``executor``
        without a ``submit`` method; ``progress`` not callable.
    """
    if not isinstance(profile, Profile):
        raise ValueError(
            "profile must be a dsb_verifier.checks.profiles.Profile (e.g. get_profile('quick')), "
            f"got {type(profile).__name__} {profile!r}"[:300]
        )
    seed_int = check_int(seed, "seed", minimum=0)
    if target is not None:
        if not isinstance(target, np.ndarray | list | tuple):
            raise ValueError(
                f"target must be None or a distribution array of shape (2^N,), got {type(target).__name__}"
            )
        q, _ = distribution(target, "target")
        if q.ndim != 1:
            raise ValueError(f"target must be one distribution of shape (2^N,), got shape {q.shape}")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise ValueError(
            "executor must be None or a concurrent.futures.Executor (with a submit method), "
            f"got {type(executor).__name__}"
        )
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be None or a callable, got {type(progress).__name__}")
    return seed_int
