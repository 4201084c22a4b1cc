"""The package's own error for input a user can fix (a file, a field, a value).

The CLI prints a :class:`UserError` (and ``FileNotFoundError`` / ``FileExistsError``) as one line;
anything else is a bug and keeps its traceback.  ``UserError`` is a ``ValueError``, so callers that
catch bad values keep working.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input, named with what was expected: shown to the user as one line, no traceback."""
