"""A large fleet is rendered by several processes: same files, same first error."""

import os

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.ks.inventory import parse_inventory, parse_yaml
from org_ovirt_node.ks.render import render_inventory
from tests.support.kickstarts import INVENTORY


def fleet(count):
    document = parse_yaml(INVENTORY)
    document["hosts"] = [{"hostname": f"n{i}.example.com",
                          "mac": f"52:54:00:00:{i // 256:02x}:{i % 256:02x}"}
                         for i in range(count)]
    return parse_inventory(document)


def read_all(directory):
    return {name: (directory / name).read_text() for name in os.listdir(directory)}


def test_workers_write_what_one_process_writes(tmp_path):
    hosts = fleet(300)
    one = render_inventory("pxe-unattended.ks", hosts, tmp_path / "one", workers=1)
    three = render_inventory("pxe-unattended.ks", hosts, tmp_path / "three", workers=3)
    assert [os.path.basename(p) for p in one] == [os.path.basename(p) for p in three]
    assert read_all(tmp_path / "one") == read_all(tmp_path / "three")
    assert len(read_all(tmp_path / "three")) == 300


@pytest.mark.parametrize("bad", [[250], [40, 250], [120, 250]])
def test_first_failing_host_in_order_is_raised(tmp_path, bad):
    """A share that fails in a child is raised here, the earliest host's error first."""
    hosts = fleet(300)
    out = tmp_path / "out"
    out.mkdir()
    for index in bad:
        (out / f"n{index}.example.com.ks").mkdir()     # cannot be written as a file
    with pytest.raises(NodeError, match=f"n{bad[0]}.example.com.ks"):
        render_inventory("pxe-unattended.ks", hosts, out, workers=3)
