"""The package's own error for input a user can fix (a file, a field, a value).

The CLI prints a :class:`UserError` (and ``FileNotFoundError`` / ``FileExistsError``) as one line;
anything else is a bug and keeps its traceback, except a full disk (:func:`disk_full`), which
is one line too.  ``UserError`` is a ``ValueError``, so callers that
catch bad values keep working.
"""

from __future__ import annotations

import errno
import re


class UserError(ValueError):
    """Bad input, named with what was expected: shown to the user as one line, no traceback."""


DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def disk_full(exc: OSError) -> bool:
    """ENOSPC and friends, or numpy's short write ("N requested and M written")."""
    return exc.errno in DISK_FULL or (
        exc.errno is None and re.search(r"requested and \d+ written", str(exc)) is not None
    )
