"""grub.cfg rendered from BLS entries: boot counting header, menuentries by BLS id,
checked by GRUB's own parser (grub-script-check), and refresh on a real ext4."""

import os
import subprocess

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.util import grubcfg
from org_ovirt_node.util.blkid import fs_uuid
from org_ovirt_node.util.bls import BlsEntry
from org_ovirt_node.util.mounts import mounted
from tests.support.images import needs_root

UUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def entry(layer, kver, extra=""):
    return BlsEntry(entry_id=f"{layer}-{kver}", title=f"{layer[:-2]} ({kver})", version=kver,
                    linux=f"/{layer}/vmlinuz-{kver}", initrd=f"/{layer}/initramfs-{kver}.img",
                    options=f"root=/dev/onn/{layer} img.bootid={layer} {extra}".strip())


OLD = entry("ovirt-node-ng-4.5.5-0.1+1", "6.1.0-9-amd64")
NEW = entry("ovirt-node-ng-4.5.6-0.1+1", "6.1.0-10-amd64", "console=ttyS0")


def grub_script_check(text, tmp_path):
    """GRUB's own parser accepts TEXT."""
    path = tmp_path / "check.cfg"
    path.write_text(text)
    result = subprocess.run(["grub-script-check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_menuentries_by_bls_id_with_console_and_counting(tmp_path):
    text = grubcfg.render_grub_cfg([OLD, NEW], UUID, blscfg=False)
    grub_script_check(text, tmp_path)
    lines = text.splitlines()
    for line in ("set timeout=1", "serial --unit=0 --speed=115200",
                 "terminal_input serial console", "terminal_output serial console",
                 f"search --no-floppy --fs-uuid --set=root {UUID}",
                 "load_env -f ($root)/grub2/grubenv", 'set default="${saved_entry}"'):
        assert line in lines, line
    assert ("menuentry 'ovirt-node-ng-4.5.6-0.1 (6.1.0-10-amd64)' --class kernel "
            "--unrestricted --id 'ovirt-node-ng-4.5.6-0.1+1-6.1.0-10-amd64' {") in lines
    assert ("  linux /ovirt-node-ng-4.5.6-0.1+1/vmlinuz-6.1.0-10-amd64 "
            "root=/dev/onn/ovirt-node-ng-4.5.6-0.1+1 img.bootid=ovirt-node-ng-4.5.6-0.1+1 "
            "console=ttyS0") in lines
    assert "  initrd /ovirt-node-ng-4.5.6-0.1+1/initramfs-6.1.0-10-amd64.img" in lines
    assert "insmod blscfg" not in text
    assert text.index(f"--id '{NEW.entry_id}'") < text.index(f"--id '{OLD.entry_id}'")


def test_counting_chain_counts_down_and_falls_back_at_zero():
    text = grubcfg.render_grub_cfg([OLD], UUID, blscfg=False)
    header = text.split("menuentry", 1)[0]
    assert '    if [ "${boot_counter}" = "0" ]; then\n      set default="${boot_fallback}"' \
        in header
    for value in range(1, 10):
        assert f'[ "${{boot_counter}}" = "{value}" ]; then\n        set boot_counter={value - 1}' \
            in header
    assert "save_env -f ($root)/grub2/grubenv boot_counter" in header
    # counting only when both the counter and the fallback are set
    assert header.index('if [ -n "${boot_counter}" ]') < header.index(
        'if [ -n "${boot_fallback}" ]') < header.index('= "0" ]')
    # the fallback branch does not save: the counter stays 0 for the node to see
    fallback_branch = header.split('set default="${boot_fallback}"', 1)[1].split("else", 1)[0]
    assert "save_env" not in fallback_branch


def test_blscfg_when_the_installed_grub_has_it(tmp_path):
    text = grubcfg.render_grub_cfg([NEW, OLD], UUID, blscfg=True)
    grub_script_check(text, tmp_path)
    assert text.endswith("insmod blscfg\nblscfg\n")
    assert "menuentry" not in text and "boot_fallback" in text


def test_titles_with_quotes_stay_one_word(tmp_path):
    odd = BlsEntry(entry_id="x-1", title="it's \"odd\"", version="1", linux="/x/vmlinuz",
                   initrd="", options="")
    text = grubcfg.render_grub_cfg([odd], UUID, blscfg=False)
    grub_script_check(text, tmp_path)
    assert "menuentry 'it'\\''s \"odd\"'" in text
    assert "initrd" not in text.split("menuentry", 1)[1]


def test_efi_stub_finds_boot_by_uuid(tmp_path):
    text = grubcfg.render_efi_stub(UUID)
    grub_script_check(text, tmp_path)
    assert f"search --no-floppy --fs-uuid --set=dev {UUID}" in text
    assert "configfile $prefix/grub.cfg" in text and "set prefix=($dev)/grub2" in text


def write_entries(boot, *entries):
    directory = os.path.join(boot, "loader", "entries")
    os.makedirs(directory, exist_ok=True)
    for item in entries:
        with open(os.path.join(directory, item.filename), "w", encoding="utf-8") as handle:
            handle.write(item.render())


@pytest.fixture
def boot_fs(tmp_path):
    """A real ext4 /boot, loop-mounted: refresh reads the UUID of what holds the dir."""
    image = tmp_path / "boot.img"
    with open(image, "wb") as handle:
        handle.truncate(16 << 20)
    subprocess.run(["mkfs.ext4", "-q", str(image)], check=True)
    with mounted(str(image), options="loop") as boot:
        yield boot, fs_uuid(str(image))


@needs_root
def test_refresh_needs_our_boot_loader(boot_fs):
    boot, _ = boot_fs
    write_entries(boot, OLD)
    assert grubcfg.refresh(boot) is False
    assert not os.path.exists(os.path.join(boot, "grub2", "grub.cfg"))


@needs_root
def test_refresh_follows_the_entries(boot_fs):
    boot, uuid = boot_fs
    os.makedirs(os.path.join(boot, "grub2", "i386-pc"))
    write_entries(boot, OLD, NEW)
    cfg = os.path.join(boot, "grub2", "grub.cfg")
    assert grubcfg.refresh(boot) is True
    text = open(cfg, encoding="utf-8").read()
    assert text == grubcfg.render_grub_cfg([NEW, OLD], uuid, blscfg=False)
    os.unlink(os.path.join(boot, "loader", "entries", NEW.filename))
    assert grubcfg.refresh(boot) is True
    text = open(cfg, encoding="utf-8").read()
    assert NEW.entry_id not in text and f"--id '{OLD.entry_id}'" in text
    assert sorted(os.listdir(os.path.join(boot, "grub2"))) == ["grub.cfg", "i386-pc"]


@needs_root
def test_refresh_uses_blscfg_and_refuses_no_entries(boot_fs):
    boot, uuid = boot_fs
    os.makedirs(os.path.join(boot, "grub2", "x86_64-efi"))
    with pytest.raises(NodeError, match="no boot entry"):
        grubcfg.refresh(boot)
    open(os.path.join(boot, "grub2", "x86_64-efi", "blscfg.mod"), "wb").close()
    write_entries(boot, OLD)
    assert grubcfg.refresh(boot) is True
    text = open(os.path.join(boot, "grub2", "grub.cfg"), encoding="utf-8").read()
    assert text == grubcfg.render_grub_cfg([OLD], uuid, blscfg=True)


@needs_root
def test_refresh_leaves_a_grub_cfg_it_did_not_write(boot_fs):
    """Anaconda's grub2-install also makes grub2/i386-pc; its grub.cfg is not ours."""
    boot, _ = boot_fs
    os.makedirs(os.path.join(boot, "grub2", "i386-pc"))
    write_entries(boot, OLD)
    cfg = os.path.join(boot, "grub2", "grub.cfg")
    with open(cfg, "w", encoding="utf-8") as handle:
        handle.write("### BEGIN /etc/grub.d/00_header ###\n")
    assert grubcfg.refresh(boot) is False
    assert open(cfg, encoding="utf-8").read() == "### BEGIN /etc/grub.d/00_header ###\n"
