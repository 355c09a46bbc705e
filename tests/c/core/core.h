/*
 * tests/c/core/core.h: what the files of the test_core program share: the
 * checks of tokenclient's results, the helpers, the loopback server's
 * controls and each file's test functions (main.c runs them). Every file of
 * tests/c/core includes this first, and through it tests/c/check.h.
 */
#ifndef TOKENCLIENT_TEST_CORE_H
#define TOKENCLIENT_TEST_CORE_H

/* Before any system header: each file includes this first. */
#define _POSIX_C_SOURCE 200809L

/* Counters shared by all the files of the program (check.h). */
#define CHECK_SHARED_COUNTERS
#include "../check.h"

#include "tokenclient.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Checks of tokenclient's results (helpers.c)                          */

/* Checks that `e` is an error of `kind` with a one-line message that
 * mentions `needle` (unless NULL), then frees it. */
int expect_error_at(tokenclient_error *e, tokenclient_error_kind kind, const char *needle, const char *call,
                    const char *file, int line);

#define EXPECT_ERR(call, kind) expect_error_at((call), (kind), NULL, #call, __FILE__, __LINE__)
#define EXPECT_ERR_MSG(call, kind, needle) expect_error_at((call), (kind), (needle), #call, __FILE__, __LINE__)
#define EXPECT_INVALID(call) EXPECT_ERR(call, TOKENCLIENT_ERROR_INVALID_ARGUMENT)

/* Checks that a call succeeded; prints and frees the error otherwise. */
int expect_ok_at(tokenclient_error *e, const char *call, const char *file, int line);

#define EXPECT_OK(call) expect_ok_at((call), #call, __FILE__, __LINE__)

/* Out-parameters are preset to this and must still hold it after an error. */
extern char sentinel_object;
#define SENTINEL ((void *)&sentinel_object)

/* `call` fails with INVALID_ARGUMENT and leaves `out` untouched. */
#define EXPECT_INVALID_OUT(call, out)                                                             \
    do {                                                                                          \
        (out) = SENTINEL;                                                                         \
        EXPECT_INVALID(call);                                                                     \
        CHECK((void *)(out) == SENTINEL);                                                         \
    } while (0)

/* `call` fails with `kind` and leaves `out` untouched. */
#define EXPECT_ERR_OUT(call, kind, out)                                                           \
    do {                                                                                          \
        (out) = SENTINEL;                                                                         \
        EXPECT_ERR(call, kind);                                                                   \
        CHECK((void *)(out) == SENTINEL);                                                         \
    } while (0)

extern const char BAD_UTF8[];
extern const char OVERLONG_UTF8[];
extern const char SURROGATE_UTF8[];
extern const char TRUNCATED_UTF8[];

#define TOKEN_URL "https://idp.example.com/oauth/token"
#define CLIENT_ID "client-1"

/* ------------------------------------------------------------------ */
/* The program's settings (main.c)                                      */

/* KEY_DIR, the keys run.sh made. */
extern const char *key_dir;

/* TC_QUICK=1 (run.sh sets it under valgrind): parse the 2048-bit RSA key 2
 * times instead of 9. Each parse runs OpenSSL's RSA consistency check,
 * which takes ~70 ms natively but ~10 s under valgrind. */
extern int quick;

/* ------------------------------------------------------------------ */
/* Helpers (helpers.c)                                                  */

/* Reads KEY_DIR/name into a new NUL-terminated string; exits if missing. */
char *read_key(const char *name);
/* Replaces every `from` in `text` by `to`; returns a new string. */
char *replace_all(const char *text, const char *from, const char *to);
/* n times c, as a new string. */
char *repeat_char(char c, size_t n);
/* A secret of n characters that starts with c and does not repeat itself
 * (the suite-wide secret scan can tell it from a message). */
char *secret_of(char c, size_t n);
/* `pairs` times the parameter `name`=`value`, as a new NULL-terminated
 * array for tokenclient_client_grant (free it with free). */
const char **repeated_params(int pairs, const char *name, const char *value);
/* A client of TOKEN_URL and CLIENT_ID; exits if it cannot be made. */
tokenclient_client *new_client(void);
void sleep_ms(int ms);

/* ------------------------------------------------------------------ */
/* Encodings and assertions (jwt.c)                                     */

/* base64url without padding of n bytes, as a new string. */
char *b64url_encode(const unsigned char *data, size_t n);
/* The bytes printed as "aa:bb:..." on the indented lines after the line
 * `label` (e.g. "priv:") of `openssl pkey -text` output. */
size_t hex_block(const char *text, const char *label, unsigned char *out, size_t cap);

/* A compact JWS split and its header and payload decoded. */
struct jwt {
    char *header;
    char *payload;
    size_t signature_len;
};

int jwt_decode(const char *jwt, struct jwt *out);
void jwt_free(struct jwt *j);
/* The integer claim `name` of a compact JSON object, or -1. */
long long json_int(const char *json, const char *name);

/* Creates an assertion with `c` and checks its header and claims:
 * `alg`, `typ`, `kid` (NULL: none), `iss` = `sub` = CLIENT_ID, a `jti`,
 * and `aud_json` (e.g. "\"aud\":\"https://...\"") when not NULL. */
void check_assertion_at(const tokenclient_client *c, const char *alg, const char *kid, const char *aud_json,
                        const char *file, int line);

#define CHECK_ASSERTION(c, alg, kid, aud_json) check_assertion_at((c), (alg), (kid), (aud_json), __FILE__, __LINE__)
#define DEFAULT_AUD "\"aud\":\"" TOKEN_URL "\""

/* ------------------------------------------------------------------ */
/* A loopback HTTP server, one canned answer at a time (server.c)       */

int server_start(void);
void server_stop(void);
int server_port(void);
/* The next answers: `status` (e.g. "200 OK") with `headers` (each ending
 * in CRLF) and `body`. */
void serve_headers(const char *status, const char *headers, const char *content_type, const char *body);
void serve(const char *status, const char *content_type, const char *body);
void serve_json(const char *body);
/* Wait `ms` before each answer from now on (0: none). */
void serve_delay(int ms);
/* Answer 400 with the request's body. */
void serve_echo(void);
/* Read the request, wait `ms`, close without answering. */
void serve_hang(int ms);
/* How many requests the server has read. */
int requests(void);
/* Whether the last request contains `needle`. */
int request_has(const char *needle);

#define CHECK_REQUEST(needle) check_at(request_has(needle), "the request contains " needle, __FILE__, __LINE__)
#define CHECK_NOT_REQUEST(needle) check_at(!request_has(needle), "the request lacks " needle, __FILE__, __LINE__)

/* A client of the loopback server: no retries, no proxy from the
 * environment. */
tokenclient_client *server_client(void);

/* Checks an OAuth error's accessors; frees it (exchange_errors.c). */
void check_oauth_error_at(tokenclient_error *e, int status, const char *code, const char *description,
                          const char *uri, const char *file, int line);

/* ------------------------------------------------------------------ */
/* The tests, by file (main.c runs them)                               */

/* accessors.c: the version, the error and token accessors */
void test_version(void);
void test_error_accessors(void);
void test_token_accessors_null(void);
/* arguments.c: client creation, every setter's and exchange's arguments */
void test_client_new(void);
void test_setter_arguments(void);
void test_exchange_arguments(void);
/* keys.c: private keys of every format, JWKs, client secrets */
void test_keys(void);
void test_jwk(void);
void test_client_secret_jwt(void);
/* claims.c: the claims of assertions */
void test_claims(void);
/* providers.c: Talkdesk and PingOne token URLs */
void test_provider_urls(void);
/* exchanges.c, exchange_errors.c, cache.c: against the loopback server */
void test_exchanges(void);
void test_exchange_errors(void);
void test_cache(void);
/* events.c: the log callback and the counters, against the loopback server */
void test_events(void);
/* cancel.c: call options, cancel handles and deadlines */
void test_cancel(void);
/* threads.c: assertions from threads while the key and audience change */
void test_threads(int iterations);
void test_signer_arguments(void);
void test_signer(void);
void test_dpop_signer(void);
void test_signer_threads(int iterations);

#endif
