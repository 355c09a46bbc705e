"""tokenclient: OAuth 2.0 / OpenID Connect tokens with RFC 7523 client
assertions, through libtokenclient.

    from tokenclient import Client, OAuthError

    with Client(token_url, client_id="abc") as client:
        client.set_private_key(key_text, key_id="k1")     # algorithm inferred
        token = client.exchange_code(code, redirect_uri=uri)
        token.access_token, token.expires_in, token["sid"]
"""

from ._client import AuthMethod, Client, Token, version
from ._errors import (
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

__all__ = [
    "AuthMethod",
    "Client",
    "ConfigError",
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
