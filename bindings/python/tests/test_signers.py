"""Keys that never leave their vault, through the binding (issue 20),
against real parts:

- RSA-2048, P-256 and P-384 keys generated inside a throwaway SoftHSM2
  token (tests/softhsm.py; sensitive, never extractable), used through
  PKCS#11 URIs for private_key_jwt by clients registered with the test
  server (RFC 7591) for each key's public half, and for DPoP; assertions
  and proofs verified here with PyJWT against the token's public keys,
  token bindings against RFC 7638 thumbprints computed here; and across
  fork(), where the library reopens the token in the child;
- external signers: Python callables (DER and r||s ECDSA, RSA) and
  `cryptography` key objects for every algorithm the server's clients
  use, for assertions and DPoP proofs; what a failing, wrong, slow or
  concurrent signer does; and how long the binding keeps a signer alive
  (until the library's free callback).
"""

import asyncio
import base64
import gc
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import weakref

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import tokenclient
from forked import Forked
from tokenclient import AsyncClient, AuthMethod, Client, _signers

#: The binding's source tree (the package the exit test's program imports).
PACKAGE = pathlib.Path(__file__).resolve().parents[1]
#: The keys of the SoftHSM2 token.
HSM_KEYS = ("rsa2048", "p256", "p384")
#: A token URL for the tests that make no request.
OFFLINE = "https://as.example/token"
#: A URL the offline DPoP proofs are made for.
API = "https://rs.example/things"
#: The members of a JWK its RFC 7638 thumbprint is computed over, by kty.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}
#: The size of a JOSE signature, by algorithm.
SIGNATURE_BYTES = {"ES256": 64, "ES384": 96, "ES512": 132, "RS256": 256, "PS256": 256, "EdDSA": 64}
HASHES = {"ES256": hashes.SHA256, "ES384": hashes.SHA384, "ES512": hashes.SHA512}


# ------------------------------------------------------------------ helpers


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def thumbprint(jwk):
    """The RFC 7638 thumbprint of a public JWK, computed here."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(key):
    """The public JWK of a `cryptography` key (private or public), built here."""
    public = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(public, ec.EllipticCurvePublicKey):
        size = (public.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[public.curve.name]
        n = public.public_numbers()
        return {"kty": "EC", "crv": crv, "x": b64url(n.x.to_bytes(size, "big")), "y": b64url(n.y.to_bytes(size, "big"))}
    if isinstance(public, rsa.RSAPublicKey):
        n = public.public_numbers()
        return {"kty": "RSA", "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                "e": b64url(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big"))}
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def token_requests(server, client_id):
    """The token requests the server has seen from `client_id`."""
    query = urllib.parse.urlencode({"client_id": client_id})
    return get_json(f"{server.manifest['stats_url']}?{query}")["token_requests"]


def register(server, jwk, alg, kid):
    """A private_key_jwt client registered for the public `jwk`; its client_id."""
    return server.register_key_client(jwk, alg, kid)


def verify_assertion(assertion, key, alg, client_id, audience, kid):
    """Checks a client assertion as the server would, with PyJWT: its
    header, signature, audience, issuer and claims. Returns the claims."""
    assert jwt.get_unverified_header(assertion) == {"alg": alg, "typ": "JWT", "kid": kid}
    claims = jwt.decode(assertion, key, algorithms=[alg], audience=audience, issuer=client_id,
                        options={"require": ["exp", "iat", "jti", "iss", "sub", "aud"]})
    assert claims["sub"] == client_id
    # A DER ECDSA signature was converted to JOSE's r || s.
    assert len(unb64url(assertion.rsplit(".", 1)[1])) == SIGNATURE_BYTES[alg]
    return claims


def verify_proof(proof, jwk, alg, access_token):
    """Checks a DPoP proof for GET API with PyJWT, against `jwk` (the
    expected public key, not the proof's own header); returns its claims."""
    header = jwt.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == alg, header
    assert {k: header["jwk"][k] for k in THUMBPRINT_MEMBERS[jwk["kty"]]} == \
        {k: jwk[k] for k in THUMBPRINT_MEMBERS[jwk["kty"]]}
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(header["jwk"])
    claims = jwt.decode(proof, jwt.PyJWK(jwk, algorithm=alg), algorithms=[alg])
    assert claims["htm"] == "GET" and claims["htu"] == API
    assert claims["ath"] == b64url(hashlib.sha256(access_token.encode("ascii")).digest())
    return claims


def dpop_client(server, **kw):
    """`dpop-client` (its tokens must be DPoP-bound), its secret in the body."""
    return Client(server.token_url("dpop-client"), "dpop-client",
                  client_secret=server.client("dpop-client")["client_secret"],
                  auth_method=AuthMethod.CLIENT_SECRET_POST, timeout=30, **kw)


def assert_bound(client, token, jwk):
    assert token.token_type == "DPoP"
    assert token.cnf == {"jkt": thumbprint(jwk)}
    assert client.dpop_thumbprint == thumbprint(jwk)


def manifest_key(server, name):
    """(the manifest's client, its private key loaded with cryptography)."""
    m = server.client(name)
    return m, serialization.load_pem_private_key(m["private_key_pem"].encode(), None)


def der_signer(key, alg):
    """A callable over an EC key returning DER, as KMS APIs do."""
    return lambda data: key.sign(data, ec.ECDSA(HASHES[alg]()))


def raw_signer(key, alg):
    """A callable over an EC key returning JOSE's r || s."""
    size = (key.curve.key_size + 7) // 8

    def sign(data):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(HASHES[alg]())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return sign


def pss_signer(key):
    """A callable over an RSA key signing PS256."""
    return lambda data: key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())


class Vault:
    """A signer's owner: what a KMS or HSM client would be. Counts its
    signatures, and tells when one starts (`entered`) and may end (`go`)."""

    def __init__(self, key, alg="ES256", gate=False):
        self.key, self.alg, self.calls = key, alg, 0
        self.lock = threading.Lock()
        self.entered, self.go = threading.Event(), threading.Event()
        if not gate:
            self.go.set()

    def sign(self, data):
        with self.lock:
            self.calls += 1
        self.entered.set()
        assert self.go.wait(30)
        return self.key.sign(data, ec.ECDSA(HASHES[self.alg]()))


def released(ref):
    gc.collect()
    return ref() is None


# ------------------------------------------------------------ SoftHSM2 keys


@pytest.fixture(scope="module")
def hsm_clients(server, softhsm):
    """name -> (client_id, kid) of a client registered for each token key."""
    out = {}
    for name in HSM_KEYS:
        key = softhsm["keys"][name]
        kid = f"hsm-{name}"
        out[name] = (register(server, key["jwk"], key["alg"], kid), kid)
    return out


def hsm_client(server, softhsm, hsm_clients, name):
    client_id, kid = hsm_clients[name]
    c = Client(server.manifest["token_url"], client_id, timeout=30)
    c.set_private_key(softhsm["keys"][name]["uri"], kid)
    return c


@pytest.mark.parametrize("name", HSM_KEYS)
def test_token_keys_sign_assertions_and_exchanges(server, softhsm, hsm_clients, name):
    key = softhsm["keys"][name]
    # The private key can never be read out of the token.
    assert key["never_extractable"] is True and key["sensitive"] is True
    client_id, kid = hsm_clients[name]
    with hsm_client(server, softhsm, hsm_clients, name) as c:
        for _ in range(3):
            verify_assertion(c.create_assertion(), jwt.PyJWK(key["jwk"], algorithm=key["alg"]), key["alg"], client_id,
                             server.manifest["token_url"], kid)
        before = token_requests(server, client_id)
        token = c.client_credentials("read")
        assert token.access_token and token.scope == "read"
        assert token_requests(server, client_id) == before + 1
    # The constructor's keywords take the URI as they take a key.
    with Client(server.manifest["token_url"], client_id, private_key=key["uri"], key_id=kid) as c:
        assert c.get_token("read").access_token


def test_dpop_with_the_token_p256_key(server, softhsm):
    key = softhsm["keys"]["p256"]
    with dpop_client(server) as c:
        c.set_dpop_key(key["uri"])
        token = c.client_credentials("read")
        assert_bound(c, token, key["jwk"])
        proof = c.dpop_proof("GET", API, token.access_token)
        verify_proof(proof, key["jwk"], "ES256", token.access_token)
    with dpop_client(server, dpop_key=key["uri"]) as c:
        assert_bound(c, c.get_token("read"), key["jwk"])


def test_fork_reopens_the_token_in_the_child(server, softhsm, hsm_clients):
    """Used before fork(): the token's sessions do not survive it; the
    library reopens the token in the child, and the parent's go on."""
    client_id, kid = hsm_clients["p256"]
    key = softhsm["keys"]["p256"]
    public = jwt.PyJWK(key["jwk"], algorithm="ES256")
    c = hsm_client(server, softhsm, hsm_clients, "p256")
    d = dpop_client(server, dpop_key=key["uri"])
    m, py_key = manifest_key(server, "es256-client")
    p = Client(server.token_url("es256-client"), m["client_id"], signer=der_signer(py_key, "ES256"), alg="ES256",
               key_id=m["kid"])
    try:
        verify_assertion(c.create_assertion(), public, "ES256", client_id, server.manifest["token_url"], kid)
        assert c.client_credentials("read").access_token
        assert_bound(d, d.client_credentials("read"), key["jwk"])
        assert p.client_credentials("read").access_token

        def in_child():
            claims = verify_assertion(c.create_assertion(), public, "ES256", client_id,
                                      server.manifest["token_url"], kid)
            token = c.client_credentials("read")
            bound = d.client_credentials("read")
            assert_bound(d, bound, key["jwk"])
            verify_assertion(p.create_assertion(), py_key.public_key(), "ES256", m["client_id"],
                             server.token_url("es256-client"), m["kid"])
            return {"jti": claims["jti"], "scope": token.scope, "bound": bound.cnf["jkt"],
                    "python": p.client_credentials("read").scope}

        forked = Forked(in_child)
        # The parent signs while the child does.
        parent = [verify_assertion(c.create_assertion(), public, "ES256", client_id, server.manifest["token_url"],
                                   kid)["jti"] for _ in range(5)]
        child, code = forked.result()
        assert code == 0, "the child's signatures or exchanges failed (see its traceback above)"
        assert child == {"jti": child["jti"], "scope": "read", "bound": thumbprint(key["jwk"]), "python": "read"}
        assert child["jti"] not in parent
        # And after.
        verify_assertion(c.create_assertion(), public, "ES256", client_id, server.manifest["token_url"], kid)
        assert c.client_credentials("read").access_token
        assert_bound(d, d.client_credentials("read"), key["jwk"])
    finally:
        c.close()
        d.close()
        p.close()


# ------------------------------------------------------ callables and keys


#: (the manifest's client, how its key signs): "der" and "raw" callables over
#: an EC key, "pss" a callable over an RSA key, "key" the key object itself.
CASES = [("es256-client", "der"), ("es256-client", "raw"), ("es384-client", "der"), ("es384-client", "raw"),
         ("ps256-client", "pss"), ("es256-client", "key"), ("es384-client", "key"), ("rs256-client", "key"),
         ("ps256-client", "key"), ("eddsa-client", "key")]


@pytest.mark.parametrize("name,form", CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_external_signers_with_the_servers_clients(server, name, form):
    m, key = manifest_key(server, name)
    alg = m["alg"]
    calls = []
    if form == "key":
        sign = key
        # The key's default algorithm; RSA is RS256 unless PS256 is asked for.
        given = "PS256" if alg == "PS256" else None
    else:
        inner = {"der": der_signer, "raw": raw_signer}[form](key, alg) if form != "pss" else pss_signer(key)

        def sign(data):
            calls.append(data)
            return inner(data)

        given = alg
    with Client(server.token_url(name), m["client_id"], timeout=30) as c:
        c.set_signer(sign, given, key_id=m["kid"])
        assertion = c.create_assertion()
        verify_assertion(assertion, key.public_key(), alg, m["client_id"], server.token_url(name), m["kid"])
        if form != "key":  # the callable got the exact signing input
            assert calls == [assertion.rsplit(".", 1)[0].encode("ascii")]
        before = token_requests(server, m["client_id"])
        assert c.client_credentials("read").scope == "read"
        assert token_requests(server, m["client_id"]) == before + 1
    # The constructor's keyword, with key_id and alg.
    with Client(server.token_url(name), m["client_id"], signer=sign, key_id=m["kid"], alg=given) as c:
        assert c.client_credentials("read").access_token


def test_an_async_client_signs_on_its_executor(server):
    m, key = manifest_key(server, "es256-client")
    threads = set()

    def sign(data):
        threads.add(threading.get_ident())
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    async def main():
        async with AsyncClient(server.token_url("es256-client"), m["client_id"], signer=sign, alg="ES256",
                               key_id=m["kid"], timeout=30) as a:
            verify_assertion(await a.create_assertion(), key.public_key(), "ES256", m["client_id"],
                             server.token_url("es256-client"), m["kid"])
            assert (await a.get_token("read")).scope == "read"

    asyncio.run(main())
    assert threads and threading.get_ident() not in threads


# ----------------------------------------------------- signers that fail


def offline_client(sign, alg="ES256"):
    c = Client(OFFLINE, "cid")
    c.set_signer(sign, alg)
    return c


def test_an_exception_is_a_key_error_with_its_text(server):
    def sealed(_data):
        raise RuntimeError("the vault is sealed")

    with offline_client(sealed) as c:
        with pytest.raises(tokenclient.KeyFormatError) as e:
            c.create_assertion()
    assert "RuntimeError: the vault is sealed" in e.value.message
    assert e.value.kind == tokenclient._ffi.ERROR_KEY
    # A long text is cut (on a character boundary); BaseExceptions are caught too.
    for raised, shown in ((ValueError("é" * 5000), "ValueError: éé"), (KeyboardInterrupt(), "KeyboardInterrupt"),
                          (SystemExit(3), "SystemExit: 3")):
        def sign(_data, raised=raised):
            raise raised

        with offline_client(sign) as c, pytest.raises(tokenclient.KeyFormatError) as e:
            c.create_assertion()
        assert shown in e.value.message and len(e.value.message) < 400
    # Through an exchange: nothing is sent.
    m, _ = manifest_key(server, "es256-client")
    with Client(server.token_url("es256-client"), m["client_id"], signer=sealed, alg="ES256", key_id=m["kid"]) as c:
        before = token_requests(server, m["client_id"])
        with pytest.raises(tokenclient.KeyFormatError, match="the vault is sealed"):
            c.client_credentials("read")
        assert token_requests(server, m["client_id"]) == before


@pytest.mark.parametrize("alg,result", [
    ("ES256", b"\x01" * 10),       # neither r || s nor DER
    ("ES256", b"\x01" * 96),       # r || s of P-384 for ES256
    ("ES384", b"\x01" * 64),       # r || s of P-256 for ES384 (read as DER: not DER)
    ("RS256", b"\x01" * 100),      # not a modulus size
    ("EdDSA", b"\x01" * 63),
    ("RS256", b"\x01" * 2000),     # more than the library's room
    ("ES256", b""),
], ids=["short", "p384-size", "p256-size-for-es384", "rsa-100", "eddsa-63", "too-long", "empty"])
def test_a_wrong_length_is_a_key_error(alg, result):
    with offline_client(lambda _data: result, alg) as c, pytest.raises(tokenclient.KeyFormatError):
        c.create_assertion()


@pytest.mark.parametrize("result", ["a str", None, 42, [1, 2]], ids=["str", "None", "int", "list"])
def test_a_result_that_is_not_bytes_is_a_key_error(result):
    with offline_client(lambda _data: result) as c, pytest.raises(tokenclient.KeyFormatError) as e:
        c.create_assertion()
    assert f"the signer returned {type(result).__name__}, not bytes" in e.value.message


def test_bytes_like_results_are_taken():
    key = ec.generate_private_key(ec.SECP256R1())
    for wrap in (bytearray, memoryview):
        with offline_client(lambda data: wrap(key.sign(data, ec.ECDSA(hashes.SHA256())))) as c:
            jwt.decode(c.create_assertion(), key.public_key(), algorithms=["ES256"], audience=OFFLINE)


def test_a_signer_past_the_deadline_fails_the_call_before_sending(server):
    key = ec.generate_private_key(ec.SECP256R1())
    client_id = register(server, public_jwk(key), "ES256", "slow")
    done = threading.Event()

    def slow(data):
        time.sleep(0.8)
        try:
            return key.sign(data, ec.ECDSA(hashes.SHA256()))
        finally:
            done.set()

    with Client(server.manifest["token_url"], client_id, signer=slow, alg="ES256", key_id="slow") as c:
        with pytest.raises(tokenclient.TransportError) as e:
            c.client_credentials("read", timeout=0.3)
        assert done.wait(10)
        time.sleep(0.3)
        assert token_requests(server, client_id) == 0, "a request was sent after the deadline"
        assert "300 ms" in e.value.message, e.value.message
        # The same signer within its deadline.
        assert c.client_credentials("read", timeout=10).scope == "read"
        assert token_requests(server, client_id) == 1


def test_8_threads_x_1000_assertions_through_one_callable():
    key = ec.generate_private_key(ec.SECP256R1())
    vault = Vault(key)
    with offline_client(vault.sign) as c:
        def work(out):
            out.extend(c.create_assertion() for _ in range(1000))

        results = [[] for _ in range(8)]
        threads = [threading.Thread(target=work, args=(r,)) for r in results]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assertions = [a for r in results for a in r]
    assert len(assertions) == 8000 and vault.calls == 8000
    assert len({jwt.decode(a, options={"verify_signature": False})["jti"] for a in assertions}) == 8000
    for r in results:
        jwt.decode(r[-1], key.public_key(), algorithms=["ES256"], audience=OFFLINE)


# ------------------------------------------------------ a signer's lifetime


def test_the_library_keeps_a_signer_until_it_frees_it():
    baseline = _signers.live()
    key = ec.generate_private_key(ec.SECP256R1())
    c = Client(OFFLINE, "cid")
    vault = Vault(key)
    ref = weakref.ref(vault)
    c.set_signer(vault.sign, "ES256")
    del vault
    assert not released(ref), "dropped while the library holds it"
    c.create_assertion()
    # Replaced: freed, then released.
    c.set_signer(key)
    assert released(ref)
    # Closed: the same.
    vault = Vault(key)
    ref = weakref.ref(vault)
    c.set_signer(vault.sign, "ES256")
    del vault
    c.close()
    assert released(ref)
    # Neither closed nor replaced: the client's finalizer frees it.
    vault = Vault(key)
    ref = weakref.ref(vault)
    c = Client(OFFLINE, "cid", signer=vault.sign, alg="ES256")
    del vault, c
    assert released(ref)
    assert _signers.live() == baseline


def test_a_request_in_flight_keeps_the_replaced_signer():
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    vault = Vault(key, gate=True)
    ref = weakref.ref(vault)
    with offline_client(vault.sign) as c:
        got = []
        t = threading.Thread(target=lambda: got.append(c.create_assertion()))
        t.start()
        assert vault.entered.wait(10)
        go = vault.go
        c.set_signer(other)  # while the old signer signs
        del vault
        assert not released(ref), "released while a request still signs with it"
        go.set()
        t.join(10)
        assert not t.is_alive()
        # The request that started before the replacement was signed by the old key.
        jwt.decode(got[0], key.public_key(), algorithms=["ES256"], audience=OFFLINE)
        assert released(ref)
        jwt.decode(c.create_assertion(), other.public_key(), algorithms=["ES256"], audience=OFFLINE)


def test_a_failed_setter_keeps_nothing():
    baseline = _signers.live()
    key = ec.generate_private_key(ec.SECP256R1())
    with Client(OFFLINE, "cid") as c:
        for call in (lambda s: c.set_signer(s, "HS256"), lambda s: c.set_signer(s, "ES999"),
                     lambda s: c.set_signer(s, "ES256", key_id="bad\nkid"),
                     lambda s: c.set_dpop_signer(s, "ES256", "not a key"),
                     lambda s: c.set_dpop_signer(s, "HS256", public_pem(key))):
            vault = Vault(key)
            ref = weakref.ref(vault)
            with pytest.raises((tokenclient.InvalidArgumentError, tokenclient.KeyFormatError)):
                call(vault.sign)
            del vault
            assert released(ref)
    closed = Client(OFFLINE, "cid")
    closed.close()
    with pytest.raises(tokenclient.InvalidArgumentError, match="closed"):
        closed.set_signer(key)
    assert _signers.live() == baseline


# ------------------------------------------------------- the arguments


def test_arguments_the_binding_checks():
    key = ec.generate_private_key(ec.SECP256R1())
    with Client(OFFLINE, "cid") as c:
        with pytest.raises(tokenclient.InvalidArgumentError, match="alg is required"):
            c.set_signer(lambda d: b"")
        with pytest.raises(TypeError, match="callable"):
            c.set_signer("-----BEGIN PRIVATE KEY-----")
        with pytest.raises(TypeError, match="callable"):
            c.set_signer(key.public_key(), "ES256")
        with pytest.raises(TypeError):
            c.set_signer(lambda d: b"", 256)
        # A key object's algorithm must fit it.
        for wrong, alg in ((key, "ES384"), (key, "RS256"), (rsa.generate_private_key(65537, 2048), "ES256"),
                           (ed25519.Ed25519PrivateKey.generate(), "ES256")):
            with pytest.raises(tokenclient.KeyFormatError, match="does not fit"):
                c.set_signer(wrong, alg)
        with pytest.raises(tokenclient.KeyFormatError, match="secp256k1"):
            c.set_signer(ec.generate_private_key(ec.SECP256K1()))
        with pytest.raises(tokenclient.KeyFormatError, match="Ed448"):
            c.set_signer(ed448.Ed448PrivateKey.generate())
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_signer(key, "HS256")
        # The key's default algorithm.
        for made, alg in ((key, "ES256"), (ec.generate_private_key(ec.SECP384R1()), "ES384"),
                          (ec.generate_private_key(ec.SECP521R1()), "ES512"),
                          (rsa.generate_private_key(65537, 2048), "RS256"),
                          (ed25519.Ed25519PrivateKey.generate(), "EdDSA")):
            c.set_signer(made, key_id="k1")
            assertion = c.create_assertion()
            assert jwt.get_unverified_header(assertion)["alg"] == alg
            jwt.decode(assertion, made.public_key(), algorithms=[alg], audience=OFFLINE)
        # RS384/PS512: the hash and the padding of the algorithm.
        big = rsa.generate_private_key(65537, 3072)
        for alg in ("RS384", "PS512"):
            c.set_signer(big, alg)
            jwt.decode(c.create_assertion(), big.public_key(), algorithms=[alg], audience=OFFLINE)


@pytest.mark.parametrize("kwargs", [
    {"signer": lambda d: b"", "private_key": "x"},
    {"signer": lambda d: b"", "client_secret": "y", "alg": "ES256"},
    {"signer": lambda d: b""},
    {"dpop_signer": lambda d: b"", "dpop_key": True, "dpop_alg": "ES256", "dpop_public_key": "k"},
    {"dpop_public_key": "k"},
    {"dpop_signer": lambda d: b"", "dpop_alg": "ES256"},
], ids=["with-private_key", "with-a-secret", "no-alg", "with-dpop_key", "public-key-alone", "no-public-key"])
def test_keywords_that_do_not_go_together(kwargs):
    with pytest.raises(tokenclient.InvalidArgumentError):
        Client(OFFLINE, "cid", **kwargs)


# ------------------------------------------------------------ DPoP signers


def test_dpop_signer_callable_with_public_key_forms(server):
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(key)
    calls = []

    def sign(data):
        calls.append(data)
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    forms = {"pem": public_pem(key), "der": der, "base64": base64.b64encode(der).decode(), "object": key.public_key()}
    for form, public in forms.items():
        with dpop_client(server) as c:
            c.set_dpop_signer(sign, "ES256", public)
            token = c.client_credentials("read")
            assert_bound(c, token, jwk)
            verify_proof(c.dpop_proof("GET", API, token.access_token), jwk, "ES256", token.access_token)
    assert calls, "the callable signed the proofs"
    with dpop_client(server, dpop_signer=sign, dpop_alg="ES256", dpop_public_key=public_pem(key)) as c:
        assert_bound(c, c.get_token("read"), jwk)


@pytest.mark.parametrize("make,alg,proof_alg", [
    (lambda: ec.generate_private_key(ec.SECP384R1()), None, "ES384"),
    (lambda: rsa.generate_private_key(65537, 2048), "PS256", "PS256"),
    (lambda: ed25519.Ed25519PrivateKey.generate(), None, "EdDSA"),
], ids=["p384", "rsa-ps256", "ed25519"])
def test_dpop_signer_key_objects(server, make, alg, proof_alg):
    key = make()
    jwk = public_jwk(key)
    with dpop_client(server) as c:
        c.set_dpop_signer(key, alg)
        token = c.client_credentials("read")
        assert_bound(c, token, jwk)
        verify_proof(c.dpop_proof("GET", API, token.access_token), jwk, proof_alg, token.access_token)


def test_dpop_signer_errors():
    key = ec.generate_private_key(ec.SECP256R1())
    sign = der_signer(key, "ES256")
    baseline = _signers.live()
    with Client(OFFLINE, "cid") as c:
        for bad in ("not a key", public_pem(key).replace("PUBLIC KEY", "PRIVATE KEY"),
                    public_pem(rsa.generate_private_key(65537, 2048))):
            with pytest.raises(tokenclient.KeyFormatError):
                c.set_dpop_signer(sign, "ES256", bad)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_dpop_signer(sign, "HS256", public_pem(key))
        with pytest.raises(tokenclient.InvalidArgumentError, match="public_key is required"):
            c.set_dpop_signer(sign, "ES256")
        with pytest.raises(tokenclient.InvalidArgumentError, match="alg is required"):
            c.set_dpop_signer(sign, public_key=public_pem(key))
        with pytest.raises(tokenclient.InvalidArgumentError, match="public_key goes with a callable"):
            c.set_dpop_signer(key, public_key=public_pem(key))
        with pytest.raises(tokenclient.ConfigError):
            c.dpop_thumbprint
        # A failing DPoP signer: the proof is a KEY error with its text.
        def no_session(_data):
            raise OSError("no HSM session")

        c.set_dpop_signer(no_session, "ES256", public_pem(key))
        assert c.dpop_thumbprint == thumbprint(public_jwk(key))
        with pytest.raises(tokenclient.KeyFormatError, match="OSError: no HSM session"):
            c.dpop_proof("GET", API)
    assert _signers.live() == baseline


# ------------------------------------------------------------- at exit

#: A program that exits while daemon threads sign in a loop and one of the
#: library's threads is in a slow signer (a get_token whose caller gave up).
EXITING = """
import sys, threading, time
import tokenclient
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.generate_private_key(ec.SECP256R1())
def sign(data):
    return key.sign(data, ec.ECDSA(hashes.SHA256()))
def slow(data):
    time.sleep(0.5)
    return sign(data)
c = tokenclient.Client("https://as.example/token", "cid", signer=sign, alg="ES256", log_level=None)
def loop():
    while True:
        c.create_assertion()
for _ in range(4):
    threading.Thread(target=loop, daemon=True).start()
s = tokenclient.Client("http://127.0.0.1:9/token", "cid", signer=slow, alg="ES256", proxy="", log_level=None,
                       retry_policy=0)
try:
    s.get_token(timeout=0.1)
except tokenclient.TransportError:
    pass
time.sleep(0.2)
print("exiting", flush=True)
"""


def test_exiting_while_threads_sign():
    """CPython (up to 3.13) ends a thread that is in Python code when the
    interpreter finalizes with pthread_exit, which aborts the process when
    that code is a signer inside the library's frames: from atexit on, the
    binding lets no thread but the main one start a signature, and waits
    for those under way."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE), os.environ.get("PYTHONPATH")]))}
    for _ in range(8):  # without the guard, about one run in two aborts
        started = time.monotonic()
        run = subprocess.run([sys.executable, "-c", EXITING], env=env, capture_output=True, text=True, timeout=60)
        assert (run.returncode, run.stdout, run.stderr) == (0, "exiting\n", ""), run
        assert time.monotonic() - started < 10
