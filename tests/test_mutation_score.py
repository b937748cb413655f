"""``tests/mutation/score.py``: the sampled mutation score quoted in docs/development.md is computed right."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

_SCRIPT = Path(__file__).parent / "mutation" / "score.py"
_SPEC = importlib.util.spec_from_file_location("mutation_score", _SCRIPT)
assert _SPEC is not None and _SPEC.loader is not None
score = sys.modules.setdefault("mutation_score", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(score)

NAMES = [f"dsb_verifier.theory.dynamics.flow.x_f__mutmut_{i}" for i in range(1, 201)]


def test_sample_is_seeded_nested_in_the_fraction_and_independent_of_input_order():
    small = score.sample_names("theory/flow", NAMES, 0.05, seed=1)
    large = score.sample_names("theory/flow", NAMES[::-1], 0.2, seed=1)
    assert len(small) == 10 and len(large) == 40 and large[:10] == small
    assert score.sample_names("theory/flow", NAMES, 0.05, seed=1) == small
    assert score.sample_names("theory/flow", NAMES, 0.05, seed=2) != small
    assert score.sample_names("theory/stability", NAMES, 0.05, seed=1) != small
    assert len(score.sample_names("m", NAMES[:3], 0.01, seed=1)) == 1  # at least one per module
    for bad in (0.0, -0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="fraction must be in"):
            score.sample_names("m", NAMES, bad, seed=1)


def test_sample_is_uniform_over_the_module():
    hits = np.zeros(len(NAMES))
    index = {n: i for i, n in enumerate(NAMES)}
    for seed in range(400):
        for n in score.sample_names("theory/flow", NAMES, 0.1, seed=seed):
            hits[index[n]] += 1
    # each name is drawn with probability 0.1: 40 expected, binomial sd 6
    assert hits.sum() == 400 * 20 and 15 < hits.min() and hits.max() < 65


def test_exact_module_score_and_counts():
    codes = {n: (1 if i % 4 else 0) for i, n in enumerate(NAMES)}  # 150 killed, 50 survived
    codes[NAMES[1]] = 36  # a timeout counts as killed
    codes[NAMES[2]] = 33  # "no tests" counts against the score
    s = score.module_score("theory/flow", codes, 0.1, seed=0)
    assert s.exact and s.n_scored == 200 and s.n_killed == 149 and s.score == 149 / 200
    assert s.wilson() == (s.score, s.score)


def test_sampled_module_scores_only_its_sample():
    codes: dict[str, int | None] = dict.fromkeys(NAMES, None)
    sample = score.sample_names("theory/flow", NAMES, 0.1, seed=0)
    for i, n in enumerate(sample):
        codes[n] = 0 if i < 5 else 1
    outside = next(n for n in NAMES if n not in sample)
    codes[outside] = 0  # a result outside the sample is not used
    s = score.module_score("theory/flow", codes, 0.1, seed=0)
    assert not s.exact and (s.n_scored, s.n_killed) == (20, 15)
    low, high = s.wilson()
    assert low < 0.75 < high and 0.5 < low and high < 0.9


def test_stratified_estimate_and_interval():
    exact = score.ModuleScore("a", 100, 100, 90, exact=True)
    sampled = score.ModuleScore("b", 300, 30, 24, exact=False)
    est, low, high = score.stratified([exact, sampled])
    assert est == pytest.approx((90 + 300 * 0.8) / 400)
    var = 300**2 * (1 - 30 / 300) * 0.8 * 0.2 / 29
    assert high - est == pytest.approx(score.Z95 * math.sqrt(var) / 400)
    assert est - low == pytest.approx(high - est)
    assert est - low == pytest.approx(high - est)
    assert score.stratified([exact]) == (0.9, 0.9, 0.9)
    with pytest.raises(ValueError, match="no sampled mutant has a result"):
        score.stratified([exact, score.ModuleScore("c", 10, 0, 0, exact=False)])
    with pytest.raises(ValueError, match="no mutants to score"):
        score.stratified([])


def test_command_line_reads_meta_files(tmp_path, capsys):
    (tmp_path / "theory").mkdir()
    done = {n: 1 for n in NAMES[:10]}
    (tmp_path / "theory" / "done.py.meta").write_text(json.dumps({"exit_code_by_key": done}))
    todo = dict.fromkeys(NAMES, None)
    sample = score.sample_names("theory/todo", NAMES, 0.05, seed=3)
    todo[sample[0]] = 1
    todo[sample[1]] = 0
    (tmp_path / "theory" / "todo.py.meta").write_text(json.dumps({"exit_code_by_key": todo}))
    args = ["--root", str(tmp_path), "--fraction", "0.05", "--seed", "3"]
    assert score.main(["pending", *args]) == 0
    assert capsys.readouterr().out.split() == sample[1:]  # the survivor is re-run, the kill is not
    for n in sample[2:]:
        todo[n] = 1
    (tmp_path / "theory" / "todo.py.meta").write_text(json.dumps({"exit_code_by_key": todo}))
    assert score.main(["score", *args]) == 0
    table = capsys.readouterr().out
    assert "| theory/done | 10 | 10 | 10 | 100.0% | exact |" in table
    assert "| theory/todo | 200 | 10 | 9 | 90.0% |" in table
    assert "| **all** | 210 | 20 | 19 | **90.5%** |" in table
    assert "| **theory/**" not in table  # one folder: no per-folder rows
    with pytest.raises(ValueError, match="no mutmut results"):
        score.read_codes(tmp_path / "missing")


def test_fraction_of_one_module_overrides_the_default(tmp_path, capsys):
    (tmp_path / "theory").mkdir()
    for name in ("a", "b"):
        (tmp_path / "theory" / f"{name}.py.meta").write_text(
            json.dumps({"exit_code_by_key": dict.fromkeys(NAMES, None)})
        )
    args = ["pending", "--root", str(tmp_path), "--fraction", "0.05", "--seed", "3"]
    assert score.main([*args, "--fraction-of", "theory/b=0.01"]) == 0
    out = capsys.readouterr().out.split()
    expected = score.sample_names("theory/a", NAMES, 0.05, 3) + score.sample_names("theory/b", NAMES, 0.01, 3)
    assert out == expected and len(out) == 10 + 2
    with pytest.raises(ValueError, match="no module 'theory/c'"):
        score.main([*args, "--fraction-of", "theory/c=0.5"])


def test_table_adds_one_row_per_top_level_folder_when_there_are_several():
    rows = [
        score.ModuleScore("theory/a", 100, 100, 90, exact=True),
        score.ModuleScore("checks/b", 300, 30, 24, exact=False),
    ]
    table = score._table(rows)
    assert "| **checks/** | 300 | 30 | 24 | **80.0%** |" in table
    assert "| **theory/** | 100 | 100 | 90 | **90.0%** | 90.0% – 90.0% |" in table
    assert table.splitlines()[-1].startswith("| **all** | 400 | 130 | 114 | **82.5%** |")
