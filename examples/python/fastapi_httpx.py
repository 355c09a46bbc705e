"""A FastAPI service that calls another API with tokens from tokenclient.

One AsyncClient gets the service's tokens (client_credentials with
private_key_jwt); one httpx.AsyncClient calls the API with them through
tokenclient.httpx.TokenAuth. Every request handler awaits a cached token
(served by the binding without a thread hop) or, when it is due, shares the
single request every concurrent handler waits for; a 401 invalid_token from
the API is retried once with a new token. A handler whose client goes away
(or whose request times out) cancels its token request in the library.

    pip install fastapi uvicorn httpx
    PYTHONPATH=bindings/python TOKENCLIENT_LIBRARY=target/release/libtokenclient.so \\
        TOKEN_URL=https://acme.talkdeskid.com/oauth/token CLIENT_ID=my-client \\
        KEY_FILE=key.pem KEY_ID=my-key API_URL=https://api.example \\
        uvicorn --app-dir examples/python fastapi_httpx:app
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict

import httpx
from fastapi import FastAPI, HTTPException

import tokenclient
from tokenclient.httpx import TokenAuth

TOKEN_URL = os.environ.get("TOKEN_URL", "https://acme.talkdeskid.com/oauth/token")
CLIENT_ID = os.environ.get("CLIENT_ID", "my-client")
KEY_FILE = os.environ.get("KEY_FILE", "key.pem")
KEY_ID = os.environ.get("KEY_ID")
API_URL = os.environ.get("API_URL", "https://api.example")
SCOPE = os.environ.get("SCOPE", "read")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    with open(KEY_FILE) as f:
        key = f.read()
    # One expression: the credentials and settings as keyword arguments.
    tokens = tokenclient.AsyncClient(TOKEN_URL, CLIENT_ID, private_key=key, key_id=KEY_ID, timeout=10)
    async with tokens, httpx.AsyncClient(base_url=API_URL, auth=TokenAuth(tokens, scope=SCOPE),
                                         timeout=10) as api:
        app.state.tokens, app.state.api = tokens, api
        await tokens.get_token(SCOPE)  # fail at start-up, not at the first request
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/things")
async def things() -> Any:
    try:
        r = await app.state.api.get("/things")
    except tokenclient.TokenClientError as e:  # no token: the token endpoint refused or is down
        raise HTTPException(status_code=503, detail=f"no token: {e}") from e
    if r.status_code == 401:  # still refused after one retry with a new token
        raise HTTPException(status_code=502, detail="the API refused our token")
    r.raise_for_status()
    return r.json()


@app.get("/healthz")
async def healthz() -> Dict[str, Any]:
    token = await app.state.tokens.get_token(SCOPE, timeout=2)
    counters = app.state.tokens.counters()
    return {"token_expires_in": token.expires_in, "token_requests": sum(counters["requests"].values())}
