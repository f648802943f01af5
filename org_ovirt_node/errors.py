"""The one exception type users see.

Everything that can go wrong because of input (a bad image, a dirty disk, a
kickstart typo) is raised as NodeError with a message a person can act on.
The CLI prints it as one line; the D-Bus module turns it into a report entry or
a failed task. Anything else escaping is a bug in this project.
"""


class NodeError(Exception):
    """An error caused by input or environment, told in one line."""

    def __init__(self, message, where=None):
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self):
        if self.where:
            return f"{self.where}: {self.message}"
        return self.message
