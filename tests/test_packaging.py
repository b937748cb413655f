"""The build configuration ships every subpackage of ``theory/`` and ``checks/``.

The wheel maps ``theory/`` to ``dsb_verifier.theory`` and ``checks/`` to
``dsb_verifier.checks`` (pyproject ``[tool.setuptools] package-dir``); a folder with an
``__init__.py`` that is missing from ``packages`` would be left out of the wheel and the
sdist although an editable install hides it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["tool"]["setuptools"]


def test_every_subpackage_is_listed_for_the_build():
    config = _config()
    mapping = config["package-dir"]
    found = {"dsb_verifier.docs"}  # data only (the cited documents), no __init__.py
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    assert found == set(config["packages"])


def test_the_import_package_has_a_unique_name():
    assert set(_config()["package-dir"]) == {
        "dsb_verifier.theory",
        "dsb_verifier.checks",
        "dsb_verifier.docs",
    }
    assert _config()["package-data"] == {"dsb_verifier.docs": ["theory.md", "api.md"]}


# ---- what the wheel and the sdist carry (.ci/check_dist.py, run by .ci/run on the real build) ----
def _check_dist():
    spec = importlib.util.spec_from_file_location("check_dist", ROOT / ".ci" / "check_dist.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake_wheel(path: Path, drop: str | None = None, requires: str = "mpmath>=1.3") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for tree in ("theory", "checks"):
            for p in (ROOT / tree).rglob("*.py"):
                rel = f"dsb_verifier/{p.relative_to(ROOT).as_posix()}"
                if rel != drop:
                    zf.writestr(rel, "")
        for doc in ("theory.md", "api.md"):
            if f"dsb_verifier/docs/{doc}" != drop:
                zf.writestr(f"dsb_verifier/docs/{doc}", "")
        info = "dsb_verifier-0.dist-info"
        zf.writestr(f"{info}/licenses/LICENSE", "MIT")
        zf.writestr(
            f"{info}/entry_points.txt",
            "[console_scripts]\ndsb-verify = dsb_verifier.checks.cli.main:console_main\n",
        )
        zf.writestr(f"{info}/METADATA", f"Name: dsb-verifier\nRequires-Dist: {requires}\n")
    return path


def test_check_dist_catches_a_missing_module_and_a_runtime_hypothesis(tmp_path):
    cd = _check_dist()
    assert cd.wheel_problems(_fake_wheel(tmp_path / "ok.whl")) == []
    bad = _fake_wheel(
        tmp_path / "bad.whl", drop="dsb_verifier/theory/models/__init__.py", requires="hypothesis"
    )
    assert cd.wheel_problems(bad) == [
        "wheel lacks dsb_verifier/theory/models/__init__.py",
        "hypothesis is a runtime requirement of the wheel",
        "mpmath is not a runtime requirement of the wheel",
    ]
    no_doc = _fake_wheel(tmp_path / "nodoc.whl", drop="dsb_verifier/docs/theory.md")
    assert cd.wheel_problems(no_doc) == ["wheel lacks dsb_verifier/docs/theory.md"]


def test_check_dist_catches_what_the_sdist_tests_would_miss(tmp_path):
    cd = _check_dist()
    sdist = tmp_path / "dsb_verifier-0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        src = tmp_path / "x"
        src.write_text("")
        tar.add(src, "dsb_verifier-0/README.md")
    problems = cd.sdist_problems(sdist)
    for rel in ("LICENSE", "tests/conftest.py", "tests/bad_inputs/__init__.py", "checks/claims/cases.py"):
        assert f"sdist lacks {rel}" in problems
    assert "sdist lacks README.md" not in problems


@pytest.mark.slow
@pytest.mark.packaging
def test_the_built_wheel_and_sdist_carry_what_they_should(tmp_path):
    pytest.importorskip("build")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(ROOT)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    (sdist,) = tmp_path.glob("*.tar.gz")
    cd = _check_dist()
    assert cd.wheel_problems(wheel) + cd.sdist_problems(sdist) == []


def test_the_checks_import_without_the_test_extra():
    """hypothesis is a test dependency only: no module the command runs may import it."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import importlib\n"
        "from dsb_verifier.checks import runner\n"
        "for name in runner.CLAIM_MODULES.values(): importlib.import_module(name)\n"
        "import dsb_verifier.checks.cli.main, dsb_verifier.checks.cli.effective\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
