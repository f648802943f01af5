"""The graphical spoke's widgets (gui.node_controller over the glade file) in
real GTK 3 under Xvfb, against the real service; the screenshot is kept in
out/artifacts/ovirt_node_spoke.png."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support.addon_service import ROOT, service_environment

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not shutil.which("xvfb-run"), reason="needs xvfb-run")]

GLADE = os.path.join(ROOT, "org_ovirt_node", "gui", "spokes", "ovirt_node.glade")
ARTIFACTS = os.path.join(ROOT, "out", "artifacts")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_spoke_widgets_in_gtk(service, bus_address):
    os.makedirs(ARTIFACTS, exist_ok=True)
    png = os.path.join(ARTIFACTS, "ovirt_node_spoke.png")
    env = service_environment(bus_address)
    env.pop("DISPLAY", None)
    result = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1024x800x24",
         sys.executable, "-m", "tests.support.gui_screenshot", GLADE, png],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout.strip().splitlines()[-1])
    print(json.dumps(state, indent=2), f"\nscreenshot: {png}")
    assert state["image_url"] == "https://example.com/node.squashfs"
    assert service.ImageURL == "https://example.com/node.squashfs"
    assert state["profile"] == "minimal"
    assert state["profile_text"] == "Minimal: a separate /var only"
    assert state["volumes"] == [["/var", "7 GiB"]]
    assert "is planned once it is fetched" in state["problems"]
    assert "below the minimum" in state["message"]
    assert state["complete"] is False
    assert state["mnemonics"] == {"imageUrlLabel": "GtkEntry", "profileLabel": "GtkComboBoxText"}
    with open(png, "rb") as handle:
        assert handle.read(8) == PNG_MAGIC
    assert os.path.getsize(png) > 10_000
