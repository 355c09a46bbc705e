/*
 * tokenclient.hpp: a header-only C++17 wrapper over tokenclient.h.
 *
 *   tokenclient::Client client{"https://acme.talkdeskid.com/oauth/token", "my-client-id"};
 *   client.set_private_key(key_b64, "my-key-id");
 *   tokenclient::Token tok = client.exchange_code(code, redirect_uri);
 *
 * Errors are thrown as tokenclient::Error (or its subclass
 * tokenclient::OAuthError), both std::runtime_error. A Client is move-only
 * and frees its handle when destroyed; it is safe to use from many threads
 * (setters included), as the C API documents. Tokens are copied out of C.
 *
 * Every call that does I/O takes CallOptions last: a deadline of its own
 * and a Cancel that another thread (or a signal handler) fires:
 *
 *   tokenclient::Cancel stop;
 *   std::thread([&] { wait_for_the_client_to_go_away(); stop.cancel(); }).detach();
 *   auto tok = client.get_token("read", {std::chrono::seconds(2), &stop});
 *   // throws tokenclient::Error with kind() == TOKENCLIENT_ERROR_CANCELLED when stopped
 */
#ifndef TOKENCLIENT_HPP
#define TOKENCLIENT_HPP

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenclient.h"

namespace tokenclient {

/* Any tokenclient failure: kind() is the C tokenclient_error_kind. */
class Error : public std::runtime_error {
 public:
  Error(tokenclient_error_kind kind, const std::string &message, int http_status)
      : std::runtime_error(message), kind_(kind), http_status_(http_status) {}
  tokenclient_error_kind kind() const noexcept { return kind_; }
  /* The HTTP status behind the error, 0 when none. */
  int http_status() const noexcept { return http_status_; }

 private:
  tokenclient_error_kind kind_;
  int http_status_;
};

/* An RFC 6749 §5.2 error answered by the server. */
class OAuthError : public Error {
 public:
  OAuthError(const std::string &message, int http_status, std::string code, std::string description,
             std::string uri)
      : Error(TOKENCLIENT_ERROR_OAUTH, message, http_status),
        code_(std::move(code)), description_(std::move(description)), uri_(std::move(uri)) {}
  const std::string &code() const noexcept { return code_; }
  const std::string &description() const noexcept { return description_; }
  const std::string &uri() const noexcept { return uri_; }

 private:
  std::string code_, description_, uri_;
};

namespace detail {

inline std::string str(const char *s) { return s ? std::string(s) : std::string(); }

/* Throws for a non-NULL error, freeing it first. */
inline void check(tokenclient_error *err) {
  if (!err) return;
  const tokenclient_error_kind kind = tokenclient_error_get_kind(err);
  const std::string message = str(tokenclient_error_message(err));
  const int status = tokenclient_error_http_status(err);
  if (kind == TOKENCLIENT_ERROR_OAUTH) {
    OAuthError e(message, status, str(tokenclient_error_oauth_code(err)),
                 str(tokenclient_error_oauth_description(err)), str(tokenclient_error_oauth_uri(err)));
    tokenclient_error_free(err);
    throw e;
  }
  tokenclient_error_free(err);
  throw Error(kind, message, status);
}

/* A NUL-terminated copy of a string_view (the C API takes C strings). */
class CStr {
 public:
  explicit CStr(std::string_view s) : s_(s) {}
  const char *get() const noexcept { return s_.c_str(); }

 private:
  std::string s_;
};

/* A handle owned by a C++ object: freed with its library function, moved, never copied. */
template <typename T, void (*Free)(T *)>
struct Freer {
  void operator()(T *p) const noexcept { Free(p); }
};
template <typename T, void (*Free)(T *)>
using Owned = std::unique_ptr<T, Freer<T, Free>>;

inline std::string take(char *s) {
  std::string out = str(s);
  tokenclient_string_free(s);
  return out;
}

}  // namespace detail

/* Stops the calls it is given to (CallOptions::cancel): each throws an Error
 * of kind TOKENCLIENT_ERROR_CANCELLED within a few milliseconds. cancel()
 * may be called from any thread, and from a signal handler; once cancelled
 * it stays so. Move-only; it must outlive the calls it is given to. */
class Cancel {
 public:
  Cancel() {
    tokenclient_cancel *h = nullptr;
    detail::check(tokenclient_cancel_new(&h));
    h_.reset(h);
  }
  void cancel() noexcept { tokenclient_cancel_cancel(h_.get()); }
  tokenclient_cancel *handle() const noexcept { return h_.get(); }

 private:
  detail::Owned<tokenclient_cancel, tokenclient_cancel_free> h_;
};

/* The options of one call: its deadline (zero: the client's total timeout),
 * retries included, and a Cancel that stops it (none: nullptr). */
struct CallOptions {
  std::chrono::milliseconds deadline{0};
  const Cancel *cancel = nullptr;
};

namespace detail {

/* CallOptions as the C struct (a deadline rounded to whole ms, at most ~49 days). */
inline tokenclient_call_options c_options(const CallOptions &o) {
  tokenclient_call_options c{};
  c.struct_size = sizeof c;
  const auto ms = o.deadline.count();
  c.deadline_ms = ms <= 0 ? 0u : ms >= 0xFFFFFFFF ? 0xFFFFFFFFu : static_cast<std::uint32_t>(ms);
  c.cancel = o.cancel ? o.cancel->handle() : nullptr;
  return c;
}

}  // namespace detail

/* A successful token response. The common fields are copied; the C token
 * stays alive (shared) for get(), and is freed, wiped, with the last copy. */
struct Token {
  std::string access_token;
  std::string token_type;
  std::optional<std::int64_t> expires_in;
  std::optional<std::string> scope;
  std::optional<std::string> refresh_token;
  std::optional<std::string> id_token;
  std::string json; /* the whole response body */
  /* The ID token's validated claims (JSON), for a token from
   * Authorization::finish; empty otherwise. */
  std::optional<std::string> id_token_claims;
  /* What the token is bound to, a JSON cnf object ({"jkt": ...} for DPoP,
   * {"x5t#S256": ...} for mTLS); empty for a bearer token. */
  std::optional<std::string> cnf;
  /* The Authorization header value for a resource request: "DPoP <token>"
   * or "Bearer <token>". */
  std::string authorization;

  /* Any other string member of the response, e.g. "sid". */
  std::optional<std::string> get(std::string_view name) const {
    const char *v = tokenclient_token_get(raw_.get(), std::string(name).c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  }

 private:
  friend class Client;
  std::shared_ptr<const tokenclient_token> raw_;
};

/* One event of the library, as given to a log callback; valid only during
 * the callback (copy what you keep). It never holds a secret. */
class Event {
 public:
  tokenclient_log_level level() const { return tokenclient_event_level(e_); }
  /* A stable name, e.g. "request.done". */
  std::string_view name() const { return tokenclient_event_name(e_); }
  /* The whole event as one JSON object. */
  std::string_view json() const { return tokenclient_event_json(e_); }
  /* A field by name ("endpoint", "grant_type", "attempt", "http_status", ...). */
  std::optional<std::string_view> field(std::string_view name) const {
    const char *v = tokenclient_event_field(e_, std::string(name).c_str());
    if (!v) return std::nullopt;
    return std::string_view(v);
  }

 private:
  friend class Client;
  explicit Event(const tokenclient_event *e) : e_(e) {}
  const tokenclient_event *e_;
};

/* Called with each event at or above the level it was set for, on the
 * thread that caused it. Exceptions it throws are swallowed. */
using LogCallback = std::function<void(const Event &)>;

/* Signs a JWS signing input with a key the library never sees (an HSM, a
 * KMS): returns the signature (ECDSA as r||s or DER; see
 * tokenclient_sign_fn). Throwing fails the signature with the exception's
 * what() as a TOKENCLIENT_ERROR_KEY. Called from any thread, concurrently. */
using SignCallback = std::function<std::vector<std::uint8_t>(const std::uint8_t *input, std::size_t len)>;

namespace detail {

inline int sign_trampoline(void *user_data, const std::uint8_t *input, std::size_t input_len, std::uint8_t *out_sig,
                           std::size_t out_cap, std::size_t *out_len, char *err_msg, std::size_t err_cap) {
  auto copy_message = [&](const char *what) {
    if (err_cap == 0) return;
    std::size_t n = 0;
    for (; what[n] && n + 1 < err_cap; n++) err_msg[n] = what[n];
    err_msg[n] = '\0';
  };
  try {
    std::vector<std::uint8_t> sig = (*static_cast<SignCallback *>(user_data))(input, input_len);
    if (sig.size() > out_cap) {
      copy_message("the signature is larger than the room given");
      return 1;
    }
    std::copy(sig.begin(), sig.end(), out_sig);
    *out_len = sig.size();
    return 0;
  } catch (const std::exception &e) {
    copy_message(e.what());
  } catch (...) {
    copy_message("the signer threw");
  }
  return 1;
}

inline void delete_sign_callback(void *user_data) { delete static_cast<SignCallback *>(user_data); }

}  // namespace detail

enum class AuthMethod : tokenclient_auth_method {
  None = TOKENCLIENT_AUTH_NONE,
  ClientSecretBasic = TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC,
  ClientSecretPost = TOKENCLIENT_AUTH_CLIENT_SECRET_POST,
  ClientSecretJwt = TOKENCLIENT_AUTH_CLIENT_SECRET_JWT,
  PrivateKeyJwt = TOKENCLIENT_AUTH_PRIVATE_KEY_JWT,
  TlsClientAuth = TOKENCLIENT_AUTH_TLS_CLIENT_AUTH,
  SelfSignedTlsClientAuth = TOKENCLIENT_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH,
};

/* An authorization code request of a client made from an issuer: state,
 * nonce and PKCE verifier, its parameters, and the callback's checks. Made
 * by Client::authorization or Client::import_authorization; move-only. */
class Authorization {
 public:

  /* prompt, login_hint, acr_values, resource, claims, max_age, ... */
  void set_param(std::string_view name, std::string_view value) {
    detail::check(tokenclient_authorization_set_param(get(), detail::CStr(name).get(), detail::CStr(value).get()));
  }
  /* Push the parameters by PAR (RFC 9126) even when not required. */
  void set_par(bool use_par) { detail::check(tokenclient_authorization_set_par(get(), use_par ? 1 : 0)); }
  /* The URL to send the browser to (with PAR: make it just before the redirect). */
  std::string url(const CallOptions &options = {}) const {
    const tokenclient_call_options o = detail::c_options(options);
    char *out = nullptr;
    detail::check(tokenclient_authorization_url_ex(get(), &o, &out));
    return detail::take(out);
  }
  /* The request as text, for a session. A secret: it holds the PKCE verifier. */
  std::string export_text() const {
    char *out = nullptr;
    detail::check(tokenclient_authorization_export(get(), &out));
    return detail::take(out);
  }
  /* The callback: state, iss, error, code exchange, ID token validation. */
  Token finish(std::string_view callback_url, const CallOptions &options = {}) const;

 private:
  friend class Client;
  explicit Authorization(tokenclient_authorization *h) : h_(h) {}
  tokenclient_authorization *get() const noexcept { return h_.get(); }
  detail::Owned<tokenclient_authorization, tokenclient_authorization_free> h_;
};

/* A started device authorization (RFC 8628): show user_code() and
 * verification_uri(), then Client::device_poll. Move-only. */
class Device {
 public:
  std::string user_code() const { return detail::str(tokenclient_device_user_code(h_.get())); }
  std::string verification_uri() const { return detail::str(tokenclient_device_verification_uri(h_.get())); }
  std::optional<std::string> verification_uri_complete() const {
    const char *s = tokenclient_device_verification_uri_complete(h_.get());
    if (!s) return std::nullopt;
    return std::string(s);
  }
  std::int64_t expires_in() const { return tokenclient_device_expires_in(h_.get()); }

 private:
  friend class Client;
  explicit Device(tokenclient_device *h) : h_(h) {}
  detail::Owned<tokenclient_device, tokenclient_device_free> h_;
};

class Client {
 public:
  Client(std::string_view token_url, std::string_view client_id) {
    detail::check(tokenclient_client_new(detail::CStr(token_url).get(), detail::CStr(client_id).get(), &h_));
  }
  Client(const Client &) = delete;
  Client &operator=(const Client &) = delete;

  /* A client of the authorization server `issuer`, from its metadata
   * (OpenID Connect Discovery, else RFC 8414). */
  static Client from_issuer(std::string_view issuer, std::string_view client_id, const CallOptions &options = {}) {
    const tokenclient_call_options o = detail::c_options(options);
    tokenclient_client *h = nullptr;
    detail::check(
        tokenclient_client_from_issuer_ex(detail::CStr(issuer).get(), detail::CStr(client_id).get(), &o, &h));
    return Client(h);
  }
  /* The issuer's metadata document (JSON). */
  std::string metadata(const CallOptions &options = {}) const {
    const tokenclient_call_options o = detail::c_options(options);
    char *out = nullptr;
    detail::check(tokenclient_client_metadata_ex(handle(), &o, &out));
    return detail::take(out);
  }
  /* RFC 7009; `hint`: "access_token", "refresh_token" or empty. */
  void revoke(std::string_view token, std::string_view hint = {}, const CallOptions &options = {}) const {
    const tokenclient_call_options o = detail::c_options(options);
    detail::CStr t(token), h(hint);
    detail::check(tokenclient_client_revoke_ex(handle(), t.get(), hint.empty() ? nullptr : h.get(), &o));
  }
  /* RFC 7662: the answer, a JSON object with "active". */
  std::string introspect(std::string_view token, std::string_view hint = {}, const CallOptions &options = {}) const {
    const tokenclient_call_options o = detail::c_options(options);
    detail::CStr t(token), h(hint);
    char *out = nullptr;
    detail::check(tokenclient_client_introspect_ex(handle(), t.get(), hint.empty() ? nullptr : h.get(), &o, &out));
    return detail::take(out);
  }
  /* The userinfo claims of an access token (JSON). */
  std::string userinfo(std::string_view access_token, const CallOptions &options = {}) const {
    const tokenclient_call_options o = detail::c_options(options);
    char *out = nullptr;
    detail::check(tokenclient_client_userinfo_ex(handle(), detail::CStr(access_token).get(), &o, &out));
    return detail::take(out);
  }
  /* The validated claims of an ID token of the issuer for this client (JSON). */
  std::string validate_id_token(std::string_view id_token, std::string_view nonce = {},
                                const CallOptions &options = {}) const {
    const tokenclient_call_options o = detail::c_options(options);
    detail::CStr t(id_token), n(nonce);
    char *out = nullptr;
    detail::check(
        tokenclient_client_validate_id_token_ex(handle(), t.get(), nonce.empty() ? nullptr : n.get(), &o, &out));
    return detail::take(out);
  }
  /* A new authorization code request, to come back to `redirect_uri`. */
  Authorization authorization(std::string_view redirect_uri, std::string_view scope = {}) const {
    detail::CStr r(redirect_uri), s(scope);
    tokenclient_authorization *a = nullptr;
    detail::check(tokenclient_authorization_new(handle(), r.get(), scope.empty() ? nullptr : s.get(), &a));
    return Authorization(a);
  }
  /* An exported authorization request of this client, read again. */
  Authorization import_authorization(std::string_view exported) const {
    tokenclient_authorization *a = nullptr;
    detail::check(tokenclient_authorization_import(handle(), detail::CStr(exported).get(), &a));
    return Authorization(a);
  }
  /* RFC 8628: start a device authorization for `scope`. */
  Device device_authorize(std::string_view scope = {}, const CallOptions &options = {}) const {
    const tokenclient_call_options o = detail::c_options(options);
    detail::CStr s(scope);
    tokenclient_device *d = nullptr;
    detail::check(tokenclient_client_device_authorize_ex(handle(), scope.empty() ? nullptr : s.get(), &o, &d));
    return Device(d);
  }
  /* Polls until the user approves (the token), denies, or the code or the
   * call's deadline runs out. */
  Token device_poll(const Device &device, const CallOptions &options = {}) const {
    const tokenclient_call_options o = detail::c_options(options);
    return token([&](tokenclient_token **out) { return tokenclient_client_device_poll_ex(handle(), device.h_.get(), &o, out); });
  }
  Client(Client &&other) noexcept
      : h_(std::exchange(other.h_, nullptr)), log_callbacks_(std::move(other.log_callbacks_)) {}
  Client &operator=(Client &&other) noexcept {
    if (this != &other) {
      tokenclient_client_free(h_);
      h_ = std::exchange(other.h_, nullptr);
      log_callbacks_ = std::move(other.log_callbacks_);
    }
    return *this;
  }
  ~Client() { tokenclient_client_free(h_); }

  /* The token URL of a Talkdesk account; region: TOKENCLIENT_TALKDESK_US/EU/CA. */
  static std::string talkdesk_token_url(std::string_view account,
                                        tokenclient_talkdesk_region region = TOKENCLIENT_TALKDESK_US) {
    char *out = nullptr;
    detail::check(tokenclient_talkdesk_token_url(detail::CStr(account).get(), region, &out));
    return detail::take(out);
  }

  /* {auth_base}/{env_id}/as/token. */
  static std::string pingone_token_url(std::string_view env_id,
                                       std::string_view auth_base = "https://auth.pingone.com") {
    char *out = nullptr;
    detail::check(tokenclient_pingone_token_url(detail::CStr(auth_base).get(), detail::CStr(env_id).get(), &out));
    return detail::take(out);
  }

  void set_client_secret(std::string_view secret, AuthMethod method = AuthMethod::ClientSecretBasic) {
    detail::check(tokenclient_client_set_client_secret(handle(), detail::CStr(secret).get(),
                                                       static_cast<tokenclient_auth_method>(method)));
  }
  /* key: PEM, one-line PEM, bare base64 DER or JWK; empty key_id/alg: none / inferred. */
  void set_private_key(std::string_view key, std::string_view key_id = {}, std::string_view alg = {}) {
    detail::CStr k(key), kid(key_id), a(alg);
    detail::check(tokenclient_client_set_private_key(handle(), k.get(), key_id.empty() ? nullptr : kid.get(),
                                                     alg.empty() ? nullptr : a.get()));
  }
  void set_public() { detail::check(tokenclient_client_set_public(handle())); }
  void set_audience(std::string_view aud) {
    detail::check(tokenclient_client_set_audience(handle(), detail::CStr(aud).get()));
  }
  void set_assertion_lifetime(std::uint32_t seconds) {
    detail::check(tokenclient_client_set_assertion_lifetime(handle(), seconds));
  }
  void set_clock_skew(std::uint32_t seconds) { detail::check(tokenclient_client_set_clock_skew(handle(), seconds)); }
  void set_timeout_ms(std::uint32_t connect_ms, std::uint32_t total_ms) {
    detail::check(tokenclient_client_set_timeout_ms(handle(), connect_ms, total_ms));
  }
  void set_ca_file(std::string_view path) {
    detail::check(tokenclient_client_set_ca_file(handle(), detail::CStr(path).get()));
  }
  /* mTLS: the client certificate and its key, each a PEM file's path or PEM text. */
  void set_client_cert(std::string_view cert, std::string_view key) {
    detail::check(tokenclient_client_set_client_cert(handle(), detail::CStr(cert).get(), detail::CStr(key).get()));
  }
  /* Authenticate with the client certificate: TlsClientAuth or SelfSignedTlsClientAuth. */
  void set_tls_client_auth(AuthMethod method) {
    detail::check(tokenclient_client_set_tls_client_auth(handle(), static_cast<tokenclient_auth_method>(method)));
  }

  /* Signs assertions with `sign`, a key the library never sees, as `alg`
   * (ES256, RS256, PS256, EdDSA, ...). A PKCS#11 key: set_private_key with a
   * "pkcs11:..." URI. */
  void set_signer(SignCallback sign, std::string_view alg, std::string_view key_id = {}) {
    auto kept = std::make_unique<SignCallback>(std::move(sign));
    detail::CStr a(alg), k(key_id);
    detail::check(tokenclient_client_set_signer(handle(), a.get(), key_id.empty() ? nullptr : k.get(),
                                                &detail::sign_trampoline, kept.get(), &detail::delete_sign_callback));
    (void)kept.release(); /* the library owns it now: deleted once unused */
  }
  /* DPoP proofs signed by `sign`; `public_key` its public half (PEM SPKI). */
  void set_dpop_signer(SignCallback sign, std::string_view alg, std::string_view public_key) {
    auto kept = std::make_unique<SignCallback>(std::move(sign));
    detail::CStr a(alg), p(public_key);
    detail::check(tokenclient_client_set_dpop_signer(handle(), a.get(), p.get(), &detail::sign_trampoline,
                                                     kept.get(), &detail::delete_sign_callback));
    (void)kept.release();
  }

  /* DPoP (RFC 9449): bind tokens to `key` (any key format; empty: a P-256
   * key made in memory); empty alg: the key's default. */
  void set_dpop_key(std::string_view key = {}, std::string_view alg = {}) {
    detail::CStr k(key), a(alg);
    detail::check(tokenclient_client_set_dpop_key(handle(), key.empty() ? nullptr : k.get(),
                                                  alg.empty() ? nullptr : a.get()));
  }
  void set_dpop_allow_bearer(bool allow) { detail::check(tokenclient_client_set_dpop_allow_bearer(handle(), allow)); }
  /* The DPoP key's JWK thumbprint (the jkt of bound tokens). */
  std::string dpop_thumbprint() const {
    char *out = nullptr;
    detail::check(tokenclient_client_dpop_thumbprint(handle(), &out));
    return detail::take(out);
  }
  /* A new DPoP proof (the DPoP header) for `method` `url`; pass the access
   * token for a resource request; empty nonce: the one url's origin gave last. */
  std::string dpop_proof(std::string_view method, std::string_view url, std::string_view access_token = {},
                         std::string_view nonce = {}) const {
    detail::CStr m(method), u(url), t(access_token), n(nonce);
    char *out = nullptr;
    detail::check(tokenclient_client_dpop_proof(handle(), m.get(), u.get(), access_token.empty() ? nullptr : t.get(),
                                                nonce.empty() ? nullptr : n.get(), &out));
    return detail::take(out);
  }
  /* A resource server's answer to a DPoP request: keeps its DPoP-Nonce;
   * true when it is a nonce challenge (send once more with a new proof). */
  bool dpop_answer(std::string_view url, std::uint32_t http_status, std::string_view www_authenticate = {},
                   std::string_view dpop_nonce = {}) const {
    detail::CStr u(url), w(www_authenticate), n(dpop_nonce);
    std::int32_t retry = 0;
    detail::check(tokenclient_client_dpop_answer(handle(), u.get(), http_status,
                                                 www_authenticate.empty() ? nullptr : w.get(),
                                                 dpop_nonce.empty() ? nullptr : n.get(), &retry));
    return retry != 0;
  }

  std::string create_assertion() const {
    char *out = nullptr;
    detail::check(tokenclient_client_create_assertion(handle(), &out));
    return detail::take(out);
  }

  Token exchange_code(std::string_view code, std::string_view redirect_uri, std::string_view code_verifier = {},
                      const CallOptions &options = {}) const {
    detail::CStr c(code), r(redirect_uri), v(code_verifier);
    const tokenclient_call_options o = detail::c_options(options);
    return token([&](tokenclient_token **out) {
      return tokenclient_client_exchange_code_ex(handle(), c.get(), r.get(),
                                                 code_verifier.empty() ? nullptr : v.get(), &o, out);
    });
  }
  Token refresh(std::string_view refresh_token, std::string_view scope = {}, const CallOptions &options = {}) const {
    detail::CStr rt(refresh_token), s(scope);
    const tokenclient_call_options o = detail::c_options(options);
    return token([&](tokenclient_token **out) {
      return tokenclient_client_refresh_ex(handle(), rt.get(), scope.empty() ? nullptr : s.get(), &o, out);
    });
  }
  Token client_credentials(std::string_view scope = {}, const CallOptions &options = {}) const {
    detail::CStr s(scope);
    const tokenclient_call_options o = detail::c_options(options);
    return token([&](tokenclient_token **out) {
      return tokenclient_client_client_credentials_ex(handle(), scope.empty() ? nullptr : s.get(), &o, out);
    });
  }
  /* A valid access token from the client's cache (one request however many
   * threads ask). With options, a cancelled or timed-out call stops only its
   * own wait, never the request others wait for. */
  Token get_token(std::string_view scope = {}, const CallOptions &options = {}) const {
    detail::CStr s(scope);
    const tokenclient_call_options o = detail::c_options(options);
    return token([&](tokenclient_token **out) {
      return tokenclient_client_get_token_ex(handle(), scope.empty() ? nullptr : s.get(), &o, out);
    });
  }
  void set_refresh_token(std::string_view refresh_token) {
    detail::check(tokenclient_client_set_refresh_token(handle(), detail::CStr(refresh_token).get()));
  }
  void invalidate_token(std::string_view scope = {}) {
    detail::CStr s(scope);
    detail::check(tokenclient_client_invalidate_token(handle(), scope.empty() ? nullptr : s.get()));
  }
  /* Shares get_token's tokens with every process of the same store and
   * credentials, so that one request serves them all for a token's
   * lifetime: "default" (a 0700 directory of this user's), "file:///dir",
   * "redis://[user:password@]host[:port][/db]" or "rediss://..." (TLS), or
   * several separated by spaces (tiers, nearest first).
   * Throws Error of kind TOKENCLIENT_ERROR_INVALID_ARGUMENT for an unknown
   * URL, TOKENCLIENT_ERROR_CONFIG for a store that cannot work. */
  void set_token_store(std::string_view url) {
    detail::check(tokenclient_client_set_token_store(handle(), detail::CStr(url).get()));
  }
  /* No store any more. */
  void clear_token_store() { detail::check(tokenclient_client_set_token_store(handle(), nullptr)); }
  /* Seals the store's entries with `key` (16 to 1024 bytes, copied) instead
   * of a key derived from the credential; every process of the store sets
   * the same. After set_token_store (else TOKENCLIENT_ERROR_CONFIG). */
  void set_token_store_key(const std::uint8_t *key, std::size_t len) {
    detail::check(tokenclient_client_set_token_store_key(handle(), key, len));
  }
  /* An empty vector is a key of length 0 (refused), never "no key". */
  void set_token_store_key(const std::vector<std::uint8_t> &key) {
    static const std::uint8_t empty = 0;
    set_token_store_key(key.empty() ? &empty : key.data(), key.size());
  }
  /* Back to the key derived from the credential. */
  void clear_token_store_key() { detail::check(tokenclient_client_set_token_store_key(handle(), nullptr, 0)); }

  /* Hands the client's events at `level` (TOKENCLIENT_LOG_ERROR ... _DEBUG)
   * and above to `callback`; an empty callback removes it. Every callback
   * set stays alive until the client is destroyed, since a call in flight
   * may still use the one it started with. */
  void set_log_callback(tokenclient_log_level level, LogCallback callback) {
    if (!callback) {
      detail::check(tokenclient_client_set_log_callback(handle(), level, nullptr, nullptr));
      return;
    }
    auto kept = std::make_unique<LogCallback>(std::move(callback));
    detail::check(tokenclient_client_set_log_callback(handle(), level, &Client::on_event, kept.get()));
    log_callbacks_.push_back(std::move(kept));
  }

  /* The client's counters as JSON (see tokenclient_client_counters). */
  std::string counters() const {
    char *out = nullptr;
    detail::check(tokenclient_client_counters(handle(), &out));
    return detail::take(out);
  }

  /* Token exchange (RFC 8693): `subject_token` of `subject_token_type` for a
   * token of this client, with audience, resource, scope, ... in `params`. */
  Token token_exchange(std::string_view subject_token, std::string_view subject_token_type,
                       const std::vector<std::pair<std::string, std::string>> &params = {},
                       const CallOptions &options = {}) const {
    std::vector<const char *> arr;
    for (const auto &p : params) {
      arr.push_back(p.first.c_str());
      arr.push_back(p.second.c_str());
    }
    arr.push_back(nullptr);
    detail::CStr st(subject_token), stt(subject_token_type);
    const tokenclient_call_options o = detail::c_options(options);
    return token([&](tokenclient_token **out) {
      return tokenclient_client_token_exchange_ex(handle(), st.get(), stt.get(), arr.data(), &o, out);
    });
  }

  /* Any grant, with form parameters (a name may repeat). */
  Token grant(std::string_view grant_type, const std::vector<std::pair<std::string, std::string>> &params = {},
              const CallOptions &options = {}) const {
    std::vector<const char *> arr;
    for (const auto &p : params) {
      arr.push_back(p.first.c_str());
      arr.push_back(p.second.c_str());
    }
    arr.push_back(nullptr);
    detail::CStr g(grant_type);
    const tokenclient_call_options o = detail::c_options(options);
    return token(
        [&](tokenclient_token **out) { return tokenclient_client_grant_ex(handle(), g.get(), arr.data(), &o, out); });
  }

 private:
  friend class Authorization;
  explicit Client(tokenclient_client *h) : h_(h) {}
  tokenclient_client *h_ = nullptr;
  std::vector<std::unique_ptr<LogCallback>> log_callbacks_;

  static void on_event(void *user_data, const tokenclient_event *event) {
    try {
      (*static_cast<LogCallback *>(user_data))(Event(event));
    } catch (...) {
      /* never into C */
    }
  }

  tokenclient_client *handle() const {
    if (!h_) throw Error(TOKENCLIENT_ERROR_INVALID_ARGUMENT, "the client was moved from", 0);
    return h_;
  }

  template <typename Call>
  static Token token(Call call) {
    tokenclient_token *t = nullptr;
    detail::check(call(&t));
    Token out;
    out.raw_ = std::shared_ptr<const tokenclient_token>(
        t, [](const tokenclient_token *p) { tokenclient_token_free(const_cast<tokenclient_token *>(p)); });
    out.access_token = detail::str(tokenclient_token_access_token(t));
    out.token_type = detail::str(tokenclient_token_token_type(t));
    if (tokenclient_token_expires_in(t) >= 0) out.expires_in = tokenclient_token_expires_in(t);
    if (const char *s = tokenclient_token_scope(t)) out.scope = s;
    if (const char *s = tokenclient_token_refresh_token(t)) out.refresh_token = s;
    if (const char *s = tokenclient_token_id_token(t)) out.id_token = s;
    out.json = detail::str(tokenclient_token_json(t));
    if (const char *s = tokenclient_token_id_token_claims(t)) out.id_token_claims = s;
    if (const char *s = tokenclient_token_cnf(t)) out.cnf = s;
    out.authorization = detail::str(tokenclient_token_authorization(t));
    return out;
  }
};



inline Token Authorization::finish(std::string_view callback_url, const CallOptions &options) const {
  const tokenclient_call_options o = detail::c_options(options);
  detail::CStr u(callback_url);
  return Client::token([&](tokenclient_token **out) { return tokenclient_authorization_finish_ex(h_.get(), u.get(), &o, out); });
}

}  // namespace tokenclient

#endif /* TOKENCLIENT_HPP */
