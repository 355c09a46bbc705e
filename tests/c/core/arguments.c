/*
 * tests/c/core/arguments.c: client creation (token URLs accepted and
 * refused), and the arguments of every setter, exchange function and
 * get_token: NULL in each pointer argument gives
 * TOKENCLIENT_ERROR_INVALID_ARGUMENT and leaves the out-parameter as it was;
 * invalid UTF-8 in each string argument likewise; each setter's accepted and
 * refused values.
 */
#include "core.h"

/* ------------------------------------------------------------------ */
/* Client creation                                                      */

void test_client_new(void) {
    tokenclient_client *c;
    EXPECT_INVALID_OUT(tokenclient_client_new(NULL, CLIENT_ID, &c), c);
    EXPECT_INVALID_OUT(tokenclient_client_new(TOKEN_URL, NULL, &c), c);
    EXPECT_INVALID(tokenclient_client_new(TOKEN_URL, CLIENT_ID, NULL));
    EXPECT_INVALID(tokenclient_client_new(NULL, NULL, NULL));
    EXPECT_INVALID_OUT(tokenclient_client_new(BAD_UTF8, CLIENT_ID, &c), c);
    EXPECT_INVALID_OUT(tokenclient_client_new(TOKEN_URL, BAD_UTF8, &c), c);
    EXPECT_INVALID_OUT(tokenclient_client_new(TRUNCATED_UTF8, CLIENT_ID, &c), c);
    EXPECT_INVALID_OUT(tokenclient_client_new(TOKEN_URL, OVERLONG_UTF8, &c), c);
    EXPECT_INVALID_OUT(tokenclient_client_new(TOKEN_URL, SURROGATE_UTF8, &c), c);
    EXPECT_INVALID_OUT(tokenclient_client_new(TOKEN_URL, "", &c), c);

    static const char *const bad_urls[] = {
        "http://example.com/token",  /* plain http to a remote host */
        "garbage",
        "",
        "ftp://idp.example.com/token",
        "https://",
        "https:///token",
        "https://user:pw@idp.example.com/token",
        "https://idp.example.com/token#fragment",
        "https://idp example.com/token",
        "https://idp.example.com:0/token",
        "https://idp.example.com:65536/token",
        "https://idp.example.com\r\nX-Injected: 1/token",
        "http://127.0.0.1.example.com/token",
        "//idp.example.com/token",
    };
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        c = SENTINEL;
        tokenclient_error *e = tokenclient_client_new(bad_urls[i], CLIENT_ID, &c);
        char what[256];
        snprintf(what, sizeof what, "token URL \"%s\" is refused", bad_urls[i]);
        check_at(e != NULL && tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_INVALID_ARGUMENT,
                 what, __FILE__, __LINE__);
        CHECK(c == SENTINEL);
        tokenclient_error_free(e);
    }

    static const char *const good_urls[] = {
        TOKEN_URL,
        "https://idp.example.com:8443/realms/x/protocol/openid-connect/token?x=1",
        "https://[2001:db8::1]/token",
        "http://127.0.0.1:8080/token",
        "http://127.1.2.3/token",
        "http://localhost/token",
        "http://[::1]:9/token",
        "HTTPS://IDP.EXAMPLE.COM/token",
    };
    for (size_t i = 0; i < sizeof good_urls / sizeof good_urls[0]; i++) {
        c = SENTINEL;
        if (EXPECT_OK(tokenclient_client_new(good_urls[i], CLIENT_ID, &c))) {
            CHECK(c != SENTINEL && c != NULL);
            tokenclient_client_free(c);
        }
    }

    tokenclient_client_free(NULL);
}

/* ------------------------------------------------------------------ */
/* Every setter: NULL, UTF-8 and ranges                                 */

void test_setter_arguments(void) {
    tokenclient_client *c = new_client();

    /* set_client_secret */
    EXPECT_INVALID(tokenclient_client_set_client_secret(NULL, "s3cret", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_INVALID(tokenclient_client_set_client_secret(c, NULL, TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_INVALID(tokenclient_client_set_client_secret(c, BAD_UTF8, TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_INVALID(tokenclient_client_set_client_secret(c, "", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_INVALID(tokenclient_client_set_client_secret(c, "s3cret", 8)); /* the first unknown method */
    /* AUTO takes the method from an issuer's metadata: this client has none */
    EXPECT_ERR(tokenclient_client_set_client_secret(c, "s3cret", TOKENCLIENT_AUTH_AUTO), TOKENCLIENT_ERROR_CONFIG);
    EXPECT_INVALID(tokenclient_client_set_client_secret(c, "", TOKENCLIENT_AUTH_AUTO));
    EXPECT_INVALID(tokenclient_client_set_client_secret(c, "s3cret", 99));
    EXPECT_INVALID(tokenclient_client_set_client_secret(c, "s3cret", UINT32_MAX));
    EXPECT_ERR(tokenclient_client_set_client_secret(c, "s3cret", TOKENCLIENT_AUTH_NONE), TOKENCLIENT_ERROR_CONFIG);
    EXPECT_ERR(tokenclient_client_set_client_secret(c, "s3cret", TOKENCLIENT_AUTH_PRIVATE_KEY_JWT), TOKENCLIENT_ERROR_CONFIG);
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret", TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC));
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));

    /* set_hmac_alg */
    EXPECT_INVALID(tokenclient_client_set_hmac_alg(NULL, "HS256"));
    EXPECT_INVALID(tokenclient_client_set_hmac_alg(c, NULL));
    EXPECT_INVALID(tokenclient_client_set_hmac_alg(c, BAD_UTF8));
    EXPECT_INVALID(tokenclient_client_set_hmac_alg(c, ""));
    EXPECT_INVALID(tokenclient_client_set_hmac_alg(c, "hs256"));
    EXPECT_INVALID(tokenclient_client_set_hmac_alg(c, "HS1024"));
    EXPECT_INVALID(tokenclient_client_set_hmac_alg(c, "ES256"));
    EXPECT_INVALID(tokenclient_client_set_hmac_alg(c, "none"));
    EXPECT_OK(tokenclient_client_set_hmac_alg(c, "HS256"));

    /* set_private_key: NULL and UTF-8 (the key formats are in test_keys) */
    char *p256 = read_key("p256.pem");
    EXPECT_INVALID(tokenclient_client_set_private_key(NULL, p256, NULL, NULL));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, NULL, NULL, NULL));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, NULL, "kid", "ES256"));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, BAD_UTF8, NULL, NULL));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, p256, BAD_UTF8, NULL));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, p256, NULL, BAD_UTF8));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, p256, "", NULL));
    EXPECT_OK(tokenclient_client_set_private_key(c, p256, NULL, NULL));
    EXPECT_OK(tokenclient_client_set_private_key(c, p256, "kid-1", "ES256"));
    free(p256);

    /* set_public */
    EXPECT_INVALID(tokenclient_client_set_public(NULL));
    EXPECT_OK(tokenclient_client_set_public(c));

    /* set_audience / add_audience */
    EXPECT_INVALID(tokenclient_client_set_audience(NULL, "https://issuer.example.com"));
    EXPECT_OK(tokenclient_client_set_audience(c, NULL)); /* back to the token URL */
    EXPECT_INVALID(tokenclient_client_set_audience(c, BAD_UTF8));
    EXPECT_INVALID(tokenclient_client_set_audience(c, ""));
    EXPECT_OK(tokenclient_client_set_audience(c, "https://issuer.example.com"));
    EXPECT_INVALID(tokenclient_client_add_audience(NULL, "https://issuer.example.com"));
    EXPECT_INVALID(tokenclient_client_add_audience(c, NULL));
    EXPECT_INVALID(tokenclient_client_add_audience(c, BAD_UTF8));
    EXPECT_INVALID(tokenclient_client_add_audience(c, ""));
    EXPECT_OK(tokenclient_client_add_audience(c, "https://other.example.com"));

    /* set_assertion_lifetime: 1 to 3600 */
    EXPECT_INVALID(tokenclient_client_set_assertion_lifetime(NULL, 300));
    EXPECT_INVALID(tokenclient_client_set_assertion_lifetime(c, 0));
    EXPECT_INVALID(tokenclient_client_set_assertion_lifetime(c, 3601));
    EXPECT_INVALID(tokenclient_client_set_assertion_lifetime(c, UINT32_MAX));
    EXPECT_OK(tokenclient_client_set_assertion_lifetime(c, 1));
    EXPECT_OK(tokenclient_client_set_assertion_lifetime(c, 3600));

    /* set_clock_skew: 0 to 600 */
    EXPECT_INVALID(tokenclient_client_set_clock_skew(NULL, 5));
    EXPECT_INVALID(tokenclient_client_set_clock_skew(c, 601));
    EXPECT_INVALID(tokenclient_client_set_clock_skew(c, UINT32_MAX));
    EXPECT_OK(tokenclient_client_set_clock_skew(c, 0));
    EXPECT_OK(tokenclient_client_set_clock_skew(c, 600));

    /* set_timeout_ms: each 1 to 600000 */
    EXPECT_INVALID(tokenclient_client_set_timeout_ms(NULL, 1000, 1000));
    EXPECT_INVALID(tokenclient_client_set_timeout_ms(c, 0, 1000));
    EXPECT_INVALID(tokenclient_client_set_timeout_ms(c, 1000, 0));
    EXPECT_INVALID(tokenclient_client_set_timeout_ms(c, 600001, 1000));
    EXPECT_INVALID(tokenclient_client_set_timeout_ms(c, 1000, 600001));
    EXPECT_OK(tokenclient_client_set_timeout_ms(c, 1, 1));
    EXPECT_OK(tokenclient_client_set_timeout_ms(c, 600000, 600000));
    EXPECT_OK(tokenclient_client_set_timeout_ms(c, 10000, 30000));

    /* set_max_response_bytes: 1024 to 64 MiB */
    EXPECT_INVALID(tokenclient_client_set_max_response_bytes(NULL, 4096));
    EXPECT_INVALID(tokenclient_client_set_max_response_bytes(c, 0));
    EXPECT_INVALID(tokenclient_client_set_max_response_bytes(c, 1023));
    EXPECT_INVALID(tokenclient_client_set_max_response_bytes(c, ((size_t)64 << 20) + 1));
    EXPECT_INVALID(tokenclient_client_set_max_response_bytes(c, SIZE_MAX));
    EXPECT_OK(tokenclient_client_set_max_response_bytes(c, 1024));
    EXPECT_OK(tokenclient_client_set_max_response_bytes(c, (size_t)64 << 20));
    EXPECT_OK(tokenclient_client_set_max_response_bytes(c, (1 << 20)));

    /* set_retry_policy: max_retries 0 to 10 */
    EXPECT_INVALID(tokenclient_client_set_retry_policy(NULL, 2, 200, 10000));
    EXPECT_INVALID(tokenclient_client_set_retry_policy(c, 11, 200, 10000));
    EXPECT_INVALID(tokenclient_client_set_retry_policy(c, UINT32_MAX, 200, 10000));
    EXPECT_INVALID(tokenclient_client_set_retry_policy(c, 2, 5000, 100)); /* base above max */
    EXPECT_OK(tokenclient_client_set_retry_policy(c, 0, 0, 0));
    EXPECT_OK(tokenclient_client_set_retry_policy(c, 10, 200, 10000));
    EXPECT_OK(tokenclient_client_set_retry_policy(c, 2, 200, 10000));

    /* set_refresh_policy: percent 1 to 100, margin 0 to 3600 */
    EXPECT_INVALID(tokenclient_client_set_refresh_policy(NULL, 80, 10));
    EXPECT_INVALID(tokenclient_client_set_refresh_policy(c, 0, 10));
    EXPECT_INVALID(tokenclient_client_set_refresh_policy(c, 101, 10));
    EXPECT_INVALID(tokenclient_client_set_refresh_policy(c, 80, 3601));
    EXPECT_INVALID(tokenclient_client_set_refresh_policy(c, 80, UINT32_MAX));
    EXPECT_OK(tokenclient_client_set_refresh_policy(c, 1, 0));
    EXPECT_OK(tokenclient_client_set_refresh_policy(c, 100, 3600));
    EXPECT_OK(tokenclient_client_set_refresh_policy(c, 80, 10));

    /* set_ca_file: NULL restores the system's */
    char cert_path[4096], key_path[4096];
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", key_dir);
    snprintf(key_path, sizeof key_path, "%s/p256.pem", key_dir);
    EXPECT_INVALID(tokenclient_client_set_ca_file(NULL, cert_path));
    EXPECT_INVALID(tokenclient_client_set_ca_file(c, BAD_UTF8));
    EXPECT_INVALID(tokenclient_client_set_ca_file(c, ""));
    EXPECT_INVALID(tokenclient_client_set_ca_file(c, "/nonexistent/tokenclient/ca.pem"));
    EXPECT_OK(tokenclient_client_set_ca_file(c, cert_path));
    EXPECT_OK(tokenclient_client_set_ca_file(c, NULL));

    /* set_client_cert: both or neither */
    EXPECT_INVALID(tokenclient_client_set_client_cert(NULL, cert_path, key_path));
    EXPECT_INVALID(tokenclient_client_set_client_cert(c, cert_path, NULL));
    EXPECT_INVALID(tokenclient_client_set_client_cert(c, NULL, key_path));
    EXPECT_INVALID(tokenclient_client_set_client_cert(c, BAD_UTF8, key_path));
    EXPECT_INVALID(tokenclient_client_set_client_cert(c, cert_path, BAD_UTF8));
    EXPECT_INVALID(tokenclient_client_set_client_cert(c, "/nonexistent/cert.pem", key_path));
    EXPECT_INVALID(tokenclient_client_set_client_cert(c, cert_path, "/nonexistent/key.pem"));
    EXPECT_OK(tokenclient_client_set_client_cert(c, cert_path, key_path));
    EXPECT_OK(tokenclient_client_set_client_cert(c, NULL, NULL));
    /* ... or both as PEM text, not one of each; a bad certificate is refused now */
    char *cert_pem = read_key("cert.pem"), *key_pem = read_key("p256.pem");
    EXPECT_OK(tokenclient_client_set_client_cert(c, cert_pem, key_pem));
    EXPECT_INVALID(tokenclient_client_set_client_cert(c, cert_pem, key_path));
    EXPECT_INVALID(tokenclient_client_set_client_cert(c, cert_path, key_pem));
    EXPECT_INVALID(tokenclient_client_set_client_cert(c, key_pem, key_pem));
    EXPECT_INVALID(tokenclient_client_set_client_cert(c, key_path, key_path));
    EXPECT_ERR(tokenclient_client_set_client_cert(c, cert_pem, "-----BEGIN CERTIFICATE-----\n"), TOKENCLIENT_ERROR_KEY);
    /* the key must be the certificate's, as files or as text */
    char rsa_path[4096];
    snprintf(rsa_path, sizeof rsa_path, "%s/rsa2048.pem", key_dir);
    char *rsa_pem = read_key("rsa2048.pem");
    EXPECT_ERR(tokenclient_client_set_client_cert(c, cert_path, rsa_path), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_client_cert(c, cert_pem, rsa_pem), TOKENCLIENT_ERROR_KEY);
    free(rsa_pem);
    /* an encrypted key is refused, never prompted for */
    char *encrypted = read_key("encrypted.pem");
    EXPECT_ERR(tokenclient_client_set_client_cert(c, cert_pem, encrypted), TOKENCLIENT_ERROR_KEY);
    free(encrypted);
    EXPECT_OK(tokenclient_client_set_client_cert(c, NULL, NULL));

    /* set_tls_client_auth: only the two TLS methods */
    EXPECT_INVALID(tokenclient_client_set_tls_client_auth(NULL, TOKENCLIENT_AUTH_TLS_CLIENT_AUTH));
    EXPECT_INVALID(tokenclient_client_set_tls_client_auth(c, TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC));
    EXPECT_INVALID(tokenclient_client_set_tls_client_auth(c, 8));
    EXPECT_OK(tokenclient_client_set_tls_client_auth(c, TOKENCLIENT_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH));
    EXPECT_OK(tokenclient_client_set_tls_client_auth(c, TOKENCLIENT_AUTH_TLS_CLIENT_AUTH));
    /* the TLS methods use no secret */
    EXPECT_ERR(tokenclient_client_set_client_secret(c, "s3cret", TOKENCLIENT_AUTH_TLS_CLIENT_AUTH), TOKENCLIENT_ERROR_CONFIG);

    /* DPoP: no key yet, then keys of every kind, and their refusals */
    char *out = SENTINEL;
    EXPECT_ERR_OUT(tokenclient_client_dpop_thumbprint(c, &out), TOKENCLIENT_ERROR_CONFIG, out);
    EXPECT_ERR_OUT(tokenclient_client_dpop_proof(c, "GET", "https://rs.example/", NULL, NULL, &out),
                   TOKENCLIENT_ERROR_CONFIG, out);
    EXPECT_INVALID(tokenclient_client_set_dpop_key(NULL, NULL, NULL));
    EXPECT_INVALID(tokenclient_client_set_dpop_key(c, BAD_UTF8, NULL));
    EXPECT_INVALID(tokenclient_client_set_dpop_key(c, NULL, BAD_UTF8));
    EXPECT_INVALID(tokenclient_client_set_dpop_key(c, NULL, "ES999"));
    EXPECT_ERR(tokenclient_client_set_dpop_key(c, "not a key", NULL), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_dpop_key(c, key_pem, "RS256"), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_dpop_key(c, key_pem, "HS256"), TOKENCLIENT_ERROR_KEY);
    char *rsa = read_key("rsa2048.pem");
    EXPECT_OK(tokenclient_client_set_dpop_key(c, rsa, "PS256"));
    free(rsa);
    EXPECT_OK(tokenclient_client_set_dpop_key(c, key_pem, NULL));
    EXPECT_OK(tokenclient_client_set_dpop_key(c, NULL, NULL));
    EXPECT_OK(tokenclient_client_set_dpop_key(c, NULL, "ES256"));
    EXPECT_INVALID(tokenclient_client_set_dpop_allow_bearer(NULL, 1));
    EXPECT_OK(tokenclient_client_set_dpop_allow_bearer(c, 1));
    EXPECT_OK(tokenclient_client_set_dpop_allow_bearer(c, 0));
    EXPECT_INVALID_OUT(tokenclient_client_dpop_thumbprint(NULL, &out), out);
    EXPECT_INVALID(tokenclient_client_dpop_thumbprint(c, NULL));
    EXPECT_OK(tokenclient_client_dpop_thumbprint(c, &out));
    CHECK(out != SENTINEL && strlen(out) == 43); /* base64url of SHA-256 */
    tokenclient_string_free(out);
    EXPECT_INVALID_OUT(tokenclient_client_dpop_proof(NULL, "GET", "https://rs.example/", NULL, NULL, &out), out);
    EXPECT_INVALID_OUT(tokenclient_client_dpop_proof(c, NULL, "https://rs.example/", NULL, NULL, &out), out);
    EXPECT_INVALID_OUT(tokenclient_client_dpop_proof(c, "GET", NULL, NULL, NULL, &out), out);
    EXPECT_INVALID_OUT(tokenclient_client_dpop_proof(c, "GET", BAD_UTF8, NULL, NULL, &out), out);
    EXPECT_INVALID_OUT(tokenclient_client_dpop_proof(c, "GET", "https://rs.example/", BAD_UTF8, NULL, &out), out);
    EXPECT_INVALID_OUT(tokenclient_client_dpop_proof(c, "G ET", "https://rs.example/", NULL, NULL, &out), out);
    EXPECT_INVALID_OUT(tokenclient_client_dpop_proof(c, "GET", "http://rs.example/", NULL, NULL, &out), out);
    EXPECT_INVALID_OUT(tokenclient_client_dpop_proof(c, "GET", "https://rs.example/", "", NULL, &out), out);
    EXPECT_ERR_OUT(tokenclient_client_dpop_proof(c, "GET", "https://rs.example/", NULL, "bad nonce", &out),
                   TOKENCLIENT_ERROR_RESPONSE, out);
    EXPECT_INVALID(tokenclient_client_dpop_proof(c, "GET", "https://rs.example/", NULL, NULL, NULL));
    EXPECT_OK(tokenclient_client_dpop_proof(c, "GET", "https://rs.example/r?q=1", "at", "n-1", &out));
    CHECK(out != SENTINEL && strncmp(out, "ey", 2) == 0 && strchr(out, '.') != NULL);
    tokenclient_string_free(out);
    int32_t retry = 7;
    EXPECT_INVALID(tokenclient_client_dpop_answer(NULL, "https://rs.example/", 401, NULL, "n", &retry));
    EXPECT_INVALID(tokenclient_client_dpop_answer(c, NULL, 401, NULL, "n", &retry));
    EXPECT_INVALID(tokenclient_client_dpop_answer(c, "https://rs.example/", 401, NULL, "n", NULL));
    EXPECT_INVALID(tokenclient_client_dpop_answer(c, "https://rs.example/", 401, BAD_UTF8, "n", &retry));
    CHECK(retry == 7);
    EXPECT_ERR(tokenclient_client_dpop_answer(c, "https://rs.example/", 401, "DPoP error=\"use_dpop_nonce\"",
                                              "no spaces allowed", &retry),
               TOKENCLIENT_ERROR_RESPONSE);
    CHECK(retry == 7);
    EXPECT_OK(tokenclient_client_dpop_answer(c, "https://rs.example/", 401, "DPoP error=\"use_dpop_nonce\"", "n-2",
                                             &retry));
    CHECK(retry == 1);
    EXPECT_OK(tokenclient_client_dpop_answer(c, "https://rs.example/", 200, NULL, "n-3", &retry));
    CHECK(retry == 0);
    EXPECT_OK(tokenclient_client_dpop_answer(c, "https://rs.example/", 401, "Bearer error=\"invalid_token\"", NULL,
                                             &retry));
    CHECK(retry == 0);
    free(cert_pem);
    free(key_pem);

    /* set_proxy: "" disables, NULL restores the default */
    EXPECT_INVALID(tokenclient_client_set_proxy(NULL, "http://proxy.internal:3128"));
    EXPECT_INVALID(tokenclient_client_set_proxy(c, BAD_UTF8));
    EXPECT_INVALID(tokenclient_client_set_proxy(c, "http://proxy internal:3128"));
    EXPECT_INVALID(tokenclient_client_set_proxy(c, "http://proxy.internal:3128\r\n"));
    EXPECT_OK(tokenclient_client_set_proxy(c, "http://proxy.internal:3128"));
    EXPECT_OK(tokenclient_client_set_proxy(c, ""));
    EXPECT_OK(tokenclient_client_set_proxy(c, NULL));

    /* add_header: at most 32, not the ones tokenclient sets */
    EXPECT_INVALID(tokenclient_client_add_header(NULL, "X-A", "1"));
    EXPECT_INVALID(tokenclient_client_add_header(c, NULL, "1"));
    EXPECT_INVALID(tokenclient_client_add_header(c, "X-A", NULL));
    EXPECT_INVALID(tokenclient_client_add_header(c, BAD_UTF8, "1"));
    EXPECT_INVALID(tokenclient_client_add_header(c, "X-A", BAD_UTF8));
    EXPECT_INVALID(tokenclient_client_add_header(c, "", "1"));
    EXPECT_INVALID(tokenclient_client_add_header(c, "X A", "1"));
    EXPECT_INVALID(tokenclient_client_add_header(c, "X-A:", "1"));
    EXPECT_INVALID(tokenclient_client_add_header(c, "X-A", "1\r\nX-Injected: 2"));
    EXPECT_INVALID(tokenclient_client_add_header(c, "X-A", "1\n"));
    static const char *const reserved[] = {"Authorization", "content-type", "Content-Length", "HOST",
                                           "Transfer-Encoding"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        EXPECT_INVALID(tokenclient_client_add_header(c, reserved[i], "x"));
    }
    int added = 0;
    for (int i = 0; i < 32; i++) {
        char name[32];
        snprintf(name, sizeof name, "X-Header-%d", i);
        tokenclient_error *e = tokenclient_client_add_header(c, name, "value\twith tab");
        added += e == NULL;
        tokenclient_error_free(e);
    }
    CHECK(added == 32);
    EXPECT_INVALID(tokenclient_client_add_header(c, "X-Header-32", "one too many"));

    /* set_refresh_token: NULL clears, "" is refused */
    EXPECT_INVALID(tokenclient_client_set_refresh_token(NULL, "rt"));
    EXPECT_INVALID(tokenclient_client_set_refresh_token(c, BAD_UTF8));
    EXPECT_INVALID(tokenclient_client_set_refresh_token(c, ""));
    EXPECT_OK(tokenclient_client_set_refresh_token(c, "rt"));
    EXPECT_OK(tokenclient_client_set_refresh_token(c, NULL));

    /* invalidate_token: NULL scope is the default scope */
    EXPECT_INVALID(tokenclient_client_invalidate_token(NULL, NULL));
    EXPECT_INVALID(tokenclient_client_invalidate_token(NULL, "read"));
    EXPECT_INVALID(tokenclient_client_invalidate_token(c, BAD_UTF8));
    EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
    EXPECT_OK(tokenclient_client_invalidate_token(c, "never-fetched"));

    /* set_token_callback: NULL callback removes it */
    EXPECT_INVALID(tokenclient_client_set_token_callback(NULL, NULL, NULL));
    EXPECT_OK(tokenclient_client_set_token_callback(c, NULL, NULL));

    tokenclient_client_free(c);
}

/* The exchange functions and get_token: the argument checks, which all
 * come before any request (the client's URL is unreachable anyway). */
void test_exchange_arguments(void) {
    tokenclient_client *c = NULL;
    /* Port 9 (discard) on loopback: nothing is sent, the checks fail first. */
    if (!EXPECT_OK(tokenclient_client_new("http://127.0.0.1:9/token", CLIENT_ID, &c))) {
        return;
    }
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    tokenclient_token *t;

    EXPECT_INVALID_OUT(tokenclient_client_exchange_code(NULL, "code", "https://app/cb", NULL, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_exchange_code(c, NULL, "https://app/cb", NULL, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_exchange_code(c, "code", NULL, NULL, &t), t);
    EXPECT_INVALID(tokenclient_client_exchange_code(c, "code", "https://app/cb", NULL, NULL));
    EXPECT_INVALID_OUT(tokenclient_client_exchange_code(c, BAD_UTF8, "https://app/cb", NULL, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_exchange_code(c, "code", BAD_UTF8, NULL, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_exchange_code(c, "code", "https://app/cb", BAD_UTF8, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_exchange_code(c, "", "https://app/cb", NULL, &t), t);

    EXPECT_INVALID_OUT(tokenclient_client_refresh(NULL, "rt", NULL, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_refresh(c, NULL, NULL, &t), t);
    EXPECT_INVALID(tokenclient_client_refresh(c, "rt", NULL, NULL));
    EXPECT_INVALID_OUT(tokenclient_client_refresh(c, BAD_UTF8, NULL, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_refresh(c, "rt", BAD_UTF8, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_refresh(c, "", NULL, &t), t);

    EXPECT_INVALID_OUT(tokenclient_client_client_credentials(NULL, NULL, &t), t);
    EXPECT_INVALID(tokenclient_client_client_credentials(c, NULL, NULL));
    EXPECT_INVALID_OUT(tokenclient_client_client_credentials(c, BAD_UTF8, &t), t);

    const char *params[] = {"subject_token", "st", NULL};
    const char *bad_name[] = {BAD_UTF8, "v", NULL};
    const char *bad_value[] = {"n", BAD_UTF8, NULL};
    const char *no_value[] = {"resource", NULL};
    const char *empty_name[] = {"", "v", NULL};
    EXPECT_INVALID_OUT(tokenclient_client_grant(NULL, "client_credentials", params, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_grant(c, NULL, params, &t), t);
    EXPECT_INVALID(tokenclient_client_grant(c, "client_credentials", params, NULL));
    EXPECT_INVALID_OUT(tokenclient_client_grant(c, BAD_UTF8, params, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_grant(c, "", params, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_grant(c, "client_credentials", bad_name, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_grant(c, "client_credentials", bad_value, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_grant(c, "client_credentials", no_value, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_grant(c, "client_credentials", empty_name, &t), t);
    static const char *const reserved[] = {"grant_type", "client_id", "client_secret",
                                           "client_assertion", "client_assertion_type"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        const char *p[] = {reserved[i], "x", NULL};
        EXPECT_INVALID_OUT(tokenclient_client_grant(c, "client_credentials", p, &t), t);
    }
    /* 257 pairs: refused before anything is sent. */
    const char **many = repeated_params(257, "resource", "https://r.example.com");
    EXPECT_INVALID_OUT(tokenclient_client_grant(c, "client_credentials", many, &t), t);
    free(many);

    EXPECT_INVALID_OUT(tokenclient_client_get_token(NULL, NULL, &t), t);
    EXPECT_INVALID(tokenclient_client_get_token(c, NULL, NULL));
    EXPECT_INVALID_OUT(tokenclient_client_get_token(c, BAD_UTF8, &t), t);

    /* No credentials: CONFIG, before any request. */
    tokenclient_client *bare = NULL;
    if (EXPECT_OK(tokenclient_client_new("http://127.0.0.1:9/token", CLIENT_ID, &bare))) {
        EXPECT_ERR_OUT(tokenclient_client_client_credentials(bare, NULL, &t), TOKENCLIENT_ERROR_CONFIG, t);
        EXPECT_ERR_OUT(tokenclient_client_get_token(bare, NULL, &t), TOKENCLIENT_ERROR_CONFIG, t);
        EXPECT_ERR_OUT(tokenclient_client_exchange_code(bare, "code", "https://app/cb", NULL, &t),
                       TOKENCLIENT_ERROR_CONFIG, t);
        tokenclient_client_free(bare);
    }
    tokenclient_client_free(c);
}
