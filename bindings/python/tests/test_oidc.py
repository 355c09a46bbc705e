"""OpenID Connect through the binding (issue 18, item 8): a client made
from the issuer, its metadata, revocation, introspection, userinfo, ID
token validation, the authorization code flow (direct and PAR, exported and
re-imported between the URL and the callback), its error callbacks, the
device flow, and the async forms, against the real test server
(tests/server): /test/authorize logs the test user in at the real
authorization endpoint and answers the callback URL; /test/device approves
or denies a user code (the server's device interval is 1 s). Times are
printed (pytest -s) and bounded with margin."""

import asyncio
import copy
import json
import pickle
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import tokenclient
from cancelling import cancel_later
from tokenclient import (AsyncClient, Authorization, Cancel, Client, DeviceAuthorization, _aio)

OPENID = "openid offline_access"
#: What a cancel may take to end its call (as in test_cancel.py).
CANCEL_BOUND = 0.150


# ------------------------------------------------------------------ helpers


def get_json(address, **query):
    """GET address?query: (status, parsed body)."""
    if query:
        address += "?" + urllib.parse.urlencode(query)
    try:
        with urllib.request.urlopen(address, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def browse(server, authorization_url):
    """The URL the test user's browser comes back to after logging in at
    `authorization_url` (the real authorization endpoint, via /test/authorize)."""
    status, body = get_json(server.manifest["authorize_url"], url=authorization_url)
    assert status == 200, body
    return body["callback"]


def approve(server, user_code, deny=False):
    query = {"user_code": user_code, **({"deny": "1"} if deny else {})}
    status, body = get_json(server.manifest["device_url"], **query)
    assert (status, body) == (200, {"approved": not deny})


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def with_query(url, **changes):
    """`url` with those query parameters replaced (None: removed)."""
    parts = urllib.parse.urlsplit(url)
    query = {**dict(urllib.parse.parse_qsl(parts.query)), **changes}
    query = {k: v for k, v in query.items() if v is not None}
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def secret(server, name="post-client"):
    return server.client(name)["client_secret"]


def post_client(server, **kw):
    """`post-client` of the main issuer, made from the issuer."""
    return Client.from_issuer(server.manifest["issuer"], "post-client", client_secret=secret(server),
                              auth_method="client_secret_post", **kw)


@pytest.fixture
def client(server):
    with post_client(server) as c:
        yield c


@pytest.fixture(scope="module")
def silent_issuer():
    """An issuer whose server never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    yield f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


# --------------------------------------------------- the client of an issuer


def test_from_issuer_metadata_and_a_token(server):
    m = server.manifest
    with post_client(server, timeout=10) as c:
        meta = c.metadata(timeout=5)
        assert meta["issuer"] == m["issuer"]
        assert meta["token_endpoint"] == m["token_url"]
        assert meta["revocation_endpoint"] == m["revocation_url"]
        assert meta["device_authorization_endpoint"] and meta["userinfo_endpoint"] and meta["jwks_uri"]
        assert c.metadata() == meta  # the cached copy
        token = c.client_credentials("read")
        assert token.access_token and token.scope == "read"
        assert token.id_token_claims is None  # not from an authorization

    # PingOne's shape: the issuer has a path; the token endpoint is under it.
    p1 = m["pingone"]
    with Client.from_issuer(p1["issuer"], "pingone-basic", client_secret=secret(server, "pingone-basic")) as c:
        assert c.metadata()["token_endpoint"] == p1["token_url"]
        assert c.client_credentials("read").scope == "read"

    # An issuer its document does not name, exactly.
    with pytest.raises(tokenclient.ConfigError):
        Client.from_issuer(m["issuer"] + "/", "post-client")
    # The constructor's keyword arguments, checked as the constructor does.
    with pytest.raises(TypeError, match="no_such_option"):
        Client.from_issuer(m["issuer"], "post-client", no_such_option=1)
    with pytest.raises(tokenclient.InvalidArgumentError, match="auth_method goes with client_secret"):
        Client.from_issuer(m["issuer"], "post-client", auth_method="client_secret_post")
    with pytest.raises(TypeError):
        Client.from_issuer(m["issuer"], "post-client", timeout=(1, 2, 3))


def test_from_issuer_obeys_its_timeout_and_cancel(silent_issuer):
    started = time.monotonic()
    with pytest.raises(tokenclient.TransportError) as e:
        Client.from_issuer(silent_issuer, "c", timeout=0.3)
    took = time.monotonic() - started
    print(f"\nfrom_issuer(timeout=0.3) against a silent server: TransportError after {took:.3f} s: {e.value}")
    assert "timed out" in str(e.value) and "299 ms left of the call" in str(e.value)
    assert took < 3  # the bound of tests/discovery.rs (the default total timeout is 30 s)

    with Cancel() as cancel:
        fired = cancel_later(cancel, 0.2)
        with pytest.raises(tokenclient.CancelledError):
            Client.from_issuer(silent_issuer, "c", cancel=cancel)
        after = time.monotonic() - fired[0]
    print(f"from_issuer(cancel=): CancelledError {after * 1000:.2f} ms after the cancel (fired at 0.2 s)")
    assert after < CANCEL_BOUND


def test_revoke_then_introspect_is_inactive(server, client):
    token = client.client_credentials("read")
    active = client.introspect(token.access_token, "access_token")
    assert active["active"] is True and active["client_id"] == "post-client" and active["scope"] == "read"
    assert get_json(server.manifest["protected_url"])[0] == 401  # no token: the control
    request = urllib.request.Request(server.manifest["protected_url"],
                                     headers={"Authorization": f"Bearer {token.access_token}"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200

    assert client.revoke(token.access_token, "access_token", timeout=5) is None
    assert client.introspect(token.access_token) == {"active": False}
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=30)
    assert e.value.code == 401
    client.revoke("not-a-token")  # an unknown token counts as revoked
    with pytest.raises(tokenclient.InvalidArgumentError):
        client.revoke("")

    # Wrong credentials: a typed OAuth error, without the secret.
    with Client.from_issuer(server.manifest["issuer"], "post-client", client_secret="wrong-secret-value-1234",
                            auth_method="client_secret_post") as bad:
        with pytest.raises(tokenclient.OAuthError) as e:
            bad.introspect(token.access_token)
    assert e.value.error == "invalid_client" and "wrong-secret-value" not in str(e.value)


def test_validate_id_token(server, client):
    code = server.code("post-client", OPENID, nonce="py-nonce-1")
    token = client.exchange_code(code, server.redirect_uri)
    assert token.id_token and token.id_token_claims is None  # an exchange does not validate it
    claims = client.validate_id_token(token.id_token, "py-nonce-1")
    assert claims["nonce"] == "py-nonce-1" and claims["aud"] == "post-client"
    assert claims["sub"] == server.manifest["test_user"] and claims["iss"] == server.manifest["issuer"]
    assert client.validate_id_token(token.id_token, timeout=5) == claims  # no nonce asked: not checked

    with pytest.raises(tokenclient.ResponseError) as e:
        client.validate_id_token(token.id_token, "another-nonce")
    assert "nonce" in str(e.value) and token.id_token not in str(e.value)
    # A changed signature.
    head, payload, signature = token.id_token.split(".")
    forged = ".".join([head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])
    with pytest.raises(tokenclient.ResponseError):
        client.validate_id_token(forged, "py-nonce-1")
    # Another client's ID token: the audience is not this client.
    with Client.from_issuer(server.manifest["issuer"], "basic-client") as other:
        with pytest.raises(tokenclient.ResponseError, match="aud"):
            other.validate_id_token(token.id_token, "py-nonce-1")


# ---------------------------------------------------- the authorization flow


@pytest.mark.parametrize("par", [False, True], ids=["direct", "par"])
def test_authorization_flow(server, client, par):
    auth = client.authorization(server.redirect_uri, OPENID, params={"prompt": "consent"}, par=par)
    url = auth.url(timeout=10)
    query = query_of(url)
    assert url.startswith(client.metadata()["authorization_endpoint"] + "?")
    if par:  # the parameters went to the PAR endpoint; the URL only points at them
        assert set(query) == {"client_id", "request_uri"} and query["client_id"] == "post-client"
    else:
        assert query["code_challenge_method"] == "S256" and query["prompt"] == "consent"
        assert query["scope"] == OPENID and query["redirect_uri"] == server.redirect_uri
        assert len(query["state"]) >= 22 and len(query["nonce"]) >= 22

    # Kept as text between the redirect and the callback, then read back.
    kept = auth.to_json()
    assert isinstance(kept, str) and kept
    auth.close()
    with pytest.raises(tokenclient.InvalidArgumentError, match="closed"):
        auth.url()
    auth = client.authorization_from_json(kept) if par else Authorization.from_json(client, kept)

    callback = browse(server, url)
    assert callback.startswith(server.redirect_uri + "?") and "code" in query_of(callback)
    with auth:
        token = auth.finish(callback, timeout=10)
        assert token.access_token and token.refresh_token
        claims = token.id_token_claims
        assert claims["sub"] == server.manifest["test_user"] and claims["aud"] == "post-client"
        assert claims["iss"] == server.manifest["issuer"]
        if not par:
            assert claims["nonce"] == query["nonce"]
        else:
            assert isinstance(claims["nonce"], str) and len(claims["nonce"]) >= 22
        # The claims are a field of the token: copies and pickles keep them.
        assert pickle.loads(pickle.dumps(token)).id_token_claims == claims
        assert copy.copy(token).id_token_claims == claims
        assert client.validate_id_token(token.id_token, claims["nonce"]) == claims

        # The same callback again: the code is spent.
        with pytest.raises(tokenclient.OAuthError) as e:
            auth.finish(callback)
        assert e.value.error == "invalid_grant"
    assert auth.closed


def test_error_callbacks(server, client):
    with client.authorization(server.redirect_uri, OPENID, params=[("prompt", "consent")]) as auth:
        url = auth.url()
        state = query_of(url)["state"]
        callback = browse(server, url)
        assert query_of(callback)["state"] == state

        with pytest.raises(tokenclient.InvalidArgumentError, match="state"):
            auth.finish(with_query(callback, state="not-the-state"))
        with pytest.raises(tokenclient.InvalidArgumentError, match="state"):
            auth.finish(with_query(callback, state=None))
        with pytest.raises(tokenclient.InvalidArgumentError, match="iss"):
            auth.finish(with_query(callback, iss="https://evil.example"))
        with pytest.raises(tokenclient.InvalidArgumentError):
            auth.finish("not a url")

        denied = with_query(server.redirect_uri, error="access_denied", error_description="the user said no",
                            state=state, iss=server.manifest["issuer"])
        with pytest.raises(tokenclient.OAuthError) as e:
            auth.finish(denied)
        assert e.value.error == "access_denied" and e.value.error_description == "the user said no"

        # None of those spent the code: the real callback still finishes.
        token = auth.finish(callback)
        assert token.id_token_claims["sub"] == server.manifest["test_user"]


def test_userinfo_with_a_code_flow_access_token(server, client):
    with client.authorization(server.redirect_uri, OPENID, params={"prompt": "consent"}) as auth:
        token = auth.finish(browse(server, auth.url()))
    info = client.userinfo(token.access_token, timeout=5)
    assert info["sub"] == server.manifest["test_user"] == token.id_token_claims["sub"]
    with pytest.raises(tokenclient.TokenClientError) as e:
        client.userinfo("not-a-token")
    assert isinstance(e.value, (tokenclient.OAuthError, tokenclient.HTTPError)) and e.value.status == 401


def test_authorization_parameters(server, client):
    resources = ["https://a.example/", "https://b.example/"]
    with client.authorization(server.redirect_uri, "openid",
                              params={"login_hint": "alice", "resource": resources}) as auth:
        auth.set_param("acr_values", "urn:mace:incommon:iap:silver")
        pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(auth.url()).query)
        assert ("login_hint", "alice") in pairs and ("acr_values", "urn:mace:incommon:iap:silver") in pairs
        assert [v for k, v in pairs if k == "resource"] == resources  # a list repeats the name
        for reserved in ("state", "nonce", "code_challenge", "redirect_uri", "scope"):
            with pytest.raises(tokenclient.InvalidArgumentError):
                auth.set_param(reserved, "mine")
        with pytest.raises(tokenclient.InvalidArgumentError):
            auth.set_param("max_age", "soon")
        with pytest.raises(tokenclient.InvalidArgumentError):
            auth.set_param("prompt", "")
    # A bad parameter given to authorization() raises (and frees the request).
    with pytest.raises(tokenclient.InvalidArgumentError):
        client.authorization(server.redirect_uri, "openid", params={"state": "mine"})
    # The export names its issuer and client: another client refuses it.
    with client.authorization(server.redirect_uri, "openid") as auth:
        kept = auth.to_json()
    with Client.from_issuer(server.manifest["issuer"], "basic-client") as other:
        with pytest.raises(tokenclient.InvalidArgumentError):
            other.authorization_from_json(kept)
    with pytest.raises(tokenclient.InvalidArgumentError):
        client.authorization_from_json("{}")


# ------------------------------------------------------------ the device flow


def test_device_flow_approved(server, client):
    with client.device_flow("openid offline_access", timeout=10) as device:
        assert isinstance(device, DeviceAuthorization)
        assert device.user_code and device.expires_in > 0
        assert device.verification_uri.startswith(server.manifest["issuer"])
        assert query_of(device.verification_uri_complete)["user_code"] == device.user_code
        assert device.user_code in repr(device)
        approve(server, device.user_code)
        started = time.monotonic()
        token = device.poll(timeout=20)
        took = time.monotonic() - started
        print(f"\ndevice poll after approval: the token after {took:.3f} s (interval 1 s)")
        assert token.access_token and token.refresh_token and token.id_token_claims is None
        active = client.introspect(token.access_token)
        assert active["active"] is True and active["sub"] == server.manifest["test_user"]
        assert took < 10


def test_device_flow_denied(server, client):
    with client.device_flow("openid") as device:
        approve(server, device.user_code, deny=True)
        started = time.monotonic()
        with pytest.raises(tokenclient.OAuthError) as e:
            device.poll(timeout=20)
        took = time.monotonic() - started
    print(f"\ndevice poll after denial: access_denied after {took:.3f} s")
    assert e.value.error == "access_denied" and took < 10


def test_device_poll_timeout_and_cancel(client):
    """Never approved: the call's deadline ends the poll (TransportError),
    and a Cancel from another thread stops it."""
    with client.device_flow("openid") as device:
        started = time.monotonic()
        with pytest.raises(tokenclient.TransportError):
            device.poll(timeout=0.5)
        took = time.monotonic() - started
        assert took < 2.5, took
        with Cancel() as cancel:
            fired = cancel_later(cancel, 0.3)
            with pytest.raises(tokenclient.CancelledError):
                device.poll(cancel=cancel, timeout=20)
            after = time.monotonic() - fired[0]
    print(f"\nunapproved device poll: TransportError after {took:.3f} s (timeout=0.5), "
          f"CancelledError {after * 1000:.2f} ms after the cancel (fired at 0.3 s)")
    assert after < CANCEL_BOUND


# ------------------------------------------------------------------- async


def test_async_from_issuer_authorization_and_the_rest(server):
    m = server.manifest

    async def main():
        async with await AsyncClient.from_issuer(m["issuer"], "post-client", client_secret=secret(server),
                                                 auth_method="client_secret_post", timeout=10) as a:
            assert isinstance(a, AsyncClient) and (await a.metadata())["issuer"] == m["issuer"]
            async with a.authorization(m["redirect_uri"], OPENID, params={"prompt": "consent"}, par=True) as auth:
                assert isinstance(auth, tokenclient.AsyncAuthorization) and isinstance(auth.sync, Authorization)
                url = await auth.url(timeout=10)
                assert "request_uri=" in url and "code_challenge" not in url  # sent by PAR
                kept = auth.to_json()
            assert auth.closed
            auth = a.authorization_from_json(kept)
            loop = asyncio.get_running_loop()
            callback = await loop.run_in_executor(None, browse, server, url)
            token = await auth.finish(callback, timeout=10)
            auth.close()
            claims = token.id_token_claims
            info = await a.userinfo(token.access_token)
            validated = await a.validate_id_token(token.id_token, claims["nonce"])
            active = await a.introspect(token.access_token)
            await a.revoke(token.access_token, "access_token")
            inactive = await a.introspect(token.access_token, "access_token")
            return claims, info, validated, active, inactive, a

    claims, info, validated, active, inactive, a = asyncio.run(main())
    assert claims["sub"] == info["sub"] == m["test_user"] and validated == claims
    assert active["active"] is True and inactive == {"active": False}
    assert a.closed and a.sync.closed


def test_async_from_issuer_task_cancel(silent_issuer):
    async def main():
        task = asyncio.ensure_future(AsyncClient.from_issuer(silent_issuer, "c"))
        await asyncio.sleep(0.2)
        cancelled_at = time.monotonic()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return time.monotonic() - cancelled_at
        raise AssertionError("from_issuer was not cancelled")

    after = asyncio.run(main())
    print(f"\nAsyncClient.from_issuer: CancelledError {after * 1000:.2f} ms after task.cancel()")
    assert after < CANCEL_BOUND


def test_async_device_poll_cancelled_then_approved(server):
    async def main():
        a = AsyncClient.from_client(post_client(server))
        async with a:
            device = await a.device_flow("openid", timeout=10)
            assert isinstance(device, tokenclient.AsyncDeviceAuthorization) and device.user_code
            task = asyncio.ensure_future(device.poll(timeout=20))
            await asyncio.sleep(0.3)
            assert not task.done()  # not approved: still polling
            cancelled_at = time.monotonic()
            task.cancel()
            try:
                await task
                err = None
            except BaseException as e:  # noqa: BLE001 - the test looks at it
                err = e
            after = time.monotonic() - cancelled_at
            while a._running and time.monotonic() - cancelled_at < 5:
                await asyncio.sleep(0.001)
            ended = time.monotonic() - cancelled_at
            # The device authorization outlives a cancelled poll.
            await asyncio.get_running_loop().run_in_executor(None, approve, server, device.user_code)
            token = await device.poll(timeout=20)
            device.close()
            return err, after, ended, token

    err, after, ended, token = asyncio.run(main())
    print(f"\nasync device poll: task ended {after * 1000:.2f} ms after task.cancel(), "
          f"its C call {ended * 1000:.1f} ms after")
    assert isinstance(err, asyncio.CancelledError)
    assert after < CANCEL_BOUND and ended < CANCEL_BOUND
    assert token.access_token


# ------------------------------------------------------------------- misuse


def test_closed_objects_raise(server):
    c = post_client(server)
    auth = c.authorization(server.redirect_uri, "openid")
    kept = auth.to_json()
    auth.close()
    auth.close()  # idempotent
    assert auth.closed and "closed=True" in repr(auth)
    for call in (auth.url, auth.to_json, lambda: auth.finish(server.redirect_uri + "?code=x"),
                 lambda: auth.set_param("prompt", "login"), lambda: auth.set_par(True)):
        with pytest.raises(tokenclient.InvalidArgumentError, match="the authorization is closed"):
            call()

    device = c.device_flow("openid")
    device.close()
    with pytest.raises(tokenclient.InvalidArgumentError, match="the device authorization is closed"):
        device.poll(timeout=5)
    assert device.user_code  # what was copied out stays readable

    # An authorization keeps its C client alive (the C contract); a device
    # authorization polls with the Python client, which must be open.
    auth = c.authorization_from_json(kept)
    device = c.device_flow("openid")
    c.close()
    assert "code_challenge=" in auth.url()
    auth.close()
    with pytest.raises(tokenclient.InvalidArgumentError, match="the client is closed"):
        device.poll(timeout=5)
    device.close()
    for call in (c.metadata, lambda: c.revoke("t"), lambda: c.introspect("t"), lambda: c.userinfo("t"),
                 lambda: c.validate_id_token("a.b.c"), lambda: c.authorization(server.redirect_uri),
                 lambda: c.authorization_from_json(kept), c.device_flow):
        with pytest.raises(tokenclient.InvalidArgumentError, match="the client is closed"):
            call()


def test_wrong_types_raise(server, client):
    uri = server.redirect_uri
    for call in (lambda: client.authorization(5),
                 lambda: client.authorization(uri, scope=["openid"]),
                 lambda: client.authorization(uri, params="prompt=login"),
                 lambda: client.authorization(uri, par="yes"),
                 lambda: client.authorization(uri, par=1),
                 lambda: client.revoke(5),
                 lambda: client.introspect(b"t", token_type_hint=3),
                 lambda: client.userinfo(4.5),
                 lambda: client.validate_id_token(object()),
                 lambda: client.metadata(timeout="5"),
                 lambda: client.device_flow(cancel="not a Cancel"),
                 lambda: client.authorization_from_json(5),
                 lambda: Authorization.from_json("not a client", "{}"),
                 lambda: Client.from_issuer(5, "c"),
                 lambda: Authorization(),
                 lambda: DeviceAuthorization(),
                 lambda: _aio.AsyncAuthorization(client, None)):
        with pytest.raises(TypeError):
            call()
    with pytest.raises(tokenclient.InvalidArgumentError):
        client.revoke(None)
    with pytest.raises(tokenclient.InvalidArgumentError):
        client.validate_id_token("a\0b")
    with pytest.raises(tokenclient.InvalidArgumentError):
        Client.from_issuer("http://example.com", "c")  # neither https nor loopback
    with client.authorization(uri, "openid") as auth:
        for call in (lambda: auth.set_param(1, "x"), lambda: auth.set_param("prompt", 2),
                     lambda: auth.set_par("yes"), lambda: auth.finish(7), lambda: auth.url(timeout=[1]),
                     lambda: pickle.dumps(auth), lambda: copy.copy(auth)):
            with pytest.raises(TypeError):
                call()
        with client.device_flow("openid") as device:
            for call in (lambda: pickle.dumps(device), lambda: copy.deepcopy(device), lambda: device.poll(timeout="1")):
                with pytest.raises(TypeError):
                    call()


def test_a_client_not_from_an_issuer_has_no_oidc(server):
    with Client(server.manifest["token_url"], "post-client", client_secret=secret(server),
                auth_method="client_secret_post") as plain:
        for call in (plain.metadata, lambda: plain.revoke("t"), lambda: plain.introspect("t"),
                     lambda: plain.userinfo("t"), lambda: plain.validate_id_token("a.b.c"),
                     lambda: plain.authorization(server.redirect_uri, "openid"),
                     lambda: plain.authorization_from_json("{}"), plain.device_flow):
            with pytest.raises(tokenclient.ConfigError):
                call()


def test_exports():
    for name in ("Authorization", "DeviceAuthorization", "AsyncAuthorization", "AsyncDeviceAuthorization"):
        assert name in tokenclient.__all__ and getattr(tokenclient, name).__name__ == name
    assert tokenclient.AsyncAuthorization is _aio.AsyncAuthorization


def test_auth_method_auto_takes_the_metadatas_choice(server):
    """auth_method="auto" on a client made from the issuer: the test server
    lists client_secret_basic, which basic-client is registered for."""
    secret = server.client("basic-client")["client_secret"]
    with Client.from_issuer(server.manifest["issuer"], "basic-client", client_secret=secret,
                            auth_method="auto", timeout=10) as c:
        assert c.client_credentials("read").scope == "read"
    with Client(server.manifest["token_url"], "basic-client") as plain:
        with pytest.raises(tokenclient.ConfigError):
            plain.set_client_secret(secret, tokenclient.AuthMethod.AUTO)
