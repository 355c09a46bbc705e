"""The binding's ctypes declarations and constants agree with
include/tokenclient.h, read from the header's text."""

import ast
import ctypes
import pathlib
import re

import tokenclient
from tokenclient import _client, _errors, _ffi

REPO = pathlib.Path(__file__).resolve().parents[3]
HEADER = REPO / "include" / "tokenclient.h"
PREFIX = "TOKENCLIENT_"

# C type (as written in the header) -> the ctypes types that may stand for it.
C_TO_CTYPES = {
    "void": {None},
    "const char *": {ctypes.c_char_p},
    "char *": {ctypes.c_void_p},
    "char **": {ctypes.POINTER(ctypes.c_void_p)},
    "const char *const *": {ctypes.POINTER(ctypes.c_char_p)},
    "uint32_t": {ctypes.c_uint32},
    "int32_t": {ctypes.c_int32},
    # An int32_t the function writes (tokenclient_client_dpop_answer's retry flag).
    "int32_t *": {ctypes.POINTER(ctypes.c_int32)},
    "size_t": {ctypes.c_size_t},
    "int": {ctypes.c_int},
    "int64_t": {ctypes.c_int64},
    "tokenclient_error_kind": {ctypes.c_int, ctypes.c_uint32},
    "tokenclient_auth_method": {ctypes.c_uint32},
    "tokenclient_talkdesk_region": {ctypes.c_uint32},
    "tokenclient_token_callback": {_ffi.TOKEN_CALLBACK},
    "tokenclient_log_level": {ctypes.c_uint32},
    "tokenclient_log_callback": {_ffi.LOG_CALLBACK},
    # An external signer's callback and the function that frees its user data.
    "tokenclient_sign_fn": {_ffi.SIGN_FN},
    "tokenclient_free_fn": {_ffi.FREE_FN},
    # The buffers a signer reads and writes, as plain pointers (ctypes.string_at, ctypes.memmove).
    "const uint8_t *": {ctypes.c_void_p},
    "uint8_t *": {ctypes.c_void_p},
    "size_t *": {ctypes.POINTER(ctypes.c_size_t)},
    "void *": {ctypes.c_void_p},
    # The callbacks of a store of the caller's, declared as an opaque pointer.
    "const tokenclient_store_callbacks *": {ctypes.c_void_p},
    # Call options: a struct passed by pointer (NULL for the defaults).
    "const tokenclient_call_options *": {ctypes.POINTER(_ffi.CallOptions)},
    # The cancel handle, and the out-parameter that receives a new one.
    "tokenclient_cancel *": {ctypes.c_void_p},
    "tokenclient_cancel **": {ctypes.POINTER(ctypes.c_void_p)},
    # A client made from an issuer is written to an out-parameter.
    "tokenclient_client **": {ctypes.POINTER(ctypes.c_void_p)},
    # OpenID Connect's objects: an authorization request and a device
    # authorization, as opaque pointers, and the out-parameters that receive
    # new ones.
    "tokenclient_authorization *": {ctypes.c_void_p},
    "const tokenclient_authorization *": {ctypes.c_void_p},
    "tokenclient_authorization **": {ctypes.POINTER(ctypes.c_void_p)},
    "const tokenclient_device *": {ctypes.c_void_p},
    "tokenclient_device *": {ctypes.c_void_p},
    "tokenclient_device **": {ctypes.POINTER(ctypes.c_void_p)},
    # The token an authorization or a device poll writes.
    "tokenclient_token **": {ctypes.POINTER(ctypes.c_void_p)},
}

# C field type -> the ctypes type of a struct member.
C_FIELD_TO_CTYPES = {
    "uint32_t": ctypes.c_uint32,
    "tokenclient_cancel *": ctypes.c_void_p,
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


#: The binding's function pointer types, by the header's typedef names.
CALLBACKS = {
    "tokenclient_token_callback": _ffi.TOKEN_CALLBACK,
    "tokenclient_log_callback": _ffi.LOG_CALLBACK,
    "tokenclient_sign_fn": _ffi.SIGN_FN,
    "tokenclient_free_fn": _ffi.FREE_FN,
}


def header_callbacks():
    """name -> (return type, [parameter types]) of every function pointer typedef of the header."""
    out = {}
    for m in re.finditer(r"^typedef ([\w ]+?\*?)\s*\(\*(tokenclient_\w+)\)\(([^)]*)\);", HEADER.read_text(), re.M):
        args = m.group(3).strip()
        params = [] if args in ("", "void") else [re.sub(r"\s*\b\w+$", "", a.strip()) for a in args.split(",")]
        out[m.group(2)] = (m.group(1).strip(), params)
    return out


def test_every_callback_type_matches_the_header():
    """The CFUNCTYPEs have the return and parameter types of the header's
    typedefs (a wrong one would pass ctypes' checks and corrupt the stack)."""
    callbacks = header_callbacks()
    assert set(callbacks) == set(CALLBACKS)
    for name, (ret, params) in callbacks.items():
        fn = CALLBACKS[name]
        assert fn._restype_ in c_to_ctypes(ret), (name, ret)
        assert len(fn._argtypes_) == len(params), name
        for i, (a, p) in enumerate(zip(fn._argtypes_, params)):
            assert a in c_to_ctypes(p), f"{name} argument {i}: {a} does not fit {p!r}"


def header_struct(name):
    """[(field name, C type)] of `typedef struct { ... } name;` in the header."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", HEADER.read_text(), flags=re.S)
    m = re.search(r"typedef struct\s*\{([^}]*)\}\s*" + name + r"\s*;", text)
    assert m, f"no struct {name} in the header"
    fields = []
    for decl in filter(None, (d.strip() for d in m.group(1).split(";"))):
        f = re.fullmatch(r"(.+?)\s*\b(\w+)", " ".join(decl.split()))
        assert f, decl
        fields.append((f.group(2), f.group(1).strip()))
    return fields


def test_call_options_struct_matches_the_header():
    """_ffi.CallOptions has the fields of tokenclient_call_options, in order,
    with their C types, so that `struct_size = sizeof` is what C compiled."""
    fields = header_struct("tokenclient_call_options")
    assert [n for n, _ in fields] == ["struct_size", "deadline_ms", "cancel"]
    assert [(n, C_FIELD_TO_CTYPES[t]) for n, t in fields] == list(_ffi.CallOptions._fields_)
    # Two uint32_t and a pointer: the pointer is aligned after them.
    assert ctypes.sizeof(_ffi.CallOptions) == 8 + ctypes.sizeof(ctypes.c_void_p)


def test_the_binding_uses_every_function_of_the_header():
    missing = set(header_functions()) - set(_ffi.SIGNATURES)
    assert not missing, f"functions of the header the binding does not declare: {sorted(missing)}"


# ------------------------------------------------------------- constants


def header_constants():
    """name -> value of every integer #define and every enumerator of the header."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", HEADER.read_text(), flags=re.S)
    found = re.findall(r"^[ \t]*#[ \t]*define[ \t]+(TOKENCLIENT_\w+)[ \t]+(.+?)[ \t]*$", text, re.M)
    for body in re.findall(r"\benum\b[^{;]*\{(.*?)\}", text, re.S):
        for item in filter(None, (i.strip() for i in body.split(","))):
            m = re.fullmatch(r"(TOKENCLIENT_\w+)\s*=\s*(\S+)", item)
            assert m, f"an enumerator of the header without an explicit value: {item!r}"
            found.append(m.groups())
    out = {}
    for name, value in found:
        assert name not in out, f"{name} is defined twice in the header"
        out[name] = int(value, 0)  # a value that is not an integer literal fails here
    return out


def header_family(family):
    """The header's TOKENCLIENT_<family>_* constants, named without that prefix."""
    start = f"{PREFIX}{family}_"
    return {n[len(start):]: v for n, v in header_constants().items() if n.startswith(start)}


def test_header_constants_are_parsed():
    families = {name[len(PREFIX):].split("_")[0] for name in header_constants()}
    assert families >= {"VERSION", "ERROR", "AUTH", "TALKDESK"}, families


def test_every_constant_matches_the_header():
    """_ffi defines each constant of the header, under its name without the
    TOKENCLIENT_ prefix and with its value, and no other."""
    binding = {PREFIX + n: v for n, v in vars(_ffi).items()
               if not n.startswith("_") and n.isupper() and type(v) is int}
    assert binding == header_constants()


def test_python_enums_use_the_header_values():
    assert {m.name: m.value for m in tokenclient.AuthMethod} == header_family("AUTH")
    assert _client._TALKDESK_REGIONS == {n.lower(): v for n, v in header_family("TALKDESK").items()}
    # Every error kind has its own exception class (OAuth errors are built
    # apart, with their extra fields).
    kinds = header_family("ERROR")
    assert set(_errors._BY_KIND) | {kinds["OAUTH"]} == set(kinds.values())
    assert kinds["OAUTH"] not in _errors._BY_KIND
    assert len(set(_errors._BY_KIND.values())) == len(_errors._BY_KIND)


def test_the_loaded_library_is_the_headers_version():
    v = header_family("VERSION")
    assert tokenclient.version() == f"{v['MAJOR']}.{v['MINOR']}.{v['PATCH']}"


def _is_int(node):
    return isinstance(node, ast.Constant) and type(node.value) is int


def int_literal_names(path):
    """(name, line) for every name bound to an integer literal in the file:
    assignments (module, class or function level), str keys of dict
    displays and keyword arguments."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and _is_int(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            yield from ((t.id, node.lineno) for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Dict):
            yield from ((k.value, k.lineno) for k, v in zip(node.keys, node.values)
                        if isinstance(k, ast.Constant) and isinstance(k.value, str) and _is_int(v))
        elif isinstance(node, ast.keyword) and node.arg and _is_int(node.value):
            yield node.arg, node.value.lineno


def test_each_constant_is_written_once_in_ffi():
    """A header value is written as a number in one place, _ffi.py; the
    package (AuthMethod, the Talkdesk regions, the error classes) and the
    tests refer to it. A name bound to a number anywhere else whose name
    ends a header constant's (NONE, us, ERROR_KEY, ...) is a second
    definition."""
    header = header_constants()
    places = {name: [] for name in header}
    package = REPO / "bindings" / "python"
    for path in sorted(package.glob("tokenclient/*.py")) + sorted(package.glob("tests/*.py")):
        for name, line in int_literal_names(path):
            for constant in header:
                if constant.endswith("_" + name.upper()):
                    places[constant].append(f"{path.relative_to(package)}:{line}")
    wrong = {c: p for c, p in places.items()
             if len(p) != 1 or not p[0].startswith("tokenclient/_ffi.py:")}
    assert not wrong, f"header constants not written exactly once, in tokenclient/_ffi.py: {wrong}"
