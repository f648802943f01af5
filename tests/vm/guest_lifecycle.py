"""Runs inside the VM: stages of the offline (--vg) lifecycle scenario, in order.

Usage: python3 guest_lifecycle.py STAGE...   (environment: OUT, IMAGE_A, IMAGE_B)
Every command's stdout, stderr and exit status go to $OUT/<stage>.<name>.{out,err,rc};
the host-side test (test_lifecycle_vm.py) asserts on them. Nothing here
decides pass or fail. /dev/vda is the node, /dev/vdb a small second node
whose pool is filled so that an update is refused by preflight.
"""

import json
import os
import subprocess
import sys
import tempfile

OUT = os.environ["OUT"]
NODE, SMALL = "onn", "small"


def record(stage, name, *cmd, env=None):
    """Run CMD, keep its output as $OUT/STAGE.NAME.*; return the exit status."""
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})))
    for suffix, data in (("out", result.stdout), ("err", result.stderr),
                         ("rc", str(result.returncode).encode())):
        with open(os.path.join(OUT, f"{stage}.{name}.{suffix}"), "wb") as handle:
            handle.write(data)
    return result.returncode


def sh(*cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout


def node(stage, name, *args, vg=NODE, env=None):
    """`ovirt-node ARGS --vg VG` recorded as STAGE.NAME."""
    return record(stage, name, "ovirt-node", *args, "--vg", vg, env=env)


def with_mounted(device, work):
    """Mount DEVICE on a temporary directory, run WORK(dir), unmount."""
    directory = tempfile.mkdtemp()
    sh("mount", device, directory)
    try:
        return work(directory)
    finally:
        sh("umount", directory)
        os.rmdir(directory)


def default_layer(vg):
    status = json.loads(sh("ovirt-node", "status", "--vg", vg, "--json"))
    return status["default_layer"]


def local_changes():
    """What an administrator does on a running node: /etc edits, data in /var."""
    layer = default_layer(NODE)
    sh("lvm", "lvchange", "-ay", f"{NODE}/{layer}", f"{NODE}/var")

    def edit_etc(root):
        with open(os.path.join(root, "etc/hostname"), "w") as handle:
            handle.write("changed-on-the-node\n")
        with open(os.path.join(root, "etc/demo/both.conf"), "w") as handle:
            handle.write("shared_setting=local\n")

    def write_var(var):
        with open(os.path.join(var, "lib/demo/userdata.txt"), "w") as handle:
            handle.write("data the node wrote\n")

    with_mounted(f"/dev/{NODE}/{layer}", edit_etc)
    with_mounted(f"/dev/{NODE}/var", write_var)


def fill_pool(vg, leave_bytes):
    """Write zeros into VG's /var volume until the pool has LEAVE_BYTES free."""
    [row] = json.loads(sh("lvm", "lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
                          "-o", "lv_size,data_percent", f"{vg}/pool00"))["report"][0]["lv"]
    size = int(row["lv_size"])
    used = size * float(row["data_percent"]) / 100
    fill = int(size - used - leave_bytes) >> 20
    sh("lvm", "lvchange", "-ay", f"{vg}/var")
    with_mounted(f"/dev/{vg}/var", lambda var: sh(
        "dd", "if=/dev/zero", f"of={var}/filler", "bs=1M", f"count={max(fill, 1)}",
        "conv=fsync", "status=none"))


def facts(stage):
    node(stage, "status", "status", "--json")
    node(stage, "check", "check", "--json")


def stage_install():
    record("install", "node", "ovirt-node", "install", "--image", os.environ["IMAGE_A"],
           "--disk", "/dev/vda", "--yes", "--json")
    record("install", "small", "ovirt-node", "install", "--image", os.environ["IMAGE_A"],
           "--disk", "/dev/vdb", "--vg", SMALL, "--volumes", "minimal", "--swap", "256MiB",
           "--yes")
    fill_pool(SMALL, 150 << 20)
    # install keeps blivet's reserve free in the VG for autoextend; take it
    # too, so that nothing but a refusal is left to the update
    sh("lvm", "lvcreate", "--yes", "-l", "100%FREE", "-n", "filler", SMALL)
    facts("install")


def stage_update_b():
    # the small node first: its disk must come out of this VM byte-identical
    node("update_b", "refused", "update", "--image", os.environ["IMAGE_B"], "--yes",
         vg=SMALL)
    local_changes()
    node("update_b", "dryrun", "update", "--image", os.environ["IMAGE_B"], "--dry-run",
         "--json")
    node("update_b", "update", "update", "--image", os.environ["IMAGE_B"], "--yes", "--json")
    facts("update_b")
    layer_files("update_b", default_layer(NODE))


def layer_files(stage, layer):
    """What LAYER holds where the update merged /etc and added to /var, as JSON."""
    paths = ["etc/hostname", "etc/demo/both.conf", "etc/demo/both.conf.imgnew",
             "etc/demo/defaults.conf", "etc/demo/new.conf", "etc/fstab"]
    var_paths = ["lib/demo/userdata.txt", "lib/demo/added-in-4.5.6.txt", "lib/demo/state.txt",
                 "lib/demo-vms/README.txt"]
    sh("lvm", "lvchange", "-ay", f"{NODE}/{layer}", f"{NODE}/var", f"{NODE}/var_lib_demo-vms")

    def read(root, names):
        found = {}
        for name in names:
            path = os.path.join(root, name)
            found[name] = open(path).read() if os.path.isfile(path) else None
        return found

    files = with_mounted(f"/dev/{NODE}/{layer}", lambda root: read(root, paths))
    files.update({"var/" + k: v for k, v in with_mounted(
        f"/dev/{NODE}/var", lambda var: read(var, var_paths[:3])).items()})
    files.update({"var/" + var_paths[3]: with_mounted(
        f"/dev/{NODE}/var_lib_demo-vms", lambda vms: read(vms, ["README.txt"]))["README.txt"]})
    with open(os.path.join(OUT, f"{stage}.files.out"), "w") as handle:
        json.dump(files, handle)


def _boot_device(vg):
    sys.path.insert(0, os.environ["REPO"])
    from org_ovirt_node.lifecycle.node import boot_partitions  # noqa: E402
    for device in boot_partitions(vg):
        if with_mounted(device, lambda boot: os.path.isdir(f"{boot}/loader/entries")):
            return device
    raise SystemExit("no /boot")


def _edit_grubenv(boot, **values):
    sys.path.insert(0, os.environ["REPO"])
    from org_ovirt_node.util.grubenv import parse_grubenv, render_grubenv  # noqa: E402
    path = f"{boot}/grub2/grubenv"
    with open(path, "rb") as handle:
        env = parse_grubenv(handle.read())
    env.update(values)
    with open(path, "wb") as handle:
        handle.write(render_grubenv(env))


def stage_break():
    """Break one thing after another; `check` runs after each break."""
    status = json.loads(sh("ovirt-node", "status", "--vg", NODE, "--json"))
    layer, base = status["default_layer"], status["layers"][-1]["origin"]
    other = [item["name"] for item in status["layers"] if item["name"] != layer][0]
    boot = _boot_device(NODE)

    def on_boot(work):
        return lambda: with_mounted(boot, work)

    def on_layer(work):
        sh("lvm", "lvchange", "-ay", f"{NODE}/{layer}")
        return lambda: with_mounted(f"/dev/{NODE}/{layer}", work)

    def no_discard(root):
        path = f"{root}/etc/fstab"
        lines = [line.replace("defaults,discard", "defaults") if " /var " in line else line
                 for line in open(path).read().splitlines()]
        with open(path, "w") as handle:
            handle.write("\n".join(lines) + "\n")

    breaks = [
        ("pool", lambda: sh("lvm", "lvchange", "--detachprofile", f"{NODE}/pool00")),
        ("var", on_layer(no_discard)),
        ("entries", on_boot(lambda b: os.unlink(
            [f"{b}/{other}/{name}" for name in os.listdir(f"{b}/{other}")
             if name.startswith("init")][0]))),
        ("boot-space", on_boot(lambda b: sh("fallocate", "-l",
                                            str(os.statvfs(b).f_bavail * os.statvfs(b).f_frsize
                                                - (4 << 20)), f"{b}/filler"))),
        ("orphans", on_boot(lambda b: os.mkdir(f"{b}/left-over-1.0-1+1"))),
        ("last-boot", on_boot(lambda b: _edit_grubenv(
            b, boot_counter="0", boot_fallback=[e for e in os.listdir(f"{b}/loader/entries")
                                                 if e.startswith(other)][0][:-5]))),
        ("default", on_boot(lambda b: _edit_grubenv(b, saved_entry="no-such-entry"))),
        ("grubenv", on_boot(lambda b: os.truncate(f"{b}/grub2/grubenv", 100))),
        ("tags", lambda: sh("lvm", "lvchange", "--deltag", "imgbased:base", f"{NODE}/{base}")),
    ]
    for name, damage in breaks:
        damage()
        node("break", name, "check", "--json")


STAGES = {name[len("stage_"):]: function for name, function in globals().items()
          if name.startswith("stage_")}

if __name__ == "__main__":
    for stage in sys.argv[1:]:
        STAGES[stage]()
        for vg in (NODE, SMALL):
            subprocess.run(["lvm", "vgchange", "-an", vg], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        with open(os.path.join(OUT, f"{stage}.done"), "w") as handle:
            handle.write("done\n")
