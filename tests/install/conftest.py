"""Shared by the install tests: moving the build tree out of the way while an
installed program runs, so that it cannot find anything there."""

import contextlib
import os
import pathlib

import pytest

RELEASE = pathlib.Path(__file__).resolve().parents[2] / "target" / "release"
MOVED_PREFIX = "release.moved-by-tests-install-"


def restore_moved_release() -> None:
    """Puts back a target/release that a killed run left moved away."""
    if not RELEASE.exists():
        for moved in sorted(RELEASE.parent.glob(MOVED_PREFIX + "*")):
            moved.rename(RELEASE)
            break


restore_moved_release()


@pytest.fixture
def release_moved_away():
    """A context manager: target/release renamed for the duration of the
    `with` block (the caller runs only the installed program inside it), and
    renamed back whatever happens, or at the next run if this one is killed."""

    @contextlib.contextmanager
    def moved():
        assert RELEASE.is_dir(), "make build makes target/release"
        away = RELEASE.with_name(f"{MOVED_PREFIX}{os.getpid()}")
        RELEASE.rename(away)
        try:
            yield
        finally:
            away.rename(RELEASE)

    return moved
