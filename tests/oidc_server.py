"""Starts the oidc-provider test server (tests/server) and talks to it.

Used by the Python tests, the C exchange tests and `make demo`:

    with OIDCServer() as server:
        server.manifest["token_url"], server.code("es256-client")

Run as a script to serve until interrupted:
    python3 tests/oidc_server.py [--https-cert C --https-key K [--client-ca CA]]
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request

REPO = pathlib.Path(__file__).resolve().parent.parent
SERVER = REPO / "tests" / "server" / "server.mjs"


class OIDCServer:
    def __init__(self, *args: str, ca_file: str | None = None) -> None:
        self.args = list(args)
        self.ca_file = ca_file
        self.manifest: dict = {}
        self._proc: subprocess.Popen | None = None
        self._dir: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> "OIDCServer":
        if not (REPO / "tests" / "server" / "node_modules").exists():
            raise RuntimeError("run `make server` (npm ci --prefix tests/server) first")
        self._dir = tempfile.TemporaryDirectory(prefix="tokenclient-oidc-")
        manifest = pathlib.Path(self._dir.name) / "manifest.json"
        self._proc = subprocess.Popen(
            ["node", str(SERVER), "--manifest", str(manifest), "--parent-pid", str(os.getpid()), *self.args],
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = threading.Event()

        def watch() -> None:
            assert self._proc and self._proc.stdout
            for line in self._proc.stdout:
                if line.startswith("READY "):
                    ready.set()

        threading.Thread(target=watch, daemon=True).start()
        if not ready.wait(60):
            self.__exit__(None, None, None)
            raise RuntimeError("the test server did not start within 60 s")
        self.manifest = json.loads(manifest.read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._dir:
            self._dir.cleanup()
            self._dir = None

    def client(self, name: str) -> dict:
        return self.manifest["clients"][name]

    def token_url(self, name: str) -> str:
        return self.client(name)["token_url"]

    @property
    def redirect_uri(self) -> str:
        return self.manifest["redirect_uri"]

    def register_key_client(self, jwk: dict, alg: str, kid: str) -> str:
        """Registers (RFC 7591, open on the main issuer) a private_key_jwt client
        of the public `jwk` for client_credentials with scope read; returns its
        client_id. For keys made by the tests (a PKCS#11 token's)."""
        body = {
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": alg,
            "jwks": {"keys": [{**jwk, "kid": kid, "alg": alg, "use": "sig"}]},
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
            "scope": "read",
        }
        request = urllib.request.Request(self.manifest["registration_url"], json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            assert r.status == 201
            return json.loads(r.read())["client_id"]

    def code(self, name: str, scope: str = "openid offline_access", code_challenge: str | None = None,
             nonce: str | None = None) -> str:
        """A fresh authorization code for client `name` (its ID token carries `nonce` when given)."""
        c = self.client(name)
        query = {
            "issuer": c.get("issuer", "main"),
            "client_id": c["client_id"],
            "redirect_uri": self.redirect_uri,
            "scope": scope,
        }
        if code_challenge:
            query.update(code_challenge=code_challenge, code_challenge_method="S256")
        if nonce:
            query.update(nonce=nonce)
        url = self.manifest["code_url"] + "?" + urllib.parse.urlencode(query)
        import ssl

        ctx = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        with urllib.request.urlopen(url, timeout=30, context=ctx) as resp:
            return json.loads(resp.read())["code"]


if __name__ == "__main__":
    with OIDCServer(*sys.argv[1:]) as s:
        print(json.dumps(s.manifest, indent=2))
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
