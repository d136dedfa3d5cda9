"""uvicorn's HTTP/1.1 protocol (h11) with the connection limits it lacks.

uvicorn closes idle keep-alive connections, but not one that never finishes its request head (slowloris),
it answers an oversized head with a bare 400 or a reset instead of 431, and it accepts connections until
the process runs out of file descriptors (then asyncio logs a traceback per failed ``accept``). Here:
- a request head must arrive whole within ``header_timeout_s`` of its first byte (or of the connection
  opening): else 408, or a plain close if nothing was sent;
- a head over ``max_header_bytes`` gets 431;
- past ``max_connections`` open connections (never more than the file limit allows), a new one gets 503
  and is closed at once.
Refusals are written as raw HTTP (the request never reached the app) in the API's JSON error shape.
"""

from __future__ import annotations

import asyncio
import json
import resource
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from humanorai.server.middleware import SECURITY_HEADERS
from humanorai.settings import ServiceSettings

#: File descriptors kept free for everything but client connections (bundle files, logs, the JVM's jars).
RESERVED_FILES = 64
#: After a refusal, how long unread request bytes are drained before closing, so the client reads the
#: answer instead of a reset.
LINGER_S = 1.0
#: The most bytes one read from a socket may bring (asyncio's buffer): h11's own head limit sits above
#: ``max_header_bytes`` by this much, so that this protocol's 431 always comes first.
READ_CHUNK_BYTES = 256 * 1024


def connection_cap(wanted: int) -> int:
    """``wanted``, lowered so that client connections can never exhaust the process's file limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_FILES))


def raw_error(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 error answer that closes the connection."""
    body = json.dumps({"error": message, "detail": None}).encode()
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode(), b"content-type: application/json",
             f"content-length: {len(body)}".encode(), b"connection: close",
             *(name + b": " + value for name, value in SECURITY_HEADERS)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def guarded_protocol(settings: ServiceSettings) -> type[H11Protocol]:
    """uvicorn's h11 protocol class with ``settings``' connection limits (pass it as ``http=``)."""
    cap = connection_cap(settings.max_connections)

    class GuardedH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_timer: asyncio.TimerHandle | None = None
            self._head_bytes = 0
            self._refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > cap:
                self._refused = True
                transport.write(raw_error(503, f"the server has {cap} open connections, its limit "
                                               "(HUMANORAI_MAX_CONNECTIONS); retry shortly"))
                transport.close()
                return
            self._start_head_timer()

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return  # drained until the linger ends
            if self._reading_head():
                self._head_bytes += len(data)
                if self._head_timer is None:
                    self._start_head_timer()
            super().data_received(data)
            if not self._reading_head():
                self._stop_head_timer()
                self._head_bytes = 0
            elif self._head_bytes > settings.max_header_bytes:
                self._refuse(431, f"the request head is larger than the limit of {settings.max_header_bytes} "
                                  "bytes (HUMANORAI_MAX_HEADER_BYTES)")

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_head_timer()
            super().connection_lost(exc)

        def _reading_head(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _start_head_timer(self) -> None:
            self._head_timer = self.loop.call_later(settings.header_timeout_s, self._head_timed_out)

        def _stop_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing() or not self._reading_head():
                return
            if self._head_bytes == 0:
                self.transport.close()  # an idle connection: nothing to answer
                return
            self._refuse(408, f"the request head did not arrive within {settings.header_timeout_s:g} s "
                              "(HUMANORAI_HEADER_TIMEOUT_S)")

        def _refuse(self, status: int, message: str) -> None:
            """Answer ``status``, stop reading requests, and close after draining what the client still sends."""
            self._refused = True
            self._stop_head_timer()
            self._unset_keepalive_if_required()
            self.transport.write(raw_error(status, message))
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)

    return GuardedH11Protocol
