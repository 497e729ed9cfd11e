"""How `pytest` runs the whole suite (unit tests, nbval over the chapters, the real-parts
tests) on the machine's cores, and how it reports where the time goes.

- **Two workers** (pytest-xdist, ``-n 2 --dist loadfile`` in pytest.ini): a file is the
  unit of work, so a notebook's cells run in order in one kernel on one worker, and a test
  module's fixtures are built once. The files that take longest are handed out first
  (:data:`SLOW_FIRST`), so the last minutes are not one long notebook running alone.
- **One BLAS/torch thread per worker** (:data:`THREAD_VARIABLES`, set before any kernel
  or library starts): two workers on two cores, each with two threads, would fight over
  the cores. Outside xdist (``-n 0``, one notebook alone) nothing is changed.
- ``pytest --durations-by-file`` prints, after the run, the seconds each file took (a
  notebook under nbval, a test module), slowest first: the table the README refers to.
"""
from __future__ import annotations

import collections
import os

# Files in the order their work is handed out, slowest first (measured with
# --durations-by-file); every other file follows in collection order.
SLOW_FIRST = [
    "chapters/09_mnist_end_to_end.ipynb",
    "tests/test_course.py",
    "chapters/10_validation_and_test.ipynb",
    "tests/test_graded.py",
    "tests/test_browser.py",
    "tests/test_assign.py",
    "tests/test_student_book.py",
    "chapters/08_initialization.ipynb",
    "chapters/07_exploding_gradients.ipynb",
    "chapters/05_autodiff_engine.ipynb",
]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def pytest_addoption(parser):
    parser.addoption("--durations-by-file", action="store_true", default=False,
                     help="after the run, print the seconds spent in each file "
                          "(setup, call and teardown of its tests), slowest first")


def pytest_configure(config):
    # Before any test imports numpy or torch, and before nbval starts a kernel (which
    # inherits the environment).
    if os.environ.get("PYTEST_XDIST_WORKER"):
        for name in THREAD_VARIABLES:
            os.environ[name] = "1"


def _rank(nodeid):
    path = nodeid.split("::", 1)[0]
    return SLOW_FIRST.index(path) if path in SLOW_FIRST else len(SLOW_FIRST)


def pytest_collection_modifyitems(session, config, items):
    # A stable sort: within a file, and among the other files, collection order stays.
    items.sort(key=lambda item: _rank(item.nodeid))


def by_file(reports):
    """{file: seconds} summed over the reports' setup, call and teardown phases."""
    seconds = collections.Counter()
    for report in reports:
        seconds[report.nodeid.split("::", 1)[0]] += getattr(report, "duration", 0.0)
    return seconds


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not config.getoption("--durations-by-file"):
        return
    reports = [r for key in ("passed", "failed", "skipped", "error", "xfailed",
                             "xpassed", "")
               for r in terminalreporter.stats.get(key, []) if hasattr(r, "nodeid")]
    seconds = by_file(reports)
    terminalreporter.section("seconds by file (setup + call + teardown)")
    for path, s in seconds.most_common():
        terminalreporter.write_line(f"{s:8.1f}  {path}")
    terminalreporter.write_line(f"{sum(seconds.values()):8.1f}  in all (summed over "
                                f"workers; the wall time is shorter)")
