"""Limits on failed logins: what a wrong password may cost the server.

Each password check is a scrypt hash (~32 MB, ~0.1 s) on purpose, so that a stolen
htpasswd file is slow to crack. The same cost makes the login an amplifier: sixty clients
sending wrong passwords took the server from 616 MB to 2.1 GB and a logged-in user's page
to 3.9 s. So, per server process:

* :class:`FailureLimiter` — a client (remote address) with :data:`MAX_FAILURES` failed
  logins within :data:`WINDOW_S` seconds is answered 429 without any hash check until the
  window has passed; the table of clients is bounded (oldest forgotten first);
* :class:`CheckSlots` — at most :data:`MAX_CONCURRENT_CHECKS` hash checks run at once; a
  request that cannot get a slot within :data:`SLOT_WAIT_S` gets 503 and ``Retry-After``.

Successful logins are remembered by :mod:`dashboard.security` and never wait here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MAX_FAILURES = 10
WINDOW_S = 60.0
MAX_CLIENTS = 10_000
MAX_CONCURRENT_CHECKS = 2
SLOT_WAIT_S = 5.0


class FailureLimiter:
    """Failed logins per client over a sliding window; bounded memory."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        while times and now - times[0] > self.window_s:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again; 0 when it may try now."""
        now = self._clock()
        with self._lock:
            times = self._recent(client, now)
            if times is None or len(times) < self.max_failures:
                return 0
            return max(1, int(self.window_s - (now - times[0])) + 1)

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            times = self._recent(client, now)
            if times is None:
                times = deque(maxlen=self.max_failures)
                self._failures[client] = times
            times.append(now)
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)


class CheckSlots:
    """At most ``size`` password hash checks at once in this process."""

    def __init__(self, size: int = MAX_CONCURRENT_CHECKS, wait_s: float = SLOT_WAIT_S) -> None:
        self._slots = threading.BoundedSemaphore(size)
        self.wait_s = wait_s

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Yields True with a slot held, False when none came free in time."""
        acquired = self._slots.acquire(timeout=self.wait_s)
        try:
            yield acquired
        finally:
            if acquired:
                self._slots.release()
