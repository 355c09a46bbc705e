"""A minimal ctypes loader of libtokenclient for the tests in this directory.

Not the public binding (that lives in bindings/python): just enough of the
C ABI, declared exactly, to drive the library from pytest. Every function
that returns `tokenclient_error *` is wrapped so that a non-NULL error is
read, freed and raised as `TokenclientError`.
"""

from __future__ import annotations

import ctypes
import os
import pathlib
from ctypes import POINTER, c_char_p, c_int, c_uint32, c_void_p

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_LIBRARY = REPO / "target" / "release" / "libtokenclient.so"

# tokenclient_error_kind
INVALID_ARGUMENT = 1
KEY = 2
CONFIG = 3
TRANSPORT = 4
OAUTH = 5
HTTP = 6
RESPONSE = 7
PANIC = 8

# tokenclient_auth_method
AUTH_NONE = 0
AUTH_CLIENT_SECRET_BASIC = 1
AUTH_CLIENT_SECRET_POST = 2
AUTH_CLIENT_SECRET_JWT = 3
AUTH_PRIVATE_KEY_JWT = 4


class TokenclientError(Exception):
    """A `tokenclient_error`, copied out of the library before it was freed."""

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


class Library:
    """The loaded library, with the few calls the tests use."""

    def __init__(self, path: str | os.PathLike | None = None):
        path = path or os.environ.get("TOKENCLIENT_LIBRARY") or DEFAULT_LIBRARY
        self.path = str(path)
        self.c = c = ctypes.CDLL(self.path)
        err = c_void_p  # tokenclient_error *
        client = c_void_p  # tokenclient_client *

        def declare(name, restype, *argtypes):
            fn = getattr(c, name)
            fn.restype = restype
            fn.argtypes = list(argtypes)

        declare("tokenclient_version", c_char_p)
        declare("tokenclient_string_free", None, c_void_p)
        declare("tokenclient_error_get_kind", c_int, err)
        declare("tokenclient_error_message", c_char_p, err)
        declare("tokenclient_error_http_status", c_int, err)
        declare("tokenclient_error_oauth_code", c_char_p, err)
        declare("tokenclient_error_oauth_description", c_char_p, err)
        declare("tokenclient_error_oauth_uri", c_char_p, err)
        declare("tokenclient_error_free", None, err)
        declare("tokenclient_client_new", err, c_char_p, c_char_p, POINTER(client))
        declare("tokenclient_client_free", None, client)
        declare("tokenclient_client_set_client_secret", err, client, c_char_p, c_uint32)
        declare("tokenclient_client_set_hmac_alg", err, client, c_char_p)
        declare("tokenclient_client_set_private_key", err, client, c_char_p, c_char_p, c_char_p)
        declare("tokenclient_client_set_audience", err, client, c_char_p)
        declare("tokenclient_client_add_audience", err, client, c_char_p)
        declare("tokenclient_client_set_assertion_lifetime", err, client, c_uint32)
        declare("tokenclient_client_set_clock_skew", err, client, c_uint32)
        declare("tokenclient_client_create_assertion", err, client, POINTER(c_void_p))

    def version(self) -> str:
        return self.c.tokenclient_version().decode()

    def check(self, error: int | None) -> None:
        """Raises (and frees) `error` when it is not NULL."""
        if not error:
            return
        c = self.c
        try:
            exc = TokenclientError(
                c.tokenclient_error_get_kind(error),
                _text(c.tokenclient_error_message(error)),
                c.tokenclient_error_http_status(error),
                _text(c.tokenclient_error_oauth_code(error)),
                _text(c.tokenclient_error_oauth_description(error)),
                _text(c.tokenclient_error_oauth_uri(error)),
            )
        finally:
            c.tokenclient_error_free(error)
        raise exc

    def take_string(self, p: int | None) -> str | None:
        """Copies a `char *` the library returned, then frees it."""
        if not p:
            return None
        try:
            return ctypes.string_at(p).decode("utf-8")
        finally:
            self.c.tokenclient_string_free(p)

    def client(self, token_url: str, client_id: str) -> "Client":
        return Client(self, token_url, client_id)


class Client:
    """A `tokenclient_client *`; use it as a context manager or call close()."""

    def __init__(self, lib: Library, token_url: str, client_id: str):
        self.lib = lib
        self.token_url = token_url
        self.client_id = client_id
        handle = c_void_p()
        lib.check(lib.c.tokenclient_client_new(_arg(token_url), _arg(client_id),
                                               ctypes.byref(handle)))
        self.handle = handle

    def close(self) -> None:
        if self.handle:
            self.lib.c.tokenclient_client_free(self.handle)
            self.handle = c_void_p()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _call(self, name: str, *args) -> None:
        self.lib.check(getattr(self.lib.c, name)(self.handle, *args))

    def set_client_secret(self, secret: str, method: int = AUTH_CLIENT_SECRET_JWT) -> None:
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
        return self.lib.take_string(out.value)
