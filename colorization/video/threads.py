"""Decoding, the network and encoding overlap: a reader and a writer thread joined to the main one by bounded
pipes, so at most a few frames wait anywhere (memory stays flat over any length of video). Either side can abort
the other (Ctrl-C, a failed write), and a thread's exception reaches the main thread."""
import queue
import threading

_POLL_S = 0.1
_CLOSED = object()


class Aborted(Exception):
    """The other side of a pipe stopped: end this thread's work without finishing it."""


class Pipe:
    """A bounded queue of items that ends with close() or breaks with abort()."""

    def __init__(self, maxsize):
        self._queue = queue.Queue(maxsize)
        self._aborted = threading.Event()

    def put(self, item):
        while True:
            if self._aborted.is_set():
                raise Aborted()
            try:
                self._queue.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def close(self):
        self.put(_CLOSED)

    def abort(self):
        self._aborted.set()

    def __iter__(self):
        while True:
            if self._aborted.is_set():
                raise Aborted()
            try:
                item = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if item is _CLOSED:
                return
            yield item


class Worker(threading.Thread):
    """Runs work() in a thread; an exception is kept for the main thread (raise_error) and aborts `pipes`, so
    that nobody waits forever on a thread that is gone."""

    def __init__(self, name, work, pipes):
        super().__init__(name=name, daemon=True)
        self._work = work
        self._pipes = pipes
        self.error = None

    def run(self):
        try:
            self._work()
        except Aborted:
            pass
        except BaseException as e:  # handed to the main thread, which decides
            self.error = e
            for pipe in self._pipes:
                pipe.abort()

    def raise_error(self):
        if self.error is not None:
            raise self.error


def feed(items, pipe):
    """Put every item of an iterator into the pipe, then close it (the reader thread's work)."""
    for item in items:
        pipe.put(item)
    pipe.close()
