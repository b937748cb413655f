"""``tests/mutation/aliases.py``: under mutmut, ``dsb_verifier.<root>.x`` is the module ``<root>.x``.

mutmut names mutants after file paths (``theory.walsh.x_wht__mutmut_1``) and switches one on
only where the running function's ``__module__`` equals that prefix, so the alias must be
the very module object, keeping its own name (docs/development.md, mutation testing).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).parent / "mutation" / "aliases.py"
_SPEC = importlib.util.spec_from_file_location("mutation_aliases", _SCRIPT)
assert _SPEC is not None and _SPEC.loader is not None
aliases = sys.modules.setdefault("mutation_aliases", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(aliases)


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# a package whose __init__ imports its own submodule through the alias name, as
# theory/__init__.py does with ``from dsb_verifier.theory.binary import ...``
TOY = {
    "toyroot/__init__.py": "from toyalias.toyroot.leaf import f\n",
    "toyroot/leaf.py": "def f():\n    return 1\n\nSTATE = []\n",
    "toyroot/sub/__init__.py": "",
    "toyroot/sub/deep.py": "from toyalias.toyroot.leaf import f, STATE\n\ndef g():\n    return f() + 1\n",
}


@pytest.fixture
def isolated_imports(monkeypatch):
    """A private ``sys.meta_path``/``sys.path``; toy modules are forgotten afterwards."""
    monkeypatch.setattr(sys, "meta_path", [f for f in sys.meta_path if not getattr(f, aliases.MARKER, False)])
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.split(".")[0] in ("toyalias", "toyroot", "otheralias"):
            del sys.modules[name]


def test_alias_is_the_same_module_object_with_its_own_name(tmp_path, isolated_imports):
    _write(tmp_path / "mutants", TOY)
    sys.path.insert(0, str(tmp_path / "mutants"))
    finder = aliases.install("toyalias", ("toyroot",), required_dir="mutants")
    assert finder is not None and sys.meta_path[0] is finder
    assert aliases.install("toyalias", ("toyroot",)) is None  # once only

    deep = importlib.import_module("toyalias.toyroot.sub.deep")
    assert deep is sys.modules["toyroot.sub.deep"] is sys.modules["toyalias.toyroot.sub.deep"]
    for name in ("toyroot", "toyroot.leaf", "toyroot.sub"):
        module = sys.modules[name]
        assert sys.modules[f"toyalias.{name}"] is module
        assert module.__name__ == name and module.__spec__.name == name
        assert Path(module.__file__).is_relative_to(tmp_path / "mutants")
    assert deep.g.__module__ == "toyroot.sub.deep" and deep.f.__module__ == "toyroot.leaf"
    assert deep.g() == 2 and deep.STATE is sys.modules["toyroot.leaf"].STATE
    assert sys.modules["toyalias"].toyroot is sys.modules["toyroot"]
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("toyalias.unlisted")


def test_alias_refuses_a_module_outside_the_required_folder(tmp_path, isolated_imports):
    _write(tmp_path / "src", TOY)
    sys.path.insert(0, str(tmp_path / "src"))
    aliases.install("toyalias", ("toyroot",), required_dir="mutants")
    with pytest.raises(ImportError, match="not below a 'mutants' folder"):
        importlib.import_module("toyalias.toyroot.leaf")


def test_install_refuses_an_already_imported_package_and_bad_names(isolated_imports, monkeypatch):
    monkeypatch.setitem(sys.modules, "otheralias.x", object())
    with pytest.raises(RuntimeError, match="before importing otheralias"):
        aliases.install("otheralias", ("x",))
    with pytest.raises(ValueError, match=r"package must be a top-level module name, got 'a\.b'"):
        aliases.AliasFinder("a.b", ("x",))
    with pytest.raises(ValueError, match=r"roots must be top-level module names, got \('x\.y',\)"):
        aliases.AliasFinder("a", ("x.y",))
    with pytest.raises(ValueError, match=r"roots must be top-level module names, got \(\)"):
        aliases.AliasFinder("a", ())


def test_conftest_installs_the_alias_only_under_mutmut():
    installed = [f for f in sys.meta_path if getattr(f, aliases.MARKER, False)]
    walsh = importlib.import_module("dsb_verifier.theory.walsh")
    if "MUTANT_UNDER_TEST" in os.environ:
        assert len(installed) == 1
        assert walsh is sys.modules["theory.walsh"] and walsh.__name__ == "theory.walsh"
        assert "mutants" in Path(walsh.__file__).parts
    else:
        assert installed == []
        assert walsh.__name__ == "dsb_verifier.theory.walsh" and "theory.walsh" not in sys.modules
