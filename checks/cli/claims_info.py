"""``dsb-verify list`` and ``dsb-verify explain CLAIM``: the claims, read from their own modules.

Nothing here restates a check: :func:`claim_list` takes each claim's title from the
first line of its module's docstring, and :func:`explain` prints the module's
docstring (what is checked, the decision rule, the negative controls), its
``STATEMENT``, its ``TOLERANCES`` and the other public constants it exports
(grids, thresholds), with the Sphinx markup reduced to plain text. A claim module
that is rewritten is explained by its new text automatically.
"""

from __future__ import annotations

import importlib
import inspect
import re
from types import ModuleType
from typing import Any

from dsb_verifier.checks.runner import CLAIM_MODULES
from dsb_verifier.checks.verdict import CLAIM_IDS

__all__ = ["claim_id", "claim_list", "claim_title", "explain", "plain"]

_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_TITLE_PREFIX = re.compile(r"^Claim C\d\s*[—–-]+\s*")
#: LaTeX of the docstrings' maths, in plain text (longest names first, so ``\\left`` is not ``\\le``).
_LATEX = {
    r"\top": "T",
    r"\leq": "<=",
    r"\le": "<=",
    r"\geq": ">=",
    r"\ge": ">=",
    r"\ne": "!=",
    r"\|": "|",
    r"\varepsilon": "eps",
    r"\epsilon": "eps",
    r"\theta": "theta",
    r"\lambda": "lambda",
    r"\sigma": "sigma",
    r"\tau": "tau",
    r"\chi": "chi",
    r"\mathrm": "",
    r"\tfrac12": "1/2",
    r"\sim": "~",
    r"\sqrt": "sqrt",
    r"\max": "max",
    r"\min": "min",
    r"\log": "log",
    r"\partial": "d",
    r"\nabla": "grad ",
    r"\cdot": ".",
    r"\;": " ",
    r"\,": " ",
}
_LATEX_RE = re.compile(
    "|".join(
        re.escape(k) + (r"(?![A-Za-z])" if k[-1].isalpha() else "")
        for k in sorted(_LATEX, key=len, reverse=True)
    )
)


def plain(text: str) -> str:
    """Sphinx/numpydoc markup reduced to plain text.

    ``:func:`x``` and ````x```` become ``x``; common LaTeX macros of the maths
    (``\\top``, ``\\le``, ``\\varepsilon``...) become their plain spellings.
    """
    text = _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text))
    return _LATEX_RE.sub(lambda m: _LATEX[m.group(0)], text)


def claim_id(text: str) -> str:
    """The claim id of ``text`` (case-insensitive, e.g. ``c5`` -> ``C5``).

    Raises
    ------
    ValueError
        If ``text`` names no claim, listing the known ids.
    """
    cid = text.strip().upper()
    if cid not in CLAIM_IDS:
        raise ValueError(f"unknown claim {text!r}; expected one of {', '.join(CLAIM_IDS)}")
    return cid


def _module(cid: str) -> ModuleType:
    return importlib.import_module(CLAIM_MODULES[cid])


def claim_title(cid: str) -> str:
    """The first line of claim ``cid``'s module docstring, without its ``Claim Cn —`` prefix."""
    doc = inspect.getdoc(_module(cid)) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else cid
    return plain(_TITLE_PREFIX.sub("", first)).rstrip(".")


def claim_list() -> str:
    """One line per claim: id and title, in report order."""
    return "\n".join(f"{cid}  {claim_title(cid)}" for cid in CLAIM_IDS)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    text = repr(value)
    if hasattr(value, "tolist"):  # numpy arrays: the plain list
        text = repr([float(f"{x:.6g}") for x in value.tolist()]) if value.ndim == 1 else text
    return text if len(text) <= 160 else text[:157] + "..."


def explain(cid: str) -> str:
    """What the check of claim ``cid`` tests and how it decides, from its module (see the module docstring)."""
    cid = claim_id(cid)
    mod = _module(cid)
    doc = plain(inspect.getdoc(mod) or "(this claim module has no docstring)")
    lines = [f"{cid}: {claim_title(cid)}", f"(module {mod.__name__})", ""]
    statement = getattr(mod, "STATEMENT", None)
    if statement:
        lines += ["Statement tested:", f"  {plain(str(statement))}", ""]
    body = doc.split("\n", 1)[1].strip() if "\n" in doc else ""
    if body:
        lines += [body, ""]
    tolerances = getattr(mod, "TOLERANCES", None) or {}
    if tolerances:
        lines.append("Tolerances and thresholds (TOLERANCES):")
        width = max(len(k) for k in tolerances)
        lines += [f"  {k.ljust(width)} = {_value(v)}" for k, v in tolerances.items()]
        lines.append("")
    constants = [
        name
        for name in getattr(mod, "__all__", ())
        if name.isupper()
        and name not in ("STATEMENT", "TOLERANCES")
        and not callable(getattr(mod, name, None))
    ]
    if constants:
        lines.append("Other constants of the check:")
        lines += [f"  {name} = {_value(getattr(mod, name))}" for name in constants]
        lines.append("")
    lines.append("The claims as read: docs/theory.md §5 (§6 open readings, §7 how C5 and C6 are decided).")
    here = theory_doc()
    if here is not None:
        lines.append(f"  (installed with the package: {here})")
    return "\n".join(lines).rstrip() + "\n"


def theory_doc() -> str | None:
    """Path of the installed ``docs/theory.md`` (shipped as ``dsb_verifier.docs``), or None if absent."""
    import importlib.util
    from pathlib import Path

    try:  # a data-only namespace package: its folders, not importlib.resources (flaky there)
        spec = importlib.util.find_spec("dsb_verifier.docs")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        doc = Path(folder) / "theory.md"
        if doc.is_file():
            return str(doc)
    return None
