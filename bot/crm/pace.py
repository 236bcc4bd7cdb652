"""Pacing requests under a vendor's rate limit, on an injected clock (tests move it by the sleeps they record)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class Pacer:
    """At most `limit` requests in any `window` seconds: `wait()` before each request sleeps just long enough.

    HubSpot counts its search limit (5 a second) where a request arrives, not where it leaves: `margin` seconds
    are added to the window so that a request that travelled faster than the one before it still keeps under it.
    Meeting the limit instead of pacing answers one search in ten 429, and each costs a second's wait.
    """

    def __init__(self, limit: int, window: float, *, margin: float = 0.1,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"a pace needs a limit of at least 1 and a window above 0, not {limit} in {window} s")
        self.limit, self.span = limit, window + margin
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque(maxlen=limit)

    def wait(self) -> None:
        """Sleep until one more request keeps under the limit, and count it sent now."""
        if len(self._sent) == self.limit:
            ready = self._sent[0] + self.span
            now = self._clock()
            if ready > now:
                self._sleep(ready - now)
        self._sent.append(self._clock())
