"""Image locations as Anaconda spells them, checked without touching anything.

Parsing must never probe the network or mount a disk (that aborts installs in
existing add-ons), so this only checks the shape of a URL and splits it into
parts the installer later uses to fetch the image.
"""

import functools
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from org_ovirt_node.errors import NodeError

SCHEMES = ("file", "http", "https", "hd", "nfs")
# Schemes Anaconda's own liveimg command can fetch.
LIVEIMG_SCHEMES = ("file", "http", "https")

_HOST = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?$")
_NFS_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_DEVICE = re.compile(r"^(?:(?:LABEL|UUID|PARTUUID|PARTLABEL)=[^\s:/]+|/dev/[^\s:]+|[a-z][a-z0-9]*)$")
_NFS_OPTIONS = re.compile(r"^[A-Za-z0-9_]+(?:=[A-Za-z0-9_.]+)?(?:,[A-Za-z0-9_]+(?:=[A-Za-z0-9_.]+)?)*$")
_PATH = re.compile(r"^/[^\s]*[^/\s]$")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class ImageURL:
    """A parsed image location.

    scheme: one of SCHEMES. host: server for http(s)/nfs. device: the block
    device for hd: (LABEL=..., UUID=..., /dev/sdb1, sdb1). options: NFS mount
    options. path: absolute path of the image file on that host or device.
    """

    text: str
    scheme: str
    path: str
    host: str = ""
    device: str = ""
    options: str = ""

    @property
    def filename(self):
        """The image's file name, to compare two spellings of one image."""
        return self.path.rsplit("/", 1)[-1]


def _check_path(path, text):
    if not _PATH.fullmatch(path) or "/../" in path + "/" or "//" in path:
        raise NodeError(f"'{text}' must end in the absolute path of an image file")
    return path


def parse_image_url(text):
    """Return the ImageURL TEXT names, or raise NodeError saying what is wrong."""
    if not text or _SPACE.search(text):
        raise NodeError(f"'{text}' is not an image URL (no spaces allowed)")
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise NodeError(f"'{text}' is not an image URL: use file://, http://, https://, "
                        "hd:DEVICE:/path or nfs:[OPTIONS:]SERVER:/path")
    if scheme == "file":
        if not rest.startswith("///"):
            raise NodeError(f"'{text}' must be file:///absolute/path")
        return ImageURL(text, scheme, _check_path(rest[2:], text))
    if scheme in ("http", "https"):
        parts = urlsplit(text)
        if not rest.startswith("//") or not parts.netloc or not _HOST.fullmatch(parts.netloc.rpartition("@")[2]):
            raise NodeError(f"'{text}' has no valid host name")
        return ImageURL(text, scheme, _check_path(parts.path, text), host=parts.netloc)
    head, sep, path = rest.partition(":/")
    if not sep:
        raise NodeError(f"'{text}' must be {scheme}:{'DEVICE' if scheme == 'hd' else 'SERVER'}:/path")
    path = _check_path("/" + path, text)
    if scheme == "hd":
        if not _DEVICE.fullmatch(head):
            raise NodeError(f"'{text}' names no device (LABEL=..., UUID=..., /dev/sdb1 or sdb1)")
        return ImageURL(text, scheme, path, device=head)
    options, _, server = head.rpartition(":")
    if not _NFS_HOST.fullmatch(server):
        raise NodeError(f"'{text}' names no NFS server")
    if options and not _NFS_OPTIONS.fullmatch(options):
        raise NodeError(f"'{text}' has malformed NFS options '{options}'")
    return ImageURL(text, scheme, path, host=server, options=options)


# A fleet's hosts mostly share one image URL: parse each text once.
parse_image_url_cached = functools.lru_cache(maxsize=256)(parse_image_url)


_CHECKSUM = re.compile(r"^sha256:[0-9a-f]{64}$")


def check_checksum(text):
    """Return TEXT (lower-cased) if it is sha256:<64 hex digits>, else raise NodeError."""
    value = text.lower()
    if not _CHECKSUM.fullmatch(value):
        raise NodeError(f"checksum '{text}' must be sha256: followed by 64 hex digits")
    return value
