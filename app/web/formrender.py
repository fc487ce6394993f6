"""JSON Schema forms in HTML: schema -> field descriptors, submitted form -> typed JSON data.

Pure functions (no Flask, no database), so they are tested on their own. Labels, help texts
and option titles are the schema's own words (Chinese); the template adds the translated
chrome. What people typed is kept as typed (``values``) so a page re-rendered after errors
shows it again, even when it is invalid; ``parse`` turns it into the data the services
validate, leaving empty inputs out so that validation treats them as absent.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..services import calendar, forms
from ..services.privacy import mask_data, mask_value

PREFIX = "data."
TRUE_VALUES = ("true", "on", "1", "yes")
TEXTAREA_OVER = 200  # strings allowed to be longer than this get a textarea
_INPUT_TYPES = {"email": "email", "uri": "url"}
_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]")
_INTEGER = re.compile(r"^[+-]?\d+$")

# A value as the HTML form holds it: text for inputs, a bool for a checkbox, keys for a checkbox group.
FormValue = str | bool | list[str]


@dataclass(frozen=True)
class Option:
    """One choice of a select or checkbox group: the key the browser sends, its title, its JSON value."""

    key: str
    title: str
    value: Any


@dataclass(frozen=True)
class Field:
    """One form field: what to render and how to read it back."""

    name: str
    input_name: str
    id: str
    widget: str  # text | date | datetime | textarea | number | checkbox | select | multi | lines | json
    label: str
    help: str | None = None
    required: bool = False
    kind: str | None = None  # the JSON type (of the items, for arrays of simple values)
    options: tuple[Option, ...] = ()
    default: Any = None
    has_default: bool = False
    input_type: str = "text"
    attrs: dict = field(default_factory=dict)  # HTML constraints: maxlength, min, max, step
    read_only: bool = False  # "readOnly": shown with the case's value, never submitted


@dataclass
class Bound:
    """A field with its current value and error messages, ready for the template."""

    field: Field
    value: FormValue
    errors: list[str]

    @property
    def input_type(self) -> str:
        """``number`` for numbers, but ``text`` when the value typed is not a number, so it stays visible."""
        if self.field.widget == "number":
            text = self.value if isinstance(self.value, str) else ""
            return "number" if not text.strip() or _number(text, False) is not None else "text"
        return self.field.input_type

    @property
    def described_by(self) -> str:
        """The ids of the help text and the error message, for aria-describedby."""
        ids = []
        if self.field.help or self.field.widget in ("lines", "json"):
            ids.append(self.field.id + "-help")
        if self.errors:
            ids.append(self.field.id + "-error")
        return " ".join(ids)

    def selected(self, option: Option) -> bool:
        """Whether ``option`` is the chosen one (select) or one of the chosen (checkbox group)."""
        if isinstance(self.value, list):
            return option.key in self.value
        return option.key == self.value

    @property
    def display(self):
        """The value for reading: option titles, lists, a bool, or text (ID and phone numbers masked)."""
        f = self.field
        if f.widget == "checkbox":
            return bool(self.value)
        if f.widget == "select":
            return next((o.title for o in f.options if o.key == self.value), self.value)
        if f.widget == "multi":
            titles = {o.key: o.title for o in f.options}
            return [titles.get(k, k) for k in self.value]
        if f.widget == "lines":
            return [masked(f.name, line) for line in str(self.value).splitlines() if line.strip()]
        if f.widget == "json":
            try:
                return json.dumps(masked_deep(f.name, json.loads(self.value)), ensure_ascii=False, indent=2)
            except (TypeError, ValueError):
                pass  # typed text that is no JSON (yet): shown as text
        return masked(f.name, self.value)


def _kind(schema: dict) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def _key(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _options(schema: dict) -> tuple[Option, ...] | None:
    """Choices of ``enum`` or of ``oneOf``/``anyOf`` whose entries are all ``const`` (titles shown),
    or the organisation's groups for ``"x-optionsFrom": "groups"``."""
    if schema.get("x-optionsFrom") == "groups":
        return tuple(Option(code, f"{name}（{code}）", code)
                     for code, name in sorted(forms.group_options(schema).items(), key=lambda item: item[0]))
    if isinstance(schema.get("enum"), list):
        return tuple(Option(_key(v), str(v), v) for v in schema["enum"])
    for keyword in ("oneOf", "anyOf"):
        entries = schema.get(keyword)
        if isinstance(entries, list) and entries and all(isinstance(e, dict) and "const" in e for e in entries):
            return tuple(Option(_key(e["const"]), str(e.get("title") or e["const"]), e["const"]) for e in entries)
    return None


def _widget(prop: dict) -> tuple[str, str | None, tuple[Option, ...]]:
    """Choose the widget for a property: (widget, JSON type, options)."""
    kind = _kind(prop)
    if kind == "array":
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        item_options = _options(items)
        if item_options:
            return "multi", _kind(items), item_options
        if _kind(items) in ("string", "number", "integer") and not items.get("format"):
            return "lines", _kind(items), ()
        return "json", kind, ()
    options = _options(prop)
    if options:
        return "select", kind, options
    if kind == "boolean":
        return "checkbox", kind, ()
    if kind in ("number", "integer"):
        return "number", kind, ()
    if kind == "string":
        if prop.get("format") == "date":
            return "date", kind, ()
        if prop.get("format") == "date-time":
            return "datetime", kind, ()
        max_length = prop.get("maxLength")
        if prop.get("x-widget") == "textarea" or (isinstance(max_length, int) and max_length > TEXTAREA_OVER):
            return "textarea", kind, ()
        return "text", kind, ()
    return "json", kind, ()


def _attrs(widget: str, kind: str | None, prop: dict) -> dict:
    attrs = {}
    if widget in ("text", "textarea") and isinstance(prop.get("maxLength"), int):
        attrs["maxlength"] = prop["maxLength"]
    if widget == "number":
        for keyword, attr in (("minimum", "min"), ("maximum", "max")):
            if isinstance(prop.get(keyword), int | float) and not isinstance(prop.get(keyword), bool):
                attrs[attr] = prop[keyword]
        attrs["step"] = "1" if kind == "integer" else "any"
    return attrs


def fields(schema: dict | None, prefix: str = PREFIX) -> list[Field]:
    """Describe the top-level properties of a form schema, in schema order (``x-order`` first)."""
    properties = (schema or {}).get("properties") or {}
    required = set((schema or {}).get("required") or [])
    order = sorted(enumerate(properties.items()),
                   key=lambda item: (item[1][1].get("x-order", math.inf) if isinstance(item[1][1], dict)
                                     else math.inf, item[0]))
    result, used_ids = [], set()
    for _index, (name, prop) in order:
        prop = prop if isinstance(prop, dict) else {}
        widget, kind, options = _widget(prop)
        field_id = "field-" + (_SAFE_ID.sub("_", name) or "x")
        while field_id in used_ids:
            field_id += "_"
        used_ids.add(field_id)
        result.append(Field(
            name=name, input_name=prefix + name, id=field_id, widget=widget,
            label=str(prop.get("title") or name), help=prop.get("description") or None,
            # An unticked checkbox is a valid "no", so a boolean never counts as missing.
            required=name in required and widget != "checkbox",
            kind=kind, options=options, default=prop.get("default"), has_default="default" in prop,
            input_type=_INPUT_TYPES.get(prop.get("format"), "text"), attrs=_attrs(widget, kind, prop),
            read_only=prop.get("readOnly") is True))
    return result


def _number_text(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _form_value(f: Field, value) -> FormValue:
    """One JSON value as the HTML form holds it."""
    if f.widget == "checkbox":
        return value if isinstance(value, bool) else str(value).lower() in TRUE_VALUES
    if f.widget == "multi":
        return [_key(v) for v in value] if isinstance(value, list) else [_key(value)]
    if f.widget == "select":
        return _key(value)
    if f.widget == "lines":
        return "\n".join(_key(v) for v in value) if isinstance(value, list) else _key(value)
    if f.widget == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    if f.widget == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return _number_text(value)
    if f.widget == "datetime":
        return _local_datetime_text(value)
    return _key(value)


def _local_datetime_text(value) -> str:
    """A stored ISO 8601 date-time as a datetime-local input shows it (service-centre time)."""
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return _key(value)
    if when.tzinfo is not None:
        when = when.astimezone(calendar.local_timezone())
    return when.strftime("%Y-%m-%dT%H:%M")


def _iso_datetime(text: str):
    """A datetime-local value (no offset) as ISO 8601 in service-centre time; other text as typed."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text  # left as typed: validation reports it
    if when.tzinfo is None:
        when = when.replace(tzinfo=calendar.local_timezone())
    return when.isoformat()


def _empty(f: Field) -> FormValue:
    return False if f.widget == "checkbox" else [] if f.widget == "multi" else ""


def initial(form_fields: list[Field], data: dict | None) -> dict[str, FormValue]:
    """Form values from stored data (a draft, submitted data); schema defaults when there is none."""
    values = {}
    for f in form_fields:
        if data is not None and f.name in data:
            values[f.name] = _form_value(f, data[f.name])
        elif data is None and f.has_default:
            values[f.name] = _form_value(f, f.default)
        else:
            values[f.name] = _empty(f)
    return values


def with_case_values(values: dict[str, FormValue], form_fields: list[Field], case_data: dict | None
                     ) -> dict[str, FormValue]:
    """Read-only fields always show the case's current value, masked like any data shown for
    reading (only the fields the task may change are shown as they are; a disabled field is
    never posted, so the masked value never reaches the case)."""
    for f in form_fields:
        if f.read_only:
            value = (case_data or {}).get(f.name)
            values[f.name] = _empty(f) if value is None else _form_value(f, masked_deep(f.name, value))
    return values


def submitted(form_fields: list[Field], form) -> dict[str, FormValue]:
    """Form values exactly as posted (``form`` is a MultiDict), to show them again."""
    values = {}
    for f in form_fields:
        if f.widget == "checkbox":
            values[f.name] = str(form.get(f.input_name, "")).lower() in TRUE_VALUES
        elif f.widget == "multi":
            values[f.name] = form.getlist(f.input_name)
        else:
            values[f.name] = "\n".join(form.getlist(f.input_name))
    return values


def _number(text: str, integer: bool):
    """The number in ``text`` (an int when it is whole), or None."""
    text = text.strip()
    if _INTEGER.match(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return int(value) if integer and value.is_integer() else value


def _scalar(kind: str | None, text: str):
    if kind in ("number", "integer"):
        number = _number(text, kind == "integer")
        return text if number is None else number  # left as typed: validation says "must be a number"
    return text


def parse(form_fields: list[Field], form) -> dict:
    """Typed JSON data from a posted form; empty inputs are left out (absent, not "")."""
    data = {}
    for f in form_fields:
        if f.read_only:
            continue  # the case's value stands; the task never writes it
        if f.widget == "checkbox":
            data[f.name] = str(form.get(f.input_name, "")).lower() in TRUE_VALUES
            continue
        if f.widget == "multi":
            by_key = {o.key: o.value for o in f.options}
            chosen = [by_key.get(k, k) for k in form.getlist(f.input_name) if k != ""]
            if chosen:
                data[f.name] = chosen
            continue
        if f.widget == "lines":
            entries = [line.strip() for raw in form.getlist(f.input_name) for line in str(raw).splitlines()]
            entries = [_scalar(f.kind, e) for e in entries if e]
            if entries:
                data[f.name] = entries
            continue
        text = str(form.get(f.input_name, "")).strip()
        if text == "":
            continue
        if f.widget == "select":
            data[f.name] = next((o.value for o in f.options if o.key == text), text)
        elif f.widget == "datetime":
            data[f.name] = _iso_datetime(text)
        elif f.widget == "number":
            data[f.name] = _scalar(f.kind, text)
        elif f.widget == "json":
            try:
                data[f.name] = json.loads(text)
            except ValueError:
                data[f.name] = text  # kept as typed; validation reports the wrong type
        else:
            data[f.name] = text
    return data


def _extend(messages: list[str], more) -> None:
    """Append messages not already there (one problem may be reported more than once)."""
    for message in more:
        if str(message) not in messages:
            messages.append(str(message))


def split_errors(errors, prefix: str = PREFIX) -> tuple[dict[str, list[str]], list[str]]:
    """Split InvalidInput errors into ``{field: [messages]}`` (prefix stripped) and the rest.

    ``"data.items.0"`` belongs to field ``items``; keys without the prefix go to the rest.
    """
    by_field: dict[str, list[str]] = {}
    rest: list[str] = []
    if isinstance(errors, dict):
        for key, messages in errors.items():
            messages = messages if isinstance(messages, list) else [messages]
            if key.startswith(prefix) and len(key) > len(prefix):
                name = key[len(prefix):].split(".", 1)[0]
                _extend(by_field.setdefault(name, []), messages)
            else:
                _extend(rest, messages)
    elif isinstance(errors, list):
        _extend(rest, (e.get("message", str(e)) if isinstance(e, dict) else str(e) for e in errors))
    return by_field, rest


def bind(form_fields: list[Field], values: dict[str, FormValue],
         errors: dict[str, list[str]] | None = None) -> list[Bound]:
    """Pair each field with its value and messages. Messages for unknown fields are not lost: see ``stray``."""
    errors = errors or {}
    return [Bound(f, values.get(f.name, _empty(f)), list(errors.get(f.name, []))) for f in form_fields]


def stray(form_fields: list[Field], errors: dict[str, list[str]]) -> list[str]:
    """Messages about fields the form does not show (e.g. an unexpected field), to show above it."""
    names = {f.name for f in form_fields}
    return [f"{name}: {m}" for name, messages in errors.items() if name not in names for m in messages]


def masked(key: str, value):
    """Mask resident ID numbers and phone numbers in values shown for reading."""
    return mask_value(key, value)


def masked_deep(key: str, value):
    """``masked`` at any depth of a JSON object or list (nested keys name their values)."""
    return mask_data({key: value})[key]


def describe(schemas: list[dict | None]) -> dict[str, tuple[str, dict[str, str]]]:
    """For each property name in ``schemas``: its title and the titles of its options (first schema
    wins); then the keys a form's ``x-dataLabels`` names (data a script computes).

    Several forms often share a field title (every department's "审查意见"); such labels are
    prefixed with their form's title so readers can tell whose opinion a row is.
    """
    known: dict[str, tuple[str, dict[str, str]]] = {}
    form_title: dict[str, str] = {}
    for schema in schemas:
        for f in fields(schema):
            if f.name not in known:
                known[f.name] = (f.label, {o.key: o.title for o in f.options})
                form_title[f.name] = (schema or {}).get("title") or ""
    counts: dict[str, int] = {}
    for label, _titles in known.values():
        counts[label] = counts.get(label, 0) + 1
    described = {name: ((f"{form_title[name]} · {label}" if counts[label] > 1 and form_title[name] else label), titles)
                 for name, (label, titles) in known.items()}
    # What no form asks for but a script computes (age_days …): ``"x-dataLabels": {key: title}``.
    for schema in schemas:
        extra = (schema or {}).get("x-dataLabels")
        if isinstance(extra, dict):
            for name, title in extra.items():
                if isinstance(name, str) and isinstance(title, str) and name not in described:
                    described[name] = (title, {})
    return described


def data_rows(data: dict | None, schemas: list[dict | None]) -> list[tuple[str, Any]]:
    """Case data as (label, value) rows: form titles as labels, option titles as values, numbers masked.

    Values are text, a bool, or a list of text; the template words the bools.
    """
    labels = describe(schemas)
    rows = []
    for key, value in (data or {}).items():
        label, titles = labels.get(key, (key, {}))
        if isinstance(value, list):
            shown = [_key(masked_deep(key, v)) if isinstance(v, dict | list)
                     else masked(key, titles.get(_key(v), _key(v))) for v in value]
        elif isinstance(value, dict):
            shown = json.dumps(masked_deep(key, value), ensure_ascii=False)
        elif isinstance(value, bool) or value is None:
            shown = value
        else:
            shown = masked(key, titles.get(_key(value), _key(value)))
        rows.append((label, shown))
    return rows
