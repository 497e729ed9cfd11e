"""``check_fails(pattern)``: like ``pytest.raises(CheckFailed, match=pattern)``, matched
against the unfolded message (``CheckFailed.message``: ``str()`` is folded to the book's
column, so a phrase may cross a line break there)."""
import contextlib
import re

import pytest

from lecture_lib.check import CheckFailed


@contextlib.contextmanager
def check_fails(pattern=None):
    with pytest.raises(CheckFailed) as info:
        yield info
    if pattern is not None:
        assert re.search(pattern, info.value.message), info.value.message
