"""The add-on service on a real private D-Bus, called the way Anaconda's boss
calls a module: read a kickstart, generate it, get tasks, run them."""

import hashlib
import os

import pytest
from dasbus.error import DBusError
from dasbus.loop import EventLoop
from gi.repository import GLib

from org_ovirt_node import dbus_ids
from org_ovirt_node.service.interface import CONTRACT_INTERFACE
from org_ovirt_node.service.server import main
from org_ovirt_node.service.structures import KickstartReport, PlanData
from tests.support.addon_service import run_task, start_service, stop_service

pytestmark = pytest.mark.integration

SIGNAL_TIMEOUT = 60

VALID = """\
%addon org_ovirt_node --image=file:///srv/node.squashfs --volumes=minimal
# sizes
--volume=/var/log:16GiB
%end
"""

INVALID = """\
%addon org_ovirt_node --image=file:///srv/node.squashfs
--volume=/var/log:16GiB

--volume=/var/tmp:1
--frobnicate
%end
%addon org_ovirt_nod
%end
"""


def messages(report, kind):
    """(line, message) pairs, read the way the boss reads a report."""
    report = KickstartReport.from_structure(report)
    found = report.error_messages if kind == "error-messages" else report.warning_messages
    return [(message.line_number, message.message) for message in found]


def test_claims_only_its_addon(service):
    assert service.KickstartAddons == ["org_ovirt_node"]
    assert service.KickstartCommands == []
    assert service.KickstartSections == []
    assert service.CollectRequirements() == []
    assert service.Kickstarted is False
    assert service.GenerateKickstart() == ""


def test_reads_and_generates_a_valid_section(service):
    report = service.ReadKickstart(VALID)
    assert messages(report, "error-messages") == []
    assert messages(report, "warning-messages") == []
    assert service.Kickstarted is True
    assert service.ImageURL == "file:///srv/node.squashfs"
    assert service.VolumeProfile == "minimal"
    assert service.VolumeSizes == {"/var": 5 << 30, "/var/log": 16 << 30}
    generated = service.GenerateKickstart()
    assert generated.startswith("%addon org_ovirt_node --image=file:///srv/node.squashfs")
    assert "--volume=/var/log:16GiB\n" in generated
    # What the module writes it reads back unchanged.
    assert messages(service.ReadKickstart(generated), "error-messages") == []
    assert service.GenerateKickstart() == generated


def test_reports_errors_at_their_lines_and_keeps_running(service):
    service.ReadKickstart(VALID)
    report = service.ReadKickstart(INVALID)
    errors = messages(report, "error-messages")
    assert [line for line, _ in errors] == [4, 5, 7]
    assert "below the minimum" in errors[0][1]
    assert "unknown option --frobnicate" in errors[1][1]
    assert "did you mean org_ovirt_node" in errors[2][1]
    assert set(report) == {"error-messages", "warning-messages"}
    assert set(report["error-messages"].unpack()[0]) == {"message", "line-number",
                                                         "file-name", "module-name"}
    # The broken text changed nothing; the module still answers.
    assert service.VolumeProfile == "minimal"


def test_unparsable_text_is_a_report_entry(service):
    report = service.ReadKickstart('%addon org_ovirt_node --image="file:///x\n%end\n')
    assert [line for line, _ in messages(report, "error-messages")] == [1]
    report = service.ReadKickstart("%addon org_ovirt_node\n%end\n")
    errors = messages(report, "error-messages")
    assert errors and errors[0][0] == 1 and "--image" in errors[0][1]
    assert service.Kickstarted is False


def write_image(tmp_path):
    image = tmp_path / "node.squashfs"
    image.write_bytes(os.urandom(3 << 20))
    return image, "sha256:" + hashlib.sha256(image.read_bytes()).hexdigest()


def test_verify_task_succeeds(service, client, tmp_path):
    image, checksum = write_image(tmp_path)
    service.ReadKickstart(f"%addon org_ovirt_node --image=file://{image} "
                          f"--checksum={checksum}\n%end\n")
    paths = service.ConfigureWithTasks()
    assert len(paths) == 1 and paths[0].startswith(dbus_ids.OBJECT_PATH + "/Task/")
    task, events = run_task(client, paths[0])
    assert task.Name == "Verify the node image"
    assert task.Steps == 3
    assert events[0] == "started" and events[-2:] == ["succeeded", "stopped"]
    progress = [event for event in events if isinstance(event, tuple)]
    assert [step for step, _ in progress] == sorted(step for step, _ in progress)
    assert [text for step, text in progress if step == 2][-1].endswith("(100%)")
    assert progress[-1][0] == 3     # the signature step (policy off here: no trusted key)
    assert task.IsRunning is False
    task.Finish()
    assert len(service.InstallWithTasks()) == 1
    assert service.ConfigureBootloaderWithTasks(["6.1"]) == []
    assert service.TeardownWithTasks() == []


def test_verify_task_fails_with_the_reason(service, client, tmp_path):
    image, _ = write_image(tmp_path)
    service.ReadKickstart(f"%addon org_ovirt_node --image=file://{image} "
                          f"--checksum=sha256:{'0' * 64}\n%end\n")
    task, events = run_task(client, service.ConfigureWithTasks()[0])
    assert events[-2:] == ["failed", "stopped"]
    assert "succeeded" not in events
    step, reason = events[-3]
    assert step == 2 and reason.startswith("Failed: ") and "checksum" in reason
    with pytest.raises(DBusError, match="but the kickstart says sha256:0000"):
        task.Finish()


def test_cancel_stops_a_running_task(service, client, tmp_path):
    """Cancel reaches the work at its next progress report: hashing a sparse
    8 GiB image takes seconds, so Cancel at the first percent stops it early."""
    image = tmp_path / "node.squashfs"
    with open(image, "wb") as stream:
        stream.truncate(8 << 30)
    service.SetImage(f"file://{image}", f"sha256:{'0' * 64}")

    def cancel_at_first_percent(task, events):
        if events[-1][1].endswith("%)") and "cancel" not in events:
            events.append("cancel")
            task.Cancel()

    task, events = run_task(client, service.ConfigureWithTasks()[0],
                            on_progress=cancel_at_first_percent)
    assert events[-2:] == [(2, "Cancelled"), "stopped"], events
    assert "cancel" in events and "succeeded" not in events and "failed" not in events
    assert not any(isinstance(event, tuple) and event[1].endswith("(100%)") for event in events)
    assert task.IsRunning is False
    task.Finish()


def test_missing_image_fails_the_task(service, client, tmp_path):
    service.SetImage(f"file://{tmp_path}/absent.squashfs", "")
    _, events = run_task(client, service.ConfigureWithTasks()[0])
    assert events[-2:] == ["failed", "stopped"]
    assert "does not exist" in events[-3][1]


def test_remote_images_have_no_configure_task(service):
    service.SetImage("https://example.com/node.squashfs", "")
    assert service.ConfigureWithTasks() == []


def test_spoke_settings_are_checked(service):
    with pytest.raises(DBusError, match="not an image URL"):
        service.SetImage("ftp://x/y", "")
    with pytest.raises(DBusError, match="sha256"):
        service.SetImage("file:///srv/node.squashfs", "md5:00")
    service.SetImage("file:///srv/node.squashfs", "")
    service.SetNames("vg_node", "thin")
    assert (service.VolumeGroup, service.ThinPool) == ("vg_node", "thin")
    with pytest.raises(DBusError, match="may only hold"):
        service.SetNames("bad name", "thin")
    service.VolumeProfile = "minimal"
    assert service.VolumeSizes == {"/var": 5 << 30}
    with pytest.raises(DBusError, match="unknown volume profile"):
        service.VolumeProfile = "huge"
    service.VolumeSizes = {"/srv": 2 << 30}
    with pytest.raises(DBusError, match="inside /usr"):
        service.VolumeSizes = {"/usr/local": 2 << 30}
    # The size a spoke sent is shown in units, not as a count of bytes.
    with pytest.raises(DBusError, match="volume size '1MiB' is below the minimum of 512MiB"):
        service.VolumeSizes = {"/srv": 1 << 20}
    assert "--volume=/srv:2GiB" in service.GenerateKickstart()
    assert "--vg=vg_node --pool=thin" in service.GenerateKickstart()


def test_plan_returns_problems_instead_of_failing(service, tmp_path):
    plan = PlanData.from_structure(service.Plan(["/dev/nonexistent-disk"]))
    assert plan.devices == [] and plan.problems == ["no node image is set"]
    service.SetImage("https://example.com/node.squashfs", "")
    plan = PlanData.from_structure(service.Plan(["/dev/vda"]))
    assert "once it is fetched" in plan.problems[0]
    image, _ = write_image(tmp_path)
    service.SetImage(f"file://{image}", "")
    plan = PlanData.from_structure(service.Plan(["/dev/nonexistent-disk"]))
    assert plan.devices == [] and len(plan.problems) == 1 and plan.problems[0]


def test_quit_ends_the_process(bus_address, client, tmp_path):
    process = start_service(bus_address, client, tmp_path / "service.log")
    stop_service(process, client.get_proxy(dbus_ids.SERVICE_NAME, dbus_ids.OBJECT_PATH))


def test_no_bus_address_is_one_line(capsys):
    assert main({}) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_bad_bus_address_is_one_line(tmp_path, capsys):
    assert main({"DBUS_STARTER_ADDRESS": f"unix:path={tmp_path}/none"}) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_protocol_answers_under_both_interface_names(service, client):
    """Real Anaconda calls org.fedoraproject.Anaconda.Modules; the add-on
    contract names org.fedoraproject.Anaconda.KickstartModule."""
    xml = client.get_proxy(dbus_ids.SERVICE_NAME, dbus_ids.OBJECT_PATH,
                           interface_name="org.freedesktop.DBus.Introspectable").Introspect()
    for name in (dbus_ids.KICKSTART_MODULE_INTERFACE, CONTRACT_INTERFACE):
        assert f'<interface name="{name}">' in xml
        proxy = client.get_proxy(dbus_ids.SERVICE_NAME, dbus_ids.OBJECT_PATH,
                                 interface_name=name)
        assert proxy.KickstartAddons == ["org_ovirt_node"]
        assert messages(proxy.ReadKickstart(VALID), "error-messages") == []
        assert proxy.Kickstarted is True
        assert proxy.GenerateKickstart().startswith("%addon org_ovirt_node")
        assert len(proxy.ConfigureWithTasks()) == 1


def test_kickstarted_change_is_signalled_under_both_names(service, client):
    changed = []
    loop = EventLoop()
    properties = client.get_proxy(dbus_ids.SERVICE_NAME, dbus_ids.OBJECT_PATH,
                                  interface_name="org.freedesktop.DBus.Properties")

    def on_changed(interface, values, _invalid):
        if "Kickstarted" in values:
            changed.append(interface)
        if len(changed) == 2:
            loop.quit()

    properties.PropertiesChanged.connect(on_changed)
    timeout = GLib.timeout_add_seconds(SIGNAL_TIMEOUT, loop.quit)
    service.ReadKickstart(VALID)
    loop.run()
    GLib.source_remove(timeout)
    assert sorted(changed) == sorted([dbus_ids.KICKSTART_MODULE_INTERFACE, CONTRACT_INTERFACE])


def test_install_task_fails_cleanly_without_an_installed_root(service, client, tmp_path):
    """The adopt task reports why it cannot run; the service stays up."""
    image = tmp_path / "node.squashfs"
    image.write_bytes(b"x")
    service.SetImage(f"file://{image}", "")
    [path] = service.InstallWithTasks()
    task, events = run_task(client, path)
    assert "failed" in events and "succeeded" not in events
    reasons = [event[1] for event in events if isinstance(event, tuple)]
    assert any("nothing is mounted at" in reason for reason in reasons), events
    assert service.GenerateKickstart().startswith("%addon org_ovirt_node")


def test_messages_name_the_line_of_the_users_file(bus_address, client, tmp_path):
    """The boss maps every line of the section to its header line and the
    installer shows only the text, so the text names the file's own line."""
    kickstart = tmp_path / "ks.cfg"
    kickstart.write_text("text\nliveimg --url=file:///srv/node.squashfs\n\n"
                         "%addon   org_ovirt_node --image=file:///srv/node.squashfs  # node\n"
                         "# sizes\n\n--volum=/var:5GiB\n%end\n", encoding="utf-8")
    process = start_service(bus_address, client, tmp_path / "service.log",
                            {"OVIRT_NODE_KICKSTART": str(kickstart)})
    proxy = client.get_proxy(dbus_ids.SERVICE_NAME, dbus_ids.OBJECT_PATH)
    try:
        # The text exactly as the boss cuts it out of ks.cfg (header words re-joined).
        report = proxy.ReadKickstart("%addon org_ovirt_node --image=file:///srv/node.squashfs\n"
                                     "# sizes\n\n--volum=/var:5GiB\n%end\n")
        assert messages(report, "error-messages") == [
            (4, "line 7: unknown option --volum=/var:5GiB")]
        # A section the service cannot find in any file: lines counted in the section.
        report = proxy.ReadKickstart("%addon org_ovirt_node --image=file:///x\n--frob\n%end\n")
        assert messages(report, "error-messages") == [
            (2, "line 2 of the %addon org_ovirt_node section: unknown option --frob")]
        # Typed as Anaconda's KickstartMessage: line-number is UInt32.
        entry = report["error-messages"].get_child_value(0)
        assert entry.lookup_value("line-number", None).get_type_string() == "u"
    finally:
        stop_service(process, proxy)


def test_kickstarted_is_writable_as_in_anaconda(service, client):
    """Anaconda's UI sets Kickstarted on modules; the property is read-write."""
    service.ReadKickstart(VALID)
    assert service.Kickstarted is True
    service.Kickstarted = False
    assert service.Kickstarted is False
    proxy = client.get_proxy(dbus_ids.SERVICE_NAME, dbus_ids.OBJECT_PATH,
                             interface_name=CONTRACT_INTERFACE)
    proxy.Kickstarted = True
    assert service.Kickstarted is True


def test_tasks_answer_get_result_as_anaconda_tasks_do(service, client, tmp_path):
    image, checksum = write_image(tmp_path)
    service.SetImage(f"file://{image}", checksum)
    [path] = service.ConfigureWithTasks()
    task, events = run_task(client, path)
    assert "succeeded" in events
    with pytest.raises(DBusError) as raised:
        task.GetResult()
    assert raised.value.dbus_name == dbus_ids.NO_RESULT_ERROR
    task.Finish()
