r"""Benchmark section ``integral``: exact couplings of an MNIST-sized RBM without enumeration (issue 17).

One checkpoint of a synthetic RBM with ``N = 784`` 0/1 visible and ``M = 500`` 0/1
hidden units (as written by ``rbms`` for MNIST): weights ``W ~ N(0, 0.1^2)``, hidden
biases ``N(0, 1)``, visible biases ``N(-2, 2^2)``. The weight scale is chosen from the
trained files in shared/data/rbms: the N = 64 digits RBM ends with column norms
:math:`\|W_{:\mu}\|` up to 4.9 (weights of std 0.5 over 64 pixels); 0.1 over 784
pixels gives column norms of about 2.8, the same order. Visible biases do not enter
the quadrature (they add to order 1 only).

Rows (each one timed call: wall time by ``time.perf_counter`` and CPU time of the process,
all threads, by ``time.process_time`` — on a shared machine the CPU time is the better
guide; these calls take seconds, so they are not repeated): the quadrature grid; :func:`theory.rbm_fields` (all 784 fields);
:func:`theory.rbm_pairwise` (all 306 936 pairs); :func:`theory.rbm_order_norms` up to
order 3 with :data:`SAMPLES_3` sampled triples (the target: all order-1 and order-2
couplings exact plus the order-3 norm to <= 1 % relative standard error, in <= 60 s
on 2 cores with <= 4 GiB); and :func:`theory.gaussian_mapping_error` (both laws on the
same subsets). Peak memory: one separate call of ``rbm_order_norms`` under
``tracemalloc`` and the process's peak resident set (``ru_maxrss``). ``--max-n`` does
not apply (nothing is enumerated).

Glossary: ``N`` visible units, ``M`` hidden units, ``L`` quadrature nodes per hidden unit.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import numpy as np
from dsb_verifier import theory
from dsb_verifier.theory.rbm.quadrature import quadrature_grid

from benchmarks._harness import Config, SectionResult, fmt_bytes, fmt_time, peak_memory

__all__ = ["M_HIDDEN", "N_VISIBLE", "SAMPLES_3", "WEIGHT_STD", "mnist_sized_rbm", "run"]

N_VISIBLE = 784
M_HIDDEN = 500
#: Standard deviation of the 0/1-unit weights (module docstring).
WEIGHT_STD = 0.1
#: Triples sampled for the order-3 norm. Decided before measuring: the relative standard
#: error of the norm is ``CV(J_S^2) / (2 sqrt(n))``; CV ~ 1.5 measured on a 5000-triple
#: pilot gives ~0.8 % at n = 8000.
SAMPLES_3 = 8000


def mnist_sized_rbm(seed: int) -> theory.RBMParams:
    """The synthetic checkpoint of the module docstring (0/1 visible and hidden units)."""
    rng = np.random.default_rng(seed)
    return theory.RBMParams(
        WEIGHT_STD * rng.standard_normal((N_VISIBLE, M_HIDDEN)),
        -2.0 + 2.0 * rng.standard_normal(N_VISIBLE),
        rng.standard_normal(M_HIDDEN),
        "bernoulli",
        "bernoulli",
    )


def _timed(fn: Any) -> tuple[Any, float]:
    """Result, wall seconds; the CPU seconds of the process (all threads) go to ``_CPU``."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    _CPU.append(time.process_time() - c0)
    return out, time.perf_counter() - t0


#: CPU seconds of the calls timed by :func:`_timed`, in order (a run-local record).
_CPU: list[float] = []


def run(config: Config) -> SectionResult:
    """Time the integral route on one MNIST-sized checkpoint and measure the Gaussian mapping's error."""
    _CPU.clear()
    p = mnist_sized_rbm(config.seed + 17)
    _, c, W = p.spin_parameters()
    grid, t_grid = _timed(lambda: quadrature_grid(c, W, p.hidden, "exact"))
    nodes = np.bincount(grid.unit, minlength=M_HIDDEN)
    _, t_fields = _timed(lambda: theory.rbm_fields(p))
    _, t_pairs = _timed(lambda: theory.rbm_pairwise(p))
    norms, t_norms = _timed(lambda: theory.rbm_order_norms(p, 3, samples=SAMPLES_3, seed=config.seed))
    err, t_err = _timed(lambda: theory.gaussian_mapping_error(p, 3, samples=SAMPLES_3, seed=config.seed))
    peak = peak_memory(lambda: theory.rbm_order_norms(p, 3, samples=SAMPLES_3, seed=config.seed))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cpu = [fmt_time(x) for x in _CPU]
    rows = (
        (
            "quadrature grid",
            fmt_time(t_grid),
            cpu[0],
            f"L = {nodes.mean():.0f} mean, {nodes.max()} max per unit",
        ),
        ("rbm_fields (784)", fmt_time(t_fields), cpu[1], "exact"),
        ("rbm_pairwise (306 936)", fmt_time(t_pairs), cpu[2], "exact"),
        (
            f"rbm_order_norms k<=3 ({SAMPLES_3} triples)",
            fmt_time(t_norms),
            cpu[3],
            f"order-3 rel. stderr {100 * norms.rel_stderr[2]:.2f} %, peak {fmt_bytes(peak)}",
        ),
        ("gaussian_mapping_error k<=3", fmt_time(t_err), cpu[4], "both laws, same subsets"),
    )
    rel = ", ".join(
        f"k={k}: {100 * r:.3g} % (+- {100 * s:.2g})"
        for k, r, s in zip(err.exact.orders, err.rel_error, err.rel_stderr, strict=True)
    )
    summary = (
        f"N = {N_VISIBLE}, M = {M_HIDDEN}, W ~ N(0, {WEIGHT_STD}^2) (0/1 units); "
        f"discretisation bound per coupling <= {grid.error_bound.sum():.1e}",
        "norms ||J_k|| (k = 1, 2, 3): " + ", ".join(f"{x:.4g}" for x in norms.norm),
        "Gaussian mapping, relative error per order ||J^G_k - J_k|| / ||J_k||: " + rel,
        f"target: order 1-2 exact + order-3 norm <= 1 % rel. stderr in <= 60 s and <= 4 GiB: "
        f"{t_norms:.1f} s wall ({_CPU[3]:.1f} s CPU), peak traced {fmt_bytes(peak)}, peak RSS of the process {fmt_bytes(rss)}",
    )
    data = {
        "N": N_VISIBLE,
        "M": M_HIDDEN,
        "weight_std": WEIGHT_STD,
        "nodes_per_unit": {"mean": float(nodes.mean()), "max": int(nodes.max())},
        "error_bound_per_coupling": float(grid.error_bound.sum()),
        "seconds": {
            "grid": t_grid,
            "fields": t_fields,
            "pairwise": t_pairs,
            "order_norms_3": t_norms,
            "gaussian_mapping_error_3": t_err,
        },
        "cpu_seconds": dict(
            zip(
                ("grid", "fields", "pairwise", "order_norms_3", "gaussian_mapping_error_3"), _CPU, strict=True
            )
        ),
        "peak_traced_bytes": peak,
        "peak_rss_bytes": rss,
        "norms": norms.norm.tolist(),
        "norm_stderr": norms.stderr.tolist(),
        "gaussian_rel_error": err.rel_error.tolist(),
        "gaussian_rel_stderr": err.rel_stderr.tolist(),
    }
    return SectionResult(
        name="integral",
        title=f"exact RBM couplings by the integral, N = {N_VISIBLE}, M = {M_HIDDEN}, one checkpoint",
        columns=("step", "wall", "CPU", "notes"),
        rows=rows,
        summary=summary,
        data=data,
    )
