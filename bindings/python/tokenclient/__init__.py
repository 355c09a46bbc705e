"""tokenclient: OAuth 2.0 / OpenID Connect tokens with RFC 7523 client
assertions, through libtokenclient.

    from tokenclient import Client, OAuthError

    with Client(token_url, client_id="abc", private_key=key_text, key_id="k1") as client:
        token = client.exchange_code(code, redirect_uri=uri)
        token.access_token, token.expires_in, token["sid"]
        client.get_token("read", timeout=5)     # cached; one request however many ask

OpenID Connect: `Client.from_issuer(issuer, client_id, ...)` makes a client
from the issuer's metadata, with `metadata`, `revoke`, `introspect`,
`userinfo`, `validate_id_token`, `authorization(...)` (an `Authorization`:
the login URL, then `finish(callback_url)`) and `device_flow(...)` (a
`DeviceAuthorization` to `poll()`).

Sender-constrained tokens: `dpop_key=` (DPoP, RFC 9449) and `client_cert=`
with `auth_method="tls_client_auth"` (mutual TLS, RFC 8705); `Token.cnf` says
what a token is bound to and `Token.authorization` is its header value
(`Client.dpop_proof` makes the proofs to send with it).

Keys that never leave their vault: a PKCS#11 URI (`pkcs11:token=...;object=...
?module-path=...`) wherever a key is taken, and `signer=` / `dpop_signer=`
(`Client.set_signer`, `Client.set_dpop_signer`): a callable that signs the
JWS signing input, or a `cryptography` private key object.

`AsyncClient` has the same I/O methods as coroutines; `tokenclient.requests`
and `tokenclient.httpx` attach tokens to those HTTP clients (importing
`tokenclient` imports neither).
"""

from typing import TYPE_CHECKING, Any

from ._client import AuthMethod, Cancel, Client, Token, version
from ._oidc import Authorization, DeviceAuthorization
from ._errors import (
    CancelledError,
    ConfigError,
    HTTPError,
    InternalError,
    InvalidArgumentError,
    KeyFormatError,
    OAuthError,
    ResponseError,
    TokenClientError,
    TransportError,
)

if TYPE_CHECKING:
    from ._aio import AsyncAuthorization, AsyncClient, AsyncDeviceAuthorization

#: The names of tokenclient._aio, imported on first use.
_ASYNC = ("AsyncAuthorization", "AsyncClient", "AsyncDeviceAuthorization")


def __getattr__(name: str) -> Any:
    # The async classes are imported on first use: asyncio takes tens of ms
    # to import, which programs that never use it need not pay.
    if name in _ASYNC:
        from . import _aio

        return getattr(_aio, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AsyncAuthorization",
    "AsyncClient",
    "AsyncDeviceAuthorization",
    "AuthMethod",
    "Authorization",
    "Cancel",
    "CancelledError",
    "Client",
    "ConfigError",
    "DeviceAuthorization",
    "HTTPError",
    "InternalError",
    "InvalidArgumentError",
    "KeyFormatError",
    "OAuthError",
    "ResponseError",
    "Token",
    "TokenClientError",
    "TransportError",
    "version",
]
