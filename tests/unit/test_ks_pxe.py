"""`ovirt-node ks pxe`: PXELINUX, GRUB2 and iPXE configs per host, parsed
back; and one PXELINUX entry booted in qemu to show the kernel receives its
APPEND line intact (integration: real kernel, real qemu, ~5-15 s)."""

import os
import shlex

import pytest

from org_ovirt_node.cli.main import main
from org_ovirt_node.errors import NodeError
from org_ovirt_node.ks.inventory import load_inventory
from org_ovirt_node.ks.pxe import check_extra_args, write_pxe
from tests.support import bootprobe
from tests.support.kickstarts import INVENTORY, with_lines

KERNEL = "http://boot.example.com/node/vmlinuz"
INITRD = "http://boot.example.com/node/initrd.img"
KS = "http://boot.example.com/ks/"
STAGE2 = "http://boot.example.com/node/"


def _pxelinux(path):
    entries = {}
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            words = line.strip().split(None, 1)
            if words and words[0] in ("DEFAULT", "KERNEL", "INITRD", "APPEND"):
                entries[words[0]] = words[1]
    return entries


def _grub(path):
    with open(path, encoding="utf-8") as stream:
        lines = {line.split()[0]: shlex.split(line) for line in stream
                 if line.strip().startswith(("linux ", "initrd "))}
    return lines["linux"][1], lines["initrd"][1], lines["linux"][2:]


def _ipxe(path):
    with open(path, encoding="utf-8") as stream:
        lines = [line.split() for line in stream if line.strip()]
    assert lines[0] == ["#!ipxe"] and lines[-1] == ["boot"]
    initrd = next(words for words in lines if words[0] == "initrd")
    kernel = next(words for words in lines if words[0] == "kernel")
    return kernel[1], initrd[-1], kernel[2:]


@pytest.fixture(name="pxe_dir")
def fixture_pxe_dir(tmp_path):
    hosts = load_inventory(with_lines(tmp_path / "hosts.yaml", INVENTORY))
    out = tmp_path / "tftp"
    write_pxe(hosts, str(out), KERNEL, INITRD, KS, stage2_url=STAGE2, extra=["console=ttyS0"])
    return out


def test_layout(pxe_dir):
    files = sorted(os.path.relpath(os.path.join(d, f), pxe_dir)
                   for d, _, names in os.walk(pxe_dir) for f in names)
    assert files == ["boot.ipxe",
                     *[f"grub.cfg-01-52-54-00-00-00-0{i}" for i in (1, 2, 3)],
                     *[f"ipxe/52-54-00-00-00-0{i}.ipxe" for i in (1, 2, 3)],
                     *[f"pxelinux.cfg/01-52-54-00-00-00-0{i}" for i in (1, 2, 3)]]
    assert "ipxe/${mac:hexhyp}.ipxe" in (pxe_dir / "boot.ipxe").read_text()


@pytest.mark.parametrize("mac,expected", [
    ("01", ["ip=dhcp", "nameserver=192.0.2.53"]),
    ("02", ["ip=192.0.2.12::192.0.2.1:255.255.255.0:node02.example.com:eno1:none"]),
    ("03", ["bond=bond0:eno1,eno2:mode=802.3ad,miimon=100", "vlan=bond0.100:bond0",
            "ip=198.51.100.13::198.51.100.1:255.255.255.0:node03.example.com:bond0.100:none"]),
])
def test_three_formats_pass_the_same_arguments(pxe_dir, mac, expected):
    host = {"01": "node01", "02": "node02", "03": "node03"}[mac]
    pxelinux = _pxelinux(pxe_dir / f"pxelinux.cfg/01-52-54-00-00-00-{mac}")
    args = pxelinux["APPEND"].split()
    assert (pxelinux["DEFAULT"], pxelinux["KERNEL"], pxelinux["INITRD"]) == ("install", KERNEL, INITRD)
    assert args[:3] == [f"inst.ks={KS}{host}.example.com.ks", f"inst.stage2={STAGE2}",
                        f"BOOTIF=01-52-54-00-00-00-{mac}"]
    assert args[-1] == "console=ttyS0"
    for arg in expected:
        assert arg in args
    kernel, initrd, grub_args = _grub(pxe_dir / f"grub.cfg-01-52-54-00-00-00-{mac}")
    assert (kernel, initrd) == ("(http,boot.example.com)/node/vmlinuz",
                                "(http,boot.example.com)/node/initrd.img")
    assert grub_args == args
    kernel, initrd, ipxe_args = _ipxe(pxe_dir / f"ipxe/52-54-00-00-00-{mac}.ipxe")
    assert (kernel, initrd) == (KERNEL, INITRD)
    assert ipxe_args == ["initrd=initrd.img", *args]


def test_argument_errors(tmp_path):
    hosts = load_inventory(with_lines(tmp_path / "hosts.yaml", INVENTORY))
    with pytest.raises(NodeError, match="exactly one of --stage2-url and --repo-url"):
        write_pxe(hosts, str(tmp_path), KERNEL, INITRD, KS)
    with pytest.raises(NodeError, match="would read differently"):
        check_extra_args("console=ttyS0 'a b'")
    with pytest.raises(NodeError, match="No closing quotation"):
        check_extra_args("console='ttyS0")


def test_cli_pxe(tmp_path, capsys):
    inventory = with_lines(tmp_path / "hosts.yaml", INVENTORY)
    argv = ["ks", "pxe", "--inventory", inventory, "--kernel-url", KERNEL, "--initrd-url", INITRD,
            "--ks-url", KS, "--repo-url", "http://repo.example.com/os/", "-o", str(tmp_path / "t")]
    assert main(argv) == 0
    assert "wrote 10 boot file(s) for 3 host(s)" in capsys.readouterr().out
    assert "inst.repo=http://repo.example.com/os/" in \
        _pxelinux(tmp_path / "t/pxelinux.cfg/01-52-54-00-00-00-01")["APPEND"]
    assert main(argv + ["--append", "a='b c'"]) == 1
    assert capsys.readouterr().err.startswith("ovirt-node: error: --append:")


@pytest.mark.integration
def test_pxelinux_append_line_reaches_the_kernel(pxe_dir, tmp_path):
    """Integration: boot the real Debian kernel in qemu (TCG, no network) with
    the rendered APPEND line; the probe initramfs prints /proc/cmdline."""
    missing = bootprobe.missing_tools()
    if missing:
        pytest.skip(missing)
    append = _pxelinux(pxe_dir / "pxelinux.cfg/01-52-54-00-00-00-03")["APPEND"]
    initrd = bootprobe.build_probe_initramfs(tmp_path / "probe.cpio")
    seen = bootprobe.boot_cmdline(bootprobe.debian_kernel(), initrd, append)
    assert seen.split()[:len(append.split())] == append.split()
