"""Go against the installed library: `make install` into a temporary prefix,
then a Go program in a directory outside the repository, against a copy of
bindings/go, built with nothing but PKG_CONFIG_PATH=<prefix>/lib/pkgconfig
and run with the build tree moved away and no LD_LIBRARY_PATH: it finds
libtokenclient through the .pc's rpath and does a real client-credentials
exchange against the test server. Also: the .pc files' rpath (installed,
PREFIX=/usr, in-tree) and the version bindings/go/README.md names."""

import base64
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from oidc_server import OIDCServer  # noqa: E402

VERSION = next(
    line.split('"')[1] for line in (REPO / "Cargo.toml").read_text().splitlines() if line.startswith("version = ")
)
MAJOR = VERSION.split(".")[0]
MODULE = "github.com/tokenclient/tokenclient/bindings/go"
BUILD_TREE = REPO / "target" / "release"
# What could point cgo or the loader at the build tree instead of the prefix.
SCRUBBED = ("CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS", "LD_LIBRARY_PATH", "LD_PRELOAD",
            "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "PKG_CONFIG_SYSROOT_DIR", "TOKENCLIENT_LIBRARY",
            "TOKENCLIENT_LIBDIR", "GOWORK", "GOFLAGS")

PROGRAM = """package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

func main() {
	c, err := tokenclient.New(os.Getenv("TOKEN_URL"), os.Getenv("CLIENT_ID"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.SetClientSecret(os.Getenv("CLIENT_SECRET"), tokenclient.AuthClientSecretBasic); err != nil {
		log.Fatal(err)
	}
	tok, err := c.ClientCredentials("read")
	if err != nil {
		log.Fatal(err)
	}
	out := map[string]any{
		"version": tokenclient.Version(), "token_type": tok.TokenType, "scope": tok.Scope,
		"expires_in": tok.ExpiresIn, "access_token": tok.AccessToken,
	}
	// A wrong secret: the server's answer, as an *OAuthError.
	if err := c.SetClientSecret("not-the-secret", tokenclient.AuthClientSecretBasic); err != nil {
		log.Fatal(err)
	}
	_, err = c.ClientCredentials("read")
	var oe *tokenclient.OAuthError
	if !errors.As(err, &oe) {
		log.Fatalf("a wrong secret: %v", err)
	}
	out["wrong_secret"] = fmt.Sprintf("HTTP %d %s", oe.Status, oe.Code)
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		log.Fatal(err)
	}
}
"""


def run(cmd, check=True, **kw):
    r = subprocess.run([str(c) for c in cmd], text=True, capture_output=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{shlex.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(extra)
    return env


def pc_field(text, name):
    return next(line for line in text.splitlines() if line.startswith(name + ":") or line.startswith(name + "="))


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    p = tmp_path_factory.mktemp("go-prefix")
    run(["make", "-s", "-C", REPO, "install", f"PREFIX={p}"])
    yield p
    run(["make", "-s", "-C", REPO, "uninstall", f"PREFIX={p}"])


@pytest.fixture(scope="module")
def server():
    with OIDCServer() as s:
        yield s


def test_installed_pc_has_an_rpath(prefix):
    pc = (prefix / "lib" / "pkgconfig" / "tokenclient.pc").read_text()
    assert pc_field(pc, "Libs") == "Libs: -L${libdir} -ltokenclient -Wl,-rpath,${libdir}"
    assert "libdir=${exec_prefix}/lib\n" in pc and "includedir=${prefix}/include\n" in pc
    assert "@" not in pc, "a template variable was left unsubstituted"
    env = clean_env(PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    flags = shlex.split(run(["pkg-config", "--cflags", "--libs", "tokenclient"], env=env).stdout)
    assert f"-I{prefix}/include" in flags and f"-L{prefix}/lib" in flags
    assert f"-Wl,-rpath,{prefix}/lib" in flags
    assert not [f for f in flags if str(REPO) in f], flags


def test_usr_prefix_has_no_rpath(tmp_path):
    stage = tmp_path / "stage"
    run(["make", "-s", "-C", REPO, "install", f"DESTDIR={stage}", "PREFIX=/usr"])
    try:
        pc = (stage / "usr/lib/pkgconfig/tokenclient.pc").read_text()
        assert "prefix=/usr\n" in pc
        assert pc_field(pc, "Libs") == "Libs: -L${libdir} -ltokenclient"
    finally:
        run(["make", "-s", "-C", REPO, "uninstall", f"DESTDIR={stage}", "PREFIX=/usr"])


def test_in_tree_pc():
    """`make build`'s target/pkgconfig/tokenclient.pc, from the same template."""
    pc = (REPO / "target" / "pkgconfig" / "tokenclient.pc").read_text()
    assert f"libdir={BUILD_TREE}\n" in pc and f"includedir={REPO / 'include'}\n" in pc
    assert f"Version: {VERSION}\n" in pc
    assert pc_field(pc, "Libs") == "Libs: -L${libdir} -ltokenclient -Wl,-rpath,${libdir}"
    template = (REPO / "packaging" / "tokenclient.pc.in").read_text()
    assert pc_field(pc, "Requires.private") == pc_field(template, "Requires.private")
    env = clean_env(PKG_CONFIG_PATH=str(REPO / "target" / "pkgconfig"))
    assert run(["pkg-config", "--modversion", "tokenclient"], env=env).stdout.strip() == VERSION


def readme_versions(text):
    """Every x.y.z the README names (not an IPv4 address's first three parts)."""
    return re.findall(r"(?<![\d.])v?(\d+\.\d+\.\d+)(?![\d.])", text)


def test_go_readme_names_the_cargo_version():
    text = (REPO / "bindings" / "go" / "README.md").read_text()
    versions = readme_versions(text)
    assert versions, "bindings/go/README.md names no version"
    assert set(versions) == {VERSION}, f"bindings/go/README.md names {sorted(set(versions))}, Cargo.toml {VERSION}"
    assert f"go get {MODULE}@v{VERSION}" in text and f"bindings/go/v{VERSION}" in text
    assert readme_versions("go get x@v9.8.7 on 127.0.0.1") == ["9.8.7"]  # the check can fail


def introspect(server, token):
    """The test server's own word on the token (RFC 7662), not the library's."""
    c = server.client("basic-client")
    cred = ":".join(urllib.parse.quote(c[k], safe="") for k in ("client_id", "client_secret"))
    req = urllib.request.Request(server.manifest["introspection_url"],
                                 urllib.parse.urlencode({"token": token}).encode(),
                                 {"Authorization": "Basic " + base64.b64encode(cred.encode()).decode()})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_go_program_against_the_installed_prefix(prefix, server, tmp_path_factory, release_moved_away):
    started = time.monotonic()
    work = tmp_path_factory.mktemp("go-consumer")
    assert REPO not in work.parents, f"{work} is inside the repository"
    binding = work / "tokenclient-go"
    shutil.copytree(REPO / "bindings" / "go", binding, ignore=shutil.ignore_patterns("*_test.go", "examples"))
    prog = work / "prog"
    prog.mkdir()
    (prog / "main.go").write_text(PROGRAM)
    (prog / "go.mod").write_text(f"module goinstalltest\n\ngo 1.26.0\n\nrequire {MODULE} v{VERSION}\n\n"
                                 f"replace {MODULE} => {binding}\n")
    shutil.copy(binding / "go.sum", prog / "go.sum")

    env = clean_env(PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"), GOFLAGS="-mod=mod", GOWORK="off",
                    CGO_ENABLED="1")
    dirs = run(["go", "list", "-deps", "-f", "{{.ImportPath}} {{.Dir}}", "."], cwd=prog, env=env).stdout
    dep = next(line.split(" ", 1)[1] for line in dirs.splitlines() if line.startswith(MODULE + " "))
    assert pathlib.Path(dep) == binding
    exe = work / "goinstalltest"
    run(["go", "build", "-o", exe, "."], cwd=prog, env=env)
    built = time.monotonic()

    dynamic = run(["readelf", "-d", exe]).stdout
    assert f"[libtokenclient.so.{MAJOR}]" in dynamic
    assert re.search(r"\((RUNPATH|RPATH)\)\s+Library (runpath|rpath): \[[^\]]*" + re.escape(f"{prefix}/lib"), dynamic)
    assert str(REPO) not in dynamic

    c = server.client("basic-client")
    run_env = clean_env(TOKEN_URL=server.token_url("basic-client"), CLIENT_ID=c["client_id"],
                        CLIENT_SECRET=c["client_secret"])
    with release_moved_away():
        ldd = run(["ldd", exe], env=run_env).stdout
        out = run([exe], env=run_env, timeout=60)
    line = next(x for x in ldd.splitlines() if "libtokenclient" in x)
    assert f"=> {prefix}/lib/libtokenclient.so.{MAJOR} " in line, ldd
    result = json.loads(out.stdout)
    assert result["version"] == VERSION
    assert result["token_type"] == "Bearer" and result["scope"] == "read"
    assert 0 < result["expires_in"] <= 24 * 3600
    assert len(result["access_token"]) >= 16
    assert result["wrong_secret"] == "HTTP 401 invalid_client"
    info = introspect(server, result["access_token"])
    assert info["active"] is True and info["client_id"] == c["client_id"] and info["scope"] == "read", info
    print(f"\ngo consumer: build {built - started:.1f} s, total {time.monotonic() - started:.1f} s")
