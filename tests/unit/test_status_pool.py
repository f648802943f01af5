"""`status --json`'s pool carries where `check` warns and fails on its use
(pool.warn_percent, pool.fail_percent), so the Cockpit page marks its gauges
with the numbers check uses; node_status runs on LVM reports given here."""

from types import SimpleNamespace

from org_ovirt_node import constants, status
from org_ovirt_node.sizes import GiB, MiB


def test_status_pool_carries_checks_marks(monkeypatch):
    vg = {"vg_name": "onn", "vg_size": str(30 * GiB), "vg_free": str(6 * GiB),
          "vg_extent_size": str(4 * MiB)}
    pool = {"lv_name": "pool00", "lv_tags": constants.TAG_POOL, "lv_size": str(24 * GiB),
            "lv_metadata_size": str(GiB), "data_percent": "81.50", "metadata_percent": "3.00"}
    monkeypatch.setattr(status.lvm, "report", lambda kind, fields, *selection: [
        {field: (vg if kind == "vgs" else pool).get(field, "") for field in fields}])
    monkeypatch.setattr(status, "_boot_state", lambda node: {})
    monkeypatch.setattr(status, "_health", lambda node: (None, {}))
    state = SimpleNamespace(images={}, image_kargs={}, signatures={}, persisted={})
    node = SimpleNamespace(vg="onn", running=None, entries=lambda: [], state=lambda: state)
    result = status.node_status(node)["pool"]
    assert result["warn_percent"] == constants.POOL_WARN_PERCENT == 80.0
    assert result["fail_percent"] == constants.POOL_FAIL_PERCENT == 95.0
    assert (result["data_percent"], result["metadata_percent"]) == (81.5, 3.0)
