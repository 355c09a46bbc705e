/*
 * tests/c/core/exchanges.c: token exchanges against the loopback server
 * (server.c): every client authentication method and grant, what is sent,
 * and every token accessor.
 */
#include "core.h"

#define FULL_TOKEN                                                                                \
    "{\"access_token\":\"AT-1\",\"token_type\":\"Bearer\",\"expires_in\":3600,"                   \
    "\"scope\":\"read write\",\"refresh_token\":\"RT-1\",\"id_token\":\"ID-1\",\"sid\":\"S-1\","  \
    "\"count\":5,\"nothing\":null}"

void test_exchanges(void) {
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
        CHECK(tokenclient_token_cnf(t) == NULL); /* a bearer token */
        s = tokenclient_token_authorization(t);
        CHECK(s && strcmp(s, "Bearer AT-1") == 0);
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
    /* the RFC 8693 helper sends the same grant */
    const char *extra[] = {"audience", "https://api.example.com", NULL};
    if (EXPECT_OK(tokenclient_client_token_exchange(c, "st-2", "urn:ietf:params:oauth:token-type:access_token", extra,
                                                    &t))) {
        tokenclient_token_free(t);
    }
    CHECK_REQUEST("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=st-2"
                  "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"
                  "&audience=https%3A%2F%2Fapi.example.com");
    EXPECT_INVALID_OUT(tokenclient_client_token_exchange(c, "", "t", NULL, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_token_exchange(c, "st", NULL, NULL, &t), t);
    if (EXPECT_OK(tokenclient_client_grant(c, "client_credentials", NULL, &t))) {
        tokenclient_token_free(t);
    }
    const char **many = repeated_params(256, "p", "v");
    if (EXPECT_OK(tokenclient_client_grant(c, "client_credentials", many, &t))) {
        tokenclient_token_free(t);
    }
    free(many);

    tokenclient_client_free(c);
}
