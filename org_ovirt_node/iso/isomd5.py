"""The installer's media check sum, computed while the ISO streams past.

Anaconda's "Test this media" (checkisomd5) reads an MD5 sum and 20 fragment
sums from the application-use area of the primary volume descriptor, where
isomd5sum's implantisomd5 puts them. Running implantisomd5 after writing an
ISO means reading the whole image a second time; MediaSum takes the bytes
as they are written instead, and `implant()` puts the 512 bytes in that
area - the same bytes implantisomd5 (isomd5sum 1.2.x) writes, so
checkisomd5 and anything else that parses them see no difference.

What implantisomd5 sums: the first (volume size - 15 sectors) bytes of the
image, with the 512-byte area counted as spaces (it blanks it before
reading). It reads in 32 KiB chunks and, after the first chunk that starts
in a new twenty-first of that length, records the first hex digit of each of
the first 3 bytes of the running MD5 - so the fragment sums depend on those
chunk boundaries, which is why they are kept here exactly.
"""

import hashlib
import os

from org_ovirt_node.errors import NodeError

SECTOR = 2048
PVD_OFFSET = 16 * SECTOR          # where xorriso (and every mastering tool) puts the PVD
SIZE_FIELD = PVD_OFFSET + 84      # volume space size, big-endian half (as implantisomd5 reads it)
APPDATA_OFFSET = PVD_OFFSET + 883  # ECMA-119 8.4.32 application use
APPDATA_SIZE = 512
HEAD = APPDATA_OFFSET + APPDATA_SIZE  # the bytes that must be seen before summing starts
SKIPSECTORS = 15                  # left out for old CD drives that misread the last sectors
FRAGMENT_COUNT = 20
FRAGMENT_DIGITS = 3               # 60 characters of fragment sums / 20 fragments
CHUNK = 16 * SECTOR               # implantisomd5's read size; fragment sums follow it
SUPPORTED = 0                     # RHLISOSTATUS: implantisomd5 without --supported-iso


class MediaSum:
    """Feed every byte of an ISO in order with update(); then appdata()."""

    def __init__(self):
        self._md5 = hashlib.md5()
        self._head = bytearray()   # the first HEAD bytes, kept until the PVD is whole
        self._seen = 0             # bytes summed or passed over so far
        self._end = None           # bytes summed: volume size - SKIPSECTORS sectors
        self._marks = []           # offsets after which a fragment sum is taken
        self._fragments = []

    def update(self, data):
        """Take the next bytes of the image (any length, any bytes-like object)."""
        data = memoryview(data)
        if self._head is not None:
            take = HEAD - len(self._head)
            self._head += data[:take]
            data = data[take:]
            if len(self._head) < HEAD:
                return
            self._start(self._head)
        self._sum(data)

    def _start(self, head):
        """Read the volume size from the PVD, blank the area, sum the head."""
        if head[PVD_OFFSET:PVD_OFFSET + 6] != b"\x01CD001":
            raise NodeError("the written ISO has no primary volume descriptor at sector 16")
        blocks = int.from_bytes(head[SIZE_FIELD:SIZE_FIELD + 4], "big")
        self._end = (blocks - SKIPSECTORS) * SECTOR
        self._marks = fragment_marks(self._end)
        head[APPDATA_OFFSET:HEAD] = b" " * APPDATA_SIZE
        self._head = None
        self._sum(memoryview(head))

    def _sum(self, data):
        """Sum DATA up to the end of the summed part, taking fragment sums on the way."""
        while data and self._seen < self._end:
            stop = min(self._seen + len(data), self._end)
            if self._marks:
                stop = min(stop, self._marks[0])
            count = stop - self._seen
            self._md5.update(data[:count])
            self._seen, data = stop, data[count:]
            if self._marks and self._marks[0] == stop:
                self._marks.pop(0)
                digest = self._md5.copy().digest()
                self._fragments.append("".join(f"{byte:x}"[0] for byte in
                                               digest[:FRAGMENT_DIGITS]))
        self._seen += len(data)

    def appdata(self):
        """The 512 bytes for the PVD's application-use area, as implantisomd5 writes them."""
        if self._end is None or self._seen < self._end:
            raise NodeError("the written ISO ends before its volume size")
        text = (f"ISO MD5SUM = {self._md5.hexdigest()};SKIPSECTORS = {SKIPSECTORS};"
                f"RHLISOSTATUS={SUPPORTED};FRAGMENT SUMS = {''.join(self._fragments)};"
                f"FRAGMENT COUNT = {FRAGMENT_COUNT};"
                "THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!")
        return text.encode("ascii").ljust(APPDATA_SIZE, b" ")

    def implant(self, fd):
        """Write appdata() into the image open for writing as FD."""
        os.pwrite(fd, self.appdata(), APPDATA_OFFSET)


def fragment_marks(end):
    """The offsets after which implantisomd5 takes a fragment sum of END summed bytes.

    After reading the chunk at offset o it takes a sum whenever o // (END // 21)
    differs from the fragment of the last sum; the sum covers that whole chunk.
    """
    size = end // (FRAGMENT_COUNT + 1)
    if size == 0:
        return []
    marks, previous = [], 0
    for fragment in range(1, FRAGMENT_COUNT + 1):
        start = -(-fragment * size // CHUNK) * CHUNK   # first chunk starting in it
        if start >= end:
            break
        current = start // size
        if current != previous:
            marks.append(min(start + CHUNK, end))
            previous = current
    return marks
