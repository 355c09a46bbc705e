"""The Python wheel and sdist (`make wheel`, `make sdist`; bindings/python/README.md).

The wheel: tagged py3-none-manylinux_* by auditwheel, libcurl and OpenSSL
vendored and renamed inside it, and, installed into a fresh venv, it makes a
real token exchange with nothing of the build tree to fall back on
(target/release hidden, no TOKENCLIENT_LIBRARY, no LD_LIBRARY_PATH, run from
outside the repository), its libraries mapped from the venv.

The sdist: carries the crate in rust/, and a wheel built from it compiles the
library with cargo (into target/sdist-build, so registry crates compile once)
and imports in a fresh venv."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from oidc_server import OIDCServer  # noqa: E402

DIST = REPO / "build" / "dist"
RELEASE = REPO / "target" / "release"
SDIST_TARGET = REPO / "target" / "sdist-build"
# The rule of bindings/python/setup.py and the Makefile: the first version line of Cargo.toml.
VERSION = next(m.group(1) for line in (REPO / "Cargo.toml").read_text().splitlines()
               if (m := re.match(r'version\s*=\s*"([^"]+)"', line)))
#: What a manylinux wheel may leave to the system (glibc, libgcc_s, zlib): the rest is vendored.
SYSTEM_LIBS = {"linux-vdso.so.1", "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1",
               "libpthread.so.0", "libresolv.so.2", "libutil.so.1", "libgcc_s.so.1", "libstdc++.so.6", "libz.so.1"}


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run([str(c) for c in cmd], text=True, capture_output=True, **kw)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that points at the build tree."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TOKENCLIENT_LIBRARY", "PYTHONPATH", "PYTHONHOME", "LD_LIBRARY_PATH", "CARGO_TARGET_DIR")}
    env.update(extra)
    return env




def new_venv(path: pathlib.Path, wheel: pathlib.Path) -> pathlib.Path:
    """A fresh venv (no system site-packages) with only `wheel` installed, from no index; its python."""
    run([sys.executable, "-m", "venv", path])
    python = path / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", "--no-index", "--disable-pip-version-check", wheel],
        env=clean_env(), cwd=path)
    return python


def site_packages(python: pathlib.Path) -> pathlib.Path:
    out = run([python, "-I", "-c", "import sysconfig; print(sysconfig.get_path('platlib'))"], env=clean_env())
    return pathlib.Path(out.stdout.strip()).resolve()


@pytest.fixture(scope="module")
def wheel() -> pathlib.Path:
    run(["make", "-s", "-C", REPO, "wheel"])
    wheels = sorted(DIST.glob("tokenclient-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def server():
    with OIDCServer() as s:
        yield s


def test_wheel_is_py3_none_manylinux(wheel):
    m = re.fullmatch(r"tokenclient-([^-]+)-py3-none-(manylinux_\d+_\d+_x86_64)\.whl", wheel.name)
    assert m, wheel.name
    assert m.group(1) == VERSION
    platform = m.group(2)
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(f"tokenclient-{VERSION}.dist-info/WHEEL").decode()
        names = z.namelist()
    assert f"Tag: py3-none-{platform}" in meta.splitlines()
    assert "Root-Is-Purelib: false" in meta.splitlines()
    assert "tokenclient/libtokenclient.so" in names and "tokenclient/py.typed" in names
    shown = run([sys.executable, "-m", "auditwheel", "show", wheel]).stdout
    assert f'is consistent with the following platform tag: "{platform}"' in " ".join(shown.split()), shown


def test_wheel_vendors_libcurl_and_openssl(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp_path)
    lib = tmp_path / "tokenclient" / "libtokenclient.so"
    vendored = (tmp_path / "tokenclient.libs").resolve()
    dynamic = run(["readelf", "-d", lib]).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    assert "Library rpath: [$ORIGIN/../tokenclient.libs]" in dynamic, dynamic
    for name in ("libcurl", "libssl", "libcrypto"):
        # renamed (libcurl-<hash>.so.4...), so that no other copy in the process is taken for it
        assert any(re.fullmatch(name + r"-[0-9a-f]{8}\.so(\.\d+)*", n) for n in needed), (name, needed)
    ldd = run(["ldd", lib], env=clean_env(LD_LIBRARY_PATH="")).stdout
    resolved = {}
    for line in ldd.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=>":
            assert parts[2] != "not", line  # "not found"
            resolved[parts[0]] = pathlib.Path(parts[2]).resolve()
    for name in ("libcurl", "libssl", "libcrypto"):
        hits = {soname: path for soname, path in resolved.items() if soname.startswith(name + "-")}
        assert hits, (name, ldd)
        assert all(path.parent == vendored for path in hits.values()), hits
    outside = {soname for soname, path in resolved.items() if path.parent != vendored}
    assert outside <= SYSTEM_LIBS, f"resolved outside the wheel: {outside - SYSTEM_LIBS}\n{ldd}"
    assert not any(re.match(r"lib(curl|ssl|crypto)\.so", soname) for soname in resolved), ldd


PROBE = r"""
import importlib.metadata, json, sys
import tokenclient
url, client_id, secret = sys.argv[1:4]
with tokenclient.Client(url, client_id, client_secret=secret) as client:
    token = client.client_credentials(scope="read")
maps = set()
with open("/proc/self/maps") as f:
    for line in f:
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[5].startswith("/"):
            maps.add(fields[5].strip())
print(json.dumps({"token_type": token.token_type, "scope": token.scope, "access_token": token.access_token,
                  "file": tokenclient.__file__, "library_version": tokenclient.version(),
                  "package_version": importlib.metadata.version("tokenclient"), "maps": sorted(maps)}))
"""


def test_wheel_in_a_fresh_venv_exchanges_without_the_build_tree(wheel, server, tmp_path, release_moved_away):
    python = new_venv(tmp_path / "venv", wheel)
    site = site_packages(python)
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    basic = server.client("basic-client")
    work = tmp_path / "elsewhere"
    work.mkdir()
    assert REPO not in work.resolve().parents
    env = clean_env(LD_LIBRARY_PATH="")
    with release_moved_away():
        out = subprocess.run([str(python), "-I", str(probe), basic["token_url"], basic["client_id"],
                              basic["client_secret"]], env=env, cwd=work, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["token_type"] == "Bearer" and result["scope"] == "read" and result["access_token"]
    assert pathlib.Path(result["file"]).resolve() == site / "tokenclient" / "__init__.py"
    assert result["library_version"] == VERSION and result["package_version"] == VERSION
    maps = [pathlib.Path(p) for p in result["maps"]]
    ours = [p for p in maps if p.name.startswith("libtokenclient")]
    curl = [p for p in maps if p.name.startswith("libcurl")]
    assert ours and all(p.resolve() == site / "tokenclient" / "libtokenclient.so" for p in ours), ours
    assert curl and all(p.resolve().parent == site / "tokenclient.libs" for p in curl), curl
    for name in ("libssl-", "libcrypto-"):
        assert any(p.name.startswith(name) and p.resolve().parent == site / "tokenclient.libs" for p in maps), name
    assert not any(str(REPO / "target") in str(p) for p in maps), maps


@pytest.fixture(scope="module")
def sdist() -> pathlib.Path:
    run(["make", "-s", "-C", REPO, "sdist"])
    # (not make dist's tokenclient-<version>-source.tar.gz and -linux-<arch>.tar.gz)
    sdists = sorted(p for p in DIST.glob("tokenclient-*.tar.gz")
                    if re.fullmatch(r"tokenclient-[^-]+\.tar\.gz", p.name))
    assert len(sdists) == 1, sdists
    return sdists[0]


def pip_wheel(source: pathlib.Path, out: pathlib.Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "--no-cache-dir",
                "--disable-pip-version-check", "--wheel-dir", out, source], env=env, cwd=out.parent, check=False)


def test_sdist_carries_the_crate(sdist):
    root = f"tokenclient-{VERSION}"
    assert sdist.name == root + ".tar.gz"
    with tarfile.open(sdist) as t:
        names = set(t.getnames())
        info = t.extractfile(f"{root}/PKG-INFO")
        assert info is not None
        pkg_info = info.read().decode()
    for name in ("rust/Cargo.toml", "rust/Cargo.lock", "rust/src/lib.rs", "rust/build.rs", "rust/cbindgen.toml",
                 "rust/include/tokenclient.h", "setup.py", "pyproject.toml", "tokenclient/_ffi.py",
                 "tokenclient/py.typed"):
        assert f"{root}/{name}" in names, name
    # Every workspace member, so that `cargo build --locked` resolves the same workspace.
    members = tomllib.loads((REPO / "Cargo.toml").read_text()).get("workspace", {}).get("members", [])
    for member in members:
        if os.path.normpath(member) != ".":
            found = list(REPO.glob(os.path.normpath(member)))
            assert found, member
            for d in found:
                assert f"{root}/rust/{d.relative_to(REPO)}/Cargo.toml" in names, member
    assert not any("/target/" in n or n.endswith("/target") for n in names)
    assert not any(n.startswith(f"{root}/tests/") for n in names)
    assert f"Version: {VERSION}" in pkg_info.splitlines()


def test_wheel_from_the_sdist_compiles_the_library(sdist, tmp_path):
    wheels = tmp_path / "wheels"
    built = pip_wheel(sdist, wheels, clean_env(CARGO_TARGET_DIR=str(SDIST_TARGET)))
    log = built.stdout + built.stderr
    assert built.returncode == 0, log[-8000:]
    assert "cargo build --release --locked -p tokenclient --manifest-path" in log
    (whl,) = wheels.glob("*.whl")
    assert whl.name == f"tokenclient-{VERSION}-py3-none-linux_x86_64.whl"
    with zipfile.ZipFile(whl) as z:
        bundled = z.read("tokenclient/libtokenclient.so")
    compiled = (SDIST_TARGET / "release" / "libtokenclient.so").read_bytes()
    assert hashlib.sha256(bundled).digest() == hashlib.sha256(compiled).digest()

    python = new_venv(tmp_path / "venv", whl)
    site = site_packages(python)
    probe = ("import importlib.metadata, tokenclient; print(tokenclient.version(), "
             "importlib.metadata.version('tokenclient'), tokenclient.__file__)")
    out = run([python, "-I", "-c", probe], env=clean_env(LD_LIBRARY_PATH=""), cwd=tmp_path).stdout.split()
    assert out[:2] == [VERSION, VERSION]
    assert pathlib.Path(out[2]).resolve() == site / "tokenclient" / "__init__.py"


def test_sdist_without_cargo_fails_clearly(sdist, tmp_path):
    """No cargo and no TOKENCLIENT_LIBRARY: nothing to bundle, and the build
    says what to do rather than making a wheel without the library."""
    wheels = tmp_path / "wheels"
    r = pip_wheel(sdist, wheels, clean_env(CARGO="/nonexistent/cargo"))
    log = r.stdout + r.stderr
    assert r.returncode != 0
    assert "`/nonexistent/cargo` is not on PATH: install Rust" in log and "TOKENCLIENT_LIBRARY" in log, log[-4000:]
    assert not list(wheels.glob("*.whl"))
    r = pip_wheel(sdist, wheels, clean_env(TOKENCLIENT_LIBRARY="/nonexistent/libtokenclient.so"))
    assert r.returncode != 0
    assert "TOKENCLIENT_LIBRARY=/nonexistent/libtokenclient.so is not a file" in r.stdout + r.stderr
