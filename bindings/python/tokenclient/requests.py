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
from ._http import NONCE, Attempt, renewed, sync_client

if TYPE_CHECKING:
    from ._aio import AsyncClient


class TokenAuth(requests.auth.AuthBase):
    """Sets `Authorization` from `client.get_token(scope)` (an AsyncClient's
    sync Client is used): `Token.authorization`, i.e. "Bearer <access
    token>", or "DPoP <access token>" for a token bound to the client's DPoP
    key (`Client.set_dpop_key`), sent with a new `DPoP` proof of the
    request's method and URL (`Client.dpop_proof`).

    On a 401 whose WWW-Authenticate says `error="invalid_token"`, answered to
    the request that carried this header, the token is dropped and the
    request sent once more with a new one; for a DPoP token, the answers'
    `DPoP-Nonce` is kept for the next proofs (`Client.dpop_answer`), and a
    nonce challenge (`DPoP error="use_dpop_nonce"`) is answered by sending
    the request once more with a proof of that nonce. Each of those resends
    happens at most once per request (three sends at most), and only when
    the body can be sent again (none, bytes or str; not a generator or a
    file); the 401s are then in the new response's `history`. requests
    strips the header from a redirect to another host, and this auth never
    adds it back; the `DPoP` header, made for the first URL, is not made
    again for a redirect."""

    def __init__(self, client: Union[Client, "AsyncClient"], scope: Optional[str] = None) -> None:
        self.client = sync_client(client)
        self.scope = scope

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.client.get_token(self.scope)
        attempt = Attempt(self.client, token)
        attempt.attach(token, request.method or "GET", request.url or "",
                       request.headers)
        request.register_hook("response", functools.partial(self._on_response, attempt))
        return request

    def _on_response(self, attempt: Attempt, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 and not attempt.dpop:
            return response
        while True:
            request = response.request
            # Only the answer to a request carrying this token (after a
            # redirect to another origin, requests has removed it), and only
            # a body that can be sent again.
            if request.headers.get("Authorization") != attempt.header:
                return response
            step = attempt.answered(request.url or "", response.status_code,
                                    response.headers.get("WWW-Authenticate"), response.headers.get("DPoP-Nonce"),
                                    request.body is None or isinstance(request.body, (bytes, str)))
            if step is None:
                return response
            token = attempt.token if step == NONCE else renewed(self.client, self.scope, attempt.header)
            response.content  # noqa: B018 - read it, so that the connection can be reused
            response.close()
            retry = request.copy()
            attempt.attach(token, retry.method or "GET", retry.url or "", retry.headers)
            jar = getattr(retry, "_cookies", None)
            if jar is not None:  # cookies the 401 set, as requests' own auths keep them
                requests.cookies.extract_cookies_to_jar(jar, request, response.raw)
                retry.prepare_cookies(jar)
            again: requests.Response = response.connection.send(retry, **kwargs)
            again.history = [*response.history, response]
            again.request = retry
            response = again


__all__ = ["TokenAuth"]
