/*
 * The C ABI without a network: every exported function with NULL in each
 * pointer argument, invalid UTF-8, empty and 1 MiB strings; frees with
 * NULL; every key format; assertions; provider URLs; the version; and one
 * client used from 16 threads while another swaps its credentials.
 *
 * Usage: test_core KEYDIR (tests/c/run.sh makes the keys with openssl).
 * Built with -Wall -Wextra -Werror -std=c11; run plainly, under valgrind,
 * and with AddressSanitizer+UBSan and ThreadSanitizer builds.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenclient.h"
#include "check.h"


/* Checks that `call` fails with `kind`, then frees the error. */
#define EXPECT_KIND(call, kind) expect_kind((call), (kind), #call, __LINE__)
#define EXPECT_OK(call) EXPECT_KIND((call), 0)

static const char *keydir;
static const char *const URL = "https://acme.talkdeskid.com/oauth/token";
static const char *const BAD_UTF8 = "\xff\xfe\xc3\x28";

static void expect_kind(tokenclient_error *err, int kind, const char *what, int line) {
  int got = err ? (int)tokenclient_error_get_kind(err) : 0;
  if (got == kind) {
    passed++;
    if (err) {
      /* Every error has a non-empty message. */
      const char *m = tokenclient_error_message(err);
      if (!m || !m[0]) {
        failed++;
        fprintf(stderr, "line %d: %s: empty message\n", line, what);
      }
    }
  } else {
    failed++;
    fprintf(stderr, "line %d: %s: expected kind %d, got %d (%s)\n", line, what, kind, got,
            err ? tokenclient_error_message(err) : "no error");
  }
  tokenclient_error_free(err);
}

static char *read_file(const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", keydir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = fread(buf, 1, (size_t)n, f);
  buf[got] = '\0';
  fclose(f);
  return buf;
}

static tokenclient_client *new_client(void) {
  tokenclient_client *c = NULL;
  EXPECT_OK(tokenclient_client_new(URL, "client-1", &c));
  return c;
}

/* A string of `n` copies of `ch`, NUL-terminated. */
static char *big_string(size_t n, char ch) {
  char *s = malloc(n + 1);
  memset(s, ch, n);
  s[n] = '\0';
  return s;
}

static void test_version(void) {
  char expected[64];
  snprintf(expected, sizeof expected, "%d.%d.%d", TOKENCLIENT_VERSION_MAJOR, TOKENCLIENT_VERSION_MINOR,
           TOKENCLIENT_VERSION_PATCH);
  CHECK(strcmp(tokenclient_version(), expected) == 0);
}

static void test_error_accessors_with_null(void) {
  CHECK(tokenclient_error_get_kind(NULL) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(tokenclient_error_message(NULL) != NULL && tokenclient_error_message(NULL)[0] != '\0');
  CHECK(tokenclient_error_http_status(NULL) == 0);
  CHECK(tokenclient_error_oauth_code(NULL) == NULL);
  CHECK(tokenclient_error_oauth_description(NULL) == NULL);
  CHECK(tokenclient_error_oauth_uri(NULL) == NULL);
  /* An error that is not an OAuth error has no OAuth fields. */
  tokenclient_client *c = NULL;
  tokenclient_error *e = tokenclient_client_new(NULL, "x", &c);
  CHECK(e != NULL && c == NULL);
  CHECK(tokenclient_error_oauth_code(e) == NULL && tokenclient_error_http_status(e) == 0);
  CHECK(strstr(tokenclient_error_message(e), "token_url") != NULL);
  tokenclient_error_free(e);
}

static void test_frees_accept_null(void) {
  tokenclient_error_free(NULL);
  tokenclient_client_free(NULL);
  tokenclient_token_free(NULL);
  tokenclient_string_free(NULL);
  CHECK(1);
}

static void test_token_accessors_with_null(void) {
  CHECK(tokenclient_token_access_token(NULL) == NULL);
  CHECK(tokenclient_token_token_type(NULL) == NULL);
  CHECK(tokenclient_token_expires_in(NULL) == -1);
  CHECK(tokenclient_token_scope(NULL) == NULL);
  CHECK(tokenclient_token_refresh_token(NULL) == NULL);
  CHECK(tokenclient_token_id_token(NULL) == NULL);
  CHECK(tokenclient_token_get(NULL, "sid") == NULL);
  CHECK(tokenclient_token_json(NULL) == NULL);
}

static void test_client_new(void) {
  tokenclient_client *c = (tokenclient_client *)0x1;
  EXPECT_KIND(tokenclient_client_new(NULL, "x", &c), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_new(URL, NULL, &c), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(c == (tokenclient_client *)0x1); /* untouched on error */
  EXPECT_KIND(tokenclient_client_new(URL, "x", NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_new(BAD_UTF8, "x", &c), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_new(URL, BAD_UTF8, &c), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_new("", "x", &c), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_new(URL, "", &c), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_new("http://example.com/token", "x", &c), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_new("not a url", "x", &c), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(c == (tokenclient_client *)0x1);
  char *huge = big_string(1 << 20, 'a');
  EXPECT_KIND(tokenclient_client_new(huge, "x", &c), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_new(URL, huge, &c), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  free(huge);
  c = NULL;
  EXPECT_OK(tokenclient_client_new("http://127.0.0.1:8080/token", "x", &c));
  CHECK(c != NULL);
  tokenclient_client_free(c);
}

/* Every string setter: NULL client, NULL/bad UTF-8/empty/1 MiB value. */
typedef tokenclient_error *(*string_setter)(tokenclient_client *, const char *);

static void check_string_setter(const char *name, string_setter set, int null_ok) {
  tokenclient_client *c = new_client();
  char *huge = big_string(1 << 20, 'b');
  (void)name;
  EXPECT_KIND(set(NULL, "x"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(set(c, BAD_UTF8), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(set(c, ""), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(set(c, huge), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  if (null_ok) {
    EXPECT_OK(set(c, NULL));
  } else {
    EXPECT_KIND(set(c, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  }
  free(huge);
  tokenclient_client_free(c);
}

static tokenclient_error *set_secret_basic(tokenclient_client *c, const char *s) {
  return tokenclient_client_set_client_secret(c, s, TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC);
}
static void test_setters(void) {
  check_string_setter("set_client_secret", set_secret_basic, 0);
  check_string_setter("set_hmac_alg", tokenclient_client_set_hmac_alg, 0);
  check_string_setter("set_audience", tokenclient_client_set_audience, 0);
  check_string_setter("add_audience", tokenclient_client_add_audience, 0);
  check_string_setter("set_ca_file", tokenclient_client_set_ca_file, 1);

  tokenclient_client *c = new_client();
  EXPECT_KIND(tokenclient_client_set_public(NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_public(c));
  EXPECT_KIND(tokenclient_client_set_client_secret(c, "s", 99), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_client_secret(c, "s", TOKENCLIENT_AUTH_NONE), TOKENCLIENT_ERROR_CONFIG);
  EXPECT_KIND(tokenclient_client_set_client_secret(c, "s", TOKENCLIENT_AUTH_PRIVATE_KEY_JWT), TOKENCLIENT_ERROR_CONFIG);
  EXPECT_KIND(tokenclient_client_set_client_secret(c, "0123456789012345678901234567890", TOKENCLIENT_AUTH_CLIENT_SECRET_JWT),
              TOKENCLIENT_ERROR_KEY); /* 31 bytes < 32 */
  EXPECT_OK(tokenclient_client_set_client_secret(c, "01234567890123456789012345678901", TOKENCLIENT_AUTH_CLIENT_SECRET_JWT));
  EXPECT_KIND(tokenclient_client_set_hmac_alg(c, "HS512"), TOKENCLIENT_ERROR_KEY);
  EXPECT_KIND(tokenclient_client_set_hmac_alg(c, "ES256"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_hmac_alg(c, "HS256"));

  EXPECT_KIND(tokenclient_client_set_assertion_lifetime(NULL, 60), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_assertion_lifetime(c, 0), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_assertion_lifetime(c, 3601), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_assertion_lifetime(c, 60));
  EXPECT_KIND(tokenclient_client_set_clock_skew(NULL, 5), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_clock_skew(c, 601), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_clock_skew(c, 0));
  EXPECT_KIND(tokenclient_client_set_timeout_ms(NULL, 1, 1), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_timeout_ms(c, 0, 1000), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_timeout_ms(c, 1000, 600001), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_timeout_ms(c, 1000, 2000));
  EXPECT_KIND(tokenclient_client_set_max_response_bytes(NULL, 4096), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_max_response_bytes(c, 10), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_max_response_bytes(c, 4096));

  EXPECT_KIND(tokenclient_client_set_ca_file(c, "/nonexistent/ca.pem"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_client_cert(NULL, NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_client_cert(c, "/etc/hostname", NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_client_cert(c, NULL, "/etc/hostname"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_client_cert(c, BAD_UTF8, BAD_UTF8), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_client_cert(c, NULL, NULL));

  EXPECT_KIND(tokenclient_client_set_proxy(NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_proxy(c, BAD_UTF8), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_proxy(c, "http://a b"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_proxy(c, ""));
  EXPECT_OK(tokenclient_client_set_proxy(c, NULL));

  EXPECT_KIND(tokenclient_client_add_header(NULL, "X-A", "b"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_add_header(c, NULL, "b"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_add_header(c, "X-A", NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_add_header(c, BAD_UTF8, "b"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_add_header(c, "X-A", "b\r\nInjected: 1"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_add_header(c, "Authorization", "x"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_add_header(c, "", "x"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_add_header(c, "X-Request-Source", "tests"));
  tokenclient_client_free(c);
}

/* Decodes the payload (second part) of a JWS into a new string. */
static char *jws_payload(const char *jwt) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char *start = strchr(jwt, '.');
  if (!start) return NULL;
  start++;
  const char *end = strchr(start, '.');
  if (!end) return NULL;
  size_t n = (size_t)(end - start);
  char *out = calloc(n, 1);
  size_t o = 0;
  unsigned acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    const char *p = strchr(alphabet, start[i]);
    if (!p || !*p) {
      free(out);
      return NULL;
    }
    acc = (acc << 6) | (unsigned)(p - alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (char)((acc >> bits) & 0xff);
    }
  }
  out[o] = '\0';
  return out;
}

static void expect_assertion(tokenclient_client *c, const char *alg_fragment) {
  char *jwt = (char *)0x1;
  EXPECT_OK(tokenclient_client_create_assertion(c, &jwt));
  if (jwt == (char *)0x1) return;
  char *payload = jws_payload(jwt);
  CHECK(payload != NULL);
  if (payload) {
    CHECK(strstr(payload, "\"iss\":\"client-1\"") != NULL);
    CHECK(strstr(payload, "\"sub\":\"client-1\"") != NULL);
    CHECK(strstr(payload, "\"aud\":\"https://acme.talkdeskid.com/oauth/token\"") != NULL);
    CHECK(strstr(payload, "\"jti\":\"") != NULL);
  }
  (void)alg_fragment;
  free(payload);
  tokenclient_string_free(jwt);
}

static void test_keys_and_assertions(void) {
  static const char *const good[] = {"p256.pem", "p256-sec1.pem", "p384.pem", "p521.pem", "rsa2048-pkcs1.pem",
                                     "ed25519.pem", "p256.b64"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    tokenclient_client *c = new_client();
    char *key = read_file(good[i]);
    tokenclient_error *e = tokenclient_client_set_private_key(c, key, "kid-1", NULL);
    if (e) fprintf(stderr, "key %s: %s\n", good[i], tokenclient_error_message(e));
    EXPECT_OK(e);
    expect_assertion(c, NULL);
    free(key);
    tokenclient_client_free(c);
  }
  static const struct {
    const char *file, *word;
  } bad[] = {{"encrypted.pem", "encrypted"}, {"public.pem", "public"}, {"rsa1024.pem", "2048"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tokenclient_client *c = new_client();
    char *key = read_file(bad[i].file);
    tokenclient_error *e = tokenclient_client_set_private_key(c, key, NULL, NULL);
    CHECK(e != NULL && tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_KEY);
    CHECK(e != NULL && strstr(tokenclient_error_message(e), bad[i].word) != NULL);
    tokenclient_error_free(e);
    free(key);
    tokenclient_client_free(c);
  }
  tokenclient_client *c = new_client();
  char *p256 = read_file("p256.pem");
  EXPECT_KIND(tokenclient_client_set_private_key(NULL, p256, NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_private_key(c, p256, NULL, "ES384"), TOKENCLIENT_ERROR_KEY);
  EXPECT_KIND(tokenclient_client_set_private_key(c, p256, NULL, "XX999"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_private_key(c, p256, BAD_UTF8, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_private_key(c, p256, NULL, BAD_UTF8), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_private_key(c, "garbage", NULL, NULL), TOKENCLIENT_ERROR_KEY);
  EXPECT_KIND(tokenclient_client_set_private_key(c, "", NULL, NULL), TOKENCLIENT_ERROR_KEY);
  EXPECT_KIND(tokenclient_client_set_private_key(c, NULL, NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_private_key(c, BAD_UTF8, NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  {
    char *huge = big_string((1 << 20) + 1, 'k');
    EXPECT_KIND(tokenclient_client_set_private_key(c, huge, NULL, NULL), TOKENCLIENT_ERROR_KEY);
    free(huge);
  }

  /* No credentials, or credentials that do not sign: CONFIG. */
  char *jwt = (char *)0x1;
  EXPECT_KIND(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG);
  EXPECT_OK(tokenclient_client_set_client_secret(c, "pw", TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC));
  EXPECT_KIND(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG);
  CHECK(jwt == (char *)0x1);
  EXPECT_KIND(tokenclient_client_create_assertion(NULL, &jwt), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_private_key(c, p256, NULL, "ES256"));
  EXPECT_KIND(tokenclient_client_create_assertion(c, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  expect_assertion(c, "ES256");
  /* client_secret_jwt signs too. */
  EXPECT_OK(tokenclient_client_set_client_secret(c, "01234567890123456789012345678901", TOKENCLIENT_AUTH_CLIENT_SECRET_JWT));
  expect_assertion(c, "HS256");
  free(p256);
  tokenclient_client_free(c);
}

static void test_exchange_arguments(void) {
  tokenclient_client *c = new_client();
  tokenclient_token *t = (tokenclient_token *)0x1;
  EXPECT_OK(tokenclient_client_set_public(c));
  EXPECT_KIND(tokenclient_client_exchange_code(NULL, "c", "r", NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_exchange_code(c, NULL, "r", NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_exchange_code(c, "c", NULL, NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_exchange_code(c, "c", "r", NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_exchange_code(c, BAD_UTF8, "r", NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_exchange_code(c, "c", "r", BAD_UTF8, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_exchange_code(c, "", "r", NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_refresh(NULL, "rt", NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_refresh(c, NULL, NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_refresh(c, "rt", BAD_UTF8, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_refresh(c, "rt", NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_refresh(c, "", NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_client_credentials(NULL, NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_client_credentials(c, BAD_UTF8, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_client_credentials(c, NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  const char *odd[] = {"a", NULL};
  const char *bad[] = {"a", "\xff", NULL};
  const char *reserved[] = {"client_id", "x", NULL};
  EXPECT_KIND(tokenclient_client_grant(NULL, "g", NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_grant(c, NULL, NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_grant(c, "g", NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_grant(c, "", NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_grant(c, BAD_UTF8, NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_grant(c, "g", odd, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_grant(c, "g", bad, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_grant(c, "g", reserved, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(t == (tokenclient_token *)0x1);
  /* No credentials at all: CONFIG, before any network. */
  tokenclient_client *fresh = new_client();
  EXPECT_KIND(tokenclient_client_client_credentials(fresh, NULL, &t), TOKENCLIENT_ERROR_CONFIG);
  tokenclient_client_free(fresh);
  tokenclient_client_free(c);
}

static void test_cache_arguments(void) {
  tokenclient_client *c = new_client();
  tokenclient_token *t = (tokenclient_token *)0x1;
  EXPECT_KIND(tokenclient_client_get_token(NULL, NULL, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_get_token(c, NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_get_token(c, BAD_UTF8, &t), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_get_token(c, NULL, &t), TOKENCLIENT_ERROR_CONFIG); /* no credentials */
  CHECK(t == (tokenclient_token *)0x1);
  EXPECT_KIND(tokenclient_client_set_refresh_token(NULL, "rt"), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_refresh_token(c, ""), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_refresh_token(c, BAD_UTF8), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_refresh_token(c, "rt"));
  EXPECT_OK(tokenclient_client_set_refresh_token(c, NULL));
  EXPECT_KIND(tokenclient_client_invalidate_token(NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_invalidate_token(c, BAD_UTF8), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
  EXPECT_OK(tokenclient_client_invalidate_token(c, "read"));
  EXPECT_KIND(tokenclient_client_set_token_callback(NULL, NULL, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_token_callback(c, NULL, NULL));
  EXPECT_KIND(tokenclient_client_set_retry_policy(NULL, 1, 1, 1), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_retry_policy(c, 11, 1, 1), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_retry_policy(c, 1, 100, 10), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_retry_policy(c, 3, 100, 1000));
  EXPECT_KIND(tokenclient_client_set_refresh_policy(NULL, 80, 10), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_refresh_policy(c, 0, 10), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_refresh_policy(c, 101, 10), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_client_set_refresh_policy(c, 80, 3601), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(tokenclient_client_set_refresh_policy(c, 50, 30));
  tokenclient_client_free(c);
}

static void test_providers(void) {
  char *url = (char *)0x1;
  static const struct {
    tokenclient_talkdesk_region region;
    const char *expected;
  } regions[] = {{TOKENCLIENT_TALKDESK_US, "https://acme.talkdeskid.com/oauth/token"},
                 {TOKENCLIENT_TALKDESK_EU, "https://acme.talkdeskid.eu/oauth/token"},
                 {TOKENCLIENT_TALKDESK_CA, "https://acme.talkdeskidca.com/oauth/token"}};
  for (size_t i = 0; i < 3; i++) {
    url = NULL;
    EXPECT_OK(tokenclient_talkdesk_token_url("acme", regions[i].region, &url));
    CHECK(url && strcmp(url, regions[i].expected) == 0);
    tokenclient_string_free(url);
  }
  url = (char *)0x1;
  EXPECT_KIND(tokenclient_talkdesk_token_url("a/b", TOKENCLIENT_TALKDESK_US, &url), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_talkdesk_token_url("x@y", TOKENCLIENT_TALKDESK_US, &url), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_talkdesk_token_url("acme", 7, &url), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_talkdesk_token_url(NULL, 0, &url), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_talkdesk_token_url(BAD_UTF8, 0, &url), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_talkdesk_token_url("", 0, &url), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_talkdesk_token_url("acme", 0, NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(url == (char *)0x1);
  url = NULL;
  EXPECT_OK(tokenclient_pingone_token_url("https://auth.pingone.com", "0f1e2d3c-4b5a", &url));
  CHECK(url && strcmp(url, "https://auth.pingone.com/0f1e2d3c-4b5a/as/token") == 0);
  tokenclient_string_free(url);
  url = (char *)0x1;
  EXPECT_KIND(tokenclient_pingone_token_url(NULL, "e", &url), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_pingone_token_url("https://auth.pingone.com", NULL, &url), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_pingone_token_url("https://auth.pingone.com", "e/../x", &url), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_pingone_token_url("https://auth.pingone.com", BAD_UTF8, &url), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  EXPECT_KIND(tokenclient_pingone_token_url("https://auth.pingone.com", "e", NULL), TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(url == (char *)0x1);
}

/* 16 threads sign assertions on one client while another swaps its credentials. */
static tokenclient_client *shared;
static char *shared_keys[3];
static int rounds;

static void *signer(void *arg) {
  long bad = 0;
  (void)arg;
  for (int i = 0; i < rounds; i++) {
    char *jwt = NULL;
    tokenclient_error *e = tokenclient_client_create_assertion(shared, &jwt);
    if (e || !jwt) bad++;
    tokenclient_error_free(e);
    tokenclient_string_free(jwt);
  }
  return (void *)bad;
}

static void *swapper(void *arg) {
  long bad = 0;
  (void)arg;
  for (int i = 0; i < rounds; i++) {
    tokenclient_error *e = (i % 4 == 3)
      ? tokenclient_client_set_client_secret(shared, "01234567890123456789012345678901xx", TOKENCLIENT_AUTH_CLIENT_SECRET_JWT)
      : tokenclient_client_set_private_key(shared, shared_keys[i % 3], "k", NULL);
    if (e) bad++;
    tokenclient_error_free(e);
    e = tokenclient_client_set_audience(shared, (i % 2) ? "https://issuer.example" : URL);
    if (e) bad++;
    tokenclient_error_free(e);
  }
  return (void *)bad;
}

static void test_threads(void) {
  pthread_t threads[17];
  shared = new_client();
  shared_keys[0] = read_file("p256.pem");
  shared_keys[1] = read_file("ed25519.pem");
  shared_keys[2] = read_file("p256.b64");
  EXPECT_OK(tokenclient_client_set_private_key(shared, shared_keys[0], NULL, NULL));
  for (int i = 0; i < 16; i++) pthread_create(&threads[i], NULL, signer, NULL);
  pthread_create(&threads[16], NULL, swapper, NULL);
  long bad = 0;
  for (int i = 0; i < 17; i++) {
    void *r;
    pthread_join(threads[i], &r);
    bad += (long)r;
  }
  CHECK(bad == 0);
  for (int i = 0; i < 3; i++) free(shared_keys[i]);
  tokenclient_client_free(shared);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_core KEYDIR\n");
    return 2;
  }
  keydir = argv[1];
  rounds = getenv("TC_ROUNDS") ? atoi(getenv("TC_ROUNDS")) : 200;
  test_version();
  test_error_accessors_with_null();
  test_frees_accept_null();
  test_token_accessors_with_null();
  test_client_new();
  test_setters();
  test_keys_and_assertions();
  test_exchange_arguments();
  test_cache_arguments();
  test_providers();
  test_threads();
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
