"""A small fixed-window rate limit per client address, kept in the Django cache.

With the default local-memory cache each server process counts on its own; point CACHE_URL at
Redis to share the count. The address is REMOTE_ADDR: behind a reverse proxy that is the proxy's
own, so every visitor would share one budget; a trusted-proxy setting is then needed first.
"""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def allow(request: HttpRequest, *, scope: str, limit: int, window: int) -> bool:
    """Count one attempt for this client in `scope`; False once more than `limit` were made in
    the current window of `window` seconds (the window starts at the first attempt)."""
    key = f"throttle:{scope}:{client_ip(request)}"
    if cache.add(key, 1, timeout=window):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return True
    return count <= limit
