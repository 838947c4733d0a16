"""QR codes for the card app links, rendered as inline SVG (no image requests, no CDN)."""

import segno


def qr_svg(data: str) -> str:
    qr = segno.make(data, error="m")
    return qr.svg_inline(scale=5, border=2, dark="#1a1a1a", light="#ffffff", omitsize=True)
