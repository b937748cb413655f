"""Write a :class:`dsb_verifier.checks.runner.Report` as ``report.json``, ``report.md`` and a terminal table."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from dsb_verifier.checks.runner import Report

__all__ = ["verdict_table", "write_report", "markdown"]

_MARK = {"holds": "HOLDS", "fails": "FAILS", "holds-under-conditions": "HOLDS*", "inconclusive": "??"}


def _headline(claim: dict[str, Any]) -> str:
    """One-line summary of a claim's evidence for the table (the check may provide it)."""
    ev = claim["evidence"]
    if "headline" in ev:
        return str(ev["headline"])
    n_ce = len(claim["counterexamples"])
    return f"{n_ce} counterexample(s)" if n_ce else "no counterexample"


def _check_report(report: object) -> None:
    if not isinstance(report, Report):
        raise ValueError(f"report must be a dsb_verifier.checks.runner.Report, got {type(report).__name__}")


def verdict_table(report: Report) -> str:
    """Plain-text verdict table: claim, status, controls caught, seconds, headline."""
    _check_report(report)
    doc = report.to_json()
    rows = [("claim", "status", "controls", "time", "evidence")]
    for c in doc["claims"]:
        ctl = [x for x in doc["controls"] if x["claim"] == c["id"]]
        caught = sum(x["caught"] for x in ctl)
        rows.append(
            (c["id"], c["status"], f"{caught}/{len(ctl)} caught", f"{c['seconds']:.1f}s", _headline(c))
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for r in rows:
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
    lines.insert(1, "-" * min(100, max(len(x) for x in lines)))
    return "\n".join(lines)


def markdown(report: Report) -> str:
    """The human-readable ``report.md``."""
    _check_report(report)
    doc = report.to_json()
    prov = doc["provenance"]
    out = [
        "# dsb-verifier report",
        "",
        f"dsb-verifier {prov['dsb_verifier_version']} · profile `{prov['profile']['name']}` · "
        f"seed {prov['seed']} · commit `{prov['git_commit'] or 'unknown'}` · {prov['wall_seconds']:.1f} s",
        "",
        f"Replay: `{prov['replay']}`",
        "",
        "| claim | status | controls caught | evidence |",
        "|---|---|---|---|",
    ]
    for c in doc["claims"]:
        ctl = [x for x in doc["controls"] if x["claim"] == c["id"]]
        out.append(
            f"| {c['id']} | **{c['status']}** | {sum(x['caught'] for x in ctl)}/{len(ctl)} | "
            + _headline(c).replace("|", "\\|")  # a pipe would end the table cell
            + " |"
        )
    for c in doc["claims"]:
        out += ["", f"## {c['id']} — {c['status']}", "", f"> {c['statement']}", ""]
        out.append("**Conditions.** " + ", ".join(f"{k}: `{v}`" for k, v in c["conditions"].items()))
        out += ["", "**Tolerances.** " + ", ".join(f"{k} = {v:g}" for k, v in c["tolerances"].items())]
        if c["counterexamples"]:
            out += ["", "**Counterexamples** (worst first):", ""]
            for ce in c["counterexamples"][:5]:
                out.append(f"- {ce['description']} — case `{json.dumps(ce['case'])}` (seed {ce['seed']})")
        ctl = [x for x in doc["controls"] if x["claim"] == c["id"]]
        out += ["", "**Negative controls.**", ""]
        for x in ctl:
            mark = "caught" if x["caught"] else "NOT CAUGHT — the check is defective"
            out.append(f"- `{x['name']}`: {x['description']} → reported `{x['observed']}` ({mark})")
        for fig in c["figures"]:
            out += ["", f"![{c['id']}]({fig})"]
        out += [
            "",
            "<details><summary>Evidence (JSON)</summary>",
            "",
            "```json",
            json.dumps(c["evidence"], indent=1)[:20000],
            "```",
            "",
            "</details>",
        ]
    out += ["", "## Provenance", "", "```json", json.dumps(prov, indent=1), "```", ""]
    return "\n".join(out)


def _atomic_write(path: Path, text: str) -> None:
    """Write via a hidden temporary file beside ``path`` and rename: never a partial file.

    The temporary file is created with mode ``0o666`` minus the umask (ordinary
    permissions, unlike :func:`tempfile.mkstemp`'s ``0o600``) and flushed to disk
    before the rename.
    """
    data = text.encode("utf-8", "backslashreplace")  # a lone surrogate (undecodable file name) as \\udcNN
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_report(report: Report, out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir``; returns their paths.

    Both documents are rendered before either is written, so a report that
    cannot be rendered writes nothing. The CLI calls this on the staging folder
    of :func:`dsb_verifier.checks.cli.publish.publish_directory`, which publishes
    the two files together with the figures.

    Raises
    ------
    ValueError
        If ``report`` is not a :class:`~dsb_verifier.checks.runner.Report` or
        ``out_dir`` is not a path.
    """
    _check_report(report)
    if not isinstance(out_dir, str | os.PathLike) or not isinstance(os.fspath(out_dir), str):
        raise ValueError(f"out_dir must be a path (str or os.PathLike), got {type(out_dir).__name__}")
    out_dir = Path(out_dir)
    doc = json.dumps(report.to_json(), indent=1, sort_keys=False, allow_nan=False) + "\n"
    md = markdown(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    j, m = out_dir / "report.json", out_dir / "report.md"
    _atomic_write(j, doc)
    _atomic_write(m, md)
    return j, m
