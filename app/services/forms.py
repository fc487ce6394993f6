"""JSON Schema task forms: check them at deploy, validate submitted data against them."""

from __future__ import annotations

import json

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ..errors import InvalidInput
from . import org, privacy


def parse_form(content: bytes) -> dict:
    """Parse and check a form file; raise ValueError with a readable reason."""
    try:
        schema = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise ValueError("a form must be a JSON object (a JSON Schema)")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
    return schema


TYPE_NAMES = {
    "string": lazy_gettext("text"),
    "number": lazy_gettext("a number"),
    "integer": lazy_gettext("a whole number"),
    "boolean": lazy_gettext("yes or no"),
    "array": lazy_gettext("a list"),
    "object": lazy_gettext("an object"),
    "null": lazy_gettext("empty"),
}


def _message(error) -> str:
    """A short, translated message for one JSON Schema error (shown next to the field)."""
    kind, value = error.validator, error.validator_value
    if kind == "type":
        names = value if isinstance(value, list) else [value]
        return _("Must be %(type)s.", type=" / ".join(str(TYPE_NAMES.get(n, n)) for n in names))
    if kind in ("enum", "const", "oneOf", "anyOf"):
        return _("Choose one of the allowed values.")
    if kind == "format":
        if value == "date":
            return _("Enter a date as YYYY-MM-DD.")
        return _("Not a valid %(format)s.", format=value)
    if kind == "minLength":
        return _("This field is required.") if value == 1 else _("Enter at least %(n)s characters.", n=value)
    if kind == "maxLength":
        return _("Enter at most %(n)s characters.", n=value)
    if kind in ("minimum", "exclusiveMinimum"):
        return _("Must be at least %(n)s.", n=value)
    if kind in ("maximum", "exclusiveMaximum"):
        return _("Must be at most %(n)s.", n=value)
    if kind == "pattern":
        return _("Not in the expected format.")
    if kind == "minItems":
        return _("Give at least %(n)s entries.", n=value)
    if kind == "maxItems":
        return _("Give at most %(n)s entries.", n=value)
    if kind == "additionalProperties":
        return _("Unexpected field.")
    # jsonschema's own text names the refused value (possibly a read-only field's case value):
    # its ID numbers, phones and bank cards masked.
    return privacy.mask_in_text(error.message)


def field_errors(schema: dict | None, data, prefix: str = "data") -> dict[str, list[str]]:
    """Return ``{"data.field": [messages]}`` for everything wrong with ``data``."""
    if not isinstance(data, dict):
        return {prefix: [_("Must be a JSON object.")]}
    if not schema:
        return {}
    errors: dict[str, list[str]] = {}
    # A task writes only its own form's fields: another department's decision key is refused.
    properties = schema.get("properties")
    if isinstance(properties, dict) and schema.get("additionalProperties", False) is False:
        for key in data:
            if key not in properties:
                errors.setdefault(f"{prefix}.{key}", []).append(_("This field is not part of the form."))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for error in validator.iter_errors(data):
        path = [prefix, *[str(p) for p in error.absolute_path]]
        if error.validator == "required":
            missing = [p for p in error.validator_value if isinstance(error.instance, dict)
                       and p not in error.instance]
            for name in missing:
                messages = errors.setdefault(".".join([*path, name]), [])
                if _("This field is required.") not in messages:  # one jsonschema error per missing key
                    messages.append(_("This field is required."))
            continue
        messages = errors.setdefault(".".join(path), [])
        if (message := _message(error)) not in messages:
            messages.append(message)
    _check_option_sources(properties, data, prefix, errors)
    return errors


# ``"x-optionsFrom": "groups"``: a field whose choices are the organisation's groups (e.g. the
# handling unit a 12345 dispatcher picks); the value must be an existing group code, and not one
# the field's ``"x-optionsExclude": [codes]`` leaves out (the 12345 centre's own groups are no
# handling unit).
OPTION_SOURCES = ("groups",)


def group_options(prop: dict) -> dict[str, str]:
    """The groups (code -> name) a ``"x-optionsFrom": "groups"`` field offers."""
    excluded = prop.get("x-optionsExclude")
    excluded = {c for c in excluded if isinstance(c, str)} if isinstance(excluded, list) else set()
    return {code: name for code, name in org.group_names().items() if code not in excluded}


def _check_option_sources(properties, data: dict, prefix: str, errors: dict) -> None:
    if not isinstance(properties, dict):
        return
    for key, prop in properties.items():
        if not isinstance(prop, dict) or prop.get("x-optionsFrom") != "groups":
            continue
        value = data.get(key)
        if isinstance(value, str) and value and value not in group_options(prop):
            errors.setdefault(f"{prefix}.{key}", []).append(_("Choose one of the allowed values."))


def validate(schema: dict | None, data, prefix: str = "data") -> None:
    """Raise InvalidInput when ``data`` does not satisfy ``schema``."""
    errors = field_errors(schema, data, prefix)
    if errors:
        raise InvalidInput(_("The submitted data does not match the form."), errors)


# -- per-task field permissions ---------------------------------------------------------------
#
# A task's form may show case data it must not change: a property with ``"readOnly": true`` is
# displayed with the case's current value and never written by the task. A top-level
# ``"x-hiddenData": ["key", …]`` lists case data keys the task's page and API do not show
# (e.g. a department that needs no phone number or bank account).


def read_only_keys(schema: dict | None) -> set[str]:
    """The form's properties marked ``readOnly``."""
    properties = (schema or {}).get("properties") or {}
    return {k for k, v in properties.items() if isinstance(v, dict) and v.get("readOnly") is True}


def hidden_keys(schema: dict | None) -> set[str]:
    """Case data keys the task does not show (``x-hiddenData``)."""
    hidden = (schema or {}).get("x-hiddenData") or []
    return {k for k in hidden if isinstance(k, str)} if isinstance(hidden, list) else set()


def split_read_only(schema: dict | None, data, case_data: dict) -> tuple[dict, dict]:
    """Return (what the task writes, what is validated): read-only fields come from the case.

    A submitted read-only field is accepted only unchanged (clients may echo the whole form);
    a changed one is refused with a field message, so nothing is silently dropped.
    """
    if not isinstance(data, dict):
        return data, data
    locked = read_only_keys(schema)
    errors = {f"data.{k}": [_("This field is read-only for this task.")]
              for k in locked if k in data and not privacy.unchanged(k, data[k], case_data.get(k))}
    if errors:
        raise InvalidInput(_("The submitted data does not match the form."), errors)
    writes = {k: v for k, v in data.items() if k not in locked}
    checked = {**{k: case_data[k] for k in locked if k in case_data}, **writes}
    return writes, checked


def editable_keys(schema: dict | None) -> set[str]:
    """The top-level fields of a form that its task may change."""
    properties = (schema or {}).get("properties") or {}
    return set(properties) - read_only_keys(schema)


def visible_data(schema: dict | None, case_data: dict | None) -> dict:
    """The case data a task shows (without its ``x-hiddenData`` keys)."""
    hidden = hidden_keys(schema)
    return {k: v for k, v in (case_data or {}).items() if k not in hidden}
