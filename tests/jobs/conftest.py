"""Fixtures of the job tests: the use cases on a FixedClock, and the jobs' business clock file."""

from __future__ import annotations

import pytest

from tests.conftest import make_loyalty


@pytest.fixture
def uc(tables):
    return make_loyalty()


@pytest.fixture
def clock_file(tables, tmp_path_factory):
    """The functions' business clock (LOCAL_CLOCK_FILE, as the local runtime keeps it); `run` moves it."""
    return tmp_path_factory.getbasetemp() / "job-clock.json"
