/*
 * tests/c/core/events.c: the log callback and the counters against the
 * loopback server (server.c). A scripted sequence (cache miss and an
 * exchange, a cached hit, a refresh that fails with 503 after one retry
 * while the old token is kept, invalid_client) must produce exactly the
 * expected events, in order, with their fields, and the expected counters.
 */
#include "core.h"

#include <pthread.h>

#define MAX_EVENTS 32

struct recorded {
    pthread_mutex_t lock;
    int count;
    struct {
        unsigned level;
        char line[512]; /* "name key=value ..." of the fields checked */
    } events[MAX_EVENTS];
};

static const char *const FIELDS[] = {"grant_type", "auth_method", "scope", "attempt",
                                     "http_status", "oauth_error", "error_kind"};

static void on_event(void *user_data, const tokenclient_event *event) {
    struct recorded *r = user_data;
    pthread_mutex_lock(&r->lock);
    if (r->count < MAX_EVENTS) {
        char *line = r->events[r->count].line;
        size_t cap = sizeof r->events[r->count].line;
        int n = snprintf(line, cap, "%s", tokenclient_event_name(event));
        for (size_t i = 0; i < sizeof FIELDS / sizeof *FIELDS && n > 0 && (size_t)n < cap; i++) {
            const char *v = tokenclient_event_field(event, FIELDS[i]);
            if (v) n += snprintf(line + n, cap - (size_t)n, " %s=%s", FIELDS[i], v);
        }
        /* The endpoint is the token URL, and the JSON form names the event. */
        const char *endpoint = tokenclient_event_field(event, "endpoint");
        const char *json = tokenclient_event_json(event);
        if (!endpoint || !strstr(endpoint, "/token") || !json || !strstr(json, tokenclient_event_name(event)))
            snprintf(line, cap, "malformed event %s", tokenclient_event_name(event));
        r->events[r->count].level = tokenclient_event_level(event);
        r->count++;
    }
    pthread_mutex_unlock(&r->lock);
}

static void expect_events_at(struct recorded *r, const char *const *want, int n, const char *file, int line) {
    pthread_mutex_lock(&r->lock);
    char what[700];
    snprintf(what, sizeof what, "%d events, want %d", r->count, n);
    check_at(r->count == n, what, file, line);
    for (int i = 0; i < n && i < r->count; i++) {
        snprintf(what, sizeof what, "event %d is \"%s\", want \"%s\"", i, r->events[i].line, want[i]);
        check_at(strcmp(r->events[i].line, want[i]) == 0, what, file, line);
    }
    r->count = 0;
    pthread_mutex_unlock(&r->lock);
}

#define EXPECT_EVENTS(r, ...)                                                        \
    do {                                                                             \
        const char *const want_[] = {__VA_ARGS__};                                   \
        expect_events_at((r), want_, (int)(sizeof want_ / sizeof *want_), __FILE__, __LINE__); \
    } while (0)

/* The counters' JSON contains `needle` (e.g. "\"retries\":1"). */
static void check_counter_at(const char *json, const char *needle, const char *file, int line) {
    char what[256];
    snprintf(what, sizeof what, "the counters have %s", needle);
    check_at(json && strstr(json, needle) != NULL, what, file, line);
}

#define CHECK_COUNTER(json, needle) check_counter_at((json), (needle), __FILE__, __LINE__)

void test_events(void) {
    static struct recorded r = {.lock = PTHREAD_MUTEX_INITIALIZER};
    tokenclient_client *c = server_client();
    EXPECT_OK(tokenclient_client_set_client_secret(c, "events-secret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_OK(tokenclient_client_set_retry_policy(c, 1, 1, 10));
    /* Refresh after 10% of a token's life, no margin: a 4 s token is
     * refreshed early but still usable after 0.5 s. */
    EXPECT_OK(tokenclient_client_set_refresh_policy(c, 10, 0));
    EXPECT_INVALID(tokenclient_client_set_log_callback(c, 5, on_event, &r));
    EXPECT_OK(tokenclient_client_set_log_callback(c, TOKENCLIENT_LOG_DEBUG, on_event, &r));

    /* A miss: one exchange. */
    serve_json("{\"access_token\":\"ev-1\",\"token_type\":\"Bearer\",\"expires_in\":4}");
    tokenclient_token *t = NULL;
    if (EXPECT_OK(tokenclient_client_get_token(c, "read", &t))) tokenclient_token_free(t);
    EXPECT_EVENTS(&r, "cache.miss scope=read", "cache.refresh.started scope=read",
                  "request.sent grant_type=client_credentials auth_method=client_secret_post scope=read attempt=1",
                  "request.done grant_type=client_credentials auth_method=client_secret_post scope=read attempt=1");

    /* A hit. */
    if (EXPECT_OK(tokenclient_client_get_token(c, "read", &t))) tokenclient_token_free(t);
    EXPECT_EVENTS(&r, "cache.hit scope=read");

    /* Due for refresh; the server fails twice (first attempt and the one
     * retry): the old token is kept. */
    sleep_ms(600);
    serve("503 Service Unavailable", "text/plain", "busy");
    t = NULL;
    if (EXPECT_OK(tokenclient_client_get_token(c, "read", &t))) {
        CHECK(strcmp(tokenclient_token_access_token(t), "ev-1") == 0);
        tokenclient_token_free(t);
    }
    EXPECT_EVENTS(&r, "cache.refresh.started scope=read",
                  "request.sent grant_type=client_credentials auth_method=client_secret_post scope=read attempt=1",
                  "request.failed grant_type=client_credentials auth_method=client_secret_post scope=read attempt=1 http_status=503 error_kind=http",
                  "retry.scheduled grant_type=client_credentials auth_method=client_secret_post scope=read attempt=2",
                  "request.sent grant_type=client_credentials auth_method=client_secret_post scope=read attempt=2",
                  "request.failed grant_type=client_credentials auth_method=client_secret_post scope=read attempt=2 http_status=503 error_kind=http",
                  "cache.refresh.failed_kept_old scope=read http_status=503 error_kind=http");

    /* invalid_client: never retried. Only warnings from here on. */
    EXPECT_OK(tokenclient_client_set_log_callback(c, TOKENCLIENT_LOG_WARN, on_event, &r));
    serve("401 Unauthorized", "application/json", "{\"error\":\"invalid_client\"}");
    t = NULL;
    EXPECT_ERR(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_OAUTH);
    EXPECT_EVENTS(&r, "request.failed grant_type=client_credentials auth_method=client_secret_post attempt=1 http_status=401 oauth_error=invalid_client error_kind=oauth");

    char *json = NULL;
    if (EXPECT_OK(tokenclient_client_counters(c, &json))) {
        CHECK_COUNTER(json, "\"client_credentials\":4");
        CHECK_COUNTER(json, "\"http\":1");
        CHECK_COUNTER(json, "\"oauth\":1");
        CHECK_COUNTER(json, "\"retries\":1");
        CHECK_COUNTER(json, "\"cache_hits\":1");
        CHECK_COUNTER(json, "\"cache_misses\":1");
        CHECK_COUNTER(json, "\"refreshes\":2");
        CHECK_COUNTER(json, "\"refresh_failures_kept_old\":1");
        CHECK_COUNTER(json, "\"singleflight_waits\":0");
        CHECK(strstr(json, "events-secret-value") == NULL);
        tokenclient_string_free(json);
    }
    EXPECT_INVALID_OUT(tokenclient_client_counters(NULL, &json), json);
    CHECK(tokenclient_event_name(NULL) == NULL && tokenclient_event_json(NULL) == NULL);
    CHECK(tokenclient_event_field(NULL, "scope") == NULL && tokenclient_event_level(NULL) == 0);

    /* Removed: no more events. */
    EXPECT_OK(tokenclient_client_set_log_callback(c, TOKENCLIENT_LOG_DEBUG, NULL, NULL));
    serve("401 Unauthorized", "application/json", "{\"error\":\"invalid_client\"}");
    EXPECT_ERR(tokenclient_client_client_credentials(c, NULL, &t), TOKENCLIENT_ERROR_OAUTH);
    pthread_mutex_lock(&r.lock);
    CHECK(r.count == 0);
    pthread_mutex_unlock(&r.lock);
    tokenclient_client_free(c);
}
