/*
 * tests/c/core/cache.c: get_token and the token cache against the loopback
 * server (server.c): cached tokens, scopes, invalidation, refresh tokens,
 * the token hook, proactive refresh, and cached tokens that outlive the
 * client.
 */
#include "core.h"

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
static void get_token_at(tokenclient_client *c, const char *scope, const char *want, const char *file, int line) {
    tokenclient_token *t = SENTINEL;
    if (expect_ok_at(tokenclient_client_get_token(c, scope, &t), "get_token", file, line)) {
        const char *at = tokenclient_token_access_token(t);
        char what[256];
        snprintf(what, sizeof what, "get_token(%s) gave %s, want %s", scope ? scope : "NULL",
                 at ? at : "(null)", want);
        check_at(at && strcmp(at, want) == 0, what, file, line);
        tokenclient_token_free(t);
    }
}

#define GET_TOKEN(c, scope, want) get_token_at((c), (scope), (want), __FILE__, __LINE__)

/* A hook that uses the client: setters and invalidate_token are allowed
 * from it (only get_token of the same client is not). */
static void on_token_reentrant(void *user_data, const tokenclient_token *token) {
    tokenclient_client *c = user_data;
    (void)token;
    tokenclient_error_free(tokenclient_client_set_audience(c, "https://from-the-hook.example.com"));
    tokenclient_error_free(tokenclient_client_invalidate_token(c, NULL));
    tokenclient_error_free(tokenclient_client_set_refresh_policy(c, 80, 10));
}

void test_cache(void) {
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
    check_oauth_error_at(tokenclient_client_get_token(c, NULL, &t), 400, "invalid_client", NULL, NULL,
                         __FILE__, __LINE__);
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
