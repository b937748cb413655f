"""The build configuration ships every subpackage of ``theory/`` and ``checks/``.

The wheel maps ``theory/`` to ``dsb_verifier.theory`` and ``checks/`` to
``dsb_verifier.checks`` (pyproject ``[tool.setuptools] package-dir``); a folder with an
``__init__.py`` that is missing from ``packages`` would be left out of the wheel and the
sdist although an editable install hides it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["tool"]["setuptools"]


def test_every_subpackage_is_listed_for_the_build():
    config = _config()
    mapping = config["package-dir"]
    found = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    assert found == set(config["packages"])


def test_the_import_package_has_a_unique_name():
    assert set(_config()["package-dir"]) == {"dsb_verifier.theory", "dsb_verifier.checks"}
