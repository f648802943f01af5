"""Texts the spokes show, worded for the installer rather than the CLI.

The engine's messages are written for `ovirt-node install` and often end with
what to type next ("name one or more with --disk", "pass --wipe to erase
it"). Inside Anaconda there is no command line: the same choices are made in
its spokes. Every text the service hands a spoke (layout problems and the
reasons a setting was refused) goes through installer_text, which keeps what
is wrong and drops the command-line advice; the conditions only the
installer knows (no disk chosen yet) get their own wording in settings.py.
"""

import re

# A command-line option (--disk, --no-bootloader) or the CLI itself.
CLI_MENTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*|\bovirt-node (?=[a-z])")
# Where one clause of a message ends and the advice may start.
_CLAUSE_END = re.compile(r"; |: | \(|, ")
# Options named at the start of a message, by the setting's name in the spokes.
_SETTING_NAMES = {"--volume": "volume", "--image": "image URL", "--checksum": "checksum",
                  "--vg": "volume group", "--pool": "thin pool", "--volumes": "volume profile",
                  "--keep": "images to keep", "--fstype": "filesystem",
                  "--trust-key": "trusted key"}


def names_the_cli(text):
    """Whether TEXT tells the user to type something on a command line."""
    return bool(CLI_MENTION.search(text))


def installer_text(message):
    """MESSAGE without command-line advice: each clause from the first one
    that names an option is dropped; an option the first clause itself names
    becomes the name of the setting."""
    while True:
        found = CLI_MENTION.search(message)
        if not found:
            return message
        ends = [end.start() for end in _CLAUSE_END.finditer(message, 0, found.start())]
        if ends:
            message = message[:ends[-1]]
        else:
            option = found.group(0)
            name = _SETTING_NAMES.get(option, option.lstrip("-")) if option.startswith("--") else ""
            message = message[:found.start()] + name + message[found.end():]
