"""The installer's media check sum, without running implantisomd5.

Anaconda's "Test this media" (checkisomd5) reads an MD5 sum and 20 fragment
sums from the application-use area of the primary volume descriptor, where
isomd5sum's implantisomd5 puts them. MediaSum takes the image's bytes in
order, from wherever they come (ReadBehind: a child that reads the written
file from the page cache while this process goes on), and `implant()` puts
the 512 bytes in that area - the same bytes implantisomd5 (isomd5sum 1.2.x)
writes, so checkisomd5 and anything else that parses them see no
difference. It saves a program the ISO's host may not have (isomd5sum) and
a second open-and-write pass over the PVD.

What implantisomd5 sums: the first (volume size - 15 sectors) bytes of the
image, with the 512-byte area counted as spaces (it blanks it before
reading). It reads in 32 KiB chunks and, after the first chunk that starts
in a new twenty-first of that length, records the first hex digit of each of
the first 3 bytes of the running MD5 - so the fragment sums depend on those
chunk boundaries, which is why they are kept here exactly.
"""

import os
import subprocess
import sys

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
        from hashlib import md5  # OpenSSL's: half again as fast as CPython's own
        self._md5 = md5()
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


class ReadBehind:
    """MediaSum in a child process that reads the output file behind the writer.

    The writer tells it, through a pipe, how many bytes of the file at FD are
    written; it reads them back from the page cache and sums them. MD5 runs
    on the other core, and OpenSSL's libcrypto (about 3.5 MiB) is mapped in
    that small child (the same interpreter, no site-packages) instead of in
    this process, whose peak is the larger one.
    """

    def __init__(self, fd):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        code = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from org_ovirt_node.iso.isomd5 import _read_behind; _read_behind(int(sys.argv[2]))")
        self._process = subprocess.Popen(
            [sys.executable, "-S", "-c", code, root, str(fd)], pass_fds=(fd,),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def written(self, done):
        """DONE bytes of the file are written."""
        try:
            os.write(self._process.stdin.fileno(), done.to_bytes(8, "big"))
        except BrokenPipeError:
            pass  # the child ended early: appdata() says why

    def appdata(self):
        """The 512 bytes for the PVD, once the child has summed everything written."""
        if not self._process.stdin.closed:
            self._process.stdin.close()
        answer = self._process.stdout.read()
        status = self._process.wait()
        if status != 0 or len(answer) != APPDATA_SIZE:
            raise NodeError(answer.decode("utf-8", "replace").strip()
                            or f"the media check sum failed (exit status {status})")
        return answer

    def implant(self, fd):
        """Write appdata() into the image open for writing as FD."""
        os.pwrite(fd, self.appdata(), APPDATA_OFFSET)

    def close(self):
        """Stop the child if it still runs (the write failed or was interrupted)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if not stream.closed:
                stream.close()


def _read_behind(fd, window=CHUNK * 32):
    """The child of ReadBehind: sum FD up to each 8-byte count read from stdin."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the writer decides; it kills us
    media_sum, buffer, seen = MediaSum(), bytearray(window), 0
    try:
        with memoryview(buffer) as whole:
            while True:
                mark = sys.stdin.buffer.read(8)
                if len(mark) < 8:
                    break
                target = int.from_bytes(mark, "big")
                while seen < target:
                    count = os.preadv(fd, [whole[:min(window, target - seen)]], seen)
                    if count <= 0:
                        raise NodeError(f"the written ISO ends at {seen} bytes, before {target}")
                    with whole[:count] as stretch:
                        media_sum.update(stretch)
                    seen += count
        answer = media_sum.appdata()
    except NodeError as error:
        sys.stdout.buffer.write(error.message.encode())
        sys.exit(1)
    sys.stdout.buffer.write(answer)


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
