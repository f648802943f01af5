"""Running system tools with errors people can read.

Every external command goes through run(), so a failing tool becomes a
NodeError naming the command and its last line of stderr, never a traceback.
"""

import os
import shutil
import subprocess

from org_ovirt_node.errors import NodeError


def require_tool(name, package=None):
    """Return the path of tool NAME, or raise NodeError saying what to install."""
    path = shutil.which(name)
    if path:
        return path
    hint = f" (install the '{package}' package)" if package else ""
    raise NodeError(f"the '{name}' tool is needed but not found on PATH{hint}")


def run(cmd, *, input=None, check=True, capture=True, env=None, cwd=None):
    """Run CMD (a list); return the CompletedProcess with text output.

    File descriptors other than 0-2 are closed in the child (LVM warns about
    leaked ones). A non-zero exit raises NodeError unless CHECK is false.
    """
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        result = subprocess.run(
            [str(part) for part in cmd], input=input, text=True, env=full_env, cwd=cwd,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            close_fds=True, check=False)
    except FileNotFoundError:
        raise NodeError(f"the '{cmd[0]}' tool is needed but not found on PATH") from None
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip().splitlines()
        last = detail[-1] if detail else f"exit status {result.returncode}"
        raise NodeError(f"'{' '.join(str(c) for c in cmd[:3])}' failed: {last}")
    return result


def output(cmd, **kwargs):
    """Run CMD and return its stripped stdout."""
    return run(cmd, **kwargs).stdout.strip()
