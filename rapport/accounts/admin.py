from django.contrib import admin

from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone
from rapport.records.admin import OwnedRecordAdmin


@admin.register(Account)
class AccountAdmin(OwnedRecordAdmin):
    list_display = ["name", "domain", "industry", "owner", "team", "deleted_at"]
    search_fields = ["name", "domain"]
    raw_id_fields = ["owner", "parent"]


class EmailInline(admin.TabularInline):
    model = ContactEmail
    extra = 0


class PhoneInline(admin.TabularInline):
    model = ContactPhone
    extra = 0


@admin.register(Contact)
class ContactAdmin(OwnedRecordAdmin):
    list_display = ["__str__", "email", "phone", "account", "owner", "deleted_at"]
    search_fields = ["last_name", "first_name", "email"]
    raw_id_fields = ["owner", "account"]
    inlines = [EmailInline, PhoneInline]
