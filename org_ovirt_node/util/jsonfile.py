"""Reading the node's small JSON records (state, journal, staged update, health).

Each lives on /boot or /run, may be missing (nothing recorded yet) or
damaged (a disk error, a hand edit): missing is None, damaged one NodeError
line naming the file, and a huge file is never read whole.
"""

import json

from org_ovirt_node.errors import NodeError


def read_json(path, what, limit=1 << 20, hint=""):
    """The JSON value in PATH (at most LIMIT bytes read), or None when there is no file.

    WHAT names the record in the error ("node state"); HINT is added to it.
    """
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read(limit))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise NodeError(f"{path}: unreadable {what} ({error}){hint}") from None
