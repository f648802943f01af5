"""`ovirt-node iso remaster|pxe`: the door onto org_ovirt_node.iso.

Text for people (progress on stderr, the result on stdout) or, with
`--json`, JSON lines for machines: progress events, then one result object
saying what was changed. The engine (jinja2 via the kickstart templates) is
imported when a command runs, so `ovirt-node` starts on a node without it.
"""
# pylint: disable=import-outside-toplevel

from org_ovirt_node.cli.output import reporter_for


def register(subparsers):
    """Add `iso remaster` and `iso pxe` to the top-level parser."""
    parser = subparsers.add_parser(
        "iso", help="make node installer ISOs and PXE trees from a stock boot ISO",
        description="Turn a stock Anaconda boot ISO plus a node image into a node "
        "installer ISO (remaster) or the files a PXE server serves (pxe).")
    commands = parser.add_subparsers(dest="iso_command", metavar="COMMAND")
    commands.required = True

    rem = commands.add_parser(
        "remaster", help="make a node installer ISO",
        description="Add the node image, a kickstart pointing at it and optional "
        "files to IN.iso; rewrite every boot menu (isolinux, GRUB2 BIOS/EFI, the "
        "grub.cfg inside the EFI boot image) and keep BIOS, UEFI and USB boot. "
        "With SOURCE_DATE_EPOCH set the output is byte-identical across runs.")
    rem.add_argument("input", metavar="IN.iso", help="stock boot ISO (only read)")
    rem.add_argument("output", metavar="OUT.iso", help="ISO to write")
    rem.add_argument("--image", required=True, help="node image to put on the ISO")
    rem.add_argument("--ks", metavar="FILE",
                     help="kickstart to add (its liveimg is pointed at the image on the "
                     "ISO); default: interactive defaults for the image")
    rem.add_argument("-u", "--updates", metavar="IMG",
                     help="updates.img to add, loaded with inst.updates=")
    rem.add_argument("-a", "--add", action="append", default=[], metavar="PATH",
                     help="file or directory to add at the ISO root (repeatable)")
    rem.add_argument("-c", "--cmdline", default="", metavar="ARGS",
                     help="kernel arguments to add to every boot entry")
    rem.add_argument("-r", "--rm-args", default="", metavar="NAMES",
                     help="space-separated argument names to remove from every entry")
    rem.add_argument("-V", "--volid", metavar="ID",
                     help="new volume id (at most 32 characters; default: the input's)")
    rem.add_argument("--title", metavar="TEXT",
                     help="product name to show in the boot menu entries")
    rem.add_argument("-R", "--replace", nargs=2, action="append", default=[],
                     metavar=("FROM", "TO"), help="replace text in every boot menu")
    rem.add_argument("--no-md5sum", dest="md5", action="store_false",
                     help="do not implant the media check sum")
    rem.add_argument("--force", action="store_true", help="replace OUT.iso if it exists")
    rem.add_argument("--json", action="store_true",
                     help="progress and a summary of the changes as JSON lines on stdout")
    rem.set_defaults(func=run_remaster)

    pxe = commands.add_parser(
        "pxe", help="write the files a PXE server serves",
        description="Copy the installer's kernel, initrd and stage2 out of IN.iso, add "
        "the node image and a kickstart pointing at it, and write PXELINUX, GRUB2 EFI "
        "and iPXE configs that load everything from --base-url (where DIR is served).")
    pxe.add_argument("input", metavar="IN.iso", help="stock boot ISO (only read)")
    pxe.add_argument("--image", required=True, help="node image to serve")
    pxe.add_argument("-o", "--output", metavar="DIR", required=True, help="directory to write")
    pxe.add_argument("--base-url", required=True, metavar="URL",
                     help="URL DIR is served at, e.g. http://pxe.example.com/node")
    pxe.add_argument("--ks", metavar="FILE",
                     help="kickstart to serve (its liveimg is pointed at the image); "
                     "default: interactive defaults for the image")
    pxe.add_argument("-c", "--cmdline", default="", metavar="ARGS",
                     help="kernel arguments to add (e.g. ip=dhcp console=ttyS0)")
    pxe.add_argument("-r", "--rm-args", default="", metavar="NAMES",
                     help="argument names to leave out (inst.ks, inst.stage2)")
    pxe.add_argument("--title", default="Install oVirt Node", help="boot menu entry name")
    pxe.add_argument("--force", action="store_true", help="write into a non-empty DIR")
    pxe.add_argument("--json", action="store_true",
                     help="progress and a summary as JSON lines on stdout")
    pxe.set_defaults(func=run_pxe)


def run_remaster(args):
    """`iso remaster`."""
    from org_ovirt_node.iso.remaster import RemasterOptions, remaster
    reporter = reporter_for(args)
    options = RemasterOptions(
        input=args.input, output=args.output, image=args.image, ks=args.ks,
        updates=args.updates, add=args.add, cmdline=args.cmdline, rm_args=args.rm_args,
        volid=args.volid, title=args.title, replace=[tuple(pair) for pair in args.replace],
        md5=args.md5, force=args.force)
    summary = remaster(options, reporter)
    if args.json:
        reporter.emit("result", remaster=summary)
    else:
        print(f"{summary['output']}: volume id '{summary['volid']['new']}', "
              f"{sum(summary['menus'].values())} boot entries in {len(summary['menus'])} "
              f"menus rewritten, image {summary['image']['nvr']} at {summary['image']['path']}")
    return 0


def run_pxe(args):
    """`iso pxe`."""
    from org_ovirt_node.iso.pxe import build_pxe_tree
    reporter = reporter_for(args)
    summary = build_pxe_tree(args.input, args.image, args.output, args.base_url, ks=args.ks,
                             cmdline=args.cmdline, rm_args=args.rm_args, title=args.title,
                             force=args.force, reporter=reporter)
    if args.json:
        reporter.emit("result", pxe=summary)
    else:
        print(f"{summary['output']}: {len(summary['files'])} files for {summary['base_url']}, "
              f"kernel arguments: {' '.join(summary['kernel_args'])}")
    return 0
