"""The binding's ctypes declarations agree with include/tokenclient.h."""

import ctypes
import pathlib
import re

from tokenclient import _ffi

HEADER = pathlib.Path(__file__).resolve().parents[3] / "include" / "tokenclient.h"

# C type (as written in the header) -> the ctypes types that may stand for it.
C_TO_CTYPES = {
    "void": {None},
    "const char *": {ctypes.c_char_p},
    "char *": {ctypes.c_void_p},
    "char **": {ctypes.POINTER(ctypes.c_void_p)},
    "const char *const *": {ctypes.POINTER(ctypes.c_char_p)},
    "uint32_t": {ctypes.c_uint32},
    "size_t": {ctypes.c_size_t},
    "int": {ctypes.c_int},
    "int64_t": {ctypes.c_int64},
    "tokenclient_error_kind": {ctypes.c_int, ctypes.c_uint32},
    "tokenclient_auth_method": {ctypes.c_uint32},
    "tokenclient_talkdesk_region": {ctypes.c_uint32},
    "tokenclient_token_callback": {_ffi.TOKEN_CALLBACK},
    "void *": {ctypes.c_void_p},
}


def c_to_ctypes(ctype: str):
    ctype = " ".join(ctype.split())
    if ctype in C_TO_CTYPES:
        return C_TO_CTYPES[ctype]
    if re.fullmatch(r"(const )?tokenclient_\w+ \*", ctype):  # a handle
        return {ctypes.c_void_p}
    if re.fullmatch(r"tokenclient_\w+ \*\*", ctype):  # an out-parameter for a handle
        return {ctypes.POINTER(ctypes.c_void_p)}
    raise AssertionError(f"no ctypes mapping for {ctype!r}")


def header_functions():
    text = HEADER.read_text()
    out = {}
    for m in re.finditer(r"^([\w ]+?\*?)\s*(tokenclient_\w+)\(([^)]*)\);", text, re.M):
        ret, name, args = m.group(1).strip(), m.group(2), m.group(3).strip()
        params = [] if args in ("", "void") else [re.sub(r"\s*\b\w+$", "", a.strip()) for a in args.split(",")]
        out[name] = (ret, params)
    return out


def test_every_declaration_matches_the_header():
    functions = header_functions()
    assert len(functions) >= 40
    for name, (restype, argtypes) in _ffi.SIGNATURES.items():
        assert name in functions, f"{name} is declared in the binding but not in the header"
        ret, params = functions[name]
        assert restype in c_to_ctypes(ret) or (ret.endswith("*") and restype is ctypes.c_void_p), (name, ret)
        assert len(argtypes) == len(params), f"{name}: {len(argtypes)} arguments, the header has {len(params)}"
        for i, (a, p) in enumerate(zip(argtypes, params)):
            assert a in c_to_ctypes(p), f"{name} argument {i}: {a} does not fit {p!r}"


def test_the_binding_uses_every_function_of_the_header():
    missing = set(header_functions()) - set(_ffi.SIGNATURES)
    assert not missing, f"functions of the header the binding does not declare: {sorted(missing)}"
