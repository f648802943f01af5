"""Hostile and careless outputs (issue 9, section 4): only a regular file or a
new name is ever written; symlinks planted in an output folder are never
followed; devices, FIFOs, /proc and /sys are refused; folders that are
missing, files or too long a name give one clear error."""

import os

import pytest

from org_ovirt_node.cli.main import main
from org_ovirt_node.errors import NodeError
from org_ovirt_node.util import safeio
from tests.support.kickstarts import ONE_HOST_INVENTORY


PXE_ARGS = ["--kernel-url", "http://pxe.example.com/vmlinuz",
            "--initrd-url", "http://pxe.example.com/initrd.img",
            "--ks-url", "http://pxe.example.com/ks", "--stage2-url", "http://pxe.example.com/"]


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "hosts.yaml"
    path.write_text(ONE_HOST_INVENTORY)
    return str(path)


@pytest.fixture
def victim(tmp_path):
    """A file outside every output folder that must never change."""
    path = tmp_path / "victim"
    path.write_text("precious\n")
    return path


def one_error_line(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ovirt-node: error: "), err
    assert "Traceback" not in err
    return err


def test_render_does_not_follow_a_symlink_planted_in_the_output_folder(
        tmp_path, inventory, victim, capsys):
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / "node01.example.com.ks")
    assert main(["ks", "render", "minimal.ks", "--inventory", inventory, "-o", str(out)]) == 1
    assert "symbolic link" in one_error_line(capsys)
    assert victim.read_text() == "precious\n"


def test_pxe_does_not_follow_a_planted_symlinked_folder(tmp_path, inventory, capsys):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "pxelinux.cfg")
    assert main(["ks", "pxe", "--inventory", inventory, "-o", str(out), *PXE_ARGS]) == 1
    assert "symbolic link" in one_error_line(capsys)
    assert os.listdir(elsewhere) == []


@pytest.mark.parametrize("target", ["/dev/null", "/proc/self/attr/current", "/sys/kernel/x"])
def test_devices_proc_and_sys_are_never_written(target):
    with pytest.raises(NodeError):
        safeio.check_output_file(target, force=True)
    with pytest.raises(NodeError):
        safeio.open_output(target)


def test_a_fifo_output_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NodeError, match="FIFO"):
        safeio.check_output_file(str(fifo), force=True)
    with pytest.raises(NodeError, match="FIFO"):
        safeio.open_output(str(fifo))   # O_NONBLOCK: ENXIO at once, never a hang


def test_image_build_refuses_an_existing_output_unless_force(tmp_path, capsys):
    root = tmp_path / "root"
    root.mkdir()
    out = tmp_path / "node.squashfs"
    out.write_text("old image")
    assert main(["image", "build", str(root), "-o", str(out), "--nvr", "node-1.0-1"]) == 1
    assert "exists (use --force" in one_error_line(capsys)
    assert out.read_text() == "old image"
    # with --force the output check passes and the next check (no kernel) speaks
    assert main(["image", "build", str(root), "-o", str(out), "--nvr", "node-1.0-1",
                 "--force"]) == 1
    assert "exists" not in one_error_line(capsys)


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_image_build_never_replaces_anything_but_a_regular_file(tmp_path, victim, kind, capsys):
    root = tmp_path / "root"
    root.mkdir()
    out = tmp_path / "node.squashfs"
    {"symlink": lambda: os.symlink(victim, out), "fifo": lambda: os.mkfifo(out),
     "directory": out.mkdir}[kind]()
    assert main(["image", "build", str(root), "-o", str(out), "--nvr", "node-1.0-1",
                 "--force"]) == 1
    one_error_line(capsys)
    assert victim.read_text() == "precious\n"


def test_output_folders_missing_files_or_too_long_names(tmp_path, inventory, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for out, words in ((str(a_file), "not a directory"),
                       (str(a_file / "sub"), "is a file"),
                       (str(tmp_path / ("n" * 300)), "at most 255"),
                       ("/proc/out", "/proc")):
        assert main(["ks", "render", "minimal.ks", "--inventory", inventory, "-o", out]) == 1
        assert words in one_error_line(capsys)
    with pytest.raises(NodeError, match="does not exist"):
        safeio.check_output_file(str(tmp_path / "missing" / "x.iso"))
    with pytest.raises(NodeError, match="at most 255"):
        safeio.check_output_file(str(tmp_path / ("x" * 256)))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_read_only_output_folder_is_one_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    with pytest.raises(NodeError, match="not writable"):
        safeio.check_output_dir(str(folder))


def test_iso_remaster_refuses_symlink_and_device_outputs(tmp_path, victim, capsys):
    iso = tmp_path / "in.iso"
    iso.write_bytes(b"\0" * 4096)
    link = tmp_path / "out.iso"
    os.symlink(victim, link)
    for output in (str(link), "/dev/null"):
        code = main(["iso", "remaster", str(iso), output, "--image", str(iso), "--force"])
        assert code == 1
        err = one_error_line(capsys)
        assert "symbolic link" in err or "/dev" in err or "xorriso" in err
    assert victim.read_text() == "precious\n"
