"""No module of the package or its tests uses a name it never defined or imported.

Why: a name lost in a refactor (a helper moved, its import forgotten) fails
only when that line runs, and some lines run only on a booted node or in a
killed update's re-run. pyflakes finds them all statically.
"""

import os

from pyflakes.api import checkPath
from pyflakes.reporter import Reporter

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Collect(Reporter):
    def __init__(self):
        super().__init__(None, None)
        self.found = []

    def flake(self, message):
        if type(message).__name__ in ("UndefinedName", "UndefinedLocal", "UndefinedExport"):
            self.found.append(str(message))

    def syntaxError(self, filename, msg, lineno, offset, text):  # noqa: N802
        self.found.append(f"{filename}:{lineno}: {msg}")

    def unexpectedError(self, filename, msg):                      # noqa: N802
        self.found.append(f"{filename}: {msg}")


def test_every_name_used_is_defined():
    reporter = _Collect()
    for top in ("org_ovirt_node", "tests", "data"):
        for folder, _, files in os.walk(os.path.join(REPO, top)):
            if "node_modules" in folder:
                continue
            for name in sorted(files):
                if name.endswith(".py"):
                    checkPath(os.path.join(folder, name), reporter)
    assert reporter.found == []
