"""The nbgrader course of the book: create it, and measure what grading costs.

    python -m coursetools.course init DIR [--force] [--chapters NN_name ...]
    python -m coursetools.course grade ASSIGNMENT [--dir DIR] [--jobs N]
    python -m coursetools.course bench [DIR] [--chapters ...] [--whole [REV]]
    python -m coursetools.course bench --class 60 --jobs 1 2 [--chapters NN_name]

``init`` writes an nbgrader course directory: ``DIR/nbgrader_config.py`` (the course id,
a per-cell timeout, the preprocessors of ``coursetools.nbgrader_plugins``) and
``DIR/source/<chapter>/<chapter>.ipynb``, the graded notebook of every chapter
(``coursetools.graded``: the chapter's ``assignment-setup`` cells and its exercises).
Inside DIR nbgrader's own commands then work unchanged::

    cd DIR
    nbgrader generate_assignment 03_twolayer_gradients
    nbgrader zip_collect 03_twolayer_gradients     # downloaded/<chapter>/archive/*.zip
    nbgrader autograde 03_twolayer_gradients
    nbgrader export                                # grades.csv
    nbgrader generate_feedback 03_twolayer_gradients

The released notebooks import ``lecture_lib`` and read the MNIST files from the
repository (``pip install -r requirements.txt`` installs it editable;
``lecture_lib.data`` finds ``data/mnist`` from there), so they run from any folder of
the machine.

``bench`` grades the instructor's solutions of every chapter with real nbgrader, in a
course made for the purpose (DIR, which must be empty or absent, or a temporary folder),
and prints one row per chapter: seconds per submission (the wall time of ``nbgrader
autograde`` for one student, nbgrader's own start included), score / max. It exits 1
unless every chapter scores full marks on every autograded cell. ``--whole`` measures
instead the whole chapter as the graded notebook (what autograding cost before graded
notebooks); ``--whole REV`` takes the chapters as they were at the git revision REV,
which carry no nbgrader cells, so only their execution in a fresh kernel is timed (what
``autograde`` would spend on them).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from .assign import grade_id
from .graded import GradedNotebookError, graded_notebook

__all__ = ["COURSE_ID", "CELL_TIMEOUT", "STUDENT_TARGET_S", "CourseError", "chapters",
           "config_text", "init", "nbgrader", "solutions_submission", "submit",
           "scores", "chapters_at", "slowest_cell", "bench", "format_row", "main"]

REPO = Path(__file__).resolve().parent.parent
CHAPTERS_DIR = REPO / "chapters"
COURSE_ID = "backprop-lecture10"
# Per-cell limit of autograde: a cell of a submission still running after this many
# seconds is stuck (an infinite loop), is interrupted, and its exercise scores zero. A
# graded notebook takes at most about 36 s in all (the target), so its slowest cell
# less; 120 s leaves a student's slower (say loop-based) answer three times that, and
# costs the class two minutes per stuck cell. `python -m coursetools.course bench`
# prints each chapter's slowest cell.
CELL_TIMEOUT = 120
STUDENT_TARGET_S = 36          # the target per submission on 2 cores
SOLUTIONS_STUDENT = "instructor-solutions"


class CourseError(RuntimeError):
    """The course directory cannot be made or graded (the message says why)."""


def chapters(root=CHAPTERS_DIR):
    """The chapter notebooks, in the book's order (their names sort in reading order).
    """
    return sorted(p for p in Path(root).glob("*.ipynb") if p.is_file())


def config_text(course_id=COURSE_ID, timeout=CELL_TIMEOUT):
    """The course's nbgrader_config.py."""
    return f'''\
# nbgrader configuration of the course, written by `python -m coursetools.course init`.
# Run nbgrader's commands from this folder (see README.md, "For instructors").
import os
import sys

from coursetools import nbgrader_plugins as plugins

# nbgrader runs `alembic` by name: this Python's scripts first on PATH, so it is found
# even when the virtual environment is not activated.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]

c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = {course_id!r}

# A cell still running after this many seconds is interrupted (an infinite loop in a
# submission): its exercise scores zero and the rest of the notebook is graded.
c.Execute.timeout = {timeout}

# generate_assignment: nbgrader's own preprocessors, with the strict ClearSolutions of
# coursetools.assign and RemoveSolutionProse (sphinx-exercise solution prose) after it.
c.GenerateAssignment.preprocessors = plugins.GENERATE_ASSIGNMENT

# autograde: restore stripped metadata, keep the answered copy of a duplicated cell,
# name the student and the cells a submission lacks, then restore the locked test cells
# (a deleted test cell is put back and run, not silently skipped).
c.Autograde.sanitize_preprocessors = plugins.AUTOGRADE_SANITIZE
c.OverwriteCells.add_missing_cells = True
# Each submission runs in a sandboxed kernel (README, "The sandbox"); the hidden tests
# are judged afterwards, outside it. Results and reports go to grading/.
c.Autograde.autograde_preprocessors = plugins.AUTOGRADE
c.SandboxExecute.timeout = {timeout}
# Only if the sandbox cannot start and you accept that a submission runs with YOUR
# rights (it can read and change this folder): uncomment.
# c.SandboxExecute.unsandboxed = True

# generate_feedback: nbgrader shows hidden tests in feedback by default
# (jupyter/nbgrader issues 917 and 1363); HideHiddenTests removes their code and
# tracebacks, keeps the score.
c.GenerateFeedback.preprocessors = plugins.GENERATE_FEEDBACK

# zip_collect: file names of an LMS download (Canvas style), <student>_<user
# id>_<submission id>_<notebook>.ipynb, in downloaded/<chapter>/archive/.
c.FileNameCollectorPlugin.named_regexp = plugins.LMS_FILENAME_REGEXP

# JupyterHub exchange (nbgrader release_assignment / collect): uncomment and set.
# c.Exchange.root = "/srv/nbgrader/exchange"
'''


def _graded_sources(paths):
    """{name: graded notebook} for the chapter notebooks `paths`; CourseError lists
    every chapter that cannot be made."""
    out, errors = {}, []
    for path in paths:
        path = Path(path)
        try:
            nb = nbformat.read(path, as_version=4)
            out[path.stem] = graded_notebook(nb, path.stem)
        except (GradedNotebookError, OSError, ValueError) as err:
            text = str(err)
            errors.append(text if path.name in text else f"{path.name}: {text}")
    if errors:
        raise CourseError("\n".join(errors))
    return out


def init(out, chapter_paths=None, force=False, course_id=COURSE_ID,
         timeout=CELL_TIMEOUT, whole=False):
    """Write the course directory `out`; return the source notebooks written.

    Refuses a non-empty `out` unless `force` (which overwrites only what it writes).
    Every chapter is read and made first; on any problem a CourseError names each
    failing chapter and nothing is written. `whole` uses the whole chapter as its graded
    notebook (bench).
    """
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise CourseError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise CourseError(f"{out} is not empty; pass --force to overwrite the course "
                          f"files it writes (nbgrader_config.py, source/)")
    if CHAPTERS_DIR in [out, *out.parents]:
        raise CourseError(f"refusing to write into the chapters folder {CHAPTERS_DIR}")
    paths = chapters() if chapter_paths is None else [Path(p) for p in chapter_paths]
    if not paths:
        raise CourseError("no chapter notebooks found")
    if whole:
        sources = {Path(p).stem: nbformat.read(p, as_version=4) for p in paths}
    else:
        sources = _graded_sources(paths)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(config_text(course_id, timeout))
    written = []
    for name, nb in sources.items():
        target = out / "source" / name / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(target))
        written.append(target)
    return written


def nbgrader(course_dir, *args, timeout=None, check=True):
    """Run ``nbgrader ARGS`` (this Python's) inside `course_dir`; the CompletedProcess.

    With `check`, a non-zero exit raises CourseError carrying nbgrader's log."""
    # nbgrader runs `alembic` by name: this Python's scripts must come first on PATH
    # even when its virtual environment is not activated.
    scripts = str(Path(sys.executable).parent)
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PATH=scripts + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *map(str, args)],
                          cwd=course_dir, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if check and proc.returncode != 0:
        command = " ".join(map(str, args))
        raise CourseError(f"nbgrader {command} exited {proc.returncode}:\n"
                          f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def solutions_submission(release_nb, source_nb):
    """The release with the instructor's solution cells put back (by grade_id): what a
    student who wrote the model solutions hands in."""
    answers = {grade_id(c): c.source for c in source_nb.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    sub = nbformat.from_dict(json.loads(json.dumps(release_nb)))
    for cell in sub.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return sub


def submit(course_dir, assignment, student, nb_or_text):
    """Place one submission as nbgrader's collect would:
    submitted/<student>/<assignment>/."""
    folder = Path(course_dir) / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{assignment}.ipynb"
    if isinstance(nb_or_text, str):
        target.write_text(nb_or_text)
    else:
        nbformat.write(nb_or_text, str(target))
    return target


def scores(course_dir, assignment, student):
    """{grade_id: (score, max_score)} of the autograded cells of one submission, from
    the course's gradebook (auto scores; written answers, graded by hand, are left out).
    """
    from nbgrader.api import Gradebook
    db = f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"
    with Gradebook(db) as gb:
        found = {}
        for notebook in gb.find_submission(assignment, student).notebooks:
            for grade in notebook.grades:
                if grade.cell_type == "code":
                    found[grade.name] = (grade.auto_score, grade.max_score)
    return found


def _git(*args):
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CourseError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def chapters_at(rev):
    """{name: notebook} of the chapters as they were at the git revision `rev`."""
    names = _git("ls-tree", "--name-only", rev, "chapters/").split()
    return {Path(n).stem: nbformat.reads(_git("show", f"{rev}:{n}"), as_version=4)
            for n in sorted(names) if n.endswith(".ipynb")}


def _execute_seconds(nb, cwd, timeout=1800):
    """Wall time of executing `nb` in a fresh kernel (nbclient, as autograde does)."""
    from nbclient import NotebookClient
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    start = time.perf_counter()
    client.execute(stderr=subprocess.DEVNULL)       # the kernel's own start-up warnings
    return time.perf_counter() - start


def slowest_cell(nb):
    """(seconds, grade_id or cell number) of the slowest code cell of an executed
    notebook, from the timing nbclient records in each cell's metadata."""
    from datetime import datetime
    best = (0.0, None)
    for number, cell in enumerate(nb.cells, start=1):
        times = cell.metadata.get("execution", {})
        if cell.cell_type != "code" or "shell.execute_reply" not in times:
            continue
        begin, end = (datetime.fromisoformat(times[key].replace("Z", "+00:00"))
                      for key in ("iopub.execute_input", "shell.execute_reply"))
        seconds = (end - begin).total_seconds()
        if seconds > best[0]:
            best = (seconds, grade_id(cell) or f"cell {number}")
    return best


def bench(course_dir, chapter_paths=None, whole=False, rev=None, log=print):
    """Grade the instructor's solutions of each chapter, one submission at a time.

    Returns rows ``(chapter, seconds, score, max_score, full_marks, slowest)``: the wall
    time of ``nbgrader autograde`` for the one submission, its autograded points and
    their maximum, whether every autograded cell scored full marks, and (seconds, cell)
    of its slowest cell. With `rev`, the chapters at that git revision are executed
    whole instead (they carry no nbgrader cells): score and max_score are None."""
    course_dir = Path(course_dir)
    rows = []
    if rev is not None:
        work = course_dir / "execute"
        work.mkdir(parents=True, exist_ok=True)
        for name, nb in chapters_at(rev).items():
            seconds = _execute_seconds(nb, work)
            rows.append((name, seconds, None, None, None, slowest_cell(nb)))
            log(format_row(rows[-1]))
        return rows
    paths = chapters() if chapter_paths is None else [Path(p) for p in chapter_paths]
    # The whole chapters hold minute-long training cells: no per-cell limit for them.
    init(course_dir, paths, whole=whole, timeout=1800 if whole else CELL_TIMEOUT)
    for path in paths:
        name = path.stem
        nbgrader(course_dir, "generate_assignment", name, "--force")
        nb_file = Path(name) / f"{name}.ipynb"
        source = nbformat.read(course_dir / "source" / nb_file, as_version=4)
        release = nbformat.read(course_dir / "release" / nb_file, as_version=4)
        submit(course_dir, name, SOLUTIONS_STUDENT,
               solutions_submission(release, source))
        start = time.perf_counter()
        nbgrader(course_dir, "autograde", name, "--student", SOLUTIONS_STUDENT,
                 "--force")
        seconds = time.perf_counter() - start
        got = scores(course_dir, name, SOLUTIONS_STUDENT)
        score = sum(s or 0 for s, _ in got.values())
        top = sum(m for _, m in got.values())
        full = bool(got) and all(s == m for s, m in got.values())
        graded = nbformat.read(course_dir / "autograded" / SOLUTIONS_STUDENT / nb_file,
                               as_version=4)
        rows.append((name, seconds, score, top, full, slowest_cell(graded)))
        log(format_row(rows[-1]))
    return rows


HEADER = (f"{'chapter':<28} {'per submission':>14}   {'score / max':<14} slowest cell")


def format_row(row):
    name, seconds, score, top, full, (cell_s, cell) = row
    marks = "n/a (no cells)" if score is None else (
        f"{score:g} / {top:g}" + ("" if full else " NOT FULL"))
    return f"{name:<28} {seconds:12.1f} s   {marks:<14} {cell_s:.1f} s ({cell})"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursetools.course",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_init = sub.add_parser("init", help="create an nbgrader course directory")
    p_init.add_argument("dir", type=Path)
    p_init.add_argument("--force", action="store_true",
                        help="write into a non-empty DIR (overwrites only its files)")
    p_init.add_argument("--chapters", nargs="+", metavar="NAME",
                        help="only these chapters (names without .ipynb)")
    p_init.add_argument("--course-id", default=COURSE_ID)
    p_grade = sub.add_parser("grade", help="grade a class: sandboxed jobs in parallel, "
                                           "then nbgrader autograde, then the report")
    p_grade.add_argument("assignment")
    p_grade.add_argument("--dir", type=Path, default=Path("."),
                         help="the course directory (default: here)")
    p_grade.add_argument("--jobs", type=int, default=os.cpu_count(),
                         help="submissions executed at once (default: all cores)")
    p_grade.add_argument("--student", nargs="+", help="only these students")
    p_bench = sub.add_parser("bench",
                             help="autograde time of the solutions, per chapter")
    p_bench.add_argument("dir", type=Path, nargs="?",
                         help="an empty folder for the bench course (default: a "
                              "temporary one, removed afterwards)")
    p_bench.add_argument("--chapters", nargs="+", metavar="NAME")
    p_bench.add_argument("--whole", nargs="?", const="", metavar="REV",
                         help="the whole chapter as graded notebook; with REV, the "
                              "chapters at that git revision, execution time only")
    p_bench.add_argument("--class", dest="class_size", type=int, metavar="N",
                         help="instead: grade N copies of chapter 3's (or the first "
                              "--chapters') solutions with `grade`, at each --jobs")
    p_bench.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)

    selected = None
    if getattr(args, "chapters", None):
        selected = [CHAPTERS_DIR / f"{n.removesuffix('.ipynb')}.ipynb"
                    for n in args.chapters]
        missing = [p.name for p in selected if not p.is_file()]
        if missing:
            parser.error("no such chapter: " + ", ".join(missing))
    try:
        if args.command == "init":
            written = init(args.dir, selected, force=args.force,
                           course_id=args.course_id)
            print(f"{args.dir}: nbgrader_config.py and {len(written)} source notebooks")
            for p in written:
                print(f"  {p.relative_to(args.dir.resolve())}")
            return 0
        if args.command == "grade":
            return _grade_command(args)
        if args.class_size:
            return _class_bench_command(parser, args, selected)
        return _bench_command(parser, args, selected)
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _grade_command(args):
    from .classgrade import grade_class
    if args.jobs < 1:
        raise CourseError(f"--jobs must be at least 1, got {args.jobs}")
    if not (args.dir / "nbgrader_config.py").is_file():
        raise CourseError(f"{args.dir.resolve()} is not a course directory (no "
                          f"nbgrader_config.py); see `course init`")
    rows, seconds = grade_class(args.dir, args.assignment, args.student, args.jobs)
    width = max([len(r["student"]) for r in rows] + [7])
    for r in rows:
        print(f"{r['student']:<{width}} {r['score']:>5} / {r['max_score']:<5} "
              f"{r['status']}")
    print(f"{len(rows)} submissions in {seconds:.1f} s with {args.jobs} jobs; "
          f"report: {(args.dir / 'grading_report.csv').resolve()}")
    return 0 if all(r["status"] != "not graded" for r in rows) else 1


def class_bench(course_dir, chapter, size, jobs_list, log=print):
    """Grade `size` copies of `chapter`'s solutions at each number of jobs; rows
    (jobs, wall seconds, seconds per submission, all full marks)."""
    from .classgrade import grade_class
    init(course_dir, [chapter])
    name = Path(chapter).stem
    nbgrader(course_dir, "generate_assignment", name, "--force")
    nb_file = Path(name) / f"{name}.ipynb"
    source = nbformat.read(course_dir / "source" / nb_file, as_version=4)
    release = nbformat.read(course_dir / "release" / nb_file, as_version=4)
    answer = solutions_submission(release, source)
    for i in range(size):
        submit(course_dir, name, f"student{i:03d}", answer)
    rows = []
    for jobs in jobs_list:
        report, seconds = grade_class(course_dir, name, jobs=jobs, log=log)
        full = all(s == m for r in report   # autograded cells (written answers wait)
                   for s, m in scores(course_dir, name, r["student"]).values())
        rows.append((jobs, seconds, seconds / size, full))
        log(f"{size} submissions, {jobs} jobs: {seconds:.1f} s, "
            f"{seconds / size:.2f} s per submission"
            + ("" if full else " NOT ALL FULL MARKS"))
    return rows


CLASS_CHAPTER = CHAPTERS_DIR / "03_twolayer_gradients.ipynb"   # the class


def _class_bench_command(parser, args, selected):
    chapter = (selected or [CLASS_CHAPTER])[0]
    tmp = tempfile.mkdtemp(prefix="coursetools-class-")
    print(f"grading a class of {args.class_size} copies of {chapter.stem}'s solutions; "
          f"{os.cpu_count()} CPUs")
    try:
        rows = class_bench(Path(tmp), chapter, args.class_size, args.jobs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(r[3] for r in rows) else 1


def _bench_command(parser, args, selected):
    tmp = None
    if args.dir is None:
        tmp = tempfile.mkdtemp(prefix="coursetools-bench-")
        course_dir = Path(tmp)
    else:
        course_dir = args.dir.resolve()
        if course_dir.exists() and any(course_dir.iterdir()):
            parser.error(f"{course_dir} is not empty")
    whole, rev = args.whole is not None, args.whole or None
    what = "graded notebooks" if not whole else \
        "whole chapters" + (f" at {rev}, executed" if rev else "")
    print(f"autograde of the instructor's solutions, {what}; {os.cpu_count()} CPUs; "
          f"target at most about {STUDENT_TARGET_S} s per submission")
    print(HEADER)
    try:
        rows = bench(course_dir, selected, whole=whole, rev=rev)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    over = [r[0] for r in rows if r[1] > STUDENT_TARGET_S]
    print(f"total {sum(r[1] for r in rows):.1f} s; over the target: "
          f"{', '.join(over) if over else 'none'}")
    bad = [r[0] for r in rows if r[4] is False]
    if bad:
        print(f"not full marks: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
