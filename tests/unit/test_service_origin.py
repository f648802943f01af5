"""Finding the section the boss hands over in the user's kickstart files
(service.origin), and the line names messages get from it."""

import os

from org_ovirt_node.service.kickstart import read_kickstart_text
from org_ovirt_node.service.origin import (
    DEFAULT_KICKSTART,
    ancestor_arguments,
    kickstart_arguments,
    locate,
)

SECTION = ("%addon org_ovirt_node --image=file:///srv/node.squashfs\n"
           "--volume=/var:5GiB\n--volume=/var:6GiB\n%end\n")


def test_kickstart_arguments_as_anaconda_takes_them():
    assert kickstart_arguments(["/usr/sbin/anaconda", "--kickstart", "/a.ks", "--text"]) == ["/a.ks"]
    assert kickstart_arguments(["anaconda", "--kickstart=/b.ks"]) == ["/b.ks"]
    assert kickstart_arguments(["anaconda", "--ks"]) == [DEFAULT_KICKSTART]
    assert kickstart_arguments(["anaconda", "--ks", "--text"]) == [DEFAULT_KICKSTART]
    assert kickstart_arguments(["dbus-daemon", "--print-address"]) == []


def test_ancestors_are_read_from_proc(tmp_path):
    # 30 (dbus-daemon) under 20 (anaconda) under 1.
    for pid, parent, argv in ((30, 20, [b"dbus-daemon", b"--nofork"]),
                              (20, 1, [b"anaconda", b"--kickstart", b"/k s.cfg"])):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(b"\0".join(argv) + b"\0")
        (tmp_path / str(pid) / "stat").write_bytes(f"{pid} (a) name) S {parent} 1 1".encode())
    found = ancestor_arguments(30, proc=str(tmp_path))
    assert found == [["dbus-daemon", "--nofork"], ["anaconda", "--kickstart", "/k s.cfg"]]
    assert ancestor_arguments(99, proc=str(tmp_path)) == []
    assert ancestor_arguments(os.getpid())  # the real /proc


def test_a_section_in_an_included_file_is_named_with_its_file(tmp_path):
    (tmp_path / "ks.cfg").write_text("text\n%include parts/node.ks\n", encoding="utf-8")
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "node.ks").write_text("# node\n\n" + SECTION, encoding="utf-8")
    _addon, report = read_kickstart_text(SECTION, [str(tmp_path / "ks.cfg")])
    [error] = report.error_messages
    where = tmp_path / "parts" / "node.ks"
    assert error.line_number == 3
    assert error.message == (f"line 5 of {where}: --volume /var repeats "
                             f"(first on line 4 of {where})")


def test_a_section_found_twice_or_changed_is_counted_in_the_section(tmp_path):
    twice = tmp_path / "twice.cfg"
    twice.write_text(SECTION + "\n" + SECTION, encoding="utf-8")
    changed = tmp_path / "changed.cfg"
    changed.write_text(SECTION.replace("6GiB", "7GiB"), encoding="utf-8")
    assert locate(SECTION, [str(twice)]) == {}
    assert locate(SECTION, [str(changed), str(tmp_path / "missing.cfg")]) == {}
    _addon, report = read_kickstart_text(SECTION, [str(twice)])
    assert report.error_messages[0].message.startswith(
        "line 3 of the %addon org_ovirt_node section: --volume /var repeats (first on "
        "line 2 of the %addon org_ovirt_node section)")


def test_header_words_are_compared_as_the_boss_joins_them(tmp_path):
    kickstart = tmp_path / "ks.cfg"
    kickstart.write_text("text\n%addon  org_ovirt_node\t'--image=file:///srv/node.squashfs'"
                         "  # the node\n--volume=/var:5GiB\n--volume=/var:6GiB\n%end\n",
                         encoding="utf-8")
    assert locate(SECTION, [str(kickstart)]) == {1: (str(kickstart), 2)}
    _addon, report = read_kickstart_text(SECTION, [str(kickstart)])
    assert report.error_messages[0].message == (
        "line 4: --volume /var repeats (first on line 3)")
