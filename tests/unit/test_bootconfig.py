"""fstab merging, BLS entries, grubenv and the kernel copy for a layer."""

import os

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.install import bootconfig
from org_ovirt_node.util.bls import parse_bls
from org_ovirt_node.util.fstab import FstabEntry, merge_fstab
from org_ovirt_node.util.grubenv import parse_grubenv, render_grubenv

LAYER = "ovirt-node-ng-4.5.5-0.1+1"


def make_root(root, kernels=("6.1.0-1-amd64",), cmdline="console=ttyS0 root=/dev/sda1 quiet"):
    os.makedirs(root / "boot")
    os.makedirs(root / "etc/kernel")
    for kver in kernels:
        (root / "boot" / f"vmlinuz-{kver}").write_bytes(b"kernel " + kver.encode())
        (root / "boot" / f"initramfs-{kver}.img").write_bytes(b"initrd " + kver.encode())
    (root / "etc/kernel/cmdline").write_text(cmdline + "\n")
    (root / "etc/fstab").write_text("/dev/sda1 / ext4 defaults 0 0\ntmpfs /dev/shm tmpfs "
                                    "defaults 0 0\n")


def test_fstab_replaces_our_mount_points_and_keeps_others():
    text = merge_fstab("# image\n/dev/sda1 / ext4 defaults 0 0\ntmpfs /dev/shm tmpfs x 0 0\n",
                       [FstabEntry("/dev/onn/l+1", "/", "ext4", "defaults,discard", 1, 1),
                        FstabEntry("/dev/onn/var", "/var", "ext4", "defaults,discard", 1, 2)])
    lines = text.splitlines()
    assert "/dev/onn/l+1 / ext4 defaults,discard 1 1" in lines
    assert "/dev/onn/var /var ext4 defaults,discard 1 2" in lines
    assert "tmpfs /dev/shm tmpfs x 0 0" in lines
    assert "/dev/sda1 / ext4 defaults 0 0" not in lines


def test_fstab_lists_parents_before_children_and_swap_last():
    text = merge_fstab("", [FstabEntry("/dev/onn/var_log", "/var/log", "ext4"),
                            FstabEntry("/dev/onn/swap", "none", "swap"),
                            FstabEntry("/dev/onn/var", "/var", "ext4"),
                            FstabEntry("/dev/onn/l", "/", "ext4"),
                            FstabEntry("UUID=1", "/boot", "ext4")])
    order = [line.split()[1] for line in text.splitlines()[1:] if line]
    assert order == ["/", "/boot", "/var", "/var/log", "none"]


def test_grubenv_is_1024_bytes_and_round_trips():
    block = render_grubenv({"saved_entry": LAYER + "-6.1", "boot_success": "0"})
    assert len(block) == 1024 and block.startswith(b"# GRUB Environment Block\n")
    assert parse_grubenv(block) == {"saved_entry": LAYER + "-6.1", "boot_success": "0"}


def test_boot_entries_for_every_kernel_newest_default(tmp_path):
    root, boot = tmp_path / "root", tmp_path / "boot"
    make_root(root, kernels=("6.1.0-9-amd64", "6.1.0-10-amd64"))
    boot.mkdir()
    entries = bootconfig.install_boot_entries(str(root), str(boot), "onn", LAYER,
                                              "ovirt-node-ng-4.5.5-0.1")
    assert [e.version for e in entries] == ["6.1.0-10-amd64", "6.1.0-9-amd64"]
    newest = boot / "loader/entries" / f"{LAYER}-6.1.0-10-amd64.conf"
    values = parse_bls(newest.read_text())
    assert values["title"] == "ovirt-node-ng-4.5.5-0.1 (6.1.0-10-amd64)"
    assert values["linux"] == f"/{LAYER}/vmlinuz-6.1.0-10-amd64"
    assert values["initrd"] == f"/{LAYER}/initramfs-6.1.0-10-amd64.img"
    assert values["options"].split() == [
        f"root=/dev/onn/{LAYER}", f"rd.lvm.lv=onn/{LAYER}", "rootflags=discard",
        f"img.bootid={LAYER}", "console=ttyS0", "quiet", "panic=10"]
    assert (boot / LAYER / "vmlinuz-6.1.0-10-amd64").read_bytes() == b"kernel 6.1.0-10-amd64"
    grubenv = parse_grubenv((boot / "grub2/grubenv").read_bytes())
    assert grubenv["saved_entry"] == f"{LAYER}-6.1.0-10-amd64"


def test_layer_options_rewrite_ours_and_keep_the_rest():
    carried = ["root=/dev/onn/old+1", "rd.lvm.lv=onn/old+1", "rootflags=discard",
               "img.bootid=old+1", "console=ttyS0", "panic=-1", "crashkernel=auto"]
    assert bootconfig.layer_options("onn", LAYER, carried).split() == [
        f"root=/dev/onn/{LAYER}", f"rd.lvm.lv=onn/{LAYER}", "rootflags=discard",
        f"img.bootid={LAYER}", "console=ttyS0", "panic=-1", "crashkernel=auto"]


def test_debian_initrd_names_are_found(tmp_path):
    root = tmp_path / "root"
    os.makedirs(root / "boot")
    (root / "boot/vmlinuz-6.1.0-1-amd64").write_bytes(b"k")
    (root / "boot/initrd.img-6.1.0-1-amd64").write_bytes(b"i")
    [(kver, _, initrd)] = bootconfig.find_kernels(str(root / "boot"))
    assert kver == "6.1.0-1-amd64" and initrd.endswith("initrd.img-6.1.0-1-amd64")


@pytest.mark.parametrize("files,fragment", [((), "no kernel"),
                                            (("vmlinuz-6.1",), "no initramfs")])
def test_missing_kernel_or_initrd(tmp_path, files, fragment):
    os.makedirs(tmp_path / "boot")
    for name in files:
        (tmp_path / "boot" / name).write_bytes(b"x")
    with pytest.raises(NodeError, match=fragment):
        bootconfig.find_kernels(str(tmp_path / "boot"))


def test_write_fstab_into_layer(tmp_path):
    make_root(tmp_path)
    bootconfig.write_fstab(str(tmp_path), [FstabEntry("/dev/onn/l", "/", "ext4")])
    text = (tmp_path / "etc/fstab").read_text()
    assert "/dev/onn/l / ext4 defaults 0 0" in text and "tmpfs /dev/shm" in text
