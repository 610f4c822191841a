import pytest
from django.utils import timezone

from rapport.accounts.models import Contact
from rapport.consent.models import (
    Channel,
    ConsentAction,
    ConsentPurpose,
    ConsentRecord,
    ConsentSource,
    ConsentState,
    ConsentStatus,
)
from rapport.mail.models import EmailTemplate, Purpose
from rapport.mail.tests.conftest import make_mailbox, smtp_server  # noqa: F401 - fixture reuse
from rapport.segments.models import MemberSource, Segment, SegmentKind, SegmentMember


@pytest.fixture
def offers(db) -> ConsentPurpose:
    return ConsentPurpose.objects.create(
        slug="offers",
        name="Offers",
        policy_text="Offers now and then.",
        requires_double_opt_in=False,
    )


@pytest.fixture
def template(db, offers) -> EmailTemplate:
    return EmailTemplate.objects.create(
        name="Spring offer",
        purpose=Purpose.MARKETING,
        consent_purpose=offers,
        subject="Spring offer for {{ contact.first_name }}",
        body_text="Hello {{ contact.first_name }},\n\nsee https://shop.example.com/spring?x=1\n",
        body_html='<p>Hello {{ contact.first_name }}, <a href="https://shop.example.com/spring?x=1">'
        "see the offer</a></p>",
    )


def bulk_audience(owner, purpose, n: int, *, prefix: str = "p", name: str = "Audience"):
    """`n` contacts who opted in to `purpose` (written in bulk: ledger row + state each) and a
    static segment holding them."""
    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        Contact(
            first_name=f"F{i}",
            last_name=f"L{i}",
            email=f"{prefix}{i}@example.com",
            owner=owner,
            team=owner.team,
        )
        for i in range(n)
    )
    records = ConsentRecord.objects.bulk_create(
        ConsentRecord(
            contact=c,
            address=c.email,
            channel=Channel.EMAIL,
            purpose=purpose,
            action=ConsentAction.OPT_IN,
            source=ConsentSource.IMPORT,
            occurred_at=now,
            policy_version=purpose.policy_version,
        )
        for c in contacts
    )
    ConsentState.objects.bulk_create(
        ConsentState(
            contact=c,
            channel=Channel.EMAIL,
            purpose=purpose,
            status=ConsentStatus.OPTED_IN,
            record=r,
            changed_at=now,
        )
        for c, r in zip(contacts, records, strict=True)
    )
    segment = Segment.objects.create(name=name, kind=SegmentKind.STATIC, member_count=n)
    SegmentMember.objects.bulk_create(
        SegmentMember(segment=segment, contact=c, source=MemberSource.IMPORT, added_at=now)
        for c in contacts
    )
    return segment, contacts


@pytest.fixture
def mailbox(db, smtp_server):  # noqa: F811
    return make_mailbox(smtp_server)
