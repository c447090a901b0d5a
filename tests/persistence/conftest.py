"""The `kind` fixture: tests that start their own servers run once per server kind."""
from __future__ import annotations

import pytest

from helpers import KINDS


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param
