"""Boot configuration of a layer: fstab, kernel copy, BLS entry, grub default.

Inputs are the layer's root and the /boot filesystem, both mounted; the
output is what EL's grub2 (blscfg) needs to boot the layer, laid out as
imgbased does: /boot/<layer>/vmlinuz-<kver>, loader/entries/<layer>-<kver>.conf.
"""

import os
import re
import shutil

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.nvr import rpmvercmp
from org_ovirt_node.util import bootsync
from org_ovirt_node.util.atomic import write_atomic
from org_ovirt_node.util.bls import BlsEntry
from org_ovirt_node.util.fstab import merge_fstab
from org_ovirt_node.util.grubenv import parse_grubenv, render_grubenv

# Arguments we set per layer; the image's own values for them are dropped.
_OWN_ARGS = ("root", "rd.lvm.lv", "rootflags", "img.bootid", "BOOT_IMAGE")
_INITRD_NAMES = ("initramfs-{kver}.img", "initrd.img-{kver}", "initrd-{kver}")
PANIC_REBOOT_SECONDS = 10


def find_kernels(boot):
    """[(kver, kernel path, initrd path)] in the directory BOOT, newest kernel first."""
    found = []
    for name in os.listdir(boot) if os.path.isdir(boot) else []:
        match = re.fullmatch(r"vmlinuz-(.+)", name)
        if not match or "rescue" in name:
            continue
        kver = match.group(1)
        initrds = [os.path.join(boot, pattern.format(kver=kver)) for pattern in _INITRD_NAMES]
        initrd = next((path for path in initrds if os.path.exists(path)), None)
        if initrd is None:
            raise NodeError(f"the image has kernel {kver} but no initramfs for it in /boot")
        found.append((kver, os.path.join(boot, name), initrd))
    if not found:
        raise NodeError("the image has no kernel (/boot/vmlinuz-*)")
    found.sort(key=lambda item: _VersionKey(item[0]), reverse=True)
    return found


class _VersionKey:
    """Sort key comparing kernel versions like rpm does."""

    def __init__(self, version):
        self.version = version

    def __lt__(self, other):
        return rpmvercmp(self.version, other.version) < 0


def image_kernel_args(root):
    """The image's own kernel arguments (/etc/kernel/cmdline), split as the kernel does
    (a double-quoted value keeps its spaces)."""
    from org_ovirt_node.lifecycle import kargs  # pylint: disable=import-outside-toplevel
    return kargs.read_image_args(root)


def layer_options(vg, layer, args):
    """The kernel options that boot LAYER: ours, then ARGS minus the ones we set.

    ARGS are the image's own (install) or the current default entry's
    (update). A `panic=` is added when ARGS have none, so a kernel panic
    reboots into GRUB's next attempt instead of hanging the node.
    """
    carried = [arg for arg in args if arg.split("=", 1)[0] not in _OWN_ARGS]
    if not any(arg.startswith("panic=") for arg in carried):
        carried.append(f"panic={PANIC_REBOOT_SECONDS}")
    return " ".join(constants.layer_kernel_args(vg, layer) + carried)


def write_fstab(root, entries):
    """Write ROOT/etc/fstab: ENTRIES plus the image's lines for other mount points."""
    path = os.path.join(root, "etc/fstab")
    existing = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            existing = handle.read()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(merge_fstab(existing, entries))


def install_boot_entries(root, boot, vg, layer, nvr, kernel_dir=None):
    """Write LAYER's boot entries (see write_boot_entries) and make the newest the default.

    The kernel options are the layer's plus the image's own.
    """
    entries = write_boot_entries(kernel_dir or os.path.join(root, "boot"), boot, layer, nvr,
                                 layer_options(vg, layer, image_kernel_args(root)))
    set_default_entry(boot, entries[0].entry_id)
    return entries


def write_boot_entries(kernel_dir, boot, layer, nvr, options):
    """Copy the kernels in KERNEL_DIR to BOOT/<layer>/ and write one BLS entry each.

    KERNEL_DIR is the image's own /boot, or the /boot partition after
    Anaconda's liveimg. Returns the entries, newest kernel first. The default
    is not changed here: that is the caller's last step.
    """
    target = os.path.join(boot, layer)
    os.makedirs(target, exist_ok=True)
    os.makedirs(os.path.join(boot, "efi"), mode=0o700, exist_ok=True)  # /boot/efi mount point
    entries_dir = os.path.join(boot, "loader", "entries")
    os.makedirs(entries_dir, exist_ok=True)
    entries = []
    for kver, kernel, initrd in find_kernels(kernel_dir):
        for source in (kernel, initrd):
            shutil.copy2(source, os.path.join(target, os.path.basename(source)))
        entry = BlsEntry(entry_id=f"{layer}-{kver}", title=f"{nvr} ({kver})", version=kver,
                         linux=f"/{layer}/{os.path.basename(kernel)}",
                         initrd=f"/{layer}/{os.path.basename(initrd)}", options=options)
        write_atomic(os.path.join(entries_dir, entry.filename), entry.render().encode("utf-8"))
        entries.append(entry)
    return entries


def set_default_entry(boot, entry_id):
    """Point grub's saved_entry at ENTRY_ID, keeping other grubenv values."""
    path = os.path.join(boot, "grub2", "grubenv")
    values = {}
    if os.path.exists(path):
        with open(path, "rb") as handle:
            values = parse_grubenv(handle.read())
    values["saved_entry"] = entry_id
    write_atomic(path, render_grubenv(values))
    bootsync.checkpoint(boot)
