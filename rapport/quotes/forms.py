from django import forms

from rapport.quotes.models import TaxRate
from rapport.sales.models import Product


class QuoteCreateForm(forms.Form):
    valid_until = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Valid until"
    )
    terms = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class QuoteSendForm(forms.Form):
    to = forms.EmailField(label="To", max_length=254)
    message = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}), label="Message"
    )


class TaxRateForm(forms.ModelForm):
    product = forms.ModelChoiceField(
        queryset=Product.objects.filter(is_active=True), required=False, label="Only for product"
    )

    class Meta:
        model = TaxRate
        fields = ["name", "rate", "country", "product_category", "product"]
        labels = {
            "rate": "Rate (%)",
            "country": "Only in country (ISO code)",
            "product_category": "Only for product category",
        }
