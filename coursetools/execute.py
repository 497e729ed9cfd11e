"""Regenerate the stored outputs of the book's notebooks.

    python -m coursetools.execute                       # every notebook under chapters/
    python -m coursetools.execute chapters/01_*.ipynb   # some notebooks

Each notebook runs top to bottom in a fresh kernel (the same Python as this command),
with the notebook's own directory as working directory, exactly as nbval runs it. Only
outputs and execution counts change: the source of every cell is checked to be
unchanged before the file is replaced (atomically, through a temporary file). A notebook
whose execution fails is left as it was, and the command exits non-zero, naming the
notebook and the cell.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"


def _sources(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def execute_notebook(path: Path, timeout: int = 1800) -> float:
    """Execute ``path`` in a fresh kernel and store its outputs; return the wall time in
    s.

    Raises ``RuntimeError`` naming the notebook and cell if a cell fails; the file is
    then left untouched.
    """
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    before = _sources(nb)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,  # no per-cell timestamps: they would make every run a diff
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        raise RuntimeError(f"{path}: a cell failed; the notebook was not "
                           f"modified.\n{err}") from err
    elapsed = time.perf_counter() - start
    if _sources(nb) != before:  # nbclient never edits sources; make sure of it
        raise RuntimeError(f"{path}: cell sources changed during execution; "
                           f"not written")
    nb.metadata.pop("widgets", None)  # widget state is per-session noise
    nbformat.validate(nb)
    fd, tmp = tempfile.mkstemp(suffix=".ipynb", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coursetools.execute", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to execute (default: every chapters/*.ipynb)")
    parser.add_argument("--timeout", type=int, default=1800,
                        help="seconds allowed per cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(CHAPTERS.glob("*.ipynb"))
    missing = [p for p in paths if not Path(p).is_file() or Path(p).suffix != ".ipynb"]
    if missing:
        parser.error("not a notebook: " + ", ".join(map(str, missing)))
    failed = 0
    for p in paths:
        try:
            seconds = execute_notebook(p, timeout=args.timeout)
            print(f"{p}: executed in {seconds:.1f} s, outputs stored")
        except RuntimeError as err:
            failed += 1
            print(err, file=sys.stderr)
    if failed:
        print(f"{failed} of {len(paths)} notebooks failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
