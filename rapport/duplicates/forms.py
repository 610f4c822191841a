"""Forms of the duplicates pages: the queue's filters, the scan button and the merge form.
They check the shape of the input; the selectors and services decide the rest."""

from django import forms

from rapport.duplicates.models import CandidateStatus, DuplicateObjectType

A, B = "a", "b"
PAIR_SIDES = [(A, "Record A"), (B, "Record B")]
QUEUE_STATUSES = [
    (CandidateStatus.OPEN, "To review"),
    (CandidateStatus.DISMISSED, "Not duplicates"),
]


class QueueFilterForm(forms.Form):
    """`?type=contact&min_score=80&status=open` of the review queue."""

    type = forms.ChoiceField(
        choices=[("", "All types"), *DuplicateObjectType.choices], required=False, label="Type"
    )
    min_score = forms.IntegerField(
        min_value=0, max_value=100, required=False, label="Minimum score"
    )
    status = forms.ChoiceField(choices=QUEUE_STATUSES, required=False, widget=forms.HiddenInput)

    def filters(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "object_type": data.get("type") or None,
            "min_score": data.get("min_score") or 0,
            "status": data.get("status") or CandidateStatus.OPEN,
        }


class MergeHistoryFilterForm(forms.Form):
    type = forms.ChoiceField(
        choices=[("", "All types"), *DuplicateObjectType.choices], required=False, label="Type"
    )

    def object_type(self) -> str | None:
        return (self.cleaned_data.get("type") if self.is_valid() else None) or None


class ScanForm(forms.Form):
    type = forms.ChoiceField(
        choices=[("all", "All types"), *DuplicateObjectType.choices], initial="all"
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "scan_%s")  # the queue's filter form has a `type` too
        super().__init__(*args, **kwargs)

    def object_types(self) -> list[str]:
        chosen = self.cleaned_data["type"]
        return [t for t, _ in DuplicateObjectType.choices] if chosen == "all" else [chosen]


def pick_name(field: str) -> str:
    """The form field that carries which record's value of `field` survives."""
    return f"pick_{field}"


class MergeForm(forms.Form):
    """Which record survives, which record's value each differing field keeps, and the
    versions both records were shown at (a change in between is refused, not overwritten)."""

    survivor = forms.ChoiceField(choices=PAIR_SIDES, widget=forms.RadioSelect)
    version_a = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    version_b = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, fields: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.pick_fields = list(fields)
        for name in self.pick_fields:
            self.fields[pick_name(name)] = forms.ChoiceField(
                choices=PAIR_SIDES, widget=forms.RadioSelect, required=False
            )

    def merge_kwargs(self, pair: dict[str, int]) -> dict:
        """The service's arguments: survivor and merged ids, their versions and the field
        choices ("survivor" / "merged") from the per-record picks."""
        data = self.cleaned_data
        survivor = data["survivor"]
        merged = B if survivor == A else A
        choices = {}
        for name in self.pick_fields:
            picked = data.get(pick_name(name))
            if picked:
                choices[name] = "survivor" if picked == survivor else "merged"
        return {
            "survivor_id": pair[survivor],
            "merged_id": pair[merged],
            "expected_version": data[f"version_{survivor}"],
            "merged_version": data[f"version_{merged}"],
            "field_choices": choices,
        }
