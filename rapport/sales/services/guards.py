"""Checks shared by the sales write modules: permissions, field validation, unique
names and the one default row."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from rapport.identity.models import Role, User
from rapport.records.exceptions import Conflict, PermissionDenied


def field_error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def require_admin(actor: User, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"Only administrators may change {what}", code="admin_only")


def require_catalog_manager(actor: User) -> None:
    if not (actor.is_admin or (actor.is_active and actor.role == Role.MANAGER)):
        raise PermissionDenied(
            "Only managers and administrators may change products and price books",
            code="catalog_managers_only",
        )


def check_probability(value: Any, field: str = "probability") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise field_error(field, "must be a whole number from 0 to 100", "out_of_range")


@contextmanager
def unique_or_conflict(message: str, field: str) -> Iterator[None]:
    """Turn a unique-constraint race (two concurrent inserts) into the same 409 as the check."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise Conflict(message, code="duplicate", field=field)


def validate_fields(instance, fields: list[str]) -> None:
    names = {f.name for f in instance._meta.concrete_fields}
    instance.clean_fields(exclude=[n for n in names if n not in fields])


def validated_probe(instance, changes: dict[str, Any]):
    """A copy of `instance` with `changes` applied, to validate before a versioned write."""
    probe = type(instance)(
        **{f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
    )
    for name, value in changes.items():
        setattr(probe, name, value)
    validate_fields(probe, list(changes))
    return probe


def make_default(model, instance) -> None:
    """`instance` becomes the one default row of `model` (pipelines, price books)."""
    model.objects.filter(is_default=True).exclude(pk=instance.pk).update(is_default=False)
    model.objects.filter(pk=instance.pk).update(is_default=True)
    instance.is_default = True


def clean_name(value: Any, field: str = "name") -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise field_error(field, "must not be blank", "blank")
    return name
