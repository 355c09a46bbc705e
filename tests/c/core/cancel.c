/*
 * tests/c/core/cancel.c: per-call options (tokenclient_call_options),
 * cancel handles and deadlines: their arguments, a call to a server that
 * never answers cancelled from another thread (timed), a deadline of the
 * call's own, a cancelled single-flight waiter that leaves the shared
 * request alone, and how long get_token's tokens are fresh.
 */
#include "core.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A listening socket on 127.0.0.1 that never accepts: connections complete
 * in the kernel's backlog and requests are never answered. Returns the fd
 * and writes the port. */
static int silent_server(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
        return -1;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

/* How long a cancelled call may take to return, from the cancel: 50 ms is
 * the promise (bench/ measures it); the margin covers a loaded machine,
 * and valgrind's slowness. */
static double cancel_bound_ms(void) { return quick ? 500.0 : 150.0; }

struct canceller {
    tokenclient_cancel *cancel;
    int after_ms;
    double fired_at;
};

static void *cancel_later(void *arg) {
    struct canceller *k = arg;
    sleep_ms(k->after_ms);
    k->fired_at = now_ms();
    tokenclient_cancel_cancel(k->cancel);
    return NULL;
}

static void test_arguments(void) {
    EXPECT_INVALID(tokenclient_cancel_new(NULL));
    tokenclient_cancel_cancel(NULL);
    tokenclient_cancel_free(NULL);

    tokenclient_client *c = new_client();
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    tokenclient_token *t;
    tokenclient_call_options short_size = {.struct_size = 4};
    EXPECT_INVALID_OUT(tokenclient_client_client_credentials_ex(c, NULL, &short_size, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_get_token_ex(c, NULL, &short_size, &t), t);
    EXPECT_INVALID_OUT(tokenclient_client_exchange_code_ex(NULL, "c", "r", NULL, NULL, &t), t);
    EXPECT_INVALID(tokenclient_client_refresh_ex(c, "rt", NULL, NULL, NULL));
    EXPECT_INVALID_OUT(tokenclient_client_grant_ex(c, NULL, NULL, NULL, &t), t);

    /* Cancelled before the call: nothing is sent, CANCELLED at once. */
    tokenclient_cancel *k = NULL;
    EXPECT_OK(tokenclient_cancel_new(&k));
    tokenclient_cancel_cancel(k);
    tokenclient_cancel_cancel(k); /* idempotent */
    tokenclient_call_options o = {.struct_size = sizeof o, .cancel = k};
    int before = requests();
    EXPECT_ERR_OUT(tokenclient_client_client_credentials_ex(c, NULL, &o, &t), TOKENCLIENT_ERROR_CANCELLED, t);
    EXPECT_ERR_OUT(tokenclient_client_get_token_ex(c, NULL, &o, &t), TOKENCLIENT_ERROR_CANCELLED, t);
    CHECK(requests() == before);
    tokenclient_cancel_free(k);
    tokenclient_client_free(c);
}

/* A call to a server that never answers, cancelled from another thread,
 * returns CANCELLED within the bound of the cancel; so does get_token_ex. */
static void test_cancel_silent_server(void) {
    int port = 0;
    int fd = silent_server(&port);
    if (!CHECK(fd >= 0)) {
        return;
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/token", port);
    tokenclient_client *c = NULL;
    EXPECT_OK(tokenclient_client_new(url, CLIENT_ID, &c));
    EXPECT_OK(tokenclient_client_set_proxy(c, ""));
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));

    for (int get_token = 0; get_token <= 1; get_token++) {
        tokenclient_cancel *k = NULL;
        EXPECT_OK(tokenclient_cancel_new(&k));
        struct canceller later = {.cancel = k, .after_ms = 200};
        pthread_t thread;
        pthread_create(&thread, NULL, cancel_later, &later);
        tokenclient_call_options o = {.struct_size = sizeof o, .cancel = k};
        tokenclient_token *t = SENTINEL;
        double start = now_ms();
        tokenclient_error *e = get_token ? tokenclient_client_get_token_ex(c, NULL, &o, &t)
                                         : tokenclient_client_client_credentials_ex(c, NULL, &o, &t);
        double end = now_ms();
        pthread_join(thread, NULL);
        double after_cancel = end - later.fired_at;
        printf("    %s: CANCELLED %.2f ms after the cancel\n", get_token ? "get_token_ex" : "client_credentials_ex",
               after_cancel);
        CHECK(end - start >= 150);
        CHECK(after_cancel >= 0 && after_cancel < cancel_bound_ms());
        EXPECT_ERR_MSG(e, TOKENCLIENT_ERROR_CANCELLED, "cancelled");
        CHECK(t == SENTINEL);
        tokenclient_cancel_free(k);
    }

    /* The call's own deadline: 300 ms, against the client's 30 s. */
    tokenclient_call_options o = {.struct_size = 0, .deadline_ms = 300};
    tokenclient_token *t = SENTINEL;
    double start = now_ms();
    EXPECT_ERR_MSG(tokenclient_client_client_credentials_ex(c, NULL, &o, &t), TOKENCLIENT_ERROR_TRANSPORT,
                   "timed out");
    double took = now_ms() - start;
    printf("    deadline_ms 300: TRANSPORT after %.1f ms\n", took);
    CHECK(took >= 250 && took < 300 + cancel_bound_ms() + 500);
    CHECK(t == SENTINEL);
    /* Freeing the client stops the detached request of the cancelled
     * get_token_ex (still waiting on the silent server), promptly. */
    start = now_ms();
    tokenclient_client_free(c);
    CHECK(now_ms() - start < cancel_bound_ms());
    close(fd);
}

struct waiter {
    tokenclient_client *c;
    tokenclient_call_options options;
    tokenclient_error *error;
    char access_token[32];
};

static void *wait_for_token(void *arg) {
    struct waiter *w = arg;
    tokenclient_token *t = NULL;
    w->error = tokenclient_client_get_token_ex(w->c, NULL, &w->options, &t);
    if (!w->error) {
        snprintf(w->access_token, sizeof w->access_token, "%s", tokenclient_token_access_token(t));
        tokenclient_token_free(t);
    }
    return NULL;
}

/* Eight callers wait for one slow request; the one that started it and
 * three others are cancelled: they return CANCELLED, the others get the
 * token, and the server saw one request. */
static void test_cancelled_waiters(void) {
    tokenclient_client *c = server_client();
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    serve_json("{\"access_token\":\"AT-SHARED\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
    serve_delay(quick ? 1500 : 600);
    int before = requests();
    enum { N = 8 };
    struct waiter w[N];
    tokenclient_cancel *k[N];
    pthread_t threads[N];
    for (int i = 0; i < N; i++) {
        memset(&w[i], 0, sizeof w[i]);
        k[i] = NULL;
        EXPECT_OK(tokenclient_cancel_new(&k[i]));
        w[i].c = c;
        w[i].options = (tokenclient_call_options){.struct_size = sizeof w[i].options, .cancel = k[i]};
        pthread_create(&threads[i], NULL, wait_for_token, &w[i]);
        if (i == 0) {
            sleep_ms(50); /* the first starts the request */
        }
    }
    sleep_ms(100);
    for (int i = 0; i < N; i += 2) {
        tokenclient_cancel_cancel(k[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        if (i % 2 == 0) {
            EXPECT_ERR(w[i].error, TOKENCLIENT_ERROR_CANCELLED);
        } else if (EXPECT_OK(w[i].error)) {
            CHECK(strcmp(w[i].access_token, "AT-SHARED") == 0);
        }
        tokenclient_cancel_free(k[i]);
    }
    serve_delay(0);
    CHECK(requests() == before + 1);

    /* The cached token says how long it stays fresh: 80% of 3600 s. */
    tokenclient_token *t = NULL;
    if (EXPECT_OK(tokenclient_client_get_token(c, NULL, &t))) {
        int64_t fresh = tokenclient_token_fresh_for_ms(t);
        CHECK(fresh > 2870000 && fresh <= 2880000);
        tokenclient_token_free(t);
    }
    CHECK(requests() == before + 1);
    if (EXPECT_OK(tokenclient_client_client_credentials(c, NULL, &t))) {
        CHECK(tokenclient_token_fresh_for_ms(t) == -1); /* not from the cache */
        tokenclient_token_free(t);
    }
    CHECK(tokenclient_token_fresh_for_ms(NULL) == -1);
    tokenclient_client_free(c);
}

void test_cancel(void) {
    test_arguments();
    test_cancel_silent_server();
    test_cancelled_waiters();
}
