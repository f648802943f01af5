"""The real node's whole life online, on its own disk: one story, its boots shared.

The node is the Debian image of squashfs-build/node/ (systemd, LVM, GRUB,
sshd, Cockpit and the ovirt-node .deb). It is installed with the CLI in a
virtme-ng VM (the host has no device-mapper), then booted from its disk by
firmware in qemu and driven over a virtio-serial command port while it runs
(tests/support/livenode.py). Everything below runs on the booted node, with
no --vg. The Cockpit parts use the node's own cockpit-ws on 9090 (TLS, its
own certificate), reached by the host's Chromium through `ssh -L` over a
virtio-serial port, logged in by PAM as a non-root administrator made at run
time (tests/support/nodecockpit.py).

 1. BIOS boot through the disk's GRUB: multi-user, health green, counter
    cleared; nodectl and os-release as oVirt's tools read them. Cockpit: the
    login, the page in limited access (nothing to click), administrative
    access turned on in the shell, the overview (timed, axe, dark), a refused
    update.
    Then what an administrator adds (tests/support/nodepackages.py): a vendor's
    .deb built on the node (a service and a driver file for the running
    kernel) installed, one of the image's packages purged, kernel arguments
    changed with `kargs`, files owned by the administrator's user; the dry
    run of the update to B says what it will reinstall and drop.
 2. Update to B by clicking (plan, streamed progress), an /etc edit after it,
    "Reboot now": the page waits, reloads by itself when the node is back,
    asks for the login; B runs, the edit was carried over at shutdown
    (finalize), health green, counter cleared. The vendor's package is
    installed and its service runs, the purged one stays purged, the local
    kernel arguments are on the new image's own, the files keep their owner.
 3. The fleet (tests/support/fleet.py): node2, a copy of the freshly
    installed disk, has booted beside node1. Real Ansible runs the
    collection's rolling update over both, over ssh through their ports, to
    C, whose own required check fails (one try): node1 reboots, comes up
    red, GRUB falls back to B by itself; the rollout stops there, naming
    node1 and the check, and node2 is untouched. The page shows C's red
    boot, the check's name and what it printed.
 4. Rollback to A by clicking, pin and unpin by clicking, "Reboot now": A runs.
    A driver for another kernel only is refused in preflight; a package whose
    reinstall fails stops the update to D before the switch, the node as it
    was.
 5. Power cuts (qemu killed) during an online update to D: in the deploy (the
    next boot by UEFI/OVMF), at the /etc merge and at the switch. Each time A
    boots, `check` names the leftovers; a second lifecycle command meanwhile
    is refused by the lock; then a re-run completes, and pin/gc keep what
    they must.

The story runs once (module fixture); the tests read what it recorded.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest

from tests.support.demo import demo_login
from tests.support.fleet import Fleet, recap
from tests.support import nodepackages
from tests.support.livenode import LiveNode
from tests.support.nodecockpit import PAGE_PATH, SLOW, Admin, Cockpit, Tunnel
from tests.support.node_images import (LAYERS, NODE_DIR, NVRS, images_disk, node_images,
                                       red_image)
from tests.support.vm import REPO, run_in_vm, sparse_disk

pytestmark = pytest.mark.vm
GiB = 1 << 30
IMAGES = "/run/node-images"
TRIES_C = 1
RED_CHECK = "50-test-storage-reachable.sh"
RED_MESSAGE = "storage domain not reachable"
INSTALL_GUEST = os.path.join(REPO, "tests", "vm", "guest_node_install.py")
ARTIFACTS = os.path.join(REPO, "out", "artifacts")
SHOTS = ["limited-access", "overview-fresh", "overview-dark", "update-refused", "update-plan",
         "update-progress", "update-done", "rebooting", "overview-updated", "health-red",
         "rollback-dialog", "rollback-rebooting", "rollback-done"]
NODECTL = [("nodectl_info", "info"), ("nodectl_check", "check"), ("nodectl_motd", "motd")]
ADMIN = "nodeadmin"                       # nodecockpit.Admin's default name
REMOVED_PACKAGE = "less"                  # of the image's, nothing needs it
LOCAL_KARG = "acme.debug=1"
DELETED_KARG = "console=tty0"             # of the image's own (rootfs/etc/kernel/cmdline)


def image_on_node(key):
    return f"{IMAGES}/{NVRS[key]}.squashfs"


class Story:
    """Runs the chapters in order; `facts` holds what each one saw."""

    def __init__(self, work, images):
        self.work = work
        self.images = images
        self.disk = sparse_disk(str(work / "node.img"), 32 * GiB)
        drive = images_disk(str(work / "images.img"), [images[key] for key in "BCD"])
        self.node = LiveNode(self.disk, str(work), drives=[drive])
        (work / "node2").mkdir()
        self.disk2 = str(work / "node2" / "node.img")
        self.node2 = LiveNode(self.disk2, str(work / "node2"), drives=[drive])
        self.facts = {}
        self.admin = self.tunnel = self.cockpit = self.admin2 = self.fleet = None

    def save(self):
        with open(self.work / "facts.json", "w", encoding="utf-8") as handle:
            json.dump(self.facts, handle, indent=1, default=str)

    def fact(self, name, value):
        self.facts[name] = value
        self.save()
        return value

    def record(self, name, *argv, timeout=1800, must=False):
        """Run ARGV on the node and keep {"rc", "stdout", "stderr"} as fact NAME.

        MUST: the story cannot go on without it, so a failure ends the story here.
        """
        result = self.fact(name, self.node.run(*argv, check=False, timeout=timeout))
        if must and result["rc"] != 0:
            raise AssertionError(f"{name}: rc {result['rc']}\n{result['stderr'][-3000:]}")
        return result

    def observe(self, name):
        """What every boot is asked: layer, system state, status, health, motd."""
        node = self.node
        return self.fact(name, {
            "layer": node.running_layer(),
            "status": node.json("ovirt-node", "status", "--json"),
            "health": json.loads(node.sh("cat /run/ovirt-node/health.json", check=False)
                                 or "null"),
            "units": node.sh("systemctl is-active ovirt-node-health.service "
                             "ovirt-node-boot-ok.service", check=False).split(),
            "motd": node.sh("cat /run/motd.d/ovirt-node-health", check=False),
            "boots": node.boots,
        })

    def lap(self, name):
        """Keep how long the story's part NAME took (since the last lap) as fact "laps"."""
        now = time.monotonic()
        laps = self.facts.setdefault("laps", [])
        laps.append([name, round(now - self._lap)])
        self._lap = now
        self.save()
        print(f"\nnode story: {name} {laps[-1][1]} s", flush=True)

    def mount_images(self, node=None):
        """The images disk, read-only at IMAGES on NODE (node1 by default)."""
        (node or self.node).sh(f"mkdir -p {IMAGES} && (mountpoint -q {IMAGES} || "
                               f"mount -o ro LABEL=node-images {IMAGES})")

    def run(self):
        started = self._lap = time.monotonic()
        install = run_in_vm(f'"{sys.executable}" "{INSTALL_GUEST}"\n', [self.disk],
                            str(self.work),
                            env={"IMAGE_A": self.images["A"], "LAYER_A": LAYERS["A"]})
        self.fact("install_vm_seconds", round(time.monotonic() - started))
        self.fact("install_vm_console", install.stdout[-3000:])
        assert (self.work / "install.done").exists(), (
            install.stdout[-3000:] + (self.work / "install.err").read_text()[-3000:])
        # node2 starts as node1 does: the same install, never booted yet
        subprocess.run(["cp", "--sparse=always", self.disk, self.disk2], check=True)
        self.lap("install VM")
        node = self.node
        try:
            self.chapters(node)
        finally:
            self.close_cockpit()
            if self.fleet:
                self.fleet.remove()
            node.kill()
            self.node2.kill()
            self.fact("timings", node.timings)
            print("\nnode story boots:", ", ".join(f"{what} {seconds:.0f} s"
                                                    for what, seconds in node.timings
                                                    + self.node2.timings))

    def chapters(self, node):
        # 1. first boot, BIOS; what oVirt's tools read; Cockpit's login and overview
        node.start("bios")
        self.fact("state_a", node.wait_booted(what="A (BIOS)"))
        self.observe("boot_a")
        self.oVirt_view()
        self.mount_images()
        self.fact("demo_login", demo_login(node, str(self.work)))
        self.lap("first boot, oVirt view, login")
        self.open_cockpit()
        self.first_look()
        # what the administrator adds to A, for the updates to carry (issue 17)
        self.lap("first look (Cockpit)")
        self.customize()
        self.lap("customize")
        # the fleet's second node, a copy of the freshly installed disk: it boots
        # while node1 updates (it is first needed in chapter 3)
        self.node2.start("bios")
        # 2. update to B by clicking, a late /etc edit, "Reboot now"
        self.update_by_clicking()
        self.lap("update B by clicking")
        self.fact("status_after_update_b", node.json("ovirt-node", "status", "--json"))
        node.sh("echo edited-after-the-update > /etc/ovirt-node-test/late.conf && "
                "echo node-renamed-late > /etc/hostname && rm -f /etc/hosts.allow")
        self.reboot_by_clicking("B", "rebooting", "overview-updated")
        self.observe("boot_b")
        self.fact("late_edit", node.sh("cat /etc/ovirt-node-test/late.conf /etc/hostname; "
                                       "ls /etc/hosts.allow 2>&1", check=False))
        self.fact("finalize_journal", node.sh("journalctl -b -1 -u ovirt-node-finalize "
                                              "--no-pager -o cat", check=False))
        self.fact("carried_b", self.customizations())
        self.lap("reboot to B, carried")
        # 3. a rolling update (real Ansible, the collection's role) over both nodes to
        # C, whose own required check fails: node1 comes up red and GRUB falls back
        # by itself; the rollout stops there and node2 is untouched
        self.boot_node2()
        self.lap("node2 boots")
        self.rollout_red()
        self.lap("red rollout (Ansible): C red, fallback to B")
        boots = node.boots
        self.observe("boot_fallback")
        self.red_boot_shown()
        self.fact("stayed", {"boots_before": boots, "boot_id_same":
                             node.run("cat", "/proc/sys/kernel/random/boot_id")["stdout"].strip()
                             == node.boot_id})
        self.fact("health_record", json.loads(node.sh("cat /boot/ovirt-node/health.json",
                                                      check=False) or "null"))
        self.mount_images()
        self.record("reuse_bad", "ovirt-node", "update", "--image", image_on_node("C"), "--yes")
        self.fact("lvs_after_refusal", node.sh("lvm lvs --noheadings -o lv_name onn | sort"))
        self.lap("red boot shown, reuse refused")
        # 4. rollback to A, pin and unpin, by clicking; "Reboot now"
        self.rollback_by_clicking()
        self.reboot_by_clicking("A", "rollback-rebooting", "rollback-done")
        self.observe("boot_rollback")
        self.close_cockpit()
        # packages an update cannot carry: refused before anything is written, or
        # before the switch
        self.lap("rollback by clicking and reboot")
        self.refused_packages()
        self.lap("refused packages")
        # 5. power cuts during an online update to D (the first boot after one by UEFI)
        self.power_cut(node, "deploy", "", firmware="uefi")
        self.lap("power cut deploy")
        self.power_cut(node, "etc", "etc")
        self.lap("power cut etc")
        self.power_cut(node, "switch", "switch")
        self.lap("power cut switch")
        self.mount_images()
        self.record("update_d", "ovirt-node", "update", "--image", image_on_node("D"),
                    "--yes", "--json")
        self.record("check_d", "ovirt-node", "check", "--json")
        self.record("pin", "ovirt-node", "pin", LAYERS["B"], "--yes")
        self.record("gc", "ovirt-node", "gc", "--keep", "1", "--yes", "--json")
        self.fact("status_end", node.json("ovirt-node", "status", "--json"))
        self.record("unpin", "ovirt-node", "unpin", LAYERS["B"], "--yes")
        self.lap("pin, gc")

    # --- the fleet: two nodes, real Ansible, the collection's rolling update (issue 18)
    def boot_node2(self):
        """Wait for node2's first boot (started in chapter 1); its administrator, its
        images; the fleet's inventory of both nodes."""
        node2 = self.node2
        self.fact("node2_state", node2.wait_booted(what="node2 A (BIOS)"))
        self.admin2 = Admin(node2, str(self.work / "node2"))
        self.mount_images(node2)
        self.fleet = Fleet({"node1": (self.node, self.admin), "node2": (node2, self.admin2)},
                           str(self.work / "fleet"))

    def nodes_seen(self, name):
        """Each node's boot, layer and status, as fact NAME."""
        return self.fact(name, {
            key: {"boot_id": node.run("cat", "/proc/sys/kernel/random/boot_id")["stdout"].strip(),
                  "layer": node.running_layer(),
                  "status": node.json("ovirt-node", "status", "--json")}
            for key, node in (("node1", self.node), ("node2", self.node2))})

    def rollout_red(self):
        """The role over node1 then node2, to C (its required check fails), 1 try."""
        node = self.node
        self.mount_images()
        self.nodes_seen("fleet_red_before")
        self.tunnel.close()                   # node1's ssh port is Ansible's meanwhile
        self.fact("fleet_red", self.fleet.rolling_update(
            {"rolling_update_image": image_on_node("C"), "rolling_update_tries": TRIES_C},
            "rollout-red"))
        node._disconnect()                    # pylint: disable=protected-access
        self.fact("fleet_red_state", node.wait_booted(what="B after the red rollout"))
        self.fact("fallback_boots", [
            node.sh(f"journalctl -b {offset} -k -o cat --no-pager | "
                    "grep -m1 -o 'img.bootid=[^ ]*'", check=False).strip().split("=", 1)[-1]
            for offset in ("-1", "0")])
        self.nodes_seen("fleet_red_after")

    # --- what the administrator adds, and the updates carry (issue 17)
    def customize(self):
        """On A: a vendor's package in, one of the image's out, kernel arguments changed,
        files the administrator owns; then what an update to B would do (--dry-run)."""
        node = self.node
        kver, module = nodepackages.build(node)
        self.fact("custom_kernel", {"kver": kver, "module": module})
        self.record("custom_install", "dpkg", "-i", nodepackages.deb(nodepackages.AGENT),
                    must=True)
        self.record("custom_remove", "dpkg", "--purge", REMOVED_PACKAGE, must=True)
        self.record("custom_kargs", "ovirt-node", "kargs", "--append", LOCAL_KARG,
                    "--delete", DELETED_KARG, "--yes", "--json", must=True)
        self.fact("custom_owner_ids", node.sh(f"id -u {ADMIN}; id -g {ADMIN}").split())
        node.sh(f"""set -e
install -d -o {ADMIN} -g {ADMIN} /var/lib/acme-agent /etc/acme-agent
echo 'state the agent keeps' > /var/lib/acme-agent/state
echo 'interval=5' > /etc/acme-agent/local.conf
chown {ADMIN}:{ADMIN} /var/lib/acme-agent/state /etc/acme-agent/local.conf""")
        self.fact("custom_a", self.customizations())
        self.mount_images()
        self.record("custom_dry_run", "ovirt-node", "update", "--image", image_on_node("B"),
                    "--dry-run", "--json")

    def customizations(self):
        """What the running layer shows of customize()'s changes."""
        node = self.node
        return {
            "agent": node.sh(f"dpkg-query -W -f='${{Status}} ${{Version}}' "
                             f"{nodepackages.AGENT}", check=False),
            "agent_active": node.sh(f"systemctl is-active {nodepackages.AGENT}.service",
                                    check=False).strip(),
            "agent_enabled": node.sh(f"systemctl is-enabled {nodepackages.AGENT}.service",
                                     check=False).strip(),
            "module": node.sh("ls /lib/modules/$(uname -r)/extra/", check=False).split(),
            "removed": node.run("dpkg-query", "-W", "-f=${Status}", REMOVED_PACKAGE,
                                check=False),
            "cmdline": node.sh("cat /proc/cmdline").split(),
            "kargs": node.json("ovirt-node", "kargs", "--json"),
            "owners": node.sh(f"stat -c '%U:%G %n' /home/{ADMIN}/.ssh/authorized_keys "
                              "/var/lib/acme-agent/state /etc/acme-agent/local.conf",
                              check=False).splitlines(),
            "ids": node.sh(f"id -u {ADMIN}; id -g {ADMIN}", check=False).split(),
        }

    def refused_packages(self):
        """On A again: a driver for another kernel only, then a package whose reinstall
        fails; each update to D is refused and leaves the node as it was."""
        node = self.node
        self.mount_images()
        self.record("kmod_install", "dpkg", "-i", nodepackages.deb(nodepackages.OLD_KMOD),
                    must=True)
        before = self.disk_state()
        self.record("kmod_update", "ovirt-node", "update", "--image", image_on_node("D"),
                    "--yes", "--json")
        self.fact("kmod_unchanged", self.disk_state() == before)
        self.record("kmod_purge", "dpkg", "--purge", nodepackages.OLD_KMOD, must=True)
        self.record("broken_install", "dpkg", "-i", nodepackages.deb(nodepackages.BROKEN),
                    must=True)
        node.sh(f"mkdir -p $(dirname {nodepackages.BROKEN_MARKER}) && "
                f"touch {nodepackages.BROKEN_MARKER}")
        before = self.disk_state()
        self.record("broken_update", "ovirt-node", "update", "--image", image_on_node("D"),
                    "--yes", "--json")
        after = self.disk_state()
        self.fact("broken_disk", {"before": before, "after": after})
        self.fact("broken_running", node.running_layer())
        self.record("broken_purge", "dpkg", "--purge", nodepackages.BROKEN, must=True)
        node.sh(f"rm -rf $(dirname {nodepackages.BROKEN_MARKER})")

    def disk_state(self):
        """What an update that stopped must leave as it was: the volumes, the boot
        files, the boot default."""
        node = self.node
        return {"lvs": node.sh("lvm lvs --noheadings -o lv_name,lv_size onn | sort"),
                "boot": node.sh("cd /boot && find . -type f ! -name '*.log' | sort | "
                                "xargs sha256sum"),
                "default": node.json("ovirt-node", "status", "--json")["default_layer"]}

    # --- what oVirt's own tools read
    def oVirt_view(self):            # pylint: disable=invalid-name
        node = self.node
        for name, command in NODECTL:
            self.record(name, "nodectl", "--machine-readable", command)
        self.record("nodectl_check_text", "nodectl", "check")
        self.record("nodectl_version", "nodectl", "--version")
        self.fact("login_banner", node.sh("sh /etc/profile.d/nodectl-motd.sh", check=False))
        self.fact("os_release", node.sh("cat /etc/os-release"))
        self.fact("image_updated_before", node.sh("ls /var/imgbased/.image-updated 2>&1",
                                                  check=False))

    # --- Cockpit
    def open_cockpit(self):
        os.makedirs(ARTIFACTS, exist_ok=True)
        for old in os.listdir(ARTIFACTS):
            if old.startswith("cockpit-"):
                os.unlink(os.path.join(ARTIFACTS, old))
        self.admin = Admin(self.node, str(self.work))
        self.tunnel = Tunnel(self.node, self.admin, str(self.work))
        self.tunnel.open()
        self.cockpit = Cockpit(self.tunnel, ARTIFACTS, str(self.work))

    def close_cockpit(self):
        if self.cockpit:
            self.cockpit.close()
        if self.tunnel:
            self.tunnel.close()
        self.cockpit = self.tunnel = None

    def first_look(self):
        web, page = self.cockpit, self.cockpit.browser
        started = time.monotonic()
        web.login(self.admin)
        self.fact("login_seconds", time.monotonic() - started)
        # limited access first: the page can read nothing and offers nothing
        web.open_page()
        page.wait_for("#admin-required", timeout=SLOW)
        web.shot("limited-access")
        self.fact("limited", web.overview())
        web.administrative_access(self.admin)
        web.open_page()
        web.wait_overview()
        self.fact("load_timings", web.timings())
        web.shot("overview-fresh")
        self.fact("fresh", web.overview())
        self.fact("fresh_status", self.node.json("ovirt-node", "status", "--json"))
        self.fact("fresh_checks", self.node.json("ovirt-node", "check", "--json"))
        self.fact("axe", web.axe())
        page.send("Emulation.setEmulatedMedia", features=[
            {"name": "prefers-color-scheme", "value": "dark"}])
        page.wait("document.documentElement.classList.contains('pf-v5-theme-dark')")
        web.shot("overview-dark")
        self.fact("dark", {"overview": web.overview(), "axe": web.axe()})
        page.send("Emulation.setEmulatedMedia", features=[
            {"name": "prefers-color-scheme", "value": "light"}])
        # a refused update: one alert, nothing changed
        self.node.sh("head -c 262144 /dev/urandom > /var/tmp/random.squashfs")
        # what a refused update could change (status's use figures move on their own)
        before = self.disk_state()
        page.click("#update")
        page.type("#update-image", "/var/tmp/random.squashfs")
        page.click("#update-plan-button")
        page.wait_for("#update-dialog .onode-error", timeout=SLOW)
        web.shot("update-refused")
        self.fact("refused", {"alerts": page.texts(".pf-v5-c-alert"),
                              "text": page.evaluate("document.body.innerText")})
        page.click("#update-dialog button[aria-label=Close]")
        page.gone("#update-dialog")
        self.fact("refused_unchanged", self.disk_state() == before)

    def update_by_clicking(self):
        web, page = self.cockpit, self.cockpit.browser
        page.click("#update")
        page.type("#update-image", image_on_node("B"))
        page.click("#update-plan-button")
        page.wait_for("#update-plan, #update-dialog .onode-error", timeout=SLOW)
        web.shot("update-plan")
        self.fact("plan", {"errors": page.texts("#update-dialog .onode-error"),
                           "plan": page.texts("#update-plan")})
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
                    web.shot("update-progress")
            time.sleep(0.2)
        self.fact("progress", seen)
        self.fact("update_errors", page.texts("#update-dialog .onode-error"))
        page.wait_for("#notice #reboot", timeout=SLOW)
        page.wait_for("#layers tr[data-layer]:nth-child(2)", timeout=SLOW)
        web.shot("update-done")
        self.fact("updated", web.overview())

    def reboot_by_clicking(self, key, shot_rebooting, shot_back):
        """"Reboot now" on the page; the node boots KEY; the page comes back by itself."""
        web, page, node = self.cockpit, self.cockpit.browser, self.node
        page.click("#notice #reboot")
        page.wait_for("#rebooting", timeout=SLOW)
        web.shot(shot_rebooting)
        self.fact(f"rebooting_{key}", page.texts("#rebooting"))
        node._disconnect()                    # pylint: disable=protected-access
        self.fact(f"state_{key.lower()}_reboot", node.wait_booted(what=f"{key} (Reboot now)"))
        self.fact(f"waiting_{key}", page.evaluate(
            "(el => el && [el.dataset.phase, el.innerText])(document.querySelector('#rebooting'))"))
        self.tunnel.open()
        # the page reloads itself once the node answers: Cockpit asks for the login
        page.wait_for("#login-user-input", timeout=SLOW)
        self.fact(f"reconnected_{key}", page.evaluate("window.location.pathname"))
        web.login_to_page(self.admin, path=None)
        web.shot(shot_back)
        self.fact(f"back_{key}", {"overview": web.overview(),
                                  "path": page.evaluate("window.location.pathname")})

    def red_boot_shown(self):
        web = self.cockpit
        self.tunnel.open()
        web.login_to_page(self.admin, path=PAGE_PATH)
        web.browser.wait_for(f"tr[data-layer='{LAYERS['C']}'] [data-failed-check]",
                             timeout=SLOW)
        web.shot("health-red")
        self.fact("red_shown", web.overview())

    def rollback_by_clicking(self):
        """Pin and unpin A, then roll back to it (whose notice offers the reboot)."""
        web, page = self.cockpit, self.cockpit.browser
        row = f"tr[data-layer='{LAYERS['A']}']"
        page.click(f"{row} .onode-pin")
        page.click("#confirm")
        page.wait_for(f"{row} [data-flag=pinned]", timeout=SLOW)
        self.fact("pinned_by_click", self.node.json("ovirt-node", "status", "--json")["pinned"])
        page.click(f"{row} .onode-pin")
        page.click("#confirm")
        page.gone(f"{row} [data-flag=pinned]", timeout=SLOW)
        self.fact("unpinned_by_click", self.node.json("ovirt-node", "status", "--json")["pinned"])
        page.click("#rollback")
        page.click(f"input[id='rollback-{LAYERS['A']}']")
        web.shot("rollback-dialog")
        page.click("#confirm")
        page.wait_for("#notice #reboot", timeout=SLOW)
        page.gone("#confirm-dialog")
        page.wait_for(f"{row} [data-flag=default]", timeout=SLOW)
        self.fact("rolled_back", {"overview": web.overview(),
                                  "status": self.node.json("ovirt-node", "status", "--json")})

    def power_cut(self, node, name, stop_before, firmware="bios"):
        """Start an update to D, cut the power in it, boot again, look."""
        self.mount_images()
        env = f"OVIRT_NODE_STOP_BEFORE={stop_before} " if stop_before else ""
        log = f"/var/tmp/update-{name}.log"
        node.sh(f"{env}setsid ovirt-node update --image {image_on_node('D')} --yes --json "
                f"> {log} 2>&1 < /dev/null &")
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            events = [json.loads(line) for line in node.sh(f"cat {log}").splitlines()
                      if line.startswith("{")]
            if stop_before:
                reached = any(event.get("event") == "step" and event.get("step") == stop_before
                              for event in events)
            else:
                reached = any(event.get("event") == "progress" and event.get("step") == "base"
                              and 0 < event.get("done", 0) for event in events)
            if reached:
                break
            time.sleep(1)
        else:
            raise AssertionError(f"the update never reached {name}: {node.sh(f'cat {log}')}")
        if stop_before:
            self.record(f"locked_{name}", "ovirt-node", "rollback", "--to", LAYERS["B"],
                        "--yes")
        self.fact(f"cut_{name}_log", node.sh(f"cat {log}"))
        node.kill()
        node.start(firmware)
        self.fact(f"state_cut_{name}", node.wait_booted(what=f"A ({firmware}) after a cut at {name}"))
        self.observe(f"boot_cut_{name}")
        self.record(f"check_cut_{name}", "ovirt-node", "check", "--json")


@pytest.fixture(scope="module")
def story():
    # A folder of its own, not pytest's tmp (which keeps only the last 3 runs'):
    # the console log and facts.json stay for whoever reads a failure.
    work = pathlib.Path(NODE_DIR, "story")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.monotonic()
    images = node_images()
    # C is the bad release: its own required check fails (tests/support/node_images.py)
    images["C"] = red_image("C", RED_CHECK, RED_MESSAGE)
    print(f"\nnode story: node images {time.monotonic() - started:.0f} s", flush=True)
    run = Story(work, images)
    run.run()
    return run


def fact(story, name):
    return story.facts[name]


def ok(story, name):
    result = fact(story, name)
    assert result["rc"] == 0, f"{name}: rc {result['rc']}\n{result['stderr'][-3000:]}"
    return result


def last_json(result):
    return json.loads([line for line in result["stdout"].splitlines() if line][-1])


def checks(result):
    return {item["name"]: item for item in last_json(result)["checks"]}


def layer_of(status, name):
    return next(layer for layer in status["layers"] if layer["name"] == name)


def test_the_first_boot_reaches_multi_user_with_health_green(story):
    boot = fact(story, "boot_a")
    assert fact(story, "state_a") == "running", boot
    assert boot["layer"] == LAYERS["A"]
    assert boot["health"]["status"] == "green", boot["health"]
    assert boot["units"] == ["active", "active"]
    assert boot["motd"].strip() == "node status: OK"
    assert boot["status"]["boot_counter"] is None
    assert boot["status"]["last_known_good"] == LAYERS["A"]


def test_an_update_by_clicking_streams_progress_and_switches_last(story):
    assert not fact(story, "plan")["errors"] and NVRS["B"] in fact(story, "plan")["plan"][0]
    assert not fact(story, "update_errors")
    seen = fact(story, "progress")
    assert len({title for title, _ in seen}) > 1, seen            # steps streamed in
    assert max(float(value) for _, value in seen if value) > 0, seen
    layers = fact(story, "updated")["layers"]
    assert list(layers) == [LAYERS["A"], LAYERS["B"]]
    assert "default" in layers[LAYERS["B"]]["flags"] and "running" in layers[LAYERS["A"]]["flags"]
    after = fact(story, "status_after_update_b")
    assert after["default_layer"] == LAYERS["B"] and after["boot_counter"] == "3"
    assert layer_of(after, LAYERS["A"])["running"]


def test_reboot_now_and_the_page_comes_back_by_itself_on_the_new_layer(story):
    assert "Rebooting" in fact(story, "rebooting_B")[0]
    phase, text = fact(story, "waiting_B")
    assert phase == "away" and "Waiting for the node" in text, (phase, text)
    assert fact(story, "reconnected_B").endswith("/ovirt-node/index.html")
    back = fact(story, "back_B")["overview"]
    assert "running" in back["layers"][LAYERS["B"]]["flags"]
    assert back["checks"]["tags"] == "ok"
    boot = fact(story, "boot_b")
    assert fact(story, "state_b_reboot") == "running", boot
    assert boot["layer"] == LAYERS["B"]
    assert boot["health"]["status"] == "green"
    assert boot["status"]["boot_counter"] is None
    assert boot["status"]["last_known_good"] == LAYERS["B"]


def test_etc_edits_made_after_the_update_reach_the_new_layer(story):
    seen = fact(story, "late_edit").splitlines()
    assert seen[:2] == ["edited-after-the-update", "node-renamed-late"], seen
    assert "No such file" in seen[2]


def test_a_rolling_update_to_a_red_image_stops_at_the_first_node_and_names_it(story):
    result = fact(story, "fleet_red")
    output = result["output"]
    assert result["rc"] != 0, output[-4000:]
    assert "Traceback" not in output
    # (the message is folded over lines)
    stop = re.search(r"node1: \S+\s+(came\s+up\s+red|failed\s+to\s+boot\s+and\s+the\s+"
                     r"node\s+fell\s+back\s+by\s+itself)\s+\(failed:\s+([^)]*)\);\s+the\s+"
                     r"node\s+is\s+back\s+on\s+(\S+);\s+the\s+rollout\s+stops\s+here", output)
    assert stop, output[-4000:]
    assert RED_CHECK in stop.group(2) and stop.group(3) == LAYERS["B"], stop.group(0)
    counters = recap(output)
    assert counters["node1"]["failed"] >= 1, counters
    assert counters.get("node2", {}).get("changed", 0) == 0, counters
    before, after = fact(story, "fleet_red_before"), fact(story, "fleet_red_after")
    # the second node is untouched: the same boot, the same layers and default
    assert after["node2"]["boot_id"] == before["node2"]["boot_id"]
    assert after["node2"]["layer"] == LAYERS["A"]
    for key in ("default_layer", "bad"):
        assert after["node2"]["status"][key] == before["node2"]["status"][key], key
    assert [layer["name"] for layer in after["node2"]["status"]["layers"]] == \
        [layer["name"] for layer in before["node2"]["status"]["layers"]]
    # the first is back on its previous layer, C marked bad
    assert after["node1"]["layer"] == LAYERS["B"]
    assert after["node1"]["status"]["default_layer"] == LAYERS["B"]
    assert LAYERS["C"] in after["node1"]["status"]["bad"]


def test_a_red_boot_reboots_by_itself_and_falls_back_for_good(story):
    # C's one try, then GRUB's fallback to B
    assert fact(story, "fallback_boots") == [LAYERS["C"], LAYERS["B"]]
    boot = fact(story, "boot_fallback")
    assert boot["layer"] == LAYERS["B"] and boot["health"]["status"] == "green"
    assert boot["status"]["bad"] == [LAYERS["C"]]
    assert boot["status"]["default_layer"] == LAYERS["B"]
    assert boot["status"]["boot_counter"] is None
    assert fact(story, "stayed")["boot_id_same"]
    red = fact(story, "health_record")[LAYERS["C"]]
    assert red["status"] == "red"
    assert [item["name"] for item in red["failed"]] == [RED_CHECK]
    assert "storage domain not reachable" in red["failed"][0]["output"]


def test_a_refused_online_update_leaves_nothing_behind(story):
    refused = fact(story, "reuse_bad")
    assert refused["rc"] == 1 and "--force" in refused["stderr"]
    assert "Traceback" not in refused["stderr"]
    lvs = fact(story, "lvs_after_refusal").split()
    assert sorted(lvs) == sorted(
        ["pool00", "var", "var_log", "var_log_audit", "var_tmp", "var_crash", "home", "tmp",
         "swap"] + [NVRS[key] for key in "ABC"] + [LAYERS[key] for key in "ABC"]) or \
        len([name for name in lvs if name.startswith("ovirt-node-ng")]) == 6, lvs


def test_a_rollback_by_clicking_then_reboot_now_brings_back_the_previous_layer(story):
    rolled = fact(story, "rolled_back")
    assert rolled["status"]["default_layer"] == LAYERS["A"]
    assert "default" in rolled["overview"]["layers"][LAYERS["A"]]["flags"]
    assert "default" not in rolled["overview"]["layers"][LAYERS["B"]]["flags"]
    boot = fact(story, "boot_rollback")
    assert fact(story, "state_a_reboot") == "running", boot
    assert boot["layer"] == LAYERS["A"] and boot["health"]["status"] == "green"
    assert "running" in fact(story, "back_A")["overview"]["layers"][LAYERS["A"]]["flags"]


def test_pin_and_unpin_by_clicking(story):
    assert fact(story, "pinned_by_click") == [LAYERS["A"]]
    assert fact(story, "unpinned_by_click") == []


def test_a_uefi_boot_after_a_power_cut(story):
    assert "===== power on (uefi) =====" in story.node.console()
    assert fact(story, "boot_cut_deploy")["layer"] == LAYERS["A"]


@pytest.mark.parametrize("cut,left", [("deploy", [NVRS["D"]]),
                                      ("etc", [NVRS["D"], LAYERS["D"]]),
                                      ("switch", [NVRS["D"], LAYERS["D"]])])
def test_a_power_cut_during_an_update_leaves_the_old_layer_booting(story, cut, left):
    boot = fact(story, f"boot_cut_{cut}")
    assert boot["layer"] == LAYERS["A"], boot
    assert boot["health"]["status"] == "green"
    assert boot["status"]["default_layer"] == LAYERS["A"]
    orphans = checks(fact(story, f"check_cut_{cut}"))["orphans"]
    assert orphans["status"] == "failed"
    for name in left:
        assert f"LV onn/{name}" in orphans["reason"], orphans


@pytest.mark.parametrize("cut", ["etc", "switch"])
def test_a_second_lifecycle_command_is_refused_by_the_lock(story, cut):
    refused = fact(story, f"locked_{cut}")
    assert refused["rc"] == 1
    assert "another ovirt-node command is running (update" in refused["stderr"]


def test_a_re_run_completes_and_gc_keeps_the_running_and_pinned_layers(story):
    ok(story, "update_d")
    assert checks(fact(story, "check_d"))["orphans"]["status"] == "ok"
    ok(story, "pin")
    removed = last_json(ok(story, "gc"))
    end = fact(story, "status_end")
    assert end["default_layer"] == LAYERS["D"]
    bases = {base["name"] for base in end["bases"]}
    assert {NVRS["A"], NVRS["B"], NVRS["D"]} <= bases      # running, pinned, default
    assert NVRS["C"] not in bases, removed
    ok(story, "unpin")


# --- Cockpit, served by the node

def test_make_demos_login_is_made_at_run_time_and_logs_in_to_cockpit(story):
    shown = fact(story, "demo_login")
    assert shown.startswith("DEMO ONLY, made now on the running node, never in the image: "
                            "the sudo user demoadmin, password "), shown
    assert re.search(r"/cockpit/login through ssh -L 127\.0\.0\.1:\d+: HTTP 200: logged in$",
                     shown), shown


def test_limited_access_shows_cockpits_state_and_no_action(story):
    limited = fact(story, "limited")
    assert limited["admin_required"] and not limited["layers"]
    assert not {"update", "rollback", "gc", "reboot"} & set(limited["buttons"]), limited


def test_fresh_overview_shows_the_installed_node(story):
    shown, status = fact(story, "fresh"), fact(story, "fresh_status")
    assert list(shown["layers"]) == [LAYERS["A"]]
    flags = shown["layers"][LAYERS["A"]]["flags"]
    assert {"default", "running"} <= set(flags) and "bad" not in flags
    text = shown["layers"][LAYERS["A"]]["text"]
    assert NVRS["A"] in text
    assert status["layers"][0]["kernels"][0] in text
    assert status["layers"][0]["os_release"]["PRETTY_NAME"] in text
    assert len(shown["volumes"]) == len(status["volumes"])
    assert any(row.startswith("/var/log/audit") for row in shown["volumes"]), shown["volumes"]
    # the profile's autoextend, and where check warns and fails, on data and metadata
    pool = status["pool"]
    marks = ["autoextend 70%", f"warning {pool['warn_percent']:g}%",
             f"failure {pool['fail_percent']:g}%"]
    assert len(shown["pool"]) == 2 and shown["marks"] == marks * 2, shown["marks"]
    assert all(f"Fails at {pool['fail_percent']:g} %" in legend and
               f"Warning at {pool['warn_percent']:g} %" in legend
               for legend in shown["legends"]), shown["legends"]
    assert re.match(r"[0-9.]+ [KMGTP]?i?B \((too little: )?one autoextend needs "
                    r"[0-9.]+ [KMGTP]?i?B\)$", shown["vg_free"][0]), shown["vg_free"]
    cli = {item["name"]: item["status"] for item in fact(story, "fresh_checks")["checks"]}
    assert shown["checks"] == cli
    assert not shown["alerts"] and not shown["dark"]


def test_overview_loads_with_the_pages_part_under_a_second(story):
    timings = fact(story, "load_timings")
    print("page load on the node (ms):", timings)
    assert {"index.html", "index.js", "index.css", "cockpit.js"} <= set(timings["files"])
    assert timings["cli"] > 0 and timings["served"] > 0
    assert timings["page"] < 1000, timings


def test_axe_finds_no_serious_violation_light_or_dark(story):
    for violations in (fact(story, "axe"), fact(story, "dark")["axe"]):
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not serious, serious
    assert fact(story, "dark")["overview"]["dark"]


def test_a_refused_update_is_one_alert_and_changes_nothing(story):
    refused = fact(story, "refused")
    assert len(refused["alerts"]) == 1 and "ovirt-node: error:" in refused["alerts"][0]
    assert "Traceback" not in refused["text"] and 'File "' not in refused["text"]
    assert fact(story, "refused_unchanged")


def test_the_page_shows_the_red_boot_with_the_check_and_its_output(story):
    row = fact(story, "red_shown")["layers"][LAYERS["C"]]
    assert "bad" in row["flags"] and "red-boot" in row["flags"], row
    [(name, text)] = row["failed"]
    assert name == RED_CHECK and "storage domain not reachable" in text


def test_screenshots_saved(story):
    missing = [shot for shot in SHOTS
               if not os.path.exists(os.path.join(ARTIFACTS, f"cockpit-{shot}.png"))]
    assert not missing


# --- what oVirt's tools read

def test_nodectl_speaks_cockpit_ovirts_json_on_the_node(story):
    info = last_json(ok(story, "nodectl_info"))
    assert info["current_layer"] == LAYERS["A"]
    assert info["layers"] == {NVRS["A"]: [LAYERS["A"]]}
    entries = info["bootloader"]["entries"]
    assert info["bootloader"]["default"] in entries
    for title, entry in entries.items():
        assert "node" in title.lower() and f"img.bootid={LAYERS['A']}" in entry["args"]
        assert {"index", "kernel", "args", "root", "initrd", "title", "blsid"} <= set(entry)
        assert all(isinstance(value, str) for value in entry.values())
    check = last_json(fact(story, "nodectl_check"))
    assert check["status"] == "ok", check
    assert {"bootloader", "mount_points", "basic_storage", "thin_storage"} <= set(check)
    assert last_json(fact(story, "nodectl_motd"))["node_status"].lower() == "ok"
    text = fact(story, "nodectl_check_text")["stdout"]
    assert text.startswith("Status: OK") and "Bootloader ... OK" in text, text
    assert fact(story, "nodectl_version")["stdout"].strip().startswith("nodectl")
    assert "node status: OK" in fact(story, "login_banner")


def test_the_engine_sees_an_ovirt_node(story):
    assert 'VARIANT_ID="ovirt-node"' in fact(story, "os_release")
    assert "No such file" in fact(story, "image_updated_before")


def by_name(changes):
    return {item["name"]: item for item in changes}


def test_the_dry_run_says_what_the_update_reinstalls_and_drops(story):
    plan = last_json(ok(story, "custom_dry_run"))["plan"]
    changes = by_name(plan["packages"]["changes"])
    agent = changes[nodepackages.AGENT]
    # a vendor's .deb in no apt cache: rebuilt from its installed files
    assert (agent["action"], agent["version"], agent["source"]) == ("install", "1.0",
                                                                     "rebuilt"), agent
    assert changes[REMOVED_PACKAGE]["action"] == "remove", changes
    assert agent["reason"] and changes[REMOVED_PACKAGE]["reason"]
    assert plan["kernel_modules"]["refused"] == [], plan["kernel_modules"]


def test_packages_the_administrator_added_and_removed_survive_the_update(story):
    a, b = fact(story, "custom_a"), fact(story, "carried_b")
    assert a["agent"] == "install ok installed 1.0", a
    # in B: the package is installed, its service enabled and running, its
    # driver file there; the image's package removed on A stays removed
    assert b["agent"] == "install ok installed 1.0", b
    assert (b["agent_enabled"], b["agent_active"]) == ("enabled", "active"), b
    assert any(name.startswith("acme_agent.ko") for name in b["module"]), b["module"]
    assert not b["removed"]["stdout"].startswith("install ok installed"), b["removed"]
    persisted = by_name(layer_of(fact(story, "status_after_update_b"),
                                 LAYERS["B"])["persisted"])
    assert persisted[nodepackages.AGENT]["action"] == "install", persisted
    assert persisted[REMOVED_PACKAGE]["action"] == "remove", persisted


def test_local_kernel_arguments_survive_with_the_new_images_own(story):
    changed = last_json(ok(story, "custom_kargs"))
    assert changed["local"] == {"added": [LOCAL_KARG], "removed": [DELETED_KARG]}, changed
    b = fact(story, "carried_b")
    assert LOCAL_KARG in b["cmdline"] and DELETED_KARG not in b["cmdline"], b["cmdline"]
    image = b["kargs"]["image"]
    assert DELETED_KARG in image and all(arg in b["cmdline"] for arg in image
                                         if arg != DELETED_KARG), (image, b["cmdline"])
    assert b["kargs"]["local"] == {"added": [LOCAL_KARG], "removed": [DELETED_KARG]}, b["kargs"]
    status = layer_of(fact(story, "status_after_update_b"), LAYERS["B"])
    assert status["kargs"]["local"] == b["kargs"]["local"], status["kargs"]


def test_the_administrators_user_owns_the_same_files_after_the_update(story):
    a, b = fact(story, "custom_a"), fact(story, "carried_b")
    assert b["ids"] == a["ids"] == fact(story, "custom_owner_ids"), (a["ids"], b["ids"])
    assert len(b["owners"]) == 3, b["owners"]
    assert all(line.startswith(f"{ADMIN}:{ADMIN} ") for line in b["owners"]), b["owners"]


def test_a_driver_for_another_kernel_only_is_refused_in_preflight(story):
    result = fact(story, "kmod_update")
    assert result["rc"] == 1, result
    error = result["stderr"].strip().splitlines()[-1]
    assert f"/lib/modules/{nodepackages.ABSENT_KERNEL}/extra/acme_old.ko" in error, error
    kver = fact(story, "custom_kernel")["kver"]
    assert f"new kernel {kver}" in error and "Traceback" not in result["stderr"], error
    assert fact(story, "kmod_unchanged") is True


def test_a_package_that_cannot_be_reinstalled_stops_the_update_before_the_switch(story):
    result = fact(story, "broken_update")
    assert result["rc"] == 1, result
    error = result["stderr"].strip().splitlines()
    assert any(nodepackages.BROKEN in line and "could not reinstall" in line
               for line in error), result["stderr"]
    assert nodepackages.BROKEN_WORDS in result["stderr"], result["stderr"]
    steps = [event["step"] for event in map(json.loads, filter(
        lambda line: line.startswith("{"), result["stdout"].splitlines()))
        if event.get("event") == "step"]
    assert steps[-1] == "packages" and "switch" not in steps, steps
    disk = fact(story, "broken_disk")
    assert disk["after"] == disk["before"], disk
    assert fact(story, "broken_running") == LAYERS["A"]


def test_no_command_printed_a_traceback(story):
    for name, value in story.facts.items():
        if isinstance(value, dict) and "stderr" in value:
            assert "Traceback" not in value["stderr"], name
