"""Runs inside a virtme-ng VM: a pool that runs full while an update deploys.

Usage: python3 guest_full_pool.py DISK IMAGE_A IMAGE_B   (environment: OUT)
DISK becomes a tight node (VG "tight"): the real node image A is installed
on it and the VG's free space is taken, so the pool cannot autoextend. An
update to B starts on a pool a writer has filled as far as preflight still
lets B in; once the update's base copy is under way the writer writes on,
everything it can: the pool runs full while the update deploys. Then: what the update said, what is left (volumes, the pool's mode),
and once the writer's volume is removed, every volume writable and clean,
/boot's files and the boot default unchanged, and no leftovers for `check`.
Everything goes to $OUT/fullpool.*; the host-side test (test_lifecycle_vm.py)
decides. Nothing here decides pass or fail.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

OUT = os.environ["OUT"]
VG = "tight"
MiB = 1 << 20
FACTS = {}


def sh(*cmd, check=True):
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{cmd}: {result.stderr}")
    return result


def fact(name, value):
    FACTS[name] = value
    with open(os.path.join(OUT, "fullpool.json"), "w", encoding="utf-8") as handle:
        json.dump(FACTS, handle, indent=1)


def node_json(*args):
    return json.loads(sh("ovirt-node", *args, "--vg", VG, "--json").stdout)


def pool_row():
    report = json.loads(sh("lvm", "lvs", "--reportformat", "json", "--units", "b",
                           "--nosuffix", "-o", "lv_size,data_percent,metadata_percent",
                           f"{VG}/pool00").stdout)
    [row] = report["report"][0]["lv"]
    return int(row["lv_size"]), float(row["data_percent"]), float(row["metadata_percent"])


def volumes():
    report = json.loads(sh("lvm", "lvs", "--reportformat", "json", "-o",
                           "lv_name,lv_attr", VG).stdout)
    return {row["lv_name"]: row["lv_attr"] for row in report["report"][0]["lv"]}


def boot_files(disk):
    """Every file of the tight node's /boot (its own partition) with its SHA-256."""
    rows = [line.split() for line in sh("lsblk", "-nrpo", "NAME,TYPE,FSTYPE",
                                        disk).stdout.splitlines()]
    [boot] = [row[0] for row in rows
              if len(row) == 3 and row[1] == "part" and row[2] in ("ext4", "xfs")]
    where = tempfile.mkdtemp()
    sh("mount", "-o", "ro", boot, where)
    try:
        files = {}
        for top, _, entries in os.walk(where):
            for entry in entries:
                path = os.path.join(top, entry)
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as handle:
                        files[os.path.relpath(path, where)] = hashlib.sha256(
                            handle.read()).hexdigest()
        return files
    finally:
        sh("umount", where)
        os.rmdir(where)


def events(log):
    with open(log, encoding="utf-8", errors="replace") as handle:
        return [json.loads(line) for line in handle if line.startswith("{")]


def thin_bytes(lv):
    """Bytes of the pool thin volume LV takes (its size times its data use)."""
    report = json.loads(sh("lvm", "lvs", "--reportformat", "json", "--units", "b",
                           "--nosuffix", "-o", "lv_size,data_percent", f"{VG}/{lv}").stdout)
    [row] = report["report"][0]["lv"]
    return int(int(row["lv_size"]) * float(row["data_percent"]) / 100)


def dd(mib, seek, sync):
    """Write MIB MiB of zeros into the hog volume from MiB SEEK on; wait when SYNC."""
    writer = subprocess.Popen(["dd", "if=/dev/zero", f"of=/dev/{VG}/hog", "bs=1M",
                               f"count={mib}", f"seek={seek}", "oflag=direct", "status=none"],
                              stderr=subprocess.PIPE)
    if sync:
        writer.wait()
    return writer


def writable(lv):
    """Mount LV's filesystem, write, read back, unmount: '' or what failed."""
    where = tempfile.mkdtemp()
    try:
        sh("mount", f"/dev/{VG}/{lv}", where)
        try:
            probe = os.path.join(where, ".pool-test")
            with open(probe, "w", encoding="ascii") as handle:
                handle.write("written\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.unlink(probe)
        finally:
            sh("umount", where)
        return ""
    except (OSError, RuntimeError) as error:
        return str(error)
    finally:
        os.rmdir(where)


def main(disk, image_a, image_b):
    # never booted here: no boot loader to install (its entries and grubenv are written)
    installed = sh("ovirt-node", "install", "--image", image_a, "--disk", disk,
                   "--vg", VG, "--volumes", "minimal", "--swap", "256MiB", "--no-bootloader",
                   "--yes", check=False)
    fact("install", {"rc": installed.returncode, "stderr": installed.stderr[-3000:]})
    if installed.returncode:
        return 1
    # a full pool queues writes for dm-thin's no_space_timeout before failing
    # them (60 s by default); the story need not wait that long
    with open("/sys/module/dm_thin_pool/parameters/no_space_timeout", "w",
              encoding="ascii") as handle:
        handle.write("5\n")
    # no autoextend can make room: the VG's free space goes to a thick volume
    sh("lvm", "lvcreate", "--yes", "-l", "100%FREE", "-n", "filler", VG)
    layer_a = node_json("status")["default_layer"]
    size, used, _ = pool_row()
    fact("before", {"layer": layer_a, "pool_size": size, "pool_used_percent": used,
                    "volumes": volumes(), "boot": boot_files(disk)})
    # what the base will take: about what A's takes (the same image family),
    # read on A's layer, whose mappings are its base's plus a few (the base
    # itself is skipped at activation, so LVM gives no use for it)
    base_bytes = thin_bytes(layer_a)
    # something else has written into the pool already: as much as still
    # lets the update pass preflight with no VG space to autoextend into
    # (the pool and the new base at most at the 70% threshold, where LVM also
    # stops creating thin volumes)
    size, used, _ = pool_row()
    first = int(size * 0.68 - size * used / 100 - base_bytes) // MiB
    sh("lvm", "lvcreate", "--yes", "--thin", "--virtualsize", f"{size // MiB}m", "-n", "hog",
       f"{VG}/pool00")
    writers = [dd(first, 0, sync=True)]
    fact("prefilled", {"mib": first, "pool_used_percent": pool_row()[1],
                       "base_bytes": base_bytes})
    log = os.path.join(OUT, "fullpool.update.log")
    started = time.monotonic()
    with open(log, "wb") as output, open(log + ".err", "wb") as errors:
        update = subprocess.Popen(["ovirt-node", "update", "--image", image_b,
                                   "--vg", VG, "--yes", "--json"], stdout=output,
                                  stderr=errors, stdin=subprocess.DEVNULL)
    # once the base copy is under way, the writer writes on, all it can: the
    # pool runs full while the update deploys
    while update.poll() is None:
        if len(writers) == 1 and any(event.get("event") == "progress" and event.get("step")
                                     == "base" and event.get("done", 0) > 0
                                     for event in events(log)):
            writers.append(dd(size // MiB - first, first, sync=False))
            fact("writer_started_after", round(time.monotonic() - started, 1))
        time.sleep(0.2)
    update.wait()
    with open(log + ".err", encoding="utf-8", errors="replace") as handle:
        stderr = handle.read()
    fact("update", {"rc": update.returncode, "seconds": round(time.monotonic() - started, 1),
                    "stderr": stderr[-3000:], "events": events(log)[-12:]})
    results = []
    for writer in writers:
        _, err = writer.communicate()
        results.append({"rc": writer.returncode, "stderr": err.decode(errors="replace")})
    size, used, metadata = pool_row()
    fact("full", {"writers": results, "pool_used_percent": used,
                  "pool_metadata_percent": metadata, "volumes": volumes(),
                  "pool_status": sh("dmsetup", "status", f"{VG}-pool00-tpool").stdout.strip(),
                  "seconds": round(time.monotonic() - started, 1)})
    # the other writer's data goes: the pool takes writes again, by itself
    sh("lvm", "lvremove", "--yes", f"{VG}/hog")
    size, used, metadata = pool_row()
    fact("after", {
        "layer": node_json("status")["default_layer"], "volumes": volumes(),
        "pool_used_percent": used, "pool_metadata_percent": metadata,
        "pool_status": sh("dmsetup", "status", f"{VG}-pool00-tpool").stdout.strip(),
        "boot": boot_files(disk),
        "fsck": {lv: sh("e2fsck", "-fn", f"/dev/{VG}/{lv}", check=False).returncode
                 for lv in (layer_a, "var")},
        "writable": {lv: writable(lv) for lv in (layer_a, "var")},
    })
    # and nothing is left behind for a next run: check finds no leftovers
    check = json.loads(sh("ovirt-node", "check", "--vg", VG, "--json", check=False).stdout
                       or "null")
    fact("check", {item["name"]: [item["status"], item["reason"]]
                   for item in (check or {}).get("checks", [])})
    # every VG inactive, as the other guests leave theirs: this VM's other
    # nodes are read again (and one hashed) after it
    sh("lvm", "vgchange", "-an", check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
