"""The pool guard: the kernel's thin-pool status read, the limits, and the copier stopping.

The real pool filling up under a running update is tests/vm/test_node_vm.py's
tight node; here the parts that need no device-mapper.
"""

import os

import pytest

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.install import deploy
from org_ovirt_node.lifecycle import poolguard
from org_ovirt_node.progress import Reporter

# dmsetup status lines as the kernel prints them (Linux 6.1, dm-thin-pool 1.23)
RW = "0 4194304 thin-pool 3 1043/4096 10240/32768 - rw discard_passdown queue_if_no_space - 1024"
FULL = ("0 4194304 thin-pool 5 1100/4096 32768/32768 - out_of_data_space discard_passdown "
        "queue_if_no_space - 1024")
NEEDS_CHECK = ("0 4194304 thin-pool 5 4096/4096 1000/32768 - ro discard_passdown "
               "queue_if_no_space needs_check 1024")


def test_the_status_line_gives_data_and_metadata_use_and_the_mode():
    data, metadata, mode, needs_check = poolguard.parse_thin_pool_status(RW)
    assert data == pytest.approx(31.25) and metadata == pytest.approx(100 * 1043 / 4096)
    assert mode == "rw" and not needs_check
    assert poolguard.parse_thin_pool_status(FULL)[2] == "out_of_data_space"
    assert poolguard.parse_thin_pool_status(NEEDS_CHECK)[3] is True
    assert poolguard.parse_thin_pool_status("0 4194304 thin-pool Fail")[2] == "fail"
    with pytest.raises(NodeError):
        poolguard.parse_thin_pool_status("0 4194304 linear 253:0 0")


def test_lvm_names_double_their_dashes_in_device_mapper():
    assert poolguard.dm_name("onn", "pool00") == "onn-pool00-tpool"
    assert poolguard.dm_name("my-vg", "thin-pool") == "my--vg-thin--pool-tpool"


def test_the_verdict_trips_at_the_fail_limit_and_on_any_unhealthy_mode():
    limit = constants.POOL_FAIL_PERCENT
    assert poolguard.verdict("onn", "pool00", (limit - 0.1, 10.0, "rw", False)) is None
    data = poolguard.verdict("onn", "pool00", (limit, 10.0, "rw", False))
    assert data == f"thin pool onn/pool00 reached {limit:.1f}% data use (the limit is 95%)"
    assert "metadata" in poolguard.verdict("onn", "pool00", (1.0, 99.0, "rw", False))
    assert "went out_of_data_space" in poolguard.verdict(
        "onn", "pool00", poolguard.parse_thin_pool_status(FULL))
    assert "went ro and needs a check" in poolguard.verdict(
        "onn", "pool00", poolguard.parse_thin_pool_status(NEEDS_CHECK))


def test_the_guard_trips_once_and_keeps_its_first_reason(monkeypatch):
    readings = iter([(50.0, 5.0, "rw", False), (96.0, 5.0, "rw", False),
                     (100.0, 5.0, "out_of_data_space", False)])
    monkeypatch.setattr(poolguard, "read_use", lambda vg, pool: next(readings))
    guard = poolguard.PoolGuard("onn", "pool00")
    assert guard.look() is None
    guard.check()                                      # below the limit: nothing
    assert "96.0% data use" in guard.look()
    guard.look()
    with pytest.raises(poolguard.PoolFull, match="96.0% data use .* stopped"):
        guard.check()
    assert guard.peak == 100.0


def test_a_guard_that_cannot_read_the_pool_does_not_stop_the_update(monkeypatch):
    def unreadable(vg, pool):
        raise NodeError("dmsetup: no such device")
    monkeypatch.setattr(poolguard, "read_use", unreadable)
    guard = poolguard.PoolGuard("onn", "pool00", interval=0.01)
    with guard:
        guard.check()
    assert guard.explain() is None


class TripsAfter:
    """A stand-in pool that fills after COUNT writes (the copier is under test here)."""

    def __init__(self, count):
        self.count = count

    def check(self):
        self.count -= 1
        if self.count < 0:
            raise poolguard.PoolFull("thin pool onn/pool00 reached 96.0% data use")


def test_the_copier_stops_at_its_next_write_once_the_guard_trips(tmp_path):
    block = 1 << 20
    source, target = tmp_path / "rootfs.img", tmp_path / "base"
    source.write_bytes(os.urandom(64 * block))
    with open(target, "wb") as handle:
        handle.truncate(64 * block)
    with pytest.raises(poolguard.PoolFull, match="96.0% data use"):
        deploy.stream_sparse(str(source), str(target), Reporter(), block=block,
                             guard=TripsAfter(3))
    # at most the three writes let through, plus none after the trip
    assert os.stat(target).st_blocks * 512 <= 3 * block
    assert deploy.stream_sparse(str(source), str(target), Reporter(), block=block,
                                guard=TripsAfter(1000)) == 64 * block


def test_lvms_own_threshold_refusal_is_the_pool_filling_too(monkeypatch):
    monkeypatch.setattr(poolguard, "read_use", lambda vg, pool: (80.0, 5.0, "rw", False))
    guard = poolguard.PoolGuard("onn", "pool00")
    refusal = NodeError("'lvm lvcreate --snapshot' failed: Cannot create new thin volume, "
                        "free space in thin pool onn/pool00 reached threshold.")
    full = guard.explain(refusal)
    assert isinstance(full, poolguard.PoolFull)
    assert str(full).startswith("thin pool onn/pool00 passed its autoextend threshold with no "
                                "room in the VG to extend into, so LVM refused a new thin "
                                "volume while the update was writing")
    assert guard.explain(NodeError("mount: wrong fs type")) is None
