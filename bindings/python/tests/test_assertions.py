"""Assertions signed by libtokenclient (through ctypes), verified by PyJWT
and cryptography: every algorithm, every key format, every claim."""

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

import tokenclient
from tokenclient import AuthMethod, Client

URL = "https://acme.talkdeskid.com/oauth/token"
CLIENT_ID = "client-7"

GENERATORS = {
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ES384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ES512": lambda: ec.generate_private_key(ec.SECP521R1()),
    "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "PS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "EdDSA": lambda: ed25519.Ed25519PrivateKey.generate(),
}
SIGNATURE_BYTES = {"ES256": 64, "ES384": 96, "ES512": 132, "RS256": 256, "PS256": 256, "EdDSA": 64}


def pkcs8_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def verify(token: str, key, alg: str, audience=URL) -> dict:
    """PyJWT checks signature, alg, aud, iss and the presence of every claim."""
    return jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=CLIENT_ID,
                      options={"require": ["exp", "iat", "jti", "iss", "sub", "aud"]})


def signature_length(token: str) -> int:
    sig = token.split(".")[2]
    return len(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))


@pytest.mark.parametrize("alg", sorted(GENERATORS))
def test_every_algorithm(alg):
    key = GENERATORS[alg]()
    with Client(URL, CLIENT_ID) as c:
        # RSA defaults to RS256; PS256 must be asked for.
        c.set_private_key(pkcs8_pem(key), key_id="kid-9", alg="PS256" if alg == "PS256" else None)
        before = time.time()
        tokens = [c.create_assertion() for _ in range(3)]
        after = time.time()
    for token in tokens:
        assert jwt.get_unverified_header(token) == {"alg": alg, "typ": "JWT", "kid": "kid-9"}
        claims = verify(token, key.public_key(), alg)
        assert claims["iss"] == claims["sub"] == CLIENT_ID and claims["aud"] == URL
        assert uuid.UUID(claims["jti"]).version == 4
        assert before - 5 - 1 <= claims["iat"] <= after - 5 + 1
        assert before + 300 - 1 <= claims["exp"] <= after + 300 + 1
        assert set(claims) == {"iss", "sub", "aud", "jti", "iat", "exp"}
        assert signature_length(token) == SIGNATURE_BYTES[alg]  # JOSE r||s for ECDSA, not DER
    assert len({verify(t, key.public_key(), alg)["jti"] for t in tokens}) == 3
    # Another key of the same kind does not verify it: the check can fail.
    with pytest.raises(jwt.InvalidSignatureError):
        verify(tokens[0], GENERATORS[alg]().public_key(), alg)


@pytest.mark.parametrize("alg,size", [("HS256", 32), ("HS384", 48), ("HS512", 64), ("HS256", 65),
                                      ("HS384", 129), ("HS512", 300)])
def test_client_secret_jwt(alg, size):
    """Secrets shorter and longer than the hash's block (64 or 128 bytes)."""
    secret = "s" * (size - 1) + "!"
    with Client(URL, CLIENT_ID) as c:
        c.set_client_secret(secret, AuthMethod.CLIENT_SECRET_JWT)
        c.set_hmac_alg(alg)
        token = c.create_assertion()
        if size <= 64:
            with pytest.raises(tokenclient.KeyFormatError):
                c.set_client_secret(secret[:-2], AuthMethod.CLIENT_SECRET_JWT)  # shorter than the hash
    assert jwt.get_unverified_header(token) == {"alg": alg, "typ": "JWT"}
    verify(token, secret, alg)
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token, secret + "x", alg)


def key_formats():
    p256 = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = pkcs8_pem(p256)
    der = p256.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    sec1 = p256.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()).decode()
    pkcs1 = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()).decode()
    assert "BEGIN EC PRIVATE KEY" in sec1 and "BEGIN RSA PRIVATE KEY" in pkcs1
    return [
        ("pkcs8-pem", pem, p256, "ES256"),
        ("sec1-pem", sec1, p256, "ES256"),
        ("pkcs1-pem", pkcs1, rsa_key, "RS256"),
        ("one-line-pem", pem.strip().replace("\n", " "), p256, "ES256"),
        ("crlf-pem", pem.replace("\n", "\r\n"), p256, "ES256"),
        ("escaped-newlines", pem.strip().replace("\n", "\\n"), p256, "ES256"),
        ("bare-base64-der", base64.b64encode(der).decode(), p256, "ES256"),
    ]


@pytest.mark.parametrize("name,text,key,alg", key_formats(), ids=lambda v: v if isinstance(v, str) and len(v) < 20 else "")
def test_key_formats(name, text, key, alg):
    with Client(URL, CLIENT_ID) as c:
        c.set_private_key(text, key_id="talkdesk-kid" if name == "bare-base64-der" else None)
        token = c.create_assertion()
    verify(token, key.public_key(), alg)
    assert ("kid" in jwt.get_unverified_header(token)) == (name == "bare-base64-der")


def jwk_cases():
    cases = []
    for alg_name, key, algorithm in [
        ("ES256", ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
        ("ES384", ec.generate_private_key(ec.SECP384R1()), ECAlgorithm),
        ("ES512", ec.generate_private_key(ec.SECP521R1()), ECAlgorithm),
        ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm),
        ("EdDSA", ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm),
    ]:
        jwk = json.loads(algorithm.to_jwk(key))
        cases.append((alg_name, key, jwk))
    return cases


@pytest.mark.parametrize("alg,key,jwk", jwk_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_private_jwks(alg, key, jwk):
    jwk = dict(jwk, kid="jwk-kid")
    with Client(URL, CLIENT_ID) as c:
        c.set_private_key(json.dumps(jwk))  # kid from the JWK
        token = c.create_assertion()
        assert jwt.get_unverified_header(token)["kid"] == "jwk-kid"
        verify(token, key.public_key(), alg)
        c.set_private_key(json.dumps(jwk), key_id="override")  # an explicit key id wins
        assert jwt.get_unverified_header(c.create_assertion())["kid"] == "override"
        if alg == "RS256":
            c.set_private_key(json.dumps(dict(jwk, alg="PS256")))  # the JWK's alg is honoured
            token = c.create_assertion()
            assert jwt.get_unverified_header(token)["alg"] == "PS256"
            verify(token, key.public_key(), "PS256")


def test_audiences_lifetime_and_skew():
    key = ec.generate_private_key(ec.SECP256R1())
    with Client(URL, CLIENT_ID) as c:
        c.set_private_key(pkcs8_pem(key))
        c.add_audience("https://acme.talkdeskid.com")
        c.set_assertion_lifetime(60)
        c.set_clock_skew(0)
        now = time.time()
        token = c.create_assertion()
    claims = jwt.decode(token, key.public_key(), algorithms=["ES256"], audience="https://acme.talkdeskid.com")
    assert claims["aud"] == [URL, "https://acme.talkdeskid.com"]
    assert verify(token, key.public_key(), "ES256")  # the token URL is accepted too
    assert abs(claims["iat"] - now) <= 1 and claims["exp"] - claims["iat"] == 60


def test_refused_keys_and_messages_without_secrets():
    rsa1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p256 = ec.generate_private_key(ec.SECP256R1())
    encrypted = p256.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.BestAvailableEncryption(b"pw")).decode()
    public = p256.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    b64 = base64.b64encode(p256.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())).decode()
    with Client(URL, CLIENT_ID) as c:
        for text, word in [(pkcs8_pem(rsa1024), "2048"), (encrypted, "encrypted"), (public, "public")]:
            with pytest.raises(tokenclient.KeyFormatError, match=word):
                c.set_private_key(text)
        with pytest.raises(tokenclient.KeyFormatError) as e:
            c.set_private_key(pkcs8_pem(p256), alg="ES384")
        assert e.value.kind == 2
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_private_key(pkcs8_pem(p256), alg="ES999")
        with pytest.raises(tokenclient.ConfigError):
            c.create_assertion()
        truncated = b64[: len(b64) // 2 + 1]
        with pytest.raises(tokenclient.KeyFormatError) as e:
            c.set_private_key(truncated)
        assert truncated[5:25] not in str(e.value)
        secret = "a-very-secret-value-31-bytes-!!"
        with pytest.raises(tokenclient.KeyFormatError) as e:
            c.set_client_secret(secret, AuthMethod.CLIENT_SECRET_JWT)
        assert secret not in str(e.value) and "secret-value" not in str(e.value)


def test_forked_child_never_repeats_the_parents_jti():
    """jti randomness is fetched in batches per thread; a forked child must
    not reuse what was left of its parent's batch."""
    import os

    with Client(URL, CLIENT_ID) as c:
        c.set_client_secret("k" * 32, AuthMethod.CLIENT_SECRET_JWT)
        c.create_assertion()  # fills this thread's batch
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.write(write, jwt.decode(c.create_assertion(), options={"verify_signature": False})["jti"].encode())
            finally:
                os._exit(0)
        os.close(write)
        child = os.read(read, 100).decode()
        os.close(read)
        os.waitpid(pid, 0)
        parent = jwt.decode(c.create_assertion(), options={"verify_signature": False})["jti"]
    assert len(child) == 36 and child != parent
