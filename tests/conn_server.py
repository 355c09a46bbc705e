"""A loopback token endpoint that names the TCP connection each request
came on, for the fork tests (tests/c/test_fork.c, bindings/python/tests/test_fork.py).

Every POST is answered with a token whose `access_token` is
"<scope>|conn=<n>", where n counts the server's connections, so a client
can tell which request a response belongs to (the scope it asked for) and
which connection carried it. A scope starting with "slow" is answered
after SLOW_SECONDS, to hold a request in flight. Every request is recorded
as it arrives, for tests that count them.

    with ConnServer() as server:
        server.url   # http://127.0.0.1:<port>/token
        server.seen  # [{"scope", "conn", "headers"}] of every request so far
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
import time
import urllib.parse

SLOW_SECONDS = 1.5


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the pool reuses connections

    def setup(self) -> None:
        super().setup()
        self.conn_id = next(self.server.connections)  # type: ignore[attr-defined]

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        scope = form.get("scope", [""])[0]
        self.server.seen.append(  # type: ignore[attr-defined]
            {"scope": scope, "conn": self.conn_id, "headers": {k.lower(): v for k, v in self.headers.items()}})
        if scope.startswith("slow"):
            time.sleep(SLOW_SECONDS)
        body = json.dumps({
            "access_token": f"{scope}|conn={self.conn_id}",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": scope,
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class ConnServer:
    def __init__(self) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.connections = itertools.count(1)  # type: ignore[attr-defined]
        self.httpd.seen = []  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def seen(self) -> list:
        """What every request so far asked: its scope, its connection and
        its headers (names in lower case), in the order they came."""
        return list(self.httpd.seen)  # type: ignore[attr-defined]

    def __enter__(self) -> "ConnServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def parse(access_token: str) -> tuple[str, int]:
    """(scope, connection number) of a token this server issued."""
    scope, _, conn = access_token.rpartition("|conn=")
    return scope, int(conn)


if __name__ == "__main__":
    with ConnServer() as s:
        print(s.url, flush=True)
        threading.Event().wait()
