"""The one type of error a user can fix (a flag, a file, a model string, an unreachable server).

The command line prints such an error as one line and exits with 2; any other exception is a bug in evalkit
and is shown with its traceback (exit 1), so a bug is never mistaken for bad input.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input or an environment problem the user can fix; the message says what and where."""
