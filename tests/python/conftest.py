"""Shared fixtures of the Python tests of libtokenclient (tests/python).

The library is taken from $TOKENCLIENT_LIBRARY (the Makefile sets it), else
from target/release/libtokenclient.so: build it first (`make build`).
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tcffi  # noqa: E402


@pytest.fixture(scope="session")
def lib() -> tcffi.Library:
    path = os.environ.get("TOKENCLIENT_LIBRARY") or str(tcffi.DEFAULT_LIBRARY)
    if not os.path.exists(path):
        pytest.fail(f"{path} does not exist: run `make build` or set TOKENCLIENT_LIBRARY")
    return tcffi.Library(path)
