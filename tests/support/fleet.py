"""Real Ansible driving real nodes: the collection's rolling update over SSH.

Why: a fleet is updated by the engines people already run. The test runs
`ansible-playbook ovirt.node.rolling_update` (ansible_collections/ in this
tree) against booted node VMs exactly as a site would, with no network:
each node's sshd is joined to a virtio-serial port (livenode.SSH_PORT), and
Ansible's own ssh connection reaches it through `vmports.py relay SOCK` as
its ProxyCommand. One port carries one stream, so each host gets one
ControlMaster for the whole run (a long ControlPersist, pipelining) and a
short control_path_dir (ControlPath has a 108-byte limit); nothing else may
hold the port meanwhile (the Cockpit tunnel is closed first).

The login is the run-time administrator of nodecockpit.Admin (key, and its
password for sudo); host keys are read from each node over its command port
and checked, never ignored.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from tests.support import vmports
from tests.support.vm import REPO

PLAYBOOK = "ovirt.node.rolling_update"
GROUP = "ovirt_nodes"


class Fleet:
    """NODES, {inventory name: (LiveNode, Admin)}, as one Ansible inventory."""

    def __init__(self, nodes, work):
        self.nodes = dict(nodes)
        self.work = work
        os.makedirs(work, exist_ok=True)
        self.inventory = os.path.join(work, "inventory.json")
        self.known_hosts = os.path.join(work, "known_hosts")
        self.config = os.path.join(work, "ansible.cfg")
        # ControlPath's 108 bytes: a short folder of its own under /tmp
        self.control = tempfile.mkdtemp(prefix="an-", dir="/tmp")

    def _write(self):
        hosts, keys = {}, []
        for name, (node, admin) in self.nodes.items():
            key = node.sh("cat /etc/ssh/ssh_host_ed25519_key.pub").split()
            keys.append(f"{name} {key[0]} {key[1]}\n")
            relay = f"{sys.executable} {vmports.__file__} relay {node.ssh_socket_path}"
            hosts[name] = {
                "ansible_host": name,
                "ansible_user": admin.name,
                "ansible_ssh_private_key_file": admin.key,
                "ansible_become_password": admin.password,
                "ansible_ssh_common_args": (
                    f"-o ProxyCommand='{relay}' -o HostKeyAlias={name} "
                    f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes"),
            }
        with open(self.known_hosts, "w", encoding="utf-8") as handle:
            handle.writelines(keys)
        with open(self.inventory, "w", encoding="utf-8") as handle:
            json.dump({"all": {"vars": {"ansible_python_interpreter": "/usr/bin/python3"},
                               "children": {GROUP: {"hosts": hosts}}}}, handle, indent=1)
        with open(self.config, "w", encoding="utf-8") as handle:
            handle.write(f"""[defaults]
inventory = {self.inventory}
host_key_checking = True
timeout = 30
forks = 1
retry_files_enabled = False
local_tmp = {os.path.join(self.work, "ansible-local")}

[ssh_connection]
pipelining = True
control_path_dir = {self.control}
control_path = %(directory)s/%%C
ssh_args = -o ControlMaster=auto -o ControlPersist=3600s -o ServerAliveInterval=10 -o ServerAliveCountMax=6
""")

    def rolling_update(self, extra_vars, name):
        """Run the collection's playbook with EXTRA_VARS; {"rc", "output"}, also kept
        as WORK/NAME.log."""
        self._write()
        env = dict(os.environ, ANSIBLE_CONFIG=self.config, ANSIBLE_COLLECTIONS_PATH=REPO,
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
                   ANSIBLE_HOME=os.path.join(self.work, "ansible-home"))
        playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        log = os.path.join(self.work, f"{name}.log")
        with open(log, "wb") as output:
            done = subprocess.run([playbook, PLAYBOOK, "-e", json.dumps(extra_vars)],
                                  stdout=output, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, timeout=5400,
                                  check=False)
        self.close()
        with open(log, encoding="utf-8", errors="replace") as handle:
            return {"rc": done.returncode, "output": handle.read()}

    def close(self):
        """End the ControlMasters, which hold the nodes' ssh ports (and any relay
        of theirs still joined to a port)."""
        for name, (node, admin) in self.nodes.items():
            subprocess.run(["ssh", "-o", f"ControlPath={self.control}/%C", "-O", "exit",
                            f"{admin.name}@{name}"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False, timeout=30)
            subprocess.run(["pkill", "-f", f"relay {node.ssh_socket_path}"], check=False)

    def remove(self):
        self.close()
        shutil.rmtree(self.control, ignore_errors=True)


def recap(output):
    """PLAY RECAP's counters, {host: {"ok": n, "changed": n, "failed": n, ...}}."""
    found = {}
    lines = output.splitlines()
    if "PLAY RECAP" not in output:
        return found
    start = max(index for index, line in enumerate(lines) if line.startswith("PLAY RECAP"))
    for line in lines[start + 1:]:
        if ":" not in line or "=" not in line:
            continue
        host, counters = line.split(":", 1)
        found[host.strip()] = {key: int(value) for key, value in
                               (item.split("=", 1) for item in counters.split())
                               if value.isdigit()}
    return found
