"""The node a lifecycle command acts on: its VG, thin pool, layers, /boot.

A command runs either on the node itself (`/` is a layer of the VG, found by
`img.bootid=`, and /boot is mounted) or offline on a node's disks from any
Linux with device-mapper (`--vg`): then the VG is activated and the /boot
partition beside its PVs is mounted for as long as the command runs.
Everything is found by imgbased's tags, never by fixed names.
"""

import contextlib
import json
import os
from dataclasses import dataclass

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle.state import load_state, save_state
from org_ovirt_node.nvr import NVR, split_layer
from org_ovirt_node.util import bootsync, lvm
from org_ovirt_node.util.atomic import write_atomic
from org_ovirt_node.util.bls import parse_bls
from org_ovirt_node.util.grubenv import parse_grubenv, render_grubenv
from org_ovirt_node.util.mounts import mounted
from org_ovirt_node.util.run import run

ENTRIES_DIR = "loader/entries"
GRUBENV = "grub2/grubenv"
_LV_FIELDS = ["lv_name", "lv_size", "lv_tags", "origin", "pool_lv", "data_percent",
              "lv_path", "lv_active"]


def volume_mount_point(name):
    """Where imgbased mounts volume LV NAME: var_log_audit is /var/log/audit."""
    return "/" + name.replace("_", "/")


@dataclass(frozen=True)
class Entry:
    """One BLS boot entry on /boot, and the layer it boots (img.bootid=)."""

    entry_id: str
    title: str
    layer: str
    version: str
    linux: str
    initrd: str
    options: str


def find_entry(entries, key):
    """The one of ENTRIES whose BLS id, or else title, is KEY; None if none is."""
    if not key:
        return None
    return (next((entry for entry in entries if entry.entry_id == key), None) or
            next((entry for entry in entries if entry.title == key), None))


def running_layer(cmdline_path="/proc/cmdline"):
    """The layer this system booted (img.bootid=), or None."""
    try:
        with open(cmdline_path, encoding="utf-8") as handle:
            args = handle.read().split()
    except OSError:
        return None
    for arg in args:
        if arg.startswith("img.bootid="):
            return arg.split("=", 1)[1]
    return None


def find_vg(vg=None):
    """The node's VG: VG itself (which must carry imgbased:vg) or the one tagged."""
    rows = lvm.report("vgs", ["vg_name", "vg_tags"], f"@{constants.TAG_VG}")
    names = [row["vg_name"] for row in rows]
    if vg:
        if vg not in names:
            raise NodeError(f"volume group {vg} is not an oVirt Node layout "
                            f"(no VG of that name tagged {constants.TAG_VG})")
        return vg
    if not names:
        raise NodeError(f"no oVirt Node layout found (no volume group tagged {constants.TAG_VG})")
    if len(names) > 1:
        raise NodeError(f"several oVirt Node volume groups ({', '.join(names)}): name one "
                        "with --vg")
    return names[0]


def boot_partitions(vg):
    """ext4 partitions on the disks of VG's PVs: where its /boot can be."""
    found = []
    for disk in lvm.vg_disks(vg):
        listing = json.loads(run(["lsblk", "--json", "--list", "-o", "PATH,FSTYPE,TYPE",
                                  f"/dev/{disk}"]).stdout)
        found += [node["path"] for node in listing["blockdevices"]
                  if node.get("type") == "part" and node.get("fstype") == "ext4"]
    return found


@contextlib.contextmanager
def mounted_boot(vg):
    """Mount the /boot partition of VG (the one with BLS entries) read-only; yield its path."""
    for device in boot_partitions(vg):
        with mounted(device, options="ro") as boot:
            if os.path.isdir(os.path.join(boot, ENTRIES_DIR)):
                yield boot
                return
    raise NodeError(f"no /boot partition with boot entries found on the disks of {vg}")


class Node:
    """A node's parts as LVM and /boot show them now; re-read on every call."""

    def __init__(self, vg, boot, running=None, offline=False):
        self.vg = vg
        self.boot = boot
        self.running = running
        self.offline = offline

    def make_writable(self):
        """Remount an offline node's /boot read-write, once planning is over.

        Planning reads /boot mounted read-only, so a refused command leaves
        the partition byte-identical (a read-write mount alone updates the
        superblock).
        """
        if self.offline:
            run(["mount", "-o", "remount,rw", self.boot])

    # --- LVM
    def lvs(self):
        """LVM's rows for every LV of the VG."""
        return lvm.report("lvs", _LV_FIELDS, self.vg)

    def _tagged(self, tag):
        return [row for row in self.lvs() if tag in row["lv_tags"].split(",")]

    @property
    def pool(self):
        """The thin pool's name."""
        pools = self._tagged(constants.TAG_POOL)
        if not pools:
            raise NodeError(f"volume group {self.vg} has no thin pool tagged "
                            f"{constants.TAG_POOL}")
        return pools[0]["lv_name"]

    def bases(self):
        """Base names, oldest image first (RPM order of their NVRs)."""
        return sorted((row["lv_name"] for row in self._tagged(constants.TAG_BASE)),
                      key=self.base_order_key)

    @staticmethod
    def base_order_key(name):
        """Sort key for NVR-named bases; names that do not parse sort first by text."""
        try:
            return (1, NVR.parse(name), name)
        except NodeError:
            return (0, None, name)

    def layers(self):
        """{layer name: base name} for every layer."""
        return {row["lv_name"]: row["origin"] for row in self._tagged(constants.TAG_LAYER)}

    def layers_in_order(self):
        """Layer names, oldest first: by their base's NVR, then layer number."""
        def key(name):
            base, index = split_layer(name) or (name, 0)
            return (self.base_order_key(base), index)
        return sorted(self.layers(), key=key)

    def volumes(self):
        """{mount point: LV name} of the separate volumes."""
        rows = self._tagged(constants.TAG_VOLUME)
        return {volume_mount_point(row["lv_name"]): row["lv_name"] for row in rows}

    def lv_path(self, name):
        """The device path of LV NAME."""
        return f"/dev/{self.vg}/{name}"

    # --- /boot
    def entries(self):
        """Every BLS entry on /boot, newest kernel of the newest layer first."""
        directory = os.path.join(self.boot, ENTRIES_DIR)
        found = []
        for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
            if not name.endswith(".conf"):
                continue
            with open(os.path.join(directory, name), encoding="utf-8",
                      errors="replace") as handle:
                values = parse_bls(handle.read(65536))
            options = values.get("options", "")
            layer = next((arg.split("=", 1)[1] for arg in options.split()
                          if arg.startswith("img.bootid=")), "")
            found.append(Entry(entry_id=name[:-len(".conf")], title=values.get("title", ""),
                               layer=layer, version=values.get("version", ""),
                               linux=values.get("linux", ""), initrd=values.get("initrd", ""),
                               options=options))
        return found

    def entry(self, key):
        """The entry whose BLS id or title is KEY (grubby and imgbased write titles)."""
        return find_entry(self.entries(), key) if key else None

    def entries_of(self, layer):
        """LAYER's boot entries."""
        return [entry for entry in self.entries() if entry.layer == layer]

    def grubenv(self):
        """grubenv's values ({} when there is none)."""
        try:
            with open(os.path.join(self.boot, GRUBENV), "rb") as handle:
                return parse_grubenv(handle.read(4096))
        except FileNotFoundError:
            return {}

    def write_grubenv(self, values):
        """Replace grubenv with VALUES in one atomic rename: the node's switch point
        (then checkpointed, so GRUB reads the new one, util/bootsync.py)."""
        write_atomic(os.path.join(self.boot, GRUBENV), render_grubenv(values))
        bootsync.checkpoint(self.boot)

    def default_entry(self):
        """The entry grub boots by default, or None."""
        return self.entry(self.grubenv().get("saved_entry"))

    def default_layer(self):
        """The layer of the default entry, or None."""
        entry = self.default_entry()
        return entry.layer if entry else None

    def state(self):
        """The node's lifecycle state (lifecycle/state.py)."""
        return load_state(self.boot)

    def save_state(self, state):
        """Record STATE on /boot."""
        save_state(self.boot, state)

    def entry_files_exist(self, entry):
        """True when ENTRY's kernel and initrd are on /boot."""
        return all(path and os.path.isfile(os.path.join(self.boot, path.lstrip("/")))
                   for path in (entry.linux, entry.initrd))


@contextlib.contextmanager
def open_node(vg=None):
    """Yield the Node of VG (or of the tagged VG), online or offline.

    Online (the running root is a layer of this VG and /boot is mounted) it
    uses /boot as it is. Offline it mounts the /boot partition found beside
    the VG's PVs read-only; Node.make_writable() remounts it to write. LVs
    are activated by whoever mounts them (roots.py), not here: reading
    status changes nothing.
    """
    name = find_vg(vg)
    running = running_layer()
    online = bool(running) and os.path.isdir(os.path.join("/boot", ENTRIES_DIR)) and \
        os.path.exists(f"/dev/{name}/{running}")
    if online:
        yield Node(name, "/boot", running)
        return
    with mounted_boot(name) as boot:
        yield Node(name, boot, None, offline=True)
