/*
 * dmg-audit - the review loop for audited dynamic mail groups (man page dmg-audit(8)).
 *
 *   dmg-audit [-c CONFIG] deliver --sender=S --recipient=R --queue-id=Q
 *             [--original-recipient=O] [--client-address=A] [--sasl-username=U]
 *   dmg-audit [-c CONFIG] decide --sender=S --recipient=R --queue-id=Q
 *             [--client-address=A] [--sasl-username=U]
 *   dmg-audit [-c CONFIG] expire
 *   dmg-audit [-c CONFIG] list [--json]
 *   dmg-audit [-c CONFIG] show [--json] ID
 *   dmg-audit [-c CONFIG] approve ID
 *   dmg-audit [-c CONFIG] reject ID [REASON...]
 *   dmg-audit [-c CONFIG] resolve ID delivered|release|discard
 *
 * deliver and decide are Postfix pipe(8) commands (the message on standard input); their
 * exit status is what pipe(8) acts on: 0 done, 75 (EX_TEMPFAIL) try again later (the message
 * stays in Postfix's queue), 77 (EX_NOPERM) bounce with the text printed on standard output,
 * which starts with an enhanced status code (5.7.1).
 *
 * The states of a held message and the guarantees are described in audit_core.h and the
 * man page (CRASH SAFETY).
 */
#define _GNU_SOURCE

#include "audit_core.h"
#include "audit_smtp.h"
#include "policyd_ldap.h"
#include "policyd_proto.h"

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#ifndef AU_DEFAULT_CONFIG
#define AU_DEFAULT_CONFIG "/etc/postfix/dmg-audit.conf"
#endif

#define EX_OK_        0
#define EX_USAGE_     64
#define EX_DATAERR_   65
#define EX_SOFTWARE_  70
#define EX_TEMPFAIL_  75
#define EX_NOPERM_    77
#define EX_CONFIG_    78

#define CONF_LINE_MAX   (PD_CONF_VALUE_MAX + 128)
#define NOTICE_MAX      65536
#define HEAD_MAX        (256 * 1024)  /* bytes of a held message read for its headers */
#define RECORD_READ_MAX (64 * 1024)

/* ======================================================================================
 * Configuration
 * ==================================================================================== */

struct au_config {
    struct pd_config ldap;                 /* uri, base, bind_dn, ... as dmg-policyd */
    char spool[PD_CONF_VALUE_MAX];         /* spool_directory */
    char secret_file[PD_CONF_VALUE_MAX];
    char previous_secret_file[PD_CONF_VALUE_MAX];
    char review_domain[256];
    char sendmail[PD_CONF_VALUE_MAX];      /* sendmail_path */
    char reinject_smtp[PD_CONF_VALUE_MAX]; /* HOST:PORT: SMTP instead of sendmail */
    char notify_from[AU_ADDR_MAX];         /* From: of notices */
    char log_file[PD_CONF_VALUE_MAX];
    int hold_days;
    int keep_days;
    long max_message_size;
    int text_lines;
};

static struct au_config cfg;
/* The user who runs a postmaster command (before become_spool_owner switches to the spool's
 * owner): decisions and log lines name this person. */
static char postmaster[256] = "?";
static struct au_secret secret, previous_secret;
static int have_previous_secret;
static pd_ldap *directory;  /* dmg-policyd's connection, bases and retries */

/* ======================================================================================
 * Logging: one line per event, to syslog (facility mail, as Postfix) and log_file
 * ==================================================================================== */

static void logmsg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(int prio, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    syslog(prio, "%s", line);
    if (cfg.log_file[0] != '\0') {
        int fd = open(cfg.log_file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0640);
        if (fd >= 0) {
            char full[2200];
            time_t now = time(NULL);
            struct tm tm;
            char ts[32];
            gmtime_r(&now, &tm);
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
            int n = snprintf(full, sizeof full, "%s dmg-audit[%ld]: %s\n", ts, (long)getpid(),
                             line);
            if (n > 0) {
                size_t len = (size_t)n < sizeof full ? (size_t)n : sizeof full - 1;
                ssize_t w = write(fd, full, len);
                (void)w;
            }
            close(fd);
        }
    }
}

/* Printed on standard output for pipe(8) (the bounce or defer text), and logged. */
static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int status, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    printf("%s\n", text);
    fflush(stdout);
    logmsg(status == EX_TEMPFAIL_ ? LOG_WARNING : LOG_NOTICE, "%s", text);
    return status;
}

static const char *shown(const char *addr)
{
    return addr[0] == '\0' ? "<>" : addr;
}

/* Test hooks, compiled only into the test suite's build of these sources
 * (tests/integration/dmg-audit-hooks, -DDMG_AUDIT_TEST_HOOKS, never installed): the
 * installed dmg-audit has neither, whatever its environment or arguments.
 *   crash_point  when the environment variable name holds the path of a file that this
 *                process can remove, it is removed and the process killed (SIGKILL, as by a
 *                crash or "kill -9"): the crash-safety tests, once per step
 *   expire --now=SECONDS  another time for the expiry tests */
#ifdef DMG_AUDIT_TEST_HOOKS
#define TEST_HOOKS 1
static void crash_point(const char *name)
{
    const char *flag = getenv(name);
    if (flag != NULL && flag[0] == '/' && unlink(flag) == 0)
        kill(getpid(), SIGKILL);
}
#else
#define TEST_HOOKS 0
static void crash_point(const char *name)
{
    (void)name;
}
#endif

/* ======================================================================================
 * Configuration file
 * ==================================================================================== */

static int set_text(char *dst, size_t size, const char *key, const char *v, char *err,
                    size_t errsize)
{
    if (strlen(v) >= size) {
        snprintf(err, errsize, "%s: value too long", key);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int set_number(long *dst, const char *key, const char *v, long min, long max, char *err,
                      size_t errsize)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (v[0] == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
        snprintf(err, errsize, "%s: expected a number from %ld to %ld", key, min, max);
        return -1;
    }
    *dst = n;
    return 0;
}

/* One "key = value" line: ours here, the directory's to pd_config_line. */
static int config_line(const char *line, size_t len, char *err, size_t errsize)
{
    char key[64], value[CONF_LINE_MAX];
    size_t i = 0, kb, ke, vb, ve;
    long n;

    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len || line[i] == '#')
        return 0;
    kb = i;
    while (i < len && line[i] != '=' && line[i] != ' ' && line[i] != '\t')
        i++;
    ke = i;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len || line[i] != '=' || ke == kb || ke - kb >= sizeof key) {
        snprintf(err, errsize, "expected \"key = value\"");
        return -1;
    }
    i++;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    vb = i;
    ve = len;
    while (ve > vb && (line[ve - 1] == ' ' || line[ve - 1] == '\t' || line[ve - 1] == '\r'))
        ve--;
    memcpy(key, line + kb, ke - kb);
    key[ke - kb] = '\0';
    if (ve - vb >= sizeof value) {
        snprintf(err, errsize, "%s: value too long", key);
        return -1;
    }
    memcpy(value, line + vb, ve - vb);
    value[ve - vb] = '\0';
    for (size_t k = 0; value[k] != '\0'; k++) {
        if ((unsigned char)value[k] < 0x20 && value[k] != '\t') {
            snprintf(err, errsize, "%s: control character in the value", key);
            return -1;
        }
    }

    if (strcmp(key, "spool_directory") == 0)
        return set_text(cfg.spool, sizeof cfg.spool, key, value, err, errsize);
    if (strcmp(key, "secret_file") == 0)
        return set_text(cfg.secret_file, sizeof cfg.secret_file, key, value, err, errsize);
    if (strcmp(key, "previous_secret_file") == 0)
        return set_text(cfg.previous_secret_file, sizeof cfg.previous_secret_file, key, value,
                        err, errsize);
    if (strcmp(key, "review_domain") == 0)
        return set_text(cfg.review_domain, sizeof cfg.review_domain, key, value, err, errsize);
    if (strcmp(key, "sendmail_path") == 0)
        return set_text(cfg.sendmail, sizeof cfg.sendmail, key, value, err, errsize);
    if (strcmp(key, "reinject_smtp") == 0)
        return set_text(cfg.reinject_smtp, sizeof cfg.reinject_smtp, key, value, err, errsize);
    if (strcmp(key, "notify_from") == 0) {
        if (!au_address_ok(value, 0)) {
            snprintf(err, errsize, "notify_from: not an address");
            return -1;
        }
        return set_text(cfg.notify_from, sizeof cfg.notify_from, key, value, err, errsize);
    }
    if (strcmp(key, "log_file") == 0)
        return set_text(cfg.log_file, sizeof cfg.log_file, key, value, err, errsize);
    if (strcmp(key, "hold_days") == 0) {
        if (set_number(&n, key, value, 1, 365, err, errsize) != 0)
            return -1;
        cfg.hold_days = (int)n;
        return 0;
    }
    if (strcmp(key, "keep_days") == 0) {
        if (set_number(&n, key, value, 0, 3650, err, errsize) != 0)
            return -1;
        cfg.keep_days = (int)n;
        return 0;
    }
    if (strcmp(key, "text_lines") == 0) {
        if (set_number(&n, key, value, 0, 200, err, errsize) != 0)
            return -1;
        cfg.text_lines = (int)n;
        return 0;
    }
    if (strcmp(key, "max_message_size") == 0)
        return set_number(&cfg.max_message_size, key, value, 1024, 1024L * 1024 * 1024, err,
                          errsize);
    return pd_config_line(&cfg.ldap, line, len, err, errsize);
}

/* Reads fd into buf until max bytes, its end or a read error (an interrupted read is
 * retried); the count read. */
static size_t read_upto(int fd, char *buf, size_t max)
{
    size_t got = 0;
    while (got < max) {
        ssize_t n = read(fd, buf + got, max - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* The first HEAD_MAX bytes of fd (a message), NUL-terminated, their count in *len; closes fd.
 * NULL when fd < 0 or out of memory. */
static char *read_head(int fd, size_t *len)
{
    if (fd < 0)
        return NULL;
    char *buf = malloc(HEAD_MAX + 1);
    if (buf != NULL) {
        *len = read_upto(fd, buf, HEAD_MAX);
        buf[*len] = '\0';
    }
    close(fd);
    return buf;
}

static int read_secret(const char *path, struct au_secret *s, char *err, size_t errsize)
{
    char buf[AU_SECRET_MAX + 8];
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errsize, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
        logmsg(LOG_WARNING, "warning: the secret %s is readable by others than its owner",
               path);
    size_t len = read_upto(fd, buf, sizeof buf);
    close(fd);
    char why[200];
    int rc = au_secret_from_text(s, buf, len, why, sizeof why);
    memset(buf, 0, sizeof buf);
    if (rc != 0)
        snprintf(err, errsize, "%s: %s", path, why);
    return rc;
}

static int load_config(const char *path)
{
    char line[CONF_LINE_MAX + 2], err[300];
    unsigned lineno = 0;
    FILE *f;

    memset(&cfg, 0, sizeof cfg);
    pd_config_defaults(&cfg.ldap);
    snprintf(cfg.spool, sizeof cfg.spool, "/var/spool/dmg-audit");
    snprintf(cfg.secret_file, sizeof cfg.secret_file, "/etc/postfix/dmg-audit.secret");
    snprintf(cfg.sendmail, sizeof cfg.sendmail, "/usr/sbin/sendmail");
    cfg.hold_days = 5;
    cfg.keep_days = 30;
    cfg.text_lines = 20;
    cfg.max_message_size = 50L * 1024 * 1024;

    f = fopen(path, "r");
    if (f == NULL) {
        logmsg(LOG_ERR, "error: cannot open configuration %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strlen(line);
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (!feof(f)) {
            logmsg(LOG_ERR, "error: %s:%u: line too long", path, lineno);
            fclose(f);
            return -1;
        }
        if (config_line(line, len, err, sizeof err) != 0) {
            logmsg(LOG_ERR, "error: %s:%u: %s", path, lineno, err);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    if (pd_config_check(&cfg.ldap, err, sizeof err) != 0) {
        logmsg(LOG_ERR, "error: %s: %s", path, err);
        return -1;
    }
    if (cfg.review_domain[0] == '\0' || strchr(cfg.review_domain, '@') != NULL) {
        logmsg(LOG_ERR, "error: %s: review_domain is required (the domain of the decision "
                        "addresses, e.g. review.example.com)", path);
        return -1;
    }
    if (cfg.ldap.filter[0] != '\0') {
        /* dmg-policyd's setting (which groups it checks). Every copy Postfix routes here
         * must be decided: a filter that left the group out (as the old setup's
         * (!(dmgAuditRequired=TRUE)) did) would defer it until it expires. */
        logmsg(LOG_WARNING, "warning: %s: filter %s is not used by dmg-audit: every group "
                            "Postfix routes to the review is decided", path, cfg.ldap.filter);
        cfg.ldap.filter[0] = '\0';
    }
    if (cfg.notify_from[0] == '\0')
        snprintf(cfg.notify_from, sizeof cfg.notify_from, "postmaster@%s", cfg.review_domain);
    if (cfg.spool[0] != '/' || cfg.sendmail[0] != '/') {
        logmsg(LOG_ERR, "error: %s: spool_directory and sendmail_path must be absolute", path);
        return -1;
    }
    if (read_secret(cfg.secret_file, &secret, err, sizeof err) != 0) {
        logmsg(LOG_ERR, "error: secret_file %s", err);
        return -1;
    }
    if (cfg.previous_secret_file[0] != '\0') {
        if (read_secret(cfg.previous_secret_file, &previous_secret, err, sizeof err) != 0) {
            logmsg(LOG_ERR, "error: previous_secret_file %s", err);
            return -1;
        }
        have_previous_secret = 1;
    }
    return 0;
}

/* ======================================================================================
 * Directory
 * ==================================================================================== */

/* pd_ldap's messages (0 error, 1 notice, 2 debug, 3 warning) into the mail log. */
static void directory_log(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (level == 2)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    logmsg(level == 0 ? LOG_ERR : level == 3 ? LOG_WARNING : LOG_INFO, "%s%s",
           level == 0 ? "error: " : level == 3 ? "warning: " : "", line);
}

static int directory_open(void)
{
    directory = pd_ldap_new(&cfg.ldap, directory_log);
    return directory != NULL ? 0 : -1;
}

/* Every value of attr of the group whose mail is group (where dmg-policyd finds groups:
 * base, else every naming context). 1, 0 when there is no such group, -1 on a directory
 * error (err says what). */
static int group_values(const char *group, const char *attr, char ***vals, size_t *n,
                        char *err, size_t errsize)
{
    char esc[3 * AU_ADDR_MAX + 1], filter[3 * AU_ADDR_MAX + 64];
    struct pd_lookup out;

    *vals = NULL;
    *n = 0;
    if (pd_filter_escape(esc, sizeof esc, group, strlen(group)) == (size_t)-1) {
        snprintf(err, errsize, "group address too long");
        return -1;
    }
    snprintf(filter, sizeof filter, "(&(objectClass=dynamicMailGroup)(mail=%s))", esc);
    int rc = pd_ldap_values(directory, PD_WHERE_GROUPS, filter, attr, vals, n, &out);
    if (rc < 0) {
        snprintf(err, errsize, "%s", out.error);
        if (out.result == PD_RES_FAILED)
            return -2; /* not a passing failure (e.g. more than one entry, too many values) */
    }
    return rc;
}

static int in_list(char **vals, size_t n, const char *addr)
{
    for (size_t i = 0; i < n; i++)
        if (au_caseeq(vals[i], addr))
            return 1;
    return 0;
}

enum identity { ID_PROVEN, ID_UNPROVEN, ID_WRONG, ID_UNAVAILABLE };

/* Is the sender who the client says it is (the identity rules of dmg-policyd)?
 * Authenticated: the sender must be one of the account's mail values (else ID_WRONG).
 * Unauthenticated: proven only for local submission (no client address) or a client in
 * trusted_networks. */
static enum identity sender_identity(const char *sender, const char *sasl, const char *client,
                                     char *why, size_t whysize)
{
    why[0] = '\0';
    if (sasl != NULL && sasl[0] != '\0') {
        /* dmg-policyd's own test: sasl_login_filter under the naming contexts */
        struct pd_lookup out;
        pd_lookup_init(&out);
        enum pd_identity id = pd_ldap_account(directory, sasl, sender, &out);
        if (out.result == PD_RES_UNAVAILABLE || out.result == PD_RES_FAILED) {
            snprintf(why, whysize, "%s", out.error);
            return ID_UNAVAILABLE;
        }
        if (id == PD_ID_NO_ACCOUNT || id == PD_ID_MANY_ACCOUNTS) {
            snprintf(why, whysize, "%s account found for the authenticated user %s",
                     id == PD_ID_NO_ACCOUNT ? "no" : "more than one", sasl);
            return ID_WRONG;
        }
        if (id != PD_ID_AS_CLAIMED) {
            snprintf(why, whysize, "sender %s is not an address of the authenticated "
                                   "account %s", shown(sender), sasl);
            return ID_WRONG;
        }
        return ID_PROVEN;
    }
    if (client == NULL || client[0] == '\0' || pd_client_trusted(&cfg.ldap, client))
        return ID_PROVEN;
    snprintf(why, whysize, "client %s is neither authenticated nor in trusted_networks",
             client);
    return ID_UNPROVEN;
}

/* ======================================================================================
 * Running sendmail
 * ==================================================================================== */

/* sendmail -i -f SENDER -- RCPT... with standard input from fd (or the bytes of text when
 * fd < 0). 0 when sendmail exited 0. */
static int run_sendmail(const char *sender, char *const *rcpts, size_t nrcpt, int fd,
                        const char *text, size_t textlen)
{
    int pipefd[2] = { -1, -1 };
    char **argv = calloc(nrcpt + 7, sizeof *argv);
    size_t a = 0;

    if (argv == NULL)
        return -1;
    argv[a++] = cfg.sendmail;
    argv[a++] = "-i";
    argv[a++] = "-f";
    argv[a++] = (char *)sender;
    argv[a++] = "--";
    for (size_t i = 0; i < nrcpt; i++)
        argv[a++] = rcpts[i];
    argv[a] = NULL;
    if (fd < 0 && pipe(pipefd) != 0) {
        free(argv);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(argv);
        if (pipefd[0] >= 0) {
            close(pipefd[0]);
            close(pipefd[1]);
        }
        return -1;
    }
    if (pid == 0) {
        int in = fd >= 0 ? fd : pipefd[0];
        if (dup2(in, 0) < 0)
            _exit(EX_TEMPFAIL_);
        if (pipefd[1] >= 0)
            close(pipefd[1]);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execv(argv[0], argv);
        _exit(EX_TEMPFAIL_);
    }
    free(argv);
    if (fd < 0) {
        close(pipefd[0]);
        signal(SIGPIPE, SIG_IGN);
        size_t off = 0;
        while (off < textlen) {
            ssize_t n = write(pipefd[1], text + off, textlen - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        close(pipefd[1]);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        logmsg(LOG_WARNING, "warning: %s exited with %s %d", cfg.sendmail,
               WIFEXITED(st) ? "status" : "signal",
               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        return -1;
    }
    return 0;
}

/* Hand a message to Postfix: sendmail_path, or SMTP to reinject_smtp. 0 handed over, -1 not
 * (try again later), -2 unknown (SMTP connection lost after the whole message was sent). */
static int hand_over(const char *sender, char *const *rcpts, size_t nrcpt, int fd,
                     const char *text, size_t textlen)
{
    char refused[1024], why[600];
    if (cfg.reinject_smtp[0] == '\0')
        return run_sendmail(sender, rcpts, nrcpt, fd, text, textlen);
    int rc = au_smtp_send(cfg.reinject_smtp, cfg.ldap.timeout * 6, cfg.review_domain, sender,
                          rcpts, nrcpt, fd, text, textlen, refused, sizeof refused, why,
                          sizeof why);
    if (rc != 0)
        logmsg(LOG_WARNING, "warning: SMTP to %s: %s", cfg.reinject_smtp, why);
    else if (refused[0] != '\0')
        logmsg(LOG_WARNING, "warning: SMTP to %s refused recipients: %s", cfg.reinject_smtp,
               refused);
    return rc;
}

/* ======================================================================================
 * Held messages: record, notices
 * ==================================================================================== */

struct held {
    char id[AU_ID_LEN + 1];
    char rec[RECORD_READ_MAX];
    size_t reclen;
    char group[AU_ADDR_MAX];
    char sender[AU_ADDR_MAX];
    char queue_id[64];
    char digest[AU_DIGEST_HEX + 1];
    char subject[AU_TEXT_MAX];
    char date[AU_TEXT_MAX];
    char message_id[AU_TEXT_MAX];
    char size[32];
    long held_at;
};

/* Load the record of id from held/ or done/. 0, or -1 when there is none. */
static int load_held(const char *id, struct held *h)
{
    size_t len;
    char *text;
    char num[32];

    memset(h, 0, sizeof *h);
    text = au_spool_read(cfg.spool, "held", id, RECORD_READ_MAX - 1, &len);
    if (text == NULL)
        text = au_spool_read(cfg.spool, "done", id, RECORD_READ_MAX - 1, &len);
    if (text == NULL)
        return -1;
    memcpy(h->rec, text, len + 1);
    h->reclen = len;
    free(text);
    snprintf(h->id, sizeof h->id, "%s", id);
    au_rec_get(h->rec, h->reclen, "group", h->group, sizeof h->group);
    au_rec_get(h->rec, h->reclen, "sender", h->sender, sizeof h->sender);
    au_rec_get(h->rec, h->reclen, "queue_id", h->queue_id, sizeof h->queue_id);
    au_rec_get(h->rec, h->reclen, "digest", h->digest, sizeof h->digest);
    au_rec_get(h->rec, h->reclen, "subject", h->subject, sizeof h->subject);
    au_rec_get(h->rec, h->reclen, "date", h->date, sizeof h->date);
    au_rec_get(h->rec, h->reclen, "message_id", h->message_id, sizeof h->message_id);
    au_rec_get(h->rec, h->reclen, "size", h->size, sizeof h->size);
    au_rec_get(h->rec, h->reclen, "held_at", num, sizeof num);
    h->held_at = strtol(num, NULL, 10);
    if (strcmp(h->sender, "<>") == 0)
        h->sender[0] = '\0';
    return h->group[0] != '\0' ? 0 : -1;
}

static void identity_of(const struct held *h, struct au_identity *m)
{
    m->queue_id = h->queue_id;
    m->group = h->group;
    m->sender = h->sender;
    m->digest = h->digest;
}


static int notified(const char *id)
{
    char p[PATH_MAX];
    struct stat st;
    snprintf(p, sizeof p, "%s/notified/%s", cfg.spool, id);
    return lstat(p, &st) == 0;
}

/* The message of id (at most HEAD_MAX bytes of it): NULL when unreadable. */
static char *message_head(const char *id, size_t *len)
{
    return read_head(au_spool_open(cfg.spool, "msg", id), len);
}

/* One notice of kind about h to rcpt. 0 when sendmail took it. */
static int send_notice(enum au_notice_kind kind, const struct held *h, const char *rcpt,
                       const char *reason, const char *decided)
{
    static char text[NOTICE_MAX];
    char token[AU_TOKEN_LEN + 1] = "", start[4096] = "", unique[13];
    unsigned char r[6];
    struct au_identity m;
    struct au_notice n;
    size_t mlen = 0;

    if (!au_address_ok(rcpt, 0)) {
        logmsg(LOG_WARNING, "warning: audit_id=%s: not sending a notice to unusable address "
                            "\"%.100s\"", h->id, rcpt);
        return 0;
    }
    identity_of(h, &m);
    if (kind == AU_NOTE_HELD && au_make_token(token, &secret, h->id, &m) != 0)
        return -1;
    char *msg = message_head(h->id, &mlen);
    if (msg != NULL && cfg.text_lines > 0)
        au_text_start(start, sizeof start, msg, mlen, (size_t)cfg.text_lines, 2000);
    free(msg);
    if (au_random(r, sizeof r) != 0)
        memset(r, 0, sizeof r);
    au_hex(unique, r, sizeof r);
    memset(&n, 0, sizeof n);
    n.kind = kind;
    n.from = cfg.notify_from;
    n.to = rcpt;
    n.review_domain = cfg.review_domain;
    n.id = h->id;
    n.token = token;
    n.group = h->group;
    n.sender = h->sender;
    n.subject = h->subject;
    n.date = h->date;
    n.message_id = h->message_id;
    n.size = h->size;
    n.queue_id = h->queue_id;
    n.text_start = start;
    n.reason = reason != NULL ? reason : "";
    n.decided = decided != NULL ? decided : "";
    n.held_at = h->held_at;
    n.expires_at = h->held_at + (long)cfg.hold_days * 86400;
    n.now = (long)time(NULL);
    n.unique = unique;
    n.hold_days = cfg.hold_days;
    size_t len = au_format_notice(text, sizeof text, &n);
    if (len == 0)
        return -1;
    char *rcpts[] = { (char *)rcpt };
    return hand_over("", rcpts, 1, -1, text, len) == 0 ? 0 : -1;
}

/* Tell every current auditor of h's group; then mark it. 0, or EX_TEMPFAIL. */
static int notify_auditors(const struct held *h)
{
    char **aud = NULL, err[512];
    size_t n = 0;
    if (group_values(h->group, "dmgAuditorMail", &aud, &n, err, sizeof err) < 0) {
        logmsg(LOG_WARNING, "warning: audit_id=%s: cannot read the auditors of %s: %s", h->id,
               h->group, err);
        return EX_TEMPFAIL_;
    }
    char list[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (send_notice(AU_NOTE_HELD, h, aud[i], NULL, NULL) != 0) {
            pd_ldap_values_free(aud);
            logmsg(LOG_WARNING, "warning: audit_id=%s: could not send the notice", h->id);
            return EX_TEMPFAIL_;
        }
        int k = snprintf(list + used, sizeof list - used, "%s%s", i ? "," : "", aud[i]);
        if (k > 0 && (size_t)k < sizeof list - used)
            used += (size_t)k;
    }
    pd_ldap_values_free(aud);
    if (au_spool_put(cfg.spool, "notified", h->id, "", 0, 0) != 0) {
        logmsg(LOG_WARNING, "warning: audit_id=%s: cannot mark notified: %s", h->id,
               strerror(errno));
        return EX_TEMPFAIL_;
    }
    if (n == 0)
        logmsg(LOG_WARNING, "notified: queue_id=%s audit_id=%s group=%s: the group has no "
                            "auditor; a postmaster must decide (dmg-audit approve|reject)",
               h->queue_id, h->id, h->group);
    else
        logmsg(LOG_INFO, "notified: queue_id=%s audit_id=%s group=%s auditors=%s",
               h->queue_id, h->id, h->group, list);
    return 0;
}

struct decision {
    char action[16];
    char by[AU_TEXT_MAX];
    char reason[AU_TEXT_MAX];
    char queue_id[64];
    char at[32];
};

static void describe_decision(char *out, size_t size, const struct decision *d);

static int load_decision(const char *id, struct decision *d)
{
    size_t len;
    memset(d, 0, sizeof *d);
    char *text = au_spool_read(cfg.spool, "decision", id, RECORD_READ_MAX, &len);
    if (text == NULL)
        return -1;
    au_rec_get(text, len, "action", d->action, sizeof d->action);
    au_rec_get(text, len, "by", d->by, sizeof d->by);
    au_rec_get(text, len, "reason", d->reason, sizeof d->reason);
    au_rec_get(text, len, "queue_id", d->queue_id, sizeof d->queue_id);
    au_rec_get(text, len, "at", d->at, sizeof d->at);
    free(text);
    return 0;
}

/* Record the first decision: 0 recorded, 1 decided already, -1 error. */
static int record_decision(const struct held *h, enum au_action a, const char *by,
                           const char *reason, const char *queue_id)
{
    struct au_record r;
    au_rec_init(&r);
    au_rec_add(&r, "action", au_action_name(a));
    au_rec_add(&r, "by", by);
    au_rec_add(&r, "reason", reason != NULL ? reason : "");
    au_rec_add(&r, "queue_id", queue_id != NULL ? queue_id : "");
    au_rec_addf(&r, "at", "%ld", (long)time(NULL));
    if (r.overflow)
        return -1;
    if (au_spool_state(cfg.spool, h->id) == AU_ST_DONE)
        return 1;
    if (au_spool_put(cfg.spool, "decision", h->id, r.text, r.len, 1) != 0)
        return errno == EEXIST ? 1 : -1;
    return 0;
}

/* An approved message with nobody to release it to (the group is gone, has no member, or
 * its members cannot be read): never marked done with 0 recipients. Tell the sender and the
 * decider (when the decider is an address), then mark it undeliverable: it stays in held/,
 * shown by list, until the postmaster resolves it. Called with the lock held. 0, or
 * EX_TEMPFAIL (a notice could not be sent: nothing marked, tried again). */
static int mark_undeliverable(const struct held *h, const struct decision *d, const char *why)
{
    char what[AU_TEXT_MAX + 128];
    describe_decision(what, sizeof what, d);
    if (h->sender[0] != '\0'
        && send_notice(AU_NOTE_UNDELIVERABLE, h, h->sender, why, what) != 0)
        return EX_TEMPFAIL_;
    if (au_address_ok(d->by, 0) && !au_caseeq(d->by, h->sender)
        && send_notice(AU_NOTE_UNDELIVERABLE, h, d->by, why, what) != 0)
        return EX_TEMPFAIL_;
    struct au_record r;
    au_rec_init(&r);
    au_rec_add(&r, "reason", why);
    au_rec_addf(&r, "at", "%ld", (long)time(NULL));
    if (au_spool_put(cfg.spool, "undeliverable", h->id, r.text, r.len, 0) != 0) {
        logmsg(LOG_WARNING, "warning: audit_id=%s: cannot mark it undeliverable: %s", h->id,
               strerror(errno));
        return EX_TEMPFAIL_;
    }
    logmsg(LOG_WARNING, "undeliverable: queue_id=%s audit_id=%s group=%s sender=%s: approved, "
                        "nothing handed over: %s; kept (dmg-audit resolve %s release|discard)",
           h->queue_id, h->id, h->group, shown(h->sender), why, h->id);
    return 0;
}

/* Carry out the recorded decision of h. 0 done (or nothing to do), EX_TEMPFAIL to try again
 * later, 1 when another process holds the message (nonblock). */
static int apply_decision(const struct held *h, int nonblock)
{
    struct decision d;
    int lock = au_spool_open(cfg.spool, "held", h->id);
    if (lock < 0)
        return au_spool_state(cfg.spool, h->id) == AU_ST_DONE ? 0 : EX_TEMPFAIL_;
    if (flock(lock, LOCK_EX | (nonblock ? LOCK_NB : 0)) != 0) {
        close(lock);
        return nonblock && errno == EWOULDBLOCK ? 1 : EX_TEMPFAIL_;
    }
    enum au_state st = au_spool_state(cfg.spool, h->id);
    int rc = 0;
    if (st != AU_ST_DECIDED) {
        if (st == AU_ST_UNCERTAIN)
            logmsg(LOG_WARNING, "uncertain: queue_id=%s audit_id=%s group=%s: the release "
                                "was interrupted; it is never repeated automatically (see "
                                "dmg-audit show %s)", h->queue_id, h->id, h->group, h->id);
        close(lock);
        return 0;
    }
    if (load_decision(h->id, &d) != 0) {
        close(lock);
        return EX_TEMPFAIL_;
    }
    if (strcmp(d.action, "approve") == 0) {
        char **members = NULL, err[512];
        size_t n = 0;
        int found = group_values(h->group, "dmgMemberMail", &members, &n, err, sizeof err);
        if (found == -1) {
            logmsg(LOG_WARNING, "warning: audit_id=%s: cannot read the members of %s: %s",
                   h->id, h->group, err);
            close(lock);
            return EX_TEMPFAIL_;
        }
        if (found <= 0) {
            char why[700];
            if (found == 0)
                snprintf(why, sizeof why, "the group no longer exists (or is not visible to "
                                          "the audit's bind_dn)");
            else
                snprintf(why, sizeof why, "the members of the group cannot be read: %s", err);
            rc = mark_undeliverable(h, &d, why);
            close(lock);
            return rc;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (au_address_ok(members[i], 0))
                members[k++] = members[i];
            else {
                logmsg(LOG_WARNING, "warning: audit_id=%s: member address \"%.100s\" skipped",
                       h->id, members[i]);
                free(members[i]);
            }
        }
        if (members != NULL)
            members[k] = NULL;
        if (k == 0) {
            pd_ldap_values_free(members);
            rc = mark_undeliverable(h, &d, n == 0 ? "the group has no members"
                                                  : "the group has no usable member address");
            close(lock);
            return rc;
        }
        {
            char started[64];
            int sn = snprintf(started, sizeof started, "started: %ld\n", (long)time(NULL));
            int fd = au_spool_open(cfg.spool, "msg", h->id);
            if (fd < 0 || au_spool_put(cfg.spool, "release", h->id, started, (size_t)sn, 0)
                               != 0) {
                logmsg(LOG_WARNING, "warning: audit_id=%s: cannot start the release: %s",
                       h->id, strerror(errno));
                if (fd >= 0)
                    close(fd);
                pd_ldap_values_free(members);
                close(lock);
                return EX_TEMPFAIL_;
            }
            crash_point("DMG_AUDIT_CRASH_BEFORE_RELEASE"); /* right after the marker */
            rc = hand_over(h->sender, members, k, fd, NULL, 0);
            close(fd);
            if (rc == -2) {
                /* maybe delivered: leave the release marker (uncertain, never repeated) */
                pd_ldap_values_free(members);
                close(lock);
                logmsg(LOG_WARNING, "uncertain: queue_id=%s audit_id=%s group=%s: the "
                                    "connection was lost after the message was sent",
                       h->queue_id, h->id, h->group);
                return 0;
            }
            if (rc != 0) {
                /* sendmail said no: nothing was queued, the release can be tried again */
                char p[PATH_MAX];
                snprintf(p, sizeof p, "%s/release/%s", cfg.spool, h->id);
                unlink(p);
                pd_ldap_values_free(members);
                close(lock);
                logmsg(LOG_WARNING, "warning: audit_id=%s: release deferred", h->id);
                return EX_TEMPFAIL_;
            }
            crash_point("DMG_AUDIT_CRASH_AFTER_RELEASE"); /* handed over, not marked */
        }
        pd_ldap_values_free(members);
        if (au_spool_finish(cfg.spool, h->id) != 0) {
            logmsg(LOG_ERR, "error: audit_id=%s: released but cannot mark it done: %s",
                   h->id, strerror(errno));
            close(lock);
            return 0; /* release/ marks it: never released again */
        }
        logmsg(LOG_INFO, "released: queue_id=%s audit_id=%s group=%s sender=%s members=%zu",
               h->queue_id, h->id, h->group, shown(h->sender), k);
    } else {
        int expired = strcmp(d.action, "expire") == 0;
        if (h->sender[0] != '\0'
            && send_notice(expired ? AU_NOTE_EXPIRED : AU_NOTE_REJECTED, h, h->sender,
                           d.reason, NULL) != 0) {
            close(lock);
            return EX_TEMPFAIL_;
        }
        if (expired) {
            char **aud = NULL, err[512];
            size_t n = 0;
            if (group_values(h->group, "dmgAuditorMail", &aud, &n, err, sizeof err) > 0)
                for (size_t i = 0; i < n; i++)
                    send_notice(AU_NOTE_EXPIRED, h, aud[i], NULL, NULL);
            pd_ldap_values_free(aud);
        }
        if (au_spool_finish(cfg.spool, h->id) != 0) {
            close(lock);
            return EX_TEMPFAIL_;
        }
        logmsg(LOG_INFO, "discarded: queue_id=%s audit_id=%s group=%s sender=%s (%s; sender "
                         "notified)", h->queue_id, h->id, h->group, shown(h->sender),
               expired ? "expired" : "rejected");
    }
    close(lock);
    return 0;
}

/* ======================================================================================
 * Command line options of the pipe commands
 * ==================================================================================== */

struct pipe_args {
    const char *sender, *recipient, *original_recipient, *queue_id, *client, *sasl;
};

static int parse_pipe_args(int argc, char **argv, struct pipe_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        const char **dst = NULL;
        size_t k = 0;
        static const struct { const char *name; size_t off; } opts[] = {
            { "--sender=", offsetof(struct pipe_args, sender) },
            { "--recipient=", offsetof(struct pipe_args, recipient) },
            { "--original-recipient=", offsetof(struct pipe_args, original_recipient) },
            { "--queue-id=", offsetof(struct pipe_args, queue_id) },
            { "--client-address=", offsetof(struct pipe_args, client) },
            { "--sasl-username=", offsetof(struct pipe_args, sasl) },
        };
        for (k = 0; k < sizeof opts / sizeof opts[0]; k++) {
            size_t l = strlen(opts[k].name);
            if (strncmp(s, opts[k].name, l) == 0) {
                dst = (const char **)((char *)a + opts[k].off);
                *dst = s + l;
                break;
            }
        }
        if (dst == NULL) {
            fprintf(stderr, "dmg-audit: unknown argument \"%.100s\"\n", s);
            return -1;
        }
    }
    if (a->sender == NULL || a->recipient == NULL || a->queue_id == NULL) {
        fprintf(stderr, "dmg-audit: --sender, --recipient and --queue-id are required\n");
        return -1;
    }
    if (a->client == NULL)
        a->client = "";
    if (a->sasl == NULL)
        a->sasl = "";
    if (a->original_recipient == NULL)
        a->original_recipient = "";
    /* pipe(8) without null_sender= gives MAILER-DAEMON for the null sender */
    for (const char *p = a->queue_id; *p != '\0'; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
            return -1;
    if (strlen(a->queue_id) == 0 || strlen(a->queue_id) > 40)
        return -1;
    return 0;
}

/* ======================================================================================
 * deliver: the audited group's copy of a message
 * ==================================================================================== */

static int cmd_deliver(int argc, char **argv)
{
    struct pipe_args a;
    char group[AU_ADDR_MAX], tmpname[128], digest[AU_DIGEST_HEX + 1], id[AU_ID_LEN + 1];
    char err[512];
    size_t size = 0;
    struct pd_lookup look;

    if (parse_pipe_args(argc, argv, &a) != 0)
        return fail(EX_TEMPFAIL_, "4.3.5 dmg-audit deliver: bad arguments (see dmg-audit(8))");
    if (au_group_from_review_addr(group, sizeof group, a.recipient) != 0)
        return fail(EX_TEMPFAIL_, "4.3.5 dmg-audit deliver: no group address in \"%.100s\"",
                    a.recipient);
    if (!au_address_ok(a.sender, 1))
        return fail(EX_NOPERM_, "5.7.1 malformed sender address");
    if (au_spool_init(cfg.spool, err, sizeof err) != 0)
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: %s", err);
    if (au_spool_take(cfg.spool, 0, (size_t)cfg.max_message_size, tmpname, sizeof tmpname,
                      digest, &size) != 0) {
        if (errno == EFBIG)
            return fail(EX_NOPERM_, "5.3.4 message too big for the audit (max_message_size "
                                    "%ld)", cfg.max_message_size);
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: cannot spool the message: %s",
                    strerror(errno));
    }
    char tmppath[PATH_MAX];
    snprintf(tmppath, sizeof tmppath, "%s/tmp/%s", cfg.spool, tmpname);

    struct au_identity m = { a.queue_id, group, a.sender, digest };
    if (au_make_id(id, &secret, &m) != 0) {
        unlink(tmppath);
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: cannot compute the audit ID");
    }
    enum au_state st = au_spool_state(cfg.spool, id);
    if (st != AU_ST_NONE) {
        /* Postfix delivers this copy again (we were interrupted before exit 0) */
        unlink(tmppath);
        logmsg(LOG_INFO, "duplicate: queue_id=%s audit_id=%s group=%s state=%s: handled "
                         "already", a.queue_id, id, group, au_state_name(st));
        if (st == AU_ST_HELD && !notified(id)) {
            struct held h;
            if (load_held(id, &h) == 0)
                return notify_auditors(&h);
        }
        if (st == AU_ST_DECIDED) {
            struct held h;
            if (load_held(id, &h) == 0)
                return apply_decision(&h, 0);
        }
        return 0;
    }

    pd_ldap_lookup(directory, group, a.sender, &look);
    int hold = 0;
    switch (look.result) {
    case PD_RES_ACCEPT:
        break;
    case PD_RES_HOLD:
        hold = 1;
        break;
    case PD_RES_REJECT:
        unlink(tmppath);
        logmsg(LOG_INFO, "rejected: queue_id=%s audit_id=%s group=%s sender=%s: %s",
               a.queue_id, id, group, shown(a.sender), look.reason);
        return fail(EX_NOPERM_, "5.7.1 %s", look.reason[0] ? look.reason : "not allowed");
    case PD_RES_NOT_GROUP:
        unlink(tmppath);
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: %s is not a group in the directory "
                                  "(or not visible to bind_dn)", group);
    default:
        unlink(tmppath);
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: directory: %s %s",
                    pd_result_name(look.result), look.error);
    }
    char why[600];
    switch (sender_identity(a.sender, a.sasl, a.client, why, sizeof why)) {
    case ID_PROVEN:
        break;
    case ID_UNAVAILABLE:
        unlink(tmppath);
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: directory: %s", why);
    case ID_WRONG:
        unlink(tmppath);
        logmsg(LOG_INFO, "rejected: queue_id=%s audit_id=%s group=%s sender=%s: %s",
               a.queue_id, id, group, shown(a.sender), why);
        return fail(EX_NOPERM_, "5.7.1 %s", why);
    case ID_UNPROVEN:
        if (!hold)
            logmsg(LOG_INFO, "queue_id=%s: sender %s not proven (%s): held like any sender",
                   a.queue_id, shown(a.sender), why);
        hold = 1;
        break;
    }

    /* what the message says about itself */
    struct held h;
    memset(&h, 0, sizeof h);
    {
        size_t len = 0;
        char *buf = read_head(open(tmppath, O_RDONLY), &len);
        if (buf != NULL) {
            au_header(buf, len, "Subject", h.subject, sizeof h.subject);
            au_header(buf, len, "Date", h.date, sizeof h.date);
            au_header(buf, len, "Message-ID", h.message_id, sizeof h.message_id);
        }
        free(buf);
    }
    snprintf(h.id, sizeof h.id, "%s", id);
    snprintf(h.group, sizeof h.group, "%s", group);
    snprintf(h.sender, sizeof h.sender, "%s", a.sender);
    snprintf(h.queue_id, sizeof h.queue_id, "%s", a.queue_id);
    snprintf(h.digest, sizeof h.digest, "%s", digest);
    snprintf(h.size, sizeof h.size, "%zu", size);
    h.held_at = (long)time(NULL);

    struct au_record r;
    au_rec_init(&r);
    au_rec_add(&r, "group", group);
    au_rec_add(&r, "sender", a.sender[0] != '\0' ? a.sender : "<>");
    au_rec_add(&r, "queue_id", a.queue_id);
    au_rec_add(&r, "original_recipient", a.original_recipient);
    au_rec_add(&r, "digest", digest);
    au_rec_add(&r, "size", h.size);
    au_rec_addf(&r, "held_at", "%ld", h.held_at);
    au_rec_add(&r, "subject", h.subject);
    au_rec_add(&r, "date", h.date);
    au_rec_add(&r, "message_id", h.message_id);
    au_rec_add(&r, "client_address", a.client);
    au_rec_add(&r, "sasl_username", a.sasl);
    au_rec_add(&r, "directory", hold ? "hold" : "accept");
    if (r.overflow) {
        unlink(tmppath);
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: record too long");
    }
    if (au_spool_commit_msg(cfg.spool, tmpname, id) != 0) {
        int e = errno;
        unlink(tmppath);
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: cannot spool the message: %s",
                    strerror(e));
    }
    crash_point("DMG_AUDIT_CRASH_BEFORE_HELD"); /* message stored, no record */
    if (au_spool_put(cfg.spool, "held", id, r.text, r.len, 0) != 0)
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: cannot record the message: %s",
                    strerror(errno));
    memcpy(h.rec, r.text, r.len + 1);
    h.reclen = r.len;

    if (!hold) {
        /* the sender is an auditor of the group: straight to the members, through the same
         * release path as an approval (and so with the same crash guarantee) */
        int rc = record_decision(&h, AU_ACT_APPROVE, "directory (the sender is an auditor)",
                                 "", a.queue_id);
        if (rc < 0)
            return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: cannot record the decision");
        logmsg(LOG_INFO, "accepted: queue_id=%s audit_id=%s group=%s sender=%s size=%zu "
                         "(an auditor of the group)", a.queue_id, id, group, shown(a.sender),
               size);
        rc = apply_decision(&h, 0);
        return rc == EX_TEMPFAIL_ ? fail(rc, "4.3.0 dmg-audit: release deferred") : 0;
    }
    logmsg(LOG_INFO, "held: queue_id=%s audit_id=%s group=%s sender=%s size=%zu "
                     "message_id=%s", a.queue_id, id, group, shown(a.sender), size,
           h.message_id[0] ? h.message_id : "(none)");
    crash_point("DMG_AUDIT_CRASH_BEFORE_NOTIFY"); /* held, auditors not told */
    int rc = notify_auditors(&h);
    return rc == 0 ? 0 : fail(rc, "4.3.0 dmg-audit: held as %s; notices deferred", id);
}

/* ======================================================================================
 * decide: a decision mail to approve+ID-TOKEN@ / reject+ID-TOKEN@
 * ==================================================================================== */

static int refuse(const char *queue_id, const char *id, const char *sender, const char *why)
{
    logmsg(LOG_NOTICE, "refused: queue_id=%s audit_id=%s from=%s: %s", queue_id,
           id[0] ? id : "-", shown(sender), why);
    printf("5.7.1 decision refused: %s\n", why);
    fflush(stdout);
    return EX_NOPERM_;
}

static void describe_decision(char *out, size_t size, const struct decision *d)
{
    char when[64] = "";
    long at = strtol(d->at, NULL, 10);
    time_t t = (time_t)at;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    snprintf(out, size, "%s by %s at %s", strcmp(d->action, "approve") == 0 ? "approved"
                                          : strcmp(d->action, "expire") == 0 ? "expired"
                                                                             : "rejected",
             d->by, when);
}

static int cmd_decide(int argc, char **argv)
{
    struct pipe_args a;
    struct au_decision_addr da;
    struct held h;
    struct au_identity m;
    char err[512], why[600];
    static char body[64 * 1024];
    size_t blen = 0;

    if (parse_pipe_args(argc, argv, &a) != 0)
        return fail(EX_TEMPFAIL_, "4.3.5 dmg-audit decide: bad arguments (see dmg-audit(8))");
    /* the decision mail: only its start matters (the reason); the rest is read and dropped */
    for (;;) {
        char sink[8192];
        char *dst = blen < sizeof body - 1 ? body + blen : sink;
        size_t room = blen < sizeof body - 1 ? sizeof body - 1 - blen : sizeof sink;
        ssize_t n = read(0, dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (dst != sink)
            blen += (size_t)n;
    }
    body[blen] = '\0';

    if (au_parse_decision_addr(a.recipient, cfg.review_domain, &da, err, sizeof err) != 0)
        return refuse(a.queue_id, "", a.sender, err);
    if (load_held(da.id, &h) != 0)
        return refuse(a.queue_id, da.id, a.sender, "no held message has this audit ID");
    identity_of(&h, &m);
    if (!au_token_ok(da.token, &secret, da.id, &m)
        && !(have_previous_secret && au_token_ok(da.token, &previous_secret, da.id, &m)))
        return refuse(a.queue_id, da.id, a.sender, "wrong token for this audit ID");
    if (a.sender[0] == '\0' || !au_address_ok(a.sender, 0))
        return refuse(a.queue_id, da.id, a.sender, "a decision needs the auditor's address "
                                                    "as sender");

    /* a current auditor of the group, sending as themselves */
    char **aud = NULL;
    size_t n = 0;
    if (group_values(h.group, "dmgAuditorMail", &aud, &n, err, sizeof err) < 0)
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: directory: %s", err);
    int auditor = in_list(aud, n, a.sender);
    pd_ldap_values_free(aud);
    if (!auditor) {
        snprintf(why, sizeof why, "%s is not an auditor of %s", a.sender, h.group);
        return refuse(a.queue_id, da.id, a.sender, why);
    }
    switch (sender_identity(a.sender, a.sasl, a.client, why, sizeof why)) {
    case ID_PROVEN:
        break;
    case ID_UNAVAILABLE:
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: directory: %s", why);
    default:
        return refuse(a.queue_id, da.id, a.sender, why);
    }

    char reason[AU_TEXT_MAX] = "";
    if (da.action == AU_ACT_REJECT)
        au_reason_from_mail(reason, 300, body, blen);
    int rc = record_decision(&h, da.action, a.sender, reason, a.queue_id);
    if (rc < 0)
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: cannot record the decision: %s",
                    strerror(errno));
    if (rc == 1) {
        struct decision d;
        char what[AU_TEXT_MAX + 128];
        if (load_decision(da.id, &d) == 0 && strcmp(d.queue_id, a.queue_id) == 0) {
            /* Postfix delivers this very decision mail again: we were interrupted after
             * recording it. Carry it out if that is still to do; never twice. */
            logmsg(LOG_INFO, "duplicate: queue_id=%s audit_id=%s: this decision was "
                             "recorded already", a.queue_id, da.id);
            rc = apply_decision(&h, 0);
            return rc == EX_TEMPFAIL_ ? fail(rc, "4.3.0 dmg-audit: decision recorded, "
                                                 "carrying it out is deferred") : 0;
        }
        describe_decision(what, sizeof what, &d);
        logmsg(LOG_NOTICE, "refused: queue_id=%s audit_id=%s from=%s: already decided (%s)",
               a.queue_id, da.id, a.sender, what);
        if (send_notice(AU_NOTE_ALREADY, &h, a.sender, NULL, what) != 0)
            return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: cannot send the notice");
        return 0;
    }
    logmsg(LOG_INFO, "%s: queue_id=%s audit_id=%s group=%s sender=%s by=%s%s%s",
           da.action == AU_ACT_APPROVE ? "approved" : "rejected", h.queue_id, da.id, h.group,
           shown(h.sender), a.sender, reason[0] ? " reason=" : "", reason);
    rc = apply_decision(&h, 0);
    return rc == EX_TEMPFAIL_ ? fail(rc, "4.3.0 dmg-audit: decision recorded, carrying it "
                                         "out is deferred") : 0;
}

/* ======================================================================================
 * expire: the timer's job (also finishes what a crash interrupted)
 * ==================================================================================== */

static int cmd_expire(int argc, char **argv)
{
    long now = (long)time(NULL);
    int status = 0;
    char err[512];

    for (int i = 0; i < argc; i++) {
        if (TEST_HOOKS && strncmp(argv[i], "--now=", 6) == 0)
            now = strtol(argv[i] + 6, NULL, 10);
        else {
            fprintf(stderr, "usage: dmg-audit expire\n");
            return EX_USAGE_;
        }
    }
    if (au_spool_init(cfg.spool, err, sizeof err) != 0) {
        fprintf(stderr, "dmg-audit: %s\n", err);
        return EX_TEMPFAIL_;
    }
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/held", cfg.spool);
    DIR *d = opendir(p);
    if (d == NULL) {
        fprintf(stderr, "dmg-audit: %s: %s\n", p, strerror(errno));
        return EX_TEMPFAIL_;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct held h;
        if (!au_id_ok(e->d_name) || load_held(e->d_name, &h) != 0)
            continue;
        enum au_state st = au_spool_state(cfg.spool, h.id);
        if (st == AU_ST_HELD && now >= h.held_at + (long)cfg.hold_days * 86400) {
            char by[64];
            snprintf(by, sizeof by, "expiry after %d days", cfg.hold_days);
            if (record_decision(&h, AU_ACT_EXPIRE, by, "", "") == 0)
                logmsg(LOG_INFO, "expired: queue_id=%s audit_id=%s group=%s sender=%s",
                       h.queue_id, h.id, h.group, shown(h.sender));
            st = au_spool_state(cfg.spool, h.id);
        } else if (st == AU_ST_HELD && !notified(h.id) && now - h.held_at >= 300) {
            /* deliver was killed before telling the auditors and Postfix has not retried
             * yet (a younger message may be in the middle of it: leave that to deliver) */
            if (notify_auditors(&h) != 0)
                status = EX_TEMPFAIL_;
        }
        if (st == AU_ST_DECIDED || st == AU_ST_UNCERTAIN) {
            int rc = apply_decision(&h, 1);
            if (rc == EX_TEMPFAIL_)
                status = EX_TEMPFAIL_;
        }
    }
    closedir(d);
    /* what killed writers left in tmp/ (nothing refers to it) */
    snprintf(p, sizeof p, "%s/tmp", cfg.spool);
    d = opendir(p);
    while (d != NULL && (e = readdir(d)) != NULL) {
        struct stat sb;
        char f[PATH_MAX];
        if (e->d_name[0] == '.')
            continue;
        snprintf(f, sizeof f, "%s/tmp/%s", cfg.spool, e->d_name);
        if (lstat(f, &sb) == 0 && S_ISREG(sb.st_mode) && now - (long)sb.st_mtime > 86400)
            unlink(f);
    }
    if (d != NULL)
        closedir(d);
    /* forget finished messages after keep_days */
    if (cfg.keep_days > 0) {
        snprintf(p, sizeof p, "%s/done", cfg.spool);
        d = opendir(p);
        while (d != NULL && (e = readdir(d)) != NULL) {
            struct stat sb;
            char f[PATH_MAX];
            if (!au_id_ok(e->d_name))
                continue;
            snprintf(f, sizeof f, "%s/done/%s", cfg.spool, e->d_name);
            if (stat(f, &sb) == 0 && now - (long)sb.st_mtime > (long)cfg.keep_days * 86400)
                au_spool_remove(cfg.spool, e->d_name);
        }
        if (d != NULL)
            closedir(d);
    }
    return status;
}

/* ======================================================================================
 * Postmaster commands: list, show, approve, reject
 * ==================================================================================== */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_field(FILE *f, const char *name, const char *value, int *first)
{
    fprintf(f, "%s", *first ? "" : ", ");
    *first = 0;
    json_str(f, name);
    fputs(": ", f);
    json_str(f, value);
}

static void print_entry(const struct held *h, int json, int full)
{
    enum au_state st = au_spool_state(cfg.spool, h->id);
    struct decision d;
    int decided = load_decision(h->id, &d) == 0;
    char held_at[32], expires[32];
    time_t t = (time_t)h->held_at;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(held_at, sizeof held_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    t = (time_t)(h->held_at + (long)cfg.hold_days * 86400);
    gmtime_r(&t, &tm);
    strftime(expires, sizeof expires, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (json) {
        int first = 1;
        fputc('{', stdout);
        json_field(stdout, "id", h->id, &first);
        json_field(stdout, "state", au_state_name(st), &first);
        json_field(stdout, "group", h->group, &first);
        json_field(stdout, "sender", h->sender, &first);
        json_field(stdout, "queue_id", h->queue_id, &first);
        json_field(stdout, "held_at", held_at, &first);
        json_field(stdout, "expires", expires, &first);
        json_field(stdout, "size", h->size, &first);
        json_field(stdout, "subject", h->subject, &first);
        json_field(stdout, "message_id", h->message_id, &first);
        if (full) {
            json_field(stdout, "date", h->date, &first);
            json_field(stdout, "notified", notified(h->id) ? "yes" : "no", &first);
        }
        if (decided) {
            json_field(stdout, "decision", d.action, &first);
            json_field(stdout, "decided_by", d.by, &first);
            json_field(stdout, "reason", d.reason, &first);
        }
        fputc('}', stdout);
        return;
    }
    if (!full) {
        printf("%s  %-9s  %s  %s  <%s>  %s\n", h->id, au_state_name(st), held_at, h->group,
               shown(h->sender), h->subject);
        return;
    }
    printf("Audit ID:    %s\nState:       %s\nGroup:       %s\nSender:      %s\n"
           "Queue ID:    %s\nHeld since:  %s\nExpires:     %s\nSize:        %s bytes\n"
           "Subject:     %s\nDate:        %s\nMessage-ID:  %s\nNotified:    %s\n",
           h->id, au_state_name(st), h->group, shown(h->sender), h->queue_id, held_at,
           expires, h->size, h->subject, h->date, h->message_id,
           notified(h->id) ? "yes" : "no");
    if (decided) {
        char what[AU_TEXT_MAX + 128];
        describe_decision(what, sizeof what, &d);
        printf("Decision:    %s%s%s\n", what, d.reason[0] ? "; reason: " : "", d.reason);
    }
    if (st == AU_ST_UNCERTAIN)
        printf("Note:        the release to the members was started but not confirmed (a "
               "crash);\n             it is never repeated automatically. Look for "
               "message-id=%s\n             in the mail log, then run dmg-audit resolve %s "
               "delivered|release.\n", h->message_id, h->id);
    if (st == AU_ST_UNDELIVERABLE) {
        size_t ulen = 0;
        char why[AU_TEXT_MAX] = "";
        char *u = au_spool_read(cfg.spool, "undeliverable", h->id, RECORD_READ_MAX, &ulen);
        if (u != NULL)
            au_rec_get(u, ulen, "reason", why, sizeof why);
        free(u);
        printf("Note:        approved but not delivered to anyone: %s.\n             The "
               "sender was told. Run dmg-audit resolve %s release\n             once the "
               "group has members again, or resolve %s discard.\n",
               why[0] != '\0' ? why : "the group is gone or has no members", h->id, h->id);
    }
    size_t mlen = 0;
    char *msg = message_head(h->id, &mlen);
    if (msg != NULL) {
        char start[4096];
        au_text_start(start, sizeof start, msg, mlen, 20, 2000);
        printf("\n%s\n", start);
        free(msg);
    }
}

static int cmd_list(int argc, char **argv)
{
    int json = 0, all = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--all") == 0)
            all = 1;
        else {
            fprintf(stderr, "usage: dmg-audit list [--json] [--all]\n");
            return EX_USAGE_;
        }
    }
    const char *dirs[] = { "held", "done" };
    int first = 1;
    if (json)
        fputs("[", stdout);
    for (size_t k = 0; k < (all ? 2u : 1u); k++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", cfg.spool, dirs[k]);
        DIR *d = opendir(p);
        if (d == NULL) {
            if (errno == ENOENT)
                continue;
            fprintf(stderr, "dmg-audit: %s: %s\n", p, strerror(errno));
            return EX_TEMPFAIL_;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            struct held h;
            if (!au_id_ok(e->d_name) || load_held(e->d_name, &h) != 0)
                continue;
            if (json && !first)
                fputs(",\n ", stdout);
            first = 0;
            print_entry(&h, json, 0);
        }
        closedir(d);
    }
    if (json)
        fputs("]\n", stdout);
    return 0;
}

static int cmd_show(int argc, char **argv)
{
    int json = 0;
    const char *id = NULL;
    struct held h;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (id == NULL)
            id = argv[i];
        else
            id = "";
    }
    if (id == NULL || !au_id_ok(id)) {
        fprintf(stderr, "usage: dmg-audit show [--json] ID (%d hex digits)\n", AU_ID_LEN);
        return EX_USAGE_;
    }
    if (load_held(id, &h) != 0) {
        fprintf(stderr, "dmg-audit: no held message %s\n", id);
        return EX_DATAERR_;
    }
    print_entry(&h, json, 1);
    if (json)
        fputc('\n', stdout);
    return 0;
}

static int cmd_cli_decide(enum au_action action, int argc, char **argv)
{
    struct held h;
    char reason[AU_TEXT_MAX] = "", by[128];
    size_t used = 0;
    if (argc < 1 || !au_id_ok(argv[0]) || (action == AU_ACT_APPROVE && argc != 1)) {
        fprintf(stderr, "usage: dmg-audit approve ID | reject ID [REASON...]\n");
        return EX_USAGE_;
    }
    for (int i = 1; i < argc; i++) {
        int k = snprintf(reason + used, sizeof reason - used, "%s%s", i > 1 ? " " : "",
                         argv[i]);
        if (k < 0 || (size_t)k >= sizeof reason - used)
            break;
        used += (size_t)k;
    }
    char clean[AU_TEXT_MAX];
    au_sanitize(clean, 300, reason, strlen(reason));
    if (load_held(argv[0], &h) != 0) {
        fprintf(stderr, "dmg-audit: no held message %s\n", argv[0]);
        return EX_DATAERR_;
    }
    snprintf(by, sizeof by, "postmaster %s (shell)", postmaster);
    int rc = record_decision(&h, action, by, clean, "");
    if (rc < 0) {
        fprintf(stderr, "dmg-audit: cannot record the decision: %s\n", strerror(errno));
        return EX_TEMPFAIL_;
    }
    if (rc == 1) {
        struct decision d;
        char what[AU_TEXT_MAX + 128] = "";
        if (load_decision(h.id, &d) == 0)
            describe_decision(what, sizeof what, &d);
        logmsg(LOG_NOTICE, "refused: queue_id=%s audit_id=%s by=%s: already decided (%s)",
               h.queue_id, h.id, by, what);
        fprintf(stderr, "dmg-audit: %s was already decided (%s)\n", h.id, what);
        return EX_DATAERR_;
    }
    logmsg(LOG_INFO, "%s: queue_id=%s audit_id=%s group=%s sender=%s by=%s%s%s",
           action == AU_ACT_APPROVE ? "approved" : "rejected", h.queue_id, h.id, h.group,
           shown(h.sender), by, clean[0] ? " reason=" : "", clean);
    rc = apply_decision(&h, 0);
    if (rc == EX_TEMPFAIL_) {
        fprintf(stderr, "dmg-audit: %s: decision recorded; carrying it out failed and is "
                        "retried by dmg-audit expire\n", h.id);
        return EX_TEMPFAIL_;
    }
    if (au_spool_state(cfg.spool, h.id) == AU_ST_UNDELIVERABLE) {
        fprintf(stderr, "dmg-audit: %s: approved but NOT delivered: the group is gone or has "
                        "no members; the sender was told and the message is kept (dmg-audit "
                        "resolve %s release|discard)\n", h.id, h.id);
        return EX_DATAERR_;
    }
    printf("%s: %s\n", h.id, action == AU_ACT_APPROVE ? "approved and released"
                                                      : "rejected; the sender was told");
    return 0;
}

/* An undeliverable message (approved, nobody to release it to): "release" tries again
 * (the group has members again), "discard" marks it done without delivering it. */
static int resolve_undeliverable(const struct held *h, const char *how, const char *who)
{
    char p[PATH_MAX];
    if (strcmp(how, "discard") == 0) {
        if (au_spool_finish(cfg.spool, h->id) != 0) {
            fprintf(stderr, "dmg-audit: %s: %s\n", h->id, strerror(errno));
            return EX_TEMPFAIL_;
        }
        logmsg(LOG_NOTICE, "discarded: queue_id=%s audit_id=%s group=%s sender=%s "
                           "(undeliverable; by %s)", h->queue_id, h->id, h->group,
               shown(h->sender), who);
        printf("%s: discarded\n", h->id);
        return 0;
    }
    if (strcmp(how, "release") != 0) {
        fprintf(stderr, "dmg-audit: %s is undeliverable: resolve it with release or "
                        "discard\n", h->id);
        return EX_USAGE_;
    }
    snprintf(p, sizeof p, "%s/undeliverable/%s", cfg.spool, h->id);
    if (unlink(p) != 0) {
        fprintf(stderr, "dmg-audit: %s: %s\n", p, strerror(errno));
        return EX_TEMPFAIL_;
    }
    logmsg(LOG_NOTICE, "resolve: queue_id=%s audit_id=%s: release tried again by %s",
           h->queue_id, h->id, who);
    int rc = apply_decision(h, 0);
    if (rc != 0) {
        fprintf(stderr, "dmg-audit: %s: release deferred; dmg-audit expire retries it\n",
                h->id);
        return EX_TEMPFAIL_;
    }
    if (au_spool_state(cfg.spool, h->id) == AU_ST_UNDELIVERABLE) {
        fprintf(stderr, "dmg-audit: %s: still undeliverable (the group is gone or has no "
                        "members)\n", h->id);
        return EX_DATAERR_;
    }
    printf("%s: released\n", h->id);
    return 0;
}

/* An uncertain release (killed between handing it over and marking it): after checking the
 * mail log, the postmaster says what happened. "delivered": mark it done; "release": it did
 * not reach Postfix, hand it over again (the only way a message is released twice is this
 * command after a release that did arrive). An undeliverable message: see
 * resolve_undeliverable. */
static int cmd_resolve(int argc, char **argv)
{
    struct held h;
    if (argc != 2 || !au_id_ok(argv[0])
        || (strcmp(argv[1], "delivered") != 0 && strcmp(argv[1], "release") != 0
            && strcmp(argv[1], "discard") != 0)) {
        fprintf(stderr, "usage: dmg-audit resolve ID delivered|release|discard\n");
        return EX_USAGE_;
    }
    if (load_held(argv[0], &h) == 0 && au_spool_state(cfg.spool, h.id) == AU_ST_UNDELIVERABLE)
        return resolve_undeliverable(&h, argv[1], postmaster);
    if (load_held(argv[0], &h) != 0 || au_spool_state(cfg.spool, h.id) != AU_ST_UNCERTAIN
        || strcmp(argv[1], "discard") == 0) {
        fprintf(stderr, "dmg-audit: %s is not an uncertain release\n", argv[0]);
        return EX_DATAERR_;
    }
    if (strcmp(argv[1], "delivered") == 0) {
        if (au_spool_finish(cfg.spool, h.id) != 0) {
            fprintf(stderr, "dmg-audit: %s: %s\n", h.id, strerror(errno));
            return EX_TEMPFAIL_;
        }
        logmsg(LOG_INFO, "released: queue_id=%s audit_id=%s group=%s: confirmed by %s",
               h.queue_id, h.id, h.group, postmaster);
        printf("%s: marked as released\n", h.id);
        return 0;
    }
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/release/%s", cfg.spool, h.id);
    if (unlink(p) != 0) {
        fprintf(stderr, "dmg-audit: %s: %s\n", p, strerror(errno));
        return EX_TEMPFAIL_;
    }
    logmsg(LOG_NOTICE, "resolve: queue_id=%s audit_id=%s: released again by %s", h.queue_id,
           h.id, postmaster);
    int rc = apply_decision(&h, 0);
    if (rc != 0) {
        fprintf(stderr, "dmg-audit: %s: release deferred; dmg-audit expire retries it\n",
                h.id);
        return EX_TEMPFAIL_;
    }
    printf("%s: released\n", h.id);
    return 0;
}

/* Root works as the spool's owner, so that every file stays readable by the pipe
 * commands; anyone else must be that owner. The name of who ran the command is kept in
 * postmaster first: decisions and logs name that person, not the spool's owner. */
static int become_spool_owner(void)
{
    struct stat st;
    struct passwd *pw = getpwuid(getuid());
    snprintf(postmaster, sizeof postmaster, "%s", pw != NULL ? pw->pw_name : "?");
    if (stat(cfg.spool, &st) != 0) {
        fprintf(stderr, "dmg-audit: %s: %s\n", cfg.spool, strerror(errno));
        return -1;
    }
    if (geteuid() == st.st_uid)
        return 0;
    if (geteuid() != 0) {
        fprintf(stderr, "dmg-audit: only root or the owner of %s may do this\n", cfg.spool);
        return -1;
    }
    if (setgroups(1, &st.st_gid) != 0 || setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0) {
        fprintf(stderr, "dmg-audit: cannot become the owner of %s: %s\n", cfg.spool,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* ======================================================================================
 * main
 * ==================================================================================== */

static void usage(void)
{
    fprintf(stderr,
            "usage: dmg-audit [-c CONFIG] deliver|decide --sender=S --recipient=R "
            "--queue-id=Q [--client-address=A] [--sasl-username=U]\n"
            "       dmg-audit [-c CONFIG] expire\n"
            "       dmg-audit [-c CONFIG] list [--json] [--all]\n"
            "       dmg-audit [-c CONFIG] show [--json] ID\n"
            "       dmg-audit [-c CONFIG] approve ID\n"
            "       dmg-audit [-c CONFIG] reject ID [REASON...]\n"
            "       dmg-audit [-c CONFIG] resolve ID delivered|release|discard\n");
}

int main(int argc, char **argv)
{
    const char *config = AU_DEFAULT_CONFIG;
    int i = 1;

    openlog("dmg-audit", LOG_PID, LOG_MAIL);
    umask(077);
    if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
        config = argv[i + 1];
        i += 2;
    }
    if (i >= argc) {
        usage();
        return EX_USAGE_;
    }
    const char *cmd = argv[i++];
    int pipe_cmd = strcmp(cmd, "deliver") == 0 || strcmp(cmd, "decide") == 0;
    if (load_config(config) != 0) {
        if (pipe_cmd)
            return fail(EX_TEMPFAIL_, "4.3.5 dmg-audit: configuration error (see the mail "
                                      "log)");
        fprintf(stderr, "dmg-audit: configuration error in %s (see the mail log)\n", config);
        return EX_CONFIG_;
    }
    if (directory_open() != 0)
        return fail(EX_TEMPFAIL_, "4.3.0 dmg-audit: out of memory");
    if (!pipe_cmd && become_spool_owner() != 0)
        return EX_NOPERM_;
    int rc;
    if (strcmp(cmd, "deliver") == 0)
        rc = cmd_deliver(argc - i, argv + i);
    else if (strcmp(cmd, "decide") == 0)
        rc = cmd_decide(argc - i, argv + i);
    else if (strcmp(cmd, "expire") == 0)
        rc = cmd_expire(argc - i, argv + i);
    else if (strcmp(cmd, "list") == 0)
        rc = cmd_list(argc - i, argv + i);
    else if (strcmp(cmd, "show") == 0)
        rc = cmd_show(argc - i, argv + i);
    else if (strcmp(cmd, "approve") == 0)
        rc = cmd_cli_decide(AU_ACT_APPROVE, argc - i, argv + i);
    else if (strcmp(cmd, "reject") == 0)
        rc = cmd_cli_decide(AU_ACT_REJECT, argc - i, argv + i);
    else if (strcmp(cmd, "resolve") == 0)
        rc = cmd_resolve(argc - i, argv + i);
    else {
        usage();
        rc = EX_USAGE_;
    }
    pd_ldap_free(directory);
    memset(&secret, 0, sizeof secret);
    memset(&previous_secret, 0, sizeof previous_secret);
    return rc;
}
