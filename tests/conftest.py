"""Shared fixtures. Real data comes from ../shared/data when present; tests
that need it skip with the reason where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get(
    "KWSAPP_DATA_DIR", REPO_ROOT.parent / "shared" / "data" / "speech_commands_subset"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared Speech Commands subset (skips where it is absent)."""
    if not (DATA_DIR / "yes").is_dir():
        pytest.skip(f"real data not found at {DATA_DIR} (set KWSAPP_DATA_DIR)")
    return DATA_DIR


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
