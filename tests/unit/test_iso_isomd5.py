"""The media check sum computed on the way equals implantisomd5's, byte for byte.

implantisomd5 (isomd5sum) is the reference: the same ISO goes through it and
through MediaSum, fed in pieces of awkward sizes, and the 512 bytes both put
in the primary volume descriptor must be the same; checkisomd5 must accept
ours. The ISOs are small plain ones of several sizes (fragment sums of tiny
images skip fragments; volume sizes not a multiple of 32 KiB end in a short
chunk) and one that already carries a sum (--force blanks it first).
"""

import itertools
import os
import shutil
import subprocess

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.iso.isomd5 import (APPDATA_OFFSET, APPDATA_SIZE, MediaSum, ReadBehind,
                                        fragment_marks)

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("xorriso", "implantisomd5", "checkisomd5")),
    reason="needs xorriso and isomd5sum")

PIECES = (1, 7, 2048, 30000, 65536, 1 << 20)


def plain_iso(path, payload_bytes):
    """An ISO holding one file of PAYLOAD_BYTES pseudo-random bytes; return its path."""
    tree = path.parent / f"{path.stem}-tree"
    tree.mkdir()
    (tree / "data").write_bytes(os.urandom(payload_bytes))
    subprocess.run(["xorriso", "-as", "mkisofs", "-o", str(path), "-V", "SUM TEST", str(tree)],
                   check=True, capture_output=True)
    return path


def reference_appdata(iso, tmp_path):
    """What implantisomd5 --force puts into a copy of ISO."""
    copy = tmp_path / "reference.iso"
    shutil.copy(iso, copy)
    subprocess.run(["implantisomd5", "--force", str(copy)], check=True, capture_output=True)
    with open(copy, "rb") as stream:
        stream.seek(APPDATA_OFFSET)
        return stream.read(APPDATA_SIZE)


def streamed_sum(iso):
    """MediaSum over ISO, fed in pieces of changing, awkward sizes."""
    media_sum = MediaSum()
    with open(iso, "rb") as stream:
        for size in itertools.cycle(PIECES):
            piece = stream.read(size)
            if not piece:
                return media_sum
            media_sum.update(piece)


@pytest.mark.parametrize("payload_bytes", [0, 100_000, 1_500_000, 5 << 20, 12_345_678])
def test_appdata_equals_implantisomd5s(tmp_path, payload_bytes):
    iso = plain_iso(tmp_path / "plain.iso", payload_bytes)
    assert streamed_sum(iso).appdata() == reference_appdata(iso, tmp_path)


def test_an_old_sum_is_blanked_first_and_checkisomd5_passes(tmp_path):
    iso = plain_iso(tmp_path / "plain.iso", 3 << 20)
    subprocess.run(["implantisomd5", str(iso)], check=True, capture_output=True)
    with open(iso, "r+b") as stream:  # new content, the old sum still in the PVD
        stream.seek(-4096, os.SEEK_END)
        stream.write(b"changed")
    media_sum = streamed_sum(iso)
    assert media_sum.appdata() == reference_appdata(iso, tmp_path)
    fd = os.open(iso, os.O_RDWR)
    try:
        media_sum.implant(fd)
    finally:
        os.close(fd)
    subprocess.run(["checkisomd5", str(iso)], check=True, capture_output=True)


def test_fragment_marks_follow_32k_reads():
    """A sum after the first 32 KiB read starting in each new 21st; tiny images skip some."""
    end = 21 * 10 * 32768
    assert fragment_marks(end) == [(10 * i + 1) * 32768 for i in range(1, 21)]
    tiny = fragment_marks(40 * 2048)
    assert len(tiny) < 20 and tiny == sorted(set(tiny)) and tiny[-1] == 40 * 2048


def test_not_an_iso_and_short_streams_are_refused(tmp_path):
    with pytest.raises(NodeError, match="no primary volume descriptor"):
        MediaSum().update(bytes(40000))
    iso = plain_iso(tmp_path / "plain.iso", 100_000)
    media_sum = MediaSum()
    media_sum.update(iso.read_bytes()[:60000])
    with pytest.raises(NodeError, match="ends before its volume size"):
        media_sum.appdata()


def _read_behind(tmp_path, data):
    """Write DATA into a new file in two parts, ReadBehind told after each."""
    out = os.open(tmp_path / "out", os.O_RDWR | os.O_CREAT | os.O_EXCL)
    summer = ReadBehind(out)
    try:
        half = len(data) // 2
        for start, end in ((0, half), (half, len(data))):
            os.pwrite(out, data[start:end], start)
            summer.written(end)
        return summer.appdata()
    finally:
        summer.close()
        os.close(out)


def test_read_behind_child_gives_implantisomd5s_bytes(tmp_path):
    """The sum taken in a child process that reads the written file back."""
    iso = plain_iso(tmp_path / "plain.iso", 3_000_000)
    assert _read_behind(tmp_path, iso.read_bytes()) == reference_appdata(iso, tmp_path)


def test_read_behind_child_failures_are_one_error(tmp_path):
    with pytest.raises(NodeError, match="no primary volume descriptor"):
        _read_behind(tmp_path, bytes(200_000))
