"""check's pool result: data or metadata use warns from 80% and fails from 95%;
the autoextend profile promises growth only when the VG has room for one step
(20% of the pool's data); the arithmetic is pure, check_pool is run on LVM
reports given here (no device-mapper on the host)."""

from types import SimpleNamespace

import pytest

from org_ovirt_node import constants
from org_ovirt_node.lifecycle import check
from org_ovirt_node.lifecycle.check import autoextend_shortfall
from org_ovirt_node.lifecycle.preflight import autoextend_step
from org_ovirt_node.sizes import GiB, MiB, TiB

PROFILE = constants.THIN_PROFILE_NAME
EXTENT = 4 * MiB


@pytest.mark.parametrize("pool_size,extent,step", [
    (10 * GiB, EXTENT, 2 * GiB),                     # 20%, whole extents already
    (10 * GiB + 4 * MiB, EXTENT, 2 * GiB + 4 * MiB),  # 20% of it rounded up to an extent
    (100 * MiB, 1, 20 * MiB),
    (101, 1, 21),                                    # rounded up, never down
    (24 * GiB, 32 * MiB, int(4.8 * GiB) + 32 * MiB - int(4.8 * GiB) % (32 * MiB)),
    (0, EXTENT, 0),
])
def test_one_step_is_20_percent_in_whole_extents(pool_size, extent, step):
    assert autoextend_step(pool_size, extent) == step


@pytest.mark.parametrize("profile,pool_size,vg_free,expected", [
    (PROFILE, 10 * GiB, 2 * GiB, None),                    # exactly one step: it fits
    (PROFILE, 10 * GiB, 2 * GiB - EXTENT, (2 * GiB, EXTENT)),  # one extent short
    (PROFILE, 10 * GiB, 2 * GiB - 1, (2 * GiB, 1)),        # one byte short
    (PROFILE, 10 * GiB, 0, (2 * GiB, 2 * GiB)),            # a full VG
    (PROFILE, 10 * GiB, 10 * TiB, None),                   # plenty
    (PROFILE, 24 * GiB, 12 * MiB, (int(4.8 * GiB) + 4 * MiB - int(4.8 * GiB) % (4 * MiB),
                                   int(4.8 * GiB) + 4 * MiB - int(4.8 * GiB) % (4 * MiB)
                                   - 12 * MiB)),
    ("", 10 * GiB, 0, None),                               # no profile: nothing extends it
    ("thin-performance", 10 * GiB, 0, None),               # another profile: not ours
    (PROFILE, 0, 0, None),                                 # an empty pool needs nothing
])
def test_autoextend_shortfall(profile, pool_size, vg_free, expected):
    assert autoextend_shortfall(profile, pool_size, vg_free, EXTENT) == expected


def run_check_pool(monkeypatch, lv, vg):
    """check_pool on the lvs row LV and the vgs row VG."""
    reports = {"lvs": [lv], "vgs": [vg]}
    monkeypatch.setattr(check.lvm, "report", lambda kind, fields, *selection: [
        {field: reports[kind][0].get(field, "") for field in fields}])
    return check.check_pool(SimpleNamespace(vg="onn", pool="pool00"))


def pool_row(size, data="40.00", meta="10.00", profile=PROFILE):
    return {"lv_name": "pool00", "lv_size": str(size), "data_percent": data,
            "metadata_percent": meta, "lv_profile": profile}


def test_the_demo_nodes_full_vg_fails_and_says_what_is_missing(monkeypatch):
    # The node: a 24.31 GiB pool in a VG with 12 MiB free.
    result = run_check_pool(monkeypatch, pool_row(int(24.31 * GiB)),
                            {"vg_free": str(12 * MiB), "vg_extent_size": str(EXTENT)})
    assert result.status == check.FAILED
    assert result.reason == ("pool pool00 cannot autoextend: one step needs 4.86 GiB, the VG "
                             "has 12 MiB free (add a PV or free 4.85 GiB)")


def test_room_for_one_step_is_ok(monkeypatch):
    result = run_check_pool(monkeypatch, pool_row(10 * GiB),
                            {"vg_free": str(2 * GiB), "vg_extent_size": str(EXTENT)})
    assert result.status == check.OK
    assert result.reason.endswith("2 GiB free in the VG for autoextend")


def test_a_full_pool_and_no_room_are_both_named(monkeypatch):
    result = run_check_pool(monkeypatch, pool_row(10 * GiB, data="85.00"),
                            {"vg_free": "0", "vg_extent_size": str(EXTENT)})
    assert result.status == check.FAILED
    assert result.reason == (
        "pool pool00: data 85.0% used (warns from 80%); free space with ovirt-node gc or grow "
        "the VG; pool pool00 cannot autoextend: one step needs 2 GiB, the VG has 0 B free "
        "(add a PV or free 2 GiB)")


def test_no_profile_is_reported_as_before(monkeypatch):
    result = run_check_pool(monkeypatch, pool_row(10 * GiB, profile=""),
                            {"vg_free": "0", "vg_extent_size": str(EXTENT)})
    assert result.status == check.FAILED
    assert "has no autoextend profile" in result.reason


ROOM = {"vg_free": str(2 * GiB), "vg_extent_size": str(EXTENT)}


def test_the_marks_are_80_and_95_percent():
    assert (constants.POOL_WARN_PERCENT, constants.POOL_FAIL_PERCENT) == (80.0, 95.0)


@pytest.mark.parametrize("what", ["data", "metadata"])
@pytest.mark.parametrize("used,status,reason", [
    ("79.90", check.OK, None),
    ("80.00", check.WARNING, "{what} 80.0% used (warns from 80%)"),
    ("94.90", check.WARNING, "{what} 94.9% used (warns from 80%)"),
    ("95.00", check.FAILED, "{what} 95.0% used (fails from 95%)"),
    ("100.00", check.FAILED, "{what} 100.0% used (fails from 95%)"),
])
def test_use_warns_from_80_and_fails_from_95(monkeypatch, what, used, status, reason):
    other = "5.00"
    row = pool_row(10 * GiB, data=used if what == "data" else other,
                   meta=used if what == "metadata" else other)
    result = run_check_pool(monkeypatch, row, ROOM)
    assert result.status == status
    if reason is None:
        assert result.reason.startswith("data ") and "used" not in result.reason
    else:
        assert result.reason == (f"pool pool00: {reason.format(what=what)}; free space "
                                 "with ovirt-node gc or grow the VG")


def test_both_uses_are_named_and_the_worse_decides(monkeypatch):
    result = run_check_pool(monkeypatch, pool_row(10 * GiB, data="96.00", meta="81.00"), ROOM)
    assert result.status == check.FAILED
    assert result.reason == ("pool pool00: data 96.0% used (fails from 95%), metadata 81.0% "
                             "used (warns from 80%); free space with ovirt-node gc or grow "
                             "the VG")


def test_a_warning_use_and_no_room_to_autoextend_fails(monkeypatch):
    result = run_check_pool(monkeypatch, pool_row(10 * GiB, meta="85.00"),
                            {"vg_free": "0", "vg_extent_size": str(EXTENT)})
    assert result.status == check.FAILED
    assert result.reason.startswith("pool pool00: metadata 85.0% used (warns from 80%); ")
    assert "cannot autoextend" in result.reason


def test_check_exits_0_on_a_warning_and_1_on_a_failure(monkeypatch, capsys):
    from org_ovirt_node.cli import lifecycle

    class Opened:
        def __enter__(self):
            return SimpleNamespace(vg="onn", pool="pool00")

        def __exit__(self, *exc):
            return False

    outcome = {}

    def run_checks(node):
        return [check.Result("tags", check.OK, "tagged"), outcome["pool"]]

    monkeypatch.setattr(lifecycle, "private_mounts", lambda: None)
    monkeypatch.setattr(lifecycle, "open_node", lambda vg: Opened())
    monkeypatch.setattr(check, "run_checks", run_checks)
    args = SimpleNamespace(vg=None, json=True)
    for status, code in ((check.OK, 0), (check.WARNING, 0), (check.FAILED, 1)):
        outcome["pool"] = check.Result("pool", status, "reason")
        assert lifecycle.run_check(args) == code
    assert '"status": "warning"' in capsys.readouterr().out
