"""Score a mutmut run on all of ``theory/`` and ``checks/`` from a seeded random sample.

Running every mutant of the scope takes days of CPU on two cores (mutmut's own estimate
from the statistics run: ~96 core-hours if every mutant survived), so the score of a module
that has not been run completely is *estimated* from a uniform random sample of its
mutants. Each module is one stratum:

* a module whose mutants all have a result is scored exactly;
* otherwise the sample is the first ``ceil(fraction * n)`` mutants of a permutation of the
  module's mutant names drawn from ``numpy.random.default_rng([seed, crc32(module)])``
  (so a larger ``fraction`` with the same seed contains the smaller sample), and the
  module's killed fraction is estimated from the sampled mutants alone, with a Wilson
  95 % interval. Mutants already run before are reused: membership in the sample does not
  depend on their result.

The whole-scope score is the stratified estimate ``sum_m n_m * p_m / sum_m n_m`` with
the normal-approximation interval of a stratified proportion (finite-population
corrected). Killed means mutmut's "killed" or "timeout"; "survived", "no tests" and
"suspicious" count against the score.

Usage (from the repository root, after ``mutmut_run.py run`` has generated ``mutants/``)::

    python tests/mutation/score.py pending --fraction 0.06 --seed 2026   # names to run
    python tests/mutation/score.py score --fraction 0.06 --seed 2026     # Markdown table

``--fraction-of MODULE=F`` (repeatable) samples one module at its own fraction: each
stratum is estimated on its own, so fractions may differ between modules (chosen by cost,
never by results).

``pending`` prints the sampled mutants without a result or whose last result was
"survived" (tests added since may kill them), one per line, for
``mutmut_run.py run $(python tests/mutation/score.py pending ...)``.
"""

from __future__ import annotations

import argparse
import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: mutmut exit codes that count as a killed mutant (killed, internal error, timeouts).
KILLED_CODES = frozenset({1, 3, 36, 24, -24, 152, 255})
#: Exit code mutmut records for a mutant that survived its tests.
SURVIVED_CODE = 0
#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class ModuleScore:
    """Mutation score of one module (one stratum).

    Attributes
    ----------
    module : str
        Path of the source module below the repository root, without ``.py``.
    n_mutants : int
        Number of mutants mutmut generated for the module.
    n_scored : int
        Mutants with a result that the score uses (all of them if ``exact``).
    n_killed : int
        Killed (or timed out) among the scored mutants.
    exact : bool
        True if every mutant of the module has a result (no sampling).
    """

    module: str
    n_mutants: int
    n_scored: int
    n_killed: int
    exact: bool

    @property
    def score(self) -> float:
        """Killed fraction of the scored mutants (``nan`` if none scored)."""
        return self.n_killed / self.n_scored if self.n_scored else math.nan

    def wilson(self) -> tuple[float, float]:
        """Wilson 95 % interval of the module's score (a point if ``exact``)."""
        if self.exact:
            return (self.score, self.score)
        n, k = self.n_scored, self.n_killed
        if n == 0:
            return (0.0, 1.0)
        p = k / n
        centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
        return (max(0.0, centre - half), min(1.0, centre + half))


def sample_names(module: str, names: Sequence[str], fraction: float, seed: int) -> list[str]:
    """The seeded uniform sample of a module's mutant names.

    Parameters
    ----------
    module : str
        Module path (mixed into the seed, so modules get independent permutations).
    names : sequence of str
        All mutant names of the module.
    fraction : float
        Sampled fraction in (0, 1]; at least one mutant is sampled from a non-empty module.
    seed : int
        Seed of the permutation.

    Returns
    -------
    list of str
        ``ceil(fraction * len(names))`` names; nested in ``fraction`` for a fixed seed.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    ordered = sorted(names)
    rng = np.random.default_rng([seed, zlib.crc32(module.encode())])
    order = rng.permutation(len(ordered))
    take = math.ceil(fraction * len(ordered))
    return [ordered[i] for i in order[:take]]


def module_score(module: str, codes: Mapping[str, int | None], fraction: float, seed: int) -> ModuleScore:
    """Score one module from its mutants' exit codes (exactly if all have one)."""
    if all(code is not None for code in codes.values()):
        scored = list(codes)
        exact = True
    else:
        scored = [n for n in sample_names(module, list(codes), fraction, seed) if codes[n] is not None]
        exact = False
    killed = sum(codes[n] in KILLED_CODES for n in scored)
    return ModuleScore(module, len(codes), len(scored), killed, exact)


def stratified(scores: Sequence[ModuleScore]) -> tuple[float, float, float]:
    """Whole-scope score estimate and its 95 % interval, ``(estimate, low, high)``.

    Exact strata contribute no variance; a sampled stratum of ``n`` mutants with ``s``
    scored contributes ``n^2 (1 - s/n) p (1 - p) / (s - 1)`` (finite-population corrected).
    """
    total = sum(s.n_mutants for s in scores)
    if total == 0:
        raise ValueError("no mutants to score: run mutmut first (mutants/ is empty)")
    estimate = 0.0
    variance = 0.0
    for s in scores:
        if s.n_scored == 0:
            raise ValueError(f"module {s.module}: no sampled mutant has a result yet; run `pending` first")
        estimate += s.n_mutants * s.score
        if not s.exact and s.n_scored > 1:
            p = s.score
            variance += s.n_mutants**2 * (1 - s.n_scored / s.n_mutants) * p * (1 - p) / (s.n_scored - 1)
    estimate /= total
    half = Z95 * math.sqrt(variance) / total
    return estimate, max(0.0, estimate - half), min(1.0, estimate + half)


def read_codes(root: Path) -> dict[str, dict[str, int | None]]:
    """Exit codes by mutant name, by module, from mutmut's ``*.py.meta`` files under ``root``."""
    out: dict[str, dict[str, int | None]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if codes:
            out[str(meta.relative_to(root))[: -len(".py.meta")]] = codes
    if not out:
        raise ValueError(f"no mutmut results under {root}: run tests/mutation/mutmut_run.py run first")
    return out


def _table(scores: Sequence[ModuleScore]) -> str:
    lines = [
        "| module | mutants | scored | killed | score | 95 % interval |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for s in scores:
        low, high = s.wilson()
        interval = "exact" if s.exact else f"{low:.1%} – {high:.1%}"
        lines.append(
            f"| {s.module} | {s.n_mutants} | {s.n_scored} | {s.n_killed} | {s.score:.1%} | {interval} |"
        )
    folders = sorted({s.module.split("/")[0] for s in scores})
    groups = [(f"{f}/", [s for s in scores if s.module.split("/")[0] == f]) for f in folders]
    for label, group in [*(groups if len(groups) > 1 else []), ("all", list(scores))]:
        est, low, high = stratified(group)
        n = sum(s.n_mutants for s in group)
        scored = sum(s.n_scored for s in group)
        killed = sum(s.n_killed for s in group)
        lines.append(f"| **{label}** | {n} | {scored} | {killed} | **{est:.1%}** | {low:.1%} – {high:.1%} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``pending`` (names to run) or ``score`` (Markdown table)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["pending", "score"])
    parser.add_argument("--fraction", type=float, default=0.06)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--root", type=Path, default=Path("mutants"))
    parser.add_argument("--only", default="", help="comma-separated module path prefixes")
    parser.add_argument(
        "--fraction-of",
        action="append",
        default=[],
        metavar="MODULE=F",
        help="sampled fraction of one module (repeatable; the others use --fraction)",
    )
    parser.add_argument(
        "--unrun-only", action="store_true", help="pending: skip sampled survivors (first results only)"
    )
    args = parser.parse_args(argv)
    codes = read_codes(args.root)
    fractions = {m: args.fraction for m in codes}
    for item in args.fraction_of:
        module, _, value = item.partition("=")
        if module not in codes:
            raise ValueError(f"--fraction-of {item!r}: no module {module!r} under {args.root}")
        fractions[module] = float(value)
    prefixes = tuple(p for p in args.only.split(",") if p)
    modules = [m for m in codes if not prefixes or m.startswith(prefixes)]
    if args.command == "pending":
        for m in modules:
            if all(c is not None for c in codes[m].values()):
                continue
            for name in sample_names(m, list(codes[m]), fractions[m], args.seed):
                if codes[m][name] is None or (codes[m][name] == SURVIVED_CODE and not args.unrun_only):
                    print(name)
        return 0
    print(_table([module_score(m, codes[m], fractions[m], args.seed) for m in modules]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
