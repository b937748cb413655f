"""Under mutmut, serve ``dsb_verifier.theory`` / ``dsb_verifier.checks`` as mutmut's copies.

The import package ``dsb_verifier`` has no folder of its own: ``pyproject.toml`` maps
``theory/`` to ``dsb_verifier.theory`` and ``checks/`` to ``dsb_verifier.checks``. mutmut
(3.8.1) copies ``theory/`` and ``checks/`` to ``mutants/theory`` and ``mutants/checks``,
puts ``mutants/`` first on ``sys.path`` and names every mutant after its file path
(``theory/walsh.py`` gives ``theory.walsh.x_wht__mutmut_1``); its trampoline switches a
mutant on only when that prefix equals the running function's ``__module__``. So the
mutated code must run as the top-level modules ``theory.*`` and ``checks.*``, while the
tests import ``dsb_verifier.theory.*`` and ``dsb_verifier.checks.*``.

:class:`AliasFinder`, installed first on ``sys.meta_path``, resolves ``dsb_verifier`` to an
empty package and ``dsb_verifier.<root>[.x]`` to the very module object ``<root>[.x]``
(imported by the ordinary machinery, so from ``mutants/``): one module object under two
names, with its own ``__name__``, ``__spec__`` and ``__file__`` (``theory.walsh``,
``mutants/theory/walsh.py``). Classes, functions and module state are therefore shared, and
mutant names match. ``tests/conftest.py`` installs it when ``MUTANT_UNDER_TEST`` is in
the environment (mutmut sets it before every test session it starts: statistics, clean
run, forced failure, each mutant); a normal test run never installs it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
from collections.abc import Sequence

#: the ``sys.meta_path`` entry's marker, so that installing twice is a no-op even if this
#: file is loaded twice under different module names
MARKER = "_dsb_verifier_mutmut_alias"


class AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import ``package.<root>[.x]`` as the top-level module ``<root>[.x]`` itself.

    Parameters
    ----------
    package : str
        The alias package (``"dsb_verifier"``), served as an empty package with no search path.
    roots : sequence of str
        Top-level packages served below it (``("theory", "checks")``).
    required_dir : str or None
        If given, a served module's file must lie below a folder of this name (``"mutants"``):
        an alias that would resolve to the unmutated source raises ``ImportError`` instead
        of letting every mutant survive silently.
    """

    def __init__(self, package: str, roots: Sequence[str], required_dir: str | None = None) -> None:
        if not package or "." in package:
            raise ValueError(f"package must be a top-level module name, got {package!r}")
        if not roots or any(not r or "." in r for r in roots):
            raise ValueError(f"roots must be top-level module names, got {roots!r}")
        self.package = package
        self.roots = tuple(roots)
        self.required_dir = required_dir
        setattr(self, MARKER, True)

    def _target(self, fullname: str) -> str | None:
        head, _, rest = fullname.partition(".")
        if head != self.package or rest.partition(".")[0] not in self.roots:
            return None
        return rest

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == self.package:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        if self._target(fullname) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if spec.name == self.package:
            module = types.ModuleType(spec.name, "Alias package served by tests/mutation/aliases.py.")
            module.__path__ = []
            return module
        name = self._target(spec.name)
        assert name is not None, spec.name
        module = importlib.import_module(name)
        file = getattr(module, "__file__", None) or ""
        if self.required_dir is not None and self.required_dir not in os.path.normpath(file).split(os.sep):
            raise ImportError(
                f"{spec.name} would alias {name} from {file!r}, which is not below a "
                f"{self.required_dir!r} folder: the mutated copy is not first on sys.path",
                name=spec.name,
            )
        # module_from_spec keeps the module's own __name__, __file__, __path__, __loader__
        # and __package__ (they are set) but replaces __spec__; exec_module puts it back.
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        spec = module.__spec__
        if spec is not None and spec.loader is self and spec.loader_state is not None:
            module.__spec__ = spec.loader_state


def install(package: str, roots: Sequence[str], required_dir: str | None = None) -> AliasFinder | None:
    """Put an :class:`AliasFinder` first on ``sys.meta_path`` (once); return it if new.

    Also clears the import system's negative path caches (``importlib.invalidate_caches``).

    Raises ``RuntimeError`` if ``package`` was already imported the ordinary way: its
    modules would then be distinct objects from the mutated copies.
    """
    if any(getattr(f, MARKER, False) for f in sys.meta_path):
        return None
    loaded = [m for m in sys.modules if m == package or m.startswith(package + ".")]
    if loaded:
        raise RuntimeError(
            f"install the alias finder before importing {package}; already imported: {loaded[:3]}"
        )
    # A sys.path entry that did not exist when first searched (``PYTHONPATH=$PWD/mutants``
    # before mutmut's first run creates mutants/) is cached as "no finder" for the life of
    # the process; forget such entries so the copies are found.
    importlib.invalidate_caches()
    finder = AliasFinder(package, roots, required_dir)
    sys.meta_path.insert(0, finder)
    return finder
