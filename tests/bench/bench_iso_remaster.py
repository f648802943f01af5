"""Remaster time: `ovirt-node iso remaster` vs. ovirt-node-ng's derive-boot-iso.sh.

The old way, step by step as scripts/derive-boot-iso.sh (oVirt/ovirt-node-ng,
master) does it, with the same tools: checkisomd5 the input; `isoinfo -x`
every file below the root into a tree, one isoinfo per file; `unsquashfs -ll`
and copy the node image, write the kickstart; read os-release out of the
image; sed the boot menus (inst.ks, product name); `isoinfo -d` for the
label; mkisofs (genisoimage) over the whole tree with the script's flags;
isohybrid -u; implantisomd5 --force; rm -rf the tree. Loop mounts and the
guestfish appliance are replaced by cheaper tools doing the same reads and
edits (SUBSTITUTED), and what is left out is printed with the result
(LEFT_OUT). Ours is the `ovirt-node iso remaster` command,
interpreter start-up included.

Both run on the same ~1 GiB stock boot ISO, alternately, ROUNDS times; before
every run dirty pages are written back (`sync`) and the inputs are read into
the page cache (warm), or with --cold all caches are dropped instead. The
ratio is of the median times; the bench fails below MIN_RATIO. Outputs are
checked after each timed run (checkisomd5, the image, kickstart and menus),
outside the timing.

Run: .venv/bin/python tests/bench/bench_iso_remaster.py [--size-mib N] [--rounds N] [--cold] [--keep DIR]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from org_ovirt_node.image.build import build_image  # noqa: E402
from org_ovirt_node.iso import efiboot, isofs  # noqa: E402
from tests.support.images import NVR, make_root_tree  # noqa: E402
from tests.support.stock_iso import build_stock_iso  # noqa: E402

MIN_RATIO = 5.0
OVIRT_NODE = Path(sys.executable).with_name("ovirt-node")
KS_NAME = "interactive-defaults.ks"
SUBSTITUTED = {  # each cheaper than the original, so the old way only gains
    "mount -o loop images/efiboot.img; sed its grub.cfg": "mtools (mtype/mcopy)",
    "guestfish (a libguestfs appliance VM) cat /etc/os-release, twice":
        "unsquashfs -cat LiveOS/rootfs.img + debugfs cat, twice",
}
LEFT_OUT = {
    "stage2 rebranding (unsquashfs, loop-mount rootfs.img, mksquashfs -comp xz)":
        "minutes of xz on a real stage2; ours does not rebrand stage2 either",
    "cp ./product.img images/": "only when a product.img is given; none is here",
    "sed of isolinux/grub.conf": "EL7 only; not on EL9 ISOs (the script's sed fails there)",
}


def sh(*cmd, **kwargs):
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, **kwargs)


def read_in_image(image, path, work):
    """The text of PATH inside the node image's LiveOS/rootfs.img (the script's in_squashfs)."""
    rootfs = work / "rootfs-for-read.img"
    with open(rootfs, "wb") as out:
        subprocess.run(["unsquashfs", "-cat", image, "LiveOS/rootfs.img"], stdout=out, check=True)
    try:
        link = re.search(r'Fast link dest: "(.*)"',
                         sh("debugfs", "-R", f"stat {path}", rootfs, text=True).stdout)
        if link:
            path = os.path.normpath(os.path.join(os.path.dirname(path), link.group(1)))
        return sh("debugfs", "-R", f"cat {path}", rootfs, text=True).stdout
    finally:
        rootfs.unlink()


def derive_boot_iso(iso, image, out, work):
    """derive-boot-iso.sh's commands, in its order, on ISO and IMAGE, writing OUT."""
    tree = work / "bootiso.d"
    tree.mkdir()
    # [1/4] extract_iso: check the input, then one isoinfo -x per file below the root
    sh("checkisomd5", "--verbose", iso)
    listing = sh("isoinfo", "-i", iso, "-RJ", "-f", text=True).stdout.split()
    for name in sorted((f for f in listing if re.search("/.*/", f)), reverse=True):
        target = tree / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_dir():
            with open(target, "wb") as stream:
                subprocess.run(["isoinfo", "-i", str(iso), "-RJ", "-x", name],
                               stdout=stream, check=True)
    # [2/4] add_payload: list the image, copy it in, kickstart, os-release for branding
    sh("unsquashfs", "-ll", image)
    name = os.path.basename(image)
    shutil.copy(image, tree / name)
    (tree / KS_NAME).write_text(f"timezone --utc Etc/UTC\n\nliveimg --url=file:///run/install/"
                                f"repo/{name}\n\nautopart --type=thinp\n\n%post --erroronfail\n"
                                "imgbase layout --init\n%end\n")
    read_in_image(image, "/etc/os-release", work)
    # [3/4] modify_bootloader: the menus on the ISO and the one inside efiboot.img
    cfgs = [tree / "EFI/BOOT/grub.cfg", tree / "isolinux/isolinux.cfg"]
    fat = str(tree / "images/efiboot.img")
    texts = [path.read_text() for path in cfgs] + [efiboot.read_file(fat, "EFI/BOOT/grub.cfg")]
    label = re.search(r"hd:LABEL[^ :']*", texts[1]).group(0)
    orig_name = re.search(r"(?m)^menu title (.*)$", texts[1]).group(1)
    pretty = ""
    for line in read_in_image(image, "/etc/os-release", work).splitlines():
        if line.startswith("PRETTY_NAME"):
            pretty = line.split("=", 1)[1].replace('"', "")
    edited = []
    for text in texts:
        lines = []
        for line in text.splitlines():
            if "stage2" in line:
                line += f" inst.ks={label}:/{KS_NAME}"
            if not re.match(r"\s*(append|initrd|linux|search)", line):
                line = line.replace(orig_name, pretty)
            lines.append(re.sub("Rescue a .* system", f"Rescue a {pretty} system", line))
        edited.append("\n".join(lines) + "\n")
    for path, text in zip(cfgs, edited):
        path.write_text(text)
    efiboot.write_file(fat, "EFI/BOOT/grub.cfg", edited[2], len(texts[2].encode()))
    # [4/4] create_iso
    details = sh("isoinfo", "-d", "-i", iso, text=True).stdout
    volid = re.search(r"Volume id: (.*)", details).group(1)
    sh("mkisofs", "-J", "-T", "-U", "-joliet-long", "-o", out,
       "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot",
       "-boot-load-size", "4", "-boot-info-table", "-eltorito-alt-boot",
       "-e", "images/efiboot.img", "-no-emul-boot", "-R", "-graft-points",
       "-A", volid, "-V", volid, tree)
    sh("isohybrid", "-u", out)
    sh("implantisomd5", "--force", out)
    shutil.rmtree(tree)  # main: rm -rf $TMPDIR


def ovirt_node(iso, image, out, work):
    """Our remaster, as a user runs it."""
    sh(OVIRT_NODE, "iso", "remaster", iso, out, "--image", image)


def settle(paths, cold):
    """Start every run alike: nothing dirty, inputs cached (warm) or nothing cached (cold)."""
    os.sync()
    if cold:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return
    for path in paths:
        with open(path, "rb") as stream:
            while stream.read(8 << 20):
                pass


def verify(out, image, work):
    """The output passes checkisomd5 and holds the image, the kickstart and edited menus."""
    sh("checkisomd5", out)
    info = isofs.read_iso(str(out))
    name = os.path.basename(image)
    missing = {name, KS_NAME, "LiveOS/squashfs.img", "isolinux/isolinux.cfg"} - info.files
    if missing:
        raise SystemExit(f"{out} lacks {sorted(missing)}")
    check = work / "check"
    isofs.extract(str(out), ["isolinux/isolinux.cfg", name], str(check))
    if KS_NAME not in (check / "isolinux/isolinux.cfg").read_text():
        raise SystemExit(f"{out}: isolinux.cfg does not point at the kickstart")
    if (check / name).read_bytes() != Path(image).read_bytes():
        raise SystemExit(f"{out}: the node image on it differs from {image}")
    shutil.rmtree(check)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1000,
                        help="size of the stock ISO's stage2 (default 1000, a ~1 GiB ISO)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each way (default 3)")
    parser.add_argument("--cold", action="store_true",
                        help="drop the page cache before each run (root) instead of warming it")
    parser.add_argument("--keep", help="work in this directory and keep it")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-iso-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        image = str(work / "node.img")
        if not os.path.exists(image):
            build_image(make_root_tree(str(work / "root"), nvr=NVR), image, NVR)
        iso = work / "stock.iso"
        if not iso.exists():
            build_stock_iso(iso, work, stage2_size=args.size_mib << 20)
        ways = {"ovirt_node": ovirt_node, "derive_boot_iso": derive_boot_iso}
        times = {way: [] for way in ways}
        for number in range(args.rounds):
            order = list(ways) if number % 2 == 0 else list(reversed(ways))
            for way in order:
                out, scratch = work / f"{way}.iso", work / f"{way}.d"
                scratch.mkdir()
                settle([iso, image], args.cold)
                start = time.monotonic()
                ways[way](iso, image, out, scratch)
                times[way].append(round(time.monotonic() - start, 2))
                verify(out, image, scratch)
                out.unlink()
                shutil.rmtree(scratch)
        ours, old = (statistics.median(times[way]) for way in ways)
        ratio = old / ours
        print(json.dumps({"bench": "iso_remaster", "iso_bytes": iso.stat().st_size,
                          "cache": "cold (dropped before each run)" if args.cold else
                          "warm (inputs read in, sync before each run)",
                          "ovirt_node_s": times["ovirt_node"],
                          "derive_boot_iso_s": times["derive_boot_iso"],
                          "ratio_of_medians": round(ratio, 1), "min_ratio": MIN_RATIO,
                          "derive_boot_iso_substituted": SUBSTITUTED,
                          "derive_boot_iso_left_out": LEFT_OUT}, indent=1))
        return 0 if ratio >= MIN_RATIO else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
