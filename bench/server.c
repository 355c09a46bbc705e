/*
 * A minimal HTTP/1.1 keep-alive token endpoint for the benchmarks: one
 * thread per connection; each request (headers, then a Content-Length body,
 * which is not looked at) is answered 200 with a fixed token JSON. A
 * connection is never closed by the server: only by the client, or on a
 * request it cannot frame (chunked, oversized headers).
 *
 * Usage: server [-p PORT] [-d DUMPFILE]
 *   Listens on 127.0.0.1:PORT (default 0: an ephemeral port) and prints the
 *   port on the first line of stdout. -d appends every request (headers and
 *   body) to DUMPFILE, each preceded by a line "=== <length>": for checking
 *   what the clients send, not for timing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536

static const char BODY[] =
    "{\"access_token\":\"bench-access-token-0123456789abcdefghijklmn\",\"token_type\":\"Bearer\","
    "\"expires_in\":3600}";
static char response[512];
static size_t response_len;
static const char CONTINUE[] = "HTTP/1.1 100 Continue\r\n\r\n";

static FILE *dump;
static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The value of header `name` (with its colon, lower case) in the header block
 * [start, end), or NULL; *len is set to its length without surrounding blanks. */
static const char *header_value(const char *start, const char *end, const char *name, size_t *len) {
  size_t name_len = strlen(name);
  const char *line = memchr(start, '\n', (size_t)(end - start)); /* skip the request line */
  while (line && line < end) {
    line++;
    const char *eol = memchr(line, '\n', (size_t)(end - line));
    if (!eol) eol = end;
    if ((size_t)(eol - line) > name_len && strncasecmp(line, name, name_len) == 0) {
      const char *v = line + name_len, *ve = eol;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      *len = (size_t)(ve - v);
      return v;
    }
    line = eol;
  }
  return NULL;
}

static void record(const char *head, size_t head_len, const char *body, size_t body_len) {
  pthread_mutex_lock(&dump_lock);
  fprintf(dump, "=== %zu\n", head_len + body_len);
  fwrite(head, 1, head_len, dump);
  fwrite(body, 1, body_len, dump);
  fputc('\n', dump);
  fflush(dump);
  pthread_mutex_unlock(&dump_lock);
}

static void *serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  char *buf = malloc(BUF_SIZE);
  size_t len = 0;
  if (!buf) goto done;
  for (;;) {
    char *end;
    size_t scanned = 0;
    while (!(end = memmem(buf + scanned, len - scanned, "\r\n\r\n", 4))) {
      scanned = len > 3 ? len - 3 : 0;
      if (len == BUF_SIZE) goto done; /* headers too large */
      ssize_t n = read(fd, buf + len, BUF_SIZE - len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) goto done;
      len += (size_t)n;
    }
    size_t head_len = (size_t)(end - buf) + 4, vlen = 0;
    unsigned long long body_len = 0;
    const char *v = header_value(buf, end, "transfer-encoding:", &vlen);
    if (v && !(vlen == 8 && strncasecmp(v, "identity", 8) == 0)) goto done; /* chunked: not supported */
    v = header_value(buf, end, "content-length:", &vlen);
    if (v) {
      char num[32];
      if (vlen == 0 || vlen >= sizeof num) goto done;
      memcpy(num, v, vlen);
      num[vlen] = 0;
      char *stop;
      body_len = strtoull(num, &stop, 10);
      if (*stop) goto done;
    }
    v = header_value(buf, end, "expect:", &vlen);
    if (v && vlen == 12 && strncasecmp(v, "100-continue", 12) == 0 && len < head_len + body_len &&
        write_all(fd, CONTINUE, sizeof CONTINUE - 1) < 0)
      goto done;

    while (len < head_len + body_len && head_len + body_len <= BUF_SIZE) { /* the body fits: read it */
      ssize_t n = read(fd, buf + len, BUF_SIZE - len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) goto done;
      len += (size_t)n;
    }
    if (len >= head_len + body_len) { /* the whole body is here */
      if (dump) record(buf, head_len, buf + head_len, (size_t)body_len);
      size_t used = head_len + (size_t)body_len;
      memmove(buf, buf + used, len - used);
      len -= used;
    } else { /* a body larger than the buffer: read past it, keeping what follows */
      if (dump) record(buf, head_len, buf + head_len, len - head_len);
      unsigned long long rest = body_len - (len - head_len);
      len = 0;
      while (rest > 0) {
        ssize_t n = read(fd, buf, BUF_SIZE);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto done;
        if ((unsigned long long)n > rest) {
          memmove(buf, buf + rest, (size_t)n - rest);
          len = (size_t)n - rest;
          rest = 0;
        } else {
          rest -= (unsigned long long)n;
        }
      }
    }
    if (write_all(fd, response, response_len) < 0) goto done;
  }
done:
  free(buf);
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
      port = atoi(argv[++i]);
    } else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
      dump = fopen(argv[++i], "a");
      if (!dump) {
        perror("server: dump file");
        return 1;
      }
    } else {
      fprintf(stderr, "usage: %s [-p PORT] [-d DUMPFILE]\n", argv[0]);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  response_len = (size_t)snprintf(response, sizeof response,
                                  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                  "Cache-Control: no-store\r\nContent-Length: %zu\r\n\r\n%s",
                                  sizeof BODY - 1, BODY);

  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (ls < 0) {
    perror("server: socket");
    return 1;
  }
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof addr;
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 1024) < 0 ||
      getsockname(ls, (struct sockaddr *)&addr, &alen) < 0) {
    perror("server: bind/listen");
    return 1;
  }
  printf("%d\n", ntohs(addr.sin_port));
  fflush(stdout);

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (;;) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
      perror("server: accept");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t t;
    if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd) != 0) close(fd);
  }
}
