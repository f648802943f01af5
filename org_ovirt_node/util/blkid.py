"""What filesystem a device holds, probed from the device itself.

`blkid -p` reads the device rather than blkid's cache, which can be stale
right after mkfs or a snapshot.
"""

from org_ovirt_node.util.run import output, run


def fs_uuid(device):
    """The filesystem UUID on DEVICE."""
    return output(["blkid", "-p", "-s", "UUID", "-o", "value", device])


def fs_type(device):
    """The filesystem (or swap) type on DEVICE; "" when there is none or it is unreadable."""
    return run(["blkid", "-p", "-s", "TYPE", "-o", "value", device],
               check=False).stdout.strip()


def fs_uuid_at(path):
    """The UUID of the filesystem that holds PATH (a mounted directory)."""
    return fs_uuid(output(["findmnt", "-n", "-v", "-o", "SOURCE", "--target", path]))
