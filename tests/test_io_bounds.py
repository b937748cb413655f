"""Bounded reading of user files and undecodable names (issue 16): what is accepted reads the same.

The refusals are in the bad-input corpus (tests/bad_inputs/files.py, ISSUE16_CASES);
here: block-wise and chunk-wise reading give exactly the arrays of a whole read,
compressed text is read by content, a dangling link the reader does not need is
ignored, and a data or model file whose name is not UTF-8 runs to the end.
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest
from dsb_verifier.checks.cli import _readers
from dsb_verifier.checks.cli.io import InputError, load_rbm, load_samples

h5py = pytest.importorskip("h5py")


def _bits(M: int = 500, N: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=(M, N)).astype(np.int8)


def _text(x: np.ndarray) -> bytes:
    return ("# header comment\n" + "".join(" ".join(map(str, r)) + "\n" for r in x)).encode()


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 7 values and chunks of 64 bytes: every file spans many of them."""
    monkeypatch.setattr(_readers, "BLOCK_ELEMENTS", 7)
    monkeypatch.setattr(_readers, "CHUNK_BYTES", 64)


@pytest.mark.parametrize("kind", ["plain", "gzip", "bzip2"])
def test_text_read_in_chunks_equals_the_whole_table(tmp_path, small_blocks, kind):
    x = _bits()
    raw = _text(x)
    data = {"plain": raw, "gzip": gzip.compress(raw), "bzip2": bz2.compress(raw)}[kind]
    path = tmp_path / {"plain": "s.txt", "gzip": "s.txt.gz", "bzip2": "s.dat"}[kind]
    path.write_bytes(data)
    s = load_samples(path)
    np.testing.assert_array_equal(s.x, x)
    assert (s.values, s.columns) == ("bit", tuple(range(5)))


def test_a_bad_value_in_a_late_chunk_is_reported_at_its_row(tmp_path, small_blocks):
    x = _bits().astype(np.int64)
    x[321, 3] = 7
    (tmp_path / "s.txt").write_bytes(_text(x))
    with pytest.raises(InputError, match=r"found 7\.0 at row 321, column 3$"):
        load_samples(tmp_path / "s.txt")


def test_ragged_rows_across_chunks_are_refused(tmp_path, small_blocks):
    lines = _text(_bits()).decode().splitlines(keepends=True)
    lines[400] = "0 1\n"
    (tmp_path / "s.txt").write_text("".join(lines))
    with pytest.raises(InputError, match=r"not a whitespace-separated table of numbers"):
        load_samples(tmp_path / "s.txt")


def test_spins_and_mixed_conventions_are_decided_over_every_block(tmp_path, small_blocks):
    s = 2 * _bits().astype(np.int8) - 1
    np.save(tmp_path / "spins.npy", s)
    assert load_samples(tmp_path / "spins.npy").values == "spin"
    mixed = s.copy()
    mixed[-1, -1] = 0
    np.save(tmp_path / "mixed.npy", mixed)
    with pytest.raises(InputError, match=r"samples mix 0/1 and ±1 values"):
        load_samples(tmp_path / "mixed.npy")


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.int8, np.float64, np.uint16])
def test_npy_read_in_blocks_equals_np_load(tmp_path, small_blocks, order, dtype):
    x = np.asarray(_bits(), dtype=dtype, order=order)
    np.save(tmp_path / "s.npy", x)
    s = load_samples(tmp_path / "s.npy", columns=(4, 0, 2))
    np.testing.assert_array_equal(s.x, np.load(tmp_path / "s.npy")[:, [4, 0, 2]].astype(np.int8))


def test_hdf5_samples_read_in_blocks_equal_the_dataset(tmp_path, small_blocks):
    x = _bits()
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f["samples"] = x
        f["elsewhere"] = h5py.SoftLink("/nowhere")  # not needed: ignored
    np.testing.assert_array_equal(load_samples(tmp_path / "s.h5").x, x)


def test_a_file_larger_than_the_memory_available_is_refused_with_its_size(tmp_path, monkeypatch):
    np.save(tmp_path / "s.npy", _bits(M=1000))
    monkeypatch.setattr(_readers, "_available_bytes", lambda: 1000)
    with pytest.raises(
        InputError, match=r"s\.npy: samples of shape \(1000, 5\) would need 9\.8 KiB of memory but only"
    ):
        load_samples(tmp_path / "s.npy")


def test_a_dangling_link_outside_the_checkpoints_does_not_make_the_file_unreadable(tmp_path):
    rng = np.random.default_rng(1)
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["model_type"] = b"BBRBM"
        g = f.create_group("update_3").create_group("params")
        g["weight_matrix"] = rng.standard_normal((3, 2))
        g["vbias"] = np.zeros(3)
        g["hbias"] = np.zeros(2)
        f["old_run"] = h5py.SoftLink("/deleted")
        f["notes"] = h5py.ExternalLink("missing.h5", "/x")
    src = load_rbm(tmp_path / "m.h5")
    assert src.checkpoints == (3,) and src.n_visible == 3


def test_checkpoint_groups_are_named_with_ascii_digits_only(tmp_path):
    rng = np.random.default_rng(1)
    with h5py.File(tmp_path / "m.h5", "w") as f:
        for name in ("update_3", "update_\uff14", "update_\u0665"):  # fullwidth 4, Arabic-Indic 5
            g = f.create_group(name).create_group("params")
            g["weight_matrix"] = rng.standard_normal((3, 2))
            g["vbias"] = np.zeros(3)
            g["hbias"] = np.zeros(2)
    assert load_rbm(tmp_path / "m.h5").checkpoints == (3,)


def test_a_data_file_named_in_non_utf8_bytes_runs_to_a_report(tmp_path, cli_main):
    name = os.fsdecode(b"s\xff.npy")
    np.save(tmp_path / name, _bits(M=20, N=3))
    out = tmp_path / "rep"
    rc, stdout, err = cli_main("run", "--claims", "C1", "--data", str(tmp_path / name), "--out", str(out))
    assert rc == 0, err
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert doc["provenance"]["user_target"]["path"].endswith("s\\xff.npy")
    assert "s\\xff.npy" in (out / "report.md").read_text(encoding="utf-8")
    assert "s\\xff.npy" in stdout


def test_a_model_named_in_non_utf8_bytes_gets_its_figure(tmp_path, cli_main):
    model = tmp_path / os.fsdecode(b"m\xfe.h5")
    rng = np.random.default_rng(2)
    with h5py.File(model, "w") as f:
        for n in (1, 10, 100):
            g = f.create_group(f"update_{n}").create_group("params")
            g["weight_matrix"] = rng.standard_normal((3, 2))
            g["vbias"] = np.zeros(3)
            g["hbias"] = np.zeros(2)
    out = tmp_path / os.fsdecode(b"n\xfd.json")
    rc, _, err = cli_main("effective", str(model), "--all-checkpoints", "--out", str(out))
    assert rc == 0, err
    assert out.with_suffix(".png").stat().st_size > 0
    assert json.loads(out.read_text())["model"].endswith("m\\xfe.h5")


def test_effective_refuses_couplings_that_overflowed(tmp_path):
    from dsb_verifier.checks.cli import effective
    from dsb_verifier.checks.cli.io import RBMCheckpoints

    np.savez(tmp_path / "m.npz", weight_matrix=np.ones((2, 1)), vbias=np.zeros(2), hbias=np.zeros(1))
    src = load_rbm(tmp_path / "m.npz")
    assert isinstance(src, RBMCheckpoints)
    from dsb_verifier.checks.cli.effective_request import Request

    res = effective.compute(src, Request(method="enumerate"))
    effective._check_finite(res)  # finite: accepted
    res.norms[0, 1] = np.inf
    with pytest.raises(
        InputError, match=r"m\.npz: the per-order norms overflow float64 \(\|weight_matrix\| up to 1\)"
    ):
        effective._check_finite(res)


def test_a_two_gib_file_of_nul_bytes_is_refused_from_its_first_chunk(tmp_path, monkeypatch):
    path = tmp_path / "nul.txt"
    with path.open("wb") as fh:
        fh.truncate(2**31)  # sparse: no disk space
    reads: list[int] = []
    real = _readers._chunks

    def chunks(stream, where):
        for item in real(stream, where):
            reads.append(len(item[1]))
            yield item

    monkeypatch.setattr(_readers, "_chunks", chunks)
    with pytest.raises(
        InputError, match=r"nul\.txt: not a whitespace-separated table of numbers \(binary data"
    ):
        load_samples(path)
    assert reads == []  # refused inside the first chunk, before any line was parsed


def test_every_path_type_the_readers_accept(tmp_path):
    np.save(tmp_path / "s.npy", _bits(M=4, N=2))
    for p in (tmp_path / "s.npy", str(tmp_path / "s.npy")):
        assert load_samples(p).n_samples == 4
    assert isinstance(_readers.check_path(Path("x")), Path)


def test_an_overflow_inside_effective_is_one_line_naming_the_model(tmp_path, monkeypatch, cli_main):
    from dsb_verifier.checks.cli import effective

    np.savez(tmp_path / "m.npz", weight_matrix=np.ones((2, 1)), vbias=np.zeros(2), hbias=np.zeros(1))

    def overflow(*args, **kwargs):
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(effective, "compute", overflow)
    rc, out, err = cli_main("effective", str(tmp_path / "m.npz"), "--out", str(tmp_path / "J.json"))
    assert (rc, out) == (2, "")
    assert err == (
        f"dsb-verify: error: {tmp_path / 'm.npz'}: the computation overflowed float64 "
        "(cannot convert float infinity to integer); the weights are too large\n"
    )
    assert not (tmp_path / "J.json").exists()
