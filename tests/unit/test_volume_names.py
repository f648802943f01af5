"""Mount points of separate volumes: the install's --volume and an image's declared volumes."""

import pytest

from org_ovirt_node.constants import VOLUMES_IN_IMAGE
from org_ovirt_node.errors import NodeError
from org_ovirt_node.install.options import check_volume_mount_point
from org_ovirt_node.lifecycle.newvolumes import declared_volumes
from org_ovirt_node.sizes import GiB


@pytest.mark.parametrize("mount_point", ["/var/lib/libvirt", "/srv", "/var/log/audit"])
def test_plain_mount_points_pass(mount_point):
    check_volume_mount_point(mount_point)


@pytest.mark.parametrize("mount_point,fragment", [
    ("var", "plain absolute"), ("/", "plain absolute"), ("/var//log", "plain absolute"),
    ("/var/", "plain absolute"), ("/var/../etc", "plain absolute"),
    ("/var/my data", "plain absolute"), ("/var\n", "plain absolute"),
    ("/boot", "reserved"), ("/boot/efi", "reserved"), ("/usr/local", "reserved"),
    ("/proc/x", "reserved"), ("/etc", "reserved"),
])
def test_unusable_mount_points_are_refused(mount_point, fragment):
    with pytest.raises(NodeError, match=fragment):
        check_volume_mount_point(mount_point)


def write_declaration(root, text):
    path = root / VOLUMES_IN_IMAGE
    path.parent.mkdir(parents=True)
    path.write_text(text)


def test_an_image_declares_its_volumes(tmp_path):
    write_declaration(tmp_path, "# volumes this image needs\n/var/lib/libvirt 20GiB\n\n"
                                "/srv 1GiB  # data\n")
    assert declared_volumes(str(tmp_path)) == {"/var/lib/libvirt": 20 * GiB, "/srv": GiB}


def test_an_image_without_a_declaration_needs_nothing(tmp_path):
    assert declared_volumes(str(tmp_path)) == {}


@pytest.mark.parametrize("line,fragment", [("/srv", "expected 'MOUNT SIZE'"),
                                           ("/usr/x 1GiB", "reserved"),
                                           ("/srv lots", "")])
def test_bad_declarations_name_their_line(tmp_path, line, fragment):
    write_declaration(tmp_path, f"# header\n{line}\n")
    with pytest.raises(NodeError, match=f"/{VOLUMES_IN_IMAGE}:2: .*{fragment}"):
        declared_volumes(str(tmp_path))
