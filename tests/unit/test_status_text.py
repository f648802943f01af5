"""status's text: the VG's size and free space, and beside the pool what one
autoextend takes of it."""

from org_ovirt_node.cli.status import render_status
from org_ovirt_node.sizes import GiB, MiB


def status(vg_free, step):
    return {"vg": {"name": "onn", "size": int(30.16 * GiB), "free": vg_free},
            "pool": {"name": "pool00", "size": int(24.31 * GiB), "metadata_size": GiB,
                     "data_percent": 40.0, "metadata_percent": 5.0, "autoextend_step": step},
            "bases": [], "layers": [], "volumes": []}


def test_a_vg_without_room_for_one_autoextend_is_pointed_out():
    lines = render_status(status(12 * MiB, int(4.86 * GiB))).splitlines()
    assert lines[0] == "Volume group onn: 30.16 GiB, 12 MiB free"
    assert lines[1] == ("Thin pool pool00: 24.31 GiB, data 40.0% used, metadata 5.0% used; one "
                        "autoextend takes 4.86 GiB of the VG's 12 MiB free (too little: see "
                        "ovirt-node check)")


def test_room_for_one_autoextend_is_stated_plainly():
    line = render_status(status(6 * GiB, int(4.86 * GiB))).splitlines()[1]
    assert line.endswith("one autoextend takes 4.86 GiB of the VG's 6 GiB free")
