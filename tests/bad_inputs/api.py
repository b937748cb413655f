r"""Bad calls of the public :mod:`theory` API, one :class:`ApiCase` each.

Every case names a callable by its dotted path in :mod:`theory` (``"wht"``,
``"RBM.couplings"`` — an unbound method, so the builder passes the instance
first), a builder of its arguments (run lazily, inside the test) and a regular
expression the :class:`ValueError` message must match (``re.search``). The
regexes quote the part of the message that says what is *expected*, not only
what was wrong (house rule 2, docs/development.md).

Glossary: ``N`` spins, ``2^N`` states, ``P`` parameters, ``q`` a target
distribution, ``J`` couplings, ``theta`` model parameters.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from dsb_verifier import theory as T

Args = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass(frozen=True)
class ApiCase:
    """One bad call: ``theory.<func>(*args, **kwargs)`` must raise a matching ``ValueError``.

    Attributes
    ----------
    id
        Short unique name (the pytest id).
    func
        Dotted path inside :mod:`theory`, e.g. ``"kl"`` or ``"RBM.couplings"``.
    build
        Zero-argument callable returning ``(args, kwargs)``.
    match
        Regular expression searched in the message.
    bug
        If set, the library does not refuse this input cleanly yet; the test is a
        strict ``xfail`` with this reason.
    """

    id: str
    func: str
    build: Callable[[], Args] = field(repr=False)
    match: str
    bug: str | None = None


def resolve(func: str) -> Callable[..., Any]:
    """The callable ``theory.<func>`` (dotted paths reach methods).

    A path starting with ``checks.`` names a function of :mod:`dsb_verifier.checks`
    by its module, e.g. ``"checks.runner.run_checks"`` or ``"checks.cli.io.load_samples"``.
    """
    if func.startswith("checks."):
        module, _, name = func.rpartition(".")
        return getattr(importlib.import_module(f"dsb_verifier.{module}"), name)
    obj: Any = T
    for part in func.split("."):
        obj = getattr(obj, part)
    return obj


def _args(*args: Any, **kwargs: Any) -> Callable[[], Args]:
    """A builder for fixed arguments (for inputs cheap and immutable enough to share)."""
    return lambda: (args, kwargs)


def _u(N: int) -> np.ndarray:
    """Uniform distribution over ``2^N`` states."""
    return np.full(2**N, 2.0**-N)


def _with(x: np.ndarray, i: int, v: float) -> np.ndarray:
    y = np.array(x, dtype=np.float64)
    y[i] = v
    return y


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


_POW2 = r"last axis of length 2\^N with N >= 1 \(2, 4, 8, \.\.\.\)"
_REAL = r"must be a real numeric array, got dtype"
_FINITE = r"must be finite; it contains NaN or inf"
_POSITIVE = r"must be strictly positive \(log p must be finite\)"
_SUM1 = r"must sum to 1 along its last axis .*pass normalize=True"

# The RBM used for method cases: N = 3 visible, 2 hidden spins, P = 3 + 2 + 6 = 11.
# Built on first use, not at import (mutation runs trace every library call, and a call
# made while a module is being imported has no source file to trace).
_P = 3 + 2 + 3 * 2


@functools.cache
def _rbm() -> T.RBM:
    model = T.RBM(3, 2)
    assert model.n_params == _P
    return model


def _theta(P: int = _P) -> np.ndarray:
    return np.zeros(P)


def _quick() -> Any:
    from dsb_verifier.checks.profiles import get_profile

    return get_profile("quick")


def _run(*args: Any, **kwargs: Any) -> Callable[[], Args]:
    """Arguments of run_checks with the quick profile first (built lazily)."""
    return lambda: ((_quick(), *args), kwargs)


_CLAIM_LIST = r"claims must be a list or tuple of claim ids among C1, C2, C3, C4, C5, C6"
_CLAIM_IDS = r"claims must be claim ids among C1, C2, C3, C4, C5, C6 \(upper case\)"
_RUN = "checks.runner.run_checks"
_IO = "checks.cli.io"

#: One case per mechanism of issue 16: a string read as a sequence, case and unknown ids,
#: wrong types reaching attribute access, bools and floats coerced to integers, bytes paths.
CHECKS_CASES: list[ApiCase] = [
    # run_checks: claims
    ApiCase("run_checks-claims-string", _RUN, _run(0, "C1"), rf"{_CLAIM_LIST}, got str 'C1' \(parse"),
    ApiCase("run_checks-claims-lower-case", _RUN, _run(0, ["c1"]), rf"{_CLAIM_IDS}, got 'c1'"),
    ApiCase("run_checks-claims-unknown", _RUN, _run(0, ["C7"]), rf"{_CLAIM_IDS}, got 'C7'"),
    ApiCase("run_checks-claims-int", _RUN, _run(0, [1]), rf"{_CLAIM_IDS}, got 1"),
    ApiCase("run_checks-claims-empty", _RUN, _run(0, []), r"claims must name at least one claim id"),
    ApiCase("run_checks-claims-set", _RUN, _run(0, {"C1"}), rf"{_CLAIM_LIST}, got set"),
    ApiCase("run_checks-claims-twice", _RUN, _run(0, ["C1", "C1"]), r"claims must be distinct .*'C1'"),
    # run_checks: profile, seed
    ApiCase(
        "run_checks-profile-name",
        _RUN,
        _args("quick", 0, ["C1"]),
        r"profile must be a dsb_verifier\.checks\.profiles\.Profile .*got str 'quick'",
    ),
    ApiCase("run_checks-seed-bool", _RUN, _run(True, ["C1"]), r"seed must be an integer, got True"),
    ApiCase("run_checks-seed-float", _RUN, _run(1.0, ["C1"]), r"seed must be an integer, got 1\.0"),
    ApiCase("run_checks-seed-negative", _RUN, _run(-1, ["C1"]), r"seed must be an integer >= 0, got -1"),
    ApiCase("run_checks-seed-string", _RUN, _run("0", ["C1"]), r"seed must be an integer, got '0'"),
    # run_checks: out_dir, progress, target, executor (refused before anything runs)
    ApiCase(
        "run_checks-out_dir-bytes",
        _RUN,
        _run(0, ["C3"], out_dir=b"rep"),
        r"out_dir must be None or a path \(str or os\.PathLike\), got bytes",
    ),
    ApiCase(
        "run_checks-out_dir-int",
        _RUN,
        _run(0, ["C3"], out_dir=3),
        r"out_dir must be None or a path \(str or os\.PathLike\), got int",
    ),
    ApiCase(
        "run_checks-progress-string",
        _RUN,
        _run(0, ["C1"], progress="log.txt"),
        r"progress must be None or a callable taking one str, got str",
    ),
    ApiCase(
        "run_checks-target-zero",
        _RUN,
        lambda: ((_quick(), 0, ["C1"]), {"target": np.array([0.5, 0.5, 0.0, 0.0])}),
        rf"target {_POSITIVE}",
    ),
    ApiCase(
        "run_checks-target-length-3",
        _RUN,
        lambda: ((_quick(), 0, ["C1"]), {"target": np.full(3, 1 / 3)}),
        rf"target must have a {_POW2}, got length 3",
    ),
    ApiCase(
        "run_checks-target-unnormalised",
        _RUN,
        lambda: ((_quick(), 0, ["C1"]), {"target": np.full(4, 0.5)}),
        rf"target {_SUM1}",
    ),
    ApiCase(
        "run_checks-target-string",
        _RUN,
        _run(0, ["C1"], target="data.npy"),
        r"target must be None or a distribution array of shape \(2\^N,\), got str",
    ),
    ApiCase(
        "run_checks-target_info-alone",
        _RUN,
        _run(0, ["C1"], target_info={"path": "d"}),
        r"target_info describes a target: give target too, or neither",
    ),
    ApiCase(
        "run_checks-executor-int",
        _RUN,
        _run(0, ["C1"], executor=2),
        r"executor must be None or a concurrent\.futures\.Executor .*got int",
    ),
    # profiles and claim specs: strings expected
    ApiCase(
        "get_profile-list",
        "checks.profiles.get_profile",
        _args(["quick"]),
        r"profile name must be a string, one of quick, thorough, extended; got list \['quick'\]",
    ),
    ApiCase(
        "get_profile-bytes",
        "checks.profiles.get_profile",
        _args(b"quick"),
        r"profile name must be a string, one of quick, thorough, extended; got bytes",
    ),
    ApiCase(
        "Profile-n_cases-string",
        "checks.profiles.Profile",
        _args("p", "12", 6, 4, 3, 3, (0.01, 1.0), (0.1,), 1e4),
        r"Profile\.n_cases must be an integer, got '12'",
    ),
    ApiCase(
        "Profile-n_inits-float",
        "checks.profiles.Profile",
        _args("p", 12, 6, 4, 3, 3.0, (0.01, 1.0), (0.1,), 1e4),
        r"Profile\.n_inits must be an integer, got 3\.0",
    ),
    ApiCase(
        "Profile-init_scales-list",
        "checks.profiles.Profile",
        _args("p", 12, 6, 4, 3, 3, [0.01, 1.0], (0.1,), 1e4),
        r"Profile\.init_scales must be a tuple of real numbers, got \[0\.01, 1\.0\]",
    ),
    ApiCase(
        "Profile-t_max-string",
        "checks.profiles.Profile",
        _args("p", 12, 6, 4, 3, 3, (0.01, 1.0), (0.1,), "1e4"),
        r"Profile\.t_max must be a real number, got '1e4'",
    ),
    ApiCase(
        "parse_claims-list",
        "checks.runner.parse_claims",
        _args(["C1"]),
        r"claims spec must be a comma-separated string such as 'C1,C4' or None, got list",
    ),
    # file readers: paths, columns, checkpoints
    ApiCase(
        "load_samples-bytes-path",
        f"{_IO}.load_samples",
        _args(b"samples.npy"),
        r"path must be a file path \(str or os\.PathLike\), got bytes",
    ),
    ApiCase(
        "load_samples-int-path", f"{_IO}.load_samples", _args(3), r"path must be a file path .*got int 3"
    ),
    ApiCase(
        "load_samples-columns-float",
        f"{_IO}.load_samples",
        _args("missing.npy", columns=(0, 1.5)),
        r"columns must be non-negative integer column indices such as \(0, 3, 5\), got 1\.5",
    ),
    ApiCase(
        "load_samples-columns-bool",
        f"{_IO}.load_samples",
        _args("missing.npy", columns=(True,)),
        r"columns must be non-negative integer column indices .*got True",
    ),
    ApiCase(
        "load_samples-columns-string",
        f"{_IO}.load_samples",
        _args("missing.npy", columns="0,1"),
        r"columns must be None or a tuple of column indices such as \(0, 3, 5\), got str",
    ),
    ApiCase(
        "load_samples-columns-negative",
        f"{_IO}.load_samples",
        _args("missing.npy", columns=[-1]),
        r"columns must be non-negative integer column indices .*got -1",
    ),
    ApiCase(
        "load_rbm-bytes-path", f"{_IO}.load_rbm", _args(b"model.npz"), r"path must be a file path .*got bytes"
    ),
    ApiCase(
        "load_rbm-checkpoint-bool",
        f"{_IO}.load_rbm",
        _args("missing.h5", checkpoint=True),
        r"checkpoint must be an integer, got True",
    ),
    ApiCase(
        "load_rbm-checkpoint-float",
        f"{_IO}.load_rbm",
        _args("missing.h5", checkpoint=1.0),
        r"checkpoint must be an integer, got 1\.0",
    ),
    ApiCase(
        "load_rbm-all-checkpoints-string",
        f"{_IO}.load_rbm",
        _args("missing.h5", all_checkpoints="yes"),
        r"all_checkpoints must be True or False, got 'yes'",
    ),
    ApiCase(
        "load_rbm-units-number",
        f"{_IO}.load_rbm",
        _args("missing.npz", units=1),
        r"units must be None or a string such as 'bernoulli' or 'spin', got 1",
    ),
    ApiCase(
        "parse_columns-superscript",
        f"{_IO}.parse_columns",
        _args("²"),
        r"columns must be comma-separated non-negative integers such as 0,3,5; got '²'",
    ),
    ApiCase(
        "parse_columns-arabic-digit",
        f"{_IO}.parse_columns",
        _args("0,٣"),
        r"columns must be comma-separated non-negative integers such as 0,3,5",
    ),
    ApiCase(
        "parse_columns-list",
        f"{_IO}.parse_columns",
        _args([0, 1]),
        r"columns must be a string such as '0,3,5'",
    ),
    ApiCase(
        "default_pseudo_count-zero",
        f"{_IO}.default_pseudo_count",
        _args(0),
        r"N must be an integer >= 1, got 0",
    ),
    ApiCase(
        "default_pseudo_count-float",
        f"{_IO}.default_pseudo_count",
        _args(3.0),
        r"N must be an integer, got 3\.0",
    ),
    ApiCase(
        "target_from_samples-array",
        f"{_IO}.target_from_samples",
        _args(np.zeros((2, 2), dtype=np.int8)),
        r"samples must be a Samples \(from load_samples\), got ndarray",
    ),
    ApiCase(
        "target_from_samples-underflow",
        f"{_IO}.target_from_samples",
        lambda: ((_samples(),), {"pseudo_count": 5e-324}),
        r"pseudo_count=5e-324 is too small: an unseen state would get probability 0, .*the smallest usable pseudo_count .* is 2\.23e-307",
    ),
    ApiCase(
        "write_report-dict",
        "checks.cli.report.write_report",
        _args({"claims": []}, "rep"),
        r"report must be a dsb_verifier\.checks\.runner\.Report, got dict",
    ),
    ApiCase(
        "verdict_table-none",
        "checks.cli.report.verdict_table",
        _args(None),
        r"report must be a dsb_verifier\.checks\.runner\.Report, got NoneType",
    ),
]


def _samples() -> Any:
    from dsb_verifier.checks.cli.io import Samples

    x = np.array([[0, 1, 1], [1, 0, 1]], dtype=np.int8)
    return Samples(x=x, values="bit", columns=(0, 1, 2), path="s.npy")


CASES: list[ApiCase] = [
    # ---- Walsh transform ------------------------------------------------------
    ApiCase("wht-length-3", "wht", _args(np.ones(3)), rf"f must have a {_POW2}, got length 3"),
    ApiCase("wht-length-1", "wht", _args(np.ones(1)), rf"f must have a {_POW2}, got length 1"),
    ApiCase("wht-empty", "wht", _args(np.array([])), rf"f must have a {_POW2}, got length 0"),
    ApiCase("wht-scalar", "wht", _args(1.0), r"f must have at least 1 dimension\(s\), got shape \(\)"),
    ApiCase("wht-2d-bad-last-axis", "wht", _args(np.ones((4, 3))), r"got length 3"),
    ApiCase("wht-nan", "wht", lambda: ((_with(np.ones(4), 2, np.nan),), {}), rf"f {_FINITE}"),
    ApiCase("wht-inf", "wht", lambda: ((_with(np.ones(4), 0, np.inf),), {}), rf"f {_FINITE}"),
    ApiCase("wht-complex", "wht", _args(np.ones(4, dtype=complex)), rf"f {_REAL} complex128"),
    ApiCase("wht-strings", "wht", _args(np.array(["1", "2", "3", "4"])), rf"f {_REAL} <U1"),
    ApiCase("wht-object", "wht", _args(np.array([1, 2, 3, None], dtype=object)), rf"f {_REAL} object"),
    ApiCase("wht-list-of-strings", "wht", _args(["a", "b"]), rf"f {_REAL} <U1"),
    ApiCase("iwht-length-6", "iwht", _args(np.ones(6)), rf"F must have a {_POW2}, got length 6"),
    ApiCase("iwht-nan", "iwht", lambda: ((_with(np.ones(2), 1, np.nan),), {}), rf"F {_FINITE}"),
    ApiCase("iwht-complex", "iwht", _args(np.ones(2, dtype=complex)), rf"F {_REAL} complex128"),
    ApiCase("iwht-empty", "iwht", _args(np.zeros((3, 0))), rf"F must have a {_POW2}, got length 0"),
    # ---- distributions --------------------------------------------------------
    ApiCase("couplings-zero", "couplings", lambda: ((_with(_u(2), 1, 0.0),), {}), rf"p {_POSITIVE}"),
    ApiCase(
        "couplings-negative", "couplings", lambda: ((np.array([0.5, 0.6, -0.2, 0.1]),), {}), rf"p {_POSITIVE}"
    ),
    ApiCase("couplings-unnormalised", "couplings", lambda: ((2 * _u(3),), {}), rf"p {_SUM1}"),
    ApiCase(
        "couplings-zero-normalize",
        "couplings",
        lambda: ((_with(_u(2), 0, 0.0),), {"normalize": True}),
        rf"p {_POSITIVE}",
    ),
    ApiCase("couplings-nan", "couplings", lambda: ((_with(_u(2), 0, np.nan),), {}), rf"p {_FINITE}"),
    ApiCase(
        "couplings-length-5", "couplings", _args(np.full(5, 0.2)), rf"p must have a {_POW2}, got length 5"
    ),
    ApiCase("couplings-empty", "couplings", _args(np.array([])), rf"p must have a {_POW2}, got length 0"),
    ApiCase("couplings-strings", "couplings", _args(np.array(["0.5", "0.5"])), rf"p {_REAL} <U3"),
    ApiCase("couplings-complex", "couplings", _args(np.full(2, 0.5 + 0j)), rf"p {_REAL} complex128"),
    ApiCase("moments-unnormalised", "moments", lambda: ((0.5 * _u(2),), {}), rf"p {_SUM1}"),
    ApiCase("moments-negative", "moments", _args(np.array([1.5, -0.5])), rf"p {_POSITIVE}"),
    ApiCase("moments-inf", "moments", lambda: ((_with(_u(1), 0, np.inf),), {}), rf"p {_FINITE}"),
    ApiCase("fisher-unnormalised", "fisher", lambda: ((3 * _u(2),), {}), rf"p {_SUM1}"),
    ApiCase("fisher-length-3", "fisher", _args(np.full(3, 1 / 3)), rf"p must have a {_POW2}, got length 3"),
    ApiCase("fisher-batch", "fisher", lambda: ((np.stack([_u(2), _u(2)]),), {}), r"one distribution"),
    ApiCase("fisher-zero", "fisher", lambda: ((_with(_u(2), 3, 0.0),), {}), rf"p {_POSITIVE}"),
    ApiCase("log_prob-length-3", "log_prob", _args(np.zeros(3)), rf"J must have a {_POW2}, got length 3"),
    ApiCase("log_prob-nan", "log_prob", lambda: ((_with(np.zeros(4), 1, np.nan),), {}), rf"J {_FINITE}"),
    ApiCase("log_prob-complex", "log_prob", _args(np.zeros(4, dtype=complex)), rf"J {_REAL} complex128"),
    ApiCase("log_prob-object", "log_prob", _args(np.array([0.0, "x"], dtype=object)), rf"J {_REAL} object"),
    ApiCase("prob-inf", "prob", lambda: ((_with(np.zeros(2), 1, -np.inf),), {}), rf"J {_FINITE}"),
    ApiCase("log_partition-empty", "log_partition", _args(np.zeros(0)), rf"J must have a {_POW2}"),
    ApiCase("loglik-mismatched-N", "loglik", lambda: ((np.zeros(4), _u(3)), {}), r"same N"),
    ApiCase("loglik-q-zero", "loglik", lambda: ((np.zeros(4), _with(_u(2), 2, 0.0)), {}), rf"q {_POSITIVE}"),
    ApiCase("loglik-J-nan", "loglik", lambda: ((_with(np.zeros(4), 0, np.nan), _u(2)), {}), rf"J {_FINITE}"),
    ApiCase("loglik-q-unnormalised", "loglik", lambda: ((np.zeros(4), 2 * _u(2)), {}), rf"q {_SUM1}"),
    ApiCase("kl-mismatched-N", "kl", lambda: ((_u(2), _u(3)), {}), r"same N"),
    ApiCase("kl-p-zero", "kl", lambda: ((_u(2), _with(_u(2), 1, 0.0)), {}), rf"p {_POSITIVE}"),
    ApiCase("kl-q-unnormalised", "kl", lambda: ((2 * _u(2), _u(2)), {}), rf"q {_SUM1}"),
    ApiCase("entropy-zero", "entropy", lambda: ((_with(_u(1), 0, 0.0),), {}), rf"p {_POSITIVE}"),
    ApiCase("entropy-unnormalised", "entropy", lambda: ((0.9 * _u(2),), {}), rf"p {_SUM1}"),
    ApiCase("entropy-strings", "entropy", _args(["0.5", "0.5"]), rf"p {_REAL} <U3"),
    # ---- max-entropy projection ----------------------------------------------
    ApiCase(
        "maxent-order-negative",
        "maxent_projection",
        lambda: ((_u(3), -1), {}),
        r"max_order must be in \[0, N\] = \[0, 3\], got -1",
    ),
    ApiCase(
        "maxent-order-too-big",
        "maxent_projection",
        lambda: ((_u(3), 4), {}),
        r"max_order must be in \[0, N\] = \[0, 3\], got 4",
    ),
    ApiCase(
        "maxent-order-float", "maxent_projection", lambda: ((_u(3), 1.5), {}), r"max_order must be .*integer"
    ),
    ApiCase(
        "maxent-order-bool", "maxent_projection", lambda: ((_u(3), True), {}), r"max_order must be .*integer"
    ),
    ApiCase("maxent-q-unnormalised", "maxent_projection", lambda: ((2 * _u(3), 2), {}), rf"q {_SUM1}"),
    ApiCase("maxent-q-zero", "maxent_projection", lambda: ((_with(_u(3), 0, 0.0), 2), {}), rf"q {_POSITIVE}"),
    ApiCase(
        "maxent-gtol-negative",
        "maxent_projection",
        lambda: ((_u(3), 2), {"gtol": -1.0}),
        r"gtol must be a positive finite number, got -1\.0",
    ),
    # ---- empirical distribution ----------------------------------------------
    ApiCase(
        "empirical-alpha-0",
        "empirical",
        lambda: ((np.array([[0, 1], [1, 1]]),), {"pseudo_count": 0.0}),
        r"pseudo_count must be a positive finite number, got 0\.0",
    ),
    ApiCase(
        "empirical-alpha-nan",
        "empirical",
        lambda: ((np.array([[0, 1]]),), {"pseudo_count": float("nan")}),
        r"pseudo_count must be a positive finite number, got nan",
    ),
    ApiCase(
        "empirical-alpha-string",
        "empirical",
        lambda: ((np.array([[0, 1]]),), {"pseudo_count": "0.1"}),
        r"pseudo_count must be a positive finite number, got '0\.1'",
    ),
    ApiCase(
        "empirical-alpha-bool",
        "empirical",
        lambda: ((np.array([[0, 1]]),), {"pseudo_count": True}),
        r"pseudo_count must be a positive finite number, got True",
    ),
    ApiCase(
        "empirical-alpha-overflow",
        "empirical",
        lambda: ((np.array([[0, 1], [1, 1]]),), {"pseudo_count": 1e308}),
        r"pseudo_count=1e\+308 is too large",
    ),
    ApiCase(
        "empirical-non-binary",
        "empirical",
        lambda: ((np.array([[0, 2], [1, 1]]),), {"pseudo_count": 0.5}),
        r"samples must be all 0/1 or all -1/\+1; found values \[0, 1, 2\]",
    ),
    ApiCase(
        "empirical-mixed",
        "empirical",
        lambda: ((np.array([[0, -1], [1, 1]]),), {"pseudo_count": 0.5}),
        r"samples must be all 0/1 or all -1/\+1",
    ),
    ApiCase(
        "empirical-1d",
        "empirical",
        lambda: ((np.array([0, 1, 1]),), {"pseudo_count": 0.5}),
        r"samples must be a 2-D array \(M samples, N spins\) with M >= 1, got shape \(3,\)",
    ),
    ApiCase(
        "empirical-no-rows",
        "empirical",
        lambda: ((np.zeros((0, 3)),), {"pseudo_count": 0.5}),
        r"samples must be a 2-D array .* with M >= 1, got shape \(0, 3\)",
    ),
    ApiCase(
        "empirical-no-columns",
        "empirical",
        lambda: ((np.zeros((2, 0)),), {"pseudo_count": 0.5}),
        r"number of columns N must be between 1 and 30, got 0",
    ),
    ApiCase(
        "empirical-too-many-columns",
        "empirical",
        lambda: ((np.zeros((2, 40), dtype=np.int8),), {"pseudo_count": 0.5}),
        r"number of columns N must be between 1 and 30, got 40",
    ),
    ApiCase(
        "empirical-values-unknown",
        "empirical",
        lambda: ((np.array([[0, 1]]),), {"pseudo_count": 0.5, "values": "ising"}),
        r"values must be 'auto', 'spin' or 'bit', got 'ising'",
    ),
    ApiCase(
        "empirical-bits-declared-spin",
        "empirical",
        lambda: ((np.array([[0, 1]]),), {"pseudo_count": 0.5, "values": "spin"}),
        r"s must contain only the values \(-1, 1\); found",
    ),
    ApiCase(
        "empirical-strings",
        "empirical",
        lambda: ((np.array([["0", "1"]]),), {"pseudo_count": 0.5}),
        r"samples must be all 0/1 or all -1/\+1",
    ),
    ApiCase(
        "empirical-complex",
        "empirical",
        lambda: ((np.array([[0, 1], [1, 0]], dtype=complex),), {"pseudo_count": 0.5}),
        r"samples must be .*real|got dtype complex",
    ),
    ApiCase(
        "empirical-nan",
        "empirical",
        lambda: ((np.array([[0.0, np.nan]]),), {"pseudo_count": 0.5}),
        r"samples must be all 0/1 or all -1/\+1; found values \[0\.0, nan\]",
    ),
    # ---- bits and spins -------------------------------------------------------
    ApiCase(
        "spins_from_bits-2",
        "spins_from_bits",
        _args(np.array([0, 2])),
        r"x must contain only the values \(0, 1\); found (np\.int64\()?2\b",
    ),
    ApiCase(
        "spins_from_bits-spins",
        "spins_from_bits",
        _args(np.array([-1, 1])),
        r"x must contain only the values \(0, 1\); found (np\.int64\()?-1\b",
    ),
    ApiCase(
        "spins_from_bits-half",
        "spins_from_bits",
        _args([0.5]),
        r"x must contain only the values \(0, 1\); found (np\.float64\()?0\.5",
    ),
    ApiCase(
        "spins_from_bits-nan",
        "spins_from_bits",
        _args([np.nan, 1.0]),
        r"x must contain only the values \(0, 1\); found (np\.float64\()?nan",
    ),
    ApiCase(
        "spins_from_bits-strings",
        "spins_from_bits",
        _args(np.array(["0", "1"])),
        r"x must be a real numeric array of values \(0, 1\), got dtype <U1",
    ),
    ApiCase(
        "spins_from_bits-object",
        "spins_from_bits",
        _args(np.array([0, 1], dtype=object)),
        r"x must be a real numeric array of values \(0, 1\), got dtype object",
    ),
    ApiCase(
        "spins_from_bits-complex",
        "spins_from_bits",
        _args(np.array([0, 1], dtype=complex)),
        r"x must be a real numeric array of values \(0, 1\), got dtype complex128",
    ),
    ApiCase(
        "bits_from_spins-bits",
        "bits_from_spins",
        _args(np.array([0, 1])),
        r"s must contain only the values \(-1, 1\); found (np\.int64\()?0\b",
    ),
    ApiCase(
        "bits_from_spins-object",
        "bits_from_spins",
        _args(np.array([1, None], dtype=object)),
        r"s must be a real numeric array of values \(-1, 1\), got dtype object",
    ),
    ApiCase(
        "bits_from_spins-strings",
        "bits_from_spins",
        _args(["+1", "-1"]),
        r"s must be a real numeric array of values \(-1, 1\), got dtype <U2",
    ),
    ApiCase("state_index-scalar", "state_index", _args(1), r"s must have a last axis over the N spins"),
    ApiCase(
        "state_index-too-wide",
        "state_index",
        _args(np.ones((2, 63), dtype=np.int8)),
        r"state_index supports at most 62 spins, got 63",
    ),
    ApiCase(
        "state_index-bits",
        "state_index",
        _args(np.array([[0, 1]])),
        r"s must contain only the values \(-1, 1\); found (np\.int64\()?0\b",
    ),
    ApiCase(
        "poly_b2s-length-3",
        "polynomial_bits_to_spins",
        _args(np.zeros(3)),
        rf"c must have a {_POW2}, got length 3",
    ),
    ApiCase(
        "poly_b2s-nan",
        "polynomial_bits_to_spins",
        lambda: ((_with(np.zeros(4), 3, np.nan),), {}),
        rf"c {_FINITE}",
    ),
    ApiCase(
        "poly_b2s-complex",
        "polynomial_bits_to_spins",
        _args(np.zeros(2, dtype=complex)),
        rf"c {_REAL} complex128",
    ),
    ApiCase(
        "poly_s2b-length-5",
        "polynomial_spins_to_bits",
        _args(np.zeros(5)),
        rf"J must have a {_POW2}, got length 5",
    ),
    # ---- target generators ----------------------------------------------------
    ApiCase(
        "random_ising-N-0",
        "random_ising",
        lambda: ((0, [0.0, 1.0], _rng()), {}),
        r"N must be between 1 and 30, got 0",
    ),
    ApiCase(
        "random_ising-N-float",
        "random_ising",
        lambda: ((2.0, [0.0, 1.0], _rng()), {}),
        r"N must be an integer number of spins, got 2\.0",
    ),
    ApiCase(
        "random_ising-N-bool",
        "random_ising",
        lambda: ((True, [0.0, 1.0], _rng()), {}),
        r"N must be an integer number of spins, got True",
    ),
    ApiCase(
        "random_ising-N-too-large",
        "random_ising",
        lambda: ((31, [0.0, 1.0], _rng()), {}),
        r"N must be between 1 and 30, got 31",
    ),
    ApiCase(
        "random_ising-order-above-N",
        "random_ising",
        lambda: ((2, {3: 1.0}, _rng()), {}),
        r"scale orders must be integers in \[0, N\] = \[0, 2\], got 3",
    ),
    ApiCase(
        "random_ising-negative-scale",
        "random_ising",
        lambda: ((2, {1: -1.0}, _rng()), {}),
        r"scale for order 1 must be a finite number >= 0, got -1\.0",
    ),
    ApiCase(
        "random_ising-nan-scale",
        "random_ising",
        lambda: ((2, [0.0, np.nan], _rng()), {}),
        r"scale for order 1 must be a finite number >= 0, got nan",
    ),
    ApiCase(
        "random_ising-too-many-scales",
        "random_ising",
        lambda: ((2, [0.0, 1.0, 1.0, 1.0], _rng()), {}),
        r"scales has 4 entries but orders only go up to N=2"
        r"|scale orders must be integers in \[0, N\] = \[0, 2\], got 3",
    ),
    ApiCase(
        "random_ising-seed-not-rng",
        "random_ising",
        lambda: ((2, [0.0, 1.0], 0), {}),
        r"rng must be a numpy\.random\.Generator",
    ),
    ApiCase(
        "ising_target-rng-none",
        "ising_target",
        lambda: ((2, [0.0, 1.0], None), {}),
        r"rng must be a numpy\.random\.Generator",
    ),
    ApiCase(
        "dirichlet-alpha-0",
        "dirichlet_target",
        lambda: ((3, _rng()), {"alpha": 0.0}),
        r"alpha \(the Dirichlet concentration\) must be a positive finite number, got 0\.0",
    ),
    ApiCase(
        "dirichlet-alpha-inf",
        "dirichlet_target",
        lambda: ((3, _rng()), {"alpha": np.inf}),
        r"alpha \(the Dirichlet concentration\) must be a positive finite number, got inf",
    ),
    ApiCase(
        "dirichlet-floor-too-big",
        "dirichlet_target",
        lambda: ((3, _rng()), {"floor": 0.5}),
        r"floor must be in \(0, 2\^-N\) = \(0, 0\.125\), got 0\.5",
    ),
    ApiCase(
        "dirichlet-floor-0",
        "dirichlet_target",
        lambda: ((3, _rng()), {"floor": 0.0}),
        r"floor must be in \(0, 2\^-N\)",
    ),
    ApiCase(
        "dirichlet-rng-int",
        "dirichlet_target",
        lambda: ((3, 42), {}),
        r"rng must be a numpy\.random\.Generator",
    ),
    ApiCase(
        "dirichlet-N-negative",
        "dirichlet_target",
        lambda: ((-1, _rng()), {}),
        r"N must be between 1 and 30, got -1",
    ),
    ApiCase(
        "k_body-S-0",
        "k_body_target",
        _args(3, 0, 1.0),
        r"S must be a non-empty subset bitmask in \[1, 2\^N\) = \[1, 8\), got 0",
    ),
    ApiCase(
        "k_body-S-too-big",
        "k_body_target",
        _args(3, 8, 1.0),
        r"S must be a non-empty subset bitmask in \[1, 2\^N\) = \[1, 8\), got 8",
    ),
    ApiCase(
        "k_body-beta-nan",
        "k_body_target",
        _args(3, 3, float("nan")),
        r"beta must be a finite real number, got nan",
    ),
    ApiCase(
        "k_body-N-bool",
        "k_body_target",
        _args(True, 1, 1.0),
        r"N must be an integer number of spins, got True",
    ),
    ApiCase(
        "independent-m-1",
        "independent_sites",
        _args([0.2, 1.0]),
        r"magnetisations m must lie strictly inside \(-1, 1\)",
    ),
    ApiCase(
        "independent-m-big",
        "independent_sites",
        _args([1.5]),
        r"magnetisations m must lie strictly inside \(-1, 1\)",
    ),
    ApiCase(
        "independent-m-2d",
        "independent_sites",
        _args([[0.1, 0.2]]),
        r"m must be a vector of N magnetisations, got shape \(1, 2\)",
    ),
    ApiCase(
        "independent-m-empty", "independent_sites", _args([]), r"len\(m\) must be between 1 and 30, got 0"
    ),
    ApiCase("independent-m-nan", "independent_sites", _args([np.nan]), r"m must be finite"),
    ApiCase("independent-m-strings", "independent_sites", _args(["0.1"]), rf"m {_REAL} <U3"),
    # ---- models: constructors -------------------------------------------------
    ApiCase(
        "RBM-n_hidden-0",
        "RBM",
        _args(3, 0),
        r"n_hidden must be a positive integer number of hidden units, got 0",
    ),
    ApiCase(
        "RBM-n_hidden-negative",
        "RBM",
        _args(3, -2),
        r"n_hidden must be a positive integer number of hidden units, got -2",
    ),
    ApiCase(
        "RBM-n_hidden-float",
        "RBM",
        _args(3, 2.0),
        r"n_hidden must be a positive integer number of hidden units, got 2\.0",
    ),
    ApiCase(
        "RBM-n_hidden-bool",
        "RBM",
        _args(3, True),
        r"n_hidden must be a positive integer number of hidden units, got True",
    ),
    ApiCase("RBM-n_visible-0", "RBM", _args(0, 2), r"n_visible must be between 1 and"),
    ApiCase(
        "RBM-n_visible-bool", "RBM", _args(True, 2), r"n_visible must be an integer number of spins, got True"
    ),
    ApiCase(
        "RBM-n_visible-string", "RBM", _args("3", 2), r"n_visible must be an integer number of spins, got '3'"
    ),
    ApiCase("RBM-hidden-unknown", "RBM", _args(3, 2, "ising"), r"hidden must be 'spin' or 'bit'"),
    ApiCase(
        "Tanh-widths-empty",
        "TanhNetwork",
        _args(3, ()),
        r"hidden must be a tuple of one or two positive integer widths",
    ),
    ApiCase(
        "Tanh-width-0",
        "TanhNetwork",
        _args(3, (0,)),
        r"hidden must be a tuple of one or two positive integer widths.*got \(0,\)",
    ),
    ApiCase(
        "Tanh-three-layers",
        "TanhNetwork",
        _args(3, (4, 4, 4)),
        r"hidden must be a tuple of one or two positive integer widths",
    ),
    ApiCase(
        "Tanh-width-int",
        "TanhNetwork",
        _args(3, 8),
        r"hidden must be a tuple of one or two positive integer widths.*got 8",
    ),
    ApiCase(
        "Tanh-width-float",
        "TanhNetwork",
        _args(3, (2.5,)),
        r"hidden must be a tuple of one or two positive integer widths",
    ),
    ApiCase(
        "Tanh-width-bool",
        "TanhNetwork",
        _args(3, (True,)),
        r"hidden must be a tuple of one or two positive integer widths",
    ),
    ApiCase(
        "Tanh-width-string",
        "TanhNetwork",
        _args(3, "8"),
        r"hidden must be a tuple of one or two positive integer widths",
    ),
    ApiCase(
        "Truncated-order-0", "TruncatedIsing", _args(3, 0), r"max_order must be in \[1, N\] = \[1, 3\], got 0"
    ),
    ApiCase(
        "Truncated-order-above-N",
        "TruncatedIsing",
        _args(3, 4),
        r"max_order must be in \[1, N\] = \[1, 3\], got 4",
    ),
    ApiCase(
        "Truncated-order-float",
        "TruncatedIsing",
        _args(3, 2.0),
        r"max_order must be an integer in \[1, 3\], got 2\.0",
    ),
    ApiCase(
        "Truncated-order-bool",
        "TruncatedIsing",
        _args(3, True),
        r"max_order must be an integer in \[1, 3\], got True",
    ),
    ApiCase("Direct-N-too-large", "DirectModel", _args(31), r"n_visible must be between 1 and"),
    # ---- models: methods (theta of P = 11 for RBM(3, 2)) ---------------------
    ApiCase(
        "RBM.couplings-short-theta",
        "RBM.couplings",
        lambda: ((_rbm(), _theta(_P - 1)), {}),
        rf"theta must have last axis of length P={_P}",
    ),
    ApiCase(
        "RBM.couplings-nan-theta",
        "RBM.couplings",
        lambda: ((_rbm(), _with(_theta(), 0, np.nan)), {}),
        r"theta must be finite",
    ),
    ApiCase(
        "RBM.couplings-complex-theta",
        "RBM.couplings",
        lambda: ((_rbm(), _theta().astype(complex)), {}),
        r"theta must be a real numeric array",
    ),
    ApiCase(
        "RBM.couplings-string-theta",
        "RBM.couplings",
        lambda: ((_rbm(), ["0"] * _P), {}),
        r"theta must be a real numeric array",
    ),
    ApiCase(
        "RBM.log_prob-inf-theta",
        "RBM.log_prob",
        lambda: ((_rbm(), _with(_theta(), 3, np.inf)), {}),
        r"theta must be finite",
    ),
    ApiCase(
        "RBM.prob-long-theta",
        "RBM.prob",
        lambda: ((_rbm(), _theta(_P + 1)), {}),
        rf"theta must have last axis of length P={_P}",
    ),
    ApiCase(
        "RBM.jacobian-empty-theta",
        "RBM.jacobian",
        lambda: ((_rbm(), np.zeros(0)), {}),
        rf"theta must have last axis of length P={_P}",
    ),
    ApiCase(
        "RBM.neg_energy-scalar-theta",
        "RBM.neg_energy",
        lambda: ((_rbm(), 0.0), {}),
        r"theta must have at least 1 dimension",
    ),
    ApiCase(
        "RBM.init-rng-int",
        "RBM.init",
        lambda: ((_rbm(), 0, 0.1), {}),
        r"rng must be a numpy\.random\.Generator",
    ),
    ApiCase(
        "RBM.init-scale-negative",
        "RBM.init",
        lambda: ((_rbm(), _rng(), -0.1), {}),
        r"scale must be a finite number >= 0, got -0\.1",
    ),
    ApiCase(
        "RBM.init-scale-nan",
        "RBM.init",
        lambda: ((_rbm(), _rng(), float("nan")), {}),
        r"scale must be a finite number >= 0, got nan",
    ),
    ApiCase(
        "RBM.weighted_hessian-w-length",
        "RBM.weighted_hessian",
        lambda: ((_rbm(), _theta(), np.ones(4)), {}),
        r"w must have shape \(2\^N,\)",
    ),
    ApiCase(
        "RBM.unpack-short",
        "RBM.unpack",
        lambda: ((_rbm(), _theta(3)), {}),
        rf"theta must have last axis of length P={_P}",
    ),
    ApiCase(
        "Tanh.couplings-nan",
        "TanhNetwork.couplings",
        lambda: ((T.TanhNetwork(2, (3,)), np.full(T.TanhNetwork(2, (3,)).n_params, np.nan)), {}),
        r"theta must be finite",
    ),
    ApiCase(
        "Truncated.couplings-short",
        "TruncatedIsing.couplings",
        lambda: ((T.TruncatedIsing(3, 2), np.zeros(3)), {}),
        r"theta must have last axis of length P=6",
    ),
    # ---- flows and likelihood -------------------------------------------------
    ApiCase(
        "integrate_flow-method",
        "integrate_flow",
        lambda: ((_rbm(), _theta(), _u(3)), {"method": "Euler"}),
        r"method must be one of \('RK45', 'DOP853', 'Radau', 'BDF', 'LSODA'\), got 'Euler'",
    ),
    ApiCase(
        "integrate_flow-method-lower",
        "integrate_flow",
        lambda: ((_rbm(), _theta(), _u(3)), {"method": "lsoda"}),
        r"method must be one of .*got 'lsoda'",
    ),
    ApiCase(
        "integrate_flow-t_max-0",
        "integrate_flow",
        lambda: ((_rbm(), _theta(), _u(3)), {"t_max": 0.0}),
        r"t_max must be a positive finite number, got 0",
    ),
    ApiCase(
        "integrate_flow-t_max-nan",
        "integrate_flow",
        lambda: ((_rbm(), _theta(), _u(3)), {"t_max": float("nan")}),
        r"t_max must be a positive finite number, got nan",
    ),
    ApiCase(
        "integrate_flow-t_max-inf",
        "integrate_flow",
        lambda: ((_rbm(), _theta(), _u(3)), {"t_max": np.inf}),
        r"t_max must be a positive finite number, got inf",
    ),
    ApiCase(
        "integrate_flow-t_max-string",
        "integrate_flow",
        lambda: ((_rbm(), _theta(), _u(3)), {"t_max": "10"}),
        r"t_max must be a positive (finite )?number, got '10'",
    ),
    ApiCase(
        "integrate_flow-target-N",
        "integrate_flow",
        lambda: ((_rbm(), _theta(), _u(4)), {}),
        r"target q describes N=4 spins but the model has n_visible=3",
    ),
    ApiCase(
        "integrate_flow-target-unnormalised",
        "integrate_flow",
        lambda: ((_rbm(), _theta(), 2 * _u(3)), {}),
        rf"q {_SUM1}",
    ),
    ApiCase(
        "integrate_flow-theta-length",
        "integrate_flow",
        lambda: ((_rbm(), _theta(5), _u(3)), {}),
        rf"theta0? must have .*P={_P}",
    ),
    ApiCase(
        "integrate_flow-model-string",
        "integrate_flow",
        lambda: (("rbm", _theta(), _u(3)), {}),
        r"model must be a dsb_verifier\.theory\.models\.EnergyModel, got str",
    ),
    ApiCase(
        "integrate_flow-n_checkpoints-0",
        "integrate_flow",
        lambda: ((_rbm(), _theta(), _u(3)), {"n_checkpoints": 0}),
        r"n_checkpoints must be an integer >= 1",
    ),
    ApiCase(
        "integrate_flow-n_checkpoints-bool",
        "integrate_flow",
        lambda: ((_rbm(), _theta(), _u(3)), {"n_checkpoints": True}),
        r"n_checkpoints must be an integer >= 1",
    ),
    ApiCase(
        "gradient_ascent-lr-0",
        "gradient_ascent",
        lambda: ((_rbm(), _theta(), _u(3)), {"lr": 0.0, "n_steps": 5}),
        r"lr must be a positive finite number, got 0",
    ),
    ApiCase(
        "gradient_ascent-lr-negative",
        "gradient_ascent",
        lambda: ((_rbm(), _theta(), _u(3)), {"lr": -0.1, "n_steps": 5}),
        r"lr must be a positive finite number, got -0\.1",
    ),
    ApiCase(
        "gradient_ascent-lr-nan",
        "gradient_ascent",
        lambda: ((_rbm(), _theta(), _u(3)), {"lr": float("nan"), "n_steps": 5}),
        r"lr must be a positive finite number, got nan",
    ),
    ApiCase(
        "gradient_ascent-lr-inf",
        "gradient_ascent",
        lambda: ((_rbm(), _theta(), _u(3)), {"lr": np.inf, "n_steps": 5}),
        r"lr must be a positive finite number, got inf",
    ),
    ApiCase(
        "gradient_ascent-n_steps-negative",
        "gradient_ascent",
        lambda: ((_rbm(), _theta(), _u(3)), {"lr": 0.1, "n_steps": -1}),
        r"n_steps must be an integer >= 0",
    ),
    ApiCase(
        "gradient_ascent-n_steps-float",
        "gradient_ascent",
        lambda: ((_rbm(), _theta(), _u(3)), {"lr": 0.1, "n_steps": 2.5}),
        r"n_steps must be an integer >= 0",
    ),
    ApiCase(
        "gradient_ascent-n_steps-bool",
        "gradient_ascent",
        lambda: ((_rbm(), _theta(), _u(3)), {"lr": 0.1, "n_steps": True}),
        r"n_steps must be an integer >= 0",
    ),
    ApiCase(
        "gradient_ascent-record_every-0",
        "gradient_ascent",
        lambda: ((_rbm(), _theta(), _u(3)), {"lr": 0.1, "n_steps": 5, "record_every": 0}),
        r"record_every must be",
    ),
    ApiCase(
        "exact_hessian-theta-2d",
        "exact_hessian",
        lambda: ((_rbm(), np.zeros((2, _P)), _u(3)), {}),
        r"exact_hessian takes one theta of shape \(P,\)",
    ),
    ApiCase(
        "exact_hessian-q-2d",
        "exact_hessian",
        lambda: ((_rbm(), _theta(), np.stack([_u(3), _u(3)])), {}),
        r"exact_hessian takes one target q of shape \(2\^N,\)",
    ),
    ApiCase(
        "exact_hessian-theta-length",
        "exact_hessian",
        lambda: ((_rbm(), _theta(_P + 2), _u(3)), {}),
        rf"theta must have last axis of length P={_P}",
    ),
    ApiCase(
        "exact_hessian-q-N",
        "exact_hessian",
        lambda: ((_rbm(), _theta(), _u(2)), {}),
        r"target q describes N=2 spins but the model has n_visible=3",
    ),
    ApiCase(
        "grad_loglik-q-nan",
        "grad_loglik",
        lambda: ((_rbm(), _theta(), _with(_u(3), 0, np.nan)), {}),
        rf"q {_FINITE}",
    ),
    ApiCase(
        "residual-model-none",
        "residual",
        lambda: ((None, _theta(), _u(3)), {}),
        r"model must be a dsb_verifier\.theory\.models\.EnergyModel, got NoneType",
    ),
    # ---- non-numbers and bools where numbers are expected --------------------
    # (the house rule of dsb_verifier.theory._validation.check_n and models._check_scale: refuse bools
    # and strings with a ValueError, never compare or cast them)
    ApiCase(
        "empirical-alpha-none",
        "empirical",
        lambda: ((np.array([[0, 1]]),), {"pseudo_count": None}),
        r"pseudo_count must be a positive finite number, got None",
    ),
    ApiCase(
        "k_body-beta-bool",
        "k_body_target",
        _args(3, 3, True),
        r"beta must be (a )?finite.*got True",
    ),
    ApiCase(
        "k_body-beta-string",
        "k_body_target",
        _args(3, 3, "1"),
        r"beta must be (a )?finite.*got '1'",
    ),
    ApiCase(
        "k_body-S-bool",
        "k_body_target",
        _args(3, True, 1.0),
        r"S must be a non-empty subset bitmask .*got True",
    ),
    ApiCase(
        "dirichlet-alpha-bool",
        "dirichlet_target",
        lambda: ((3, _rng()), {"alpha": True}),
        r"alpha \(the Dirichlet concentration\) must be a positive finite number, got True",
    ),
    ApiCase(
        "dirichlet-alpha-string",
        "dirichlet_target",
        lambda: ((3, _rng()), {"alpha": "1"}),
        r"alpha \(the Dirichlet concentration\) must be a positive finite number, got '1'",
    ),
    ApiCase(
        "dirichlet-floor-string",
        "dirichlet_target",
        lambda: ((3, _rng()), {"floor": "x"}),
        r"floor must be a finite real number, got 'x'",
    ),
    ApiCase(
        "random_ising-bool-scale",
        "random_ising",
        lambda: ((3, {1: True}, _rng()), {}),
        r"scale for order 1 must be a finite number >= 0, got True",
    ),
    ApiCase(
        "random_ising-string-scale",
        "random_ising",
        lambda: ((3, {1: "a"}, _rng()), {}),
        r"scale for order 1 must be a finite number >= 0, got 'a'",
    ),
    ApiCase(
        "random_ising-scales-float",
        "random_ising",
        lambda: ((3, 3.0, _rng()), {}),
        r"scales must be a mapping .*or a sequence",
    ),
    ApiCase(
        "maxent-gtol-bool",
        "maxent_projection",
        lambda: ((_u(3), 2), {"gtol": True}),
        r"gtol must be a positive finite number, got True",
    ),
    ApiCase(
        "maxent-gtol-string",
        "maxent_projection",
        lambda: ((_u(3), 2), {"gtol": "a"}),
        r"gtol must be a positive finite number, got 'a'",
    ),
    ApiCase(
        "maxent_fit-max_iter-negative",
        "maxent_fit",
        lambda: ((_u(3), 2), {"max_iter": -1}),
        r"max_iter must be an integer >= 1, got -1",
    ),
    ApiCase(
        "RBM.init-scale-string",
        "RBM.init",
        lambda: ((_rbm(), _rng(), "1"), {}),
        r"scale must be a finite number >= 0, got '1'",
    ),
    ApiCase(
        "couplings-normalize-string",
        "couplings",
        lambda: ((2 * _u(2),), {"normalize": "no"}),
        r"normalize must be True or False",
    ),
    # ---- conventions as arrays ------------------------------------------------
    ApiCase("states-N-0", "states", _args(0), r"N must be between 1 and 30, got 0"),
    ApiCase("states-N-float", "states", _args(3.0), r"N must be an integer number of spins, got 3\.0"),
    ApiCase(
        "hadamard-N-too-large",
        "hadamard",
        _args(24),
        r"needs an estimated .* of memory but only .* is available; use a smaller N",
    ),
    ApiCase(
        "characters-S-out-of-range",
        "characters",
        _args(8, 3),
        r"subset bitmasks S must lie in \[0, 2\^N\) = \[0, 8\)",
    ),
    ApiCase(
        "characters-S-float",
        "characters",
        _args(np.array([1.0]), 3),
        r"S must be integer subset bitmask\(s\), got dtype float64",
    ),
    ApiCase(
        "order_norms-length-3", "order_norms", _args(np.zeros(3)), rf"J must have a {_POW2}, got length 3"
    ),
    # ==== dsb_verifier.checks: every public entry point validates first (issue 16) ====
    *CHECKS_CASES,
]
