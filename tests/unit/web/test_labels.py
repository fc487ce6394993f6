"""Every event the services write into a case's history has words in the timeline.

The case page shows ``EVENT_LABELS.get(kind, kind)``: a kind without a label shows its code
(``pii_revealed``) on the Chinese and English pages alike.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.web.labels import EVENT_LABELS

APP = Path(__file__).resolve().parents[3] / "app"
RECORDED = re.compile(r'audit\.record\([^,]+,\s*"([a-z_]+)"(\s*\+)?')


def _recorded_kinds() -> set[str]:
    kinds = set()
    for path in APP.rglob("*.py"):
        for kind, joined in RECORDED.findall(path.read_text(encoding="utf-8")):
            # "order_extension_" + ext.status: the decided extension, approved or rejected
            kinds |= {kind + "approved", kind + "rejected"} if joined else {kind}
    return kinds


def test_every_recorded_event_has_a_label():
    kinds = _recorded_kinds()
    assert "case_started" in kinds and "pii_revealed" in kinds  # the scan finds them
    assert sorted(kinds - set(EVENT_LABELS)) == []
