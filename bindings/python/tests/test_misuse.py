"""Misuse gives Python exceptions, never a crash."""

import gc

import pytest

import tokenclient
from tokenclient import AuthMethod, Client

URL = "https://acme.talkdeskid.com/oauth/token"


def test_wrong_types_and_none():
    with pytest.raises(TypeError):
        Client(5, "x")
    with pytest.raises(tokenclient.InvalidArgumentError):
        Client(None, "x")
    with Client(URL, "x") as c:
        with pytest.raises(TypeError):
            c.set_client_secret(3.5)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_client_secret(None)
        with pytest.raises(TypeError):
            c.set_assertion_lifetime("300")
        with pytest.raises(TypeError):
            c.set_assertion_lifetime(True)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_assertion_lifetime(-1)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_assertion_lifetime(0)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_client_secret("x", method=99)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.exchange_code(None, "https://a/cb")
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_audience("a\0b")


def test_non_utf8_bytes_are_invalid_arguments():
    with Client(URL, "x") as c:
        with pytest.raises(tokenclient.InvalidArgumentError) as e:
            c.set_client_secret(b"\xff\xfe\xfd")
        assert "UTF-8" in str(e.value)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_audience("\udcff")  # a lone surrogate is not UTF-8
    with pytest.raises(tokenclient.InvalidArgumentError):
        Client(URL, b"\xc3\x28")


def test_closed_client_raises_and_close_is_idempotent():
    c = Client(URL, "x")
    c.close()
    c.close()
    assert c.closed
    for call in (c.create_assertion, c.set_public, lambda: c.client_credentials("read")):
        with pytest.raises(tokenclient.InvalidArgumentError, match="closed"):
            call()


def test_handles_cannot_be_copied_or_pickled():
    """A copy would share the C object and free it twice (copy.copy of a
    Client crashed the interpreter at exit)."""
    import copy
    import pickle

    with Client(URL, "x") as c, tokenclient.Cancel() as cancel:
        for obj in (c, cancel):
            for clone in (copy.copy, copy.deepcopy, pickle.dumps):
                with pytest.raises(TypeError, match="cannot be copied or pickled"):
                    clone(obj)
        assert c.create_assertion is not None and not c.closed


def test_finalizer_frees_an_unclosed_client():
    for _ in range(100):
        c = Client(URL, "x")
        c.set_client_secret("k" * 32, AuthMethod.CLIENT_SECRET_JWT)
        del c
    gc.collect()


def test_bad_urls_and_keys():
    for url in ("http://example.com/token", "not a url", "", "https://u:p@h/t"):
        with pytest.raises(tokenclient.InvalidArgumentError):
            Client(url, "x")
    with Client(URL, "x") as c:
        for key in ("", "garbage", b"\x30\x03\x02\x01\x00", "{}", '{"kty":"EC"}'):
            with pytest.raises(tokenclient.KeyFormatError):
                c.set_private_key(key)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_private_key("irrelevant", alg="HS1024")
