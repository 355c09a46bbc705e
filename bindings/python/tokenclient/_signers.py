"""External signers (`Client.set_signer`, `Client.set_dpop_signer`): a key
the library never sees signs the client assertions or the DPoP proofs,
through a Python callable `(signing input: bytes) -> signature: bytes`, or
a private key object of the `cryptography` package (which may itself be
backed by an HSM or a KMS).

Lifetimes. One pair of C trampolines serves every signer of every client
(`SIGN`, `FREE`): module globals, as `_events.FORWARDER` is, and never
freed at all (one reference is leaked on purpose), since a request of the
library's may still call them while the interpreter tears its modules
down. The C user data is not a pointer to a Python object but a number,
the signer's key in `_LIVE`, which is what keeps the callable (and what it
holds) alive: `FREE`, which the library calls once no request can use the
signer any more (it was replaced, or the client freed; possibly on another
thread), drops it. A number no longer there fails the signature, as a
KEY error; it is never a dangling pointer. While the interpreter is
finalizing, `SIGN` refuses and `FREE` leaves the entry (it goes with the
interpreter): no user code runs then.

Exit. A thread that runs Python code inside the library's frames (a
signer, called by a daemon thread's request or by one of the library's
threads) when the interpreter finalizes is ended by CPython (up to 3.13)
with pthread_exit, whose unwinding through those frames aborts the
process. So from atexit on (the threads that are not daemons have ended
by then), only the main thread starts signatures: a daemon thread that
comes to sign waits in `SIGN` for good, without the GIL, as daemon threads
are left at exit; one of the library's (a request of a `get_token` with a
timeout or a cancel handle, as every AsyncClient call has) is refused at
once (parked, it would hold up the client's free, which waits for such
requests); and the exit waits (up to `_EXIT_WAIT`) for the signatures
under way. What this cannot help: one of the library's threads that comes
into Python (to sign, e.g. for a retry; or the events' and `on_token`'s
callbacks, which are not guarded at all) after atexit, once the
interpreter finalizes.

What C does is C's: the signature's length for the algorithm, DER ECDSA
signatures converted to `r || s`, the callback's message in the KEY
error, the deadline checked when the callback returns.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib
import itertools
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import _ffi
from ._errors import KeyFormatError

#: What a signer returns: the signature.
Signature = Union[bytes, bytearray, memoryview]
#: A signer: the exact JWS signing input (`header.payload`) in, its signature out.
SignFunction = Callable[[bytes], Signature]

#: The signers the library holds, by the number given to C as user data.
_LIVE: Dict[int, SignFunction] = {}
#: The next numbers (from 1: 0 would be NULL). `next` is atomic under the GIL.
_NUMBERS = itertools.count(1)

#: Set once the interpreter starts exiting (atexit: the threads that are
#: not daemons have ended), for `_sign`.
_EXITING: List[bool] = [False]
#: One item per thread running a signer now (list appends and pops are
#: atomic under the GIL).
_INSIDE: List[None] = []
#: Never released: what the daemon threads that would sign after that wait on.
_PARKED = threading.Lock()
_PARKED.acquire()
#: How long the exit waits for the signatures under way.
_EXIT_WAIT = 2.0


def _exit() -> None:
    """At exit: no thread but the main one starts a signature any more,
    and those under way (on daemon threads or the library's) are given
    `_EXIT_WAIT` seconds to end, before the interpreter finalizes (see
    `_sign`)."""
    _EXITING[0] = True
    deadline = time.monotonic() + _EXIT_WAIT
    while time.monotonic() < deadline:
        if not _INSIDE:
            time.sleep(0.01)  # and for the last one to leave the callback
            if not _INSIDE:
                return
        time.sleep(0.001)


atexit.register(_exit)


def _message(error: BaseException, buffer: Optional[int], capacity: int) -> None:
    """Writes the exception's type and text, NUL-terminated and cut to
    `capacity` bytes (on a character boundary), to C's message buffer."""
    if not buffer or capacity <= 0:
        return
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    data = text.encode("utf-8", "replace")[:capacity - 1].decode("utf-8", "ignore").encode("utf-8")
    ctypes.memmove(buffer, data + b"\0", len(data) + 1)


def _sign(user_data: Optional[int], data: Optional[int], data_len: int, out_sig: Optional[int], out_cap: int,
          out_len: Any, err_msg: Optional[int], err_cap: int,
          _live: Dict[int, SignFunction] = _LIVE, _finalizing: Callable[[], bool] = sys.is_finalizing,
          _exiting: List[bool] = _EXITING, _inside: List[None] = _INSIDE, _parked: Any = _PARKED,
          _main: Callable[[], threading.Thread] = threading.main_thread,
          _ident: Callable[[], int] = threading.get_ident,
          _frame: Callable[[int], Any] = sys._getframe) -> int:
    """The sign callback: 0 with the signature written, or 1 with the
    exception's type and text as the message. Nothing may unwind into C.
    (Its globals are bound as defaults: they outlive a module teardown.)

    From atexit on, a daemon thread waits here for good and one of the
    library's is refused (see the module's doc: Exit)."""
    try:
        _inside.append(None)
        if _exiting[0] and _ident() != _main().ident:  # the main one exits the interpreter, and may sign
            _inside.pop()
            try:
                _frame(1)  # the Python call into the library; one of the library's threads has none
            except ValueError:
                _message(RuntimeError("the Python interpreter is exiting"), err_msg, err_cap)
                return 1
            _parked.acquire()  # for good
        try:
            return _signature(user_data, data, data_len, out_sig, out_cap, out_len, err_msg, err_cap, _live,
                              _finalizing)
        finally:
            _inside.pop()
    except BaseException:  # noqa: BLE001 - nothing may unwind into C
        return 1


def _signature(user_data: Optional[int], data: Optional[int], data_len: int, out_sig: Optional[int], out_cap: int,
               out_len: Any, err_msg: Optional[int], err_cap: int, _live: Dict[int, SignFunction],
               _finalizing: Callable[[], bool]) -> int:
    """`_sign`'s work: the signer called, its signature written."""
    try:
        try:
            if _finalizing():
                raise RuntimeError("the Python interpreter is shutting down")
            signer = _live.get(user_data or 0)
            if signer is None:
                raise RuntimeError("the signer was released")
            if not out_sig or not out_len:
                raise ValueError("the library gave no room for the signature")
            signature = signer(ctypes.string_at(data, data_len) if data else b"")
            if not isinstance(signature, (bytes, bytearray, memoryview)):
                raise TypeError(f"the signer returned {type(signature).__name__}, not bytes")
            raw = bytes(signature)
            if len(raw) > out_cap:
                raise ValueError(f"the signature is {len(raw)} bytes, more than the {out_cap} the library has room for")
            ctypes.memmove(out_sig, raw, len(raw))
            out_len[0] = len(raw)
            return 0
        except BaseException as e:  # noqa: BLE001 - it becomes the KEY error's message
            _message(e, err_msg, err_cap)
            return 1
    except BaseException:  # noqa: BLE001 - nothing may unwind into C
        return 1


def _free(user_data: Optional[int], _live: Dict[int, SignFunction] = _LIVE,
          _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
    """The free callback: the library will not call the signer again."""
    try:
        if not _finalizing():
            _live.pop(user_data or 0, None)
    except BaseException:  # noqa: BLE001,S110 - nothing may unwind into C
        pass


#: The C trampolines of every signer: never freed (see the module's doc).
SIGN = _ffi.SIGN_FN(_sign)
FREE = _ffi.FREE_FN(_free)
for _trampoline in (SIGN, FREE):
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(_trampoline))


def register(sign: SignFunction) -> int:
    """Keeps `sign` alive for the library; returns its user data."""
    number = next(_NUMBERS)
    _LIVE[number] = sign
    return number


def unregister(number: int) -> None:
    """Drops a signer the library did not take (its setter failed)."""
    _LIVE.pop(number, None)


def live() -> int:
    """How many signers the library holds (for the tests)."""
    return len(_LIVE)


# -- private keys of the cryptography package ----------------------------------

#: (JOSE's name, the algorithm) of each curve, by its name in `cryptography`.
_CURVES = {"secp256r1": ("P-256", "ES256"), "secp384r1": ("P-384", "ES384"), "secp521r1": ("P-521", "ES512")}
#: The asymmetric algorithms of the library: HMAC and unknown names are C's to refuse.
_ASYMMETRIC = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA")


def _module(name: str) -> Any:
    return importlib.import_module(name)


def _hash(alg: str) -> Any:
    """The hash object of an ES/RS/PS algorithm (SHA-256 for ES256, ...)."""
    hashes = _module("cryptography.hazmat.primitives.hashes")
    return {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[alg[2:]]()


def _key_kind(key: Any) -> Optional[Tuple[str, Tuple[str, ...], str]]:
    """(the kind named in errors, the algorithms the key signs, its default)
    for a private key object of `cryptography`; None for anything else."""
    try:
        ec = _module("cryptography.hazmat.primitives.asymmetric.ec")
        rsa = _module("cryptography.hazmat.primitives.asymmetric.rsa")
        ed25519 = _module("cryptography.hazmat.primitives.asymmetric.ed25519")
    except ImportError:
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curve = _CURVES.get(key.curve.name)
        if curve is None:
            raise KeyFormatError(f"the EC curve {key.curve.name} is not one of P-256, P-384 and P-521",
                                 _ffi.ERROR_KEY)
        return f"EC {curve[0]}", (curve[1],), curve[1]
    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA-{key.key_size}", tuple(a for a in _ASYMMETRIC if a[:2] in ("RS", "PS")), "RS256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "Ed25519", ("EdDSA",), "EdDSA"
    if hasattr(key, "sign") and hasattr(key, "public_key"):  # another private key (Ed448, DSA, ...)
        raise KeyFormatError(f"{type(key).__name__}: no algorithm of the library signs with it; give an EC "
                             "(P-256, P-384, P-521), RSA or Ed25519 key", _ffi.ERROR_KEY)
    return None


def _key_signer(key: Any, alg: str) -> SignFunction:
    """Signs with `key` as `alg` says: ECDSA with its hash (DER, which C
    converts), RSASSA-PKCS1-v1_5 for RS*, RSASSA-PSS with MGF1 of the same
    hash and a salt as long as the digest for PS*, Ed25519."""
    if alg == "EdDSA":
        return lambda data: key.sign(data)
    if alg not in _ASYMMETRIC:  # C refuses the algorithm before any signature
        def refuse(_data: bytes) -> bytes:
            raise ValueError(f"no signature for {alg}")

        return refuse
    digest = _hash(alg)
    if alg.startswith("ES"):
        ecdsa = _module("cryptography.hazmat.primitives.asymmetric.ec").ECDSA(digest)
        return lambda data: key.sign(data, ecdsa)
    padding = _module("cryptography.hazmat.primitives.asymmetric.padding")
    pad = (padding.PKCS1v15() if alg.startswith("RS")
           else padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size))
    return lambda data: key.sign(data, pad, digest)


def public_pem(key: Any) -> str:
    """The public key of a `cryptography` private or public key object, as
    PEM SubjectPublicKeyInfo."""
    serialization = _module("cryptography.hazmat.primitives.serialization")
    public = key.public_key() if hasattr(key, "public_key") else key
    pem: bytes = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


def signer(sign: Any, alg: Optional[str]) -> Tuple[SignFunction, Optional[str], bool]:
    """(the function C's callback calls, the algorithm, whether `sign` is a
    key object) for what `set_signer` or `set_dpop_signer` was given: a
    callable as it is (with its `alg`, which the caller requires), or a
    private key object of `cryptography`, whose `alg`
    defaults to its own (P-256 ES256, P-384 ES384, P-521 ES512, RSA RS256,
    Ed25519 EdDSA) and must fit it."""
    if callable(sign):
        return sign, alg, False
    kind = _key_kind(sign)
    if kind is None:
        raise TypeError("sign must be a callable (bytes -> bytes) or a private key object of the cryptography "
                        f"package, not {type(sign).__name__}")
    name, fits, default = kind
    if alg is None:
        alg = default
    elif isinstance(alg, str) and alg in _ASYMMETRIC and alg not in fits:
        raise KeyFormatError(f"algorithm {alg} does not fit the key ({name})", _ffi.ERROR_KEY)
    return _key_signer(sign, alg), alg, True
