"""Authorization and DeviceAuthorization: the OpenID Connect objects of a
client made with `Client.from_issuer`, thin wrappers over
`tokenclient_authorization` and `tokenclient_device`."""

from __future__ import annotations

import ctypes
from typing import ClassVar, Optional

from . import _ffi
from ._client import Cancel, Client, Token, _arg, _owned_string, _text, _with_options
from ._errors import check
from ._owned import _Owned

lib = _ffi.lib


class Authorization(_Owned):
    """An authorization code request of a client made with
    `Client.from_issuer` (`client.authorization(...)`): its `state`,
    `nonce` and PKCE S256 verifier (drawn from the OS's random source) and
    its parameters. The library does the protocol: `url()` is where to send
    the user's browser, and `finish(callback_url)`, with the URL it comes
    back to, checks `state` and `iss`, exchanges the code with the verifier
    and validates the ID token (`Token.id_token_claims`).

    Between the two, keep it in memory, or as `to_json()` (a secret: it
    holds the PKCE verifier) read back with `Client.authorization_from_json`
    / `Authorization.from_json`. It keeps the C client it was made with
    alive until it is closed (`close()`, `with`, or the finalizer), which
    wipes the verifier. Its methods may run from several threads at once;
    `set_param` and `set_par` wait for those running."""

    _WHAT: ClassVar[str] = "the authorization"

    def __init__(self) -> None:
        raise TypeError("make an Authorization with Client.authorization() or Authorization.from_json()")

    @classmethod
    def _adopt(cls, handle: Optional[int]) -> "Authorization":
        """Takes ownership of `handle` (a new `tokenclient_authorization *`)."""
        self = cls.__new__(cls)
        self._own(handle)
        return self

    @staticmethod
    def _free(handle: int) -> None:
        lib.tokenclient_authorization_free(handle)

    @classmethod
    def from_json(cls, client: Client, text: str) -> "Authorization":
        """The request `to_json()` wrote, for `client` (of the same issuer
        and client id). No I/O."""
        if not isinstance(client, Client):
            raise TypeError(f"client must be a tokenclient.Client, not {type(client).__name__}")
        out = ctypes.c_void_p()
        client._call(lambda h: check(lib.tokenclient_authorization_import(h, _arg(text, "text"), ctypes.byref(out))))
        return cls._adopt(out.value)

    def set_param(self, name: str, value: str) -> None:
        """Adds a parameter to the request (`prompt`, `login_hint`,
        `acr_values`, `resource`, `claims`, `max_age`, ...); a name may
        repeat. Those the request sets itself (`state`, `nonce`, `scope`,
        `redirect_uri`, the PKCE challenge, ...) are refused
        (InvalidArgumentError). No I/O."""
        name_b, value_b = _arg(name, "name"), _arg(value, "value")
        self._exclusive(lambda h: check(lib.tokenclient_authorization_set_param(h, name_b, value_b)))

    def set_par(self, use_par: bool = True) -> None:
        """Sends the request by PAR (RFC 9126) when `use_par`, even when the
        issuer does not require it (when it does, PAR is always used)."""
        if not isinstance(use_par, bool):
            raise TypeError(f"use_par must be True or False, not {type(use_par).__name__}")
        self._exclusive(lambda h: check(lib.tokenclient_authorization_set_par(h, int(use_par))))

    def url(self, *, timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> str:
        """The URL to send the user's browser to. With PAR this sends the
        request to the issuer first (`timeout`/`cancel` bound it) and the
        URL is valid once and briefly: make it just before the redirect."""
        return _with_options(timeout, cancel, lambda o: self._call(
            lambda h: _owned_string(lambda out: lib.tokenclient_authorization_url_ex(h, o, ctypes.byref(out)))))

    def to_json(self) -> str:
        """The request as text, to keep between the redirect and the
        callback (e.g. in a server-side session) and read back with
        `Client.authorization_from_json`. It holds the PKCE verifier: a
        secret, to be kept where the user cannot read or change it, and
        never logged."""
        return self._call(lambda h: _owned_string(lambda out: lib.tokenclient_authorization_export(h, ctypes.byref(out))))

    def finish(self, callback_url: str, *, timeout: Optional[float] = None,
               cancel: Optional[Cancel] = None) -> Token:
        """The token of the request, from `callback_url`: the whole URL the
        browser came back to. A wrong or missing `state` or `iss` is an
        InvalidArgumentError; an error callback (e.g. access_denied) or a
        refused code an OAuthError with its `error`; an ID token that
        breaks a rule a ResponseError naming it. The claims of the
        validated ID token are `Token.id_token_claims`."""
        callback = _arg(callback_url, "callback_url")
        out = ctypes.c_void_p()
        _with_options(timeout, cancel, lambda o: self._call(
            lambda h: check(lib.tokenclient_authorization_finish_ex(h, callback, o, ctypes.byref(out)))))
        return Token(out.value)

    def __enter__(self) -> "Authorization":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Authorization closed={self.closed!r}>"


class DeviceAuthorization(_Owned):
    """A started device authorization (RFC 8628), from
    `client.device_flow(...)`: show the user `user_code` and
    `verification_uri` (or `verification_uri_complete`, e.g. as a QR
    code), then `poll()` until they approve. It holds the device code (a
    secret, wiped by `close()`, `with` or the finalizer) and polls with
    the client it came from (which must stay open)."""

    _WHAT: ClassVar[str] = "the device authorization"

    def __init__(self) -> None:
        raise TypeError("make a DeviceAuthorization with Client.device_flow()")

    @classmethod
    def _adopt(cls, client: Client, handle: Optional[int]) -> "DeviceAuthorization":
        """Takes ownership of `handle` (a new `tokenclient_device *`) of `client`."""
        self = cls.__new__(cls)
        self._setup(client, handle)
        return self

    def _setup(self, client: Client, handle: Optional[int]) -> None:
        self._own(handle)
        self._client = client
        # Copied out once: none is a secret (the device code stays in C).
        try:
            self._user_code: str = _text(lib.tokenclient_device_user_code(handle)) or ""
            self._verification_uri: str = _text(lib.tokenclient_device_verification_uri(handle)) or ""
            self._verification_uri_complete: Optional[str] = _text(
                lib.tokenclient_device_verification_uri_complete(handle))
            self._expires_in: int = lib.tokenclient_device_expires_in(handle)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _free(handle: int) -> None:
        lib.tokenclient_device_free(handle)

    @property
    def user_code(self) -> str:
        """The code the user enters at `verification_uri`."""
        return self._user_code

    @property
    def verification_uri(self) -> str:
        """Where the user enters `user_code`."""
        return self._verification_uri

    @property
    def verification_uri_complete(self) -> Optional[str]:
        """The verification URI with the code in it, when the server gave one."""
        return self._verification_uri_complete

    @property
    def expires_in(self) -> int:
        """Seconds the codes live, as the server said when they were issued."""
        return self._expires_in

    def poll(self, *, timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> Token:
        """Polls the token endpoint, every interval the server asks for,
        until the user approves: the token. Blocks until then, or until the
        user denies (OAuthError access_denied), the code expires (OAuthError
        expired_token, or TransportError), `timeout` (seconds; default: the
        code's lifetime) runs out (TransportError), or `cancel` stops it
        (CancelledError)."""
        out = ctypes.c_void_p()
        self._client._ex(lambda h, o, o_out: self._call(lambda d: lib.tokenclient_client_device_poll_ex(h, d, o, o_out)),
                         (), timeout, cancel, out)
        return Token(out.value)

    def __enter__(self) -> "DeviceAuthorization":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<DeviceAuthorization user_code={self._user_code!r} verification_uri={self._verification_uri!r} "
                f"closed={self.closed!r}>")


__all__ = ["Authorization", "DeviceAuthorization"]
