"""The add-on driven by real Anaconda: its boss, kickstart manager, task
proxies and TUI spoke collection, from an Anaconda source tree.

Run by `make check-anaconda ANACONDA_SRC=DIR MEH_SRC=DIR`, which installs
what Anaconda needs; skipped without them (and left out of `make check`: CI
has no Anaconda sources). MEH_SRC is python-meh, which Anaconda's TUI imports. The environment is built here the way
the installer has it, under a private directory:

- Anaconda's bus: dbus-daemon with Anaconda's own anaconda-bus.conf, its
  services/ holding the boss's .service file and the add-on's as `make
  install` stages them, each with Exec on the source tree's start-module, and
  confs/ their bus policies; started under a process whose command line
  names the kickstart, as anaconda's does;
- ANACONDA_CONFIG_TMP: the tree's data/anaconda.conf with system_root moved
  into the private directory;
- an en_US.UTF-8 locale made with localedef in a private LOCPATH;
- python3 (what start-module runs) is this interpreter;
- PYTHONPATH: the Anaconda and python-meh trees, and the staged addons/.

drive_anaconda.py then runs inside that environment with Anaconda's code.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from org_ovirt_node import dbus_ids
from tests.support.addon_service import ROOT

ANACONDA_SRC = os.environ.get("ANACONDA_SRC", "")
MEH_SRC = os.environ.get("MEH_SRC", "")
DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "drive_anaconda.py")
START_MODULE = "/usr/libexec/anaconda/start-module"
BOSS = "org.fedoraproject.Anaconda.Boss"
TIMEOUT = 300

pytestmark = pytest.mark.skipif(
    not (ANACONDA_SRC and MEH_SRC),
    reason="needs ANACONDA_SRC and MEH_SRC, Anaconda and python-meh source trees "
           "(make check-anaconda)")

IMAGE_BYTES = b"not a real image, only checksummed\n" * 4096
GOOD = """\
text
liveimg --url=file:///srv/node.squashfs
autopart --type=thinp
%addon org_ovirt_node --image=file://{image} --checksum={checksum} --volumes=minimal
# the logs get room of their own
--volume=/var/log:8GiB
%end
"""
BAD = """\
text
liveimg --url=file:///srv/node.squashfs

%addon   org_ovirt_node --image=file:///srv/node.squashfs   # the node
# sizes

--volum=/var:5GiB
--volume=/var/tmp:1
%end
"""
# The kickstart: header on line 6, the bad option on body line 3 (line
# 8). The boss is handed it as a relative path, which no anaconda command line
# names: only the process driving the boss does.
BODY_LINE = """\
text
liveimg --url=file:///srv/node.squashfs
autopart --type=thinp
# the node

%addon org_ovirt_node --image=file:///srv/node.squashfs --volumes=minimal
--volume=/var/log:16GiB
--volum=/var/tmp:2GiB
%end
"""
BODY_LINE_PATH = "ks/bad-option.ks"
BAD_CHECKSUM = GOOD.replace("--volumes=minimal", "--volumes=none")
GERMAN = """\
msgid ""
msgstr "Content-Type: text/plain; charset=UTF-8\\n"

msgid "oVirt Node installation"
msgstr "oVirt-Node-Installation"

msgid "Image URL"
msgstr "Abbild-URL"
"""


def write(path, text, mode=0o644):
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.chmod(path, mode)


def bus_directory(base, staged):
    """Anaconda's bus configuration with the boss's and the add-on's files."""
    directory = os.path.join(base, "dbus")
    os.makedirs(os.path.join(directory, "services"))
    os.makedirs(os.path.join(directory, "confs"))
    source = os.path.join(ANACONDA_SRC, "data", "dbus")
    shutil.copy(os.path.join(source, "anaconda-bus.conf"), directory)
    start_module = os.path.join(ANACONDA_SRC, "scripts", "start-module")
    services = [os.path.join(source, BOSS + ".service"),
                os.path.join(staged, "dbus", "services", dbus_ids.SERVICE_NAME + ".service")]
    for path in services:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        assert START_MODULE in text, path
        write(os.path.join(directory, "services", os.path.basename(path)),
              text.replace(START_MODULE, start_module))
    shutil.copy(os.path.join(source, BOSS + ".conf"), os.path.join(directory, "confs"))
    shutil.copy(os.path.join(staged, "dbus", "confs", dbus_ids.SERVICE_NAME + ".conf"),
                os.path.join(directory, "confs"))
    return os.path.join(directory, "anaconda-bus.conf")


def anaconda_conf(base, sysroot):
    with open(os.path.join(ANACONDA_SRC, "data", "anaconda.conf"), encoding="utf-8") as stream:
        text, count = re.subn(r"(?m)^system_root = .*$", f"system_root = {sysroot}",
                              stream.read())
    assert count == 1, "data/anaconda.conf has no system_root"
    path = os.path.join(base, "anaconda.conf")
    write(path, text)
    return path


def german_catalog(base):
    """A locale directory with a German catalog of the add-on's domain."""
    directory = os.path.join(base, "messages")
    os.makedirs(os.path.join(directory, "de", "LC_MESSAGES"))
    write(os.path.join(base, "de.po"), GERMAN)
    subprocess.run(["msgfmt", "-o", os.path.join(directory, "de", "LC_MESSAGES",
                                                 "org_ovirt_node.mo"),
                    os.path.join(base, "de.po")], check=True)
    return directory


def private_locale(base):
    locpath = os.path.join(base, "locale")
    os.makedirs(locpath)
    subprocess.run(["localedef", "-i", "en_US", "-f", "UTF-8",
                    os.path.join(locpath, "en_US.UTF-8")], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert os.path.isdir(os.path.join(locpath, "en_US.UTF-8")), "localedef made no locale"
    return locpath


@pytest.fixture(scope="module")
def anaconda(tmp_path_factory):
    """Run drive_anaconda.py against the add-on; its JSON result, and the paths."""
    base = str(tmp_path_factory.mktemp("anaconda"))
    subprocess.run(["make", "--no-print-directory", "-s", "install", f"DESTDIR={base}/stage"],
                   cwd=ROOT, check=True)
    staged = os.path.join(base, "stage", "usr", "share", "anaconda")
    addons = os.path.join(staged, "addons")
    sysroot = os.path.join(base, "sysroot")
    os.makedirs(sysroot)
    os.makedirs(os.path.join(base, "bin"))
    write(os.path.join(base, "bin", "python3"), f'#!/bin/sh\nexec {sys.executable} "$@"\n', 0o755)
    image = os.path.join(base, "node.squashfs")
    with open(image, "wb") as stream:
        stream.write(IMAGE_BYTES)
    import hashlib  # pylint: disable=import-outside-toplevel
    checksum = "sha256:" + hashlib.sha256(IMAGE_BYTES).hexdigest()
    paths = {name: os.path.join(base, name + ".ks") for name in ("good", "bad", "bad_checksum")}
    write(paths["good"], GOOD.format(image=image, checksum=checksum))
    write(paths["bad"], BAD)
    write(paths["bad_checksum"], BAD_CHECKSUM.format(image=image, checksum="sha256:" + "0" * 64))
    os.makedirs(os.path.join(base, os.path.dirname(BODY_LINE_PATH)))
    write(os.path.join(base, BODY_LINE_PATH), BODY_LINE)

    address = f"unix:path={base}/bus"
    env = {key: value for key, value in os.environ.items() if not key.startswith("DBUS_")}
    env.update(PATH=os.path.join(base, "bin") + ":" + env.get("PATH", "/usr/bin:/bin"),
               PYTHONPATH=":".join(filter(None, [ANACONDA_SRC, MEH_SRC, addons])),
               ANACONDA_CONFIG_TMP=anaconda_conf(base, sysroot),
               LOCPATH=private_locale(base), LANG="en_US.UTF-8",
               DBUS_ANACONDA_SESSION_BUS_ADDRESS=address)
    env.pop("LC_ALL", None)
    config = bus_directory(base, staged)
    log_path = os.path.join(base, "bus.log")
    # Like anaconda, the parent of the bus names the kickstart on its command line.
    daemon = subprocess.Popen(
        ["bash", "-c", 'dbus-daemon --nofork --print-address --config-file="$BUS_CONFIG" '
         '--address="$DBUS_ANACONDA_SESSION_BUS_ADDRESS"; exit $?',
         "anaconda", "--kickstart", paths["bad"]],
        env=dict(env, BUS_CONFIG=config), stdout=subprocess.PIPE, text=True, cwd=base,
        stderr=open(log_path, "w", encoding="utf-8"),  # pylint: disable=consider-using-with
        start_new_session=True)
    try:
        assert daemon.stdout.readline().strip(), "dbus-daemon printed no address"
        driver = subprocess.run([sys.executable, DRIVER, addons, german_catalog(base),
                                 paths["good"], paths["bad"], paths["bad_checksum"],
                                 BODY_LINE_PATH],
                                env=env, cwd=base, text=True,
                                capture_output=True, timeout=TIMEOUT, check=False)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=30)
        daemon.stdout.close()
    with open(log_path, encoding="utf-8", errors="replace") as stream:
        result_log = stream.read()
    print(driver.stderr[-20000:], "\n--- bus and modules ---\n", result_log[-30000:])
    assert driver.returncode == 0, driver.stderr[-5000:]
    result = json.loads(driver.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=2))
    result["log"] = result_log
    result["service_file"] = os.path.join(os.path.dirname(config), "services",
                                          dbus_ids.SERVICE_NAME + ".service")
    return result, paths, sysroot


def test_the_boss_activates_the_add_on_with_start_module(anaconda):
    result, _paths, _sysroot = anaconda
    assert result["modules"] == [dbus_ids.SERVICE_NAME]
    with open(result["service_file"], encoding="utf-8") as stream:
        assert f"Exec={ANACONDA_SRC}/scripts/start-module org_ovirt_node.service\n" in stream.read()
    # Activated by the bus, and built on Anaconda's KickstartService (which
    # logs "Publish the service."), not on the dasbus-only fallback.
    log = result["log"]
    activated = log.index(f"Activating service name='{dbus_ids.SERVICE_NAME}'")
    published = log.index(f"Publishing an object at {dbus_ids.OBJECT_PATH}.", activated)
    assert "anaconda.modules.common.base.base:Publish the service." in log[activated:published]
    assert f"Successfully activated service '{dbus_ids.SERVICE_NAME}'" in log[published:]
    assert result["kickstarted_before"] is False


def test_a_bad_section_is_reported_at_its_exact_line(anaconda):
    result, paths, _sysroot = anaconda
    errors = result["bad"]["errors"]
    # The boss maps every line of the section to its header (line 4); the
    # text the installer shows names the exact line.
    assert [(error["line"], error["file"], error["module"]) for error in errors] == [
        (4, paths["bad"], dbus_ids.SERVICE_NAME)]
    assert errors[0]["shown"] == "line 7: unknown option --volum=/var:5GiB"
    assert result["bad"]["warnings"] == []


def test_an_error_on_a_body_line_names_its_file_line(anaconda):
    """Header at line 6, bad option on the section's third line: the user
    reads line 8, though the boss reports the header's line."""
    result, _paths, _sysroot = anaconda
    errors = result["body_line"]["errors"]
    assert [(error["line"], error["file"], error["module"]) for error in errors] == [
        (6, BODY_LINE_PATH, dbus_ids.SERVICE_NAME)]
    assert errors[0]["shown"] == "line 8: unknown option --volum=/var/tmp:2GiB"


def test_a_good_section_is_read_and_generated(anaconda):
    result, _paths, _sysroot = anaconda
    assert result["good"] == {"errors": [], "warnings": []}
    assert result["kickstarted"] is True
    assert result["generated"].startswith("%addon org_ovirt_node --image=file://")
    assert "--volumes=minimal" in result["generated"]
    assert "--volume=/var/log:8GiB" in result["generated"]


def test_tasks_run_through_anacondas_task_proxies(anaconda):
    result, _paths, sysroot = anaconda
    [configure] = result["configure"]
    assert configure["name"] == "Verify the node image" and configure["steps"] == 3
    assert configure["result"] == "succeeded"
    assert configure["get_result"] == "NoResultError"
    [install] = result["install"]
    assert install["result"] == "failed"
    # conf.target.system_root from ANACONDA_CONFIG_TMP reached the add-on.
    assert f"nothing is mounted at {sysroot}" in install["error"]
    assert result["bad_checksum"] == {"errors": [], "warnings": []}
    [failed] = result["configure_bad_checksum"]
    assert failed["result"] == "failed"
    assert "has checksum sha256:" in failed["error"] and "sha256:000000" in failed["error"]


def test_the_tui_spoke_is_collected_and_rendered(anaconda):
    tui = anaconda[0]["tui"]
    assert tui["spoke_paths"] == ["org_ovirt_node.tui.spokes.%s"]
    assert tui["spokes"] == ["org_ovirt_node.tui.spokes.ovirt_node.OvirtNodeSpoke"]
    assert tui["hub_shows_spokes"] is True
    assert "oVirt Node installation" in tui["hub"]
    assert tui["title"] == "oVirt Node installation"
    assert "1) Image URL" in tui["screen"] and "Planned layout" in tui["screen"]
    # The settings the good kickstart gave, and the installer's own wording.
    assert "--disk" not in tui["screen"]
    assert "no disk is selected" in tui["screen"]
    assert tui["completed"] is False and tui["status"] == "The layout has problems"


def test_the_spoke_shows_the_language_chosen_after_it_was_loaded(anaconda):
    tui = anaconda[0]["tui"]
    assert "oVirt-Node-Installation" in tui["hub_de"]
    assert tui["screen_de"].startswith("oVirt-Node-Installation\n")
    assert "1) Abbild-URL" in tui["screen_de"]
