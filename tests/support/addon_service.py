"""The add-on service on a private dbus-daemon, the way Anaconda runs it.

Shared by the service tests and the UI tests (presenter, TUI, GTK), which all
talk to the real service process instead of a stand-in.
"""

import contextlib
import os
import subprocess
import sys
import time

import pytest
from dasbus.loop import EventLoop
from gi.repository import GLib

from org_ovirt_node import dbus_ids

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT = 60
SIGNAL_TIMEOUT = 60


@contextlib.contextmanager
def private_bus(directory):
    """A dbus-daemon listening in DIRECTORY, like Anaconda's bus; yields its address."""
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--print-address", "--nofork",
         f"--address=unix:path={directory}/socket"],
        stdout=subprocess.PIPE, text=True)
    try:
        address = daemon.stdout.readline().strip()
        assert address, "dbus-daemon printed no address"
        yield address
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        daemon.stdout.close()


def service_environment(bus_address):
    """The environment Anaconda's start-module gives the service."""
    env = dict(os.environ, DBUS_ANACONDA_SESSION_BUS_ADDRESS=bus_address, PYTHONPATH=ROOT)
    # No installed system here: the install task must find nothing mounted.
    env.setdefault("OVIRT_NODE_SYSROOT", "/run/ovirt-node-tests/no-sysroot")
    env.pop("DBUS_STARTER_ADDRESS", None)
    return env


def start_service(bus_address, client, log_path, extra_env=None):
    """Start `python -m org_ovirt_node.service` (EXTRA_ENV added to its
    environment) and wait until it owns its name."""
    env = dict(service_environment(bus_address), **(extra_env or {}))
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen([sys.executable, "-m", "org_ovirt_node.service"],
                                   env=env, stderr=log, cwd=ROOT)
    deadline = time.monotonic() + START_TIMEOUT
    while not client.proxy.NameHasOwner(dbus_ids.SERVICE_NAME):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail("service did not start: " + log_path.read_text(encoding="utf-8"))
        time.sleep(0.1)
    return process


def stop_service(process, proxy):
    """Quit the service the way the boss does and check it exits cleanly."""
    proxy.Quit()
    assert process.wait(timeout=START_TIMEOUT) == 0


def run_task(client, path, timeout=SIGNAL_TIMEOUT, on_progress=None):
    """Start the task at PATH as the boss does; record its signals until Stopped.

    ON_PROGRESS(task, events), if given, runs after each progress signal is
    recorded (a test can Cancel from there).
    """
    task = client.get_proxy(dbus_ids.SERVICE_NAME, path,
                            interface_name=dbus_ids.TASK_INTERFACE)
    events = []
    loop = EventLoop()
    task.Started.connect(lambda: events.append("started"))
    def progress(step, message):
        events.append((step, message))
        if on_progress:
            on_progress(task, events)

    task.ProgressChanged.connect(progress)
    task.Failed.connect(lambda: events.append("failed"))
    task.Succeeded.connect(lambda: events.append("succeeded"))
    task.Stopped.connect(lambda: (events.append("stopped"), loop.quit()))
    source = GLib.timeout_add_seconds(timeout, loop.quit)
    task.Start()
    loop.run()
    GLib.source_remove(source)
    assert events[-1] == "stopped", f"no Stopped within {timeout}s: {events}"
    return task, events
