"""A Sphinx extension for the book's build (listed in ``_config.yml``): one fix.

Sphinx 7.4 with sphinx-thebe (which Jupyter Book 1 always loads) writes sphinx-thebe's
inline configuration script, ``const THEBE_JS_URL = ...``, twice into every page, so
every page logs "Identifier 'THEBE_JS_URL' has already been declared" in the browser's
console. This extension drops repeated scripts from each page's context, keeping the
first of each (same file, same attributes, same inline body) and the order of the rest.
"""
from __future__ import annotations


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


def setup(app):
    # priority 900: after every other extension has added its scripts
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
