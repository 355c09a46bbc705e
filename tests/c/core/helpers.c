/*
 * tests/c/core/helpers.c: test_core's checks of tokenclient's results
 * (EXPECT_OK, EXPECT_ERR and the like, core.h), its strings of bad UTF-8,
 * and helpers: key files, strings, a client, sleeping.
 */
#include "core.h"

#include <errno.h>
#include <time.h>

char sentinel_object;

const char BAD_UTF8[] = "\xff\xfe";
const char OVERLONG_UTF8[] = "\xc0\xaf";
const char SURROGATE_UTF8[] = "\xed\xa0\x80";
const char TRUNCATED_UTF8[] = "https://idp.example.com/\xe2\x82";

int expect_error_at(tokenclient_error *e, tokenclient_error_kind kind, const char *needle, const char *call,
                    const char *file, int line) {
    char what[1024];
    if (e == NULL) {
        snprintf(what, sizeof what, "%s: expected error kind %d, got success", call, (int)kind);
        return check_at(0, what, file, line);
    }
    tokenclient_error_kind got = tokenclient_error_get_kind(e);
    const char *msg = tokenclient_error_message(e);
    snprintf(what, sizeof what, "%s: expected error kind %d, got %d (%s)", call, (int)kind,
             (int)got, msg ? msg : "(null message)");
    int ok = check_at(got == kind, what, file, line);
    snprintf(what, sizeof what, "%s: the message is one non-empty line", call);
    ok &= check_at(msg != NULL && msg[0] != '\0' && strchr(msg, '\n') == NULL, what, file, line);
    if (needle != NULL) {
        snprintf(what, sizeof what, "%s: the message \"%s\" mentions \"%s\"", call,
                 msg ? msg : "(null)", needle);
        ok &= check_at(msg != NULL && strstr(msg, needle) != NULL, what, file, line);
    }
    tokenclient_error_free(e);
    return ok;
}

int expect_ok_at(tokenclient_error *e, const char *call, const char *file, int line) {
    if (e == NULL) {
        return check_at(1, call, file, line);
    }
    char what[1024];
    snprintf(what, sizeof what, "%s: unexpected error kind %d: %s", call,
             (int)tokenclient_error_get_kind(e), tokenclient_error_message(e));
    tokenclient_error_free(e);
    return check_at(0, what, file, line);
}

char *read_key(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", key_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s (run tests/c/run.sh, which makes the keys)\n", path);
        exit(2);
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *grown = realloc(text, cap);
            if (grown == NULL) {
                abort();
            }
            text = grown;
        }
        size_t n = fread(text + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

char *replace_all(const char *text, const char *from, const char *to) {
    size_t from_len = strlen(from), to_len = strlen(to), count = 0;
    for (const char *p = text; (p = strstr(p, from)) != NULL; p += from_len) {
        count++;
    }
    char *out = malloc(strlen(text) + count * to_len + 1);
    if (out == NULL) {
        abort();
    }
    char *o = out;
    for (const char *p = text;;) {
        const char *hit = strstr(p, from);
        if (hit == NULL) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        memcpy(o, to, to_len);
        o += to_len;
        p = hit + from_len;
    }
    return out;
}

char *repeat_char(char c, size_t n) {
    char *s = malloc(n + 1);
    if (s == NULL) {
        abort();
    }
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* A secret of n characters that starts with c and does not repeat itself:
 * unlike a run of one letter, no 16 characters of it occur in ordinary text,
 * so the suite-wide secret scan (tests/audit) can tell it from a message. */
char *secret_of(char c, size_t n) {
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char *s = repeat_char(c, n);
    for (size_t i = 1; i < n; i++) s[i] = alphabet[(i * 7 + (size_t)c * 13 + i * i) % 62];
    return s;
}

const char **repeated_params(int pairs, const char *name, const char *value) {
    const char **params = malloc((2 * (size_t)pairs + 1) * sizeof *params);
    if (params == NULL) {
        abort();
    }
    for (int i = 0; i < pairs; i++) {
        params[2 * i] = name;
        params[2 * i + 1] = value;
    }
    params[2 * pairs] = NULL;
    return params;
}

tokenclient_client *new_client(void) {
    tokenclient_client *c = NULL;
    if (!EXPECT_OK(tokenclient_client_new(TOKEN_URL, CLIENT_ID, &c)) || c == NULL) {
        fprintf(stderr, "cannot create a client; giving up\n");
        exit(1);
    }
    return c;
}

void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
