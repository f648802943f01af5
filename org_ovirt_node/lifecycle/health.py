"""`ovirt-node health`: the boot's verdict, green or red, on greenboot's contract.

A unit runs it at every boot of a node layer, before boot-complete.target:
green lets boot-ok confirm the layer, red fails the unit and its OnFailure=
runs `ovirt-node redboot`. The verdict is made of two parts:

- our named checks (check.py), of which REQUIRED_CHECKS gate the boot and
  the rest are only reported;
- scripts in SCRIPT_DIRS, `required.d` ones gating the boot and `wanted.d`
  ones only logged. greenboot's own directories are read too, so checks
  written for greenboot work unchanged, and its DISABLED_HEALTHCHECKS is
  honoured.

The verdict goes to /run/ovirt-node/health.json and a login line to
/run/motd.d/, and is copied, keyed by layer, to /boot/ovirt-node/health.json
so `status` of another boot (or offline) sees each layer's last verdict.
"""

import datetime
import json
import os
import selectors
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Optional

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle import lock
from org_ovirt_node.lifecycle.state import STATE_DIR
from org_ovirt_node.util.atomic import write_atomic
from org_ovirt_node.util.jsonfile import read_json

GREEN, RED = "green", "red"
REQUIRED, WANTED = "required", "wanted"

REQUIRED_CHECKS = frozenset({"node", "tags", "var", "entries", "default", "grubenv"})
"""The named checks whose failure makes the boot red; the others are only reported.

These say the node cannot be updated, rolled back or booted again as it is
(its tags, /var, entries, default, grubenv; `node` stands for not being able
to open the node at all). The rest must not gate a boot: `last-boot` fails
on the fallback boot until boot-ok (which runs only after a green verdict)
marks the failed layer bad, so gating on it would fail the very boot that
rescues the node; `orphans` are the leftovers of a killed update, which must
not fail the old layer's boot; a full `pool` or `boot-space` blocks the next
update, not this boot.
"""

KINDS = (REQUIRED, WANTED)
SCRIPT_DIRS = (("ovirt-node", ("usr/lib/ovirt-node/health.d", "etc/ovirt-node/health.d")),
               ("greenboot", ("usr/lib/greenboot/check", "etc/greenboot/check")))
"""Script families in the order they run, each (name, (vendor dir, admin dir)) under root.

Within a kind (required.d, then wanted.d) a family's scripts run sorted by
file name; a script in the admin dir replaces the vendor one of its name.
"""

GREENBOOT_CONF = "etc/greenboot/greenboot.conf"
HEALTH_CONF = "etc/ovirt-node/health.conf"
DEFAULT_TIMEOUT = 300
OUTPUT_TAIL = 4096
RUN_VERDICT = "health.json"                 # in lock.RUN_DIR
RUN_DIR_REL = lock.RUN_DIR.lstrip("/")
MOTD = "run/motd.d/ovirt-node-health"
BOOT_VERDICTS = "health.json"               # in /boot/ovirt-node, beside state.json
_MAX_READ = 1 << 20


@dataclass
class ScriptResult:
    """One health script's outcome."""

    name: str
    path: str
    kind: str
    status: str                 # ok, failed, timeout or skipped
    rc: Optional[int] = None
    output: str = ""
    seconds: float = 0.0

    def to_dict(self):
        """JSON-ready form."""
        return asdict(self)


def find_scripts(root="/"):
    """[(kind, name, path)] of every health script under ROOT, in the order they run."""
    found = []
    for kind in KINDS:
        for _, dirs in SCRIPT_DIRS:
            chosen = {}
            for directory in dirs:
                path = os.path.join(root, directory, f"{kind}.d")
                for name in sorted(os.listdir(path)) if os.path.isdir(path) else []:
                    if _runnable(os.path.join(path, name)):
                        chosen[name] = os.path.join(path, name)
            found += [(kind, name, chosen[name]) for name in sorted(chosen)]
    return found


def _runnable(path):
    """A regular file (a link to one counts) named *.sh, or executable."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and (path.endswith(".sh") or os.access(path, os.X_OK))


def disabled_checks(root="/"):
    """The script names greenboot.conf's DISABLED_HEALTHCHECKS lists (an array or a string)."""
    text = _read_text(os.path.join(root, GREENBOOT_CONF))
    lines = text.splitlines()
    start = next((index for index, line in enumerate(lines)
                  if line.lstrip().startswith("DISABLED_HEALTHCHECKS=")), None)
    if start is None:
        return set()
    value = lines[start].split("=", 1)[1].strip()
    for line in lines[start + 1:]:          # an array may go on over several lines
        if not value.startswith("(") or ")" in value:
            break
        value += " " + line.strip()
    value = value.split(")", 1)[0] + ")" if value.startswith("(") else value
    if value.startswith("("):
        value = value[1:-1]
    try:     # a string lists its names separated by spaces, as greenboot reads it
        return {name for word in shlex.split(value, comments=True) for name in word.split()}
    except ValueError as error:
        raise NodeError(f"/{GREENBOOT_CONF}: DISABLED_HEALTHCHECKS cannot be read "
                        f"({error})") from None


def script_timeout(root="/"):
    """Seconds each script may run: health.conf's timeout=, or DEFAULT_TIMEOUT."""
    timeout = DEFAULT_TIMEOUT
    for number, line in enumerate(_read_text(os.path.join(root, HEALTH_CONF)).splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, value = (part.strip() for part in line.partition("="))
        if key != "timeout":
            raise NodeError(f"/{HEALTH_CONF} line {number}: unknown setting '{key}' (only "
                            "timeout=SECONDS)")
        if not value.isdigit() or not 0 < int(value) <= 86400:
            raise NodeError(f"/{HEALTH_CONF} line {number}: timeout must be whole seconds "
                            f"from 1 to 86400, not '{value}'")
        timeout = int(value)
    return timeout


def _read_text(path):
    """PATH's text ('' when absent), bounded."""
    try:
        with open(path, "rb") as handle:
            return handle.read(_MAX_READ).decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    except OSError as error:
        raise NodeError(f"{path}: {error.strerror or error}") from None


def run_script(kind, name, path, timeout):
    """Run one script (.sh with bash, else sh; others directly); its ScriptResult."""
    if path.endswith(".sh"):
        command = [shutil.which("bash") or shutil.which("sh") or "/bin/sh", path]
    else:
        command = [path]
    start = time.monotonic()
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   close_fds=True)
    except OSError as error:
        return ScriptResult(name, path, kind, "failed", None,
                            f"cannot run: {error.strerror or error}", 0.0)
    output, timed_out = _collect(process, start + timeout)
    seconds = round(time.monotonic() - start, 3)
    text = output.decode("utf-8", "replace")
    if timed_out:
        return ScriptResult(name, path, kind, "timeout", None,
                            text + f"\n(killed after {timeout} s)", seconds)
    status = "ok" if process.returncode == 0 else "failed"
    return ScriptResult(name, path, kind, status, process.returncode, text, seconds)


def _collect(process, deadline):
    """Read PROCESS's output until it exits (keeping the last OUTPUT_TAIL bytes); kill at DEADLINE.

    Returns (tail, timed out). A child the script left running with the pipe
    open does not hold the verdict back: reading stops once the script exits
    and no more output is waiting.
    """
    tail = bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill(process)
                return bytes(tail[-OUTPUT_TAIL:]), True
            ready = selector.select(min(remaining, 0.2))
            if ready:
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                tail += chunk
                del tail[:-OUTPUT_TAIL]
            elif process.poll() is not None:
                break
    process.stdout.close()
    try:
        process.wait(max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        _kill(process)
        return bytes(tail), True
    return bytes(tail), False


def _kill(process):
    """Kill PROCESS's whole session (its own children too) and reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    if process.stdout and not process.stdout.closed:
        process.stdout.close()


def run_scripts(root="/"):
    """Every health script under ROOT, run in order; [ScriptResult]."""
    skip = disabled_checks(root)
    timeout = script_timeout(root)
    results = []
    for kind, name, path in find_scripts(root):
        if name in skip:
            results.append(ScriptResult(name, path, kind, "skipped", None,
                                        "disabled by DISABLED_HEALTHCHECKS", 0.0))
        else:
            results.append(run_script(kind, name, path, timeout))
    return results


def node_checks():
    """Our named checks on the booted node, and its layers (None when it cannot be opened).

    A node that cannot be opened (no VG, LVM failing) is a failed required
    check `node`, not a crash: the boot is red and says why.
    """
    # pylint: disable=import-outside-toplevel
    from org_ovirt_node.lifecycle.check import FAILED, Result, run_checks
    from org_ovirt_node.lifecycle.node import open_node
    try:
        with open_node() as node:
            if not node.running:
                raise NodeError("the running root is not a layer of the node's VG")
            return run_checks(node), set(node.layers())
    except NodeError as error:
        return [Result("node", FAILED, str(error))], None


def verdict(layer, checks, scripts, now=None):
    """The verdict dict of LAYER from check Results and ScriptResults."""
    failed = []
    check_rows = []
    for result in checks:
        required = result.name in REQUIRED_CHECKS
        check_rows.append(dict(result.to_dict(), required=required))
        if required and result.status == "failed":
            failed.append({"name": result.name, "kind": "check", "output": result.reason})
    for result in scripts:
        if result.kind == REQUIRED and result.status in ("failed", "timeout"):
            failed.append({"name": result.name, "kind": "script", "output": result.output})
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {"status": RED if failed else GREEN, "layer": layer,
            "time": now.isoformat(timespec="seconds"), "failed": failed,
            "checks": check_rows, "scripts": [result.to_dict() for result in scripts]}


def last_line(text):
    """The last non-empty line of TEXT ('' if none)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def motd(result):
    """The login message of a verdict."""
    if result["status"] == GREEN:
        return " node status: OK\n"
    lines = [" node status: DEGRADED"]
    lines += [f"   {item['kind']} {item['name']} failed: {last_line(item['output'])}".rstrip()
              for item in result["failed"]]
    return "\n".join(lines) + "\n"


def record(result, root="/", layers=None):
    """Write the verdict to /run (JSON and motd) and, keyed by layer, to /boot.

    /boot keeps the last verdict of each layer in LAYERS (every recorded one
    when LAYERS is None: the node could not be listed). Failing to write
    /boot is a warning: the verdict of this boot stands.
    """
    text = json.dumps(result, indent=1, sort_keys=True) + "\n"
    write_atomic(os.path.join(lock.run_dir(root), RUN_VERDICT), text.encode("utf-8"))
    write_atomic(os.path.join(root, MOTD), motd(result).encode("utf-8"))
    path = verdicts_path(os.path.join(root, "boot"))
    try:
        verdicts = {layer: value for layer, value in read_verdicts(path).items()
                    if layers is None or layer in layers}
        verdicts[result["layer"]] = result
        write_atomic(path, (json.dumps(verdicts, indent=1, sort_keys=True) + "\n")
                     .encode("utf-8"))
    except OSError as error:
        print(f"ovirt-node health: warning: cannot record the verdict in {path}: "
              f"{error.strerror or error}", file=sys.stderr)


def verdicts_path(boot):
    """Where each layer's last verdict is kept on the /boot mounted at BOOT."""
    return os.path.join(boot, STATE_DIR, BOOT_VERDICTS)


def read_verdicts(path):
    """{layer: verdict} as recorded at PATH; {} when absent or unreadable (it is a report)."""
    data = _report(path)
    if not isinstance(data, dict):
        return {}
    return {layer: value for layer, value in data.items() if isinstance(value, dict)}


def _report(path):
    """The JSON at PATH, or None when absent or damaged: a report is never worth an error."""
    try:
        return read_json(path, "health verdict", 16 * _MAX_READ)
    except NodeError:
        return None


def read_running_verdict(root="/"):
    """This boot's verdict from /run, or None."""
    data = _report(os.path.join(root, RUN_DIR_REL, RUN_VERDICT))
    return data if isinstance(data, dict) else None



def run_health(layer, root="/", checks=None, layers=None):
    """Check LAYER (the running one) and record the verdict; return it.

    CHECKS (Results) and LAYERS are given by tests; by default our checks
    run on the booted node.
    """
    if checks is None:
        checks, layers = node_checks()
    result = verdict(layer, checks, run_scripts(root))
    record(result, root, layers)
    return result


def journal_lines(result):
    """One line per failed item, for stderr (systemd's journal)."""
    lines = []
    for row in result["checks"]:
        if row["status"] == "failed":
            kind = REQUIRED if row["required"] else WANTED
            lines.append(f"ovirt-node health: {kind} check {row['name']} failed: "
                         f"{row['reason']}")
    for row in result["scripts"]:
        if row["status"] in ("failed", "timeout"):
            what = "timed out" if row["status"] == "timeout" else f"failed (exit {row['rc']})"
            lines.append(f"ovirt-node health: {row['kind']} script {row['path']} {what}: "
                         f"{last_line(row['output'])}")
    return lines


def render(result):
    """Human text: one line per check and script, then the verdict."""
    lines = [f"{row['status'].upper():8} {row['name']:11} "
             f"{'required' if row['required'] else 'wanted':8} {row['reason']}"
             for row in result["checks"]]
    for row in result["scripts"]:
        detail = f"exit {row['rc']}, " if row["rc"] is not None else ""
        lines.append(f"{row['status'].upper():8} {row['name']:11} {row['kind']:8} "
                     f"{row['path']} ({detail}{row['seconds']} s)")
    if result["status"] == GREEN:
        lines.append("health: green")
    else:
        lines.append("health: red: " + ", ".join(item["name"] for item in result["failed"]))
    return "\n".join(lines)
