"""Every entry of the bad-input corpus (``tests/bad_inputs``) is refused cleanly.

* API entries (:mod:`bad_inputs.api`): a :class:`ValueError` (not another exception,
  not a warning, not a silently accepted value) whose message is one line and
  matches the entry's regex, which quotes what is expected.
* CLI entries (:mod:`bad_inputs.files`): exit code 2, exactly one line on stderr
  matching the entry's regex, no ``Traceback``, nothing on stdout and no output
  left behind (no new path with a component named after the entry's output token,
  ``<id>.out``, nor a hidden temporary file of it). Entries marked
  ``subprocess`` run as real ``python -m dsb_verifier.checks.cli.main`` processes, launched together
  and collected once; the others call :func:`dsb_verifier.checks.cli.main` in-process.

Entries the library does not refuse cleanly yet carry ``bug=...`` and are strict
``xfail``: the corpus documents the defect and notices its fix.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import api, files
from dsb_verifier.checks import runner

REPO = Path(__file__).resolve().parents[1]

#: Longest a refused subprocess may take (a wrongly accepted ``run --claims C1`` takes a few s).
SUBPROCESS_TIMEOUT = 120


def _params(cases, extra_marks=lambda c: ()):
    out = []
    for c in cases:
        marks = list(extra_marks(c))
        if c.bug is not None:
            marks.append(pytest.mark.xfail(strict=True, reason=f"BUG: {c.bug}"))
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


def test_corpus_ids_are_unique():
    for cases in (api.CASES, files.CASES):
        ids = [c.id for c in cases]
        assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    # no output token starts another, so a leftover is attributed to one entry only
    tokens = [c.token for c in files.CASES]
    assert not [(a, b) for a in tokens for b in tokens if a != b and b.startswith(a)]


# ---- API ------------------------------------------------------------------------
@pytest.mark.parametrize("case", _params(api.CASES))
def test_api_refuses(case: api.ApiCase):
    _assert_api_refuses(api.resolve(case.func), case)


def _assert_api_refuses(func, case: api.ApiCase) -> None:
    args, kwargs = case.build()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cast with a warning is not a refusal
        with pytest.raises(ValueError) as info:
            func(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, f"multi-line message: {message!r}"
    assert re.search(case.match, message), f"message {message!r} does not match {case.match!r}"


# ---- CLI ------------------------------------------------------------------------
def _needs_h5(case: files.CliCase):
    if case.hdf5 and files.h5py is None:
        yield pytest.mark.skip(reason="h5py not installed (pip install -e '.[hdf5]')")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, frozenset[str]]:
    """The corpus directory and the paths in it before any command ran."""
    d = tmp_path_factory.mktemp("bad_inputs")
    files.build(d)
    return d, frozenset(_tree(d))


def _tree(d: Path) -> list[str]:
    return [str(p.relative_to(d)) for p in d.rglob("*")]


@pytest.fixture(scope="module")
def subprocess_results(corpus) -> dict[str, tuple[int, str, str]]:
    """Launch every subprocess entry at once (in parallel), then collect them."""
    corpus_dir = corpus[0]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    procs = {}
    for c in files.CASES:
        if c.subprocess and not (c.hdf5 and files.h5py is None):
            procs[c.id] = subprocess.Popen(
                [sys.executable, "-m", "dsb_verifier.checks.cli.main", *c.command()],
                cwd=corpus_dir,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
    results = {}
    for name, p in procs.items():
        try:
            out, err = p.communicate(timeout=SUBPROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            err = f"timed out after {SUBPROCESS_TIMEOUT} s\n{err}"
        results[name] = (p.returncode, out, err)
    return results


def _owned(path: str, token: str) -> bool:
    """Whether a path belongs to the entry of ``token`` (its own name or a hidden temporary file)."""
    return any(part.startswith((token, "." + token)) for part in Path(path).parts)


def _assert_refused(
    corpus: tuple[Path, frozenset[str]], case: files.CliCase, rc: object, out: str, err: str
) -> None:
    d, before = corpus
    assert "Traceback" not in err, err
    assert rc == 2, f"exit code {rc!r}; stderr: {err!r}"
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), f"expected one line on stderr, got {err!r}"
    assert re.search(case.match, lines[0]), f"stderr {lines[0]!r} does not match {case.match!r}"
    assert out == "", f"stdout should be empty, got {out[:200]!r}"
    left = sorted(p for p in _tree(d) if p not in before and _owned(p, case.token))
    assert left == [], f"partial output left behind: {left}"


@pytest.mark.subprocess
@pytest.mark.parametrize("case", _params([c for c in files.CASES if c.subprocess], _needs_h5))
def test_cli_refuses_subprocess(corpus, subprocess_results, case: files.CliCase):
    _assert_refused(corpus, case, *subprocess_results[case.id])


@pytest.mark.parametrize("case", _params([c for c in files.CASES if not c.subprocess], _needs_h5))
def test_cli_refuses_in_process(corpus, monkeypatch, cli_main, case: files.CliCase):
    def accepted(*args, **kwargs):
        raise AssertionError("bad input was accepted: the claim checks started")

    monkeypatch.setattr(runner, "run_checks_into", accepted)  # a wrongly accepted run fails fast
    monkeypatch.chdir(corpus[0])
    rc, out, err = cli_main(*case.command())
    _assert_refused(corpus, case, rc, out, err)


# ---- negative controls of the harness (house rule 5, docs/development.md) ------------------------
def test_harness_rejects_unclean_refusals(tmp_path):
    case = files.CliCase("control", ("run",), r"^dsb-verify: error: bad$")
    corpus = (tmp_path, frozenset())
    ok = (2, "", "dsb-verify: error: bad\n")
    _assert_refused(corpus, case, *ok)
    unclean = [
        (1, "", "dsb-verify: error: bad\n"),  # wrong exit code
        (2, "", "Traceback (most recent call last):\ndsb-verify: error: bad\n"),  # traceback
        (2, "", "dsb-verify: error: bad\nmore\n"),  # two lines
        (2, "partial table", "dsb-verify: error: bad\n"),  # stdout
        (2, "", "dsb-verify: error: worse\n"),  # wrong message
    ]
    for result in unclean:
        with pytest.raises(AssertionError):
            _assert_refused(corpus, case, *result)
    (tmp_path / case.token / "deep").mkdir(parents=True)  # a directory left behind
    with pytest.raises(AssertionError, match="partial output left behind"):
        _assert_refused(corpus, case, *ok)
    (tmp_path / case.token / "deep").rmdir()
    (tmp_path / case.token).rmdir()
    (tmp_path / f".{case.token}.json.x1.tmp").write_text("")  # a temporary file left behind
    with pytest.raises(AssertionError, match="partial output left behind"):
        _assert_refused(corpus, case, *ok)


def test_harness_rejects_wrong_api_refusals():
    case = api.ApiCase("control", "-", lambda: ((), {}), r"must be positive")
    _assert_api_refuses(_raiser(ValueError("x must be positive")), case)
    for func in (
        _raiser(TypeError("x must be positive")),  # wrong type
        _raiser(ValueError("x is wrong;\nit must be positive")),  # two lines
        _raiser(ValueError("x is wrong")),  # does not say what is expected
        lambda: 1.0,  # silently accepted
        lambda: np.array([1 + 1j]).astype(float),  # a cast with a warning
    ):
        with pytest.raises((AssertionError, TypeError, pytest.fail.Exception, np.exceptions.ComplexWarning)):
            _assert_api_refuses(func, case)


def _raiser(exc: Exception):
    def func():
        raise exc

    return func
