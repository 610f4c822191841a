"""Mail pages (namespace "mail", under /mail/): mailboxes (each user their own, admins the
shared ones too) with "Test connection", and the template editor with a live preview."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.accounts.selectors import contacts_visible_to
from rapport.leads.selectors import leads_visible_to
from rapport.mail import config_services as services
from rapport.mail import selectors
from rapport.mail.connection import check_mailbox, summary
from rapport.mail.forms import MailboxForm, TemplateForm
from rapport.mail.models import EmailTemplate, Mailbox
from rapport.mail.rendering import TemplateProblem
from rapport.records.exceptions import RecordNotFound
from rapport.sales.selectors import opportunities_visible_to
from rapport.web.abilities import Abilities
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.fragments import render_fragment


@ui_view
def mailboxes(request):
    rows = list(selectors.mailboxes_managed_by(request.user))
    return render(
        request,
        "mail/mailboxes.html",
        {
            "own": [m for m in rows if m.owner_id == request.user.pk],
            "shared": [m for m in rows if m.owner_id is None],
            "is_admin": selectors.is_mail_admin(request.user),
        },
    )


def _mailbox_page(request, form, mailbox=None, *, shared=False, status=200):
    return render(
        request,
        "mail/mailbox_edit.html",
        {"form": form, "mailbox": mailbox, "shared": shared},
        status=status,
    )


@ui_view
def mailbox_new(request):
    shared = request.GET.get("shared") == "1" or request.POST.get("shared") == "1"
    if shared and not selectors.is_mail_admin(request.user):
        raise RecordNotFound("page")
    if request.method != "POST":
        return _mailbox_page(request, MailboxForm(), shared=shared)
    form = MailboxForm(request.POST)
    if form.is_valid():
        try:
            mailbox = services.mailbox_create(
                actor=request.user,
                fields=form.mailbox_fields(),
                shared=shared,
                secret=form.secret_change() or "",
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Mailbox {mailbox.name} added. Test its connection below.")
            return HttpResponseRedirect(reverse("mail:mailbox", args=[mailbox.pk]))
    return _mailbox_page(request, form, shared=shared, status=422)


@ui_view
def mailbox_edit(request, pk: int):
    mailbox = selectors.mailbox_get_managed(pk=pk, user=request.user)
    shared = mailbox.owner_id is None
    if request.method != "POST":
        return _mailbox_page(request, MailboxForm(instance=mailbox), mailbox, shared=shared)
    form = MailboxForm(request.POST, instance=Mailbox.objects.get(pk=mailbox.pk))
    if form.is_valid():
        try:
            services.mailbox_update(
                actor=request.user,
                mailbox=mailbox,
                fields=form.mailbox_fields(),
                secret=form.secret_change(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Mailbox {mailbox.name} saved.")
            return HttpResponseRedirect(reverse("mail:mailbox", args=[mailbox.pk]))
    return _mailbox_page(request, form, mailbox, shared=shared, status=422)


@ui_view
@require_POST
def mailbox_test(request, pk: int):
    mailbox = selectors.mailbox_get_managed(pk=pk, user=request.user)
    stages = check_mailbox(mailbox)
    ok, message = summary(stages)
    return render_fragment(
        request, "mail/_connection_result.html", {"ok": ok, "message": message, "stages": stages}
    )


@ui_view
@require_POST
def mailbox_sync(request, pk: int):
    """Fetch new mail now (the worker does it; the scheduler also does every few minutes)."""
    from django.db import transaction

    from rapport.mail.sync_tasks import mail_sync_mailbox_task

    mailbox = selectors.mailbox_get_managed(pk=pk, user=request.user)
    if not (mailbox.imap_host and mailbox.sync_enabled and mailbox.active):
        messages.error(request, "Set an IMAP server and tick “Sync” before fetching mail.")
    else:
        transaction.on_commit(lambda: mail_sync_mailbox_task.enqueue(mailbox.pk))
        messages.success(request, f"Fetching new mail of {mailbox.name}.")
    return HttpResponseRedirect(reverse("mail:mailbox", args=[mailbox.pk]))


# ----- templates -----------------------------------------------------------------------


@ui_view
def templates(request):
    return render(
        request,
        "mail/templates.html",
        {
            "templates": EmailTemplate.objects.all(),
            "can_write": Abilities(request.user).manage_email_templates,
        },
    )


def _preview_records(user) -> list[tuple[str, str]]:
    """A short list of records to preview against (the ones the user sees)."""
    options = []
    for contact in contacts_visible_to(user).order_by("-updated_at")[:20]:
        options.append((f"contact:{contact.pk}", f"Contact · {contact}"))
    for lead in leads_visible_to(user).order_by("-updated_at")[:10]:
        options.append((f"lead:{lead.pk}", f"Lead · {lead}"))
    for opportunity in opportunities_visible_to(user).order_by("-updated_at")[:10]:
        options.append((f"opportunity:{opportunity.pk}", f"Opportunity · {opportunity}"))
    return options


def _template_page(request, form, template=None, status=200):
    can_write = Abilities(request.user).manage_email_templates
    if not can_write:  # read it, preview it, use it from a record; not change it
        for field in form.fields.values():
            field.disabled = True
    return render(
        request,
        "mail/template_edit.html",
        {
            "form": form,
            "template": template,
            "preview_records": _preview_records(request.user),
            "merge_fields": selectors.merge_fields(),
            "can_write": can_write,
        },
        status=status,
    )


@ui_view
def template_new(request):
    # Offered to administrators only; anyone else reaching the URL is told why (403 page).
    services.require_template_manager(request.user)
    if request.method != "POST":
        return _template_page(request, TemplateForm())
    form = TemplateForm(request.POST)
    if form.is_valid():
        try:
            template = services.template_create(actor=request.user, fields=form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Template {template.name} created.")
            return HttpResponseRedirect(reverse("mail:template", args=[template.pk]))
    return _template_page(request, form, status=422)


@ui_view
def template_edit(request, pk: int):
    template = selectors.template_get(pk=pk)
    if request.method != "POST":
        return _template_page(request, TemplateForm(instance=template), template)
    form = TemplateForm(request.POST, instance=EmailTemplate.objects.get(pk=pk))
    if form.is_valid():
        try:
            services.template_update(
                actor=request.user, template=template, fields=form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Template {template.name} saved.")
            return HttpResponseRedirect(reverse("mail:template", args=[template.pk]))
    return _template_page(request, form, template, status=422)


@ui_view
@require_POST
def template_preview(request):
    """The live preview (htmx): the editor's unsaved text rendered strictly against the
    chosen record; a problem is shown with its line."""
    record = None
    choice = request.POST.get("preview_record", "")
    record_type, _, pk = choice.partition(":")
    if record_type and pk.isdigit():
        try:
            record = selectors.record_get_visible(
                record_type=record_type, pk=int(pk), user=request.user
            )
        except RecordNotFound:
            record = None
    context = selectors.template_context(record, request.user)
    source = {
        "subject": request.POST.get("subject", ""),
        "text": request.POST.get("body_text", ""),
        "html": request.POST.get("body_html", ""),
    }
    try:
        rendered = services.render_for(source, context, strict=True)
        problem = ""
    except TemplateProblem as exc:
        rendered, problem = None, str(exc)
    return render_fragment(
        request,
        "mail/_template_preview.html",
        {"rendered": rendered, "problem": problem, "record": record},
    )
