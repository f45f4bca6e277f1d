"""The one exception type users see.

Library code raises :class:`RnnkitError` for anything the user can fix (a bad path, a bad
option, a damaged checkpoint). The CLI prints its message on one line and exits non-zero;
every other exception is a bug and keeps its traceback.
"""


class RnnkitError(Exception):
    """A problem with the user's input or files; the message names the problem and the fix."""


class TrainingDiverged(RnnkitError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""
