"""How long to wait before retrying a failed model call: exponential backoff with full jitter.

Both SDKs are built with `max_retries=0`, so every retry is ours and the agent can show
that it is rate-limited and until when. A server's Retry-After is honoured (never retry
earlier) but capped, so one bad header cannot park an agent for an hour.
"""

from __future__ import annotations

import random
from typing import Protocol

RETRY_AFTER_CAP_S = 120.0
RETRY_AFTER_SPREAD_S = 1.0
MAX_ATTEMPTS = 6


class Uniform(Protocol):
    """A source of uniform random floats: the `random` module or a seeded `random.Random`."""

    def uniform(self, a: float, b: float) -> float: ...


def backoff_delay(
    attempt: int,
    retry_after_s: float | None,
    *,
    base: float = 1.0,
    cap: float = 60.0,
    rng: Uniform = random,
) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry)."""
    if attempt < 0:
        raise ValueError(f"backoff_delay: attempt must be >= 0, got {attempt}")
    draw = rng.uniform
    if retry_after_s is not None and retry_after_s > 0:
        spread = draw(0.0, min(RETRY_AFTER_SPREAD_S, retry_after_s * 0.1))
        return min(retry_after_s + spread, RETRY_AFTER_CAP_S)
    ceiling = min(cap, base * 2.0 ** min(attempt, 32))
    return draw(0.0, ceiling)
