/*
 * tests/c/core/server.c: a tiny HTTP server on 127.0.0.1, run by test_core
 * in a thread of its own, that gives one canned answer at a time (or echoes
 * the request, or hangs) and keeps the last request for the checks.
 */
#include "core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static struct {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    char response[8192]; /* the answer to send */
    int echo;            /* answer 400 with the request body instead */
    int hang_ms;         /* read the request, wait, close without answering */
    int delay_ms;        /* wait this long before each answer */
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
        int hang = srv.hang_ms, echo = srv.echo, delay = srv.delay_ms;
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
            if (delay) {
                sleep_ms(delay);
            }
            send_all(fd, answer, strlen(answer));
        }
        shutdown(fd, SHUT_WR);
        close(fd);
    }
}

int server_start(void) {
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

/* Set by server_start, before the server's thread starts. */
int server_port(void) { return srv.port; }

void server_stop(void) {
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

void serve_headers(const char *status, const char *headers, const char *content_type, const char *body) {
    pthread_mutex_lock(&srv.lock);
    snprintf(srv.response, sizeof srv.response,
             "HTTP/1.1 %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
             "Connection: close\r\n\r\n%s",
             status, headers, content_type, strlen(body), body);
    srv.echo = 0;
    srv.hang_ms = 0;
    pthread_mutex_unlock(&srv.lock);
}

void serve(const char *status, const char *content_type, const char *body) {
    serve_headers(status, "", content_type, body);
}

void serve_json(const char *body) { serve("200 OK", "application/json", body); }

void serve_delay(int ms) {
    pthread_mutex_lock(&srv.lock);
    srv.delay_ms = ms;
    pthread_mutex_unlock(&srv.lock);
}

void serve_echo(void) {
    pthread_mutex_lock(&srv.lock);
    srv.echo = 1;
    srv.hang_ms = 0;
    pthread_mutex_unlock(&srv.lock);
}

void serve_hang(int ms) {
    pthread_mutex_lock(&srv.lock);
    srv.echo = 0;
    srv.hang_ms = ms;
    pthread_mutex_unlock(&srv.lock);
}

int requests(void) {
    pthread_mutex_lock(&srv.lock);
    int n = srv.requests;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

int request_has(const char *needle) {
    pthread_mutex_lock(&srv.lock);
    int found = strstr(srv.request, needle) != NULL;
    pthread_mutex_unlock(&srv.lock);
    return found;
}

tokenclient_client *server_client(void) {
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
