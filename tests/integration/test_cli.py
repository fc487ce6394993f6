"""Command-line tools through ``app.test_cli_runner()``: flask bpmn validate|deploy|diff, flask processes deploy."""

from __future__ import annotations

import shutil

import pytest

from support import DATA, ROOT

CHECKS = DATA / "api_checks"
NEWBORN = ROOT / "bpmn" / "newborn.bpmn"
FORMS = ROOT / "forms"


@pytest.fixture()
def cli(app, db_clean):
    """Run a flask command: cli('bpmn', 'deploy', path) -> click Result.

    ``result.output`` holds stdout and stderr as a terminal shows them (click 8.2+); ``result.stderr``
    the error stream alone.
    """
    runner = app.test_cli_runner()

    def _run(*args):
        return runner.invoke(args=[str(a) for a in args])

    return _run


@pytest.fixture()
def versioned(tmp_path):
    """versioned_v1.bpmn and versioned_v2.bpmn copied as versioned.bpmn into two folders."""
    paths = []
    for n in (1, 2):
        folder = tmp_path / f"v{n}"
        folder.mkdir()
        shutil.copy(CHECKS / f"versioned_v{n}.bpmn", folder / "versioned.bpmn")
        paths.append(folder / "versioned.bpmn")
    return paths


def listing(app):
    from app.extensions import db
    from app.services import processes

    with app.app_context():
        result = {d.key: [v.version for v in d.versions] for d in processes.list_definitions()}
        db.session.rollback()
        return result


# -- deploy --------------------------------------------------------------------------------------------


def test_bpmn_deploy_creates_a_version_then_reports_unchanged(app, cli, versioned, tmp_path):
    """First run deploys v1; the same file again is 'unchanged'; exit code 0 both times."""
    r = cli("bpmn", "deploy", versioned[0], "--forms", tmp_path)
    assert r.exit_code == 0, r.output
    assert "deployed as versioned v1" in r.output
    r = cli("bpmn", "deploy", versioned[0], "--forms", tmp_path)
    assert r.exit_code == 0
    assert "unchanged, versioned v1" in r.output
    assert listing(app) == {"versioned": [1]}


def test_bpmn_deploy_a_folder_with_its_forms(app, cli):
    """A folder deploys each diagram in it with the forms it names (what `make run` does for bpmn/)."""
    r = cli("bpmn", "deploy", NEWBORN.parent, "--forms", FORMS)
    assert r.exit_code == 0, r.output
    assert "deployed as newborn v1" in r.output
    from app.extensions import db
    from app.services import designer

    with app.app_context():
        files = {f.filename for f in designer.version_entry("newborn", 1).files}
        db.session.rollback()
    assert "newborn.bpmn" in files and "newborn_handover.json" in files


def test_processes_deploy_is_an_alias(app, cli, versioned, tmp_path):
    """The older `flask processes deploy` does the same."""
    r = cli("processes", "deploy", versioned[0], "--forms", tmp_path)
    assert r.exit_code == 0, r.output
    assert "deployed as versioned v1" in r.output


def test_deploy_refusal_exits_1_with_findings(app, cli, tmp_path):
    """A diagram naming an unknown lane is refused: exit 1, the finding located, nothing stored."""
    r = cli("bpmn", "deploy", CHECKS / "unknown_lane.bpmn", "--forms", tmp_path)
    assert r.exit_code == 1
    assert "refused" in r.stderr
    assert "unknown_lane.bpmn:14 land_review" in r.stderr
    assert listing(app) == {}


def test_deploy_is_recorded_under_the_admin(app, cli, versioned, tmp_path):
    """Command-line deployments are attributed to the seeded admin account."""
    cli("bpmn", "deploy", versioned[0], "--forms", tmp_path)
    from app.extensions import db
    from app.services import designer

    with app.app_context():
        version = designer.get_version("versioned", 1)
        assert version.deployed_by.username == "admin"
        assert version.deployed_at is not None
        db.session.rollback()


# -- validate ------------------------------------------------------------------------------------------


def test_validate_a_good_diagram_stores_nothing(app, cli):
    """A valid bundle: 'ok', exit 0, and no version is created."""
    r = cli("bpmn", "validate", NEWBORN, "--forms", FORMS)
    assert r.exit_code == 0, r.output
    assert f"{NEWBORN}: ok" in r.output
    assert listing(app) == {}


@pytest.mark.parametrize(("path", "located"), [
    (DATA / "compile_errors" / "script_import.bpmn", "script_import.bpmn:9 evil_script"),
    (DATA / "compile_errors" / "malformed.bpmn", "malformed.bpmn:"),
    (DATA / "hostile" / "xxe_file_passwd.bpmn", "xxe_file_passwd.bpmn"),
])
def test_validate_a_broken_diagram_exits_1(cli, path, located):
    """A refused diagram: 'refused', each finding with file, line and element, exit 1."""
    r = cli("bpmn", "validate", path)
    assert r.exit_code == 1
    assert f"{path}: refused" in r.stderr
    assert located in r.stderr
    assert "root:" not in r.output  # the XXE never read /etc/passwd


def test_validate_a_diagram_whose_form_is_missing(cli, tmp_path):
    """The newborn diagram without its forms folder: each missing form is a finding."""
    r = cli("bpmn", "validate", NEWBORN, "--forms", tmp_path)
    assert r.exit_code == 1
    assert "newborn_handover.json" in r.stderr


def test_validate_several_paths(cli, versioned, tmp_path):
    """Several paths: each gets its own line; one bad one makes the exit code 1."""
    r = cli("bpmn", "validate", versioned[0], DATA / "compile_errors" / "dangling_flow.bpmn", "--forms", tmp_path)
    assert r.exit_code == 1
    assert f"{versioned[0]}: ok" in r.stdout
    assert "dangling_flow.bpmn: refused" in r.stderr


# -- diff ----------------------------------------------------------------------------------------------


def test_diff_prints_a_summary(app, cli, versioned, tmp_path):
    """`flask bpmn diff versioned 1 2` lists the added task, the renamed one and the flows."""
    cli("bpmn", "deploy", versioned[0], "--forms", tmp_path)
    cli("bpmn", "deploy", versioned[1], "--forms", tmp_path)
    r = cli("bpmn", "diff", "versioned", 1, 2)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "versioned: version 1 -> version 2"
    assert "Tasks: 1 added, 0 removed, 1 changed" in lines
    assert "  + recheck (userTask) 复核 v2" in lines
    assert "      name: '审查 v1' -> '审查 v2'" in lines
    assert "  + f3 (sequenceFlow) recheck -> end" in lines


def test_diff_of_identical_versions(cli, versioned, tmp_path):
    cli("bpmn", "deploy", versioned[0], "--forms", tmp_path)
    r = cli("bpmn", "diff", "versioned", 1, 1)
    assert r.exit_code == 0
    assert "The two versions are identical." in r.output


@pytest.mark.parametrize("args", [("versioned", 1, 3), ("nope", 1, 2)])
def test_diff_of_unknown_versions_exits_1(cli, versioned, tmp_path, args):
    cli("bpmn", "deploy", versioned[0], "--forms", tmp_path)
    r = cli("bpmn", "diff", *args)
    assert r.exit_code == 1
    assert "Error:" in r.stderr


def test_makefile_deploys_with_the_bpmn_group():
    """`make run` (via `make deploy`) uses `flask bpmn deploy`."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(BIN)/flask bpmn deploy bpmn" in makefile


# -- validate uses the service's validation report when there is one ------------------------------------


def test_validate_uses_the_services_report(cli, monkeypatch, versioned, tmp_path):
    """With processes.validate(uploads) present, its findings (errors and warnings) are what is printed."""
    from app.services import processes

    seen = []

    def validate(uploads):
        seen.append([name for name, _content in uploads])
        return {"ok": True, "findings": [{"file": "versioned.bpmn", "line": 3, "element": "review",
                                          "message": "task has no form", "severity": "warning"}]}

    monkeypatch.setattr(processes, "validate", validate, raising=False)
    r = cli("bpmn", "validate", versioned[0], "--forms", tmp_path)
    assert r.exit_code == 0, r.output
    assert seen == [["versioned.bpmn"]]
    assert "ok (0 error(s), 1 warning(s))" in r.stdout
    assert "versioned.bpmn:3 review: [warning] task has no form" in r.stdout
    assert "note:" not in r.output


def test_validate_passes_a_user_when_the_service_wants_one(cli, monkeypatch, versioned, tmp_path):
    """processes.validate(user, uploads) raising InvalidDiagram: its findings are errors, exit 1."""
    from app.errors import InvalidDiagram
    from app.services import processes

    def validate(user, uploads):
        assert user.username == "admin"
        raise InvalidDiagram("The diagram is invalid.", [{"file": "versioned.bpmn", "line": None,
                                                           "element": None, "message": "bad"}])

    monkeypatch.setattr(processes, "validate", validate, raising=False)
    r = cli("bpmn", "validate", versioned[0], "--forms", tmp_path)
    assert r.exit_code == 1
    assert "versioned.bpmn: bad" in r.stderr


def test_validate_without_an_admin_account_says_what_to_do(app, cli, monkeypatch, versioned, tmp_path):
    """processes.validate(user, uploads) needs an account; without the seeded admin the command says so."""
    from app.services import demo, processes

    monkeypatch.setattr(processes, "validate", lambda user, uploads: {"findings": []}, raising=False)
    monkeypatch.setattr(demo, "system_user", lambda: None)
    r = cli("bpmn", "validate", versioned[0], "--forms", tmp_path)
    assert r.exit_code == 1
    assert "flask demo seed" in r.stderr


def test_validate_falls_back_to_a_compile_without_the_service_report(cli, monkeypatch, tmp_path):
    """Without processes.validate the command compiles and checks forms itself, and says what it skipped."""
    from app.services import processes

    monkeypatch.delattr(processes, "validate", raising=False)
    r = cli("bpmn", "validate", NEWBORN, DATA / "compile_errors" / "script_import.bpmn", "--forms", FORMS)
    assert r.exit_code == 1
    assert "note: engine and form checks only" in r.stdout
    assert f"{NEWBORN}: ok" in r.stdout
    assert "script_import.bpmn:9 evil_script" in r.stderr
    r = cli("bpmn", "validate", NEWBORN, "--forms", tmp_path)
    assert r.exit_code == 1
    assert "form newborn_handover.json is referenced but was not found" in r.stderr
