"""`python -m coursetools.execute` stores outputs and never changes a notebook's
sources."""
import hashlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursetools.execute import main


def _write(path, cells):
    nb = new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "language": "python", "display_name": "Python 3"}})
    nbformat.write(nb, path)


def test_outputs_are_stored_and_sources_kept(tmp_path):
    # If outputs were not stored, the book would show empty cells; if sources changed,
    # the tool would be rewriting the author's work.
    p = tmp_path / "ok.ipynb"
    _write(p, [new_markdown_cell("# Title"), new_code_cell("x = 6 * 7\nprint(x)"),
               new_code_cell("x + 1")])
    before = [c.source for c in nbformat.read(p, 4).cells]
    assert main([str(p)]) == 0
    nb = nbformat.read(p, 4)
    assert [c.source for c in nb.cells] == before
    assert nb.cells[1].outputs[0].text == "42\n"
    assert nb.cells[2].outputs[0].data["text/plain"] == "43"
    assert "execution" not in nb.cells[1].metadata  # no timestamps: reruns give no diff


def test_cwd_is_the_notebook_directory(tmp_path):
    # Notebooks read files relative to themselves, as nbval runs them.
    p = tmp_path / "cwd.ipynb"
    _write(p, [new_code_cell("import os\nprint(os.path.basename(os.getcwd()))")])
    assert main([str(p)]) == 0
    assert nbformat.read(p, 4).cells[0].outputs[0].text.strip() == tmp_path.name


def test_failing_notebook_is_left_untouched(tmp_path, capsys):
    # A failed run must not replace stored outputs with a half-executed notebook.
    p = tmp_path / "bad.ipynb"
    _write(p, [new_code_cell("print('fine')"),
               new_code_cell("raise ValueError('boom at step 3')")])
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    assert main([str(p)]) == 1
    assert hashlib.sha256(p.read_bytes()).hexdigest() == digest
    err = capsys.readouterr().err
    assert "bad.ipynb" in err and "boom at step 3" in err and "not modified" in err
