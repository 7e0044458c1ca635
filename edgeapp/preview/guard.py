"""Slow and numerous clients against the preview: a cap on connections and a deadline for a request head.

The guard is a protocol factory in front of aiohttp's. Each connection must send a complete
request head (request line and headers) within ``header_timeout_s``, or it is closed. At most
``max_connections`` are open at once; a new connection beyond that takes the place of the oldest
one that has been sending its head for more than ``SUSPECT_S`` (an honest client sends it in
milliseconds), or is closed at once, before aiohttp spends anything on it. So thousands of
trickling clients cannot use up the process's file handles nor its event loop, and a probe that
sends its request at once (``/healthz``) still gets in.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Callable

from edgeapp.logs import Every

log = logging.getLogger(__name__)

# How long an honest client may take to send its request head once its connection is accepted: the head
# follows the handshake by half a round trip, so this covers a 500 ms round trip. Under a flood at the cap,
# connections without a head older than this make room for new ones; a longer grace (it was 1 s) let a
# flood of reconnecting clients keep every waiting one younger than it, and probes were refused.
SUSPECT_S = 0.25


class ConnectionGuard:
    def __init__(self, factory: Callable[[], asyncio.Protocol], max_connections: int, header_timeout_s: float):
        self._factory = factory
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self._open: set[asyncio.BaseTransport] = set()
        self._waiting: OrderedDict[asyncio.BaseTransport, asyncio.TimerHandle] = OrderedDict()  # no request head yet
        self.timed_out = self.evicted = self.refused = 0
        self._report = Every()

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self)

    def protocol(self) -> asyncio.Protocol:
        return self._factory()

    @property
    def connections(self) -> int:
        return len(self._open)

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        loop = asyncio.get_running_loop()
        if len(self._open) >= self.max_connections:
            oldest = next(iter(self._waiting.items()), None)
            if oldest is None or loop.time() - (oldest[1].when() - self.header_timeout_s) < SUSPECT_S:
                self.refused += 1
                self._note(1)
                return False
            self._waiting.pop(oldest[0]).cancel()
            self._drop(oldest[0])
            self.evicted += 1
            self._note(1)
        self._open.add(transport)
        self._waiting[transport] = loop.call_later(self.header_timeout_s, self._expire, transport)
        return True

    def started(self, transport: asyncio.BaseTransport | None) -> None:
        """A request head arrived on ``transport``: it is a client, no longer a suspect."""
        timer = self._waiting.pop(transport, None) if transport is not None else None
        if timer is not None:
            timer.cancel()

    def closed(self, transport: asyncio.BaseTransport) -> None:
        self._open.discard(transport)
        timer = self._waiting.pop(transport, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, transport: asyncio.BaseTransport) -> None:
        if self._waiting.pop(transport, None) is not None:
            self._drop(transport)
            self.timed_out += 1
            self._note(1)

    def _drop(self, transport: asyncio.BaseTransport) -> None:
        self._open.discard(transport)
        transport.abort()

    def _note(self, n: int) -> None:
        due = self._report.add(n)
        if due:
            log.warning("preview: closed %d connections that were too slow or too many (head within %g s, at most "
                        "%d at once; one line a minute at most, the count is since the last one)",
                        due, self.header_timeout_s, self.max_connections)


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol behind the guard's admission; every other call is passed through."""

    def __init__(self, guard: ConnectionGuard):
        self._guard, self._inner, self._transport = guard, None, None

    def connection_made(self, transport) -> None:
        if not self._guard.admit(transport):
            transport.abort()
            return
        self._transport = transport
        self._inner = self._guard.protocol()
        self._inner.connection_made(transport)

    def connection_lost(self, exc) -> None:
        if self._transport is None:
            return
        self._guard.closed(self._transport)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._transport is not None:
            self._inner.data_received(data)

    def eof_received(self):
        return self._inner.eof_received() if self._transport is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()
