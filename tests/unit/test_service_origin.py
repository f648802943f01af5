"""Finding the section the boss hands over in the user's kickstart files
(service.origin), and the line names messages get from it."""

from org_ovirt_node.service.kickstart import read_kickstart_text
from org_ovirt_node.service.origin import (
    DEFAULT_KICKSTART,
    anaconda_command_lines,
    candidate_files,
    kickstart_arguments,
    locate,
    named_files,
)

SECTION = ("%addon org_ovirt_node --image=file:///srv/node.squashfs\n"
           "--volume=/var:5GiB\n--volume=/var:6GiB\n%end\n")


def test_kickstart_arguments_as_anaconda_takes_them():
    assert kickstart_arguments(["/usr/sbin/anaconda", "--kickstart", "/a.ks", "--text"]) == ["/a.ks"]
    assert kickstart_arguments(["anaconda", "--kickstart=/b.ks"]) == ["/b.ks"]
    assert kickstart_arguments(["anaconda", "--ks"]) == [DEFAULT_KICKSTART]
    assert kickstart_arguments(["anaconda", "--ks", "--text"]) == [DEFAULT_KICKSTART]
    # --ks takes no value: what follows is another argument.
    assert kickstart_arguments(["anaconda", "--ks", "/x.ks"]) == [DEFAULT_KICKSTART]
    assert kickstart_arguments(["dbus-daemon", "--print-address"]) == []


def test_anaconda_processes_are_found_in_proc(tmp_path):
    for pid, argv in ((20, [b"/usr/bin/python3", b"/usr/bin/anaconda", b"--kickstart",
                            b"/k s.cfg"]),
                      (30, [b"dbus-daemon", b"--print-address"]),
                      (40, [b"bash", b"-c", b"dbus-daemon", b"anaconda", b"--ks"])):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(b"\0".join(argv) + b"\0")
    (tmp_path / "50").mkdir()  # a process that ended meanwhile
    (tmp_path / "self").mkdir()
    found = sorted(anaconda_command_lines(str(tmp_path)))
    assert found == [["/usr/bin/python3", "/usr/bin/anaconda", "--kickstart", "/k s.cfg"],
                     ["bash", "-c", "dbus-daemon", "anaconda", "--ks"]]
    assert [kickstart_arguments(argv) for argv in found] == [["/k s.cfg"], [DEFAULT_KICKSTART]]
    assert anaconda_command_lines(str(tmp_path / "missing")) == []


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


def test_anaconda_numbering_is_mapped_to_the_true_lines(tmp_path):
    """Anaconda's AddonSection skips blank and comment lines but counts only
    the lines it handles; the glue maps its numbers back (name_anaconda_lines)."""
    from types import SimpleNamespace  # pylint: disable=import-outside-toplevel
    from org_ovirt_node.service.kickstart import (  # pylint: disable=import-outside-toplevel
        anaconda_numbering, name_anaconda_lines)
    text = ("%addon org_ovirt_node --image=file:///x\n# sizes\n\n--volume=/var:5GiB\n"
            "--volum=/x\n%end\n%addon org_ovirt_node\n\n--frob\n%end\n")
    assert anaconda_numbering(text) == {1: 1, 2: 4, 3: 5, 7: 7, 8: 9}
    kickstart = tmp_path / "ks.cfg"
    kickstart.write_text("text\n" + text, encoding="utf-8")
    messages = [SimpleNamespace(line_number=3, message="unknown option --volum=/x"),
                SimpleNamespace(line_number=8, message="--frob repeats (first on line 2)"),
                SimpleNamespace(line_number=0, message="a warning")]
    name_anaconda_lines(text, messages, [str(kickstart)])
    assert [(m.line_number, m.message) for m in messages] == [
        (5, "line 6: unknown option --volum=/x"),
        (9, "line 10: --frob repeats (first on line 5)"),
        (0, "a warning")]


ISSUE_KICKSTART = ("text\nliveimg --url=file:///srv/node.squashfs\n# the node\n\n"
                   "# its section\n"
                   "%addon org_ovirt_node --image=file:///srv/node.squashfs --volumes=minimal\n"
                   "--volume=/var/log:16GiB\n--volum=/var/tmp:2GiB\n%end\n")
# What the boss hands the module: the element's content, no file, no line.
ISSUE_SECTION = ("%addon org_ovirt_node --image=file:///srv/node.squashfs --volumes=minimal\n"
                 "--volume=/var/log:16GiB\n--volum=/var/tmp:2GiB\n%end\n")


def fake_proc(tmp_path, processes):
    """A /proc with PROCESSES: (pid, argv words, working directory or None)."""
    proc = tmp_path / "proc"
    for pid, argv, cwd in processes:
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cmdline").write_bytes(b"\0".join(w.encode() for w in argv) + b"\0")
        if cwd:
            (proc / str(pid) / "cwd").symlink_to(cwd)
    return str(proc)


def test_a_relative_kickstart_is_taken_from_the_installers_directory(tmp_path):
    (tmp_path / "work" / "ks").mkdir(parents=True)
    (tmp_path / "work" / "ks" / "bad-option.ks").write_text(ISSUE_KICKSTART, encoding="utf-8")
    proc = fake_proc(tmp_path, [(7, ["/usr/bin/anaconda", "--kickstart", "ks/bad-option.ks"],
                                 str(tmp_path / "work"))])
    files = candidate_files({}, proc)
    assert files[:2] == [str(tmp_path / "work" / "ks" / "bad-option.ks"), "ks/bad-option.ks"]
    _addon, report = read_kickstart_text(ISSUE_SECTION, files)
    [error] = report.error_messages
    assert error.message == "line 8: unknown option --volum=/var/tmp:2GiB"


def test_a_kickstart_named_by_whoever_drives_the_boss_is_found(tmp_path):
    """The boss read a file no anaconda command line names (a script driving
    it, initial-setup): the file is found on that process's command line."""
    (tmp_path / "ks").mkdir()
    (tmp_path / "ks" / "bad-option.ks").write_text(ISSUE_KICKSTART, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(ISSUE_SECTION.replace("%addon", "addon"),
                                        encoding="utf-8")
    proc = fake_proc(tmp_path, [
        (9, ["python3", "drive.py", "--out=notes.txt", "ks/bad-option.ks", "/nonexistent"],
         str(tmp_path)),
        (10, ["sleep", "60"], None)])
    files = candidate_files({}, proc)
    assert str(tmp_path / "ks" / "bad-option.ks") in files
    assert str(tmp_path / "notes.txt") not in files  # no %addon section in it
    _addon, report = read_kickstart_text(ISSUE_SECTION, files)
    assert [error.message for error in report.error_messages] == [
        "line 8: unknown option --volum=/var/tmp:2GiB"]


def test_words_that_may_name_files():
    assert named_files(["drive.py", "a.ks", "--kickstart=/b.ks", "--text", "-x"]) == [
        "a.ks", "/b.ks", "-x"]
