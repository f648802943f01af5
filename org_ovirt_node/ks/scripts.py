"""What a kickstart's `%post` does for the node layout, the classic way.

Before the add-on, node kickstarts let Anaconda install the image with
`liveimg` and then ran imgbased in `%post`: `imgbase layout --init` (or its
wrapper `nodectl init`) turns the installed thin root into a base and a
layer, and `imgbase volume --create /var SIZE` adds a separate volume. Those
kickstarts are still in use, so the validator must see these lines: each is
found with its exact line, options between the program and its verb
(`imgbase --debug layout --init`) allowed, shell comments ignored.

Only lines that mention `imgbase` or `nodectl` are matched against the
patterns, so a 200,000-line `%post` costs one substring test per line.
"""

import re
from dataclasses import dataclass, field

from pykickstart.constants import KS_SCRIPT_POST

_OPTIONS = r"(?:\s+-[-\w=.]*)*"
_INIT = re.compile(r"(?:^|[\s;&|(`])(?:[^\s;&|(`]*/)?(?:imgbase" + _OPTIONS + r"\s+layout\b[^;&|]{0,400}?\s--init(?![\w-])"
                   r"|nodectl" + _OPTIONS + r"\s+init(?![\w-]))")
_VOLUME = re.compile(r"(?:^|[\s;&|(`])(?:[^\s;&|(`]*/)?imgbase" + _OPTIONS + r"\s+volume\b[^;&|]{0,400}?"
                     r"\s--create\s+(/\S*)")


@dataclass
class PostActions:
    """Layout work the `%post` scripts do. init: (line, command text) of the
    first `imgbase layout --init` / `nodectl init`; volumes: {mount: line}
    of `imgbase volume --create MOUNT`."""

    init: object = None
    volumes: dict = field(default_factory=dict)


def _command_text(line):
    """LINE without a trailing shell comment (a `#` that starts a word)."""
    return re.split(r"(?:^|\s)#", line, maxsplit=1)[0]


def post_actions(handler):
    """The PostActions of every %post script in HANDLER (pykickstart's).

    A script's body starts on the line after its header, so body line i is
    expanded line `script.lineno + 1 + i`.
    """
    actions = PostActions()
    for script in getattr(handler, "scripts", []):
        if script.type != KS_SCRIPT_POST or not script.interp.endswith("sh"):
            continue
        for offset, line in enumerate(script.script.split("\n"), 1):
            if "imgbase" not in line and "nodectl" not in line:
                continue
            text = _command_text(line)
            if actions.init is None and _INIT.search(text):
                actions.init = (script.lineno + offset, " ".join(text.split()))
            for mount in _VOLUME.findall(text):
                actions.volumes.setdefault(mount.rstrip("/") or "/", script.lineno + offset)
    return actions

