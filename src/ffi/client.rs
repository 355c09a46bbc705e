//! `tokenclient_client`: the client handle and its setters.

use std::ffi::c_char;

use libc::size_t;

use super::strings::into_owned_raw;
use super::{
    boundary, error::tokenclient_error, guard, opt_str_arg, out_arg, ref_arg, str_arg, write_out,
};
use crate::client::{AuthMethod, Client};
use crate::error::{Error, Result};
use crate::keys::Algorithm;

/// A client of one token endpoint. Opaque; create it with
/// `tokenclient_client_new` and free it with `tokenclient_client_free`.
///
/// Thread safety: functions taking `const tokenclient_client *` may run
/// concurrently on one handle from any number of threads; setters (taking
/// `tokenclient_client *`) may also run while they do: each request uses the
/// settings as they were when it started. Only `tokenclient_client_free`
/// must not race with any other use.
///
/// fork(): a client may be used in both processes after a fork. The child
/// starts with no connection of its own and opens new ones; it never reads,
/// writes or closes the parent's (no TLS close_notify is sent from it), and
/// the parent keeps its pooled connections. The child starts with the
/// tokens the parent had cached, its own random state for assertion `jti`s,
/// and none of the parent's requests in flight: a call in flight in another
/// thread at fork time completes in the parent only, and the child's
/// `get_token` makes its own request rather than wait for it. The child
/// keeps (unused) the descriptors of the parent's connections until it
/// exits. Both processes hold the same refresh token: if the server
/// rotates refresh tokens, only one of them can use it (a shared token
/// store is the remedy). Do not fork while another thread runs a setter of
/// the same client: the lock it holds for those few instructions would stay
/// held in the child.
pub struct tokenclient_client {
    pub(crate) inner: Client,
}

/// How the client authenticates at the token endpoint; pass one of the
/// `TOKENCLIENT_AUTH_*` values. (An integer type, so that an out-of-range
/// value from C is an error, not undefined behaviour.)
pub type tokenclient_auth_method = u32;
/// A public client: `client_id` in the request body, no secret.
pub const TOKENCLIENT_AUTH_NONE: tokenclient_auth_method = 0;
/// HTTP Basic with the form-urlencoded client id and secret (RFC 6749 §2.3.1).
pub const TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC: tokenclient_auth_method = 1;
/// `client_id` and `client_secret` in the request body.
pub const TOKENCLIENT_AUTH_CLIENT_SECRET_POST: tokenclient_auth_method = 2;
/// A client assertion signed with HMAC over the client secret (HS256 by
/// default, see `tokenclient_client_set_hmac_alg`).
pub const TOKENCLIENT_AUTH_CLIENT_SECRET_JWT: tokenclient_auth_method = 3;
/// A client assertion signed with the private key (set it with
/// `tokenclient_client_set_private_key`).
pub const TOKENCLIENT_AUTH_PRIVATE_KEY_JWT: tokenclient_auth_method = 4;
/// For `tokenclient_client_set_client_secret` of a client made from an
/// issuer: the method its metadata prefers among the secret-based ones
/// (`token_endpoint_auth_methods_supported`: client_secret_basic when
/// listed or when nothing is listed, else client_secret_post, else
/// client_secret_jwt).
pub const TOKENCLIENT_AUTH_AUTO: tokenclient_auth_method = 5;
/// For `tokenclient_client_set_tls_client_auth`: the client certificate,
/// issued by a CA the server trusts for this client, authenticates in the
/// TLS handshake; `client_id` goes in the body (RFC 8705 §2.1).
pub const TOKENCLIENT_AUTH_TLS_CLIENT_AUTH: tokenclient_auth_method = 6;
/// For `tokenclient_client_set_tls_client_auth`: a self-signed client
/// certificate registered with the server authenticates in the TLS
/// handshake; `client_id` goes in the body (RFC 8705 §2.2).
pub const TOKENCLIENT_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH: tokenclient_auth_method = 7;

pub(crate) fn auth_method(value: tokenclient_auth_method) -> Result<AuthMethod> {
    Ok(match value {
        TOKENCLIENT_AUTH_NONE => AuthMethod::None,
        TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC => AuthMethod::ClientSecretBasic,
        TOKENCLIENT_AUTH_CLIENT_SECRET_POST => AuthMethod::ClientSecretPost,
        TOKENCLIENT_AUTH_CLIENT_SECRET_JWT => AuthMethod::ClientSecretJwt,
        TOKENCLIENT_AUTH_PRIVATE_KEY_JWT => AuthMethod::PrivateKeyJwt,
        TOKENCLIENT_AUTH_TLS_CLIENT_AUTH => AuthMethod::TlsClientAuth,
        TOKENCLIENT_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH => AuthMethod::SelfSignedTlsClientAuth,
        other => {
            return Err(Error::invalid_argument(format!(
                "unknown auth method {other}"
            )))
        }
    })
}

/// Borrows the client behind a handle argument.
pub(crate) unsafe fn client<'a>(c: *const tokenclient_client) -> Result<&'a Client> {
    ref_arg(c, "client").map(|c| &c.inner)
}

/// Creates a client of `token_url` identified as `client_id`, and writes it
/// to `*out`.
///
/// `token_url` must be an absolute `https://` URL, or `http://` to a
/// loopback host (127.0.0.0/8, ::1, localhost); it is also the default
/// assertion audience. Set credentials before requesting tokens.
///
/// Ownership: on success `*out` is a new client; free it with
/// `tokenclient_client_free`. On error `*out` is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8, a
/// bad URL or an empty client id.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_new(
    token_url: *const c_char,
    client_id: *const c_char,
    out: *mut *mut tokenclient_client,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let c = Client::new(
            str_arg(token_url, "token_url")?,
            str_arg(client_id, "client_id")?,
        )?;
        write_out(
            out,
            Box::into_raw(Box::new(tokenclient_client { inner: c })),
        );
        Ok(())
    })
}

/// Frees `client`, wiping its secrets and keys. NULL is allowed and does
/// nothing. No other call may be using `client` at the same time.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_free(client: *mut tokenclient_client) {
    guard((), || {
        if !client.is_null() {
            drop(Box::from_raw(client));
        }
    })
}

/// Authenticates with a client secret, by `method`:
/// `TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC`, `TOKENCLIENT_AUTH_CLIENT_SECRET_POST`
/// or `TOKENCLIENT_AUTH_CLIENT_SECRET_JWT`, or for a client made from an
/// issuer `TOKENCLIENT_AUTH_AUTO` (the one its metadata prefers). Replaces
/// any earlier credentials.
///
/// The secret is copied; the copy is wiped when replaced or freed.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8, an
/// empty secret or an unknown method; `TOKENCLIENT_ERROR_CONFIG` for a
/// method that takes no secret; `TOKENCLIENT_ERROR_KEY` when, for
/// client_secret_jwt, the secret is shorter than the HMAC output (32 bytes
/// for HS256, RFC 7518 §3.2); with `TOKENCLIENT_AUTH_AUTO`,
/// `TOKENCLIENT_ERROR_CONFIG` for a client not made from an issuer or one
/// whose metadata lists no secret-based method.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_client_secret(
    client: *mut tokenclient_client,
    secret: *const c_char,
    method: tokenclient_auth_method,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = self::client(client)?;
        let secret = str_arg(secret, "secret")?;
        if method == TOKENCLIENT_AUTH_AUTO {
            return c.set_client_secret_auto(secret).map(drop);
        }
        c.set_client_secret(secret, auth_method(method)?)
    })
}

/// Chooses the HMAC algorithm of client_secret_jwt assertions: "HS256" (the
/// default), "HS384" or "HS512".
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8 or
/// another algorithm; `TOKENCLIENT_ERROR_KEY` when the client secret already
/// set is shorter than the hash output.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_hmac_alg(
    client: *mut tokenclient_client,
    alg: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = self::client(client)?;
        let alg: Algorithm = str_arg(alg, "alg")?.parse()?;
        c.set_hmac_algorithm(alg)
    })
}

/// Authenticates with private_key_jwt, signing assertions with `key`.
/// Replaces any earlier credentials.
///
/// `key` is detected among: PKCS#8 PEM ("PRIVATE KEY"), SEC1 PEM ("EC
/// PRIVATE KEY"), PKCS#1 PEM ("RSA PRIVATE KEY"), any of these squeezed onto
/// one line, with CRLF or with literal "\n"; bare base64 of a PKCS#8 (or
/// PKCS#1/SEC1) DER key with no armour; or a private JWK (RSA, EC P-256,
/// P-384, P-521, OKP Ed25519). Encrypted keys, public keys, certificates and
/// RSA keys under 2048 bits are refused.
///
/// `key_id`: the JOSE `kid`; NULL for none (for a JWK: its own `kid`, if
/// any). `alg`: one of RS256, RS384, RS512, PS256, PS384, PS512, ES256,
/// ES384, ES512, EdDSA; NULL to infer it (JWK `alg`, else P-256 -> ES256,
/// P-384 -> ES384, P-521 -> ES512, RSA -> RS256, Ed25519 -> EdDSA).
///
/// `key` may also be a PKCS#11 URI (RFC 7512) of a private key inside a
/// token (an HSM, SoftHSM2): `pkcs11:token=LABEL;object=KEY-LABEL` (or
/// `id=%01`; `serial=`, `slot-id=` to pick the token) `?module-path=` the
/// module's path `&pin-value=` the user PIN (or `pin-source=file:PATH`).
/// The key never leaves the token: the module, the token, the login and
/// the key are opened here (so every mistake shows now), the key's type
/// picks the default `alg`, and each assertion is signed by the token.
/// Sessions are pooled, one per concurrent signature; a forked child opens
/// the module again on its first signature (sessions do not survive
/// fork()); a session, token or module that went away (a module reset, a
/// token removed) gives `TOKENCLIENT_ERROR_KEY` and is reopened on the next
/// call. The PIN is never part of a message.
///
/// The key is parsed here, once, and kept parsed; the text is not kept.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL `client`/`key`,
/// invalid UTF-8, an unknown `alg` or a malformed PKCS#11 URI;
/// `TOKENCLIENT_ERROR_KEY` for a key that cannot be used (for a URI: a
/// refused login, no such token or key, several matches), or an `alg` that
/// does not fit it; `TOKENCLIENT_ERROR_CONFIG` for a PKCS#11 module that
/// cannot be loaded or a PIN file that cannot be read.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_private_key(
    client: *mut tokenclient_client,
    key: *const c_char,
    key_id: *const c_char,
    alg: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = self::client(client)?;
        let key = str_arg(key, "key")?;
        let key_id = opt_str_arg(key_id, "key_id")?;
        let alg = opt_str_arg(alg, "alg")?
            .map(str::parse::<Algorithm>)
            .transpose()?;
        c.set_private_key(key, key_id, alg)
    })
}

/// Makes `client` a public client (auth method none: `client_id` in the
/// body, no secret). Replaces any earlier credentials.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_public(
    client: *mut tokenclient_client,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.set_public())
}

/// Sets the `aud` claim of assertions to `audience` (default: the token
/// URL; some servers want the issuer URL). Replaces any audiences set
/// before; NULL restores the default. At most 8192 bytes.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client, invalid
/// UTF-8, an empty string or control characters.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_audience(
    client: *mut tokenclient_client,
    audience: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.set_audience(opt_str_arg(audience, "audience")?))
}

/// Adds `audience` to the `aud` claim, which becomes a JSON array (for
/// servers that accept either the token URL or the issuer, add the issuer:
/// the default token URL stays first). At most 16 audiences.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8, an
/// empty string or a 17th audience.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_add_audience(
    client: *mut tokenclient_client,
    audience: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.add_audience(str_arg(audience, "audience")?))
}

/// Sets assertion lifetime: `exp` = now + `seconds`, 1 to 3600 (default 300).
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL or a value out of range.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_assertion_lifetime(
    client: *mut tokenclient_client,
    seconds: u32,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.set_assertion_lifetime(seconds))
}

/// Sets how many seconds the `iat` claim is backdated, for servers whose
/// clock is behind ours: 0 to 600 (default 5). `exp` is not affected.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL or a value out of range.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_clock_skew(
    client: *mut tokenclient_client,
    seconds: u32,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.set_clock_skew(seconds))
}

/// Creates a new signed client assertion (RFC 7523) and writes it to
/// `*out_jwt`: header `alg`, `typ` "JWT", `kid` when set; claims `iss` =
/// `sub` = client id, `aud`, a fresh random `jti`, `iat` (backdated by the
/// clock skew) and `exp`. Every call makes a new one.
///
/// Ownership: on success `*out_jwt` is a new string (a credential: do not
/// log it); free it with `tokenclient_string_free`. On error `*out_jwt` is
/// not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL;
/// `TOKENCLIENT_ERROR_CONFIG` when the client has no private key and no
/// client_secret_jwt secret.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_create_assertion(
    client: *const tokenclient_client,
    out_jwt: *mut *mut c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out_jwt, "out_jwt")?;
        let jwt = self::client(client)?.create_assertion()?;
        write_out(out_jwt, into_owned_raw(jwt));
        Ok(())
    })
}

/// Sets the connect timeout and the total timeout, in milliseconds, each 1
/// to 600000 (defaults: 10000 and 30000). The total timeout is one deadline
/// for a whole call, retries and backoff included: each attempt gets what
/// remains of it, no retry starts with less than 100 ms left after its
/// backoff, and a `Retry-After` beyond the time left ends the call with the
/// server's error. A `get_token` that waits for another caller's request
/// waits until its own deadline at most. A call that runs out of time fails
/// with `TOKENCLIENT_ERROR_TRANSPORT` (or the server's error), whose message
/// says that the deadline ran out and after how many attempts.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL or a value out of range.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_timeout_ms(
    client: *mut tokenclient_client,
    connect_ms: u32,
    total_ms: u32,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.set_timeouts_ms(connect_ms, total_ms))
}

/// Trusts the CA certificates in the PEM file at `path` instead of the
/// system's, e.g. for a private CA. NULL restores the system's. TLS
/// verification of the peer and its host name is always on.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client, invalid
/// UTF-8, or a file that cannot be opened.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_ca_file(
    client: *mut tokenclient_client,
    path: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.set_ca_file(opt_str_arg(path, "path")?))
}

/// Presents a client certificate in the TLS handshake (mutual TLS,
/// RFC 8705): `cert_path` and `key_path` are each a PEM file's path or PEM
/// text (told apart by `-----BEGIN`; both the same kind; the key
/// unencrypted). Text is kept in memory, handed to libcurl in place and
/// wiped when replaced or when the client is freed. The certificate is read
/// now. Both NULL stops presenting one. For a client made from an issuer
/// whose metadata has `mtls_endpoint_aliases`, requests then go to the
/// aliases. Tokens obtained with a certificate report it in
/// `tokenclient_token_cnf`.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client, only one
/// of the two NULL, invalid UTF-8, a file that cannot be opened, or a
/// certificate that is not PEM; `TOKENCLIENT_ERROR_KEY` for a key that is
/// not an unencrypted PEM private key or not the certificate's.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_client_cert(
    client: *mut tokenclient_client,
    cert_path: *const c_char,
    key_path: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = self::client(client)?;
        match (
            opt_str_arg(cert_path, "cert_path")?,
            opt_str_arg(key_path, "key_path")?,
        ) {
            (Some(cert), Some(key)) => c.set_client_cert(Some((cert, key))),
            (None, None) => c.set_client_cert(None),
            _ => Err(Error::invalid_argument(
                "cert_path and key_path go together: pass both, or both NULL",
            )),
        }
    })
}

/// Sends requests through `proxy`, a URL as libcurl takes it (e.g.
/// "http://proxy.internal:3128"). "" disables proxies; NULL restores the
/// default, which honours the `https_proxy`, `http_proxy`, `all_proxy` and
/// `no_proxy` environment variables as libcurl does.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client, invalid
/// UTF-8 or a malformed value.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_proxy(
    client: *mut tokenclient_client,
    proxy: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.set_proxy(opt_str_arg(proxy, "proxy")?))
}

/// Caps the size of a response body, 1024 bytes to 64 MiB (default 1 MiB).
/// A larger answer fails with `TOKENCLIENT_ERROR_TRANSPORT`.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL or a value out of range.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_max_response_bytes(
    client: *mut tokenclient_client,
    bytes: size_t,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.set_max_response_bytes(bytes))
}

/// Adds the header `name: value` to every request (at most 32). Headers
/// tokenclient sets itself (Authorization, Content-Type, Content-Length,
/// Host, Transfer-Encoding) are refused.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8, a
/// name that is not an HTTP token, a value with control characters, or a
/// reserved name.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_add_header(
    client: *mut tokenclient_client,
    name: *const c_char,
    value: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.add_header(str_arg(name, "name")?, str_arg(value, "value")?))
}
