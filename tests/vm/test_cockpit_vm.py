"""The Cockpit page in a real browser against a real node on real LVM.

The node runs in a VM (tests/vm/guest_cockpit.py): the demo image installed
on real LVM, its `cockpit-bridge` reached over a virtio-serial port, the way
cockpit-ws reaches a remote host's bridge. cockpit-ws and headless Chromium
run on the host, at the host's speed (Chromium under qemu TCG takes minutes
per load), so everything the page shows comes from the node's own
`ovirt-node ... --json`, run in the VM. The test walks the scenarios in
order on one page load: the fresh overview (timed, axe-core checked, light
and dark), a refused update, an update to image B by clicking (plan with the
/etc conflict, streamed progress), a rollback by clicking, a pin, and a
failing health check. Screenshots go to out/artifacts/cockpit-*.png.
"""

import json
import re
import os
import shutil
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from tests.support import vmports
from tests.support.cdp import Browser
from tests.support.demo import ensure_demo_image
from tests.support.lifecycle_images import NVR_A, NVR_B, derive_image, newer_defaults
from tests.support.vm import REPO, sparse_disk, start_vm

pytestmark = pytest.mark.vm
GiB = 1 << 30
PAGE = os.path.join(REPO, "data", "cockpit", "ovirt-node")
ARTIFACTS = os.path.join(REPO, "out", "artifacts")
GUEST = os.path.join(REPO, "tests", "vm", "guest_cockpit.py")
AXE = os.path.join(PAGE, "node_modules", "axe-core", "axe.min.js")
LAYER_A, LAYER_B = NVR_A + "+1", NVR_B + "+1"
LOAD_LIMIT_MS = 1000
# The load's parts (ms from navigation): until the node's bridge had served
# every file the page needed before it asked for status ("served"), the
# status call through the bridge and the CLI ("cli"), and the page's own
# work in between and after ("page"), all from the browser's own timing.
TIMINGS = """(() => {
    const at = name => performance.getEntriesByName(name)[0].startTime;
    const start = at('ovirt-node-status-start'), end = at('ovirt-node-status-end');
    const shown = at('ovirt-node-overview');
    const files = [...performance.getEntriesByType('navigation'),
                   ...performance.getEntriesByType('resource')]
        .filter(entry => entry.responseEnd <= start);
    const served = Math.max(...files.map(entry => entry.responseEnd));
    return {shown: shown, served: served, cli: end - start,
            page: (start - served) + (shown - end),
            files: files.map(entry => entry.name.split('/').pop())};
})()"""
SHOTS = ["overview-fresh", "overview-dark", "update-refused", "update-plan", "update-progress",
         "overview-updated", "rollback-dialog", "rollback-done", "health-failed"]
SLOW = 1800     # seconds: anything the node does under TCG


def copy_image(path, work):
    for suffix in ("", ".sha256"):
        shutil.copy(path + suffix, work / (os.path.basename(path) + suffix))
    return str(work / os.path.basename(path))


def wait_for_guest(vm, work, console):
    deadline = time.time() + SLOW
    while not (work / "guest.ready").exists():
        failed = work / "guest.failed"
        if failed.exists() or vm.poll() is not None or time.time() > deadline:
            console.flush()
            reason = failed.read_text() if failed.exists() else "no ready signal"
            raise RuntimeError(f"the node VM did not come up: {reason}\n"
                               + (work / "console.log").read_text()[-4000:])
        time.sleep(1)


def serve_page(work, bridge_socket):
    """cockpit-ws on a free loopback port whose local session is the VM's bridge."""
    session = work / "bridge-session"
    session.write_text(f"#!/bin/sh\nexec {sys.executable} {vmports.__file__} relay "
                       f"{bridge_socket}\n")
    session.chmod(0o755)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["/usr/lib/cockpit/cockpit-ws", "--no-tls", "--address",
                               "127.0.0.1", "--port", str(port), f"--local-session={session}"],
                              stdout=open(work / "cockpit-ws.log", "wb"),
                              stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                return server, f"http://127.0.0.1:{port}/cockpit/@localhost/ovirt-node/index.html"
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("cockpit-ws did not listen")


class Node:
    """The VM's node as the test sees it: its shell, and the page in the browser."""

    def __init__(self, shell, browser, work):
        self.shell = shell
        self.browser = browser
        self.work = work

    def json(self, *argv):
        return json.loads(self.shell.run("ovirt-node", *argv, "--json", check=False)["stdout"])

    def status(self):
        return self.json("status")

    def checks(self):
        return {item["name"]: item["status"] for item in self.json("check")["checks"]}

    def sh(self, script):
        return self.shell.run("sh", "-c", script)

    def shot(self, name):
        time.sleep(0.3)     # let transitions settle
        self.browser.screenshot(os.path.join(ARTIFACTS, f"cockpit-{name}.png"))

    def overview(self):
        """What the overview shows: layers with their flags, volumes, checks, gauges."""
        return self.browser.evaluate("""(() => {
            const all = (css, f) => Array.from(document.querySelectorAll(css), f);
            const layers = {};
            for (const row of document.querySelectorAll('#layers tr[data-layer]'))
                layers[row.dataset.layer] = {
                    flags: Array.from(row.querySelectorAll('[data-flag]'), el => el.dataset.flag),
                    text: row.innerText};
            const checks = {}, reasons = {};
            for (const item of document.querySelectorAll('#health li[data-check]')) {
                checks[item.dataset.check] = item.dataset.status;
                reasons[item.dataset.check] = item.innerText;
            }
            return {layers: layers, checks: checks, reasons: reasons,
                    volumes: all('#volumes tr[data-volume]', el => el.innerText),
                    check_text: all('#health li[data-check]', el => el.innerText),
                    pool: all('#pool .pf-v5-c-progress', el => el.innerText),
                    marks: document.querySelectorAll('#pool .onode-mark').length,
                    vg_free: all('#vg-free', el => el.innerText),
                    alerts: all('.pf-v5-c-alert', el => el.innerText),
                    dark: document.documentElement.classList.contains('pf-v5-theme-dark')};
        })()""")

    def axe(self):
        with open(AXE, encoding="utf-8") as handle:
            self.browser.evaluate(handle.read() + "; true")
        return self.browser.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
            "v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length})))")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    subprocess.run(["make", "--no-print-directory", "cockpit"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    work = tmp_path_factory.mktemp("cockpit")
    os.makedirs(ARTIFACTS, exist_ok=True)
    for old in os.listdir(ARTIFACTS):
        if old.startswith("cockpit-"):
            os.unlink(os.path.join(ARTIFACTS, old))
    # copies: other tests may rebuild the shared images in out/demo meanwhile
    image_a = copy_image(ensure_demo_image()[0], work)
    images = SimpleNamespace(a=image_a, b=copy_image(derive_image(NVR_B, newer_defaults), work),
                             bad=str(work / "random.squashfs"))
    with open(images.bad, "wb") as handle:
        handle.write(os.urandom(256 * 1024))
    disk = sparse_disk(str(work / "node.img"), 32 * GiB)
    sockets = {"ovirt-node.bridge": str(work / "bridge.sock"),
               "ovirt-node.shell": str(work / "shell.sock")}
    console = open(work / "console.log", "w", encoding="utf-8")
    vm = start_vm(f'"{sys.executable}" "{GUEST}"\n', [disk], str(work),
                  env={"IMAGE_A": image_a, "DIST": os.path.join(PAGE, "dist")},
                  qemu_options=vmports.qemu_options(sockets), console=console)
    server = browser = shell = None
    try:
        wait_for_guest(vm, work, console)
        shell = vmports.GuestShell(sockets["ovirt-node.shell"])
        server, url = serve_page(work, sockets["ovirt-node.bridge"])
        browser = Browser(log=open(work / "chromium.log", "wb"))
        browser.go(url)
        found = Node(shell, browser, work)
        found.images = images
        yield found
    finally:
        for close in (browser and browser.close, shell and shell.close,
                      server and server.terminate):
            if close:
                close()
        (work / "stop").touch()
        try:
            vm.wait(timeout=300)
        except subprocess.TimeoutExpired:
            vm.kill()
            vm.wait()
        console.close()


@pytest.fixture(scope="module")
def fresh(node):
    """The one page load: the fresh node's overview and health, and its timings."""
    try:
        node.browser.wait_for("body[data-overview=shown]", timeout=SLOW)
        node.browser.wait_for("#health li[data-check]", timeout=SLOW)
    except Exception:
        node.shot("stuck")
        raise AssertionError("the overview never showed: " + repr(node.browser.evaluate(
            "document.body.innerText")) + "\n" + (node.work / "bridge.log").read_text()[-2000:])
    timings = node.browser.evaluate(TIMINGS)
    with open(os.path.join(ARTIFACTS, "cockpit-load.json"), "w", encoding="utf-8") as handle:
        json.dump(timings, handle, indent=1)
    node.shot("overview-fresh")
    return {"timings": timings, "overview": node.overview(), "status": node.status(),
            "checks": node.checks()}


def test_fresh_overview_shows_the_installed_node(fresh):
    shown, status = fresh["overview"], fresh["status"]
    assert list(shown["layers"]) == [LAYER_A]
    flags = shown["layers"][LAYER_A]["flags"]
    assert "default" in flags and "bad" not in flags
    text = shown["layers"][LAYER_A]["text"]
    assert NVR_A in text                                            # the image's NVR
    assert status["layers"][0]["kernels"][0] in text
    assert status["layers"][0]["os_release"]["PRETTY_NAME"] in text
    assert len(shown["volumes"]) == len(status["volumes"]) == 7
    assert any(row.startswith("/var/log/audit") and "/dev/onn/var_log_audit" in row
               for row in shown["volumes"]), shown["volumes"]
    assert len(shown["pool"]) == 2 and shown["marks"] == 4           # data + metadata, 70/80
    # the VG's free space, then what one autoextend step needs of it
    assert shown["vg_free"] and re.match(r"[0-9.]+ [KMGTP]?i?B \((too little: )?one autoextend "
                                         r"needs [0-9.]+ [KMGTP]?i?B\)$", shown["vg_free"][0]), \
        shown["vg_free"]
    # every check as the CLI reports it, reasons included
    assert shown["checks"] == fresh["checks"], shown["check_text"]
    assert all(text.strip() for text in shown["check_text"])
    assert not shown["alerts"] and not shown["dark"]


def test_overview_loads_under_a_second(fresh):
    """From navigation to the overview shown, the page's own part under 1 s.

    The rest is the node's: its bridge serving the page's files and running
    `ovirt-node status`, which under qemu TCG take some 20-50x their time on
    hardware. Every part is printed.
    """
    timings = fresh["timings"]
    print("page load (ms):", timings)
    assert {"index.html", "index.js", "index.css", "cockpit.js"} <= set(timings["files"])
    assert timings["cli"] > 0 and timings["served"] > 0
    assert timings["page"] < LOAD_LIMIT_MS, timings


def test_axe_finds_no_serious_violation(node, fresh):
    violations = node.axe()
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, serious


def test_dark_theme_follows_the_shell_style(node, fresh):
    # the browser's colour scheme turns dark (the page follows it in "auto")
    node.browser.send("Emulation.setEmulatedMedia", features=[
        {"name": "prefers-color-scheme", "value": "dark"}])
    try:
        node.browser.wait("document.documentElement.classList.contains('pf-v5-theme-dark')")
        node.shot("overview-dark")
        assert node.overview()["dark"]
        serious = [v for v in node.axe() if v["impact"] in ("serious", "critical")]
        assert not serious, serious
    finally:
        node.browser.send("Emulation.setEmulatedMedia", features=[
            {"name": "prefers-color-scheme", "value": "light"}])
        node.browser.wait("!document.documentElement.classList.contains('pf-v5-theme-dark')")


def test_refused_update_is_one_alert_and_changes_nothing(node, fresh):
    page = node.browser
    before = node.status()
    page.click("#update")
    page.type("#update-image", node.images.bad)
    page.click("#update-plan-button")
    page.wait_for("#update-dialog .onode-error", timeout=SLOW)
    node.shot("update-refused")
    alerts = page.texts(".pf-v5-c-alert")
    text = page.evaluate("document.body.innerText")
    page.click("#update-dialog button[aria-label=Close]")
    page.gone("#update-dialog")
    assert len(alerts) == 1, alerts
    assert "ovirt-node: error:" in alerts[0]
    assert "Traceback" not in text and "File \"" not in text
    assert node.status() == before


def local_change(node, layer):
    """An administrator's /etc edit that the update to B will conflict with."""
    node.sh(f"set -e; lvm lvchange -ay onn/{layer}; d=$(mktemp -d); mount /dev/onn/{layer} $d; "
            f"echo shared_setting=local > $d/etc/demo/both.conf; umount $d; rmdir $d")


def test_update_by_clicking(node, fresh):
    page = node.browser
    local_change(node, node.status()["default_layer"])
    page.click("#update")
    page.type("#update-image", node.images.b)
    page.click("#update-plan-button")
    page.wait_for("#update-plan, #update-dialog .onode-error", timeout=SLOW)
    node.shot("update-plan")
    assert not page.texts("#update-dialog .onode-error")
    plan, conflicts = page.texts("#update-plan"), page.texts("#etc-conflicts")
    assert "demo/both.conf" in plan[0] and conflicts and "demo/both.conf" in conflicts[0], plan
    page.click("#update-confirm")
    seen = []
    deadline = time.time() + SLOW
    while time.time() < deadline:
        state = page.evaluate("""(() => {
            const bar = document.querySelector('#update-progress');
            return {open: !!document.querySelector('#update-dialog'),
                    error: !!document.querySelector('#update-dialog .onode-error'),
                    title: bar && bar.querySelector('.pf-v5-c-progress__description').innerText,
                    value: bar && bar.querySelector('[role=progressbar]').getAttribute('aria-valuenow')};
        })()""")
        if not state["open"] or state["error"]:
            break
        if state["title"] and [state["title"], state["value"]] not in seen:
            seen.append([state["title"], state["value"]])
            if len(seen) == 6:
                node.shot("update-progress")
        time.sleep(0.2)
    errors = page.texts("#update-dialog .onode-error")
    assert not errors, errors
    page.wait_for("#notice", timeout=SLOW)
    page.wait_for("#layers tr[data-layer]:nth-child(2)", timeout=SLOW)
    page.wait_for("#health li[data-check]", timeout=SLOW)
    node.shot("overview-updated")
    percents = [float(value) for _, value in seen if value]
    assert percents and max(percents) > 0, seen
    assert len({title for title, _ in seen}) > 1                    # steps streamed in
    layers = node.overview()["layers"]
    assert list(layers) == [LAYER_A, LAYER_B]
    assert "default" in layers[LAYER_B]["flags"]
    assert "fallback" in layers[LAYER_A]["flags"]
    assert node.status()["default_layer"] == LAYER_B


def test_rollback_by_clicking(node, fresh):
    page = node.browser
    target = [layer["name"] for layer in node.status()["layers"] if not layer["default"]][0]
    assert target == LAYER_A
    page.click("#rollback")
    page.click(f"input[id='rollback-{target}']")
    node.shot("rollback-dialog")
    page.click("#confirm")
    page.wait_for("#notice", timeout=SLOW)
    page.gone("#confirm-dialog")
    page.wait_for(f"tr[data-layer='{target}'] [data-flag=default]", timeout=SLOW)
    page.wait_for("#health li[data-check]", timeout=SLOW)
    node.shot("rollback-done")
    assert node.status()["default_layer"] == LAYER_A
    layers = node.overview()["layers"]
    assert "default" in layers[LAYER_A]["flags"]
    assert "default" not in layers[LAYER_B]["flags"]


def test_pin_by_clicking(node, fresh):
    page = node.browser
    layer = node.status()["default_layer"]
    page.click(f"tr[data-layer='{layer}'] .onode-pin")
    page.click("#confirm")
    page.wait_for(f"tr[data-layer='{layer}'] [data-flag=pinned]", timeout=SLOW)
    assert node.status()["pinned"] == [layer]
    assert "pinned" in node.overview()["layers"][layer]["flags"]


def test_failing_health_check_is_shown_failed(node, fresh):
    node.sh("lvm lvchange --detachprofile onn/pool00")
    node.browser.click("#refresh")
    node.browser.wait_for("#health li[data-check=pool][data-status=failed]", timeout=SLOW)
    node.shot("health-failed")
    cli = node.checks()
    shown = node.overview()
    assert cli["pool"] == "failed"
    assert shown["checks"] == cli
    assert "autoextend profile" in shown["reasons"]["pool"]


def test_screenshots_saved(node, fresh):
    missing = [shot for shot in SHOTS
               if not os.path.exists(os.path.join(ARTIFACTS, f"cockpit-{shot}.png"))]
    assert not missing
