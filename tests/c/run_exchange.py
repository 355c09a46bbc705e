"""Builds tests/c/test_exchange.c, starts the OpenID Connect test server,
fetches authorization codes, and runs the program plainly and under
valgrind. Exit status: non-zero if any run failed."""

import base64
import hashlib
import os
import pathlib
import secrets
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from oidc_server import OIDCServer  # noqa: E402

# `make test` points TOKENCLIENT_LIBDIR at the test-hooks build (target/hooks/release).
LIBDIR = pathlib.Path(os.environ.get("TOKENCLIENT_LIBDIR", REPO / "target" / "release"))
BUILD = REPO / "build" / "c-tests"
CLIENTS = [
    "basic-client", "post-client", "hs256-client", "es256-client", "es384-client", "rs256-client",
    "ps256-client", "eddsa-client", "talkdesk-client", "public-client", "pingone-pkjwt",
    "pingone-hs256", "pingone-basic",
]


def build() -> pathlib.Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    exe = BUILD / "test_exchange"
    subprocess.run(
        [os.environ.get("CC", "cc"), "-std=c11", "-Wall", "-Wextra", "-Werror", "-g",
         f"-I{REPO / 'include'}", str(REPO / "tests" / "c" / "test_exchange.c"),
         f"-L{LIBDIR}", "-ltokenclient", f"-Wl,-rpath,{LIBDIR}", "-lcurl", "-pthread", "-o", str(exe)],
        check=True,
    )
    return exe


def environment(server: OIDCServer) -> dict:
    env = dict(os.environ, TC_CLIENTS=" ".join(CLIENTS), TC_REDIRECT_URI=server.redirect_uri,
               TC_STATS_URL=server.manifest["stats_url"], TC_ISSUER=server.manifest["issuer"],
               TC_AUTHORIZE_URL=server.manifest["authorize_url"], TC_DEVICE_URL=server.manifest["device_url"])
    for name in CLIENTS:
        c = server.client(name)
        prefix = "TC_" + name.upper().replace("-", "_") + "_"
        env[prefix + "URL"] = server.token_url(name)
        env[prefix + "ID"] = c["client_id"]
        env[prefix + "METHOD"] = c["auth_method"]
        if "client_secret" in c:
            env[prefix + "SECRET"] = c["client_secret"]
        if c["auth_method"] == "private_key_jwt":
            env[prefix + "KEY"] = c.get("private_key_b64") or c["private_key_pem"]
            env[prefix + "KID"] = c["kid"]
            env[prefix + "ALG"] = c["alg"]
        if c["auth_method"] == "none":
            verifier = secrets.token_urlsafe(32)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            env[prefix + "VERIFIER"] = verifier
            env[prefix + "CODE"] = server.code(name, code_challenge=challenge)
        else:
            env[prefix + "CODE"] = server.code(name)
    m = server.manifest
    env.update(TC_DPOP_SECRET=server.client("dpop-client")["client_secret"], TC_DPOP_CODE=server.code("dpop-client"),
               TC_PROTECTED_URL=m["protected_url"], TC_MTLS_CA=m["mtls"]["ca_file"])
    for name in ("mtls-client", "selfsigned-client"):
        cert = m["mtls"]["certs"][name]
        prefix = "TC_" + name.upper().replace("-", "_") + "_"
        env.update({prefix + "CERT": cert["cert_file"], prefix + "KEY": cert["key_file"],
                    prefix + "CERT_PEM": cert["cert_pem"], prefix + "KEY_PEM": cert["key_pem"],
                    prefix + "X5T": cert["x5t_s256"]})
    env["TC_POST_CLIENT_CODE2"] = server.code("post-client")
    env["TC_NONCE_CODE"] = server.code("post-client", nonce="c-nonce-1")
    return env


def main() -> int:
    exe = build()
    runs = {
        "plain": [str(exe)],
        "valgrind": ["env", "TC_CALLERS=100", "valgrind", "--quiet", "--error-exitcode=1", "--leak-check=full",
                     "--errors-for-leak-kinds=definite,indirect", str(exe)],
    }
    status = 0
    with OIDCServer() as server:
        for label, cmd in runs.items():
            print(f"== test_exchange ({label})", flush=True)
            # Codes are single-use: fetch a fresh set for each run.
            rc = subprocess.run(cmd, env=environment(server)).returncode
            print(f"== test_exchange ({label}): {'ok' if rc == 0 else 'FAILED'}", flush=True)
            status |= rc
    return status


if __name__ == "__main__":
    sys.exit(main())
