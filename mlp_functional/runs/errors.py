"""The one error family of run folders: every failure a user can cause or meet.

>>> from mlp_functional.runs.commit import CommitError
>>> issubclass(CommitError, RunError)
True
"""

__all__ = ["RunError"]


class RunError(Exception):
    """A run folder is missing, incomplete, damaged, locked or inconsistent; the message
    is one line naming the file and the fix."""
