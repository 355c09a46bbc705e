/* fork() after a client was used: parent and child then make concurrent
 * exchanges against tests/conn_server.py (each token names the scope asked
 * for and the connection that carried it; tests/c/run_fork.py runs this
 * plainly and under valgrind).
 *
 *   test_fork URL [--in-flight]
 *
 * Checks: every token reaches the process (and thread) that asked for it;
 * the child never uses a connection of the parent's; the parent keeps its
 * pooled connection; no call fails. With --in-flight, a get_token of the
 * parent's is in flight when it forks: the child's get_token of the same
 * scope must not wait for a flight that lands only in the parent. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tokenclient.h"

#define THREADS 4
#define PER_THREAD 25
#define MAX_CONNS (THREADS * PER_THREAD)

static tokenclient_client *client;

typedef struct {
  const char *who;
  int thread;
  int failures; /* wrong token or failed call */
  int conns[PER_THREAD];
} work;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The connection number of a token issued for `scope`, or -1 when the
 * token was issued for another scope (someone else's response). */
static int conn_of(const tokenclient_token *token, const char *scope) {
  const char *access = tokenclient_token_access_token(token);
  const char *bar = strstr(access, "|conn=");
  if (!bar || (size_t)(bar - access) != strlen(scope) || strncmp(access, scope, strlen(scope)) != 0) {
    fprintf(stderr, "asked for %s, got a token for %s\n", scope, access);
    return -1;
  }
  return atoi(bar + strlen("|conn="));
}

/* The connection of the token `call` (client_credentials or get_token)
 * returns for `scope`; -1 when it fails or answers another scope. */
typedef tokenclient_error *(*token_call)(const tokenclient_client *, const char *, tokenclient_token **);

static int token_conn(token_call call, const char *scope) {
  tokenclient_token *token = NULL;
  tokenclient_error *err = call(client, scope, &token);
  if (err) {
    fprintf(stderr, "%s: %s\n", scope, tokenclient_error_message(err));
    tokenclient_error_free(err);
    return -1;
  }
  int conn = conn_of(token, scope);
  tokenclient_token_free(token);
  return conn;
}

static int exchange(const char *scope) {
  return token_conn(tokenclient_client_client_credentials, scope);
}

static int get_token_conn(const char *scope) {
  return token_conn(tokenclient_client_get_token, scope);
}

static void *worker(void *arg) {
  work *w = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    char scope[64];
    snprintf(scope, sizeof scope, "%s-%d-%d", w->who, w->thread, i);
    w->conns[i] = exchange(scope);
    if (w->conns[i] < 0) w->failures++;
  }
  return NULL;
}

/* THREADS threads of PER_THREAD exchanges each; the connections used go to
 * conns (MAX_CONNS entries). Returns the failures. */
static int run_workers(const char *who, int *conns) {
  pthread_t threads[THREADS];
  work works[THREADS];
  int failures = 0;
  for (int t = 0; t < THREADS; t++) {
    works[t] = (work){.who = who, .thread = t};
    pthread_create(&threads[t], NULL, worker, &works[t]);
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(threads[t], NULL);
    failures += works[t].failures;
    memcpy(conns + t * PER_THREAD, works[t].conns, sizeof works[t].conns);
  }
  return failures;
}

static int contains(const int *conns, int n, int conn) {
  for (int i = 0; i < n; i++)
    if (conns[i] == conn) return 1;
  return 0;
}

static void *slow_get_token(void *arg) {
  *(int *)arg = get_token_conn("slow");
  return NULL;
}

/* The child: its own exchanges, then its connections down the pipe. */
static int child(int out, int in_flight, int cached_conn) {
  alarm(60); /* a hang is a failure, not a stuck suite */
  int failures = 0;
  if (in_flight) {
    /* The parent's flight of "slow" never lands here: this call must make
     * its own request (answered after 1.5 s), not wait for that one. */
    double start = now_s();
    int conn = get_token_conn("slow");
    double took = now_s() - start;
    if (conn < 0 || took > 10) {
      fprintf(stderr, "child: get_token(slow) gave %d after %.1f s\n", conn, took);
      failures++;
    }
  }
  /* A token cached before the fork is the same client's: still served. */
  if (get_token_conn("cached") != cached_conn) failures++;
  int conns[MAX_CONNS];
  failures += run_workers("child", conns);
  if (write(out, conns, sizeof conns) != (ssize_t)sizeof conns) failures++;
  close(out);
  tokenclient_client_free(client);
  return failures > 100 ? 100 : failures;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_fork URL [--in-flight]\n");
    return 2;
  }
  int in_flight = argc > 2 && strcmp(argv[2], "--in-flight") == 0;
  tokenclient_error *err = tokenclient_client_new(argv[1], "fork-client", &client);
  if (!err) err = tokenclient_client_set_client_secret(client, "fork-secret-0123456789", TOKENCLIENT_AUTH_CLIENT_SECRET_POST);
  if (err) {
    fprintf(stderr, "set-up: %s\n", tokenclient_error_message(err));
    return 2;
  }

  /* Before the fork: one exchange (its connection stays in the pool) and
   * one cached token. */
  int before = exchange("warmup");
  CHECK(before > 0);
  int cached = get_token_conn("cached");
  CHECK(cached > 0);
  pthread_t slow;
  int slow_conn = 0;
  if (in_flight) {
    pthread_create(&slow, NULL, slow_get_token, &slow_conn);
    usleep(300 * 1000); /* its request is on the wire */
  }

  int fds[2];
  CHECK(pipe(fds) == 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    _exit(child(fds[1], in_flight, cached));
  }
  close(fds[1]);
  CHECK(pid > 0);

  int parent_conns[MAX_CONNS];
  int failures = run_workers("parent", parent_conns);
  CHECK(failures == 0);

  int child_conns[MAX_CONNS];
  size_t got = 0;
  while (got < sizeof child_conns) {
    ssize_t n = read(fds[0], (char *)child_conns + got, sizeof child_conns - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fds[0]);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fprintf(stderr, "child: %s %d\n", WIFEXITED(status) ? "exit status" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  CHECK(got == sizeof child_conns);

  if (got == sizeof child_conns) {
    int shared = 0;
    for (int i = 0; i < MAX_CONNS; i++)
      if (contains(parent_conns, MAX_CONNS, child_conns[i])) shared++;
    /* Parent and child never share a connection, and the child never uses
     * the one the parent had pooled before the fork. */
    CHECK(shared == 0);
    CHECK(!contains(child_conns, MAX_CONNS, before));
  }
  if (in_flight) {
    /* The parent's flight, on its pooled connection, lands in the parent. */
    pthread_join(slow, NULL);
    CHECK(slow_conn == before);
  } else {
    /* The parent keeps its pool: its pre-fork connection serves it again. */
    CHECK(contains(parent_conns, MAX_CONNS, before));
  }
  tokenclient_client_free(client);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
