"""`make install` into a temporary prefix, used the ways people use a C
library: pkg-config (shared and static), CMake's find_package, the C++
wrapper, and the command-line tool; each runs a real exchange against the
test server. Then `make uninstall` leaves nothing behind."""

import json
import os
import pathlib
import shlex
import subprocess
import sys

import jwt
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "examples"))
from oidc_server import OIDCServer  # noqa: E402
from run_demo import demo_env  # noqa: E402  (the inputs `make demo` gives examples/c/demo.c)

VERSION = next(
    line.split('"')[1] for line in (REPO / "Cargo.toml").read_text().splitlines() if line.startswith("version = ")
)
MAJOR = VERSION.split(".")[0]


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, text=True, capture_output=True, **kw)


def files_under(root: pathlib.Path):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink())


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    p = tmp_path_factory.mktemp("prefix")
    run(["make", "-s", "-C", str(REPO), "install", f"PREFIX={p}"])
    yield p
    run(["make", "-s", "-C", str(REPO), "uninstall", f"PREFIX={p}"])


@pytest.fixture(scope="module")
def server():
    with OIDCServer() as s:
        yield s


def pkg_config(prefix, *args):
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    return shlex.split(run(["pkg-config", *args, "tokenclient"], env=env).stdout)


def test_installed_layout(prefix):
    lib = prefix / "lib"
    assert (lib / f"libtokenclient.so.{VERSION}").is_file()
    assert os.readlink(lib / f"libtokenclient.so.{MAJOR}") == f"libtokenclient.so.{VERSION}"
    assert os.readlink(lib / "libtokenclient.so") == f"libtokenclient.so.{MAJOR}"
    assert (lib / "libtokenclient.a").is_file()
    assert (prefix / "include" / "tokenclient.h").read_text() == (REPO / "include" / "tokenclient.h").read_text()
    assert (prefix / "include" / "tokenclient.hpp").is_file()
    assert (prefix / "bin" / "tokenclient").is_file()
    soname = run(["readelf", "-d", str(lib / f"libtokenclient.so.{VERSION}")]).stdout
    assert f"Library soname: [libtokenclient.so.{MAJOR}]" in soname
    pc = (lib / "pkgconfig" / "tokenclient.pc").read_text()
    assert f"prefix={prefix}\n" in pc and f"Version: {VERSION}" in pc
    assert "Requires.private: libcurl openssl" in pc


def test_only_tokenclient_symbols_are_exported(prefix):
    out = run(["nm", "-D", "--defined-only", str(prefix / "lib" / f"libtokenclient.so.{VERSION}")]).stdout
    symbols = [line.split()[-1] for line in out.splitlines() if line.strip()]
    assert len(symbols) >= 40
    unexpected = [s for s in symbols if not s.startswith("tokenclient_")]
    assert not unexpected, f"unexpected exported symbols: {unexpected[:20]}"


def test_pkg_config_shared(prefix, server, tmp_path):
    exe = tmp_path / "demo-shared"
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", str(REPO / "examples/c/demo.c"), "-o", str(exe),
         *pkg_config(prefix, "--cflags", "--libs"), f"-Wl,-rpath,{prefix / 'lib'}"])
    needed = run(["readelf", "-d", str(exe)]).stdout
    assert f"[libtokenclient.so.{MAJOR}]" in needed
    out = run([str(exe)], env=demo_env(server)).stdout
    assert "authorization_code with private_key_jwt" in out and 'error "invalid_client"' in out


def test_pkg_config_static(prefix, server, tmp_path):
    exe = tmp_path / "demo-static"
    archive = str(prefix / "lib" / "libtokenclient.a")
    libs = [archive if flag == "-ltokenclient" else flag for flag in pkg_config(prefix, "--static", "--libs")]
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", str(REPO / "examples/c/demo.c"), "-o", str(exe),
         *pkg_config(prefix, "--cflags"), *libs])
    assert "libtokenclient" not in run(["readelf", "-d", str(exe)]).stdout
    out = run([str(exe)], env=demo_env(server)).stdout
    assert "refresh_token:" in out


def test_cmake_find_package(prefix, server, tmp_path):
    build = tmp_path / "cmake-build"
    run(["cmake", "-S", str(REPO / "tests/install/cmake"), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}",
         f"-DDEMO_SOURCE={REPO / 'examples/c/demo.c'}"])
    run(["cmake", "--build", str(build)])
    out = run([str(build / "demo")], env=demo_env(server)).stdout
    assert "sid" in out and 'error "invalid_client"' in out
    # A version the package cannot satisfy is refused.
    bad = tmp_path / "cmake-bad"
    (bad / "src").mkdir(parents=True)
    (bad / "src" / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nproject(x C)\nfind_package(tokenclient 1.0 CONFIG REQUIRED)\n")
    r = run(["cmake", "-S", str(bad / "src"), "-B", str(bad / "b"), f"-DCMAKE_PREFIX_PATH={prefix}"], check=False)
    assert r.returncode != 0


def test_cpp_wrapper(prefix, server, tmp_path):
    exe = tmp_path / "example-cpp"
    run(["c++", "-std=c++17", "-Wall", "-Wextra", "-Werror", str(REPO / "examples/cpp/example.cpp"), "-o", str(exe),
         *pkg_config(prefix, "--cflags", "--libs"), f"-Wl,-rpath,{prefix / 'lib'}"])
    out = run([str(exe)], env=demo_env(server)).stdout
    assert "refreshed: new access token" in out and "wrong secret: HTTP 401 invalid_client" in out
    # Per-call options reach C: a deadline, and a fired Cancel.
    assert "client_credentials within 5 s: Bearer" in out and "get_token with a fired Cancel: cancelled" in out
    # OpenID Connect through the wrapper: discovery, introspection, revocation.
    assert "discovered: yes" in out and "introspected active, then revoked: yes" in out
    assert "dpop: DPoP, bound to the key: yes" in out
    assert "signer: key error, its message" in out
    # The log callback saw both exchanges, and the counters count them.
    assert "event request.done authorization_code" in out and "event request.done refresh_token" in out
    counters = json.loads(out.split("counters ", 1)[1].splitlines()[0])
    assert counters["requests"]["authorization_code"] == 1 and counters["requests"]["refresh_token"] == 1


def cli(prefix, *args, env=None, check=False):
    return run([str(prefix / "bin" / "tokenclient"), *args], env=env or dict(os.environ), check=check)


def test_cli(prefix, server, tmp_path):
    basic = server.client("basic-client")
    secret_file = tmp_path / "secret"
    secret_file.write_text(basic["client_secret"] + "\n")
    common = ["--token-url", server.token_url("basic-client"), "--client-id", basic["client_id"],
              "--client-secret-file", str(secret_file)]

    r = cli(prefix, "token", *common, "--scope", "read")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["scope"] == "read"
    r = cli(prefix, "token", *common, "--scope", "read", "--format", "token")
    assert r.returncode == 0 and r.stdout.strip() and "{" not in r.stdout
    r = cli(prefix, "token", *common, "--format", "env")
    assert r.stdout.startswith("TOKENCLIENT_ACCESS_TOKEN='")

    # -v / -vv: the library's events, one JSON object a line on stderr, never a secret.
    r = cli(prefix, "token", *common, "--scope", "read", "-v")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stderr.splitlines()]
    assert [(e["level"], e["event"]) for e in events] == [("info", "request.done")]
    assert events[0]["grant_type"] == "client_credentials" and events[0]["scope"] == "read"
    r = cli(prefix, "token", *common, "-vv")
    assert [json.loads(line)["event"] for line in r.stderr.splitlines()] == ["request.sent", "request.done"]
    token = json.loads(r.stdout)["access_token"]
    assert basic["client_secret"] not in r.stderr and token not in r.stderr

    # authorization_code with a bare base64 key from the environment, then refresh from a file.
    td = server.client("talkdesk-client")
    env = dict(os.environ, TD_KEY=td["private_key_b64"])
    key_args = ["--token-url", server.token_url("talkdesk-client"), "--client-id", td["client_id"],
                "--private-key-env", "TD_KEY", "--kid", td["kid"]]
    r = cli(prefix, "token", *key_args, "--grant", "authorization_code", "--code", server.code("talkdesk-client"),
            "--redirect-uri", server.redirect_uri, env=env)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert first["sid"] and first["id_token"]
    rt_file = tmp_path / "rt"
    rt_file.write_text(first["refresh_token"])
    r = cli(prefix, "token", *key_args, "--grant", "refresh_token", "--refresh-token-file", str(rt_file), env=env)
    assert r.returncode == 0, r.stderr

    # assertion: verified by PyJWT.
    r = cli(prefix, "assertion", *key_args, env=env)
    assert r.returncode == 0
    claims = jwt.decode(r.stdout.strip(), options={"verify_signature": False})
    assert claims["iss"] == td["client_id"] and claims["aud"] == server.token_url("talkdesk-client")
    assert jwt.get_unverified_header(r.stdout.strip())["kid"] == td["kid"]

    # Shortcuts.
    r = cli(prefix, "assertion", "--talkdesk", "acme", "--region", "eu", "--client-id", "x",
            "--client-secret-env", "NOPE_NOT_SET", "--auth", "jwt")
    assert r.returncode == 3 and "NOPE_NOT_SET" in r.stderr
    p1 = server.client("pingone-hs256")
    env = dict(os.environ, P1_SECRET=p1["client_secret"])
    r = cli(prefix, "token", "--pingone", server.manifest["pingone"]["env_id"], "--auth-base",
            server.manifest["pingone"]["auth_base"], "--client-id", p1["client_id"], "--client-secret-env",
            "P1_SECRET", "--auth", "jwt", "--scope", "read", env=env)
    assert r.returncode == 0, r.stderr

    # DPoP: a token bound to a key from a file, then a resource proof verified by PyJWT.
    dpop_key = tmp_path / "dpop.pem"
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(dpop_key)])
    env = dict(os.environ, DPOP_SECRET=server.client("dpop-client")["client_secret"])
    r = cli(prefix, "token", "--issuer", server.manifest["issuer"], "--client-id", "dpop-client",
            "--client-secret-env", "DPOP_SECRET", "--auth", "post", "--dpop-key-file", str(dpop_key),
            "--scope", "read", env=env)
    assert r.returncode == 0, r.stderr
    bound = json.loads(r.stdout)
    assert bound["token_type"] == "DPoP"
    url = server.manifest["protected_url"]
    env = dict(os.environ, AT=bound["access_token"])
    r = cli(prefix, "proof", "--dpop-key-file", str(dpop_key), "--method", "GET", "--url", url + "?q=1",
            "--token-env", "AT", env=env)
    assert r.returncode == 0, r.stderr
    proof = r.stdout.strip()
    header = jwt.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt" and "d" not in header["jwk"]
    claims = jwt.decode(proof, jwt.PyJWK(header["jwk"]).key, algorithms=["ES256"])
    assert claims["htm"] == "GET" and claims["htu"] == url and claims["ath"]
    assert cli(prefix, "proof", "--method", "GET", "--url", url).returncode == 2
    # mTLS: tls_client_auth through the issuer's aliases.
    m = server.manifest["mtls"]
    r = cli(prefix, "token", "--issuer", server.manifest["issuer"], "--client-id", "mtls-client",
            "--cert", m["certs"]["mtls-client"]["cert_file"], "--key", m["certs"]["mtls-client"]["key_file"],
            "--ca-file", m["ca_file"], "--auth", "tls", "--scope", "read")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["token_type"] == "Bearer"
    assert cli(prefix, "token", "--issuer", server.manifest["issuer"], "--client-id", "mtls-client",
               "--auth", "tls").returncode == 3  # no certificate: a CONFIG error before any request
    # Exit statuses: usage 2, bad argument 3, transport 4, OAuth 5; secrets never printed.
    assert cli(prefix, "token").returncode == 2
    assert cli(prefix, "token", *common, "--bogus", "x").returncode == 2
    assert cli(prefix, "frobnicate").returncode == 2
    assert cli(prefix, "token", "--token-url", "http://example.com/t", "--client-id", "x", "--public").returncode == 3
    assert cli(prefix, "token", "--token-url", "http://127.0.0.1:9/t", "--client-id", "x", "--public").returncode == 4
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong-secret-value")
    r = cli(prefix, "token", "--token-url", server.token_url("basic-client"), "--client-id", basic["client_id"],
            "--client-secret-file", str(wrong))
    assert r.returncode == 5 and "invalid_client" in r.stderr and "wrong-secret-value" not in r.stderr
    for sub in ("token", "login", "assertion", "discover", "revoke", "introspect", "proof"):
        r = cli(prefix, sub, "--help")
        assert r.returncode == 0 and f"Usage: tokenclient {sub}" in r.stdout

    # OpenID Connect: discover, a token through the issuer, introspect, revoke, introspect.
    issuer = server.manifest["issuer"]
    r = cli(prefix, "discover", "--issuer", issuer)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["issuer"] == issuer
    assert cli(prefix, "discover", "--issuer", issuer + "/").returncode == 3  # names another issuer
    assert cli(prefix, "discover").returncode == 2
    via_issuer = ["--issuer", issuer, "--client-id", basic["client_id"], "--client-secret-file", str(secret_file)]
    r = cli(prefix, "token", *via_issuer, "--scope", "read", "--format", "token")
    assert r.returncode == 0, r.stderr
    token_file = tmp_path / "token"
    token_file.write_text(r.stdout.strip())
    r = cli(prefix, "introspect", *via_issuer, "--token-file", str(token_file))
    assert r.returncode == 0 and json.loads(r.stdout)["active"] is True, r.stderr
    r = cli(prefix, "revoke", *via_issuer, "--token-file", str(token_file), "--hint", "access_token")
    assert r.returncode == 0 and r.stdout.strip() == "revoked", r.stderr
    r = cli(prefix, "introspect", *via_issuer, "--token-file", str(token_file))
    assert json.loads(r.stdout)["active"] is False
    assert token_file.read_text() not in r.stderr
    assert cli(prefix, "revoke", *via_issuer).returncode == 2  # no token given
    assert cli(prefix, "revoke", *common, "--token-file", str(token_file)).returncode == 2  # no issuer


def test_destdir_and_uninstall(tmp_path):
    stage = tmp_path / "stage"
    run(["make", "-s", "-C", str(REPO), "install", f"DESTDIR={stage}", "PREFIX=/opt/tc"])
    installed = files_under(stage)
    assert f"opt/tc/lib/libtokenclient.so.{VERSION}" in installed
    assert "prefix=/opt/tc\n" in (stage / "opt/tc/lib/pkgconfig/tokenclient.pc").read_text()
    assert len(installed) == 10, installed
    run(["make", "-s", "-C", str(REPO), "uninstall", f"DESTDIR={stage}", "PREFIX=/opt/tc"])
    assert files_under(stage) == []


def test_cli_pkcs11(prefix, server, tmp_path):
    """--pkcs11-uri: a key generated inside a SoftHSM2 token signs the assertion
    of a client registered for its public key; the PIN comes from the
    environment, never from the command line."""
    hsm_dir = tmp_path / "hsm"
    hsm_dir.mkdir()
    hsm = json.loads(run([sys.executable, str(REPO / "tests" / "softhsm.py"), str(hsm_dir)]).stdout)
    key = hsm["keys"]["p256"]
    client_id = server.register_key_client(key["jwk"], "ES256", "cli-hsm")
    jwk = dict(key["jwk"], kid="cli-hsm", alg="ES256", use="sig")
    env = dict(os.environ, SOFTHSM2_CONF=hsm["conf"], HSM_PIN=hsm["pin"])
    args = ["--token-url", server.manifest["token_url"], "--client-id", client_id, "--pkcs11-uri", key["uri_no_pin"],
            "--pkcs11-pin-env", "HSM_PIN", "--kid", "cli-hsm"]
    r = cli(prefix, "token", *args, "--scope", "read", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["access_token"]
    r = cli(prefix, "assertion", *args, env=env)
    assert r.returncode == 0, r.stderr
    assertion = r.stdout.strip()
    jwt.decode(assertion, jwt.PyJWK(jwk).key, algorithms=["ES256"], audience=server.manifest["token_url"])
    # The PIN never goes on the command line.
    r = cli(prefix, "token", "--token-url", server.manifest["token_url"], "--client-id", client_id,
            "--pkcs11-uri", key["uri"], env=env)
    assert r.returncode == 2 and hsm["pin"] not in r.stderr
    # A wrong PIN: a key error (exit 3), the PIN not shown.
    r = cli(prefix, "token", *args, env=dict(env, HSM_PIN="wrong-pin"))
    assert r.returncode == 3 and "wrong-pin" not in r.stderr
