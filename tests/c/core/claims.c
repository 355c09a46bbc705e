/*
 * tests/c/core/claims.c: the claims of assertions, decoded here: lifetime
 * and clock skew, jti, audiences, a client id JSON must escape.
 */
#include "core.h"

#include <time.h>

void test_claims(void) {
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
