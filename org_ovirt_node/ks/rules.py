"""Node rules: what a kickstart must say for the installed node to have the
oVirt Node NG layout, on top of what pykickstart checks.

The layout (shared/reference/node-ng.md): the root is a thin LV (bases and
layers are thin snapshots of it), `/boot` is a partition of at least 1 GiB,
and `/var` is a separate volume. Two ways of getting there are valid:

- our section: the add-on creates every volume of its profile that the
  partitioning does not, so `/var` is satisfied by `--volumes=nist|minimal`
  or `--volume=/var:SIZE`;
- the classic way administrators already use: `liveimg`, Anaconda's
  partitioning and `imgbase layout --init` (or `nodectl init`) in `%post`,
  `/var` from the partitioning or from `imgbase volume --create /var`. That
  is valid, with a warning saying what the section would add.

Sizes follow what Anaconda enforces on a node installer: its ovirt and rhvh
profiles (data/profile.d/ovirt.conf and rhvh.conf on main and rhel-10,
data/product.d/ on rhel-9) refuse `/var` under 5 GiB, `/var/tmp` under
10 GiB and `/boot` under 1 GiB (`req_partition_sizes`), and with
`autopart --type=thinp` create `/var` and the other NIST volumes themselves.
They set no minimum for an explicit root, and imgbased checks none (it gives
every later base the size of the installed root); the node image is built on
a 5 GiB root (ovirt-node-ng-image's build kickstart), so a root below
5120 MiB is refused. Upstream's documentation and CI use 6000 MiB.

Rules never reason from a command pykickstart rejected, nor from a section
with a rejected line (their objects keep defaults that contradict the line:
`--vg=HostVG --bogus` would otherwise read as the default VG), and
absence-based rules ("no /var")
stay silent while part of the file is unknown (a layout command that did not
parse, an %include not found here). Each finding is at the line of the
command that causes it.
"""

from pykickstart.constants import AUTOPART_TYPE_LVM_THINP

from org_ovirt_node.constants import NIST_VOLUMES
from org_ovirt_node.errors import NodeError
from org_ovirt_node.ks.report import ERROR, WARNING
from org_ovirt_node.ks.scripts import post_actions
from org_ovirt_node.ks.section import ADDON_NAME
from org_ovirt_node.ks.storage import LAYOUT_COMMANDS, read_layout
from org_ovirt_node.ks.url import LIVEIMG_SCHEMES, parse_image_url

OTHER_PAYLOADS = ("url", "ostreesetup", "ostreecontainer", "bootc")
# Anaconda's ovirt.conf / rhvh.conf [Storage Constraints] req_partition_sizes, in MiB.
PROFILE_REQUIRED_MIB = {"/boot": 1024, "/var": 5 * 1024, "/var/tmp": 10 * 1024}
ROOT_MIN_MIB = 5 * 1024
_PROFILE = "Anaconda's node installer profiles (ovirt, rhvh)"


def _command(handler, name, failed=()):
    """The command object NAME if this version has it, the kickstart used it
    and pykickstart accepted its line."""
    command = handler.commands.get(name)
    if command is None or not getattr(command, "seen", False) or name in failed:
        return None
    return command


class _Context:
    """What every rule reads: the parsed file, its layout and %post actions."""

    def __init__(self, parsed):
        self.parsed = parsed
        self.handler = parsed.handler
        self.addon = parsed.addon
        self.failed = parsed.failed
        self.layout = read_layout(parsed.handler)
        self.post = post_actions(parsed.handler)
        self.liveimg = _command(self.handler, "liveimg", self.failed)
        # The section's values are what it says only if every line of it was taken.
        self.section_known = ADDON_NAME not in self.failed
        self.autopart = _command(self.handler, "autopart", self.failed)
        # Everything about the layout is known: no layout line failed and no
        # %include is missing, so what is absent really is absent.
        self.layout_known = not parsed.source.unread_includes and \
            not any(name in self.failed for name in LAYOUT_COMMANDS)
        self.findings = []

    @property
    def anchor(self):
        """The line that declares the node install: the section or liveimg."""
        if self.addon.seen:
            return self.addon.header_line
        return self.liveimg.lineno if self.liveimg else 1

    def add(self, severity, line, message):
        self.findings.append(self.parsed.source.finding(severity, line or 1, message))


def node_findings(parsed):
    """All node-rule findings for a ParsedKickstart."""
    ctx = _Context(parsed)
    if not ctx.addon.seen and not ctx.liveimg:
        if "liveimg" not in ctx.failed and ctx.section_known and not parsed.source.unread_includes:
            ctx.add(ERROR, 1, f"no node image: add %addon {ADDON_NAME} --image=URL ... %end "
                    "(or the classic 'liveimg --url=...' with 'nodectl init' in %post)")
        return ctx.findings
    if parsed.packages_line:
        ctx.add(WARNING, parsed.packages_line, "Anaconda ignores %packages when it installs "
                "an image (liveimg): the image brings its own packages; remove the section")
    for name in OTHER_PAYLOADS:
        other = _command(ctx.handler, name, ctx.failed)
        if other:
            ctx.add(ERROR, other.lineno, f"'{name}' is a different payload; a node installs its image")
    _way_rules(ctx)
    _payload_rules(ctx)
    _partitioning_rules(ctx)
    _var_rules(ctx)
    return ctx.findings


# --- which way makes the node layout -------------------------------------

def _way_rules(ctx):
    init = ctx.post.init
    if not ctx.section_known and not ctx.addon.seen:
        return  # a misspelled section was meant to make the layout
    if ctx.addon.seen:
        if init:
            ctx.add(WARNING, init[0], f"%post runs '{init[1]}', but %addon {ADDON_NAME} "
                    f"({ctx.addon.line_name(ctx.addon.header_line)}) already makes the node "
                    "layout; imgbased refuses a root that is already tagged: remove the line")
        return
    if init:
        ctx.add(WARNING, init[0], f"'{init[1]}' in %post makes the node layout the classic "
                f"way (no %addon {ADDON_NAME}); the section would also check the image and "
                f"the layout before the disks are changed, {_volumes_it_would_add(ctx)}")
    else:
        ctx.add(WARNING, ctx.liveimg.lineno, f"liveimg without %addon {ADDON_NAME} and "
                "without 'imgbase layout --init' or 'nodectl init' in %post: the image is "
                "installed as a plain system with no node layout (base, layer, volumes); "
                "add the section")


def _volumes_it_would_add(ctx):
    if ctx.autopart or not ctx.layout.explicit:
        return ("and create the NIST volumes itself instead of relying on the node "
                "installer profile")
    have = {mount.path for mount in ctx.layout.mounts} | set(ctx.post.volumes)
    lacking = [mount for mount in sorted(NIST_VOLUMES) if mount not in have]
    if not lacking:
        return "and keep every NIST volume this partitioning already has"
    return f"and create the NIST volumes this partitioning lacks: {', '.join(lacking)}"


# --- the image --------------------------------------------------------------

def _payload_rules(ctx):
    """liveimg must name a URL; with the section, the same image as --image."""
    addon, liveimg = ctx.addon, ctx.liveimg
    if liveimg and not addon.seen:
        try:
            parse_image_url(liveimg.url or "")
        except NodeError as error:
            if "://" not in (liveimg.url or ""):
                ctx.add(WARNING, liveimg.lineno, f"liveimg --url: {error.message} (a "
                        "placeholder to fill in?)")
    if not addon.seen or not addon.image_url or "liveimg" in ctx.failed or not ctx.section_known:
        return
    if not liveimg:
        ctx.add(WARNING, addon.header_line, "no liveimg: Anaconda needs a payload in an "
                "unattended install; add 'liveimg --url=...' naming the same image")
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
        ctx.add(ERROR, liveimg.lineno, f"liveimg --url={theirs} and --image={ours.text} "
                f"({addon.line_name(addon.header_line)}) name different images")
    if liveimg.checksum and addon.checksum and \
            liveimg.checksum.lower() != addon.checksum.split(":", 1)[1]:
        ctx.add(ERROR, liveimg.lineno, "liveimg --checksum differs from the section's --checksum")


# --- partitioning -----------------------------------------------------------

def _partitioning_rules(ctx):
    layout, autopart = ctx.layout, ctx.autopart
    if autopart:
        _autopart_rules(ctx, autopart)
    elif not layout.explicit:
        if ctx.layout_known and "autopart" not in ctx.failed:
            ctx.add(WARNING, ctx.anchor, "no partitioning: the installer UI decides; choose "
                    "'LVM Thin Provisioning' there, the root must be a thin LV")
    else:
        _root_rules(ctx)
        _boot_rules(ctx)
        _profile_size_rules(ctx)
        if ctx.layout_known:
            for line, message in layout.problems:
                ctx.add(ERROR, line, message)


def _autopart_rules(ctx, autopart):
    if not hasattr(autopart, "type"):
        ctx.add(ERROR, autopart.lineno, "this kickstart version's autopart has no --type, so "
                "its root cannot be a thin LV; a node needs 'autopart --type=thinp' "
                "(RHEL7 or F20 and later: choose the installer's version with --version)")
    elif autopart.type != AUTOPART_TYPE_LVM_THINP:
        ctx.add(ERROR, autopart.lineno, "autopart must be --type=thinp: a node's root is a thin LV")


def _root_rules(ctx):
    roots = ctx.layout.at("/")
    if not roots and ctx.layout_known:
        ctx.add(ERROR, ctx.layout.first_line, "the partitioning has no root: add "
                "'logvol / --thin --poolname=...'")
    addon = ctx.addon
    for root in roots:
        if not root.thin:
            ctx.add(ERROR, root.line, "the root must be a thin LV ('logvol / --thin "
                    "--poolname=...'), or 'autopart --type=thinp'")
            continue
        if addon.seen and ctx.section_known and (root.vg, root.pool) != (addon.vg, addon.pool):
            ctx.add(ERROR, root.line, f"the root is in {root.vg}/{root.pool} but the "
                    f"section says --vg={addon.vg} --pool={addon.pool}")
        if root.size is not None and not root.grows and root.size < ROOT_MIN_MIB:
            ctx.add(ERROR, root.line, f"the root is {root.size} MiB; a node root needs at "
                    f"least {ROOT_MIN_MIB} MiB: the node image is built on a 5 GiB root, and "
                    "every later image gets a base of the installed root's size")


def _boot_rules(ctx):
    boots = ctx.layout.at("/boot")
    reqpart = ctx.layout.reqpart
    if not boots and not (reqpart and getattr(reqpart, "addBoot", False)) \
            and ctx.layout_known and "reqpart" not in ctx.failed:
        ctx.add(ERROR, ctx.layout.first_line, "no /boot partition: add 'part /boot "
                "--size=1024' or 'reqpart --add-boot'")
    for boot in boots:
        if boot.kind not in ("part", "raid"):
            ctx.add(ERROR, boot.line, "/boot must be a partition")


def _profile_size_rules(ctx):
    """What the node profiles' req_partition_sizes refuse, as Anaconda does."""
    for path, required in PROFILE_REQUIRED_MIB.items():
        for mount in ctx.layout.at(path):
            if mount.size is None or mount.kind not in ("part", "logvol", "raid"):
                continue
            if mount.size >= required:
                continue
            if mount.grows:
                ctx.add(WARNING, mount.line, f"{path} starts at {mount.size} MiB and only "
                        f"grows into free space; {_PROFILE} refuse it below {required} MiB")
            else:
                ctx.add(ERROR, mount.line, f"{path} is {mount.size} MiB; {_PROFILE} require "
                        f"at least {required} MiB (req_partition_sizes) and Anaconda stops "
                        "on a smaller one")


# --- /var -------------------------------------------------------------------

def _var_rules(ctx):
    addon, layout = ctx.addon, ctx.layout
    if not ctx.section_known:
        return  # its volumes are unknown until its lines (or its name) are fixed
    volumes = addon.volumes if addon.seen else {}
    for mount in layout.mounts:
        if mount.path in volumes and mount.path != "/":
            ctx.add(WARNING, mount.line, f"{mount.path} is also a volume of the section; the "
                    "add-on keeps this one and ignores the section's size")
    if "/var" in volumes or layout.at("/var") or "/var" in ctx.post.volumes:
        return
    if ctx.autopart or (not layout.explicit and ctx.layout_known):
        where = ctx.autopart.lineno if ctx.autopart else ctx.anchor
        ctx.add(WARNING, where, "no separate /var here: this relies on the node installer "
                "profile, whose automatic partitioning creates /var and the other NIST "
                "volumes; a stock installer leaves /var on the root. Add "
                f"%addon {ADDON_NAME} (volumes nist) to be independent of it")
    elif layout.explicit and ctx.layout_known:
        ctx.add(ERROR, ctx.anchor, "/var is not a separate volume: add 'logvol /var ... "
                "--thin' (at least 5120 MiB), use the section's --volumes=nist|minimal or "
                "--volume=/var:SIZE, or run 'imgbase volume --create /var SIZE' in %post")
