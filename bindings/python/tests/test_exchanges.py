"""The Python binding against the real OpenID Connect server."""

import base64
import hashlib
import secrets

import pytest

import tokenclient
from tokenclient import AuthMethod, Client

METHODS = {
    "client_secret_basic": AuthMethod.CLIENT_SECRET_BASIC,
    "client_secret_post": AuthMethod.CLIENT_SECRET_POST,
    "client_secret_jwt": AuthMethod.CLIENT_SECRET_JWT,
}


def make_client(server, name):
    m = server.client(name)
    c = Client(server.token_url(name), m["client_id"])
    if m["auth_method"] == "private_key_jwt":
        c.set_private_key(m.get("private_key_b64") or m["private_key_pem"], key_id=m["kid"], alg=m["alg"])
    elif m["auth_method"] == "none":
        c.set_public()
    else:
        c.set_client_secret(m["client_secret"], METHODS[m["auth_method"]])
    return c


@pytest.mark.parametrize(
    "name",
    ["basic-client", "post-client", "hs256-client", "es256-client", "es384-client", "rs256-client",
     "ps256-client", "eddsa-client", "talkdesk-client", "pingone-pkjwt", "pingone-hs256", "pingone-basic"],
)
def test_code_refresh_client_credentials(server, name):
    with make_client(server, name) as c:
        tok = c.exchange_code(server.code(name), redirect_uri=server.redirect_uri)
        assert tok.access_token and tok.token_type.lower() == "bearer"
        assert tok.expires_in and tok.expires_in > 0
        assert tok.id_token and tok.id_token.count(".") == 2
        assert tok.refresh_token
        assert tok.json["access_token"] == tok.access_token
        if server.client(name)["issuer"] == "main":
            assert tok["sid"] == tok.json["sid"]
        with pytest.raises(KeyError):
            tok["no_such_member"]
        assert tok.get("no_such_member", "x") == "x"
        assert tok.access_token not in repr(tok) and tok.refresh_token not in repr(tok)

        refreshed = c.refresh(tok.refresh_token)
        assert refreshed.access_token and refreshed.access_token != tok.access_token

        cc = c.client_credentials(scope="read")
        assert cc.scope == "read" and cc.refresh_token is None


def test_pkce_public_client(server):
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    with make_client(server, "public-client") as c:
        tok = c.exchange_code(server.code("public-client", code_challenge=challenge), server.redirect_uri, code_verifier=verifier)
        assert tok.id_token
        with pytest.raises(tokenclient.OAuthError) as e:
            c.exchange_code(server.code("public-client", code_challenge=challenge), server.redirect_uri)
        assert e.value.error == "invalid_grant"


def test_talkdesk_and_pingone_constructors(server):
    c = Client.talkdesk("acme", "cid", region="eu")
    c.close()
    p = server.manifest["pingone"]
    with Client.pingone(p["env_id"], "pingone-pkjwt", auth_base=p["auth_base"]) as c:
        m = server.client("pingone-pkjwt")
        c.set_private_key(m["private_key_pem"].encode(), key_id=m["kid"])
        assert c.client_credentials(scope="read").scope == "read"
    with pytest.raises(tokenclient.InvalidArgumentError):
        Client.talkdesk("acme/evil", "cid")
    with pytest.raises(tokenclient.InvalidArgumentError):
        Client.talkdesk("acme", "cid", region="mars")


def test_grant_with_params(server):
    with make_client(server, "post-client") as c:
        tok = c.grant("client_credentials", scope="read write")
        assert set(tok.scope.split()) == {"read", "write"}
        with pytest.raises(tokenclient.OAuthError) as e:
            c.grant("urn:example:nope")
        assert e.value.error == "unsupported_grant_type" and e.value.status == 400
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.grant("client_credentials", client_secret="x")


def test_oauth_errors_carry_fields(server):
    m = server.client("basic-client")
    with Client(server.token_url("basic-client"), m["client_id"]) as c:
        c.set_client_secret("wrong-secret-value")
        with pytest.raises(tokenclient.OAuthError) as e:
            c.client_credentials()
        err = e.value
        assert isinstance(err, tokenclient.TokenClientError)
        assert (err.error, err.status, err.kind) == ("invalid_client", 401, 5)
        assert err.error_description
        assert "wrong-secret-value" not in str(err)
    with make_client(server, "es256-client") as c:
        code = server.code("es256-client")
        c.exchange_code(code, server.redirect_uri)
        with pytest.raises(tokenclient.OAuthError) as e:
            c.exchange_code(code, server.redirect_uri)
        assert e.value.error == "invalid_grant"


def test_transport_and_http_errors():
    with Client("http://127.0.0.1:9/token", "x") as c:
        c.set_public()
        c.set_timeout_ms(500, 1000)
        with pytest.raises(tokenclient.TransportError) as e:
            c.client_credentials()
        assert e.value.status == 0


def test_key_and_config_errors(server):
    with Client(server.manifest["token_url"], "x") as c:
        with pytest.raises(tokenclient.ConfigError):
            c.client_credentials()
        with pytest.raises(tokenclient.ConfigError):
            c.create_assertion()
        with pytest.raises(tokenclient.KeyFormatError) as e:
            c.set_private_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
        assert not isinstance(e.value, KeyError)
        with pytest.raises(tokenclient.KeyFormatError):
            c.set_client_secret("short", AuthMethod.CLIENT_SECRET_JWT)


def test_token_outlives_its_client_and_copies_are_snapshots(server):
    import copy
    import gc
    import pickle

    with make_client(server, "es256-client") as c:
        tok = c.exchange_code(server.code("es256-client"), redirect_uri=server.redirect_uri)
    gc.collect()  # the client is freed; the token owns its own C memory
    fields = ("access_token", "token_type", "expires_in", "scope", "refresh_token", "id_token", "json")
    values = {name: getattr(tok, name) for name in fields}
    assert values["access_token"] and values["json"]["access_token"] == values["access_token"]
    for clone in (copy.copy(tok), copy.deepcopy(tok), pickle.loads(pickle.dumps(tok))):
        assert clone is not tok
        assert {name: getattr(clone, name) for name in fields} == values
    assert tok.json is tok.json, "parsed once"


def test_callback_tokens_are_copied_before_c_takes_them_back(server):
    kept = []
    with make_client(server, "post-client") as c:
        c.on_token(kept.append)
        tok = c.get_token("read")
        c.invalidate_token("read")
    import gc

    gc.collect()
    assert len(kept) == 1
    # The callback's token was lent by C for the call only; the copy holds on.
    assert kept[0].access_token == tok.access_token and kept[0].json == tok.json


def test_token_exchange_reaches_the_token_endpoint():
    """RFC 8693 through the binding: the grant goes out with its scope (the
    loopback server names it in the token) and bad arguments are typed."""
    from conn_server import ConnServer

    with ConnServer() as s:
        with Client(s.url, "c", client_secret="s3cret-value", auth_method="client_secret_post") as c:
            c.set_proxy("")
            t = c.token_exchange("SUBJECT", "urn:ietf:params:oauth:token-type:access_token",
                                 audience="https://api.example.com", scope="exchanged")
            assert t.access_token.startswith("exchanged|conn=")
            assert [r["scope"] for r in s.seen] == ["exchanged"]
            with pytest.raises(tokenclient.InvalidArgumentError):
                c.token_exchange("", "urn:ietf:params:oauth:token-type:access_token")
