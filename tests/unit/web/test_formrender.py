"""JSON Schema -> HTML field descriptors and posted form -> typed data (pure functions, no app)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.web import formrender as fr

FORMS = Path(__file__).resolve().parents[3] / "forms"

SCHEMA = {
    "type": "object",
    "required": ["name", "decision", "ok", "tags"],
    "properties": {
        "name": {"type": "string", "title": "姓名", "description": "与证件一致。", "maxLength": 50},
        "born": {"type": "string", "format": "date", "title": "出生日期"},
        "note": {"type": "string", "title": "备注", "x-widget": "textarea"},
        "long": {"type": "string", "title": "长文本", "maxLength": 500},
        "mail": {"type": "string", "format": "email", "title": "邮箱"},
        "amount": {"type": "number", "title": "金额", "minimum": 0},
        "count": {"type": "integer", "title": "数量", "maximum": 9},
        "ok": {"type": "boolean", "title": "同意"},
        "decision": {"type": "string", "title": "结论",
                     "oneOf": [{"const": "approve", "title": "同意"}, {"const": "reject", "title": "不同意"}]},
        "level": {"type": "integer", "title": "级别", "enum": [1, 2, 3], "default": 2},
        "tags": {"type": "array", "title": "清单", "items": {"type": "string", "minLength": 1}},
        "sizes": {"type": "array", "title": "尺寸", "items": {"type": "number"}},
        "colours": {"type": "array", "title": "颜色", "items": {"enum": ["red", "blue"]}},
        "extra": {"type": "object", "title": "附加"},
        "anything": {"title": "任意"},
        "maybe": {"type": ["string", "null"], "title": "可空"},
    },
}


def by_name(schema=SCHEMA):
    return {f.name: f for f in fr.fields(schema)}


def test_widgets_follow_the_schema_types():
    """Each JSON type and hint gets its widget; unknown or complex types fall back to JSON."""
    widgets = {name: f.widget for name, f in by_name().items()}
    assert widgets == {
        "name": "text", "born": "date", "note": "textarea", "long": "textarea", "mail": "text", "amount": "number",
        "count": "number", "ok": "checkbox", "decision": "select", "level": "select", "tags": "lines",
        "sizes": "lines", "colours": "multi", "extra": "json", "anything": "json", "maybe": "text",
    }
    assert by_name()["mail"].input_type == "email"


def test_labels_help_required_and_html_constraints():
    """Title as label (the key when untitled), description as help, required marks, min/max/step/maxlength."""
    f = by_name()
    assert (f["name"].label, f["name"].help, f["name"].required) == ("姓名", "与证件一致。", True)
    assert f["name"].input_name == "data.name" and f["name"].id == "field-name"
    assert f["name"].attrs == {"maxlength": 50}
    assert f["amount"].attrs == {"min": 0, "step": "any"} and f["count"].attrs == {"max": 9, "step": "1"}
    assert f["born"].required is False and f["born"].help is None
    assert f["ok"].required is False  # an unticked box is a valid "no"
    assert fr.fields({"properties": {"k": {}}})[0].label == "k"


def test_options_carry_titles_and_typed_values():
    """oneOf const/title pairs and enums become options; non-string values get JSON keys."""
    f = by_name()
    assert [(o.key, o.title, o.value) for o in f["decision"].options] == [
        ("approve", "同意", "approve"), ("reject", "不同意", "reject")]
    assert [(o.key, o.value) for o in f["level"].options] == [("1", 1), ("2", 2), ("3", 3)]


def test_order_is_the_schemas_with_x_order_first():
    """Properties keep their schema order; x-order moves some to the front."""
    schema = {"properties": {"a": {"type": "string"}, "b": {"type": "string", "x-order": 2},
                             "c": {"type": "string", "x-order": 1}, "d": {"type": "string"}}}
    assert [f.name for f in fr.fields(schema)] == ["c", "b", "a", "d"]
    assert [f.name for f in fr.fields(SCHEMA)][:3] == ["name", "born", "note"]


def test_ids_are_safe_and_unique():
    """Odd property names still give usable, distinct element ids."""
    ids = [f.id for f in fr.fields({"properties": {"a b": {}, "a_b": {}, "": {}}})]
    assert ids == ["field-a_b", "field-a_b_", "field-x"]


def test_no_schema_means_no_fields():
    assert fr.fields(None) == [] and fr.fields({}) == []


def test_parse_types_the_values_and_omits_empty_inputs():
    """Numbers, booleans, options, lines and JSON are typed; blank inputs are left out."""
    form = MultiDict([
        ("data.name", "  王小明 "), ("data.born", ""), ("data.note", "\n"), ("data.amount", "12.50"),
        ("data.count", "3"), ("data.ok", "true"), ("data.decision", "reject"), ("data.level", "3"),
        ("data.tags", "甲\r\n\r\n 乙 \n"), ("data.sizes", "1\n2.5"), ("data.colours", "blue"),
        ("data.colours", "red"), ("data.extra", '{"k": [1]}'), ("data.anything", "7"), ("data.maybe", ""),
        ("csrf_token", "x"), ("action", "submit"),
    ])
    assert fr.parse(fr.fields(SCHEMA), form) == {
        "name": "王小明", "amount": 12.5, "count": 3, "ok": True, "decision": "reject", "level": 3,
        "tags": ["甲", "乙"], "sizes": [1, 2.5], "colours": ["blue", "red"], "extra": {"k": [1]}, "anything": 7,
    }


def test_an_absent_checkbox_is_false_and_empty_lists_are_absent():
    assert fr.parse(fr.fields(SCHEMA), MultiDict({"data.tags": "\n \n"})) == {"ok": False}


def test_repeated_inputs_are_list_entries_too():
    """Arrays may come as one textarea or as repeated inputs."""
    form = MultiDict([("data.tags", "甲"), ("data.tags", ""), ("data.tags", "乙\n丙")])
    assert fr.parse(fr.fields(SCHEMA), form)["tags"] == ["甲", "乙", "丙"]


@pytest.mark.parametrize(("text", "expected"), [
    ("abc", "abc"), ("1e3", 1000.0), ("-4", -4), ("nan", "nan"), ("inf", "inf"), ("3.0", 3.0)])
def test_numbers_that_do_not_parse_stay_text_for_validation(text, expected):
    """Invalid numbers are passed on as typed, so the form validation reports them."""
    assert fr.parse(fr.fields(SCHEMA), MultiDict({"data.amount": text}))["amount"] == expected


def test_whole_floats_become_integers_for_integer_fields():
    assert fr.parse(fr.fields(SCHEMA), MultiDict({"data.count": "4.0"}))["count"] == 4


def test_unknown_choices_and_bad_json_are_passed_on_as_typed():
    form = MultiDict({"data.decision": "maybe", "data.extra": "{oops", "data.level": "9"})
    data = fr.parse(fr.fields(SCHEMA), form)
    assert (data["decision"], data["extra"], data["level"]) == ("maybe", "{oops", "9")


def test_initial_values_from_data_or_defaults():
    """Stored data becomes form values; with no data the schema defaults apply; drafts ignore defaults."""
    f = fr.fields(SCHEMA)
    values = fr.initial(f, {"name": "王", "amount": 1500.0, "count": 2, "ok": True, "level": 1,
                            "tags": ["甲", "乙"], "colours": ["red"], "extra": {"k": "v"}, "born": "2026-01-02"})
    assert values["name"] == "王" and values["amount"] == "1500" and values["count"] == "2"
    assert values["ok"] is True and values["level"] == "1" and values["tags"] == "甲\n乙"
    assert values["colours"] == ["red"] and json.loads(values["extra"]) == {"k": "v"}
    assert values["note"] == "" and values["decision"] == "" and values["born"] == "2026-01-02"
    defaults = fr.initial(f, None)
    assert defaults["level"] == "2" and defaults["name"] == "" and defaults["ok"] is False
    assert fr.initial(f, {})["level"] == ""


def test_a_draft_round_trips():
    """What parse stores as a draft comes back as the same form values."""
    f = fr.fields(SCHEMA)
    form = MultiDict([("data.name", "王"), ("data.amount", "abc"), ("data.level", "3"), ("data.tags", "甲\n乙"),
                      ("data.colours", "blue"), ("data.ok", "true"), ("data.extra", "[1, 2]")])
    values = fr.initial(f, fr.parse(f, form))
    assert (values["name"], values["amount"], values["level"], values["tags"]) == ("王", "abc", "3", "甲\n乙")
    assert values["colours"] == ["blue"] and values["ok"] is True and json.loads(values["extra"]) == [1, 2]


def test_submitted_values_are_kept_exactly_as_typed():
    f = fr.fields(SCHEMA)
    form = MultiDict([("data.amount", "abc"), ("data.tags", "甲\n\n乙"), ("data.ok", "true"),
                      ("data.colours", "red")])
    values = fr.submitted(f, form)
    assert values["amount"] == "abc" and values["tags"] == "甲\n\n乙" and values["ok"] is True
    assert values["colours"] == ["red"] and values["name"] == ""


def test_bound_number_with_text_is_rendered_as_text():
    """A number input cannot show 'abc', so such a value is shown in a text input."""
    amount = by_name()["amount"]
    assert fr.Bound(amount, "abc", []).input_type == "text"
    assert fr.Bound(amount, "12.5", []).input_type == "number"
    assert fr.Bound(amount, "", []).input_type == "number"


def test_bound_described_by_and_selection():
    f = by_name()
    assert fr.Bound(f["name"], "", ["x"]).described_by == "field-name-help field-name-error"
    assert fr.Bound(f["born"], "", []).described_by == ""
    assert fr.Bound(f["tags"], "", []).described_by == "field-tags-help"  # "one entry per line"
    decision = fr.Bound(f["decision"], "reject", [])
    assert [decision.selected(o) for o in f["decision"].options] == [False, True]
    colours = fr.Bound(f["colours"], ["red", "blue"], [])
    assert all(colours.selected(o) for o in f["colours"].options)


def test_bound_display_for_reading():
    """Option titles, lists, bools; ID and phone numbers masked."""
    f = by_name()
    assert fr.Bound(f["decision"], "approve", []).display == "同意"
    assert fr.Bound(f["ok"], True, []).display is True
    assert fr.Bound(f["tags"], "甲\n\n乙", []).display == ["甲", "乙"]
    assert fr.Bound(f["name"], "140402199001011234", []).display == "1404**********1234"
    phone = fr.fields({"properties": {"contact_phone": {"type": "string"}}})[0]
    assert fr.Bound(phone, "13812341234", []).display == "138****1234"


def test_split_errors_strips_the_prefix_and_keeps_the_rest():
    """'data.x' and 'data.x.0' belong to x; other keys and diagram errors go to the form; no repeats."""
    by_field, rest = fr.split_errors({
        "data.name": ["必填"], "data.tags.1": ["太短"], "data.tags": ["必填"], "data": ["不是对象"],
        "applicant.name": ["必填"], "data.decision": ["必填", "必填"]})
    assert by_field == {"name": ["必填"], "tags": ["太短", "必填"], "decision": ["必填"]}
    assert rest == ["不是对象", "必填"]
    assert fr.split_errors(None) == ({}, [])
    assert fr.split_errors([{"element": "t", "message": "boom"}]) == ({}, ["boom"])
    assert fr.split_errors({"applicant.id_number": ["x"]}, prefix="applicant.")[0] == {"id_number": ["x"]}


def test_bind_and_stray_errors():
    f = fr.fields(SCHEMA)
    bound = fr.bind(f, {"name": "王"}, {"name": ["太短"], "ghost": ["Unexpected field."]})
    assert bound[0].value == "王" and bound[0].errors == ["太短"]
    assert bound[1].value == "" and bound[1].errors == []
    assert fr.stray(f, {"name": ["x"], "ghost": ["Unexpected field."]}) == ["ghost: Unexpected field."]


def test_data_rows_use_form_titles_and_option_titles():
    """Case data is labelled with the titles of the version's forms; unknown keys stay as written."""
    schemas = [json.loads((FORMS / "newborn_application.json").read_text(encoding="utf-8")), None]
    rows = fr.data_rows({"newborn_sex": "female", "mother_id_number": "140402199203045678",
                         "data_sharing_consent": True, "custom": "x", "list": ["a"], "obj": {"k": 1},
                         "empty": None, "n": 3}, schemas)
    assert rows == [("新生儿性别", "女"), ("母亲公民身份号码", "1404**********5678"), ("同意调取电子证照", True),
                    ("custom", "x"), ("list", ["a"]), ("obj", '{"k": 1}'), ("empty", None), ("n", "3")]
    assert fr.data_rows(None, []) == []


def test_nested_personal_data_is_masked_for_reading():
    """ID numbers and phones inside an object or a list of objects are masked in data rows and in a
    JSON field shown for reading, as ``privacy.mask_data`` masks them for the API."""
    data = {"obj": {"contact_phone": "13712345678", "n": 1},
            "people": [{"id_number": "140402197707071234"}, "plain"]}
    rows = dict(fr.data_rows(data, []))
    assert json.loads(rows["obj"]) == {"contact_phone": "137****5678", "n": 1}
    assert json.loads(rows["people"][0]) == {"id_number": "1404**********1234"} and rows["people"][1] == "plain"
    extra = by_name()["extra"]
    values = fr.initial([extra], {"extra": {"holder": {"id_number": "140402197707071234"}}})
    shown = fr.bind([extra], values)[0].display
    assert json.loads(shown) == {"holder": {"id_number": "1404**********1234"}}
    assert fr.bind([extra], {"extra": "{not json"})[0].display == "{not json"


def test_every_newborn_form_renders_and_round_trips():
    """The real forms: every field gets a widget, and valid-looking posts parse to data the schema accepts."""
    from jsonschema import Draft202012Validator

    for path in sorted(FORMS.glob("newborn_*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        form_fields = fr.fields(schema)
        assert [f.name for f in form_fields] == list(schema["properties"]), path.name
        assert all(f.widget != "json" for f in form_fields), path.name
        form = MultiDict()
        for f in form_fields:
            prop = schema["properties"][f.name]
            if f.widget == "select":
                form.add(f.input_name, f.options[0].key)
            elif f.widget == "checkbox":
                form.add(f.input_name, "true")
            elif f.widget == "date":
                form.add(f.input_name, "2026-11-01")
            elif f.widget == "number":
                form.add(f.input_name, "12.5")
            elif "pattern" in prop:
                form.add(f.input_name, "140402199203045678")
            else:
                form.add(f.input_name, "测试")
        data = fr.parse(form_fields, form)
        assert not list(Draft202012Validator(schema).iter_errors(data)), path.name


def test_date_time_fields_use_a_local_picker_and_store_iso_8601_with_the_offset(app_ctx):
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time", "title": "时间"}}}
    fields_ = fr.fields(schema)
    assert fields_[0].widget == "datetime"
    data = fr.parse(fields_, MultiDict({"data.at": "2026-12-01T09:30"}))
    assert data == {"at": "2026-12-01T09:30:00+08:00"}
    shown = fr.initial(fields_, {"at": "2026-12-01T01:30:00+00:00"})
    assert shown == {"at": "2026-12-01T09:30"}
    assert fr.parse(fields_, MultiDict({"data.at": "soon"})) == {"at": "soon"}  # validation says why
