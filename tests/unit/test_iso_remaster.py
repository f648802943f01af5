"""`ovirt-node iso remaster` against stock boot ISOs built from Debian packages,
checked from the outside with xorriso, mtools and checkisomd5.
"""

import json
import os
import shlex
import shutil
import subprocess

import pytest

from org_ovirt_node.cli.main import main
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image.build import build_image
from org_ovirt_node.iso import efiboot, isofs
from org_ovirt_node.iso.bootmenus import grub_split, udev_escape
from org_ovirt_node.iso.remaster import RemasterOptions, remaster
from tests.support.images import NVR, make_root_tree, needs_root
from tests.support.stock_iso import VOLID, build_stock_iso

pytestmark = [needs_root, pytest.mark.skipif(
    not all(shutil.which(t) for t in ("xorriso", "mtype", "implantisomd5", "grub-mkimage")),
    reason="needs xorriso, mtools, isomd5sum and grub-efi-amd64-bin")]

NEW_VOLID = "OVIRT NODE 4.5"
KS_NAME = "interactive-defaults.ks"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Stock ISOs of both kinds and a node image, built once for the module."""
    base = tmp_path_factory.mktemp("iso")
    root = make_root_tree(str(base / "root"), nvr=NVR)
    image = str(base / "node.img")
    build_image(root, image, NVR)
    updates = base / "updates.img"
    updates.write_bytes(b"not really a cpio")
    return {"base": base, "image": image, "updates": str(updates),
            "el9": str(build_stock_iso(base / "el9.iso", base)),
            "el10": str(build_stock_iso(base / "el10.iso", base, flavour="el10"))}


def run_remaster(work, flavour, out, **kwargs):
    options = RemasterOptions(input=work[flavour], output=str(out), image=work["image"],
                              **kwargs)
    return remaster(options)


def extract_text(iso, path, tmp_path):
    dest = tmp_path / "x" / path.replace("/", "_")
    isofs.extract(iso, [path], str(tmp_path / "x"))
    shutil.move(str(tmp_path / "x" / path), dest)
    return dest.read_text()


def kernel_arg_lines(path, text):
    """The argument lists of every boot entry in a menu, as the loader reads them."""
    result = []
    for line in text.splitlines():
        words = line.split(None, 1)
        if not words:
            continue
        if path.endswith("isolinux.cfg") and words[0].lower() == "append":
            result.append(words[1].split())
        elif words[0] in ("linux", "linuxefi"):
            result.append(grub_split(words[1])[1:])
    return result


def replay_kind(iso):
    """The boot setup of ISO with the values that may differ (sizes, dates, paths) dropped."""
    info = isofs.read_iso(iso)
    kinds = []
    for line in info.boot_replay:
        words = shlex.split(line)
        if words[0] in ("-V", "--modification-date", "-boot-load-size"):
            continue
        if words[0] == "-append_partition":
            words = words[:3]
        kinds.append(" ".join(w if "--interval" not in w else w.split(":")[0] for w in words))
    return kinds, info.system_area


@pytest.mark.parametrize("flavour", ["el9", "el10"])
def test_remaster_rewrites_every_menu_and_keeps_boot_setup(work, flavour, tmp_path):
    out = tmp_path / "out.iso"
    summary = run_remaster(work, flavour, out, volid=NEW_VOLID, updates=work["updates"],
                           cmdline="console=ttyS0", rm_args="rd.live.check",
                           title="oVirt Node 4.5")
    info = isofs.read_iso(str(out))
    assert info.volid == NEW_VOLID
    for name in ("node.img", "node.img.sha256", KS_NAME, "updates.img"):
        assert name in info.files
    esc = udev_escape(NEW_VOLID)
    expected = [f"inst.ks=hd:LABEL={esc}:/{KS_NAME}", f"inst.updates=hd:LABEL={esc}:/updates.img",
                f"inst.stage2=hd:LABEL={esc}", "console=ttyS0"]

    menus = {path: extract_text(str(out), path, tmp_path) for path in
             ("isolinux/isolinux.cfg", "EFI/BOOT/grub.cfg", "boot/grub2/grub.cfg")
             if path in info.files}
    if info.efi_image_path:
        fat = tmp_path / "efiboot.img"
        isofs.extract(str(out), [info.efi_image_path], str(tmp_path / "fat"))
        shutil.move(str(tmp_path / "fat" / info.efi_image_path), fat)
    else:
        part = info.efi_partitions[0]
        fat = tmp_path / "efiboot.img"
        isofs.copy_range(str(out), part.offset, part.size, str(fat))
    menus["efiboot.img:EFI/BOOT/grub.cfg"] = efiboot.read_file(str(fat), "EFI/BOOT/grub.cfg")
    assert len(menus) == 3
    for path, text in menus.items():
        entries = kernel_arg_lines(path, text)
        assert len(entries) == 4, path
        for args in entries:
            for arg in expected:
                assert args.count(arg) == 1, (path, arg, args)
            assert "rd.live.check" not in args
            assert not any(VOLID in a or udev_escape(VOLID) in a for a in args)
        assert "Test Linux" not in text and "oVirt Node 4.5" in text
    assert set(summary["menus"]) >= {p for p in menus if ":" not in p}
    assert all(count == 4 for count in summary["menus"].values())

    ks = extract_text(str(out), KS_NAME, tmp_path)
    with open(work["image"] + ".sha256") as stream:
        sha = stream.read().split()[0]
    assert f"liveimg --url=file:///run/install/repo/node.img --checksum={sha}" in ks
    assert replay_kind(str(out)) == replay_kind(work[flavour])
    subprocess.run(["checkisomd5", str(out)], check=True, capture_output=True)


def test_appended_efi_partition_is_the_el_torito_efi_image(work, tmp_path):
    """EL10/Fedora: UEFI boots the appended partition; it must carry the new menu."""
    out = tmp_path / "out.iso"
    run_remaster(work, "el10", out, cmdline="marker=1")
    report = subprocess.run(["xorriso", "-indev", str(out), "-report_el_torito", "plain"],
                            capture_output=True, text=True).stdout
    uefi = [line.split() for line in report.splitlines() if "boot img" in line and "UEFI" in line]
    lba = int(uefi[0][-1])
    part = isofs.read_iso(str(out)).efi_partitions[0]
    assert part.offset == lba * 2048
    fat = tmp_path / "part.img"
    isofs.copy_range(str(out), part.offset, part.size, str(fat))
    assert "marker=1" in efiboot.read_file(str(fat), "EFI/BOOT/grub.cfg")


def test_second_remaster_replaces_ks_and_updates(work, tmp_path):
    first, second = tmp_path / "1.iso", tmp_path / "2.iso"
    run_remaster(work, "el9", first, updates=work["updates"])
    remaster(RemasterOptions(input=str(first), output=str(second), image=work["image"],
                             updates=work["updates"], volid="NODE2"))
    text = extract_text(str(second), "EFI/BOOT/grub.cfg", tmp_path)
    for args in kernel_arg_lines("grub.cfg", text):
        assert [a for a in args if a.startswith("inst.ks=")] == [f"inst.ks=hd:LABEL=NODE2:/{KS_NAME}"]
        assert len([a for a in args if a.startswith("inst.updates=")]) == 1


def test_user_kickstart_is_pointed_at_the_image(work, tmp_path):
    ks = tmp_path / "my.ks"
    ks.write_text("liveimg --url=http://example.com/old.img\nreboot\n")
    out = tmp_path / "out.iso"
    with pytest.raises(NodeError, match="both be /my.ks"):
        run_remaster(work, "el9", out, ks=str(ks), add=[str(ks)])
    summary = run_remaster(work, "el9", out, ks=str(ks))
    text = extract_text(str(out), "my.ks", tmp_path)
    assert text.startswith("liveimg --url=file:///run/install/repo/node.img --checksum=")
    assert summary["kickstart"]["path"] == "/my.ks"
    cfg = extract_text(str(out), "isolinux/isolinux.cfg", tmp_path)
    assert f"inst.ks=hd:LABEL={udev_escape(VOLID)}:/my.ks" in cfg


def test_source_date_epoch_makes_output_byte_identical(work, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    one, two = tmp_path / "1.iso", tmp_path / "2.iso"
    run_remaster(work, "el9", one, volid=NEW_VOLID)
    os.utime(work["image"])  # a touched input must not matter
    run_remaster(work, "el9", two, volid=NEW_VOLID)
    assert one.read_bytes() == two.read_bytes()


@pytest.mark.parametrize("flavour", ["el9", "el10"])
def test_media_check_sum_is_implantisomd5s(work, flavour, tmp_path, monkeypatch):
    """The sum computed while writing is what implantisomd5 puts on the same ISO."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    ours, theirs = tmp_path / "ours.iso", tmp_path / "theirs.iso"
    run_remaster(work, flavour, ours, volid=NEW_VOLID)
    run_remaster(work, flavour, theirs, volid=NEW_VOLID, md5=False)
    subprocess.run(["implantisomd5", "--force", str(theirs)], check=True, capture_output=True)
    assert ours.read_bytes() == theirs.read_bytes()
    subprocess.run(["checkisomd5", str(ours)], check=True, capture_output=True)


def test_cli_json_summary(work, tmp_path, capsys):
    out = tmp_path / "out.iso"
    assert main(["iso", "remaster", work["el9"], str(out), "--image", work["image"],
                 "-V", "NODE", "--json", "--no-md5sum"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(e["event"] == "progress" and e["step"] == "write" for e in events)
    result = events[-1]["remaster"]
    assert result["volid"] == {"old": VOLID, "new": "NODE"}
    assert result["md5_implanted"] is False
    assert "/node.img" in result["added"] and "/isolinux/isolinux.cfg" in result["replaced"]


def plain_iso(tmp_path):
    tree = tmp_path / "plain"
    tree.mkdir()
    (tree / "README").write_text("hello\n")
    path = tmp_path / "plain.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-o", str(path), "-V", "PLAIN", str(tree)],
                   check=True, capture_output=True)
    return str(path)


@pytest.mark.parametrize("case, message", [
    ("not-iso", "is not an ISO 9660 image"),
    ("plain-iso", "has no Anaconda boot layout"),
    ("exists", "exists (use --force"),
    ("bad-image", "node.img"),
    ("long-volid", "at most 32"),
    ("rm-value", "names only"),
])
def test_refusals_are_one_line_and_write_nothing(work, tmp_path, case, message, capsys):
    out = tmp_path / "out" / "new.iso"
    out.parent.mkdir()
    args = [work["el9"], str(out), "--image", work["image"]]
    if case == "not-iso":
        args[0] = work["image"]
    elif case == "plain-iso":
        args[0] = plain_iso(tmp_path)
    elif case == "exists":
        out.write_text("keep me")
    elif case == "bad-image":
        bad = tmp_path / "node.img"
        bad.write_bytes(b"\0" * 8192)
        args[3] = str(bad)
    elif case == "long-volid":
        args += ["-V", "X" * 33]
    elif case == "rm-value":
        args += ["-r", "quiet=1"]
    assert main(["iso", "remaster", *args]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("ovirt-node: error: ")
    assert message in errors[0]
    expected = ["new.iso"] if case == "exists" else []
    assert sorted(os.listdir(out.parent)) == expected


def test_force_replaces_and_failure_keeps_old_output(work, tmp_path):
    out = tmp_path / "out.iso"
    out.write_text("old")
    with pytest.raises(NodeError):
        run_remaster(work, "el9", out, force=True, add=[str(tmp_path / "missing")])
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["out.iso"]
    run_remaster(work, "el9", out, force=True)
    assert isofs.read_iso(str(out)).volid == VOLID
