"""An image without GRUB is refused while planning, before any disk is touched,
with one line that says what to do; what the image carries shows in inspect."""

import os

import pytest

from org_ovirt_node.cli.main import main
from org_ovirt_node.image.inspect import inspect_image
from org_ovirt_node.install import bootloader
from tests.support.images import NVR, make_root_tree, needs_root, squash_tree

pytestmark = needs_root


def image_with_grub(tmp_path, platforms):
    """A plain-tree image whose usr/lib/grub holds PLATFORMS."""
    tree = make_root_tree(str(tmp_path / "root"), nvr=NVR)
    for platform in platforms:
        os.makedirs(os.path.join(tree, "usr/lib/grub", platform))
    return str(squash_tree(tree, tmp_path / "node.squashfs"))


@pytest.mark.parametrize("platforms, missing", [((), "i386-pc"),
                                                (("i386-pc",), "x86_64-efi")])
def test_image_without_grub_is_refused_before_the_disks(tmp_path, capsys, platforms,
                                                         missing):
    image = image_with_grub(tmp_path, platforms)
    assert inspect_image(image, verify_checksum=False).grub_platforms == list(platforms)
    # /dev/null is no disk: had the check come later, the disk check would complain
    assert main(["install", "--image", image, "--disk", "/dev/null", "--yes"]) == 1
    [line] = capsys.readouterr().err.splitlines()[-1:]
    assert line == (f"ovirt-node: error: the image has no GRUB for {missing} "
                    f"(usr/lib/grub/{missing}); install with --no-bootloader to install "
                    "your own")


def test_no_bootloader_skips_the_check(tmp_path, capsys):
    image = image_with_grub(tmp_path, ())
    assert main(["install", "--image", image, "--disk", "/dev/null", "--no-bootloader",
                 "--yes"]) == 1
    error = capsys.readouterr().err
    assert "GRUB" not in error and "/dev/null" in error


def test_efi_dir_is_the_os_id(tmp_path):
    root = make_root_tree(str(tmp_path / "root"))
    assert bootloader.efi_dir_name(root) == "ovirt-node"       # os-release without ID
    with open(os.path.join(root, "usr/lib/os-release"), "a", encoding="utf-8") as handle:
        handle.write('ID="centos"\n')
    assert bootloader.efi_dir_name(root) == "centos"
