"""Fixtures: the binding imported from the source tree (or the installed
package), the real OpenID Connect test server, and a throwaway SoftHSM2
token."""

import json
import os
import pathlib
import shutil
import subprocess
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


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory):
    """The manifest of a SoftHSM2 token made for this session
    (tests/softhsm.py: RSA-2048, P-256 and P-384 keys generated inside it).
    SOFTHSM2_CONF is set for this process (and the children it forks)
    before any test opens the module, and restored after."""
    if not (shutil.which("softhsm2-util") and shutil.which("pkcs11-tool")):
        if os.environ.get("TOKENCLIENT_REQUIRE_SERVER"):
            pytest.fail("softhsm2 and opensc are not installed (apt-get install softhsm2 opensc)")
        pytest.skip("softhsm2 or opensc is not installed")
    work = tmp_path_factory.mktemp("softhsm")
    made = subprocess.run([sys.executable, str(REPO / "tests" / "softhsm.py"), str(work)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    manifest = json.loads(made.stdout)
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = manifest["conf"]
    try:
        yield manifest
    finally:
        if before is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = before
