"""The sandbox (coursetools.sandbox) and one grading job (coursetools.job), for real:
bubblewrap as root. Skipped where the sandbox cannot start, except under CI, where
.ci/run installs bubblewrap and runs as root, so a missing sandbox fails."""
import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from coursetools import sandbox
from coursetools.job import merge_result, notebook_sha256, run_job

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def available():
    try:
        sandbox.check()
    except sandbox.SandboxUnavailable as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"the sandbox cannot start here: {err}")


def test_inside_the_sandbox_nothing_of_the_course_or_repository(available):
    # Failing: the kernel runs as root, sees the network, or can read the instructor's
    # repository (chapters/, coursetools/) through lecture_lib's editable install.
    found = sandbox.probe()
    assert found["uid"] == sandbox.NOBODY
    assert found["interfaces"] == ["lo"]
    assert found["pid"] < 10                         # its own PID namespace
    assert found["beside lecture_lib"] == ["data", "lecture_lib"]
    assert not found["coursetools importable"]
    assert "home" not in found["root"] and "etc" not in found["root"]


def test_bwrap_argv_binds_only_what_the_kernel_needs(tmp_path):
    argv = sandbox.bwrap_argv(tmp_path, sandbox.Limits(memory_bytes=123), ["true"])
    binds = [argv[i + 1] for i, a in enumerate(argv) if a in ("--ro-bind", "--bind")]
    assert str(REPO) not in binds and str(REPO / "chapters") not in binds
    assert str(REPO / "lecture_lib") in binds and str(tmp_path) in binds
    assert "--as=123" in argv and f"--reuid={sandbox.NOBODY}" in argv
    assert argv[-1] == "true"


def test_check_refuses_without_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(sandbox.SandboxUnavailable, match="needs root"):
        sandbox.check()


def test_job_survives_loops_deaths_and_floods(available):
    # Failing: a loop that ignores SIGINT, a kernel that dies, or a flood of output
    # costs more than its own cell (the cells after it must run, with the state the
    # cells before it made), or the flood reaches the notebook.
    nb = new_notebook(cells=[
        new_code_cell("import os, signal\nx = 41"),
        new_code_cell("signal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n"
                      "    pass"),
        new_code_cell("x += 1\nprint(x)"),
        new_code_cell("os.kill(os.getpid(), signal.SIGKILL)"),
        new_code_cell("print('y' * 3_000_000)"),
        new_code_cell("print(x, os.getuid())"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})
    limits = sandbox.Limits(cell_seconds=4)
    result = run_job(nb, limits)
    status = {int(k): v["status"] for k, v in result["cells"].items()}
    assert status == {0: "ok", 1: "timeout", 2: "ok", 3: "died", 4: "ok", 5: "ok"}
    assert nb.cells[2].outputs[0].text == "42\n"
    assert nb.cells[5].outputs[0].text == f"42 {sandbox.NOBODY}\n"   # replayed state
    assert result["cells"]["4"]["capped"]
    assert len(json.dumps(nb.cells[4].outputs)) < limits.cell_output_bytes
    assert result["restarts"] == 2


def test_merge_result_refuses_a_result_of_another_notebook():
    nb = new_notebook(cells=[new_code_cell("1")])
    result = {"format": "coursetools-job/1", "input_sha256": notebook_sha256(nb),
              "cells": {"0": {"status": "ok", "outputs": [], "execution_count": 1}}}
    assert merge_result(nb, result) == {0: "ok"}
    other = nbformat.from_dict(json.loads(json.dumps(nb)))
    other.cells[0].source = "2"
    with pytest.raises(ValueError, match="another notebook"):
        merge_result(other, result)
