"""`PatchDict[Schema]`: the body of a PATCH, validated exactly like the create schema.

django-ninja's own PatchDict rebuilds every field as `Optional[type] = None` and so drops the
field's constraints (a 5,000-character name, currency "$$$", a negative price passed PATCH
although create refused them) and lets `null` through to NOT NULL columns (a 500). Here each
field keeps its constraints, only becomes not-required, and `null` means:

- text: clear it (`""`, then the field's own rules apply: a required name answers 422);
- a list: empty it;
- a field that may be null on create: null;
- anything else: a 422 naming the field.

Only the fields the client sent reach the endpoint (a dict, as with ninja's PatchDict).
"""

import copy
import types
import typing
from typing import Annotated, Any, Literal, Union

from ninja import Body
from ninja.patch_dict import ModelToDict
from pydantic import BeforeValidator, TypeAdapter, ValidationError, create_model


def _accepts_none(annotation: Any) -> bool:
    if annotation is None or annotation is type(None) or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _accepts_none(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_accepts_none(arg) for arg in typing.get_args(annotation))
    return False


def _empty_for(annotation: Any) -> Any:
    """The value that `null` stands for in a field of this type (None: no such value)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _empty_for(typing.get_args(annotation)[0])
    if annotation is str:
        return ""
    if origin is Literal and "" in typing.get_args(annotation):
        return ""
    if annotation is list or origin is list:
        return []
    return None


def _null_means(empty: Any):
    def convert(value: Any) -> Any:
        return copy.copy(empty) if value is None else value

    return convert


def _valid(annotation: Any, value: Any) -> bool:
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        return False
    return True


def patch_schema(schema_cls: type) -> type:
    fields = {}
    for name, info in schema_cls.model_fields.items():
        annotation = info.annotation
        field = copy.copy(info)
        field.default = None
        field.default_factory = None
        if not _accepts_none(annotation):
            empty = _empty_for(annotation)
            if empty is not None:
                # Documented as the field's own type and constraints, or null where null
                # (the empty value) is acceptable.
                # (Lists keep their schema: an input type holding nested models leaves
                # ninja's body model incomplete.)
                if isinstance(empty, list):
                    validator = BeforeValidator(_null_means(empty))
                else:
                    own = Annotated[(annotation, *info.metadata)] if info.metadata else annotation
                    documented = own | None if _valid(own, empty) else own
                    validator = BeforeValidator(
                        _null_means(empty), json_schema_input_type=documented
                    )
                annotation = Annotated[annotation, validator]
        fields[name] = (annotation, field)
    return create_model(f"{schema_cls.__name__}Patch", __base__=schema_cls, **fields)


class _PatchDict:
    def __getitem__(self, schema_cls: type) -> Any:
        wrapped = patch_schema(schema_cls)

        class PatchBody(ModelToDict):
            _wrapped_model = wrapped
            _wrapped_model_dump_params = {"exclude_unset": True}

        return Body[PatchBody]


PatchDict = _PatchDict()
