"""Per-host network boot configs: PXELINUX, GRUB2 EFI netboot and iPXE.

Each host boots the installer with the same kernel arguments in all three
formats: `inst.ks=` pointing at its rendered kickstart, `inst.stage2=` or
`inst.repo=`, and the dracut network arguments (ip=, bond=, vlan=,
nameserver=, BOOTIF=) derived from the inventory, so the installer reaches the
kickstart server with the host's own address.

Layout of the output directory:
    pxelinux.cfg/01-<mac>      PXELINUX, found by the client's MAC
    grub.cfg-01-<mac>          GRUB2 netboot, found by the client's MAC
    ipxe/<mac>.ipxe            iPXE, one script per host
    boot.ipxe                  iPXE entry script chaining to ipxe/${mac:hexhyp}.ipxe
(<mac> is lower case with dashes: 52-54-00-00-00-01.)
"""

import re
import shlex

from org_ovirt_node.errors import NodeError
from org_ovirt_node.ks.render import output_errors
from org_ovirt_node.util import safeio

# Kernel arguments are kept to characters all three boot loaders pass through
# unquoted, so one argument list means the same everywhere.
_SAFE_ARG = re.compile(r"^[A-Za-z0-9_.,:/=@%+~-]+$")


def check_extra_args(text):
    """Split extra kernel arguments; refuse ones that need quoting anywhere."""
    try:
        args = shlex.split(text or "")
    except ValueError as error:
        raise NodeError(f"--append: {error}") from None
    for arg in args:
        if not _SAFE_ARG.fullmatch(arg):
            raise NodeError(f"--append: kernel argument '{arg}' has characters that "
                            "PXELINUX, GRUB and iPXE would read differently")
    return args


def check_url(option, url, required=True):
    """Refuse a URL a boot loader config would misread: blanks, line breaks, quotes."""
    if not url:
        if required:
            raise NodeError(f"{option} must not be empty")
        return url
    if not _SAFE_ARG.fullmatch(url):
        raise NodeError(f"{option} {url!r} has characters (blanks, line breaks, quotes ...) "
                        "that PXELINUX, GRUB or iPXE would misread")
    return url


def kernel_args(host, ks_url, stage2_url="", repo_url="", extra=()):
    """The installer's kernel arguments for HOST.

    KS_URL is the base URL the rendered kickstarts are served from; the host's
    is KS_URL/<hostname>.ks. Exactly one of STAGE2_URL and REPO_URL is given.
    """
    if bool(stage2_url) == bool(repo_url):
        raise NodeError("give exactly one of --stage2-url and --repo-url")
    source = f"inst.stage2={stage2_url}" if stage2_url else f"inst.repo={repo_url}"
    args = [f"inst.ks={ks_url.rstrip('/')}/{host.hostname}.ks", source,
            *host.network.kernel_args(), *extra]
    for arg in args:
        if not _SAFE_ARG.fullmatch(arg):
            raise NodeError(f"kernel argument '{arg}' has characters a boot loader "
                            "would misread", where=host.hostname)
    return args


def _grub_path(url):
    """GRUB names remote files (http,host)/path; tftp-relative paths stay."""
    match = re.fullmatch(r"(https?|tftp)://([^/]+)(/.*)", url)
    return f"({match.group(1)},{match.group(2)}){match.group(3)}" if match else url


def _grub_word(word):
    return word if _SAFE_ARG.fullmatch(word) else "'" + word.replace("'", "'\\''") + "'"


def pxelinux_config(host, kernel_url, initrd_url, args):
    """The pxelinux.cfg/01-<mac> file: one entry, booted at once."""
    return (f"# oVirt Node install of {host.hostname}\n"
            "DEFAULT install\nPROMPT 0\nTIMEOUT 0\n\n"
            "LABEL install\n"
            f"  MENU LABEL Install oVirt Node on {host.hostname}\n"
            f"  KERNEL {kernel_url}\n"
            f"  INITRD {initrd_url}\n"
            f"  APPEND {' '.join(args)}\n")


def grub_config(host, kernel_url, initrd_url, args):
    """The grub.cfg-01-<mac> file for GRUB2 EFI netboot."""
    words = " ".join(_grub_word(arg) for arg in args)
    return (f"# oVirt Node install of {host.hostname}\n"
            "set default=0\nset timeout=0\n\n"
            f"menuentry 'Install oVirt Node on {host.hostname}' {{\n"
            f"    linux {_grub_word(_grub_path(kernel_url))} {words}\n"
            f"    initrd {_grub_word(_grub_path(initrd_url))}\n"
            "}\n")


def ipxe_script(host, kernel_url, initrd_url, args):
    """The ipxe/<mac>.ipxe script for HOST."""
    return ("#!ipxe\n"
            f"# oVirt Node install of {host.hostname}\n"
            f"initrd --name initrd.img {initrd_url}\n"
            f"kernel {kernel_url} initrd=initrd.img {' '.join(args)}\n"
            "boot\n")


IPXE_ENTRY = ("#!ipxe\n"
              "# Chains to the script of the booting NIC's MAC.\n"
              "chain --autofree ipxe/${mac:hexhyp}.ipxe || shell\n")


def write_pxe(hosts, out_dir, kernel_url, initrd_url, ks_url, stage2_url="",
              repo_url="", extra=()):
    """Write the three boot configs for every host; return the paths written."""
    written = []
    for option, url in (("--kernel-url", kernel_url), ("--initrd-url", initrd_url),
                        ("--ks-url", ks_url), ("--stage2-url", stage2_url),
                        ("--repo-url", repo_url)):
        check_url(option, url, required=option in ("--kernel-url", "--initrd-url", "--ks-url"))

    def write(relative, text):
        written.append(safeio.write_in(out_dir, relative, text))

    with output_errors(out_dir):
        safeio.check_output_dir(out_dir, create=True)
        for host in hosts:
            args = kernel_args(host, ks_url, stage2_url, repo_url, extra)
            mac = host.mac_dashed
            write(f"pxelinux.cfg/01-{mac}", pxelinux_config(host, kernel_url, initrd_url, args))
            write(f"grub.cfg-01-{mac}", grub_config(host, kernel_url, initrd_url, args))
            write(f"ipxe/{mac}.ipxe", ipxe_script(host, kernel_url, initrd_url, args))
        write("boot.ipxe", IPXE_ENTRY)
    return written
