"""`ovirt-node iso pxe`: the files a PXE server serves, from a stock boot ISO.

The installer boots over the network from the same kernel, initrd and stage2
the ISO carries; the node image and a kickstart pointing at it sit beside
them. Everything is named by one --base-url (where DIR is served over HTTP),
so the three boot loader configs and the kickstart agree:

    DIR/vmlinuz, DIR/initrd.img       kernel and initrd of the ISO
    DIR/<stage2 path>, DIR/.treeinfo  stage2 where inst.stage2=BASE finds it
    DIR/<image>, DIR/<image>.sha256   the node image
    DIR/<ks>                          kickstart; liveimg --url=BASE/<image>
    DIR/pxelinux.cfg/default          PXELINUX (lpxelinux.0 for HTTP)
    DIR/grub.cfg                      GRUB2 EFI netboot
    DIR/boot.ipxe                     iPXE
(per-host configs with network settings: `ovirt-node ks pxe`.)
"""

import os
import re
import shutil

from org_ovirt_node.errors import NodeError
from org_ovirt_node.image.checksum import CHUNK, write_checksum
from org_ovirt_node.image.inspect import inspect_image
from org_ovirt_node.iso import bootmenus, isofs, kickstart
from org_ovirt_node.iso.remaster import DEFAULT_KS_NAME, STAGE2, check_layout
from org_ovirt_node.progress import Reporter
from org_ovirt_node.util import safeio, textcheck

KERNELS = (("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"),
           ("isolinux/vmlinuz", "isolinux/initrd.img"))


def stage2_path(info, treeinfo):
    """The installer's stage2 on the ISO: .treeinfo's [stage2] mainimage, else the known paths."""
    match = re.search(r"^\[stage2\][^\[]*?^mainimage\s*=\s*(\S+)", treeinfo, re.M | re.S)
    if match and match.group(1) in info.files and textcheck.SAFE_ARG.fullmatch(match.group(1)) \
            and ".." not in match.group(1).split("/"):
        return match.group(1)
    for path in STAGE2:
        if path in info.files:
            return path
    raise NodeError(f"{info.path} has no installer stage2 ({' or '.join(STAGE2)})")


def kernel_args(base_url, ks_name, cmdline="", rm_args=""):
    """Installer arguments: stage2 and kickstart from BASE_URL, plus the user's."""
    removed = set(rm_args.split())
    args = [arg for arg in (f"inst.stage2={base_url}", f"inst.ks={base_url}/{ks_name}")
            if bootmenus.arg_name(arg) not in removed]
    for arg in bootmenus.split_args(cmdline):
        if arg not in args:
            args.append(arg)
    for arg in args:
        textcheck.check_safe_arg("kernel argument", arg)
    return args


def _grub_url(url):
    """GRUB spells http://host/path as (http,host)/path."""
    match = re.fullmatch(r"(https?|tftp)://([^/]+)(/.*)", url)
    return f"({match.group(1)},{match.group(2)}){match.group(3)}" if match else url


def pxelinux_config(base_url, args, title):
    return (f"# {title}: served from {base_url}\n"
            "DEFAULT install\nPROMPT 0\nTIMEOUT 50\n\n"
            "LABEL install\n"
            f"  MENU LABEL {title}\n"
            f"  KERNEL {base_url}/vmlinuz\n"
            f"  INITRD {base_url}/initrd.img\n"
            f"  APPEND {' '.join(args)}\n")


def grub_config(base_url, args, title):
    words = " ".join(bootmenus.grub_quote(arg) for arg in args)
    return (f"# {title}: served from {base_url}\n"
            "set default=0\nset timeout=5\n\n"
            f"menuentry {bootmenus.grub_quote(title)} {{\n"
            f"    linux {_grub_url(base_url)}/vmlinuz {words}\n"
            f"    initrd {_grub_url(base_url)}/initrd.img\n"
            "}\n")


def ipxe_script(base_url, args, title):
    return ("#!ipxe\n"
            f"# {title}: served from {base_url}\n"
            f"initrd --name initrd.img {base_url}/initrd.img\n"
            f"kernel {base_url}/vmlinuz initrd=initrd.img {' '.join(args)}\n"
            "boot\n")


def _copy(source, dest, reporter, step):
    """Copy SOURCE to DEST with byte progress."""
    total, done = os.path.getsize(source), 0
    with safeio.open_input(source, "image") as src, safeio.open_output(dest, binary=True) as out:
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            out.write(chunk)
            done += len(chunk)
            reporter.progress(step, done, total)
    shutil.copymode(source, dest)


def build_pxe_tree(iso, image, out_dir, base_url, ks=None, cmdline="", rm_args="",
                   title="Install oVirt Node", force=False, reporter=None):
    """Write the PXE tree for ISO and IMAGE into OUT_DIR; return a summary dict."""
    reporter = reporter or Reporter()
    base_url = base_url.rstrip("/")
    if not re.fullmatch(r"(https?|ftp|tftp)://[^/\s]+(/\S*)?", base_url) \
            or not textcheck.SAFE_ARG.fullmatch(base_url):
        raise NodeError(f"--base-url {base_url!r} is not an http(s)/ftp/tftp URL a boot "
                        "loader reads as one word")
    textcheck.check_one_line("--title", title)
    kernel_args(base_url, os.path.basename(ks) if ks else DEFAULT_KS_NAME, cmdline, rm_args)
    if ks:
        textcheck.check_file_name("--ks", os.path.basename(ks))
    textcheck.check_file_name("--image", os.path.basename(image))
    safeio.check_name_length(os.path.join(out_dir, os.path.basename(image) + ".sha256"))
    if not out_dir:
        raise NodeError("the output directory name is empty")
    if os.path.lexists(out_dir):
        safeio.check_output_dir(out_dir)
        if os.listdir(out_dir) and not force:
            raise NodeError(f"{out_dir} is not empty (use --force to write into it)")
    else:
        safeio.check_name_length(out_dir)
        safeio.check_output_dir(os.path.dirname(os.path.abspath(out_dir)),
                                what="folder of the output directory")
    for path, what in ((iso, "ISO"), (image, "image"), (ks, "kickstart")):
        if path:
            safeio.check_input_file(path, what)
    reporter.step("check", f"Reading {iso}")
    info = isofs.read_iso(iso)
    check_layout(info)
    kernel = next((pair for pair in KERNELS if all(p in info.files for p in pair)), None)
    if not kernel:
        raise NodeError(f"{iso} has no installer kernel and initrd ({KERNELS[0][0]})")
    reporter.step("image", f"Inspecting node image {image}")
    node = inspect_image(image, verify_checksum=True, reporter=reporter)

    created = not os.path.exists(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
        return _write_tree(info, kernel, node, image, out_dir, base_url, ks, cmdline,
                           rm_args, title, reporter)
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _write_tree(info, kernel, node, image, out_dir, base_url, ks, cmdline, rm_args, title,
                reporter):
    treeinfo = ""
    with safeio.TempDir("pxe") as work:
        meta = [p for p in (".treeinfo", ".discinfo") if p in info.files]
        isofs.extract(info.path, meta, work)
        if ".treeinfo" in meta:
            with open(os.path.join(work, ".treeinfo"), encoding="utf-8") as stream:
                treeinfo = stream.read()
        stage2 = stage2_path(info, treeinfo)
        reporter.step("extract", f"Copying kernel, initrd and {stage2} from the ISO")
        isofs.extract(info.path, [*kernel, stage2], work)
        for source, target in ((kernel[0], "vmlinuz"), (kernel[1], "initrd.img"),
                               (stage2, stage2), *((name, name) for name in meta)):
            dest = safeio.check_replaceable(safeio.output_path(out_dir, target))
            shutil.move(os.path.join(work, source), dest)

    name = os.path.basename(image)
    reporter.step("image-copy", f"Copying {name}")
    _copy(image, safeio.output_path(out_dir, name), reporter, "image-copy")
    write_checksum(safeio.output_path(out_dir, name), node.sha256)

    image_url = f"{base_url}/{name}"
    ks_name = os.path.basename(ks) if ks else DEFAULT_KS_NAME
    if ks:
        ks_text, _ = kickstart.point_liveimg(safeio.read_text(ks, "kickstart"), image_url,
                                             node.sha256)
    else:
        ks_text = kickstart.default_kickstart(image_url, node.sha256)
    args = kernel_args(base_url, ks_name, cmdline, rm_args)
    files = {ks_name: ks_text,
             "pxelinux.cfg/default": pxelinux_config(base_url, args, title),
             "grub.cfg": grub_config(base_url, args, title),
             "boot.ipxe": ipxe_script(base_url, args, title)}
    for relative, text in files.items():
        safeio.write_in(out_dir, relative, text)
    written = sorted(os.path.relpath(os.path.join(top, f), out_dir)
                     for top, _, names in os.walk(out_dir) for f in names)
    return {"output": os.path.abspath(out_dir), "base_url": base_url, "stage2": stage2,
            "kernel_args": args, "kickstart": ks_name, "image": {"nvr": node.nvr,
            "sha256": node.sha256, "url": image_url}, "files": written}
