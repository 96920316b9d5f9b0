/*
 * util.c -- small helpers shared by the test programs and the harness (see util.h).
 */
#define _GNU_SOURCE
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int dmg_path_fmt(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, size, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

char *dmg_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t cap = 4096, len = 0, n;
    char *text = malloc(cap);
    if (text == NULL)
        abort();
    while (f != NULL && (n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *bigger = realloc(text, cap * 2);
            if (bigger == NULL)
                abort();
            text = bigger;
            cap *= 2;
        }
    }
    if (f != NULL)
        fclose(f);
    text[len] = '\0';
    return text;
}

int dmg_write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (!bad && mode != 0 && chmod(path, mode) != 0)
        bad = 1;
    if (bad)
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
    return bad ? -1 : 0;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    return a;
}

int dmg_unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0
        && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int dmg_connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = loopback(port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

const char *dmg_find_program(const char *name)
{
    static char found[4096];
    static const char *const dirs[] = { "/usr/sbin", "/usr/local/sbin", "/usr/bin", "/sbin" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (dmg_path_fmt(found, sizeof found, "%s/%s", dirs[i], name) == 0
            && access(found, X_OK) == 0)
            return found;
    return NULL;
}

int dmg_copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY);
    int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char buf[65536];
    ssize_t n = -1;
    if (out >= 0)
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) {
                n = -1;
                break;
            }
    int ok = n == 0;
    if (out >= 0 && close(out) != 0)
        ok = 0;
    if (in >= 0)
        close(in);
    if (!ok || chmod(to, mode) != 0) {
        fprintf(stderr, "cannot copy %s to %s: %s\n", from, to, strerror(errno));
        return -1;
    }
    return 0;
}

int dmg_run(char *const argv[], const char *dir, const char *in_text, char **out, char **err)
{
    static int serial;
    char in_path[4096], out_path[4096], err_path[4096];
    long me = (long)getpid();
    int st = -1;
    serial++;
    if (dmg_path_fmt(in_path, sizeof in_path, "%s/run-%ld-%d.in", dir, me, serial) != 0
        || dmg_path_fmt(out_path, sizeof out_path, "%s/run-%ld-%d.out", dir, me, serial) != 0
        || dmg_path_fmt(err_path, sizeof err_path, "%s/run-%ld-%d.err", dir, me, serial) != 0) {
        *out = dmg_read_file("");
        if (err != NULL)
            *err = dmg_read_file("");
        return -1;
    }
    if (dmg_write_file(in_path, in_text ? in_text : "", 0600) != 0)
        goto done;

    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        goto done;
    if (pid == 0) {
        int in = open(in_path, O_RDONLY);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = err ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : o;
        if (in < 0 || o < 0 || e < 0)
            _exit(126);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            goto done;
    st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
done:
    *out = dmg_read_file(out_path);
    if (err != NULL)
        *err = dmg_read_file(err_path);
    if (getenv("DMG_KEEP_TMP") == NULL) {
        unlink(in_path);
        unlink(out_path);
        unlink(err_path);
    }
    return st;
}

void dmg_nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

long dmg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void dmg_text_printf(dmg_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (s == NULL)
            abort();
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

int dmg_contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay != '\0'; hay++) {
        size_t i = 0;
        while (i < n && hay[i] != '\0'
               && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}
