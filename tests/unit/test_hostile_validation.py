"""Hostile values (issue 9, section 4): every regex validator matches whole; no
value carries a line break into a generated config; install names obey every
LVM rule before blivet sees them; one disk named twice is refused; dry runs
and killed runs leave nothing behind; rollback names only what exists."""

import ast
import os
import pkgutil
import re
import subprocess

import pytest

import org_ovirt_node
from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.install import options as install_options
from org_ovirt_node.install.options import InstallOptions, check_distinct_disks
from org_ovirt_node.nvr import NVR
from org_ovirt_node.sizes import parse_size
from org_ovirt_node.util import safeio

PACKAGE_DIR = os.path.dirname(org_ovirt_node.__file__)


# ------------------------------------------------------------ whole matches

def _anchored_patterns(tree):
    """Module-level NAME = re.compile("...$") without MULTILINE, by name."""
    names = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                getattr(node.value.func, "attr", "") == "compile" and node.value.args and \
                isinstance(node.value.args[0], ast.Constant) and \
                str(node.value.args[0].value).endswith("$") and \
                "M" not in ast.unparse(node.value.args[1:]) and \
                "MULTILINE" not in ast.unparse(node.value.args[1:]):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node.value.args[0].value
    return names


def test_every_anchored_validator_is_matched_whole():
    """`^...$` with .match/.search passes 'value\\n'; fullmatch does not."""
    offenders = []
    for info in pkgutil.walk_packages([PACKAGE_DIR], "org_ovirt_node."):
        path = os.path.join(PACKAGE_DIR, *info.name.split(".")[1:])
        path = path + ".py" if os.path.isfile(path + ".py") else os.path.join(path, "__init__.py")
        with open(path, encoding="utf-8") as stream:
            source = stream.read()
        tree = ast.parse(source)
        for name in _anchored_patterns(tree):
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                        node.func.attr in ("match", "search") and \
                        isinstance(node.func.value, ast.Name) and node.func.value.id == name:
                    arg = ast.unparse(node.args[0]) if node.args else ""
                    # matching lines split by splitlines() cannot end in a newline
                    if arg not in ("line",):
                        offenders.append(f"{info.name}: {name}.{node.func.attr}({arg})")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("re.match", "re.search") \
                    and node.args and isinstance(node.args[0], ast.Constant) \
                    and str(node.args[0].value).startswith("^") \
                    and str(node.args[0].value).endswith("$"):
                offenders.append(f"{info.name}: {ast.unparse(node)}")
    assert offenders == []


@pytest.mark.parametrize("check", [
    lambda: NVR.parse("node-1.0-1\n"),
    lambda: NVR.parse("-node-1.0-1"),
    lambda: parse_size("16GiB\n"),
    lambda: parse_size("1" * 30),
    lambda: parse_size("99999999999TiB"),
    lambda: install_options.check_lvm_name("volume group", "onn\n"),
    lambda: __import__("org_ovirt_node.ks.url", fromlist=["x"]).check_checksum(
        "sha256:" + "0" * 64 + "\n"),
    lambda: __import__("org_ovirt_node.ks.url", fromlist=["x"]).parse_image_url(
        "http://host/node.squashfs\n"),
])
def test_trailing_newlines_and_absurd_values_are_refused(check):
    with pytest.raises(NodeError):
        check()


def test_inventory_values_are_matched_whole():
    from org_ovirt_node.ks.inventory import parse_inventory
    base = {"image_url": "http://repo.example.com/node.squashfs", "disks": ["sda"],
            "root_password_hash": "$6$salt$hash"}
    for field, value in (("hostname", "node01\n"), ("mac", "52:54:00:00:00:01\n"),
                         ("timezone", "UTC\nrootpw x"), ("root_password_hash", "$6$a$b\n"),
                         ("disks", ["sda\n"])):
        host = {**base, "hostname": "node01", "mac": "52:54:00:00:00:01", field: value}
        with pytest.raises(NodeError, match=field):
            parse_inventory({"hosts": [host]})


# ------------------------------------------------------------ line breaks into configs

def test_no_line_break_reaches_a_pxe_config(tmp_path):
    from org_ovirt_node.ks.inventory import parse_inventory
    from org_ovirt_node.ks.pxe import write_pxe
    hosts = parse_inventory({"hosts": [{
        "hostname": "node01", "mac": "52:54:00:00:00:01", "disks": ["sda"],
        "image_url": "http://r/n.squashfs", "root_password_hash": "$6$a$b"}]})
    good = dict(kernel_url="http://p/vmlinuz", initrd_url="http://p/initrd.img",
                ks_url="http://p/ks", stage2_url="http://p/")
    for key in good:
        bad = {**good, key: good[key] + "\nkernel http://evil/vmlinuz"}
        with pytest.raises(NodeError):
            write_pxe(hosts, str(tmp_path / key), **bad)
        assert not os.path.exists(tmp_path / key)


def test_no_line_break_reaches_iso_pxe_or_remaster_menus(tmp_path):
    from org_ovirt_node.iso import pxe, remaster
    with pytest.raises(NodeError):
        pxe.kernel_args("http://h/x", "ks.ks", cmdline='"a\nb"')
    with pytest.raises(NodeError):
        pxe.kernel_args("http://h/x\n", "ks.ks")
    with pytest.raises(NodeError):
        pxe.kernel_args("http://h/x", "k s.ks")
    iso = tmp_path / "in.iso"
    iso.write_bytes(b"")
    for field, value in (("title", "Node\nmenu hidden"), ("volid", "NODE\nX"),
                         ("cmdline", 'a="x\ny"'), ("replace", [("a", "b\nc")])):
        options = remaster.RemasterOptions(input=str(iso), output=str(tmp_path / "o.iso"),
                                           image=str(iso), **{field: value})
        with pytest.raises(NodeError, match="line break|xorriso|mtools"):
            remaster.check_options(options)


def test_no_line_break_reaches_a_kickstart():
    from org_ovirt_node.ks.section import build_section
    from org_ovirt_node.iso.kickstart import liveimg_line
    with pytest.raises(NodeError):
        build_section("http://r/n.squashfs", options={"proxy": "http://p:3128\n%pre"})
    with pytest.raises(NodeError):
        liveimg_line("file:///run/install/repo/n.squashfs\n%post", "0" * 64)


# ------------------------------------------------------------ install names

@pytest.mark.parametrize("kwargs, words", [
    ({"pool": "snapshot0"}, "reserves"),
    ({"pool": "pvmove"}, "reserves"),
    ({"pool": "pool_tmeta"}, "reserves"),
    ({"pool": "a_rimage_0"}, "reserves"),
    ({"volume_sizes": {"/var/x_tdata": 1 << 30}}, "reserves"),
    ({"volume_sizes": {"/var/x_cmeta": 1 << 30}}, "reserves"),
    ({"vg": "-onn"}, "starting with '-'"),
    ({"vg": "a" + "-" * 63}, "device-mapper"),
    ({"vg": "o" * 65}, "longer than 64"),
    ({"volume_sizes": {"/var//log": 1 << 30}}, "plain"),
    ({"volume_sizes": {"/var/log/": 1 << 30}}, "plain"),
    ({"volume_sizes": {"/var/../etc": 1 << 30}}, "plain"),
    ({"volume_sizes": {"/var/my log": 1 << 30}}, "plain"),
    ({"volume_sizes": {"/var/l\u00f6g": 1 << 30}}, "plain"),
    ({"volume_sizes": {"/boot/x": 1 << 30}}, "reserved"),
    ({"volume_sizes": {"/usr/local": 1 << 30}}, "reserved"),
    ({"volume_sizes": {"/proc": 1 << 30}}, "reserved"),
    ({"volume_sizes": {"/var": 1 << 20}}, "512 MiB"),
    ({"volume_sizes": {"/var": 1 << 70}}, "8 EiB"),
    ({"volume_sizes": {"/var_log": 1 << 30}}, "same name"),
    ({"volume_sizes": {"/pool00": 1 << 30}}, "same name"),
    ({"root_size": 1 << 70}, "8 EiB"),
])
def test_install_names_and_sizes_are_checked_before_blivet(kwargs, words):
    with pytest.raises(NodeError, match=re.escape(words)):
        InstallOptions(disks=["/dev/vda"], **kwargs).validate_names()


def test_one_disk_named_twice_through_two_paths_is_refused(tmp_path):
    disk = tmp_path / "disk"
    disk.write_bytes(b"")
    os.symlink(disk, tmp_path / "by-id")
    with pytest.raises(NodeError, match="named twice"):
        check_distinct_disks([str(disk), str(tmp_path / "by-id")])
    with pytest.raises(NodeError, match="named twice"):
        check_distinct_disks([str(disk), str(tmp_path / "." / "disk")])
    blocks = [os.path.join("/dev", name) for name in sorted(os.listdir("/dev"))
              if name.startswith(("loop", "vd", "sd", "nvme"))]
    blocks = [path for path in blocks if os.path.exists(path)
              and os.stat(path).st_mode & 0o170000 == 0o060000]
    if blocks:
        os.symlink(blocks[0], tmp_path / "alias")
        with pytest.raises(NodeError, match="named twice"):
            check_distinct_disks([blocks[0], str(tmp_path / "alias")])
    check_distinct_disks([str(disk), str(tmp_path / "hosts.yaml")])


def test_boot_keeps_a_real_margin_above_imgbaseds_minimum(tmp_path):
    """imgbased checks statvfs f_blocks * f_frsize >= 1e9 on /boot."""
    image = tmp_path / "boot.img"
    with open(image, "wb") as stream:
        stream.truncate(constants.BOOT_SIZE)
    if subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=False).returncode:
        pytest.skip("no mkfs.ext4")
    info = subprocess.run(["dumpe2fs", "-h", str(image)], capture_output=True, text=True,
                          check=True).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    blocks = int(fields["Block count"]) - int(fields.get("Overhead clusters", "0"))
    usable = blocks * int(fields["Block size"])
    assert usable >= 1.2 * constants.IMGBASED_MIN_BOOT_BYTES, usable


# ------------------------------------------------------------ side effects

def test_blivet_lvm_calls_write_no_log_file():
    lvm = pytest.importorskip("blivet.devicelibs.lvm")
    from org_ovirt_node.install.storage import no_lvm_log_file
    try:
        lvm._set_global_config()
        config = lvm.blockdev.lvm.get_global_config()
    except Exception:  # pylint: disable=broad-except
        pytest.skip("libblockdev's LVM plugin is not loaded")
    assert "lvm.log" in config   # what blivet does by itself
    no_lvm_log_file()
    lvm._set_global_config()
    assert "lvm.log" not in lvm.blockdev.lvm.get_global_config()


def _dead_pid():
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_killed_runs_temporary_folders_are_cleaned_by_the_next_run(tmp_path):
    dead = tmp_path / f"ovirt-node-pxe-{_dead_pid()}-abc123"
    (dead / "deep").mkdir(parents=True)
    (dead / "deep" / "file").write_text("x")
    partial = tmp_path / f".ovirt-node-iso-{_dead_pid()}-xyz.iso"
    partial.write_text("half an iso")
    alive = tmp_path / f"ovirt-node-pxe-{os.getppid()}-def456"
    alive.mkdir()
    other = tmp_path / "someone-elses"
    other.mkdir()
    with safeio.TempDir("pxe", str(tmp_path)) as work:
        assert os.path.basename(work).startswith(f"ovirt-node-pxe-{os.getpid()}-")
        assert not dead.exists() and not partial.exists()
        assert alive.exists() and other.exists()
    assert not os.path.exists(work)


def test_rollback_names_only_what_exists(monkeypatch):
    from org_ovirt_node.install import rollback

    class Result:
        def __init__(self, code, out=""):
            self.returncode, self.stdout = code, out

    class Plan:
        vg = "onn"

    calls = []
    monkeypatch.setattr(rollback.lvm, "lvm", lambda *a, check=True: calls.append(a) or Result(5))
    monkeypatch.setattr(rollback, "run", lambda cmd, check=True: calls.append(cmd) or Result(0))
    monkeypatch.setattr(rollback, "_is_block", lambda path: path == "/dev/vda")
    text = rollback.undo_layout(Plan, ["/dev/vda3"], ["/dev/vda"])
    assert text == "cleanup: nothing had been written to /dev/vda"
    assert not any(call[0] == "vgremove" for call in calls if isinstance(call, tuple))

    state = {"vg": True}
    monkeypatch.setattr(rollback, "_vg_exists", lambda vg: state["vg"])
    monkeypatch.setattr(rollback.lvm, "remove_vg", lambda vg: state.update(vg=False) or True)
    monkeypatch.setattr(rollback, "_has_signatures", lambda path: False)
    assert rollback.undo_layout(Plan, ["/dev/vda3"], ["/dev/vda"]) == \
        "cleanup: removed volume group onn"


def test_dry_run_cli_leaves_nothing_in_tmp(tmp_path):
    """A refused run (and its dry-run checks) makes no files in the temp dir."""
    before = set(os.listdir("/tmp"))
    from org_ovirt_node.cli.main import main
    assert main(["install", "--image", str(tmp_path / "none"), "--disk", "/dev/null",
                 "--dry-run"]) == 1
    # other processes share /tmp: only what this process names with its pid counts
    assert {name for name in set(os.listdir("/tmp")) - before
            if f"-{os.getpid()}-" in name} == set()



def test_a_killed_runs_folder_still_mounted_is_named_not_removed(tmp_path, monkeypatch, capsys):
    stale = tmp_path / f"ovirt-node-mnt-{_dead_pid()}-abc"
    (stale / "data").mkdir(parents=True)
    monkeypatch.setattr(safeio, "_has_mount_below", lambda path: path == str(stale))
    monkeypatch.setattr(safeio.tempfile, "gettempdir", lambda: str(tmp_path))
    from org_ovirt_node.cli.main import main
    assert main(["image", "inspect", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert f"ovirt-node: warning: {stale} was left by a killed run" in err
    assert (stale / "data").is_dir()


def test_vg_names_clashing_with_dev_and_tiny_swap_are_refused():
    with pytest.raises(NodeError, match="clashes with /dev/mapper"):
        InstallOptions(disks=["/dev/vda"], vg="mapper").validate()
    with pytest.raises(NodeError, match="at least 16 MiB"):
        InstallOptions(disks=["/dev/vda"], swap_size=512).validate_names()
    InstallOptions(disks=["/dev/vda"], swap_size=0).validate_names()
