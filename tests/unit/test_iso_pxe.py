"""`ovirt-node iso pxe`: the PXE tree from a stock boot ISO."""

import hashlib
import json
import os

import pytest

from org_ovirt_node.cli.main import main
from org_ovirt_node.iso import isofs
from org_ovirt_node.iso.bootmenus import grub_split
from tests.support.images import needs_root
from tests.support.stock_iso import iso_inputs

pytestmark = needs_root
BASE = "http://pxe.example.com/node"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return iso_inputs(tmp_path_factory.mktemp("pxe"))


def digest(path):
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def test_tree_serves_installer_image_and_kickstart(inputs, tmp_path, capsys):
    out = tmp_path / "tree"
    assert main(["iso", "pxe", inputs["iso"], "--image", inputs["image"], "-o", str(out),
                 "--base-url", BASE + "/", "-c", "ip=dhcp", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])["pxe"]
    for name in ("vmlinuz", "initrd.img", "LiveOS/squashfs.img", ".treeinfo", "node.img",
                 "node.img.sha256", "interactive-defaults.ks", "pxelinux.cfg/default",
                 "grub.cfg", "boot.ipxe"):
        assert (out / name).is_file(), name
    copies = tmp_path / "iso"
    isofs.extract(inputs["iso"], ["images/pxeboot/vmlinuz", "LiveOS/squashfs.img"], str(copies))
    assert digest(out / "vmlinuz") == digest(copies / "images/pxeboot/vmlinuz")
    assert digest(out / "LiveOS/squashfs.img") == digest(copies / "LiveOS/squashfs.img")
    assert digest(out / "node.img") == digest(inputs["image"])

    expected = [f"inst.stage2={BASE}", f"inst.ks={BASE}/interactive-defaults.ks", "ip=dhcp"]
    assert summary["kernel_args"] == expected
    pxelinux = (out / "pxelinux.cfg/default").read_text()
    assert f"KERNEL {BASE}/vmlinuz" in pxelinux and f"APPEND {' '.join(expected)}" in pxelinux
    grub = (out / "grub.cfg").read_text()
    linux = [line.split() for line in grub.splitlines() if line.strip().startswith("linux")][0]
    assert linux[1] == "(http,pxe.example.com)/node/vmlinuz"
    assert grub_split(" ".join(linux[2:])) == expected
    assert f"kernel {BASE}/vmlinuz initrd=initrd.img {' '.join(expected)}" in \
        (out / "boot.ipxe").read_text()
    sha = digest(inputs["image"])
    assert f"liveimg --url={BASE}/node.img --checksum={sha}" in \
        (out / "interactive-defaults.ks").read_text()


@pytest.mark.parametrize("extra, message", [
    (["--base-url", "pxe.example.com"], "not an http"),
    (["--base-url", BASE, "-c", "a'b"], "would read differently"),
])
def test_refusals(inputs, tmp_path, capsys, extra, message):
    out = tmp_path / "tree"
    args = ["iso", "pxe", inputs["iso"], "--image", inputs["image"], "-o", str(out)]
    assert main(args + extra) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_non_empty_directory_needs_force(inputs, tmp_path, capsys):
    (tmp_path / "keep").write_text("x")
    args = ["iso", "pxe", inputs["iso"], "--image", inputs["image"], "-o", str(tmp_path),
            "--base-url", BASE]
    assert main(args) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(args + ["--force"]) == 0
    assert sorted(os.listdir(tmp_path))[:2] == [".discinfo", ".treeinfo"]
    assert (tmp_path / "keep").read_text() == "x"
