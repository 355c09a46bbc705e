"""The binding's snapshot of cached tokens (issue 23): Client.get_token
hands out the token it last got from the core, without calling into C, for
as long as tokenclient_token_fresh_for_ms said; what drops it. Calls into C
are counted by wrapping the ctypes function, and by the core's own
counters; requests by tests/conn_server.py, which records them."""

import asyncio
import http.server
import itertools
import json
import logging
import threading
import time

import pytest

from conn_server import ConnServer
from tokenclient import AsyncClient, AuthMethod, Cancel, Client, InvalidArgumentError, _ffi

SECRET = "snapshot-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def conn_server():
    with ConnServer() as server:
        yield server


@pytest.fixture
def c_calls(monkeypatch):
    """How many times tokenclient_client_get_token_ex was called."""
    real = _ffi.lib.tokenclient_client_get_token_ex
    calls = []

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(_ffi.lib, "tokenclient_client_get_token_ex", counting)
    return calls


@pytest.fixture
def client(conn_server):
    with Client(conn_server.url, "snapshot-client", client_secret=SECRET,
                auth_method=AuthMethod.CLIENT_SECRET_POST, proxy="", log_level=logging.INFO) as c:
        yield c


def requests_for(server, scope):
    return sum(1 for r in server.seen if r["scope"] == scope)


def test_the_second_get_token_does_not_cross_into_c(conn_server, client, c_calls):
    first = client.get_token("snap")
    assert len(c_calls) == 1
    hits = client.counters()["cache_hits"]
    for _ in range(1000):
        assert client.get_token("snap") is first
    assert len(c_calls) == 1, "no call into C"
    assert client.counters()["cache_hits"] == hits, "the core's cache was not asked"
    # With call options too; wrong ones fail as they would in C.
    with Cancel() as cancel:
        assert client.get_token("snap", timeout=5, cancel=cancel) is first
    with pytest.raises(InvalidArgumentError):
        client.get_token("snap", timeout=0)
    with pytest.raises(TypeError):
        client.get_token("snap", cancel="no")
    assert len(c_calls) == 1
    assert requests_for(conn_server, "snap") == 1
    # Its deadlines are those the core gave: 80% of a 3600 s token, less the
    # time the call took.
    _, mono, wall = client._snapshots["snap"]
    assert 2870 < mono - time.monotonic() <= 2880 and 2870 < wall - time.time() <= 2880
    # None and "" are one scope for the core; each has its own snapshot.
    assert client.get_token() is client.get_token() and len(c_calls) == 2
    assert client.get_token("").access_token == client.get_token(None).access_token


def test_invalidate_token_drops_it(conn_server, client, c_calls):
    first = client.get_token("inv")
    other = client.get_token("inv-other")
    client.invalidate_token("inv")
    calls = len(c_calls)
    second = client.get_token("inv")
    assert len(c_calls) == calls + 1 and second is not first
    assert requests_for(conn_server, "inv") == 2, "the core fetched a new one"
    assert client.get_token("inv") is second and len(c_calls) == calls + 1
    assert client.get_token("inv-other") is other, "another scope's snapshot stays"
    assert len(c_calls) == calls + 1
    client.get_token()
    client.invalidate_token("")  # "" and None are one scope
    assert None not in client._snapshots


@pytest.mark.parametrize("setter", [
    lambda c: c.set_retry_policy(1),
    lambda c: c.set_client_secret(SECRET, AuthMethod.CLIENT_SECRET_POST),
    lambda c: c.set_refresh_policy(80, 10),
    lambda c: c.add_header("X-Snapshot", "1"),
    lambda c: c.set_audience("https://as.example"),
    lambda c: c.set_refresh_token(None),
    lambda c: c.on_token(None),
    lambda c: c.set_log_level(logging.WARNING),
], ids=["retry_policy", "client_secret", "refresh_policy", "header", "audience", "refresh_token", "on_token",
        "log_level"])
def test_a_setter_drops_it(conn_server, client, c_calls, setter):
    first = client.get_token("setter")
    client.get_token("setter")
    assert len(c_calls) == 1
    hits = client.counters()["cache_hits"]
    setter(client)
    assert client._snapshots == {}
    again = client.get_token("setter")
    assert len(c_calls) == 2, "crossed into C again"
    assert client.counters()["cache_hits"] == hits + 1
    # The core keeps its cached token across settings (the binding's
    # snapshot only must not outlive them).
    assert again.access_token == first.access_token
    assert client.get_token("setter") is again and len(c_calls) == 2


def test_a_failed_setter_drops_it_too(client, c_calls):
    client.get_token("failed-setter")
    with pytest.raises(Exception):
        client.set_retry_policy(99)
    assert client._snapshots == {}


class _ShortTokens(http.server.BaseHTTPRequestHandler):
    """Tokens that live 2 s, numbered."""

    protocol_version = "HTTP/1.1"
    issued = itertools.count(1)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"access_token": f"short-{next(self.issued)}", "token_type": "Bearer",
                           "expires_in": 2}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_next_call_after_the_fresh_time_asks_c(c_calls):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ShortTokens)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with Client(f"http://127.0.0.1:{httpd.server_address[1]}/token", "short", client_secret=SECRET,
                    auth_method="client_secret_post", proxy="", log_level=logging.INFO,
                    refresh_policy=(50, 0)) as c:  # refreshed after 1 s of its 2
            first = c.get_token()
            fresh = c._snapshots[None][1] - time.monotonic()
            print(f"\na 2 s token, refreshed at 50%: the snapshot is fresh for {fresh:.3f} s")
            assert 0.9 < fresh <= 1.0
            deadline = time.monotonic() + fresh - 0.05
            served = 0
            while time.monotonic() < deadline:
                assert c.get_token() is first
                served += 1
            assert len(c_calls) == 1 and served > 1000
            time.sleep(max(0.0, c._snapshots[None][1] - time.monotonic()) + 0.01)
            second = c.get_token()
            assert len(c_calls) == 2, "past the fresh time, C was asked"
            assert (first.access_token, second.access_token) == ("short-1", "short-2"), "and the core refreshed"
            assert c.get_token() is second and len(c_calls) == 2
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_token_hook_drops_it(conn_server, client, c_calls):
    seen = []
    client.on_token(lambda t: seen.append(t.scope))
    client.get_token("hook-a")  # a new token: the trampoline drops the snapshots, this one's too
    client.get_token("hook-a")  # from the core's cache: kept
    client.get_token("hook-a")
    assert len(c_calls) == 2 and "hook-a" in client._snapshots
    client.get_token("hook-b")  # another new token: every snapshot goes
    assert seen == ["hook-a", "hook-b"]
    assert "hook-a" not in client._snapshots
    client.get_token("hook-a")
    assert len(c_calls) == 4


def test_close_drops_it_and_a_closed_client_serves_nothing(client, c_calls):
    client.get_token("closing")
    client.close()
    assert client._snapshots == {}
    with pytest.raises(Exception, match="closed"):
        client.get_token("closing")


def test_debug_events_turn_it_off(conn_server, client, c_calls):
    """Each cache hit of the core is a debug event: while they are
    forwarded, every get_token asks the core."""
    client.set_log_level(logging.DEBUG)
    client.get_token("debug")
    client.get_token("debug")
    assert len(c_calls) == 2 and client._snapshots == {}
    client.set_log_level(logging.INFO)
    client.get_token("debug")
    client.get_token("debug")
    assert len(c_calls) == 3


def test_exchanges_are_never_kept(conn_server, client):
    token = client.client_credentials("exchanged")
    assert _ffi.lib.tokenclient_token_fresh_for_ms(token._handle) == -1
    assert client._snapshots == {}


def test_a_get_token_that_began_before_an_invalidate_keeps_no_snapshot(conn_server, client, monkeypatch):
    """A token the core handed out before invalidate_token must not become
    a snapshot after it."""
    real = _ffi.lib.tokenclient_client_get_token_ex
    inside, go_on = threading.Event(), threading.Event()

    def slow(*args):
        result = real(*args)
        inside.set()
        go_on.wait(10)
        return result

    client.get_token("race")
    client.invalidate_token("race")
    monkeypatch.setattr(_ffi.lib, "tokenclient_client_get_token_ex", slow)
    got = []
    t = threading.Thread(target=lambda: got.append(client.get_token("race")))
    t.start()
    assert inside.wait(10)
    client.invalidate_token("race")  # after the core answered, before the binding keeps it
    go_on.set()
    t.join()
    assert got and "race" not in client._snapshots


def test_async_get_token_serves_it_without_a_thread_or_a_loop_turn(conn_server, c_calls):
    async def main():
        async with AsyncClient(conn_server.url, "snapshot-client", client_secret=SECRET,
                               auth_method="client_secret_post", proxy="", log_level=logging.INFO) as a:
            first = await a.get_token("async-snap")
            coro = a.get_token("async-snap")
            try:
                coro.send(None)  # runs to its end without ever suspending
            except StopIteration as done:
                return first, done.value
            raise AssertionError("the cached get_token suspended")

    first, second = asyncio.run(main())
    assert second is first and len(c_calls) == 1
