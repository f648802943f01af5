"""`ovirt-node iso remaster`: a node installer ISO from a stock boot ISO.

The pipeline, in the order it runs:
  check    refuse bad input before anything is written (ISO, layout, volid,
           output, files, the node image itself);
  menus    copy out only the boot menus, rewrite them (bootmenus), and the
           grub.cfg inside the EFI boot image (efiboot, via mtools);
  payload  the image, its .sha256, the kickstart pointing at that copy,
           updates.img and --add paths;
  write    xorriso reads the input and writes the output in one pass,
           replaying the input's boot setup (El Torito BIOS + EFI, MBR/GPT
           hybrid, appended EFI partition), with only the edited files
           swapped in - nothing else is extracted; the media check sum
           implantisomd5 would add is computed from that same stream
           (isomd5), so the output is never read back.
The output appears under its name only when complete; a failure leaves
nothing behind. With SOURCE_DATE_EPOCH set, reruns are byte-identical.
"""

import os
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from org_ovirt_node.errors import NodeError
from org_ovirt_node.image.checksum import write_checksum
from org_ovirt_node.image.inspect import inspect_image
from org_ovirt_node.iso import bootmenus, efiboot, isofs, isomd5, kickstart
from org_ovirt_node.progress import Reporter
from org_ovirt_node.util import safeio, textcheck
from org_ovirt_node.util.run import require_tool

VOLID_MAX = 32
DEFAULT_KS_NAME = "interactive-defaults.ks"
# Boot menus of lorax-made ISOs (mkksiso's list); whichever exist are rewritten.
MENUS = ("isolinux/isolinux.cfg", "EFI/BOOT/grub.cfg", "EFI/BOOT/BOOT.conf",
         "boot/grub2/grub.cfg", "boot/grub/grub.cfg")
STAGE2 = ("images/install.img", "LiveOS/squashfs.img")
BIG_FILE = 4 << 30


@dataclass
class RemasterOptions:
    """Everything `iso remaster` takes; paths as given by the user."""

    input: str
    output: str
    image: str
    ks: Optional[str] = None
    updates: Optional[str] = None
    add: List[str] = field(default_factory=list)
    cmdline: str = ""
    rm_args: str = ""
    volid: Optional[str] = None
    title: Optional[str] = None
    replace: List[Tuple[str, str]] = field(default_factory=list)
    md5: bool = True
    force: bool = False


def source_date_epoch():
    """SOURCE_DATE_EPOCH as an int, or None when unset."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value is None:
        return None
    if not value.isdigit():
        raise NodeError(f"SOURCE_DATE_EPOCH='{value}' is not a number of seconds")
    return int(value)


def check_layout(info):
    """Refuse an ISO that is not an Anaconda boot ISO (nothing to point at)."""
    if not any(path in info.files for path in STAGE2):
        raise NodeError(f"{info.path} has no Anaconda boot layout "
                        f"(neither {' nor '.join(STAGE2)} is on it)")
    if not any(path in info.files for path in MENUS):
        raise NodeError(f"{info.path} has no Anaconda boot layout (no boot menu: "
                        f"none of {', '.join(MENUS)})")
    if "images/pxeboot/vmlinuz" not in info.files and "isolinux/vmlinuz" not in info.files:
        raise NodeError(f"{info.path} has no Anaconda boot layout (no installer kernel)")


def check_options(options):
    """Cheap refusals, before the ISO or image is read."""
    for tool, package in (("xorriso", "xorriso"), ("mtype", "mtools")):
        require_tool(tool, package)
    safeio.check_input_file(options.input, "input ISO")
    if os.path.abspath(options.input) == os.path.abspath(options.output) or (
            os.path.exists(options.output) and os.path.samefile(options.input, options.output)):
        raise NodeError("the output ISO must not be the input ISO")
    safeio.check_output_file(options.output, options.force, "output ISO")
    for what, value in (("--volid", options.volid), ("--title", options.title),
                        ("--cmdline", options.cmdline), ("--rm-args", options.rm_args),
                        *((("--replace", text) for pair in options.replace for text in pair))):
        textcheck.check_one_line(what, value)
    for what, path in (("--image", options.image), ("--ks", options.ks),
                       ("--updates", options.updates)):
        if path:
            safeio.check_input_file(path, what[2:])
            textcheck.check_file_name(what, os.path.basename(path))
    if any(not old for old, _ in options.replace):
        raise NodeError("--replace FROM must not be empty")
    for path in options.add:
        if not os.path.isdir(path):
            safeio.check_input_file(path, "file to add")
    if options.volid is not None:
        if not options.volid:
            raise NodeError("the volume id must not be empty")
        if len(options.volid) > VOLID_MAX:
            raise NodeError(f"volume id '{options.volid}' is {len(options.volid)} characters; "
                            f"ISO 9660 allows at most {VOLID_MAX}")
    if "=" in options.rm_args:
        raise NodeError("--rm-args takes argument names only (no '=value')")
    for path in [options.image, options.ks, options.updates, *options.add]:
        if path and not os.path.exists(path):
            raise NodeError(f"{path}: no such file or directory")


def menu_edit(info, options, volid, ks_name, titles):
    """The MenuEdit every boot entry gets."""
    escaped = bootmenus.udev_escape(volid)
    add = [f"inst.ks=hd:LABEL={escaped}:/{ks_name}"]
    remove = {"inst.ks"}
    if options.updates:
        add.append(f"inst.updates=hd:LABEL={escaped}:/{os.path.basename(options.updates)}")
        remove.add("inst.updates")
    add += bootmenus.split_args(options.cmdline)
    remove |= set(options.rm_args.split())
    return bootmenus.MenuEdit(add=add, remove=remove, old_label=info.volid,
                              new_label=volid, titles=titles)


def product_titles(treeinfo_text, title):
    """(old, new) pairs for --title: the product name the menus show, longest first.

    lorax names entries after [release] name and version of .treeinfo
    ("Install Fedora 40", "Rescue a Fedora system").
    """
    if not title or not treeinfo_text:
        return []
    section, values = None, {}
    for line in treeinfo_text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and section in ("release", "product", "general"):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), value.strip())
    name, version = values.get("name") or values.get("family"), values.get("version")
    if not name:
        return []
    pairs = [(f"{name} {version}", title)] if version else []
    return pairs + [(name, title)]


def rewrite_menus(workdir, info, edit, replace):
    """Rewrite every boot menu copied to WORKDIR; return {menu: entries changed}."""
    changed = {}
    for path in MENUS:
        if path not in info.files:
            continue
        local = os.path.join(workdir, path)
        text = _replace(safeio.read_text(local, "boot menu"), replace)
        text, count = bootmenus.rewrite_menu(path, text, edit)
        with open(local, "w", encoding="utf-8") as stream:
            stream.write(text)
        changed[path] = count
    return changed


def rewrite_efiboot(image, label, edit, replace, mtime):
    """Rewrite the GRUB menus inside the EFI boot image file IMAGE."""
    changed = {}
    for path in efiboot.menus(image):
        old = efiboot.read_file(image, path)
        text, count = bootmenus.rewrite_grub(_replace(old, replace), edit)
        efiboot.write_file(image, path, text, len(old.encode()), mtime=mtime)
        changed[f"{label}:{path}"] = count
    if not changed:
        raise NodeError(f"{label} holds no grub.cfg; UEFI boot could not be kept working")
    return changed


def _replace(text, pairs):
    """TEXT with every -R/--replace FROM TO pair applied, in order."""
    for old, new in pairs:
        text = text.replace(old, new)
    return text


def _write_text(path, text):
    safeio.write_text(path, text)
    os.chmod(path, 0o644)
    return path


class Remaster:
    """One remaster run; `run()` returns the summary `--json` prints."""

    def __init__(self, options, reporter=None):
        self.options = options
        self.reporter = reporter or Reporter()
        self.epoch = source_date_epoch()
        self.appended = []
        self.summary = {"input": os.path.abspath(options.input),
                        "output": os.path.abspath(options.output)}

    def run(self):
        started = time.monotonic()
        options = self.options
        check_options(options)
        self.reporter.step("check", f"Reading {options.input}")
        info = isofs.read_iso(options.input)
        check_layout(info)
        volid = options.volid or info.volid
        if bootmenus.udev_escape(volid) != volid:
            self.reporter.warning(
                f"volume id '{volid}' is passed to the installer as "
                f"'{bootmenus.udev_escape(volid)}'; GRUB builds without the Fedora/EL "
                "patch that keeps \\xHH escapes break it on UEFI (letters, digits, "
                "'-', '_' and '.' always work)")
        self.reporter.step("image", f"Inspecting node image {options.image}")
        image = inspect_image(options.image, verify_checksum=True, reporter=self.reporter)
        self.summary.update(volid={"old": info.volid, "new": volid},
                            image={"nvr": image.nvr, "sha256": image.sha256,
                                   "path": "/" + os.path.basename(options.image)},
                            boot=info.system_area)

        out_dir = os.path.dirname(os.path.abspath(options.output))
        with safeio.TempDir("iso") as workdir:
            maps = self._prepare(workdir, info, image, volid)
            partial = safeio.make_temp_file("iso", out_dir, suffix=".iso")
            try:
                os.unlink(partial)  # isofs.grow makes it anew
                self._write(info, volid, maps, partial)
                os.chmod(partial, 0o644)
                os.replace(partial, options.output)
            except BaseException:
                if os.path.exists(partial):
                    os.unlink(partial)
                raise
        self.summary.update(md5_implanted=options.md5,
                            size=os.path.getsize(options.output),
                            seconds=round(time.monotonic() - started, 2))
        return self.summary

    def _prepare(self, workdir, info, image, volid):
        """Edited menus, EFI image and payload files; return [(local, iso path)]."""
        options = self.options
        self.reporter.step("menus", "Rewriting the boot menus")
        tree = os.path.join(workdir, "tree")
        members = [path for path in MENUS + (".treeinfo",) if path in info.files]
        efi_file = info.efi_image_path
        if efi_file:
            members.append(efi_file)
        isofs.extract(info.path, members, tree)
        treeinfo = ""
        if ".treeinfo" in info.files:
            treeinfo = safeio.read_text(os.path.join(tree, ".treeinfo"), ".treeinfo")
        titles = product_titles(treeinfo, options.title)
        if options.title and not titles:
            self.reporter.warning("no product name in .treeinfo; --title changed no entry")
        ks_name = os.path.basename(options.ks) if options.ks else DEFAULT_KS_NAME
        edit = menu_edit(info, options, volid, ks_name, titles)
        menus = rewrite_menus(tree, info, edit, options.replace)
        maps = [(os.path.join(tree, path), path) for path in menus]

        appended = []
        if efi_file:
            local = os.path.join(tree, efi_file)
            menus.update(rewrite_efiboot(local, efi_file, edit, options.replace, self.epoch))
            maps.append((local, efi_file))
        for part in info.efi_partitions:
            local = os.path.join(workdir, f"appended-{part.number}.img")
            isofs.copy_range(info.path, part.offset, part.size, local)
            label = f"appended partition {part.number}"
            menus.update(rewrite_efiboot(local, label, edit, options.replace, self.epoch))
            appended.append((part, local))
        if not efi_file and not info.efi_partitions:
            self.reporter.warning(f"{info.path} has no EFI boot image; the output boots BIOS only")
        self.appended = appended
        self.summary["menus"] = menus
        self.summary["kernel_args"] = {"added": edit.add, "removed": sorted(edit.remove)}

        self.reporter.step("payload", "Preparing the image, kickstart and extra files")
        name = os.path.basename(options.image)
        sha_file = write_checksum(os.path.join(workdir, name), image.sha256)
        url = kickstart.iso_image_url(name)
        if options.ks:
            ks_text, had_liveimg = kickstart.point_liveimg(
                safeio.read_text(options.ks, "kickstart"), url, image.sha256)
            source = os.path.abspath(options.ks)
        else:
            image_url = f"hd:LABEL={bootmenus.udev_escape(volid)}:/{name}"
            ks_text, had_liveimg = kickstart.default_kickstart(image_url, image.sha256), True
            source = "default"
        ks_local = _write_text(os.path.join(workdir, ks_name), ks_text)
        self.summary["kickstart"] = {"path": f"/{ks_name}", "source": source, "liveimg_url": url,
                                     "liveimg_added": not had_liveimg}
        maps += [(os.path.abspath(options.image), name), (sha_file, name + ".sha256"),
                 (ks_local, ks_name)]
        if options.updates:
            maps.append((os.path.abspath(options.updates), os.path.basename(options.updates)))
        for path in options.add:
            maps.append((os.path.abspath(path), os.path.basename(os.path.normpath(path))))
        iso_paths = [iso_path for _, iso_path in maps]
        for iso_path in iso_paths:
            if iso_paths.count(iso_path) > 1:
                raise NodeError(f"two of the files to add would both be /{iso_path} on the ISO")
        self.summary["added"] = [f"/{iso_path}" for _, iso_path in maps
                                 if iso_path not in info.files]
        self.summary["replaced"] = [f"/{iso_path}" for _, iso_path in maps
                                    if iso_path in info.files]
        return maps

    def _write(self, info, volid, maps, output):
        """Write OUTPUT: the input ISO plus MAPS, grown by one xorriso session."""
        args = ["-boot_image", "any", "replay", "-volid", volid]
        for part, local in self.appended:
            args += ["-append_partition", str(part.number), part.type_id, local]
        for local, iso_path in maps:
            args += ["-map", local, f"/{iso_path}"]
        added = [f"/{iso_path}" for _, iso_path in maps]
        args += ["-chown_r", "0", *added, "--", "-chgrp_r", "0", *added, "--"]
        if any(_size(local) >= BIG_FILE for local, _ in maps):
            args += ["-compliance", "iso_9660_level=3"]
        if self.epoch is not None:
            args += ["-alter_date_r", "b", f"={self.epoch}", "/", "--"]
        self.reporter.step("write", f"Writing {self.options.output}")
        media_sum = isomd5.ReadBehind if self.options.md5 else None
        isofs.grow(info.path, args, output, self.reporter, "write", media_sum,
                   ("checksum", "Implanting the media check sum"))


def _size(path):
    """Bytes under PATH, a file or a directory tree."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(top, name))
               for top, _, names in os.walk(path) for name in names)


def remaster(options, reporter=None):
    """Run a remaster with OPTIONS; return its summary dict."""
    return Remaster(options, reporter).run()
