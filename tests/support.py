"""Constants shared by tests (import from here, not from a conftest)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
PASSWORD = "changzhi2025"
