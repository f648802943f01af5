"""Hostile outputs of `iso pxe` and `iso remaster` on a real stock ISO: a symlink
planted in the PXE tree (file or folder) is refused with --force and nothing is
written through it; the remaster output is never a symlink or device; a line
break in a value never reaches a boot menu."""

import os

import pytest

from org_ovirt_node.cli.main import main
from tests.support.images import needs_root
from tests.support.stock_iso import iso_inputs

pytestmark = needs_root
BASE = "http://pxe.example.com/node"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return iso_inputs(tmp_path_factory.mktemp("hostile-iso"))


@pytest.mark.parametrize("planted", ["vmlinuz", "grub.cfg", "node.img", "node.img.sha256",
                                     "pxelinux.cfg", "LiveOS"])
def test_iso_pxe_never_writes_through_a_planted_symlink(inputs, tmp_path, planted, capsys):
    out, elsewhere = tmp_path / "tree", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (elsewhere / "victim").write_text("precious\n")
    target = elsewhere if planted in ("pxelinux.cfg", "LiveOS") else elsewhere / "victim"
    os.symlink(target, out / planted)
    assert main(["iso", "pxe", inputs["iso"], "--image", inputs["image"], "-o", str(out),
                 "--base-url", BASE, "--force"]) == 1
    err = capsys.readouterr().err
    assert err.count("ovirt-node: error:") == 1 and "symbolic link" in err, err
    assert sorted(os.listdir(elsewhere)) == ["victim"]
    assert (elsewhere / "victim").read_text() == "precious\n"


def test_iso_pxe_refuses_line_breaks_before_writing(inputs, tmp_path, capsys):
    for args in (["--base-url", BASE + "\nkernel http://evil/x"],
                 ["--base-url", BASE, "--title", "Node\nMENU HIDDEN"],
                 ["--base-url", BASE, "-c", '"a\nb"']):
        out = tmp_path / str(len(os.listdir(tmp_path)))
        assert main(["iso", "pxe", inputs["iso"], "--image", inputs["image"], "-o", str(out),
                     *args]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("ovirt-node: error:"), err
        assert not out.exists()


def test_iso_remaster_output_is_never_a_symlink_or_device(inputs, tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.symlink(victim, tmp_path / "out.iso")
    for output in (str(tmp_path / "out.iso"), "/dev/null"):
        assert main(["iso", "remaster", inputs["iso"], output, "--image", inputs["image"],
                     "--force"]) == 1
        assert capsys.readouterr().err.count("ovirt-node: error:") == 1
    assert victim.read_text() == "precious\n"
    assert main(["iso", "remaster", inputs["iso"], str(tmp_path / "new.iso"), "--image",
                 inputs["image"], "--title", "Node\nmenu hidden"]) == 1
    assert "line break" in capsys.readouterr().err
    assert not (tmp_path / "new.iso").exists()
