"""Byte streams between the host and a running test VM, over virtio-serial.

Why: a test that drives the guest step by step (a browser on the host, the
node's Cockpit bridge and CLI in the guest) needs to talk to it while it
runs, and the VM has no network (qemu's user-mode addresses are off-limits
here). Each port is a qemu chardev on a host UNIX socket, seen in the guest
as /dev/virtio-ports/NAME.

Host side: `qemu_options(ports)` for vng, `connect(path)`, `GuestShell`, and
`python3 vmports.py relay PATH`, which joins its stdin and stdout to a port
(ssh's ProxyCommand runs it to reach the node's sshd through a forward port).
Guest side: `serve(name, handler)` runs HANDLER on each host connection;
`run_commands` is the handler of the command port (one JSON request per
line, one JSON answer per line), `forward_to(host, port)` joins a
connection to a guest TCP port (the node's sshd), `exec_on(name, argv)` hands a connection's
stream to a program (cockpit-bridge) as its stdin and stdout.
"""

import json
import os
import select
import socket
import subprocess
import time

BUS = "onode-ports"


def qemu_options(ports):
    """qemu arguments for PORTS, {name: host socket path}: one bus, a port each."""
    options = ["-device", f"virtio-serial-pci,id={BUS}"]
    for index, (name, path) in enumerate(sorted(ports.items())):
        options += ["-chardev", f"socket,id=onode{index},path={path},server=on,wait=off",
                    "-device", f"virtserialport,bus={BUS}.0,chardev=onode{index},name={name}"]
    return options


def connect(path, timeout=60):
    """A socket connected to the VM port whose chardev listens at PATH."""
    deadline = time.monotonic() + timeout
    while True:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            client.connect(path)
            return client
        except OSError:
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class GuestShell:
    """Runs commands in the guest through its command port (see run_commands)."""

    def __init__(self, path, timeout=60):
        self.sock = connect(path, timeout)
        self.lines = self.sock.makefile("rb")

    def run(self, *argv, check=True, timeout=3600):
        """Run ARGV in the guest; returns {"rc", "stdout", "stderr"}."""
        self.sock.sendall(json.dumps({"argv": list(argv), "timeout": timeout}).encode() + b"\n")
        line = self.lines.readline()
        if not line:
            raise RuntimeError(f"the guest closed its command port during {argv}")
        answer = json.loads(line)
        if check and answer["rc"] != 0:
            raise RuntimeError(f"{argv} in the guest: rc {answer['rc']}: {answer['stderr']}")
        return answer

    def close(self):
        self.lines.close()
        self.sock.close()


def relay(path):
    """Copy stdin to the port at PATH and the port to stdout, until either ends."""
    sock = connect(path)
    _pump({0: sock.fileno(), sock.fileno(): 1})


def _pump(ends):
    """Copy each readable fd of ENDS, {source: destination}, to its destination
    until one of them reaches end-of-file."""
    while True:
        ready, _, _ = select.select(list(ends), [], [])
        for source in ready:
            data = os.read(source, 65536)
            if not data:
                return
            _write_all(ends[source], data)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# --- guest side

def port_path(name):
    """The guest's device of port NAME."""
    return os.path.join("/dev/virtio-ports", name)


def _wait_for_host(fd):
    """Block until the host end is connected (until then poll says POLLHUP).

    A connected host need not send first (a bridge speaks first), so a
    quiet poll counts as connected.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while any(event & select.POLLHUP for _, event in poller.poll(100)):
        time.sleep(0.1)


def serve(name, handler):
    """Forever: wait for the host to connect to port NAME, run HANDLER(fd) on it.

    A port can be open once in the guest; it stays open across host
    connections, and a read returns end-of-file once the host has gone.
    """
    fd = os.open(port_path(name), os.O_RDWR)
    while True:
        _wait_for_host(fd)
        handler(fd)


def run_commands(fd):
    """Answer the host's command requests on FD until it disconnects."""
    with os.fdopen(os.dup(fd), "rb", buffering=0) as stream:
        pending = b""
        while True:
            chunk = stream.read(65536)
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                try:
                    done = subprocess.run(request["argv"], stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                          text=True, timeout=request["timeout"], check=False)
                    answer = {"rc": done.returncode, "stdout": done.stdout,
                              "stderr": done.stderr}
                except (OSError, subprocess.TimeoutExpired) as error:
                    answer = {"rc": 127, "stdout": "", "stderr": str(error)}
                if "id" in request:          # lets a client skip answers to stale requests
                    answer["id"] = request["id"]
                _write_all(fd, json.dumps(answer).encode() + b"\n")


def forward_to(host, port):
    """A handler that joins the connection to the guest's TCP HOST:PORT.

    One virtio-serial port carries one stream; the node's sshd on the other
    end multiplexes (ssh -L), so a browser's many connections share it.
    """
    def handler(fd):
        try:
            tcp = socket.create_connection((host, port), timeout=30)
        except OSError:
            time.sleep(1)
            return
        tcp.settimeout(None)
        try:
            _pump({fd: tcp.fileno(), tcp.fileno(): fd})
        except OSError:
            return
        finally:
            tcp.close()
    return handler


def exec_on(argv, env=None, log=None):
    """A handler that runs ARGV with the connection as its stdin and stdout."""
    def handler(fd):
        subprocess.run(argv, stdin=fd, stdout=fd, stderr=log, env=env, check=False)
    return handler


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "relay":
        relay(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "serve":      # the guest's command port
        serve(sys.argv[2], run_commands)
    elif len(sys.argv) == 5 and sys.argv[1] == "forward":  # a port joined to a guest TCP port
        serve(sys.argv[2], forward_to(sys.argv[3], int(sys.argv[4])))
    else:
        sys.exit("usage: vmports.py relay SOCKET | vmports.py serve PORT-NAME | "
                 "vmports.py forward PORT-NAME HOST PORT")
