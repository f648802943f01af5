"""The marker oVirt's engine reads after an image update (lifecycle/imageupdated.py)."""

import inspect

from org_ovirt_node.lifecycle import imageupdated, update


def test_mark_holds_the_image_file_name_as_imgbased_writes_it(tmp_path):
    imageupdated.mark("/srv/images/ovirt-node-ng-4.5.6-0.1.squashfs", root=tmp_path)
    marker = tmp_path / "var" / "imgbased" / ".image-updated"
    assert marker.read_bytes() == b"ovirt-node-ng-4.5.6-0.1.squashfs\n"
    assert imageupdated.MARKER == "var/imgbased/.image-updated"


def test_clear_removes_it_and_tolerates_its_absence(tmp_path):
    imageupdated.clear(root=tmp_path)
    imageupdated.mark("a.squashfs", root=tmp_path)
    imageupdated.clear(root=tmp_path)
    assert not (tmp_path / imageupdated.MARKER).exists()


def test_apply_clears_first_and_marks_after_the_switch_online_only():
    source = inspect.getsource(update.apply_update)
    clear, begin = source.index("imageupdated.clear()"), source.index("record.begin()")
    switch, mark = source.index("node.write_grubenv(env)"), source.index("imageupdated.mark(")
    assert clear < begin < switch < mark
    assert source.count("if node.running:") >= 2
