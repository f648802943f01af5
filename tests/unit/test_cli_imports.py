"""The CLI imports only what the command being run needs.

`ovirt-node boot-ok`, `health` and the whole lifecycle (update, rollback,
gc, ...) run on a node whose image ships Python and this package but not
blivet, pykickstart or the ISO tools (squashfs-build/node/); and each
quick command should not pay for the others' imports.
"""

import json
import subprocess
import sys

import pytest

PROBE = ("import json, sys\n"
         "from org_ovirt_node.cli.main import main\n"
         "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
         "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")


def imported_by(*argv):
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True,
                            text=True, check=False)
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize("argv", [("boot-ok", "--help"), ("check", "--help"),
                                  ("status", "--help"), ("rollback", "--help"),
                                  ("health", "--help"), ("redboot", "--help"),
                                  ("finalize", "--help"), ("health",), ("update", "--help"),
                                  ("gc", "--help"), ("pin", "--help"), ("kargs", "--help")])
def test_lifecycle_commands_need_no_installer_libraries(argv):
    assert not imported_by(*argv) & {"blivet", "pykickstart", "jinja2", "yaml", "gi"}


def test_the_engines_units_run_need_no_installer_libraries():
    probe = ("import json, sys\n"
             "from org_ovirt_node.lifecycle import bootcount, check, finalize, health, lock, redboot\n"
             "from org_ovirt_node.lifecycle import gc, kargs, pins, rollback, update\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert not set(json.loads(result.stdout)) & {"blivet", "pykickstart", "jinja2", "yaml", "gi"}


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "org_ovirt_node", "--help"],
                            capture_output=True, text=True, check=True)
    for command in ("install", "update", "rollback", "gc", "pin", "unpin", "kargs", "check",
                    "boot-ok",
                    "health", "redboot", "finalize", "status", "image", "iso", "ks"):
        assert f"    {command} " in result.stdout, command
