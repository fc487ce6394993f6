"""JSON Schema task forms: check them at deploy, validate submitted data against them."""

from __future__ import annotations

import json

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


def field_errors(schema: dict | None, data, prefix: str = "data") -> dict[str, list[str]]:
    """Return ``{"data.field": [messages]}`` for everything wrong with ``data``."""
    if not isinstance(data, dict):
        return {prefix: ["Must be a JSON object."]}
    if not schema:
        return {}
    errors: dict[str, list[str]] = {}
    for error in Draft202012Validator(schema).iter_errors(data):
        path = [prefix, *[str(p) for p in error.absolute_path]]
        if error.validator == "required":
            missing = [p for p in error.validator_value if isinstance(error.instance, dict)
                       and p not in error.instance]
            for name in missing:
                errors.setdefault(".".join([*path, name]), []).append("This field is required.")
            continue
        errors.setdefault(".".join(path), []).append(error.message)
    return errors


def validate(schema: dict | None, data, prefix: str = "data") -> None:
    """Raise InvalidInput when ``data`` does not satisfy ``schema``."""
    errors = field_errors(schema, data, prefix)
    if errors:
        raise InvalidInput("The submitted data does not match the form.", errors)
