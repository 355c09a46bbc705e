"""Builds tests/c/test_fork.c and runs it against tests/conn_server.py:
plainly, with a get_token in flight at fork time, and under valgrind
(which follows the child too). Exit status: non-zero if any run failed."""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from conn_server import ConnServer  # noqa: E402

# `make test` points TOKENCLIENT_LIBDIR at the test-hooks build (target/hooks/release).
LIBDIR = pathlib.Path(os.environ.get("TOKENCLIENT_LIBDIR", REPO / "target" / "release"))
BUILD = REPO / "build" / "c-tests"
VALGRIND = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect"]


def build() -> pathlib.Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    exe = BUILD / "test_fork"
    subprocess.run(
        [os.environ.get("CC", "cc"), "-std=c11", "-Wall", "-Wextra", "-Werror", "-g",
         f"-I{REPO / 'include'}", f"-I{REPO / 'tests' / 'c'}", str(REPO / "tests" / "c" / "test_fork.c"),
         f"-L{LIBDIR}", "-ltokenclient", f"-Wl,-rpath,{LIBDIR}", "-pthread", "-o", str(exe)],
        check=True,
    )
    return exe


def main() -> int:
    exe = build()
    runs = [("plain", [], []), ("in flight at fork", [], ["--in-flight"]), ("valgrind", VALGRIND, [])]
    failed = 0
    with ConnServer() as server:
        for name, prefix, args in runs:
            result = subprocess.run(prefix + [str(exe), server.url] + args, timeout=300)
            print(f"--- test_fork ({name}): {'PASS' if result.returncode == 0 else 'FAIL'}", flush=True)
            failed += result.returncode != 0
    print(f"{len(runs) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
