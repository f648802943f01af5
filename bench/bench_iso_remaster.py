"""Remaster time: `ovirt-node iso remaster` vs. the extract-everything way.

The old way is what ovirt-node-ng's derive-boot-iso.sh does, with its tools:
checkisomd5 the input, `isoinfo -x` every file, copy the image in, edit the
menus (here with mtools instead of a root loop mount, which only helps it),
mkisofs (genisoimage) over the whole tree, isohybrid -u, implantisomd5. Ours reads the input once
and writes the output once. Both run on the same ~1 GiB stock boot ISO in one
process, one after the other, with warm caches; the ratio is printed and the
bench fails below MIN_RATIO.

Run: .venv/bin/python bench/bench_iso_remaster.py [--size-mib N] [--keep DIR]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from org_ovirt_node.image.build import build_image  # noqa: E402
from org_ovirt_node.iso import efiboot  # noqa: E402
from org_ovirt_node.iso.remaster import RemasterOptions, remaster  # noqa: E402
from tests.support.images import NVR, make_root_tree  # noqa: E402
from tests.support.stock_iso import VOLID, build_stock_iso, udev_escape  # noqa: E402

MIN_RATIO = 5.0
KS_LINE = "inst.ks=hd:LABEL={}:/interactive-defaults.ks"


def sh(*cmd, **kwargs):
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, **kwargs)


def extract_everything_way(iso, image, out, work):
    """derive-boot-iso.sh's commands, step by step, without root.

    Left out: rebuilding the installer's stage2 to brand its os-release
    (unsquashfs + mksquashfs -comp xz, minutes on its own) and product.img.
    """
    sh("checkisomd5", "--verbose", iso)                      # [1/4] extract
    listing = sh("isoinfo", "-i", iso, "-RJ", "-f", text=True).stdout.split()
    for name in sorted((f for f in listing if re.search("/.*/", f)), reverse=True):
        target = work / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_dir():
            with open(target, "wb") as stream:
                subprocess.run(["isoinfo", "-i", str(iso), "-RJ", "-x", name],
                               stdout=stream, check=True)
    sh("unsquashfs", "-ll", image)                           # [2/4] payload
    shutil.copy(image, work / os.path.basename(image))
    (work / "interactive-defaults.ks").write_text(
        f"liveimg --url=file:///run/install/repo/{os.path.basename(image)}\n")
    ks = KS_LINE.format(udev_escape(VOLID))                  # [3/4] bootloader
    for cfg in ("isolinux/isolinux.cfg", "EFI/BOOT/grub.cfg"):
        path = work / cfg
        path.write_text("\n".join(line + f" {ks}" if "stage2" in line else line
                                  for line in path.read_text().splitlines()) + "\n")
    fat = str(work / "images" / "efiboot.img")
    text = efiboot.read_file(fat, "EFI/BOOT/grub.cfg")
    efiboot.write_file(fat, "EFI/BOOT/grub.cfg", text.replace("quiet", f"quiet {ks}"),
                       len(text))
    (work / "isolinux" / "boot.cat").unlink(missing_ok=True)
    sh("mkisofs", "-J", "-T", "-U", "-joliet-long", "-o", out,  # [4/4] new ISO
       "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot",
       "-boot-load-size", "4", "-boot-info-table", "-eltorito-alt-boot",
       "-e", "images/efiboot.img", "-no-emul-boot", "-R", "-graft-points",
       "-A", VOLID, "-V", VOLID, "-publisher", "ovirt.org", work)
    sh("isohybrid", "-u", out)
    sh("implantisomd5", "--force", out)


def timed(function, *args):
    start = time.monotonic()
    function(*args)
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1000,
                        help="size of the stock ISO's stage2 (default 1000, a ~1 GiB ISO)")
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
        for stale in ("ours.iso", "old.iso", "old"):
            shutil.rmtree(work / stale, ignore_errors=True)
            (work / stale).unlink(missing_ok=True) if (work / stale).is_file() else None
        (work / "old").mkdir()
        ours = timed(remaster, RemasterOptions(input=str(iso), output=str(work / "ours.iso"),
                                               image=image))
        old = timed(extract_everything_way, iso, image, work / "old.iso", work / "old")
        ratio = old / ours
        print(json.dumps({"bench": "iso_remaster", "iso_bytes": iso.stat().st_size,
                          "ours_s": round(ours, 2), "extract_everything_s": round(old, 2),
                          "ratio": round(ratio, 1), "min_ratio": MIN_RATIO}))
        return 0 if ratio >= MIN_RATIO else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
