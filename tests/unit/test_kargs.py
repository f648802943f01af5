"""Kernel arguments: the grammar, the update's merge, and `ovirt-node kargs` on a fake /boot.

The merge takes the old image's arguments, the new image's and the running
layer's effective ones (entry options minus the node's); the local changes
are the difference between the last two (lifecycle/kargs.py).
"""

import contextlib
import json

import pytest
from hypothesis import given, settings, strategies as st

from org_ovirt_node.cli import lifecycle as cli_lifecycle
from org_ovirt_node.cli.main import main
from org_ovirt_node.errors import NodeError
from org_ovirt_node.install import bootconfig
from org_ovirt_node.lifecycle import kargs, lock
from org_ovirt_node.lifecycle.node import Node
from org_ovirt_node.lifecycle.state import NodeState, load_state, save_state
from org_ovirt_node.util.bls import BlsEntry, parse_bls

A = "node-1.0-1+1"


# --- grammar
@pytest.mark.parametrize("text, args", [
    ("quiet  splash\n", ["quiet", "splash"]),
    ('acpi_osi="!Windows 2012" quiet', ['acpi_osi="!Windows 2012"', "quiet"]),
    ('"K=a b" x', ['"K=a b"', "x"]),
    ("", []),
])
def test_split_args_as_the_kernel_does(text, args):
    assert kargs.split_args(text) == args


def test_an_unbalanced_quote_is_one_error():
    with pytest.raises(NodeError, match="unbalanced double quote"):
        kargs.split_args('K="a b')
    # a hand-edited entry is read as the kernel reads it: the quote runs to the end
    assert kargs.effective_args('root=x K="a b', []) == ['K="a b']


@pytest.mark.parametrize("arg", ["quiet", "console=ttyS0,115200n8", 'K="a b"', "K=", "a.b-c=1:2"])
def test_well_formed_arguments(arg):
    assert kargs.check_arg(arg) == arg


@pytest.mark.parametrize("arg, message", [
    ("K=a b", 'must be quoted: K="..."'),
    ("a b", "must be quoted"),
    ('K="a', "is not K, K=VALUE"),
    ('K=a"b c"', "is not K, K=VALUE"),
    ("K=$x", "GRUB would interpret"),
    ("K=a;reboot", "GRUB would interpret"),
    ("K=a\nb", "GRUB would interpret"),
    ("", "is not K"),
    ("=v", "is not K"),
])
def test_malformed_arguments_are_refused(arg, message):
    with pytest.raises(NodeError, match=message.replace("$", r"\$")):
        kargs.check_arg(arg)


def test_image_args_drop_what_the_node_sets(tmp_path):
    (tmp_path / "etc/kernel").mkdir(parents=True)
    (tmp_path / "etc/kernel/cmdline").write_text('root=/dev/sda1 quiet K="a b"\n')
    assert kargs.read_image_args(str(tmp_path)) == ["quiet", 'K="a b"']
    assert bootconfig.image_kernel_args(str(tmp_path)) == ["quiet", 'K="a b"']
    assert kargs.read_image_args(str(tmp_path / "none")) == []


def test_effective_args_leave_out_the_node_managed_ones():
    options = ("root=/dev/onn/L rd.lvm.lv=onn/L rootflags=discard img.bootid=L quiet "
               "console=ttyS0 panic=10")
    assert kargs.effective_args(options, ["quiet"]) == ["quiet", "console=ttyS0"]
    # the image's own panic= is the image's, not the node's
    assert kargs.effective_args(options, ["panic=10"]) == ["quiet", "console=ttyS0", "panic=10"]


# --- the update's merge
OLD = ["quiet", "console=tty0", "console=ttyS0,115200", "crashkernel=auto"]


@pytest.mark.parametrize("effective, new_image, expected", [
    # no local change: the new image's arguments, whatever they are
    (OLD, OLD, OLD),
    (OLD, ["quiet", "console=ttyS0,115200", "mitigations=auto"],
     ["quiet", "console=ttyS0,115200", "mitigations=auto"]),
    # a local addition survives, after the image's arguments
    (["nomodeset"] + OLD, OLD + ["new=1"], OLD + ["new=1", "nomodeset"]),
    # a local removal survives while the new image keeps the argument
    (["console=tty0", "console=ttyS0,115200", "crashkernel=auto"], OLD + ["new=1"],
     ["console=tty0", "console=ttyS0,115200", "crashkernel=auto", "new=1"]),
    # an argument the new image dropped goes...
    (OLD, ["quiet"], ["quiet"]),
    # ...unless the admin had added it
    (OLD + ["intel_iommu=on"], ["quiet", "intel_iommu=on"], ["quiet", "intel_iommu=on"]),
    (["intel_iommu=on"] + OLD, ["quiet"], ["quiet", "intel_iommu=on"]),
    # an addition the new image now carries itself is not doubled
    (OLD + ["intel_iommu=on"], OLD + ["intel_iommu=on"], OLD + ["intel_iommu=on"]),
    # a replaced value stays the admin's, even when the image changes its own
    (["quiet", "console=tty0", "console=ttyS0,115200", "crashkernel=512M"],
     ["quiet", "console=tty0", "console=ttyS0,115200", "crashkernel=1G-4G:192M"],
     ["quiet", "console=tty0", "console=ttyS0,115200", "crashkernel=512M"]),
    # one of two console= removed and another added: the surviving image value stays
    (["quiet", "console=ttyS0,115200", "crashkernel=auto", "console=ttyS1"],
     OLD, ["quiet", "console=ttyS0,115200", "crashkernel=auto", "console=ttyS1"]),
    # a plain removal of K=V: the image's new value of K arrives (as bootc)
    (["quiet", "console=tty0", "console=ttyS0,115200"],
     ["quiet", "console=tty0", "console=ttyS0,115200", "crashkernel=1G"],
     ["quiet", "console=tty0", "console=ttyS0,115200", "crashkernel=1G"]),
    # everything local, new image without arguments
    (["a", "b=1"], [], ["a", "b=1"]),
    # quoted values are one argument
    (OLD + ['acpi_osi="!Windows 2012"'], OLD, OLD + ['acpi_osi="!Windows 2012"']),
    # order of the local additions is kept
    (["z=1"] + OLD + ["a=1", "m"], OLD, OLD + ["z=1", "a=1", "m"]),
])
def test_merge(effective, new_image, expected):
    assert kargs.merge(OLD, new_image, effective) == expected


def test_local_changes_in_order():
    assert kargs.local_changes(OLD, ["b", "quiet", "crashkernel=auto", "a"]) == (
        ["b", "a"], ["console=tty0", "console=ttyS0,115200"])


def test_for_update_reads_both_images_and_leaves_the_node_args_out(tmp_path):
    for name, text in (("old", "quiet splash"), ("new", "quiet mitigations=auto")):
        (tmp_path / name / "etc/kernel").mkdir(parents=True)
        (tmp_path / name / "etc/kernel/cmdline").write_text(text)
    options = bootconfig.layer_options("onn", A, ["quiet", "console=ttyS0"])
    image, args = kargs.for_update(str(tmp_path / "old"), str(tmp_path / "new"), options)
    assert image == ["quiet", "mitigations=auto"]
    assert args == ["quiet", "mitigations=auto", "console=ttyS0"]    # splash removed
    assert bootconfig.layer_options("onn", "node-2.0-1+1", args).split()[4:] == [
        "quiet", "mitigations=auto", "console=ttyS0", "panic=10"]


# --- edits
def test_edits_in_rpm_ostree_order():
    args = ["quiet", "console=tty0", "console=ttyS0", "crashkernel=auto", "x=1", "x=2"]
    assert kargs.edit(args, replace=["crashkernel=512M", "x=1=3"], delete=["console"],
                      append=["nomodeset", "quiet"]) == [
        "quiet", "crashkernel=512M", "x=3", "x=2", "nomodeset"]
    assert kargs.edit(args, delete=["x=2"]) == args[:-1]


@pytest.mark.parametrize("changes, message", [
    ({"replace": ["console=ttyS1"]}, "console has 2 values"),
    ({"replace": ["nope=1"]}, "no argument nope to replace"),
    ({"replace": ["quiet"]}, "give K=VALUE"),
    ({"delete": ["nope"]}, "no such argument"),
    ({"delete": ["console=ttyS9"]}, "no such argument"),
    ({"delete": ["panic"]}, "--replace panic=SECONDS"),
    ({"append": ["root=/dev/sda1"]}, "root= is set by the node"),
    ({"delete": ["img.bootid"]}, "img.bootid= is set by the node"),
    ({"replace": ["rd.lvm.lv=x/y"]}, "rd.lvm.lv= is set by the node"),
    ({"append": ["rootflags=ro"]}, "rootflags= is set by the node"),
    ({"append": ["K=a b"]}, "must be quoted"),
])
def test_edits_refused(changes, message):
    with pytest.raises(NodeError, match=message):
        kargs.edit(["quiet", "console=tty0", "console=ttyS0"], **changes)


# --- the command on a fake /boot
def make_boot(tmp_path, image=("quiet",), kernels=("6.1", "6.2")):
    boot = tmp_path / "boot"
    (boot / "loader/entries").mkdir(parents=True)
    (boot / "grub2").mkdir()
    (boot / "grub2/grubenv").write_bytes(b"")
    options = bootconfig.layer_options("onn", A, list(image))
    for kver in kernels:
        entry = BlsEntry(entry_id=f"{A}-{kver}", title=f"node ({kver})", version=kver,
                         linux=f"/{A}/vmlinuz-{kver}", initrd=f"/{A}/initrd.img-{kver}",
                         options=options)
        (boot / "loader/entries" / entry.filename).write_text(entry.render())
    state = NodeState()
    state.remember_kargs(A, list(image))
    save_state(str(boot), state)
    return boot


@pytest.fixture
def fake_node(tmp_path, monkeypatch):
    boot = make_boot(tmp_path)

    @contextlib.contextmanager
    def opened(vg=None):
        yield Node("onn", str(boot), A)
    monkeypatch.setattr(cli_lifecycle, "open_node", opened)
    monkeypatch.setattr(cli_lifecycle, "private_mounts", lambda: None)
    real = lock.acquire
    monkeypatch.setattr(lock, "acquire", lambda command: real(command, str(tmp_path)))
    return boot


def entry_options(boot):
    return {path.name: parse_bls(path.read_text())["options"]
            for path in sorted((boot / "loader/entries").iterdir())}


def test_kargs_shows_the_image_and_local_arguments(fake_node, capsys):
    assert main(["kargs", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["layer"] == A and shown["image"] == ["quiet"]
    assert shown["local"] == {"added": [], "removed": []} and shown["effective"] == ["quiet"]
    assert shown["changed"] is False


def test_kargs_rewrites_every_entry_of_the_layer(fake_node, capsys):
    before = (fake_node / f"loader/entries/{A}-6.1.conf").read_text()
    assert main(["kargs", "--append", "console=ttyS0", "--append", 'K="a b"',
                 "--delete", "quiet", "--yes", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["changed"] is True
    assert shown["local"] == {"added": ["console=ttyS0", 'K="a b"'], "removed": ["quiet"]}
    expected = (f"root=/dev/onn/{A} rd.lvm.lv=onn/{A} rootflags=discard img.bootid={A} "
                'console=ttyS0 K="a b" panic=10')
    assert set(entry_options(fake_node).values()) == {expected}
    after = (fake_node / f"loader/entries/{A}-6.1.conf").read_text()
    assert [line for line in after.splitlines() if not line.startswith("options")] == \
        [line for line in before.splitlines() if not line.startswith("options")]
    # the same change again changes nothing
    assert main(["kargs", "--append", "console=ttyS0", "--yes"]) == 0
    assert "(no change)" in capsys.readouterr().out
    assert load_state(str(fake_node)).image_kargs == {A: ["quiet"]}


def test_kargs_refusals_are_one_line_and_write_nothing(fake_node, capsys):
    before = entry_options(fake_node)
    for argv in (["kargs", "--append", "root=/dev/sda", "--yes"],
                 ["kargs", "--delete", "nothere", "--yes"],
                 ["kargs", "--append", "x=1", "--layer", "other", "--yes"],
                 ["kargs", "--append", "x=1"]):         # no terminal, no --yes
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("ovirt-node: error: ") and err.count("\n") == 1, err
    assert entry_options(fake_node) == before


def test_status_summary_of_a_layer():
    options = bootconfig.layer_options("onn", A, ["quiet", "x=1"])
    assert kargs.summary(options, ["quiet", "splash"]) == {
        "image": ["quiet", "splash"], "local": {"added": ["x=1"], "removed": ["splash"]},
        "effective": ["quiet", "x=1"]}
    assert kargs.summary(options, None) == {"image": None, "local": None,
                                            "effective": ["quiet", "x=1"]}


def test_state_keeps_image_kargs_until_the_layer_goes(tmp_path):
    state = NodeState()
    state.remember_kargs(A, ["quiet"])
    save_state(str(tmp_path), state)
    loaded = load_state(str(tmp_path))
    assert loaded.image_kargs == {A: ["quiet"]}
    assert loaded.forget_missing(layers={}, bases=[]) and loaded.image_kargs == {}
    path = tmp_path / "ovirt-node/state.json"
    data = json.loads(path.read_text())
    data["image_kargs"] = {"a": "quiet", "b": [1], "c": ["x"]}
    path.write_text(json.dumps(data))
    assert load_state(str(tmp_path)).image_kargs == {"c": ["x"]}
    del data["image_kargs"]                             # a state.json from before
    path.write_text(json.dumps(data))
    assert load_state(str(tmp_path)).image_kargs == {}


# --- hostile input: only one-line NodeErrors, and what is accepted stays one argument

@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=3), st.lists(st.text(max_size=20), max_size=3),
       st.lists(st.text(max_size=20), max_size=3))
def test_edits_of_any_text_are_refused_in_one_line_or_stay_one_argument_each(append, delete,
                                                                             replace):
    try:
        result = kargs.edit(["quiet", 'K="a b"', "console=ttyS0"], append, delete, replace)
    except NodeError as error:
        assert str(error)           # main() prints it as one line
        return
    assert kargs.split_args(" ".join(result)) == result
    assert not any(kargs.key(arg) in kargs.MANAGED_KEYS for arg in result)
