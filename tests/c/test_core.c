/*
 * tests/c/test_core.c: every function of include/tokenclient.h, without a
 * network.
 *
 *  - NULL in each pointer argument gives TOKENCLIENT_ERROR_INVALID_ARGUMENT
 *    and leaves the out-parameter as it was; invalid UTF-8 in each string
 *    argument likewise; every *_free and accessor accepts NULL.
 *  - Every setter's accepted and refused values.
 *  - Private keys of every format the header names (made by run.sh with the
 *    openssl CLI), the keys it refuses, algorithm checks, client secrets.
 *  - The claims of assertions, decoded here (the signatures are verified
 *    elsewhere, with PyJWT).
 *  - Token exchanges, the token cache and every token and error accessor,
 *    against a tiny HTTP server on 127.0.0.1 run by this program.
 *  - Threads creating assertions while another swaps the key and audience.
 *
 * Usage: test_core KEY_DIR
 * Environment: TC_ITERATIONS (assertions per thread, default 500; run.sh
 * lowers it under valgrind), TC_TIMING=1 (print how long each part takes), TC_QUICK=1
 * (fewer RSA key parses, for valgrind).
 * Prints "N passed, N failed" last; exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L

#include "tokenclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Checks                                                               */

static atomic_int passed;
static atomic_int failed;

static int check_at(int ok, const char *what, int line) {
    if (ok) {
        atomic_fetch_add(&passed, 1);
    } else {
        atomic_fetch_add(&failed, 1);
        fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, line, what);
    }
    return ok;
}

#define CHECK(cond) check_at((cond) ? 1 : 0, #cond, __LINE__)


/* Checks that `e` is an error of `kind` with a one-line message that
 * mentions `needle` (unless NULL), then frees it. */
static int expect_error_at(tokenclient_error *e, tokenclient_error_kind kind, const char *needle,
                           const char *call, int line) {
    char what[1024];
    if (e == NULL) {
        snprintf(what, sizeof what, "%s: expected error kind %d, got success", call, (int)kind);
        return check_at(0, what, line);
    }
    tokenclient_error_kind got = tokenclient_error_get_kind(e);
    const char *msg = tokenclient_error_message(e);
    snprintf(what, sizeof what, "%s: expected error kind %d, got %d (%s)", call, (int)kind,
             (int)got, msg ? msg : "(null message)");
    int ok = check_at(got == kind, what, line);
    snprintf(what, sizeof what, "%s: the message is one non-empty line", call);
    ok &= check_at(msg != NULL && msg[0] != '\0' && strchr(msg, '\n') == NULL, what, line);
    if (needle != NULL) {
        snprintf(what, sizeof what, "%s: the message \"%s\" mentions \"%s\"", call,
                 msg ? msg : "(null)", needle);
        ok &= check_at(msg != NULL && strstr(msg, needle) != NULL, what, line);
    }
    tokenclient_error_free(e);
    return ok;
}

#define EXPECT_ERR(call, kind) expect_error_at((call), (kind), NULL, #call, __LINE__)
#define EXPECT_ERR_MSG(call, kind, needle) expect_error_at((call), (kind), (needle), #call, __LINE__)
#define EXPECT_INVALID(call) EXPECT_ERR(call, TOKENCLIENT_ERROR_INVALID_ARGUMENT)

/* Checks that a call succeeded; prints and frees the error otherwise. */
static int expect_ok_at(tokenclient_error *e, const char *call, int line) {
    if (e == NULL) {
        return check_at(1, call, line);
    }
    char what[1024];
    snprintf(what, sizeof what, "%s: unexpected error kind %d: %s", call,
             (int)tokenclient_error_get_kind(e), tokenclient_error_message(e));
    tokenclient_error_free(e);
    return check_at(0, what, line);
}

#define EXPECT_OK(call) expect_ok_at((call), #call, __LINE__)

/* Out-parameters are preset to this and must still hold it after an error. */
static char sentinel_object;
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

static const char BAD_UTF8[] = "\xff\xfe";
static const char OVERLONG_UTF8[] = "\xc0\xaf";
static const char SURROGATE_UTF8[] = "\xed\xa0\x80";
static const char TRUNCATED_UTF8[] = "https://idp.example.com/\xe2\x82";

#define TOKEN_URL "https://idp.example.com/oauth/token"
#define CLIENT_ID "client-1"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

static const char *key_dir;

/* TC_QUICK=1 (run.sh sets it under valgrind): parse the 2048-bit RSA key 2
 * times instead of 9. Each parse runs OpenSSL's RSA consistency check,
 * which takes ~70 ms natively but ~10 s under valgrind. */
static int quick;

/* Reads KEY_DIR/name into a new NUL-terminated string; exits if missing. */
static char *read_key(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", key_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s (run tests/c/run.sh, which makes the keys)\n", path);
        exit(2);
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *grown = realloc(text, cap);
            if (grown == NULL) {
                abort();
            }
            text = grown;
        }
        size_t n = fread(text + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

/* Replaces every `from` in `text` by `to`; returns a new string. */
static char *replace_all(const char *text, const char *from, const char *to) {
    size_t from_len = strlen(from), to_len = strlen(to), count = 0;
    for (const char *p = text; (p = strstr(p, from)) != NULL; p += from_len) {
        count++;
    }
    char *out = malloc(strlen(text) + count * to_len + 1);
    if (out == NULL) {
        abort();
    }
    char *o = out;
    for (const char *p = text;;) {
        const char *hit = strstr(p, from);
        if (hit == NULL) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        memcpy(o, to, to_len);
        o += to_len;
        p = hit + from_len;
    }
    return out;
}

static char *repeat_char(char c, size_t n) {
    char *s = malloc(n + 1);
    if (s == NULL) {
        abort();
    }
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* A secret of n characters that starts with c and does not repeat itself:
 * unlike a run of one letter, no 16 characters of it occur in ordinary text,
 * so the suite-wide secret scan (tests/audit) can tell it from a message. */
static char *secret_of(char c, size_t n) {
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char *s = repeat_char(c, n);
    for (size_t i = 1; i < n; i++) s[i] = alphabet[(i * 7 + (size_t)c * 13 + i * i) % 62];
    return s;
}

static int b64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Decodes n base64url characters (no padding) into a new string, or NULL. */
static char *b64url_decode(const char *s, size_t n) {
    char *out = malloc(n * 3 / 4 + 2);
    if (out == NULL) {
        abort();
    }
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value(s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = ((acc << 6) | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return out;
}

/* base64url without padding of n bytes, as a new string. */
static char *b64url_encode(const unsigned char *data, size_t n) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(n * 4 / 3 + 4);
    if (out == NULL) {
        abort();
    }
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | data[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = alphabet[(acc >> bits) & 63];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0) {
        out[o++] = alphabet[(acc << (6 - bits)) & 63];
    }
    out[o] = '\0';
    return out;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The bytes printed as "aa:bb:..." on the indented lines after the line
 * `label` (e.g. "priv:") of `openssl pkey -text` output. */
static size_t hex_block(const char *text, const char *label, unsigned char *out, size_t cap) {
    char pattern[32];
    snprintf(pattern, sizeof pattern, "\n%s\n", label);
    const char *p = strstr(text, pattern);
    if (p == NULL) {
        return 0;
    }
    p += strlen(pattern);
    size_t n = 0;
    while (*p == ' ') {
        for (; *p && *p != '\n'; p++) {
            if (hex_digit(p[0]) >= 0 && hex_digit(p[1]) >= 0) {
                if (n < cap) {
                    out[n++] = (unsigned char)(hex_digit(p[0]) * 16 + hex_digit(p[1]));
                }
                p++;
            }
        }
        if (*p == '\n') {
            p++;
        }
    }
    return n;
}

/* A compact JWS split and its header and payload decoded. */
struct jwt {
    char *header;
    char *payload;
    size_t signature_len;
};

static int jwt_decode(const char *jwt, struct jwt *out) {
    memset(out, 0, sizeof *out);
    const char *dot1 = strchr(jwt, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL) {
        return 0;
    }
    out->header = b64url_decode(jwt, (size_t)(dot1 - jwt));
    out->payload = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    out->signature_len = strlen(dot2 + 1);
    for (const char *p = dot2 + 1; *p; p++) {
        if (b64url_value(*p) < 0) {
            out->signature_len = 0;
        }
    }
    return out->header != NULL && out->payload != NULL;
}

static void jwt_free(struct jwt *j) {
    free(j->header);
    free(j->payload);
    memset(j, 0, sizeof *j);
}

/* The integer claim `name` of a compact JSON object, or -1. */
static long long json_int(const char *json, const char *name) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":", name);
    const char *p = strstr(json, pattern);
    return p ? strtoll(p + strlen(pattern), NULL, 10) : -1;
}

/* Creates an assertion with `c` and checks its header and claims:
 * `alg`, `typ`, `kid` (NULL: none), `iss` = `sub` = CLIENT_ID, a `jti`,
 * and `aud_json` (e.g. "\"aud\":\"https://...\"") when not NULL. */
static void check_assertion_at(const tokenclient_client *c, const char *alg, const char *kid,
                               const char *aud_json, int line) {
    char *jwt = SENTINEL;
    if (!expect_ok_at(tokenclient_client_create_assertion(c, &jwt), "create_assertion", line)) {
        return;
    }
    if (!check_at(jwt != SENTINEL && jwt != NULL, "an assertion was written", line)) {
        return;
    }
    struct jwt j;
    char what[2048];
    if (check_at(jwt_decode(jwt, &j), "the assertion is three base64url parts", line)) {
        char want[256];
        snprintf(want, sizeof want, "\"alg\":\"%s\"", alg);
        snprintf(what, sizeof what, "header %s has %s", j.header, want);
        check_at(strstr(j.header, want) != NULL, what, line);
        check_at(strstr(j.header, "\"typ\":\"JWT\"") != NULL, "typ JWT", line);
        if (kid) {
            snprintf(want, sizeof want, "\"kid\":\"%s\"", kid);
            snprintf(what, sizeof what, "header %s has %s", j.header, want);
            check_at(strstr(j.header, want) != NULL, what, line);
        } else {
            snprintf(what, sizeof what, "header %s has no kid", j.header);
            check_at(strstr(j.header, "\"kid\"") == NULL, what, line);
        }
        snprintf(what, sizeof what, "payload %s has iss and sub " CLIENT_ID, j.payload);
        check_at(strstr(j.payload, "\"iss\":\"" CLIENT_ID "\"") != NULL &&
                     strstr(j.payload, "\"sub\":\"" CLIENT_ID "\"") != NULL,
                 what, line);
        if (aud_json) {
            snprintf(what, sizeof what, "payload %s has %s", j.payload, aud_json);
            check_at(strstr(j.payload, aud_json) != NULL, what, line);
        }
        check_at(strstr(j.payload, "\"jti\":\"") != NULL, "the payload has a jti", line);
        check_at(json_int(j.payload, "exp") > json_int(j.payload, "iat"), "exp > iat", line);
        check_at(j.signature_len > 0, "the signature is non-empty base64url", line);
    }
    jwt_free(&j);
    tokenclient_string_free(jwt);
}

#define CHECK_ASSERTION(c, alg, kid, aud_json) check_assertion_at((c), (alg), (kid), (aud_json), __LINE__)
#define DEFAULT_AUD "\"aud\":\"" TOKEN_URL "\""

static tokenclient_client *new_client(void) {
    tokenclient_client *c = NULL;
    if (!EXPECT_OK(tokenclient_client_new(TOKEN_URL, CLIENT_ID, &c)) || c == NULL) {
        fprintf(stderr, "cannot create a client; giving up\n");
        exit(1);
    }
    return c;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------ */
/* Version and errors                                                   */

static void test_version(void) {
    const char *v = tokenclient_version();
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", TOKENCLIENT_VERSION_MAJOR, TOKENCLIENT_VERSION_MINOR,
             TOKENCLIENT_VERSION_PATCH);
    CHECK(v != NULL);
    if (v) {
        CHECK(strcmp(v, want) == 0);
        CHECK(tokenclient_version() == v); /* static: the same string each time */
    }
}

static void test_error_accessors(void) {
    /* NULL: what the header promises. */
    CHECK(tokenclient_error_get_kind(NULL) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
    const char *msg = tokenclient_error_message(NULL);
    CHECK(msg != NULL && msg[0] != '\0');
    CHECK(tokenclient_error_http_status(NULL) == 0);
    CHECK(tokenclient_error_oauth_code(NULL) == NULL);
    CHECK(tokenclient_error_oauth_description(NULL) == NULL);
    CHECK(tokenclient_error_oauth_uri(NULL) == NULL);
    tokenclient_error_free(NULL);

    /* A local error: no HTTP status, no OAuth fields; the message names the
     * argument. */
    tokenclient_client *c = SENTINEL;
    tokenclient_error *e = tokenclient_client_new(NULL, CLIENT_ID, &c);
    CHECK(e != NULL);
    CHECK(c == SENTINEL);
    if (e) {
        CHECK(tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(tokenclient_error_message(e), "token_url") != NULL);
        CHECK(tokenclient_error_message(e) == tokenclient_error_message(e));
        CHECK(tokenclient_error_http_status(e) == 0);
        CHECK(tokenclient_error_oauth_code(e) == NULL);
        CHECK(tokenclient_error_oauth_description(e) == NULL);
        CHECK(tokenclient_error_oauth_uri(e) == NULL);
        tokenclient_error_free(e);
    }
}

/* ------------------------------------------------------------------ */
/* Client creation                                                      */

static void test_client_new(void) {
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
                 what, __LINE__);
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

static void test_setter_arguments(void) {
    tokenclient_client *c = new_client();

    /* set_client_secret */
    EXPECT_INVALID(tokenclient_client_set_client_secret(NULL, "s3cret", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_INVALID(tokenclient_client_set_client_secret(c, NULL, TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_INVALID(tokenclient_client_set_client_secret(c, BAD_UTF8, TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_INVALID(tokenclient_client_set_client_secret(c, "", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_INVALID(tokenclient_client_set_client_secret(c, "s3cret", 5));
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
static void test_exchange_arguments(void) {
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
    const char **many = malloc((2 * 257 + 1) * sizeof *many);
    if (many == NULL) {
        abort();
    }
    for (int i = 0; i < 257; i++) {
        many[2 * i] = "resource";
        many[2 * i + 1] = "https://r.example.com";
    }
    many[2 * 257] = NULL;
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

static void test_token_accessors_null(void) {
    CHECK(tokenclient_token_access_token(NULL) == NULL);
    CHECK(tokenclient_token_token_type(NULL) == NULL);
    CHECK(tokenclient_token_expires_in(NULL) == -1);
    CHECK(tokenclient_token_scope(NULL) == NULL);
    CHECK(tokenclient_token_refresh_token(NULL) == NULL);
    CHECK(tokenclient_token_id_token(NULL) == NULL);
    CHECK(tokenclient_token_get(NULL, "sid") == NULL);
    CHECK(tokenclient_token_get(NULL, NULL) == NULL);
    CHECK(tokenclient_token_json(NULL) == NULL);
    tokenclient_token_free(NULL);
    tokenclient_string_free(NULL);
}

/* ------------------------------------------------------------------ */
/* Keys and assertions                                                  */

static void test_keys(void) {
    tokenclient_client *c = new_client();
    char *jwt;

    /* No credentials, then credentials that do not sign: CONFIG. */
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);
    EXPECT_INVALID_OUT(tokenclient_client_create_assertion(NULL, &jwt), jwt);
    EXPECT_INVALID(tokenclient_client_create_assertion(c, NULL));
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret", TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC));
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);
    EXPECT_OK(tokenclient_client_set_public(c));
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);

    /* Every format, with the algorithm inferred. */
    static const struct {
        const char *file, *alg;
    } good[] = {
        {"p256.pem", "ES256"},          /* PKCS#8 PEM */
        {"p256-sec1.pem", "ES256"},     /* SEC1 PEM */
        {"p256.b64", "ES256"},          /* bare base64 of PKCS#8 DER */
        {"p256-sec1.b64", "ES256"},     /* bare base64 of SEC1 DER */
        {"p384.pem", "ES384"},
        {"p521.pem", "ES512"},
        {"rsa2048.pem", "RS256"},       /* PKCS#8 */
        {"rsa2048-pkcs1.pem", "RS256"}, /* PKCS#1 PEM */
        {"ed25519.pem", "EdDSA"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (quick && strcmp(good[i].file, "rsa2048.pem") == 0) {
            continue; /* signed with PS384 below */
        }
        char *key = read_key(good[i].file);
        char what[256];
        snprintf(what, sizeof what, "set_private_key(%s)", good[i].file);
        if (expect_ok_at(tokenclient_client_set_private_key(c, key, NULL, NULL), what, __LINE__)) {
            CHECK_ASSERTION(c, good[i].alg, NULL, DEFAULT_AUD);
        }
        free(key);
    }

    /* The same P-256 key squeezed: CRLF, literal "\n", one line. */
    char *pem = read_key("p256.pem");
    char *crlf = replace_all(pem, "\n", "\r\n");
    char *escaped = replace_all(pem, "\n", "\\n");
    char *spaced = replace_all(pem, "\n", " ");
    char *escaped_crlf = replace_all(pem, "\n", "\\r\\n");
    /* The bare base64 wrapped at 64 columns, and in the URL-safe alphabet. */
    char *b64 = read_key("p256.b64");
    size_t b64_len = strlen(b64);
    char *wrapped = malloc(b64_len + b64_len / 64 + 2), *w = wrapped;
    for (size_t i = 0; i < b64_len; i++) {
        *w++ = b64[i];
        if (i % 64 == 63) {
            *w++ = '\n';
        }
    }
    *w = '\0';
    char *plus = replace_all(b64, "+", "-"), *slash = replace_all(plus, "/", "_");
    char *url_safe = replace_all(slash, "=", "");
    const char *variants[] = {crlf, escaped, spaced, escaped_crlf, wrapped, url_safe};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        if (EXPECT_OK(tokenclient_client_set_private_key(c, variants[i], "kid-v", NULL))) {
            CHECK_ASSERTION(c, "ES256", "kid-v", DEFAULT_AUD);
        }
    }
    free(crlf);
    free(escaped);
    free(spaced);
    free(escaped_crlf);
    free(b64);
    free(wrapped);
    free(plus);
    free(slash);
    free(url_safe);

    /* kid and explicit algorithms */
    char *rsa = read_key("rsa2048.pem");
    char *ed = read_key("ed25519.pem");
    char *p384 = read_key("p384.pem");
    static const char *const rsa_algs[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
    for (size_t i = 0; i < 6; i++) {
        if (quick && strcmp(rsa_algs[i], "PS384") != 0) {
            continue;
        }
        if (EXPECT_OK(tokenclient_client_set_private_key(c, rsa, "rsa-kid", rsa_algs[i]))) {
            CHECK_ASSERTION(c, rsa_algs[i], "rsa-kid", DEFAULT_AUD);
        }
    }
    if (EXPECT_OK(tokenclient_client_set_private_key(c, pem, "ec-kid", "ES256"))) {
        CHECK_ASSERTION(c, "ES256", "ec-kid", DEFAULT_AUD);
    }
    if (EXPECT_OK(tokenclient_client_set_private_key(c, ed, NULL, "EdDSA"))) {
        CHECK_ASSERTION(c, "EdDSA", NULL, DEFAULT_AUD);
    }

    /* Algorithm mismatches: KEY, and the earlier key stays in use. */
    EXPECT_OK(tokenclient_client_set_private_key(c, pem, "keep-me", NULL));
    EXPECT_ERR(tokenclient_client_set_private_key(c, pem, NULL, "ES384"), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, pem, NULL, "ES512"), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, pem, NULL, "RS256"), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, pem, NULL, "EdDSA"), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, p384, NULL, "ES256"), TOKENCLIENT_ERROR_KEY);
    if (!quick) {
        EXPECT_ERR(tokenclient_client_set_private_key(c, rsa, NULL, "ES256"), TOKENCLIENT_ERROR_KEY);
    }
    EXPECT_ERR(tokenclient_client_set_private_key(c, ed, NULL, "PS256"), TOKENCLIENT_ERROR_KEY);
    /* Unknown or HMAC algorithm names: INVALID_ARGUMENT. */
    EXPECT_INVALID(tokenclient_client_set_private_key(c, pem, NULL, "XX999"));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, pem, NULL, "es256"));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, pem, NULL, ""));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, pem, NULL, "none"));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, pem, NULL, "HS256"));
    CHECK_ASSERTION(c, "ES256", "keep-me", DEFAULT_AUD);

    /* Keys that cannot be used: KEY, with a message that says why. */
    static const struct {
        const char *file, *needle;
    } bad[] = {
        {"encrypted.pem", "encrypted"},
        {"encrypted.b64", "encrypted"},
        {"encrypted-sec1.pem", "encrypted"}, /* legacy PEM encryption (Proc-Type) */
        {"rsa-pss.pem", "PSS"},
        {"secp256k1.pem", "curve"},
        {"ed448.pem", NULL},
        {"public.pem", "public"},
        {"public.b64", "public"},
        {"rsa1024.pem", "2048"},
        {"cert.pem", "certificate"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *key = read_key(bad[i].file);
        char what[256];
        snprintf(what, sizeof what, "set_private_key(%s)", bad[i].file);
        expect_error_at(tokenclient_client_set_private_key(c, key, NULL, NULL), TOKENCLIENT_ERROR_KEY,
                        bad[i].needle, what, __LINE__);
        free(key);
    }
    static const char *const garbage[] = {
        "",
        "   \n",
        "not a key at all!",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n",
        "-----BEGIN NONSENSE-----\nAAAA\n-----END NONSENSE-----\n",
        "{\"kty\":\"EC\"}",
        "{not json",
        "QUJD",
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        EXPECT_ERR(tokenclient_client_set_private_key(c, garbage[i], NULL, NULL), TOKENCLIENT_ERROR_KEY);
    }
    /* The message never quotes the key. */
    tokenclient_error *e =
        tokenclient_client_set_private_key(c, "TOPSECRETKEYMATERIALxyz0123456789", NULL, NULL);
    CHECK(e != NULL && tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_KEY);
    CHECK(e != NULL && strstr(tokenclient_error_message(e), "TOPSECRET") == NULL);
    tokenclient_error_free(e);
    /* After all those failures the last good key still signs. */
    CHECK_ASSERTION(c, "ES256", "keep-me", DEFAULT_AUD);

    free(pem);
    free(rsa);
    free(ed);
    free(p384);
    tokenclient_client_free(c);
}

/* JWKs built from the P-256 key's numbers (p256.txt, `openssl pkey -text`). */
static void test_jwk(void) {
    char *text = read_key("p256.txt");
    unsigned char priv[80], pub[80];
    size_t priv_len = hex_block(text, "priv:", priv, sizeof priv);
    size_t pub_len = hex_block(text, "pub:", pub, sizeof pub);
    free(text);
    if (!CHECK(priv_len >= 32 && priv_len <= 33 && pub_len == 65 && pub[0] == 4)) {
        return;
    }
    char *d = b64url_encode(priv + priv_len - 32, 32);
    char *x = b64url_encode(pub + 1, 32);
    char *y = b64url_encode(pub + 33, 32);
    char full[512], bare[512], public_only[512], set[600], wrong_alg[512], wrong_crv[512], bad_d[512];
    snprintf(full, sizeof full,
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\",\"kid\":\"jwk-kid\",\"alg\":\"ES256\"}",
             x, y, d);
    snprintf(bare, sizeof bare, "\n  {\"kty\": \"EC\", \"crv\": \"P-256\",\n   \"x\": \"%s\", \"y\": \"%s\", \"d\": \"%s\"}\n", x, y, d);
    snprintf(public_only, sizeof public_only, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    snprintf(set, sizeof set, "{\"keys\":[%s]}", full);
    snprintf(wrong_alg, sizeof wrong_alg,
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\",\"alg\":\"ES384\"}", x, y, d);
    snprintf(wrong_crv, sizeof wrong_crv, "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}", x,
             y, d);
    snprintf(bad_d, sizeof bad_d, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"AAAA\"}", x, y);

    tokenclient_client *c = new_client();
    /* kid and alg from the JWK; an explicit key_id wins; no kid without one. */
    if (EXPECT_OK(tokenclient_client_set_private_key(c, full, NULL, NULL))) {
        CHECK_ASSERTION(c, "ES256", "jwk-kid", DEFAULT_AUD);
    }
    if (EXPECT_OK(tokenclient_client_set_private_key(c, full, "mine", "ES256"))) {
        CHECK_ASSERTION(c, "ES256", "mine", DEFAULT_AUD);
    }
    if (EXPECT_OK(tokenclient_client_set_private_key(c, bare, NULL, NULL))) {
        CHECK_ASSERTION(c, "ES256", NULL, DEFAULT_AUD);
    }
    EXPECT_ERR(tokenclient_client_set_private_key(c, full, NULL, "ES384"), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, wrong_alg, NULL, NULL), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR_MSG(tokenclient_client_set_private_key(c, public_only, NULL, NULL), TOKENCLIENT_ERROR_KEY, "public");
    EXPECT_ERR(tokenclient_client_set_private_key(c, set, NULL, NULL), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, wrong_crv, NULL, NULL), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, bad_d, NULL, NULL), TOKENCLIENT_ERROR_KEY);
    CHECK_ASSERTION(c, "ES256", NULL, DEFAULT_AUD);
    tokenclient_client_free(c);
    free(d);
    free(x);
    free(y);
}

static void test_client_secret_jwt(void) {
    tokenclient_client *c = new_client();
    char *s31 = secret_of('a', 31), *s32 = secret_of('b', 32), *s47 = secret_of('c', 47),
         *s48 = secret_of('d', 48), *s64 = secret_of('e', 64);
    char *jwt;

    EXPECT_ERR_MSG(tokenclient_client_set_client_secret(c, s31, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT),
                   TOKENCLIENT_ERROR_KEY, "32");
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);
    if (EXPECT_OK(tokenclient_client_set_client_secret(c, s32, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT))) {
        CHECK_ASSERTION(c, "HS256", NULL, DEFAULT_AUD);
    }
    /* A longer hash needs a longer secret; nothing changes when refused. */
    EXPECT_ERR(tokenclient_client_set_hmac_alg(c, "HS384"), TOKENCLIENT_ERROR_KEY);
    CHECK_ASSERTION(c, "HS256", NULL, DEFAULT_AUD);
    EXPECT_OK(tokenclient_client_set_client_secret(c, s47, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT));
    EXPECT_ERR(tokenclient_client_set_hmac_alg(c, "HS384"), TOKENCLIENT_ERROR_KEY);
    EXPECT_OK(tokenclient_client_set_client_secret(c, s48, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT));
    if (EXPECT_OK(tokenclient_client_set_hmac_alg(c, "HS384"))) {
        CHECK_ASSERTION(c, "HS384", NULL, DEFAULT_AUD);
    }
    EXPECT_ERR(tokenclient_client_set_hmac_alg(c, "HS512"), TOKENCLIENT_ERROR_KEY);
    /* The algorithm chosen first applies to the secret set later. */
    EXPECT_ERR(tokenclient_client_set_client_secret(c, s47, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT),
               TOKENCLIENT_ERROR_KEY);
    CHECK_ASSERTION(c, "HS384", NULL, DEFAULT_AUD);
    EXPECT_OK(tokenclient_client_set_client_secret(c, s64, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT));
    if (EXPECT_OK(tokenclient_client_set_hmac_alg(c, "HS512"))) {
        CHECK_ASSERTION(c, "HS512", NULL, DEFAULT_AUD);
    }
    /* A short secret is fine for the methods that send it. */
    EXPECT_OK(tokenclient_client_set_client_secret(c, "x", TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC));
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);

    free(s31);
    free(s32);
    free(s47);
    free(s48);
    free(s64);
    tokenclient_client_free(c);
}

static void test_claims(void) {
    tokenclient_client *c = new_client();
    char *key = read_key("p256.pem");
    EXPECT_OK(tokenclient_client_set_private_key(c, key, NULL, NULL));
    free(key);

    /* Lifetime and skew: exp - iat = lifetime + skew. */
    EXPECT_OK(tokenclient_client_set_assertion_lifetime(c, 120));
    EXPECT_OK(tokenclient_client_set_clock_skew(c, 30));
    char *jwt = NULL;
    if (EXPECT_OK(tokenclient_client_create_assertion(c, &jwt))) {
        struct jwt j;
        if (CHECK(jwt_decode(jwt, &j))) {
            long long iat = json_int(j.payload, "iat"), exp = json_int(j.payload, "exp");
            long long now = (long long)time(NULL);
            CHECK(exp - iat == 150);
            CHECK(exp >= now + 118 && exp <= now + 122);
        }
        jwt_free(&j);
        tokenclient_string_free(jwt);
    }

    /* Every call makes a new jti. */
    char *a = NULL, *b = NULL;
    EXPECT_OK(tokenclient_client_create_assertion(c, &a));
    EXPECT_OK(tokenclient_client_create_assertion(c, &b));
    if (a && b) {
        struct jwt ja = {0}, jb = {0};
        if (CHECK(jwt_decode(a, &ja) && jwt_decode(b, &jb))) {
            const char *ta = strstr(ja.payload, "\"jti\":\""), *tb = strstr(jb.payload, "\"jti\":\"");
            CHECK(ta && tb && strncmp(ta, tb, 44) != 0);
        }
        jwt_free(&ja);
        jwt_free(&jb);
    }
    tokenclient_string_free(a);
    tokenclient_string_free(b);

    /* Audiences: one replaces, add makes an array with the token URL first. */
    CHECK_ASSERTION(c, "ES256", NULL, DEFAULT_AUD);
    EXPECT_OK(tokenclient_client_add_audience(c, "https://issuer.example.com"));
    CHECK_ASSERTION(c, "ES256", NULL, "\"aud\":[\"" TOKEN_URL "\",\"https://issuer.example.com\"]");
    EXPECT_OK(tokenclient_client_set_audience(c, "https://issuer.example.com/"));
    CHECK_ASSERTION(c, "ES256", NULL, "\"aud\":\"https://issuer.example.com/\"");
    EXPECT_OK(tokenclient_client_add_audience(c, "urn:two"));
    CHECK_ASSERTION(c, "ES256", NULL, "\"aud\":[\"https://issuer.example.com/\",\"urn:two\"]");
    /* At most 16: 2 now, 14 more, then the 17th is refused. */
    int added = 0;
    for (int i = 0; i < 14; i++) {
        char aud[64];
        snprintf(aud, sizeof aud, "urn:aud:%d", i);
        tokenclient_error *e = tokenclient_client_add_audience(c, aud);
        added += e == NULL;
        tokenclient_error_free(e);
    }
    CHECK(added == 14);
    EXPECT_INVALID(tokenclient_client_add_audience(c, "urn:aud:17th"));
    CHECK_ASSERTION(c, "ES256", NULL, "\"urn:aud:13\"]");
    /* set_audience replaces the array. */
    EXPECT_OK(tokenclient_client_set_audience(c, "urn:only"));
    CHECK_ASSERTION(c, "ES256", NULL, "\"aud\":\"urn:only\"");

    /* A fresh client: 15 added to the default makes 16. */
    tokenclient_client *d = new_client();
    key = read_key("ed25519.pem");
    EXPECT_OK(tokenclient_client_set_private_key(d, key, NULL, NULL));
    free(key);
    added = 0;
    for (int i = 0; i < 15; i++) {
        char aud[64];
        snprintf(aud, sizeof aud, "urn:aud:%d", i);
        tokenclient_error *e = tokenclient_client_add_audience(d, aud);
        added += e == NULL;
        tokenclient_error_free(e);
    }
    CHECK(added == 15);
    EXPECT_INVALID(tokenclient_client_add_audience(d, "urn:aud:17th"));
    CHECK_ASSERTION(d, "EdDSA", NULL, "\"aud\":[\"" TOKEN_URL "\",\"urn:aud:0\"");

    /* A client id with characters JSON must escape. */
    tokenclient_client *q = NULL;
    if (EXPECT_OK(tokenclient_client_new(TOKEN_URL, "we\"ird\\id", &q))) {
        key = read_key("p256.pem");
        EXPECT_OK(tokenclient_client_set_private_key(q, key, NULL, NULL));
        free(key);
        char *w = NULL;
        if (EXPECT_OK(tokenclient_client_create_assertion(q, &w))) {
            struct jwt j;
            if (CHECK(jwt_decode(w, &j))) {
                CHECK(strstr(j.payload, "\"iss\":\"we\\\"ird\\\\id\"") != NULL);
            }
            jwt_free(&j);
            tokenclient_string_free(w);
        }
        tokenclient_client_free(q);
    }

    tokenclient_client_free(c);
    tokenclient_client_free(d);
}

/* ------------------------------------------------------------------ */
/* Provider URLs                                                        */

static void check_talkdesk_at(const char *account, tokenclient_talkdesk_region region,
                              const char *want, int line) {
    char *url = SENTINEL;
    if (expect_ok_at(tokenclient_talkdesk_token_url(account, region, &url), "talkdesk_token_url", line)) {
        char what[512];
        snprintf(what, sizeof what, "talkdesk(%s, %u) = \"%s\", want \"%s\"", account,
                 (unsigned)region, url ? url : "(null)", want);
        check_at(url != NULL && url != SENTINEL && strcmp(url, want) == 0, what, line);
        tokenclient_string_free(url);
    }
}

static void test_provider_urls(void) {
    check_talkdesk_at("acme", TOKENCLIENT_TALKDESK_US, "https://acme.talkdeskid.com/oauth/token", __LINE__);
    check_talkdesk_at("acme", TOKENCLIENT_TALKDESK_EU, "https://acme.talkdeskid.eu/oauth/token", __LINE__);
    check_talkdesk_at("acme", TOKENCLIENT_TALKDESK_CA, "https://acme.talkdeskidca.com/oauth/token", __LINE__);
    check_talkdesk_at("ACME-2", TOKENCLIENT_TALKDESK_US, "https://acme-2.talkdeskid.com/oauth/token", __LINE__);
    char *label63 = repeat_char('a', 63), *label64 = repeat_char('a', 64);
    char want63[128];
    snprintf(want63, sizeof want63, "https://%s.talkdeskid.eu/oauth/token", label63);
    check_talkdesk_at(label63, TOKENCLIENT_TALKDESK_EU, want63, __LINE__);

    char *url;
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url(NULL, TOKENCLIENT_TALKDESK_US, &url), url);
    EXPECT_INVALID(tokenclient_talkdesk_token_url("acme", TOKENCLIENT_TALKDESK_US, NULL));
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url(BAD_UTF8, TOKENCLIENT_TALKDESK_US, &url), url);
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url("acme", 3, &url), url);
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url("acme", 7, &url), url);
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url("acme", UINT32_MAX, &url), url);
    static const char *const bad_accounts[] = {
        "a/b", "x@y", "", "-acme", "acme-", "a.b", "a b", "a:1", "a?x", "a#", "\xc3\xa4",
        "acme.evil.com/", "acme\r\n",
    };
    for (size_t i = 0; i < sizeof bad_accounts / sizeof bad_accounts[0]; i++) {
        EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url(bad_accounts[i], TOKENCLIENT_TALKDESK_US, &url), url);
    }
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url(label64, TOKENCLIENT_TALKDESK_US, &url), url);
    free(label63);
    free(label64);

    /* PingOne */
    static const struct {
        const char *base, *env, *want;
    } good[] = {
        {"https://auth.pingone.com", "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
         "https://auth.pingone.com/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9/as/token"},
        {"https://auth.pingone.eu/", "env-1", "https://auth.pingone.eu/env-1/as/token"},
        {"http://127.0.0.1:3000", "env", "http://127.0.0.1:3000/env/as/token"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        url = SENTINEL;
        if (EXPECT_OK(tokenclient_pingone_token_url(good[i].base, good[i].env, &url))) {
            char what[512];
            snprintf(what, sizeof what, "pingone(%s, %s) = \"%s\", want \"%s\"", good[i].base,
                     good[i].env, url ? url : "(null)", good[i].want);
            check_at(url != NULL && url != SENTINEL && strcmp(url, good[i].want) == 0, what, __LINE__);
            tokenclient_string_free(url);
        }
    }
    EXPECT_INVALID_OUT(tokenclient_pingone_token_url(NULL, "env", &url), url);
    EXPECT_INVALID_OUT(tokenclient_pingone_token_url("https://auth.pingone.com", NULL, &url), url);
    EXPECT_INVALID(tokenclient_pingone_token_url("https://auth.pingone.com", "env", NULL));
    EXPECT_INVALID_OUT(tokenclient_pingone_token_url(BAD_UTF8, "env", &url), url);
    EXPECT_INVALID_OUT(tokenclient_pingone_token_url("https://auth.pingone.com", BAD_UTF8, &url), url);
    static const struct {
        const char *base, *env;
    } bad[] = {
        {"https://auth.pingone.com", "a/../b"},
        {"https://auth.pingone.com", "x@evil.com"},
        {"https://auth.pingone.com", ""},
        {"https://auth.pingone.com", "a b"},
        {"https://auth.pingone.com/path", "env"},
        {"https://auth.pingone.com?q", "env"},
        {"https://auth.pingone.com#f", "env"},
        {"http://auth.pingone.com", "env"},
        {"auth.pingone.com", "env"},
        {"", "env"},
        {"https://user@auth.pingone.com", "env"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        EXPECT_INVALID_OUT(tokenclient_pingone_token_url(bad[i].base, bad[i].env, &url), url);
    }
}

/* ------------------------------------------------------------------ */
/* A loopback HTTP server, one canned answer at a time                  */

static struct {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    char response[8192]; /* the answer to send */
    int echo;            /* answer 400 with the request body instead */
    int hang_ms;         /* read the request, wait, close without answering */
    char request[32768]; /* the last request received */
    int requests;
    int stop;
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER};

static long content_length(const char *head) {
    for (const char *line = head; line && *line; line = strstr(line, "\r\n")) {
        if (line[0] == '\r') {
            line += 2;
        }
        if (strncasecmp(line, "content-length:", 15) == 0) {
            return strtol(line + 15, NULL, 10);
        }
        if (strncmp(line, "\r\n", 2) == 0) {
            break;
        }
    }
    return 0;
}

static void send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return;
        }
        data += n;
        len -= (size_t)n;
    }
}

static void *server_main(void *unused) {
    (void)unused;
    static char buf[sizeof srv.request];
    static char answer[sizeof srv.request + 256];
    for (;;) {
        int fd = accept(srv.fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return NULL;
        }
        pthread_mutex_lock(&srv.lock);
        int stop = srv.stop;
        pthread_mutex_unlock(&srv.lock);
        if (stop) {
            close(fd);
            return NULL;
        }
        size_t len = 0, head_end = 0;
        long body = 0;
        while (len < sizeof buf - 1) {
            ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            len += (size_t)n;
            buf[len] = '\0';
            if (head_end == 0) {
                char *end = strstr(buf, "\r\n\r\n");
                if (end) {
                    head_end = (size_t)(end - buf) + 4;
                    body = content_length(buf);
                }
            }
            if (head_end && len >= head_end + (size_t)body) {
                break;
            }
        }
        buf[len] = '\0';
        pthread_mutex_lock(&srv.lock);
        memcpy(srv.request, buf, len + 1);
        srv.requests++;
        int hang = srv.hang_ms, echo = srv.echo;
        if (echo) {
            const char *form = head_end ? buf + head_end : "";
            snprintf(answer, sizeof answer,
                     "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     strlen(form), form);
        } else {
            snprintf(answer, sizeof answer, "%s", srv.response);
        }
        pthread_mutex_unlock(&srv.lock);
        if (hang) {
            sleep_ms(hang);
        } else {
            send_all(fd, answer, strlen(answer));
        }
        shutdown(fd, SHUT_WR);
        close(fd);
    }
}

static int server_start(void) {
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (srv.fd < 0) {
        return 0;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t alen = sizeof addr;
    if (bind(srv.fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(srv.fd, 64) != 0 ||
        getsockname(srv.fd, (struct sockaddr *)&addr, &alen) != 0) {
        close(srv.fd);
        return 0;
    }
    srv.port = ntohs(addr.sin_port);
    return pthread_create(&srv.thread, NULL, server_main, NULL) == 0;
}

static void server_stop(void) {
    pthread_mutex_lock(&srv.lock);
    srv.stop = 1;
    pthread_mutex_unlock(&srv.lock);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)srv.port);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("connect to stop the server");
    }
    close(fd);
    pthread_join(srv.thread, NULL);
    close(srv.fd);
}

/* The next answers: `status` (e.g. "200 OK") with `headers` (each ending
 * in CRLF) and `body`. */
static void serve_headers(const char *status, const char *headers, const char *content_type, const char *body) {
    pthread_mutex_lock(&srv.lock);
    snprintf(srv.response, sizeof srv.response,
             "HTTP/1.1 %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
             "Connection: close\r\n\r\n%s",
             status, headers, content_type, strlen(body), body);
    srv.echo = 0;
    srv.hang_ms = 0;
    pthread_mutex_unlock(&srv.lock);
}

static void serve(const char *status, const char *content_type, const char *body) {
    serve_headers(status, "", content_type, body);
}

static void serve_json(const char *body) { serve("200 OK", "application/json", body); }

static void serve_echo(void) {
    pthread_mutex_lock(&srv.lock);
    srv.echo = 1;
    srv.hang_ms = 0;
    pthread_mutex_unlock(&srv.lock);
}

static void serve_hang(int ms) {
    pthread_mutex_lock(&srv.lock);
    srv.echo = 0;
    srv.hang_ms = ms;
    pthread_mutex_unlock(&srv.lock);
}

static int requests(void) {
    pthread_mutex_lock(&srv.lock);
    int n = srv.requests;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

/* Whether the last request contains `needle`. */
static int request_has(const char *needle) {
    pthread_mutex_lock(&srv.lock);
    int found = strstr(srv.request, needle) != NULL;
    pthread_mutex_unlock(&srv.lock);
    return found;
}

#define CHECK_REQUEST(needle) check_at(request_has(needle), "the request contains " needle, __LINE__)
#define CHECK_NOT_REQUEST(needle) check_at(!request_has(needle), "the request lacks " needle, __LINE__)

/* A client of the loopback server: no retries, no proxy from the
 * environment. */
static tokenclient_client *server_client(void) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/token", srv.port);
    tokenclient_client *c = NULL;
    if (!EXPECT_OK(tokenclient_client_new(url, CLIENT_ID, &c))) {
        exit(1);
    }
    EXPECT_OK(tokenclient_client_set_retry_policy(c, 0, 0, 0));
    EXPECT_OK(tokenclient_client_set_proxy(c, ""));
    EXPECT_OK(tokenclient_client_set_timeout_ms(c, 10000, 20000));
    return c;
}

#define FULL_TOKEN                                                                                \
    "{\"access_token\":\"AT-1\",\"token_type\":\"Bearer\",\"expires_in\":3600,"                   \
    "\"scope\":\"read write\",\"refresh_token\":\"RT-1\",\"id_token\":\"ID-1\",\"sid\":\"S-1\","  \
    "\"count\":5,\"nothing\":null}"

static void test_exchanges(void) {
    tokenclient_client *c = server_client();
    tokenclient_token *t;

    /* client_secret_post, every token accessor, an extra header */
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_OK(tokenclient_client_add_header(c, "X-Trace-Id", "trace-42"));
    serve_json(FULL_TOKEN);
    t = SENTINEL;
    int before = requests();
    if (EXPECT_OK(tokenclient_client_client_credentials(c, "read write", &t))) {
        CHECK(t != SENTINEL && t != NULL);
        CHECK(requests() == before + 1);
        const char *s = tokenclient_token_access_token(t);
        CHECK(s && strcmp(s, "AT-1") == 0);
        s = tokenclient_token_token_type(t);
        CHECK(s && strcmp(s, "Bearer") == 0);
        CHECK(tokenclient_token_expires_in(t) == 3600);
        s = tokenclient_token_scope(t);
        CHECK(s && strcmp(s, "read write") == 0);
        s = tokenclient_token_refresh_token(t);
        CHECK(s && strcmp(s, "RT-1") == 0);
        s = tokenclient_token_id_token(t);
        CHECK(s && strcmp(s, "ID-1") == 0);
        s = tokenclient_token_get(t, "sid");
        CHECK(s && strcmp(s, "S-1") == 0);
        s = tokenclient_token_get(t, "access_token");
        CHECK(s && strcmp(s, "AT-1") == 0);
        CHECK(tokenclient_token_get(t, "count") == NULL);   /* not a string */
        CHECK(tokenclient_token_get(t, "nothing") == NULL); /* null */
        CHECK(tokenclient_token_get(t, "missing") == NULL);
        CHECK(tokenclient_token_get(t, NULL) == NULL);
        CHECK(tokenclient_token_get(t, BAD_UTF8) == NULL);
        s = tokenclient_token_json(t);
        CHECK(s && strcmp(s, FULL_TOKEN) == 0);
        tokenclient_token_free(t);
    }
    CHECK_REQUEST("POST /token HTTP/1.1\r\n");
    CHECK_REQUEST("grant_type=client_credentials");
    CHECK_REQUEST("scope=read+write");
    CHECK_REQUEST("client_id=" CLIENT_ID);
    CHECK_REQUEST("client_secret=s3cret-value");
    CHECK_REQUEST("X-Trace-Id: trace-42\r\n");
    CHECK_REQUEST("Content-Type: application/x-www-form-urlencoded");
    CHECK_NOT_REQUEST("Authorization:");

    /* Only the required members: the optional accessors give NULL / -1. */
    serve_json("{\"access_token\":\"AT-2\",\"token_type\":\"Bearer\"}");
    if (EXPECT_OK(tokenclient_client_client_credentials(c, NULL, &t))) {
        CHECK(tokenclient_token_expires_in(t) == -1);
        CHECK(tokenclient_token_scope(t) == NULL);
        CHECK(tokenclient_token_refresh_token(t) == NULL);
        CHECK(tokenclient_token_id_token(t) == NULL);
        tokenclient_token_free(t);
    }
    CHECK_NOT_REQUEST("scope=");
    /* expires_in as a numeric string */
    serve_json("{\"access_token\":\"AT-3\",\"token_type\":\"Bearer\",\"expires_in\":\"120\"}");
    if (EXPECT_OK(tokenclient_client_client_credentials(c, NULL, &t))) {
        CHECK(tokenclient_token_expires_in(t) == 120);
        tokenclient_token_free(t);
    }

    /* A NUL inside a JSON string cannot cut a C string short: U+FFFD. */
    serve_json("{\"access_token\":\"A\\u0000B\",\"token_type\":\"Bearer\"}");
    if (EXPECT_OK(tokenclient_client_client_credentials(c, NULL, &t))) {
        const char *at = tokenclient_token_access_token(t);
        CHECK(at && strcmp(at, "A\xef\xbf\xbd" "B") == 0);
        tokenclient_token_free(t);
    }

    /* client_secret_basic: RFC 6749 2.3.1, form-encoded then base64. */
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC));
    serve_json(FULL_TOKEN);
    if (EXPECT_OK(tokenclient_client_client_credentials(c, NULL, &t))) {
        tokenclient_token_free(t);
    }
    /* base64("client-1:s3cret-value") */
    CHECK_REQUEST("Authorization: Basic Y2xpZW50LTE6czNjcmV0LXZhbHVl\r\n");
    CHECK_NOT_REQUEST("client_secret=");

    /* private_key_jwt: an assertion in the body */
    char *key = read_key("p256.pem");
    EXPECT_OK(tokenclient_client_set_private_key(c, key, "kid-9", NULL));
    free(key);
    if (EXPECT_OK(tokenclient_client_client_credentials(c, NULL, &t))) {
        tokenclient_token_free(t);
    }
    CHECK_REQUEST("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer");
    CHECK_REQUEST("client_assertion=eyJ");
    CHECK_REQUEST("client_id=" CLIENT_ID);
    CHECK_NOT_REQUEST("Authorization:");

    /* public client */
    EXPECT_OK(tokenclient_client_set_public(c));
    if (EXPECT_OK(tokenclient_client_client_credentials(c, NULL, &t))) {
        tokenclient_token_free(t);
    }
    CHECK_REQUEST("client_id=" CLIENT_ID);
    CHECK_NOT_REQUEST("client_secret");
    CHECK_NOT_REQUEST("client_assertion");

    /* authorization_code, with and without PKCE */
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    if (EXPECT_OK(tokenclient_client_exchange_code(c, "c0de/x", "https://app.example/cb?a=1", "verifier-1", &t))) {
        tokenclient_token_free(t);
    }
    CHECK_REQUEST("grant_type=authorization_code");
    CHECK_REQUEST("code=c0de%2Fx");
    CHECK_REQUEST("redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fa%3D1");
    CHECK_REQUEST("code_verifier=verifier-1");
    if (EXPECT_OK(tokenclient_client_exchange_code(c, "c0de", "https://app.example/cb", NULL, &t))) {
        tokenclient_token_free(t);
    }
    CHECK_NOT_REQUEST("code_verifier");

    /* refresh_token */
    if (EXPECT_OK(tokenclient_client_refresh(c, "RT-1", "read", &t))) {
        CHECK(strcmp(tokenclient_token_refresh_token(t), "RT-1") == 0);
        tokenclient_token_free(t);
    }
    CHECK_REQUEST("grant_type=refresh_token");
    CHECK_REQUEST("refresh_token=RT-1");
    CHECK_REQUEST("scope=read");

    /* any grant, repeated names, exactly 256 pairs, no params */
    const char *params[] = {"subject_token", "st-1", "resource", "https://r1", "resource", "https://r2", NULL};
    if (EXPECT_OK(tokenclient_client_grant(c, "urn:ietf:params:oauth:grant-type:token-exchange", params, &t))) {
        tokenclient_token_free(t);
    }
    CHECK_REQUEST("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange");
    CHECK_REQUEST("subject_token=st-1&resource=https%3A%2F%2Fr1&resource=https%3A%2F%2Fr2");
    if (EXPECT_OK(tokenclient_client_grant(c, "client_credentials", NULL, &t))) {
        tokenclient_token_free(t);
    }
    const char **many = malloc((2 * 256 + 1) * sizeof *many);
    if (many == NULL) {
        abort();
    }
    for (int i = 0; i < 256; i++) {
        many[2 * i] = "p";
        many[2 * i + 1] = "v";
    }
    many[2 * 256] = NULL;
    if (EXPECT_OK(tokenclient_client_grant(c, "client_credentials", many, &t))) {
        tokenclient_token_free(t);
    }
    free(many);

    tokenclient_client_free(c);
}

/* Checks an error's accessors; frees it. */
static void check_oauth_error_at(tokenclient_error *e, int status, const char *code,
                                 const char *description, const char *uri, int line) {
    if (!check_at(e != NULL, "an error", line)) {
        return;
    }
    char what[512];
    snprintf(what, sizeof what, "kind %d is OAUTH (%s)", (int)tokenclient_error_get_kind(e),
             tokenclient_error_message(e));
    check_at(tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_OAUTH, what, line);
    check_at(tokenclient_error_http_status(e) == status, "http status", line);
    const char *s = tokenclient_error_oauth_code(e);
    check_at(s && strcmp(s, code) == 0, "oauth code", line);
    s = tokenclient_error_oauth_description(e);
    check_at(description ? (s && strcmp(s, description) == 0) : s == NULL, "oauth description", line);
    s = tokenclient_error_oauth_uri(e);
    check_at(uri ? (s && strcmp(s, uri) == 0) : s == NULL, "oauth uri", line);
    s = tokenclient_error_message(e);
    check_at(s && strstr(s, code) != NULL && strchr(s, '\n') == NULL, "the message names the code", line);
    tokenclient_error_free(e);
}

/* Checks a non-OAuth error's kind and status; frees it. */
static void check_error_at(tokenclient_error *e, tokenclient_error_kind kind, int status, int line) {
    if (!check_at(e != NULL, "an error", line)) {
        return;
    }
    char what[512];
    snprintf(what, sizeof what, "kind %d is %d, status %d is %d (%s)", (int)tokenclient_error_get_kind(e),
             (int)kind, tokenclient_error_http_status(e), status, tokenclient_error_message(e));
    check_at(tokenclient_error_get_kind(e) == kind && tokenclient_error_http_status(e) == status, what, line);
    check_at(tokenclient_error_oauth_code(e) == NULL, "no oauth code", line);
    check_at(tokenclient_error_oauth_description(e) == NULL, "no oauth description", line);
    check_at(tokenclient_error_oauth_uri(e) == NULL, "no oauth uri", line);
    tokenclient_error_free(e);
}

static void test_exchange_errors(void) {
    tokenclient_client *c = server_client();
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    tokenclient_token *t = SENTINEL;
    tokenclient_error *e;

    serve("400 Bad Request", "application/json",
          "{\"error\":\"invalid_grant\",\"error_description\":\"the code expired\","
          "\"error_uri\":\"https://docs.example/errors#grant\"}");
    check_oauth_error_at(tokenclient_client_exchange_code(c, "code", "https://app/cb", NULL, &t), 400,
                         "invalid_grant", "the code expired", "https://docs.example/errors#grant", __LINE__);
    CHECK(t == SENTINEL);

    serve("401 Unauthorized", "application/json", "{\"error\":\"invalid_client\"}");
    check_oauth_error_at(tokenclient_client_client_credentials(c, NULL, &t), 401, "invalid_client", NULL,
                         NULL, __LINE__);
    CHECK(t == SENTINEL);

    /* Control characters from the server never make the message multi-line. */
    serve("400 Bad Request", "application/json",
          "{\"error\":\"invalid_scope\",\"error_description\":\"line one\\nline two\\r\"}");
    check_oauth_error_at(tokenclient_client_client_credentials(c, NULL, &t), 400, "invalid_scope",
                         "line one line two ", NULL, __LINE__);
    serve("500 Internal Server Error", "text/plain", "trace:\r\n  at x\n  at y\n");
    e = tokenclient_client_client_credentials(c, NULL, &t);
    CHECK(e && strchr(tokenclient_error_message(e), '\n') == NULL && strchr(tokenclient_error_message(e), '\r') == NULL);
    check_error_at(e, TOKENCLIENT_ERROR_HTTP, 500, __LINE__);

    serve("503 Service Unavailable", "text/plain", "down for maintenance");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_HTTP, 503, __LINE__);
    CHECK(t == SENTINEL);

    serve("400 Bad Request", "text/html", "<html>nope</html>");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_HTTP, 400, __LINE__);

    serve_headers("302 Found", "Location: https://elsewhere.example/token\r\n", "text/plain", "");
    e = tokenclient_client_client_credentials(c, NULL, &t);
    CHECK(e && strstr(tokenclient_error_message(e), "redirect") != NULL);
    check_error_at(e, TOKENCLIENT_ERROR_HTTP, 302, __LINE__);

    /* Retries: 5xx retried (2 retries: 3 requests), OAuth errors never,
     * a Retry-After above the maximum delay ends them. */
    EXPECT_OK(tokenclient_client_set_retry_policy(c, 2, 0, 10000));
    int n = requests();
    serve("503 Service Unavailable", "text/plain", "busy");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_HTTP, 503, __LINE__);
    CHECK(requests() == n + 3);
    n = requests();
    serve("400 Bad Request", "application/json", "{\"error\":\"invalid_request\"}");
    check_oauth_error_at(tokenclient_client_client_credentials(c, NULL, &t), 400, "invalid_request", NULL, NULL,
                         __LINE__);
    CHECK(requests() == n + 1);
    n = requests();
    serve_headers("503 Service Unavailable", "Retry-After: 3600\r\n", "text/plain", "later");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_HTTP, 503, __LINE__);
    CHECK(requests() == n + 1);
    EXPECT_OK(tokenclient_client_set_retry_policy(c, 0, 0, 0));

    serve("200 OK", "application/json", "not json");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_RESPONSE, 200, __LINE__);
    serve_json("{\"access_token\":\"a\",\"access_token\":\"b\",\"token_type\":\"Bearer\"}");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_RESPONSE, 200, __LINE__);
    serve_json("{\"token_type\":\"Bearer\"}");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_RESPONSE, 200, __LINE__);
    serve_json("{\"access_token\":\"AT-SECRET-VALUE\",\"token_type\":\"Bearer\",\"expires_in\":\"soon\"}");
    e = tokenclient_client_client_credentials(c, NULL, &t);
    CHECK(e && strstr(tokenclient_error_message(e), "AT-SECRET-VALUE") == NULL);
    check_error_at(e, TOKENCLIENT_ERROR_RESPONSE, 200, __LINE__);
    CHECK(t == SENTINEL);

    /* The response limit */
    EXPECT_OK(tokenclient_client_set_max_response_bytes(c, 1024));
    char big[2200];
    snprintf(big, sizeof big, "{\"access_token\":\"%0*d\",\"token_type\":\"Bearer\"}", 2000, 0);
    serve_json(big);
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_TRANSPORT, 0, __LINE__);
    EXPECT_OK(tokenclient_client_set_max_response_bytes(c, 4096));
    if (EXPECT_OK(tokenclient_client_client_credentials(c, NULL, &t))) {
        CHECK(strlen(tokenclient_token_access_token(t)) == 2000);
        tokenclient_token_free(t);
    }
    t = SENTINEL;

    /* A server that does not answer: the total timeout */
    EXPECT_OK(tokenclient_client_set_timeout_ms(c, 1000, 300));
    serve_hang(800);
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_TRANSPORT, 0, __LINE__);
    CHECK(t == SENTINEL);
    EXPECT_OK(tokenclient_client_set_timeout_ms(c, 10000, 20000));

    /* A server that reflects the request: the message must not carry the
     * secret, in any encoding. */
    serve_echo();
    e = tokenclient_client_client_credentials(c, NULL, &t);
    if (CHECK(e != NULL)) {
        const char *msg = tokenclient_error_message(e);
        CHECK(tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_HTTP);
        CHECK(strstr(msg, "s3cret-value") == NULL);
        tokenclient_error_free(e);
    }
    EXPECT_OK(tokenclient_client_set_client_secret(c, "p@ss word!secret", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    e = tokenclient_client_client_credentials(c, NULL, &t);
    if (CHECK(e != NULL)) {
        const char *msg = tokenclient_error_message(e);
        CHECK(strstr(msg, "p@ss word!secret") == NULL);
        /* The form-encoded secret is the secret too. */
        if (!CHECK(strstr(msg, "p%40ss+word%21secret") == NULL)) {
            fprintf(stderr, "    message: %s\n", msg);
        }
        tokenclient_error_free(e);
    }
    /* An assertion (longer than the 200-byte snippet) must not show either. */
    char *pem = read_key("p256.pem");
    EXPECT_OK(tokenclient_client_set_private_key(c, pem, NULL, NULL));
    free(pem);
    e = tokenclient_client_client_credentials(c, NULL, &t);
    if (CHECK(e != NULL)) {
        const char *msg = tokenclient_error_message(e);
        if (!CHECK(strstr(msg, "client_assertion=eyJ") == NULL)) {
            fprintf(stderr, "    message: %s\n", msg);
        }
        tokenclient_error_free(e);
    }
    CHECK(t == SENTINEL);

    /* The same when the secret straddles the end of the 200-byte snippet of
     * the body that goes into the message: no part of it may show. The body
     * is "grant_type=client_credentials&client_id=<135 bytes>&client_secret=
     * <secret>", so the secret starts at byte 190. */
    tokenclient_client *w = NULL;
    char url[128], *long_id = repeat_char('i', 135);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/token", srv.port);
    if (EXPECT_OK(tokenclient_client_new(url, long_id, &w))) {
        EXPECT_OK(tokenclient_client_set_retry_policy(w, 0, 0, 0));
        EXPECT_OK(tokenclient_client_set_proxy(w, ""));
        EXPECT_OK(tokenclient_client_set_client_secret(w, "SECRETPART0123456789", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
        e = tokenclient_client_client_credentials(w, NULL, &t);
        if (CHECK(e != NULL)) {
            const char *msg = tokenclient_error_message(e);
            if (!CHECK(strstr(msg, "SECRETPART") == NULL)) {
                fprintf(stderr, "    message ends: ...%s\n", msg + (strlen(msg) > 60 ? strlen(msg) - 60 : 0));
            }
            tokenclient_error_free(e);
        }
        tokenclient_client_free(w);
    }
    free(long_id);

    /* A secret reflected in an OAuth error_description is redacted. */
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    serve("401 Unauthorized", "application/json",
          "{\"error\":\"invalid_client\",\"error_description\":\"wrong secret s3cret-value\"}");
    e = tokenclient_client_client_credentials(c, NULL, &t);
    if (CHECK(e != NULL)) {
        const char *d = tokenclient_error_oauth_description(e);
        CHECK(strstr(tokenclient_error_message(e), "s3cret-value") == NULL);
        CHECK(d != NULL && strstr(d, "s3cret-value") == NULL);
        tokenclient_error_free(e);
    }
    tokenclient_client_free(c);

    /* Nothing listening: TRANSPORT. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &alen) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    if (port) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d/token", port);
        tokenclient_client *d = NULL;
        if (EXPECT_OK(tokenclient_client_new(url, CLIENT_ID, &d))) {
            EXPECT_OK(tokenclient_client_set_retry_policy(d, 0, 0, 0));
            EXPECT_OK(tokenclient_client_set_proxy(d, ""));
            EXPECT_OK(tokenclient_client_set_public(d));
            check_error_at(tokenclient_client_client_credentials(d, NULL, &t), TOKENCLIENT_ERROR_TRANSPORT, 0,
                           __LINE__);
            check_error_at(tokenclient_client_get_token(d, NULL, &t), TOKENCLIENT_ERROR_TRANSPORT, 0, __LINE__);
            CHECK(t == SENTINEL);
            tokenclient_client_free(d);
        }
    }
}

/* The token hook: counts calls and copies the last access token. */
struct hook_state {
    int calls;
    char access_token[64];
    char refresh_token[64];
};

static void on_token(void *user_data, const tokenclient_token *token) {
    struct hook_state *h = user_data;
    h->calls++;
    const char *at = tokenclient_token_access_token(token);
    const char *rt = tokenclient_token_refresh_token(token);
    snprintf(h->access_token, sizeof h->access_token, "%s", at ? at : "(null)");
    snprintf(h->refresh_token, sizeof h->refresh_token, "%s", rt ? rt : "(none)");
}

/* get_token's access token, or "" on error (freed before returning). */
static void get_token_at(tokenclient_client *c, const char *scope, const char *want, int line) {
    tokenclient_token *t = SENTINEL;
    if (expect_ok_at(tokenclient_client_get_token(c, scope, &t), "get_token", line)) {
        const char *at = tokenclient_token_access_token(t);
        char what[256];
        snprintf(what, sizeof what, "get_token(%s) gave %s, want %s", scope ? scope : "NULL",
                 at ? at : "(null)", want);
        check_at(at && strcmp(at, want) == 0, what, line);
        tokenclient_token_free(t);
    }
}

#define GET_TOKEN(c, scope, want) get_token_at((c), (scope), (want), __LINE__)

/* A hook that uses the client: setters and invalidate_token are allowed
 * from it (only get_token of the same client is not). */
static void on_token_reentrant(void *user_data, const tokenclient_token *token) {
    tokenclient_client *c = user_data;
    (void)token;
    tokenclient_error_free(tokenclient_client_set_audience(c, "https://from-the-hook.example.com"));
    tokenclient_error_free(tokenclient_client_invalidate_token(c, NULL));
    tokenclient_error_free(tokenclient_client_set_refresh_policy(c, 80, 10));
}

static void test_cache(void) {
    tokenclient_client *c = server_client();
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    struct hook_state hook = {0};
    EXPECT_OK(tokenclient_client_set_token_callback(c, on_token, &hook));

    int n = requests();
    serve_json("{\"access_token\":\"AT-A\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
    GET_TOKEN(c, NULL, "AT-A");
    CHECK(requests() == n + 1);
    CHECK(hook.calls == 1 && strcmp(hook.access_token, "AT-A") == 0);
    CHECK_REQUEST("grant_type=client_credentials");
    CHECK_NOT_REQUEST("scope=");
    /* cached */
    serve_json("{\"access_token\":\"AT-B\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
    GET_TOKEN(c, NULL, "AT-A");
    GET_TOKEN(c, NULL, "AT-A");
    CHECK(requests() == n + 1);
    CHECK(hook.calls == 1);
    /* another scope is another slot */
    GET_TOKEN(c, "read", "AT-B");
    CHECK(requests() == n + 2);
    CHECK_REQUEST("scope=read");
    GET_TOKEN(c, NULL, "AT-A");
    /* invalidate */
    serve_json("{\"access_token\":\"AT-C\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
    EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
    GET_TOKEN(c, NULL, "AT-C");
    GET_TOKEN(c, "read", "AT-B");
    CHECK(requests() == n + 3);
    CHECK(hook.calls == 3);

    /* a refresh token, rotated */
    EXPECT_OK(tokenclient_client_set_refresh_token(c, "RT-seed"));
    EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
    serve_json("{\"access_token\":\"AT-D\",\"token_type\":\"Bearer\",\"expires_in\":3600,\"refresh_token\":\"RT-rot\"}");
    GET_TOKEN(c, NULL, "AT-D");
    CHECK_REQUEST("grant_type=refresh_token");
    CHECK_REQUEST("refresh_token=RT-seed");
    CHECK(strcmp(hook.refresh_token, "RT-rot") == 0);
    EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
    serve_json("{\"access_token\":\"AT-E\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
    GET_TOKEN(c, NULL, "AT-E");
    CHECK_REQUEST("refresh_token=RT-rot");
    /* cleared: client_credentials again */
    EXPECT_OK(tokenclient_client_set_refresh_token(c, NULL));
    EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
    serve_json("{\"access_token\":\"AT-F\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
    GET_TOKEN(c, NULL, "AT-F");
    CHECK_REQUEST("grant_type=client_credentials");

    /* the hook removed */
    int calls = hook.calls;
    EXPECT_OK(tokenclient_client_set_token_callback(c, NULL, NULL));
    EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
    GET_TOKEN(c, NULL, "AT-F");
    CHECK(hook.calls == calls);

    /* A hook that calls setters and invalidates: no deadlock; the token
     * it invalidated is fetched again next time. */
    EXPECT_OK(tokenclient_client_set_token_callback(c, on_token_reentrant, c));
    EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
    n = requests();
    serve_json("{\"access_token\":\"AT-R\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
    GET_TOKEN(c, NULL, "AT-R");
    GET_TOKEN(c, NULL, "AT-R");
    CHECK(requests() == n + 2);
    EXPECT_OK(tokenclient_client_set_token_callback(c, NULL, NULL));

    /* A failed fetch with nothing cached gives the error; the next call
     * tries again. */
    EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
    serve("400 Bad Request", "application/json", "{\"error\":\"invalid_client\"}");
    tokenclient_token *t = SENTINEL;
    n = requests();
    check_oauth_error_at(tokenclient_client_get_token(c, NULL, &t), 400, "invalid_client", NULL, NULL, __LINE__);
    CHECK(t == SENTINEL);
    serve_json("{\"access_token\":\"AT-G\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
    GET_TOKEN(c, NULL, "AT-G");
    CHECK(requests() == n + 2);

    /* Refresh at 1% of the lifetime: the next call refreshes. */
    EXPECT_OK(tokenclient_client_set_refresh_policy(c, 1, 0));
    EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
    serve_json("{\"access_token\":\"AT-H\",\"token_type\":\"Bearer\",\"expires_in\":100}");
    GET_TOKEN(c, NULL, "AT-H");
    sleep_ms(1100);
    serve_json("{\"access_token\":\"AT-I\",\"token_type\":\"Bearer\",\"expires_in\":100}");
    GET_TOKEN(c, NULL, "AT-I");
    /* A failed proactive refresh keeps the still-usable token. */
    sleep_ms(1100);
    serve("500 Internal Server Error", "text/plain", "oops");
    GET_TOKEN(c, NULL, "AT-I");

    /* A token from the cache outlives its invalidation, its replacement and
     * the client itself (valgrind and ASan watch these reads). */
    EXPECT_OK(tokenclient_client_set_refresh_policy(c, 80, 10));
    EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
    serve_json("{\"access_token\":\"AT-OLD\",\"token_type\":\"Bearer\",\"expires_in\":3600,\"sid\":\"S-OLD\"}");
    tokenclient_token *old = NULL;
    EXPECT_OK(tokenclient_client_get_token(c, NULL, &old));
    EXPECT_OK(tokenclient_client_invalidate_token(c, NULL));
    serve_json("{\"access_token\":\"AT-NEW\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
    GET_TOKEN(c, NULL, "AT-NEW");
    tokenclient_token *cached = NULL;
    EXPECT_OK(tokenclient_client_get_token(c, NULL, &cached));
    tokenclient_client_free(c);
    if (old) {
        const char *s = tokenclient_token_access_token(old);
        CHECK(s && strcmp(s, "AT-OLD") == 0);
        s = tokenclient_token_get(old, "sid");
        CHECK(s && strcmp(s, "S-OLD") == 0);
        tokenclient_token_free(old);
    }
    if (cached) {
        const char *s = tokenclient_token_access_token(cached);
        CHECK(s && strcmp(s, "AT-NEW") == 0);
        s = tokenclient_token_json(cached);
        CHECK(s && strstr(s, "AT-NEW") != NULL);
        tokenclient_token_free(cached);
    }
}

/* ------------------------------------------------------------------ */
/* Threads                                                              */

#define WORKERS 4
static const char *const SWAP_AUDS[2] = {"https://aud-one.example.com", "https://aud-two.example.com"};

static struct {
    tokenclient_client *client;
    int iterations;
    atomic_int finished;
    atomic_int errors;
    atomic_int swaps;
    atomic_int seen_ed25519; /* assertions signed with the second key */
    atomic_int seen_aud_two; /* assertions with the second audience */
    char *keys[2];
} shared;

static void *worker(void *unused) {
    (void)unused;
    /* Start once the swapper runs, and yield now and then, so that the two
     * interleave even under valgrind, which runs one thread at a time. */
    while (atomic_load(&shared.swaps) == 0) {
        sched_yield();
    }
    for (int i = 0; i < shared.iterations; i++) {
        if (i % 8 == 7) {
            sched_yield();
        }
        char *jwt = NULL;
        tokenclient_error *e = tokenclient_client_create_assertion(shared.client, &jwt);
        if (e) {
            fprintf(stderr, "worker: create_assertion: %s\n", tokenclient_error_message(e));
            tokenclient_error_free(e);
            atomic_fetch_add(&shared.errors, 1);
            continue;
        }
        struct jwt j;
        int ok = jwt_decode(jwt, &j) && strstr(j.payload, "\"iss\":\"" CLIENT_ID "\"") != NULL &&
                 (strstr(j.payload, "\"aud\":\"https://aud-one.example.com\"") != NULL ||
                  strstr(j.payload, "\"aud\":\"https://aud-two.example.com\"") != NULL) &&
                 (strstr(j.header, "\"alg\":\"ES256\"") != NULL || strstr(j.header, "\"alg\":\"EdDSA\"") != NULL);
        if (ok && strstr(j.header, "EdDSA") != NULL) {
            atomic_fetch_add(&shared.seen_ed25519, 1);
        }
        if (ok && strstr(j.payload, "aud-two") != NULL) {
            atomic_fetch_add(&shared.seen_aud_two, 1);
        }
        if (!ok) {
            fprintf(stderr, "worker: unexpected assertion: %s . %s\n", j.header ? j.header : "?",
                    j.payload ? j.payload : "?");
            atomic_fetch_add(&shared.errors, 1);
        }
        jwt_free(&j);
        tokenclient_string_free(jwt);
    }
    atomic_fetch_add(&shared.finished, 1);
    return NULL;
}

static void *swapper(void *unused) {
    (void)unused;
    /* At least a few swaps even when the workers are quick. */
    for (int i = 1; atomic_load(&shared.finished) < WORKERS || i <= 4; i++) {
        tokenclient_error *e = tokenclient_client_set_private_key(shared.client, shared.keys[i % 2], NULL, NULL);
        if (!e) {
            e = tokenclient_client_set_audience(shared.client, SWAP_AUDS[i % 2]);
        }
        if (e) {
            fprintf(stderr, "swapper: %s\n", tokenclient_error_message(e));
            tokenclient_error_free(e);
            atomic_fetch_add(&shared.errors, 1);
        }
        atomic_fetch_add(&shared.swaps, 1);
        sched_yield();
    }
    return NULL;
}

static void test_threads(int iterations) {
    shared.client = new_client();
    shared.iterations = iterations;
    shared.keys[0] = read_key("p256.pem");
    shared.keys[1] = read_key("ed25519.pem");
    EXPECT_OK(tokenclient_client_set_private_key(shared.client, shared.keys[0], NULL, NULL));
    EXPECT_OK(tokenclient_client_set_audience(shared.client, SWAP_AUDS[0]));
    pthread_t threads[WORKERS + 1];
    int started = 0;
    for (int i = 0; i < WORKERS; i++) {
        started += pthread_create(&threads[i], NULL, worker, NULL) == 0;
    }
    started += pthread_create(&threads[WORKERS], NULL, swapper, NULL) == 0;
    CHECK(started == WORKERS + 1);
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
    }
    CHECK(atomic_load(&shared.errors) == 0);
    CHECK(atomic_load(&shared.swaps) >= 4);
    printf("threads: %d x %d assertions while %d key/audience swaps: %d errors; "
           "%d signed with the Ed25519 key, %d for the second audience\n",
           WORKERS, iterations, atomic_load(&shared.swaps), atomic_load(&shared.errors),
           atomic_load(&shared.seen_ed25519), atomic_load(&shared.seen_aud_two));
    tokenclient_client_free(shared.client);
    free(shared.keys[0]);
    free(shared.keys[1]);
}

/* ------------------------------------------------------------------ */

/* With TC_TIMING=1, prints how long each part took (to find what is slow
 * under valgrind). */
static int timing;

static void run_timed(const char *name, void (*fn)(void)) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    fn();
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (timing) {
        fprintf(stderr, "timing: %-28s %8.3f s\n", name,
                (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    }
}

#define RUN(fn) run_timed(#fn, fn)

static int iterations = 500;

static void test_threads_default(void) { test_threads(iterations); }

static void test_server(void) {
    if (CHECK(server_start())) {
        test_exchanges();
        test_exchange_errors();
        test_cache();
        server_stop();
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s KEY_DIR\n", argv[0]);
        return 2;
    }
    key_dir = argv[1];
    const char *env = getenv("TC_ITERATIONS");
    if (env && atoi(env) > 0) {
        iterations = atoi(env);
    }
    env = getenv("TC_QUICK");
    quick = env != NULL && strcmp(env, "1") == 0;
    env = getenv("TC_TIMING");
    timing = env != NULL && strcmp(env, "1") == 0;
    setvbuf(stdout, NULL, _IONBF, 0);
    /* A hang (a deadlock in the library) ends the run instead of blocking it. */
    alarm(600);

    RUN(test_version);
    RUN(test_error_accessors);
    RUN(test_client_new);
    RUN(test_setter_arguments);
    RUN(test_exchange_arguments);
    RUN(test_token_accessors_null);
    RUN(test_keys);
    RUN(test_jwk);
    RUN(test_client_secret_jwt);
    RUN(test_claims);
    RUN(test_provider_urls);
    RUN(test_server);
    RUN(test_threads_default);

    int p = atomic_load(&passed), f = atomic_load(&failed);
    printf("%d passed, %d failed\n", p, f);
    return f == 0 ? 0 : 1;
}
