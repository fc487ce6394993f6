"""POST /api/v1/processes/validate: the validation report deploy uses, without storing anything."""

from __future__ import annotations

import io

import pytest
from newborn_support import newborn_files

from support import DATA

VALIDATION = DATA / "validation"
FINDING_KEYS = {"file", "line", "element", "message", "severity", "code"}


def validate(api, *files, user: str | None = "designer", language: str | None = None):
    """POST the files (paths or (name, bytes)) to /processes/validate."""
    headers = api.headers(user)
    if language:
        headers["Accept-Language"] = language
    data = [(io.BytesIO(f[1]), f[0]) if isinstance(f, tuple) else (io.BytesIO(f.read_bytes()), f.name)
            for f in files]
    return api.client.post("/api/v1/processes/validate", headers=headers, data={"file": data},
                           content_type="multipart/form-data")


def report(r) -> dict:
    assert r.status_code == 200, r.get_data(as_text=True)[:800]
    body = r.get_json()
    assert set(body) == {"valid", "key", "errors", "warnings"}
    for finding in body["errors"] + body["warnings"]:
        assert set(finding) == FINDING_KEYS
        assert finding["message"]
    assert all(f["severity"] == "error" for f in body["errors"])
    assert all(f["severity"] == "warning" for f in body["warnings"])
    return body


# -- permissions --------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["designer", "admin"])
def test_designer_and_admin_may_validate(api, user):
    body = report(validate(api, VALIDATION / "valid.bpmn", user=user))
    assert {k: body[k] for k in ("valid", "key", "errors")} == {"valid": True, "key": "valid", "errors": []}
    assert [w["code"] for w in body["warnings"]] == ["task_without_form"]


@pytest.mark.parametrize("user", ["window1", "health1"])
def test_clerks_and_reviewers_may_not(api, user):
    r = validate(api, VALIDATION / "valid.bpmn", user=user)
    assert r.status_code == 403
    assert r.get_json()["error"] == "forbidden"


def test_anonymous_is_401(api):
    r = validate(api, VALIDATION / "valid.bpmn", user=None)
    assert r.status_code == 401


def test_no_files_is_422(api):
    r = api.client.post("/api/v1/processes/validate", headers=api.headers("designer"), data={},
                        content_type="multipart/form-data")
    assert r.status_code == 422
    assert r.get_json()["error"] == "invalid_diagram"


# -- the report ---------------------------------------------------------------------------------------


def test_the_full_newborn_bundle_is_valid(api):
    body = report(validate(api, *newborn_files()))
    assert body["valid"] is True
    assert body["key"] == "newborn"
    assert body["errors"] == []


def test_invalid_diagram_lists_located_errors_and_stores_nothing(api):
    """An interrupting boundary that never rejoins: 200 with the finding; no process is created."""
    body = report(validate(api, VALIDATION / "boundary_deadlock.bpmn"))
    assert body["valid"] is False
    assert body["key"] == "boundary_deadlock"
    (error,) = body["errors"]
    assert error["code"] == "boundary_deadlock"
    assert (error["file"], error["line"], error["element"]) == ("boundary_deadlock.bpmn", 14, "late")
    assert "exclusive gateway" in error["message"]
    assert api.get("/api/v1/processes", "designer").get_json() == []


def test_warnings_are_shown_and_do_not_invalidate(api):
    body = report(validate(api, VALIDATION / "unreachable.bpmn"))
    assert body["valid"] is True
    assert [(w["code"], w["element"]) for w in body["warnings"] if w["code"] != "task_without_form"] == [
        ("unreachable", "orphan")]


def test_unknown_lane_and_missing_form_are_service_findings(api):
    """Groups and forms need the organisation and the upload: checked by the service, same report."""
    lane = report(validate(api, VALIDATION / "unknown_lane.bpmn"))
    assert [(e["code"], e["element"]) for e in lane["errors"]] == [("unknown_lane", "review")]
    assert "自然资源局" in lane["errors"][0]["message"]
    form = report(validate(api, VALIDATION / "missing_form.bpmn"))
    assert [(e["code"], e["file"]) for e in form["errors"]] == [("form_missing", "review_form.json")]
    bad = report(validate(api, VALIDATION / "missing_form.bpmn", ("review_form.json", b'{"type": 12}')))
    assert [(e["code"], e["file"]) for e in bad["errors"]] == [("form_invalid", "review_form.json")]
    good = report(validate(api, VALIDATION / "missing_form.bpmn", ("review_form.json", b'{"type": "object"}')))
    assert good["valid"] is True


def test_upload_problems_are_reported(api):
    body = report(validate(api, VALIDATION / "valid.bpmn", ("notes.txt", b"hello")))
    assert [(e["code"], e["file"]) for e in body["errors"]] == [("unsupported_file", "notes.txt")]
    assert body["key"] is None


def test_hostile_upload_is_a_finding(api):
    body = report(validate(api, DATA / "hostile" / "xxe_file_passwd.bpmn"))
    assert body["valid"] is False
    assert "root:" not in str(body)


# -- language ---------------------------------------------------------------------------------------


def test_english_by_default(api):
    body = report(validate(api, VALIDATION / "parallel_loop_entry.bpmn"))
    assert "must re-enter through an exclusive gateway" in body["errors"][0]["message"]


def test_chinese_with_accept_language(api):
    """Accept-Language: zh-CN words the same findings in Chinese; codes and locations stay."""
    english = report(validate(api, VALIDATION / "parallel_loop_entry.bpmn", language="en"))
    chinese = report(validate(api, VALIDATION / "parallel_loop_entry.bpmn", language="zh-CN"))
    (en,), (zh,) = english["errors"], chinese["errors"]
    assert "循环必须通过排他网关重新进入" in zh["message"]
    assert zh["message"] != en["message"]
    assert {k: v for k, v in zh.items() if k != "message"} == {k: v for k, v in en.items() if k != "message"}


@pytest.mark.parametrize("name", ["juel_unsupported.bpmn", "timer_invalid_duration.bpmn", "never_ends.bpmn",
                                  "script_refused.bpmn", "unreachable.bpmn", "unknown_lane.bpmn"])
def test_every_kind_of_finding_has_a_chinese_wording(api, name):
    body = report(validate(api, VALIDATION / name, language="zh-CN"))
    for finding in body["errors"] + body["warnings"]:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in finding["message"]), finding


# -- deploy shares the report ---------------------------------------------------------------------------


def test_deploy_returns_the_warnings(api):
    r = api.deploy(VALIDATION / "unreachable.bpmn")
    assert r.status_code == 201, r.get_json()
    warnings = r.get_json()["warnings"]
    assert [(w["code"], w["element"], w["severity"]) for w in warnings
            if w["code"] != "task_without_form"] == [("unreachable", "orphan", "warning")]


def test_deploy_without_warnings_returns_an_empty_list(api):
    r = api.deploy(*newborn_files())
    assert r.status_code == 201
    assert r.get_json()["warnings"] == []


def test_a_user_task_without_a_form_is_a_warning(api):
    """Nothing limits what completing a task without a form writes into the case: the designer is
    told which task, in the reader's language; the diagram still deploys."""
    body = report(validate(api, VALIDATION / "valid.bpmn", language="zh-CN"))
    (warning,) = body["warnings"]
    assert (warning["code"], warning["element"], warning["severity"]) == ("task_without_form", "review", "warning")
    assert "审查" in warning["message"] and "表单" in warning["message"]
    english = report(validate(api, VALIDATION / "valid.bpmn", language="en"))["warnings"][0]["message"]
    assert english.startswith("User task 审查 has no form")
    assert api.deploy(VALIDATION / "valid.bpmn").status_code == 201


@pytest.mark.parametrize(("name", "code"), [
    ("boundary_deadlock.bpmn", "boundary_deadlock"),
    ("gateway_without_condition.bpmn", "gateway_flow_without_condition"),
    ("never_ends.bpmn", "never_ends"),
    ("juel_unsupported.bpmn", "unsupported_expression"),
])
def test_deploy_is_refused_on_any_error_of_the_report(api, name, code):
    """Deploy runs the same validation: 422 invalid_diagram with the coded findings."""
    r = api.deploy(VALIDATION / name)
    assert r.status_code == 422
    body = r.get_json()
    assert body["error"] == "invalid_diagram"
    assert [f["code"] for f in body["errors"]] == [code]
    assert api.get("/api/v1/processes", "designer").get_json() == []


def test_translated_camunda_diagram_deploys_and_routes(api):
    """JUEL conditions translate; the camunda candidate group routes the review."""
    r = api.deploy(VALIDATION / "juel_conditions.bpmn")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["user_tasks"]["review"]["groups"] == ["health"]
    start = api.start("juel_conditions", {"days": 2})
    assert start.status_code == 201, start.get_json()
    case = api.do("health1", "review", {"approved": True}, start.get_json()["id"])
    assert case["status"] == "completed"
    assert case["outcome"] == "批准"


def test_every_finding_of_the_rule_diagrams_is_worded_in_both_languages(app_ctx):
    """Each code the report can carry has an English and a Chinese message (no raw engine text)."""
    from flask_babel import force_locale

    from app.engine.validation import validate_process
    from app.services.processes import word_finding

    for path in sorted(VALIDATION.iterdir()):
        for finding in validate_process({path.name: path.read_bytes()}).findings:
            with force_locale("en"):
                english = word_finding(finding)["message"]
            with force_locale("zh_CN"):
                chinese = word_finding(finding)["message"]
            assert english and chinese != english, (path.name, finding.code)
            assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese), (path.name, finding.code, chinese)
