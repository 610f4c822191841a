"""Forms of the knowledge-base pages (the services validate again)."""

from django import forms

from rapport.knowledge.models import ArticleStatus, ArticleVisibility, KbCategory


class CategoryChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return str(obj)


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=200)
    category = CategoryChoice(
        queryset=KbCategory.objects.select_related("parent"), required=False, empty_label="—"
    )
    visibility = forms.ChoiceField(choices=ArticleVisibility.choices)
    status = forms.ChoiceField(choices=ArticleStatus.choices)
    body = forms.CharField(
        required=False,
        label="Text (Markdown)",
        widget=forms.Textarea(attrs={"rows": 18, "id": "kb-body", "class": "kb-editor"}),
        help_text="**bold**, *italic*, # headings, - lists, [links](https://…), `code`, tables.",
    )
    change_note = forms.CharField(
        max_length=300, required=False, label="What changed", help_text="Shown in the history."
    )
    base_version = forms.IntegerField(required=False, widget=forms.HiddenInput)


class CategoryForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(max_length=300, required=False)
    parent = CategoryChoice(
        queryset=KbCategory.objects.filter(parent=None), required=False, empty_label="— (top level)"
    )
    case_category = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="—",
        label="Suggest for cases in",
        help_text="Cases of this category get this shelf's articles suggested first.",
    )
    position = forms.IntegerField(min_value=0, max_value=100_000, required=False)

    def __init__(self, *args, **kwargs):
        from rapport.cases.models import CaseCategory

        super().__init__(*args, **kwargs)
        self.fields["case_category"].queryset = CaseCategory.objects.filter(is_active=True)
