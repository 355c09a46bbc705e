"""The lifetime of an object that owns one C handle, shared by Client,
Cancel, Authorization and DeviceAuthorization."""

from __future__ import annotations

import threading
from typing import Callable, ClassVar, NoReturn, Optional, TypeVar

from . import _ffi
from ._errors import InvalidArgumentError

T = TypeVar("T")


class _Owned:
    """Owns one C handle: calls run with it (`_call`, or `_acquire` and
    `_release`) while `close()` (or the finalizer) frees it only once none
    runs. Functions taking a mutable pointer run with no other call on the
    handle (`_exclusive`). The handle is freed outside the lock: a free may
    wait for the library's own threads, whose callbacks may need it."""

    __slots__ = ("_lock", "_handle", "_busy", "_closing", "__weakref__")

    #: What the handle is, for "... is closed".
    _WHAT: ClassVar[str] = "the object"

    def _own(self, handle: Optional[int], reentrant: bool = False) -> None:
        """Starts owning `handle` (None: not yet; set `_handle` later).
        `reentrant`: the lock may be taken again by its holder (e.g. from a
        signal handler of the thread that holds it)."""
        self._lock = threading.Condition(threading.RLock() if reentrant else threading.Lock())
        self._handle: Optional[int] = handle
        self._busy = 0
        self._closing = False

    @staticmethod
    def _free(handle: int) -> None:
        raise NotImplementedError

    def _acquire(self) -> int:
        """The handle, which cannot be freed until `_release()`."""
        with self._lock:
            if self._handle is None or self._closing:
                raise InvalidArgumentError(f"{self._WHAT} is closed", _ffi.ERROR_INVALID_ARGUMENT)
            self._busy += 1
            return self._handle

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1
            if self._busy == 0:
                self._lock.notify_all()
            handle = self._take_if_done()
        if handle is not None:
            self._free(handle)

    def _call(self, fn: Callable[[int], T]) -> T:
        """Runs `fn(handle)`; the handle cannot be freed while it runs."""
        handle = self._acquire()
        try:
            return fn(handle)
        finally:
            self._release()

    def _exclusive(self, fn: Callable[[int], T]) -> T:
        """Runs `fn(handle)` once no other call uses the handle, and before
        any other starts (for the C functions taking a mutable pointer)."""
        with self._lock:
            self._lock.wait_for(lambda: self._busy == 0 or self._closing)
            if self._handle is None or self._closing:
                raise InvalidArgumentError(f"{self._WHAT} is closed", _ffi.ERROR_INVALID_ARGUMENT)
            return fn(self._handle)

    def _take_if_done(self) -> Optional[int]:
        """The handle, taken, once closing and no call uses it (under the lock)."""
        if self._closing and self._busy == 0 and self._handle is not None:
            handle, self._handle = self._handle, None
            return handle
        return None

    def close(self) -> None:
        """Frees the C object, wiping its secrets (once the calls running
        with it have ended). Idempotent."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            self._closing = True
            lock.notify_all()
            handle = self._take_if_done()
        if handle is not None:
            self._free(handle)

    @property
    def closed(self) -> bool:
        return self._closing

    def __del__(self) -> None:
        self.close()

    def __reduce__(self) -> NoReturn:
        # A copy would share the C object and free it twice.
        raise TypeError(f"a {type(self).__name__} cannot be copied or pickled")
