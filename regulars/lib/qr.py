"""QR codes as inline SVG (segno): the customer's card and the join poster draw them the same way."""

from __future__ import annotations

import segno
from django.utils.safestring import SafeString, mark_safe


def qr_svg(data: str, *, title: str = "", dark: str = "#1f2328") -> SafeString:
    """An SVG that scales to its box (viewBox only, no size), on white with the 4-module quiet
    zone scanners need, so it reads from a phone screen and from paper alike."""
    code = segno.make(data, error="m", micro=False)
    # segno escapes the title; the SVG is built by segno from data it encodes, never echoed raw.
    svg = code.svg_inline(scale=1, border=4, omitsize=True, dark=dark, light="#fff", title=title)
    return mark_safe(svg)
