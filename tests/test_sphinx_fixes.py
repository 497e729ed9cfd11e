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
