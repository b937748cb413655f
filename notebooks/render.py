"""Execute the notebook sources and write browsable copies with outputs to notebooks/rendered/.

Usage: ``python notebooks/render.py`` (needs the ``notebooks`` extra). The ``.py`` files
(jupytext percent format) are the reviewed sources; the ``.ipynb`` copies are generated.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jupytext
import nbclient
import nbformat

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    """Render the named notebooks (all when none are named)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # kernels inherit it: see tests/test_notebooks.py
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    out_dir = HERE / "rendered"
    out_dir.mkdir(exist_ok=True)
    paths = [HERE / n for n in names] if names else sorted(HERE.glob("[0-9][0-9]_*.py"))
    for path in paths:
        nb = jupytext.read(path)
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(HERE)}}).execute()
        target = out_dir / (path.stem + ".ipynb")
        nbformat.write(nb, target)
        print(f"wrote {target.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
