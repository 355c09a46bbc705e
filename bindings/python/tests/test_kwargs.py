"""A client in one expression (issue 23): every setter has a keyword
argument of Client (and AsyncClient, talkdesk, pingone); each is applied,
and a bad one raises the setter's typed error and frees the half-built
client at once."""

import asyncio
import base64
import hashlib
import json
import logging
import secrets
import socket
import time

import pytest

import tokenclient
from conn_server import ConnServer
from tokenclient import AsyncClient, AuthMethod, Client, _ffi

URL = "https://acme.talkdeskid.com/oauth/token"
JWT_SECRET = "k" * 48


def claims(assertion):
    part = assertion.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def header(assertion):
    part = assertion.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.fixture(scope="module")
def conn_server():
    with ConnServer() as server:
        yield server


@pytest.fixture
def frees(monkeypatch):
    """The clients freed (tokenclient_client_free calls) while the test runs."""
    real = _ffi.lib.tokenclient_client_free
    freed = []

    def counting(handle):
        freed.append(handle)
        real(handle)

    monkeypatch.setattr(_ffi.lib, "tokenclient_client_free", counting)
    return freed


def test_private_key_key_id_and_alg(server):
    m = server.client("es256-client")
    with Client(server.token_url("es256-client"), m["client_id"], private_key=m["private_key_pem"],
                key_id=m["kid"], alg="ES256") as c:
        assert header(c.create_assertion()) == {"alg": "ES256", "typ": "JWT", "kid": m["kid"]}
        tok = c.exchange_code(server.code("es256-client"), server.redirect_uri)
        assert tok.id_token and tok.refresh_token
        assert c.client_credentials("read").scope == "read"


@pytest.mark.parametrize("method", [AuthMethod.CLIENT_SECRET_POST, "client_secret_post", int(AuthMethod.CLIENT_SECRET_POST)])
def test_client_secret_and_auth_method(server, conn_server, method):
    m = server.client("post-client")
    with Client(server.token_url("post-client"), m["client_id"], client_secret=m["client_secret"],
                auth_method=method) as c:
        assert c.client_credentials("read").scope == "read"
    # The method is applied: the secret goes in the body, not in an
    # Authorization header (client_secret_basic, the default without it).
    # Scopes named by the argument's type, not its value: the server's tokens
    # carry the scope, and a token spelling "client_secret_post" would be
    # taken by the secret scan for one echoed in the events.
    tag = type(method).__name__
    for scope, kw in ((f"kw-post-{tag}", {"auth_method": method}), (f"kw-basic-{tag}", {})):
        with Client(conn_server.url, "kw", client_secret="kw-secret-0123456789", proxy="", **kw) as c:
            c.client_credentials(scope)
    authorization = {r["scope"]: r["headers"].get("authorization", "")[:6] for r in conn_server.seen}
    assert authorization[f"kw-post-{tag}"] == "" and authorization[f"kw-basic-{tag}"] == "Basic "


def test_client_secret_jwt_with_hmac_alg(server):
    m = server.client("hs256-client")
    with Client(server.token_url("hs256-client"), m["client_id"], client_secret=m["client_secret"],
                auth_method=AuthMethod.CLIENT_SECRET_JWT, hmac_alg="HS256") as c:
        assert header(c.create_assertion())["alg"] == "HS256"
        assert c.client_credentials("read").access_token
    with Client(URL, "x", client_secret=JWT_SECRET, auth_method="client_secret_jwt", hmac_alg="HS384") as c:
        assert header(c.create_assertion())["alg"] == "HS384"


def test_public_and_pkce(server):
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    with Client(server.token_url("public-client"), "public-client", public=True) as c:
        tok = c.exchange_code(server.code("public-client", code_challenge=challenge), server.redirect_uri,
                              code_verifier=verifier)
        assert tok.id_token


def test_refresh_token(server):
    m = server.client("es256-client")
    kw = {"private_key": m["private_key_pem"], "key_id": m["kid"]}
    with Client(server.token_url("es256-client"), m["client_id"], **kw) as c:
        seed = c.exchange_code(server.code("es256-client"), server.redirect_uri).refresh_token
    seen = []
    with Client(server.token_url("es256-client"), m["client_id"], refresh_token=seed, on_token=seen.append, **kw) as c:
        tok = c.get_token()
        assert tok.refresh_token and tok.refresh_token != seed, "the refresh_token grant, rotated"
        assert [t.access_token for t in seen] == [tok.access_token], "on_token"


def test_assertion_options():
    with Client(URL, "x", client_secret=JWT_SECRET, auth_method="client_secret_jwt",
                audience=["https://a.example", "https://b.example"], assertion_lifetime=60, clock_skew=0) as c:
        got = claims(c.create_assertion())
        assert got["aud"] == ["https://a.example", "https://b.example"]
        assert got["exp"] - got["iat"] == 60
    with Client(URL, "x", client_secret=JWT_SECRET, auth_method="client_secret_jwt", audience="https://a.example",
                clock_skew=30) as c:
        got = claims(c.create_assertion())
        assert got["aud"] == "https://a.example" and got["exp"] - got["iat"] == 330


def test_transport_options(conn_server):
    with Client(conn_server.url, "kw", client_secret="kw-secret-0123456789abcdef", auth_method="client_secret_post",
                proxy="", headers={"X-One": "1", "X-Two": "2"}, max_response_bytes=1024, retry_policy=(1, 1, 10),
                refresh_policy=(50, 30)) as c:
        c.client_credentials("kw-headers")
    got = [r["headers"] for r in conn_server.seen if r["scope"] == "kw-headers"]
    assert got and got[0]["x-one"] == "1" and got[0]["x-two"] == "2"
    with Client(conn_server.url, "kw", public=True, proxy="", headers=[("X-Three", "3")], retry_policy=0) as c:
        c.client_credentials("kw-pairs")
    assert [r["headers"]["x-three"] for r in conn_server.seen if r["scope"] == "kw-pairs"] == ["3"]


@pytest.mark.parametrize("timeout", [0.3, (0.3, 0.3)])
def test_timeout(timeout):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    try:
        with Client(f"http://127.0.0.1:{s.getsockname()[1]}/token", "x", public=True, proxy="",
                    timeout=timeout) as c:
            started = time.monotonic()
            with pytest.raises(tokenclient.TransportError) as e:
                c.client_credentials()
            took = time.monotonic() - started
        assert "deadline of 300 ms" in str(e.value) and 0.28 <= took < 0.7
    finally:
        s.close()


def test_log_level(server):
    class Records(logging.Handler):
        def __init__(self):
            super().__init__(logging.DEBUG)
            self.records = []

        def emit(self, record):
            self.records.append(record)

    logger = logging.getLogger("tokenclient")
    handler, level = Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    m = server.client("post-client")
    try:
        for kw, events in (({"log_level": logging.INFO}, {"request.done"}), ({"log_level": None}, set()),
                           ({}, {"request.sent", "request.done"})):
            handler.records.clear()
            with Client(server.token_url("post-client"), m["client_id"], client_secret=m["client_secret"],
                        auth_method="client_secret_post", **kw) as c:
                c.client_credentials("read")
            assert {r.event for r in handler.records} == events, kw
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_ca_file_and_client_cert_are_applied(tmp_path):
    with pytest.raises(tokenclient.InvalidArgumentError):
        Client(URL, "x", public=True, ca_file=str(tmp_path / "none.pem"))
    with pytest.raises(tokenclient.InvalidArgumentError):
        Client(URL, "x", public=True, client_cert=(str(tmp_path / "c.pem"), str(tmp_path / "k.pem")))


@pytest.mark.parametrize("kwargs,error", [
    ({"private_key": "garbage"}, tokenclient.KeyFormatError),
    ({"private_key": "x", "client_secret": "y"}, tokenclient.InvalidArgumentError),
    ({"client_secret": "y", "public": True}, tokenclient.InvalidArgumentError),
    ({"key_id": "k1"}, tokenclient.InvalidArgumentError),
    ({"alg": "ES256"}, tokenclient.InvalidArgumentError),
    ({"auth_method": "client_secret_post"}, tokenclient.InvalidArgumentError),
    ({"client_secret": "short", "auth_method": AuthMethod.CLIENT_SECRET_JWT}, tokenclient.KeyFormatError),
    ({"client_secret": "s", "auth_method": "client_secret_nope"}, tokenclient.InvalidArgumentError),
    ({"client_secret": "s", "auth_method": 99}, tokenclient.InvalidArgumentError),
    ({"client_secret": "s", "auth_method": AuthMethod.NONE}, tokenclient.ConfigError),
    ({"client_secret": JWT_SECRET, "auth_method": "client_secret_jwt", "hmac_alg": "HS1"},
     tokenclient.InvalidArgumentError),
    ({"public": "yes"}, TypeError),
    ({"refresh_token": ""}, tokenclient.InvalidArgumentError),
    ({"audience": ""}, tokenclient.InvalidArgumentError),
    ({"audience": []}, tokenclient.InvalidArgumentError),
    ({"assertion_lifetime": 0}, tokenclient.InvalidArgumentError),
    ({"clock_skew": 601}, tokenclient.InvalidArgumentError),
    ({"timeout": 0}, tokenclient.InvalidArgumentError),
    ({"timeout": 700}, tokenclient.InvalidArgumentError),
    ({"timeout": "5"}, TypeError),
    ({"timeout": (1, 2, 3)}, TypeError),
    ({"proxy": "a proxy with spaces\x01"}, tokenclient.InvalidArgumentError),
    ({"max_response_bytes": 10}, tokenclient.InvalidArgumentError),
    ({"headers": {"Authorization": "x"}}, tokenclient.InvalidArgumentError),
    ({"retry_policy": 11}, tokenclient.InvalidArgumentError),
    ({"refresh_policy": (0, 10)}, tokenclient.InvalidArgumentError),
    ({"log_level": "debug"}, TypeError),
    ({"signer": lambda data: b""}, tokenclient.InvalidArgumentError),
    ({"signer": lambda data: b"", "alg": "HS256"}, tokenclient.InvalidArgumentError),
    ({"signer": "not a signer", "alg": "ES256"}, TypeError),
    ({"signer": lambda data: b"", "alg": "ES256", "public": True}, tokenclient.InvalidArgumentError),
    ({"dpop_signer": lambda data: b"", "dpop_alg": "ES256", "dpop_public_key": "garbage"}, tokenclient.KeyFormatError),
    ({"dpop_public_key": "k"}, tokenclient.InvalidArgumentError),
    ({"no_such_option": 1}, TypeError),
], ids=lambda v: v.__name__ if isinstance(v, type) else ",".join(v))
def test_a_bad_keyword_raises_and_frees_the_client(frees, kwargs, error):
    with pytest.raises(error) as raised:
        Client(URL, "x", **kwargs)
    # Freed by the error, not later by the garbage collector: `raised` holds
    # the traceback, and with it the half-built client. (A TypeError from
    # Python itself comes before any client exists.)
    assert raised.tb is not None
    assert len(frees) == (0 if "no_such_option" in kwargs else 1)


def test_the_other_constructors_take_them(server, frees):
    with Client.talkdesk("acme", "cid", region="eu", client_secret=JWT_SECRET, auth_method="client_secret_jwt") as c:
        assert claims(c.create_assertion())["aud"] == "https://acme.talkdeskid.eu/oauth/token"
    p = server.manifest["pingone"]
    m = server.client("pingone-pkjwt")
    with Client.pingone(p["env_id"], "pingone-pkjwt", auth_base=p["auth_base"], private_key=m["private_key_pem"],
                        key_id=m["kid"]) as c:
        assert c.client_credentials(scope="read").scope == "read"
    with pytest.raises(tokenclient.KeyFormatError):
        Client.talkdesk("acme", "cid", private_key="garbage")
    assert len(frees) == 3

    m = server.client("post-client")

    async def main():
        async with AsyncClient(server.token_url("post-client"), m["client_id"], client_secret=m["client_secret"],
                               auth_method="client_secret_post", timeout=10) as a:
            assert (await a.client_credentials("read")).scope == "read"
        with pytest.raises(tokenclient.InvalidArgumentError):
            AsyncClient(URL, "x", key_id="k")
        async with AsyncClient.talkdesk("acme", "cid", client_secret=JWT_SECRET, auth_method="client_secret_jwt") as a:
            assert (await a.create_assertion()).count(".") == 2

    asyncio.run(main())
    assert len(frees) == 6
