"""Record pickers: choose an account, contact, lead or opportunity by typing its name.

A picker is a text box with a typeahead (htmx asks `web:picker_options`, which runs the global
search's selector for one type, so it stays instant at a million rows and shows only what the
user may see) that fills a hidden id. Without JavaScript the text alone is enough: the server
looks the name up and takes the only match, or asks the person to be more precise and lists the
candidates as radio buttons. Nothing is ever loaded as a full list of choices.
"""

from django import forms
from django.utils.text import format_lazy

from rapport.search.selectors import KINDS, search_typeahead

# How many candidates a suggestion list and an ambiguity error show.
PICKER_LIMIT = 8

LABELS = {
    "account": ("account", "accounts"),
    "contact": ("contact", "contacts"),
    "lead": ("lead", "leads"),
    "opportunity": ("opportunity", "opportunities"),
}


def _ids(values) -> list[int]:
    return [int(v) for v in values if isinstance(v, str) and v.isdigit() and len(v) < 19]


class RecordPicker(forms.Widget):
    template_name = "web/_picker.html"

    def __init__(self, *, object_type: str, multiple: bool = False, attrs=None):
        super().__init__(attrs)
        self.object_type = object_type
        self.multiple = multiple
        self.user = None
        self.candidates: list[dict] = []
        self.kept: set[int] = set()

    def value_from_datadict(self, data, files, name):
        return {"ids": _ids(data.getlist(name)), "text": (data.get(f"{name}__q") or "").strip()}

    def value_omitted_from_data(self, data, files, name):
        return name not in data and f"{name}__q" not in data

    def format_value(self, value):
        if isinstance(value, dict):
            return value
        if value in (None, ""):
            ids = []
        elif isinstance(value, list | tuple | set):
            ids = [v if isinstance(v, int) else getattr(v, "pk", v) for v in value]
        else:
            ids = [value if isinstance(value, int) else getattr(value, "pk", value)]
        return {"ids": [int(i) for i in ids if str(i).isdigit()], "text": ""}

    def chosen(self, ids: list[int]) -> list[dict]:
        """id and title of each chosen record the user may see (one query)."""
        if not ids or self.user is None:
            return []
        kind = KINDS[self.object_type]
        rows = {
            r["id"]: r for r in kind.rows(kind.visible(self.user).filter(pk__in=ids), self.user)
        }
        hidden = "(not visible to you)"
        return [
            {"id": pk, "title": kind.title(rows[pk]) if pk in rows else hidden}
            for pk in ids
            if pk in rows or pk in self.kept
        ]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        value = self.format_value(value)
        chosen = self.chosen(value["ids"])
        single_title = chosen[0]["title"] if chosen and not self.multiple else ""
        context["widget"].update(
            {
                "object_type": self.object_type,
                "multiple": self.multiple,
                "chosen": chosen,
                "text": value["text"] or single_title,
                "candidates": self.candidates,
                "plural": LABELS[self.object_type][1],
            }
        )
        return context


def record_picker(object_type: str, user, **kwargs) -> "RecordPickerField":
    """A picker field already bound to `user` (for field factories such as DetailField's)."""
    field = RecordPickerField(object_type=object_type, **kwargs)
    field.bind(user)
    return field


class RecordPickerField(forms.Field):
    """One visible record of `object_type` (or, with `multiple=True`, a list of them); cleans
    to the record's id (a list of ids). Call `bind(user)` in the form's __init__."""

    def __init__(self, *, object_type: str, multiple: bool = False, **kwargs):
        self.object_type = object_type
        self.multiple = multiple
        self.user = None
        kwargs.setdefault("widget", RecordPicker(object_type=object_type, multiple=multiple))
        super().__init__(**kwargs)

    def bind(self, user, *, keep=()) -> None:
        """Bind to the user whose visibility applies; `keep`: ids already linked that the
        user may not see — shown without their name and accepted back unchanged, so that
        editing a record never drops a link its editor cannot see."""
        self.user = user
        self.widget.user = user
        self.widget.kept = {int(pk) for pk in keep if pk}

    def _visible_ids(self, ids: list[int]) -> set[int]:
        kind = KINDS[self.object_type]
        return set(kind.visible(self.user).filter(pk__in=ids).values_list("pk", flat=True))

    def _find(self, text: str) -> int:
        """The one visible record the typed text names, or a form error listing candidates."""
        singular, plural = LABELS[self.object_type]
        groups = search_typeahead(
            user=self.user, q=text, types=[self.object_type], limit=PICKER_LIMIT
        )
        items = groups[0]["items"] if groups else []
        exact = [i for i in items if i["title"].casefold() == text.casefold()]
        if len(exact) == 1 or len(items) == 1:
            return (exact or items)[0]["id"]
        if not items:
            raise forms.ValidationError(
                format_lazy("No {} matches “{}”", singular, text), code="no_match"
            )
        self.widget.candidates = items
        raise forms.ValidationError(
            format_lazy("Several {} match “{}”: choose one below", plural, text), code="ambiguous"
        )

    def to_python(self, value):
        if not isinstance(value, dict):
            value = self.widget.format_value(value)
        ids = list(dict.fromkeys(value["ids"]))
        if not self.multiple:
            ids = ids[:1]
        if ids and not set(ids) <= (self._visible_ids(ids) | self.widget.kept):
            raise forms.ValidationError(
                format_lazy("No such {}", LABELS[self.object_type][0]), code="invalid_choice"
            )
        text = value["text"]
        if text and (self.multiple or not ids):
            found = self._find(text)
            if found not in ids:
                ids.append(found)
        if self.multiple:
            return ids
        return ids[0] if ids else None

    def validate(self, value):
        if self.required and value in (None, []):
            raise forms.ValidationError(self.error_messages["required"], code="required")

    def has_changed(self, initial, data):
        initial_ids = self.widget.format_value(initial)["ids"]
        try:
            value = self.to_python(data)
        except forms.ValidationError:
            return True
        data_ids = value if isinstance(value, list) else ([value] if value else [])
        return sorted(initial_ids) != sorted(data_ids)
