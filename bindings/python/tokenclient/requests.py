"""tokenclient for requests: `TokenAuth` attaches a client's token to every
request.

    import requests
    from tokenclient.requests import TokenAuth

    session = requests.Session()
    session.auth = TokenAuth(client, scope="read")
    session.get("https://api.example/things")

Importing this module imports requests (a separate install); importing
`tokenclient` does not.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Optional, Union

import requests  # the requests package (absolute import), not this module
import requests.auth
import requests.cookies

from ._client import Client
from ._http import authorization, invalid_token, renewed, sync_client

if TYPE_CHECKING:
    from ._aio import AsyncClient


class TokenAuth(requests.auth.AuthBase):
    """Sets `Authorization: <token_type> <access_token>` from
    `client.get_token(scope)` (an AsyncClient's sync Client is used).

    On a 401 whose WWW-Authenticate says `error="invalid_token"`, answered to
    the request that carried this header, the token is dropped and the
    request sent once more with a new one, when its body can be sent again
    (none, bytes or str; not a generator or a file); the 401 is then in the
    new response's `history`. requests strips the header from a redirect to
    another host, and this auth never adds it back."""

    def __init__(self, client: Union[Client, "AsyncClient"], scope: Optional[str] = None) -> None:
        self.client = sync_client(client)
        self.scope = scope

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        header = authorization(self.client.get_token(self.scope))
        request.headers["Authorization"] = header
        request.register_hook("response", functools.partial(self._on_response, header))  # type: ignore[no-untyped-call]
        return request

    def _on_response(self, sent: str, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or not invalid_token(response.headers.get("WWW-Authenticate")):
            return response
        request = response.request
        # Only the answer to a request carrying this token (after a redirect
        # to another origin, requests has removed it), and only a body that
        # can be sent again.
        if request.headers.get("Authorization") != sent:
            return response
        if not (request.body is None or isinstance(request.body, (bytes, str))):
            return response
        header = renewed(self.client, self.scope, sent)
        response.content  # noqa: B018 - read it, so that the connection can be reused
        response.close()
        retry = request.copy()
        retry.headers["Authorization"] = header
        jar = getattr(retry, "_cookies", None)
        if jar is not None:  # cookies the 401 set, as requests' own auths keep them
            requests.cookies.extract_cookies_to_jar(jar, request, response.raw)  # type: ignore[no-untyped-call]
            retry.prepare_cookies(jar)
        again: requests.Response = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again


__all__ = ["TokenAuth"]
