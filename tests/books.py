"""The two editions of the book, built once per test run for the tests that open them
(tests/test_browser.py, tests/test_student_book.py, tests/test_pdf.py).

Each edition is built from the sources with Sphinx's ``-n -W --keep-going`` (any warning
fails, as in CI) into a folder of this pytest run, once: under pytest-xdist the workers
share the run's base folder and a file lock, so the first worker to ask builds and the
others wait and reuse the result (or its failure, with the build's log).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 300      # each edition builds in about 10-20 s


class BuildFailed(RuntimeError):
    """A build of the book failed; the message holds its warnings or its log's tail."""


def _run(cmd, log):
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BuildFailed(f"{' '.join(map(str, cmd))} ran past {BUILD_TIMEOUT_S} s")
    output = proc.stdout + proc.stderr
    log.write_text(output)
    if proc.returncode != 0:
        warnings = [line for line in output.splitlines()
                    if "WARNING" in line or "ERROR" in line or "Error" in line]
        raise BuildFailed(f"{' '.join(map(str, cmd))} failed (exit {proc.returncode}; "
                          f"log {log}):\n"
                          + "\n".join(warnings[:30] or output.splitlines()[-30:]))


def _jupyter_book():
    here = Path(sys.executable).with_name("jupyter-book")
    command = str(here) if here.is_file() else shutil.which("jupyter-book")
    if not command:
        raise BuildFailed("no jupyter-book command: pip install -r requirements.txt")
    return command


def build_book(out):
    """The book, from the sources, into ``out``; returns its html folder."""
    _run([_jupyter_book(), "build", "-n", "-W", "--keep-going", "--path-output",
          str(out), str(ROOT)], out / "build.log")
    return out / "_build" / "html"


def build_student_book(out):
    """The student edition, by its own command (also -n -W --keep-going)."""
    _run([sys.executable, "-m", "coursetools.student_book", "--out", str(out / "student")],
         out / "build.log")
    return out / "student" / "html"


def build_singlehtml(out, book_html):
    """The book as one page (Sphinx's singlehtml builder), which coursetools.pdf prints,
    from the pages the book's build parsed (``book_html``: that build's html folder)."""
    _run([sys.executable, "-m", "coursetools.pdf", "--html-only", "--out", str(out),
          "--reuse", str(book_html.parent.parent)], out / "build.log")
    return out / "singlehtml"


BUILDERS = {"book": build_book, "student": build_student_book,
            "singlehtml": build_singlehtml}
# An edition built from another's result: that one is built first and its html folder
# passed on.
NEEDS = {"singlehtml": "book"}


def shared_root(tmp_path_factory):
    """A folder every xdist worker of this run sees (the run's base folder)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built(tmp_path_factory, edition):
    """The html folder of ``edition`` ("book", "student", "singlehtml"), built once per
    run. Raises BuildFailed (again, for every caller) if its build failed."""
    root = shared_root(tmp_path_factory) / "books"
    root.mkdir(exist_ok=True)
    out, failed = root / edition, root / f"{edition}.failed"
    with FileLock(str(root / f"{edition}.lock")):
        if failed.exists():
            raise BuildFailed(failed.read_text())
        done = out / "done"
        if not done.exists():
            if out.exists():
                shutil.rmtree(out)
            out.mkdir()
            try:
                needs = [built(tmp_path_factory, NEEDS[edition])] if edition in NEEDS else []
                html = BUILDERS[edition](out, *needs)
            except BuildFailed as err:
                failed.write_text(str(err))
                raise
            done.write_text(str(html))
        return Path(done.read_text())
