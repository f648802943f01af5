"""The `%addon org_ovirt_node` section: parse it, check it, write it back.

    %addon org_ovirt_node --image=URL [--checksum=sha256:HEX] [--vg=onn]
           [--pool=pool00] [--volumes=nist|minimal|none] [--fstype=ext4|xfs]
           [--keep=2] [--proxy=URL] [--noverifyssl] [--volume=MOUNT:SIZE ...]
           [--trust-key=FINGERPRINT|/PATH]
    --volume=/var/log:16GiB
    %end

The header carries the options; every body line carries more of the same
options (usually one `--volume` per line), so a long section reads well and an
error points at the exact line of the offending option.

NodeAddonData follows the method names of Anaconda's AddonData
(handle_header, handle_line, handle_end, __str__) but imports nothing from
pyanaconda: the Anaconda add-on subclasses AddonData in a thin shim that
delegates here, and the standalone validator uses this class directly. Errors
are pykickstart KickstartParseError with the line number of the offending
option or body line.
"""

import posixpath
import re
import shlex
from functools import lru_cache

from pykickstart.errors import KickstartParseError
from pykickstart.options import KSOptionParser
from pykickstart.version import RHEL9

from org_ovirt_node import constants, trust
from org_ovirt_node.errors import NodeError
from org_ovirt_node.install.options import check_lvm_name
from org_ovirt_node.ks.url import check_checksum, parse_image_url
from org_ovirt_node.ks.words import split
from org_ovirt_node.sizes import MiB, format_size_exact, parse_size
from org_ovirt_node.util.textcheck import has_control

ADDON_NAME = "org_ovirt_node"
PROFILES = constants.VOLUME_PROFILES
FSTYPES = ("ext4", "xfs")
DEFAULT_FSTYPE = "ext4"
MIN_VOLUME_SIZE = 512 * MiB
# Mount points that live inside the image (or are virtual) and so cannot be
# separate volumes.
IMAGE_TREES = ("/boot", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64",
               "/proc", "/sys", "/dev", "/run")

_MOUNT_PART = re.compile(r"^[A-Za-z0-9_.-]+$")
# Options that take one value; given twice with different values they conflict.
_SCALARS = ("image", "checksum", "proxy", "noverifyssl", "vg", "pool", "volumes",
            "fstype", "keep", "trust_key")


def _option_parser():
    parser = KSOptionParser(
        prog=f"%addon {ADDON_NAME}", version=RHEL9, allow_abbrev=False,
        description="Install an oVirt Node image into an LVM thin layout.")
    add = parser.add_argument
    add("--image", action="append", version=RHEL9,
        help="Image URL: file:///path, http(s)://host/path, hd:DEVICE:/path, "
             "nfs:[OPTIONS:]SERVER:/path")
    add("--checksum", action="append", version=RHEL9, help="sha256:HEX of the image file")
    add("--proxy", action="append", version=RHEL9, help="HTTP proxy for an http(s) image")
    add("--noverifyssl", action="append_const", const=True, version=RHEL9,
        help="Do not verify the TLS certificate of an https image")
    add("--vg", action="append", version=RHEL9, help="Volume group (default onn)")
    add("--pool", action="append", version=RHEL9, help="Thin pool (default pool00)")
    add("--volumes", action="append", choices=sorted(PROFILES), version=RHEL9,
        help="Volume profile (default nist)")
    add("--fstype", action="append", choices=FSTYPES, version=RHEL9,
        help="Filesystem of the separate volumes (default ext4)")
    add("--keep", action="append", version=RHEL9, help="Images to keep (default 2)")
    add("--trust-key", action="append", version=RHEL9,
        help="Key to trust for the image's signature: a 40-hex-digit fingerprint (of a "
             "key in the installer's /etc/ovirt-node/trusted.d) or the absolute path of "
             "a public key file; either requires IMAGE.sig")
    add("--volume", action="append", default=[], version=RHEL9,
        help="MOUNT:SIZE, adds a volume or resizes one of the profile")
    return parser


def check_mount_point(mount_point):
    """Raise NodeError unless MOUNT_POINT can be a separate thin volume."""
    if not mount_point.startswith("/"):
        raise NodeError(f"volume mount point '{mount_point}' is not an absolute path")
    parts = mount_point[1:].split("/")
    if mount_point == "/" or posixpath.normpath(mount_point) != mount_point \
            or not all(_MOUNT_PART.fullmatch(part) and part not in (".", "..") for part in parts):
        raise NodeError(f"volume mount point '{mount_point}' must be a plain path below / "
                        "(letters, digits, ._- and single slashes)")
    for tree in IMAGE_TREES:
        if mount_point == tree or mount_point.startswith(tree + "/"):
            raise NodeError(f"volume mount point '{mount_point}' is inside {tree}, "
                            "which the image or the boot partition provides")
    check_lvm_name("volume LV", constants.volume_lv_name(mount_point))


def parse_volume(text):
    """Return (mount_point, bytes) for 'MOUNT:SIZE', or raise NodeError."""
    mount_point, sep, size_text = text.rpartition(":")
    if not sep or not mount_point:
        raise NodeError(f"--volume '{text}' must be MOUNT:SIZE, e.g. /var/log:16GiB")
    check_mount_point(mount_point)
    size = parse_size(size_text)
    if size % MiB:
        raise NodeError(f"volume size '{size_text}' is not a whole number of MiB")
    if size < MIN_VOLUME_SIZE:
        raise NodeError(f"volume size '{size_text}' is below the minimum of "
                        f"{format_size_exact(MIN_VOLUME_SIZE)}")
    return mount_point, size


def _parse_keep(text):
    if not text.isdigit() or not 1 <= int(text) <= constants.MAX_KEEP:
        raise NodeError(f"--keep '{text}' must be a whole number from 1 to {constants.MAX_KEEP}")
    return int(text)


def check_trust_key(value):
    """VALUE as --trust-key keeps it: an upper-case fingerprint or an absolute path."""
    if value.startswith("/"):
        if has_control(value) or posixpath.normpath(value) != value:
            raise NodeError(f"--trust-key '{value}' must be a plain absolute path")
        return value
    if "/" in value or "." in value:
        raise NodeError(f"--trust-key '{value}' is a relative path; give an absolute one "
                        "(or a 40-hex-digit fingerprint)")
    try:
        return trust.check_fingerprint(value)
    except NodeError:
        raise NodeError(f"--trust-key '{value}' must be a key fingerprint (40 hex digits) "
                        "or an absolute path") from None


def _proxy_scheme(value):
    scheme, sep, rest = value.partition("://")
    return scheme.lower() if sep and rest.strip("/") else ""


class NodeAddonData:
    """Everything a node install needs, as one kickstart section.

    Fields (after handle_end, `volumes` is the effective set: the profile's
    volumes with every --volume applied):
      image_url, checksum ("" or "sha256:hex"), proxy, noverifyssl,
      vg, pool, volume_profile ("nist", "minimal", "none"), volumes
      {mount point: bytes}, fstype, keep, trust_key ("", a fingerprint or
      an absolute path).
    Bookkeeping for error reports: seen, header_line, option_lines
    {option: line}, volume_lines {mount point: line}, filename, and
    line_name(n), how messages refer to another line (a reader that expands
    %include sets it to name the file too).
    """

    name = ADDON_NAME
    FIELDS = ("image_url", "checksum", "proxy", "noverifyssl", "vg", "pool",
              "volume_profile", "volumes", "fstype", "keep", "trust_key")

    def __init__(self, filename=None):
        super().__init__()
        self.filename = filename
        self.image_url = ""
        self.checksum = ""
        self.proxy = ""
        self.noverifyssl = False
        self.vg = constants.DEFAULT_VG
        self.pool = constants.DEFAULT_POOL
        self.volume_profile = constants.DEFAULT_PROFILE
        self.volumes = dict(PROFILES[self.volume_profile])
        self.fstype = DEFAULT_FSTYPE
        self.keep = constants.DEFAULT_KEEP
        self.trust_key = ""
        self.seen = False
        self.header_line = None
        self.option_lines = {}
        self.volume_lines = {}
        self.line_name = "line {}".format
        self._given = {}
        self._explicit_volumes = {}

    # --- the AddonData contract -------------------------------------------

    def handle_header(self, args, line_number=None):
        """Handle the options after `%addon org_ovirt_node` on LINE_NUMBER."""
        if self.seen:
            self._fail(f"%addon {ADDON_NAME} appears twice (first on "
                       f"{self.line_name(self.header_line)})", line_number)
        self.seen = True
        self.header_line = line_number
        self._apply_options(args, line_number)

    def handle_line(self, line, line_number=None):
        """Handle one body line: blank, a # comment, or more options."""
        try:
            args = split(line, comments=True)
        except ValueError as error:
            self._fail(f"cannot split the line: {error}", line_number)
        if args:
            self._apply_options(args, line_number)

    def handle_end(self):
        """Check what needs the whole section, then compute the volumes."""
        if not self.image_url:
            self._fail(f"%addon {ADDON_NAME} needs --image=URL", self.header_line)
        scheme = parse_image_url(self.image_url).scheme
        if self.proxy and scheme not in ("http", "https"):
            self._fail(f"--proxy conflicts with a {scheme}: image; it only applies to "
                       "http(s)", self.option_lines["proxy"])
        if self.noverifyssl and scheme != "https":
            self._fail(f"--noverifyssl conflicts with a {scheme}: image; it only applies "
                       "to https", self.option_lines["noverifyssl"])
        if self.trust_key and scheme != "file":
            self._fail(f"--trust-key conflicts with a {scheme}: image; the add-on checks "
                       "the signature of a local file: image only (file:///PATH)",
                       self.option_lines["trust_key"])
        lv_names = {}
        for mount_point, line in self.volume_lines.items():
            lv_name = constants.volume_lv_name(mount_point)
            if lv_name == self.pool:
                self._fail(f"--volume {mount_point} would be LV '{lv_name}', the name "
                           "of the thin pool", line)
            if lv_name in lv_names:
                self._fail(f"--volume {mount_point} and {lv_names[lv_name]} would both "
                           f"be LV '{lv_name}'", line)
            lv_names[lv_name] = mount_point
        self.volumes = {**PROFILES[self.volume_profile], **self._explicit_volumes}

    def __str__(self):
        """The section as kickstart text, every default written out; "" when
        there is no image (nothing to install, as for an unseen section)."""
        if not self.image_url:
            return ""
        header = [f"%addon {ADDON_NAME}", f"--image={shlex.quote(self.image_url)}"]
        if self.checksum:
            header.append(f"--checksum={self.checksum}")
        if self.proxy:
            header.append(f"--proxy={shlex.quote(self.proxy)}")
        if self.noverifyssl:
            header.append("--noverifyssl")
        header += [f"--vg={self.vg}", f"--pool={self.pool}",
                   f"--volumes={self.volume_profile}", f"--fstype={self.fstype}",
                   f"--keep={self.keep}"]
        if self.trust_key:
            header.append(f"--trust-key={shlex.quote(self.trust_key)}")
        body = [f"--volume={mount}:{format_size_exact(size)}"
                for mount, size in sorted(self.volumes.items())]
        return "\n".join([" ".join(header), *body, "%end"]) + "\n"

    def __eq__(self, other):
        if not isinstance(other, NodeAddonData):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    def as_dict(self):
        """The data fields as a plain dict (comparisons; D-Bus structures)."""
        return {name: getattr(self, name) for name in self.FIELDS}

    # --- parsing ------------------------------------------------------------

    def _fail(self, message, line_number):
        where = f"{self.filename}:{line_number}: " if self.filename and line_number else ""
        raise KickstartParseError(where + message, lineno=line_number)

    def _apply_options(self, args, line_number):
        try:
            namespace = _option_parser().parse_args(args=args, lineno=line_number)
        except KickstartParseError as error:
            message = error.message.replace("unrecognized arguments:", "unknown option")
            self._fail(message, line_number)
        try:
            for dest in _SCALARS:
                values = getattr(namespace, dest)
                if values is not None:
                    self._set_scalar(dest, values, line_number)
            for text in namespace.volume:
                self._add_volume(text, line_number)
        except NodeError as error:
            self._fail(error.message, line_number)

    def _set_scalar(self, dest, values, line_number):
        option = f"--{dest.replace('_', '-')}"
        if len(set(values)) > 1:
            raise NodeError(f"{option} is given twice with different values")
        value = self._convert(dest, values[0])
        if dest in self._given and self._given[dest] != value:
            raise NodeError(f"{option}={values[0]} conflicts with {option}="
                            f"{self._given[dest]} on {self.line_name(self.option_lines[dest])}")
        self._given[dest] = value
        self.option_lines.setdefault(dest, line_number)
        setattr(self, {"image": "image_url", "volumes": "volume_profile"}.get(dest, dest), value)

    @staticmethod
    def _convert(dest, value):
        if dest == "image":
            return parse_image_url(value).text
        if dest == "checksum":
            return check_checksum(value)
        if dest == "proxy":
            if _proxy_scheme(value) not in ("http", "https"):
                raise NodeError(f"--proxy '{value}' must be an http:// or https:// URL")
            return value
        if dest in ("vg", "pool"):
            check_lvm_name("volume group" if dest == "vg" else "thin pool", value)
        if dest == "keep":
            return _parse_keep(value)
        if dest == "trust_key":
            return check_trust_key(value)
        return value

    def _add_volume(self, text, line_number):
        mount_point, size = parse_volume(text)
        if mount_point in self._explicit_volumes:
            raise NodeError(f"--volume {mount_point} repeats (first on "
                            f"{self.line_name(self.volume_lines[mount_point])})")
        self._explicit_volumes[mount_point] = size
        self.volume_lines[mount_point] = line_number


# Section options that can be set from plain data (inventory, template context).
_VALUE_OPTIONS = ("vg", "pool", "volumes", "fstype", "keep", "proxy")
BUILD_OPTIONS = _VALUE_OPTIONS + ("noverifyssl", "volume")


def build_section(image_url, checksum="", options=None):
    """A finished NodeAddonData from plain values, or NodeError saying what is wrong.

    OPTIONS maps BUILD_OPTIONS names to values; "volume" maps mount points to
    sizes ({"/var/log": "16GiB"}). Results are cached (a fleet shares a few
    option sets), so callers must not modify them.
    """
    options = options or {}
    unknown = set(options) - set(BUILD_OPTIONS)
    if unknown:
        raise NodeError(f"unknown section option '{sorted(unknown)[0]}' "
                        f"(known: {', '.join(BUILD_OPTIONS)})")
    if options.get("noverifyssl") not in (None, True, False):
        raise NodeError(f"noverifyssl {options['noverifyssl']!r} must be true or false")
    for key, value in options.items():
        if isinstance(value, str) and has_control(value):
            raise NodeError(f"{key} {value!r} holds a line break or another control character")
    volumes = options.get("volume") or {}
    if not isinstance(volumes, dict):
        raise NodeError("'volume' must map mount points to sizes, like /var/log: 16GiB")
    args = [f"--image={image_url}"] + ([f"--checksum={checksum}"] if checksum else [])
    args += [f"--{key}={options[key]}" for key in _VALUE_OPTIONS
             if options.get(key) is not None]
    args += ["--noverifyssl"] if options.get("noverifyssl") else []
    args += [f"--volume={mount}:{size}" for mount, size in volumes.items()]
    try:
        return _built_section(tuple(args))
    except KickstartParseError as error:
        raise NodeError(error.message) from None


@lru_cache(maxsize=256)
def _built_section(args):
    node = NodeAddonData()
    node.handle_header(list(args), None)
    node.handle_end()
    return node


def parse_section(text, filename="<string>"):
    """Parse the first `%addon org_ovirt_node` ... `%end` in TEXT on its own.

    Returns a finished NodeAddonData; raises KickstartParseError naming
    FILENAME:line at the first problem. For tools and tests that hold just the
    section; whole kickstarts go through reader.read_kickstart.
    """
    addon = NodeAddonData(filename=filename)
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        words = line.split()
        if not addon.seen:
            if words[:1] == ["%addon"] and words[1:2] == [ADDON_NAME]:
                try:
                    args = split(line, comments=True)
                except ValueError as error:
                    addon._fail(f"cannot split the line: {error}", number)  # pylint: disable=protected-access
                addon.handle_header(args[2:], number)
        elif words[:1] == ["%end"]:
            addon.handle_end()
            return addon
        else:
            addon.handle_line(line, number)
    missing = "%end" if addon.seen else f"%addon {ADDON_NAME}"
    addon._fail(f"no {missing} found", len(lines) if addon.seen else 1)  # pylint: disable=protected-access
