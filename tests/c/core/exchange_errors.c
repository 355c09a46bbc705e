/*
 * tests/c/core/exchange_errors.c: exchanges that fail, against the loopback
 * server (server.c): OAuth and HTTP errors and every error accessor,
 * retries, bad responses, the response limit, timeouts, messages that must
 * not carry a secret, and nothing listening.
 */
#include "core.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* Checks an OAuth error's accessors; frees it (cache.c uses it too). */
void check_oauth_error_at(tokenclient_error *e, int status, const char *code, const char *description,
                          const char *uri, const char *file, int line) {
    if (!check_at(e != NULL, "an error", file, line)) {
        return;
    }
    char what[512];
    snprintf(what, sizeof what, "kind %d is OAUTH (%s)", (int)tokenclient_error_get_kind(e),
             tokenclient_error_message(e));
    check_at(tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_OAUTH, what, file, line);
    check_at(tokenclient_error_http_status(e) == status, "http status", file, line);
    const char *s = tokenclient_error_oauth_code(e);
    check_at(s && strcmp(s, code) == 0, "oauth code", file, line);
    s = tokenclient_error_oauth_description(e);
    check_at(description ? (s && strcmp(s, description) == 0) : s == NULL, "oauth description", file, line);
    s = tokenclient_error_oauth_uri(e);
    check_at(uri ? (s && strcmp(s, uri) == 0) : s == NULL, "oauth uri", file, line);
    s = tokenclient_error_message(e);
    check_at(s && strstr(s, code) != NULL && strchr(s, '\n') == NULL, "the message names the code", file, line);
    tokenclient_error_free(e);
}

/* Checks a non-OAuth error's kind and status; frees it. */
static void check_error_at(tokenclient_error *e, tokenclient_error_kind kind, int status, const char *file,
                           int line) {
    if (!check_at(e != NULL, "an error", file, line)) {
        return;
    }
    char what[512];
    snprintf(what, sizeof what, "kind %d is %d, status %d is %d (%s)", (int)tokenclient_error_get_kind(e),
             (int)kind, tokenclient_error_http_status(e), status, tokenclient_error_message(e));
    check_at(tokenclient_error_get_kind(e) == kind && tokenclient_error_http_status(e) == status, what, file, line);
    check_at(tokenclient_error_oauth_code(e) == NULL, "no oauth code", file, line);
    check_at(tokenclient_error_oauth_description(e) == NULL, "no oauth description", file, line);
    check_at(tokenclient_error_oauth_uri(e) == NULL, "no oauth uri", file, line);
    tokenclient_error_free(e);
}

void test_exchange_errors(void) {
    tokenclient_client *c = server_client();
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    tokenclient_token *t = SENTINEL;
    tokenclient_error *e;

    serve("400 Bad Request", "application/json",
          "{\"error\":\"invalid_grant\",\"error_description\":\"the code expired\","
          "\"error_uri\":\"https://docs.example/errors#grant\"}");
    check_oauth_error_at(tokenclient_client_exchange_code(c, "code", "https://app/cb", NULL, &t), 400,
                         "invalid_grant", "the code expired", "https://docs.example/errors#grant", __FILE__, __LINE__);
    CHECK(t == SENTINEL);

    serve("401 Unauthorized", "application/json", "{\"error\":\"invalid_client\"}");
    check_oauth_error_at(tokenclient_client_client_credentials(c, NULL, &t), 401, "invalid_client", NULL,
                         NULL, __FILE__, __LINE__);
    CHECK(t == SENTINEL);

    /* Control characters from the server never make the message multi-line. */
    serve("400 Bad Request", "application/json",
          "{\"error\":\"invalid_scope\",\"error_description\":\"line one\\nline two\\r\"}");
    check_oauth_error_at(tokenclient_client_client_credentials(c, NULL, &t), 400, "invalid_scope",
                         "line one line two ", NULL, __FILE__, __LINE__);
    serve("500 Internal Server Error", "text/plain", "trace:\r\n  at x\n  at y\n");
    e = tokenclient_client_client_credentials(c, NULL, &t);
    CHECK(e && strchr(tokenclient_error_message(e), '\n') == NULL && strchr(tokenclient_error_message(e), '\r') == NULL);
    check_error_at(e, TOKENCLIENT_ERROR_HTTP, 500, __FILE__, __LINE__);

    serve("503 Service Unavailable", "text/plain", "down for maintenance");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_HTTP, 503, __FILE__, __LINE__);
    CHECK(t == SENTINEL);

    serve("400 Bad Request", "text/html", "<html>nope</html>");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_HTTP, 400, __FILE__, __LINE__);

    serve_headers("302 Found", "Location: https://elsewhere.example/token\r\n", "text/plain", "");
    e = tokenclient_client_client_credentials(c, NULL, &t);
    CHECK(e && strstr(tokenclient_error_message(e), "redirect") != NULL);
    check_error_at(e, TOKENCLIENT_ERROR_HTTP, 302, __FILE__, __LINE__);

    /* Retries: 5xx retried (2 retries: 3 requests), OAuth errors never,
     * a Retry-After above the maximum delay ends them. */
    EXPECT_OK(tokenclient_client_set_retry_policy(c, 2, 0, 10000));
    int n = requests();
    serve("503 Service Unavailable", "text/plain", "busy");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_HTTP, 503, __FILE__, __LINE__);
    CHECK(requests() == n + 3);
    n = requests();
    serve("400 Bad Request", "application/json", "{\"error\":\"invalid_request\"}");
    check_oauth_error_at(tokenclient_client_client_credentials(c, NULL, &t), 400, "invalid_request", NULL, NULL,
                         __FILE__, __LINE__);
    CHECK(requests() == n + 1);
    n = requests();
    serve_headers("503 Service Unavailable", "Retry-After: 3600\r\n", "text/plain", "later");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_HTTP, 503, __FILE__, __LINE__);
    CHECK(requests() == n + 1);
    EXPECT_OK(tokenclient_client_set_retry_policy(c, 0, 0, 0));

    serve("200 OK", "application/json", "not json");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_RESPONSE, 200,
                   __FILE__, __LINE__);
    serve_json("{\"access_token\":\"a\",\"access_token\":\"b\",\"token_type\":\"Bearer\"}");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_RESPONSE, 200,
                   __FILE__, __LINE__);
    serve_json("{\"token_type\":\"Bearer\"}");
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_RESPONSE, 200,
                   __FILE__, __LINE__);
    serve_json("{\"access_token\":\"AT-SECRET-VALUE\",\"token_type\":\"Bearer\",\"expires_in\":\"soon\"}");
    e = tokenclient_client_client_credentials(c, NULL, &t);
    CHECK(e && strstr(tokenclient_error_message(e), "AT-SECRET-VALUE") == NULL);
    check_error_at(e, TOKENCLIENT_ERROR_RESPONSE, 200, __FILE__, __LINE__);
    CHECK(t == SENTINEL);

    /* The response limit */
    EXPECT_OK(tokenclient_client_set_max_response_bytes(c, 1024));
    char big[2200];
    snprintf(big, sizeof big, "{\"access_token\":\"%0*d\",\"token_type\":\"Bearer\"}", 2000, 0);
    serve_json(big);
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_TRANSPORT, 0,
                   __FILE__, __LINE__);
    EXPECT_OK(tokenclient_client_set_max_response_bytes(c, 4096));
    if (EXPECT_OK(tokenclient_client_client_credentials(c, NULL, &t))) {
        CHECK(strlen(tokenclient_token_access_token(t)) == 2000);
        tokenclient_token_free(t);
    }
    t = SENTINEL;

    /* A server that does not answer: the total timeout */
    EXPECT_OK(tokenclient_client_set_timeout_ms(c, 1000, 300));
    serve_hang(800);
    check_error_at(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_TRANSPORT, 0,
                   __FILE__, __LINE__);
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
    snprintf(url, sizeof url, "http://127.0.0.1:%d/token", server_port());
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
                           __FILE__, __LINE__);
            check_error_at(tokenclient_client_get_token(d, NULL, &t), TOKENCLIENT_ERROR_TRANSPORT, 0,
                           __FILE__, __LINE__);
            CHECK(t == SENTINEL);
            tokenclient_client_free(d);
        }
    }
}
