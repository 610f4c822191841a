"""The quote PDF: WeasyPrint from an HTML template (no browser, no wkhtmltopdf), with the
company's name, address and logo from settings. Fonts are the system's; the layout uses no
remote resources (the logo is embedded), so the same quote renders the same everywhere."""

import base64
import mimetypes
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string

from rapport.quotes.models import Quote

DEFAULT_LOGO = Path(__file__).resolve().parent.parent / "web" / "static" / "web" / "favicon.svg"


def company() -> dict:
    logo_path = Path(getattr(settings, "RAPPORT_COMPANY_LOGO", "") or DEFAULT_LOGO)
    logo = ""
    if logo_path.is_file():
        kind = mimetypes.guess_type(logo_path.name)[0] or "image/png"
        logo = f"data:{kind};base64," + base64.b64encode(logo_path.read_bytes()).decode()
    return {
        "name": getattr(settings, "RAPPORT_COMPANY_NAME", "") or "Rapport",
        "address": getattr(settings, "RAPPORT_COMPANY_ADDRESS", ""),
        "logo": logo,
    }


def quote_html(quote: Quote) -> str:
    opportunity = quote.opportunity
    return render_to_string(
        "quotes/pdf.html",
        {
            "quote": quote,
            "lines": list(quote.lines.all()),
            "opportunity": opportunity,
            "account": opportunity.account,
            "contact": opportunity.primary_contact,
            "company": company(),
        },
    )


def render_pdf(quote: Quote) -> bytes:
    from weasyprint import HTML

    return HTML(string=quote_html(quote)).write_pdf()
