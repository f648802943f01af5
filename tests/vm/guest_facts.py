"""Runs inside the VM after an install: collects what LVM and the disks say.

The host-side tests assert on facts.json; nothing here decides pass or fail.
Usage: python3 guest_facts.py VG OUTDIR [NAME]   (writes OUTDIR/NAME, default facts.json)
"""

import glob
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests.support.manifest import build_manifest  # noqa: E402


def sh(*cmd, check=True):
    """Run CMD, return stdout."""
    return subprocess.run(cmd, check=check, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE).stdout


def lvm_json(*args):
    """An lvm JSON report's rows."""
    data = json.loads(sh("lvm", *args, "--reportformat", "json", "--units", "b", "--nosuffix"))
    return data["report"][0]


def fs_uuid(device):
    """The filesystem UUID on DEVICE."""
    return sh("blkid", "-s", "UUID", "-o", "value", device).strip()


def main(vg, outdir, name="facts.json"):
    facts = {}
    facts["lvs"] = lvm_json("lvs", "-a", "-o", "lv_name,lv_tags,origin,lv_attr,lv_size,"
                            "lv_permissions,lv_skip_activation,lv_active,pool_lv,"
                            "lv_metadata_size,chunk_size,lv_profile", vg)["lv"]
    facts["vgs"] = lvm_json("vgs", "-o", "vg_name,vg_tags,vg_size", vg)["vg"]
    # `lvs @imgbased:base` is how imgbased's tools find bases (in every VG)
    tagged = [line.split() for line in sh("lvm", "lvs", "--noheadings", "-o",
                                          "vg_name,lv_name", "@imgbased:base").splitlines()]
    facts["tagged_bases"] = [name for vg_name, name in tagged if vg_name == vg]
    base = [lv["lv_name"] for lv in facts["lvs"] if "imgbased:base" in lv["lv_tags"]][0]
    layer = [lv["lv_name"] for lv in facts["lvs"] if "imgbased:layer" in lv["lv_tags"]][0]
    sh("lvm", "lvchange", "-ay", "-K", f"{vg}/{base}")
    facts["base_uuid"] = fs_uuid(f"/dev/{vg}/{base}")
    sh("lvm", "lvchange", "-an", f"{vg}/{base}")
    facts["layer_uuid"] = fs_uuid(f"/dev/{vg}/{layer}")
    facts["layer_fs_size"] = int(sh("blockdev", "--getsize64", f"/dev/{vg}/{layer}"))

    root = tempfile.mkdtemp(prefix="node-root-")
    sh("mount", f"/dev/{vg}/{layer}", root)
    with open(os.path.join(root, "etc/fstab"), encoding="utf-8") as handle:
        facts["fstab"] = handle.read()
    mounted_points = []
    for line in facts["fstab"].splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0].startswith("#") or fields[1] in ("/", "none"):
            continue
        if fields[2] == "swap":
            continue
        spec = fields[0]
        device = sh("blkid", "-U", spec[5:]).strip() if spec.startswith("UUID=") else spec
        sh("mount", device, root + fields[1])
        mounted_points.append(fields[1])
    facts["mounted"] = mounted_points
    facts["df"] = sh("df", "-B1", "--output=target,fstype,size,used", *[root + m for m in
                                                                        ["", *mounted_points]])
    excludes = ["boot"] + [os.path.join(m, "lost+found").lstrip("/")
                           for m in ["", *mounted_points]]
    facts["manifest"] = build_manifest(root, excludes)
    entries = sorted(glob.glob(os.path.join(root, "boot/loader/entries/*.conf")))
    facts["bls"] = {os.path.basename(path): open(path, encoding="utf-8").read()
                    for path in entries}
    with open(os.path.join(root, "boot/grub2/grubenv"), "rb") as handle:
        facts["grubenv"] = handle.read().decode("utf-8", "replace")
    facts["boot_files"] = build_manifest(os.path.join(root, "boot", layer))
    facts["grub2"] = sorted(os.listdir(os.path.join(root, "boot/grub2")))
    cfg = os.path.join(root, "boot/grub2/grub.cfg")
    facts["grub_cfg"] = open(cfg, encoding="utf-8").read() if os.path.exists(cfg) else None
    esp = os.path.join(root, "boot/efi")
    facts["esp"] = {os.path.relpath(os.path.join(top, name), esp):
                    open(os.path.join(top, name), "rb").read().decode("utf-8", "replace")
                    if name.endswith(".cfg") else None
                    for top, _, names in os.walk(esp) for name in names}
    facts["etc_links"] = {name: os.readlink(os.path.join(root, "etc", name))
                          for name in ("grub2.cfg", "grub2-efi.cfg")
                          if os.path.islink(os.path.join(root, "etc", name))}
    facts["profile"] = open(os.path.join(root, "etc/lvm/profile/imgbased-pool.profile"),
                            encoding="ascii").read()
    for point in reversed(mounted_points):
        sh("umount", root + point)
    sh("umount", root)
    with open(os.path.join(outdir, name), "w", encoding="utf-8") as handle:
        json.dump(facts, handle, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
