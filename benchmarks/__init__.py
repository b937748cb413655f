"""Benchmark suite of dsb-verifier: ``python -m benchmarks`` from the repository root.

Each *section* is a function ``run(config: Config) -> SectionResult`` registered
in :data:`SECTIONS`; add a section (models, flows, checks, ...) by writing a
module with such a function and adding one entry here. Shared measurement
machinery (timing, memory, log-log fits, tables) lives in
:mod:`benchmarks._harness`; the command line in :mod:`benchmarks._cli`.

Importing this package runs nothing. Benchmarks report; they never assert timings.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks import (
    batch_flows,
    claim_checks,
    effective,
    extended_cost,
    flows,
    integral,
    models,
    scaling,
    spectrum,
    transform,
)
from benchmarks._harness import Config, SectionResult

__all__ = ["ON_REQUEST", "SECTIONS", "Config", "SectionResult", "main"]

#: Registered sections, run in this order (``--only`` selects a subset).
SECTIONS: dict[str, Callable[[Config], SectionResult]] = {
    "transform": transform.run,
    "effective": effective.run,
    "models": models.run,
    "scaling": scaling.run,
    "spectrum": spectrum.run,
    "flows": flows.run,
    "integral": integral.run,
    "batchflow": batch_flows.run,
    "checks": claim_checks.run,
    "extended": extended_cost.run,
}

#: Sections run only when named with ``--only`` (hours of CPU: not part of the default run).
ON_REQUEST: frozenset[str] = frozenset({"extended"})


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks`` (see :func:`benchmarks._cli.main`)."""
    from benchmarks._cli import main as _main

    return _main(argv)
