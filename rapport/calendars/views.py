"""Settings → Business calendars: list, create, edit, delete (administrators change them)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.calendars.forms import CalendarForm
from rapport.calendars.models import BusinessCalendar
from rapport.calendars.services import calendar_delete, calendar_save
from rapport.identity.services import require_settings_admin
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.settings_views import _page as settings_page


def _calendar(pk: int) -> BusinessCalendar:
    # Calendars are organisation configuration (no per-record visibility).
    calendar = (
        BusinessCalendar.objects.prefetch_related("periods", "holidays").filter(pk=pk).first()
    )
    if calendar is None:
        raise Http404("No such calendar")
    return calendar


def _save(request, form, calendar=None):
    if form.is_valid():
        data = form.cleaned_data
        try:
            saved = calendar_save(
                actor=request.user,
                name=data["name"],
                time_zone=data["time_zone"],
                week=data["week"],
                holiday_country=data["holiday_country"] or "",
                holiday_subdivision=data["holiday_subdivision"] or "",
                closed_days=data["closed"],
                calendar=calendar,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Saved “{saved.name}”")
            return HttpResponseRedirect(reverse("settings:calendar_edit", args=[saved.pk]))
    return None


@ui_view
def calendars(request):
    form = None
    if request.user.is_admin:
        office_hours = {f"day_{i}": "09:00-17:00" for i in range(5)}
        form = CalendarForm(request.POST or None, initial=office_hours)
    if request.method == "POST":
        require_settings_admin(request.user)
        done = _save(request, form)
        if done:
            return done
    rows = BusinessCalendar.objects.prefetch_related("periods", "holidays")
    return settings_page(
        request,
        "calendars",
        "calendars/list.html",
        {"calendars": rows, "form": form},
        400 if form is not None and form.errors else 200,
    )


@ui_view
def calendar_edit(request, pk: int):
    calendar = _calendar(pk)
    form = CalendarForm(request.POST or None, initial=CalendarForm.initial_for(calendar))
    if request.method == "POST":
        require_settings_admin(request.user)
        done = _save(request, form, calendar)
        if done:
            return done
    return settings_page(
        request,
        "calendars",
        "calendars/edit.html",
        {"calendar": calendar, "form": form},
        400 if form.errors else 200,
    )


@ui_view
@require_POST
def calendar_delete_view(request, pk: int):
    calendar = _calendar(pk)
    calendar_delete(actor=request.user, calendar=calendar)
    messages.success(request, f"Deleted “{calendar.name}”")
    return HttpResponseRedirect(reverse("settings:calendars"))
