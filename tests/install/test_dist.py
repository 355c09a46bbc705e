"""`make dist`: the release's files, and one version everywhere.

The version is set once, in the root Cargo.toml; every artifact that names a
version must name that one."""

import hashlib
import pathlib
import re
import subprocess
import tarfile
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DIST = REPO / "build" / "dist"
VERSION = next(line.split('"')[1] for line in (REPO / "Cargo.toml").read_text().splitlines()
               if line.startswith("version = "))


@pytest.fixture(scope="module")
def dist():
    subprocess.run(["make", "-s", "-C", str(REPO), "dist"], check=True, capture_output=True, text=True)
    files = {p.name: p for p in DIST.iterdir()}
    return files


def one(files, pattern):
    found = [p for name, p in files.items() if re.fullmatch(pattern, name)]
    assert len(found) == 1, (pattern, sorted(files))
    return found[0]


def test_the_version_is_set_in_one_place():
    cargo = (REPO / "Cargo.toml").read_text()
    assert len(re.findall(r'^version = "', cargo, re.M)) == 1
    assert 'version.workspace = true' in (REPO / "cli" / "Cargo.toml").read_text()
    assert 'dynamic = ["version"]' in (REPO / "bindings" / "python" / "pyproject.toml").read_text()
    major, minor, patch = VERSION.split(".")
    header = (REPO / "include" / "tokenclient.h").read_text()
    for name, value in (("MAJOR", major), ("MINOR", minor), ("PATCH", patch)):
        assert f"#define TOKENCLIENT_VERSION_{name} {value}\n" in header
    # The newest CHANGELOG entry is this version's.
    first = re.search(r"^## (\S+)", (REPO / "CHANGELOG.md").read_text(), re.M)
    assert first and first.group(1) == VERSION
    # The Go README tells users to depend on this version.
    go_readme = (REPO / "bindings" / "go" / "README.md").read_text()
    assert f"@v{VERSION}" in go_readme
    assert not set(re.findall(r"@v(\d+\.\d+\.\d+)", go_readme)) - {VERSION}


def test_source_tarball(dist):
    src = one(dist, rf"tokenclient-{re.escape(VERSION)}-source\.tar\.gz")
    with tarfile.open(src) as tar:
        names = set(tar.getnames())
    top = f"tokenclient-{VERSION}/"
    for needed in ("Cargo.toml", "Cargo.lock", "src/lib.rs", "cli/src/main.rs", "include/tokenclient.h",
                   "Makefile", "CHANGELOG.md", "bindings/python/setup.py", "bindings/go/go.mod"):
        assert top + needed in names, needed
    assert all(n.startswith(top) or n == top.rstrip("/") for n in names)
    assert not any("/target/" in n or "/build/" in n or "node_modules" in n for n in names)


def test_installed_tree_tarball(dist, tmp_path):
    tree = one(dist, rf"tokenclient-{re.escape(VERSION)}-linux-[a-z0-9_]+\.tar\.gz")
    with tarfile.open(tree) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert all(m.uid == 0 and m.gid == 0 for m in members.values())
        tar.extractall(tmp_path, filter="tar")
    root = tmp_path / "usr" / "local"
    lib = root / "lib"
    assert (lib / f"libtokenclient.so.{VERSION}").is_file()
    assert (root / "include" / "tokenclient.h").read_text() == (REPO / "include" / "tokenclient.h").read_text()
    pc = (lib / "pkgconfig" / "tokenclient.pc").read_text()
    assert "prefix=/usr/local\n" in pc and f"Version: {VERSION}\n" in pc
    assert f'set(PACKAGE_VERSION "{VERSION}")' in (lib / "cmake" / "tokenclient" /
                                                 "tokenclientConfigVersion.cmake").read_text()
    r = subprocess.run([str(root / "bin" / "tokenclient"), "--version"], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == f"tokenclient {VERSION}"


def test_python_packages(dist):
    wheel = one(dist, rf"tokenclient-{re.escape(VERSION)}-py3-none-manylinux_\d+_\d+_x86_64\.whl")
    with zipfile.ZipFile(wheel) as z:
        metadata = z.read(f"tokenclient-{VERSION}.dist-info/METADATA").decode()
    assert f"\nVersion: {VERSION}\n" in metadata
    sdist = one(dist, rf"tokenclient-{re.escape(VERSION)}\.tar\.gz")
    with tarfile.open(sdist) as tar:
        pkg_info = tar.extractfile(f"tokenclient-{VERSION}/PKG-INFO").read().decode()
    assert f"\nVersion: {VERSION}\n" in pkg_info


def test_checksums(dist):
    sums = (DIST / "SHA256SUMS").read_text().splitlines()
    listed = {}
    for line in sums:
        digest, name = line.split(maxsplit=1)
        listed[name.lstrip("*")] = digest
    expected = {n for n in dist if n.startswith(f"tokenclient-{VERSION}")}
    assert set(listed) == expected and len(expected) == 4
    for name, digest in listed.items():
        assert hashlib.sha256((DIST / name).read_bytes()).hexdigest() == digest, name
