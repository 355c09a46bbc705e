"""`make demo`: starts the local OpenID Connect test server, builds
examples/c/demo.c against the library, and runs it with a Talkdesk-shaped
client (bare base64 EC key with a key id, private_key_jwt)."""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from oidc_server import OIDCServer  # noqa: E402

LIBDIR = REPO / "target" / "release"
BUILD = REPO / "build"


def demo_env(server: OIDCServer) -> dict:
    """The demo's inputs, from the test server: a Talkdesk-shaped client
    (bare base64 EC key with a key id) and a fresh authorization code."""
    td = server.client("talkdesk-client")
    return dict(
        os.environ,
        TOKEN_URL=server.token_url("talkdesk-client"),
        CLIENT_ID=td["client_id"],
        CLIENT_KEY=td["private_key_b64"],
        KEY_ID=td["kid"],
        AUTH_CODE=server.code("talkdesk-client"),
        REDIRECT_URI=server.redirect_uri,
        BASIC_CLIENT_ID=server.client("basic-client")["client_id"],
        ISSUER=server.manifest["issuer"],
    )


def main() -> int:
    BUILD.mkdir(exist_ok=True)
    exe = BUILD / "demo"
    cc = os.environ.get("CC", "cc")
    subprocess.run(
        [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{REPO / 'include'}",
         str(REPO / "examples" / "c" / "demo.c"), f"-L{LIBDIR}", "-ltokenclient",
         f"-Wl,-rpath,{LIBDIR}", "-o", str(exe)],
        check=True,
    )
    with OIDCServer() as server:
        env = demo_env(server)
        print(f"test server: {server.manifest['issuer']} (oidc-provider on loopback)", flush=True)
        return subprocess.run([str(exe)], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
