"""Fixtures: the binding imported from the source tree (or the installed
package), and the real OpenID Connect test server."""

import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "bindings" / "python"))
sys.path.insert(0, str(REPO / "tests"))

from oidc_server import OIDCServer  # noqa: E402


@pytest.fixture(scope="session")
def server():
    with OIDCServer() as s:
        yield s
