"""Data: put the files customers attached in the portal before this change on the case's
conversation entry they came with (the latest customer entry at upload time), so staff see
them on the case page like email attachments. Reverse: nothing to undo (the links are
harmless and the portal list is unchanged)."""

import datetime

from django.db import migrations


def forwards(apps, schema_editor):
    PortalCaseFile = apps.get_model("portal", "PortalCaseFile")
    CaseEntry = apps.get_model("cases", "CaseEntry")
    CaseEntryAttachment = apps.get_model("cases", "CaseEntryAttachment")
    linked = set(CaseEntryAttachment.objects.values_list("file_id", flat=True))
    for row in PortalCaseFile.objects.order_by("id").iterator():
        if row.file_id in linked:
            continue
        entries = CaseEntry.objects.filter(case_id=row.case_id, kind="customer")
        entry = (
            entries.filter(created_at__lte=row.created_at + datetime.timedelta(seconds=5))
            .order_by("-created_at", "-id")
            .first()
            or entries.order_by("created_at", "id").first()
        )
        if entry is not None:
            CaseEntryAttachment.objects.get_or_create(entry_id=entry.pk, file_id=row.file_id)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("cases", "0004_case_entry_attachments"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
