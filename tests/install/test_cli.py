"""The command-line tool as a user meets it: `tokenclient login` end to end
against the real test server (the test plays the browser: a `$BROWSER`
program that logs the test user in at the printed URL and follows the
redirect to the CLI's loopback listener), the device grant, what reaches a
terminal, `--output` files, completion scripts and environment fallbacks.

Uses the build tree's binary (target/release/tokenclient, `make build`);
test_install.py runs the installed one."""

import json
import os
import pathlib
import pty
import re
import select
import socket
import stat
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from oidc_server import OIDCServer  # noqa: E402

CLI = REPO / "target" / "release" / "tokenclient"

# The exit statuses `tokenclient --help` documents.
EXIT_USAGE, EXIT_TRANSPORT, EXIT_OAUTH, EXIT_CALLBACK = 2, 4, 5, 8


@pytest.fixture(scope="module")
def server():
    with OIDCServer() as s:
        yield s


def run(*args, env=None, timeout=60):
    return subprocess.run([str(CLI), *args], text=True, capture_output=True, env=env or clean_env(),
                          timeout=timeout)


def clean_env(**extra):
    """The environment without any TOKENCLIENT_* setting of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENCLIENT_") and k != "BROWSER"}
    env.update(extra)
    return env


# The browser: given the authorization URL, the test user logs in and
# consents at the real authorization endpoint (the server's /test/authorize
# follows its redirects), then the browser goes to the callback URL, which is
# the CLI's loopback listener. FAKE_BROWSER_MODE changes what it does;
# what it saw goes to FAKE_BROWSER_LOG as JSON.
BROWSER = textwrap.dedent("""\
    #!/usr/bin/env python3
    import json, os, sys, urllib.error, urllib.parse, urllib.request
    url = sys.argv[1]
    mode = os.environ.get("FAKE_BROWSER_MODE", "ok")
    log = {"url": url}
    def get(address):
        try:
            with urllib.request.urlopen(address, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError as e:
            return None, type(e).__name__ + ": " + str(e)
    redirect = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["redirect_uri"]
    log["redirect_uri"] = redirect
    query = urllib.parse.urlencode({"url": url, "redirect_uri": redirect})
    status, body = get(os.environ["FAKE_BROWSER_AUTHORIZE"] + "?" + query)
    callback = json.loads(body)["callback"]
    if mode == "wrong-state":
        parts = urllib.parse.urlsplit(callback)
        q = dict(urllib.parse.parse_qsl(parts.query), state="not-the-request-state")
        callback = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))
    log["secret_env"] = sorted(k for k in os.environ if k.startswith("LOGIN_SECRET"))
    if mode == "noise-first":
        # Another path, and the callback path without this login's state
        # (what any local process could send): neither ends the login.
        origin = urllib.parse.urlsplit(callback)
        log["favicon"] = get(f"{origin.scheme}://{origin.netloc}/favicon.ico")[0]
        log["forged"] = get(f"{origin.scheme}://{origin.netloc}{origin.path}?code=forged&state=forged")[0]
        log["no_state"] = get(f"{origin.scheme}://{origin.netloc}{origin.path}")[0]
    log["callback"] = get(callback)
    log["second"] = get(callback)
    with open(os.environ["FAKE_BROWSER_LOG"] + ".part", "w") as f:
        json.dump(log, f)
    os.rename(os.environ["FAKE_BROWSER_LOG"] + ".part", os.environ["FAKE_BROWSER_LOG"])
""")


@pytest.fixture
def browser(server, tmp_path):
    """Environment settings that make $BROWSER the test's browser; the log
    path it writes."""
    script = tmp_path / "browser.py"
    script.write_text(BROWSER)
    script.chmod(0o755)
    log = tmp_path / "browser.json"
    return log, {"BROWSER": str(script), "FAKE_BROWSER_LOG": str(log),
                 "FAKE_BROWSER_AUTHORIZE": server.manifest["authorize_url"]}


def browser_log(log):
    """What the browser saw: it writes its log after the CLI has answered
    (and may have exited), so wait for it."""
    deadline = time.monotonic() + 30
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return json.loads(log.read_text())


def login_args(server, *more):
    return ["login", "--issuer", server.manifest["issuer"], "--client-id", "cli-client", "--wait", "60", *more]


def verify_id_token(server, id_token):
    """The ID token, verified by PyJWT with the issuer's published keys."""
    metadata = json.loads(urllib.request.urlopen(server.manifest["issuer"] + "/.well-known/openid-configuration",
                                                 timeout=30).read())
    key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(id_token)
    return jwt.decode(id_token, key.key, algorithms=["RS256"], audience="cli-client", issuer=metadata["issuer"])


def test_login_through_the_browser_and_a_loopback_redirect(server, browser, tmp_path):
    log, env = browser
    out = tmp_path / "token.json"
    r = run(*login_args(server, "--scope", "openid offline_access", "--param", "prompt=consent",
                        "--output", str(out)), env=clean_env(**env, FAKE_BROWSER_MODE="noise-first"))
    assert r.returncode == 0, r.stderr
    seen = browser_log(log)
    # RFC 8252: a loopback IP literal, a port of the CLI's choosing, PKCE.
    redirect = urllib.parse.urlsplit(seen["redirect_uri"])
    assert redirect.scheme == "http" and redirect.hostname == "127.0.0.1" and redirect.port > 0
    assert redirect.path == "/callback"
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(seen["url"]).query))
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"] and query["prompt"] == "consent"
    assert seen["url"] in r.stderr  # printed as well as opened
    # Another path was answered 404, callbacks without this login's state
    # 400, and none ended the wait; the redirect got the success page; then
    # the listener was closed.
    assert (seen["favicon"], seen["forged"], seen["no_state"]) == (404, 400, 400)
    assert "logged in as test-user" in r.stderr
    status, page = seen["callback"]
    assert status == 200 and "logged in" in page
    assert seen["second"][0] is None and "Connection refused" in seen["second"][1], seen["second"]
    # The token went to the file only, readable by its owner alone.
    assert r.stdout == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    token = json.loads(out.read_text())
    assert token["access_token"] and token["refresh_token"] and token["token_type"] == "Bearer"
    claims = verify_id_token(server, token["id_token"])
    assert claims["nonce"] == query["nonce"] and claims["sub"] == "test-user"
    assert token["access_token"] not in r.stderr and token["refresh_token"] not in r.stderr


def test_login_prints_the_token_when_asked(server, browser):
    log, env = browser
    r = run(*login_args(server, "--output", "-", "--format", "token"), env=clean_env(**env))
    assert r.returncode == 0, r.stderr
    access_token = r.stdout.strip()
    assert access_token and "{" not in access_token
    assert browser_log(log)["callback"][0] == 200


def test_login_refuses_a_callback_with_another_state(server, browser):
    # The callback is refused (400) and the login waits on for the right
    # one; when none came, the exit status says a callback was refused.
    log, env = browser
    r = run(*login_args(server)[:-2], "--wait", "3", env=clean_env(**env, FAKE_BROWSER_MODE="wrong-state"))
    assert r.returncode == EXIT_CALLBACK, (r.returncode, r.stderr)
    assert "state" in r.stderr and r.stdout == ""
    seen = browser_log(log)
    assert seen["callback"][0] == 400 and "state" in seen["callback"][1]
    assert seen["second"][0] == 400  # still listening after a refused callback


def test_the_browser_does_not_inherit_secrets(server, browser, tmp_path):
    log, env = browser
    key = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                         check=True, capture_output=True, text=True).stdout
    r = run(*login_args(server, "--dpop-key-env", "LOGIN_SECRET_DPOP", "--output", str(tmp_path / "t.json")),
            env=clean_env(**env, LOGIN_SECRET_DPOP=key, LOGIN_SECRET_OTHER="kept"))
    assert r.returncode == 0, r.stderr
    assert browser_log(log)["secret_env"] == ["LOGIN_SECRET_OTHER"]
    assert json.loads((tmp_path / "t.json").read_text())["token_type"] == "DPoP"


def test_a_trickling_connection_does_not_hold_the_login(server, tmp_path):
    # One byte every 0.3 s, never a whole request: the login still ends
    # when --wait runs out.
    proc = subprocess.Popen([str(CLI), *login_args(server)[:-2], "--wait", "3", "--no-browser"], env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    try:
        port = None
        while port is None and time.monotonic() - started < 30:
            match = re.search(r"redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A(\d+)", proc.stderr.readline())
            if match:
                port = int(match.group(1))
        assert port, "the CLI printed no authorization URL"
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"G")
            while proc.poll() is None and time.monotonic() - started < 20:
                try:
                    s.sendall(b"E")
                except OSError:
                    break
                time.sleep(0.3)
        assert proc.wait(20) == EXIT_TRANSPORT
    finally:
        proc.kill()
        proc.wait()
    assert time.monotonic() - started < 10


def test_login_gives_up_after_wait(server, tmp_path):
    # A "browser" that opens nothing: nobody comes back.
    started = time.monotonic()
    r = run(*login_args(server)[:-2], "--wait", "2", env=clean_env(BROWSER="true"))
    assert r.returncode == EXIT_TRANSPORT, (r.returncode, r.stderr)
    assert "no browser came back" in r.stderr
    assert time.monotonic() - started < 30


def test_login_without_a_browser_prints_the_url(server, tmp_path):
    marker = tmp_path / "opened"
    opener = tmp_path / "opener.sh"
    opener.write_text(f"#!/bin/sh\ntouch {marker}\n")
    opener.chmod(0o755)
    env = clean_env(BROWSER=str(opener))  # would leave the marker if it were started
    proc = subprocess.Popen([str(CLI), *login_args(server, "--no-browser", "--output", str(tmp_path / "t.json"))],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            match = re.search(r"(http://127\.0\.0\.1:\d+/\S+)", line)
            if match:
                url = match.group(1)
        assert url, "the CLI printed no authorization URL"
        redirect = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["redirect_uri"]
        query = urllib.parse.urlencode({"url": url, "redirect_uri": redirect})
        with urllib.request.urlopen(server.manifest["authorize_url"] + "?" + query, timeout=30) as resp:
            callback = json.loads(resp.read())["callback"]
        with urllib.request.urlopen(callback, timeout=30) as resp:
            assert resp.status == 200
        assert proc.wait(30) == 0, proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    assert json.loads((tmp_path / "t.json").read_text())["id_token"]
    assert not marker.exists()


def device_login(server, tmp_path, deny=False):
    out = tmp_path / "device.json"
    proc = subprocess.Popen([str(CLI), *login_args(server, "--device", "--output", str(out))], env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        code = None
        deadline = time.monotonic() + 30
        while code is None and time.monotonic() < deadline:
            match = re.search(r"enter the code (\S+)", proc.stderr.readline())
            if match:
                code = match.group(1)
        assert code, "the CLI printed no user code"
        query = {"user_code": code, **({"deny": "1"} if deny else {})}
        with urllib.request.urlopen(server.manifest["device_url"] + "?" + urllib.parse.urlencode(query),
                                    timeout=30) as resp:
            assert json.loads(resp.read()) == {"approved": not deny}
        status = proc.wait(60)
        return status, proc.stderr.read(), out
    finally:
        proc.kill()
        proc.wait()


def test_login_with_the_device_grant(server, tmp_path):
    status, stderr, out = device_login(server, tmp_path)
    assert status == 0, stderr
    token = json.loads(out.read_text())
    assert token["access_token"] and token["token_type"] == "Bearer"
    assert token["access_token"] not in stderr


def test_login_with_the_device_grant_denied(server, tmp_path):
    status, stderr, out = device_login(server, tmp_path, deny=True)
    assert status == EXIT_OAUTH, stderr
    assert "access_denied" in stderr and not out.exists()


def on_a_terminal(*args, env):
    """Runs the CLI with standard output on a pseudo-terminal: what it wrote there."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(str(CLI), [str(CLI), *args], env)
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode()


def secret_client(server, tmp_path):
    basic = server.client("basic-client")
    secret = tmp_path / "secret"
    secret.write_text(basic["client_secret"])
    return ["token", "--token-url", server.token_url("basic-client"), "--client-id", basic["client_id"],
            "--client-secret-file", str(secret), "--scope", "read"]


def test_a_terminal_sees_a_description_not_the_token(server, tmp_path):
    args = secret_client(server, tmp_path)
    status, shown = on_a_terminal(*args, env=clean_env())
    assert status == 0, shown
    assert "access_token: (" in shown and "not shown" in shown and "token_type: Bearer" in shown
    # No token-like run of characters (the server's tokens are 43 or more
    # base64url characters), whatever the format.
    long_run = re.compile(r"[A-Za-z0-9_-]{32,}")
    assert not long_run.search(shown) and '"access_token"' not in shown
    for form in ("token", "env"):
        status, shown = on_a_terminal(*args, "--format", form, env=clean_env())
        assert status == 0 and "not shown" in shown and not long_run.search(shown), shown
    # --output - asks for it on the terminal too.
    status, shown = on_a_terminal(*args, "--output", "-", env=clean_env())
    assert status == 0 and '"access_token"' in shown and long_run.search(shown)
    # A pipe gets the whole answer (scripts: TOKEN=$(tokenclient token ...)).
    r = run(*args)
    assert r.returncode == 0 and json.loads(r.stdout)["access_token"]


def test_output_file_is_owner_only_even_when_it_existed(server, tmp_path):
    out = tmp_path / "existing"
    out.write_text("old")
    out.chmod(0o644)
    r = run(*secret_client(server, tmp_path), "--output", str(out), "--format", "token")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().strip() and "old" not in out.read_text() and r.stdout == ""


def test_environment_fallbacks(server, tmp_path):
    basic = server.client("basic-client")
    env = clean_env(TOKENCLIENT_TOKEN_URL=server.token_url("basic-client"), TOKENCLIENT_CLIENT_ID=basic["client_id"],
                    TOKENCLIENT_SCOPE="read", SECRET=basic["client_secret"])
    r = run("token", "--client-secret-env", "SECRET", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["scope"] == "read"
    assert "TOKENCLIENT_TOKEN_URL" in run("token", "--help", env=env).stdout
    # An endpoint on the command line wins over another kind from the environment.
    r = run("token", "--client-secret-env", "SECRET", "--token-url", server.token_url("basic-client"),
            env=dict(env, TOKENCLIENT_TOKEN_URL="", TOKENCLIENT_ISSUER="https://elsewhere.example"))
    assert r.returncode == 0, r.stderr
    r = run("discover", "--issuer", server.manifest["issuer"], env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["issuer"] == server.manifest["issuer"], r.stderr
    # Credentials never come from the environment unasked.
    r = run("token", env=dict(env, TOKENCLIENT_CLIENT_SECRET_FILE="/etc/hostname"))
    assert r.returncode == EXIT_USAGE and "give credentials" in r.stderr


def test_completion_scripts(tmp_path):
    for shell in ("bash", "zsh", "fish"):
        r = run("completions", shell)
        assert r.returncode == 0 and "login" in r.stdout and "client-secret-file" in r.stdout, shell
    script = tmp_path / "tokenclient.bash"
    script.write_text(run("completions", "bash").stdout)
    # bash loads it and registers the completion; asking for the
    # subcommands of `tokenclient lo` gives `login`.
    probe = (f"source {script}; complete -p tokenclient; COMP_WORDS=(tokenclient lo); COMP_CWORD=1; "
             "COMP_LINE='tokenclient lo'; COMP_POINT=${#COMP_LINE}; "
             "_tokenclient tokenclient lo tokenclient; printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = subprocess.run(["bash", "-c", probe], text=True, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "complete" in r.stdout and "login" in r.stdout.splitlines()[1:]


def test_usage_errors(server, tmp_path):
    assert run("token", "--bogus").returncode == EXIT_USAGE
    # The old --output FORMAT is refused, not taken for a file name.
    r = subprocess.run([str(CLI), "token", "--token-url", "https://idp.example/t", "--client-id", "x", "--public",
                        "--output", "token"], cwd=tmp_path, text=True, capture_output=True, env=clean_env())
    assert r.returncode == EXIT_USAGE and "--format token" in r.stderr and not (tmp_path / "token").exists()
    assert run(*login_args(server)[:-2], "--wait", "99999999999").returncode == EXIT_USAGE
    assert run(*login_args(server, "--device", "--port", "8080")).returncode == EXIT_USAGE
    r = run("token", "--token-url", "https://idp.example/t", "--client-id", "x", "--public", "--kid", "k")
    assert r.returncode == EXIT_USAGE and "--kid" in r.stderr
    assert run("login").returncode == EXIT_USAGE  # no --issuer
    r = run("token", "--token-url", "https://idp.example/t", "--client-id", "x", "--client-secret-file",
            "/nonexistent/secret")
    assert r.returncode == 3 and "cannot read" in r.stderr
    r = run("--help")
    assert r.returncode == 0 and "Exit status" in r.stdout
    r = run("--version")
    version = next(line.split('"')[1] for line in (REPO / "Cargo.toml").read_text().splitlines()
                   if line.startswith("version = "))
    assert r.returncode == 0 and r.stdout.strip() == f"tokenclient {version}"


def token_requests(server, client_id):
    with urllib.request.urlopen(f"{server.manifest['stats_url']}?client_id={urllib.parse.quote(client_id)}") as r:
        return json.loads(r.read())["token_requests"]


def test_store_serves_repeated_runs_one_token(server, tmp_path):
    basic = server.client("basic-client")
    args = [*secret_client(server, tmp_path), "--format", "token"]
    # A directory that does not exist yet: the library makes it 0700.
    store = f"file://{tmp_path / 'store'}"
    before = token_requests(server, basic["client_id"])
    first, second = run(*args, "--store", store), run(*args, "--store", store)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.strip() and first.stdout == second.stdout
    assert token_requests(server, basic["client_id"]) - before == 1
    assert stat.S_IMODE((tmp_path / "store").stat().st_mode) == 0o700
    # Without --store every run asks.
    plain = [run(*args) for _ in range(2)]
    assert all(r.returncode == 0 for r in plain) and len({first.stdout, *(r.stdout for r in plain)}) == 3
    assert token_requests(server, basic["client_id"]) - before == 3
    # TOKENCLIENT_STORE is the fallback; --store on the command line wins over it.
    r = run(*args, env=clean_env(TOKENCLIENT_STORE=store))
    assert r.returncode == 0 and r.stdout == first.stdout, r.stderr
    elsewhere = tmp_path / "elsewhere"
    r = run(*args, "--store", store, env=clean_env(TOKENCLIENT_STORE=f"file://{elsewhere}"))
    assert r.returncode == 0 and r.stdout == first.stdout, r.stderr
    assert not elsewhere.exists()
    assert token_requests(server, basic["client_id"]) - before == 3
    # --format env: what is left of the token's life, not the hour it had.
    r = run(*secret_client(server, tmp_path), "--store", store, "--format", "env")
    assert r.returncode == 0, r.stderr
    lines = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert lines["TOKENCLIENT_ACCESS_TOKEN"] == f"'{first.stdout.strip()}'"
    assert 0 < int(lines["TOKENCLIENT_EXPIRES_IN"]) <= 3600
    assert token_requests(server, basic["client_id"]) - before == 3


def test_store_key_file(server, tmp_path):
    basic = server.client("basic-client")
    args = [*secret_client(server, tmp_path), "--format", "token", "--store", f"file://{tmp_path / 'store'}"]
    key, other = tmp_path / "key", tmp_path / "other-key"
    key.write_bytes(bytes(range(32)))
    other.write_bytes(bytes(range(1, 33)))
    before = token_requests(server, basic["client_id"])
    runs = [run(*args, "--store-key-file", str(key)) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs) and runs[0].stdout == runs[1].stdout, runs[0].stderr
    assert token_requests(server, basic["client_id"]) - before == 1
    # Another key, or none (derived from the secret), does not open that entry.
    r = run(*args, "--store-key-file", str(other))
    assert r.returncode == 0 and r.stdout.strip() and r.stdout != runs[0].stdout
    r = run(*args)
    assert r.returncode == 0 and r.stdout.strip() and r.stdout != runs[0].stdout
    assert token_requests(server, basic["client_id"]) - before == 3


def test_store_usage_errors(server, tmp_path):
    args = secret_client(server, tmp_path)
    store = f"file://{tmp_path / 'store'}"
    r = run(*args, "--store", "memcached://localhost:11211")
    assert r.returncode == 3 and "token store" in r.stderr
    r = run(*args, "--store", store, "--grant", "authorization_code", "--code", "c", "--redirect-uri",
            server.redirect_uri)
    assert r.returncode == EXIT_USAGE and "--store" in r.stderr
    r = run(*args, "--store", store, "--param", "resource=https://api.example")
    assert r.returncode == EXIT_USAGE and "--param" in r.stderr
    r = run(*args, "--store-key-file", str(tmp_path / "secret"))
    assert r.returncode == EXIT_USAGE and "--store-key-file goes with --store" in r.stderr
    r = run("token", "--token-url", server.token_url("public-client"), "--client-id", "x", "--public",
            "--store", store)
    assert r.returncode == EXIT_USAGE and "--store-key-file" in r.stderr
    r = run(*args, "--store", store, "--store-key-file", str(tmp_path / "missing"))
    assert r.returncode == 3 and "cannot read" in r.stderr
    assert "TOKENCLIENT_STORE" in run("token", "--help").stdout
    # A Redis password goes in TOKENCLIENT_STORE, never on the command line
    # (other users see it there); a Redis that does not answer is gone around.
    redis = "redis://app:pw-not-shown@127.0.0.1:1/0"
    r = run(*args, "--store", redis)
    assert r.returncode == EXIT_USAGE and "TOKENCLIENT_STORE" in r.stderr and "pw-not-shown" not in r.stderr
    r = run(*args, "--format", "token", "-v", env=clean_env(TOKENCLIENT_STORE=redis))
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    assert "store.fallback" in r.stderr and "pw-not-shown" not in r.stderr
