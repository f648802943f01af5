"""The boot loader: the image's own GRUB, for BIOS and UEFI, so the disk boots by itself.

The GRUB tools run chrooted in the layer, as Anaconda runs grub2-install:
tools, modules and the kernels they boot all come from the image and match
each other, whatever the installer itself runs on. Both firmwares get a GRUB
image whose embedded early config finds /boot by filesystem UUID and sets
the prefix to /boot's grub2/, so both read /boot/grub2/grub.cfg (rendered
from the BLS entries by util/grubcfg.py) and keep grubenv beside it, on a
plain partition GRUB can write to, never on LVM:

- BIOS: core.img goes into the GPT BIOS boot partition and boot.img into the
  MBR (grub-bios-setup);
- UEFI: EFI/BOOT/BOOTX64.EFI on the ESP, the removable-media path firmware
  boots without any NVRAM entry.

The modules are copied to /boot/grub2/<platform>/ as grub-install does; GRUB
loads from there whatever grub.cfg needs beyond the early modules.
"""

import contextlib
import glob
import os
import shutil

from org_ovirt_node.errors import NodeError
from org_ovirt_node.image.rootfacts import os_release, resolve_in_root
from org_ovirt_node.util import grubcfg
from org_ovirt_node.util.atomic import write_atomic
from org_ovirt_node.util.blkid import fs_uuid
from org_ovirt_node.util.mounts import mounted_at
from org_ovirt_node.util.run import run

# EL names first, then Debian's; grub-bios-setup lives in the platform dir on Debian.
MKIMAGE = ("usr/bin/grub2-mkimage", "usr/bin/grub-mkimage")
BIOS_SETUP = ("usr/sbin/grub2-bios-setup", "usr/sbin/grub-bios-setup",
              "usr/lib/grub/i386-pc/grub-bios-setup")
# What the GRUB image itself must hold to find /boot: disk access, GPT, ext4, search.
EARLY_MODULES = {"i386-pc": ["biosdisk", "part_gpt", "ext2", "search"],
                 "x86_64-efi": ["part_gpt", "ext2", "search"]}
REMOVABLE_EFI = "EFI/BOOT/BOOTX64.EFI"
DEFAULT_EFI_DIR = "ovirt-node"


def check_image(info):
    """Raise NodeError unless image INFO (an ImageInfo) carries GRUB for BIOS and UEFI.

    Called while planning, so an image without GRUB is refused before any disk
    is written.
    """
    for platform in grubcfg.PLATFORMS:
        if platform not in info.grub_platforms:
            raise NodeError(f"the image has no GRUB for {platform} (usr/lib/grub/{platform}); "
                            "install with --no-bootloader to install your own")


def _tool(root, candidates):
    """The path inside ROOT of the first of CANDIDATES the layer has."""
    for relpath in candidates:
        path = resolve_in_root(root, relpath)
        if path is not None and os.path.isfile(path):
            return "/" + relpath
    names = " or ".join(os.path.basename(relpath) for relpath in candidates[:2])
    raise NodeError(f"the image has GRUB modules but no {names}; "
                    "install with --no-bootloader to install your own")


def efi_dir_name(root):
    """The ESP directory of this OS (EFI/<ID>, e.g. centos), from the layer's os-release."""
    return os_release(root).get("ID") or DEFAULT_EFI_DIR


def early_config(boot_uuid):
    """The config built into the GRUB image: find /boot, read its grub2/ from then on."""
    return (f"search --no-floppy --fs-uuid --set=root {boot_uuid}\n"
            f"set prefix=($root)/{grubcfg.GRUB_DIR}\n")


@contextlib.contextmanager
def chroot_mounts(root, boot_device, efi_device):
    """/boot, /boot/efi, /dev, /proc and /sys mounted in the layer ROOT, as Anaconda does."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(mounted_at(boot_device, os.path.join(root, "boot")))
        stack.enter_context(mounted_at(efi_device, os.path.join(root, "boot", "efi")))
        for api in ("dev", "proc", "sys"):
            stack.enter_context(mounted_at(f"/{api}", os.path.join(root, api), "bind"))
        yield


def _copy_modules(root, platform):
    """Copy the platform's modules and lists to /boot/grub2/<platform>/; return that dir."""
    source = resolve_in_root(root, f"usr/lib/grub/{platform}")
    target = os.path.join(root, "boot", grubcfg.GRUB_DIR, platform)
    os.makedirs(target, exist_ok=True)
    for pattern in ("*.mod", "*.lst", "boot.img"):
        for path in glob.glob(os.path.join(source, pattern)):
            shutil.copy2(path, target)
    return target


def _mkimage(root, mkimage, platform, output, boot_uuid):
    """Build the GRUB image for PLATFORM at OUTPUT (a path inside ROOT)."""
    load_cfg = f"/boot/{grubcfg.GRUB_DIR}/{platform}/load.cfg"
    with open(root + load_cfg, "w", encoding="utf-8") as handle:
        handle.write(early_config(boot_uuid))
    run(["chroot", root, mkimage, "-O", platform, "-d", f"/usr/lib/grub/{platform}",
         "-p", f"/{grubcfg.GRUB_DIR}", "-c", load_cfg, "-o", output,
         *EARLY_MODULES[platform]])


def _link(root, relpath, target):
    """ROOT/RELPATH becomes a symlink to TARGET (replacing the image's own)."""
    path = os.path.join(root, relpath)
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


def install_bootloader(root, boot_device, efi_device, disk):
    """Install the layer's GRUB for BIOS on DISK and for UEFI on the ESP EFI_DEVICE.

    ROOT is the layer, mounted; BOOT_DEVICE holds /boot with its BLS entries
    and grubenv already written. Writes grub.cfg from the entries, the ESP
    stub EFI/<os id>/grub.cfg and the layer's /etc/grub2.cfg and
    /etc/grub2-efi.cfg links that grubby and imgbased read.
    """
    mkimage = _tool(root, MKIMAGE)
    bios_setup = _tool(root, BIOS_SETUP)
    efi_dir = efi_dir_name(root)
    boot_uuid = fs_uuid(boot_device)
    with chroot_mounts(root, boot_device, efi_device):
        for platform in grubcfg.PLATFORMS:
            _copy_modules(root, platform)
        _mkimage(root, mkimage, "i386-pc", f"/boot/{grubcfg.GRUB_DIR}/i386-pc/core.img",
                 boot_uuid)
        run(["chroot", root, bios_setup, "-d", f"/boot/{grubcfg.GRUB_DIR}/i386-pc", disk])
        esp = os.path.join(root, "boot", "efi")
        os.makedirs(os.path.join(esp, os.path.dirname(REMOVABLE_EFI)), exist_ok=True)
        _mkimage(root, mkimage, "x86_64-efi", f"/boot/efi/{REMOVABLE_EFI}", boot_uuid)
        write_atomic(os.path.join(esp, "EFI", efi_dir, "grub.cfg"),
                     grubcfg.render_efi_stub(boot_uuid).encode("utf-8"))
        grubcfg.refresh(os.path.join(root, "boot"))
    _link(root, "etc/grub2.cfg", f"../boot/{grubcfg.GRUB_DIR}/grub.cfg")
    _link(root, "etc/grub2-efi.cfg", f"../boot/efi/EFI/{efi_dir}/grub.cfg")
