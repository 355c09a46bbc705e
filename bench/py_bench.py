"""Python side of `make bench`: the tokenclient binding beside what a Python
user would otherwise pick (PyJWT with a key object loaded once; httpx.Client
or requests.Session with keep-alive), against the benchmark server. One
or more measurements per invocation (-m takes a comma-separated list; several
take turns, --slice seconds each, until each has run --seconds, so that all
see the same conditions); prints "py_<name> ops_per_sec" for each.

    py_bench.py -m tc_assert|jwt_assert|tc_exchange|jwt_httpx_exchange|jwt_requests_exchange[,...]
                --url URL --key ES256.pem [--seconds 1] [--slice 0.05]
    py_bench.py --versions    prints "package version" lines

Cached tokens: tc_cached (Client.get_token() + .access_token on a warmed
client), tc_async_cached (AsyncClient.get_token() awaited in a loop inside
one running event loop) and authlib_cached (Authlib's
OAuth2Client.ensure_active_token(token) + token["access_token"] on a valid
token); each gets its token from the server at --url once. Exchanges with
Authlib: authlib_httpx_exchange and authlib_requests_exchange (Authlib's
httpx and requests OAuth2 clients, client_credentials with PrivateKeyJWT,
assertions as tokenclient makes them).

The binding is imported from bindings/python (PYTHONPATH) and loads
$TOKENCLIENT_LIBRARY.
"""

import argparse
import asyncio
import random
import sys
import time
import uuid
from typing import Any, Callable, List

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


#: Operations one call of a measured callable makes (tc_async_cached awaits a
#: batch per call, inside one event loop), by which its calls per second are
#: multiplied.
BATCH = {"tc_async_cached": 1000}


def measure(ops: List[Callable[[], object]], seconds: float, slice_s: float, warmup: int) -> List[float]:
    """Each op's calls per second; several ops take turns of `slice_s`, in an
    order shuffled every cycle."""
    for op in ops:
        for _ in range(warmup):
            op()
    if len(ops) == 1:
        slice_s = seconds
    calls = [0] * len(ops)
    spent = [0.0] * len(ops)
    clock = time.perf_counter
    order = list(range(len(ops)))
    while min(spent) < seconds or min(calls) == 0:
        # Shuffled every cycle: what one op leaves behind (a garbage
        # collection, warm caches) helps whichever op comes next.
        random.shuffle(order)
        for i in order:
            op = ops[i]
            n = 0
            start = clock()
            deadline = start + slice_s
            while True:
                op()
                n += 1
                now = clock()
                if now >= deadline:
                    break
            calls[i] += n
            spent[i] += now - start
    return [c / t for c, t in zip(calls, spent)]


def pyjwt_signer(args: argparse.Namespace) -> Callable[[], str]:
    """Assertions as tokenclient makes them, with PyJWT: header alg, typ, kid;
    claims iss, sub, aud, jti (uuid4), iat (backdated 5 s), exp (+300 s)."""
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    with open(args.key, "rb") as f:
        key = load_pem_private_key(f.read(), password=None)  # loaded once
    headers = {"kid": args.kid, "typ": "JWT"}

    def sign() -> str:
        now = int(time.time())
        claims = {"iss": args.client_id, "sub": args.client_id, "aud": args.url, "jti": str(uuid.uuid4()),
                  "iat": now - 5, "exp": now + 300}
        return jwt.encode(claims, key, algorithm="ES256", headers=headers)

    return sign


def authlib_client(args: argparse.Namespace, kind: str) -> Any:
    """Authlib's OAuth2 client of `kind` ("httpx" or "requests") for the
    bench client: private_key_jwt with the key loaded once, and assertions
    with the header and claims tokenclient's have (alg ES256, typ, kid; iss,
    sub, aud, a fresh jti, iat backdated 5 s, exp +300 s)."""
    import warnings

    import authlib.deprecate

    # Authlib 1.9 warns, on import of its httpx integration, that httpx is
    # "deprecated" in favour of httpx2; the measurement is of httpx. (After
    # importing Authlib, which puts an "always" filter first.)
    warnings.filterwarnings("ignore", message="The httpx module is deprecated",
                            category=authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
    from joserfc.jwk import ECKey

    with open(args.key) as f:
        key = ECKey.import_key(f.read())  # loaded once

    class Assertion(PrivateKeyJWT):
        def sign(self, auth: object, token_endpoint: str) -> str:
            now = int(time.time())
            # A new claims dict every time: Authlib adds the jti to it.
            return private_key_jwt_sign(key, client_id=args.client_id, token_endpoint=token_endpoint, alg="ES256",
                                        claims={"iat": now - 5, "exp": now + 300},
                                        header={"kid": args.kid, "typ": "JWT"})

    method = Assertion(args.url, alg="ES256")
    if kind == "httpx":
        from authlib.integrations.httpx_client import OAuth2Client

        return OAuth2Client(args.client_id, key, token_endpoint_auth_method=method, timeout=30)
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(args.client_id, key, token_endpoint_auth_method=method)


def form(args: argparse.Namespace, assertion: str) -> dict:
    return {"grant_type": "client_credentials", "client_id": args.client_id,
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}


def check_token(body: dict) -> None:
    if not body.get("access_token"):
        raise SystemExit("py_bench: no access_token in the response")


def tc_client(args: argparse.Namespace) -> Any:
    import tokenclient

    with open(args.key) as f:
        return tokenclient.Client(args.url, args.client_id, private_key=f.read(), key_id=args.kid, alg="ES256",
                                  proxy="")


def operation(args: argparse.Namespace, m: str) -> Callable[[], object]:
    if m == "tc_cached":
        client = tc_client(args)
        client.get_token()

        def tc_cached() -> str:
            return client.get_token().access_token

        return tc_cached
    if m == "tc_async_cached":
        import tokenclient

        aclient = tokenclient.AsyncClient.from_client(tc_client(args))
        loop = asyncio.new_event_loop()
        batch = BATCH[m]

        async def awaits() -> str:
            token = ""
            for _ in range(batch):
                token = (await aclient.get_token()).access_token
            return token

        loop.run_until_complete(awaits())  # the first one fetches

        def tc_async_cached() -> str:
            return loop.run_until_complete(awaits())

        return tc_async_cached
    if m == "authlib_cached":
        client = authlib_client(args, "httpx")
        token = client.fetch_token(args.url, grant_type="client_credentials", client_id=args.client_id)
        if not client.ensure_active_token(token):
            raise SystemExit("py_bench: Authlib's token is not active")

        def authlib_cached() -> str:
            client.ensure_active_token(token)
            return token["access_token"]

        return authlib_cached
    if m in ("authlib_httpx_exchange", "authlib_requests_exchange"):
        client = authlib_client(args, m.split("_")[1])

        def authlib_exchange() -> None:
            check_token(client.fetch_token(args.url, grant_type="client_credentials", client_id=args.client_id))

        return authlib_exchange
    if m in ("tc_assert", "tc_exchange"):
        import tokenclient

        client = tokenclient.Client(args.url, args.client_id)
        client.set_proxy("")
        with open(args.key) as f:
            client.set_private_key(f.read(), key_id=args.kid, alg="ES256")
        return client.create_assertion if m == "tc_assert" else client.client_credentials
    sign = pyjwt_signer(args)
    if m == "jwt_assert":
        return sign
    headers = {"Accept": "application/json"}
    if m == "jwt_httpx_exchange":
        import httpx

        session = httpx.Client(timeout=30)

        def httpx_exchange() -> None:
            r = session.post(args.url, data=form(args, sign()), headers=headers)
            r.raise_for_status()
            check_token(r.json())

        return httpx_exchange
    if m == "jwt_requests_exchange":
        import requests

        session = requests.Session()

        def requests_exchange() -> None:
            r = session.post(args.url, data=form(args, sign()), headers=headers, timeout=30)
            r.raise_for_status()
            check_token(r.json())

        return requests_exchange
    raise SystemExit(f"py_bench: unknown measurement {m!r}")


def versions() -> None:
    from importlib.metadata import version

    for name in ("PyJWT", "cryptography", "httpx", "requests", "authlib", "joserfc"):
        print(name, version(name))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("-m", dest="measurement")
    p.add_argument("--url")
    p.add_argument("--key")
    p.add_argument("--kid", default="bench-key")
    p.add_argument("--client-id", default="bench-client")
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--slice", type=float, default=0.05)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--versions", action="store_true")
    args = p.parse_args()
    if args.versions:
        versions()
        return 0
    names = args.measurement.split(",")
    ops = [operation(args, name) for name in names]
    for name, rate in zip(names, measure(ops, args.seconds, args.slice, args.warmup)):
        print(f"py_{name} {rate * BATCH.get(name, 1):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
