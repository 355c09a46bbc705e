"""The raw C ABI of libtokenclient, for the tests that drive it directly.

Not the public binding: a thin `Client` whose methods call the C functions
one to one, with nothing checked or converted on the Python side, so the
tests see the library's own answers. It declares nothing: every function is
called as `tokenclient._ffi` (the binding's one loader) declared it, which
test_ffi_declarations.py checks against the header. A non-NULL
`tokenclient_error *` is read in full, freed and raised as `CError`.
"""

from __future__ import annotations

import ctypes
from ctypes import c_void_p

from tokenclient import _ffi

lib = _ffi.lib


class CError(Exception):
    """A `tokenclient_error`, every field copied out before it was freed."""

    def __init__(self, kind, message, http_status=0, oauth_code=None,
                 oauth_description=None, oauth_uri=None):
        super().__init__(f"[kind {kind}] {message}")
        self.kind = kind
        self.message = message
        self.http_status = http_status
        self.oauth_code = oauth_code
        self.oauth_description = oauth_description
        self.oauth_uri = oauth_uri


def _text(p: bytes | None) -> str | None:
    return None if p is None else p.decode("utf-8")


def _arg(s: str | bytes | None) -> bytes | None:
    return s.encode("utf-8") if isinstance(s, str) else s


def check(error: int | None) -> None:
    """Raises (and frees) `error` when it is not NULL. Unlike the binding's
    `_errors.check`, every accessor is read whatever the kind, so the tests
    see what each returns (e.g. NULL OAuth fields for a key error)."""
    if not error:
        return
    try:
        exc = CError(
            lib.tokenclient_error_get_kind(error),
            _text(lib.tokenclient_error_message(error)),
            lib.tokenclient_error_http_status(error),
            _text(lib.tokenclient_error_oauth_code(error)),
            _text(lib.tokenclient_error_oauth_description(error)),
            _text(lib.tokenclient_error_oauth_uri(error)),
        )
    finally:
        lib.tokenclient_error_free(error)
    raise exc


class Client:
    """A `tokenclient_client *`; use it as a context manager or call close()."""

    def __init__(self, token_url: str, client_id: str):
        self.token_url = token_url
        self.client_id = client_id
        handle = c_void_p()
        check(lib.tokenclient_client_new(_arg(token_url), _arg(client_id), ctypes.byref(handle)))
        self.handle = handle

    def close(self) -> None:
        if self.handle:
            lib.tokenclient_client_free(self.handle)
            self.handle = c_void_p()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _call(self, name: str, *args) -> None:
        check(getattr(lib, name)(self.handle, *args))

    def set_client_secret(self, secret: str, method: int = _ffi.AUTH_CLIENT_SECRET_JWT) -> None:
        self._call("tokenclient_client_set_client_secret", _arg(secret), method)

    def set_hmac_alg(self, alg: str) -> None:
        self._call("tokenclient_client_set_hmac_alg", _arg(alg))

    def set_private_key(self, key: str | bytes, key_id: str | None = None,
                        alg: str | None = None) -> None:
        self._call("tokenclient_client_set_private_key", _arg(key), _arg(key_id), _arg(alg))

    def set_audience(self, audience: str) -> None:
        self._call("tokenclient_client_set_audience", _arg(audience))

    def add_audience(self, audience: str) -> None:
        self._call("tokenclient_client_add_audience", _arg(audience))

    def set_assertion_lifetime(self, seconds: int) -> None:
        self._call("tokenclient_client_set_assertion_lifetime", seconds)

    def set_clock_skew(self, seconds: int) -> None:
        self._call("tokenclient_client_set_clock_skew", seconds)

    def create_assertion(self) -> str:
        out = c_void_p()
        self._call("tokenclient_client_create_assertion", ctypes.byref(out))
        return _ffi.take_string(out)
