"""`ovirt-node image build`: a root tree in, a node image out.

Steps, each reported: check the tree -> ext4 (`mke2fs -d`) -> add the NVR
(`debugfs`) -> settle timestamps (reproducible builds only) -> e2fsck ->
squashfs of LiveOS/rootfs.img -> IMAGE.sha256 -> inspect the result.
ROOTDIR is only read. Work files live beside OUTPUT and are removed whatever
happens; OUTPUT appears only when complete.
"""

import dataclasses
import os
import shutil

from org_ovirt_node.constants import NVR_PATH_IN_IMAGE, ROOTFS_IN_IMAGE
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import checksum, ext4, rootfacts
from org_ovirt_node.image.inspect import inspect_image
from org_ovirt_node.image.mount import mounted_rootfs
from org_ovirt_node.image.squashfs import DEFAULT_COMPRESSION, make_squashfs
from org_ovirt_node.nvr import NVR
from org_ovirt_node.progress import Reporter
from org_ovirt_node.sizes import format_size
from org_ovirt_node.util import safeio


def source_date_epoch():
    """SOURCE_DATE_EPOCH as an int, None if unset; NodeError if it is not a number."""
    text = os.environ.get("SOURCE_DATE_EPOCH")
    if text is None or text == "":
        return None
    if not text.isdigit():
        raise NodeError(f"SOURCE_DATE_EPOCH='{text}' is not a number of seconds")
    return int(text)


def _check_inputs(rootdir, output, nvr, force=False):
    """Refuse what would give a broken image, before any work."""
    nvr = str(NVR.parse(nvr))
    if not os.path.isdir(rootdir):
        raise NodeError(f"{rootdir}: not a directory")
    out_dir = os.path.dirname(output)
    if os.path.isdir(output) and not os.path.islink(output):
        raise NodeError(f"{output}: is a directory; give the image file name")
    safeio.check_output_file(output, force, "output image")
    safeio.check_output_file(checksum.checksum_path(output), force, "output checksum")
    rootfacts.require_kernel(rootdir, rootdir)
    real_root = os.path.realpath(rootdir)
    if os.path.realpath(out_dir) == real_root or \
            os.path.realpath(out_dir).startswith(real_root + os.sep):
        raise NodeError(f"{output}: the image must not be written inside ROOTDIR")
    return nvr


def build_image(rootdir, output, nvr, compression=DEFAULT_COMPRESSION, reporter=None,
                force=False):
    """Build node image OUTPUT (and OUTPUT.sha256) from ROOTDIR; return its ImageInfo.

    An existing OUTPUT is refused unless FORCE (and replaced only if it is a
    regular file).
    """
    reporter = reporter or Reporter()
    rootdir = os.path.abspath(os.fspath(rootdir))
    output = os.path.abspath(os.fspath(output))
    nvr = _check_inputs(rootdir, output, nvr, force)
    epoch = source_date_epoch()

    reporter.step("scan", f"Measuring {rootdir}")
    tree = ext4.measure_tree(rootdir)
    size, inodes = ext4.plan_size(tree)
    reporter.info(f"{tree.inodes} files, {format_size(tree.data_bytes)} of blocks; "
                  f"root filesystem will be {format_size(size)}")
    _warn_replaced_nvr(rootdir, nvr, reporter)

    work = safeio.make_temp_dir("build", os.path.dirname(output), hidden=True)
    try:
        rootfs = os.path.join(work, "stage", ROOTFS_IN_IMAGE)
        os.makedirs(os.path.dirname(rootfs))
        reporter.step("ext4", f"Copying the tree into an ext4 image ({format_size(size)})")
        size = ext4.make_ext4(rootdir, rootfs, size, inodes, nvr, epoch)

        reporter.step("nvr", f"Recording NVR {nvr} in /{NVR_PATH_IN_IMAGE}")
        mtime = epoch if epoch is not None else int(os.stat(rootfs).st_mtime)
        # No newline: imgbased reads the file raw and names the new base LV with it.
        ext4.add_file(rootfs, rootdir, NVR_PATH_IN_IMAGE, nvr.encode(), mtime, epoch)
        if epoch is not None:
            reporter.step("times", "Settling timestamps for a reproducible image")
            ext4.settle_times(rootfs, mounted_rootfs, epoch)
        reporter.step("fsck", "Checking the ext4 image")
        ext4.check_ext4(rootfs)

        if epoch is not None:
            for path in (rootfs, os.path.dirname(rootfs), os.path.join(work, "stage")):
                os.utime(path, (epoch, epoch), follow_symlinks=False)
        reporter.step("squashfs", f"Compressing with {compression} into {output}")
        partial = os.path.join(work, "image.squashfs")
        make_squashfs(os.path.join(work, "stage"), partial, compression, reporter,
                      total_bytes=os.path.getsize(rootfs), all_root=True)

        reporter.step("checksum", "Computing the SHA-256")
        digest = checksum.sha256_file(partial, reporter)
        safeio.check_replaceable(output)
        os.replace(partial, output)
        checksum.write_checksum(output, digest)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    reporter.step("inspect", "Inspecting the new image")
    info = inspect_image(output, verify_checksum=False)
    return dataclasses.replace(info, sha256=digest, checksum_verified=True)


def _warn_replaced_nvr(rootdir, nvr, reporter):
    """Tell the user when ROOTDIR carries another NVR, which the image replaces."""
    own = rootfacts.read_text(rootdir, NVR_PATH_IN_IMAGE, limit=4096)
    if own is not None and own.strip() != nvr:
        reporter.warning(f"{rootdir} records NVR '{own.strip()}'; "
                         f"the image records '{nvr}' instead")
