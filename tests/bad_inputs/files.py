r"""Bad ``dsb-verify`` command lines and the small bad files they read.

:func:`build` writes every file of the corpus into a directory (the tests use a
``tmp_path``); :data:`CASES` lists the command lines, with paths relative to
that directory. Every case must be refused with exit code 2, exactly one line on
stderr matching ``match`` (``re.search``), no traceback, nothing on stdout, and
no output left behind.

Output paths. Each case's outputs contain its token ``<id>.out`` (see
:func:`token`): ``run`` cases get ``--out <id>.out/deep/report`` (directories that
do not exist yet) unless they give their own ``--out``; ``effective`` cases get
``--out <id>.out.json`` unless they give their own. After the command, no new path
under the directory may have a component starting with the token (or ``.`` + token):
no output file, no temporary file, no figure, no ``_norms.csv``, no directory created
on the way.

Unwritable outputs use a path below the regular file ``blocker`` (CI runs as
root, so permissions cannot make a directory unwritable).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:  # HDF5 cases need the optional extra; they are skipped without it
    import h5py
except ImportError:  # pragma: no cover - the CI installs the extra
    h5py = None

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class CliCase:
    """One bad command line.

    Attributes
    ----------
    id
        Short unique name (the pytest id; also the output token ``<id>.out``).
    argv
        Arguments after ``python -m dsb_verifier.checks.cli.main``; file names relative to the corpus
        directory, ``{o}`` replaced by the output token.
    match
        Regular expression the one stderr line must match.
    subprocess
        Run as a real ``python -m dsb_verifier.checks.cli.main`` subprocess (else in-process via
        ``dsb_verifier.checks.cli.main``).
    hdf5
        Needs h5py (skipped without it).
    bug
        If set, the command does not refuse the input cleanly yet: strict ``xfail``.
    """

    id: str
    argv: tuple[str, ...]
    match: str
    subprocess: bool = False
    hdf5: bool = False
    bug: str | None = None

    @property
    def token(self) -> str:
        return token(self.id)

    def command(self) -> list[str]:
        """The full argument list, with default outputs added (see the module docstring)."""
        args = [a.replace("{o}", self.token) for a in self.argv]
        if args and args[0] == "run":
            if "--out" not in args:
                args += ["--out", f"{self.token}/deep/report"]
            if "--claims" not in args:
                args += ["--claims", "C1"]  # if the input were wrongly accepted: a short run
        elif args and args[0] == "effective" and "--out" not in args and "npz" not in args:
            args += ["--out", f"{self.token}.json"]
        return args


def token(case_id: str) -> str:
    """The string every output path of the case ``case_id`` contains (never one inside another)."""
    return f"{case_id}.out"


# ---- files ------------------------------------------------------------------
def _rbm_arrays(Nv: int = 4, Nh: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "weight_matrix": 0.3 * rng.standard_normal((Nv, Nh)),
        "vbias": 0.1 * rng.standard_normal(Nv),
        "hbias": 0.1 * rng.standard_normal(Nh),
    }


def _npz(path: Path, **override: object) -> None:
    arrays: dict[str, object] = dict(_rbm_arrays())
    for key, val in override.items():
        if val is None:
            arrays.pop(key)
        else:
            arrays[key] = val
    np.savez(path, **arrays)


def _h5(path: Path, updates: dict[int, tuple[int, int]], *, model_type: bytes | None = b"BBRBM") -> None:
    assert h5py is not None
    with h5py.File(path, "w") as f:
        if model_type is not None:
            f["model_type"] = model_type
        for n, (Nv, Nh) in updates.items():
            g = f.create_group(f"update_{n}").create_group("params")
            for key, val in _rbm_arrays(Nv, Nh, seed=n).items():
                g[key] = val


def build(d: Path) -> None:
    """Write every file the cases read into the directory ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "blocker").write_text("a regular file: nothing can be created below it\n")
    (d / "a-directory").mkdir()
    (d / "empty").write_bytes(b"")
    # RBMs (.npz)
    _npz(d / "good.npz")
    _npz(d / "misnamed.npz", weight_matrix=None, W=np.zeros((4, 3)))
    _npz(d / "no-hbias.npz", hbias=None)
    _npz(d / "vbias-length.npz", vbias=np.zeros(5))
    _npz(d / "hbias-length.npz", hbias=np.zeros(2))
    _npz(d / "weights-1d.npz", weight_matrix=np.zeros(4))
    _npz(d / "potts.npz", weight_matrix=np.zeros((4, 3, 2)))
    _npz(d / "weights-nan.npz", weight_matrix=np.full((4, 3), np.nan))
    _npz(d / "vbias-inf.npz", vbias=np.array([0.0, np.inf, 0.0, 0.0]))
    _npz(d / "weights-complex.npz", weight_matrix=np.zeros((4, 3), dtype=complex))
    _npz(d / "weights-strings.npz", weight_matrix=np.full((4, 3), "0.1"))
    np.savez(
        d / "weights-object.npz",
        weight_matrix=np.array([[0.0, None]], dtype=object),
        vbias=np.zeros(1),
        hbias=np.zeros(2),
    )
    _npz(d / "weights-empty.npz", weight_matrix=np.zeros((0, 3)), vbias=np.zeros(0))
    _npz(d / "big.npz", weight_matrix=np.zeros((40, 2)), vbias=np.zeros(40), hbias=np.zeros(2))
    _npz(d / "units-bad.npz", units=np.str_("potts"))
    _npz(d / "units-number.npz", units=np.array(1.0))
    _npz(d / "units-spin.npz", units=np.str_("spin"))
    good = (d / "good.npz").read_bytes()
    (d / "truncated.npz").write_bytes(good[: len(good) // 2])
    (d / "garbage.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    with zipfile.ZipFile(d / "bad-member.npz", "w") as z:  # a zip whose member is not an .npy
        z.writestr("weight_matrix.npy", b"not an npy header")
        z.writestr("vbias.npy", b"")
        z.writestr("hbias.npy", b"")
    (d / "taken_norms.csv").mkdir()  # the norms file of --out taken.csv cannot be written
    (d / token("out-report-json-is-dir") / "report.json").mkdir(parents=True)
    (d / "model.txt").write_text("0.1 0.2\n0.3 0.4\n")
    # samples
    (d / "nonbinary.txt").write_text("0 1 1\n1 2 0\n")
    (d / "mixed.txt").write_text("0 1 1\n-1 1 1\n")
    (d / "ragged.txt").write_text("0 1 1\n1 0\n")
    (d / "words.txt").write_text("up down\ndown up\n")
    (d / "nan.txt").write_text("0 1\nnan 1\n")
    (d / "inf.txt").write_text("0 1\n1e400 1\n")
    (d / "comments-only.txt").write_text("# no samples here\n")
    (d / "binary-junk.txt").write_bytes(b"\xff\xfe\x00\x01garbage\x80\x81")
    np.save(d / "s-1d.npy", np.array([0, 1, 1], dtype=np.int8))
    np.save(d / "s-3d.npy", np.zeros((2, 2, 2), dtype=np.int8))
    np.save(d / "s-no-rows.npy", np.zeros((0, 3), dtype=np.int8))
    np.save(d / "s-no-cols.npy", np.zeros((3, 0), dtype=np.int8))
    np.save(d / "s-complex.npy", np.array([[0, 1], [1, 0]], dtype=complex))
    np.save(d / "s-strings.npy", np.array([["0", "1"], ["1", "0"]]))
    np.save(d / "s-object.npy", np.array([[0, 1], [1, None]], dtype=object), allow_pickle=True)
    np.save(d / "s-half.npy", np.array([[0.0, 0.5], [1.0, 1.0]]))
    np.save(d / "s-nan.npy", np.array([[0.0, np.nan], [1.0, 1.0]]))
    np.save(d / "wide.npy", np.zeros((5, 21), dtype=np.int8))
    np.save(d / "samples.npy", np.array([[0, 1, 1], [1, 0, 1]], dtype=np.int8))
    sample_bytes = (d / "samples.npy").read_bytes()
    (d / "s-truncated.npy").write_bytes(sample_bytes[: len(sample_bytes) - 3])
    (d / "s-header-only.npy").write_bytes(sample_bytes[:10])
    (d / "corrupt.h5").write_bytes(_HDF5_MAGIC + b"\0" * 100)
    _build_issue16(d)
    if h5py is None:
        return
    _build_issue16_hdf5(d)
    _h5(d / "ck.h5", {0: (4, 3), 5: (4, 3)})
    _h5(d / "shapes-differ.h5", {0: (4, 3), 5: (4, 2)})
    _h5(d / "potts.h5", {1: (4, 3)}, model_type=b"PBRBM")
    _h5(d / "big.h5", {1: (40, 2)})
    with h5py.File(d / "no-updates.h5", "w") as f:
        f["something"] = np.zeros(2)
    with h5py.File(d / "no-hbias.h5", "w") as f:
        g = f.create_group("update_1").create_group("params")
        g["weight_matrix"] = np.zeros((4, 3))
        g["vbias"] = np.zeros(4)
    with h5py.File(d / "hbias-group.h5", "w") as f:
        g = f.create_group("update_1").create_group("params")
        g["weight_matrix"] = np.zeros((4, 3))
        g["vbias"] = np.zeros(4)
        g.create_group("hbias")
    with h5py.File(d / "h5-nan.h5", "w") as f:
        g = f.create_group("update_1").create_group("params")
        g["weight_matrix"] = np.full((4, 3), np.nan)
        g["vbias"] = np.zeros(4)
        g["hbias"] = np.zeros(3)
    with h5py.File(d / "model-type-int.h5", "w") as f:
        f["model_type"] = 3
        g = f.create_group("update_1").create_group("params")
        for key, val in _rbm_arrays().items():
            g[key] = val
    with h5py.File(d / "s-none.h5", "w") as f:
        f["data"] = np.zeros((2, 2))
        f["labels"] = np.zeros(2)
    with h5py.File(d / "s-group.h5", "w") as f:
        f.create_group("samples")
    with h5py.File(d / "s-1d.h5", "w") as f:
        f["samples"] = np.array([0, 1, 1])
    with h5py.File(d / "s-strings.h5", "w") as f:
        f["samples"] = np.array([[b"0", b"1"], [b"1", b"0"]])
    with h5py.File(d / "s-nonbinary.h5", "w") as f:
        f["samples"] = np.array([[0, 3], [1, 0]])


def _npy_header_only(path: Path, shape: tuple[int, ...], descr: str) -> None:
    """An .npy file whose header declares ``shape`` and ``descr`` but that holds no data."""
    with path.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": descr, "fortran_order": False, "shape": shape})


def _build_issue16(d: Path) -> None:
    """Files of issue 16's mechanisms: outputs that are inputs, sizes declared not held, fake compression."""
    import bz2
    import gzip
    import os

    # outputs that are (links to) the input: copies, so that a failure cannot clobber good.npz
    _npz(d / "victim.npz")
    os.link(d / "victim.npz", d / "victim-hard.npz")
    (d / "victim-link.npz").symlink_to("victim.npz")
    # a report folder that holds something else
    (d / "not-a-report").mkdir()
    (d / "not-a-report" / "thesis.tex").write_text("months of work\n")
    # declared sizes the files do not hold
    _npy_header_only(d / "huge-header.npy", (10**12, 3), "|i1")
    _npy_header_only(d / "object-header.npy", (2, 2), "|O")
    np.savez(d / "template.npz", **_rbm_arrays())
    with zipfile.ZipFile(d / "huge-member.npz", "w") as z:
        for key, arr in _rbm_arrays().items():
            if key == "weight_matrix":
                with z.open("weight_matrix.npy", "w") as fh:
                    np.lib.format.write_array_header_1_0(
                        fh, {"descr": "<f8", "fortran_order": False, "shape": (4, 10**12)}
                    )
            else:
                with z.open(f"{key}.npy", "w") as fh:
                    np.lib.format.write_array(fh, arr)
    # text that says it is compressed and is not, or is cut short
    bits = np.random.default_rng(16).integers(0, 2, size=(4000, 3))
    rows = "".join(" ".join(map(str, r)) + "\n" for r in bits).encode()
    (d / "plain.txt.gz").write_bytes(rows)
    (d / "plain.txt.bz2").write_bytes(rows)
    gz, bz = gzip.compress(rows), bz2.compress(rows)
    (d / "cut.txt.gz").write_bytes(gz[: len(gz) // 2])
    (d / "cut.txt.bz2").write_bytes(bz[: len(bz) // 2])
    # binary garbage: a 2 GiB sparse file of NUL bytes (takes no disk space), NULs after text
    with (d / "nul-2gib.txt").open("wb") as fh:
        fh.truncate(2**31)
    (d / "late-nul.txt").write_bytes(b"0 1\n1 0\n" + b"\x00" * 64)
    # huge weights: energies beyond float64
    _npz(d / "weights-1e300.npz", weight_matrix=np.full((4, 3), 1e300))
    _npz(d / "vbias-1e308.npz", vbias=np.full(4, 1e308))
    # a non-UTF-8 file name (bytes 0xff) holding bad samples
    with open(os.fsencode(d) + b"/bad\xff.txt", "wb") as fh:
        fh.write(b"0 1\n2 0\n")


def _build_issue16_hdf5(d: Path) -> None:
    assert h5py is not None
    with h5py.File(d / "huge-samples.h5", "w") as f:
        f.create_dataset("samples", shape=(10**12, 3), dtype="i1", chunks=(1024, 3))
    with h5py.File(d / "unwritten-samples.h5", "w") as f:
        f.create_dataset("samples", shape=(1000, 3), dtype="i1", chunks=(100, 3))
    with h5py.File(d / "huge-weights.h5", "w") as f:
        g = f.create_group("update_1").create_group("params")
        g.create_dataset("weight_matrix", shape=(4, 10**11), dtype="f8", chunks=(4, 1024))
        g["vbias"] = np.zeros(4)
        g["hbias"] = np.zeros(3)
    _h5(d / "update-01.h5", {1: (4, 3)})
    with h5py.File(d / "update-01.h5", "a") as f:
        f.copy("update_1", "update_01")
    _h5(d / "update-huge.h5", {1: (4, 3)})
    with h5py.File(d / "update-huge.h5", "a") as f:
        f.copy("update_1", f"update_{2**64}")
    _h5(d / "model-type-group.h5", {1: (4, 3)}, model_type=None)
    with h5py.File(d / "model-type-group.h5", "a") as f:
        f.create_group("model_type")
    _h5(d / "dangling-update.h5", {1: (4, 3)})
    with h5py.File(d / "dangling-update.h5", "a") as f:
        f["update_2"] = h5py.SoftLink("/nowhere")
    _h5(d / "dangling-param.h5", {1: (4, 3)})
    with h5py.File(d / "dangling-param.h5", "a") as f:
        del f["update_1/params/hbias"]
        f["update_1/params/hbias"] = h5py.SoftLink("/nowhere")
    _h5(d / "victim.h5", {0: (4, 3), 5: (4, 3)})


# ---- cases ------------------------------------------------------------------
def _c(
    id: str, *argv: str, match: str, sub: bool = False, hdf5: bool = False, bug: str | None = None
) -> CliCase:
    return CliCase(id, tuple(argv), match, subprocess=sub, hdf5=hdf5, bug=bug)


_ARGPARSE = r"^dsb-verify( run| effective)?: error: "
_ERR = r"^dsb-verify: error: "

#: One case per root cause of issue 16 (and the neighbours each implies).
ISSUE16_CASES: list[CliCase] = [
    # an output that is an input (through links too) is refused before anything is written
    _c(
        "eff-out-is-model",
        "effective",
        "victim.npz",
        "--format",
        "npz",
        "--out",
        "victim.npz",
        match=_ERR + r"victim\.npz: is the input file victim\.npz; choose another output path",
    ),
    _c(
        "eff-out-is-model-symlink",
        "effective",
        "victim.npz",
        "--format",
        "npz",
        "--out",
        "victim-link.npz",
        match=_ERR + r"victim-link\.npz: is the input file victim\.npz",
    ),
    _c(
        "eff-out-is-model-hard-link",
        "effective",
        "victim.npz",
        "--format",
        "csv",
        "--out",
        "victim-hard.npz",
        match=_ERR + r"victim-hard\.npz: is the input file victim\.npz",
    ),
    _c(
        "eff-out-is-model-dotted",
        "effective",
        "victim.npz",
        "--out",
        "./victim.npz",
        match=_ERR + r"(\./)?victim\.npz: is the input file victim\.npz",
    ),
    _c(
        "eff-figure-is-model",
        "effective",
        "victim.h5",
        "--all-checkpoints",
        "--figure",
        "victim.h5",
        match=_ERR + r"victim\.h5: is the input file victim\.h5",
        hdf5=True,
    ),
    # a run never replaces a folder that is not a report
    _c(
        "out-not-a-report",
        "run",
        "--out",
        "not-a-report",
        match=_ERR + r"cannot write to output directory 'not-a-report': it holds 'thesis\.tex', which is not "
        r"part of a dsb-verify report",
    ),
    # declared sizes are checked before reading
    _c(
        "data-npy-huge-header",
        "run",
        "--data",
        "huge-header.npy",
        match=_ERR + r"huge-header\.npy: not a readable \.npy array \(truncated: the header declares shape "
        r"\(1000000000000, 3\)",
        sub=True,
    ),
    _c(
        "data-npy-object-header",
        "run",
        "--data",
        "object-header.npy",
        match=_ERR + r"object-header\.npy: not a readable \.npy array \(dtype object holds Python objects",
    ),
    _c(
        "data-h5-huge-samples",
        "run",
        "--data",
        "huge-samples.h5",
        match=_ERR + r"huge-samples\.h5: samples of shape \(1000000000000, 3\) would need 5\.5 TiB of memory "
        r"but only .* is available",
        hdf5=True,
        sub=True,
    ),
    _c(
        "data-h5-unwritten-samples",
        "run",
        "--data",
        "unwritten-samples.h5",
        match=_ERR + r"unwritten-samples\.h5: dataset 'samples' declares shape \(1000, 3\) but holds no data",
        hdf5=True,
    ),
    _c(
        "eff-h5-huge-weights",
        "effective",
        "huge-weights.h5",
        match=_ERR
        + r"huge-weights\.h5 \[update_1/params\]: key 'weight_matrix' of shape \(4, 100000000000\) "
        r"would need 2\.9 TiB of memory",
        hdf5=True,
        sub=True,
    ),
    _c(
        "eff-npz-huge-member",
        "effective",
        "huge-member.npz",
        match=_ERR + r"huge-member\.npz: key 'weight_matrix' cannot be read \(truncated: it declares shape "
        r"\(4, 1000000000000\)",
        sub=True,
    ),
    # text in bounded chunks: compression by content, binary data refused at once
    _c(
        "data-gz-not-compressed",
        "run",
        "--data",
        "plain.txt.gz",
        match=_ERR + r"plain\.txt\.gz: the name ends in \.gz but the file is not gzip-compressed",
    ),
    _c(
        "data-bz2-not-compressed",
        "run",
        "--data",
        "plain.txt.bz2",
        match=_ERR + r"plain\.txt\.bz2: the name ends in \.bz2 but the file is not bzip2-compressed",
    ),
    _c(
        "data-gz-truncated",
        "run",
        "--data",
        "cut.txt.gz",
        match=_ERR + r"cut\.txt\.gz: compressed data is truncated or corrupt",
    ),
    _c(
        "data-bz2-truncated",
        "run",
        "--data",
        "cut.txt.bz2",
        match=_ERR + r"cut\.txt\.bz2: compressed data is truncated or corrupt",
    ),
    _c(
        "data-nul-2gib",
        "run",
        "--data",
        "nul-2gib.txt",
        match=_ERR + r"nul-2gib\.txt: not a whitespace-separated table of numbers \(binary data: a NUL byte "
        r"at byte 0\)",
        sub=True,
    ),
    _c(
        "data-late-nul",
        "run",
        "--data",
        "late-nul.txt",
        match=_ERR + r"late-nul\.txt: not a whitespace-separated table of numbers \(binary data: a NUL byte "
        r"at byte 8\)",
    ),
    # checkpoint indices: one index twice, beyond int64; links and groups where data is expected
    _c(
        "eff-h5-update-01-and-1",
        "effective",
        "update-01.h5",
        match=_ERR + r"update-01\.h5: checkpoint groups 'update_01' and 'update_1' both have update index 1",
        hdf5=True,
    ),
    _c(
        "eff-h5-update-above-2-63",
        "effective",
        "update-huge.h5",
        match=_ERR + r"update-huge\.h5: checkpoint group 'update_18446744073709551616' has an update index "
        r"above 2\^63 - 1",
        hdf5=True,
    ),
    _c(
        "eff-checkpoint-above-2-63",
        "effective",
        "ck.h5",
        "--checkpoint",
        str(2**64),
        match=_ERR + r"ck\.h5: no checkpoint update_18446744073709551616; the file has 2 checkpoint\(s\)",
        hdf5=True,
    ),
    _c(
        "eff-h5-model-type-group",
        "effective",
        "model-type-group.h5",
        match=_ERR + r"model-type-group\.h5: model_type must be one string such as 'BBRBM' .*got a group",
        hdf5=True,
    ),
    _c(
        "eff-h5-dangling-update",
        "effective",
        "dangling-update.h5",
        match=_ERR + r"dangling-update\.h5: checkpoint group 'update_2' is a link to nothing \(SoftLink\)",
        hdf5=True,
    ),
    _c(
        "eff-h5-dangling-dataset",
        "effective",
        "dangling-param.h5",
        match=_ERR + r"dangling-param\.h5: update_1/params/ dataset 'hbias' is a link to nothing",
        hdf5=True,
    ),
    # numbers beyond float64 and probabilities that underflow: refused before computing
    _c(
        "eff-weights-1e300",
        "effective",
        "weights-1e300.npz",
        match=_ERR + r"weights-1e300\.npz: weight_matrix is too large \(\|weight_matrix\| up to 1e\+300",
    ),
    _c(
        "eff-vbias-1e308",
        "effective",
        "vbias-1e308.npz",
        match=_ERR + r"vbias-1e308\.npz: vbias is too large",
    ),
    _c(
        "pseudo-count-underflow",
        "run",
        "--data",
        "samples.npy",
        "--pseudo-count",
        "5e-324",
        match=_ERR
        + r"samples\.npy: pseudo_count=5e-324 is too small: an unseen state would get probability 0",
        sub=True,
    ),
    # options: non-ASCII digits; file names that are not UTF-8
    _c(
        "columns-superscript",
        "run",
        "--data",
        "samples.npy",
        "--columns",
        "²",
        match=_ERR + r"columns must be comma-separated non-negative integers such as 0,3,5; got '²'",
    ),
    _c(
        "data-name-not-utf8",
        "run",
        "--data",
        "bad\udcff.txt",
        match=_ERR + r"bad\\xff\.txt: samples must be all 0/1 or all ±1; found 2\.0 at row 1, column 0",
        sub=True,
    ),
]

CASES: list[CliCase] = [
    # ---- parser: unknown options, bad values --------------------------------
    _c("unknown-global-option", "--bogus", match=_ARGPARSE + r"unrecognized arguments: --bogus"),
    _c("unknown-command", "verify", match=_ARGPARSE + r"argument command: invalid choice: 'verify'"),
    _c("run-unknown-option", "run", "--fast", match=_ARGPARSE + r"unrecognized arguments: --fast"),
    _c(
        "run-option-missing-value",
        "run",
        "--seed",
        match=_ARGPARSE + r"argument --seed: expected one argument",
    ),
    _c(
        "effective-unknown-option",
        "effective",
        "good.npz",
        "--maxorder",
        "2",
        match=r"unrecognized arguments: --maxorder 2",
    ),
    _c("effective-no-model", "effective", match=_ARGPARSE + r"the following arguments are required: model"),
    # ---- run: claims, profile, seed, workers ---------------------------------
    _c(
        "claims-unknown",
        "run",
        "--claims",
        "C7",
        match=_ERR + r"unknown claim id\(s\) 'C7'; expected a comma-separated subset of C1,C2",
    ),
    _c(
        "claims-empty",
        "run",
        "--claims",
        "",
        match=_ERR + r"unknown claim id.*expected a comma-separated subset",
    ),
    _c("claims-empty-item", "run", "--claims", "C1,,C2", match=_ERR + r"unknown claim id\(s\) ''; expected"),
    _c(
        "claims-spaces-only",
        "run",
        "--claims",
        " , ",
        match=_ERR + r"unknown claim id.*expected a comma-separated subset",
    ),
    _c("claims-number", "run", "--claims", "1", match=_ERR + r"unknown claim id\(s\) '1'"),
    _c(
        "profile-unknown",
        "run",
        "--profile",
        "fast",
        match=_ERR + r"unknown profile 'fast'; expected one of quick, thorough, extended",
    ),
    _c("profile-empty", "run", "--profile", "", match=_ERR + r"unknown profile ''; expected one of"),
    _c("seed-negative", "run", "--seed", "-3", match=_ERR + r"--seed must be a non-negative integer, got -3"),
    _c(
        "seed-float",
        "run",
        "--seed",
        "1.5",
        match=_ARGPARSE + r"argument --seed: expected an integer written with the digits 0-9, got '1\.5'",
    ),
    _c(
        "seed-word",
        "run",
        "--seed",
        "zero",
        match=_ARGPARSE + r"argument --seed: expected an integer written with the digits 0-9, got 'zero'",
    ),
    _c("workers-zero", "run", "--workers", "0", match=_ERR + r"--workers must be an integer >= 1, got 0"),
    _c(
        "workers-negative",
        "run",
        "--workers",
        "-2",
        match=_ERR + r"--workers must be an integer >= 1, got -2",
    ),
    _c(
        "workers-word",
        "run",
        "--workers",
        "many",
        match=_ARGPARSE + r"argument --workers: expected an integer written with the digits 0-9, got 'many'",
    ),
    # ---- run: unwritable output ------------------------------------------------
    _c(
        "out-below-file",
        "run",
        "--out",
        "blocker/{o}/deep",
        match=_ERR + r"cannot write to output directory 'blocker/out-below-file\.out/deep'",
        sub=True,
    ),
    _c(
        "out-report-json-is-dir",
        "run",
        "--out",
        "{o}",
        match=_ERR + r"cannot write .*report\.json",
        sub=True,
    ),
    _c("out-is-file", "run", "--out", "blocker", match=_ERR + r"cannot write to output directory 'blocker'"),
    # ---- run --data ---------------------------------------------------------------
    _c("data-missing", "run", "--data", "nope.npy", match=_ERR + r"nope\.npy: no such file"),
    _c("data-directory", "run", "--data", "a-directory", match=_ERR + r"a-directory: not a regular file"),
    _c("data-empty-file", "run", "--data", "empty", match=_ERR + r"empty: empty file"),
    _c(
        "data-nonbinary",
        "run",
        "--data",
        "nonbinary.txt",
        match=_ERR + r"nonbinary\.txt: samples must be all 0/1 or all ±1; found 2\.0 at row 1, column 1",
        sub=True,
    ),
    _c(
        "data-mixed",
        "run",
        "--data",
        "mixed.txt",
        match=_ERR + r"mixed\.txt: samples mix 0/1 and ±1 values .*use one convention",
    ),
    _c(
        "data-ragged",
        "run",
        "--data",
        "ragged.txt",
        match=_ERR + r"ragged\.txt: not a whitespace-separated table of numbers",
    ),
    _c(
        "data-words",
        "run",
        "--data",
        "words.txt",
        match=_ERR + r"words\.txt: not a whitespace-separated table of numbers",
    ),
    _c(
        "data-nan",
        "run",
        "--data",
        "nan.txt",
        match=_ERR + r"nan\.txt: samples must be all 0/1 or all ±1; found nan at row 1, column 0",
    ),
    _c(
        "data-inf",
        "run",
        "--data",
        "inf.txt",
        match=_ERR + r"inf\.txt: samples must be all 0/1 or all ±1; found inf at row 1, column 0",
    ),
    _c(
        "data-comments-only",
        "run",
        "--data",
        "comments-only.txt",
        match=_ERR
        + r"comments-only\.txt: samples must be a 2-D array \(M samples, N variables\) with M, N >= 1",
    ),
    _c(
        "data-binary-junk",
        "run",
        "--data",
        "binary-junk.txt",
        match=_ERR + r"binary-junk\.txt: not a whitespace-separated table of numbers",
    ),
    _c(
        "data-npy-1d",
        "run",
        "--data",
        "s-1d.npy",
        match=_ERR + r"s-1d\.npy: samples must be a 2-D array \(M samples, N variables\) with M, N >= 1, "
        r"got shape \(3,\)",
    ),
    _c(
        "data-npy-3d",
        "run",
        "--data",
        "s-3d.npy",
        match=_ERR + r"s-3d\.npy: samples must be a 2-D array .*got shape \(2, 2, 2\)",
    ),
    _c(
        "data-npy-no-rows",
        "run",
        "--data",
        "s-no-rows.npy",
        match=_ERR + r"s-no-rows\.npy: samples must be a 2-D array .*got shape \(0, 3\)",
    ),
    _c(
        "data-npy-no-cols",
        "run",
        "--data",
        "s-no-cols.npy",
        match=_ERR + r"s-no-cols\.npy: samples must be a 2-D array .*got shape \(3, 0\)",
    ),
    _c(
        "data-npy-complex",
        "run",
        "--data",
        "s-complex.npy",
        match=_ERR + r"s-complex\.npy: samples must be numeric 0/1 or ±1 values, got dtype complex128",
    ),
    _c(
        "data-npy-strings",
        "run",
        "--data",
        "s-strings.npy",
        match=_ERR + r"s-strings\.npy: samples must be numeric 0/1 or ±1 values, got dtype <U1",
    ),
    _c(
        "data-npy-object",
        "run",
        "--data",
        "s-object.npy",
        match=_ERR + r"s-object\.npy: not a readable \.npy array",
    ),
    _c(
        "data-npy-half",
        "run",
        "--data",
        "s-half.npy",
        match=_ERR + r"s-half\.npy: samples must be all 0/1 or all ±1; found 0\.5 at row 0, column 1",
    ),
    _c(
        "data-npy-nan",
        "run",
        "--data",
        "s-nan.npy",
        match=_ERR + r"s-nan\.npy: samples must be all 0/1 or all ±1; found nan at row 0, column 1",
    ),
    _c(
        "data-npy-truncated",
        "run",
        "--data",
        "s-truncated.npy",
        match=_ERR + r"s-truncated\.npy: not a readable \.npy array",
    ),
    _c(
        "data-npy-header-only",
        "run",
        "--data",
        "s-header-only.npy",
        match=_ERR + r"s-header-only\.npy: not a readable \.npy array",
    ),
    _c(
        "data-npz",
        "run",
        "--data",
        "good.npz",
        match=_ERR
        + r"good\.npz: samples must be a \.npy array, an HDF5 file or a text file, not an \.npz archive",
    ),
    _c(
        "data-too-wide",
        "run",
        "--data",
        "wide.npy",
        match=_ERR + r"wide\.npy: 21 variables is too many for exact enumeration \(at most 20\)",
        sub=True,
    ),
    _c(
        "data-corrupt-h5",
        "run",
        "--data",
        "corrupt.h5",
        match=_ERR + r"corrupt\.h5: not a readable HDF5 file",
        hdf5=True,
    ),
    _c(
        "data-h5-no-samples",
        "run",
        "--data",
        "s-none.h5",
        match=_ERR + r"s-none\.h5: no dataset 'samples' \(expected shape \(M, N\)\); found: data, labels$",
        hdf5=True,
    ),
    _c(
        "data-h5-samples-group",
        "run",
        "--data",
        "s-group.h5",
        match=_ERR + r"s-group\.h5: no dataset 'samples' \(expected shape \(M, N\)\)",
        hdf5=True,
    ),
    _c(
        "data-h5-1d",
        "run",
        "--data",
        "s-1d.h5",
        match=_ERR + r"s-1d\.h5: samples must be a 2-D array .*got shape \(3,\)",
        hdf5=True,
    ),
    _c(
        "data-h5-strings",
        "run",
        "--data",
        "s-strings.h5",
        match=_ERR + r"s-strings\.h5: samples must be numeric 0/1 or ±1 values, got dtype \|S1",
        hdf5=True,
    ),
    _c(
        "data-h5-nonbinary",
        "run",
        "--data",
        "s-nonbinary.h5",
        match=_ERR + r"s-nonbinary\.h5: samples must be all 0/1 or all ±1; found 3 at row 0, column 1",
        hdf5=True,
    ),
    _c(
        "columns-out-of-range",
        "run",
        "--data",
        "samples.npy",
        "--columns",
        "0,3",
        match=_ERR + r"samples\.npy: column 3 does not exist; the samples have 3 columns \(0\.\.2\)",
    ),
    _c(
        "columns-negative",
        "run",
        "--data",
        "samples.npy",
        "--columns",
        "-1",
        match=_ERR + r"columns must be comma-separated non-negative integers such as 0,3,5; got '-1'",
    ),
    _c(
        "columns-words",
        "run",
        "--data",
        "samples.npy",
        "--columns",
        "a,b",
        match=_ERR + r"columns must be comma-separated non-negative integers",
    ),
    _c(
        "columns-empty",
        "run",
        "--data",
        "samples.npy",
        "--columns",
        "",
        match=_ERR + r"columns must be comma-separated non-negative integers",
    ),
    _c(
        "columns-duplicate",
        "run",
        "--data",
        "samples.npy",
        "--columns",
        "1,1",
        match=_ERR + r"columns must be distinct; 1 appears more than once in '1,1'",
    ),
    _c(
        "columns-too-many",
        "run",
        "--data",
        "wide.npy",
        "--columns",
        ",".join(map(str, range(21))),
        match=_ERR
        + r"wide\.npy: 21 variables is too many for exact enumeration \(at most 20\); select columns",
    ),
    _c(
        "pseudo-count-negative",
        "run",
        "--data",
        "samples.npy",
        "--pseudo-count",
        "-1",
        match=_ERR + r"samples\.npy: pseudo_count must be a positive finite number, got -1\.0",
    ),
    _c(
        "pseudo-count-zero",
        "run",
        "--data",
        "samples.npy",
        "--pseudo-count",
        "0",
        match=_ERR + r"samples\.npy: pseudo_count must be a positive finite number, got 0\.0",
    ),
    _c(
        "pseudo-count-nan",
        "run",
        "--data",
        "samples.npy",
        "--pseudo-count",
        "nan",
        match=_ERR + r"samples\.npy: pseudo_count must be a positive finite number, got nan",
    ),
    _c(
        "pseudo-count-inf",
        "run",
        "--data",
        "samples.npy",
        "--pseudo-count",
        "inf",
        match=_ERR + r"samples\.npy: pseudo_count must be a positive finite number, got inf",
    ),
    _c(
        "pseudo-count-overflow",
        "run",
        "--data",
        "samples.npy",
        "--pseudo-count",
        "1e308",
        match=_ERR + r"samples\.npy: pseudo_count=1e\+308 is too large",
        sub=True,
    ),
    _c(
        "pseudo-count-word",
        "run",
        "--data",
        "samples.npy",
        "--pseudo-count",
        "tiny",
        match=_ARGPARSE + r"argument --pseudo-count: invalid float value: 'tiny'",
    ),
    _c(
        "pseudo-count-without-data",
        "run",
        "--pseudo-count",
        "0.1",
        match=_ERR + r"--columns and --pseudo-count need --data FILE",
    ),
    _c(
        "bad-data-and-fresh-out",
        "run",
        "--data",
        "nonbinary.txt",
        "--out",
        "{o}/a/b",
        match=_ERR + r"nonbinary\.txt: samples must be all 0/1",
    ),
    # ---- effective: model files ------------------------------------------------
    _c("eff-missing-file", "effective", "nope.npz", match=_ERR + r"nope\.npz: no such file"),
    _c("eff-directory", "effective", "a-directory", match=_ERR + r"a-directory: not a regular file"),
    _c("eff-empty-file", "effective", "empty", match=_ERR + r"empty: empty file"),
    _c(
        "eff-text-file",
        "effective",
        "model.txt",
        match=_ERR + r"model\.txt: not an \.npz archive or an HDF5 file \(detected text\)",
    ),
    _c(
        "eff-misnamed-key",
        "effective",
        "misnamed.npz",
        match=_ERR + r"misnamed\.npz: missing key 'weight_matrix' \(expected an array of shape \(Nv, Nh\)\); "
        r"found keys: ",
        sub=True,
    ),
    _c(
        "eff-missing-hbias",
        "effective",
        "no-hbias.npz",
        match=_ERR + r"no-hbias\.npz: missing key 'hbias' \(expected an array of shape \(Nh,\)\)",
    ),
    _c(
        "eff-vbias-shape",
        "effective",
        "vbias-length.npz",
        match=_ERR + r"vbias-length\.npz: vbias must have shape \(Nv,\) = \(4,\)",
    ),
    _c(
        "eff-hbias-shape",
        "effective",
        "hbias-length.npz",
        match=_ERR + r"hbias-length\.npz: hbias must have shape \(Nh,\) = \(3,\)",
    ),
    _c(
        "eff-weights-1d",
        "effective",
        "weights-1d.npz",
        match=_ERR + r"weights-1d\.npz: weight_matrix must .*\(Nv, Nh\)",
    ),
    _c(
        "eff-potts-npz",
        "effective",
        "potts.npz",
        match=_ERR + r"potts\.npz: weight_matrix .*Potts RBM, which is not supported",
    ),
    _c(
        "eff-weights-nan",
        "effective",
        "weights-nan.npz",
        match=_ERR + r"weights-nan\.npz: weight_matrix must be finite",
    ),
    _c("eff-vbias-inf", "effective", "vbias-inf.npz", match=_ERR + r"vbias-inf\.npz: vbias must be finite"),
    _c(
        "eff-weights-complex",
        "effective",
        "weights-complex.npz",
        match=_ERR
        + r"weights-complex\.npz: weight_matrix must be a real numeric array, got dtype complex128",
    ),
    _c(
        "eff-weights-strings",
        "effective",
        "weights-strings.npz",
        match=_ERR + r"weights-strings\.npz: weight_matrix must be a real numeric array, got dtype <U3",
    ),
    _c(
        "eff-weights-object",
        "effective",
        "weights-object.npz",
        match=_ERR + r"weights-object\.npz: key 'weight_matrix' cannot be read \(.*allow_pickle",
    ),
    _c(
        "eff-weights-empty",
        "effective",
        "weights-empty.npz",
        match=_ERR + r"weights-empty\.npz: .*(Nv|n_visible|at least 1|>= 1)",
    ),
    _c(
        "eff-nv-too-large",
        "effective",
        "big.npz",
        "--method",
        "enumerate",
        match=_ERR + r"--method enumerate: N = 40 visible units needs .* of memory for the 2\^40 states "
        r"but .* is available; use --method integral",
        sub=True,
    ),
    _c(
        "eff-units-key-bad",
        "effective",
        "units-bad.npz",
        match=_ERR
        + r"units-bad\.npz: key 'units': units must be 'bernoulli' \(0/1 units\), 'spin' \(±1 units\) "
        r"or 'VISIBLE,HIDDEN'",
    ),
    _c(
        "eff-units-key-number",
        "effective",
        "units-number.npz",
        match=_ERR + r"units-number\.npz: key 'units' must be a string such as 'bernoulli' or 'spin'",
    ),
    _c(
        "eff-units-conflict",
        "effective",
        "units-spin.npz",
        "--units",
        "bernoulli",
        match=_ERR
        + r"units-spin\.npz: key 'units' says units spin,spin but units bernoulli,bernoulli were requested",
    ),
    _c(
        "eff-truncated-npz",
        "effective",
        "truncated.npz",
        match=_ERR + r"truncated\.npz: not a readable \.npz archive",
    ),
    _c(
        "eff-garbage-npz",
        "effective",
        "garbage.npz",
        match=_ERR + r"garbage\.npz: not a readable \.npz archive",
    ),
    _c(
        "eff-bad-member-npz",
        "effective",
        "bad-member.npz",
        match=_ERR + r"bad-member\.npz: (key 'weight_matrix' cannot be read"
        r"|weight_matrix must be a real numeric array, got dtype \|S17)",
    ),
    # ---- effective: HDF5 checkpoints ----------------------------------------------
    _c(
        "eff-corrupt-h5",
        "effective",
        "corrupt.h5",
        match=_ERR + r"corrupt\.h5: not a readable HDF5 file",
        hdf5=True,
        sub=True,
    ),
    _c(
        "eff-missing-checkpoint",
        "effective",
        "ck.h5",
        "--checkpoint",
        "7",
        match=_ERR + r"ck\.h5: no checkpoint update_7; the file has 2 checkpoint\(s\): 0, 5",
        hdf5=True,
        sub=True,
    ),
    _c(
        "eff-negative-checkpoint",
        "effective",
        "ck.h5",
        "--checkpoint",
        "-1",
        match=_ERR + r"ck\.h5: no checkpoint update_-1; the file has 2 checkpoint\(s\)",
        hdf5=True,
    ),
    _c(
        "eff-checkpoint-word",
        "effective",
        "ck.h5",
        "--checkpoint",
        "last",
        match=_ARGPARSE
        + r"argument --checkpoint: expected an integer written with the digits 0-9, got 'last'",
    ),
    _c(
        "eff-checkpoint-and-all",
        "effective",
        "ck.h5",
        "--checkpoint",
        "0",
        "--all-checkpoints",
        match=_ARGPARSE + r"argument --all-checkpoints: not allowed with argument --checkpoint",
    ),
    _c(
        "eff-no-updates",
        "effective",
        "no-updates.h5",
        match=_ERR + r"no-updates\.h5: no checkpoint groups 'update_<n>' \(expected the rbms layout",
        hdf5=True,
    ),
    _c(
        "eff-h5-missing-dataset",
        "effective",
        "no-hbias.h5",
        match=_ERR + r"no-hbias\.h5: checkpoint update_1 has no dataset 'hbias' in '/update_1/params' "
        r"\(expected shape \(Nh,\)\)",
        hdf5=True,
    ),
    _c(
        "eff-h5-dataset-is-group",
        "effective",
        "hbias-group.h5",
        match=_ERR + r"hbias-group\.h5: checkpoint update_1 has no dataset 'hbias'",
        hdf5=True,
    ),
    _c(
        "eff-h5-nan",
        "effective",
        "h5-nan.h5",
        match=_ERR + r"h5-nan\.h5 \[update_1/params\]: weight_matrix must be finite",
        hdf5=True,
    ),
    _c(
        "eff-h5-potts",
        "effective",
        "potts.h5",
        match=_ERR + r"potts\.h5: model_type 'PBRBM' is not supported \(supported: BBRBM",
        hdf5=True,
    ),
    _c(
        "eff-h5-model-type-int",
        "effective",
        "model-type-int.h5",
        match=_ERR + r"model-type-int\.h5: model_type '3' is not supported",
        hdf5=True,
    ),
    _c(
        "eff-h5-shapes-differ",
        "effective",
        "shapes-differ.h5",
        "--all-checkpoints",
        match=_ERR + r"shapes-differ\.h5: checkpoints disagree on the weight_matrix shape \(Nv, Nh\)",
        hdf5=True,
    ),
    _c(
        "eff-h5-nv-too-large",
        "effective",
        "big.h5",
        "--method",
        "enumerate",
        match=_ERR + r"--method enumerate: N = 40 visible units needs",
        hdf5=True,
    ),
    _c(
        "eff-npz-checkpoint",
        "effective",
        "good.npz",
        "--checkpoint",
        "1",
        match=_ERR + r"good\.npz: an \.npz file holds one model and has no checkpoints to select",
    ),
    _c(
        "eff-npz-all-checkpoints",
        "effective",
        "good.npz",
        "--all-checkpoints",
        match=_ERR + r"good\.npz: an \.npz file holds one model and has no checkpoints to select",
    ),
    # ---- effective: options ------------------------------------------------------
    _c(
        "eff-units-unknown",
        "effective",
        "good.npz",
        "--units",
        "ising",
        match=_ERR + r"units must be 'bernoulli' \(0/1 units\), 'spin' \(±1 units\) or 'VISIBLE,HIDDEN'",
    ),
    _c(
        "eff-units-three",
        "effective",
        "good.npz",
        "--units",
        "spin,spin,spin",
        match=_ERR + r"units must be 'bernoulli' \(0/1 units\), 'spin' \(±1 units\) or 'VISIBLE,HIDDEN'",
    ),
    _c(
        "eff-units-empty",
        "effective",
        "good.npz",
        "--units",
        "",
        match=_ERR + r"units must be 'bernoulli' \(0/1 units\), 'spin' \(±1 units\) or 'VISIBLE,HIDDEN'",
    ),
    _c(
        "eff-format-unknown",
        "effective",
        "good.npz",
        "--format",
        "xml",
        match=_ARGPARSE + r"argument --format: invalid choice: 'xml' \(choose from .*json.*csv.*npz",
    ),
    _c(
        "eff-format-upper",
        "effective",
        "good.npz",
        "--format",
        "JSON",
        match=_ARGPARSE + r"argument --format: invalid choice: 'JSON'",
    ),
    _c(
        "eff-npz-to-stdout",
        "effective",
        "good.npz",
        "--format",
        "npz",
        match=_ERR + r"--format npz writes a binary file: give --out FILE",
    ),
    _c(
        "eff-figure-without-series",
        "effective",
        "good.npz",
        "--figure",
        "{o}.png",
        match=_ERR + r"--figure is only used with --all-checkpoints",
    ),
    _c(
        "eff-figure-is-out",
        "effective",
        "ck.h5",
        "--all-checkpoints",
        "--out",
        "{o}.png",
        match=_ERR + r"the figure would overwrite --out eff-figure-is-out\.out\.png; give --figure PNG",
        hdf5=True,
    ),
    # ---- effective: unwritable outputs --------------------------------------------
    _c(
        "eff-out-missing-dir",
        "effective",
        "good.npz",
        "--out",
        "{o}/x.json",
        match=_ERR + r"eff-out-missing-dir\.out/x\.json: directory eff-out-missing-dir\.out does not exist",
    ),
    _c(
        "eff-out-below-file",
        "effective",
        "good.npz",
        "--out",
        "blocker/{o}.json",
        match=_ERR
        + r"blocker/eff-out-below-file\.out\.json: (directory blocker does not exist|.*not a directory)",
    ),
    _c(
        "eff-out-is-directory",
        "effective",
        "good.npz",
        "--out",
        "a-directory",
        match=_ERR + r"a-directory: is a directory, expected a file path",
    ),
    _c(
        "eff-csv-out-below-file",
        "effective",
        "good.npz",
        "--format",
        "csv",
        "--out",
        "blocker/{o}.csv",
        match=_ERR
        + r"blocker/eff-csv-out-below-file\.out\.csv: (directory blocker does not exist|.*not a directory)",
    ),
    _c(
        "eff-figure-below-file",
        "effective",
        "ck.h5",
        "--all-checkpoints",
        "--figure",
        "blocker/{o}.png",
        match=_ERR
        + r"blocker/eff-figure-below-file\.out\.png: (directory blocker does not exist|.*not a directory)",
        hdf5=True,
    ),
    _c(
        "eff-norms-path-is-directory",
        "effective",
        "good.npz",
        "--format",
        "csv",
        "--out",
        "taken.csv",
        match=_ERR + r"taken_norms\.csv: is a directory, expected a file path",
    ),
    _c(
        "eff-bad-model-and-out",
        "effective",
        "misnamed.npz",
        "--format",
        "csv",
        "--out",
        "{o}.csv",
        match=_ERR + r"misnamed\.npz: missing key 'weight_matrix'",
    ),
    *ISSUE16_CASES,
]
