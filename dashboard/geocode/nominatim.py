"""Talking to a Nominatim server (geopy): one client, throttled, bounded, failures counted.

Service faults (HTTP 429/5xx, timeouts, refused connections) never make the command
hang: after :data:`MAX_CONSECUTIVE_FAILURES` failures in a row (or at once on 429/403,
the server asking us to stop) no more requests are sent.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .. import __version__
from .geocodes import GeocodeError

#: Failed requests in a row after which the run stops asking the service.
MAX_CONSECUTIVE_FAILURES = 3
#: Identifies us to Nominatim, as its usage policy requires.
USER_AGENT = f"recruitment-dashboard/{__version__}"
PUBLIC_NOMINATIM_HOST = "nominatim.openstreetmap.org"
#: The public server's usage policy: at most one request per second.
PUBLIC_NOMINATIM_MIN_DELAY = 1.0

#: Nominatim classes of a place rather than a building: such an answer is a city point.
_PLACE_CLASSES = {"place", "boundary"}


# --------------------------------------------------------------------------- Nominatim
def nominatim_client(nominatim_url: str, timeout: float) -> Any:
    """A geopy Nominatim client for ``nominatim_url`` that never retries on its own.

    Scheme, host, port and path prefix come from the URL, so a self-hosted server or a
    test server on http://127.0.0.1:PORT works as well as the public one. geopy's
    urllib adapter is used because it sends exactly one HTTP request per call (the
    requests adapter would retry timeouts and refused connections behind our back).
    """
    from geopy.adapters import URLLibAdapter
    from geopy.geocoders import Nominatim

    parts = urlsplit(nominatim_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GeocodeError(
            f"--nominatim-url {nominatim_url!r}: expected http(s)://host[:port][/path]"
        )
    path = parts.path.rstrip("/")
    if path.endswith("/search"):
        path = path[: -len("/search")]
    return Nominatim(
        domain=parts.netloc + path,
        scheme=parts.scheme,
        user_agent=USER_AGENT,
        timeout=timeout,
        adapter_factory=lambda proxies, ssl_context: URLLibAdapter(
            proxies=proxies, ssl_context=ssl_context
        ),
    )


class _Throttle:
    """At most one request per ``min_delay`` seconds, measured start to start."""

    def __init__(self, min_delay: float):
        self.min_delay = min_delay
        self._last: float | None = None

    def wait(self) -> None:
        if self._last is not None:
            remaining = self._last + self.min_delay - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
        self._last = time.monotonic()


def _describe_failure(exc: Exception, timeout: float) -> str:
    from geopy import exc as gexc

    cause = exc.__cause__
    status = getattr(cause, "status_code", None)
    if isinstance(exc, gexc.GeocoderRateLimited):
        return "HTTP 429 Too Many Requests (rate limited)"
    if isinstance(exc, gexc.GeocoderTimedOut) and status is None:
        return f"no answer within {timeout:g} s"
    if status is not None:
        return f"HTTP {status}"
    return f"{type(exc).__name__}: {exc}"


def _stops_at_once(exc: Exception) -> bool:
    """429, 402 and 403 mean the server wants no more requests from us: stop now."""
    from geopy import exc as gexc

    return isinstance(
        exc,
        gexc.GeocoderQuotaExceeded
        | gexc.GeocoderInsufficientPrivileges
        | gexc.GeocoderAuthenticationFailure,
    )


@dataclass
class Answer:
    lat: float
    lon: float
    is_place: bool
    display_name: str


class ServiceFailure(Exception):
    """A request that got no usable answer from the service (its text says why)."""


class OnlineSession:
    """One run's conversation with Nominatim: throttled, bounded, failures counted."""

    def __init__(self, client: Any, min_delay: float, timeout: float):
        self.client = client
        self.throttle = _Throttle(min_delay)
        self.timeout = timeout
        self.consecutive_failures = 0
        #: Why the session stopped sending requests; None while it still asks.
        self.stop_reason: str | None = None

    @property
    def stopped(self) -> bool:
        return self.stop_reason is not None

    def ask(
        self, query: str | dict[str, str], countrycode: str | None, **kwargs: Any
    ) -> Answer | None:
        """One throttled request: the answer, or None when Nominatim found nothing.

        Raises :class:`ServiceFailure` when the service failed; after too many failures in
        a row, or a request to stop (429/403), :attr:`stop_reason` is set and nothing more
        is sent.
        """
        from geopy import exc as gexc

        if self.stopped:
            raise ServiceFailure("not queried, Nominatim stopped answering")
        self.throttle.wait()
        try:
            location = self.client.geocode(
                query,
                exactly_one=True,
                timeout=self.timeout,
                country_codes=countrycode.lower() if countrycode else None,
                **kwargs,
            )
        except (gexc.GeopyError, OSError, ValueError, TypeError, KeyError) as exc:
            # ValueError & co.: a malformed answer is a fault of the service, not a crash.
            self.consecutive_failures += 1
            if _stops_at_once(exc):
                self.stop_reason = "the server refuses further requests"
            elif self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                self.stop_reason = f"{self.consecutive_failures} failures in a row"
            raise ServiceFailure(
                f"Nominatim failed: {_describe_failure(exc, self.timeout)}"
            ) from exc
        self.consecutive_failures = 0
        if location is None:
            return None
        raw = location.raw if isinstance(location.raw, dict) else {}
        place_class = raw.get("category") or raw.get("class")
        lat, lon = float(location.latitude), float(location.longitude)
        if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
            raise ServiceFailure(f"Nominatim gave an impossible point ({lat}, {lon})")
        return Answer(lat, lon, place_class in _PLACE_CLASSES, str(location.address or ""))
