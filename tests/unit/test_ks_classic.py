"""Kickstarts administrators already have: the classic way (liveimg,
Anaconda's partitioning, imgbased in %post) validates with warnings that
explain; broken layouts are errors at their lines, as Anaconda fails on them;
a rejected line never leads to findings that contradict it; every version
works; reading stays linear in the size of the file."""

import codecs
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from org_ovirt_node.ks import VERSION_EXAMPLES
from org_ovirt_node.ks.reader import read_kickstart
from org_ovirt_node.ks.versions import known_versions
from org_ovirt_node.ks.report import ERROR, WARNING
from org_ovirt_node.ks.validate import validate_file
from org_ovirt_node.ks import scripts
from org_ovirt_node.ks.words import split
from tests.support.kickstarts import CLASSIC_KS, GOOD_KS, IMAGE, with_lines

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "kickstarts",
                        "classic")
CLASSIC = "makes the node layout the classic way"
PROFILE = "relies on the node installer profile"


def found(path, version="RHEL9"):
    return [(f.severity, os.path.basename(f.file), f.line, f.message)
            for f in validate_file(str(path), version).sorted()]


def errors(path, version="RHEL9"):
    return [f for f in found(path, version) if f[0] == ERROR]


def line_of(text, fragment, nth=0):
    return [n for n, line in enumerate(text.splitlines(), 1) if fragment in line][nth]


def write(tmp_path, text, name="node.ks"):
    return with_lines(tmp_path / name, text)


# --- public kickstarts, written the way their sources write them ------------

@pytest.mark.parametrize("name,expected", [
    ("rhvh-autopart-nodectl.ks", [CLASSIC, PROFILE]),
    ("ovirt-ci-manual-6000.ks", [CLASSIC + " (no %addon org_ovirt_node); the section would "
                                 "also check the image and the layout before the disks are "
                                 "changed, and create the NIST volumes this partitioning lacks: "
                                 "/home, /tmp, /var/crash, /var/log, /var/log/audit, /var/tmp"]),
    ("rhvh-nist-custom.ks", [CLASSIC, "keep every NIST volume"]),
    ("ovirt-interactive-imgbase-volume.ks", [CLASSIC]),
    ("rhvh-packages-ignored.ks", [CLASSIC, "Anaconda ignores %packages"]),
    ("manual-var-from-post.ks", [CLASSIC]),
    ("include-partitions.ks", [CLASSIC, "cannot follow %include /tmp/partitions"]),
    ("iso-interactive-defaults.ks", [CLASSIC, PROFILE, "no partitioning"]),
    ("docs-placeholder-url.ks", [CLASSIC, "a placeholder to fill in?"]),
    ("relative/main.ks", [CLASSIC]),
    ("foreman-rhvh-rhel8.ks@RHEL8", [CLASSIC, PROFILE, "install command has been deprecated"]),
])
def test_public_classic_kickstarts_are_valid_with_explaining_warnings(name, expected):
    name, _, version = name.partition("@")
    path = os.path.join(FIXTURES, name)
    result = found(path, version or "RHEL9")
    assert not [f for f in result if f[0] == ERROR], result
    warnings = [f[3] for f in result if f[0] == WARNING]
    for fragment in expected:
        assert any(fragment in message for message in warnings), (fragment, result)
    assert not any("nothing creates" in m or "no node layout" in m for m in warnings), result


def test_classic_warning_is_at_the_init_line_and_post_volume_counts_as_var(tmp_path):
    text = CLASSIC_KS.replace("logvol /var --vgname=HostVG --name=var --thin --poolname=HostPool "
                              "--size=15000\n", "").replace(
        "imgbase layout --init\n", "# nodectl init is the wrapper\nimgbase layout --init\n"
        "imgbase --experimental volume --create /var 8G\n")
    result = found(write(tmp_path, text))
    assert [f[:3] for f in result if CLASSIC in f[3]] == [
        (WARNING, "node.ks", line_of(text, "imgbase layout --init"))]
    assert not [f for f in result if f[0] == ERROR], result
    without = found(write(tmp_path, text.replace("imgbase --experimental volume --create /var 8G\n",
                                                 ""), "novar.ks"))
    assert [f[3] for f in without if f[0] == ERROR] == [
        next(f[3] for f in without if "/var is not a separate volume" in f[3])]


def test_without_any_init_liveimg_alone_is_a_warning_that_says_so(tmp_path):
    result = found(write(tmp_path, CLASSIC_KS.replace("imgbase layout --init\n", "echo done\n")))
    assert [f[0] for f in result] == [WARNING]
    assert "no node layout" in result[0][3] and result[0][2] == line_of(CLASSIC_KS, "liveimg")


def test_section_plus_post_init_warns_at_the_post_line(tmp_path):
    text = GOOD_KS + "%post\nnodectl init\n%end\n"
    result = found(write(tmp_path, text))
    assert [f[:3] for f in result] == [(WARNING, "node.ks", line_of(text, "nodectl init"))]
    assert "already makes the node layout" in result[0][3]


# --- sizes the node profiles require, broken layouts ------------------------

LAYOUT_ERRORS = [
    # (old line, new line, fragment of the one error at the new line)
    ("--name=var --thin --poolname=HostPool --size=15000",
     "--name=var --thin --poolname=HostPool --size=4096", "/var is 4096 MiB"),
    ("reboot", "logvol /var/tmp --vgname=HostVG --name=var_tmp --thin --poolname=HostPool "
     "--size=8192", "/var/tmp is 8192 MiB"),
    ("part /boot --size=1024", "part /boot --size=1000", "/boot is 1000 MiB"),
    ("--poolname=HostPool --size=6000", "--poolname=HostPool --size=5000",
     "at least 5120 MiB"),
    ("logvol /var --vgname=HostVG", "logvol /var --vgname=OtherVG",
     "no volgroup defines the volume group 'OtherVG'"),
    ("--name=var --thin --poolname=HostPool", "--name=var --thin --poolname=NoPool",
     "defines the thin pool 'NoPool'"),
    ("volgroup HostVG pv.01", "volgroup HostVG pv.01 pv.02", "uses pv.02"),
    ("volgroup HostVG pv.01", "volgroup HostVG pv.01 --bogus", "not an option"),
    ("logvol / --vgname=HostVG --name=root --thin --poolname=HostPool --size=6000",
     "logvol / --vgname=HostVG --name=root --size=6000", "must be a thin LV"),
]


@pytest.mark.parametrize("old,new,message", LAYOUT_ERRORS)
def test_layout_errors_are_at_their_lines(tmp_path, old, new, message):
    assert old in CLASSIC_KS
    text = CLASSIC_KS.replace(old, new)
    result = errors(write(tmp_path, text))
    assert [f[1:3] for f in result if message in f[3]] == [("node.ks", line_of(text, new))], result
    assert len(result) == 1, result


def test_logvols_without_any_volgroup_are_errors_each(tmp_path):
    text = CLASSIC_KS.replace("volgroup HostVG pv.01\n", "")
    result = errors(write(tmp_path, text))
    assert {f[2] for f in result} == {line_of(text, "logvol none"), line_of(text, "logvol /"),
                                      line_of(text, "logvol /var")}, result
    assert all("no volgroup defines the volume group 'HostVG'" in f[3] for f in result)


@pytest.mark.parametrize("old,new", [
    ("--name=var --thin --poolname=HostPool --size=15000",
     "--name=var --thin --poolname=HostPool --size=4096 --grow"),          # may grow
    ("--poolname=HostPool --size=6000", "--poolname=HostPool --size=5120"),
    ("logvol /var --vgname=HostVG", "logvol /var --useexisting --vgname=OldVG"),  # on disk
    ("volgroup HostVG pv.01", "volgroup HostVG --useexisting"),
])
def test_what_anaconda_accepts_is_no_error(tmp_path, old, new):
    assert old in CLASSIC_KS
    assert errors(write(tmp_path, CLASSIC_KS.replace(old, new))) == []


def test_autopart_without_var_is_a_warning_and_root_6000_is_fine(tmp_path):
    text = CLASSIC_KS.split("part /boot")[0] + "autopart --type=thinp\n" + \
        CLASSIC_KS.split("--size=15000\n")[1]
    result = found(write(tmp_path, text))
    assert not [f for f in result if f[0] == ERROR], result
    assert [f[2] for f in result if PROFILE in f[3]] == [line_of(text, "autopart")]
    assert errors(write(tmp_path, CLASSIC_KS, "manual.ks")) == []


# --- messages ---------------------------------------------------------------

def test_utf8_bom_is_one_error_at_line_1(tmp_path):
    path = tmp_path / "bom.ks"
    path.write_bytes(codecs.BOM_UTF8 + CLASSIC_KS.encode())
    assert errors(path) == [(ERROR, "bom.ks", 1, errors(path)[0][3])]
    assert "byte order mark" in errors(path)[0][3]
    (tmp_path / "part.ks").write_bytes(codecs.BOM_UTF8 + b"part /boot --size=1024\n")
    main = write(tmp_path, CLASSIC_KS.replace("part /boot --size=1024", "%include part.ks"))
    assert [f[1:3] for f in errors(main)] == [("part.ks", 1)]


def test_utf16_is_one_error(tmp_path):
    path = tmp_path / "wide.ks"
    path.write_bytes(CLASSIC_KS.encode("utf-16"))
    result = found(path)
    assert [f[:3] for f in result] == [(ERROR, "wide.ks", 1)] and "UTF-16" in result[0][3]


@pytest.mark.parametrize("old,new,contradiction", [
    ("part /boot --size=1024\npart pv.01 --size=1 --grow\nvolgroup HostVG pv.01\n"
     "logvol none --vgname=HostVG --name=HostPool --thinpool --size=1 --grow\n"
     "logvol / --vgname=HostVG --name=root --thin --poolname=HostPool --size=6000\n"
     "logvol /var --vgname=HostVG --name=var --thin --poolname=HostPool --size=15000\n",
     "autopart --type=thinp --bogus\n", "must be --type=thinp"),
    ("volgroup HostVG pv.01", "volgroup HostVG pv.01 --pesize=--bogus", "no volgroup defines"),
    ("logvol none --vgname=HostVG --name=HostPool --thinpool --size=1 --grow",
     "logvol none --vgname=HostVG --name=HostPool --thinpool --size=1 --grow --bogus",
     "thin pool"),
    ("logvol / --vgname=HostVG --name=root --thin --poolname=HostPool --size=6000",
     "logvol / --vgname=HostVG --name=root --thin --poolname=HostPool --size=6000 --bogus",
     "no root"),
    ("liveimg --url=", "liveimg --bogus --url=", "no node image"),
])
def test_a_rejected_line_is_the_only_error(tmp_path, old, new, contradiction):
    assert old in CLASSIC_KS
    text = CLASSIC_KS.replace(old, new)
    result = errors(write(tmp_path, text))
    assert [f[2] for f in result] == [line_of(text, "--bogus")], result
    assert "--bogus" in result[0][3] and contradiction not in result[0][3]


def test_relative_include_is_resolved_against_the_including_file(tmp_path, monkeypatch):
    decoy = tmp_path / "cwd"
    decoy.mkdir()
    (decoy / "storage.ks").write_text("logvol / --vgname=onn --name=root --size=1\n")
    monkeypatch.chdir(decoy)
    copy = tmp_path / "fleet"
    shutil.copytree(os.path.join(FIXTURES, "relative"), copy)
    assert errors(copy / "main.ks") == []
    (copy / "storage.ks").unlink()
    missing = found(copy / "main.ks")
    assert [f[:3] for f in missing if "cannot follow %include storage.ks" in f[3]] == [
        (WARNING, "main.ks", 3)]


# --- versions ---------------------------------------------------------------

@pytest.mark.parametrize("version", sorted(set(known_versions()) | set(VERSION_EXAMPLES)))
def test_every_version_validates_without_crashing(tmp_path, version):
    autopart = CLASSIC_KS.split("part /boot")[0] + "autopart --type=thinp\n" + \
        CLASSIC_KS.split("--size=15000\n")[1]
    for name, text in (("good.ks", GOOD_KS), ("classic.ks", CLASSIC_KS), ("auto.ks", autopart),
                       ("bare.ks", "autopart\n%addon org_ovirt_node --image=http://e.com/n.img\n%end\n")):
        result = found(write(tmp_path, text, name), version)
        assert not [f for f in result if "cannot parse this line" in f[3]], (version, result)


def test_versions_without_autopart_type_say_so(tmp_path):
    path = write(tmp_path, "autopart\n%addon org_ovirt_node --image=http://e.com/n.img\n%end\n")
    assert [f[3] for f in errors(path, "F16") if "has no --type" in f[3]]
    # too old for liveimg and thin LVs: pykickstart's errors, at their lines, and nothing after them
    too_old = errors(write(tmp_path, CLASSIC_KS, "classic.ks"), "F16")
    assert {f[2] for f in too_old} == {line_of(CLASSIC_KS, "rootpw"), line_of(CLASSIC_KS, "logvol none"),
                                       line_of(CLASSIC_KS, "logvol /"), line_of(CLASSIC_KS, "logvol /var"),
                                       line_of(CLASSIC_KS, "liveimg")}, too_old


# --- linear reading ---------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=" \t\n'\"\\#ab=", max_size=40), st.booleans())
def test_linear_split_finds_the_words_shlex_finds(text, comments):
    def outcome(function):
        try:
            return function(text, comments=comments)
        except ValueError as error:
            return str(error)
    assert outcome(split) == outcome(shlex.split)


def test_pykickstart_never_uses_the_quadratic_tokenizer(tmp_path, monkeypatch):
    def refuse(*_args):
        raise AssertionError("shlex's per-character tokenizer was used")
    monkeypatch.setattr(shlex.shlex, "read_token", refuse)
    long_line = "bootloader --append='" + "console=ttyS0 " * 20000 + "'\n"
    parsed = read_kickstart(write(tmp_path, CLASSIC_KS + long_line))
    assert parsed.complete and not [f for f in parsed.findings if f.severity == ERROR]


def test_a_long_post_is_read_once_and_only_matching_lines_are_searched(tmp_path, monkeypatch):
    body = "".join(f"echo line {n} >> /root/log\n" for n in range(200_000))
    text = CLASSIC_KS.replace("imgbase layout --init\n", body + "nodectl init\n")
    searched = []
    real = scripts._command_text  # pylint: disable=protected-access
    monkeypatch.setattr(scripts, "_command_text", lambda line: searched.append(line) or real(line))
    result = found(write(tmp_path, text))
    assert searched == ["nodectl init"]
    assert [f[2] for f in result if CLASSIC in f[3]] == [line_of(text, "nodectl init")]


def test_validate_imports_only_the_kickstart_modules(tmp_path):
    """Startup: `ks validate` loads pykickstart and the ks modules, nothing of
    the installer, the ISO tools or the UI (the startup goal is measured in
    tests/bench/bench_ks_render.py)."""
    path = write(tmp_path, CLASSIC_KS)
    probe = ("import json, sys\nfrom org_ovirt_node.cli.main import main\n"
             f"main(['ks', 'validate', {path!r}])\nprint(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    modules = set(json.loads(result.stdout.splitlines()[-1]))
    ours = {m for m in modules if m.startswith("org_ovirt_node.")}
    allowed = {"org_ovirt_node.ks", "org_ovirt_node.cli", "org_ovirt_node.cli.main",
               "org_ovirt_node.cli.ks", "org_ovirt_node.constants", "org_ovirt_node.errors",
               "org_ovirt_node.sizes", "org_ovirt_node.util", "org_ovirt_node.util.safeio",
               "org_ovirt_node.util.textcheck", "org_ovirt_node.install",
               "org_ovirt_node.install.options",
               "org_ovirt_node.trust"}      # --trust-key's grammar (stdlib only)
    unexpected = {m for m in ours if m not in allowed and not (
        m.startswith("org_ovirt_node.ks.") and m.split(".")[2] not in ("render", "inventory", "pxe"))}
    assert unexpected == set()
    assert not modules & {"blivet", "jinja2", "yaml", "gi", "dasbus"}


def test_a_removed_command_names_the_last_version_that_had_it(tmp_path):
    path = write(tmp_path, "install\nauth --enableshadow --passalgo=sha512\n" + CLASSIC_KS)
    assert [(f[2], f[3].split(":")[-1].strip()) for f in errors(path, "RHEL10")] == [
        (1, "check a kickstart written for that installer with --version RHEL8"),
        (2, "check a kickstart written for that installer with --version RHEL9")]
    assert errors(path, "RHEL8") == []


@pytest.mark.parametrize("header_tail,contradiction", [
    (" --vg=HostVG --bogus", "the section says --vg=onn"),
    (" --vg=HostVG --volumes=minimal --volumez=x", "/var is not a separate volume"),
])
def test_a_rejected_section_line_is_the_only_error(tmp_path, header_tail, contradiction):
    text = GOOD_KS.replace("volgroup onn pv.1", "volgroup HostVG pv.1") \
        .replace("--vgname=onn", "--vgname=HostVG").replace("--volume=/var/log:16GiB", "") \
        .replace(f"--image={IMAGE}", f"--image={IMAGE}{header_tail}")
    result = errors(write(tmp_path, text))
    assert [f[2] for f in result] == [line_of(text, "%addon org_ovirt_node")], result
    assert "unknown option" in result[0][3] and contradiction not in result[0][3]


@pytest.mark.parametrize("text", [
    GOOD_KS.replace("%addon org_ovirt_node", "%addon org_ovirt_nod"),
    "text\n%addon org_ovirt_nod --image=http://repo.example.com/n.img\n%end\n",
])
def test_a_misspelled_section_is_one_error_not_a_missing_one(tmp_path, text):
    result = found(write(tmp_path, text))
    assert [f[:3] for f in result] == [(ERROR, "node.ks", line_of(text, "%addon"))], result
    assert "did you mean org_ovirt_node" in result[0][3]


_LAYOUT_LINES = st.sampled_from([
    "autopart --type=thinp", "autopart", "reqpart --add-boot", "reqpart", "part /boot --size=1000",
    "part /boot --size=1024 --grow", "part pv.01 --size=1 --grow", "part raid.01 --size=100",
    "raid pv.01 --level=1 --device=md0 raid.01 raid.02", "volgroup HostVG pv.01",
    "volgroup HostVG pv.02 --bogus", "volgroup Old --useexisting",
    "logvol none --vgname=HostVG --name=pool --thinpool --size=1 --grow",
    "logvol / --vgname=HostVG --name=root --thin --poolname=pool --size=5000",
    "logvol / --vgname=Old --name=root --size=6000 --noformat",
    "logvol /var --vgname=HostVG --name=var --thin --poolname=nopool --size=4096",
    "logvol /var/tmp --vgname=HostVG --name=tmp --size=1 --percent=10",
    "logvol /var --name=var --size=1", "btrfs / --data=0 btrfs.01", "mount /dev/sdb1 /var",
    "liveimg --url=http://e.com/n.img", "liveimg --url=PLACEHOLDER", "liveimg --bogus",
    "%post\nnodectl init\n%end", "%post\nimgbase --debug volume --create /var 4G\n%end",
    "%post --interpreter=/usr/bin/python3\nnodectl init\n%end", "%packages\n@core\n%end",
    "%include /nonexistent", "%addon org_ovirt_node --image=http://e.com/n.img --vg=HostVG\n%end",
    "%addon org_ovirt_nod\n%end", "\ufeff", "install",
])


@settings(max_examples=120, deadline=None)
@given(st.lists(_LAYOUT_LINES, max_size=12), st.sampled_from(["RHEL9", "RHEL7", "F16", "RHEL10"]))
def test_fuzzed_layouts_never_escape(lines, version):
    text = "\n".join(lines) + "\n"
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "fuzz.ks")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        report = validate_file(path, version)
    count = text.count("\n") + 1
    for finding in report.findings:
        assert isinstance(finding.line, int) and 1 <= finding.line <= count, finding
        assert "cannot parse this line" not in finding.message, finding
