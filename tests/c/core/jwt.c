/*
 * tests/c/core/jwt.c: test_core's base64url and hex decoding, its JWT
 * decoding, and CHECK_ASSERTION, the check of an assertion's header and
 * claims (the signatures are verified elsewhere, with PyJWT).
 */
#include "core.h"

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

char *b64url_encode(const unsigned char *data, size_t n) {
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

size_t hex_block(const char *text, const char *label, unsigned char *out, size_t cap) {
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

int jwt_decode(const char *jwt, struct jwt *out) {
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

void jwt_free(struct jwt *j) {
    free(j->header);
    free(j->payload);
    memset(j, 0, sizeof *j);
}

long long json_int(const char *json, const char *name) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":", name);
    const char *p = strstr(json, pattern);
    return p ? strtoll(p + strlen(pattern), NULL, 10) : -1;
}

void check_assertion_at(const tokenclient_client *c, const char *alg, const char *kid, const char *aud_json,
                        const char *file, int line) {
    char *jwt = SENTINEL;
    if (!expect_ok_at(tokenclient_client_create_assertion(c, &jwt), "create_assertion", file, line)) {
        return;
    }
    if (!check_at(jwt != SENTINEL && jwt != NULL, "an assertion was written", file, line)) {
        return;
    }
    struct jwt j;
    char what[2048];
    if (check_at(jwt_decode(jwt, &j), "the assertion is three base64url parts", file, line)) {
        char want[256];
        snprintf(want, sizeof want, "\"alg\":\"%s\"", alg);
        snprintf(what, sizeof what, "header %s has %s", j.header, want);
        check_at(strstr(j.header, want) != NULL, what, file, line);
        check_at(strstr(j.header, "\"typ\":\"JWT\"") != NULL, "typ JWT", file, line);
        if (kid) {
            snprintf(want, sizeof want, "\"kid\":\"%s\"", kid);
            snprintf(what, sizeof what, "header %s has %s", j.header, want);
            check_at(strstr(j.header, want) != NULL, what, file, line);
        } else {
            snprintf(what, sizeof what, "header %s has no kid", j.header);
            check_at(strstr(j.header, "\"kid\"") == NULL, what, file, line);
        }
        snprintf(what, sizeof what, "payload %s has iss and sub " CLIENT_ID, j.payload);
        check_at(strstr(j.payload, "\"iss\":\"" CLIENT_ID "\"") != NULL &&
                     strstr(j.payload, "\"sub\":\"" CLIENT_ID "\"") != NULL,
                 what, file, line);
        if (aud_json) {
            snprintf(what, sizeof what, "payload %s has %s", j.payload, aud_json);
            check_at(strstr(j.payload, aud_json) != NULL, what, file, line);
        }
        check_at(strstr(j.payload, "\"jti\":\"") != NULL, "the payload has a jti", file, line);
        check_at(json_int(j.payload, "exp") > json_int(j.payload, "iat"), "exp > iat", file, line);
        check_at(j.signature_len > 0, "the signature is non-empty base64url", file, line);
    }
    jwt_free(&j);
    tokenclient_string_free(jwt);
}
