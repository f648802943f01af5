"""The demo image made by `make demo-image` (squashfs-build/demo/build.sh).

The image is built once (out/demo, shared with `make demo` and the VM tests)
if it is not there yet. The boot itself is tested by the VM tests.
"""

import os
import stat
import subprocess

import pytest

from org_ovirt_node.image.inspect import inspect_image
from org_ovirt_node.image.mount import mounted_image, mounted_rootfs
from tests.support.demo import DEMO_IMAGE as DEMO
from tests.support.demo import DEMO_TREE as TREE
from tests.support.demo import ensure_demo_image
from tests.support.images import manifest, needs_root

pytestmark = [needs_root]


@pytest.fixture(scope="module", autouse=True)
def demo_image():
    """Build the demo image if this checkout has none yet."""
    ensure_demo_image()


def test_demo_image_facts():
    info = inspect_image(DEMO)
    assert info.nvr == "ovirt-node-ng-demo-4.5.5-0.1"
    assert info.os_name == "oVirt Node Demo"
    assert info.layout == "rootfs.img" and info.checksum_verified
    assert len(info.kernels) == 1
    assert info.grub_platforms == ["i386-pc", "x86_64-efi"]   # `ovirt-node install` runs it
    boot = os.path.join(TREE, "boot")
    assert os.path.isfile(os.path.join(boot, f"initramfs-{info.kernels[0]}.img"))
    with open(os.path.join(TREE, "etc/kernel/cmdline")) as stream:
        assert "console=ttyS0" in stream.read()


def test_demo_image_holds_its_tree():
    with mounted_image(DEMO) as mounted, mounted_rootfs(mounted.rootfs_img) as root:
        inside = manifest(root, skip=("lost+found", "usr/share/imgbase"))
    source = manifest(TREE)
    assert inside == source
    kinds = {stat.S_IFMT(int(dict(facts)["mode"], 8)) for facts in source.values()}
    assert kinds == {stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK, stat.S_IFCHR, stat.S_IFBLK,
                     stat.S_IFIFO, stat.S_IFSOCK}


def test_demo_image_runs_its_own_ovirt_node():
    """The node runs `ovirt-node boot-ok` at boot with the tree's own Python."""
    result = subprocess.run(["chroot", TREE, "/usr/bin/ovirt-node", "--help"],
                            env={"PATH": "/usr/bin:/usr/sbin", "PYTHONDONTWRITEBYTECODE": "1"},
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "install" in result.stdout
