"""Checks for values that end up inside generated configs.

Kickstarts, PXELINUX, GRUB, iPXE and isolinux menus are line-oriented: a
value carrying a line break (or another control character) would add lines
of its own. Every such value passes through here before it is written.
"""

import re

from org_ovirt_node.errors import NodeError

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
# Kernel arguments and URLs kept to characters all boot loaders pass through
# unquoted, so one argument list means the same everywhere.
SAFE_ARG = re.compile(r"[A-Za-z0-9_.,:/=@%+~-]+")
# A file name placed on a medium and named in a kernel argument.
SAFE_NAME = re.compile(r"[A-Za-z0-9_.+-]+")


def has_control(value):
    """True when VALUE holds a line break or another control character."""
    return bool(_CONTROL.search(value))


def check_one_line(what, value):
    """Return VALUE; NodeError if it holds a line break or another control character."""
    if value is not None and has_control(value):
        raise NodeError(f"{what} {value!r} holds a line break or another control character")
    return value


def check_safe_arg(what, value):
    """Return VALUE; NodeError unless every boot loader reads it as one plain word."""
    if not SAFE_ARG.fullmatch(value or ""):
        raise NodeError(f"{what} {value!r} has characters (blanks, line breaks, quotes ...) "
                        "that PXELINUX, GRUB or iPXE would read differently")
    return value


def check_file_name(what, name):
    """Return NAME; NodeError unless it is a plain file name a kernel argument can carry."""
    if not SAFE_NAME.fullmatch(name or "") or name in (".", ".."):
        raise NodeError(f"{what} name {name!r} must be letters, digits and ._+- only "
                        "(it is named in the boot menus' kernel arguments)")
    return name
