"""The free-text lost reasons written so far become the picklist: one LostReason per distinct
text (trimmed, case-insensitive, the most used spelling wins), ordered by use; the deals keep
their text, now equal to a reason's name."""

from collections import Counter

from django.db import migrations


def forwards(apps, schema_editor):
    Opportunity = apps.get_model("sales", "Opportunity")
    LostReason = apps.get_model("sales", "LostReason")
    counts = Counter(
        text.strip()
        for text in Opportunity._base_manager.exclude(lost_reason="").values_list(
            "lost_reason", flat=True
        )
        if text.strip()
    )
    chosen: dict[str, str] = {}  # lower-cased → the spelling used most
    for text, _n in counts.most_common():
        chosen.setdefault(text.lower(), text[:100])
    uses = Counter()
    for text, n in counts.items():
        uses[text.lower()] += n
    existing = {r.name.lower() for r in LostReason.objects.all()}
    rows = [
        LostReason(name=chosen[key], position=i)
        for i, (key, _n) in enumerate(uses.most_common())
        if key not in existing
    ]
    LostReason.objects.bulk_create(rows)
    for text in counts:
        canonical = chosen[text.strip().lower()]
        if text != canonical:
            Opportunity._base_manager.filter(lost_reason=text).update(lost_reason=canonical)


class Migration(migrations.Migration):
    dependencies = [("sales", "0007_lostreason")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
