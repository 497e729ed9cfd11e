"""`pip install .` ships a working library: the wheel holds every module of lecture_lib
(and coursetools), and what it declares covers what the modules import when they are
imported.

The wheel is built offline from a copy of the sources (pyproject.toml, lecture_lib,
coursetools) with the setuptools already installed, in a few seconds; the working tree
is not written to.
"""
import ast
import email
import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lecture_lib", "coursetools")


def sources(package):
    """The package's modules in the repository, as wheel paths
    (lecture_lib/check/_base.py)."""
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / package).rglob("*.py")
                  if "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    shutil.copy(ROOT / "pyproject.toml", src)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, src / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps",
               "--no-build-isolation", "--no-index", "-q", "-w", str(out), str(src)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("lecture_lib-*.whl")
    return zipfile.ZipFile(path)


def metadata(wheel):
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.message_from_string(wheel.read(name).decode())


def requirements(meta, extra=None):
    """Distribution names (normalized) that METADATA requires, for no extra or for
    ``extra``."""
    names = set()
    for req in meta.get_all("Requires-Dist") or []:
        spec, _, marker = req.partition(";")
        wanted = (f'extra == "{extra}"' in marker) if extra else not marker.strip()
        if wanted:
            names.add(normalize(re.match(r"[A-Za-z0-9._-]+", spec.strip()).group()))
    return names


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def top_level_imports(path):
    """The modules a file imports when it is imported: its module-level import
    statements, including those under a module-level if/try, never those inside
    functions or classes."""
    found, todo = set(), list(ast.parse(path.read_text()).body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, (ast.If, ast.Try)):
            todo += node.body + node.orelse + getattr(node, "finalbody", [])
            todo += [s for h in getattr(node, "handlers", []) for s in h.body]
    return found - set(sys.stdlib_module_names) - set(PACKAGES) - {"__future__"}


def distributions_of(module):
    names = importlib.metadata.packages_distributions().get(module, [])
    return {normalize(d) for d in names}


@pytest.mark.parametrize("package", PACKAGES)
def test_the_wheel_holds_every_module(wheel, package):
    # packages = ["lecture_lib"] once shipped a lecture_lib without lecture_lib/check/.
    names = set(wheel.namelist())
    missing = [m for m in sources(package) if m not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert f"{package}/__init__.py" in names


def test_the_wheel_holds_the_self_checks_stored_values(wheel):
    # Failing: pyproject.toml's package-data left out lecture_lib/check/expected.json, so
    # every self-check of an installed wheel raised FileNotFoundError.
    stored = ROOT / "lecture_lib" / "check" / "expected.json"
    assert wheel.read("lecture_lib/check/expected.json") == stored.read_bytes()


def test_main_dependencies_cover_lecture_libs_top_level_imports(wheel):
    # A module importing, at its top, a distribution that `pip install .` does not bring
    # breaks `import lecture_lib.x` on a fresh machine (Colab, a wheel).
    declared = requirements(metadata(wheel))
    assert {"numpy", "matplotlib", "pandas", "tqdm"} <= declared
    uncovered = {}
    for path in (ROOT / "lecture_lib").rglob("*.py"):
        for module in top_level_imports(path):
            if not distributions_of(module) & declared:
                where = path.relative_to(ROOT).as_posix()
                uncovered.setdefault(module, []).append(where)
    assert not uncovered, f"imported at the top but not declared: {uncovered}"


def test_torch_is_an_extra_pinned_like_requirements(wheel):
    # torch is imported inside the functions that need it, so it is an extra; pinned to
    # the version requirements.txt installs, so that installing the extra never swaps
    # the CPU build for another one.
    meta = metadata(wheel)
    assert "torch" not in requirements(meta)
    (torch_req,) = [r for r in meta.get_all("Requires-Dist") if r.startswith("torch")]
    requirements_txt = (ROOT / "requirements.txt").read_text()
    pinned = re.search(r"^torch==([\d.]+)$", requirements_txt, re.M)
    assert torch_req.split(";")[0].replace(" ", "") == f"torch=={pinned.group(1)}"


def test_the_instructor_extra_covers_coursetools(wheel):
    meta = metadata(wheel)
    declared = requirements(meta) | requirements(meta, "instructor")
    uncovered = sorted({m for p in (ROOT / "coursetools").rglob("*.py")
                        for m in top_level_imports(p)
                        if not distributions_of(m) & declared})
    assert not uncovered, f"coursetools imports {uncovered} at the top; declare them"


def test_importing_lecture_lib_loads_no_torch():
    # The other half of torch being an extra: every module imports without it (a fresh
    # interpreter, so nothing imported earlier by the test session counts).
    modules = sorted({m[:-3].replace("/", ".").removesuffix(".__init__")
                      for m in sources("lecture_lib")})
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
