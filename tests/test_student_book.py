"""The student edition of the book (coursetools.student_book).

On the synthetic chapter (tests/synthetic_chapter.py): what each kind of cell becomes,
and a real jupyter-book build of a one-chapter book. On the real book (once every
chapter carries its nbgrader metadata): the instructor book and the student edition are
both built, and no line of any solution region is found in the student edition while the
same detector finds them in the instructor book, and every figure that is not part of a
solution is kept.
"""
import base64
import hashlib
import html
import re
import shutil
from pathlib import Path

import nbformat
import pytest

import books
import synthetic_chapter as syn
from coursetools import student_book
from coursetools.assign import AssignError, solution_gate_cells

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPO / "chapters").glob("*.ipynb"))
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n synthetic figure").decode()
SOLUTION_PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n a solution's figure").decode()


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def with_figures(nb):
    """The synthetic chapter with a teaching figure and a figure in a solution."""
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    for cell in nb.cells:
        if cell.source == syn.TEACHING:
            cell.outputs.append(nbformat.v4.new_output(
                "display_data", data={"image/png": PNG, "text/plain": "<Figure>"}))
        if grade_id(cell) == "ex-syn-scale-code":
            cell.outputs = [nbformat.v4.new_output(
                "display_data", data={"image/png": SOLUTION_PNG,
                                      "text/plain": "<Figure>"})]
    return nb


@pytest.fixture
def book_nb():
    source = with_figures(syn.chapter())
    before = nbformat.writes(source)
    book = student_book.student_book_notebook(source, "99_synthetic.ipynb")
    assert nbformat.writes(source) == before               # the chapter is only read
    return book


def test_teaching_outputs_stay(book_nb):
    # Failing: the student edition shows nothing of what it teaches (the bug).
    teaching = next(c for c in book_nb.cells if c.source == syn.TEACHING)
    assert teaching.outputs[0].text == "teaching output 6\n"
    assert any("image/png" in o.get("data", {}) for o in teaching.outputs)
    assert teaching.execution_count == 2


def test_exercise_outputs_hidden_tests_and_prose_go(book_nb):
    # Failing: a solution's output or figure, a check's output, a hidden test, a model
    # answer or solution prose reaches the student edition.
    cells = {grade_id(c): c for c in book_nb.cells if grade_id(c)}
    assert "ex-syn-scale-hidden" not in cells and "ex-syn-sum-hidden" not in cells
    for gid in ("ex-syn-scale-code", "ex-syn-scale-check", "ex-syn-sum-code"):
        assert cells[gid].outputs == [] and cells[gid].execution_count is None, gid
    assert cells["ex-syn-why-answer"].source == "YOUR ANSWER HERE"
    assert "# YOUR CODE HERE" in cells["ex-syn-scale-code"].source
    text = nbformat.writes(book_nb)
    for secret in ("np.asarray(x) * SCALE", "model_answer_marker", "prose_marker_scale",
                   "hidden_scale_shape", "solution-start", "BEGIN HIDDEN"):
        assert secret not in text, secret
    assert cells["ex-syn-scale-check"].source == syn.SCALE_CHECK    # self-check kept


def test_gate_cells_are_found():
    # Failing: a plain cell inside a solution dropdown would keep its (answer-showing)
    # output, or a teaching cell after the gate would lose its output.
    nb = syn.chapter()
    inside = solution_gate_cells(nb)
    sources = [nb.cells[i].source for i in sorted(inside)]
    assert syn.SCALE_SOLUTION in sources and syn.WHY_ANSWER in sources
    assert syn.TEACHING not in sources and syn.SCALE_CHECK not in sources
    broken = syn.chapter()
    last_end = max(i for i, c in enumerate(broken.cells)
                   if c.source.startswith("```{solution-end}"))
    del broken.cells[last_end]
    with pytest.raises(AssignError, match="has no {solution-end}"):
        solution_gate_cells(broken, "x.ipynb")


def fake_repo(root, nb):
    """A one-chapter book beside the synthetic chapter, with the real book's config."""
    (root / "chapters").mkdir(parents=True)
    (root / "lecture_lib").mkdir()
    (root / "lecture_lib" / "listing.py").write_text("x = 1\n")
    shutil.copy(REPO / "_config.yml", root / "_config.yml")
    shutil.copy(REPO / "references.bib", root / "references.bib")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                   "  - file: chapters/99_synthetic\n")
    (root / "intro.md").write_text("# Intro\n\nThe synthetic book.\n")
    (root / "README.md").write_text("not a page")
    nbformat.write(nb, str(root / "chapters" / "99_synthetic.ipynb"))
    return root


def test_build_of_a_synthetic_book(tmp_path):
    # Failing: the build does not run, writes into chapters/, loses the teaching output
    # or shows an answer, or its download button does not give the student notebook.
    repo = fake_repo(tmp_path / "repo", with_figures(syn.chapter()))
    before = (repo / "chapters" / "99_synthetic.ipynb").read_bytes()
    html_dir = student_book.build(tmp_path / "out", repo=repo)
    assert html_dir == (tmp_path / "out" / "html").resolve()
    assert (repo / "chapters" / "99_synthetic.ipynb").read_bytes() == before
    written = sorted(p.name for p in (repo / "chapters").iterdir())
    assert written == ["99_synthetic.ipynb"]
    page = (html_dir / "chapters" / "99_synthetic.html").read_text()
    assert "teaching output 6" in page
    # The written answer's placeholder is a box saying where the answer goes (the
    # notebook keeps nbgrader's "YOUR ANSWER HERE").
    assert 'class="answer-placeholder' in page and "YOUR ANSWER HERE" not in page
    assert "student edition" in page
    for secret in ("np.asarray(x) * SCALE", "model_answer_marker", "prose_marker_scale",
                   "hidden_scale_shape"):
        assert secret not in page, secret
    images = {hashlib.sha256((html_dir / "chapters" / src).read_bytes()).hexdigest()
              for src in re.findall(r'<img[^>]+src="([^"]+)"', page)}
    assert images == {hashlib.sha256(base64.b64decode(PNG)).hexdigest()}
    download = nbformat.read(html_dir / "_sources" / "chapters" / "99_synthetic.ipynb",
                             4)
    stub = next(c for c in download.cells if grade_id(c) == "ex-syn-scale-code")
    assert "# YOUR CODE HERE" in stub.source
    assert (tmp_path / "out" / "src" / "lecture_lib" / "listing.py").is_file()


def test_refuses_to_write_into_the_chapters(tmp_path):
    # Failing: the student sources could overwrite the instructor notebooks.
    repo = fake_repo(tmp_path / "repo", syn.chapter())
    with pytest.raises(student_book.StudentBookError, match="refusing"):
        student_book.write_sources(repo / "chapters" / "student", repo)


# --------------------------------------------------------------------------- the real
# book

def not_ready():
    """Chapters without nbgrader metadata (their student version cannot be made yet)."""
    return [p.name for p in CHAPTERS
            if not any(c.metadata.get("nbgrader") for c in nbformat.read(p, 4).cells)]


def page_text(path):
    text = Path(path).read_text()
    text = re.sub(r"<(style|script)\b.*?</\1>", "", text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def normal(text):
    """Prose for comparison: math delimiters, markup and spacing removed."""
    text = re.sub(r"\\[()\[\]]|\$+|`|\*\*|\*", "", text)
    return re.sub(r"\s+", " ", text).strip()


def secrets_and_teaching(nb):
    """(code lines, prose lines, teaching lines, teaching prose) of a chapter, with this
    test's own parsing. Secret lines are those of its solution regions (solution code,
    whole solution cells, model answers, hidden tests, markdown inside solution gates)
    that its teaching cells do not also contain; teaching prose is the normalized text
    of the markdown outside the solutions, for prose that wraps at other places there.
    """
    gated = solution_gate_cells(nb)
    code, prose, teaching, teaching_prose = set(), set(), set(), []
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        inside = False
        marked = ("### BEGIN SOLUTION" in cell.source
                  or "### BEGIN HIDDEN" in cell.source)
        for line in cell.source.splitlines():
            s = line.strip()
            if s in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                inside = True
            elif s in ("### END SOLUTION", "### END HIDDEN TESTS"):
                inside = False
            elif not s:
                continue
            elif cell.cell_type == "code":
                secret = inside or (meta.get("solution") and not marked)
                (code if secret else teaching).add(s)
            elif (i in gated or meta.get("solution")) \
                    and not s.startswith(("```", ":")):
                prose.add(s)
            else:
                teaching.add(s)
                teaching_prose.append(s)
    for cell in nb.cells:               # listings the page includes are teaching too
        for rel in re.findall(r"\{literalinclude\}\s+(\S+)", cell.source):
            listing = REPO / "chapters" / rel
            if listing.is_file():
                teaching.update(ln.strip() for ln in listing.read_text().splitlines())
    for i, cell in enumerate(nb.cells):  # so are the outputs of teaching cells (a listing
        if cell.cell_type != "code" or cell.metadata.get("nbgrader") or i in gated:
            continue                     # printed from the library, chapter 5)
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            shown = out.get("text", "") + data.get("text/plain", "") + html.unescape(
                re.sub(r"<[^>]+>", "", data.get("text/html", "")))
            teaching.update(ln.strip() for ln in shown.splitlines() if ln.strip())
    teaching_prose = normal(" ".join(teaching_prose))
    prose = {p for p in prose - teaching
             if len(normal(p)) >= 30 and normal(p) not in teaching_prose}
    return code - teaching, prose, teaching, teaching_prose


def page_images(page):
    found = set()
    for src in re.findall(r'<img[^>]+src="([^"]+)"', page.read_text()):
        if not src.startswith("data:"):
            found.add(hashlib.sha256((page.parent / src).read_bytes()).hexdigest())
    return found


def solution_images(nb):
    """sha256 of every image stored by a cell the student edition must not show."""
    gated = solution_gate_cells(nb)
    found = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.metadata.get("nbgrader") or i in gated):
            for out in cell.outputs:
                data = out.get("data", {})
                if "image/png" in data:
                    png = base64.b64decode(data["image/png"])
                    found.add(hashlib.sha256(png).hexdigest())
    return found


@pytest.fixture(scope="module")
def both_books(tmp_path_factory):
    """(instructor html, student html): the builds of this run (tests/books.py), shared
    with the browser test."""
    missing = not_ready()
    if missing:
        pytest.skip(f"chapters without nbgrader metadata: {', '.join(missing)}")
    try:
        return books.built(tmp_path_factory, "book"), books.built(tmp_path_factory,
                                                                  "student")
    except books.BuildFailed as err:
        pytest.fail(str(err))


def test_no_solution_line_in_the_student_edition(both_books):
    # Failing: some solution code, model answer, hidden test or solution prose is on a
    # page of the student edition; the detector is shown to work on the instructor book.
    instructor, student = both_books
    pages = sorted(p.relative_to(student) for p in student.rglob("*.html")
                   if "_static" not in p.parts)
    found_in_instructor = 0
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        code, prose, _, _ = secrets_and_teaching(nb)
        page = Path("chapters") / f"{path.stem}.html"
        text = page_text(instructor / page)
        found_in_instructor += sum(s in {ln.strip() for ln in text.splitlines()}
                                   for s in code)
        found_in_instructor += sum(normal(p) in normal(text) for p in prose)
        for rel in pages:
            own, own_prose = set(), ""           # the page's own teaching is no leak
            if rel.parent.name == "chapters":
                own, own_prose = secrets_and_teaching(nbformat.read(
                    REPO / "chapters" / f"{rel.stem}.ipynb", 4))[2:]
            text = page_text(student / rel)
            lines = {ln.strip() for ln in text.splitlines()}
            leaked = {s for s in code - own if s in lines}
            leaked |= {p for p in prose - own
                       if normal(p) in normal(text) and normal(p) not in own_prose}
            assert not leaked, (f"{rel}: lines of {path.name}'s solutions: "
                                f"{sorted(leaked)[:5]}")
    assert found_in_instructor > 100


def test_student_edition_keeps_every_teaching_figure(both_books):
    # Failing: the student edition lost a figure the chapter teaches with, or shows one
    # that belongs to a solution.
    instructor, student = both_books
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        page = Path("chapters") / f"{path.stem}.html"
        hidden = solution_images(nb)
        want = page_images(instructor / page) - hidden
        got = page_images(student / page)
        assert want <= got, f"{page}: {len(want - got)} teaching figures missing"
        assert not got & hidden, f"{page}: a solution's figure is shown"
    assert sum(len(page_images(p)) for p in (student / "chapters").glob("*.html")) > 10
