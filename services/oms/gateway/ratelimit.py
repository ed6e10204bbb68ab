"""Per-client rate limits: a token bucket per client, answered with 429 and `Retry-After`.

Hand-written because it is a dozen lines and ours: a bucket holds `burst` tokens and refills at
`rate` per second; a request takes one or is refused with the time until one is there. Buckets
live in this process (each gateway instance limits what reaches it), at most `max_clients`
of them, the least recently seen dropped first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.requests import Request

from oms.gateway.errors import ApiError


class TokenBuckets:
    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """0 if `client` may go on now, else the seconds until it may."""
        now = self.clock()
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait

    def check(self, client: str, what: str) -> None:
        """Raise the 429 a client past its limit gets."""
        wait = self.take(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "rate_limited",
                f"too many {what}; try again in {seconds} s",
                {"Retry-After": str(seconds)},
            )


def client_address(request: Request) -> str:
    """Who is asking, for per-address limits: the TCP peer, or, when that peer is a trusted
    proxy (GATEWAY_TRUSTED_PROXIES), the client it forwarded for (uvicorn resolves it)."""
    return request.client.host if request.client else "unknown"
