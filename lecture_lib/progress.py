"""Where :func:`lecture_lib.train.fit` draws its progress bar: one line, also in
Jupyter.

In a terminal the bar goes to stdout. In a Jupyter kernel it goes to a display that is
updated in place, so a stored notebook (and the book rendered from it) keeps only the
bar's final state instead of one line per update.
"""
import sys

__all__ = ["progress_file"]


class _NotebookLine:
    """A file for tqdm inside a Jupyter kernel: it keeps only the bar's latest state and
    shows it as one display that is updated in place. A plain stream would store every
    state, and the rendered book would show each as a line of its own."""

    encoding = "utf-8"              # tqdm draws unicode blocks only for a unicode file

    def __init__(self, display=None):
        if display is None:
            from IPython.display import display
        self._text = ""
        self._handle = display({"text/plain": ""}, raw=True, display_id=True)

    def write(self, s):
        state = s.split("\r")[-1].rstrip()
        if state:
            self._text = state

    def flush(self):
        self._handle.update({"text/plain": self._text}, raw=True)


def progress_file():
    """A display updated in place in Jupyter, else stdout."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if type(shell).__name__ == "ZMQInteractiveShell":
        return _NotebookLine()
    return sys.stdout
