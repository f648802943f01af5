"""How subcommands talk back: a reporter chosen by --json, and the final result."""

import json
import sys

from org_ovirt_node.progress import JsonReporter, TextReporter


def reporter_for(args):
    """JSON lines on stdout with --json, human text on stderr otherwise."""
    return JsonReporter(sys.stdout) if getattr(args, "json", False) else TextReporter(sys.stderr)


def emit_result(args, data, text):
    """Print the command's result: one JSON document/event with --json, else TEXT."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=None, sort_keys=True))
    else:
        print(text)
