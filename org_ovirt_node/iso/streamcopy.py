"""Moving a pipe's bytes into a file while a second thread reads them.

A remaster's output comes out of xorriso through a pipe (isofs.write), and
the media check sum must see all of it. copy() moves the bytes into the file
with splice(2), so they never pass through this process's memory, and a
second thread reads each newly written stretch back while it is still in the
page cache, into one reused buffer - MD5 runs beside the copy and xorriso
instead of after them, and the memory it takes is that one buffer. A
reader in another process (isomd5.ReadBehind, what remaster uses) is told
instead how far the file is written, and reads it back itself.
"""

import os
import threading

CHUNK = 1 << 20      # bytes per splice; the pipe holds as much (isofs.PIPE_SIZE)
WINDOW = 1 << 20     # bytes read back at once (the reader's one buffer)


def copy(source, out, reader=None, progress=None, every=CHUNK, written=None):
    """Move bytes from the pipe fd SOURCE to the file fd OUT until the pipe ends.

    OUT must be open for reading too. READER(memoryview), when given, gets
    every byte written, in order, in a thread of its own; an exception it
    raises is raised here once the copy is over. PROGRESS(bytes done), when
    given, is called each EVERY bytes; WRITTEN(bytes done), when given, after
    every move (for a reader in another process). Returns the bytes copied.
    """
    state = _Shared()
    worker = None
    if reader:
        worker = threading.Thread(target=_read_behind, args=(out, reader, state))
        worker.start()
    done = 0
    try:
        while True:
            count = _move(source, out, CHUNK)
            if not count:
                break
            if progress and done // every != (done + count) // every:
                progress(done + count)
            done += count
            state.publish(done)
            if written:
                written(done)
    finally:
        state.publish(done, finished=True)
        if worker:
            worker.join()
    if state.failure:
        raise state.failure
    return done


def _splice(source, out, count):
    """Move up to COUNT bytes from the pipe SOURCE to OUT in the kernel; 0 at its end."""
    return os.splice(source, out, count)


def _read_write(source, out, count):
    """_splice for Python 3.9, which has no os.splice: the bytes pass through here."""
    data = os.read(source, count)
    view = memoryview(data)
    while view:
        view = view[os.write(out, view):]
    return len(data)


_move = _splice if hasattr(os, "splice") else _read_write


class _Shared:
    """What the copying thread tells the reading thread, and what comes back."""

    def __init__(self):
        self.changed = threading.Condition()
        self.written = 0
        self.finished = False
        self.failure = None

    def publish(self, written, finished=False):
        """WRITTEN bytes are in the file; FINISHED: no more will come."""
        with self.changed:
            self.written, self.finished = written, finished
            self.changed.notify()

    def wait_past(self, offset):
        """Wait until more than OFFSET bytes are written or none will come; return the count."""
        with self.changed:
            while self.written == offset and not self.finished:
                self.changed.wait()
            return self.written


def _read_behind(fd, reader, state):
    """Give READER each stretch of FD as soon as it is written (page-cache reads)."""
    offset = 0
    buffer = bytearray(WINDOW)
    try:
        with memoryview(buffer) as whole:
            while True:
                end = min(state.wait_past(offset), offset + WINDOW)
                if end == offset:
                    return
                count = os.preadv(fd, [whole[:end - offset]], offset)
                if count <= 0:
                    raise OSError(f"the output ends at {offset} bytes, before {end}")
                with whole[:count] as stretch:
                    try:
                        reader(stretch)
                    except Exception as error:  # raised again in the copying thread
                        # dropping its frames drops their views of BUFFER
                        state.failure = error.with_traceback(None)
                        return
                offset += count
    except OSError as error:
        state.failure = error
