"""Assertions created through the binding, verified by PyJWT."""

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tokenclient import AuthMethod, Client

URL = "https://acme.talkdeskid.com/oauth/token"

KEYS = {
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ES384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "EdDSA": lambda: ed25519.Ed25519PrivateKey.generate(),
}


@pytest.mark.parametrize("alg", sorted(KEYS))
def test_pyjwt_verifies_private_key_assertions(alg):
    key = KEYS[alg]()
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with Client(URL, "cid") as c:
        c.set_private_key(der, key_id="k-1")  # raw DER bytes are accepted too
        token = c.create_assertion()
    header = jwt.get_unverified_header(token)
    assert header == {"alg": alg, "typ": "JWT", "kid": "k-1"}
    claims = jwt.decode(token, key.public_key(), algorithms=[alg], audience=URL, issuer="cid",
                        options={"require": ["exp", "iat", "jti", "iss", "sub", "aud"]})
    now = time.time()
    assert claims["sub"] == "cid"
    assert uuid.UUID(claims["jti"]).version == 4
    assert abs(claims["iat"] - (now - 5)) <= 2 and abs(claims["exp"] - (now + 300)) <= 2
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, KEYS[alg]().public_key(), algorithms=[alg], audience=URL)


def test_pyjwt_verifies_client_secret_jwt():
    secret = "0123456789abcdef0123456789abcdef-secret"
    with Client(URL, "cid") as c:
        c.set_client_secret(secret, AuthMethod.CLIENT_SECRET_JWT)
        c.set_audience("https://issuer.example")
        token = c.create_assertion()
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience="https://issuer.example")
    assert claims["iss"] == claims["sub"] == "cid"
