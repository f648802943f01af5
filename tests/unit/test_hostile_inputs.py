"""Hostile and careless inputs (issue 9, section 4): FIFOs, devices and folders
given as files are refused at once; memory stays bounded; hashing a huge
sparse file shows progress and stops cleanly on Ctrl-C; YAML inventories are
parsed safely and strictly; non-UTF-8 text is one clear error."""

import os
import subprocess
import sys

import pytest

from org_ovirt_node.cli.main import main
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import checksum
from org_ovirt_node.ks import inventory
from org_ovirt_node.progress import Reporter
from org_ovirt_node.util import safeio
from tests.support.kickstarts import ONE_HOST_INVENTORY


def run_cli(*args, timeout=60):
    """The CLI in a child process: a hang fails the test instead of the run."""
    return subprocess.run([sys.executable, "-m", "org_ovirt_node", *args], capture_output=True,
                          text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)


def assert_one_error(result):
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


# ------------------------------------------------------------ FIFOs, devices, folders

@pytest.mark.parametrize("command", [
    ["ks", "render", "minimal.ks", "--inventory", "{bad}", "-o", "{out}"],
    ["ks", "render", "{bad}", "--inventory", "{hosts}", "-o", "{out}"],
    ["image", "inspect", "{bad}"],
    ["update", "--image", "{bad}", "--dry-run"],
    ["iso", "pxe", "{bad}", "--image", "{hosts}", "-o", "{out}", "--base-url", "http://h/x"],
])
@pytest.mark.parametrize("kind", ["fifo", "chardev", "directory"])
def test_fifos_devices_and_folders_are_refused_at_once(tmp_path, command, kind):
    bad = {"fifo": tmp_path / "fifo", "chardev": "/dev/zero", "directory": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(bad)
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(ONE_HOST_INVENTORY)
    args = [arg.format(bad=bad, hosts=hosts, out=tmp_path / "out") for arg in command]
    result = run_cli(*args)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr


def test_open_input_never_blocks_on_a_fifo(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for call in (lambda: safeio.open_input(str(fifo)), lambda: safeio.read_text(str(fifo)),
                 lambda: checksum.sha256_file(str(fifo))):
        with pytest.raises(NodeError, match="FIFO"):
            call()
    with pytest.raises(NodeError, match="character device"):
        safeio.read_text("/dev/zero")
    with pytest.raises(NodeError, match="directory"):
        safeio.read_text(str(tmp_path))


def test_huge_inputs_are_refused_from_their_size(tmp_path):
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as stream:
        stream.truncate(inventory.INVENTORY_LIMIT + 1)   # sparse: nothing is read
    with pytest.raises(NodeError, match="larger than"):
        inventory.load_inventory(str(huge))
    with pytest.raises(NodeError, match="larger than"):
        safeio.read_bytes(str(huge), limit=1 << 20)


class _Interrupting(Reporter):
    def __init__(self, after):
        super().__init__()
        self.calls, self.after = [], after

    def progress(self, step, done, total):
        self.calls.append((done, total))
        if len(self.calls) >= self.after:
            raise KeyboardInterrupt


def test_hashing_a_sparse_file_shows_progress_and_can_be_interrupted(tmp_path):
    sparse = tmp_path / "sparse.img"
    with open(sparse, "wb") as stream:
        stream.truncate(64 << 20)
    reporter = _Interrupting(after=1000)
    checksum.sha256_file(str(sparse), reporter)
    assert len(reporter.calls) >= 16 and reporter.calls[-1] == (64 << 20, 64 << 20)
    with pytest.raises(KeyboardInterrupt):
        checksum.sha256_file(str(sparse), _Interrupting(after=2))


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    def interrupted(_args):
        raise KeyboardInterrupt
    monkeypatch.setattr("org_ovirt_node.cli.image.run_inspect", interrupted)
    from org_ovirt_node.cli import main as cli_main
    parser = cli_main.build_parser("image")
    monkeypatch.setattr(cli_main, "build_parser", lambda _command: parser)
    for action in parser._subparsers._group_actions[0].choices["image"]._subparsers \
            ._group_actions[0].choices.values():
        action.set_defaults(func=interrupted)
    assert main(["image", "inspect", "x"]) == 130
    assert capsys.readouterr().err == "ovirt-node: interrupted\n"


# ------------------------------------------------------------ YAML inventories

def _yaml_error(text):
    with pytest.raises(Exception) as caught:
        inventory.parse_yaml(text)
    assert caught.type.__name__.endswith("Error")
    return str(getattr(caught.value, "problem", caught.value))


def test_deeply_nested_yaml_is_refused_not_a_crash(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("[" * 200000 + "]" * 200000)
    # a child process: before the fix this killed the interpreter (SIGSEGV)
    result = run_cli("ks", "render", "minimal.ks", "--inventory", str(path), "-o",
                     str(tmp_path / "out"))
    assert "nested more than" in assert_one_error(result)


def test_billion_laughs_is_refused():
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        prev = chr(ord(level) - 1)
        text += f"{level}: &{level} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    text += "hosts: [*h, *h]\n"
    assert "expands to more than" in _yaml_error(text)


def test_duplicate_keys_are_refused_but_merge_keys_work():
    assert "given twice" in _yaml_error("hosts: []\nhosts: []\n")
    assert "given twice" in _yaml_error("hosts:\n  - {mac: a, mac: b}\n")
    doc = inventory.parse_yaml("base: &b {a: 1, c: 3}\nx:\n  <<: *b\n  a: 2\n")
    assert doc["x"] == {"a": 2, "c": 3}
    assert "given twice" in _yaml_error("x:\n  <<: {a: 1, a: 2}\n")
    doc = inventory.parse_yaml("p: &p {a: 1}\nq: &q {a: 2, b: 2}\nx: {<<: [*p, *q], c: 3}\n")
    assert doc["x"] == {"a": 1, "b": 2, "c": 3} and list(doc["x"]) == ["a", "b", "c"]


@pytest.mark.parametrize("text, problem", [
    ("a: &r [*r]\n", "recursive"),
    ("a: &r {b: *r}\n", "recursive"),
    ("a: &r {<<: *r}\n", "recursive"),
    ("a: !!set {x, y}\n", "could not determine a constructor"),
    ("a: !!omap [b: 1]\n", "could not determine a constructor"),
    ("a: !!map [b]\n", "could not determine a constructor"),
    ("a: !!python/object/apply:os.system [true]\n", "could not determine a constructor"),
    ("a: !!python/name:os.system x\n", "could not determine a constructor"),
    ("a: &x 1\nb: &x 2\n", "second occurrence"),
    ("a: *nowhere\n", "undefined alias"),
    ("a: 1\n---\nb: 2\n", "another document"),
    ("{[a]: 1}\n", "plain value"),
])
def test_odd_yaml_is_one_error(text, problem):
    assert problem in _yaml_error(text)


def test_yaml_scalars_keep_the_safe_loaders_types():
    doc = inventory.parse_yaml("a: !!str 12\nb: 0x1f\nc: yes\nd: ~\ne: 1.5\n"
                               "f: 52:54:00:00:00:01\ng: ''\nh: &s v\ni: *s\n")
    assert doc == {"a": "12", "b": 31, "c": True, "d": None, "e": 1.5,
                   "f": "52:54:00:00:00:01", "g": "", "h": "v", "i": "v"}
    assert inventory.parse_yaml("") is None and inventory.parse_yaml("- 1\n") == [1]


@pytest.mark.parametrize("node, field", [
    ("{noverifyssl: 'no'}", "noverifyssl"),
    ("{noverifyssl: 'false'}", "noverifyssl"),
    ("{noverifyssl: 1}", "noverifyssl"),
    ("{keep: '2'}", "keep"),
    ("{keep: true}", "keep"),
    ("{vg: [onn]}", "vg"),
    ("{volume: [/var]}", "volume"),
])
def test_section_options_have_strict_types(node, field):
    text = ONE_HOST_INVENTORY.replace("mac: 52:54:00:00:00:01", f"mac: 52:54:00:00:00:01\n    node: {node}")
    with pytest.raises(NodeError, match=f"node.{field}"):
        inventory.parse_inventory(inventory.parse_yaml(text))
    ok = inventory.parse_inventory(inventory.parse_yaml(
        ONE_HOST_INVENTORY.replace("disks: [sda]", "disks: [sda]\n  node: {noverifyssl: false}")))
    assert ok[0].node.noverifyssl is False


# ------------------------------------------------------------ encoding

def test_non_utf8_inventory_template_and_kickstart_are_one_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(ONE_HOST_INVENTORY.encode() + b"# caf\xe9\n")
    with pytest.raises(NodeError, match=r"not UTF-8") as caught:
        inventory.load_inventory(str(bad))
    assert caught.value.where.endswith(":8")
    template = tmp_path / "t.ks"
    template.write_bytes(b"text\n{{ node_section }}\n\xff\n")
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(ONE_HOST_INVENTORY)
    result = run_cli("ks", "render", str(template), "--inventory", str(hosts), "-o",
                     str(tmp_path / "out"))
    assert "not UTF-8" in assert_one_error(result)


def test_non_utf8_boot_menu_is_one_error(tmp_path):
    from org_ovirt_node.iso import remaster
    from org_ovirt_node.iso.bootmenus import MenuEdit

    class Info:
        files = {"isolinux/isolinux.cfg"}
    menu = tmp_path / "isolinux" / "isolinux.cfg"
    menu.parent.mkdir()
    menu.write_bytes(b"label linux\n  menu label Caf\xe9\n  append x\n")
    with pytest.raises(NodeError, match="not UTF-8") as caught:
        remaster.rewrite_menus(str(tmp_path), Info, MenuEdit(), [])
    assert caught.value.where.endswith("isolinux.cfg:2")


def test_non_utf8_file_names_are_handled(tmp_path):
    out = os.fsencode(tmp_path) + b"/out-\xff"
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(ONE_HOST_INVENTORY)
    result = subprocess.run([sys.executable, "-m", "org_ovirt_node", "ks", "render",
                             "minimal.ks", "--inventory", str(hosts), "-o", out],
                            capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    assert os.listdir(out) == [b"node01.example.com.ks"]
    assert safeio.display(out.decode("utf-8", "surrogateescape")).endswith("out-\\xff")


def test_large_file_sha256_in_a_child_is_the_same_sum(tmp_path):
    import hashlib
    big = tmp_path / "big.img"
    big.write_bytes(os.urandom(checksum.SMALL_FILE + 12345))
    reporter = _Interrupting(after=10 ** 6)
    assert checksum.sha256_file(str(big), reporter) == hashlib.sha256(big.read_bytes()).hexdigest()
    assert reporter.calls[-1] == (checksum.SMALL_FILE + 12345,) * 2
