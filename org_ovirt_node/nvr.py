"""Image names: NVR (name-version-release) and the layer names built on them.

A base LV is named by its image's NVR; its writable layers are `<nvr>+<n>`.
Versions compare the way RPM's labelCompare does, so "which image is newer"
agrees with what `rpm` and imgbased say.
"""

import re
from dataclasses import dataclass
from functools import total_ordering

from org_ovirt_node.errors import NodeError

NVR_MAX_LENGTH = 55
_ALLOWED = re.compile(r"^[a-zA-Z0-9_.+-]+$")
_LAYER = re.compile(r"^(?P<base>.+)\+(?P<index>[1-9][0-9]*)$")


def rpmvercmp(left, right):
    """Compare two version strings like rpm's rpmvercmp: -1, 0 or 1."""
    if left == right:
        return 0
    a, b = left, right
    while a or b:
        a = re.sub(r"^[^a-zA-Z0-9~^]+", "", a)
        b = re.sub(r"^[^a-zA-Z0-9~^]+", "", b)
        # tilde sorts before everything, even the end of the string
        if a.startswith("~") or b.startswith("~"):
            if not a.startswith("~"):
                return 1
            if not b.startswith("~"):
                return -1
            a, b = a[1:], b[1:]
            continue
        # caret sorts after the end of the string but before anything else
        if a.startswith("^") or b.startswith("^"):
            if not a:
                return -1
            if not b:
                return 1
            if not a.startswith("^"):
                return 1
            if not b.startswith("^"):
                return -1
            a, b = a[1:], b[1:]
            continue
        if not a or not b:
            break
        if a[0].isdigit():
            seg_a = re.match(r"^[0-9]+", a).group()
            seg_b = re.match(r"^[0-9]*", b).group()
            if not seg_b:
                return 1  # numeric segments are newer than alphabetic ones
            a, b = a[len(seg_a):], b[len(seg_b):]
            num_a, num_b = int(seg_a), int(seg_b)
            if num_a != num_b:
                return 1 if num_a > num_b else -1
        else:
            seg_a = re.match(r"^[a-zA-Z]+", a).group()
            seg_b = re.match(r"^[a-zA-Z]*", b).group()
            if not seg_b:
                return -1
            a, b = a[len(seg_a):], b[len(seg_b):]
            if seg_a != seg_b:
                return 1 if seg_a > seg_b else -1
    if not a and not b:
        return 0
    return 1 if a else -1


@total_ordering
@dataclass(frozen=True)
class NVR:
    """A parsed image name; orders by version then release, like RPM."""

    name: str
    version: str
    release: str

    @classmethod
    def parse(cls, text):
        """Parse TEXT as name-version-release, or raise NodeError saying why."""
        if not text:
            raise NodeError("the image NVR is empty")
        if len(text) > NVR_MAX_LENGTH:
            raise NodeError(f"NVR '{text}' is {len(text)} characters long; at most "
                            f"{NVR_MAX_LENGTH} fit in an LV name with its layer suffix")
        if not _ALLOWED.fullmatch(text):
            raise NodeError(f"NVR {text!r} may only hold letters, digits and _.+-")
        if not text[0].isalnum():
            raise NodeError(f"NVR '{text}' must start with a letter or digit "
                            "(LVM and the tools read a leading '-' as an option)")
        if _LAYER.fullmatch(text):
            raise NodeError(f"NVR '{text}' ends like a layer name (+N); an image NVR must not")
        parts = text.rsplit("-", 2)
        if len(parts) != 3 or not all(parts):
            raise NodeError(f"NVR '{text}' is not of the form name-version-release")
        return cls(*parts)

    def __str__(self):
        return f"{self.name}-{self.version}-{self.release}"

    def _key_cmp(self, other):
        if self.name != other.name:
            return -1 if self.name < other.name else 1
        return (rpmvercmp(self.version, other.version)
                or rpmvercmp(self.release, other.release))

    def __lt__(self, other):
        return self._key_cmp(other) < 0

    def layer(self, index=1):
        """The name of this image's INDEX-th writable layer."""
        return f"{self}+{index}"


def split_layer(name):
    """Return (base, index) for a layer name '<base>+<n>', or None."""
    match = _LAYER.fullmatch(name)
    if not match:
        return None
    return match.group("base"), int(match.group("index"))
