"""Dependencies point one way: api | web | auth -> services -> engine, models -> extensions."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by a file (relative imports resolved)."""
    package = ".".join(path.relative_to(APP.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def _files(sub: str):
    return sorted((APP / sub).rglob("*.py")) if sub else sorted(APP.rglob("*.py"))


def _offenders(files, banned: tuple[str, ...]):
    return {str(f.relative_to(APP.parent)): sorted(i for i in _imports(f) if i.startswith(banned))
            for f in files if any(i.startswith(banned) for i in _imports(f))}


def test_only_the_engine_imports_spiffworkflow():
    """SpiffWorkflow stays behind app/engine."""
    outside = [f for f in _files("") if "engine" not in f.relative_to(APP).parts]
    assert _offenders(outside, ("SpiffWorkflow",)) == {}


def test_engine_knows_nothing_of_flask_or_the_database():
    """app/engine imports neither Flask, SQLAlchemy nor other app packages."""
    assert _offenders(_files("engine"), ("flask", "sqlalchemy", "app.models", "app.services", "app.api")) == {}


@pytest.mark.parametrize("layer", ["services", "models", "engine"])
def test_lower_layers_do_not_import_routes(layer):
    """Services, models and the engine never import api, web or auth."""
    assert _offenders(_files(layer), ("app.api", "app.web", "app.auth", "flask_smorest")) == {}


@pytest.mark.parametrize("layer", ["services", "models", "engine", "api"])
def test_only_the_unit_of_work_commits(layer):
    """Services flush; app/transaction.py (and the CLI via it) commits."""
    offenders = [str(f) for f in _files(layer) if "session.commit(" in f.read_text(encoding="utf-8")]
    assert offenders == []
