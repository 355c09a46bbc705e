"""Bundles libtokenclient.so into the package at build time.

The library is taken from $TOKENCLIENT_LIBRARY, else from the repository's
target/release/ (run `make` first). Without either, the package is built
without it and finds the library at import time (see tokenclient/_ffi.py).
"""

import os
import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent


def built_library():
    explicit = os.environ.get("TOKENCLIENT_LIBRARY")
    candidates = [pathlib.Path(explicit)] if explicit else []
    candidates.append(HERE.parent.parent / "target" / "release" / "libtokenclient.so")
    return next((p for p in candidates if p.is_file()), None)


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        lib = built_library()
        if lib is not None:
            target = pathlib.Path(self.build_lib) / "tokenclient" / "libtokenclient.so"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(lib, target)


setup(cmdclass={"build_py": BuildWithLibrary})
