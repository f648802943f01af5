"""`ovirt-node ks ...`: validate kickstarts, render them for a fleet, write
PXE boot configs. A thin door onto org_ovirt_node.ks; problems in the input
arrive as NodeError (one line) or as validator findings (file:line).

The engine (pykickstart, jinja2, PyYAML) is imported when a command runs, so
`ovirt-node` starts on a node that has none of them."""
# pylint: disable=import-outside-toplevel

from org_ovirt_node.ks import DEFAULT_VERSION, TEMPLATES, VERSION_EXAMPLES


def register(subparsers):
    """Add the `ks` command group."""
    parser = subparsers.add_parser("ks", help="validate, render and PXE-boot node kickstarts",
                                   description="Kickstart tools for node installs.")
    commands = parser.add_subparsers(dest="ks_command", metavar="KS_COMMAND")
    commands.required = True

    validate = commands.add_parser(
        "validate", help="check kickstarts: stock commands, %%addon org_ovirt_node, node rules")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--version", default=DEFAULT_VERSION,
                          help=f"kickstart syntax of the installer: {', '.join(VERSION_EXAMPLES)} "
                               f"or any other version pykickstart knows, such as DEVEL "
                               f"(default {DEFAULT_VERSION})")
    validate.add_argument("--json", action="store_true", help="print a JSON report")
    validate.set_defaults(func=run_validate)

    render = commands.add_parser("render", help="render one kickstart per inventory host")
    render.add_argument("template", metavar="TEMPLATE",
                        help=f"{', '.join(TEMPLATES)} or a template file")
    render.add_argument("--inventory", required=True, metavar="HOSTS.yaml")
    render.add_argument("-o", "--output", required=True, metavar="DIR")
    render.set_defaults(func=run_render)

    pxe = commands.add_parser("pxe", help="write PXELINUX, GRUB2 and iPXE configs per host")
    pxe.add_argument("--inventory", required=True, metavar="HOSTS.yaml")
    pxe.add_argument("--kernel-url", required=True, help="installer kernel (vmlinuz)")
    pxe.add_argument("--initrd-url", required=True, help="installer initrd.img")
    pxe.add_argument("--ks-url", required=True,
                     help="base URL of the rendered kickstarts (<URL>/<hostname>.ks)")
    source = pxe.add_mutually_exclusive_group(required=True)
    source.add_argument("--stage2-url", default="", help="inst.stage2= (installer image)")
    source.add_argument("--repo-url", default="", help="inst.repo= (installation tree)")
    pxe.add_argument("--append", default="", metavar="ARGS",
                     help="more kernel arguments, e.g. 'console=ttyS0'")
    pxe.add_argument("-o", "--output", required=True, metavar="DIR")
    pxe.set_defaults(func=run_pxe)


def run_validate(args):
    from org_ovirt_node.ks.versions import check_version
    from org_ovirt_node.ks.validate import validate_files
    check_version(args.version)  # an unknown version is a usage error, before any file
    report = validate_files(args.files, args.version)
    if args.json:
        print(report.to_json())
    else:
        for finding in report.sorted():
            print(finding)
        summary = f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        print(summary if report.findings else f"{len(args.files)} kickstart(s) OK")
    return 0 if report.ok else 1


def run_render(args):
    from org_ovirt_node.ks.inventory import load_inventory
    from org_ovirt_node.ks.render import render_inventory
    hosts = load_inventory(args.inventory)
    written = render_inventory(args.template, hosts, args.output)
    print(f"wrote {len(written)} kickstart(s) to {args.output}")
    return 0


def run_pxe(args):
    from org_ovirt_node.ks.inventory import load_inventory
    from org_ovirt_node.ks.pxe import check_extra_args, write_pxe
    extra = check_extra_args(args.append)
    hosts = load_inventory(args.inventory)
    written = write_pxe(hosts, args.output, args.kernel_url, args.initrd_url, args.ks_url,
                        stage2_url=args.stage2_url, repo_url=args.repo_url, extra=extra)
    print(f"wrote {len(written)} boot file(s) for {len(hosts)} host(s) to {args.output}")
    return 0
