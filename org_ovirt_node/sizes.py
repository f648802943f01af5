"""Sizes as people write them ("16GiB", "512M") and as we print them.

Binary units throughout, as LVM and Anaconda's kickstart do: "G" and "GiB"
both mean 2**30. Bytes are plain ints everywhere else in the code.
"""

import re

from org_ovirt_node.errors import NodeError

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40

_UNITS = {
    "": 1, "b": 1,
    "k": KiB, "kb": KiB, "kib": KiB,
    "m": MiB, "mb": MiB, "mib": MiB,
    "g": GiB, "gb": GiB, "gib": GiB,
    "t": TiB, "tb": TiB, "tib": TiB,
}

_SIZE_RE = re.compile(r"[ \t]*([0-9]{1,20}(?:\.[0-9]{1,20})?)[ \t]*([a-zA-Z]*)[ \t]*")
# The largest size any volume, disk or image can have here: 8 EiB is LVM's
# own limit for an LV; anything beyond is a typo, not a plan.
MAX_SIZE = 8 << 60


def parse_size(text, default_unit="MiB"):
    """Return the size TEXT names, in bytes.

    A bare number is taken in DEFAULT_UNIT (MiB, as kickstart sizes are).
    Raises NodeError for anything that is not a positive size.
    """
    match = _SIZE_RE.fullmatch(str(text))
    if not match:
        raise NodeError(f"'{text}' is not a size (examples: 16GiB, 512MiB)")
    number, unit = match.groups()
    unit = unit or default_unit
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise NodeError(f"'{text}' has an unknown unit '{unit}' (use B, KiB, MiB, GiB or TiB)")
    whole, _, fraction = number.partition(".")
    value = int(whole) * factor + int(fraction or "0") * factor // 10 ** len(fraction or "0")
    if value <= 0:
        raise NodeError(f"'{text}' is not a positive size")
    if value > MAX_SIZE:
        raise NodeError(f"'{text}' is larger than any disk or volume can be (at most 8 EiB)")
    return value


def format_size(value):
    """Return VALUE bytes in the largest binary unit that keeps it readable."""
    for unit, factor in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(value) >= factor:
            amount = value / factor
            text = f"{amount:.2f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{value} B"


def format_size_exact(value):
    """Return VALUE bytes as '16GiB' in the largest unit that divides it exactly.

    Used where text is read back (kickstart generation), so nothing is rounded.
    """
    for unit, factor in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if value and value % factor == 0:
            return f"{value // factor}{unit}"
    return f"{value}B"
