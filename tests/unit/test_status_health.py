"""`status` shows this boot's health verdict and each layer's last recorded one."""

from org_ovirt_node import status
from org_ovirt_node.cli.status import render_status
from org_ovirt_node.lifecycle import health
from org_ovirt_node.lifecycle.check import FAILED, Result
from tests.unit.test_health import LAYER, all_ok

OLD = "node-4.5.5-0.1+1"


class BootedNode:
    def __init__(self, root, running):
        self.boot, self.running = str(root / "boot"), running


def test_status_health_reads_run_and_boot(tmp_path):
    checks = [Result("tags", FAILED, "no LV tagged imgbased:pool")] + all_ok()[1:]
    health.run_health(OLD, str(tmp_path), checks=checks)
    green = health.run_health(LAYER, str(tmp_path), checks=all_ok())
    running, layers = status._health(BootedNode(tmp_path, LAYER), str(tmp_path))
    assert running == green
    assert layers == {LAYER: {"status": "green", "time": green["time"], "failed": [],
                              "failures": []},
                      OLD: {"status": "red", "time": layers[OLD]["time"], "failed": ["tags"],
                            "failures": [{"name": "tags",
                                          "output": "no LV tagged imgbased:pool"}]}}


def test_status_carries_the_end_of_a_failed_checks_output(tmp_path):
    """The page shows what a red boot's check printed: its tail, bounded."""
    long = "x" * (status.OUTPUT_LIMIT + 500) + " storage domain not reachable"
    checks = [Result("tags", FAILED, long)] + all_ok()[1:]
    health.run_health(OLD, str(tmp_path), checks=checks)
    _, layers = status._health(BootedNode(tmp_path, LAYER), str(tmp_path))
    [failure] = layers[OLD]["failures"]
    assert failure["output"].endswith("storage domain not reachable")
    assert len(failure["output"]) == status.OUTPUT_LIMIT


def test_offline_or_another_layers_verdict_is_not_this_boots(tmp_path):
    health.run_health(LAYER, str(tmp_path), checks=all_ok())
    assert status._health(BootedNode(tmp_path, None), str(tmp_path))[0] is None
    assert status._health(BootedNode(tmp_path, OLD), str(tmp_path))[0] is None
    assert status._health(BootedNode(tmp_path / "nowhere", None), str(tmp_path)) == (None, {})


def test_render_shows_a_layers_verdict():
    layer = {"name": LAYER, "origin": LAYER[:-2], "os_release": None, "entries": [],
             "kernels": [], "default": True, "running": True, "fallback": False,
             "pinned": False, "bad": False, "last_known_good": False,
             "health": {"status": "red", "time": "2026-01-01T00:00:00+00:00",
                        "failed": ["tags"]}}
    text = render_status({"vg": {"name": "onn", "size": 1, "free": 0}, "pool": None,
                          "bases": [], "layers": [layer], "volumes": []})
    assert "health red at 2026-01-01T00:00:00+00:00: tags failed" in text
