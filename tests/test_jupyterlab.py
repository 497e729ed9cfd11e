"""`jupyter lab chapters/`, the command the book gives students, really works.

The test starts JupyterLab exactly as a student does (`jupyter lab chapters/`, from the
repository root), only without a browser, on 127.0.0.1 at a free port with a random
token and with its own Jupyter config and runtime folders. Through the server's REST API
it checks that the JupyterLab page is served, opens chapter 1 through the contents API,
starts a python3 kernel with a session, and over the kernel's websocket runs
`import lecture_lib` and the chapter's parameter-count exercise (its solution cell, then
its self-check cell), whose printed reply must equal the output stored in the notebook.
Then it deletes the session and stops the server. Everything is bounded in time
(TIMEOUT_S in all), and the server, with its kernels, is stopped in a finalizer also
when a step fails.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = "01_feature_engineering.ipynb"     # relative to chapters/, the server's root
TIMEOUT_S = 90                              # the whole test; it takes about 10 s


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jupyter():
    # The `jupyter` of this Python (so the kernel runs the interpreter lecture_lib is
    # installed in), else the one on PATH.
    here = Path(sys.executable).with_name("jupyter")
    found = str(here) if here.is_file() else shutil.which("jupyter")
    assert found, "no `jupyter` command: pip install -r requirements.txt (jupyterlab)"
    return found


class Lab:
    """A running `jupyter lab chapters/` and a deadline for everything done with it."""

    def __init__(self, tmp):
        self.deadline = time.monotonic() + TIMEOUT_S
        self.port, self.token = _free_port(), uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "jupyterlab.log"
        env = dict(os.environ,
                   JUPYTER_CONFIG_DIR=str(tmp / "config"),     # no user config applies
                   JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
                   IPYTHONDIR=str(tmp / "ipython"))
        self.proc = subprocess.Popen(
            [_jupyter(), "lab", "chapters/", "--no-browser",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}"]
            # CI containers run as root, which jupyter refuses without this flag.
            + (["--allow-root"] if os.geteuid() == 0 else []),
            cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True)      # its own process group, kernels included

    def left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"the JupyterLab test ran past {TIMEOUT_S} s\n{self.tail()}")
        return left

    def tail(self):
        return "server log (end):\n" + self.log.read_text(errors="replace")[-3000:]

    def api(self, method, path, expect, **kwargs):
        r = requests.request(method, self.url + path, timeout=min(30, self.left()),
                             headers={"Authorization": f"token {self.token}"}, **kwargs)
        assert r.status_code == expect, (
            f"{method} {path}: HTTP {r.status_code}, expected {expect}: {r.text[:500]}")
        return r

    def wait_ready(self):
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {self.proc.returncode}\n"
                            f"{self.tail()}")
            try:
                return self.api("GET", "/api/status", 200).json()
            except (requests.ConnectionError, AssertionError):
                self.left()
                time.sleep(0.2)

    def stop(self):
        # POST /api/shutdown asks the server to stop (it shuts its kernels down); a
        # server that does not stop in 15 s is terminated, then killed, with its process
        # group.
        if self.proc.poll() is None:
            try:
                requests.post(self.url + "/api/shutdown", timeout=10,
                              headers={"Authorization": f"token {self.token}"})
            except requests.RequestException:
                pass
            for sig, wait in ((None, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                if sig is not None:
                    try:
                        os.killpg(self.proc.pid, sig)
                    except ProcessLookupError:
                        break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        return self.proc.poll()


@pytest.fixture
def lab(tmp_path):
    server = Lab(tmp_path)
    try:
        yield server
    finally:
        server.stop()


class Kernel:
    """The jupyter_server websocket of one kernel: run code, collect the reply."""

    def __init__(self, lab, kernel_id, session_id):
        self.lab, self.session = lab, session_id
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{lab.port}/api/kernels/{kernel_id}/channels"
            f"?session_id={session_id}&token={lab.token}", timeout=min(30, lab.left()))

    def run(self, code):
        """(execute_reply status, stdout, error text) of running `code`."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request",
                       "username": "test", "session": self.session, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False,
                        "stop_on_error": True}}))
        status, stdout, errors, idle = None, [], [], False
        while status is None or not idle:
            self.ws.settimeout(min(30, self.lab.left()))
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "execute_reply":
                status = content["status"]
            elif kind == "stream" and content["name"] == "stdout":
                stdout.append(content["text"])
            elif kind == "error":
                errors.append(f"{content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        return status, "".join(stdout), "\n".join(errors)

    def close(self):
        self.ws.close()


def _cell(nb, starts, what):
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"
             and "".join(c["source"]).lstrip().startswith(starts)]
    assert len(cells) == 1, (
        f"{CHAPTER}: expected one code cell {what}, found {len(cells)}")
    return cells[0]


def test_jupyter_lab_runs_a_chapter(lab):
    status = lab.wait_ready()
    assert "started" in status, status

    # What `jupyter lab` serves is JupyterLab itself (not only a bare Jupyter server).
    page = lab.api("GET", "/lab", 200).text
    assert '"appName": "JupyterLab"' in page or "JupyterLab" in page, page[:500]

    # Open the chapter through the contents API: the notebook the student sees.
    model = lab.api("GET", f"/api/contents/{CHAPTER}", 200).json()
    assert model["type"] == "notebook" and model["format"] == "json", model["type"]
    nb = model["content"]
    # The parameter-count exercise: the solution defines n_parameters, the self-check
    # calls check.parameter_count on it and prints the count of the [256, 64] network.
    solution = _cell(nb, "def n_parameters(", "defining n_parameters")
    self_check = _cell(nb, "check.parameter_count(n_parameters)", "checking it")
    expected = "".join("".join(o["text"]) for o in self_check["outputs"]
                       if o["output_type"] == "stream" and o["name"] == "stdout")
    assert "parameters" in expected, f"stored output of the self-check: {expected!r}"

    # A kernel, started through a session on the notebook as JupyterLab does.
    session = lab.api("POST", "/api/sessions", 201, json={
        "path": CHAPTER, "type": "notebook", "name": CHAPTER,
        "kernel": {"name": "python3"}}).json()
    kernel = Kernel(lab, session["kernel"]["id"], session["id"])
    try:
        # import lecture_lib: this repository's library (the editable install), with the
        # kernel in chapters/ beside the notebook.
        status, out, err = kernel.run(
            "import os, lecture_lib\nprint(lecture_lib.__file__)\nprint(os.getcwd())")
        assert status == "ok", err
        lib_file, cwd = out.split()
        assert Path(lib_file).resolve() == ROOT / "lecture_lib" / "__init__.py", out
        assert Path(cwd).resolve() == ROOT / "chapters", out

        # The chapter's exercise cells. What would be wrong: a kernel that cannot import
        # the chapter's libraries, or that computes another count than the stored one.
        for code in ("from lecture_lib import check", "".join(solution["source"]),
                     "".join(self_check["source"])):
            status, out, err = kernel.run(code)
            assert status == "ok", f"{code[:80]!r} failed in the kernel: {err}"
        assert out == expected, (
            f"self-check printed {out!r}, the notebook stores {expected!r}")

        # A failing cell is reported as an error, not swallowed.
        status, out, err = kernel.run("check.parameter_count(lambda sizes: 0)")
        assert status == "error" and "CheckFailed" in err, (status, err)
    finally:
        kernel.close()

    lab.api("DELETE", f"/api/sessions/{session['id']}", 204)
    kernels = lab.api("GET", "/api/kernels", 200).json()
    assert kernels == [], f"kernels outlived their session: {kernels}"
    assert lab.stop() is not None, f"jupyter lab did not stop\n{lab.tail()}"
