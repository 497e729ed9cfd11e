"""coursetools.sphinx_fixes: a page keeps one copy of each script, in order."""
from sphinx.builders.html._assets import _JavaScript

from coursetools.sphinx_fixes import unique_scripts


def test_repeated_inline_script_is_dropped_and_order_kept():
    # Two copies of the same inline `const` make the browser refuse the second one (Sphinx
    # gives one an empty filename, the other None).
    thebe = _JavaScript(None, body='const THEBE_JS_URL = "x"')
    scripts = [_JavaScript("a.js"), thebe, _JavaScript("b.js"),
               _JavaScript("", body='const THEBE_JS_URL = "x"'), _JavaScript("a.js")]
    assert unique_scripts(scripts) == [scripts[0], thebe, scripts[2]]


def test_different_bodies_or_attributes_are_kept():
    # Only exact repeats go: two different inline scripts, or one file loaded async and
    # once plainly, are different scripts.
    scripts = [_JavaScript(None, body="var a = 1"), _JavaScript(None, body="var b = 2"),
               _JavaScript("c.js"), _JavaScript("c.js", **{"async": "async"})]
    assert unique_scripts(scripts) == scripts


def test_search_field_is_named_by_its_text_and_icon_button_keeps_its_label():
    # WCAG 2.5.3: the field shows "Search Ctrl+K", so a label "Search" that hides the
    # text fails; the icon-only button has no text and needs its label.
    from coursetools.sphinx_fixes import fix_html
    field = ('<button class="btn search-button-field search-button__button pst-js-only" '
             'title="Search" aria-label="Search" data-bs-toggle="tooltip">')
    icon = ('<button class="btn btn-sm pst-navbar-icon search-button search-button__button" '
            'title="Search" aria-label="Search">')
    assert "aria-label" not in fix_html(field) and 'title="Search"' in fix_html(field)
    assert fix_html(icon) == icon


def test_citation_list_loses_the_roles_its_children_break():
    from coursetools.sphinx_fixes import fix_html
    page = ('<div role="list" class="citation-list">\n<div class="citation" id="id3" '
            'role="doc-biblioentry">\n<span class="label">[GB10]</span>')
    fixed = fix_html(page)
    assert 'role="list"' not in fixed and "doc-biblioentry" not in fixed
    assert '<div class="citation" id="id3">' in fixed


def test_colour_mode_icons_do_not_contradict_the_buttons_label():
    from coursetools.sphinx_fixes import fix_html
    icon = ('<i class="theme-switch fa-solid fa-sun                fa-lg" data-mode="light" '
            'title="Light"></i>')
    assert fix_html(icon) == ('<i class="theme-switch fa-solid fa-sun                fa-lg" '
                              'data-mode="light" aria-hidden="true"></i>')


def test_folded_code_is_named_by_what_it_says():
    # WCAG 2.5.3: a summary that reads "Show code cell source" must not be labelled
    # "Toggle hidden content".
    from coursetools.sphinx_fixes import fix_html
    summary = ('<summary aria-label="Toggle hidden content">\n'
               '<p class="collapsed admonition-title">Show code cell source</p>')
    assert fix_html(summary) == ('<summary>\n<p class="collapsed admonition-title">'
                                 'Show code cell source</p>')


def test_the_one_page_book_gets_the_html_writers_it_lacks():
    # sphinx-exercise registers writers for singlehtml, so Sphinx stops falling back to
    # html's and myst-nb's folded cells had none (the PDF's build failed).
    from types import SimpleNamespace

    from coursetools.sphinx_fixes import share_html_writers
    html_only, both = object(), object()
    registry = SimpleNamespace(translation_handlers={
        "html": {"HideCodeCellNode": html_only, "exercise": both},
        "singlehtml": {"exercise": "its own"}})
    share_html_writers(registry, "singlehtml")
    assert registry.translation_handlers["singlehtml"] == {
        "HideCodeCellNode": html_only, "exercise": "its own"}
    share_html_writers(registry, "dirhtml")            # nothing of its own: falls back
    assert "dirhtml" not in registry.translation_handlers
