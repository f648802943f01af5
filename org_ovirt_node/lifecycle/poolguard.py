"""Stop an update before the thin pool it writes into runs full.

Preflight refuses an update that would not fit, but something else on the
node can write into the same pool while the update runs. A pool that runs
out of data space first queues every write to every thin volume, then fails
them; one that runs out of metadata space turns read-only altogether
(QubesOS #3225, #3243). So while the update writes, a watcher thread reads
the pool's use from the kernel several times a second (`dmsetup status` of
its thin-pool target: no LVM lock, no metadata scan). From
constants.POOL_FAIL_PERCENT of data or metadata use, or once the kernel
reports the pool out of space, read-only or in need of a check, it trips:
the image copier stops at its next write, the update fails before the
switch and removes what it created, which gives the space back, and the
boot default was never touched.
"""

import threading

from org_ovirt_node import constants
from org_ovirt_node.errors import NodeError
from org_ovirt_node.util import lvm
from org_ovirt_node.util.run import run

INTERVAL = 0.25         # seconds between two looks near the limit
FAR_INTERVAL = 1.0      # ... and while the pool is more than NEAR points below it
NEAR = 10.0
HEALTHY_MODE = "rw"
# lvcreate's refusal past thin_pool_autoextend_threshold when it cannot extend
LVM_THRESHOLD = "reached threshold"


class PoolFull(NodeError):
    """The pool passed the limit while the update was writing."""


def dm_name(vg, lv, layer="tpool"):
    """The device-mapper name of VG/LV's LAYER device (LVM doubles dashes)."""
    return "-".join(part.replace("-", "--") for part in (vg, lv)) + f"-{layer}"


def parse_thin_pool_status(line):
    """(data %, metadata %, mode, needs_check) from a thin-pool target's status line.

    The kernel's format: START LENGTH thin-pool TRANSACTION USED_META/TOTAL_META
    USED_DATA/TOTAL_DATA HELD_ROOT MODE DISCARDS NO_SPACE NEEDS_CHECK ...; a
    pool that failed prints "Fail" in place of the numbers.
    """
    words = line.split()
    if len(words) < 4 or words[2] != "thin-pool":
        raise NodeError(f"not a thin-pool status: {line.strip()!r}")
    if words[3] == "Fail" or len(words) < 8:
        return 100.0, 100.0, "fail", True
    used_meta, total_meta = (int(value) for value in words[4].split("/"))
    used_data, total_data = (int(value) for value in words[5].split("/"))
    needs_check = len(words) > 10 and words[10] == "needs_check"
    return (100.0 * used_data / max(total_data, 1), 100.0 * used_meta / max(total_meta, 1),
            words[7], needs_check)


def read_use(vg, pool):
    """(data %, metadata %, mode, needs_check) of VG/POOL now, from the kernel or LVM."""
    status = run(["dmsetup", "status", dm_name(vg, pool)], check=False)
    if status.returncode == 0 and status.stdout.strip():
        return parse_thin_pool_status(status.stdout.splitlines()[0])
    [row] = lvm.report("lvs", ["data_percent", "metadata_percent", "lv_health_status"],
                       f"{vg}/{pool}")
    health = row.get("lv_health_status") or ""
    return (float(row["data_percent"] or 0), float(row["metadata_percent"] or 0),
            "rw" if not health else health, health == "needs_check")


def verdict(vg, pool, use, limit=constants.POOL_FAIL_PERCENT):
    """Why USE (read_use's tuple) must stop an update, or None."""
    data, metadata, mode, needs_check = use
    where = f"thin pool {vg}/{pool}"
    if mode != HEALTHY_MODE or needs_check:
        return f"{where} went {mode}{' and needs a check' if needs_check else ''}"
    for what, percent in (("data", data), ("metadata", metadata)):
        if percent >= limit:
            return f"{where} reached {percent:.1f}% {what} use (the limit is {limit:.0f}%)"
    return None


class PoolGuard:
    """Watch VG/POOL in a thread while an update writes; check() raises once it tripped."""

    def __init__(self, vg, pool, limit=constants.POOL_FAIL_PERCENT, interval=INTERVAL):
        self.vg, self.pool, self.limit, self.interval = vg, pool, limit, interval
        self.reason = None
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = None

    def look(self):
        """Read the pool once; trip when it is past the limit. Returns the reason or None."""
        try:
            use = read_use(self.vg, self.pool)
        except (NodeError, OSError, ValueError):
            return self.reason              # unreadable now: the next look may read it
        self.peak = max(self.peak, use[0], use[1])
        if self.reason is None:
            self.reason = verdict(self.vg, self.pool, use, self.limit)
        return self.reason

    def check(self):
        """Raise PoolFull when the pool passed the limit; the writers call this."""
        if self.reason is not None:
            raise self.explain()

    def explain(self, error=None):
        """A PoolFull for ERROR, a step that failed because the pool filled, or None.

        When the pool filled faster than the watcher looked, the kernel
        failed the copy's writes (after queueing them, unless the pool errors
        when full): look once more. Past the profile's autoextend threshold,
        with no VG space to extend into, LVM itself refuses every new thin
        volume (the layer's snapshot, a new volume): that is the pool filling
        too, whatever the watcher saw."""
        reason = self.reason or self.look()
        if reason is None and error is not None and LVM_THRESHOLD in str(error):
            reason = (f"thin pool {self.vg}/{self.pool} passed its autoextend threshold with no "
                      "room in the VG to extend into, so LVM refused a new thin volume")
        if reason is None:
            return None
        return PoolFull(f"{reason} while the update was writing (something else writes "
                        "into it too): stopped")

    def _watch(self):
        # far from the limit a look a second is enough (10 points of a pool
        # take longer than that to write) and costs the update nothing
        wait = self.interval
        while not self._stop.wait(wait):
            if self.look() is not None:
                return
            wait = self.interval if self.peak >= self.limit - NEAR else max(self.interval,
                                                                             FAR_INTERVAL)

    def __enter__(self):
        self.look()
        self._thread = threading.Thread(target=self._watch, name="pool-guard", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False
