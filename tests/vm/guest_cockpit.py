"""Runs inside the VM: the Cockpit page against a real node, in a real browser.

Usage: python3 guest_cockpit.py  (environment: OUT, IMAGE_A, IMAGE_B, BAD_IMAGE, DIST)

Installs image A onto /dev/vda, serves the page with cockpit-ws on loopback
(a local session as root, no login, no TLS), drives headless Chromium over
the DevTools protocol (tests/support/cdp.py) through each scenario and records screenshots ($OUT/shots/*.png) and
what it saw ($OUT/cockpit.json). Nothing here decides pass or fail: the
host-side test (test_cockpit_vm.py) asserts on the record.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.environ["REPO"])
from tests.support.cdp import Browser  # noqa: E402

OUT = os.environ["OUT"]
SHOTS = os.path.join(OUT, "shots")
PORT = 9191
URL = f"http://127.0.0.1:{PORT}/cockpit/@localhost/ovirt-node/index.html"
AXE = os.path.join(os.path.dirname(os.environ["DIST"]), "node_modules", "axe-core",
                   "axe.min.js")
RECORD = {}


def save():
    with open(os.path.join(OUT, "cockpit.json"), "w", encoding="utf-8") as handle:
        json.dump(RECORD, handle, indent=1)


def sh(*cmd, check=True):
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, check=False)
    if check and result.returncode:
        raise RuntimeError(f"{cmd}: {result.stderr}")
    return result


def status():
    return json.loads(sh("ovirt-node", "status", "--json").stdout)


def checks():
    result = sh("ovirt-node", "check", "--json", check=False)
    return {item["name"]: item["status"] for item in json.loads(result.stdout)["checks"]}


def local_change(layer):
    """An administrator's /etc edit that the update to B will conflict with."""
    sh("lvm", "lvchange", "-ay", f"onn/{layer}")
    root = tempfile.mkdtemp()
    sh("mount", f"/dev/onn/{layer}", root)
    try:
        with open(os.path.join(root, "etc/demo/both.conf"), "w", encoding="utf-8") as handle:
            handle.write("shared_setting=local\n")
    finally:
        sh("umount", root)
        os.rmdir(root)


def serve():
    """cockpit-ws on loopback; the page found through XDG_DATA_DIRS."""
    data = tempfile.mkdtemp()
    os.makedirs(os.path.join(data, "cockpit"))
    os.symlink(os.environ["DIST"], os.path.join(data, "cockpit", "ovirt-node"))
    env = dict(os.environ, XDG_DATA_DIRS=f"{data}:/usr/share")
    log = open(os.path.join(OUT, "cockpit-ws.log"), "wb")
    process = subprocess.Popen(["/usr/lib/cockpit/cockpit-ws", "--no-tls", "--address",
                                "127.0.0.1", "--port", str(PORT),
                                "--local-session=cockpit-bridge"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    return process


class Page:
    """The page in Chromium, with what the scenarios ask of it."""

    def __init__(self, browser):
        self.browser = browser

    def __getattr__(self, name):
        return getattr(self.browser, name)

    def shot(self, name):
        time.sleep(0.3)     # let transitions settle
        self.browser.screenshot(os.path.join(SHOTS, name + ".png"))

    def open(self):
        """Load the page until the overview and health show; return its timings (ms).

        Under TCG a load takes a minute or more; if it never shows, what the
        page and its console said is recorded and a screenshot taken.
        """
        self.browser.go(URL)
        try:
            self.wait_for("body[data-overview=shown]", timeout=900)
            self.wait_for("#health li[data-check]", timeout=900)
        except Exception:
            name = f"stuck-{len(RECORD.setdefault('stuck', []))}"
            RECORD["stuck"].append({
                "shot": name, "text": self.evaluate("document.body.innerText"),
                "console": [event for event in self.browser.events
                            if event.get("method") in ("Runtime.consoleAPICalled",
                                                       "Runtime.exceptionThrown")][-20:]})
            self.shot(name)
            save()
            raise
        return self.evaluate(
            "(() => { const at = name => performance.getEntriesByName(name)[0].startTime;"
            " const shown = at('ovirt-node-overview');"
            " const cli = at('ovirt-node-status-end') - at('ovirt-node-status-start');"
            " return {shown: shown, cli: cli, page: shown - cli}; })()")

    def overview(self):
        """What the overview shows: layers with their flags, volumes, checks, gauges."""
        return self.evaluate("""(() => {
            const all = (css, f) => Array.from(document.querySelectorAll(css), f);
            const layers = {};
            for (const row of document.querySelectorAll('#layers tr[data-layer]'))
                layers[row.dataset.layer] = {
                    flags: Array.from(row.querySelectorAll('[data-flag]'), el => el.dataset.flag),
                    text: row.innerText};
            const checks = {};
            for (const item of document.querySelectorAll('#health li[data-check]'))
                checks[item.dataset.check] = item.dataset.status;
            return {layers: layers, checks: checks,
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
            self.evaluate(handle.read() + "; true")
        return self.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
            "v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length})))")


def scenario(name, work):
    """Run WORK, keep what it returns (or its error) under NAME."""
    try:
        RECORD[name] = work()
    except Exception:    # recorded for the host test, which reports it
        RECORD[name] = {"error": traceback.format_exc()}
    save()


def main():
    os.makedirs(SHOTS, exist_ok=True)
    sh("ovirt-node", "install", "--image", os.environ["IMAGE_A"], "--disk", "/dev/vda",
       "--yes")
    RECORD["status_installed"] = status()
    server = serve()
    page = Page(Browser(log=open(os.path.join(OUT, "chromium.log"), "wb")))
    try:
        time.sleep(1)

        def fresh():
            # the node's own answers, for the host's load-time measurement
            for command in ("status", "check"):
                with open(os.path.join(OUT, f"fresh-{command}.json"), "w") as handle:
                    handle.write(sh("ovirt-node", command, "--json", check=False).stdout)
            # one load: under TCG each takes minutes (Chromium parses the bundle
            # for over a minute, the CLI under its load takes as long)
            loads = [page.open()]
            page.shot("overview-fresh")
            return {"loads": loads, "overview": page.overview(), "axe": page.axe(),
                    "cli_checks": checks()}
        scenario("fresh", fresh)

        def dark():
            # the browser's colour scheme turns dark (the page follows it in "auto")
            page.send("Emulation.setEmulatedMedia", features=[
                {"name": "prefers-color-scheme", "value": "dark"}])
            page.wait("document.documentElement.classList.contains('pf-v5-theme-dark')")
            page.shot("overview-dark")
            shown = page.overview()
            violations = page.axe()
            page.send("Emulation.setEmulatedMedia", features=[
                {"name": "prefers-color-scheme", "value": "light"}])
            page.wait("!document.documentElement.classList.contains('pf-v5-theme-dark')")
            return {"overview": shown, "axe": violations}
        scenario("dark", dark)

        def refused():
            before = status()
            page.click("#update")
            page.type("#update-image", os.environ["BAD_IMAGE"])
            page.click("#update-plan-button")
            page.wait_for("#update-dialog .onode-error", timeout=1800)
            page.shot("update-refused")
            alerts = page.texts(".pf-v5-c-alert")
            text = page.evaluate("document.body.innerText")
            page.click("#update-dialog button[aria-label=Close]")
            page.gone("#update-dialog")
            return {"alerts": alerts, "before": before, "after": status(), "page": text}
        scenario("refused", refused)

        def update():
            local_change(status()["default_layer"])
            page.click("#update")
            page.type("#update-image", os.environ["IMAGE_B"])
            page.click("#update-plan-button")
            page.wait_for("#update-plan, #update-dialog .onode-error", timeout=1800)
            page.shot("update-plan")
            plan_text = page.texts("#update-plan")
            conflicts = page.texts("#etc-conflicts")
            if not plan_text:
                return {"errors": page.texts("#update-dialog .onode-error")}
            page.click("#update-confirm")
            seen = []
            deadline = time.time() + 2400
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
                        page.shot("update-progress")
                time.sleep(0.2)
            errors = page.texts("#update-dialog .onode-error")
            if errors:
                page.shot("update-failed")
                return {"plan": plan_text, "conflicts": conflicts, "progress": seen,
                        "errors": errors}
            page.wait_for("#notice", timeout=1800)
            page.wait_for("#layers tr[data-layer]:nth-child(2)", timeout=1800)
            page.wait_for("#health li[data-check]", timeout=1800)
            page.shot("overview-updated")
            return {"plan": plan_text, "conflicts": conflicts, "progress": seen,
                    "errors": errors, "notice": page.texts("#notice"),
                    "overview": page.overview(), "status": status()}
        scenario("update", update)

        def rollback():
            target = [layer["name"] for layer in status()["layers"] if not layer["default"]][0]
            page.click("#rollback")
            page.click(f"input[id='rollback-{target}']")
            page.shot("rollback-dialog")
            page.click("#confirm")
            page.wait_for("#notice", timeout=1800)
            page.gone("#confirm-dialog")
            page.wait(f"document.querySelector(\"tr[data-layer='{target}'] [data-flag=default]\")",
                      timeout=1800)
            page.wait_for("#health li[data-check]", timeout=1800)
            page.shot("rollback-done")
            return {"target": target, "notice": page.texts("#notice"),
                    "overview": page.overview(), "status": status()}
        scenario("rollback", rollback)

        def pin():
            layer = status()["default_layer"]
            page.click(f"tr[data-layer='{layer}'] .onode-pin")
            page.click("#confirm")
            page.wait_for(f"tr[data-layer='{layer}'] [data-flag=pinned]", timeout=1800)
            return {"layer": layer, "overview": page.overview(), "status": status()}
        scenario("pin", pin)

        def failing_check():
            sh("lvm", "lvchange", "--detachprofile", "onn/pool00")
            page.click("#refresh")
            page.wait_for("#health li[data-check=pool][data-status=failed]", timeout=1800)
            page.shot("health-failed")
            return {"overview": page.overview(), "cli": checks()}
        scenario("failing_check", failing_check)
    finally:
        page.close()
        server.terminate()
        server.wait()
    save()


if __name__ == "__main__":
    try:
        main()
    finally:
        sh("lvm", "vgchange", "-an", "onn", check=False)
        with open(os.path.join(OUT, "cockpit.done"), "w") as handle:
            handle.write("done\n")
    sys.exit(0)
