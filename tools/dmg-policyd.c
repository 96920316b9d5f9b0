/*
 * dmg-policyd - Postfix policy-delegation server for slapo-dynmailgroup (man page
 * dmg-policyd(8)).
 *
 *   dmg-policyd [-c CONFIG] [-l ADDRESS:PORT] [-f]
 *
 * Without -l: spawn(8) mode. Requests are read from standard input and replies written to
 * standard output until end of input (Postfix connects both to the policy client).
 * With -l: a TCP server on a loopback address ("127.0.0.1:10040", "[::1]:10040",
 * "localhost:10040"); one child process per connection, at most max_children at once.
 * -f: log to standard error instead of syslog (facility mail), and with -l stay in the
 * foreground. Never use -f in a spawn(8) entry: spawn connects standard error to Postfix.
 *
 * For every request with protocol_state=RCPT the directory is asked for the decision on
 * (sender, recipient), the sender is held to who the client is (SENDING IDENTITY), and the
 * reply is
 *   not a dynamic mail group, or accept   action=DUNNO
 *   hold (audit)                          action=HOLD awaiting audit by A, B
 *     with hold_action = review            action=DUNNO (dmg-audit holds the group's copy)
 *   reject                                action=REJECT 5.7.1 <dmgDecisionReason or why>
 *   over dynmailgroup-max-members         action=REJECT 5.5.3 group too large: ...
 *   directory unreachable                 action=DEFER_IF_PERMIT 4.3.0 directory unavailable
 *   directory error                       action=DEFER_IF_PERMIT 4.3.0 directory lookup failed
 *   group without a decision              action=DEFER_IF_PERMIT 4.3.0 no decision from directory
 *   malformed or oversized request        action=DEFER_IF_PERMIT 4.3.0 malformed policy request
 * and action=DUNNO for every other request.
 *
 * Exit status: 0 end of input (or SIGTERM with -l), 64 usage, 65 unusable input stream,
 * 71 system error, 74 I/O error, 78 configuration error.
 */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with realpath */

#include "policyd_ldap.h"
#include "policyd_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#ifndef PD_DEFAULT_CONFIG
#define PD_DEFAULT_CONFIG "/etc/postfix/dmg-policyd.conf"
#endif

#define EXIT_USAGE    64
#define EXIT_DATAERR  65
#define EXIT_OSERR    71
#define EXIT_IOERR    74
#define EXIT_CONFIG   78

#define READ_CHUNK     4096
#define LOG_LINE_MAX   1024
#define LOG_VALUE_MAX  300    /* bytes of one request value quoted in the log */
#define CONF_LINE_MAX  (PD_CONF_VALUE_MAX + 128)
#define STOP_WAIT_MS   5000   /* children get this long after SIGTERM */
#define POSTCONF_WAIT_MS 10000 /* postconf gets this long to answer */

/* errors and warnings are always logged; log_level selects the others */
enum { LOG_E = 0, LOG_I = 1, LOG_D = 2, LOG_W = 3 };

static struct pd_config cfg;
static int log_to_stderr;
static int log_to_syslog;
static volatile sig_atomic_t stop_signal;

/* ======================================================================================
 * Logging
 * ==================================================================================== */

static void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_msg(int level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;

    if ((level == LOG_I || level == LOG_D) && level > cfg.log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (log_to_syslog)
        syslog(level == LOG_E ? LOG_ERR : level == LOG_W ? LOG_WARNING
               : level == LOG_I ? LOG_INFO : LOG_DEBUG, "%s", line);
    if (log_to_stderr)
        fprintf(stderr, "dmg-policyd[%ld]: %s%s\n", (long)getpid(),
                level == LOG_E ? "error: " : level == LOG_W ? "warning: " : "", line);
}

/* A request value as it may appear in the log: one printable line, bounded. */
static const char *shown(char *buf, size_t size, const char *value)
{
    if (value == NULL)
        return "(none)";
    if (value[0] == '\0')
        return "<>";
    pd_sanitize(buf, size, value, strlen(value));
    return buf;
}

/* ======================================================================================
 * Configuration
 * ==================================================================================== */

static int load_config(const char *path)
{
    char line[CONF_LINE_MAX + 2];
    char err[256];
    unsigned lineno = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        log_msg(LOG_E, "cannot open configuration %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strlen(line);
        lineno++;
        if (len > 0 && line[len - 1] == '\n') {
            len--;
        } else if (!feof(f)) {
            log_msg(LOG_E, "%s:%u: line longer than %d bytes", path, lineno, CONF_LINE_MAX);
            fclose(f);
            return -1;
        }
        if (pd_config_line(&cfg, line, len, err, sizeof err) != 0) {
            log_msg(LOG_E, "%s:%u: %s", path, lineno, err);
            fclose(f);
            return -1;
        }
    }
    if (ferror(f)) {
        log_msg(LOG_E, "cannot read configuration %s", path);
        fclose(f);
        return -1;
    }
    fclose(f);
    if (pd_config_check(&cfg, err, sizeof err) != 0) {
        log_msg(LOG_E, "%s: %s", path, err);
        return -1;
    }
    return 0;
}

/* The password file must be there at start; relative paths are made absolute (the daemon
 * changes to "/"). */
static int check_password_file(void)
{
    char abs[PATH_MAX];
    struct stat st;

    if (cfg.bind_pw_file[0] == '\0')
        return 0;
    if (realpath(cfg.bind_pw_file, abs) == NULL) {
        log_msg(LOG_E, "bind_pw_file %s: %s", cfg.bind_pw_file, strerror(errno));
        return -1;
    }
    if (strlen(abs) >= sizeof cfg.bind_pw_file) {
        log_msg(LOG_E, "bind_pw_file %s: path too long", cfg.bind_pw_file);
        return -1;
    }
    memcpy(cfg.bind_pw_file, abs, strlen(abs) + 1);
    if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode) || access(abs, R_OK) != 0) {
        log_msg(LOG_E, "bind_pw_file %s: not a readable file", abs);
        return -1;
    }
    if (st.st_mode & S_IROTH)
        log_msg(LOG_W, "bind_pw_file %s is readable by everyone", abs);
    return 0;
}

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* recipient_delimiter as the Postfix that runs dmg-policyd has it: "postconf -h
 * recipient_delimiter" (Postfix passes MAIL_CONFIG, so a second instance's own main.cf is
 * read). No postconf: none. 0, or -1 when postconf fails or prints nonsense. */
static int delimiter_from_postfix(void)
{
    char out[256], err[256];
    size_t len = 0;
    int pfd[2], status;
    pid_t pid;

    if (access(cfg.postconf, X_OK) != 0) {
        log_msg(LOG_I, "%s: %s: no recipient delimiter", cfg.postconf, strerror(errno));
        return 0;
    }
    if (pipe(pfd) != 0) {
        log_msg(LOG_E, "pipe: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        log_msg(LOG_E, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        /* standard error is Postfix's connection in spawn(8) mode: not for postconf */
        int null = open("/dev/null", O_RDWR);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(pfd[1], STDOUT_FILENO) < 0
            || dup2(null, STDERR_FILENO) < 0)
            _exit(126);
        execl(cfg.postconf, "postconf", "-h", "recipient_delimiter", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    long waited = 0;
    while (len < sizeof out && waited < POSTCONF_WAIT_MS) {
        struct pollfd p = { .fd = pfd[0], .events = POLLIN, .revents = 0 };
        int pr = poll(&p, 1, 100);
        if (pr <= 0) {
            waited += 100; /* about: a signal may shorten one step */
            continue;
        }
        ssize_t n = read(pfd[0], out + len, sizeof out - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(pfd[0]);
    /* its output ended: it exits now (or is ended when out of time) */
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 || (w < 0 && errno == EINTR)) {
        if (waited >= POSTCONF_WAIT_MS) {
            log_msg(LOG_E, "%s did not answer within %d ms", cfg.postconf, POSTCONF_WAIT_MS);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        nap_ms(10);
        waited += 10;
    }
    if (w < 0) {
        log_msg(LOG_E, "waitpid: %s", strerror(errno));
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        log_msg(LOG_E, "%s -h recipient_delimiter failed (%s %d): set recipient_delimiter "
                       "in the configuration", cfg.postconf,
                WIFEXITED(status) ? "exit status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -1;
    }
    if (pd_config_postconf_delimiter(&cfg, out, len, err, sizeof err) != 0) {
        log_msg(LOG_E, "%s: %s", cfg.postconf, err);
        return -1;
    }
    log_msg(LOG_D, "recipient_delimiter from postconf: \"%s\"", cfg.recipient_delimiter);
    return 0;
}

/* ======================================================================================
 * One stream of requests (standard input/output, or one TCP connection)
 * ==================================================================================== */

static int write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_msg(LOG_E, "cannot write reply: %s", n < 0 ? strerror(errno) : "no progress");
            return -1;
        }
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Is the sender's domain one of the organisation's: local_domains, or by default the
 * domain of some group's mail? */
static int sender_is_local(pd_ldap *ld, const char *sender, struct pd_lookup *res)
{
    char domain[PD_LOOKUP_TEXT];

    if (pd_address_domain(domain, sizeof domain, sender) != 0 || domain[0] == '\0')
        return 0; /* the null sender, or no domain at all */
    if (cfg.local_domains_set)
        return pd_domain_listed(&cfg, domain);
    return pd_ldap_group_domain(ld, domain, res);
}

/* The sending-identity rules (man page SENDING IDENTITY) on a group's decision in res: an
 * authenticated client sends as its account; an unauthenticated, untrusted client that
 * claims a local sender is an outsider. */
static void judge_sender(pd_ldap *ld, const struct pd_client *c, const char *sender,
                         struct pd_lookup *res)
{
    enum pd_identity id = PD_ID_AS_CLAIMED;

    if (res->result != PD_RES_ACCEPT && res->result != PD_RES_HOLD)
        return; /* refused anyway, or no decision to change */
    if (c->login[0] != '\0')
        id = pd_ldap_account(ld, c->login, sender, res);
    else if (pd_outsider_matters(res) && !pd_client_trusted(&cfg, c->address)
             && sender_is_local(ld, sender, res))
        id = PD_ID_OUTSIDER;
    pd_apply_identity(res, id, sender, c->login);
}

/* The action of a reply for the log: its first word, and the status code after it when
 * there is one ("REJECT 5.7.1", "HOLD", "DEFER_IF_PERMIT 4.3.0"). */
static void action_summary(char *dst, size_t size, const char *reply)
{
    const char *a = strncmp(reply, "action=", 7) == 0 ? reply + 7 : reply;
    size_t n = strcspn(a, " \n");
    if (a[n] == ' ' && a[n + 1] >= '2' && a[n + 1] <= '5' && a[n + 2] == '.')
        n += 1 + strcspn(a + n + 1, " \n");
    pd_sanitize(dst, size, a, n);
}

/* One line per decision: who sent (envelope sender, SASL login, client address), to what
 * (recipient, group), the action and why. */
static void log_decision(const char *sender, const struct pd_client *c, const char *recipient,
                         const struct pd_lookup *res, const char *reply)
{
    char s[LOG_VALUE_MAX], l[LOG_VALUE_MAX], a[LOG_VALUE_MAX], r[LOG_VALUE_MAX];
    char g[LOG_VALUE_MAX], act[64], why[LOG_VALUE_MAX];
    const char *reason = res->error[0] != '\0' ? res->error : res->reason;

    if (res->result == PD_RES_NOT_GROUP && res->error[0] == '\0')
        reason = "not a dynamic mail group";
    action_summary(act, sizeof act, reply);
    log_msg(res->result == PD_RES_NOT_GROUP ? LOG_D : LOG_I,
            "decision: sender=%s login=%s client=%s recipient=%s group=%s action=%s "
            "reason=\"%s\"", shown(s, sizeof s, sender),
            c->login[0] != '\0' ? shown(l, sizeof l, c->login) : "-",
            c->address[0] != '\0' ? shown(a, sizeof a, c->address) : "-",
            shown(r, sizeof r, recipient), res->group[0] ? shown(g, sizeof g, res->group) : "-",
            act, shown(why, sizeof why, reason));
}

/* The reply to the request in p; *ld is opened on first need. */
static void answer(const pd_parser *p, pd_ldap **ld, char *reply, size_t size)
{
    const char *recipient, *sender, *why;
    char r[LOG_VALUE_MAX], s[LOG_VALUE_MAX], e[LOG_VALUE_MAX];
    struct pd_lookup res;
    struct pd_client client;

    if (pd_request_status(p) != PD_OK) {
        log_msg(LOG_W, "%s: %s; replying DEFER_IF_PERMIT",
                pd_status_name(pd_request_status(p)), pd_request_detail(p));
        snprintf(reply, size, "%s", PD_REPLY_MALFORMED);
        return;
    }
    if (pd_classify(p, &recipient, &sender, &why) != PD_ACT_LOOKUP) {
        log_msg(LOG_D, "DUNNO: %s", why);
        snprintf(reply, size, "%s", PD_REPLY_DUNNO);
        return;
    }
    if (*ld == NULL)
        *ld = pd_ldap_new(&cfg, log_msg);
    if (*ld == NULL) {
        log_msg(LOG_E, "out of memory");
        snprintf(reply, size, "%s", PD_REPLY_UNAVAILABLE);
        return;
    }
    pd_client_of(p, &client);
    pd_ldap_lookup(*ld, recipient, sender, &res);
    judge_sender(*ld, &client, sender, &res);
    if (pd_format_decision_reply(reply, size, &res, &cfg) == 0)
        snprintf(reply, size, "%s", PD_REPLY_FAILED);
    if (res.result == PD_RES_HOLD && cfg.hold_review) {
        /* the log says why DUNNO: the review loop holds the group's copy */
        char held[PD_LOOKUP_TEXT];
        snprintf(held, sizeof held, "%s", res.reason);
        snprintf(res.reason, sizeof res.reason, "hold_action = review: %s",
                 held[0] != '\0' ? held : "awaiting audit");
    }
    if (res.error[0] != '\0' && res.result != PD_RES_TOO_LARGE)
        log_msg(LOG_E, "sender=%s recipient=%s: %s", shown(s, sizeof s, sender),
                shown(r, sizeof r, recipient), shown(e, sizeof e, res.error));
    log_decision(sender, &client, recipient, &res, reply);
}

/* Serve requests from in_fd, replies to out_fd, until end of input. The exit status. */
static int serve_stream(int in_fd, int out_fd)
{
    pd_parser *p = malloc(sizeof *p);
    pd_ldap *ld = NULL;
    char buf[READ_CHUNK];
    char reply[PD_REPLY_MAX];
    size_t pos = 0, len = 0;
    int status = 0;

    if (p == NULL) {
        log_msg(LOG_E, "out of memory");
        return EXIT_OSERR;
    }
    pd_parser_reset(p);
    for (;;) {
        if (pos == len) {
            struct pollfd pfd = { .fd = in_fd, .events = POLLIN, .revents = 0 };
            int pr = poll(&pfd, 1, cfg.idle_timeout * 1000);
            if (pr < 0 && errno == EINTR) {
                if (stop_signal)
                    break;
                continue;
            }
            if (pr < 0) {
                log_msg(LOG_E, "poll: %s", strerror(errno));
                status = EXIT_IOERR;
                break;
            }
            if (pr == 0) {
                log_msg(LOG_D, "idle for %d s; closing", cfg.idle_timeout);
                break;
            }
            ssize_t n = read(in_fd, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n < 0) {
                log_msg(LOG_E, "read: %s", strerror(errno));
                status = EXIT_IOERR;
                break;
            }
            if (n == 0) {
                if (pd_parser_pending(p))
                    log_msg(LOG_W, "input ended in the middle of a request");
                break;
            }
            pos = 0;
            len = (size_t)n;
        }
        size_t used = 0;
        enum pd_feed f = pd_parser_feed(p, buf + pos, len - pos, &used);
        pos += used;
        if (f == PD_FEED_MORE)
            continue;
        if (f == PD_FEED_BROKEN) {
            log_msg(LOG_W, "%s: no end of request within %d bytes; closing the connection",
                    pd_request_detail(p), PD_REQUEST_MAX + PD_DISCARD_MAX);
            (void)write_all(out_fd, PD_REPLY_MALFORMED, strlen(PD_REPLY_MALFORMED));
            status = EXIT_DATAERR;
            break;
        }
        answer(p, &ld, reply, sizeof reply);
        pd_parser_reset(p);
        if (write_all(out_fd, reply, strlen(reply)) != 0) {
            status = EXIT_IOERR;
            break;
        }
    }
    pd_ldap_free(ld);
    free(p);
    return status;
}

/* ======================================================================================
 * TCP listener
 * ==================================================================================== */

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        static const unsigned char loop6[16] = { [15] = 1 };
        return memcmp(&in6->sin6_addr, loop6, 16) == 0;
    }
    return 0;
}

/* "HOST:PORT" or "[V6]:PORT" -> a listening socket on a loopback address; -2 when spec is
 * unusable (a usage error), -1 when the socket cannot be set up. */
static int open_listener(const char *spec)
{
    char host[256];
    const char *port;
    struct addrinfo hints, *ai = NULL, *a;
    int fd = -1, rc;

    if (spec[0] == '[') {
        const char *close_br = strchr(spec, ']');
        if (close_br == NULL || close_br[1] != ':' || (size_t)(close_br - spec) > sizeof host) {
            log_msg(LOG_E, "-l %s: expected [ADDRESS]:PORT", spec);
            return -2;
        }
        snprintf(host, sizeof host, "%.*s", (int)(close_br - spec - 1), spec + 1);
        port = close_br + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (colon == NULL || colon == spec || (size_t)(colon - spec) >= sizeof host) {
            log_msg(LOG_E, "-l %s: expected ADDRESS:PORT", spec);
            return -2;
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
        port = colon + 1;
    }
    if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5
        || atoi(port) < 1 || atoi(port) > 65535) {
        log_msg(LOG_E, "-l %s: port must be a number from 1 to 65535", spec);
        return -2;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        log_msg(LOG_E, "-l %s: %s", spec, gai_strerror(rc));
        return -2;
    }
    for (a = ai; a != NULL; a = a->ai_next) {
        if (!is_loopback(a->ai_addr)) {
            log_msg(LOG_E, "-l %s: not a loopback address; dmg-policyd answers only local "
                           "clients", spec);
            freeaddrinfo(ai);
            return -2;
        }
    }
    for (a = ai; a != NULL && fd < 0; a = a->ai_next) {
        int one = 1;
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            log_msg(LOG_E, "-l %s: %s", spec, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd >= 0)
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

/* Self-pipe: the handlers wake the poll() of the accept loop, so a signal that arrives just
 * before poll() is not left waiting for its timeout. */
static int wake_pipe[2] = { -1, -1 };

static void wake(void)
{
    int saved = errno;
    if (wake_pipe[1] >= 0) {
        ssize_t ignored = write(wake_pipe[1], "", 1);
        (void)ignored; /* a full pipe already wakes poll() */
    }
    errno = saved;
}

static void on_stop(int sig)
{
    stop_signal = sig;
    wake();
}

static void on_child(int sig)
{
    (void)sig;
    wake();
}

static int open_wake_pipe(void)
{
    if (pipe(wake_pipe) != 0) {
        log_msg(LOG_E, "pipe: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(wake_pipe[i], F_GETFL);
        if (fl < 0 || fcntl(wake_pipe[i], F_SETFL, fl | O_NONBLOCK) != 0
            || fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC) != 0) {
            log_msg(LOG_E, "fcntl: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void drain_wake_pipe(void)
{
    char buf[64];
    while (read(wake_pipe[0], buf, sizeof buf) > 0)
        ;
}

static void close_wake_pipe(void)
{
    for (int i = 0; i < 2; i++) {
        if (wake_pipe[i] >= 0)
            close(wake_pipe[i]);
        wake_pipe[i] = -1;
    }
}

static void set_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: poll() must see the signal */
    sigaction(sig, &sa, NULL);
}

static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_msg(LOG_E, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0)
        _exit(0);
    if (setsid() < 0 || chdir("/") != 0) {
        log_msg(LOG_E, "cannot detach: %s", strerror(errno));
        return -1;
    }
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    log_to_stderr = 0;
    return 0;
}

/* Forget a child that ended; log it when it ended badly. */
static void reap(pid_t *kids, int *nkids)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < *nkids; i++) {
            if (kids[i] == pid) {
                kids[i] = kids[--*nkids];
                break;
            }
        }
        if (WIFSIGNALED(st))
            log_msg(LOG_E, "connection process %ld killed by signal %d", (long)pid,
                    WTERMSIG(st));
        else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
            log_msg(LOG_D, "connection process %ld exited with status %d", (long)pid,
                    WEXITSTATUS(st));
    }
}

static int serve_tcp(int lfd)
{
    pid_t *kids = calloc((size_t)cfg.max_children, sizeof *kids);
    int nkids = 0;

    if (kids == NULL) {
        log_msg(LOG_E, "out of memory");
        return EXIT_OSERR;
    }
    if (open_wake_pipe() != 0) {
        close_wake_pipe();
        free(kids);
        return EXIT_OSERR;
    }
    set_handler(SIGTERM, on_stop);
    set_handler(SIGINT, on_stop);
    set_handler(SIGHUP, on_stop);
    set_handler(SIGCHLD, on_child);
    log_msg(LOG_I, "listening (at most %d connections)", cfg.max_children);

    while (!stop_signal) {
        reap(kids, &nkids);
        /* at max_children only the wake pipe (SIGCHLD) is watched */
        struct pollfd pfd[2] = { { .fd = wake_pipe[0], .events = POLLIN, .revents = 0 },
                                 { .fd = lfd, .events = POLLIN, .revents = 0 } };
        int pr = poll(pfd, nkids >= cfg.max_children ? 1 : 2, 1000);
        if (pr > 0 && (pfd[0].revents & POLLIN))
            drain_wake_pipe();
        if (pr <= 0 || !(pfd[1].revents & POLLIN) || stop_signal)
            continue; /* timeout, or a signal: look at stop_signal and the children */
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
                log_msg(LOG_E, "accept: %s", strerror(errno));
                nap_ms(100); /* e.g. EMFILE: do not spin */
            }
            continue;
        }
        pid_t pid = fork();
        if (pid < 0) {
            log_msg(LOG_E, "fork: %s", strerror(errno));
            close(cfd);
            nap_ms(100);
            continue;
        }
        if (pid == 0) {
            free(kids);
            close(lfd);
            close_wake_pipe();
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            signal(SIGCHLD, SIG_DFL);
            int status = serve_stream(cfd, cfd);
            close(cfd);
            closelog();
            exit(status);
        }
        close(cfd);
        kids[nkids++] = pid;
    }
    log_msg(LOG_I, "stopping on signal %d", (int)stop_signal);
    close(lfd);
    for (int i = 0; i < nkids; i++)
        kill(kids[i], SIGTERM);
    for (int waited = 0; nkids > 0 && waited < STOP_WAIT_MS; waited += 10) {
        reap(kids, &nkids);
        if (nkids > 0)
            nap_ms(10);
    }
    for (int i = 0; i < nkids; i++)
        kill(kids[i], SIGKILL);
    while (nkids > 0 && waitpid(-1, NULL, 0) > 0)
        nkids--;
    free(kids);
    close_wake_pipe();
    return 0;
}

/* ======================================================================================
 * main
 * ==================================================================================== */

static void usage(FILE *to)
{
    fprintf(to, "usage: dmg-policyd [-c CONFIG] [-l ADDRESS:PORT] [-f]\n"
                "  -c CONFIG   configuration file (default %s)\n"
                "  -l A:PORT   serve TCP on a loopback address instead of stdin/stdout\n"
                "  -f          log to standard error; with -l, stay in the foreground\n",
            PD_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
    const char *config = PD_DEFAULT_CONFIG;
    const char *listen_spec = NULL;
    int foreground = 0, opt, status;

    pd_config_defaults(&cfg);
    while ((opt = getopt(argc, argv, "c:l:fh")) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'l': listen_spec = optarg; break;
        case 'f': foreground = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    /* spawn(8) connects standard error to Postfix: without -f only syslog is safe there.
     * A TCP server started by hand also reports start-up problems on standard error. */
    log_to_stderr = foreground || listen_spec != NULL;
    log_to_syslog = !foreground;
    if (log_to_syslog)
        openlog("dmg-policyd", LOG_PID, LOG_MAIL);
    signal(SIGPIPE, SIG_IGN);

    if (load_config(config) != 0 || check_password_file() != 0
        || (!cfg.recipient_delimiter_set && delimiter_from_postfix() != 0)) {
        status = EXIT_CONFIG;
    } else if (listen_spec == NULL) {
        log_msg(LOG_D, "serving standard input");
        status = serve_stream(STDIN_FILENO, STDOUT_FILENO);
    } else {
        int lfd = open_listener(listen_spec);
        if (lfd < 0)
            status = lfd == -2 ? EXIT_USAGE : EXIT_OSERR;
        else if (!foreground && daemonize() != 0)
            status = EXIT_OSERR;
        else
            status = serve_tcp(lfd);
    }
    if (log_to_syslog)
        closelog();
    return status;
}
