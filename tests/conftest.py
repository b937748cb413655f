"""Test-suite configuration: hypothesis profiles chosen by ``HYPOTHESIS_PROFILE``.

* ``dev`` (default): 50 random examples per property, quick feedback.
* ``ci``: derandomised (same examples every run), 60 examples, no deadline.
* ``thorough``: 1000 examples per property, for release runs.
* ``mutation``: derandomised, 10 examples, no example database: used by the mutation
  run (``mutmut run``, see docs/development.md), where each test runs once per mutant, so a test
  must be cheap and give the same verdict every time.
"""

import os

import numpy  # noqa: F401  # loads BLAS: threadpoolctl limits only libraries already loaded
import pytest
import scipy.linalg  # noqa: F401  # scipy's wheels carry their own BLAS (numpy 1.26 / scipy 1.11)
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

# One BLAS thread, as in the dsb-verify command: the many small matrix products of the
# suite oversubscribe the cores otherwise. Both numpy's and scipy's BLAS must be loaded first:
# a library loaded later keeps the default thread count (serial and process-pool reports then
# differed in the last bits on the declared minimums).
_BLAS_LIMIT = threadpool_limits(limits=1, user_api="blas")

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "mutation",
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

if "MUTANT_UNDER_TEST" in os.environ:
    # Under mutmut only (it sets the variable, possibly to "", before every test session it
    # starts): import dsb_verifier.theory / .checks as mutmut's top-level copies theory /
    # checks in mutants/, the same module objects, so mutant names match (see
    # tests/mutation/aliases.py and docs/development.md). Before any dsb_verifier import.
    import importlib.util as _ilu
    from pathlib import Path as _Path

    _spec = _ilu.spec_from_file_location(
        "_mutmut_aliases", _Path(__file__).parent / "mutation" / "aliases.py"
    )
    assert _spec is not None and _spec.loader is not None
    _aliases = _ilu.module_from_spec(_spec)
    _spec.loader.exec_module(_aliases)
    _aliases.install("dsb_verifier", ("theory", "checks"), required_dir="mutants")


def pytest_sessionstart(session):
    """Under mutmut, start every test session with empty memo caches.

    mutmut forks each mutant's test run from a process that has already run the tests on
    the original code, so ``functools.cache``'d builders (the sympy derivations of
    ``dsb_verifier.theory.symbolic.effective`` and ``dsb_verifier.theory.symbolic.models``) would hand the mutant results built by
    the original code, and their mutants would survive falsely. Under mutmut the modules
    run under their top-level names (``theory.symbolic.models``; ``dsb_verifier.theory...``
    are aliases of the same objects, tests/mutation/aliases.py), hence the prefix below.
    """
    if not os.environ.get("MUTANT_UNDER_TEST"):
        return
    import sys

    for name, module in list(sys.modules.items()):
        if not name.startswith("theory") or module is None:
            continue
        for obj in list(vars(module).values()):
            clear = getattr(obj, "cache_clear", None)
            if callable(clear) and getattr(obj, "__module__", "").startswith("theory"):
                clear()


@pytest.fixture
def cli_main(capsys):
    """``dsb_verifier.checks.cli.main`` in this process: ``run(*args) -> (exit code, stdout, stderr)``.

    argparse's exits (errors: 2, ``--version``/``--help``: 0) count as returns, as for the
    installed command; the captured output is consumed by each call.
    """
    from dsb_verifier.checks.cli.main import main

    def run(*args: str) -> tuple[object, str, str]:
        try:
            rc: object = main(list(args))
        except SystemExit as exc:
            rc = exc.code
        out, err = capsys.readouterr()
        return rc, out, err

    return run
