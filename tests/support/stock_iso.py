"""A stock Anaconda boot ISO, built from Debian packages, for the ISO tests.

Remastering is only proven against the real thing, so this builds what lorax
builds, in the same places: the EL9 kind (isolinux for BIOS, GRUB2 for EFI in
an El Torito `images/efiboot.img`, isohybrid MBR + GPT for USB sticks) and the
EL10/Fedora kind (GRUB2 for BIOS via `images/eltorito.img` and
`boot/grub2/grub.cfg`, `efiboot.img` as appended GPT partition 2). Both carry
`images/pxeboot/{vmlinuz,initrd.img}`, `LiveOS/squashfs.img`, `.treeinfo`,
`.discinfo`, a volume id with a space and an implanted md5.

The kernel is Debian's; the initrd is a small busybox "probe" that prints
/proc/cmdline, finds the medium by the label `inst.ks=` names and prints the
sha256 of every file at its root, so a qemu boot shows what the installer
would have seen. (bootprobe's initramfs only prints the command line; this
one also needs the CD/USB drivers, findfs and a mount.) No root and no loop
mounts are needed anywhere.
"""

import os
import shutil
import subprocess
from pathlib import Path

from org_ovirt_node.image.build import build_image
from tests.support.bootprobe import debian_kernel
from tests.support.images import NVR, make_root_tree

PRODUCT = "Test Linux"
VERSION = "9.4"
VOLID = "TESTOS 9 X86_64"
ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
BASIC_DATA_GUID = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"

# Drivers the probe needs to see a CD (IDE on qemu's pc machine) or a USB stick.
PROBE_MODULES = ["ata_piix", "sr_mod", "isofs", "xhci_pci", "usb_storage", "sd_mod"]

PROBE_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /modules/$m 2>/dev/null; done
echo "PROBE:CMDLINE:$(cat /proc/cmdline)"
ks=""
for arg in $(cat /proc/cmdline); do
  case "$arg" in inst.ks=hd:LABEL=*) ks="${arg#inst.ks=hd:LABEL=}";; esac
done
label="$(printf "${ks%%:*}")"
dev=""
i=0
while [ -z "$dev" ] && [ $i -lt 60 ]; do
  dev="$(findfs LABEL="$label" 2>/dev/null)"
  [ -z "$dev" ] && sleep 1
  i=$((i + 1))
done
echo "PROBE:DEVICE:$dev"
mkdir -p /mnt
if [ -n "$dev" ] && mount -t iso9660 -o ro "$dev" /mnt; then
  for f in /mnt/* /mnt/.treeinfo; do
    [ -f "$f" ] && echo "PROBE:SHA256:$(sha256sum "$f")"
  done
fi
echo "PROBE:END"
poweroff -f
"""


def run(cmd, **kwargs):
    """Run CMD, failing loudly with its output; the builder has no user to tell."""
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True,
                          text=True, **kwargs)


def udev_escape(label):
    """The label as dracut and udev spell it in kernel arguments."""
    return label.replace(" ", "\\x20")


def installed_kernel():
    """(version, path) of the installed linux-image package's kernel.

    That is bootprobe's kernel; the probe here needs its version too, to
    pick the modules that match it (the host may run another kernel).
    """
    path = debian_kernel()
    if not path:
        raise RuntimeError("no /boot/vmlinuz-*: install linux-image-amd64")
    return path.split("vmlinuz-", 1)[1], path


def module_closure(kver, names):
    """The .ko paths (relative to /lib/modules/KVER) NAMES need, deps first."""
    moddir = Path("/lib/modules") / kver
    deps = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
    by_name = {Path(p).name.split(".ko")[0].replace("-", "_"): p for p in deps}
    ordered = []

    def visit(path):
        for dep in reversed(deps[path]):
            visit(dep)
        if path not in ordered:
            ordered.append(path)

    for name in names:
        visit(by_name[name])
    return ordered


def build_probe_initramfs(dest, workdir):
    """Write a gzip'd cpio with busybox, the probe /init and its modules."""
    kver, _ = installed_kernel()
    root = Path(workdir) / "probe-root"
    shutil.rmtree(root, ignore_errors=True)
    for sub in ("bin", "modules", "proc", "sys", "dev", "mnt"):
        (root / sub).mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    order = []
    for rel in module_closure(kver, PROBE_MODULES):
        name = Path(rel).name
        shutil.copy(Path("/lib/modules") / kver / rel, root / "modules" / name)
        order.append(name)
    (root / "modules.order").write_text("\n".join(order) + "\n")
    (root / "init").write_text(PROBE_INIT)
    (root / "init").chmod(0o755)
    files = subprocess.run(["find", "."], cwd=root, check=True, capture_output=True).stdout
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files,
                          check=True, capture_output=True).stdout
    gz = subprocess.run(["gzip", "-1", "-n"], input=cpio, check=True, capture_output=True).stdout
    Path(dest).write_bytes(gz)


def isolinux_cfg(volid, timeout):
    """isolinux.cfg laid out like lorax's x86 template."""
    root = f"inst.stage2=hd:LABEL={udev_escape(volid)}"
    return f"""default vesamenu.c32
timeout {timeout * 10}

display boot.msg

menu clear
menu title {PRODUCT} {VERSION}
menu vshift 8
menu rows 18
menu margin 8
menu tabmsg Press Tab for full configuration options on menu items.

menu separator # insert an empty line

label linux
  menu label ^Install {PRODUCT} {VERSION}
  kernel vmlinuz
  append initrd=initrd.img {root} quiet

label check
  menu label Test this ^media & install {PRODUCT} {VERSION}
  menu default
  kernel vmlinuz
  append initrd=initrd.img {root} rd.live.check quiet

menu separator # insert an empty line

menu begin ^Troubleshooting
  menu title Troubleshooting {PRODUCT} {VERSION}

label basic
  menu indent count 5
  menu label Install using ^basic graphics mode
  text help
\tTry this option out if you're having trouble installing
\t{PRODUCT} {VERSION}.
  endtext
  kernel vmlinuz
  append initrd=initrd.img {root} nomodeset quiet

label rescue
  menu indent count 5
  menu label ^Rescue a {PRODUCT} system
  kernel vmlinuz
  append initrd=initrd.img {root} inst.rescue quiet

label local
  menu label Boot from ^local drive
  localboot 0xffff

menu end
"""


def grub_cfg(volid, timeout, efi):
    """grub.cfg like lorax's grub2-efi.cfg (linuxefi) or grub2-bios.cfg (linux)."""
    linux, initrd = ("linuxefi", "initrdefi") if efi else ("linux", "initrd")
    # single quotes keep GRUB from eating the backslash of \x20
    root = f"'inst.stage2=hd:LABEL={udev_escape(volid)}'"
    kernel, image = "/images/pxeboot/vmlinuz", "/images/pxeboot/initrd.img"
    cls = "--class fedora --class gnu-linux --class gnu --class os"
    return f"""set default="1"

function load_video {{
  insmod all_video
}}

load_video
set gfxpayload=keep
insmod gzio
insmod part_gpt
insmod ext2

set timeout={timeout}
### END /etc/grub.d/00_header ###

search --no-floppy --set=root -l '{volid}'

### BEGIN /etc/grub.d/10_linux ###
menuentry 'Install {PRODUCT} {VERSION}' {cls} {{
\t{linux} {kernel} {root} quiet
\t{initrd} {image}
}}
menuentry 'Test this media & install {PRODUCT} {VERSION}' {cls} {{
\t{linux} {kernel} {root} rd.live.check quiet
\t{initrd} {image}
}}
submenu 'Troubleshooting -->' {{
\tmenuentry 'Install {PRODUCT} {VERSION} in basic graphics mode' {cls} {{
\t\t{linux} {kernel} {root} nomodeset quiet
\t\t{initrd} {image}
\t}}
\tmenuentry 'Rescue a {PRODUCT} system' {cls} {{
\t\t{linux} {kernel} {root} inst.rescue quiet
\t\t{initrd} {image}
\t}}
}}
"""


def treeinfo(stage2):
    """A .treeinfo with the sections Anaconda and PXE tooling read."""
    return f"""[header]
type = productmd.treeinfo
version = 1.2

[release]
name = {PRODUCT}
short = TestOS
version = {VERSION}

[tree]
arch = x86_64
build_timestamp = 1700000000
platforms = x86_64,xen
variants = BaseOS

[images-x86_64]
efiboot.img = images/efiboot.img
initrd = images/pxeboot/initrd.img
kernel = images/pxeboot/vmlinuz

[stage2]
mainimage = {stage2}
"""


def build_grub_efi(dest):
    """A standalone GRUB EFI binary that reads /EFI/BOOT/grub.cfg, as gcdx64.efi does."""
    modules = ["part_gpt", "part_msdos", "fat", "iso9660", "normal", "configfile", "linux",
               "linuxefi", "search", "search_label", "echo", "gzio", "all_video", "test", "ls"]
    run(["grub-mkimage", "-O", "x86_64-efi", "-p", "/EFI/BOOT", "-o", dest, *modules])


def build_efiboot(dest, efi_dir):
    """A FAT image holding EFI/BOOT like mkefiboot makes it, with some slack."""
    content = sum(f.stat().st_size for f in Path(efi_dir).iterdir())
    size_kib = (content // 1024) + 1024
    run(["mkfs.fat", "-C", "-n", "ANACONDA", dest, size_kib])
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    run(["mmd", "-i", dest, "::/EFI", "::/EFI/BOOT"], env=env)
    for item in sorted(Path(efi_dir).iterdir()):
        run(["mcopy", "-i", dest, item, f"::/EFI/BOOT/{item.name}"], env=env)


def build_stock_iso(dest, workdir, *, volid=VOLID, flavour="el9", timeout=1,
                    stage2_size=None):
    """Build a stock boot ISO at DEST; return DEST.

    FLAVOUR 'el9' is isolinux + El Torito efiboot.img + isohybrid MBR/GPT;
    'el10' is GRUB2 BIOS + efiboot.img as appended partition. TIMEOUT is the
    menu timeout in seconds (lorax uses 60; tests boot with 1). STAGE2_SIZE
    pads LiveOS/squashfs.img to that many bytes to make benchmark-sized ISOs.
    """
    work = Path(workdir)
    tree = work / f"tree-{flavour}"
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "images" / "pxeboot").mkdir(parents=True)
    (tree / "EFI" / "BOOT").mkdir(parents=True)
    (tree / "LiveOS").mkdir()
    _, kernel = installed_kernel()
    shutil.copy(kernel, tree / "images" / "pxeboot" / "vmlinuz")
    initrd = work / "probe-initrd.img"
    if not initrd.exists():
        build_probe_initramfs(initrd, work)
    shutil.copy(initrd, tree / "images" / "pxeboot" / "initrd.img")

    stage2 = tree / "LiveOS" / "squashfs.img"
    if stage2_size:
        with open(stage2, "wb") as out:
            block = os.urandom(1 << 20)
            for _ in range(stage2_size >> 20):
                out.write(block)
    else:
        (work / "stage2-root" / "etc").mkdir(parents=True, exist_ok=True)
        (work / "stage2-root" / "etc" / "os-release").write_text(f'NAME="{PRODUCT}"\n')
        run(["mksquashfs", work / "stage2-root", stage2, "-noappend", "-quiet"])
    (tree / ".treeinfo").write_text(treeinfo("LiveOS/squashfs.img"))
    (tree / ".discinfo").write_text(f"1700000000.000000\n{VERSION}\nx86_64\n")

    grub_efi = work / "BOOTX64.EFI"
    if not grub_efi.exists():
        build_grub_efi(grub_efi)
    shutil.copy(grub_efi, tree / "EFI" / "BOOT" / "BOOTX64.EFI")
    (tree / "EFI" / "BOOT" / "grub.cfg").write_text(grub_cfg(volid, timeout, efi=True))
    efiboot = work / f"efiboot-{flavour}.img"
    efiboot.unlink(missing_ok=True)
    build_efiboot(efiboot, tree / "EFI" / "BOOT")

    common = ["xorriso", "-as", "mkisofs", "-o", dest, "-R", "-J", "-V", volid]
    if flavour == "el9":
        isolinux = tree / "isolinux"
        isolinux.mkdir()
        shutil.copy("/usr/lib/ISOLINUX/isolinux.bin", isolinux)
        for c32 in ("ldlinux.c32", "vesamenu.c32", "libcom32.c32", "libutil.c32"):
            shutil.copy(f"/usr/lib/syslinux/modules/bios/{c32}", isolinux)
        shutil.copy(tree / "images" / "pxeboot" / "vmlinuz", isolinux)
        shutil.copy(tree / "images" / "pxeboot" / "initrd.img", isolinux)
        (isolinux / "isolinux.cfg").write_text(isolinux_cfg(volid, timeout))
        (isolinux / "boot.msg").write_text("\nsplash.lss\n\n - Press the 01<ENTER>07 key "
                                           "to begin the installation process.\n\n")
        shutil.copy(efiboot, tree / "images" / "efiboot.img")
        cmd = common + [
            "-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin",
            "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
            "-boot-load-size", "4", "-boot-info-table", "-no-emul-boot",
            "-eltorito-alt-boot", "-e", "images/efiboot.img", "-no-emul-boot",
            "-isohybrid-gpt-basdat", tree]
    elif flavour == "el10":
        grub2 = tree / "boot" / "grub2"
        grub2.mkdir(parents=True)
        (grub2 / "grub.cfg").write_text(grub_cfg(volid, timeout, efi=False))
        shutil.copytree("/usr/lib/grub/i386-pc", grub2 / "i386-pc")
        run(["grub-mkimage", "-O", "i386-pc-eltorito", "-d", "/usr/lib/grub/i386-pc",
             "-o", tree / "images" / "eltorito.img", "-p", "/boot/grub2",
             "iso9660", "biosdisk", "normal", "configfile", "linux", "search",
             "search_label", "echo", "gzio", "part_msdos", "part_gpt"])
        cmd = common + [
            "--grub2-mbr", "/usr/lib/grub/i386-pc/boot_hybrid.img",
            "-partition_offset", "16", "-appended_part_as_gpt",
            "-append_partition", "2", ESP_GUID, efiboot,
            "-iso_mbr_part_type", BASIC_DATA_GUID,
            "-c", "boot.cat", "--boot-catalog-hide",
            "-b", "images/eltorito.img", "-no-emul-boot", "-boot-load-size", "4",
            "-boot-info-table", "--grub2-boot-info",
            "-eltorito-alt-boot", "-e", "--interval:appended_partition_2:all::",
            "-no-emul-boot", tree]
    else:
        raise ValueError(f"unknown flavour {flavour}")
    Path(dest).unlink(missing_ok=True)
    run(cmd)
    run(["implantisomd5", dest])
    return Path(dest)


def iso_inputs(base):
    """In folder BASE, a node image and a stock boot ISO: what remaster and pxe take."""
    image = str(base / "node.img")
    build_image(make_root_tree(str(base / "root"), nvr=NVR), image, NVR)
    return {"iso": str(build_stock_iso(base / "stock.iso", base)), "image": image, "base": base}
