"""A Sphinx extension for the book's build (listed in ``_config.yml``): fixes of what
the theme and Sphinx write.

- Sphinx 7.4 with sphinx-thebe (which Jupyter Book 1 always loads) writes sphinx-thebe's
  inline configuration script, ``const THEBE_JS_URL = ...``, twice into every page, so
  every page logs "Identifier 'THEBE_JS_URL' has already been declared" in the browser's
  console. Repeated scripts are dropped from each page's context, keeping the first of
  each (same file, same attributes, same inline body) and the order of the rest.
- Accessibility (WCAG 2.1 AA, found by axe-core, ``tests/test_browser.py``), fixed in the
  written pages (:data:`HTML_FIXES`): pydata-sphinx-theme's search field shows "Search
  Ctrl+K" but is labelled "Search" (2.5.3, label in name: its text names it); the colour
  mode button, labelled "Color mode", holds icons titled "Light", "Dark", "System
  Settings" (the label names it; the icons are hidden from assistive technology);
  myst-nb's folded code (``hide-input``) shows "Show code cell source" under the label
  "Toggle hidden content" (its text names it); Sphinx's
  citation list is a ``role="list"`` whose children are not list items, with the
  deprecated ``doc-biblioentry`` role (4.1.2).
- The one-page book (``singlehtml``, :mod:`coursetools.pdf`): Sphinx gives a builder the
  nodes' HTML writers registered under its own name, falling back to those of its format
  (``html``) only where none is registered under the name. sphinx-exercise registers its
  nodes for ``singlehtml``, so myst-nb's folded cells (``HideCodeCellNode``, registered for
  ``html`` only) had no writer there and the build stopped. Every ``html`` writer that the
  builder's own name lacks is added to it (:func:`share_html_writers`).
"""
from __future__ import annotations

import re
from pathlib import Path

# (pattern, replacement) applied to every HTML page written.
HTML_FIXES = [
    (re.compile(r'(<button class="btn search-button-field [^"]*"[^>]*?) aria-label="Search"'),
     r"\1"),
    (re.compile(r'(<i class="theme-switch [^"]*" data-mode="\w+")\s+title="[^"]*">'),
     r'\1 aria-hidden="true">'),
    (re.compile(r'<summary aria-label="Toggle hidden content">'), "<summary>"),
    (re.compile(r'<div role="list" class="citation-list">'), '<div class="citation-list">'),
    (re.compile(r'(<div class="citation" id="[^"]*") role="doc-biblioentry"'), r"\1"),
]


def _key(js):
    if isinstance(js, str):
        return (js,)
    # an inline script's filename is None or "" depending on who added it: the same
    # script
    return (js.filename or None, tuple(sorted(js.attributes.items())))


def unique_scripts(scripts):
    """The scripts without repeats, first occurrences in their order."""
    seen, unique = set(), []
    for js in scripts:
        key = _key(js)
        if key not in seen:
            seen.add(key)
            unique.append(js)
    return unique


def _dedupe(app, pagename, templatename, context, doctree):
    if "script_files" in context:
        # a new list: the builder's own list is restored before every page anyway
        context["script_files"] = unique_scripts(context["script_files"])


def fix_html(text):
    """``text`` (an HTML page) with :data:`HTML_FIXES` applied."""
    for pattern, replacement in HTML_FIXES:
        text = pattern.sub(replacement, text)
    return text


def _fix_pages(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = fix_html(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def share_html_writers(registry, builder_name):
    """Give ``builder_name`` (an HTML-format builder) every node writer registered for
    ``html`` that it has none of (``registry``: Sphinx's ``app.registry``)."""
    handlers = registry.translation_handlers
    if builder_name != "html" and builder_name in handlers:
        for node, writers in handlers.get("html", {}).items():
            handlers[builder_name].setdefault(node, writers)


def _share_html_writers(app):
    if app.builder.format == "html":
        share_html_writers(app.registry, app.builder.name)


def setup(app):
    app.connect("builder-inited", _share_html_writers)
    # priority 900: after every other extension has added its scripts
    app.connect("html-page-context", _dedupe, priority=900)
    app.connect("build-finished", _fix_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
