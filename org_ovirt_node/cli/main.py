"""Entry point of `ovirt-node`: builds the parser, runs a subcommand, and turns
every NodeError into one line on stderr and a non-zero exit.

Each subcommand group lives in its own module with a `register(subparsers)`
function; adding a command means adding it to COMMANDS. Only the module of
the command being run is imported (all of them for --help), so a quick
command such as `boot-ok` or `ks validate` does not pay for blivet or the
ISO tools.
"""

import argparse
import importlib
import os
import re
import sys

from org_ovirt_node import __version__
from org_ovirt_node.errors import NodeError

_LIFECYCLE = "org_ovirt_node.cli.lifecycle"
COMMANDS = {
    "image": "org_ovirt_node.cli.image",
    "install": "org_ovirt_node.cli.install",
    "iso": "org_ovirt_node.cli.iso",
    "status": "org_ovirt_node.cli.status",
    "ks": "org_ovirt_node.cli.ks",
    "update": _LIFECYCLE, "rollback": _LIFECYCLE, "gc": _LIFECYCLE, "pin": _LIFECYCLE,
    "unpin": _LIFECYCLE, "check": _LIFECYCLE, "boot-ok": _LIFECYCLE, "health": _LIFECYCLE,
    "redboot": _LIFECYCLE, "finalize": _LIFECYCLE, "kargs": _LIFECYCLE,
}

EXIT_ERROR = 1
EXIT_USAGE = 2


def build_parser(command=None):
    """The argument parser: with COMMAND's module only, or every module."""
    parser = argparse.ArgumentParser(
        prog="ovirt-node",
        description="Build, install, update and check oVirt Node images on LVM thin provisioning.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    modules = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for module_name in modules:
        importlib.import_module(module_name).register(subparsers)
    return parser


EXIT_INTERNAL = 70
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text):
    """TEXT on one line: line breaks and other control characters escaped."""
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _error(text):
    print(f"ovirt-node: error: {one_line(text)}", file=sys.stderr)


def _clean_stale_temporaries():
    """Remove what killed runs left in the temp dir; name what cannot go yet."""
    from org_ovirt_node.util.safeio import clean_stale  # pylint: disable=import-outside-toplevel
    _, left = clean_stale()
    for path in left:
        print(f"ovirt-node: warning: {one_line(path)} was left by a killed run and is still "
              "mounted: unmount it, then remove it", file=sys.stderr)


def main(argv=None):
    """Run the CLI; return the process exit code."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    try:
        parser = build_parser(command)
        args = parser.parse_args(argv)
        _clean_stale_temporaries()
        return args.func(args) or 0
    except NodeError as error:
        _error(error)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("ovirt-node: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except OSError as error:
        # an input or output the checks did not foresee: still one line
        where = f"{error.filename}: " if error.filename else ""
        _error(f"{where}{error.strerror or error}")
        return EXIT_ERROR
    except (RecursionError, MemoryError) as error:
        _error(f"the input is too large or too deeply nested ({type(error).__name__})")
        return EXIT_ERROR
    except Exception as error:  # pylint: disable=broad-except
        if os.environ.get("OVIRT_NODE_DEBUG"):
            raise
        _error(f"internal error ({type(error).__name__}: {error}); please report it, "
               "with OVIRT_NODE_DEBUG=1 for the traceback")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
