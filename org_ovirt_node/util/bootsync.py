"""Put what was just written on /boot where the boot loader reads it.

Why: GRUB reads ext4 and xfs in place and never replays their journal. A
rename that fsync made durable is, for a while, only in the journal: the
directory and inode blocks on the disk still say the old thing until the
kernel checkpoints them, seconds to minutes later. A power cut in between
leaves GRUB the old blocks, or a mix of old and new (seen in the node VM
story: a cut after an update's boot step left GRUB a grub.cfg with no menu
and a `grub>` prompt). Freezing the filesystem writes everything and
checkpoints its journal; thawing at once lets writers go on. OSTree does
the same for /boot.

The freeze and the thaw run in a child of its own session, so a kill of this
command between the two cannot leave /boot frozen.
"""

import os
import subprocess

_FREEZE_THAW = 'fsfreeze --freeze "$1" && exec fsfreeze --unfreeze "$1"'


def checkpoint(boot_dir):
    """Make BOOT_DIR's filesystem current on the disk, as the boot loader reads it.

    Only for a mount point (a /boot partition); True when it was frozen and
    thawed. Where freezing is not possible (no fsfreeze, a filesystem that
    cannot freeze) everything is synced instead, and False returned.
    """
    if not os.path.ismount(boot_dir):
        return False
    try:
        done = subprocess.run(["sh", "-c", _FREEZE_THAW, "sh", boot_dir],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True,
                              check=False, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is not None and done.returncode == 0:
        return True
    os.sync()
    return False
