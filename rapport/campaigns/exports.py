"""Direct mail and SMS campaigns: the recipients as CSV (postal addresses or phone numbers)."""

import csv
import io

from django.http import StreamingHttpResponse

from rapport.campaigns.models import Campaign, CampaignKind, CampaignRecipient, RecipientState

POSTAL_HEADER = ["contact_id", "name", "company", "street", "postal_code", "city", "country"]
SMS_HEADER = ["contact_id", "name", "phone"]


def recipient_row(campaign: Campaign, recipient: CampaignRecipient) -> dict:
    contact = recipient.contact
    name = f"{contact.first_name} {contact.last_name}".strip() if contact else ""
    if campaign.kind == CampaignKind.SMS:
        return {"contact_id": recipient.contact_id, "name": name, "phone": recipient.phone}
    account = contact.account if contact is not None and contact.account_id else None
    return {
        "contact_id": recipient.contact_id,
        "name": name,
        "company": account.name if account else "",
        "street": getattr(contact, "street", "") or (getattr(account, "street", "") or ""),
        "postal_code": getattr(contact, "postal_code", "")
        or (getattr(account, "postal_code", "") or ""),
        "city": getattr(contact, "city", "") or (getattr(account, "city", "") or ""),
        "country": getattr(contact, "country", "") or (getattr(account, "country", "") or ""),
    }


def _csv_safe(value) -> str:
    value = "" if value is None else str(value)
    # A cell starting with = + - @ is a formula in a spreadsheet: quote it.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def export_csv_response(campaign: Campaign) -> StreamingHttpResponse:
    header = SMS_HEADER if campaign.kind == CampaignKind.SMS else POSTAL_HEADER
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.EXPORTED)
        .select_related("contact", "contact__account")
        .order_by("id")
    )

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for recipient in rows.iterator(chunk_size=1000):
            row = recipient_row(campaign, recipient)
            writer.writerow([_csv_safe(row.get(h, "")) for h in header])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.csv"'
    return response
