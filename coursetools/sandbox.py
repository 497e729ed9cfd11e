"""The sandbox a submission's kernel runs in: Debian's bubblewrap (``bwrap``).

What the kernel of one submission sees and may do
-------------------------------------------------
- It runs as uid/gid 65534 (``nobody``): ``bwrap`` (started by the grader, as root)
  makes the namespaces and mounts, then ``setpriv`` drops to 65534 with no capabilities
  before Python starts. Files it could write outside the sandbox would belong to nobody.
- Its own PID namespace (it sees only itself and its children; it can signal neither the
  grader nor anything else; everything in it is killed when the kernel's sandbox ends,
  so no process outlives grading), no network (a network namespace with only ``lo``),
  its own IPC and UTS namespaces.
- A filesystem holding only: ``/usr`` (the system's libraries and ``setpriv``), the
  Python environment (``sys.prefix``, read-only), the ``lecture_lib`` package folder
  and the MNIST folder (read-only, at their own paths, so the editable install and
  ``lecture_lib.data`` find them), a private writable ``/scratch`` (a tmpfs of
  ``Limits.scratch_bytes``, its working directory and ``HOME``, gone when it ends) and
  the folder of its ZeroMQ ``ipc`` sockets. None of the course directory (source/,
  release/, submitted/, autograded/, the gradebook, nbgrader_config.py) and nothing else
  of the instructor's repository (``chapters/``, ``coursetools/``) is there.
- Limits (``prlimit``): address space, CPU seconds, processes of uid 65534, the size
  of a file it writes; the grader caps output bytes and wall time per cell
  (``coursetools.job``).

The grader talks to the kernel over ZeroMQ ``ipc`` sockets in a folder bound into the
sandbox (:class:`SandboxKernelManager`, a ``jupyter_client`` KernelManager), and
interrupts it by message (a signal to ``bwrap`` would not reach it).

``python -m coursetools.sandbox`` checks that the sandbox starts here, and what a kernel
inside it can and cannot reach.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec

__all__ = ["NOBODY", "Limits", "SandboxUnavailable", "readonly_paths", "bwrap_argv",
           "check", "SandboxKernelManager", "main"]

NOBODY = 65534
SCRATCH = "/scratch"


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Memory and CPU are per kernel; processes count
    every process and thread of uid 65534 on the machine (all parallel jobs)."""
    memory_bytes: int = 6 << 30          # address space of the kernel (RLIMIT_AS)
    cpu_seconds: int = 1200              # CPU time of the kernel (RLIMIT_CPU)
    processes: int = 2048                # RLIMIT_NPROC of uid 65534
    file_bytes: int = 64 << 20           # largest file it may write (RLIMIT_FSIZE)
    scratch_bytes: int = 256 << 20       # size of the tmpfs /scratch
    cell_seconds: int = 120              # wall time of one cell
    cell_output_bytes: int = 1 << 20     # output kept per cell (the rest is dropped)
    notebook_output_bytes: int = 8 << 20  # output kept per notebook
    restarts: int = 3                    # kernel restarts (death, timeout) per job
    threads: int = 0                     # BLAS/OpenMP threads; 0: leave the default


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start on this machine (the message says why and what to do).
    """


def readonly_paths():
    """The host paths a kernel needs, read-only: the Python environment, the
    lecture_lib package folder and the MNIST folder (resolved, without duplicates)."""
    import lecture_lib
    from lecture_lib import data
    env = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    package = Path(lecture_lib.__file__).resolve().parent
    mnist = Path(os.environ.get(data.DATA_ENV) or data.DEFAULT_DATA_DIR).resolve()
    paths = sorted(env) + [package, mnist]
    return [p for p in paths if p.exists()]


def _parents(path):
    """The parent folders of `path` below /, outermost first."""
    return list(reversed(Path(path).parents))[1:]


def _mkdirs(paths):
    """bwrap arguments creating every parent of `paths` as a world-readable folder
    (bwrap would copy a host parent's mode, and /root is 0700)."""
    made, args = set(), []
    for path in paths:
        for parent in _parents(path):
            if parent not in made and str(parent) not in ("/usr",):
                made.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _environment(limits):
    env = {"HOME": SCRATCH, "TMPDIR": SCRATCH,
           "PATH": f"{sys.prefix}/bin:/usr/bin:/bin",
           "MPLCONFIGDIR": f"{SCRATCH}/.matplotlib", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONUNBUFFERED": "1", "LANG": "C.UTF-8"}
    from lecture_lib import data
    if os.environ.get(data.DATA_ENV):
        env[data.DATA_ENV] = str(Path(os.environ[data.DATA_ENV]).resolve())
    if limits.threads:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(limits.threads)
    return env


def bwrap_argv(ipc_dir, limits=Limits(), command=()):
    """The command line running `command` in the sandbox: bwrap (namespaces, mounts),
    prlimit (limits), setpriv (uid 65534, no capabilities). `ipc_dir` is bound
    read-write at its own path (the kernel's sockets and connection file)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap is not installed (Debian: apt-get install "
                                 "bubblewrap)")
    ro = readonly_paths()
    argv = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--hostname", "sandbox", "--clearenv",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
            "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(limits.scratch_bytes), "--tmpfs", SCRATCH]
    argv += _mkdirs(ro + [Path(ipc_dir)])
    for path in ro:
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--bind", str(ipc_dir), str(ipc_dir), "--chdir", SCRATCH]
    for key, value in _environment(limits).items():
        argv += ["--setenv", key, value]
    argv += ["--", "prlimit", f"--as={limits.memory_bytes}",
             f"--cpu={limits.cpu_seconds}", f"--nproc={limits.processes}",
             f"--fsize={limits.file_bytes}", "--core=0", "--",
             "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
             "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
    return argv + list(command)


def private_dir(parent=None):
    """A new folder only uid 65534 (and root) may enter: a kernel's ipc folder."""
    path = Path(tempfile.mkdtemp(prefix="sandbox-ipc-", dir=parent))
    os.chown(path, NOBODY, NOBODY)
    path.chmod(0o700)
    return path


def check(timeout=60):
    """Start the sandbox once; return what bwrap says of itself. SandboxUnavailable
    (why, and what to do) when it cannot start: not root, no bwrap, or bwrap fails."""
    if os.geteuid() != 0:
        raise SandboxUnavailable(
            "the sandbox needs root to start (bwrap makes the namespaces as root, then "
            "drops the kernel to uid 65534); run the grading as root")
    ipc = private_dir()
    try:
        probe = [sys.executable, "-c", "import os, lecture_lib; print(os.getuid())"]
        try:
            proc = subprocess.run(bwrap_argv(ipc, command=probe), capture_output=True,
                                  text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise SandboxUnavailable(f"bwrap did not run: {err}") from err
        if proc.returncode != 0 or proc.stdout.strip() != str(NOBODY):
            raise SandboxUnavailable(
                f"bwrap failed (exit {proc.returncode}): {proc.stderr.strip()[-600:]}")
    finally:
        shutil.rmtree(ipc, ignore_errors=True)
    version = subprocess.run(["bwrap", "--version"], capture_output=True, text=True)
    return version.stdout.strip()


class SandboxKernelManager(AsyncKernelManager):
    """An ipykernel in the sandbox, reached over ``ipc`` sockets in its own folder.

    ``limits`` (a :class:`Limits`) must be given; the folder is made here and removed
    by :meth:`cleanup_resources`."""

    def __init__(self, limits=Limits(), **kwargs):
        self.ipc_dir = private_dir()
        kwargs.setdefault("transport", "ipc")
        kwargs.setdefault("connection_file", str(self.ipc_dir / "kernel.json"))
        super().__init__(**kwargs)
        self._sandbox_limits = limits
        argv = bwrap_argv(self.ipc_dir, limits, [
            sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"])
        self._kernel_spec = KernelSpec(argv=argv, display_name="sandboxed Python",
                                       language="python", interrupt_mode="message")

    @property
    def kernel_spec(self):
        return self._kernel_spec

    def write_connection_file(self, **kwargs):
        """The connection file, readable by the kernel's uid."""
        result = super().write_connection_file(**kwargs)
        os.chown(self.connection_file, NOBODY, NOBODY)
        return result

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.ipc_dir, ignore_errors=True)


_PROBE = r"""
import os, socket, pathlib, json, importlib.util
import lecture_lib
found = {"uid": os.getuid(), "pid": os.getpid(),
         "interfaces": [n for _, n in socket.if_nameindex()],
         "root": sorted(os.listdir("/")),
         "lecture_lib": os.path.dirname(lecture_lib.__file__),
         "beside lecture_lib": sorted(os.listdir(pathlib.Path(lecture_lib.__file__)
                                                 .parent.parent)),
         "coursetools importable": importlib.util.find_spec("coursetools") is not None}
print(json.dumps(found))
"""


def probe(timeout=60):
    """What a process in the sandbox finds (uid, interfaces, /, the folder holding
    lecture_lib, whether coursetools imports), as a dict."""
    ipc = private_dir()
    try:
        proc = subprocess.run(bwrap_argv(ipc, command=[sys.executable, "-c", _PROBE]),
                              capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(ipc, ignore_errors=True)
    if proc.returncode != 0:
        raise SandboxUnavailable(f"bwrap failed (exit {proc.returncode}): "
                                 f"{proc.stderr.strip()[-600:]}")
    return json.loads(proc.stdout)


def main(argv=None):
    try:
        print(check())
        found = probe()
    except SandboxUnavailable as err:
        print(f"error: the sandbox cannot start here: {err}", file=sys.stderr)
        return 2
    for key, value in found.items():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
