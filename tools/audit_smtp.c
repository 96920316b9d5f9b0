/*
 * audit_smtp.c - a minimal, strict SMTP client for dmg-audit (see audit_smtp.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "audit_smtp.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

struct conn {
    int fd;
    int timeout;
    char buf[4096];
    size_t len;
    char last[512];     /* last reply's last line, for messages */
};

static int send_all(struct conn *c, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int cmd(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One reply (all its lines); its code, -1 on timeout or closed connection. */
static int reply(struct conn *c)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl != NULL) {
            size_t ll = (size_t)(nl - c->buf);
            size_t keep = ll < sizeof c->last - 1 ? ll : sizeof c->last - 1;
            memcpy(c->last, c->buf, keep);
            c->last[keep] = '\0';
            if (keep > 0 && c->last[keep - 1] == '\r')
                c->last[keep - 1] = '\0';
            memmove(c->buf, nl + 1, c->len - ll - 1);
            c->len -= ll + 1;
            if (strlen(c->last) < 3)
                return -1;
            if (c->last[3] == '-')
                continue;
            return atoi(c->last);
        }
        if (c->len == sizeof c->buf) /* an overlong line: keep its end */
            c->len = 0;
        struct pollfd p = { c->fd, POLLIN, 0 };
        int r = poll(&p, 1, c->timeout * 1000);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
    }
}

static int cmd(struct conn *c, const char *fmt, ...)
{
    char line[1100];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line - 2)
        return -1;
    memcpy(line + n, "\r\n", 2);
    if (send_all(c, line, (size_t)n + 2) != 0)
        return -1;
    return reply(c);
}

static int connect_to(const char *hostport, char *why, size_t whysize)
{
    char host[256], port[16];
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL || colon == hostport || strlen(colon + 1) >= sizeof port) {
        snprintf(why, whysize, "reinject_smtp: expected HOST:PORT, not \"%.100s\"", hostport);
        return -1;
    }
    size_t hl = (size_t)(colon - hostport);
    if (hostport[0] == '[' && hl >= 2 && hostport[hl - 1] == ']') {
        hostport++;
        hl -= 2;
    }
    if (hl >= sizeof host) {
        snprintf(why, whysize, "reinject_smtp: host too long");
        return -1;
    }
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(why, whysize, "%s: %s", hostport, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(why, whysize, "cannot connect to %s: %s", hostport, strerror(errno));
    return fd;
}

/* Send the message body: CRLF line ends, lines starting with "." doubled, a final CRLF
 * when the message does not end in one, then ".". */
static int send_data(struct conn *c, int fd, const char *text, size_t len)
{
    char in[8192], out[2 * sizeof in + 8];
    size_t o = 0;
    int bol = 1, last_nl = 1;
    for (;;) {
        const char *p;
        size_t n;
        if (fd >= 0) {
            ssize_t r = read(fd, in, sizeof in);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return -1;
            if (r == 0)
                break;
            p = in;
            n = (size_t)r;
        } else {
            if (len == 0)
                break;
            p = text;
            n = len < sizeof in ? len : sizeof in;
            text += n;
            len -= n;
        }
        for (size_t i = 0; i < n; i++) {
            char ch = p[i];
            if (bol && ch == '.')
                out[o++] = '.';
            bol = 0;
            if (ch == '\n') {
                if (o == 0 || out[o - 1] != '\r')
                    out[o++] = '\r';
                bol = 1;
            }
            out[o++] = ch;
            last_nl = ch == '\n';
            if (o >= sizeof out - 4) {
                /* keep a trailing '\r' so the next '\n' sees it */
                size_t keep = out[o - 1] == '\r' ? 1 : 0;
                if (send_all(c, out, o - keep) != 0)
                    return -1;
                if (keep)
                    out[0] = '\r';
                o = keep;
            }
        }
    }
    if (!last_nl) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    memcpy(out + o, ".\r\n", 3);
    o += 3;
    return send_all(c, out, o);
}

int au_smtp_send(const char *hostport, int timeout, const char *helo, const char *sender,
                 char *const *rcpts, size_t nrcpt, int fd, const char *text, size_t len,
                 char *refused, size_t refsize, char *why, size_t whysize)
{
    struct conn c;
    size_t accepted = 0, rused = 0;
    int code;

    memset(&c, 0, sizeof c);
    c.timeout = timeout;
    if (refsize > 0)
        refused[0] = '\0';
    c.fd = connect_to(hostport, why, whysize);
    if (c.fd < 0)
        return -1;
#define FAIL(...) do { snprintf(why, whysize, __VA_ARGS__); goto fail; } while (0)
    if ((code = reply(&c)) != 220)
        FAIL("%s greets with \"%s\"", hostport, c.last);
    if ((code = cmd(&c, "EHLO %s", helo)) != 250)
        FAIL("EHLO: \"%s\"", c.last);
    if ((code = cmd(&c, "MAIL FROM:<%s>", sender)) != 250)
        FAIL("MAIL FROM:<%s>: \"%s\"", sender, c.last);
    for (size_t i = 0; i < nrcpt; i++) {
        code = cmd(&c, "RCPT TO:<%s>", rcpts[i]);
        if (code >= 200 && code < 300) {
            accepted++;
            continue;
        }
        if (code >= 500 && code < 600) {
            int k = snprintf(refused + rused, refsize - rused, "%s%s (%s)", rused ? ", " : "",
                             rcpts[i], c.last);
            if (k > 0 && (size_t)k < refsize - rused)
                rused += (size_t)k;
            continue;
        }
        FAIL("RCPT TO:<%s>: \"%s\"", rcpts[i], c.last);
    }
    if (accepted == 0)
        FAIL("no recipient accepted");
    if ((code = cmd(&c, "DATA")) != 354)
        FAIL("DATA: \"%s\"", c.last);
    if (send_data(&c, fd, text, len) != 0)
        FAIL("cannot send the message");
    code = reply(&c);
    if (code < 0) {
        /* the message went out; whether the server kept it is unknown */
        snprintf(why, whysize, "no reply after the end of DATA");
        close(c.fd);
        return -2;
    }
    if (code != 250)
        FAIL("end of DATA: \"%s\"", c.last);
    cmd(&c, "QUIT");
    close(c.fd);
    return 0;
fail:
    close(c.fd);
    return -1;
#undef FAIL
}
