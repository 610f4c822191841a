"""Quote pages (namespace "quotes", under /quotes/): the card on an opportunity's page, the
quote page with its actions and PDF, the list; tax rates in the settings; and the public
decision page a customer reaches through the signed link (namespace "quotes_public")."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from rapport.identity.services import require_settings_admin
from rapport.quotes import selectors, services
from rapport.quotes.forms import QuoteCreateForm, QuoteSendForm, TaxRateForm
from rapport.quotes.models import QuoteStatus, TaxRate
from rapport.quotes.pdf import render_pdf
from rapport.records.visibility import can_edit
from rapport.web.decorators import ui_view
from rapport.web.settings_views import _page as settings_page


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(" ".join(v) for v in exc.message_dict.values())
    return " ".join(exc.messages)


@ui_view
@require_safe
def record_quotes(request, pk: int):
    """The quotes card on an opportunity's page (loaded by htmx)."""
    opportunity = selectors.opportunity_for_quote(user=request.user, opportunity_id=pk)
    rows = list(selectors.quote_list(user=request.user, opportunity_id=pk)[:10])
    return render(
        request,
        "quotes/_record_quotes.html",
        {
            "opportunity": opportunity,
            "rows": rows,
            "can_edit": can_edit(opportunity, request.user),
            "has_lines": opportunity.line_items.exists(),
        },
    )


@ui_view
@require_POST
def quote_new(request, pk: int):
    opportunity = selectors.opportunity_for_quote(user=request.user, opportunity_id=pk)
    form = QuoteCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Check the validity date.")
        return redirect("sales:opportunity_detail", pk=pk)
    try:
        quote = services.quote_create(
            opportunity=opportunity,
            actor=request.user,
            valid_until=form.cleaned_data["valid_until"],
            terms=form.cleaned_data["terms"],
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("sales:opportunity_detail", pk=pk)
    if quote.needs_approval:
        messages.warning(
            request,
            f"Quote {quote.label} has a discount over {services.approval_threshold()} %: "
            "a manager must approve it before it can be sent.",
        )
    else:
        messages.success(request, f"Quote {quote.label} created.")
    return redirect("quotes:detail", pk=quote.pk)


@ui_view
@require_safe
def quote_detail(request, pk: int):
    quote = selectors.quote_get(user=request.user, pk=pk)
    editable = can_edit(quote.opportunity, request.user)
    send_form = QuoteSendForm(
        initial={"to": getattr(quote.opportunity.primary_contact, "email", "") or ""}
    )
    versions = (
        selectors.quote_list(user=request.user).filter(number=quote.number).order_by("revision")
    )
    return render(
        request,
        "quotes/quote_detail.html",
        {
            "quote": quote,
            "lines": list(quote.lines.all()),
            "can_edit": editable,
            "can_approve": quote.status == QuoteStatus.PENDING_APPROVAL
            and services.can_approve(quote, request.user),
            "can_send": editable and quote.status in (QuoteStatus.APPROVED, QuoteStatus.SENT),
            "can_revise": editable and quote.status != QuoteStatus.ACCEPTED,
            "send_form": send_form,
            "versions": list(versions),
            "threshold": services.approval_threshold(),
        },
    )


@ui_view
@require_safe
def quote_pdf(request, pk: int):
    quote = selectors.quote_get(user=request.user, pk=pk)
    answer = HttpResponse(render_pdf(quote), content_type="application/pdf")
    answer["Content-Disposition"] = f'inline; filename="{quote.number}-v{quote.revision}.pdf"'
    return answer


@ui_view
@require_POST
def quote_action(request, pk: int, action: str):
    quote = selectors.quote_get(user=request.user, pk=pk)
    try:
        if action == "approve":
            services.quote_approve(quote=quote, actor=request.user)
            messages.success(request, f"Quote {quote.label} approved.")
        elif action == "revise":
            quote = services.quote_revise(quote=quote, actor=request.user)
            messages.success(request, f"Quote {quote.label} created from the current line items.")
        elif action == "send":
            form = QuoteSendForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Enter the customer's email address.")
                return redirect("quotes:detail", pk=pk)
            services.quote_send(
                quote=quote,
                actor=request.user,
                to=form.cleaned_data["to"],
                message=form.cleaned_data["message"],
            )
            messages.success(
                request, f"Quote {quote.label} is on its way to {form.cleaned_data['to']}."
            )
        else:
            raise Http404("No such action")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("quotes:detail", pk=quote.pk)


@ui_view
@require_safe
def quote_list(request):
    status = request.GET.get("status") or ""
    if status not in QuoteStatus.values:
        status = ""
    rows = list(selectors.quote_list(user=request.user, status=status or None)[:200])
    return render(
        request,
        "quotes/quote_list.html",
        {"rows": rows, "status": status, "statuses": QuoteStatus.choices},
    )


@ui_view
@require_http_methods(["GET", "POST"])
def tax_rates(request):
    form = TaxRateForm(request.POST or None) if request.user.is_admin else None
    if request.method == "POST":
        require_settings_admin(request.user)
        if form.is_valid():
            try:
                services.tax_rate_create(
                    actor=request.user,
                    fields=form.cleaned_data
                    | {"product_id": getattr(form.cleaned_data.get("product"), "pk", None)},
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Tax rate added.")
                return redirect("settings:tax_rates")
    return settings_page(
        request,
        "tax_rates",
        "quotes/tax_rates.html",
        {"rates": list(selectors.tax_rates()), "form": form},
        400 if form is not None and form.errors else 200,
    )


@ui_view
@require_POST
def tax_rate_delete(request, pk: int):
    require_settings_admin(request.user)
    rate = TaxRate.objects.filter(pk=pk).first()
    if rate is None:
        raise Http404("No such tax rate")
    services.tax_rate_delete(actor=request.user, rate=rate)
    messages.success(request, "Tax rate removed.")
    return redirect("settings:tax_rates")


# ----- the customer's side (no login) ------------------------------------------------------


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@require_http_methods(["GET", "POST"])
def decide(request, token: str):
    """GET shows the quote and two buttons (link scanners only GET: they decide nothing);
    POST records the decision once."""
    quote = services.quote_for_token(token)
    if quote is None:
        raise Http404("This link is not valid")
    error = ""
    if request.method == "POST":
        choice = request.POST.get("decision")
        if choice not in ("accept", "decline"):
            error = "Choose accept or decline."
        else:
            try:
                services.quote_decide(
                    quote=quote,
                    accept=choice == "accept",
                    ip=_client_ip(request),
                    note=(request.POST.get("note") or "")[:500],
                )
            except ValidationError as exc:
                error = _errors(exc)
            else:
                return redirect("quotes_public:decide", token=token)
            quote.refresh_from_db()
    from rapport.quotes.pdf import company

    return render(
        request,
        "quotes/public_decide.html",
        {
            "quote": quote,
            "lines": list(quote.lines.all()),
            "company": company(),
            "error": error,
            "open": quote.status == QuoteStatus.SENT,
        },
        status=400 if error else 200,
    )
