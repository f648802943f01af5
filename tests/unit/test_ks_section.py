"""The %addon org_ovirt_node section: parsing, errors at the right line,
generation, parse(generate(x)) == x, and fuzzed input never escaping as a
traceback."""

import shlex
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pykickstart.errors import KickstartParseError

from org_ovirt_node import constants
from org_ovirt_node.ks.section import (ADDON_NAME, PROFILES, NodeAddonData, build_section,
                                       parse_section)
from org_ovirt_node.sizes import GiB, MiB
from tests.support.kickstarts import IMAGE, SHA

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def section(*body, header=f"--image={IMAGE}"):
    return "\n".join([f"%addon {ADDON_NAME} {header}", *body, "%end"]) + "\n"


def test_header_and_body_options():
    data = parse_section(section("# volumes", "", "--volume=/var/log:16GiB",
                                 "--volume=/srv:2048 --keep=3",
                                 header=f"--image={IMAGE} --checksum={SHA.upper()} "
                                        "--vg=vg0 --pool=thin --fstype=xfs"), "node.ks")
    assert data.image_url == IMAGE
    assert data.checksum == SHA
    assert (data.vg, data.pool, data.fstype, data.keep) == ("vg0", "thin", "xfs", 3)
    assert data.volumes == {**constants.NIST_VOLUMES, "/var/log": 16 * GiB, "/srv": 2 * GiB}
    assert data.header_line == 1
    assert data.volume_lines == {"/var/log": 4, "/srv": 5}


def test_profiles():
    assert parse_section(section(header=f"--image={IMAGE} --volumes=minimal")).volumes \
        == constants.MINIMAL_VOLUMES
    assert parse_section(section("--volume=/var:8GiB",
                                 header=f"--image={IMAGE} --volumes=none")).volumes \
        == {"/var": 8 * GiB}


@pytest.mark.parametrize("url", [
    "file:///srv/images/node.squashfs",
    "https://user@repo.example.com:8443/a/node.squashfs",
    "hd:LABEL=OVIRT-NODE-4.5:/ovirt-node.squashfs",
    r"hd:LABEL=My\x20Disk:/images/node.img",
    "hd:UUID=1234-ABCD:/node.img",
    "hd:/dev/sdb1:/node.img",
    "hd:sdb1:/node.img",
    "nfs:nfs.example.com:/exports/node.img",
    "nfs:nfsvers=4,ro:nfs.example.com:/exports/node.img",
])
def test_url_schemes(url):
    """Quoted as kickstart needs it: shlex would eat the backslash of \\x20."""
    assert parse_section(section(header=f"--image={shlex.quote(url)}")).image_url == url


@pytest.mark.parametrize("body,line,fragment", [
    ("--bogus=1", 3, "unknown option --bogus=1"),
    ("--volume=/var/log:16GX", 3, "unknown unit"),
    ("--volume=/var/log:100MiB", 3, "below the minimum"),
    ("--volume=/var/log:1.5MiB", 3, "whole number of MiB"),
    ("--volume=var/log:16GiB", 3, "not an absolute path"),
    ("--volume=/var//log:16GiB", 3, "plain path"),
    ("--volume=/usr/local:16GiB", 3, "inside /usr"),
    ("--volume=/var/log", 3, "MOUNT:SIZE"),
    ("--volume=/srv:1GiB\n--volume=/srv:2GiB", 4, "repeats (first on line 3)"),
    ("--volume=/a/b:1GiB\n--volume=/a_b:1GiB", 4, "would both be LV 'a_b'"),
    ("--volume=/pool00:1GiB", 3, "name of the thin pool"),
    ("--checksum=md5:abc", 3, "sha256: followed by 64 hex"),
    ("--image=ftp://example.com/x.img", 3, "not an image URL"),
    ("--vg=onn\n--vg=other", 4, "--vg=other conflicts with --vg=onn on line 3"),
    ("--vg=a --vg=b", 3, "given twice"),
    ("--vg=-bad", 3, "not a valid LVM name"),
    ("--pool=a+b", 3, "letters, digits and ._-"),
    ("--keep=0", 3, "from 1 to 100"),
    ("--volumes=big", 3, "invalid choice"),
    ("--proxy=http://proxy:3128", 3, "--proxy conflicts with a file: image"),
    ("--noverifyssl", 3, "--noverifyssl conflicts"),
    ("--volume='/srv:1GiB", 3, "cannot split"),
    ("--imag=x", 3, "unknown option"),
])
def test_body_errors_name_file_and_line(body, line, fragment):
    text = section("# a comment keeps numbering honest", body,
                   header="--image=file:///images/node.img")
    with pytest.raises(KickstartParseError) as caught:
        parse_section(text, "fleet.ks")
    assert caught.value.lineno == line
    assert caught.value.message.startswith(f"fleet.ks:{line}: ")
    assert fragment in caught.value.message


@pytest.mark.parametrize("header,fragment", [
    ("", "needs --image"),
    ("--image=http://", "no valid host"),
    ("--image=hd:LABEL=X", "hd:DEVICE:/path"),
    ("--image=nfs:server:/exports/", "absolute path of an image file"),
    ("--image=file://relative/x", "file:///absolute/path"),
])
def test_header_errors_on_the_header_line(header, fragment):
    with pytest.raises(KickstartParseError) as caught:
        parse_section("\n\n" + section(header=header), "a.ks")
    assert caught.value.lineno == 3
    assert fragment in caught.value.message


def test_missing_end_and_missing_section():
    with pytest.raises(KickstartParseError, match="no %end"):
        parse_section(f"%addon {ADDON_NAME} --image={IMAGE}\n--keep=2\n")
    with pytest.raises(KickstartParseError, match="no %addon"):
        parse_section("text\n")


def test_generation_writes_defaults_explicitly():
    text = str(build_section(IMAGE))
    header = text.splitlines()[0].split()
    assert header[:2] == ["%addon", ADDON_NAME]
    for option in ("--vg=onn", "--pool=pool00", "--volumes=nist", "--fstype=ext4", "--keep=2"):
        assert option in header
    assert text.splitlines()[1:-1] == [f"--volume={mount}:{size // GiB}GiB"
                                       for mount, size in sorted(constants.NIST_VOLUMES.items())]
    assert text.endswith("%end\n")


def test_no_image_generates_nothing():
    assert str(NodeAddonData()) == ""


def test_anaconda_call_pattern():
    """Anaconda's AddonSection passes the args after the name, then each line
    with its number, then calls handle_end."""
    data = NodeAddonData()
    data.handle_header([f"--image={IMAGE}", "--volumes=minimal"], 10)
    data.handle_line("--volume=/srv:4GiB\n", 11)
    with pytest.raises(KickstartParseError) as caught:
        data.handle_line("--volume=/srv:4GiB\n", 12)
    assert caught.value.lineno == 12
    assert "line 11" in caught.value.message
    data.handle_end()
    assert data.volumes == {"/var": 5 * GiB, "/srv": 4 * GiB}


# --- parse(generate(x)) == x ------------------------------------------------

_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,20}", fullmatch=True)
_files = st.from_regex(r"/[a-z0-9]{1,8}(/[A-Za-z0-9._-]{0,8}[a-z0-9]){1,3}", fullmatch=True)
_hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9](\.[a-z]{2,6}){0,2}", fullmatch=True)
_urls = st.one_of(
    st.builds(lambda s, h, p: f"{s}://{h}{p}", st.sampled_from(["http", "https"]), _hosts, _files),
    st.builds(lambda p: f"file://{p}", _files),
    st.builds(lambda label, p: f"hd:LABEL={label}:{p}", _names, _files),
    st.builds(lambda h, p: f"nfs:{h}:{p}", _hosts, _files),
    st.builds(lambda h, p: f"nfs:nfsvers=4,ro:{h}:{p}", _hosts, _files),
)
_mounts = st.from_regex(r"/(srv|data|opt|var|home|tmp)(/[a-z0-9]{1,8}){0,2}", fullmatch=True)


@st.composite
def node_data(draw):
    data = NodeAddonData()
    data.image_url = draw(_urls)
    data.checksum = draw(st.sampled_from(["", SHA, "sha256:" + "0" * 64]))
    if data.image_url.startswith("http"):
        data.proxy = draw(st.sampled_from(["", "http://proxy.example.com:3128"]))
        data.noverifyssl = data.image_url.startswith("https") and draw(st.booleans())
    data.vg = draw(_names)
    data.pool = draw(_names)
    data.volume_profile = draw(st.sampled_from(sorted(PROFILES)))
    data.fstype = draw(st.sampled_from(["ext4", "xfs"]))
    data.keep = draw(st.integers(1, 100))
    extra = draw(st.dictionaries(_mounts, st.integers(512, 1 << 22).map(lambda n: n * MiB),
                                 max_size=5))
    lv_names = [constants.volume_lv_name(m) for m in extra]
    if len(set(lv_names)) != len(lv_names) or data.pool in lv_names:
        extra = {}
    data.volumes = {**PROFILES[data.volume_profile], **extra}
    return data


@FUZZ
@given(node_data())
def test_parse_of_generate_is_identity(data):
    assert parse_section(str(data)) == data


# --- fuzzing: errors, never tracebacks -----------------------------------------

_words = st.sampled_from([
    "--image", "--image=", f"--image={IMAGE}", "--checksum=", "--vg", "--vg=", "--pool=x",
    "--volumes=", "--volumes=nist", "--volume=", "--volume=/srv:", "--volume=/srv:1GiB",
    "--keep=", "--keep=-1", "--fstype=zfs", "--proxy=", "--noverifyssl", "%end", "%addon",
    "'", '"', "\\", "#", "=", ":", "-", "--", "\x00", "\t",
])
_line = st.lists(st.one_of(_words, st.text(max_size=12)), max_size=6).map(" ".join)


def _check_error(error, line_count):
    assert isinstance(error.lineno, int) and 1 <= error.lineno <= line_count + 1
    assert error.message


@FUZZ
@given(_line, st.lists(_line, max_size=6))
def test_fuzzed_options_fail_with_a_line(header, body):
    text = "\n".join([f"%addon {ADDON_NAME} {header}", *body, "%end"])
    try:
        parse_section(text, "fuzz.ks")
    except KickstartParseError as error:
        _check_error(error, len(text.split("\n")))


@FUZZ
@given(st.binary(max_size=300))
def test_fuzzed_bytes_fail_with_a_line(blob):
    text = f"%addon {ADDON_NAME} " + blob.decode("latin-1")
    try:
        parse_section(text, "fuzz.ks")
    except KickstartParseError as error:
        _check_error(error, len(text.split("\n")))


@FUZZ
@given(st.lists(st.text(string.printable, max_size=40), max_size=8))
def test_fuzzed_anaconda_calls_fail_with_the_given_line(lines):
    data = NodeAddonData()
    try:
        data.handle_header([f"--image={IMAGE}"], 1)
        for number, line in enumerate(lines, 2):
            try:
                data.handle_line(line, number)
            except KickstartParseError as error:
                assert error.lineno == number
                raise
        data.handle_end()
    except KickstartParseError as error:
        assert isinstance(error.lineno, int) and error.lineno >= 1
