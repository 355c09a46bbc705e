"""Independent verification of the client assertions libtokenclient signs.

Keys are generated here with `cryptography`; assertions are made through the
raw C ABI (c_abi.py, which calls the functions as tokenclient._ffi declares
them, past the binding's Client) and checked with PyJWT and `cryptography`
only, never with tokenclient's own code.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import c_abi
from tokenclient import _ffi

TOKEN_URL = "https://acme.example.com/oauth/token"
CLIENT_ID = "client-0123"
ISSUER = "https://acme.example.com"
DEFAULT_LIFETIME = 300
DEFAULT_SKEW = 5
CLAIMS = {"iss", "sub", "aud", "jti", "iat", "exp"}
REQUIRED = {"require": sorted(CLAIMS)}

# Key kinds -> (algorithm inferred by tokenclient, JOSE signature length in bytes).
KINDS = {
    "P-256": ("ES256", 64),
    "P-384": ("ES384", 96),
    "P-521": ("ES512", 132),
    "RSA": ("RS256", 256),
    "Ed25519": ("EdDSA", 64),
}
EC_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}


# --------------------------------------------------------------- keys


@functools.cache
def private_key(kind: str, n: int = 0):
    """A generated private key of `kind`; `n` tells apart several of a kind."""
    if kind in EC_CURVES:
        return ec.generate_private_key(EC_CURVES[kind]())
    if kind == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "RSA-1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if kind == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


def pem(key, fmt=serialization.PrivateFormat.PKCS8,
        encryption=serialization.NoEncryption()) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def der_b64(key) -> str:
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return base64.b64encode(der).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def uint(value: int, length: int | None = None) -> str:
    """A JWK integer: big-endian, minimal or left-padded to `length` bytes."""
    length = length or max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(length, "big"))


def private_jwk(key, **extra) -> dict:
    """The private JWK of `key`, built by hand from its numbers (RFC 7518 §6)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        numbers = key.private_numbers()
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[key.curve.name]
        jwk = {"kty": "EC", "crv": crv,
               "x": uint(numbers.public_numbers.x, size),
               "y": uint(numbers.public_numbers.y, size),
               "d": uint(numbers.private_value, size)}
    elif isinstance(key, rsa.RSAPrivateKey):
        p = key.private_numbers()
        jwk = {"kty": "RSA", "n": uint(p.public_numbers.n), "e": uint(p.public_numbers.e),
               "d": uint(p.d), "p": uint(p.p), "q": uint(p.q),
               "dp": uint(p.dmp1), "dq": uint(p.dmq1), "qi": uint(p.iqmp)}
    else:
        jwk = {"kty": "OKP", "crv": "Ed25519",
               "x": b64url(key.public_key().public_bytes_raw()),
               "d": b64url(key.private_bytes_raw())}
    jwk.update(extra)
    return jwk


def key_material(text: str) -> str:
    """The secret part of a key's text: the base64 between any PEM armour."""
    lines = text.replace("\\n", "\n").replace("\r", "").split("\n")
    return "".join(line for line in lines if not line.startswith("-----")).replace(" ", "")


# ----------------------------------------------------------- helpers


@pytest.fixture
def client():
    with c_abi.Client(TOKEN_URL, CLIENT_ID) as c:
        yield c


def make_assertion(client) -> tuple[str, float, float]:
    """An assertion, and the time just before and just after it was made."""
    before = time.time()
    token = client.create_assertion()
    return token, before, time.time()


def verify(token: str, key, alg: str, audience=TOKEN_URL, **kwargs) -> dict:
    return jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=CLIENT_ID,
                      options=REQUIRED, **kwargs)


def check_header(token: str, alg: str, kid: str | None) -> None:
    header = jwt.get_unverified_header(token)
    expected = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        expected["kid"] = kid
    assert header == expected


def check_claims(claims: dict, before: float, after: float, *, aud=TOKEN_URL,
                 lifetime: int = DEFAULT_LIFETIME, skew: int = DEFAULT_SKEW) -> None:
    assert set(claims) == CLAIMS
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == aud
    jti = uuid.UUID(claims["jti"])
    assert jti.version == 4 and str(jti) == claims["jti"]
    for name, offset in (("iat", -skew), ("exp", lifetime)):
        assert isinstance(claims[name], int)
        assert before + offset - 2 <= claims[name] <= after + offset + 2, (name, claims)


def signature_length(token: str) -> int:
    return len(b64url_decode(token.split(".")[2]))


def expect_error(kind: int, call, *args, secret: str | None = None, **kwargs):
    """Runs `call`, expecting a CError of `kind` whose message
    quotes no 20-character piece of `secret` (a key's text or a secret)."""
    with pytest.raises(c_abi.CError) as info:
        call(*args, **kwargs)
    err = info.value
    assert err.kind == kind, err.message
    assert err.message and "\n" not in err.message
    assert err.http_status == 0 and err.oauth_code is None
    if secret:
        assert_no_leak(err.message, secret)
    return err


def assert_no_leak(message: str, secret: str, window: int = 20) -> None:
    assert secret not in message
    for i in range(max(0, len(secret) - window + 1)):
        assert secret[i:i + window] not in message, f"message quotes the secret: {message!r}"


# ----------------------------------------------- asymmetric algorithms

ASYMMETRIC = [  # (alg, key kind)
    ("ES256", "P-256"), ("ES384", "P-384"), ("ES512", "P-521"),
    ("RS256", "RSA"), ("RS384", "RSA"), ("RS512", "RSA"),
    ("PS256", "RSA"), ("PS384", "RSA"), ("PS512", "RSA"),
    ("EdDSA", "Ed25519"),
]


@pytest.mark.parametrize("kid", [None, "key-2024"], ids=["no-kid", "kid"])
@pytest.mark.parametrize("alg,kind", ASYMMETRIC, ids=[a for a, _ in ASYMMETRIC])
def test_signed_assertion_verifies(client, alg, kind, kid):
    key = private_key(kind)
    client.set_private_key(pem(key), kid, alg)
    token, before, after = make_assertion(client)

    claims = verify(token, key.public_key(), alg)
    check_header(token, alg, kid)
    check_claims(claims, before, after)
    assert signature_length(token) == KINDS[kind][1]


@pytest.mark.parametrize("alg,kind", ASYMMETRIC, ids=[a for a, _ in ASYMMETRIC])
def test_signature_fails_with_another_key(client, alg, kind):
    client.set_private_key(pem(private_key(kind)), None, alg)
    token = client.create_assertion()
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token, private_key(kind, 1).public_key(), alg)
    # A changed payload does not verify with the right key either.
    head, body, sig = token.split(".")
    claims = json.loads(b64url_decode(body))
    claims["sub"] = "someone-else"
    forged = ".".join([head, b64url(json.dumps(claims).encode()), sig])
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, private_key(kind).public_key(), alg)


@pytest.mark.parametrize("kind", KINDS)
def test_algorithm_is_inferred_from_the_key(client, kind):
    alg, _ = KINDS[kind]
    client.set_private_key(pem(private_key(kind)))
    token = client.create_assertion()
    check_header(token, alg, None)
    verify(token, private_key(kind).public_key(), alg)


def test_ecdsa_signature_is_raw_r_and_s(client):
    """r||s, not DER: the halves are the big-endian r and s PyJWT would
    re-encode, and DER (which starts with 0x30 and is shorter) is refused."""
    key = private_key("P-521")
    client.set_private_key(pem(key))
    for _ in range(10):  # leading zero bytes of r or s must be kept
        token = client.create_assertion()
        assert signature_length(token) == 132
        verify(token, key.public_key(), "ES512")


def test_every_assertion_is_new(client):
    client.set_private_key(pem(private_key("P-256")))
    tokens = [client.create_assertion() for _ in range(20)]
    claims = [verify(t, private_key("P-256").public_key(), "ES256") for t in tokens]
    assert len({c["jti"] for c in claims}) == len(tokens)
    assert len(set(tokens)) == len(tokens)


# ------------------------------------------------------ client_secret_jwt

HMAC = [("HS256", 32), ("HS384", 48), ("HS512", 64)]


@pytest.mark.parametrize("alg,size", HMAC, ids=[a for a, _ in HMAC])
def test_client_secret_jwt(client, alg, size):
    secret = secrets.token_urlsafe(size)[:size]
    client.set_client_secret(secret, _ffi.AUTH_CLIENT_SECRET_JWT)
    if alg != "HS256":
        client.set_hmac_alg(alg)
    token, before, after = make_assertion(client)

    claims = verify(token, secret.encode(), alg)
    check_header(token, alg, None)
    check_claims(claims, before, after)
    assert signature_length(token) == size
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token, secrets.token_urlsafe(size)[:size].encode(), alg)


def test_hmac_alg_set_before_the_secret(client):
    secret = secrets.token_hex(32)  # 64 bytes
    client.set_hmac_alg("HS512")
    client.set_client_secret(secret, _ffi.AUTH_CLIENT_SECRET_JWT)
    token = client.create_assertion()
    check_header(token, "HS512", None)
    verify(token, secret.encode(), "HS512")


@pytest.mark.parametrize("alg,size", HMAC, ids=[a for a, _ in HMAC])
def test_short_hmac_secret_is_refused(client, alg, size):
    secret = secrets.token_hex(size)[:size - 1]
    if alg == "HS256":
        expect_error(_ffi.ERROR_KEY, client.set_client_secret, secret,
                     _ffi.AUTH_CLIENT_SECRET_JWT, secret=secret)
    else:
        client.set_client_secret(secret[:32], _ffi.AUTH_CLIENT_SECRET_JWT)
        expect_error(_ffi.ERROR_KEY, client.set_hmac_alg, alg, secret=secret[:32])
        # Nothing changed: the HS256 assertion still verifies.
        verify(client.create_assertion(), secret[:32].encode(), "HS256")


@pytest.mark.parametrize("alg", ["RS256", "hs256", "none", ""])
def test_unknown_hmac_alg(client, alg):
    expect_error(_ffi.ERROR_INVALID_ARGUMENT, client.set_hmac_alg, alg)


# ----------------------------------------------------------- key formats


def pkcs8(key) -> str:
    return pem(key)


def traditional(key) -> str:
    """SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY"."""
    return pem(key, serialization.PrivateFormat.TraditionalOpenSSL)


FORMATS = {
    "pkcs8-pem": pkcs8,
    "traditional-pem": traditional,
    "one-line": lambda k: pkcs8(k).strip().replace("\n", " "),
    "traditional-one-line": lambda k: traditional(k).strip().replace("\n", " "),
    "crlf": lambda k: pkcs8(k).replace("\n", "\r\n"),
    "traditional-crlf": lambda k: traditional(k).replace("\n", "\r\n"),
    "backslash-n": lambda k: pkcs8(k).strip().replace("\n", "\\n"),
    "traditional-backslash-n": lambda k: traditional(k).strip().replace("\n", "\\n"),
    "bare-base64-der": der_b64,
}
FORMAT_CASES = [(fmt, kind) for fmt in FORMATS for kind in KINDS
                if not (fmt.startswith("traditional") and kind == "Ed25519")]


@pytest.mark.parametrize("fmt,kind", FORMAT_CASES, ids=[f"{f}-{k}" for f, k in FORMAT_CASES])
def test_key_format(client, fmt, kind):
    key = private_key(kind)
    text = FORMATS[fmt](key)
    if fmt.startswith("traditional") and "one-line" not in fmt:
        label = "EC PRIVATE KEY" if kind in EC_CURVES else "RSA PRIVATE KEY"
        assert f"-----BEGIN {label}-----" in text
    kid = f"{fmt}-kid" if fmt == "bare-base64-der" else None
    client.set_private_key(text, kid)
    alg = KINDS[kind][0]
    token, before, after = make_assertion(client)
    check_header(token, alg, kid)
    check_claims(verify(token, key.public_key(), alg), before, after)
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token, private_key(kind, 1).public_key(), alg)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("jwk_kid,key_id,expected", [
    (None, None, None),
    ("jwk-kid", None, "jwk-kid"),
    ("jwk-kid", "explicit-kid", "explicit-kid"),
    (None, "explicit-kid", "explicit-kid"),
], ids=["no-kid", "jwk-kid", "key-id-overrides", "key-id-only"])
def test_private_jwk(client, kind, jwk_kid, key_id, expected):
    key = private_key(kind)
    extra = {"kid": jwk_kid} if jwk_kid else {}
    client.set_private_key(json.dumps(private_jwk(key, **extra)), key_id)
    alg = KINDS[kind][0]
    token, before, after = make_assertion(client)
    check_header(token, alg, expected)
    check_claims(verify(token, key.public_key(), alg), before, after)


def test_jwk_built_by_pyjwt(client):
    """A JWK from PyJWT's own to_jwk, not only the hand-built ones."""
    from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

    for kind, algo in (("P-256", ECAlgorithm), ("P-384", ECAlgorithm),
                       ("P-521", ECAlgorithm), ("RSA", RSAAlgorithm),
                       ("Ed25519", OKPAlgorithm)):
        key = private_key(kind)
        jwk = algo.to_jwk(key, as_dict=True)
        jwk["kid"] = f"pyjwt-{kind}"
        client.set_private_key(json.dumps(jwk))
        alg = KINDS[kind][0]
        token = client.create_assertion()
        check_header(token, alg, f"pyjwt-{kind}")
        verify(token, key.public_key(), alg)


@pytest.mark.parametrize("kind,jwk_alg", [
    ("RSA", "PS256"), ("RSA", "RS512"), ("RSA", "PS384"),
    ("P-256", "ES256"), ("P-521", "ES512"), ("Ed25519", "EdDSA"),
])
def test_jwk_alg_is_honoured(client, kind, jwk_alg):
    key = private_key(kind)
    client.set_private_key(json.dumps(private_jwk(key, alg=jwk_alg, kid="k1")))
    token = client.create_assertion()
    check_header(token, jwk_alg, "k1")
    verify(token, key.public_key(), jwk_alg)
    if kind == "RSA" and jwk_alg != "RS256":
        with pytest.raises(jwt.InvalidTokenError):
            verify(token, key.public_key(), "RS256")


def test_explicit_alg_overrides_jwk_alg(client):
    key = private_key("RSA")
    client.set_private_key(json.dumps(private_jwk(key, alg="PS256")), None, "RS512")
    token = client.create_assertion()
    check_header(token, "RS512", None)
    verify(token, key.public_key(), "RS512")


# ------------------------------------------------- audience and timing


def test_audience_replaced(client):
    client.set_private_key(pem(private_key("P-256")))
    client.set_audience(ISSUER)
    token, before, after = make_assertion(client)
    claims = verify(token, private_key("P-256").public_key(), "ES256", audience=ISSUER)
    check_claims(claims, before, after, aud=ISSUER)
    with pytest.raises(jwt.InvalidAudienceError):
        verify(token, private_key("P-256").public_key(), "ES256", audience=TOKEN_URL)


def test_several_audiences(client):
    key = private_key("Ed25519")
    client.set_private_key(pem(key))
    client.add_audience(ISSUER)
    client.add_audience("https://third.example")
    token, before, after = make_assertion(client)
    public = key.public_key()
    for aud in (TOKEN_URL, ISSUER, "https://third.example"):
        claims = verify(token, public, "EdDSA", audience=aud)
    check_claims(claims, before, after, aud=[TOKEN_URL, ISSUER, "https://third.example"])
    with pytest.raises(jwt.InvalidAudienceError):
        verify(token, public, "EdDSA", audience="https://elsewhere.example")
    # set_audience replaces them all with one string.
    client.set_audience(ISSUER)
    assert verify(client.create_assertion(), public, "EdDSA", audience=ISSUER)["aud"] == ISSUER


def test_audience_limit(client):
    for i in range(15):
        client.add_audience(f"https://aud{i}.example")
    expect_error(_ffi.ERROR_INVALID_ARGUMENT, client.add_audience, "https://one-too-many.example")
    expect_error(_ffi.ERROR_INVALID_ARGUMENT, client.add_audience, "")
    expect_error(_ffi.ERROR_INVALID_ARGUMENT, client.set_audience, "")


@pytest.mark.parametrize("lifetime,skew", [(60, 0), (3600, 600), (1, 0), (300, 30)])
def test_lifetime_and_clock_skew(client, lifetime, skew):
    key = private_key("P-384")
    client.set_private_key(pem(key))
    client.set_assertion_lifetime(lifetime)
    client.set_clock_skew(skew)
    token, before, after = make_assertion(client)
    claims = verify(token, key.public_key(), "ES384", leeway=5)
    check_claims(claims, before, after, lifetime=lifetime, skew=skew)


@pytest.mark.parametrize("setter,value", [
    ("set_assertion_lifetime", 0), ("set_assertion_lifetime", 3601),
    ("set_clock_skew", 601), ("set_clock_skew", 2**32 - 1),
])
def test_timing_out_of_range(client, setter, value):
    expect_error(_ffi.ERROR_INVALID_ARGUMENT, getattr(client, setter), value)


# ------------------------------------------------------------ refusals


def encrypted_pkcs8(key) -> str:
    return pem(key, encryption=serialization.BestAvailableEncryption(b"passphrase"))


def encrypted_traditional(key) -> str:
    return pem(key, serialization.PrivateFormat.TraditionalOpenSSL,
               serialization.BestAvailableEncryption(b"passphrase"))


def public_pem(key) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_der_b64(key) -> str:
    return base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def public_jwk(key) -> str:
    jwk = private_jwk(key)
    return json.dumps({k: v for k, v in jwk.items()
                       if k not in ("d", "p", "q", "dp", "dq", "qi")})


def mismatched_jwk(key) -> str:
    """The d of one key with the public x/y of another."""
    jwk = private_jwk(key)
    other = private_jwk(private_key("P-256", 1))
    jwk.update(x=other["x"], y=other["y"])
    return json.dumps(jwk)


def corrupted_der(key) -> str:
    der = bytearray(base64.b64decode(der_b64(key)))
    der[len(der) // 2:] = bytes(len(der) - len(der) // 2)
    return base64.b64encode(bytes(der)).decode()


BAD_KEYS = {  # name -> (key kind, key text builder)
    "encrypted-pkcs8-pem": ("RSA", encrypted_pkcs8),
    "encrypted-pkcs8-ec": ("P-256", encrypted_pkcs8),
    "encrypted-traditional-pem": ("RSA", encrypted_traditional),
    "encrypted-pkcs8-bare-base64": ("P-256", lambda k: key_material(encrypted_pkcs8(k))),
    "public-pem-rsa": ("RSA", public_pem),
    "public-pem-ec": ("P-384", public_pem),
    "public-der-base64": ("Ed25519", public_der_b64),
    "public-jwk-ec": ("P-256", public_jwk),
    "public-jwk-rsa": ("RSA", public_jwk),
    "rsa-1024-pem": ("RSA-1024", pkcs8),
    "rsa-1024-jwk": ("RSA-1024", lambda k: json.dumps(private_jwk(k))),
    "rsa-1024-bare-base64": ("RSA-1024", der_b64),
    "jwk-x-y-of-another-key": ("P-256", mismatched_jwk),
    "truncated-base64": ("P-256", lambda k: der_b64(k)[:len(der_b64(k)) // 2]),
    "truncated-pem": ("RSA", lambda k: pkcs8(k)[:len(pkcs8(k)) // 2]),
    "corrupted-der": ("RSA", corrupted_der),
    "wrong-label": ("P-256", lambda k: pkcs8(k).replace("PRIVATE KEY", "SECRET THING")),
    "label-lies": ("P-256", lambda k: pkcs8(k).replace("PRIVATE KEY", "RSA PRIVATE KEY")),
}


# Regression: a BEGIN line not closed by "-----" once made the parser take the
# whole base64 body as the PEM label, which the error message then quoted.
BROKEN_BEGIN_LINES = {
    "begin-line-unclosed": ("P-256", lambda k: pkcs8(k).replace(
        "-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY")),
    "begin-line-four-dashes": ("RSA", lambda k: pkcs8(k).replace(
        "-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY----")),
}
BAD_KEYS.update(BROKEN_BEGIN_LINES)


@pytest.mark.parametrize("name", list(BAD_KEYS))
def test_unusable_key_is_a_key_error(client, name):
    kind, build = BAD_KEYS[name]
    text = build(private_key(kind))
    err = expect_error(_ffi.ERROR_KEY, client.set_private_key, text, secret=key_material(text))
    if name.startswith("encrypted"):
        assert "encrypted" in err.message
    elif name.startswith("public"):
        assert "public key" in err.message
    elif name.startswith("rsa-1024"):
        assert "2048" in err.message
    # The client is left without credentials.
    expect_error(_ffi.ERROR_CONFIG, client.create_assertion)


ALG_MISMATCH = [  # (key kind, alg that does not fit it)
    ("P-256", "ES384"), ("P-256", "ES512"), ("P-384", "ES256"), ("P-521", "ES384"),
    ("P-256", "RS256"), ("P-256", "EdDSA"), ("RSA", "ES256"), ("RSA", "EdDSA"),
    ("Ed25519", "ES256"), ("Ed25519", "RS256"), ("Ed25519", "PS256"),
]


@pytest.mark.parametrize("kind,alg", ALG_MISMATCH, ids=[f"{k}-{a}" for k, a in ALG_MISMATCH])
def test_alg_that_does_not_fit_the_key(client, kind, alg):
    text = pem(private_key(kind))
    expect_error(_ffi.ERROR_KEY, client.set_private_key, text, None, alg, secret=key_material(text))


@pytest.mark.parametrize("kind,jwk_alg", [("P-256", "ES384"), ("RSA", "ES256"),
                                          ("Ed25519", "RS256"), ("P-256", "nope")])
def test_jwk_alg_that_does_not_fit(client, kind, jwk_alg):
    text = json.dumps(private_jwk(private_key(kind), alg=jwk_alg))
    expect_error(_ffi.ERROR_KEY, client.set_private_key, text, secret=private_jwk(private_key(kind))["d"])


@pytest.mark.parametrize("alg", ["ES257", "es256", "none", "HS256", "RSA", ""])
def test_unknown_alg_is_an_invalid_argument(client, alg):
    text = pem(private_key("P-256"))
    expect_error(_ffi.ERROR_INVALID_ARGUMENT, client.set_private_key, text, None, alg,
                 secret=key_material(text))


# Regressions: "unknown algorithm" messages once quoted the value verbatim.
def test_key_passed_as_alg_is_not_quoted(client):
    """Arguments swapped by mistake: the message must not quote the key."""
    text = der_b64(private_key("P-256"))
    expect_error(_ffi.ERROR_INVALID_ARGUMENT, client.set_private_key, pem(private_key("P-256")),
                 None, text, secret=text)


def test_secret_passed_as_hmac_alg_is_not_quoted(client):
    secret = secrets.token_urlsafe(32)
    expect_error(_ffi.ERROR_INVALID_ARGUMENT, client.set_hmac_alg, secret, secret=secret)


def test_no_credentials_is_a_config_error(client):
    expect_error(_ffi.ERROR_CONFIG, client.create_assertion)


@pytest.mark.parametrize("method", [_ffi.AUTH_CLIENT_SECRET_BASIC,
                                    _ffi.AUTH_CLIENT_SECRET_POST])
def test_secret_that_does_not_sign_is_a_config_error(client, method):
    secret = secrets.token_urlsafe(32)
    client.set_client_secret(secret, method)
    expect_error(_ffi.ERROR_CONFIG, client.create_assertion, secret=secret)


def test_later_credentials_replace_earlier_ones(client):
    secret = secrets.token_urlsafe(32)
    client.set_private_key(pem(private_key("P-256")))
    client.set_client_secret(secret, _ffi.AUTH_CLIENT_SECRET_JWT)
    verify(client.create_assertion(), secret.encode(), "HS256")
    client.set_private_key(pem(private_key("RSA")), None, "PS256")
    verify(client.create_assertion(), private_key("RSA").public_key(), "PS256")
