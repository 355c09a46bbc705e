"""get_token from Python: the cache, single flight across 1,000 threads,
the token hook and rotated refresh tokens."""

import json
import threading
import urllib.request

import pytest

import tokenclient
from tokenclient import AuthMethod, Client


def token_requests(server, client_id):
    with urllib.request.urlopen(f"{server.manifest['stats_url']}?client_id={client_id}") as r:
        return json.loads(r.read())["token_requests"]


def test_cached_and_single_flight(server):
    m = server.client("rs256-client")
    with Client(server.token_url("rs256-client"), m["client_id"]) as c:
        c.set_private_key(m["private_key_pem"], key_id=m["kid"])
        before = token_requests(server, "rs256-client")
        start = threading.Barrier(1000)
        results = [None] * 1000

        def call(i):
            start.wait()
            results[i] = c.get_token("read").access_token

        threads = [threading.Thread(target=call, args=(i,)) for i in range(1000)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(results)) == 1 and results[0]
        assert token_requests(server, "rs256-client") - before == 1
        for _ in range(50):
            assert c.get_token("read").access_token == results[0]
        assert token_requests(server, "rs256-client") - before == 1
        c.invalidate_token("read")
        assert c.get_token("read").access_token != results[0]
        assert token_requests(server, "rs256-client") - before == 2


def test_hook_sees_rotated_refresh_tokens(server):
    m = server.client("es256-client")
    with Client(server.token_url("es256-client"), m["client_id"]) as c:
        c.set_private_key(m["private_key_pem"], key_id=m["kid"])
        seed = c.exchange_code(server.code("es256-client"), server.redirect_uri).refresh_token
        seen = []
        c.on_token(lambda t: seen.append(t.refresh_token))
        c.set_refresh_token(seed)
        tok = c.get_token()
        assert seen == [tok.refresh_token] and tok.refresh_token != seed
        c.on_token(None)
        c.invalidate_token()
        c.get_token()
        assert len(seen) == 1, "the hook was removed"
        with pytest.raises(tokenclient.OAuthError) as e:
            c.refresh(seed)  # rotated away: the cache must not use it again
        assert e.value.error == "invalid_grant"


def test_hook_exceptions_do_not_break_the_call(server, capsys):
    m = server.client("post-client")
    with Client(server.token_url("post-client"), m["client_id"]) as c:
        c.set_client_secret(m["client_secret"], AuthMethod.CLIENT_SECRET_POST)
        c.on_token(lambda t: 1 / 0)
        assert c.get_token("write").access_token
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_policy_setters_validate():
    with Client("https://acme.talkdeskid.com/oauth/token", "x") as c:
        c.set_retry_policy(0)
        c.set_refresh_policy(50, 30)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_retry_policy(11)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_refresh_policy(0, 10)
        with pytest.raises(tokenclient.InvalidArgumentError):
            c.set_refresh_token("")
