"""Builds tests/c/test_exchange.c and tests/c/test_store.cpp (the shared
token store through the C++ wrapper), starts the OpenID Connect test
server, fetches authorization codes, and runs the programs plainly and under
valgrind; test_store runs a second time in a new process on the store the
first run filled. Exit status: non-zero if any run failed."""

import base64
import hashlib
import json
import os
import pathlib
import secrets
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from oidc_server import OIDCServer  # noqa: E402

import jwt  # noqa: E402  (PyJWT, tests/requirements.txt)

# `make test` points TOKENCLIENT_LIBDIR at the test-hooks build (target/hooks/release).
LIBDIR = pathlib.Path(os.environ.get("TOKENCLIENT_LIBDIR", REPO / "target" / "release"))
BUILD = REPO / "build" / "c-tests"
CLIENTS = [
    "basic-client", "post-client", "hs256-client", "es256-client", "es384-client", "rs256-client",
    "ps256-client", "eddsa-client", "talkdesk-client", "public-client", "pingone-pkjwt",
    "pingone-hs256", "pingone-basic",
]


def build(source: str, compiler: str, *flags: str) -> pathlib.Path:
    """Builds tests/c/<source> against the library into build/c-tests."""
    BUILD.mkdir(parents=True, exist_ok=True)
    exe = BUILD / pathlib.Path(source).stem
    subprocess.run(
        [compiler, *flags, "-Wall", "-Wextra", "-Werror", "-g", f"-I{REPO / 'include'}",
         str(REPO / "tests" / "c" / source), f"-L{LIBDIR}", "-ltokenclient", f"-Wl,-rpath,{LIBDIR}", "-lcurl",
         "-lcrypto", "-pthread", "-o", str(exe)],
        check=True,
    )
    return exe


def store_environment(server: OIDCServer, store_dir: str, fresh: bool) -> dict:
    c = server.client("basic-client")
    assert c["auth_method"] == "client_secret_basic"
    return dict(os.environ, TC_STORE_TOKEN_URL=server.token_url("basic-client"), TC_STORE_CLIENT_ID=c["client_id"],
                TC_STORE_SECRET=c["client_secret"], TC_STATS_URL=server.manifest["stats_url"],
                TC_STORE_DIR=store_dir, TC_STORE_FRESH="1" if fresh else "0")


def run_store(server: OIDCServer, exe: pathlib.Path, work: pathlib.Path, valgrind: list) -> int:
    """test_store: twice on one store (the second process finds every token
    there), then under valgrind on a store of its own."""
    shared = work / "shared"
    shared.mkdir(mode=0o700)
    runs = [("plain, new store", [str(exe)], shared, True),
            ("plain, a second process on that store", [str(exe)], shared, False)]
    alone = work / "valgrind"
    alone.mkdir(mode=0o700)
    runs.append(("valgrind, new store", valgrind + [str(exe)], alone, True))
    status = 0
    for label, cmd, store_dir, fresh in runs:
        print(f"== test_store ({label})", flush=True)
        rc = subprocess.run(cmd, env=store_environment(server, str(store_dir), fresh)).returncode
        print(f"== test_store ({label}): {'ok' if rc == 0 else 'FAILED'}", flush=True)
        status |= rc
    return status


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


def hsm_environment(server: OIDCServer, work: pathlib.Path) -> dict:
    """A SoftHSM2 token (tests/softhsm.py) and a client registered (RFC 7591)
    for its P-256 key, for the PKCS#11 part of the plain run."""
    hsm = json.loads(subprocess.run([sys.executable, str(REPO / "tests" / "softhsm.py"), str(work)], check=True,
                                    capture_output=True, text=True).stdout)
    key = hsm["keys"]["p256"]
    assert key["never_extractable"] and key["sensitive"]
    client_id = server.register_key_client(key["jwk"], "ES256", "c-hsm")
    jwk = dict(key["jwk"], kid="c-hsm", alg="ES256", use="sig")
    return {"SOFTHSM2_CONF": hsm["conf"], "TC_HSM_URI": key["uri"], "TC_HSM_CLIENT": client_id, "TC_HSM_KID": "c-hsm",
            "TC_HSM_ASSERTION": str(work / "assertion.jwt"), "TC_HSM_JWK": json.dumps(jwk)}


def verify_hsm_assertion(env: dict, token_url: str) -> bool:
    """The assertion the C program made with the token's key, verified by PyJWT."""
    assertion = pathlib.Path(env["TC_HSM_ASSERTION"]).read_text().strip()
    key = jwt.PyJWK(json.loads(env["TC_HSM_JWK"])).key
    claims = jwt.decode(assertion, key, algorithms=["ES256"], audience=token_url)
    ok = claims["iss"] == env["TC_HSM_CLIENT"] and jwt.get_unverified_header(assertion)["kid"] == "c-hsm"
    print(f"PKCS#11 assertion from C verified by PyJWT: {'ok' if ok else 'FAILED'}", flush=True)
    return ok


VALGRIND = ["valgrind", "--quiet", "--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect"]


def main() -> int:
    exe = build("test_exchange.c", os.environ.get("CC", "cc"), "-std=c11")
    store_exe = build("test_store.cpp", os.environ.get("CXX", "c++"), "-std=c++17")
    runs = {
        "plain": [str(exe)],
        "valgrind": ["env", "TC_CALLERS=100"] + VALGRIND + [str(exe)],
    }
    status = 0
    with OIDCServer() as server, tempfile.TemporaryDirectory(prefix="tokenclient-hsm-") as work:
        hsm = hsm_environment(server, pathlib.Path(work))
        for label, cmd in runs.items():
            print(f"== test_exchange ({label})", flush=True)
            # Codes are single-use: fetch a fresh set for each run. The
            # PKCS#11 part runs plainly only (SoftHSM2's own allocations are
            # not this library's to account for under valgrind).
            env = dict(environment(server), **(hsm if label == "plain" else {}))
            rc = subprocess.run(cmd, env=env).returncode
            if label == "plain" and rc == 0 and not verify_hsm_assertion(hsm, server.manifest["token_url"]):
                rc = 1
            print(f"== test_exchange ({label}): {'ok' if rc == 0 else 'FAILED'}", flush=True)
            status |= rc
        with tempfile.TemporaryDirectory(prefix="tokenclient-store-") as store_work:
            status |= run_store(server, store_exe, pathlib.Path(store_work), VALGRIND)
    return status


if __name__ == "__main__":
    sys.exit(main())
