"""`nodectl`: oVirt's node tool, as a thin door onto the ovirt-node engine.

oVirt's own clients call it: cockpit-ovirt's node dashboard spawns
`/usr/sbin/nodectl --machine-readable info|check|rollback --nvr LAYER` as
root, and admins type `nodectl check` and read `nodectl motd` at login. It
gets every fact from the engine's functions that `ovirt-node status`,
`check`, `health` and `rollback` use, and only maps their answers onto
nodectl's shapes (shapes.py).

Exit codes, as oVirt's nodectl: 0 whenever it printed its answer, also a
failed check or a failed rollback in JSON (Cockpit's spawn rejects a
non-zero exit and would never read it); 1 when not root, without a
command, on a failed human `rollback`, and when the node cannot be read
for `info`.
"""

import argparse
import json
import os
import subprocess
import sys

from org_ovirt_node import __version__
from org_ovirt_node.cli.main import one_line
from org_ovirt_node.errors import NodeError
from org_ovirt_node.nodectl import shapes
from org_ovirt_node.util.atomic import write_atomic

ROOT_ONLY = "nodectl must be run as root!"
ISSUE_FILE = "/etc/issue.d/ovirt-node.issue"
PROBE_TIMEOUT = 10


def _parsers():
    """(the global options' parser, the whole parser), laid out as oVirt's nodectl's."""
    root = argparse.ArgumentParser(add_help=False)
    root.add_argument("--version", action="version", version=f"nodectl-{__version__}")
    root.add_argument("--debug", action="store_true", help="show tracebacks")
    root.add_argument("--machine-readable", action="store_true",
                      help="Output in JSON for consumption by other utilities")
    parser = argparse.ArgumentParser(prog="nodectl", parents=[root],
                                     description="Inspect and roll back this oVirt Node "
                                                 "(a door onto ovirt-node).")
    sub = parser.add_subparsers(title="Sub-commands", dest="command")
    sub.add_parser("info", help="Show information about the image")
    rollback = sub.add_parser("rollback", help="Rollback a previous image. Defaults to the "
                                               "latest.")
    rollback.add_argument("--nvr", nargs="?", help="A layer or base nvr to rollback to")
    check = sub.add_parser("check", help="Show the status of the system")
    check.add_argument("--oneline", action="store_true")
    sub.add_parser("motd", help="Generate a message to be seen at login")
    init = sub.add_parser("init", help="Not needed: the installer lays the node out")
    init.add_argument("--nvr", nargs="?")
    init.add_argument("--source", nargs="?", default="/", metavar="VG/LV")
    banner = sub.add_parser("generate-banner", help="Print URLs for system management")
    banner.add_argument("--update-issue", action="store_true",
                        help=f"Write the URLs to {ISSUE_FILE} for the console's login")
    return root, parser


def _emit(args, data, text):
    print(json.dumps(data) if args.machine_readable else text)


def _colour():
    return sys.stdout.isatty()


# --- what the engine says
def vdsmd_ok():
    """vdsmd as oVirt's nodectl judges it: fine when running, or when it never started
    (a node not yet added to an engine, or one without vdsm at all)."""
    try:
        if subprocess.run(["systemctl", "status", "vdsmd.service"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=PROBE_TIMEOUT,
                          check=False).returncode == 0:
            return True
        log = subprocess.run(["journalctl", "-u", "vdsmd.service"], capture_output=True,
                             text=True, timeout=PROBE_TIMEOUT, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return True
    return "Started" not in log


def check_rows():
    """Our named checks on the booted node, a `node` row and this boot's health verdict."""
    # pylint: disable=import-outside-toplevel
    from org_ovirt_node.lifecycle import health
    from org_ovirt_node.lifecycle.node import running_layer
    from org_ovirt_node.util.namespace import private_mounts
    private_mounts()
    try:
        results, layers = health.node_checks()
    except OSError as error:        # a check that cannot read its file: still an answer
        results, layers = [], None
        rows = [{"name": "node", "status": "failed",
                 "reason": (f"{error.filename}: " if error.filename else "") +
                           str(error.strerror or error)}]
    else:
        rows = [result.to_dict() for result in results]
    if layers is not None:
        rows.append({"name": "node", "status": "ok", "reason": "opened"})
    rows.append(shapes.health_result(health.read_running_verdict(), running_layer()))
    return rows


def check_shape():
    """`nodectl check`'s JSON of this node now."""
    return shapes.check_shape(check_rows(), vdsmd_ok())


# --- the commands
def run_info(args):
    """info: boot entries, layers and the running layer."""
    # pylint: disable=import-outside-toplevel
    from org_ovirt_node.lifecycle.node import open_node
    from org_ovirt_node.util import grubcfg
    with open_node() as node:
        layers = node.layers()
        by_base = {base: [layer for layer in node.layers_in_order() if layers[layer] == base]
                   for base in node.bases()}
        order = [entry.entry_id for entry in grubcfg.newest_first(grubcfg.read_entries(node.boot))]
        info = shapes.info_shape(node.entries(), order, node.grubenv().get("saved_entry"),
                                 by_base, node.running)
    _emit(args, info, shapes.render_info(info))
    return 0


def run_check(args):
    """check: exit 0 with the answer, as nodectl (scripts grep `Status:`)."""
    shape = check_shape()
    if args.oneline and not args.machine_readable:
        print(shapes.render_oneline(shape, _colour()))
    else:
        _emit(args, shape, shapes.render_check(shape, _colour()))
    return 0


def run_motd(args):
    """motd: node status OK or DEGRADED, and what is not ok."""
    shape = check_shape()
    _emit(args, shapes.motd_shape(shape), shapes.render_motd(shape, _colour()))
    return 0


def run_rollback(args):
    """rollback: `ovirt-node rollback --yes [--to NVR]`, under the same lock."""
    # pylint: disable=import-outside-toplevel
    from org_ovirt_node.lifecycle import lock, rollback
    from org_ovirt_node.lifecycle.node import open_node
    from org_ovirt_node.util.namespace import private_mounts
    held = None
    try:
        held = lock.acquire("rollback")
        private_mounts()
        with open_node() as node:
            plan = rollback.plan_rollback(node, args.nvr)
            node.make_writable()
            rollback.rollback(node, plan)
        result = shapes.rollback_shape(next_layer=plan["to"])
    except NodeError as error:
        result = shapes.rollback_shape(reason=str(error))
    finally:
        if held:
            held.release()
    _emit(args, result, shapes.render_result(result, f"New layer: {result.get('next_layer')}"))
    return 0 if result["success"] or args.machine_readable else 1


def run_init(args):
    """init: nothing to do, the installer lays the node out and tags it."""
    from org_ovirt_node.lifecycle.node import find_vg  # pylint: disable=import-outside-toplevel
    try:
        result = {"success": True, "reason": f"nothing to do: volume group {find_vg()} is "
                  "laid out and tagged by the installer (ovirt-node install)"}
    except NodeError as error:
        result = {"success": False, "reason": f"{error}; nodectl init does not adopt an "
                  "existing system: install the node with ovirt-node install or the "
                  "installer's org_ovirt_node add-on"}
    _emit(args, result, shapes.render_result(result, result["reason"]))
    return 0 if result["success"] or args.machine_readable else 1


def run_banner(args):
    """generate-banner: the Cockpit URLs, printed or written for the console's login."""
    try:
        listing = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True,
                                 timeout=PROBE_TIMEOUT, check=False).stdout
        addresses = shapes.console_addresses(listing)
    except (OSError, subprocess.SubprocessError, ValueError):
        addresses = []
    text = shapes.banner(addresses)
    if args.update_issue:
        write_atomic(ISSUE_FILE, f"{text}\n\n".encode("utf-8"))
        return 0
    _emit(args, {"admin_console": addresses}, f"{text}\n")
    return 0


COMMANDS = {"info": run_info, "check": run_check, "motd": run_motd, "rollback": run_rollback,
            "init": run_init, "generate-banner": run_banner}


def main(argv=None):
    """Run nodectl; return its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if os.geteuid() != 0:
        print(ROOT_ONLY)
        return 1
    root, parser = _parsers()
    args, rest = root.parse_known_args(argv)
    args = parser.parse_args(rest, namespace=args) if rest else args
    if not getattr(args, "command", None):
        parser.print_help()
        return 1
    try:
        return COMMANDS[args.command](args)
    except NodeError as error:
        print(f"nodectl: error: {one_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # pylint: disable=broad-except
        if args.debug:
            raise
        print(f"nodectl: internal error ({type(error).__name__}: {one_line(error)}); "
              "--debug shows the traceback", file=sys.stderr)
        return 1
