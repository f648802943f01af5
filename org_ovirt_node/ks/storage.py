"""The partitioning a kickstart asks for, read from pykickstart's handler into
one small model the node rules can question: what is mounted where and how
big, which volume groups and thin pools exist, and which references between
`part`, `raid`, `volgroup` and `logvol` lead nowhere.

Anaconda creates volume groups before logical volumes and thin pools before
thin volumes whatever their order in the file, so references are resolved
over the whole file; a name it cannot resolve stops the installation
("No volume group exists with the name ...", "No thin pool exists with the
name ...", "Tried to use undefined partition ... in Volume Group
specification"). Such a reference is an error at the line that makes it,
unless that line reuses something on disk (`--useexisting`, `--noformat`),
which only the machine can tell.
"""

from dataclasses import dataclass, field

# Commands that lay out disks; a parse failure in any of them leaves the
# layout unknown.
LAYOUT_COMMANDS = ("part", "partition", "logvol", "volgroup", "raid", "btrfs", "mount",
                   "autopart", "reqpart")
_MOUNT_KINDS = ("part", "logvol", "raid", "btrfs", "mount")


@dataclass(frozen=True)
class Mount:
    """One file system the partitioning creates. size: MiB asked for (None:
    not given); grows: it may end larger (--grow, --percent, --recommended)."""

    kind: str
    path: str
    line: int
    size: object
    grows: bool
    thin: bool
    vg: str = ""
    pool: str = ""


@dataclass
class Layout:
    """The explicit partitioning of a kickstart."""

    autopart: object = None          # the autopart command, when used
    reqpart: object = None           # the reqpart command, when used
    mounts: list = field(default_factory=list)
    vgs: dict = field(default_factory=dict)     # VG name -> volgroup line
    pools: dict = field(default_factory=dict)   # (VG, pool) -> logvol --thinpool line
    problems: list = field(default_factory=list)  # (line, message): errors
    first_line: int = 0

    @property
    def explicit(self):
        """True when the file partitions by itself (part, logvol, ...)."""
        return bool(self.first_line)

    def at(self, path):
        """The mounts at PATH ("/", "/var", ...)."""
        return [mount for mount in self.mounts if mount.path == path]


def _seen(handler, name):
    command = handler.commands.get(name)
    return command if command is not None and getattr(command, "seen", False) else None


def _items(handler, name):
    command = handler.commands.get(name)
    return list(command.dataList() or []) if command is not None else []


def _mount_path(item):
    return getattr(item, "mountpoint", None) or getattr(item, "mount_point", None) or ""


def _reuses(item):
    """The line reuses a device on disk: only the machine can resolve it."""
    return bool(getattr(item, "preexist", False)) or not getattr(item, "format", True)


def read_layout(handler):
    """The Layout of a parsed kickstart (HANDLER: pykickstart's)."""
    layout = Layout(autopart=_seen(handler, "autopart"), reqpart=_seen(handler, "reqpart"))
    items = [(kind, item) for kind in _MOUNT_KINDS for item in _items(handler, kind)]
    volgroups = _items(handler, "volgroup")
    lines = [item.lineno for _, item in items] + [vg.lineno for vg in volgroups]
    layout.first_line = min((line for line in lines if line), default=0)
    for vg in volgroups:
        layout.vgs.setdefault(vg.vgname, vg.lineno)
    for kind, item in items:
        if kind == "logvol" and getattr(item, "thin_pool", False):
            layout.pools.setdefault((item.vgname, item.name), item.lineno)
    for kind, item in items:
        path = _mount_path(item)
        if path.startswith("/"):
            layout.mounts.append(_mount(kind, item, path))
    _check_references(layout, items, volgroups)
    return layout


def _mount(kind, item, path):
    size = getattr(item, "size", None)
    grows = bool(getattr(item, "grow", False) or getattr(item, "percent", 0)
                 or getattr(item, "recommended", False) or getattr(item, "hibernation", False))
    thin = kind == "logvol" and bool(getattr(item, "thin_volume", False))
    return Mount(kind, path, item.lineno, size if isinstance(size, int) else None, grows, thin,
                 getattr(item, "vgname", "") or "", getattr(item, "pool_name", "") or "")


def _check_references(layout, items, volgroups):
    defined_members = {_mount_path(item) for kind, item in items if kind in ("part", "raid")}
    for vg in volgroups:
        if _reuses(vg):
            continue
        for member in vg.physvols:
            if member.startswith("-"):
                layout.problems.append((vg.lineno, f"volgroup {vg.vgname}: {member} is not an "
                                        "option of volgroup; Anaconda takes it for a partition "
                                        "name and stops"))
            elif member.startswith("pv.") and member not in defined_members:
                layout.problems.append((vg.lineno, f"volgroup {vg.vgname} uses {member}, which "
                                        f"no 'part {member}' or 'raid {member}' defines "
                                        "(Anaconda stops on it)"))
    for kind, item in items:
        if kind == "raid":
            for member in getattr(item, "members", []) or []:
                if member.startswith("raid.") and member not in defined_members:
                    layout.problems.append((item.lineno, f"raid {_mount_path(item)} uses {member}, "
                                            f"which no 'part {member}' defines (Anaconda stops on it)"))
        if kind != "logvol" or _reuses(item):
            continue
        what = f"logvol {_mount_path(item) or item.name}"
        if item.vgname not in layout.vgs:
            layout.problems.append((item.lineno, f"{what}: no volgroup defines the volume group "
                                    f"'{item.vgname}' (Anaconda stops: no volume group exists "
                                    "with that name); add 'volgroup "
                                    f"{item.vgname} pv.01' or fix --vgname"))
        elif getattr(item, "thin_volume", False) and (item.vgname, item.pool_name) not in layout.pools:
            layout.problems.append((item.lineno, f"{what}: no 'logvol none --thinpool "
                                    f"--name={item.pool_name} --vgname={item.vgname}' defines "
                                    f"the thin pool '{item.pool_name}' (Anaconda stops: no thin "
                                    "pool exists with that name)"))
