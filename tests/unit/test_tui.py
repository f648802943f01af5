"""The text spoke's form (tui.node_form) on simpleline, against the real
service: scripted input in-process, and a real terminal run in tmux."""

import os
import shutil
import subprocess
import sys
import time

import pytest
from simpleline import App
from simpleline.input.input_handler import InputHandlerRequest

from org_ovirt_node.sizes import GiB
from org_ovirt_node.tui.node_form import NodeScreen
from org_ovirt_node.ui.installer import node_presenter
from tests.support.addon_service import ROOT

pytestmark = pytest.mark.integration

SCREEN_TIMEOUT = 60


def run_screen(bus_address, monkeypatch, script):
    """Run NodeScreen in simpleline's App, typing the lines of SCRIPT; when
    the script runs out the user quits."""
    lines = list(script)
    monkeypatch.setattr(InputHandlerRequest, "_get_input",
                        staticmethod(lambda: lines.pop(0) if lines else "q"))
    presenter = node_presenter({"DBUS_ANACONDA_SESSION_BUS_ADDRESS": bus_address})
    App.initialize()
    screen = NodeScreen(presenter)
    App.get_scheduler().schedule_screen(screen)
    App.run()
    assert lines == [], f"the screen did not ask for: {lines}"
    return screen


def test_scripted_session(service, bus_address, monkeypatch, capsys):
    screen = run_screen(bus_address, monkeypatch, [
        "1", "https://example.com/node.squashfs",
        "4", "huge",
        "4", "minimal",
        "5", "7 GiB",
        "6", "/srv", "2",
        "c"])
    out = capsys.readouterr().out
    print(out)  # the whole session in the test log
    assert "oVirt Node installation" in out
    assert "1) Image URL" in out and "not set" in out
    assert "Node image" not in out.split("1) Image URL")[0]
    assert "unknown volume profile 'huge'" in out
    assert "Minimal: a separate /var only" in out
    assert "5) /var                  7 GiB" in out
    assert "Problems:" in out and "is planned once it" in out
    assert "Planned layout: none yet" in out
    assert service.ImageURL == "https://example.com/node.squashfs"
    assert service.VolumeSizes == {"/var": 7 * GiB, "/srv": 2 * GiB}
    assert screen.form.view.complete is False


def test_removing_a_volume_and_bad_sizes(service, bus_address, monkeypatch, capsys):
    run_screen(bus_address, monkeypatch, [
        "4", "minimal",
        "5", "lots",
        "5", "0",
        "c"])
    out = capsys.readouterr().out
    assert "'lots' is not a size" in out
    assert service.VolumeSizes == {}


def tmux(socket, *args):
    return subprocess.run(["tmux", "-S", str(socket), *args], check=True, text=True,
                          stdout=subprocess.PIPE).stdout


def wait_for_screen(socket, text):
    deadline = time.monotonic() + SCREEN_TIMEOUT
    while True:
        screen = tmux(socket, "capture-pane", "-p", "-t", "node")
        if text in screen:
            return screen
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} never appeared; the screen shows:\n{screen}")
        time.sleep(0.2)


@pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")
def test_screen_in_tmux(service, bus_address, tmp_path):
    """`python -m org_ovirt_node.tui` in a real terminal; the captured screens
    are printed to the test log."""
    socket = tmp_path / "tmux.socket"
    command = (f"cd {ROOT} && DBUS_ANACONDA_SESSION_BUS_ADDRESS='{bus_address}' "
               f"{sys.executable} -m org_ovirt_node.tui")
    tmux(socket, "new-session", "-d", "-s", "node", "-x", "100", "-y", "60", command)
    try:
        first = wait_for_screen(socket, "Please make a selection")
        print("--- first screen ---\n" + first)
        assert "1) Image URL" in first and "Planned layout" in first
        tmux(socket, "send-keys", "-t", "node", "4", "Enter")
        wait_for_screen(socket, "Volume profile (nist, minimal, none)")
        tmux(socket, "send-keys", "-t", "node", "minimal", "Enter")
        after = wait_for_screen(socket, "Minimal: a separate /var only")
        print("--- after choosing the minimal profile ---\n" + after)
        assert "no node image is set" in after
        tmux(socket, "send-keys", "-t", "node", "c", "Enter")
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], check=False,
                       stderr=subprocess.DEVNULL)
    assert service.VolumeProfile == "minimal"


def test_without_a_bus_address_is_one_line():
    result = subprocess.run([sys.executable, "-m", "org_ovirt_node.tui"], cwd=ROOT,
                            env={"PATH": os.environ["PATH"]}, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("org_ovirt_node.tui: no D-Bus address")
    assert result.stderr.count("\n") == 1
