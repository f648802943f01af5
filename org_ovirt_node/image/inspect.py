"""`ovirt-node image inspect`: what a node image holds, or why it is unusable.

Checks run from cheap to expensive so each bad image gets its own message:
not a squashfs / truncated (superblock), checksum mismatch (IMAGE.sha256),
no rootfs.img and no root tree (mount), no NVR, no kernel (files inside).
Given a Trust (trust.py), the signature IMAGE.sig is checked right after the
checksum, under the trust store's policy (image/signature.py).
"""

import dataclasses
import os
from dataclasses import dataclass, field
from typing import List, Optional

from org_ovirt_node.constants import ROOTFS_IN_IMAGE
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import checksum, rootfacts, signature
from org_ovirt_node.image.ext4 import ext4_sizes
from org_ovirt_node.image.mount import mounted_root
from org_ovirt_node.image.squashfs import read_superblock
from org_ovirt_node.sizes import format_size


@dataclass
class ImageInfo:
    """Facts about one node image; `to_dict()` is the `--json` output."""

    path: str
    nvr: str
    layout: str                      # "rootfs.img" or "tree"
    os_name: Optional[str]
    os_version: Optional[str]
    kernels: List[str] = field(default_factory=list)
    grub_platforms: List[str] = field(default_factory=list)  # GRUB modules the image carries
    compressed_size: int = 0         # bytes of the squashfs file
    rootfs_size: int = 0             # ext4 size; for a tree, apparent bytes of its files
    rootfs_used: int = 0             # used bytes of the ext4; for a tree, allocated bytes
    sha256: Optional[str] = None     # None when the checksum was not computed
    checksum_verified: bool = False  # True only if IMAGE.sha256 existed and matched
    compression: Optional[str] = None
    signed_by: Optional[dict] = None          # fingerprint, uid, ... of a verified IMAGE.sig
    signature_policy: Optional[str] = None    # require|warn|off; None when not checked

    def to_dict(self):
        """A JSON-ready dict of every field."""
        return dataclasses.asdict(self)


def verify(path, reporter=None):
    """Return (sha256, verified) for PATH against PATH.sha256.

    A missing .sha256 is not an error (verified is False); a mismatch is.
    """
    expected = checksum.read_checksum(path)
    if reporter:
        reporter.step("checksum", f"Computing the SHA-256 of {os.path.basename(path)}")
    actual = checksum.sha256_file(path, reporter)
    if expected is None:
        return actual, False
    if expected != actual:
        raise NodeError(f"{path}: checksum mismatch (computed {actual}, "
                        f"{checksum.checksum_path(path)} says {expected})")
    return actual, True


def inspect_image(path, verify_checksum=True, reporter=None, trust=None):
    """Inspect node image PATH; return an ImageInfo or raise NodeError.

    With VERIFY_CHECKSUM false nothing is hashed: sha256 is None and
    checksum_verified False (for callers that verified already). With TRUST
    the signature is checked under its policy before anything is mounted.
    """
    path = os.path.abspath(os.fspath(path))
    superblock = read_superblock(path)
    digest, verified = verify(path, reporter) if verify_checksum else (None, False)
    signer = signature.check(path, trust, reporter) if trust is not None else None
    try:
        with mounted_root(path) as (image, root):
            nvr = rootfacts.read_nvr(root, path)
            kernels = rootfacts.require_kernel(root, path)
            os_name, os_version = rootfacts.read_os_release(root)
            grub = rootfacts.grub_platforms(root)
            if image.rootfs_img:
                size, used = ext4_sizes(image.rootfs_img)
            else:
                size, used = rootfacts.tree_usage(root)
            layout = image.layout
    except OSError as error:
        raise NodeError(f"{path}: read error inside the image (corrupt?): "
                        f"{error.strerror or error}") from None
    return ImageInfo(path=path, nvr=nvr, layout=layout, os_name=os_name,
                     os_version=os_version, kernels=kernels, grub_platforms=grub,
                     compressed_size=os.path.getsize(path), rootfs_size=size,
                     rootfs_used=used, sha256=digest, checksum_verified=verified,
                     compression=superblock.compression, signed_by=signer,
                     signature_policy=trust.policy if trust is not None else None)


def describe(info):
    """ImageInfo as aligned text lines for people."""
    if info.checksum_verified:
        check = f"{info.sha256} (matches {os.path.basename(info.path)}.sha256)"
    elif info.sha256:
        check = f"{info.sha256} (no .sha256 file to verify against)"
    else:
        check = "not computed"
    layout = ROOTFS_IN_IMAGE if info.layout == "rootfs.img" else "plain root tree"
    os_text = " ".join(part for part in (info.os_name, info.os_version) if part) or "unknown"
    rows = [
        ("Image", info.path),
        ("NVR", info.nvr),
        ("Layout", layout),
        ("OS", os_text),
        ("Kernels", ", ".join(info.kernels)),
        ("GRUB", ", ".join(info.grub_platforms) or "none"),
        ("Compressed", f"{format_size(info.compressed_size)} ({info.compression})"),
        ("Root fs", f"{format_size(info.rootfs_size)}, {format_size(info.rootfs_used)} used"),
        ("SHA-256", check),
    ]
    if info.signature_policy is not None:
        rows.append(("Signed by", f"{signature.describe_signer(info.signed_by)} "
                                  f"(policy {info.signature_policy})"))
    return [f"{label + ':':<12} {value}" for label, value in rows]
