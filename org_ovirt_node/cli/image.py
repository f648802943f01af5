"""`ovirt-node image build|inspect`: the door onto org_ovirt_node.image.

Text for people (progress on stderr, the result on stdout) or, with
`--json`, JSON lines for machines: progress events, then one result object.
"""

import json
import sys

from org_ovirt_node.image.build import build_image
from org_ovirt_node.image.inspect import describe, inspect_image
from org_ovirt_node.image.squashfs import COMPRESSION_OPTIONS, DEFAULT_COMPRESSION
from org_ovirt_node.cli.output import reporter_for
from org_ovirt_node.progress import TextReporter
from org_ovirt_node.util import safeio


def register(subparsers):
    """Add `image build` and `image inspect` to the top-level parser."""
    parser = subparsers.add_parser("image", help="build or inspect node images",
                                   description="Build or inspect node images "
                                   "(squashfs holding LiveOS/rootfs.img).")
    commands = parser.add_subparsers(dest="image_command", metavar="COMMAND")
    commands.required = True

    build = commands.add_parser(
        "build", help="make a node image from a root tree",
        description="Make a node image from ROOTDIR: a squashfs holding "
        "LiveOS/rootfs.img (ext4), the NVR inside, and IMAGE.sha256 beside it. "
        "With SOURCE_DATE_EPOCH set, builds of the same tree are byte-identical.")
    build.add_argument("rootdir", metavar="ROOTDIR", help="root tree to pack (only read)")
    build.add_argument("-o", "--output", metavar="IMAGE", required=True,
                       help="image file to write")
    build.add_argument("--nvr", required=True, help="image name-version-release")
    build.add_argument("--compression", choices=sorted(COMPRESSION_OPTIONS),
                       default=DEFAULT_COMPRESSION,
                       help=f"squashfs compression (default {DEFAULT_COMPRESSION})")
    build.add_argument("--force", action="store_true",
                       help="replace IMAGE (and IMAGE.sha256) if it exists")
    build.add_argument("--json", action="store_true",
                       help="progress and result as JSON lines on stdout")
    build.set_defaults(func=run_build)

    inspect = commands.add_parser(
        "inspect", help="show what a node image holds",
        description="Show NVR, OS, kernels, sizes and checksum of a node image; "
        "fail with one clear line if it is not usable.")
    inspect.add_argument("image", metavar="IMAGE", help="node image file")
    inspect.add_argument("--json", action="store_true", help="print a JSON object")
    inspect.set_defaults(func=run_inspect)


def run_build(args):
    """`image build`."""
    reporter = reporter_for(args)
    info = build_image(args.rootdir, args.output, args.nvr,
                       compression=args.compression, reporter=reporter, force=args.force)
    if args.json:
        reporter.emit("result", image=info.to_dict())
    else:
        print("\n".join(describe(info)))
    return 0


def run_inspect(args):
    """`image inspect`."""
    safeio.check_input_file(args.image, "image")
    # hashing a big image takes a while: its progress goes to stderr (stdout
    # stays the result alone, JSON or text); Ctrl-C stops it cleanly
    info = inspect_image(args.image, reporter=TextReporter(sys.stderr))
    if args.json:
        print(json.dumps(info.to_dict(), indent=2, sort_keys=True))
    else:
        print("\n".join(describe(info)))
    return 0
