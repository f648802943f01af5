"""What the service tells a spoke is worded for the installer: the engine's
command-line advice ("name one or more with --disk", "pass --wipe") never
reaches a spoke (service.wording, applied in service.settings)."""

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.install import pipeline
from org_ovirt_node.install.options import InstallOptions
from org_ovirt_node.service.settings import NO_DISK, NodeSettings
from org_ovirt_node.service.wording import installer_text, names_the_cli


def engine_message(function):
    with pytest.raises(NodeError) as raised:
        function()
    return raised.value.message


@pytest.mark.parametrize("message, worded", [
    ("no disk given: name one or more with --disk", "no disk given"),
    ("disk /dev/vda is not blank: it holds gpt, ext4; pass --wipe to erase it",
     "disk /dev/vda is not blank: it holds gpt, ext4"),
    ("the image has no GRUB for i386-pc (usr/lib/grub/i386-pc); install with "
     "--no-bootloader to install your own",
     "the image has no GRUB for i386-pc (usr/lib/grub/i386-pc)"),
    ("--volume ':1GiB' must be MOUNT:SIZE, e.g. /var/log:16GiB",
     "volume ':1GiB' must be MOUNT:SIZE, e.g. /var/log:16GiB"),
    ("see ovirt-node status", "see status"),
    ("the pool has 2 GiB free", "the pool has 2 GiB free"),
])
def test_command_line_advice_is_dropped(message, worded):
    assert installer_text(message) == worded
    assert not names_the_cli(installer_text(message))


def test_the_engines_own_cli_texts_are_the_ones_caught():
    """The texts this was written for, as the engine words them today."""
    message = engine_message(lambda: InstallOptions(disks=[]).validate())
    assert names_the_cli(message)
    assert not names_the_cli(installer_text(message))


def test_planning_without_a_disk_asks_for_the_installation_destination(tmp_path):
    settings = NodeSettings()
    image = tmp_path / "node.squashfs"
    image.write_bytes(b"x")
    settings.set_image(f"file://{image}", "")
    assert settings.plan([]).problems == [NO_DISK]


def test_layout_problems_and_refusals_are_worded_for_the_installer(tmp_path, monkeypatch):
    settings = NodeSettings()
    image = tmp_path / "node.squashfs"
    image.write_bytes(b"x")
    settings.set_image(f"file://{image}", "")

    def engine_refuses(*_args, **_kwargs):
        raise NodeError("disk /dev/vda is not blank: it holds gpt; pass --wipe to erase it")

    monkeypatch.setattr(pipeline, "make_plan", engine_refuses)
    assert settings.plan(["/dev/vda"]).problems == ["disk /dev/vda is not blank: it holds gpt"]

    class Plan:  # what make_plan returns when the layout does not fit
        nvr, layer, devices = "node-1-1", "node-1-1+1", []
        problems = ["swap does not fit (shrink it with --swap)"]

    monkeypatch.setattr(pipeline, "make_plan", lambda *_args, **_kwargs: (Plan, {}, None))
    assert settings.plan(["/dev/vda"]).problems == ["swap does not fit"]
    for refused in (lambda: settings.set_volume_sizes({"": 1 << 30}),
                    lambda: settings.set_volume_sizes({"/var": 1}),
                    lambda: settings.set_names("-bad", "pool"),
                    lambda: settings.set_image("ftp://x/y", ""),
                    lambda: settings.set_image("file:///x", "md5:1"),
                    lambda: settings.set_volume_profile("huge")):
        assert not names_the_cli(engine_message(refused))
