"""Autograde's sanitize step for real submissions: stripped metadata, copy-pasted
cells, and the emptied hidden-test cells every honest submission carries.

``RestoreMetadata``
    A cell without nbgrader metadata gets it back when its source is exactly that of
    a cell of the release (a locked cell, an unanswered stub), or, for a solution code
    cell, when it defines the same functions as the stub and is the only such cell.
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

import ast

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells

from .assign import BEGIN_HIDDEN, grade_id

__all__ = ["RestoreMetadata", "KeepAnsweredDuplicates", "QuietOverwriteCells",
           "report_entry"]


def report_entry(resources, key, value):
    """Add `value` to the list `key` of this submission's report notes."""
    resources.setdefault("coursetools", {}).setdefault(key, []).append(value)


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


def _defined(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def _metadata(src):
    meta = {"grade": src["grade"], "solution": src["solution"], "locked": src["locked"],
            "grade_id": src["name"], "schema_version": 3}
    if src["grade"]:
        meta["points"] = src["points"]
    return meta


class RestoreMetadata(NbGraderPreprocessor):
    """Give cells whose nbgrader metadata was stripped their grade_id back."""

    def preprocess(self, nb, resources):
        sources = _source_cells(resources)
        present = {grade_id(c) for c in nb.cells if grade_id(c)}
        bare = [c for c in nb.cells if not c.metadata.get("nbgrader")]
        restored = []
        for src in sources:
            if src["name"] in present:
                continue
            match = [c for c in bare if c.cell_type == src["cell_type"]
                     and c.source == src["source"]]
            if not match and src["solution"] and src["cell_type"] == "code":
                wanted = _defined(src["source"])
                match = [c for c in bare if c.cell_type == "code" and wanted
                         and wanted <= _defined(c.source)]
            if len(match) == 1:
                match[0].metadata["nbgrader"] = _metadata(src)
                bare.remove(match[0])
                restored.append(src["name"])
        if restored:
            self.log.warning("student %s: nbgrader metadata restored for %s",
                             resources["nbgrader"]["student"], ", ".join(restored))
            report_entry(resources, "notes", "metadata restored: " + ", ".join(restored))
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
                report_entry(resources, "notes", f"duplicated {gid}: kept the answer")
        nb.cells = [c for c in nb.cells if all(c is not d for d in drop)]
        return nb, resources


class QuietOverwriteCells(OverwriteCells):
    """nbgrader's OverwriteCells; an emptied hidden-test cell is not a change."""

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
                report_entry(resources, "tampering", f"{gid} edited")
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name, attr, old, new):
        if attr == "checksum" and self._quiet:
            return
        super().report_change(name, attr, old, new)
