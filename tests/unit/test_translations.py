"""The Chinese catalog is complete, keeps its placeholders and is up to date with the source.

The UI speaks Chinese by default, so an untranslated string shows English to window clerks:
run `make messages`, translate the new entries, and commit the catalogs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
# Babel reads the configured "zh_CN" as zh_Hans_CN (it adds the likely script), and Flask-Babel looks
# for the catalog under that name: a translations/zh_CN directory would never be loaded.
ZH = ROOT / "app" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
# The same keywords as `make messages` (pybabel extract -k _l -k lazy_gettext).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")


def _key(msgid) -> str:
    """The singular msgid (plural entries have a (singular, plural) tuple)."""
    return msgid[0] if isinstance(msgid, tuple) else msgid


def _strings(value) -> list[str]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


@pytest.fixture(scope="module")
def catalog():
    with ZH.open("rb") as f:
        return read_po(f, locale="zh_Hans_CN")


@pytest.fixture(scope="module")
def entries(catalog):
    """Every real entry (not the header)."""
    return [m for m in catalog if m.id]


def test_every_entry_is_translated_and_not_fuzzy(entries):
    """No empty msgstr (or plural form) and no fuzzy flag: fuzzy entries are not compiled."""
    assert entries, "the Chinese catalog is empty"
    untranslated = [_key(m.id) for m in entries if not all(s.strip() for s in _strings(m.string))]
    fuzzy = [_key(m.id) for m in entries if m.fuzzy]
    assert untranslated == []
    assert fuzzy == []


def test_placeholders_match(entries):
    """%(name)s placeholders survive translation: a missing or renamed one raises KeyError at runtime."""
    wrong = {}
    for m in entries:
        expected = {p for s in _strings(m.id) for p in PLACEHOLDER.findall(s)}
        for s in _strings(m.string):
            if set(PLACEHOLDER.findall(s)) != expected:
                wrong[_key(m.id)] = s
    assert wrong == {}


def test_one_word_for_giving_a_task_back(catalog):
    """The inbox's "Release" and the task page's "Unclaim" are the same action: one Chinese term."""
    assert catalog["Unclaim"].string == catalog["Release"].string


def test_catalog_is_up_to_date_with_the_source(catalog):
    """Every string the code and templates mark for translation is in the Chinese catalog."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    in_source = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        key = _key(message)
        if key:
            in_source.setdefault(key, f"{filename}:{lineno}")
    assert in_source, "nothing extracted: check babel.cfg"
    known = {_key(m.id) for m in catalog if m.id}
    missing = {key: where for key, where in in_source.items() if key not in known}
    assert missing == {}, "run `make messages` and translate the new entries"


def test_the_browser_ui_speaks_chinese_by_default(app):
    """A browser request without a language choice gets the Chinese catalog (compiled by `make translations`)."""
    from flask_babel import get_locale, gettext

    with app.test_request_context("/"):
        assert gettext("Inbox") == "待办", f"locale {get_locale()} did not load {ZH.with_suffix('.mo')}"
