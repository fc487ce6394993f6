"""JSON Schema task forms: check them at deploy, validate submitted data against them."""

from __future__ import annotations

import json

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ..errors import InvalidInput


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
    return error.message


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
    return errors


def validate(schema: dict | None, data, prefix: str = "data") -> None:
    """Raise InvalidInput when ``data`` does not satisfy ``schema``."""
    errors = field_errors(schema, data, prefix)
    if errors:
        raise InvalidInput(_("The submitted data does not match the form."), errors)
