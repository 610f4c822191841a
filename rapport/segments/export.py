"""Direct mail: the members' postal addresses as CSV and as a PDF sheet of labels.

Labels follow Avery L7163 (A4, 2 columns × 7 rows of 99.1 × 38.1 mm): reportlab draws
them, streaming one page at a time. Rows come from a visibility-filtered queryset only.
Address: the contact's own when it has a street or city, else its account's (billing).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from django.db.models import QuerySet

from rapport.records.export import csv_response

ADDRESS_HEADER = [
    "contact_id",
    "name",
    "company",
    "street",
    "postal_code",
    "city",
    "region",
    "country",
]


def _address(contact) -> list[str]:
    own = contact.street or contact.city
    src = contact if own or contact.account is None else contact.account
    return [
        src.street,
        src.postal_code,
        src.city,
        src.region,
        src.country,
    ]


def address_rows(contacts: QuerySet) -> Iterator[list[str]]:
    qs = contacts.select_related("account").order_by("last_name", "first_name", "id")
    for contact in qs.iterator(chunk_size=2000):
        company = contact.account.name if contact.account_id and contact.account else ""
        yield [str(contact.pk), contact.full_name, company, *_address(contact)]


def addresses_csv_response(contacts: QuerySet, filename: str):
    """The members' addresses as a streamed CSV (formula-safe, via records.export)."""
    return csv_response(filename, ADDRESS_HEADER, address_rows(contacts))


# Avery L7163: A4, 2 × 7 labels 99.1 × 38.1 mm; top margin 15.15 mm, left 4.65 mm, 2.5 mm gap.
L7163 = {
    "cols": 2,
    "rows": 7,
    "width_mm": 99.1,
    "height_mm": 38.1,
    "top_mm": 15.15,
    "left_mm": 4.65,
    "gap_mm": 2.5,
}


def _label_lines(row: list[str]) -> list[str]:
    _, name, company, street, postal_code, city, region, country = row
    from rapport.records.iso_codes import country_name

    lines = [name, company]
    lines += [s for s in (street or "").splitlines()]
    lines.append(" ".join(p for p in (postal_code, city) if p))
    lines.append(region)
    lines.append(country_name(country) if country else "")
    return [line for line in lines if line and line.strip()][:6]


def labels_pdf(contacts: QuerySet) -> bytes:
    """A4 pages of L7163 labels, one member per label (name, company, address)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle("Address labels")
    spec = L7163
    per_page = spec["cols"] * spec["rows"]
    _, page_height = A4
    i = 0
    for row in address_rows(contacts):
        slot = i % per_page
        if i and slot == 0:
            pdf.showPage()
        col, line_no = slot % spec["cols"], slot // spec["cols"]
        x = (spec["left_mm"] + col * (spec["width_mm"] + spec["gap_mm"]) + 5) * mm
        top = page_height - (spec["top_mm"] + line_no * spec["height_mm"] + 7) * mm
        text = pdf.beginText(x, top)
        text.setFont("Helvetica", 10)
        for line in _label_lines(row):
            text.textLine(line[:48])
        pdf.drawText(text)
        i += 1
    if i == 0:
        pdf.setFont("Helvetica", 11)
        pdf.drawString(20 * mm, page_height - 20 * mm, "No members with a visible address.")
    pdf.showPage()
    pdf.save()
    return out.getvalue()
