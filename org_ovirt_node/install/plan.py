"""The computed layout: every device this install will create, with its size.

A Plan is plain data (no blivet objects), so the CLI can print it, `--json`
can dump it, the D-Bus module can send it to the spokes, and tests can assert
on it. layout.py fills it from a blivet model; nothing here touches disks.
"""

from dataclasses import asdict, dataclass, field

from org_ovirt_node.errors import NodeError
from org_ovirt_node.image.signature import describe_signer
from org_ovirt_node.sizes import format_size


@dataclass
class PlannedDevice:
    """One device of the layout, as it will exist after the install."""

    role: str            # biosboot, efi, boot, pv, vg, pool, swap, base, layer, volume
    name: str            # device name (vda1, onn, pool00, var_log ...)
    size: int            # bytes; for thin LVs the virtual size
    fstype: str = ""
    mountpoint: str = ""
    parent: str = ""     # disk, VG or pool it is carved from
    tags: list = field(default_factory=list)


@dataclass
class Plan:
    """The whole layout plus the numbers that decide whether it fits."""

    disks: dict                  # disk path -> size in bytes
    nvr: str
    layer: str
    vg: str
    pool: str
    devices: list                # PlannedDevice, in creation order
    vg_size: int = 0
    pool_data_size: int = 0
    pool_metadata_size: int = 0
    pool_reserve: int = 0        # VG space left free for the pool's autoextend
    thin_virtual_size: int = 0   # sum of thin LV sizes (may exceed the pool)
    data_needed: int = 0         # bytes the pool must really hold after install
    problems: list = field(default_factory=list)
    signed_by: dict = None       # the image's verified signer (image/signature.py), or None
    signature_policy: str = None

    @property
    def overcommit_ratio(self):
        """Thin virtual size over pool data size (above 1.0 is overcommitted)."""
        return self.thin_virtual_size / self.pool_data_size if self.pool_data_size else 0.0

    def device(self, role, name=None):
        """The planned device with ROLE (and NAME, if given)."""
        for device in self.devices:
            if device.role == role and (name is None or device.name == name):
                return device
        raise KeyError(role if name is None else f"{role} {name}")

    def check(self):
        """Raise NodeError with every problem, one per sentence, if any."""
        if self.problems:
            raise NodeError("; ".join(self.problems))

    def to_dict(self):
        """JSON-ready form, stable keys."""
        data = asdict(self)
        data["overcommit_ratio"] = round(self.overcommit_ratio, 2)
        return data

    def render_table(self):
        """A human table of the layout, the way `--dry-run` shows it."""
        lines = [f"Image {self.nvr} -> layer {self.layer}"]
        if self.signature_policy is not None:
            lines.append(f"Signed by {describe_signer(self.signed_by)} "
                         f"(policy {self.signature_policy})")
        for disk, size in self.disks.items():
            lines.append(f"Disk {disk}: {format_size(size)}")
        lines.append(f"{'ROLE':<9} {'NAME':<40} {'SIZE':>10}  {'FS':<6} {'MOUNT':<16} PARENT")
        for dev in self.devices:
            lines.append(f"{dev.role:<9} {dev.name:<40} {format_size(dev.size):>10}  "
                         f"{dev.fstype:<6} {dev.mountpoint:<16} {dev.parent}")
        lines.append(f"Thin pool: {format_size(self.pool_data_size)} data, "
                     f"{format_size(self.pool_metadata_size)} metadata; thin volumes "
                     f"{format_size(self.thin_virtual_size)} virtual "
                     f"({self.overcommit_ratio:.2f}x), "
                     f"{format_size(self.data_needed)} needed now")
        lines.append(f"Kept free in VG {self.vg} for the pool to grow: "
                     f"{format_size(self.pool_reserve)} (20% of the VG, 1-100 GiB, "
                     "as Anaconda's thin autopart keeps)")
        for problem in self.problems:
            lines.append(f"PROBLEM: {problem}")
        return "\n".join(lines)
