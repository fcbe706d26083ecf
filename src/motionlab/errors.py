"""The one exception type motionlab raises for bad input or failed jobs."""


class MotionlabError(Exception):
    """A user-facing error: the message says what is wrong and how to fix it.

    The command line prints it as one line (``motionlab: error: ...``) and exits non-zero.
    """
