"""`ovirt-node install`: plan, confirm, then lay out and deploy a node image.

The pipeline (blivet) is imported when the command runs, so `ovirt-node`
starts on an installed node, which has no blivet.
"""
# pylint: disable=import-outside-toplevel

import sys

from org_ovirt_node import constants
from org_ovirt_node.cli.output import emit_result, reporter_for
from org_ovirt_node.errors import NodeError
from org_ovirt_node.install.options import InstallOptions
from org_ovirt_node.progress import JsonReporter
from org_ovirt_node.sizes import parse_size
from org_ovirt_node.util import safeio


def register(subparsers):
    """Add the install subcommand."""
    parser = subparsers.add_parser(
        "install", help="install a node image onto blank disks",
        description="Lay out GPT + boot partitions + LVM thin pool on the disks, deploy the "
                    "image as a read-only base LV, create its first writable layer and "
                    "write fstab and a boot entry.")
    parser.add_argument("--image", required=True, help="node image (squashfs)")
    parser.add_argument("--disk", action="append", required=True, dest="disks",
                        metavar="DEV", help="target disk (repeat for more)")
    parser.add_argument("--vg", default=constants.DEFAULT_VG, help="volume group name")
    parser.add_argument("--pool", default=constants.DEFAULT_POOL, help="thin pool name")
    parser.add_argument("--volumes", default=constants.DEFAULT_PROFILE,
                        choices=sorted(constants.VOLUME_PROFILES),
                        help="separate volumes: nist (all), minimal (/var only) or none")
    parser.add_argument("--volume", action="append", default=[], metavar="MOUNT:SIZE",
                        help="add or resize a separate volume, e.g. /var/log:16GiB")
    parser.add_argument("--root-size", metavar="SIZE",
                        help="virtual size of the root LVs (default max(6GiB, image))")
    parser.add_argument("--swap", metavar="SIZE",
                        help="swap size, 0 for none (default: as Anaconda suggests)")
    parser.add_argument("--fstype", default="ext4", choices=("ext4", "xfs"),
                        help="filesystem of the separate volumes")
    parser.add_argument("--wipe", action="store_true",
                        help="erase disks that hold partitions, filesystems or LVM")
    parser.add_argument("--keep", type=int, default=constants.DEFAULT_KEEP, metavar="N",
                        help="images `ovirt-node gc` keeps on this node (default 2)")
    parser.add_argument("--no-bootloader", dest="bootloader", action="store_false",
                        help="write boot entries and grubenv but no boot loader or grub.cfg "
                             "(to install your own)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the planned layout and exit without writing")
    parser.add_argument("--json", action="store_true", help="JSON lines for machines")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="do not ask before writing to the disks")
    parser.set_defaults(func=run_install)


def options_from_args(args):
    """Build InstallOptions from parsed arguments."""
    volume_sizes = {}
    for item in args.volume:
        mount_point, sep, size = item.rpartition(":")
        if not sep or not mount_point:
            raise NodeError(f"--volume '{item}' is not MOUNT:SIZE (e.g. /var/log:16GiB)")
        if mount_point in volume_sizes:
            raise NodeError(f"--volume names {mount_point} twice")
        volume_sizes[mount_point] = parse_size(size)
    return InstallOptions(
        disks=args.disks, vg=args.vg, pool=args.pool, profile=args.volumes,
        volume_sizes=volume_sizes, fstype=args.fstype,
        root_size=parse_size(args.root_size) if args.root_size else 0,
        swap_size=-1 if args.swap is None else (0 if args.swap.strip() == "0"
                                                 else parse_size(args.swap)),
        wipe=args.wipe, bootloader=args.bootloader, keep=args.keep)


def _confirm(args):
    """The confirmation callback: --yes, or an interactive y/N, or a refusal."""
    def ask(plan):
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise NodeError("refusing to write to " + ", ".join(plan.disks) +
                            " without confirmation: pass --yes")
        print(plan.render_table(), file=sys.stderr)
        answer = input(f"Erase and install onto {', '.join(plan.disks)}? [y/N] ")
        return answer.strip().lower() in ("y", "yes")
    return ask


def run_install(args):
    """Run `ovirt-node install`."""
    from org_ovirt_node.install.pipeline import install, make_plan
    safeio.check_input_file(args.image, "image")
    options = options_from_args(args)
    options.validate()
    reporter = reporter_for(args)
    if args.dry_run:
        plan, _, _ = make_plan(args.image, options, reporter)
        emit_result(args, {"event": "plan", "plan": plan.to_dict()}, plan.render_table())
        return 0
    result = install(args.image, options, reporter, confirm=_confirm(args))
    if isinstance(reporter, JsonReporter):
        reporter.emit("result", **result.to_dict())
    else:
        print(result.plan.render_table())
        print(f"Installed {result.plan.nvr}; default boot entry "
              f"{result.boot_entries[0].entry_id}")
    return 0
