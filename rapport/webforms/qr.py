"""QR codes of a form's hosted address (segno), for print and direct mail."""

import io

import segno


def qr_for(url: str):
    return segno.make(url, error="m", micro=False)


def qr_png(url: str, scale: int = 8) -> bytes:
    out = io.BytesIO()
    qr_for(url).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_svg(url: str, scale: int = 8) -> bytes:
    out = io.BytesIO()
    qr_for(url).save(out, kind="svg", scale=scale, border=4, xmldecl=True, svgns=True)
    return out.getvalue()
