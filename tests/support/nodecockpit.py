"""The node's own Cockpit, reached from the host's Chromium the way an administrator does.

Why: an administrator opens https://NODE:9090, logs in with a password,
turns on administrative access and clicks; the page must live through the
reboot it causes. The VM has no network, so the node's sshd is joined to a
virtio-serial port (livenode.SSH_PORT) and the host runs `ssh -L` through it
(the ProxyCommand is vmports.py's relay). One port carries one stream; ssh
multiplexes the browser's many connections over it. cockpit-ws on the node
serves TLS with its own certificate; the browser is told to accept it.

The administrator is made at run time: a random password and a fresh key,
never in the image (the image has no password at all).
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time

from tests.support import vmports
from tests.support.cdp import Browser, BrowserError
from tests.support.vm import REPO

COCKPIT_PORT = 9090
PAGE_PATH = "/cockpit/@localhost/ovirt-node/index.html"
AXE = os.path.join(REPO, "data", "cockpit", "ovirt-node", "node_modules", "axe-core",
                   "axe.min.js")
SLOW = 1800     # seconds: anything the node does under TCG
SHELL_DIALOG = ".pf-c-modal-box"     # Cockpit 287's shell is PatternFly 4

# The load's parts (ms from navigation): until the node had served every file
# the page needed before it asked for status ("served"), the status call
# through the bridge and the CLI ("cli"), and the page's own work in between
# and after ("page"), all from the browser's own timing.
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

OVERVIEW = """(() => {
    const all = (css, f) => Array.from(document.querySelectorAll(css), f);
    const layers = {};
    for (const row of document.querySelectorAll('#layers tr[data-layer]'))
        layers[row.dataset.layer] = {
            flags: Array.from(row.querySelectorAll('[data-flag]'), el => el.dataset.flag),
            failed: Array.from(row.querySelectorAll('[data-failed-check]'),
                               el => [el.dataset.failedCheck, el.innerText]),
            text: row.innerText};
    const checks = {}, reasons = {};
    for (const item of document.querySelectorAll('#health li[data-check]')) {
        checks[item.dataset.check] = item.dataset.status;
        reasons[item.dataset.check] = item.innerText;
    }
    return {layers: layers, checks: checks, reasons: reasons,
            volumes: all('#volumes tr[data-volume]', el => el.innerText),
            pool: all('#pool .pf-v5-c-progress', el => el.innerText),
            marks: all('#pool .onode-mark', el => el.className.replace('onode-mark onode-mark-', '')
                       + ' ' + el.style.insetInlineStart),
            legends: all('#pool .onode-gauge-legend', el => el.innerText),
            vg_free: all('#vg-free', el => el.innerText),
            alerts: all('.pf-v5-c-alert', el => el.innerText),
            buttons: all('button', el => el.id || el.innerText),
            admin_required: !!document.querySelector('#admin-required'),
            dark: document.documentElement.classList.contains('pf-v5-theme-dark')};
})()"""


class Admin:
    """A non-root administrator (sudo group) made on the running node: password and key."""

    def __init__(self, node, work, name="nodeadmin", groups="sudo"):
        self.name = name
        self.password = secrets.token_urlsafe(12)
        self.key = os.path.join(work, f"{name}-key")
        if not os.path.exists(self.key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name,
                            "-f", self.key], check=True)
        with open(self.key + ".pub", encoding="utf-8") as handle:
            public = handle.read().strip()
        group = f"-G {groups} " if groups else ""
        node.sh(f"""set -e
id {name} >/dev/null 2>&1 || useradd -m -s /bin/bash {group}{name}
echo '{name}:{self.password}' | chpasswd
install -d -m 700 -o {name} -g {name} /home/{name}/.ssh
echo '{public}' > /home/{name}/.ssh/authorized_keys
chown {name}:{name} /home/{name}/.ssh/authorized_keys
chmod 600 /home/{name}/.ssh/authorized_keys""")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Tunnel:
    """ssh -L from a fixed loopback port to the node's Cockpit, over the ssh port.

    The port stays the same across reboots, so the page's origin (and the
    browser's stored state) survives a reconnect.
    """

    def __init__(self, node, admin, work):
        self.node = node
        self.admin = admin
        self.work = work
        self.port = free_port()
        self.process = None
        self.known_hosts = os.path.join(work, "known_hosts")

    def open(self, timeout=300):
        """(Re)start ssh once the node is up; wait until the forward answers."""
        self.close()
        # the node's own host key, read over the command port: verified, not ignored
        key = self.node.sh("cat /etc/ssh/ssh_host_ed25519_key.pub").split()
        with open(self.known_hosts, "w", encoding="utf-8") as handle:
            handle.write(f"node {key[0]} {key[1]}\n")
        relay = f"{sys.executable} {vmports.__file__} relay {self.node.ssh_socket_path}"
        log = open(os.path.join(self.work, "ssh.log"), "ab")      # pylint: disable=consider-using-with
        self.process = subprocess.Popen(
            ["ssh", "-N", "-i", self.admin.key, "-o", f"ProxyCommand={relay}",
             "-o", "HostKeyAlias=node", "-o", f"UserKnownHostsFile={self.known_hosts}",
             "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
             "-o", "ExitOnForwardFailure=yes", "-o", "ServerAliveInterval=5",
             "-o", "ServerAliveCountMax=3",
             "-L", f"127.0.0.1:{self.port}:127.0.0.1:{COCKPIT_PORT}",
             f"{self.admin.name}@node"], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("ssh to the node ended: " + self.log()[-2000:])
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.3)
        raise RuntimeError("the ssh forward never listened: " + self.log()[-2000:])

    def log(self):
        with open(os.path.join(self.work, "ssh.log"), "rb") as handle:
            return handle.read().decode("utf-8", "replace")

    def close(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Cockpit:
    """The host's Chromium on the node's Cockpit (through a Tunnel)."""

    def __init__(self, tunnel, artifacts, work):
        self.tunnel = tunnel
        self.artifacts = artifacts
        self.origin = f"https://127.0.0.1:{tunnel.port}"
        self.browser = Browser(log=open(os.path.join(work, "chromium.log"), "ab"),
                               extra_args=["--ignore-certificate-errors"])

    # --- what a user does
    def login(self, admin, path="/"):
        """Open PATH; log in on Cockpit's own login page (PAM) as ADMIN."""
        page = self.browser
        if path is not None:
            page.go(self.origin + path)
        page.wait_for("#login-user-input", timeout=SLOW)
        page.type("#login-user-input", admin.name)
        page.type("#login-password-input", admin.password)
        page.click("#login-button")
        page.wait("!document.querySelector('#login-user-input') || "
                  "document.querySelector('#login-error-message')?.innerText.trim()",
                  timeout=SLOW, what="the login to finish")
        if page.evaluate("!!document.querySelector('#login-user-input')"):
            raise AssertionError(f"the login failed: {page.texts('#login-error-message')}")

    def login_to_page(self, admin, path):
        """Log in again after a reboot and come back to the page's overview.

        Cockpit remembers administrative access per browser, so the page may
        come up with it or ask for it: turn it on when it asks."""
        self.login(admin, path=path)
        if self.browser.evaluate("!!document.querySelector('#admin-required')"):
            self.administrative_access(admin)
            self.open_page()
        self.wait_overview()

    def shell_button(self, text, timeout=SLOW):
        """Click the shell's button whose text is TEXT (the shell is Cockpit's, not ours)."""
        finder = (f"Array.from(document.querySelectorAll('button')).find(el => "
                  f"el.innerText.trim() === {json.dumps(text)} && el.getClientRects().length)")
        self.browser.wait(f"!!({finder})", timeout=timeout, what=f"the button {text!r}")
        self.browser.evaluate(f"({finder}).setAttribute('data-test-click', '1'); true")
        self.browser.click("button[data-test-click='1']")
        self.browser.evaluate("document.querySelectorAll('[data-test-click]').forEach("
                              "el => el.removeAttribute('data-test-click')); true")

    def administrative_access(self, admin):
        """Turn administrative access on as a user does: the shell's "Limited access" button,
        the password asked for by sudo, "Authenticate"."""
        page = self.browser
        page.go(self.origin + "/system")
        self.shell_button("Limited access")
        page.wait_for(f"{SHELL_DIALOG} input[type=password]", timeout=SLOW)
        page.type(f"{SHELL_DIALOG} input[type=password]", admin.password)
        self.shell_button("Authenticate")
        page.gone(SHELL_DIALOG, timeout=SLOW)
        page.wait("Array.from(document.querySelectorAll('button')).some(el => "
                  "el.innerText.trim() === 'Administrative access')", timeout=SLOW,
                  what="administrative access")

    def open_page(self):
        self.browser.go(self.origin + PAGE_PATH)

    def wait_overview(self):
        """Wait for the overview and its health checks; a load error or the
        limited-access state ends the wait at once, with what the page says."""
        page = self.browser
        settled = ("!!(document.querySelector('body[data-overview=shown] #health li[data-check]')"
                   " || document.querySelector('#load-error, #admin-required'))")
        try:
            page.wait(settled, timeout=SLOW, what="the overview")
        except BrowserError:
            self.shot("stuck")
            raise
        if page.evaluate("!!document.querySelector('#load-error, #admin-required')"):
            self.shot("stuck")
            raise AssertionError("the overview never showed: "
                                 + repr(page.evaluate("document.body.innerText")))

    # --- what a test reads
    def overview(self):
        return self.browser.evaluate(OVERVIEW)

    def timings(self):
        return self.browser.evaluate(TIMINGS)

    def axe(self):
        with open(AXE, encoding="utf-8") as handle:
            self.browser.evaluate(handle.read() + "; true")
        return self.browser.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
            "v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length})))")

    def shot(self, name):
        time.sleep(0.3)     # let transitions settle
        try:
            self.browser.screenshot(os.path.join(self.artifacts, f"cockpit-{name}.png"))
        except (BrowserError, OSError):
            pass

    def close(self):
        self.browser.close()
