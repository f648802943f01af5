"""A real node booted from its own disk in qemu, driven while it runs.

Why: the node's life happens on the running system (updates while it runs,
reboots it triggers itself, health verdicts made by its own units), so the
tests boot the installed disk the way a machine does (SeaBIOS or OVMF, then
the disk's GRUB; no -kernel) and talk to it over a virtio-serial command
port: the VM has no network at all. The guest end is tests/support/vmports.py
run by a test-only unit that the test plants in the layer's /etc (so every
update carries it over, as it carries any local addition).

A power cut is `kill()`: qemu itself dies, with no shutdown in the guest.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from tests.support import vmports
from tests.support.vm import REPO

PORT = "org.ovirt.node.test"
SSH_PORT = "org.ovirt.node.ssh"        # joined to the node's sshd (tests/support/nodecockpit.py)
AGENT_DIR = "/etc/ovirt-node-test"
AGENT_UNIT = "ovirt-node-test-agent.service"
SSH_UNIT = "ovirt-node-test-ssh-port.service"

# Units that only cost boot time under TCG (measured: e2scrub_reap scans LVM
# for 8 s, cockpit-motd 7-9 s); masked in the test node's /etc, never in the image.
TEST_MASKS = [
    "e2scrub_reap.service", "e2scrub_all.timer", "apt-daily.timer", "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer", "fstrim.timer", "cockpit-motd.service", "getty@tty1.service",
    "systemd-pstore.service", "modprobe@drm.service", "modprobe@efi_pstore.service",
    "modprobe@fuse.service", "sys-kernel-debug.mount", "sys-kernel-tracing.mount",
    "dev-hugepages.mount", "sys-fs-fuse-connections.mount",
    "proc-sys-fs-binfmt_misc.automount", "systemd-binfmt.service",
]

_AGENT_UNIT_TEXT = f"""[Unit]
Description=Test-only command port ({PORT}) for the VM tests
DefaultDependencies=no
After=local-fs.target
StartLimitIntervalSec=0

[Service]
ExecStart=/usr/bin/python3 {AGENT_DIR}/vmports.py serve {PORT}
# The port's device may appear after the unit starts: retry until it is there.
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
"""

_SSH_UNIT_TEXT = f"""[Unit]
Description=Test-only stream port ({SSH_PORT}) joined to the node's sshd
After=local-fs.target
StartLimitIntervalSec=0

[Service]
ExecStart=/usr/bin/python3 {AGENT_DIR}/vmports.py forward {SSH_PORT} 127.0.0.1 22
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
"""

# The firmware of a UEFI boot: OVMF runs the removable-path EFI/BOOT/BOOTX64.EFI
# on the ESP, with a fresh copy of its variable store (no NVRAM entry helps).
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"


def plant_test_agent(root):
    """Put the command port's unit and the test masks into the layer mounted at ROOT.

    Only /etc is touched, so each update carries them into the new layer.
    """
    etc = os.path.join(root, "etc")
    os.makedirs(os.path.join(root, AGENT_DIR.lstrip("/")), exist_ok=True)
    shutil.copyfile(os.path.join(REPO, "tests", "support", "vmports.py"),
                    os.path.join(root, AGENT_DIR.lstrip("/"), "vmports.py"))
    units = os.path.join(etc, "systemd", "system")
    wants = os.path.join(units, "multi-user.target.wants")
    os.makedirs(wants, exist_ok=True)
    for unit, text in ((AGENT_UNIT, _AGENT_UNIT_TEXT), (SSH_UNIT, _SSH_UNIT_TEXT)):
        with open(os.path.join(units, unit), "w", encoding="utf-8") as handle:
            handle.write(text)
        _symlink(f"/etc/systemd/system/{unit}", os.path.join(wants, unit))
    for unit in TEST_MASKS:
        _symlink("/dev/null", os.path.join(units, unit))


def _symlink(target, path):
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


class GuestGone(RuntimeError):
    """The guest did not answer (it rebooted, powered off or hangs)."""


class LiveNode:
    """One node disk, booted and rebooted in qemu as often as a test needs."""

    def __init__(self, disk, work, drives=(), memory=1024):
        self.disk = disk
        self.work = work
        self.drives = list(drives)          # more disks, read-only (images to update from)
        self.memory = memory
        self.process = None
        self.boots = 0
        self.boot_id = None
        self.sock = None
        self.buffer = b""
        self.request = 0
        sockets = tempfile.mkdtemp(prefix="ln-", dir="/tmp")
        self.socket_path = os.path.join(sockets, "cmd.sock")
        self.ssh_socket_path = os.path.join(sockets, "ssh.sock")
        self.console_path = os.path.join(work, "console.log")
        self.timings = []                    # (what, seconds)

    # --- the machine
    def start(self, firmware="bios"):
        """Power the machine on with FIRMWARE ("bios" or "uefi")."""
        assert self.process is None or self.process.poll() is not None
        command = ["qemu-system-x86_64", "-accel", "tcg", "-m", str(self.memory), "-smp", "1",
                   "-cpu", "max", "-nographic", "-nic", "none",
                   "-drive", f"file={self.disk},format=raw,if=virtio"]
        for drive in self.drives:
            command += ["-drive", f"file={drive},format=raw,if=virtio,readonly=on"]
        if firmware == "uefi":
            variables = os.path.join(self.work, "OVMF_VARS.fd")
            shutil.copyfile(OVMF_VARS, variables)
            command += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                        "-drive", f"if=pflash,format=raw,file={variables}"]
        command += vmports.qemu_options({PORT: self.socket_path, SSH_PORT: self.ssh_socket_path})
        for path in (self.socket_path, self.ssh_socket_path):
            if os.path.exists(path):
                os.unlink(path)
        console = open(self.console_path, "ab")          # pylint: disable=consider-using-with
        console.write(f"\n===== power on ({firmware}) =====\n".encode())
        console.flush()
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=console,
                                        stderr=subprocess.STDOUT)
        console.close()
        self._disconnect()

    def kill(self):
        """A power cut: qemu dies at once, the guest gets no shutdown."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._disconnect()

    def wait_powered_off(self, timeout=300):
        """Wait until the guest has powered the machine off."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise GuestGone(f"the node did not power off within {timeout} s") from None
        self._disconnect()

    def console(self):
        """Everything every boot printed on the serial console."""
        with open(self.console_path, "rb") as handle:
            return handle.read().decode("utf-8", "replace").replace("\r\n", "\n")

    # --- the command port
    def _disconnect(self):
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def _call(self, argv, timeout):
        """One request and its answer; GuestGone when none comes within TIMEOUT."""
        if self.process is None or self.process.poll() is not None:
            raise GuestGone("the machine is off")
        if self.sock is None:
            self.sock = vmports.connect(self.socket_path, timeout=30)
        self.request += 1
        ident = self.request
        deadline = time.monotonic() + timeout
        try:
            self.sock.sendall(json.dumps({"argv": list(argv), "timeout": timeout,
                                          "id": ident}).encode() + b"\n")
            while True:
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    answer = json.loads(line)
                    if answer.get("id") == ident:
                        return answer
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise GuestGone(f"no answer to {argv}")
                self.sock.settimeout(min(left, 5))
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    raise GuestGone(f"the port closed during {argv}")
                self.buffer += chunk
        except (GuestGone, OSError):
            self._disconnect()
            raise GuestGone(f"no answer to {argv}") from None

    def run(self, *argv, check=True, timeout=1800):
        """Run ARGV on the node; {"rc", "stdout", "stderr"}."""
        answer = self._call(argv, timeout)
        if check and answer["rc"] != 0:
            raise AssertionError(f"{argv} on the node: rc {answer['rc']}\n{answer['stdout']}\n"
                                 f"{answer['stderr']}")
        return answer

    def sh(self, script, check=True, timeout=1800):
        """Run the shell SCRIPT on the node; its stdout."""
        return self.run("sh", "-c", script, check=check, timeout=timeout)["stdout"]

    def json(self, *argv, timeout=600):
        """ARGV's stdout as JSON (the last line when it prints JSON lines)."""
        answer = self.run(*argv, check=False, timeout=timeout)
        lines = [line for line in answer["stdout"].splitlines() if line.strip()]
        if not lines:
            raise AssertionError(f"{argv} printed no JSON: rc {answer['rc']}: {answer['stderr']}")
        return json.loads(lines[-1]) if len(lines) > 1 else json.loads(lines[0])

    def wait_booted(self, timeout=900, what="boot"):
        """Wait for a boot newer than the last one seen to finish starting up.

        Returns `systemctl is-system-running --wait` (running, degraded, ...).
        """
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            try:
                boot_id = self.run("cat", "/proc/sys/kernel/random/boot_id", timeout=10)
            except GuestGone:
                if self.process.poll() is not None:
                    raise
                time.sleep(2)
                continue
            boot_id = boot_id["stdout"].strip()
            if boot_id and boot_id != self.boot_id:
                self.boot_id = boot_id
                self.boots += 1
                break
            time.sleep(2)
        else:
            raise GuestGone(f"no new boot within {timeout} s")
        state = self.run("systemctl", "is-system-running", "--wait", check=False,
                         timeout=max(60, deadline - time.monotonic()))["stdout"].strip()
        self.timings.append((what, time.monotonic() - started))
        return state

    def reboot(self, what="reboot", timeout=900):
        """`systemctl reboot` on the node, then wait for the next boot to finish."""
        try:
            self.run("systemctl", "reboot", check=False, timeout=30)
        except GuestGone:
            pass
        self._disconnect()
        return self.wait_booted(timeout, what)

    def running_layer(self):
        """The layer this boot runs (img.bootid= on the kernel command line)."""
        args = self.run("cat", "/proc/cmdline")["stdout"].split()
        return next((arg.split("=", 1)[1] for arg in args if arg.startswith("img.bootid=")),
                    None)
