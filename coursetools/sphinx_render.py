"""A Sphinx extension for the book's build (listed in ``_config.yml``): how notebook
content is typeset on the page, without changing the notebooks.

- **Glued numbers** (myst-nb's ``{glue:text}``) are set as numbers, not as Python's repr:
  a true minus sign (U+2212), powers of ten as ``9 × 10⁵³`` (a superscript), and the
  class ``glued-number`` (``_static/book.css`` keeps each on one line, in the body's
  weight).
- **Solution markers** (``### BEGIN SOLUTION`` / ``### END SOLUTION``) are dropped from
  the rendered code; the notebooks keep them for nbgrader.
- **"YOUR ANSWER HERE"**, nbgrader's placeholder for a written answer (the student
  edition), is shown as a box that says where the answer goes, not as body text.
"""
from __future__ import annotations

import re

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

MINUS = "\u2212"
TIMES = "\u00d7"
SCIENTIFIC = re.compile(r"^([-+]?\d+(?:\.\d+)?)[eE]([-+]?\d+)$")
SIGNED = re.compile(r"(?<![\w.])-(?=\d|\.\d)")     # a minus sign before a number
SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*$")
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"
ANSWER_NOTE = ("Your written answer goes in this cell of the notebook; an instructor "
               "grades it by hand.")


def number_parts(text):
    """``text`` as typeset pieces: ``(mantissa, exponent)`` strings, with true minus
    signs; ``exponent`` is None unless ``text`` is in scientific notation.

    >>> number_parts("-9e+53")
    ('−9', '53')
    >>> number_parts("1.0e-05")
    ('1.0', '−5')
    >>> number_parts("-0.269 and -3")
    ('−0.269 and −3', None)
    """
    text = text.strip()
    match = SCIENTIFIC.match(text)
    if not match:
        return SIGNED.sub(MINUS, text), None
    mantissa, exponent = match.groups()
    exponent = int(exponent)
    return SIGNED.sub(MINUS, mantissa.lstrip("+")), f"{exponent}".replace("-", MINUS)


def number_nodes(text):
    """The inline nodes of one glued value: text, and a superscript for a power of ten.
    """
    mantissa, exponent = number_parts(text)
    if exponent is None:
        return [nodes.Text(mantissa)]
    if mantissa in ("1", "1.0"):                      # 1e-05 -> 10^-5
        return [nodes.Text("10"), nodes.superscript(exponent, exponent)]
    return [nodes.Text(f"{mantissa}\u2009{TIMES}\u200910"),
            nodes.superscript(exponent, exponent)]


def drop_solution_markers(code):
    """``code`` without the lines that are nbgrader's solution markers."""
    lines = code.split("\n")
    return "\n".join(line for line in lines if not SOLUTION_MARKER.match(line))


class TypesetNotebookContent(SphinxPostTransform):
    """Runs on every page after glue references are resolved (myst-nb resolves the
    references to other pages in a post-transform of lower priority)."""

    default_priority = 900

    def run(self, **kwargs):
        for node in list(self.document.findall(nodes.inline)):
            if "pasted-text" in node["classes"] and node.astext().strip():
                new = nodes.inline("", "", *number_nodes(node.astext()),
                                   classes=node["classes"] + ["glued-number"])
                node.replace_self(new)
        for block in list(self.document.findall(nodes.literal_block)):
            text = block.astext()
            if "SOLUTION" in text and any(SOLUTION_MARKER.match(ln)
                                          for ln in text.split("\n")):
                kept = drop_solution_markers(text)
                block.children = [nodes.Text(kept)]
                block.rawsource = kept
        for para in list(self.document.findall(nodes.paragraph)):
            if para.astext().strip() == ANSWER_PLACEHOLDER:
                box = nodes.container(classes=["answer-placeholder"])
                box += nodes.paragraph(ANSWER_NOTE, ANSWER_NOTE)
                para.replace_self(box)


def setup(app):
    app.add_post_transform(TypesetNotebookContent)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
