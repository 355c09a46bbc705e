"""The shared token store from Python (Client.set_token_store): a file store
that two Client objects share, keys set with key=..., and the errors."""

import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import urllib.request

import pytest

import tokenclient
from tokenclient import AuthMethod, Client, _ffi

from forked import Forked

NAME = "basic-client"  # client_secret_basic, tokens of an hour


def token_requests(server):
    with urllib.request.urlopen(f"{server.manifest['stats_url']}?client_id={server.client(NAME)['client_id']}") as r:
        return json.loads(r.read())["token_requests"]


def new_client(server):
    c = Client(server.token_url(NAME), server.client(NAME)["client_id"])
    c.set_client_secret(server.client(NAME)["client_secret"], AuthMethod.CLIENT_SECRET_BASIC)
    return c


@pytest.fixture
def store(tmp_path):
    """A file store in a directory that does not exist yet (the library
    makes it 0700), and that directory."""
    directory = tmp_path / "store"
    return f"file://{directory}", directory


def test_two_clients_of_one_file_store_make_one_request(server, store):
    url, directory = store
    before = token_requests(server)
    with new_client(server) as a, new_client(server) as b:
        a.set_token_store(url)
        b.set_token_store(url)
        first = a.get_token().access_token
        second = b.get_token().access_token
    assert first and first == second
    assert token_requests(server) - before == 1
    assert directory.is_dir() and stat.S_IMODE(directory.stat().st_mode) == 0o700
    entries = list(directory.iterdir())
    assert entries and all(stat.S_IMODE(e.stat().st_mode) == 0o600 for e in entries if e.is_file())
    # The entries are sealed: the token is not in them in clear.
    assert all(first.encode() not in e.read_bytes() for e in entries if e.is_file())
    # A client without the store asks for its own.
    with new_client(server) as alone:
        assert alone.get_token().access_token != first
    assert token_requests(server) - before == 2


def test_a_set_key_is_shared_and_another_key_does_not_open_the_entry(server, store):
    url, _ = store
    key, other = bytes(range(32)), bytes(range(100, 132))
    before = token_requests(server)
    with new_client(server) as a, new_client(server) as b, new_client(server) as c:
        a.set_token_store(url, key=key)
        b.set_token_store(url, key=bytes(key))
        c.set_token_store(url, key=other)
        first = a.get_token().access_token
        assert b.get_token().access_token == first
        assert token_requests(server) - before == 1
        third = c.get_token().access_token
        assert third and third != first
        assert token_requests(server) - before == 2
    # Without a key: the one derived from the secret, which opens neither.
    with new_client(server) as derived:
        derived.set_token_store(url)
        assert derived.get_token().access_token not in (first, third)
    assert token_requests(server) - before == 3


@pytest.mark.parametrize("url", ["memcached://localhost:11211", "file://relative/dir", "not a url", ""])
def test_an_invalid_url_is_an_invalid_argument(server, url):
    with new_client(server) as c:
        with pytest.raises(tokenclient.InvalidArgumentError) as e:
            c.set_token_store(url)
        assert e.value.kind == _ffi.ERROR_INVALID_ARGUMENT


def test_key_errors(server, store):
    url, _ = store
    with new_client(server) as c:
        for bad in (b"short", b"x" * 15, b"x" * 1025):
            with pytest.raises(tokenclient.InvalidArgumentError) as e:
                c.set_token_store(url, key=bad)
            assert e.value.kind == _ffi.ERROR_INVALID_ARGUMENT
        with pytest.raises(TypeError):
            c.set_token_store(url, key="a str, not bytes, of 32 characters")  # type: ignore[arg-type]
        c.set_token_store(url, key=b"k" * 16)
        c.set_token_store(url, key=b"k" * 1024)


def test_a_directory_open_to_others_is_refused(server, tmp_path):
    directory = tmp_path / "open"
    directory.mkdir()
    directory.chmod(0o777)
    with new_client(server) as c:
        with pytest.raises(tokenclient.ConfigError) as e:
            c.set_token_store(f"file://{directory}")
        assert e.value.kind == _ffi.ERROR_CONFIG


@pytest.fixture
def redis_url(tmp_path):
    """A real redis-server of this test's own on a loopback port."""
    binary = shutil.which("redis-server")
    if not binary:
        if os.environ.get("TOKENCLIENT_REQUIRE_SERVER"):
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0?prefix=py:"
    finally:
        proc.kill()
        proc.wait()


class Events(logging.Handler):
    """The names of the "tokenclient" logger's store events."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.names = []

    def emit(self, record):
        name = getattr(record, "event", "")
        if name.startswith("store."):
            self.names.append(name)


def test_a_forked_child_uses_its_own_redis_connection(server, redis_url):
    logger = logging.getLogger("tokenclient")
    events = Events()
    logger.addHandler(events)
    try:
        with new_client(server) as c:
            c.set_token_store(redis_url)
            c.get_token("read")  # the parent's connection is open
            scopes = [f"forked-{i}" for i in range(20)]

            def in_child():
                tokens = [c.get_token(f"child-{s}").access_token for s in scopes]
                return {"tokens": tokens, "events": events.names}

            forked = Forked(in_child)
            # Both processes talk to Redis at once: on one shared socket the
            # answers would cross, and the store would fail (store.fallback).
            parent = [c.get_token(f"parent-{s}").access_token for s in scopes]
            child, code = forked.result()
            assert code == 0 and child is not None
            assert events.names == [] and child["events"] == []
            assert all(parent) and all(child["tokens"])
            # What the child obtained is in the store: the parent reads it.
            before = token_requests(server)
            assert [c.get_token(f"child-{s}").access_token for s in scopes] == child["tokens"]
            assert token_requests(server) == before
            # And a failing store would have been seen: one that is gone.
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                gone = s.getsockname()[1]
            c.set_token_store(f"redis://127.0.0.1:{gone}/0")
            c.get_token("write")
            assert events.names == ["store.fallback"]
    finally:
        logger.removeHandler(events)


class HoldAtRequestDone(logging.Handler):
    """Blocks the thread whose token request is done (it holds the store's
    lease then) until released."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.holding, self.release = threading.Event(), threading.Event()

    def emit(self, record):
        if getattr(record, "event", "") == "request.done" and not self.holding.is_set():
            self.holding.set()
            self.release.wait(30)


def test_a_child_forked_while_a_lease_is_held_does_not_keep_it(server, store):
    url, directory = store
    logger = logging.getLogger("tokenclient")
    hold, level = HoldAtRequestDone(), logger.level
    logger.addHandler(hold)
    logger.setLevel(logging.DEBUG)
    try:
        with new_client(server) as c:
            c.set_token_store(url)
            asking = threading.Thread(target=c.get_token, args=("read",))
            asking.start()
            assert hold.holding.wait(30), "no token request"
            # Forked while the lease is held: the child shares the lock
            # file's open description, and must let it go.
            pid = os.fork()
            if pid == 0:
                time.sleep(10)
                os._exit(0)
            try:
                hold.release.set()
                asking.join(30)
                locks = [p for p in directory.iterdir() if p.name.endswith(".lock")]
                assert locks
                for lock in locks:
                    with open(lock, "rb") as f:
                        # Fails (BlockingIOError) while any process holds it.
                        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
    finally:
        logger.removeHandler(hold)
        logger.setLevel(level)
