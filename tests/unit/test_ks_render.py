"""Templates and `ovirt-node ks render`: every template renders to a
kickstart the validator accepts; inventory errors name the host and field."""

import os

import pytest

from org_ovirt_node.cli.main import main
from org_ovirt_node.errors import NodeError
from org_ovirt_node.ks.inventory import load_inventory, parse_inventory, parse_yaml
from org_ovirt_node.ks.render import TEMPLATES, render_inventory, render_template, template_path
from org_ovirt_node.ks.report import ERROR
from org_ovirt_node.ks.validate import validate_file, validate_files
from tests.support.kickstarts import INVENTORY, with_lines


@pytest.fixture(name="hosts")
def fixture_hosts(tmp_path):
    return load_inventory(with_lines(tmp_path / "hosts.yaml", INVENTORY))


@pytest.mark.parametrize("template", ["pxe-unattended.ks", "minimal.ks"])
def test_host_templates_validate_cleanly(tmp_path, hosts, template):
    paths = render_inventory(template, hosts, tmp_path / "out")
    assert sorted(os.path.basename(p) for p in paths) == [
        "node01.example.com.ks", "node02.example.com.ks", "node03.example.com.ks"]
    report = validate_files(paths)
    assert report.findings == [], [str(f) for f in report.findings]


def test_pxe_template_carries_the_inventory(tmp_path, hosts):
    text = render_template("pxe-unattended.ks", {"host": hosts[2], "node_section": hosts[2].node})
    assert "volgroup vg_node pv.1 pv.2\n" in text
    assert "--thin --poolname=thin" in text
    assert "--bondslaves=eno1,eno2 --bondopts=mode=802.3ad,miimon=100 --vlanid=100" in text
    assert "rootpw --iscrypted '$6$salt$" in text
    assert "%addon org_ovirt_node" in text and "--volume=/srv:20GiB" in text
    assert "--volumes=minimal" in text


def test_interactive_defaults_for_the_iso(tmp_path):
    """The remaster tool's call: the image on the ISO by volume label."""
    text = render_template("interactive-defaults.ks",
                           {"image_url": "hd:LABEL=OVIRT-NODE-4.5:/ovirt-node.squashfs"})
    assert "%addon org_ovirt_node --image=hd:LABEL=OVIRT-NODE-4.5:/ovirt-node.squashfs" in text
    assert "liveimg --url=file:///run/install/repo/ovirt-node.squashfs\n" in text
    report = validate_file(with_lines(tmp_path / "defaults.ks", text))
    assert not report.errors
    assert [f.message.split(":")[0] for f in report.warnings] == ["no partitioning"]


def test_render_template_errors(tmp_path):
    with pytest.raises(NodeError, match="no template 'nope.ks'"):
        render_template("nope.ks", {})
    with pytest.raises(NodeError, match="not an image URL"):
        render_template("interactive-defaults.ks", {"image_url": "ftp://x/y.img"})
    broken = with_lines(tmp_path / "broken.ks.j2", "text\n\n{{ host.hostname }}\n")
    with pytest.raises(NodeError) as caught:
        render_template(broken, {"image_url": "file:///x.img"})
    assert str(caught.value).startswith(f"{broken}:3: template error")
    syntax = with_lines(tmp_path / "syntax.ks.j2", "text\n{% if %}\n")
    with pytest.raises(NodeError, match=f"^{syntax}:2: "):
        render_template(syntax, {"image_url": "file:///x.img"})


def test_every_template_is_shipped():
    assert sorted(template_path(name).name for name in TEMPLATES) == [
        "interactive-defaults.ks", "minimal.ks", "pxe-unattended.ks"]


def _inventory(**host_changes):
    document = parse_yaml(INVENTORY)
    host = document["hosts"][1]
    for dotted, value in host_changes.items():
        target = host
        *parents, leaf = dotted.split("__")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return document


@pytest.mark.parametrize("changes,field,fragment", [
    ({"mac": "52:54:00:zz:00:02"}, "mac", "not a MAC"),
    ({"mac": "52:54:00:00:00:01"}, "mac", "already used by host node01"),
    ({"hostname": "node01.example.com"}, "hostname", "already used"),
    ({"hostname": "-bad-.example.com"}, "hostname", "not a valid host name"),
    ({"network__ip": "192.0.2.300/24"}, "network.ip", "IPv4 address with a prefix"),
    ({"network__ip": "192.0.2.12"}, "network.ip", "with a prefix"),
    ({"network__gateway": "10.0.0.1"}, "network.gateway", "not an address in 192.0.2.0/24"),
    ({"network__vlan": 5000}, "network.vlan", "VLAN id"),
    ({"network__bond": {"slaves": []}}, "network.bond.slaves", "at least one slave"),
    ({"network__bond": {"slave": ["eno1"]}}, "network.bond.slave", "unknown field"),
    ({"network__device": ""}, "network.device", "required with a static ip"),
    ({"network__nameservers": ["dns.example.com"]}, "network.nameservers", "not an IP"),
    ({"disks": []}, "disks", "is required"),
    ({"disks": ["sda,sdb"]}, "disks", "without spaces or commas"),
    ({"root_ssh_key": "not a key"}, "root_ssh_key", "not valid"),
    ({"root_password_hash": "plaintext"}, "root_password_hash", "not valid"),
    ({"image_url": "ftp://x/y.img"}, "image_url", "not an image URL"),
    ({"checksum": "sha256:12"}, "checksum", "64 hex digits"),
    ({"node__volume": {"/usr": "1GiB"}}, "node", "inside /usr"),
    ({"node__vgname": "x"}, "node.vgname", "unknown field"),
    ({"colour": "blue"}, "colour", "unknown field"),
])
def test_inventory_errors_name_host_and_field(changes, field, fragment):
    with pytest.raises(NodeError) as caught:
        parse_inventory(_inventory(**changes), "hosts.yaml")
    message = str(caught.value)
    hostname = changes.get("hostname", "node02.example.com")
    assert message.startswith(f"hosts.yaml: host {hostname} (#2): field {field}: "), message
    assert fragment in message


def test_inventory_document_errors(tmp_path):
    with pytest.raises(NodeError, match="hosts.yaml:3: not valid YAML"):
        load_inventory(with_lines(tmp_path / "hosts.yaml", "hosts:\n  - [unclosed\n"))
    with pytest.raises(NodeError, match="'hosts' list"):
        parse_inventory({"host": []}, "hosts.yaml")
    with pytest.raises(NodeError, match="host #1: must be a mapping"):
        parse_inventory({"hosts": ["node01"]}, "hosts.yaml")


def test_unquoted_mac_stays_a_mac(tmp_path):
    """YAML 1.1 would read 52:54:00:00:00:01 as a base-60 number."""
    hosts = load_inventory(with_lines(tmp_path / "hosts.yaml", INVENTORY))
    assert hosts[0].mac == "52:54:00:00:00:01"


def test_cli_render(tmp_path, capsys):
    inventory = with_lines(tmp_path / "hosts.yaml", INVENTORY)
    assert main(["ks", "render", "minimal.ks", "--inventory", inventory,
                 "-o", str(tmp_path / "ks")]) == 0
    assert "wrote 3 kickstart(s)" in capsys.readouterr().out
    assert len(os.listdir(tmp_path / "ks")) == 3
    assert main(["ks", "render", "minimal.ks", "--inventory", inventory, "-o", "/proc/no"]) == 1
    assert capsys.readouterr().err == "ovirt-node: error: /proc/no: refusing to write " \
        "under /proc\n"
    bad = with_lines(tmp_path / "bad.yaml", INVENTORY.replace("52:54:00:00:00:02", "nomac"))
    assert main(["ks", "render", "minimal.ks", "--inventory", bad, "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "host node02.example.com (#2): field mac" in err


def test_rendered_fleet_has_no_errors_at_scale(tmp_path):
    document = parse_yaml(INVENTORY)
    document["hosts"] = [{"hostname": f"n{i}.example.com", "mac": f"52:54:00:00:00:{i:02x}"}
                         for i in range(200)]
    hosts = parse_inventory(document)
    paths = render_inventory("pxe-unattended.ks", hosts, tmp_path / "out")
    assert len(paths) == 200
    sample = validate_files(paths[::50])
    assert not [f for f in sample.findings if f.severity == ERROR]
