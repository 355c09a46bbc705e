"""Builds the tokenclient package: the ctypes binding plus libtokenclient.so.

The library bundled into the wheel is, in order:
1. $TOKENCLIENT_LIBRARY, when set (a built libtokenclient.so);
2. in the repository: ../../target/release/libtokenclient.so (`make` builds it);
3. in the sdist: the crate in rust/, built here with
   `cargo build --release --locked -p tokenclient` ($CARGO_TARGET_DIR honoured).
With none of them the build fails and says so.

The version is the crate's, kept in one place: the first `version = "..."`
line of the root Cargo.toml (rust/Cargo.toml in the sdist).

The wheel carries native code but no CPython extension (ctypes loads the
library), so it is tagged py3-none-<platform> (linux_x86_64 here; `make wheel`
has `auditwheel repair` vendor libcurl and OpenSSL and give it its manylinux
tag). The sdist carries the crate in rust/ (see stage_crate).
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
from typing import Any

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import SetupError

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1 (Python 3.11's venvs get 65.5): the `wheel` package's
    from wheel.bdist_wheel import bdist_wheel

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
#: In the repository (bindings/python of a checkout), not an unpacked sdist.
IN_TREE = (REPO / "Cargo.toml").is_file() and (REPO / "bindings" / "python") == HERE
#: The crate, as the sdist carries it.
SDIST_CRATE = HERE / "rust"

# What of the repository the crate needs to build (besides its workspace members).
CRATE_FILES = ("Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml")
CRATE_DIRS = ("src", "include")


def crate_manifest() -> pathlib.Path:
    if (SDIST_CRATE / "Cargo.toml").is_file():
        return SDIST_CRATE / "Cargo.toml"
    if IN_TREE:
        return REPO / "Cargo.toml"
    raise SetupError(f"tokenclient: neither {SDIST_CRATE / 'Cargo.toml'} (an sdist) nor the repository's "
                     f"Cargo.toml ({HERE} is not bindings/python of a checkout) is there")


def crate_version() -> str:
    """The first `version = "x.y.z"` line of the crate's Cargo.toml (that of
    [package], or of [workspace.package] once it moves there)."""
    manifest = crate_manifest()
    for line in manifest.read_text(encoding="utf-8").splitlines():
        m = re.match(r'version\s*=\s*"([^"]+)"', line)
        if m:
            return m.group(1)
    raise SetupError(f"tokenclient: no `version = \"...\"` line in {manifest}")


def cargo_build() -> pathlib.Path:
    """Builds the sdist's crate; returns the built library."""
    cargo = os.environ.get("CARGO", "cargo")
    if shutil.which(cargo) is None:
        raise SetupError(
            f"tokenclient: building from the sdist compiles libtokenclient with Rust, but `{cargo}` is not on "
            "PATH: install Rust (rustup; the crate's rust-version or newer) and the libcurl and OpenSSL development "
            "packages (e.g. libcurl4-openssl-dev libssl-dev pkg-config), or set TOKENCLIENT_LIBRARY to a built "
            "libtokenclient.so")
    # Relative, CARGO_TARGET_DIR means the same to cargo (run from here) as to us.
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or SDIST_CRATE / "target").resolve()
    cmd = [cargo, "build", "--release", "--locked", "-p", "tokenclient", "--manifest-path",
           str(SDIST_CRATE / "Cargo.toml")]
    print("tokenclient: " + " ".join(cmd) + f" (CARGO_TARGET_DIR={target})", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, env=dict(os.environ, CARGO_TARGET_DIR=str(target)), check=False)
    lib = target / "release" / "libtokenclient.so"
    if done.returncode != 0 or not lib.is_file():
        raise SetupError(f"tokenclient: `{' '.join(cmd)}` failed (exit status {done.returncode}; see its output "
                         "above); set TOKENCLIENT_LIBRARY to a built libtokenclient.so to skip it")
    return lib


def bundled_library() -> pathlib.Path:
    explicit = os.environ.get("TOKENCLIENT_LIBRARY")
    if explicit:
        if not pathlib.Path(explicit).is_file():
            raise SetupError(f"tokenclient: TOKENCLIENT_LIBRARY={explicit} is not a file")
        return pathlib.Path(explicit)
    built = REPO / "target" / "release" / "libtokenclient.so"
    if IN_TREE and built.is_file():
        return built
    if (SDIST_CRATE / "Cargo.toml").is_file():
        return cargo_build()
    raise SetupError(
        "tokenclient: no libtokenclient.so to bundle. Run `make` at the repository root (it builds "
        f"{built}), set TOKENCLIENT_LIBRARY to a built libtokenclient.so, or install from the sdist "
        "(`make sdist`), which builds the library with cargo")


def stage_crate(dest: pathlib.Path) -> None:
    """Copies the crate into `dest` (the sdist's rust/): CRATE_FILES, CRATE_DIRS
    and every [workspace] member of the root Cargo.toml, so that
    `cargo build --locked` works there as in the repository."""
    if (SDIST_CRATE / "Cargo.toml").is_file():  # an sdist of an sdist
        shutil.copytree(SDIST_CRATE, dest, ignore=shutil.ignore_patterns("target"))
        return
    if not IN_TREE:
        raise SetupError("tokenclient: the sdist is made from the repository (`make sdist`)")
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        raise SetupError("tokenclient: making the sdist reads Cargo.toml with tomllib (Python 3.11 or newer)") \
            from None
    manifest: dict[str, Any] = tomllib.loads((REPO / "Cargo.toml").read_text(encoding="utf-8"))
    dirs = [REPO / d for d in CRATE_DIRS]
    for member in manifest.get("workspace", {}).get("members", []):
        if os.path.normpath(member) == ".":  # the root package: CRATE_FILES and CRATE_DIRS
            continue
        found = sorted(p for p in REPO.glob(os.path.normpath(member)) if p.is_dir())  # members may be globs
        if not found:
            raise SetupError(f"tokenclient: the workspace member {member!r} of Cargo.toml is not there")
        dirs.extend(found)
    dest.mkdir(parents=True)
    for name in CRATE_FILES:
        shutil.copy2(REPO / name, dest / name)
    for d in dirs:
        shutil.copytree(d, dest / d.relative_to(REPO), ignore=shutil.ignore_patterns("target", "*.rs.bk"))


class BuildWithLibrary(build_py):
    def run(self) -> None:
        super().run()
        target = pathlib.Path(self.build_lib) / "tokenclient" / "libtokenclient.so"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(bundled_library(), target)


class NativeDistribution(Distribution):
    """Has native code (the library), so it installs into platlib and its wheel is not pure."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):
    """Native code, no CPython ABI: py3-none-<platform>."""

    def get_tag(self) -> tuple[str, str, str]:
        return "py3", "none", super().get_tag()[2]


class SdistWithCrate(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        # tests/ runs against the repository (its server, its builds), not from an sdist.
        files = [f for f in files if not f.startswith("tests" + os.sep)]
        super().make_release_tree(base_dir, files)
        stage_crate(pathlib.Path(base_dir) / "rust")


setup(
    distclass=NativeDistribution,
    version=crate_version(),
    cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel, "sdist": SdistWithCrate},
)
