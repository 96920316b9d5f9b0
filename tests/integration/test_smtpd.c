/*
 * test_smtpd.c - a real Postfix smtpd consults dmg-policyd during SMTP sessions
 * (man page SEND DECISIONS): the client sees the decision after RCPT TO.
 *
 *   accept        250 2.1.5 Ok
 *   hold          250 2.1.5 Ok; after DATA the message is in the hold queue (postqueue -j),
 *                 and smtpd logs the HOLD action with the auditors
 *   reject        554 5.7.1 <group>: Recipient address rejected: <dmgDecisionReason>
 *   no directory  450 4.3.0 <group>: Recipient address rejected: directory unavailable
 *
 * The Postfix instance is private: config_directory, queue_directory and data_directory in
 * <server dir>/postfix-PID, an smtpd on 127.0.0.1:PORT (a free port), maillog_file with
 * postlogd (no syslog needed), everything chroot-free, and the README's wiring:
 *
 *   # master.cf
 *   dmg-policyd unix - n n - 0 spawn user=nobody argv=.../dmg-policyd -c .../dmg-policyd.conf
 *   # main.cf
 *   smtpd_recipient_restrictions = reject_unauth_destination,
 *       check_policy_service unix:private/dmg-policyd
 *   dmg-policyd_time_limit = 3600
 *
 * Nothing leaves the machine: example.com is a relay domain whose transport is discard(8).
 * Started with `postfix -c DIR start`, stopped with `postfix -c DIR stop` (the master is
 * killed by its pid file's pid when that fails). Postfix daemons run as postfix and the policy
 * server as nobody, so the server directory is made traversable (0711) and dmg-policyd, its
 * configuration and password file are copied where nobody can read them.
 *
 * Needs Postfix (Debian: postfix) and root (postfix start, spawn's user=); when either is
 * missing every test FAILS saying so. DMG_POLICYD names the policy server binary.
 */
#define _GNU_SOURCE

#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MTA_DN "uid=mta,ou=System,dc=example,dc=com"
#define GROUPS "ou=Groups,dc=example,dc=com"
#define GROUP  "eng-review@example.com"
#define POSTFIX_HINT \
    "install Postfix (Debian: apt-get install postfix; scripts/install-deps.sh does it)"

#define START_WAIT_MS  20000  /* smtpd to answer on its port */
#define REPLY_WAIT_MS  30000  /* one SMTP reply (the policy lookup included) */
#define LOG_WAIT_MS    20000  /* a line to appear in the maillog */
#define STOP_WAIT_MS   20000  /* the master to exit */

static dmg_server *server;

/* ============================================================================================
 * Small helpers
 * ========================================================================================== */

/* Postfix re-reads a main.cf written less than about 2 s ago until it is older (it may still
 * be being written): date the files 60 s back instead of waiting. */
static void date_back(const char *path)
{
    struct timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= 60;
    times[1] = times[0];
    ck_assert_msg(utimensat(AT_FDCWD, path, times, 0) == 0, "utimensat %s: %s", path,
                  strerror(errno));
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY);
    ck_assert_msg(in >= 0, "cannot read %s: %s", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_msg(out >= 0, "cannot write %s: %s", to, strerror(errno));
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        ck_assert_msg(write(out, buf, (size_t)n) == n, "write %s: %s", to, strerror(errno));
    ck_assert_msg(n == 0, "read %s: %s", from, strerror(errno));
    close(in);
    ck_assert_int_eq(close(out), 0);
    ck_assert_int_eq(chmod(to, mode), 0);
}

static const char *find_program(const char *name)
{
    static char found[PATH_MAX];
    const char *dirs[] = { "/usr/sbin", "/usr/local/sbin", "/usr/bin", "/sbin" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(found, sizeof found, "%s/%s", dirs[i], name);
        if (access(found, X_OK) == 0)
            return found;
    }
    return NULL;
}

/* ============================================================================================
 * A private Postfix instance
 * ========================================================================================== */

typedef struct instance {
    char dir[PATH_MAX];     /* <server dir>/postfix-PID */
    char etc[PATH_MAX];     /* config_directory */
    char queue[PATH_MAX];   /* queue_directory */
    char maillog[PATH_MAX];
    int port;
    int started;
} instance;

/* The one instance of this test process. */
static instance pfx;

static const char *postfix_cmd(void)
{
    const char *p = find_program("postfix");
    ck_assert_msg(p != NULL, "postfix not found: " POSTFIX_HINT);
    return p;
}

static pid_t master_pid(const instance *in)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/pid/master.pid", in->queue);
    char *text = dmg_read_file(path);
    long pid = strtol(text, NULL, 10);
    free(text);
    return pid > 1 ? (pid_t)pid : 0;
}

/* pid is running: exists and is not a zombie (the daemon's parent is init, which may reap
 * it only a while later). */
static int running(pid_t pid)
{
    if (kill(pid, 0) != 0)
        return 0;
    char path[64], state = '?';
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 1;
    /* "pid (comm) S ...": the state follows the last ')' */
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *paren = strrchr(buf, ')');
    if (paren != NULL && paren[1] == ' ')
        state = paren[2];
    return state != 'Z' && state != 'X';
}

/* pid is the master of this instance (it works in its queue directory), not a process that
 * reused the number of a stale pid file. */
static int is_master_of(pid_t pid, const instance *in)
{
    char link[64], cwd[PATH_MAX];
    snprintf(link, sizeof link, "/proc/%ld/cwd", (long)pid);
    ssize_t n = readlink(link, cwd, sizeof cwd - 1);
    if (n < 0)
        return 0;
    cwd[n] = '\0';
    size_t qlen = strlen(in->queue);
    return strncmp(cwd, in->queue, qlen) == 0
           && (cwd[qlen] == '\0' || strcmp(cwd + qlen, " (deleted)") == 0);
}

/* postfix stop, then make sure the master is gone (SIGKILL by its pid after STOP_WAIT_MS).
 * Also runs in the parent after the tests (stop_leftovers): no assertions. 0 when
 * `postfix stop` worked. */
static int stop_instance(instance *in)
{
    if (!in->started)
        return 0;
    in->started = 0;
    pid_t master = master_pid(in);
    if (master > 0 && !is_master_of(master, in))
        master = 0;
    int rc = -1;
    const char *postfix = find_program("postfix");
    if (postfix != NULL) {
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_RDWR);
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            execl(postfix, "postfix", "-c", in->etc, "stop", (char *)NULL);
            _exit(127);
        }
        int st;
        if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st))
            rc = WEXITSTATUS(st);
    }
    if (master > 0) {
        long deadline = dmg_now_ms() + STOP_WAIT_MS;
        while (running(master) && dmg_now_ms() < deadline)
            dmg_nap_ms(20);
        if (running(master)) {
            fprintf(stderr, "test_smtpd: the Postfix master %ld did not stop; killing it\n",
                    (long)master);
            kill(master, SIGKILL);
            rc = -1;
        }
    }
    return rc == 0 ? 0 : -1;
}

/* Check ends a failed or timed-out test with _exit or SIGKILL: neither atexit nor a checked
 * teardown runs, and the daemonized master would stay. So the parent process, after the test
 * case (an unchecked teardown), stops every instance it finds in the server directory;
 * stopping one that is already stopped does nothing. */
static void stop_leftovers(void)
{
    if (server == NULL)
        return;
    DIR *d = opendir(dmg_server_dir(server));
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "postfix-", 8) != 0)
            continue;
        instance in;
        memset(&in, 0, sizeof in);
        int n1 = snprintf(in.dir, sizeof in.dir, "%s/%s", dmg_server_dir(server), e->d_name);
        int n2 = snprintf(in.etc, sizeof in.etc, "%s/etc", in.dir);
        int n3 = snprintf(in.queue, sizeof in.queue, "%s/queue", in.dir);
        if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n3 >= sizeof in.queue)
            continue;
        /* only a master still running (Postfix leaves the pid file behind) */
        pid_t master = master_pid(&in);
        if (master <= 0 || !running(master) || !is_master_of(master, &in))
            continue;
        fprintf(stderr, "test_smtpd: stopping the Postfix instance left in %s\n", in.dir);
        in.started = 1;
        stop_instance(&in);
    }
    closedir(d);
}

/* Start Postfix with dmg-policyd asking the directory at uri; returns the instance, its smtpd
 * answering. */
static instance *start_instance(const char *uri)
{
    instance *in = &pfx;
    ck_assert_msg(!in->started, "one Postfix instance per test");
    ck_assert_msg(geteuid() == 0, "the Postfix instance needs root (postfix start, spawn "
                                  "user=): run the test as root");
    const char *postfix = postfix_cmd();
    ck_assert_msg(getpwnam("postfix") != NULL, "no user postfix: " POSTFIX_HINT);
    struct passwd *nobody = getpwnam("nobody");
    ck_assert_msg(nobody != NULL, "no user nobody for the policy service");
    uid_t nobody_uid = nobody->pw_uid;
    gid_t nobody_gid = nobody->pw_gid;

    const char *policyd = getenv("DMG_POLICYD");
    char policyd_default[PATH_MAX];
    if (policyd == NULL || *policyd == '\0') {
        const char *b = getenv("DMG_BUILDDIR");
        DMG_PATH_FMT(policyd_default, sizeof policyd_default, "%s/tools/dmg-policyd",
                 b && *b ? b : ".");
        policyd = policyd_default;
    }
    ck_assert_msg(access(policyd, X_OK) == 0, "%s is not executable (set DMG_POLICYD)",
                  policyd);

    /* postfix and nobody must get through the server directory to their files */
    ck_assert_int_eq(chmod(dmg_server_dir(server), 0711), 0);
    DMG_PATH_FMT(in->dir, sizeof in->dir, "%s/postfix-%ld", dmg_server_dir(server),
             (long)getpid());
    DMG_PATH_FMT(in->etc, sizeof in->etc, "%s/etc", in->dir);
    DMG_PATH_FMT(in->queue, sizeof in->queue, "%s/queue", in->dir);
    DMG_PATH_FMT(in->maillog, sizeof in->maillog, "%s/maillog", in->dir);
    /* dmg-policyd and its files in policyd/: Postfix wants root's files in its etc/ */
    char pdir[PATH_MAX], policyd_copy[PATH_MAX], conf[PATH_MAX], pw[PATH_MAX], path[PATH_MAX];
    DMG_PATH_FMT(pdir, sizeof pdir, "%s/policyd", in->dir);
    DMG_PATH_FMT(policyd_copy, sizeof policyd_copy, "%s/dmg-policyd", pdir);
    DMG_PATH_FMT(conf, sizeof conf, "%s/dmg-policyd.conf", pdir);
    DMG_PATH_FMT(pw, sizeof pw, "%s/dmg-policyd.pw", pdir);
    const char *dirs[] = { in->dir, in->etc, in->queue, pdir };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        ck_assert_msg(mkdir(dirs[i], 0755) == 0, "mkdir %s: %s", dirs[i], strerror(errno));
        ck_assert_int_eq(chmod(dirs[i], 0755), 0);
    }
    copy_file(policyd, policyd_copy, 0755);

    /* dmg-policyd's configuration: the password file only for nobody */
    char text[8192];
    DMG_WRITE_FILE(pw, DMG_PASSWORD "\n", 0600);
    ck_assert_int_eq(chown(pw, nobody_uid, nobody_gid), 0);
    DMG_PATH_FMT(text, sizeof text,
             "# written by test_smtpd.c\n"
             "uri = %s\n"
             "base = " GROUPS "\n"
             "bind_dn = " MTA_DN "\n"
             "bind_pw_file = %s\n"
             "timeout = 5\n"
             "log_level = 1\n",
             uri, pw);
    DMG_WRITE_FILE(conf, text, 0644);

    DMG_UNUSED_PORT(in->port);
    DMG_PATH_FMT(text, sizeof text,
             "# written by test_smtpd.c\n"
             "compatibility_level = 3.6\n"
             "queue_directory = %s\n"
             "data_directory = %s/data\n"
             "mail_owner = postfix\n"
             "setgid_group = postdrop\n"
             "maillog_file = %s\n"
             "maillog_file_prefixes = %s\n"
             "myhostname = mx.example.com\n"
             "mydomain = example.com\n"
             "myorigin = example.com\n"
             "inet_interfaces = 127.0.0.1\n"
             "inet_protocols = ipv4\n"
             "mynetworks = 127.0.0.0/8\n"
             "mydestination =\n"
             "alias_maps =\n"
             "alias_database =\n"
             "smtpd_banner = $myhostname ESMTP\n"
             /* example.com is relayed; relay and everything else goes to discard(8) */
             "relay_domains = example.com\n"
             "relay_transport = discard:this test delivers nothing\n"
             "default_transport = discard:this test delivers nothing\n"
             "smtpd_relay_restrictions = reject_unauth_destination\n"
             /* the README's wiring */
             "smtpd_recipient_restrictions = reject_unauth_destination,\n"
             "    check_policy_service unix:private/dmg-policyd\n"
             "dmg-policyd_time_limit = 3600\n",
             in->queue, in->dir, in->maillog, in->dir);
    DMG_PATH_FMT(path, sizeof path, "%s/main.cf", in->etc);
    DMG_WRITE_FILE(path, text, 0644);
    date_back(path);
    DMG_PATH_FMT(text, sizeof text,
             "# written by test_smtpd.c\n"
             "127.0.0.1:%d inet n - n - - smtpd\n"
             "cleanup   unix  n - n - 0 cleanup\n"
             "qmgr      unix  n - n 300 1 qmgr\n"
             "rewrite   unix  - - n - - trivial-rewrite\n"
             "bounce    unix  - - n - 0 bounce\n"
             "defer     unix  - - n - 0 bounce\n"
             "trace     unix  - - n - 0 bounce\n"
             "verify    unix  - - n - 1 verify\n"
             "flush     unix  n - n 1000? 0 flush\n"
             "proxymap  unix  - - n - - proxymap\n"
             "showq     unix  n - n - - showq\n"
             "error     unix  - - n - - error\n"
             "retry     unix  - - n - - error\n"
             "discard   unix  - - n - - discard\n"
             "anvil     unix  - - n - 1 anvil\n"
             "scache    unix  - - n - 1 scache\n"
             "postlog   unix-dgram n - n - 1 postlogd\n"
             "dmg-policyd unix - n n - 0 spawn user=nobody argv=%s -c %s\n",
             in->port, policyd_copy, conf);
    DMG_PATH_FMT(path, sizeof path, "%s/master.cf", in->etc);
    DMG_WRITE_FILE(path, text, 0644);
    date_back(path);

    char *out;
    char *argv[] = { (char *)postfix, "-c", in->etc, "start", NULL };
    int st = dmg_run(argv, in->dir, NULL, &out, NULL);
    in->started = 1;
    if (st != 0) {
        char *log = dmg_read_file(in->maillog);
        ck_abort_msg("postfix -c %s start: status %d: %s\nmaillog:\n%s", in->etc, st, out, log);
    }
    free(out);

    /* smtpd answers: bounded retry on connect, and the banner is this instance's (not that of
     * whoever took the port in between) */
    long deadline = dmg_now_ms() + START_WAIT_MS;
    int fd;
    while ((fd = dmg_connect_port(in->port)) < 0 && dmg_now_ms() < deadline)
        dmg_nap_ms(20);
    if (fd < 0) {
        char *log = dmg_read_file(in->maillog);
        ck_abort_msg("nothing answers on 127.0.0.1:%d after %d ms; maillog:\n%s", in->port,
                     START_WAIT_MS, log);
    }
    char banner[256] = "";
    size_t len = 0;
    while (len < sizeof banner - 1 && strchr(banner, '\n') == NULL) {
        struct pollfd p = { fd, POLLIN, 0 };
        long left = deadline - dmg_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t n = read(fd, banner + len, sizeof banner - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        banner[len] = '\0';
    }
    close(fd);
    if (strncmp(banner, "220 mx.example.com ESMTP", 24) != 0) {
        char *log = dmg_read_file(in->maillog);
        ck_abort_msg("127.0.0.1:%d greets with \"%s\", not as this Postfix; maillog:\n%s",
                     in->port, banner, log);
    }
    return in;
}

/* ============================================================================================
 * A tiny SMTP client
 * ========================================================================================== */

typedef struct smtp {
    int fd;
    char buf[8192];
    size_t len;
    char last[4096];        /* the last reply, its lines joined with "\n", CRLF removed */
    const instance *in;
} smtp;

/* One reply (all its lines); its code. A timeout or a closed connection fails the test. */
static int smtp_reply(smtp *c)
{
    c->last[0] = '\0';
    long deadline = dmg_now_ms() + REPLY_WAIT_MS;
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl != NULL) {
            size_t linelen = (size_t)(nl - c->buf);
            char line[1024];
            size_t keep = linelen < sizeof line - 1 ? linelen : sizeof line - 1;
            memcpy(line, c->buf, keep);
            line[keep] = '\0';
            if (keep > 0 && line[keep - 1] == '\r')
                line[--keep] = '\0';
            memmove(c->buf, nl + 1, c->len - linelen - 1);
            c->len -= linelen + 1;
            size_t used = strlen(c->last);
            snprintf(c->last + used, sizeof c->last - used, "%s%s", used ? "\n" : "", line);
            ck_assert_msg(strlen(line) >= 3, "bad SMTP reply line \"%s\"", line);
            if (line[3] != '-')
                return atoi(line);
            continue;
        }
        long left = deadline - dmg_now_ms();
        if (left <= 0) {
            char *log = dmg_read_file(c->in->maillog);
            ck_abort_msg("no SMTP reply within %d ms (so far \"%s\"); maillog:\n%s",
                         REPLY_WAIT_MS, c->last, log);
        }
        struct pollfd p = { c->fd, POLLIN, 0 };
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1);
        if (n <= 0) {
            char *log = dmg_read_file(c->in->maillog);
            ck_abort_msg("SMTP connection closed (so far \"%s\"); maillog:\n%s", c->last, log);
        }
        c->len += (size_t)n;
    }
}

/* Send one command line (CRLF added) and read the reply; its code. */
static int smtp_cmd(smtp *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int smtp_cmd(smtp *c, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    ck_assert_msg(n >= 0 && (size_t)n < sizeof line - 2, "command too long");
    memcpy(line + n, "\r\n", 3);
    size_t len = (size_t)n + 2, off = 0;
    while (off < len) {
        ssize_t w = write(c->fd, line + off, len - off);
        ck_assert_msg(w > 0, "SMTP write: %s", strerror(errno));
        off += (size_t)w;
    }
    return smtp_reply(c);
}

static smtp *smtp_open(const instance *in)
{
    smtp *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->in = in;
    c->fd = dmg_connect_port(in->port);
    ck_assert_msg(c->fd >= 0, "connect 127.0.0.1:%d: %s", in->port, strerror(errno));
    int code = smtp_reply(c);
    ck_assert_msg(code == 220, "banner: \"%s\"", c->last);
    code = smtp_cmd(c, "EHLO client.example.org");
    ck_assert_msg(code == 250, "EHLO: \"%s\"", c->last);
    return c;
}

static void smtp_close(smtp *c)
{
    smtp_cmd(c, "QUIT");
    close(c->fd);
    free(c);
}

/* The reply to RCPT TO:<group> after MAIL FROM:<sender> equals expected; RSET afterwards
 * unless keep is set. */
#define ASSERT_RCPT(c, sender, rcpt, expected) \
    assert_rcpt_at(__FILE__, __LINE__, (c), (sender), (rcpt), (expected), 0)
static void assert_rcpt_at(const char *file, int line, smtp *c, const char *sender,
                           const char *rcpt, const char *expected, int keep)
{
    int code = smtp_cmd(c, "MAIL FROM:<%s>", sender);
    if (code != 250)
        _ck_assert_failed(file, line, "MAIL", "MAIL FROM:<%s>: \"%s\"", sender, c->last);
    smtp_cmd(c, "RCPT TO:<%s>", rcpt);
    if (strcmp(c->last, expected) != 0) {
        char *log = dmg_read_file(c->in->maillog);
        _ck_assert_failed(file, line, "RCPT",
                          "MAIL FROM:<%s> RCPT TO:<%s>: got \"%s\", expected \"%s\"; "
                          "maillog:\n%s", sender, rcpt, c->last, expected, log);
    }
    if (!keep) {
        code = smtp_cmd(c, "RSET");
        if (code != 250)
            _ck_assert_failed(file, line, "RSET", "RSET: \"%s\"", c->last);
    }
}

/* After an accepted RCPT: DATA, a small message; the queue id. */
static void smtp_data(smtp *c, const char *subject, char *queue_id, size_t size)
{
    int code = smtp_cmd(c, "DATA");
    ck_assert_msg(code == 354, "DATA: \"%s\"", c->last);
    code = smtp_cmd(c, "Subject: %s\r\n\r\nwritten by test_smtpd.c\r\n.", subject);
    /* 250 2.0.0 Ok: queued as 4Xyz... */
    const char *tag = "250 2.0.0 Ok: queued as ";
    ck_assert_msg(code == 250 && strncmp(c->last, tag, strlen(tag)) == 0,
                  "end of DATA: \"%s\"", c->last);
    snprintf(queue_id, size, "%s", c->last + strlen(tag));
    ck_assert_msg(queue_id[0] != '\0', "no queue id in \"%s\"", c->last);
}

/* Wait until the maillog holds every needle (NULL-terminated); the log (caller frees). */
static char *wait_log(const instance *in, const char *const *needles)
{
    long deadline = dmg_now_ms() + LOG_WAIT_MS;
    for (;;) {
        char *log = dmg_read_file(in->maillog);
        size_t i = 0;
        while (needles[i] != NULL && strstr(log, needles[i]) != NULL)
            i++;
        if (needles[i] == NULL)
            return log;
        if (dmg_now_ms() >= deadline)
            ck_abort_msg("\"%s\" not in %s after %d ms:\n%s", needles[i], in->maillog,
                         LOG_WAIT_MS, log);
        free(log);
        dmg_nap_ms(50);
    }
}

/* postqueue -j: the queue_name of queue_id, "" when it is not in the queue. Static. */
static const char *queue_of(const instance *in, const char *queue_id)
{
    static char name[64];
    const char *postqueue = find_program("postqueue");
    ck_assert_msg(postqueue != NULL, "postqueue not found: " POSTFIX_HINT);
    char *argv[] = { (char *)postqueue, "-c", (char *)in->etc, "-j", NULL };
    char *out;
    int st = dmg_run(argv, in->dir, NULL, &out, NULL);
    ck_assert_msg(st == 0, "postqueue -c %s -j: status %d: %s", in->etc, st, out);
    name[0] = '\0';
    char want[128];
    snprintf(want, sizeof want, "\"queue_id\": \"%s\"", queue_id);
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        if (strstr(l, want) == NULL)
            continue;
        /* {"queue_name": "hold", "queue_id": "...", ...} */
        const char *q = strstr(l, "\"queue_name\": \"");
        ck_assert_msg(q != NULL, "no queue_name in %s", l);
        q += strlen("\"queue_name\": \"");
        snprintf(name, sizeof name, "%.*s", (int)strcspn(q, "\""), q);
    }
    free(out);
    return name;
}

/* ============================================================================================
 * Groups
 * ========================================================================================== */

static const char *const group_ldif[] = {
    /* members of Engineering may send; audited by alice (two addresses) */
    "dn: cn=eng-review," GROUPS "\nobjectClass: dynamicMailGroup\ncn: eng-review\n"
    "mail: " GROUP "\ndmgDepartment: ou=Engineering,dc=example,dc=com\n"
    "dmgSendPolicy: members\ndmgAuditRequired: TRUE\n"
    "dmgAuditor: uid=alice,ou=Engineering,dc=example,dc=com\n",
};

static void ensure_groups(void)
{
    dmg_ensure_entries(server, group_ldif, sizeof group_ldif / sizeof group_ldif[0]);
}

#define OK_RCPT "250 2.1.5 Ok"
#define REJECTED(text) "554 5.7.1 <" GROUP ">: Recipient address rejected: " text
#define AUDITORS "alice.anderson@example.com, alice@example.com"

/* ============================================================================================
 * Tests
 * ========================================================================================== */

START_TEST(test_accept_hold_reject)
{
    ensure_groups();
    instance *in = start_instance(dmg_server_uri(server));
    smtp *c = smtp_open(in);

    /* reject: the overlay's reason after 5.7.1 */
    ASSERT_RCPT(c, "uma@example.com", GROUP,
                REJECTED("sender uma@example.com is not allowed to send to " GROUP
                         " (policy: members)"));
    ASSERT_RCPT(c, "", GROUP,
                REJECTED("the null sender <> is not allowed to send to " GROUP
                         " (policy: members)"));
    ASSERT_RCPT(c, "x@example.org", "ENG-Review@Example.COM",
                "554 5.7.1 <ENG-Review@Example.COM>: Recipient address rejected: sender "
                "x@example.org is not allowed to send to " GROUP " (policy: members)");
    ASSERT_RCPT(c, "no-at-sign", GROUP,
                REJECTED("malformed sender address: address has no @"));
    /* not a group: DUNNO, then the end of the restrictions (permit) */
    ASSERT_RCPT(c, "uma@example.com", "bob@example.com", OK_RCPT);
    /* still a relay restriction in front of the policy server */
    ASSERT_RCPT(c, "uma@example.com", "someone@example.net",
                "554 5.7.1 <someone@example.net>: Relay access denied");

    /* accept: alice is a member and the auditor; the message is delivered (to discard) */
    char accepted_id[64], held_id[64];
    assert_rcpt_at(__FILE__, __LINE__, c, "alice@example.com", GROUP, OK_RCPT, 1);
    smtp_data(c, "accepted", accepted_id, sizeof accepted_id);

    /* hold: bob is a member, not an auditor; 250 now, the message waits in the hold queue */
    assert_rcpt_at(__FILE__, __LINE__, c, "bob@example.com", GROUP, OK_RCPT, 1);
    smtp_data(c, "held", held_id, sizeof held_id);
    smtp_close(c);

    /* the accepted message: delivered (discarded) and removed from the queue */
    char delivered[256], removed[128];
    snprintf(delivered, sizeof delivered, "%s: to=<" GROUP ">, relay=none", accepted_id);
    snprintf(removed, sizeof removed, "%s: removed", accepted_id);
    const char *accepted_needles[] = { delivered, removed, NULL };
    char *log = wait_log(in, accepted_needles);
    const char *d = strstr(log, delivered);
    size_t dlen = strcspn(d, "\n");
    const char *sent = strstr(d, "status=sent (this test delivers nothing)");
    ck_assert_msg(sent != NULL && sent < d + dlen, "the accepted message %s was not delivered:\n%s",
                  accepted_id, log);
    free(log);
    /* smtpd logs the HOLD action with dmg-policyd's text (at RCPT time: NOQUEUE) */
    const char *held_needles[] = {
        "NOQUEUE: hold: RCPT from localhost[127.0.0.1]: <" GROUP ">: Recipient address "
        "awaiting audit by " AUDITORS "; from=<bob@example.com> to=<" GROUP ">",
        NULL,
    };
    free(wait_log(in, held_needles));

    DMG_ASSERT_STR(queue_of(in, held_id), "hold");
    DMG_ASSERT_STR(queue_of(in, accepted_id), "");

    ck_assert_msg(stop_instance(in) == 0, "postfix -c %s stop failed", in->etc);
}
END_TEST

/* The directory cannot be reached: 450 4.3.0 for a group address, and also for any other
 * address (dmg-policyd cannot tell whether it is a group). */
START_TEST(test_directory_unavailable)
{
    char uri[64];
    int port;
    DMG_UNUSED_PORT(port);
    snprintf(uri, sizeof uri, "ldap://127.0.0.1:%d/", port);
    instance *in = start_instance(uri);
    smtp *c = smtp_open(in);
    ASSERT_RCPT(c, "bob@example.com", GROUP,
                "450 4.3.0 <" GROUP ">: Recipient address rejected: directory unavailable");
    ASSERT_RCPT(c, "bob@example.com", "carol@example.com",
                "450 4.3.0 <carol@example.com>: Recipient address rejected: "
                "directory unavailable");
    smtp_close(c);
    ck_assert_msg(stop_instance(in) == 0, "postfix -c %s stop failed", in->etc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("smtpd");
    TCase *tc = dmg_tcase("postfix smtpd");
    tcase_add_test(tc, test_accept_hold_reject);
    tcase_add_test(tc, test_directory_unavailable);
    tcase_add_unchecked_fixture(tc, NULL, stop_leftovers);
    suite_add_tcase(s, tc);

    dmg_server_opts o = { 0 };
    o.overlay_config = "dynmailgroup-privileged " MTA_DN "\n";
    return dmg_run_suite(s, &o, &server);
}
