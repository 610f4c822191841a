"""Forms of the import pages: they check shape only; the services decide (mapping rules,
who may import what, whether the file is a readable table)."""

from django import forms

from rapport.imports.models import ImportObject, ImportPolicy
from rapport.imports.services.mapping import MATCH_KEYS, Target

ENCODINGS = [
    ("", "Detect (UTF-8, or the file's byte-order mark)"),
    ("utf-8", "UTF-8"),
    ("cp1252", "Windows-1252 (Excel on Windows, Western Europe)"),
    ("latin-1", "ISO-8859-1 (Latin-1)"),
    ("utf-16", "UTF-16"),
    ("mac_roman", "Mac Roman"),
]
DELIMITERS = [("", "Keep"), (",", "Comma ,"), (";", "Semicolon ;"), ("\t", "Tab"), ("|", "Pipe |")]
# List pages name their object in the singular; the importer in the plural.
SINGULAR = {
    "account": "accounts",
    "contact": "contacts",
    "lead": "leads",
    "opportunity": "opportunities",
    "product": "products",
    "order": "orders",
    "asset": "assets",
}
ACCEPT = (
    ".csv,.txt,.tsv,.xlsx,text/csv,"
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)


def object_type_of(value: str | None) -> str:
    """`contacts` or `contact` → `contacts`; '' when it names nothing importable."""
    value = (value or "").strip()
    value = SINGULAR.get(value, value)
    return value if value in ImportObject.values else ""


class UploadForm(forms.Form):
    """Step 1. The file itself is streamed by the view (never held in memory); the field
    is here for the label, the input and its errors."""

    object_type = forms.ChoiceField(label="Import into", choices=ImportObject.choices)
    file = forms.FileField(
        label="File",
        required=False,
        help_text="CSV (comma, semicolon or tab separated) or Excel .xlsx; the first row "
        "holds the column names.",
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )
    encoding = forms.ChoiceField(
        label="Encoding (CSV)",
        choices=ENCODINGS,
        required=False,
        help_text="Leave on Detect unless the file was saved by an old Excel or Mac.",
    )
    saved_mapping = forms.TypedChoiceField(
        label="Saved mapping", required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, saved_mappings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["saved_mapping"].choices = [("", "— guess from the column names —")] + [
            (m.pk, f"{m.name} ({m.get_object_type_display()})") for m in saved_mappings
        ]


class MappingForm(forms.Form):
    """Step 2: one select per file column (`col_<n>`, n its position) and the policy."""

    policy = forms.ChoiceField(
        label="Rows that match an existing record",
        choices=ImportPolicy.choices,
        widget=forms.RadioSelect,
    )
    strict = forms.BooleanField(
        label="Strict: reject a row whose phone cannot be read",
        required=False,
        help_text="Otherwise the row is imported without that phone, with a warning.",
    )
    create_customers = forms.BooleanField(
        label="Create the customers this file names",
        required=False,
        help_text="A customer email that matches no contact creates the contact (and its "
        "account, from a company column).",
    )
    save_as = forms.CharField(
        label="Save this mapping as",
        required=False,
        max_length=100,
        help_text="Give it a name to pick it again for the next file of this shape.",
    )

    def __init__(
        self, *args, headers: list[str], targets: dict[str, Target], object_type: str, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.headers = headers
        if object_type != "orders":
            del self.fields["create_customers"]
        if not {"phone"} & set(targets):
            del self.fields["strict"]
        choices = [("", "— do not import —")] + [
            (t.key, f"{t.label}{' *' if t.required else ''}") for t in targets.values()
        ]
        for index, header in enumerate(headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header, choices=choices, required=False
            )

    def mapping(self) -> dict[str, str | None]:
        return {h: self.cleaned_data.get(f"col_{i}") or None for i, h in enumerate(self.headers)}

    def column_fields(self):
        return [self[f"col_{i}"] for i in range(len(self.headers))]


def mapping_initial(job) -> dict:
    initial = {
        "policy": job.policy,
        "strict": job.strict,
        "create_customers": job.create_customers,
    }
    for index, header in enumerate(job.headers):
        initial[f"col_{index}"] = job.mapping.get(header) or ""
    return initial


def match_keys_of(object_type: str, targets: dict[str, Target]) -> list[str]:
    """Labels of the fields that find an existing record, in the order they are tried."""
    return [targets[k].label for k in MATCH_KEYS[object_type] if k in targets]


class SavedMappingPickForm(forms.Form):
    saved_mapping = forms.TypedChoiceField(label="Use a saved mapping", coerce=int)

    def __init__(self, *args, saved_mappings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["saved_mapping"].choices = [(m.pk, m.name) for m in saved_mappings]


class ReadingForm(forms.Form):
    """Read a CSV again with another encoding or delimiter (a wrong guess makes every
    row ragged)."""

    encoding = forms.ChoiceField(label="Encoding", choices=ENCODINGS, required=False)
    delimiter = forms.ChoiceField(label="Delimiter", choices=DELIMITERS, required=False)
