"""Sender-constrained tokens through the binding (issue 19): DPoP (RFC 9449)
and mutual TLS client authentication (RFC 8705), against the real test
server (tests/server), whose issuers always require a DPoP nonce.

- every grant of `dpop-client` (its tokens must be DPoP-bound) gives a DPoP
  token whose `cnf.jkt` is the client's thumbprint;
- the proofs are verified here, independently of the library, with PyJWT
  (the key from the proof's own header) and an RFC 7638 thumbprint computed
  here, for a generated key and for keys made with `cryptography`;
- /test/protected, which always requires a nonce of its own, through
  tokenclient.requests and tokenclient.httpx (sync and async): the nonce
  challenge answered once, the rejected token renewed, both bounded; and
  what it refuses;
- both mTLS methods through the discovery document's mTLS aliases;
- the typed errors.
"""

import asyncio
import base64
import copy
import hashlib
import http.server
import json
import pathlib
import pickle
import threading
import time
import urllib.parse
import urllib.request

import httpx
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import tokenclient
import tokenclient.httpx
import tokenclient.requests
from tokenclient import AsyncClient, AuthMethod, Client, _ffi

OPENID = "openid offline_access"
#: A URL the offline proofs are made for (no request is sent to it).
API = "https://rs.example/things"
#: The members of a JWK that are private (RFC 7517, 7518).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
#: The members of a JWK its RFC 7638 thumbprint is computed over, by kty.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


# ------------------------------------------------------------------ helpers


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, json.loads(r.read())


def stats(server, client_id):
    """(token requests of `client_id`, requests to /test/protected) so far."""
    _, body = get_json(f"{server.manifest['stats_url']}?client_id={client_id}")
    return body["token_requests"], body["protected_requests"]


def rotate_resource_nonce(server):
    """Makes the nonce /test/protected gave so far stale."""
    assert get_json(server.manifest["dpop"]["nonce_rotate_url"]) == (200, {"ok": True})


def approve(server, user_code):
    query = urllib.parse.urlencode({"user_code": user_code})
    assert get_json(f"{server.manifest['device_url']}?{query}") == (200, {"approved": True})


def dpop_client(server, **kw):
    """`dpop-client` made from the main issuer, with a generated DPoP key
    unless `kw` says otherwise."""
    kw.setdefault("dpop_key", True)
    return Client.from_issuer(server.manifest["issuer"], "dpop-client",
                              client_secret=server.client("dpop-client")["client_secret"],
                              auth_method=AuthMethod.CLIENT_SECRET_POST, **kw)


def session(**kw):
    s = requests.Session()
    s.trust_env = False
    for name, value in kw.items():
        setattr(s, name, value)
    return s


def assert_bound(client, token):
    """`token` is bound to `client`'s DPoP key."""
    assert token.token_type == "DPoP"
    assert token.cnf == {"jkt": client.dpop_thumbprint}
    assert token.authorization == "DPoP " + token.access_token


def thumbprint(jwk):
    """The RFC 7638 thumbprint of `jwk`: SHA-256 of the JSON of its required
    members, in lexicographic order, without white space."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def claims_of(proof):
    """The claims of a proof, unverified."""
    return jwt.decode(proof, options={"verify_signature": False})


def verify_proof(proof, client, alg, method, url, access_token=None, nonce=None):
    """Checks `proof` as a server would (RFC 9449 §4.3), with PyJWT and the
    key of its own header; returns its claims."""
    header = jwt.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == alg, header
    jwk = header["jwk"]
    assert not PRIVATE_MEMBERS & set(jwk), f"private members in the proof's JWK: {sorted(PRIVATE_MEMBERS & set(jwk))}"
    assert thumbprint(jwk) == client.dpop_thumbprint
    claims = jwt.decode(proof, jwt.PyJWK(jwk, algorithm=alg), algorithms=[alg])
    parts = urllib.parse.urlsplit(url)
    assert claims["htm"] == method
    assert claims["htu"] == urllib.parse.urlunsplit(parts._replace(query="", fragment=""))
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert isinstance(claims["iat"], int) and abs(claims["iat"] - time.time()) < 60
    if access_token is None:
        assert "ath" not in claims
    else:
        assert claims["ath"] == b64url(hashlib.sha256(access_token.encode("ascii")).digest())
    if nonce is None:
        assert "nonce" not in claims
    else:
        assert claims["nonce"] == nonce
    return claims


def dpop_get(s, client, url, token):
    """GET `url` as a client does with the API (no adapter): a new proof
    with the origin's last nonce, the answer read with `dpop_answer`, and
    once more after a nonce challenge. (the answers, the proofs sent)."""
    answers, proofs = [], []
    while True:
        proofs.append(client.dpop_proof("GET", url, token.access_token))
        r = s.get(url, headers={"Authorization": token.authorization, "DPoP": proofs[-1]}, timeout=30)
        answers.append(r)
        again = client.dpop_answer(url, r.status_code, r.headers.get("WWW-Authenticate"), r.headers.get("DPoP-Nonce"))
        if not again or len(proofs) == 2:
            return answers, proofs


# -------------------------------------------------------- the keys under test


def pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def ed25519_jwk(key):
    raw = serialization.Encoding.Raw
    public = key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    private = key.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return json.dumps({"kty": "OKP", "crv": "Ed25519", "x": b64url(public), "d": b64url(private)})


#: id -> (the key to give set_dpop_key (None: generated), its alg argument, the alg of the proofs).
KEYS = {
    "generated-p256": (lambda: None, None, "ES256"),
    "ec-p256-pem": (lambda: pem(ec.generate_private_key(ec.SECP256R1())), None, "ES256"),
    "ec-p384-object": (lambda: ec.generate_private_key(ec.SECP384R1()), None, "ES384"),
    "rsa-pem-ps256": (lambda: pem(rsa.generate_private_key(65537, 2048)), "PS256", "PS256"),
    "rsa-der-bytes": (lambda: rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), None, "RS256"),
    "ed25519-jwk": (lambda: ed25519_jwk(ed25519.Ed25519PrivateKey.generate()), None, "EdDSA"),
    "ed25519-object": (lambda: ed25519.Ed25519PrivateKey.generate(), None, "EdDSA"),
}


# ----------------------------------------------------------- every grant


def test_every_grant_is_dpop_bound(server):
    with dpop_client(server, timeout=30) as c:
        # client_credentials: the issuer asks for its nonce first; the
        # library answers it within the call.
        tokens, _ = stats(server, "dpop-client")
        assert_bound(c, c.client_credentials("read"))
        assert stats(server, "dpop-client")[0] == tokens + 2, "the nonce challenge, then the token"
        # The generic grant, and get_token (the snapshot is the same token).
        assert_bound(c, c.grant("client_credentials", scope="write"))
        cached = c.get_token("read write")
        assert_bound(c, cached)
        assert c.get_token("read write") is cached
        # authorization_code, then refresh_token with the same key.
        token = c.exchange_code(server.code("dpop-client", OPENID), server.redirect_uri)
        assert_bound(c, token)
        assert token.refresh_token and token.id_token
        refreshed = c.refresh(token.refresh_token)
        assert_bound(c, refreshed)
        assert refreshed.access_token != token.access_token
        # The device grant.
        with c.device_flow("openid") as device:
            approve(server, device.user_code)
            assert_bound(c, device.poll(timeout=30))
        # The issuer bound it: its introspection says so.
        introspected = c.introspect(refreshed.access_token)
        assert introspected["active"] is True and introspected["token_type"] == "DPoP"
        assert introspected["cnf"] == {"jkt": c.dpop_thumbprint}

    # dpop-client's tokens must be bound: without a DPoP key it is refused.
    with dpop_client(server, dpop_key=None) as plain:
        with pytest.raises(tokenclient.OAuthError) as e:
            plain.client_credentials("read")
        assert e.value.error == "invalid_grant" and e.value.status == 400


def test_the_async_client_and_the_keyword_arguments(server):
    key = ec.generate_private_key(ec.SECP256R1())
    pem_text = pem(key)

    async def main():
        async with await AsyncClient.from_issuer(server.manifest["issuer"], "dpop-client",
                                                 client_secret=server.client("dpop-client")["client_secret"],
                                                 auth_method="client_secret_post", dpop_key=pem_text,
                                                 dpop_alg="ES256", timeout=30) as a:
            token = await a.client_credentials("read")
            assert_bound(a.sync, token)
            assert a.dpop_thumbprint == a.sync.dpop_thumbprint
            proof = a.dpop_proof("POST", API, token.access_token, nonce="n-1")
            verify_proof(proof, a.sync, "ES256", "POST", API, token.access_token, "n-1")
            assert a.dpop_answer(API, 401, 'DPoP error="use_dpop_nonce"', "n-2") is True
            assert claims_of(a.dpop_proof("GET", API))["nonce"] == "n-2"
            assert_bound(a.sync, await a.get_token("read"))
            return a.dpop_thumbprint

    # The key given is the key used: its public JWK's thumbprint.
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
           "y": b64url(numbers.y.to_bytes(32, "big"))}
    assert asyncio.run(main()) == thumbprint(jwk)


def test_token_copies_and_snapshots_keep_the_binding(server):
    seen = []
    with dpop_client(server, on_token=seen.append) as c:
        token = c.get_token("read")
        assert_bound(c, token)
        for clone in (copy.copy(token), pickle.loads(pickle.dumps(token)), seen[-1]):
            assert clone.cnf == token.cnf and clone.authorization == token.authorization
            assert clone.token_type == "DPoP"
        # The library's cached token (the hook's call kept no snapshot), then
        # the binding's snapshot of it.
        cached = c.get_token("read")
        assert cached.access_token == token.access_token and cached.cnf == token.cnf
        assert c.get_token("read") is cached, "the binding's snapshot"
        # A new key: the snapshot (and the library's cached token) go; the
        # new token is bound to the new key.
        old = c.dpop_thumbprint
        c.set_dpop_key()
        assert c.dpop_thumbprint != old
        renewed = c.get_token("read")
        assert renewed is not token and renewed.cnf == {"jkt": c.dpop_thumbprint}
    assert repr(token) == "Token(token_type='DPoP', expires_in=3600, scope='read')"


# ------------------------------------------------------- proofs, verified here


@pytest.mark.parametrize("name", list(KEYS))
def test_proofs_verify_independently(server, name):
    make, alg_arg, alg = KEYS[name]
    key = make()
    url = server.manifest["protected_url"]
    with dpop_client(server, dpop_key=None) as c:
        c.set_dpop_key(key, alg_arg)
        # Offline: a token endpoint's proof (no ath, no nonce yet) and a
        # resource's (ath; the nonce given), for a URL with a query and a
        # fragment, which htu leaves out.
        first = verify_proof(c.dpop_proof("POST", API + "?page=2#top"), c, alg, "POST", API)
        second = verify_proof(c.dpop_proof("DELETE", API, "an-access-token", "given-nonce"), c, alg, "DELETE", API,
                              "an-access-token", "given-nonce")
        assert first["jti"] != second["jti"]

        # The issuer takes the proofs and binds the token to the key.
        token = c.client_credentials("read")
        assert_bound(c, token)
        # The resource too: its nonce challenge answered once.
        with session() as s:
            (challenge, answer), proofs = dpop_get(s, c, url, token)
        assert challenge.status_code == 401 and challenge.json()["error"] == "use_dpop_nonce"
        assert answer.status_code == 200, answer.text
        assert answer.json()["token_type"] == "DPoP" and answer.json()["jkt"] == c.dpop_thumbprint
        # The proof that went through carries the nonce of the challenge.
        verify_proof(proofs[1], c, alg, "GET", url, token.access_token, nonce=challenge.headers["DPoP-Nonce"])
        assert claims_of(proofs[0]).get("nonce") != challenge.headers["DPoP-Nonce"]
        # The check here is not vacuous: another signature fails it.
        head, payload, signature = proofs[1].split(".")
        forged = ".".join([head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])
        with pytest.raises(jwt.InvalidSignatureError):
            verify_proof(forged, c, alg, "GET", url, token.access_token, nonce=challenge.headers["DPoP-Nonce"])


# ------------------------------------------- the resource, through the adapters


class Answer:
    def __init__(self, status, body, history):
        self.status, self.body, self.history = status, body, history

    @property
    def json(self):
        return json.loads(self.body)


class RequestsDriver:
    name = "requests"

    def __init__(self, client, scope):
        self.session = session(auth=tokenclient.requests.TokenAuth(client, scope))

    def send(self, method, url, content=None):
        r = self.session.request(method, url, data=content, timeout=30)
        return Answer(r.status_code, r.text, [h.status_code for h in r.history])

    def generator_body(self):
        return (chunk for chunk in (b"not ", b"replayable"))

    def close(self):
        self.session.close()


class HttpxDriver:
    name = "httpx"

    def __init__(self, client, scope):
        self.http = httpx.Client(auth=tokenclient.httpx.TokenAuth(client, scope), trust_env=False, timeout=30)

    def send(self, method, url, content=None):
        r = self.http.request(method, url, content=content)
        return Answer(r.status_code, r.text, [h.status_code for h in r.history])

    def generator_body(self):
        return (chunk for chunk in (b"not ", b"replayable"))

    def close(self):
        self.http.close()


class AsyncHttpxDriver:
    """httpx.AsyncClient with the TokenAuth of the client's AsyncClient."""

    name = "httpx-async"

    def __init__(self, client, scope):
        self.auth = tokenclient.httpx.TokenAuth(client.aio(), scope)

    def send(self, method, url, content=None):
        async def go():
            async with httpx.AsyncClient(auth=self.auth, trust_env=False, timeout=30) as http:
                r = await http.request(method, url, content=content)
                return Answer(r.status_code, r.text, [h.status_code for h in r.history])

        return asyncio.run(go())

    def generator_body(self):
        async def chunks():
            for chunk in (b"not ", b"replayable"):
                yield chunk

        return chunks()

    def close(self):
        pass


DRIVERS = [RequestsDriver, HttpxDriver, AsyncHttpxDriver]


@pytest.fixture(params=DRIVERS, ids=[d.name for d in DRIVERS])
def setup(server, request):
    """(a dpop-client, a driver of the HTTP client under test for scope "read")."""
    with dpop_client(server, timeout=30) as c:
        d = request.param(c, "read")
        yield c, d
        d.close()


def test_the_resource_takes_the_token_with_its_proof(server, setup):
    c, d = setup
    url = server.manifest["protected_url"]
    _, protected = stats(server, "dpop-client")
    # The first request: the resource's nonce challenge, answered once.
    got = d.send("GET", url)
    assert got.status == 200, got.body
    assert got.json == {"client_id": "dpop-client", "scope": "read", "method": "GET", "body": "",
                        "token_type": "DPoP", "jkt": c.dpop_thumbprint, "x5t#S256": None}
    assert got.history == [401]
    # Its nonce is kept: the next ones go through at once, each with a new proof.
    for _ in range(2):
        got = d.send("POST", url, content=b"a body")
        assert (got.status, got.history, got.json["body"]) == (200, [], "a body")
    assert stats(server, "dpop-client")[1] == protected + 4
    # A stale nonce: one challenge again; the body is sent again.
    rotate_resource_nonce(server)
    got = d.send("POST", url, content=b"sent twice")
    assert (got.status, got.history, got.json["body"]) == (200, [401], "sent twice")
    # A body that cannot be sent again is not: the challenge is the answer,
    # and its nonce is kept all the same.
    rotate_resource_nonce(server)
    got = d.send("POST", url, content=d.generator_body())
    assert got.status == 401 and got.history == [] and got.json["error"] == "use_dpop_nonce"
    assert d.send("GET", url).history == []
    assert stats(server, "dpop-client")[1] == protected + 8


def test_the_retries_combine_and_stay_bounded(server, setup):
    """The token endpoint and the resource share an origin here, and so the
    one nonce the library keeps for it: each token request leaves the
    issuer's nonce, which the resource then challenges."""
    c, d = setup
    url = server.manifest["protected_url"]
    assert d.send("GET", url).status == 200
    # A revoked token: renewed (the library answers the issuer's nonce
    # challenge), then the resource's challenge of the new proof answered.
    first = c.get_token("read")
    c.revoke(first.access_token, "access_token")
    tokens, protected = stats(server, "dpop-client")
    got = d.send("GET", url)
    assert got.status == 200 and got.history == [401, 401], got.body
    assert stats(server, "dpop-client") == (tokens + 2, protected + 3)
    second = c.get_token("read")
    assert second.access_token != first.access_token and got.json["jkt"] == c.dpop_thumbprint

    # A stale nonce and a revoked token: the nonce challenge answered, the
    # token renewed, and the resource challenges the new token's proof: not
    # answered again (one nonce retry a request). Three sends at most.
    c.revoke(second.access_token, "access_token")
    rotate_resource_nonce(server)
    tokens, protected = stats(server, "dpop-client")
    got = d.send("GET", url)
    assert got.status == 401 and got.history == [401, 401] and got.json["error"] == "use_dpop_nonce"
    assert stats(server, "dpop-client") == (tokens + 2, protected + 3)
    # The nonce of that last answer was kept: the next request goes through.
    got = d.send("GET", url)
    assert got.status == 200 and got.history == []


def test_the_resource_refuses_a_token_without_its_binding(server):
    url = server.manifest["protected_url"]
    with dpop_client(server) as c, dpop_client(server) as other, session() as s:
        token = c.client_credentials("read")
        assert dpop_get(s, c, url, token)[0][-1].status_code == 200
        nonce = claims_of(c.dpop_proof("GET", url, token.access_token))["nonce"]

        def refused(headers, error):
            r = s.get(url, headers=headers, timeout=30)
            assert r.status_code == 401 and r.json()["error"] == error, (r.status_code, r.text)
            assert r.headers["WWW-Authenticate"].startswith("DPoP ")

        # As a bearer token; with the DPoP scheme and no proof.
        refused({"Authorization": "Bearer " + token.access_token}, "invalid_token")
        refused({"Authorization": token.authorization}, "invalid_token")
        # With the proof of another key (with the resource's nonce).
        theirs = other.dpop_proof("GET", url, token.access_token, nonce)
        refused({"Authorization": token.authorization, "DPoP": theirs}, "invalid_token")
        # With a proof of another token, of another method, used twice.
        refused({"Authorization": token.authorization, "DPoP": c.dpop_proof("GET", url, "another-token")},
                "invalid_dpop_proof")
        refused({"Authorization": token.authorization, "DPoP": c.dpop_proof("POST", url, token.access_token)},
                "invalid_dpop_proof")
        proof = c.dpop_proof("GET", url, token.access_token)
        assert s.get(url, headers={"Authorization": token.authorization, "DPoP": proof}, timeout=30).status_code == 200
        refused({"Authorization": token.authorization, "DPoP": proof}, "invalid_dpop_proof")
        # And the right one still works, at once (the nonce is kept).
        answers, _ = dpop_get(s, c, url, token)
        assert [a.status_code for a in answers] == [200]


class _BearerOnly(http.server.BaseHTTPRequestHandler):
    """A server that does not bind tokens (the test server always does
    when a proof comes): POST answers a bearer token and records whether
    a DPoP proof came; GET echoes the Authorization and DPoP headers."""

    protocol_version = "HTTP/1.1"
    proofs = []

    def _answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.proofs.append(self.headers.get("DPoP"))
        self._answer({"access_token": "plain-token-1", "token_type": "Bearer", "expires_in": 3600})

    def do_GET(self):
        self._answer({"authorization": self.headers.get("Authorization"), "dpop": self.headers.get("DPoP")})

    def log_message(self, *args):
        pass


def test_a_bearer_answer_to_a_proof_is_refused_unless_allowed():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BearerOnly)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    kw = {"client_secret": "plain-secret-0123456789abcdef", "auth_method": AuthMethod.CLIENT_SECRET_POST,
          "proxy": "", "dpop_key": True}
    try:
        with Client(base + "/token", "plain", **kw) as c:
            with pytest.raises(tokenclient.ResponseError) as e:
                c.client_credentials()
            assert e.value.kind == _ffi.ERROR_RESPONSE and "plain-token-1" not in str(e.value)
            assert _BearerOnly.proofs[-1], "a proof was sent"
        with Client(base + "/token", "plain", dpop_allow_bearer=True, **kw) as c:
            token = c.get_token()
            assert (token.token_type, token.cnf, token.authorization) == ("Bearer", None, "Bearer plain-token-1")
            # A bearer token goes without a proof.
            with session(auth=tokenclient.requests.TokenAuth(c)) as s:
                assert s.get(base + "/api", timeout=30).json() == {"authorization": "Bearer plain-token-1",
                                                                   "dpop": None}
            c.set_dpop_allow_bearer(False)
            with pytest.raises(tokenclient.ResponseError):
                c.client_credentials()
    finally:
        httpd.shutdown()
        httpd.server_close()


# ----------------------------------------------------------------------- mTLS


@pytest.mark.parametrize("name,method,pem_text", [
    ("mtls-client", AuthMethod.TLS_CLIENT_AUTH, False),
    ("selfsigned-client", AuthMethod.SELF_SIGNED_TLS_CLIENT_AUTH, True),
], ids=["tls_client_auth-files", "self_signed-pem-text"])
def test_mtls_through_the_aliases(server, name, method, pem_text):
    m = server.manifest
    mtls = m["mtls"]
    cert = mtls["certs"][name]
    with Client.from_issuer(m["issuer"], name, timeout=30) as c:
        c.set_ca_file(pathlib.Path(mtls["ca_file"]))
        if pem_text:
            c.set_client_cert(cert["cert_pem"], cert["key_pem"].encode("ascii"))
        else:
            c.set_client_cert(pathlib.Path(cert["cert_file"]), pathlib.Path(cert["key_file"]))
        c.set_tls_client_auth(method)
        metadata = c.metadata()
        # The token endpoint is plain HTTP, without a certificate: a token at
        # all means the alias was used.
        assert metadata["token_endpoint"].startswith("http://")
        assert metadata["mtls_endpoint_aliases"]["token_endpoint"] == mtls["token_url"]
        token = c.client_credentials("read")
        assert token.token_type == "Bearer" and token.authorization == "Bearer " + token.access_token
        assert token.cnf == {"x5t#S256": cert["x5t_s256"]}
        introspected = c.introspect(token.access_token)
        assert introspected["active"] is True and introspected["cnf"] == {"x5t#S256": cert["x5t_s256"]}

        # The resource takes it on a connection with that certificate,
        # through the adapter (a bearer token: no proof).
        files = (cert["cert_file"], cert["key_file"])
        with session(auth=tokenclient.requests.TokenAuth(c, "read"), cert=files, verify=mtls["ca_file"]) as s:
            got = s.get(mtls["protected_url"], timeout=30)
            assert got.status_code == 200, got.text
            assert got.json()["x5t#S256"] == cert["x5t_s256"] and got.json()["token_type"] == "Bearer"
        other = mtls["certs"]["other-client"]
        with session(cert=(other["cert_file"], other["key_file"]), verify=mtls["ca_file"]) as s:
            got = s.get(mtls["protected_url"], headers={"Authorization": token.authorization}, timeout=30)
            assert got.status_code == 401

        # Revocation goes to its alias as well.
        c.revoke(token.access_token, "access_token")
        assert c.introspect(token.access_token) == {"active": False}


def test_mtls_keyword_arguments_and_refusals(server):
    m = server.manifest
    mtls = m["mtls"]
    mine, other = mtls["certs"]["mtls-client"], mtls["certs"]["other-client"]
    with Client.from_issuer(m["issuer"], "mtls-client", ca_file=mtls["ca_file"], auth_method="tls_client_auth",
                            client_cert=(mine["cert_pem"], mine["key_pem"])) as c:
        assert c.client_credentials("read").cnf == {"x5t#S256": mine["x5t_s256"]}
        # Another client's certificate (of the same CA).
        c.set_client_cert(other["cert_file"], other["key_file"])
        with pytest.raises(tokenclient.OAuthError) as e:
            c.client_credentials("read")
        assert e.value.error == "invalid_client" and e.value.status == 401
        # No certificate: refused before sending.
        c.set_client_cert(None, None)
        with pytest.raises(tokenclient.ConfigError) as e:
            c.client_credentials("read")
        assert e.value.kind == _ffi.ERROR_CONFIG
        # Bad certificate input is refused when set.
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_client_cert("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", mine["key_pem"])
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_client_cert(mine["cert_file"], None)
        for key in (mine["cert_pem"], "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"):
            with pytest.raises(tokenclient.KeyFormatError):
                c.set_client_cert(mine["cert_pem"], key)
        with pytest.raises(TypeError):
            c.set_client_cert(3, 4)
    # One binding a token: DPoP with a certificate-bound client is refused.
    with Client.from_issuer(m["issuer"], "mtls-client", ca_file=mtls["ca_file"], auth_method="tls_client_auth",
                            client_cert=(mine["cert_file"], mine["key_file"]), dpop_key=True) as c:
        with pytest.raises(tokenclient.OAuthError) as e:
            c.client_credentials("read")
        assert e.value.error == "invalid_request"


# ---------------------------------------------------------------------- errors


def test_without_a_dpop_key():
    with Client(API.replace("/things", "/token"), "x", public=True) as c:
        for call in (lambda: c.dpop_thumbprint, lambda: c.dpop_proof("GET", API)):
            with pytest.raises(tokenclient.ConfigError) as e:
                call()
            assert e.value.kind == _ffi.ERROR_CONFIG
    c.close()
    with pytest.raises(tokenclient.InvalidArgumentError, match="closed"):
        c.dpop_proof("GET", API)


def test_bad_keys_and_algorithms():
    ec_pem = pem(ec.generate_private_key(ec.SECP256R1()))
    public_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    with Client(API, "x", public=True) as c:
        for key, alg in (("garbage", None), (public_pem, None), ('{"kty":"EC"}', None), (ec_pem, "PS256"),
                         (ec_pem, "ES384"), (ec_pem, "HS256")):
            with pytest.raises(tokenclient.KeyFormatError):
                c.set_dpop_key(key, alg)
        # An unknown algorithm; one a generated (P-256) key cannot have.
        for alg in ("XY999", "RS256", "HS256"):
            with pytest.raises(tokenclient.InvalidArgumentError):
                c.set_dpop_key(None, alg)
        for key in (5, ec.generate_private_key(ec.SECP256R1()).public_key()):
            with pytest.raises(TypeError):
                c.set_dpop_key(key)
        with pytest.raises(TypeError):
            c.set_dpop_allow_bearer("yes")
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_tls_client_auth(AuthMethod.CLIENT_SECRET_POST)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_tls_client_auth("tls_client_nope")
        with pytest.raises(tokenclient.ConfigError):
            c.dpop_thumbprint  # noqa: B018 - every failed set left it without a key
    for kwargs, message in (({"dpop_alg": "ES256"}, "dpop_alg goes with dpop_key"),
                            ({"auth_method": "tls_client_auth"}, "auth_method goes with client_cert"),
                            ({"auth_method": int(AuthMethod.SELF_SIGNED_TLS_CLIENT_AUTH)},
                             "auth_method goes with client_cert"),
                            ({"auth_method": AuthMethod.SELF_SIGNED_TLS_CLIENT_AUTH, "client_secret": "s" * 32,
                              "client_cert": ("c.pem", "k.pem")}, "give one of")):
        with pytest.raises(tokenclient.InvalidArgumentError, match=message):
            Client(API, "x", **kwargs)
    with pytest.raises(tokenclient.KeyFormatError):
        Client(API, "x", public=True, dpop_key="garbage")


def test_nonces_proofs_and_answers():
    other_origin = "https://other.example/x"
    with Client(API, "x", public=True, dpop_key=True) as c:
        # A nonce of the server's is kept for its origin.
        assert c.dpop_answer(API, 401, 'DPoP error="use_dpop_nonce"', "n-1") is True
        assert claims_of(c.dpop_proof("GET", API + "/more"))["nonce"] == "n-1"
        assert "nonce" not in claims_of(c.dpop_proof("GET", other_origin))
        # Not a challenge: a 401 without a nonce, a bearer challenge, a 200
        # (whose new nonce is kept all the same).
        assert c.dpop_answer(API, 401, 'DPoP error="use_dpop_nonce"') is False
        assert c.dpop_answer(API, 401, 'Bearer error="invalid_token"', "n-2") is False
        assert c.dpop_answer(API, 200, None, "n-3") is False
        assert claims_of(c.dpop_proof("GET", API))["nonce"] == "n-3"
        assert c.dpop_answer(API, 401, 'DPoP error="invalid_token"', None) is False
        # A malformed nonce: a ResponseError, not kept.
        for bad in ("has space", 'a"b', "x" * 513, ""):
            with pytest.raises(tokenclient.ResponseError) as e:
                c.dpop_answer(API, 401, 'DPoP error="use_dpop_nonce"', bad)
            assert e.value.kind == _ffi.ERROR_RESPONSE
            with pytest.raises(tokenclient.ResponseError):
                c.dpop_proof("GET", API, nonce=bad)
        assert claims_of(c.dpop_proof("GET", API))["nonce"] == "n-3"
        # Arguments the library refuses.
        for args in (("G ET", API), ("GET", "http://example.com/x"), ("GET", "not a url"),
                     ("GET", API, ""), (None, API), ("GET", None)):
            with pytest.raises(tokenclient.InvalidArgumentError):
                c.dpop_proof(*args)
        verify_proof(c.dpop_proof("PUT", "http://127.0.0.1:9/x?y"), c, "ES256", "PUT", "http://127.0.0.1:9/x")
        with pytest.raises(TypeError):
            c.dpop_answer(API, "401")
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.dpop_answer(API, -1)
