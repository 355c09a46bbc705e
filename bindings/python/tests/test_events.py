"""Events, logs and counters from Python (issue 24): a client's events go to
logging.getLogger("tokenclient") as one record each, and Client.counters()
returns the client's counters. The scripted sequence is the one of
tests/c/core/events.c, against a loopback server written here that answers
what the test scripts next."""

import http.server
import json
import logging
import os
import sys
import threading
import time
import urllib.parse

import pytest

from forked import Forked
from tokenclient import AuthMethod, Client, OAuthError, _events, _ffi

SECRET = "events-secret-value-0123456789"
TOKEN = json.dumps({"access_token": "ev-1", "token_type": "Bearer", "expires_in": 4})
SERVICE_UNAVAILABLE = (503, "text/plain", "busy")
INVALID_CLIENT = (401, "application/json", '{"error":"invalid_client"}')
LOGGER = logging.getLogger("tokenclient")
#: The attributes a LogRecord has, or gets from a Formatter: what a record
#: has beyond them came in `extra`.
RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
#: The fields the header names (tokenclient_event_field).
FIELDS = ("endpoint", "grant_type", "auth_method", "scope", "oauth_error", "error_kind",
          "attempt", "http_status", "duration_us", "delay_ms")
#: The fields whose values vary from run to run.
TIMINGS = ("duration_us", "delay_ms")


class _Scripted(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (the stdlib's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        status, content_type, answer = self.server.answer
        self.server.bodies.append(body)
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class ScriptedServer:
    """A token endpoint on 127.0.0.1 that answers every request with what
    `serve` last set: (status, content type, body text or a function of the
    request's form body returning a JSON value)."""

    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
        self.httpd.daemon_threads = True
        self.httpd.bodies = []
        self.serve(200, "application/json", TOKEN)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, status, content_type, body):
        self.httpd.answer = (status, content_type, body)

    @property
    def bodies(self):
        """The form bodies of the requests answered so far."""
        return self.httpd.bodies

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def scope_token(body):
    """A token that names the scope asked for, for the concurrent tests."""
    scope = urllib.parse.parse_qs(body).get("scope", [""])[0]
    return {"access_token": f"tok-{scope}", "token_type": "Bearer", "expires_in": 3600}


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def take(self):
        """The records so far, cleared."""
        with self.lock:
            taken, self.records = self.records, []
        return taken


def extra(record):
    """What the record got in `extra`: the event's name and fields."""
    return {k: v for k, v in vars(record).items() if k not in RECORD_ATTRIBUTES}


def described(record):
    """(level name, event name, the fields that do not vary) of a record,
    after checking the timings are ints and the endpoint is a token URL."""
    fields = extra(record)
    for name in TIMINGS:
        if name in fields:
            assert type(fields.pop(name)) is int, (name, record.getMessage())
    assert fields.pop("endpoint").endswith("/token"), record.getMessage()
    return record.levelname, fields.pop("event"), fields


@pytest.fixture
def server():
    s = ScriptedServer()
    yield s
    s.close()


@pytest.fixture
def capture():
    """Records of the "tokenclient" logger, enabled for DEBUG while the test runs."""
    handler = Capture()
    level = LOGGER.level
    LOGGER.setLevel(logging.DEBUG)
    LOGGER.addHandler(handler)
    yield handler
    LOGGER.removeHandler(handler)
    LOGGER.setLevel(level)


def new_client(url, retries=0):
    client = Client(url, "events-client")
    client.set_client_secret(SECRET, AuthMethod.CLIENT_SECRET_POST)
    client.set_retry_policy(retries, 1, 10)
    return client


# -------------------------------------------------- the scripted sequence


@pytest.fixture(scope="module")
def sequence():
    """Plays the sequence once: the records of each step, the tokens, the
    counters and the request bodies."""
    s, handler = ScriptedServer(), Capture()
    level = LOGGER.level
    LOGGER.setLevel(logging.DEBUG)
    LOGGER.addHandler(handler)
    played = {"url": s.url}
    try:
        with new_client(s.url, retries=1) as c:
            # Refresh after 10% of a token's life, no margin: a 4 s token is
            # refreshed early but still usable after 0.6 s.
            c.set_refresh_policy(10, 0)
            played["miss"] = (c.get_token("read").access_token, handler.take())
            played["hit"] = (c.get_token("read").access_token, handler.take())
            time.sleep(0.6)
            s.serve(*SERVICE_UNAVAILABLE)
            played["refresh"] = (c.get_token("read").access_token, handler.take())
            s.serve(*INVALID_CLIENT)
            with pytest.raises(OAuthError) as e:
                c.client_credentials()
            played["invalid_client"] = (e.value.error, handler.take())
            played["counters"] = c.counters()
        played["bodies"] = list(s.bodies)
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(level)
        s.close()
    return played


CC = {"grant_type": "client_credentials", "auth_method": "client_secret_post"}
READ = {**CC, "scope": "read"}


def test_a_cache_miss_and_an_exchange(sequence):
    token, records = sequence["miss"]
    assert token == "ev-1"
    assert [described(r) for r in records] == [
        ("DEBUG", "cache.miss", {"scope": "read"}),
        ("INFO", "cache.refresh.started", {"scope": "read"}),
        ("DEBUG", "request.sent", {**READ, "attempt": 1}),
        ("INFO", "request.done", {**READ, "attempt": 1}),
    ]
    assert type(records[3].duration_us) is int and records[3].duration_us >= 0


def test_b_a_cached_hit(sequence):
    token, records = sequence["hit"]
    assert token == "ev-1"
    assert [described(r) for r in records] == [("DEBUG", "cache.hit", {"scope": "read"})]
    assert records[0].getMessage() == f"cache.hit endpoint={sequence['url']} scope=read"


def test_c_a_failed_refresh_keeps_the_old_token(sequence):
    token, records = sequence["refresh"]
    assert token == "ev-1"
    failed = {**READ, "http_status": 503, "error_kind": "http"}
    assert [described(r) for r in records] == [
        ("INFO", "cache.refresh.started", {"scope": "read"}),
        ("DEBUG", "request.sent", {**READ, "attempt": 1}),
        ("WARNING", "request.failed", {**failed, "attempt": 1}),
        ("WARNING", "retry.scheduled", {**READ, "attempt": 2}),
        ("DEBUG", "request.sent", {**READ, "attempt": 2}),
        ("WARNING", "request.failed", {**failed, "attempt": 2}),
        ("WARNING", "cache.refresh.failed_kept_old", {"scope": "read", "http_status": 503, "error_kind": "http"}),
    ]
    assert 0 <= records[3].delay_ms <= 10  # set_retry_policy(1, 1, 10)


def test_d_invalid_client(sequence):
    error, records = sequence["invalid_client"]
    assert error == "invalid_client"
    assert [described(r) for r in records] == [
        ("DEBUG", "request.sent", {**CC, "attempt": 1}),
        ("WARNING", "request.failed", {**CC, "attempt": 1, "http_status": 401,
                                       "oauth_error": "invalid_client", "error_kind": "oauth"}),
    ]
    failed = records[1]
    assert failed.getMessage() == (
        f"request.failed endpoint={sequence['url']} grant_type=client_credentials auth_method=client_secret_post "
        f"oauth_error=invalid_client error_kind=oauth attempt=1 http_status=401 duration_us={failed.duration_us}")
    assert failed.name == "tokenclient" and failed.levelno == logging.WARNING


def test_counters(sequence):
    counters = sequence["counters"]
    assert counters["requests"]["client_credentials"] == 4
    assert sum(counters["requests"].values()) == 4
    assert counters["errors"]["http"] == 1 and counters["errors"]["oauth"] == 1
    assert sum(counters["errors"].values()) == 2
    assert {k: counters[k] for k in ("retries", "cache_hits", "cache_misses", "refreshes",
                                     "refresh_failures_kept_old", "singleflight_waits")} == {
        "retries": 1, "cache_hits": 1, "cache_misses": 1, "refreshes": 2,
        "refresh_failures_kept_old": 1, "singleflight_waits": 0}
    latency = counters["latency_us"]
    assert "le_1000" in latency and "inf" in latency
    assert sum(latency.values()) == 4 and all(type(v) is int for v in latency.values())


def test_no_event_and_no_counter_holds_the_secret(sequence):
    # The secret was sent: every request body carried it.
    assert len(sequence["bodies"]) == 4
    assert all(urllib.parse.parse_qs(b)["client_secret"] == [SECRET] for b in sequence["bodies"])
    records = [r for step in ("miss", "hit", "refresh", "invalid_client") for r in sequence[step][1]]
    assert len(records) == 14
    texts = [json.dumps(sequence["counters"])]
    texts += [record.getMessage() for record in records]
    texts += [str(value) for record in records for value in extra(record).values()]
    for leak in (SECRET, urllib.parse.quote_plus(SECRET), SECRET[:16], SECRET[-16:]):
        assert not [t for t in texts if leak in t]


# ------------------------------------------------------------- the records


def test_every_field_is_its_own_key_and_clashes_with_no_record_attribute():
    assert not RECORD_ATTRIBUTES & {"event", *FIELDS}
    message, fields = _events.record_parts({"level": "warn", "event": "x.y", "scope": "a b", "name": "n",
                                            "msg": "m", "attempt": 2, "endpoint": ""})
    assert message == 'x.y scope="a b" name=n msg=m attempt=2 endpoint=""'
    assert fields == {"event": "x.y", "scope": "a b", "tokenclient_name": "n", "tokenclient_msg": "m",
                      "attempt": 2, "endpoint": ""}
    record = LOGGER.makeRecord("tokenclient", logging.WARNING, "f", 1, message, (), None, extra=fields)
    assert record.name == "tokenclient" and record.msg == message and record.tokenclient_name == "n"


def test_a_scope_with_spaces_is_quoted_in_the_message(server, capture):
    server.serve(200, "application/json", scope_token)
    with new_client(server.url) as c:
        c.client_credentials("read write")
    sent = capture.take()[0]
    assert sent.scope == "read write" and sent.attempt == 1
    assert sent.getMessage() == (f"request.sent endpoint={server.url} grant_type=client_credentials "
                                 'auth_method=client_secret_post scope="read write" attempt=1')


def test_events_from_many_threads_at_once(server, capture):
    server.serve(200, "application/json", scope_token)
    threads, calls = 8, 10
    start = threading.Barrier(threads)
    idents = {}

    with new_client(server.url) as c:
        def work(t):
            idents[t] = threading.get_ident()
            start.wait()
            for i in range(calls):
                assert c.client_credentials(f"t{t}-{i}").access_token == f"tok-t{t}-{i}"

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    records = capture.take()
    assert len(records) == threads * calls * 2
    by_scope = {}
    for r in records:
        by_scope.setdefault(r.scope, []).append(r)
    assert set(by_scope) == {f"t{t}-{i}" for t in range(threads) for i in range(calls)}
    for scope, rs in by_scope.items():
        t = int(scope[1:].split("-")[0])
        assert [r.event for r in rs] == ["request.sent", "request.done"], scope
        # Each event is logged on the thread that made the request.
        assert {r.thread for r in rs} == {idents[t]}, scope


def test_set_log_level_changes_and_stops_forwarding(server, capture):
    server.serve(200, "application/json", scope_token)
    with new_client(server.url) as c:
        c.client_credentials("a")
        assert [r.event for r in capture.take()] == ["request.sent", "request.done"]
        c.set_log_level(None)
        c.client_credentials("b")
        server.serve(*SERVICE_UNAVAILABLE)
        with pytest.raises(Exception):
            c.client_credentials("c")
        assert capture.take() == []
        c.set_log_level(logging.WARNING)
        with pytest.raises(Exception):
            c.client_credentials("d")
        assert [(r.levelname, r.event, r.scope) for r in capture.take()] == [("WARNING", "request.failed", "d")]
        c.set_log_level(logging.INFO)
        server.serve(200, "application/json", scope_token)
        c.client_credentials("e")
        assert [(r.levelname, r.event) for r in capture.take()] == [("INFO", "request.done")]
        c.set_log_level(logging.CRITICAL)  # above every event: none is forwarded
        c.client_credentials("f")
        assert capture.take() == []
        c.set_log_level(logging.DEBUG)
        c.client_credentials("g")
        assert [r.event for r in capture.take()] == ["request.sent", "request.done"]
        with pytest.raises(TypeError):
            c.set_log_level("DEBUG")


def test_set_log_level_while_calls_are_in_flight(server, capture):
    """Calls in flight may still hold the forwarder that was installed when
    they started: re-installing and removing it must not free it."""
    server.serve(200, "application/json", scope_token)
    stop = threading.Event()
    with new_client(server.url) as c:
        def work():
            while not stop.is_set():
                c.client_credentials("busy")

        workers = [threading.Thread(target=work) for _ in range(4)]
        for w in workers:
            w.start()
        try:
            for i in range(300):
                c.set_log_level((logging.DEBUG, None, logging.INFO)[i % 3])
                time.sleep(0.001)
        finally:
            stop.set()
            for w in workers:
                w.join()
    records = capture.take()
    assert records and {(r.event, r.scope) for r in records} <= {("request.sent", "busy"), ("request.done", "busy")}


@pytest.fixture
def installs(monkeypatch):
    """Every (C level, callback is set) a client hands to
    tokenclient_client_set_log_callback."""
    calls = []
    real = _ffi.lib.tokenclient_client_set_log_callback

    def spy(handle, level, callback, user_data):
        calls.append((level, bool(callback)))
        return real(handle, level, callback, user_data)

    monkeypatch.setattr(_ffi.lib, "tokenclient_client_set_log_callback", spy)
    return calls


@pytest.mark.parametrize("level,installed", [
    (logging.DEBUG, [(_ffi.LOG_DEBUG, True)]),
    (logging.INFO, [(_ffi.LOG_INFO, True)]),
    (logging.WARNING, [(_ffi.LOG_WARN, True)]),
    (logging.ERROR, [(_ffi.LOG_ERROR, True)]),
    (logging.CRITICAL, []),
])
def test_a_new_client_forwards_at_the_level_the_logger_is_enabled_for(level, installed, capture, installs):
    LOGGER.setLevel(level)
    with Client("https://acme.talkdeskid.com/oauth/token", "x"):
        assert installs == installed


def test_a_disabled_logger_installs_no_callback(server, capture, installs):
    for disable in (lambda: setattr(LOGGER, "disabled", True), lambda: logging.disable(logging.CRITICAL)):
        disable()
        try:
            c = new_client(server.url)
        finally:
            LOGGER.disabled = False
            logging.disable(logging.NOTSET)
        with c:
            assert installs == []
            c.client_credentials()
            c.get_token()
            c.get_token()
        assert capture.take() == [], "the library called into Python"


def test_an_exception_in_logging_does_not_reach_the_call_or_c(server, capture):
    """A filter that raises: the calls go on, and nothing reaches ctypes,
    which would report it as "Exception ignored on calling ctypes callback"."""
    class Failing(logging.Filter):
        def filter(self, record):
            raise RuntimeError("from a filter")

    unraisable = []
    failing = Failing()
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    LOGGER.addFilter(failing)
    try:
        with new_client(server.url) as c:
            assert c.get_token().access_token == "ev-1"
            assert c.get_token().access_token == "ev-1"
            assert c.counters()["cache_hits"] == 1
    finally:
        LOGGER.removeFilter(failing)
        sys.unraisablehook = hook
    assert capture.take() == []
    assert unraisable == []


class Gate(logging.Handler):
    """Holds the record of scope "blocked" in emit (and so this handler's
    lock) until `opened` is set."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.entered, self.opened = threading.Event(), threading.Event()

    def emit(self, record):
        if getattr(record, "scope", None) == "blocked":
            self.entered.set()
            self.opened.wait(30)


def test_events_after_fork(server, capture):
    """fork() while another thread is inside the forwarder, in the middle of
    logging an event: the child logs its own events, and the parent's thread
    goes on."""
    server.serve(200, "application/json", scope_token)
    gate = Gate()
    LOGGER.addHandler(gate)
    try:
        with new_client(server.url) as c:
            parent = threading.Thread(target=c.client_credentials, args=("blocked",))
            parent.start()
            assert gate.entered.wait(10)

            def in_child():
                capture.take()
                c.client_credentials("child")
                c.get_token("cached")
                return [(r.levelname, r.event, r.scope, r.process) for r in capture.take()]

            forked = Forked(in_child)
            try:
                child, code = forked.result(30)
            finally:
                gate.opened.set()
                parent.join()
    finally:
        LOGGER.removeHandler(gate)
    pid = forked.pid
    assert code == 0
    assert child == [
        ["DEBUG", "request.sent", "child", pid],
        ["INFO", "request.done", "child", pid],
        ["DEBUG", "cache.miss", "cached", pid],
        ["INFO", "cache.refresh.started", "cached", pid],
        ["DEBUG", "request.sent", "cached", pid],
        ["INFO", "request.done", "cached", pid],
    ]
    assert [(r.event, r.scope, r.process) for r in capture.take()] == [
        ("request.sent", "blocked", os.getpid()), ("request.done", "blocked", os.getpid())]
