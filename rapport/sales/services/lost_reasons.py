"""The lost-reason picklist: administrators add, rename, order and deactivate reasons; every
path that loses a deal (the board, the record page, the form, the API, imports) passes its
reason through `lost_reason_choice`, so the reports group by the list, not by free text."""

from django.db import transaction
from django.db.models import Max

from rapport.identity.models import User
from rapport.sales.models import LostReason, Opportunity
from rapport.sales.services.guards import field_error, require_admin


def lost_reasons_active() -> list[LostReason]:
    return list(LostReason.objects.filter(is_active=True))


def lost_reason_choice(text: str) -> str:
    """The list's spelling of `text` (case and spaces ignored). While an organisation has no
    active reason yet, any text is taken (a new install before an admin made the list);
    once it has, anything else is refused naming `lost_reason`."""
    text = (text or "").strip()
    if not text:
        return ""
    active = lost_reasons_active()
    if not active:
        return text
    by_key = {r.name.strip().lower(): r.name for r in active}
    name = by_key.get(text.lower())
    if name is None:
        raise field_error(
            "lost_reason",
            "Choose a lost reason from the list: " + ", ".join(r.name for r in active),
            "invalid_choice",
        )
    return name


def _clean_name(name: str, *, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise field_error("name", "Name the reason", "required")
    if len(name) > 100:
        raise field_error("name", "At most 100 characters", "max_length")
    clash = LostReason.objects.filter(name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise field_error("name", f"“{name}” is already on the list", "unique")
    return name


def lost_reason_create(*, actor: User, name: str) -> LostReason:
    require_admin(actor, "lost reasons")
    name = _clean_name(name)
    last = LostReason.objects.aggregate(m=Max("position"))["m"]
    return LostReason.objects.create(name=name, position=(last or 0) + 1)


def lost_reason_update(
    *, actor: User, reason: LostReason, name: str | None = None, is_active: bool | None = None
) -> LostReason:
    """Rename (the deals lost for it follow: their reason is the name) or (de)activate; a
    deactivated reason stays on old deals and in reports but is no longer offered."""
    require_admin(actor, "lost reasons")
    with transaction.atomic():
        locked = LostReason.objects.select_for_update().get(pk=reason.pk)
        fields = []
        if name is not None and name.strip() != locked.name:
            new = _clean_name(name, exclude=locked.pk)
            Opportunity.all_objects.filter(lost_reason=locked.name).update(lost_reason=new)
            locked.name = new
            fields.append("name")
        if is_active is not None and is_active != locked.is_active:
            locked.is_active = is_active
            fields.append("is_active")
        if fields:
            locked.save(update_fields=fields)
    return locked


def lost_reason_move(*, actor: User, reason: LostReason, up: bool) -> None:
    """Swap with the neighbour above or below (positions renumbered 1…n)."""
    require_admin(actor, "lost reasons")
    with transaction.atomic():
        rows = list(LostReason.objects.select_for_update().order_by("position", "name", "id"))
        i = next(i for i, r in enumerate(rows) if r.pk == reason.pk)
        j = i - 1 if up else i + 1
        if 0 <= j < len(rows):
            rows[i], rows[j] = rows[j], rows[i]
        for position, row in enumerate(rows, start=1):
            if row.position != position:
                row.position = position
                row.save(update_fields=["position"])
