"""The spokes' logic (ui.presenter) against the real add-on service on a
private bus: what it shows, what it refuses and what it sends."""

from types import SimpleNamespace

import pytest
from blivet import Blivet
from blivet.devices import DiskFile
from blivet.size import Size

from org_ovirt_node.install.layout import schedule_layout
from org_ovirt_node.install.options import InstallOptions
from org_ovirt_node.service.settings import _device_data
from org_ovirt_node.service.structures import PlanData
from org_ovirt_node.sizes import GiB
from org_ovirt_node.ui.presenter import PROFILES, NodePresenter, profile_description

pytestmark = pytest.mark.integration

NVR = "ovirt-node-ng-4.5.5-0.20261124.0"


@pytest.fixture
def presenter(service):
    return NodePresenter(service, lambda: ["/dev/nonexistent-disk"])


def test_fresh_service_is_incomplete_without_an_image(presenter):
    view = presenter.view()
    assert view.image_url == "" and view.profile == "nist"
    assert (view.volume_group, view.thin_pool) == ("onn", "pool00")
    assert ("/var/log/audit", "2 GiB") in view.volumes
    assert view.problems == ["no node image is set"]
    assert view.layout == [] and view.complete is False
    assert view.status == "Node image not set"


def test_image_is_sent_and_bad_ones_are_refused(presenter, service):
    assert presenter.set_image("  ") == "Enter the URL of the node image."
    assert "not an image URL" in presenter.set_image("ftp://host/node.squashfs")
    assert "sha256" in presenter.set_image("file:///srv/node.squashfs", "md5:00")
    assert presenter.set_image(" https://example.com/node.squashfs ") == ""
    assert service.ImageURL == "https://example.com/node.squashfs"
    view = presenter.view()
    assert view.image_url == "https://example.com/node.squashfs"
    assert "once it is fetched" in view.problems[0]
    assert view.complete is False and view.status == "The layout has problems"


def test_profile_and_sizes(presenter, service):
    assert presenter.set_profile("minimal") == ""
    assert presenter.view().volumes == [("/var", "5 GiB")]
    assert presenter.set_volume_size("/var/log", "16 GiB") == ""
    assert presenter.set_volume_size("/var", "7") == ""  # GiB unless told
    assert service.VolumeSizes == {"/var": 7 * GiB, "/var/log": 16 * GiB}
    assert "is not a size" in presenter.set_volume_size("/srv", "lots")
    assert "below the minimum" in presenter.set_volume_size("/srv", "1MiB")
    assert "inside /usr" in presenter.set_volume_size("/usr/local", "2GiB")
    assert presenter.remove_volume("/var/log") == ""
    assert "no separate volume" in presenter.remove_volume("/var/log")
    assert service.VolumeSizes == {"/var": 7 * GiB}
    assert "unknown volume profile" in presenter.set_profile("huge")
    assert presenter.set_profile("none") == "" and presenter.view().volumes == []


def test_names(presenter, service):
    assert presenter.set_names(" vg_node ", "thin") == ""
    assert (service.VolumeGroup, service.ThinPool) == ("vg_node", "thin")
    assert "both named" in presenter.set_names("same", "same")
    assert "may only hold" in presenter.set_names("bad name", "thin")


def test_every_profile_has_a_description():
    assert [name for name, _ in PROFILES] == ["nist", "minimal", "none"]
    assert profile_description("minimal").startswith("Minimal")
    assert profile_description("custom") == "custom"


class PlannedService:
    """The real service, except that Plan answers with a layout the engine
    computed on a disk file (blivet only plans onto real disks, which this
    machine does not have)."""

    def __init__(self, proxy, plan):
        self._proxy, self._plan = proxy, plan

    def __getattr__(self, name):
        return getattr(self._proxy, name)

    def Plan(self, _disks):  # pylint: disable=invalid-name
        return PlanData.to_structure(self._plan)


def engine_plan(tmp_path, disk_size):
    storage = Blivet()
    path = tmp_path / "disk0"
    with open(path, "wb") as handle:
        handle.truncate(disk_size)
    disk = DiskFile(str(path), size=Size(disk_size))
    storage.devicetree._add_device(disk)  # pylint: disable=protected-access
    image = SimpleNamespace(nvr=NVR, rootfs_size=3 * GiB, rootfs_used=1 * GiB)
    plan, _ = schedule_layout(storage, [disk], InstallOptions(disks=[disk.path],
                                                              swap_size=2 * GiB), image)
    data = PlanData()
    data.nvr, data.layer, data.problems = plan.nvr, plan.layer, plan.problems
    data.devices = [_device_data(device) for device in plan.devices]
    return data


def test_valid_layout_completes_the_spoke(service, tmp_path):
    presenter = NodePresenter(PlannedService(service, engine_plan(tmp_path, 64 * GiB)),
                              lambda: ["/dev/vda"])
    assert presenter.set_image("https://example.com/node.squashfs") == ""
    view = presenter.view()
    assert view.problems == [] and view.complete is True
    assert view.status == f"Install {NVR} with nist volumes"
    rows = {row.name: row for row in view.layout}
    assert rows[NVR + "+1"].role == "layer" and rows["var_log"].size == "8 GiB"
    assert rows["var_log"].mount_point == "/var/log"


def test_a_layout_that_does_not_fit_keeps_it_incomplete(service, tmp_path):
    plan = engine_plan(tmp_path, 5 * GiB)
    assert plan.problems
    presenter = NodePresenter(PlannedService(service, plan), lambda: ["/dev/vda"])
    presenter.set_image("https://example.com/node.squashfs")
    view = presenter.view()
    assert view.problems == plan.problems and "too small" in view.problems[0]
    assert view.complete is False and view.status == "The layout has problems"


def test_no_text_the_spoke_shows_names_the_command_line(service, tmp_path):
    """Through the real service: the layout without a chosen disk, and every
    refusal, read as installer texts."""
    from org_ovirt_node.service.settings import NO_DISK  # pylint: disable=import-outside-toplevel
    from org_ovirt_node.service.wording import names_the_cli  # pylint: disable=import-outside-toplevel
    image = tmp_path / "node.squashfs"
    image.write_bytes(b"x")
    presenter = NodePresenter(service, lambda: [])
    assert presenter.set_image(f"file://{image}") == ""
    view = presenter.view()
    assert view.problems == [NO_DISK]
    texts = [*view.problems, view.status,
             presenter.set_volume_size("", "2"), presenter.set_volume_size("/var", "0.1"),
             presenter.set_volume_size("var", "2"), presenter.set_names("a b", "-c"),
             presenter.set_profile("huge"), presenter.set_image("nfs:", ""),
             presenter.set_image(f"file://{image}", "sha256:12"), presenter.remove_volume("/x")]
    assert all(texts[2:]), texts  # every one of those was refused
    assert [text for text in texts if names_the_cli(text)] == []


def test_the_presenter_words_every_text_for_the_installer(service):
    """Whatever the service or engine says, the spoke never shows a
    command-line option: the presenter is the one way texts reach a spoke."""
    from dasbus.error import DBusError  # pylint: disable=import-outside-toplevel
    from org_ovirt_node.service.wording import names_the_cli  # pylint: disable=import-outside-toplevel

    class CliWordedService(PlannedService):
        def SetNames(self, *_args):  # pylint: disable=invalid-name
            raise DBusError("the name is taken; pick another with --vg")

    plan = PlanData()
    plan.problems = ["disk /dev/vda is not blank: it holds gpt; pass --wipe to erase it"]
    presenter = NodePresenter(CliWordedService(service, plan), lambda: ["/dev/vda"])
    assert presenter.view().problems == ["disk /dev/vda is not blank: it holds gpt"]
    assert presenter.set_names("onn", "pool00") == "the name is taken"
    assert not names_the_cli(presenter.set_volume_size("/var", "--5"))
