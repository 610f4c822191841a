"""The lost-reason picklist in the settings (/settings/lost-reasons/): add, rename, order,
deactivate. Administrators change it; managers see it."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from rapport.sales.models import LostReason
from rapport.sales.services import lost_reasons as services
from rapport.web.decorators import ui_view
from rapport.web.settings_views import _page as settings_page


@ui_view
@require_http_methods(["GET", "HEAD", "POST"])
def settings_lost_reasons(request):
    if request.method == "POST":
        action = request.POST.get("action") or "add"
        reason = LostReason.objects.filter(pk=request.POST.get("reason") or 0).first()
        try:
            if action == "add":
                created = services.lost_reason_create(
                    actor=request.user, name=request.POST.get("name", "")
                )
                messages.success(request, f"“{created.name}” added.")
            elif reason is None:
                messages.error(request, "That reason no longer exists.")
            elif action == "rename":
                services.lost_reason_update(
                    actor=request.user, reason=reason, name=request.POST.get("name", "")
                )
                messages.success(request, "Renamed; the deals lost for it follow.")
            elif action in ("deactivate", "activate"):
                services.lost_reason_update(
                    actor=request.user, reason=reason, is_active=action == "activate"
                )
            elif action in ("up", "down"):
                services.lost_reason_move(actor=request.user, reason=reason, up=action == "up")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("settings:lost_reasons")
    return settings_page(
        request,
        "lost_reasons",
        "sales/lost_reasons_settings.html",
        {"reasons": list(LostReason.objects.all())},
    )
