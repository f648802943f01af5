"""Thin wrappers over the lvm2 commands blivet has no API for.

blivet creates the layout; LV permission, activation skip, tags, thin
snapshots with names holding '+', and JSON reports go through here.
"""

import json

from org_ovirt_node.util.run import run

_LVM_ENV = {"LVM_SUPPRESS_FD_WARNINGS": "1"}


def lvm(*args, check=True):
    """Run `lvm ARGS...` quietly; return the CompletedProcess."""
    return run(["lvm", *args], env=_LVM_ENV, check=check)


def report(kind, fields, *selection):
    """Rows of `lvm lvs|vgs|pvs` as dicts, using LVM's JSON report."""
    result = lvm(kind, "--reportformat", "json", "--units", "b", "--nosuffix",
                 "-o", ",".join(fields), *selection)
    data = json.loads(result.stdout)
    rows = []
    for section in data.get("report", []):
        rows.extend(section.get(kind[:-1], []))
    return rows


def vg_disks(vg):
    """Names of the whole disks that hold VG's physical volumes (vda, sdb)."""
    disks = []
    for row in report("pvs", ["pv_name"], "--select", f"vg_name={vg}"):
        disk = run(["lsblk", "-ndo", "PKNAME", row["pv_name"]], check=False).stdout.strip()
        if disk and disk not in disks:
            disks.append(disk)
    return disks


def add_tag(kind, name, tag):
    """Add TAG to the VG or LV NAME (kind 'vg' or 'lv')."""
    lvm("vgchange" if kind == "vg" else "lvchange", "--addtag", tag, name)


def thin_snapshot(vg, origin, name, tags=()):
    """Create thin snapshot VG/NAME of VG/ORIGIN, activatable and active."""
    tag_args = [arg for tag in tags for arg in ("--addtag", tag)]
    lvm("lvcreate", "--snapshot", "--setactivationskip", "n", "--name", name,
        *tag_args, f"{vg}/{origin}")
    lvm("lvchange", "--activate", "y", f"{vg}/{name}")


def freeze_base(vg, name):
    """Make VG/NAME a base: inactive, read-only, skipped at activation."""
    lvm("lvchange", "--activate", "n", f"{vg}/{name}")
    lvm("lvchange", "--permission", "r", f"{vg}/{name}")
    lvm("lvchange", "--setactivationskip", "y", f"{vg}/{name}")


def rename_lv(vg, old, new):
    """Rename VG/OLD to NEW."""
    lvm("lvrename", vg, old, new)


def set_metadata_profile(vg, lv, profile):
    """Attach the LVM metadata profile PROFILE to VG/LV."""
    lvm("lvchange", "--metadataprofile", profile, f"{vg}/{lv}")


def remove_vg(vg):
    """Deactivate and remove VG with all its LVs; True if it is gone."""
    lvm("vgchange", "--activate", "n", vg, check=False)
    return lvm("vgremove", "--force", "--force", vg, check=False).returncode == 0


def remove_pv(device):
    """Remove the PV label from DEVICE; True on success."""
    return lvm("pvremove", "--force", "--force", "--yes", device, check=False).returncode == 0
