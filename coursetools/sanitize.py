"""Autograde's sanitize step for real submissions: stripped metadata, copy-pasted
cells, and the emptied hidden-test cells every honest submission carries.

``RestoreMetadata``
    Cells without nbgrader metadata get it back from the release: the submission is
    aligned with the released notebook cell by cell (equal cells, and changed blocks
    of the same length, where the answers were written into the stubs).
``KeepAnsweredDuplicates``
    Among cells sharing a solution grade_id (a copy-pasted cell), the unanswered stubs
    are removed when an answered copy exists; nbgrader's ``DeduplicateIds`` would keep
    the last copy, and a stub left after the answer would redefine the function as
    ``raise NotImplementedError``.
``QuietOverwriteCells``
    nbgrader's ``OverwriteCells`` without the checksum warning for a hidden-test cell
    that is exactly as released (empty); any other change is reported, and recorded
    for the grading report as tampering.
"""
from __future__ import annotations

import copy
from difflib import SequenceMatcher
from pathlib import Path

import nbformat

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells

from .assign import BEGIN_HIDDEN, grade_id

__all__ = ["RestoreMetadata", "KeepAnsweredDuplicates", "QuietOverwriteCells",
           "report_entry", "NOTES"]


NOTES = "coursetools_notes"


def report_entry(resources, key, value, nb=None):
    """Add `value` to the list `key` of this submission's report notes; with `nb`, in
    its metadata too (autograde's sanitize and grading steps share no resources)."""
    resources.setdefault("coursetools", {}).setdefault(key, []).append(value)
    if nb is not None:
        nb.metadata.setdefault(NOTES, {}).setdefault(key, []).append(value)


def _source_cells(resources):
    info = resources["nbgrader"]
    with Gradebook(info["db_url"]) as gb:
        try:
            nb = gb.find_notebook(info["notebook"], info["assignment"])
        except MissingEntry:
            return []
        return [dict(name=c.name, cell_type=c.cell_type, source=c.source,
                     locked=c.locked, checksum=c.checksum,
                     solution=c.name in {s.name for s in nb.solution_cells},
                     grade=c.name in {g.name for g in nb.grade_cells},
                     points=next((g.max_score for g in nb.grade_cells
                                  if g.name == c.name), None))
                for c in nb.source_cells]


def _release(resources):
    """The released notebook of this submission (the course directory is the folder
    of the gradebook), or None."""
    info = resources["nbgrader"]
    db = info["db_url"].removeprefix("sqlite:///")
    path = (Path(db).parent / "release" / info["assignment"]
            / f"{info['notebook']}.ipynb")
    return nbformat.read(path, as_version=4) if path.is_file() else None


def _pairs(release, nb):
    """(release cell, submitted cell) aligned by order: equal cells, and the cells of
    a changed block of the same length (answers written into stubs)."""
    key = lambda c: (c.cell_type, c.source.strip())            # noqa: E731
    matcher = SequenceMatcher(a=[key(c) for c in release.cells],
                              b=[key(c) for c in nb.cells], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            yield from zip(release.cells[i1:i2], nb.cells[j1:j2])


class RestoreMetadata(NbGraderPreprocessor):
    """Give cells whose nbgrader metadata was stripped their grade_id back, by aligning
    the submission with the release."""

    def preprocess(self, nb, resources):
        nb.metadata.pop(NOTES, None)               # only the grader writes notes there
        present = {grade_id(c) for c in nb.cells if grade_id(c)}
        if all(c.metadata.get("nbgrader") for c in nb.cells):
            return nb, resources
        release = _release(resources)
        restored = []
        for old, new in _pairs(release, nb) if release is not None else ():
            gid = grade_id(old)
            if (gid and gid not in present and not new.metadata.get("nbgrader")
                    and old.cell_type == new.cell_type):
                new.metadata["nbgrader"] = copy.deepcopy(old.metadata["nbgrader"])
                present.add(gid)
                restored.append(gid)
        if restored:
            self.log.warning("student %s: nbgrader metadata restored for %s",
                             resources["nbgrader"]["student"], ", ".join(restored))
            report_entry(resources, "notes",
                         "metadata restored: " + ", ".join(restored), nb)
        return nb, resources


class KeepAnsweredDuplicates(NbGraderPreprocessor):
    """Drop unanswered copies of a solution cell that also has an answered copy."""

    def preprocess(self, nb, resources):
        stubs = {s["name"]: s["source"] for s in _source_cells(resources)
                 if s["solution"]}
        by_id = {}
        for cell in nb.cells:
            if grade_id(cell) in stubs:
                by_id.setdefault(grade_id(cell), []).append(cell)
        drop = []
        for gid, cells in by_id.items():
            answered = [c for c in cells if c.source.strip() != stubs[gid].strip()]
            if len(cells) > 1 and answered:
                drop += [c for c in cells if c not in answered]
                if len(answered) > 1:          # keep the last answered copy
                    for extra in answered[:-1]:
                        extra.metadata.pop("nbgrader", None)
                report_entry(resources, "notes", f"duplicated {gid}: kept the answer",
                             nb)
        nb.cells = [c for c in nb.cells if all(c is not d for d in drop)]
        return nb, resources


class QuietOverwriteCells(OverwriteCells):
    """nbgrader's OverwriteCells; an emptied hidden-test cell is not a change."""

    def preprocess(self, nb, resources):
        self._nb = nb
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        gid = grade_id(cell)
        self._quiet = False
        if gid is not None and cell.cell_type == "code":
            try:
                src = self.gradebook.find_source_cell(gid, self.notebook_id,
                                                      self.assignment_id)
            except MissingEntry:
                src = None
            hidden = src is not None and any(
                ln.strip() == BEGIN_HIDDEN for ln in src.source.split("\n"))
            self._quiet = hidden and cell.source.strip() == ""
            if src is not None and src.locked and not self._quiet \
                    and cell.source != src.source:
                report_entry(resources, "tampering", f"{gid} edited", self._nb)
        return super().preprocess_cell(cell, resources, cell_index)

    def add_missing_grade_cells(self, nb, resources):
        """nbgrader's, placing a restored cell after the nearest earlier cell of the
        release that the submission has (nbgrader's own looks only at graded and
        solution cells, and fails when the cell before it is a read-only self-check).
        """
        source = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        cells = source.source_cells
        names = [c.name for c in cells]
        graded = {c.name: c for c in source.grade_cells}
        solutions = {c.name for c in source.solution_cells}
        for at, name in enumerate(names):
            if name not in graded or any(grade_id(c) == name for c in nb.cells):
                continue
            self.log.warning("Missing grade cell %s encountered, adding to notebook",
                             name)
            cell = self.missing_cell_transform(cells[at], graded[name].max_score,
                                               is_solution=name in solutions)
            cell["id"] = f"restored-{name}"[:64]
            position = 0
            for earlier in reversed(names[:at]):
                found = [i for i, c in enumerate(nb.cells) if grade_id(c) == earlier]
                if found:
                    position = found[-1] + 1
                    break
            nb.cells.insert(position, cell)
        return nb, resources

    def report_change(self, name, attr, old, new):
        if attr == "checksum" and self._quiet:
            return
        super().report_change(name, attr, old, new)
