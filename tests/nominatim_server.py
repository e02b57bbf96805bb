"""A throw-away Nominatim on 127.0.0.1 for tests: geopy's real HTTP path, no internet.

It speaks the ``/search`` JSON API (``format=json`` or ``jsonv2``: a list of objects with
"lat", "lon" and "display_name" as strings). What it answers to each query is set by the
test with :class:`Reply` objects; every request it receives is recorded (query, User-Agent,
arrival time on :func:`time.monotonic`) so a test can check what the client sent and when.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    """What the server does with one query: wait ``delay`` s, then answer ``status``."""

    status: int = 200
    results: tuple[dict[str, str], ...] = ()
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def point(
        cls, lat: float, lon: float, name: str = "somewhere", category: str = "amenity"
    ) -> Reply:
        """One hit, as Nominatim returns it (coordinates are strings in its JSON)."""
        return cls(
            results=(
                {
                    "place_id": "1",
                    "lat": str(lat),
                    "lon": str(lon),
                    "display_name": name,
                    "class": category,
                    "category": category,
                    "type": "hospital" if category == "amenity" else "city",
                    "importance": "0.5",
                },
            )
        )

    @classmethod
    def empty(cls) -> Reply:
        return cls(results=())

    @classmethod
    def error(cls, status: int, retry_after: int | None = None) -> Reply:
        headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
        return cls(status=status, headers=headers)

    @classmethod
    def slow(cls, delay: float) -> Reply:
        """An answer that comes too late for a client with a smaller timeout."""
        return cls(results=(), delay=delay)


@dataclass(frozen=True)
class Request:
    path: str
    params: dict[str, str]
    user_agent: str | None
    time: float

    @property
    def query(self) -> str:
        return query_text(self.params)


#: Nominatim's structured-query parameters, in the order a free-text query would name them.
STRUCTURED_KEYS = ("amenity", "street", "city", "county", "state", "country", "postalcode")


def query_text(params: dict[str, str]) -> str:
    """The free-text query, or a structured query's parts joined like one ("Rochester,
    Minnesota, United States"), so that replies are keyed the same way for both."""
    if "q" in params:
        return params["q"]
    return ", ".join(params[k] for k in STRUCTURED_KEYS if params.get(k))


@dataclass
class FakeNominatim:
    """Replies per exact query text (``replies``), else ``default``; records every request."""

    replies: dict[str, Reply] = field(default_factory=dict)
    default: Reply = field(default_factory=Reply.empty)
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reply_for(self, query: str) -> Reply:
        return self.replies.get(query, self.default)

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    @property
    def queries(self) -> list[str]:
        with self._lock:
            return [r.query for r in self.requests]


def _handler(fake: FakeNominatim) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            arrived = time.monotonic()
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            fake.record(Request(parts.path, params, self.headers.get("User-Agent"), arrived))
            if parts.path.rstrip("/") != "/search":
                self._send(404, b'{"error": "not found"}', ())
                return
            reply = fake.reply_for(query_text(params))
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status == 200:
                body = json.dumps(list(reply.results)).encode()
            else:
                body = json.dumps({"error": {"code": reply.status}}).encode()
            self._send(reply.status, body, reply.headers)

        def _send(self, status: int, body: bytes, headers: tuple[tuple[str, str], ...]) -> None:
            # The client may have given up (timeout test): a broken pipe is expected then.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # keep test output clean

    return Handler


@contextlib.contextmanager
def serve(fake: FakeNominatim | None = None) -> Iterator[FakeNominatim]:
    """Run ``fake`` on 127.0.0.1 (a free port) in a thread for the duration of the block."""
    fake = fake or FakeNominatim()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True  # a handler still sleeping must not block shutdown
    fake.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="fake-nominatim",
        daemon=True,
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def refused_url() -> str:
    """A 127.0.0.1 URL with nothing listening: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
