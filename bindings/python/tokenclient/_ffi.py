"""Loads libtokenclient and declares every C function and constant of its
header (include/tokenclient.h). The tests drive the raw C ABI through it too.

Where the library is looked for, in order:
1. the path in the TOKENCLIENT_LIBRARY environment variable (always wins);
2. libtokenclient.so bundled inside this package when it was built;
3. the system's library path (ctypes.util.find_library("tokenclient")).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pathlib
from ctypes import POINTER, c_char_p, c_int, c_int32, c_int64, c_size_t, c_uint32, c_void_p

_HERE = pathlib.Path(__file__).resolve().parent


def _load() -> ctypes.CDLL:
    tried = []
    explicit = os.environ.get("TOKENCLIENT_LIBRARY")
    if explicit:
        candidates = [explicit]
    else:
        candidates = [str(_HERE / "libtokenclient.so")]
        found = ctypes.util.find_library("tokenclient")
        candidates.append(found or "libtokenclient.so (system library path)")
    for path in candidates:
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(str(e) if path in str(e) else f"{path}: {e}")
    where = "; ".join(tried)
    raise ImportError(
        "tokenclient: cannot load libtokenclient. Looked in: "
        + where
        + ". Build it with `make` and set TOKENCLIENT_LIBRARY, or reinstall the package after building."
    )


lib = _load()

#: void (*)(void *user_data, const tokenclient_token *token)
TOKEN_CALLBACK = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)
#: void (*)(void *user_data, const tokenclient_event *event)
LOG_CALLBACK = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)
#: int (*)(void *user_data, const uint8_t *input, size_t input_len, uint8_t *out_sig,
#:         size_t out_cap, size_t *out_len, char *err_msg, size_t err_cap)
#: (the buffers as plain pointers: read with ctypes.string_at, written with ctypes.memmove)
SIGN_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_void_p, c_size_t, POINTER(c_size_t), c_void_p,
                           c_size_t)
#: void (*)(void *user_data)
FREE_FN = ctypes.CFUNCTYPE(None, c_void_p)


class CallOptions(ctypes.Structure):
    """`tokenclient_call_options`: one call's deadline and cancel handle."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("deadline_ms", c_uint32),
        ("cancel", c_void_p),  # tokenclient_cancel *
    ]


#: `const tokenclient_call_options *` (None passes NULL: the defaults).
_OPTIONS = POINTER(CallOptions)

# Opaque handles and owned strings are plain pointers; borrowed strings
# (`const char *` owned by an object) are read with c_char_p.
_ERR = c_void_p
_OUT = POINTER(c_void_p)

#: name -> (restype, argtypes). tests/test_ffi_declarations.py checks it against the header.
SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "tokenclient_version": (c_char_p, []),
    "tokenclient_string_free": (None, [c_void_p]),
    "tokenclient_error_get_kind": (c_int, [c_void_p]),
    "tokenclient_error_message": (c_char_p, [c_void_p]),
    "tokenclient_error_http_status": (c_int, [c_void_p]),
    "tokenclient_error_oauth_code": (c_char_p, [c_void_p]),
    "tokenclient_error_oauth_description": (c_char_p, [c_void_p]),
    "tokenclient_error_oauth_uri": (c_char_p, [c_void_p]),
    "tokenclient_error_free": (None, [c_void_p]),
    "tokenclient_cancel_new": (_ERR, [_OUT]),
    "tokenclient_cancel_cancel": (None, [c_void_p]),
    "tokenclient_cancel_free": (None, [c_void_p]),
    "tokenclient_client_new": (_ERR, [c_char_p, c_char_p, _OUT]),
    "tokenclient_client_free": (None, [c_void_p]),
    "tokenclient_client_set_client_secret": (_ERR, [c_void_p, c_char_p, c_uint32]),
    "tokenclient_client_set_hmac_alg": (_ERR, [c_void_p, c_char_p]),
    "tokenclient_client_set_private_key": (_ERR, [c_void_p, c_char_p, c_char_p, c_char_p]),
    "tokenclient_client_set_public": (_ERR, [c_void_p]),
    "tokenclient_client_set_audience": (_ERR, [c_void_p, c_char_p]),
    "tokenclient_client_add_audience": (_ERR, [c_void_p, c_char_p]),
    "tokenclient_client_set_assertion_lifetime": (_ERR, [c_void_p, c_uint32]),
    "tokenclient_client_set_clock_skew": (_ERR, [c_void_p, c_uint32]),
    "tokenclient_client_set_timeout_ms": (_ERR, [c_void_p, c_uint32, c_uint32]),
    "tokenclient_client_set_ca_file": (_ERR, [c_void_p, c_char_p]),
    "tokenclient_client_set_client_cert": (_ERR, [c_void_p, c_char_p, c_char_p]),
    "tokenclient_client_set_proxy": (_ERR, [c_void_p, c_char_p]),
    "tokenclient_client_set_max_response_bytes": (_ERR, [c_void_p, c_size_t]),
    "tokenclient_client_add_header": (_ERR, [c_void_p, c_char_p, c_char_p]),
    "tokenclient_client_create_assertion": (_ERR, [c_void_p, _OUT]),
    "tokenclient_client_exchange_code": (_ERR, [c_void_p, c_char_p, c_char_p, c_char_p, _OUT]),
    "tokenclient_client_refresh": (_ERR, [c_void_p, c_char_p, c_char_p, _OUT]),
    "tokenclient_client_client_credentials": (_ERR, [c_void_p, c_char_p, _OUT]),
    "tokenclient_client_grant": (_ERR, [c_void_p, c_char_p, POINTER(c_char_p), _OUT]),
    "tokenclient_client_exchange_code_ex": (_ERR, [c_void_p, c_char_p, c_char_p, c_char_p, _OPTIONS, _OUT]),
    "tokenclient_client_refresh_ex": (_ERR, [c_void_p, c_char_p, c_char_p, _OPTIONS, _OUT]),
    "tokenclient_client_client_credentials_ex": (_ERR, [c_void_p, c_char_p, _OPTIONS, _OUT]),
    "tokenclient_client_grant_ex": (_ERR, [c_void_p, c_char_p, POINTER(c_char_p), _OPTIONS, _OUT]),
    "tokenclient_client_token_exchange": (_ERR, [c_void_p, c_char_p, c_char_p, POINTER(c_char_p), _OUT]),
    "tokenclient_client_token_exchange_ex": (_ERR, [c_void_p, c_char_p, c_char_p, POINTER(c_char_p), _OPTIONS,
                                                    _OUT]),
    "tokenclient_client_get_token": (_ERR, [c_void_p, c_char_p, _OUT]),
    "tokenclient_client_get_token_ex": (_ERR, [c_void_p, c_char_p, _OPTIONS, _OUT]),
    "tokenclient_client_set_refresh_token": (_ERR, [c_void_p, c_char_p]),
    "tokenclient_client_invalidate_token": (_ERR, [c_void_p, c_char_p]),
    "tokenclient_client_set_token_callback": (_ERR, [c_void_p, TOKEN_CALLBACK, c_void_p]),
    "tokenclient_client_set_retry_policy": (_ERR, [c_void_p, c_uint32, c_uint32, c_uint32]),
    "tokenclient_client_set_refresh_policy": (_ERR, [c_void_p, c_uint32, c_uint32]),
    "tokenclient_token_access_token": (c_char_p, [c_void_p]),
    "tokenclient_token_token_type": (c_char_p, [c_void_p]),
    "tokenclient_token_expires_in": (c_int64, [c_void_p]),
    "tokenclient_token_fresh_for_ms": (c_int64, [c_void_p]),
    "tokenclient_token_scope": (c_char_p, [c_void_p]),
    "tokenclient_token_refresh_token": (c_char_p, [c_void_p]),
    "tokenclient_token_id_token": (c_char_p, [c_void_p]),
    "tokenclient_token_get": (c_char_p, [c_void_p, c_char_p]),
    "tokenclient_token_json": (c_char_p, [c_void_p]),
    "tokenclient_token_free": (None, [c_void_p]),
    "tokenclient_client_set_log_callback": (_ERR, [c_void_p, c_uint32, LOG_CALLBACK, c_void_p]),
    "tokenclient_event_level": (c_uint32, [c_void_p]),
    "tokenclient_event_name": (c_char_p, [c_void_p]),
    "tokenclient_event_field": (c_char_p, [c_void_p, c_char_p]),
    "tokenclient_event_json": (c_char_p, [c_void_p]),
    "tokenclient_client_counters": (_ERR, [c_void_p, _OUT]),
    "tokenclient_talkdesk_token_url": (_ERR, [c_char_p, c_uint32, _OUT]),
    "tokenclient_pingone_token_url": (_ERR, [c_char_p, c_char_p, _OUT]),
    # OpenID Connect: a client made from an issuer, and what its metadata enables.
    "tokenclient_client_from_issuer": (_ERR, [c_char_p, c_char_p, _OUT]),
    "tokenclient_client_from_issuer_ex": (_ERR, [c_char_p, c_char_p, _OPTIONS, _OUT]),
    "tokenclient_client_metadata": (_ERR, [c_void_p, _OUT]),
    "tokenclient_client_metadata_ex": (_ERR, [c_void_p, _OPTIONS, _OUT]),
    "tokenclient_client_revoke": (_ERR, [c_void_p, c_char_p, c_char_p]),
    "tokenclient_client_revoke_ex": (_ERR, [c_void_p, c_char_p, c_char_p, _OPTIONS]),
    "tokenclient_client_introspect": (_ERR, [c_void_p, c_char_p, c_char_p, _OUT]),
    "tokenclient_client_introspect_ex": (_ERR, [c_void_p, c_char_p, c_char_p, _OPTIONS, _OUT]),
    "tokenclient_client_userinfo": (_ERR, [c_void_p, c_char_p, _OUT]),
    "tokenclient_client_userinfo_ex": (_ERR, [c_void_p, c_char_p, _OPTIONS, _OUT]),
    "tokenclient_client_validate_id_token": (_ERR, [c_void_p, c_char_p, c_char_p, _OUT]),
    "tokenclient_client_validate_id_token_ex": (_ERR, [c_void_p, c_char_p, c_char_p, _OPTIONS, _OUT]),
    "tokenclient_token_id_token_claims": (c_char_p, [c_void_p]),
    # tokenclient_authorization: one authorization code request.
    "tokenclient_authorization_new": (_ERR, [c_void_p, c_char_p, c_char_p, _OUT]),
    "tokenclient_authorization_set_param": (_ERR, [c_void_p, c_char_p, c_char_p]),
    "tokenclient_authorization_set_par": (_ERR, [c_void_p, c_int32]),
    "tokenclient_authorization_url": (_ERR, [c_void_p, _OUT]),
    "tokenclient_authorization_url_ex": (_ERR, [c_void_p, _OPTIONS, _OUT]),
    "tokenclient_authorization_export": (_ERR, [c_void_p, _OUT]),
    "tokenclient_authorization_import": (_ERR, [c_void_p, c_char_p, _OUT]),
    "tokenclient_authorization_finish": (_ERR, [c_void_p, c_char_p, _OUT]),
    "tokenclient_authorization_finish_ex": (_ERR, [c_void_p, c_char_p, _OPTIONS, _OUT]),
    "tokenclient_authorization_free": (None, [c_void_p]),
    # tokenclient_device: a started device authorization (RFC 8628).
    "tokenclient_client_device_authorize": (_ERR, [c_void_p, c_char_p, _OUT]),
    "tokenclient_client_device_authorize_ex": (_ERR, [c_void_p, c_char_p, _OPTIONS, _OUT]),
    "tokenclient_device_user_code": (c_char_p, [c_void_p]),
    "tokenclient_device_verification_uri": (c_char_p, [c_void_p]),
    "tokenclient_device_verification_uri_complete": (c_char_p, [c_void_p]),
    "tokenclient_device_expires_in": (c_int64, [c_void_p]),
    "tokenclient_client_device_poll": (_ERR, [c_void_p, c_void_p, _OUT]),
    "tokenclient_client_device_poll_ex": (_ERR, [c_void_p, c_void_p, _OPTIONS, _OUT]),
    "tokenclient_device_free": (None, [c_void_p]),
    # Sender-constrained tokens: mTLS client authentication (RFC 8705) and DPoP (RFC 9449).
    "tokenclient_client_set_tls_client_auth": (_ERR, [c_void_p, c_uint32]),
    "tokenclient_client_set_dpop_key": (_ERR, [c_void_p, c_char_p, c_char_p]),
    "tokenclient_client_set_dpop_allow_bearer": (_ERR, [c_void_p, c_int32]),
    "tokenclient_client_dpop_thumbprint": (_ERR, [c_void_p, _OUT]),
    "tokenclient_client_dpop_proof": (_ERR, [c_void_p, c_char_p, c_char_p, c_char_p, c_char_p, _OUT]),
    "tokenclient_client_dpop_answer": (_ERR, [c_void_p, c_char_p, c_uint32, c_char_p, c_char_p, POINTER(c_int32)]),
    "tokenclient_token_cnf": (c_char_p, [c_void_p]),
    "tokenclient_token_authorization": (c_char_p, [c_void_p]),
    # External signers: keys that never leave their vault (a KMS, an HSM; PKCS#11 URIs go through
    # set_private_key and set_dpop_key).
    "tokenclient_client_set_signer": (_ERR, [c_void_p, c_char_p, c_char_p, SIGN_FN, c_void_p, FREE_FN]),
    "tokenclient_client_set_dpop_signer": (_ERR, [c_void_p, c_char_p, c_char_p, SIGN_FN, c_void_p, FREE_FN]),
    "tokenclient_client_set_token_store": (_ERR, [c_void_p, c_char_p]),
    "tokenclient_client_set_token_store_key": (_ERR, [c_void_p, c_void_p, c_size_t]),
    # A store behind C callbacks is for C callers; declared, not wrapped.
    "tokenclient_client_set_token_store_callbacks": (_ERR, [c_void_p, c_void_p]),
}

for _name, (_restype, _argtypes) in SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes

# Every enum value and #define of the header, named without its TOKENCLIENT_
# prefix, and defined here only (the rest of the package refers to these);
# tests/test_ffi_declarations.py checks them against the header.

# The version of the header this binding was written against.
VERSION_MAJOR = 0
VERSION_MINOR = 1
VERSION_PATCH = 0

# tokenclient_error_kind
ERROR_INVALID_ARGUMENT = 1
ERROR_KEY = 2
ERROR_CONFIG = 3
ERROR_TRANSPORT = 4
ERROR_OAUTH = 5
ERROR_HTTP = 6
ERROR_RESPONSE = 7
ERROR_PANIC = 8
ERROR_CANCELLED = 9

# tokenclient_auth_method
AUTH_NONE = 0
AUTH_CLIENT_SECRET_BASIC = 1
AUTH_CLIENT_SECRET_POST = 2
AUTH_CLIENT_SECRET_JWT = 3
AUTH_PRIVATE_KEY_JWT = 4
AUTH_AUTO = 5
AUTH_TLS_CLIENT_AUTH = 6
AUTH_SELF_SIGNED_TLS_CLIENT_AUTH = 7

# tokenclient_talkdesk_region
TALKDESK_US = 0
TALKDESK_EU = 1
TALKDESK_CA = 2

# tokenclient_log_level
LOG_ERROR = 1
LOG_WARN = 2
LOG_INFO = 3
LOG_DEBUG = 4


def take_string(ptr: c_void_p) -> str:
    """Copies an owned `char *` into a Python str and frees it."""
    if not ptr.value:
        raise RuntimeError("tokenclient returned NULL where a string was promised")
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        lib.tokenclient_string_free(ptr)
