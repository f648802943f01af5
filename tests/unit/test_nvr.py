"""NVR parsing and RPM-like ordering."""

import pytest
from hypothesis import given, strategies as st

from org_ovirt_node.errors import NodeError
from org_ovirt_node.nvr import NVR, rpmvercmp, split_layer


@pytest.mark.parametrize("left,right,expected", [
    ("1.0", "1.0", 0), ("1.0", "1.1", -1), ("1.10", "1.9", 1), ("1.0", "1.0.1", -1),
    ("1.0a", "1.0", 1), ("1.0~rc1", "1.0", -1), ("1.0~rc1", "1.0~rc2", -1),
    ("1.0^git1", "1.0", 1), ("1.0^git1", "1.0.1", -1), ("2", "a", 1), ("1.001", "1.1", 0),
    ("4.5.5", "4.5.10", -1), ("0.20240101.0", "0.20231231.0", 1),
])
def test_rpmvercmp_matches_rpm(left, right, expected):
    assert rpmvercmp(left, right) == expected
    assert rpmvercmp(right, left) == -expected


@given(st.text(alphabet="0123456789.abc~^", max_size=12),
       st.text(alphabet="0123456789.abc~^", max_size=12))
def test_rpmvercmp_is_antisymmetric(left, right):
    assert rpmvercmp(left, right) == -rpmvercmp(right, left)


def test_parse_and_order():
    old = NVR.parse("ovirt-node-ng-4.5.4-0.20230101.0")
    new = NVR.parse("ovirt-node-ng-4.5.5-0.20240101.0")
    assert old.name == "ovirt-node-ng" and old.version == "4.5.4"
    assert old < new and sorted([new, old]) == [old, new]
    assert str(new) == "ovirt-node-ng-4.5.5-0.20240101.0"
    assert new.layer(1) == "ovirt-node-ng-4.5.5-0.20240101.0+1"
    assert split_layer(new.layer(2)) == (str(new), 2)
    assert split_layer(str(new)) is None


@pytest.mark.parametrize("text,fragment", [
    ("", "empty"), ("noversion", "name-version-release"), ("a-b", "name-version-release"),
    ("node-1.0-1 x", "letters, digits"), ("node-1.0-1+1", "layer"),
    ("n" * 50 + "-1.0-1", "characters long"),
])
def test_parse_rejects(text, fragment):
    with pytest.raises(NodeError, match=fragment):
        NVR.parse(text)
