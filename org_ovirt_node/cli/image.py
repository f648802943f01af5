"""`ovirt-node image build|inspect|sign|verify|package`: the door onto org_ovirt_node.image.

Text for people (progress on stderr, the result on stdout) or, with
`--json`, JSON lines for machines: progress events, then one result object.
"""

import json
import sys

from org_ovirt_node import trust
from org_ovirt_node.image import signature
from org_ovirt_node.image.build import build_image
from org_ovirt_node.image.inspect import describe, inspect_image
from org_ovirt_node.image.squashfs import COMPRESSION_OPTIONS, DEFAULT_COMPRESSION
from org_ovirt_node.cli.output import reporter_for
from org_ovirt_node.progress import TextReporter
from org_ovirt_node.util import safeio


def register(subparsers):
    """Add `image build|inspect|sign|verify` to the top-level parser."""
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

    sign = commands.add_parser(
        "sign", help="write a detached OpenPGP signature IMAGE.sig",
        description="Sign IMAGE with gpg: IMAGE.sig, a detached binary OpenPGP signature. "
        "KEY is a file holding one secret key (gpg --export-secret-keys FINGERPRINT). "
        "The image is only read.")
    sign.add_argument("image", metavar="IMAGE", help="node image file")
    sign.add_argument("--key", required=True, metavar="KEY", help="secret key file")
    sign.add_argument("--passphrase-file", metavar="FILE",
                      help="the key's passphrase (for a protected key)")
    sign.add_argument("--force", action="store_true", help="replace IMAGE.sig if it exists")
    sign.add_argument("--json", action="store_true", help="print a JSON object")
    sign.set_defaults(func=run_sign)

    verify = commands.add_parser(
        "verify", help="check IMAGE.sig against the trusted keys",
        description="Check IMAGE.sig with gpgv against the trust store "
        "(/etc/ovirt-node/trusted.d/*.asc|*.gpg) or --keyring; whatever the policy, "
        "any problem is an error.")
    verify.add_argument("image", metavar="IMAGE", help="node image file")
    verify.add_argument("--keyring", metavar="DIR|FILE",
                        help="trusted public keys instead of /etc/ovirt-node/trusted.d")
    verify.add_argument("--json", action="store_true", help="print a JSON object")
    verify.set_defaults(func=run_verify)

    package = commands.add_parser(
        "package", help="make the ovirt-node-ng-image-update package of an image",
        description="Make ovirt-node-ng-image-update (rpm with rpmbuild, or .deb with "
        "dpkg-deb) carrying IMAGE, its .sha256 and .sig; installing it runs ovirt-node "
        "update. With --repo DIR the packages go to DIR and DIR gets the repository "
        "metadata (createrepo_c, or a flat apt repository).")
    package.add_argument("image", metavar="IMAGE", help="node image file")
    package.add_argument("--format", choices=("rpm", "deb"), default="rpm",
                         help="package format (default rpm)")
    package.add_argument("-o", "--output", metavar="DIR", help="folder for the packages "
                         "(default .)")
    package.add_argument("--repo", metavar="DIR",
                         help="write the packages and repository metadata into DIR")
    package.add_argument("--force", action="store_true", help="replace existing packages")
    package.add_argument("--json", action="store_true",
                         help="progress and result as JSON lines on stdout")
    package.set_defaults(func=run_package)


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
    info = inspect_image(args.image, reporter=TextReporter(sys.stderr), trust=trust.load())
    if args.json:
        print(json.dumps(info.to_dict(), indent=2, sort_keys=True))
    else:
        print("\n".join(describe(info)))
    return 0


def run_sign(args):
    """`image sign`."""
    made = signature.sign(args.image, args.key, force=args.force,
                          passphrase_file=args.passphrase_file)
    if args.json:
        print(json.dumps(made, indent=2, sort_keys=True))
    else:
        print(f"{made['signature']}: signed by {signature.describe_signer(made)}")
    return 0


def run_verify(args):
    """`image verify`: strict whatever the policy says (it was asked for)."""
    safeio.check_input_file(args.image, "image")
    store = trust.load(keyring=args.keyring)
    signer = signature.verify(args.image, store)
    if args.json:
        print(json.dumps({"image": args.image, "signature": signature.signature_path(args.image),
                          "signed_by": signer, "policy": store.policy}, indent=2,
                         sort_keys=True))
    else:
        print(f"{signature.signature_path(args.image)}: good signature by "
              f"{signature.describe_signer(signer)}")
    return 0


def run_package(args):
    """`image package`."""
    from org_ovirt_node.image import package  # pylint: disable=import-outside-toplevel
    reporter = reporter_for(args)
    result = package.build_package(args.image, fmt=args.format, output=args.output,
                                   repo=args.repo, force=args.force, reporter=reporter)
    if args.json:
        reporter.emit("result", **result)
    else:
        print("\n".join(package.describe(result)))
    return 0
