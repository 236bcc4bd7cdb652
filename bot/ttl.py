"""Answers worth reusing for a few seconds: the chat asks the same small questions of the database (who is
this rep, which model is active, did any lead's name change) on every message."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def fresh_for(seconds: float) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Cache a function's result per arguments (hashable) for `seconds`; `.clear()` forgets everything."""

    def decorate(function: Callable[P, T]) -> Callable[P, T]:
        found: dict[Any, tuple[float, T]] = {}
        lock = threading.Lock()

        @wraps(function)
        def cached(*args: P.args, **kwargs: P.kwargs) -> T:
            key = (args, tuple(sorted(kwargs.items())))
            now = time.monotonic()
            with lock:
                hit = found.get(key)
            if hit is not None and now - hit[0] < seconds:
                return hit[1]
            value = function(*args, **kwargs)
            with lock:
                if len(found) > 10_000:
                    found.clear()
                found[key] = (now, value)
            return value

        cached.clear = found.clear  # type: ignore[attr-defined]
        return cached

    return decorate
