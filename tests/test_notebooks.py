"""House rules of the chapter notebooks (CONTRIBUTING.md), checked on the stored files.

nbval proves that each notebook reproduces its stored outputs; these tests catch what nbval
cannot: a cell nbval silently compares because its tag is misspelt, an ignored cell with
no assertion after it, a notebook stored without outputs or with an error in them, a chapter
missing from the table of contents, code wider than the book's column, a chapter too long to
read, a figure without number or caption, a glued number that nothing computes, and exercise
cells that nbgrader could not release or grade.
"""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
# nbval's per-cell options, as cell tags (nbval also reads "# NBVAL_..." comment lines, but a
# comment is shown on the page and in the student edition: the books use tags only).
NBVAL_TAGS = {"nbval-ignore-output", "nbval-check-output", "nbval-raises-exception",
              "raises-exception", "nbval-skip"}


def _code_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def _markers(cell):
    """nbval's options of a cell: the nbval tags it carries."""
    return set(cell.metadata.get("tags", [])) & NBVAL_TAGS


def test_every_toc_chapter_is_a_notebook_here():
    # The reverse of test_in_table_of_contents: a toc entry without its notebook breaks the
    # build, and an empty glob would make every parametrized rule below pass vacuously.
    toc = re.findall(r"file: chapters/(\S+)", (ROOT / "_toc.yml").read_text())
    assert toc and sorted(toc) == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbval_options_are_tags_spelt_exactly(path):
    # A "# NBVAL_..." comment would show on the page; a misspelt tag ("nbval-ignore") is
    # silently no option at all, so the cell would be compared and fail on another machine.
    for i, cell in enumerate(_code_cells(path)):
        comments = [line for line in cell.source.splitlines()
                    if line.strip().startswith("#") and "NBVAL_" in line]
        assert not comments, f"{path.name} code cell {i}: {comments[0]!r} (use a cell tag)"
        odd = [t for t in cell.metadata.get("tags", [])
               if "nbval" in t and t not in NBVAL_TAGS]
        assert not odd, f"{path.name} code cell {i}: unknown nbval tag {odd[0]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_cells_are_asserted_in_their_section(path):
    # An ignored cell checks nothing by itself: its results must be asserted in a band by a
    # cell of the same section (between two headings of level 1 or 2), usually the next one.
    nb = nbformat.read(path, as_version=4)
    sections, current = [], []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.match(r"#{1,2} ", cell.source):
            sections.append(current)
            current = []
        elif cell.cell_type == "code":
            current.append(cell)
    sections.append(current)
    asserts = re.compile(r"\bassert\b|check\.")
    for cells in sections:
        ignored = [c for c in cells if "nbval-ignore-output" in _markers(c)]
        if ignored:
            assert any(asserts.search(c.source) for c in cells), (
                f"{path.name}: a section ignores the output of\n{ignored[0].source[:300]}\n"
                f"but no cell of that section asserts anything")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_with_outputs_and_without_errors(path):
    # The book shows stored outputs (execute_notebooks: off): a cell never run shows nothing.
    for i, cell in enumerate(_code_cells(path)):
        if cell.source.strip():
            assert cell.execution_count is not None, f"{path.name} code cell {i} has no stored output"
        if not _markers(cell) & {"nbval-raises-exception", "raises-exception"}:
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"{path.name} code cell {i} stores an error: {errors[0].ename}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_in_table_of_contents(path):
    # A chapter missing from _toc.yml is silently left out of the book.
    toc = (ROOT / "_toc.yml").read_text()
    assert f"file: chapters/{path.stem}" in toc, f"{path.name} is not in _toc.yml"


# --------------------------------------------------------------------------- layout
# The column at 1280 px shows 80 characters of code with the book's CSS (_static/book.css;
# tests/test_browser.py measures that nothing is wider than its box). The lecture's own code,
# quoted as written, keeps its lines and carries the tag `lecture-code` (wrapped by CSS).
MAX_CODE_LINE = 80
MAX_CELLS = 62          # "at most 60 cells a chapter" shown on the page, with a little slack
REMOVED = {"remove-cell", "remove_cell"}


def _chapter(path):
    return "ch" + path.name[:2]


def _tags(cell):
    return set(cell.metadata.get("tags", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_fits_the_books_column(path):
    # A longer line disappears behind a horizontal scroll bar on the page.
    long = [(i, line) for i, cell in enumerate(_code_cells(path))
            if "lecture-code" not in _tags(cell)
            for line in cell.source.splitlines() if len(line) > MAX_CODE_LINE]
    assert not long, (f"{path.name}: {len(long)} code lines longer than {MAX_CODE_LINE} "
                      f"characters, e.g. code cell {long[0][0]}: {long[0][1]!r}" if long else "")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_length(path):
    # A chapter of 80 cells on the page is two chapters: split it where its story splits.
    # Cells removed from the page (tag remove-cell: glue, hidden tests) do not count.
    cells = nbformat.read(path, as_version=4).cells
    n = sum(1 for c in cells if not _tags(c) & REMOVED)
    assert n <= MAX_CELLS, f"{path.name} shows {n} cells (at most {MAX_CELLS})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_glue_calls_are_not_on_the_page(path):
    # A glue(...) call is the book's machinery, not what the chapter teaches: it sits in a
    # cell of its own, removed from the page (its values are still computed and compared
    # by nbval).
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and re.search(r"^\s*glue\(", cell.source, re.M):
            assert _tags(cell) & (REMOVED | {"remove-input"}), (
                f"{path.name} cell {i} calls glue() on the page: move the glue calls into "
                f"a cell tagged remove-cell")


# A word of prose: a run of letters (an apostrophe or hyphen may join two), outside math
# ($...$, $$...$$) and code spans; what a student reads.
WORD = re.compile(r"[A-Za-z]+(?:['\u2019-][A-Za-z]+)*")
NOT_PROSE = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$|`[^`\n]*`|\{[\w:-]+\}", re.S)
DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{([\w-]+)\}")
CORE_PATH_WORDS = 15_000


def _core_lines(source):
    """The lines of a markdown cell outside exercises, solutions and folded asides."""
    lines, kept, i = source.split("\n"), [], 0
    while i < len(lines):
        m = DIRECTIVE.match(lines[i].strip())
        if not m:
            kept.append(lines[i])
            i += 1
            continue
        fence, name, j = m.group(1), m.group(2), i + 1
        options = []
        while j < len(lines) and lines[j].strip().startswith(":"):
            options.append(lines[j])
            j += 1
        end = j
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        folded = name in {"exercise", "solution", "solution-start"} or any(
            "dropdown" in o for o in options)
        if not folded:
            kept.extend(_core_lines("\n".join(lines[j:end])))
        i = end + 1
    return kept


def core_path_words(path):
    """Words of prose a student reads in a chapter: markdown outside exercises, solutions
    (between solution-start and solution-end) and folded (``:class: dropdown``) asides."""
    words, in_solution = 0, False
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        if "{solution-start}" in cell.source:
            in_solution = True
        if in_solution:
            in_solution = "{solution-end}" not in cell.source
            continue
        text = NOT_PROSE.sub(" ", "\n".join(_core_lines(cell.source)))
        words += len(WORD.findall(text))
    return words


def test_core_path_is_a_read_a_student_finishes():
    # The chapters' core path (what a student reads outside exercises, solutions and
    # folded asides) at most CORE_PATH_WORDS words; detours go into folded asides.
    counts = {p.stem: core_path_words(p) for p in NOTEBOOKS}
    total = sum(counts.values())
    print("\ncore path, words per chapter: " + ", ".join(
        f"{name[:2]} {n}" for name, n in counts.items()) + f"; total {total}")
    assert total <= CORE_PATH_WORDS, (
        f"the core path has {total} words (at most {CORE_PATH_WORDS}): {counts}")


# --------------------------------------------------------------------------- figures
NUMREF = re.compile(r"\{numref\}`(?:[^`<]*<)?(fig-[\w-]+)>?`")


def _images(cell):
    return [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})
            or "image/svg+xml" in o.get("data", {})]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figures_are_numbered_captioned_and_referred_to(path):
    # numfig only numbers a figure that has a name and a caption; a figure nobody refers to
    # by number is one the prose does not explain.
    nb = nbformat.read(path, as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    referred = set(NUMREF.findall(prose))
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not _images(cell):
            continue
        where = f"{path.name} cell {i}"
        assert len(_images(cell)) == 1, f"{where} draws {len(_images(cell))} figures (one)"
        fig = cell.metadata.get("mystnb", {}).get("figure", {})
        name, caption = fig.get("name", ""), fig.get("caption", "")
        assert name.startswith(f"fig-{_chapter(path)}-"), (
            f"{where}: figure without metadata mystnb.figure.name 'fig-{_chapter(path)}-...'")
        assert len(caption.split()) >= 5, f"{where}: {name} needs a caption saying what to notice"
        assert name in referred, f"{where}: no {{numref}}`{name}` in the chapter's prose"


FIGURE_SOURCES = sorted((ROOT / "lecture_lib").rglob("*.py"))
SMALL_NAMED = re.compile(r"""(?:fontsize|size|labelsize)\s*=\s*["'](?:x{0,2}-?small)["']""")
SIZE_ARG = re.compile(r"\b(?:fontsize|labelsize|title_fontsize|size)\s*=\s*(\d+(?:\.\d*)?)\b")
FIGSIZE = re.compile(r"figsize\s*=\s*\(([^,]+),")


def _figure_code():
    """(where, code) of every chapter code cell and lecture_lib module."""
    for path in NOTEBOOKS:
        for i, cell in enumerate(_code_cells(path)):
            yield f"{path.name} code cell {i}", cell.source
    for path in FIGURE_SOURCES:
        yield str(path.relative_to(ROOT)), path.read_text()


def test_figure_code_draws_for_the_column():
    # Text below 9 pt, or a figure wider than the column (6.5 in), is shrunk below what a
    # reader can read on the page (lecture_lib.plotting.use_book_style sets the sizes).
    problems = []
    for where, code in _figure_code():
        for line in code.splitlines():
            if line.lstrip().startswith("#"):
                continue
            small = [float(v) for v in SIZE_ARG.findall(line)
                     if "rng" not in line and "choice" not in line and float(v) < 9]
            if small or SMALL_NAMED.search(line):
                problems.append(f"{where}: text below 9 pt: {line.strip()}")
            for width in FIGSIZE.findall(line):
                width = width.strip()
                try:
                    too_wide = float(width) > 6.5
                except ValueError:
                    too_wide = "COLUMN_IN" not in width
                if too_wide:
                    problems.append(f"{where}: figure wider than 6.5 in (or not a literal "
                                    f"width): {line.strip()}")
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} in all)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figures_have_an_alt_text_that_says_what_they_show(path):
    # A screen reader reads the alt text (WCAG 1.1.1); without it the page gives the
    # image's file name. The caption says what to notice; the alt text what is drawn.
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not _images(cell):
            continue
        meta = cell.metadata.get("mystnb", {})
        alt = meta.get("image", {}).get("alt", "")
        caption = meta.get("figure", {}).get("caption", "")
        where = f"{path.name} cell {i}"
        assert len(alt.split()) >= 8, f"{where}: mystnb.image.alt must describe the figure"
        assert alt.strip() != caption.strip(), f"{where}: the alt text repeats the caption"
        assert not re.search(r"\.(png|svg)\b|_images/", alt), f"{where}: alt is a path"


def test_figure_names_are_unique_in_the_book():
    names = [c.metadata["mystnb"]["figure"]["name"] for p in NOTEBOOKS
             for c in nbformat.read(p, as_version=4).cells
             if c.metadata.get("mystnb", {}).get("figure", {}).get("name")]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"figure names used twice: {sorted(dupes)}"


# --------------------------------------------------------------------------- glue
GLUE_REF = re.compile(r"\{glue(?::\w+)?\}`([^`]+)`")


def _glued(nb):
    """{name: cell index} of every value the notebook glues."""
    found = {}
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                found[name] = i
    return found


def _glue_key(ref):
    """('chapters/05_x.ipynb' or None, key) of a glue reference 'path::key:format'."""
    doc, _, rest = ref.rpartition("::")
    key = rest.split(":", 1)[0] if ":" in rest else rest
    return (doc or None), key


def _book_markdown():
    """(path, Markdown) of every page of the book: a chapter's Markdown cells, one
    paragraph apart, and the .md pages (not README.md or CONTRIBUTING.md)."""
    pages = [(p, "\n\n".join(c.source for c in nbformat.read(p, as_version=4).cells
                               if c.cell_type == "markdown")) for p in NOTEBOOKS]
    pages += [(p, p.read_text()) for p in sorted(ROOT.glob("*.md"))
              if p.name not in ("README.md", "CONTRIBUTING.md")]
    return pages


def _all_refs():
    return [(p, ref) for p, text in _book_markdown() for ref in GLUE_REF.findall(text)]


def test_every_glue_reference_has_a_glued_value():
    # A reference to a name no cell glues is a number nothing computes (and a build warning).
    glued = {p.relative_to(ROOT).as_posix(): _glued(nbformat.read(p, as_version=4))
             for p in NOTEBOOKS}
    for page, ref in _all_refs():
        doc, key = _glue_key(ref)
        target = doc if doc else page.relative_to(ROOT).as_posix()
        if doc and page.parent != ROOT:                     # relative to the page's folder
            target = (page.parent / doc).resolve().relative_to(ROOT).as_posix()
        assert key in glued.get(target, {}), f"{page.name}: glue reference {ref!r} has no value"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_glue_names_belong_to_the_chapter_and_not_to_exercises(path):
    # Names are global in the book; exercise cells lose their outputs in the student edition.
    nb = nbformat.read(path, as_version=4)
    for name, i in _glued(nb).items():
        assert name.startswith(f"{_chapter(path)}_"), f"{path.name}: glue name {name!r}"
        assert not nb.cells[i].metadata.get("nbgrader"), (
            f"{path.name} cell {i}: an exercise cell glues {name!r}")


# --------------------------------------------------------------------------- exercises
EXERCISE = re.compile(r"```\{exercise\}[^\n]*\n:label: (ex-[\w-]+)")
POINTS = re.compile(r"\*\*\((\d+) points?\b")
GRADE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _exercises(nb):
    """[(label, index of its cell, points stated in its text)] in order."""
    found = []
    for i, cell in enumerate(nb.cells):
        m = cell.cell_type == "markdown" and EXERCISE.search(cell.source)
        if m:
            pts = POINTS.search(cell.source)
            found.append((m.group(1), i, int(pts.group(1)) if pts else None))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_carry_nbgrader_metadata_and_their_points(path):
    # nbgrader refuses solution regions outside solution cells, needs unique grade_ids and
    # points on graded cells; a student must see in the text what each exercise is worth.
    nb = nbformat.read(path, as_version=4)
    exercises = _exercises(nb)
    assert len(exercises) >= 3, f"{path.name}: {len(exercises)} exercises (at least 3)"
    ids = [_nbgrader(c)["grade_id"] for c in nb.cells if _nbgrader(c).get("grade_id")]
    assert len(ids) == len(set(ids)), f"{path.name}: a grade_id is used twice"
    points = {label: 0 for label, _, _ in exercises}
    for i, cell in enumerate(nb.cells):
        meta, where = _nbgrader(cell), f"{path.name} cell {i}"
        if "### BEGIN SOLUTION" in cell.source or "### BEGIN HIDDEN TESTS" in cell.source:
            assert meta, f"{where} has nbgrader markers but no nbgrader metadata"
        if not meta:
            continue
        assert meta.get("schema_version") == 3 and GRADE_ID.match(meta.get("grade_id", "")), where
        label = next((lab for lab in points if meta["grade_id"].startswith(lab + "-")), None)
        assert label, f"{where}: grade_id {meta['grade_id']!r} names no exercise of the chapter"
        if "### BEGIN SOLUTION" in cell.source:
            assert meta.get("solution"), f"{where}: solution markers in a non-solution cell"
        if meta.get("grade"):
            assert meta.get("points", 0) > 0, f"{where}: a graded cell without points"
            points[label] += meta["points"]
            if cell.cell_type == "code" and not meta.get("solution"):
                assert meta.get("locked"), f"{where}: a test cell must be locked"
    for label, i, stated in exercises:
        assert points[label] > 0, f"{path.name}: exercise {label} has no graded cell"
        assert stated == points[label], (
            f"{path.name}: exercise {label} states {stated} points in its text, its graded "
            f"cells carry {points[label]}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_recorded_hidden_tests_are_only_record_calls(path):
    # Verdicts outside the student's process (issue 18): a hidden test that records
    # answers (check.record) holds nothing else but comments, with literal options, so
    # the grader can read what it asks; and in such a chapter the visible self-checks
    # carry no points (a table of their fixed inputs would earn them).
    import ast
    nb = nbformat.read(path, as_version=4)
    hidden = [c for c in nb.cells if "### BEGIN HIDDEN TESTS" in c.source]
    recording = [c for c in hidden if "check.record(" in c.source]
    for cell in recording:
        where = f"{path.name} {_nbgrader(cell).get('grade_id')}"
        for stmt in ast.parse(cell.source).body:
            call = getattr(stmt, "value", None)
            assert isinstance(stmt, ast.Expr) and isinstance(call, ast.Call) and \
                ast.unparse(call.func) == "check.record", f"{where}: {ast.unparse(stmt)}"
            for kw in call.keywords:
                ast.literal_eval(kw.value)                  # ValueError if not literal
    if recording:
        graded_checks = [_nbgrader(c)["grade_id"] for c in nb.cells
                         if _nbgrader(c).get("grade_id", "").endswith("-check")
                         and _nbgrader(c).get("grade")]
        labels = {_nbgrader(c)["grade_id"].rsplit("-", 1)[0] for c in recording}
        assert not [g for g in graded_checks if g.rsplit("-", 1)[0] in labels], (
            f"{path.name}: self-checks with points: {graded_checks}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_hidden_tests_are_hidden_from_the_books(path):
    # Hidden tests appear in no rendered book (remove-cell) and are nothing but the hidden
    # region, so the released cell is empty and nbgrader restores it when grading.
    nb = nbformat.read(path, as_version=4)
    hidden = [(i, c) for i, c in enumerate(nb.cells) if "### BEGIN HIDDEN TESTS" in c.source]
    assert hidden, f"{path.name}: no hidden tests"
    for i, cell in hidden:
        lines = [ln.strip() for ln in cell.source.strip().splitlines()]
        assert lines[0] == "### BEGIN HIDDEN TESTS" and lines[-1] == "### END HIDDEN TESTS", (
            f"{path.name} cell {i}: a hidden-test cell holds only the hidden region")
        assert "remove-cell" in cell.metadata.get("tags", []), f"{path.name} cell {i}"
        assert _nbgrader(cell).get("grade") and _nbgrader(cell).get("locked"), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_graded_notebook_has_setup_cells(path):
    # The graded notebook is the exercises plus the cells tagged assignment-setup; without
    # them the exercises run without their imports and data.
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "assignment-setup" in c.metadata.get("tags", [])]
    assert tagged and all(c.cell_type == "code" for c in tagged), path.name
    heading = [i for i, c in enumerate(nb.cells)
               if c.cell_type == "markdown" and c.source.startswith("## Exercises")]
    assert len(heading) == 1, f"{path.name}: one '## Exercises' heading"
    assert all(nb.cells.index(c) < heading[0] for c in tagged), (
        f"{path.name}: assignment-setup cells come before the exercises")


LIST_MARKER = re.compile(r"\s*([-+*]|\d+[.)])\s")
DOLLAR = re.compile(r"(?<!\\)\$")


def _lists_inside_inline_math(text):
    """Lines of ``text`` that start like a list item ("+ 2 Cov", "- x") while an inline
    formula of their paragraph is open: Markdown starts a list there, and every ``$``
    after it pairs with the wrong partner (formulas become text, text a formula)."""
    found = []
    for paragraph in re.split(r"\n\s*\n", text):
        if "$$" in paragraph:
            continue
        dollars = 0                                 # the $ of the lines above
        for line in paragraph.split("\n"):
            if dollars % 2 and LIST_MARKER.match(line):
                found.append(line.strip()[:60])
            dollars += len(DOLLAR.findall(line))
    return found


def test_no_list_marker_opens_inside_an_inline_formula():
    bad = [(p.name, line) for p, text in _book_markdown()
           for line in _lists_inside_inline_math(text)]
    assert not bad, f"a line inside an inline formula starts like a list item: {bad}"
    assert _lists_inside_inline_math("a $x\n+ y$ b") == ["+ y$ b"]   # the check itself
