"""The remastered ISO boots: BIOS from CD, UEFI from CD and UEFI from a USB stick.

qemu (TCG, no network) boots it; the stock ISO's probe initrd prints the
kernel command line, finds the medium by the label in `inst.ks=` and prints
the sha256 of the files on it. Three boots, about 15-20 s each.

The BIOS boot keeps the stock volume id with its space, so `\\x20` must
survive isolinux; the UEFI boots use a new volume id without one, because
Debian's GRUB (unlike Fedora's and EL's) turns `\\x20` into `\\\\x20`.
"""

import hashlib
import shutil

import pytest

from org_ovirt_node.image.build import build_image
from org_ovirt_node.iso.bootmenus import udev_escape
from org_ovirt_node.iso.remaster import RemasterOptions, remaster
from tests.support import isoboot
from tests.support.images import NVR, make_root_tree, needs_root
from tests.support.stock_iso import VOLID, build_stock_iso

pytestmark = [needs_root, pytest.mark.skipif(isoboot.can_boot() is not None,
                                             reason=str(isoboot.can_boot()))]

KS = "interactive-defaults.ks"


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Two remasters of one stock ISO: stock volume id, and a new one for UEFI."""
    base = tmp_path_factory.mktemp("boot")
    image = str(base / "node.img")
    build_image(make_root_tree(str(base / "root"), nvr=NVR), image, NVR)
    updates = base / "updates.img"
    updates.write_bytes(b"updates image stand-in\n")
    stock = build_stock_iso(base / "stock.iso", base)
    isos = {}
    for name, volid in (("stock-label", None), ("new-label", "OVIRT-NODE-4.5")):
        out = base / f"{name}.iso"
        remaster(RemasterOptions(input=str(stock), output=str(out), image=image,
                                 updates=str(updates), volid=volid,
                                 cmdline="console=ttyS0 panic=-1", rm_args="rd.live.check"))
        isos[name] = (str(out), volid or VOLID)
    return {"base": base, "isos": isos, "files": [image, image + ".sha256", str(updates)]}


def sha256(path):
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


@pytest.mark.parametrize("mode, iso", [("bios-cd", "stock-label"),
                                       ("uefi-cd", "new-label"),
                                       ("uefi-usb", "new-label")])
def test_boot_finds_kickstart_and_image_by_label(media, mode, iso, tmp_path):
    path, volid = media["isos"][iso]
    result = isoboot.boot(path, mode, str(tmp_path))
    assert result.finished, f"no probe output; serial log in {tmp_path}"
    args = result.cmdline.split()
    label = udev_escape(volid)
    for arg in (f"inst.ks=hd:LABEL={label}:/{KS}", f"inst.updates=hd:LABEL={label}:/updates.img",
                f"inst.stage2=hd:LABEL={label}", "console=ttyS0"):
        assert args.count(arg) == 1, (arg, result.cmdline)
    assert "rd.live.check" not in args
    assert result.device, "the probe found no medium with that label"
    for source in media["files"]:
        name = source.rsplit("/", 1)[1]
        assert result.sha256.get(name) == sha256(source), name
    # the kickstart on the medium is the one remaster wrote: it names the image
    assert KS in result.sha256
    shutil.rmtree(tmp_path, ignore_errors=True)
