"""Entry point of `ovirt-node`: builds the parser, runs a subcommand, and turns
every NodeError into one line on stderr and a non-zero exit.

Each subcommand group lives in its own module with a `register(subparsers)`
function; adding a group means adding it to SUBCOMMAND_MODULES.
"""

import argparse
import importlib
import sys

from org_ovirt_node import __version__
from org_ovirt_node.errors import NodeError

SUBCOMMAND_MODULES = [
    "org_ovirt_node.cli.image",
    "org_ovirt_node.cli.install",
    "org_ovirt_node.cli.iso",
    "org_ovirt_node.cli.status",
    "org_ovirt_node.cli.ks",
]

EXIT_ERROR = 1
EXIT_USAGE = 2


def build_parser():
    """The full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="ovirt-node",
        description="Build, install and inspect oVirt Node images on LVM thin provisioning.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv=None):
    """Run the CLI; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except NodeError as error:
        print(f"ovirt-node: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("ovirt-node: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
