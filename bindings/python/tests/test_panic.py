"""The panic boundary, from Python: `tokenclient_test_panic`, exported only by
the test-hooks build of the library (target/hooks/release, which `make test`
loads), panics inside the library. The binding must raise InternalError and
the process and library must go on working."""

import ctypes
import os

import pytest

import tokenclient
from tokenclient import _errors, _ffi


def _test_panic():
    try:
        fn = _ffi.lib.tokenclient_test_panic
    except AttributeError:
        reason = "the loaded library is not a test-hooks build (make test loads target/hooks/release)"
        if os.environ.get("TOKENCLIENT_REQUIRE_TEST_HOOKS"):
            pytest.fail(reason)
        pytest.skip(reason)
    fn.argtypes = []
    fn.restype = ctypes.c_void_p
    return fn


def test_panic_becomes_internal_error():
    fn = _test_panic()
    for _ in range(3):
        with pytest.raises(tokenclient.InternalError) as info:
            _errors.check(fn())
        assert info.value.kind == _ffi.ERROR_PANIC
        assert "tokenclient_test_panic was called" in info.value.message
        assert info.value.status == 0
        assert isinstance(info.value, tokenclient.TokenClientError)


def test_library_works_after_a_panic():
    fn = _test_panic()
    with pytest.raises(tokenclient.InternalError):
        _errors.check(fn())
    with tokenclient.Client("https://as.example.com/token", "panic-test") as client:
        client.set_client_secret("a-secret-of-32-bytes-for-hs256!!", tokenclient.AuthMethod.CLIENT_SECRET_JWT)
        assert client.create_assertion().startswith("eyJ")
