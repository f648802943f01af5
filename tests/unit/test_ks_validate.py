"""`ovirt-node ks validate`: stock commands per version, %include, our
section, node rules, each finding at its file:line; JSON; exit codes; fuzzed
kickstarts never end in a traceback."""

import json
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from org_ovirt_node.cli.main import main
from org_ovirt_node.ks.report import ERROR, WARNING
from org_ovirt_node.ks.validate import validate_file
from tests.support.kickstarts import GOOD_KS, IMAGE, with_lines


def findings(tmp_path, text, name="node.ks", version="RHEL9"):
    report = validate_file(with_lines(tmp_path / name, text), version)
    return [(f.severity, os.path.basename(f.file), f.line, f.message) for f in report.sorted()]


def replace(old, new):
    assert old in GOOD_KS
    return GOOD_KS.replace(old, new)


def line_of(text, fragment):
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize("version", ["RHEL9", "RHEL10", "F41"])
def test_good_kickstart_is_clean(tmp_path, version):
    assert findings(tmp_path, GOOD_KS, version=version) == []


RULES = [
    # (kickstart, start of the offending line (two lines: the second of that
    #  pair), fragment of the message)
    (replace("logvol / --vgname=onn --name=root --thin --poolname=pool00 --size=6144",
             "logvol / --vgname=onn --name=root --size=6144"), "logvol /", "must be a thin LV"),
    (replace("logvol / --vgname=onn --name=root --thin --poolname=pool00 --size=6144",
             "part / --size=8192"), "part / ", "must be a thin LV"),
    (replace("logvol / --vgname=onn --name=root --thin --poolname=pool00 --size=6144",
             "logvol / --vgname=onn --name=root --thin --poolname=pool00 --size=5000"),
     "logvol /", "at least 5120 MiB"),
    (replace("part /boot --size=1024", "part /boot --size=512"), "part /boot", "at least 1024 MiB"),
    (replace("part /boot --size=1024\n", "").replace("reqpart\n", ""), "part pv.1", "no /boot"),
    (replace("%addon org_ovirt_node --image=" + IMAGE,
             "%addon org_ovirt_node --image=" + IMAGE + " --volumes=none"),
     "%addon", "/var is not a separate volume"),
    (replace("liveimg --url=" + IMAGE, "liveimg --url=http://repo.example.com/other.img"),
     "liveimg", "name different images"),
    (replace("liveimg --url=" + IMAGE, f"liveimg --url={IMAGE} --checksum={'0' * 64}")
     .replace(f"--image={IMAGE}", f"--image={IMAGE} --checksum=sha256:{'1' * 64}"),
     "liveimg", "--checksum differs"),
    (replace("%addon org_ovirt_node", "%addon org_ovirt_nod"), "%addon",
     "did you mean org_ovirt_node"),
    (replace("--volume=/var/log:16GiB", "# sizes\n--volume=/var/log:16Gb!"), "--volume=/var/log:16Gb!",
     "is not a size"),
    (replace("--volume=/var/log:16GiB", "--volume=/var/log:16GiB\n--volume=/var/log:1GiB"),
     "--volume=/var/log:1GiB", "repeats"),
    (replace("volgroup onn pv.1", "volgroup other pv.1")
     .replace("--vgname=onn", "--vgname=other"), "logvol / ", "the section says --vg=onn"),
    (replace("%end\n", ""), "reboot", "does not end with %end"),
    (replace("reboot", "bogus --x"), "bogus", "Unknown command"),
    (replace("reboot", "%bogus\n%end"), "%bogus", "unknown kickstart section %bogus"),
    (replace("liveimg --url=" + IMAGE, "url --url=http://repo.example.com/os"), "url --url",
     "different payload"),
    (replace("text", "text\n%addon org_ovirt_node --image=" + IMAGE + "\n%end"),
     "%addon org_ovirt_node --image=" + IMAGE + "\n--volume", "appears twice"),
    (replace("timezone Etc/UTC --utc", "timezone Etc/UTC --utc --bogus"), "timezone",
     "unrecognized arguments"),
]


@pytest.mark.parametrize("text,where,message", RULES)
def test_rule_errors_point_at_the_offending_line(tmp_path, text, where, message):
    found = findings(tmp_path, text)
    first = where.split("\n")[0]
    candidates = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith(first)]
    if "\n" in where:  # the second of two identical lines
        candidates = candidates[1:]
    errors = [f for f in found if f[0] == ERROR and message in f[3]]
    assert errors, found
    assert errors[0][1:3] == ("node.ks", candidates[0]), found


@pytest.mark.parametrize("text,message", [
    (GOOD_KS + "%packages\nvim\n%end\n", "Anaconda ignores %packages"),
    (replace("liveimg --url=" + IMAGE + "\n", ""), "no liveimg"),
    (replace("reqpart\n", "").replace("part /boot --size=1024\n", "")
     .replace("part pv.1 --size=1 --grow\n", "").replace("volgroup onn pv.1\n", "")
     .replace("logvol none --vgname=onn --name=pool00 --thinpool --size=1 --grow\n", "")
     .replace("logvol / --vgname=onn --name=root --thin --poolname=pool00 --size=6144\n", ""),
     "no partitioning"),
    (replace("reboot", "logvol /var --vgname=onn --name=var --thin --poolname=pool00 --size=5120"),
     "/var is also a volume of the section"),
    (replace("reboot", "%addon com_example_other\n%end"), "add-on 'com_example_other'"),
    (replace("%addon org_ovirt_node --image=" + IMAGE + "\n--volume=/var/log:16GiB\n%end\n", ""),
     "liveimg without %addon"),
])
def test_warnings_do_not_fail(tmp_path, text, message):
    found = findings(tmp_path, text)
    warnings = [f for f in found if f[0] == WARNING and message in f[3]]
    assert warnings, found
    if message != "liveimg without %addon":
        assert not [f for f in found if f[0] == ERROR], found


def test_known_addons_are_silent_and_missing_image_is_an_error(tmp_path):
    assert findings(tmp_path, GOOD_KS + "%addon com_redhat_kdump --enable\n%end\n") == []
    assert findings(tmp_path, "text\nreboot\n")[0][:3] == (ERROR, "node.ks", 1)


def test_includes_report_the_included_file_and_its_line(tmp_path):
    with_lines(tmp_path / "storage.ks", "# storage\nlogvol / --vgname=onn --name=root --size=6144\n")
    text = replace("logvol / --vgname=onn --name=root --thin --poolname=pool00 --size=6144",
                   "%include storage.ks\n%include /nonexistent/part-include")
    text = text.replace("--volume=/var/log:16GiB", "--volume=/var/log:16GiB\n%include body.ks")
    with_lines(tmp_path / "body.ks", "\n--volume=/srv:1X\n")
    found = findings(tmp_path, text)
    assert (ERROR, "storage.ks", 2) in [f[:3] for f in found if "thin LV" in f[3]]
    assert (ERROR, "body.ks", 2) in [f[:3] for f in found if "unknown unit" in f[3]]
    missing = [f for f in found if "cannot follow %include /nonexistent" in f[3]]
    assert missing and missing[0][:3] == (WARNING, "node.ks", line_of(text, "/nonexistent"))


def test_include_loop_is_an_error(tmp_path):
    with_lines(tmp_path / "b.ks", "%include node.ks\n")
    found = findings(tmp_path, GOOD_KS + "%include b.ks\n")
    assert [f[:3] for f in found if "includes itself" in f[3]] == [(ERROR, "b.ks", 1)]


def test_cli_text_json_and_exit_codes(tmp_path, capsys):
    good = with_lines(tmp_path / "good.ks", GOOD_KS)
    bad = with_lines(tmp_path / "bad.ks", replace("part /boot --size=1024", "part /boot --size=512"))
    assert main(["ks", "validate", good]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["ks", "validate", good, bad]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:{line_of(GOOD_KS, 'part /boot')}: error: /boot is 512 MiB" in out
    assert main(["ks", "validate", "--json", "--version", "RHEL10", bad]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["errors"] == 1
    assert report["findings"][0]["line"] == line_of(GOOD_KS, "part /boot")


def test_cli_bad_version_and_missing_file_are_one_line(tmp_path, capsys):
    assert main(["ks", "validate", "--version", "RHEL99", "x.ks"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown kickstart version 'RHEL99'" in err
    assert main(["ks", "validate", str(tmp_path / "missing.ks")]) == 1
    assert "missing.ks: error: cannot read" in capsys.readouterr().out


# --- fuzzing: never a traceback, always a line ------------------------------

_vocabulary = st.sampled_from([
    "text", "reboot", "%end", "%packages", "%post", "%pre --interpreter=/bin/sh", "%addon",
    f"%addon org_ovirt_node --image={IMAGE}", "%addon org_ovirt_nod", "%addon x y",
    "--volume=/srv:1GiB", "--volume=/srv:", "autopart --type=thinp", "autopart",
    "part /boot --size=1", "logvol / --thin", "logvol / --vgname=onn --name=r --size=1",
    "liveimg --url=", f"liveimg --url={IMAGE}", "%include", "%include /nonexistent",
    "%ksappend x", "network --bootproto=", "rootpw", "'", '"unbalanced', "#", "%", "\\",
    "%anaconda", "%certificate", "%onerror", "%traceback", "bootloader --append='", "\x00",
])
_kickstart_line = st.one_of(_vocabulary, st.text(max_size=30),
                            st.lists(_vocabulary, max_size=3).map(" ".join))


def _assert_lines(report, text):
    count = max(len(text.split("\n")), 1)
    for finding in report.findings:
        assert isinstance(finding.line, int) and 1 <= finding.line <= count, finding
        assert finding.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_kickstart_line, max_size=15))
def test_fuzzed_kickstarts_never_escape(lines):
    text = "\n".join(lines)
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "fuzz.ks")
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as stream:
            stream.write(text)
        _assert_lines(validate_file(path), text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_fuzzed_bytes_never_escape(blob):
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "fuzz.ks")
        with open(path, "wb") as stream:
            stream.write(blob)
        _assert_lines(validate_file(path), blob.decode("latin-1"))
