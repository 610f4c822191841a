"""Form pieces other apps' forms share: picking the customer (account and contact) a record
belongs to, read through the visibility layer."""

from django import forms

from rapport.accounts.selectors import accounts_visible_to, contacts_visible_to


class CustomerFieldsMixin:
    """For a form with `account` and `contact` picker fields and `self.user`: each cleans to
    the record, or to an error naming the field when the user cannot see it."""

    def clean_account(self):
        pk = self.cleaned_data.get("account")
        if pk is None:
            return None
        account = accounts_visible_to(self.user).filter(pk=pk).first()
        if account is None:
            raise forms.ValidationError("No such account", code="invalid_account")
        return account

    def clean_contact(self):
        pk = self.cleaned_data.get("contact")
        if pk is None:
            return None
        contact = contacts_visible_to(self.user).filter(pk=pk).first()
        if contact is None:
            raise forms.ValidationError("No such contact", code="invalid_contact")
        return contact
