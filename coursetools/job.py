"""One grading job: execute one submission in the sandbox, write one result file.

    python -m coursetools.job SUBMISSION.ipynb RESULT.json [--unsandboxed]

The job runs as the grader (outside the sandbox); only the kernel runs inside it
(``coursetools.sandbox``). It executes the code cells one by one and records, for each,
its outputs and what happened:

``ok`` / ``error``
    the cell ran (an error is the student's exception; the next cell still runs);
``timeout``
    still running after ``Limits.cell_seconds`` (a loop that ignores SIGINT included):
    the kernel is killed;
``died``
    the kernel died while the cell ran (``os._exit``, a crash, a memory limit);
``not-run``
    the kernel needed more than ``Limits.restarts`` restarts before this cell.

After a timeout or a death the job starts a new sandboxed kernel, re-executes the cells
that had run (their new outputs are discarded, the recorded ones kept), and goes on
with the next cell: only the exercise whose cell failed loses its points. Output is
capped per cell and per notebook (``capped``); what is dropped is counted, not stored.

The result (JSON, ``FORMAT``): ``input_sha256`` (of the submission's cells as
executed), ``cells`` ({index: {status, outputs, execution_count, capped}}), ``events``
(one line per timeout, death, restart, cap), ``restarts``, ``seconds``, ``sandboxed``.
Nothing in it is trusted beyond being the student's outputs: the verdicts are computed
afterwards by the grader (``coursetools.verdicts``).
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .sandbox import Limits, SandboxKernelManager

__all__ = ["FORMAT", "notebook_sha256", "run_job", "merge_result", "main"]

FORMAT = "coursetools-job/1"
CAP_NOTE = "[output capped by the grader: {} bytes dropped]\n"


def notebook_sha256(nb):
    """SHA-256 of what a job executes: the cells' types and sources, in order."""
    text = json.dumps([[c.cell_type, c.source] for c in nb.cells])
    return hashlib.sha256(text.encode()).hexdigest()


class _CappedClient(NotebookClient):
    """nbclient, with outputs dropped beyond a byte budget per cell and per notebook."""

    def __init__(self, nb, limits, budget, **kw):
        super().__init__(nb, timeout=limits.cell_seconds, allow_errors=True,
                         interrupt_on_timeout=False, shutdown_kernel="immediate",
                         startup_timeout=120, record_timing=True, **kw)
        self.limits, self.budget, self.dropped = limits, budget, {}

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {})))
        used = self.budget.setdefault(cell_index, 0)
        if (used + size > self.limits.cell_output_bytes
                or self.budget.get("total", 0) + size
                > self.limits.notebook_output_bytes):
            self.dropped[cell_index] = self.dropped.get(cell_index, 0) + size
            return None
        self.budget[cell_index] = used + size
        self.budget["total"] = self.budget.get("total", 0) + size
        return super().output(outs, msg, display_id, cell_index)


def _label(nb, index):
    gid = nb.cells[index].metadata.get("nbgrader", {}).get("grade_id")
    return f"cell {index}" + (f" ({gid})" if gid else "")


def _kernel_manager(limits, sandboxed):
    if sandboxed:
        return SandboxKernelManager(limits=limits)
    return AsyncKernelManager(kernel_name="python3")


def _session(nb, limits, sandboxed, replay, pending, result, budget):
    """One kernel: re-execute `replay` quietly, then run `pending` in order, popping
    each cell from `pending` once its status is recorded. Raises on timeout/death."""
    km = _kernel_manager(limits, sandboxed)
    client = _CappedClient(nb, limits, budget, km=km)
    try:
        _run_cells(client, nb, replay, pending, result)
    finally:
        if hasattr(km, "ipc_dir"):
            shutil.rmtree(km.ipc_dir, ignore_errors=True)


def _run_cells(client, nb, replay, pending, result):
    with client.setup_kernel(stderr=subprocess.DEVNULL):   # the kernel's banner
        for index in list(replay):
            scratch = copy.deepcopy(nb.cells[index])
            client.execute_cell(scratch, index, store_history=False)
        while pending:
            index = pending[0]
            cell = nb.cells[index]
            cell.outputs = []
            client.execute_cell(cell, index)
            dropped = client.dropped.pop(index, 0)
            if dropped:
                cell.outputs.append(nbformat.v4.new_output(
                    "stream", name="stdout", text=CAP_NOTE.format(dropped)))
                result["events"].append(f"output capped in {_label(nb, index)}: "
                                        f"{dropped} bytes dropped")
            failed = any(o.output_type == "error" for o in cell.outputs)
            _record(result, index, cell, "error" if failed else "ok", bool(dropped))
            replay.append(pending.pop(0))


def _record(result, index, cell, status, capped=False):
    result["cells"][str(index)] = {
        "status": status, "capped": capped, "execution_count": cell.get(
            "execution_count"), "outputs": cell.get("outputs", []),
        "execution": cell.metadata.get("execution", {})}     # nbclient's timestamps


def run_job(nb, limits=Limits(), sandboxed=True, log=None):
    """Execute the notebook node `nb` (changed in place: its outputs) and return the
    result dict described in the module docstring."""
    start = time.perf_counter()
    result = {"format": FORMAT, "input_sha256": notebook_sha256(nb), "cells": {},
              "events": [], "restarts": 0, "sandboxed": sandboxed}
    pending = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    replay, budget = [], {}
    while pending:
        try:
            _session(nb, limits, sandboxed, replay, pending, result, budget)
        except (CellTimeoutError, DeadKernelError, RuntimeError, TimeoutError) as err:
            index = pending.pop(0) if pending else replay.pop()
            status = "timeout" if isinstance(err, CellTimeoutError) else "died"
            cell = nb.cells[index]
            ename = "CellTimeoutError" if status == "timeout" else "DeadKernelError"
            evalue = (f"still running after {limits.cell_seconds} s: stopped"
                      if status == "timeout" else "the kernel died in this cell")
            cell.outputs = [nbformat.v4.new_output(
                "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])]
            _record(result, index, cell, status)
            if index in replay:
                replay.remove(index)
            result["events"].append(f"{status} in {_label(nb, index)}")
            result["restarts"] += 1
            if result["restarts"] > limits.restarts and pending:
                for rest in pending:
                    _record(result, rest, nb.cells[rest], "not-run")
                result["events"].append(f"too many restarts: {len(pending)} cells "
                                        f"not run")
                pending.clear()
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result


def merge_result(nb, result):
    """Put a job's outputs into `nb` (the notebook it executed, by cell index); the
    statuses {index: status}. ValueError if the result is not of this notebook."""
    if result.get("format") != FORMAT:
        raise ValueError(f"not a job result ({result.get('format')!r})")
    if result.get("input_sha256") != notebook_sha256(nb):
        raise ValueError("the job result is of another notebook (sha256 differs)")
    statuses = {}
    for key, entry in result["cells"].items():
        index = int(key)
        if not (0 <= index < len(nb.cells)) or nb.cells[index].cell_type != "code":
            raise ValueError(f"the job result names cell {key}, not a code cell")
        cell = nb.cells[index]
        cell.outputs = [nbformat.from_dict(o) for o in entry["outputs"]]
        cell.execution_count = entry.get("execution_count")
        if entry.get("execution"):
            cell.metadata["execution"] = dict(entry["execution"])
        statuses[index] = entry["status"]
    return statuses


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursetools.job",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("submission", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--limits", help="JSON object of Limits fields to change")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="run the kernel WITHOUT the sandbox (instructor override)")
    args = parser.parse_args(argv)
    limits = Limits(**json.loads(args.limits)) if args.limits else Limits()
    nb = nbformat.read(args.submission, as_version=4)
    result = run_job(nb, limits, sandboxed=not args.unsandboxed)
    tmp = args.result.with_suffix(".part")
    tmp.write_text(json.dumps(result))
    tmp.replace(args.result)
    print(f"{args.submission}: {len(result['cells'])} cells, "
          f"{result['seconds']:.1f} s, "
          f"{result['restarts']} restarts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
