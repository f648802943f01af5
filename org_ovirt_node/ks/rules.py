"""Node rules: what a kickstart must say for the installed node to have the
oVirt Node NG layout, on top of what pykickstart checks.

The layout (shared/reference/node-ng.md): the root is a thin LV (bases and
layers are thin snapshots of it), `/boot` is a partition of at least 1 GiB,
and `/var` is a separate volume. With our section, the add-on creates every
volume of its profile that the partitioning does not, so `/var` is satisfied
by `--volumes=nist|minimal` or `--volume=/var:SIZE`.

Each rule returns findings at the line of the command that breaks it.
"""

from pykickstart.constants import AUTOPART_TYPE_LVM_THINP

from org_ovirt_node.constants import MIN_BOOT_SIZE, MIN_ROOT_SIZE
from org_ovirt_node.errors import NodeError
from org_ovirt_node.ks.report import ERROR, WARNING
from org_ovirt_node.ks.section import ADDON_NAME
from org_ovirt_node.ks.url import LIVEIMG_SCHEMES, parse_image_url
from org_ovirt_node.sizes import MiB

PARTITIONING = ("part", "logvol", "raid", "btrfs", "mount")
OTHER_PAYLOADS = ("url", "ostreesetup", "ostreecontainer", "bootc")


def _command(handler, name):
    """The command object NAME if this version has it and the kickstart used it."""
    command = handler.commands.get(name)
    return command if command is not None and command.seen else None


def _data(handler, name):
    command = handler.commands.get(name)
    return (command.dataList() or []) if command is not None else []


def _mount(item):
    return getattr(item, "mountpoint", None) or getattr(item, "mount_point", None) or ""


def node_findings(parsed):
    """All node-rule findings for a ParsedKickstart."""
    handler, addon = parsed.handler, parsed.addon
    found = []

    def add(severity, line, message):
        found.append(parsed.source.finding(severity, line or 1, message))

    liveimg = _command(handler, "liveimg")
    if not addon.seen and not liveimg:
        add(ERROR, 1, f"no node image: add %addon {ADDON_NAME} --image=URL ... %end")
        return found
    if not addon.seen:
        add(WARNING, liveimg.lineno, f"liveimg without %addon {ADDON_NAME}: nothing creates "
            "the node layout (base, layer, volumes); add the section")
    if parsed.packages_line:
        add(ERROR, parsed.packages_line, "%packages cannot be combined with an image install: "
            "the image brings its own packages")
    for name in OTHER_PAYLOADS:
        other = _command(handler, name)
        if other:
            add(ERROR, other.lineno, f"'{name}' is a different payload; a node installs its image")
    _payload_rules(handler, addon, liveimg, add)
    _partitioning_rules(handler, addon, add)
    return found


def _payload_rules(handler, addon, liveimg, add):
    """liveimg, when given, must name the same image as --image."""
    if not addon.seen or not addon.image_url:
        return
    if not liveimg:
        add(WARNING, addon.header_line, "no liveimg: Anaconda needs a payload in an unattended "
            "install; add 'liveimg --url=...' naming the same image")
        return
    ours = parse_image_url(addon.image_url)
    theirs = liveimg.url or ""
    try:
        their_url = parse_image_url(theirs)
    except NodeError:
        their_url = None
    same_kind = their_url and ours.scheme in LIVEIMG_SCHEMES and their_url.scheme in LIVEIMG_SCHEMES
    if same_kind and their_url.text != ours.text or \
            not same_kind and theirs.rsplit("/", 1)[-1] != ours.filename:
        add(ERROR, liveimg.lineno, f"liveimg --url={theirs} and --image={ours.text} "
            f"({addon.line_name(addon.header_line)}) name different images")
    if liveimg.checksum and addon.checksum and \
            liveimg.checksum.lower() != addon.checksum.split(":", 1)[1]:
        add(ERROR, liveimg.lineno, "liveimg --checksum differs from the section's --checksum")


def _partitioning_rules(handler, addon, add):
    autopart = _command(handler, "autopart")
    items = [(kind, item) for kind in PARTITIONING for item in _data(handler, kind)]
    if autopart:
        if autopart.type != AUTOPART_TYPE_LVM_THINP:
            add(ERROR, autopart.lineno, "autopart must be --type=thinp: a node's root is a thin LV")
    elif not items:
        add(WARNING, addon.header_line, "no partitioning: the installer UI decides; choose "
            "'LVM Thin Provisioning' there, the root must be a thin LV")
    else:
        _manual_rules(handler, addon, items, add)
    _var_rules(handler, addon, items, add)


def _manual_rules(handler, addon, items, add):
    first = min(item.lineno for _, item in items)
    roots = [(kind, item) for kind, item in items if _mount(item) == "/"]
    if not roots:
        add(ERROR, first, "the partitioning has no root: add 'logvol / --thin --poolname=...'")
    for kind, item in roots:
        if kind != "logvol" or not item.thin_volume:
            add(ERROR, item.lineno, "the root must be a thin LV ('logvol / --thin "
                "--poolname=...'), or 'autopart --type=thinp'")
            continue
        if addon.seen and (item.vgname, item.pool_name) != (addon.vg, addon.pool):
            add(ERROR, item.lineno, f"the root is in {item.vgname}/{item.pool_name} but the "
                f"section says --vg={addon.vg} --pool={addon.pool}")
        if item.size and not item.grow and not item.percent and item.size * MiB < MIN_ROOT_SIZE:
            add(ERROR, item.lineno, f"the root is {item.size} MiB; a node root needs at least "
                f"{MIN_ROOT_SIZE // MiB} MiB")
    boots = [(kind, item) for kind, item in items if _mount(item) == "/boot"]
    reqpart = _command(handler, "reqpart")
    if not boots and not (reqpart and reqpart.addBoot):
        add(ERROR, first, "no /boot partition: add 'part /boot --size=1024' or "
            "'reqpart --add-boot'")
    for kind, item in boots:
        if kind not in ("part", "raid"):
            add(ERROR, item.lineno, "/boot must be a partition")
        elif kind == "part" and item.size and item.size * MiB < MIN_BOOT_SIZE:
            add(ERROR, item.lineno, f"/boot is {item.size} MiB; a node needs at least "
                f"{MIN_BOOT_SIZE // MiB} MiB (one kernel and initrd per layer)")


def _var_rules(handler, addon, items, add):
    volumes = addon.volumes if addon.seen else {}
    has_var = "/var" in volumes
    for _, item in items:
        mount = _mount(item)
        has_var = has_var or mount == "/var"
        if mount in volumes and mount != "/":
            add(WARNING, item.lineno, f"{mount} is also a volume of the section; the add-on "
                "keeps this one and ignores the section's size")
    if not has_var:
        line = addon.header_line if addon.seen else _command(handler, "liveimg").lineno
        add(ERROR, line, "/var is not a separate volume: use --volumes=nist|minimal, "
            "--volume=/var:SIZE or 'logvol /var ...'")
