/*
 * test_policyd.c - dmg-policyd against a real slapd with the overlay: real
 * Postfix-format requests in spawn mode (stdin/stdout pipes) and TCP mode, exact replies.
 *
 * Environment: DMG_POLICYD   the binary (default $DMG_BUILDDIR/tools/dmg-policyd)
 *              DMG_POLICYD_WRAPPER  command words put in front of it, e.g.
 *                           "valgrind -q --leak-check=full --errors-for-leak-kinds=definite
 *                            --error-exitcode=99" (every test then also checks that it exits 0)
 * and the harness's (harness.h).
 */
#define _GNU_SOURCE

#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
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
#include <time.h>
#include <unistd.h>

#define MTA_DN     "uid=mta,ou=System,dc=example,dc=com"
#define READER_DN  "uid=reader,ou=System,dc=example,dc=com"
#define GROUPS     "ou=Groups,dc=example,dc=com"
#define REPLY_WAIT_MS  30000   /* one reply (valgrind is slow) */
#define EXIT_WAIT_MS   30000   /* the process to end after EOF or SIGTERM */
#define CONNECT_WAIT_MS 20000  /* the TCP listener to come up */
#define MAX_WRAP_WORDS 16

static dmg_server *server;

/* ============================================================================================
 * A private directory for configuration and password files; removed when the test exits.
 * ========================================================================================== */

static char tmpdir[PATH_MAX];
static pid_t children[16];
static int nchildren;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void)
{
    for (int i = 0; i < nchildren; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
        }
    }
    nchildren = 0;
    if (tmpdir[0] != '\0' && getenv("DMG_KEEP_TMP") == NULL)
        nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
}

static const char *test_dir(void)
{
    if (tmpdir[0] == '\0') {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/dmg-policyd-XXXXXX", t && *t ? t : "/tmp");
        ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
        atexit(cleanup);
        signal(SIGPIPE, SIG_IGN);
    }
    return tmpdir;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* A configuration file in the test directory; returns its path (static). */
static const char *write_config(const char *name, const char *uri, const char *bind_dn,
                                const char *password, const char *extra)
{
    static char path[PATH_MAX];
    char pwfile[PATH_MAX];
    char text[8192];
    const char *dir = test_dir();

    DMG_PATH_FMT(pwfile, sizeof pwfile, "%s/%s.pw", dir, name);
    if (password != NULL) {
        write_text(pwfile, password);
        ck_assert_int_eq(chmod(pwfile, 0600), 0);
    }
    snprintf(text, sizeof text,
             "# written by test_policyd.c\n"
             "uri = %s\n"
             "%s%s%s"
             "%s%s%s"
             "timeout = 5\n"
             "log_level = 2\n"
             "%s\n",
             uri, bind_dn ? "bind_dn = " : "", bind_dn ? bind_dn : "", bind_dn ? "\n" : "",
             bind_dn ? "bind_pw_file = " : "", bind_dn ? pwfile : "", bind_dn ? "\n" : "",
             extra ? extra : "");
    DMG_PATH_FMT(path, sizeof path, "%s/%s.conf", dir, name);
    write_text(path, text);
    return path;
}

/* The usual configuration: the server under test, bound as the privileged MTA account. */
static const char *mta_config(const char *extra)
{
    return write_config("mta", dmg_server_uri(server), MTA_DN, DMG_PASSWORD "\n", extra);
}

/* ============================================================================================
 * Running dmg-policyd
 * ========================================================================================== */

typedef struct policyd {
    pid_t pid;
    int to;        /* its stdin (spawn mode) or the TCP connection */
    int from;      /* its stdout (spawn mode) or the TCP connection */
    char log[PATH_MAX];
} policyd;

static const char *policyd_path(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("DMG_POLICYD");
    if (env != NULL && *env != '\0')
        return env;
    const char *b = getenv("DMG_BUILDDIR");
    snprintf(path, sizeof path, "%s/tools/dmg-policyd", b && *b ? b : ".");
    return path;
}

/* argv: the wrapper's words, the binary, then args (NULL-terminated). */
static void build_argv(char **argv, size_t max, char *wrapbuf, size_t wrapsize,
                       const char *const *args)
{
    size_t n = 0;
    const char *wrap = getenv("DMG_POLICYD_WRAPPER");
    if (wrap != NULL && *wrap != '\0') {
        snprintf(wrapbuf, wrapsize, "%s", wrap);
        char *save = NULL;
        for (char *w = strtok_r(wrapbuf, " \t", &save); w && n < MAX_WRAP_WORDS;
             w = strtok_r(NULL, " \t", &save))
            argv[n++] = w;
    }
    argv[n++] = (char *)policyd_path();
    for (size_t i = 0; args[i] != NULL && n + 1 < max; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
}

/* Start dmg-policyd with args; stdin/stdout are pipes when pipes is set (spawn mode), else
 * /dev/null. Standard error goes to a log file in the test directory. */
static policyd start_policyd(const char *const *args, int pipes)
{
    policyd p = { -1, -1, -1, "" };
    int in[2] = { -1, -1 }, out[2] = { -1, -1 };
    char *argv[MAX_WRAP_WORDS + 16];
    char wrapbuf[1024];
    static int serial;

    ck_assert_msg(access(policyd_path(), X_OK) == 0, "%s is not executable (set DMG_POLICYD)",
                  policyd_path());
    DMG_PATH_FMT(p.log, sizeof p.log, "%s/policyd-%d.log", test_dir(), ++serial);
    build_argv(argv, sizeof argv / sizeof argv[0], wrapbuf, sizeof wrapbuf, args);
    if (pipes) {
        ck_assert_int_eq(pipe(in), 0);
        ck_assert_int_eq(pipe(out), 0);
    }
    fflush(NULL);
    p.pid = fork();
    ck_assert_int_ge(p.pid, 0);
    if (p.pid == 0) {
        int log = open(p.log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_RDWR);
        dup2(pipes ? in[0] : null, STDIN_FILENO);
        dup2(pipes ? out[1] : null, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        for (int fd = 3; fd < 256; fd++)
            close(fd);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv); /* the wrapper (e.g. valgrind) is found on PATH */
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (nchildren < (int)(sizeof children / sizeof children[0]))
        children[nchildren++] = p.pid;
    if (pipes) {
        close(in[0]);
        close(out[1]);
        p.to = in[1];
        p.from = out[0];
    }
    return p;
}

/* Spawn mode with -f (log to stderr) and the configuration file. */
static policyd spawn_policyd(const char *config)
{
    const char *args[] = { "-f", "-c", config, NULL };
    return start_policyd(args, 1);
}

static void forget_child(pid_t pid)
{
    for (int i = 0; i < nchildren; i++)
        if (children[i] == pid)
            children[i] = -1;
}

/* Wait (bounded) for the process to end; its exit status, or 128 + signal. */
static int wait_exit(policyd *p, int timeout_ms)
{
    int status = 0;
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            forget_child(p->pid);
            p->pid = -1;
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return 128 + WTERMSIG(status);
        }
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    char *log = dmg_read_file(p->log);
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    forget_child(p->pid);
    p->pid = -1;
    ck_abort_msg("dmg-policyd did not exit within %d ms; its log:\n%s", timeout_ms, log);
    return -1;
}

/* No report of valgrind ("==PID== ...") or of a sanitizer in the log: also covers the
 * per-connection processes of TCP mode, whose exit status nobody asserts. */
static void assert_no_tool_reports(const policyd *p)
{
    char *log = dmg_read_file(p->log);
    const char *bad = NULL;
    static const char *const markers[] = { "AddressSanitizer", "LeakSanitizer",
                                           "runtime error:", "Invalid read", "Invalid write",
                                           "uninitialised", "definitely lost",
                                           "indirectly lost", "Invalid free" };
    for (size_t i = 0; i < sizeof markers / sizeof markers[0] && bad == NULL; i++)
        if (strstr(log, markers[i]) != NULL)
            bad = markers[i];
    for (const char *q = log; bad == NULL && (q = strstr(q, "==")) != NULL; q += 2) {
        const char *d = q + 2;
        while (*d >= '0' && *d <= '9')
            d++;
        if (d > q + 2 && d[0] == '=' && d[1] == '=')
            bad = "a valgrind report";
    }
    if (bad != NULL)
        ck_abort_msg("%s in dmg-policyd's log:\n%s", bad, log);
    free(log);
}

/* End of input: dmg-policyd must exit 0 (and, under a wrapper such as valgrind, cleanly). */
static void close_policyd(policyd *p)
{
    if (p->to >= 0)
        close(p->to);
    int status = wait_exit(p, EXIT_WAIT_MS);
    if (p->from >= 0 && p->from != p->to)
        close(p->from);
    p->to = p->from = -1;
    if (status != 0) {
        char *log = dmg_read_file(p->log);
        ck_abort_msg("dmg-policyd exited with %d; its log:\n%s", status, log);
    }
    assert_no_tool_reports(p);
}

static int write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read one reply (up to and including "\n\n"), bounded in time and size. NULL on EOF. */
static char *read_reply(policyd *p)
{
    static char buf[4096];
    size_t len = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (len < sizeof buf - 1) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= REPLY_WAIT_MS) {
            char *log = dmg_read_file(p->log);
            ck_abort_msg("no reply within %d ms (got \"%.*s\"); log:\n%s", REPLY_WAIT_MS,
                         (int)len, buf, log);
        }
        struct pollfd pfd = { p->from, POLLIN, 0 };
        int pr = poll(&pfd, 1, (int)(REPLY_WAIT_MS - elapsed));
        if (pr <= 0)
            continue;
        /* one byte at a time: never read into the next reply */
        ssize_t n = read(p->from, buf + len, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return len == 0 ? NULL : (buf[len] = '\0', buf);
        len++;
        if (len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n')
            break;
    }
    buf[len] = '\0';
    return buf;
}

/* Send one request; the reply without its final empty line must be exactly expected. */
#define ASK(p, req, expected) ask_at(__FILE__, __LINE__, (p), (req), (expected))
static void ask_at(const char *file, int line, policyd *p, const char *req,
                   const char *expected)
{
    char want[2048];
    if (write_all(p->to, req, strlen(req)) != 0) {
        char *log = dmg_read_file(p->log);
        _ck_assert_failed(file, line, "write", "cannot send the request: %s; log:\n%s",
                          strerror(errno), log);
    }
    char *got = read_reply(p);
    if (got == NULL) {
        char *log = dmg_read_file(p->log);
        _ck_assert_failed(file, line, "reply", "connection closed without a reply; log:\n%s",
                          log);
    }
    snprintf(want, sizeof want, "%s\n\n", expected);
    if (strcmp(got, want) != 0) {
        char *log = dmg_read_file(p->log);
        _ck_assert_failed(file, line, "reply", "got \"%s\", expected \"%s\"; log:\n%s", got,
                          want, log);
    }
}

/* A request as Postfix 3.7 sends it (SMTPD_POLICY_README) from client (its IP address)
 * authenticated as login ("" when not), in a static buffer. */
static const char *request_from(const char *state, const char *sender, const char *recipient,
                                const char *client, const char *login)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "request=smtpd_access_policy\n"
             "protocol_state=%s\n"
             "protocol_name=ESMTP\n"
             "client_address=%s\n"
             "client_name=localhost\n"
             "client_port=40312\n"
             "reverse_client_name=localhost\n"
             "server_address=127.0.0.1\n"
             "server_port=25\n"
             "helo_name=client.example.org\n"
             "sender=%s\n"
             "recipient=%s\n"
             "recipient_count=0\n"
             "queue_id=\n"
             "instance=1d2a.6565d6a1.9c2c1.0\n"
             "size=0\n"
             "etrn_domain=\n"
             "stress=\n"
             "sasl_method=%s\n"
             "sasl_username=%s\n"
             "sasl_sender=\n"
             "ccert_subject=\n"
             "ccert_issuer=\n"
             "ccert_fingerprint=\n"
             "ccert_pubkey_fingerprint=\n"
             "encryption_protocol=\n"
             "encryption_cipher=\n"
             "encryption_keysize=0\n"
             "policy_context=\n"
             "compatibility_level=3.6\n"
             "mail_version=3.7.11\n"
             "\n",
             state, client, sender, recipient, login[0] ? "PLAIN" : "", login);
    return buf;
}

static const char *request_in(const char *state, const char *sender, const char *recipient)
{
    return request_from(state, sender, recipient, "127.0.0.1", "");
}

static const char *rcpt(const char *sender, const char *recipient)
{
    return request_in("RCPT", sender, recipient);
}

static void assert_log_has(const policyd *p, const char *needle)
{
    char *log = dmg_read_file(p->log);
    ck_assert_msg(strstr(log, needle) != NULL, "\"%s\" not in dmg-policyd's log:\n%s", needle,
                  log);
    free(log);
}

static void assert_log_lacks(const policyd *p, const char *needle)
{
    char *log = dmg_read_file(p->log);
    ck_assert_msg(strstr(log, needle) == NULL, "\"%s\" in dmg-policyd's log:\n%s", needle,
                  log);
    free(log);
}

/* ============================================================================================
 * Groups (added as rootdn; every test makes sure they exist)
 * ========================================================================================== */

static const char *const group_ldif[] = {
    /* default policy (domain) */
    "dn: cn=eng-domain," GROUPS "\nobjectClass: dynamicMailGroup\ncn: eng-domain\n"
    "mail: eng-domain@example.com\ndmgDepartment: ou=Engineering,dc=example,dc=com\n",
    /* anyone may send */
    "dn: cn=eng-open," GROUPS "\nobjectClass: dynamicMailGroup\ncn: eng-open\n"
    "mail: eng-open@example.com\ndmgDepartment: ou=Engineering,dc=example,dc=com\n"
    "dmgSendPolicy: anyone\n",
    /* anyone, held for audit by alice (two addresses) and frank */
    "dn: cn=eng-audit," GROUPS "\nobjectClass: dynamicMailGroup\ncn: eng-audit\n"
    "mail: eng-audit@example.com\ndmgDepartment: ou=Engineering,dc=example,dc=com\n"
    "dmgSendPolicy: anyone\ndmgAuditRequired: TRUE\n"
    "dmgAuditor: uid=frank,ou=Backend,ou=Engineering,dc=example,dc=com\n"
    "dmgAuditor: uid=alice,ou=Engineering,dc=example,dc=com\n",
    /* members only, held for audit by frank (his mail passes: he is a member as well) */
    "dn: cn=eng-audit-members," GROUPS "\nobjectClass: dynamicMailGroup\n"
    "cn: eng-audit-members\nmail: eng-audit-members@example.com\n"
    "dmgDepartment: ou=Engineering,dc=example,dc=com\n"
    "dmgSendPolicy: members\ndmgAuditRequired: TRUE\n"
    "dmgAuditor: uid=frank,ou=Backend,ou=Engineering,dc=example,dc=com\n",
    /* members only, hidden from address books (the privileged MTA account still sees it) */
    "dn: cn=eng-hidden," GROUPS "\nobjectClass: dynamicMailGroup\ncn: eng-hidden\n"
    "mail: eng-hidden@example.com\ndmgDepartment: ou=Engineering,dc=example,dc=com\n"
    "dmgSendPolicy: members\ndmgShowInContacts: FALSE\n",
    /* outside ou=Groups: enforced unless a base leaves it out */
    "dn: cn=eng-outside,ou=Engineering,dc=example,dc=com\nobjectClass: dynamicMailGroup\n"
    "cn: eng-outside\nmail: eng-outside@example.com\n"
    "dmgDepartment: ou=Engineering,dc=example,dc=com\ndmgSendPolicy: members\n",
    /* another domain of the organisation (a local domain by default) */
    "dn: cn=partners," GROUPS "\nobjectClass: dynamicMailGroup\ncn: partners\n"
    "mail: partners@lists.example.net\ndmgDepartment: ou=APAC,ou=Sales,dc=example,dc=com\n",
    /* whitelisted senders of that domain */
    "dn: cn=eng-white," GROUPS "\nobjectClass: dynamicMailGroup\ncn: eng-white\n"
    "mail: eng-white@example.com\ndmgDepartment: ou=Engineering,dc=example,dc=com\n"
    "dmgSendPolicy: whitelist\ndmgWhitelist: @lists.example.net\n",
    /* frozen: excluded by the extra filter of one test */
    "dn: cn=sales-frozen," GROUPS "\nobjectClass: dynamicMailGroup\ncn: sales-frozen\n"
    "mail: sales-frozen@example.com\ndmgDepartment: ou=Sales,dc=example,dc=com\n"
    "description: frozen\n",
};

static void ensure_groups(dmg_server *s)
{
    dmg_ensure_entries(s, group_ldif, sizeof group_ldif / sizeof group_ldif[0]);
}

#define REJECT_DOMAIN(sender, group) \
    "action=REJECT 5.7.1 sender " sender " is not allowed to send to " group \
    " (policy: domain)"

/* ============================================================================================
 * Spawn mode: the decisions
 * ========================================================================================== */

START_TEST(test_decisions)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));

    /* not a dynamic mail group: a person, an unknown address */
    ASK(&p, rcpt("x@example.org", "bob@example.com"), "action=DUNNO");
    ASK(&p, rcpt("x@example.org", "nobody@example.com"), "action=DUNNO");
    /* accept */
    ASK(&p, rcpt("bob@example.com", "eng-domain@example.com"), "action=DUNNO");
    ASK(&p, rcpt("x@example.org", "eng-open@example.com"), "action=DUNNO");
    /* reject, with the overlay's reason */
    ASK(&p, rcpt("x@example.org", "eng-domain@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    /* the group address in any case */
    ASK(&p, rcpt("x@example.org", "ENG-Domain@Example.COM"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    /* hold: the auditors' addresses, sorted */
    ASK(&p, rcpt("x@example.org", "eng-audit@example.com"),
        "action=HOLD awaiting audit by alice.anderson@example.com, alice@example.com, "
        "frank@example.com");
    /* an auditor is not held */
    ASK(&p, rcpt("frank@example.com", "eng-audit@example.com"), "action=DUNNO");
    ASK(&p, rcpt("Alice.Anderson@EXAMPLE.com", "eng-audit@example.com"), "action=DUNNO");
    close_policyd(&p);
    assert_log_has(&p, "decision: sender=x@example.org login=- client=127.0.0.1 "
                       "recipient=ENG-Domain@Example.COM group=cn=eng-domain," GROUPS
                       " action=REJECT 5.7.1 reason=\"sender x@example.org is not allowed "
                       "to send to eng-domain@example.com (policy: domain)\"");
    assert_log_has(&p, "decision: sender=x@example.org login=- client=127.0.0.1 "
                       "recipient=eng-audit@example.com group=cn=eng-audit," GROUPS
                       " action=HOLD reason=\"mail to eng-audit@example.com is held for "
                       "audit: sender x@example.org (allowed by policy anyone) is not an "
                       "auditor\"");
    assert_log_has(&p, "decision: sender=frank@example.com login=- client=127.0.0.1 "
                       "recipient=eng-audit@example.com group=cn=eng-audit," GROUPS
                       " action=DUNNO reason=\"sender allowed by policy anyone: "
                       "frank@example.com may send to eng-audit@example.com (sender is an "
                       "auditor, not held for audit)\"");
}
END_TEST

START_TEST(test_null_and_malformed_sender)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));

    /* the null sender: only "anyone" allows it */
    ASK(&p, rcpt("", "eng-domain@example.com"),
        "action=REJECT 5.7.1 the null sender <> is not allowed to send to "
        "eng-domain@example.com (policy: domain)");
    ASK(&p, rcpt("", "eng-open@example.com"), "action=DUNNO");
    ASK(&p, rcpt("", "eng-audit@example.com"),
        "action=HOLD awaiting audit by alice.anderson@example.com, alice@example.com, "
        "frank@example.com");
    /* no sender attribute at all counts as the null sender */
    ASK(&p, "request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=eng-domain@example.com\n\n",
        "action=REJECT 5.7.1 the null sender <> is not allowed to send to "
        "eng-domain@example.com (policy: domain)");
    /* a malformed sender is rejected under every policy, anyone included */
    ASK(&p, rcpt("no-at-sign", "eng-open@example.com"),
        "action=REJECT 5.7.1 malformed sender address: address has no @");
    close_policyd(&p);
}
END_TEST

START_TEST(test_hidden_group_needs_privileged_account)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));
    ASK(&p, rcpt("dave@example.com", "eng-hidden@example.com"), "action=DUNNO");
    ASK(&p, rcpt("uma@example.com", "eng-hidden@example.com"),
        "action=REJECT 5.7.1 sender uma@example.com is not allowed to send to "
        "eng-hidden@example.com (policy: members)");
    close_policyd(&p);

    /* an ordinary account does not see the hidden group: it looks like no group at all.
     * (The documented reason why bind_dn must be a dynmailgroup-privileged identity.) */
    const char *conf = write_config("reader", dmg_server_uri(server), READER_DN,
                                    DMG_PASSWORD "\n", NULL);
    policyd q = spawn_policyd(conf);
    ASK(&q, rcpt("uma@example.com", "eng-hidden@example.com"), "action=DUNNO");
    ASK(&q, rcpt("x@example.org", "eng-domain@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    close_policyd(&q);
}
END_TEST

/* Only the RCPT state is judged; everything else is DUNNO without a directory lookup. */
START_TEST(test_other_states_and_requests)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));
    ASK(&p, request_in("DATA", "x@example.org", "eng-domain@example.com"), "action=DUNNO");
    ASK(&p, request_in("END-OF-MESSAGE", "x@example.org", "eng-domain@example.com"),
        "action=DUNNO");
    ASK(&p, request_in("MAIL", "x@example.org", ""), "action=DUNNO");
    ASK(&p, request_in("RCPT", "x@example.org", ""), "action=DUNNO");
    ASK(&p, "request=junk\nprotocol_state=RCPT\nsender=x@example.org\n"
            "recipient=eng-domain@example.com\n\n", "action=DUNNO");
    /* CRLF line ends are tolerated */
    ASK(&p, "request=smtpd_access_policy\r\nprotocol_state=RCPT\r\nsender=x@example.org\r\n"
            "recipient=eng-domain@example.com\r\n\r\n",
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    close_policyd(&p);
}
END_TEST

/* Values are filter-escaped: "*" or an injected filter never matches a group. */
START_TEST(test_filter_injection)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));
    ASK(&p, rcpt("x@example.org", "*"), "action=DUNNO");
    ASK(&p, rcpt("x@example.org", "eng-domain@example.com)(mail=*"), "action=DUNNO");
    ASK(&p, rcpt("x@example.org", "*)(|(objectClass=*"), "action=DUNNO");
    ASK(&p, rcpt("x@example.org", "eng-d*@example.com"), "action=DUNNO");
    /* a sender that tries to close the assertion is only a (malformed) address */
    ASK(&p, rcpt("a@example.com)(dmgSender=b@example.com", "eng-domain@example.com"),
        "action=REJECT 5.7.1 malformed sender address: invalid character in domain");
    close_policyd(&p);
}
END_TEST

/* Two requests in one write get two replies, in order. */
START_TEST(test_pipelined_requests)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));
    char both[8192];
    snprintf(both, sizeof both, "%s", rcpt("x@example.org", "eng-domain@example.com"));
    strncat(both, rcpt("x@example.org", "eng-open@example.com"), sizeof both - strlen(both) - 1);
    ck_assert_int_eq(write_all(p.to, both, strlen(both)), 0);
    char *r = read_reply(&p);
    ck_assert_ptr_nonnull(r);
    char *r1 = strdup(r);
    char *r2 = read_reply(&p);
    ck_assert_ptr_nonnull(r2);
    ck_assert_str_eq(r1, REJECT_DOMAIN("x@example.org", "eng-domain@example.com") "\n\n");
    ck_assert_str_eq(r2, "action=DUNNO\n\n");
    free(r1);
    close_policyd(&p);
}
END_TEST

static int run_to_exit(const char *const *args, policyd *out);

START_TEST(test_recipient_delimiter)
{
    ensure_groups(server);
    /* set to none: an extension address is not the group */
    policyd p = spawn_policyd(mta_config("recipient_delimiter ="));
    ASK(&p, rcpt("x@example.org", "eng-domain+news@example.com"), "action=DUNNO");
    close_policyd(&p);

    /* not set: Postfix's (this suite's main.cf has "+", as Debian's has) */
    policyd q = spawn_policyd(mta_config(NULL));
    ASK(&q, rcpt("x@example.org", "eng-domain+news@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    ASK(&q, rcpt("x@example.org", "ENG-Domain+X@Example.COM"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    ASK(&q, rcpt("x@example.org", "eng-open+x@example.com"), "action=DUNNO");
    ASK(&q, rcpt("x@example.org", "eng-domain@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    ASK(&q, rcpt("x@example.org", "+eng-domain@example.com"), "action=DUNNO");
    close_policyd(&q);

    /* several delimiters: any one of them ends the local part */
    policyd r = spawn_policyd(mta_config("recipient_delimiter = +_"));
    ASK(&r, rcpt("x@example.org", "eng-domain_news@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    ASK(&r, rcpt("x@example.org", "eng-domain+news_x@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    close_policyd(&r);

    /* the first one in the address splits it, as in Postfix, so "eng-domain+news" is "eng"
     * with extension "domain+news" (no such group) */
    policyd t = spawn_policyd(mta_config("recipient_delimiter = -+"));
    ASK(&t, rcpt("x@example.org", "eng-domain+news@example.com"), "action=DUNNO");
    ASK(&t, rcpt("x@example.org", "eng-domain@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    close_policyd(&t);
}
END_TEST

/* Without recipient_delimiter in the file, postconf is asked once at start (with the
 * MAIL_CONFIG Postfix gives its spawned services); no postconf: no delimiter; a postconf
 * that fails stops dmg-policyd (it cannot know what Postfix does). */
START_TEST(test_delimiter_from_postconf)
{
    char dir[PATH_MAX], path[PATH_MAX];
    ensure_groups(server);
    DMG_PATH_FMT(dir, sizeof dir, "%s/postfix", test_dir());
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    DMG_PATH_FMT(path, sizeof path, "%s/main.cf", dir);
    write_text(path, "recipient_delimiter = _\n");
    ck_assert_int_eq(setenv("MAIL_CONFIG", dir, 1), 0);
    policyd p = spawn_policyd(mta_config(NULL));
    ASK(&p, rcpt("x@example.org", "eng-domain_news@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    ASK(&p, rcpt("x@example.org", "eng-domain+news@example.com"), "action=DUNNO");
    close_policyd(&p);

    policyd q = spawn_policyd(mta_config("postconf = /nonexistent/postconf"));
    ASK(&q, rcpt("x@example.org", "eng-domain_news@example.com"), "action=DUNNO");
    close_policyd(&q);
    assert_log_has(&q, "/nonexistent/postconf: No such file or directory: no recipient "
                       "delimiter");

    ck_assert_int_eq(setenv("MAIL_CONFIG", "/nonexistent", 1), 0);
    const char *args[] = { "-f", "-c", mta_config(NULL), NULL };
    policyd r;
    ck_assert_int_eq(run_to_exit(args, &r), 78);
    assert_log_has(&r, "/usr/sbin/postconf -h recipient_delimiter failed (exit status 1): "
                       "set recipient_delimiter in the configuration");
}
END_TEST

/* By default every group of the directory is decided (the naming contexts); a base that
 * leaves groups out is reported when dmg-policyd connects. */
START_TEST(test_every_group)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));
    ASK(&p, rcpt("x@example.org", "eng-outside@example.com"),
        "action=REJECT 5.7.1 sender x@example.org is not allowed to send to "
        "eng-outside@example.com (policy: members)");
    ASK(&p, rcpt("x@example.org", "eng-domain@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    close_policyd(&p);
    assert_log_lacks(&p, "leaves out");

    policyd q = spawn_policyd(mta_config("base = " GROUPS));
    ASK(&q, rcpt("x@example.org", "eng-domain@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    ASK(&q, rcpt("x@example.org", "eng-outside@example.com"), "action=DUNNO");
    close_policyd(&q);
    assert_log_has(&q, "warning: base " GROUPS " leaves out groups of the directory, such as "
                       "cn=eng-outside,ou=Engineering,dc=example,dc=com: mail to them is not "
                       "checked (remove base to check every group)");

    policyd r = spawn_policyd(mta_config("base = dc=example,dc=com"));
    ASK(&r, rcpt("x@example.org", "eng-outside@example.com"),
        "action=REJECT 5.7.1 sender x@example.org is not allowed to send to "
        "eng-outside@example.com (policy: members)");
    close_policyd(&r);
    assert_log_lacks(&r, "leaves out");
}
END_TEST

#define UNTRUSTED "192.0.2.10"
#define AS(sender, group, login) request_from("RCPT", (sender), (group), UNTRUSTED, (login))
#define FROM_OUTSIDE(sender, group) request_from("RCPT", (sender), (group), UNTRUSTED, "")
#define REJECT_LOCAL(sender, group) "action=REJECT 5.7.1 sender " sender " is in a local " \
                                    "domain but not authenticated: not allowed to send to " group
#define HOLD_AUDIT "action=HOLD awaiting audit by alice.anderson@example.com, " \
                   "alice@example.com, frank@example.com"

/* An authenticated client sends as its account (sasl_login_filter, default (uid=%s)). */
START_TEST(test_authenticated_sender)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));
    ASK(&p, AS("bob@example.com", "eng-domain@example.com", "bob"), "action=DUNNO");
    ASK(&p, AS("Bob@Example.COM", "eng-domain@example.com", "bob"), "action=DUNNO");
    ASK(&p, AS("alice.anderson@example.com", "eng-audit@example.com", "alice"),
        "action=DUNNO"); /* a genuine auditor */
    ASK(&p, AS("bob@example.com", "eng-audit@example.com", "bob"), HOLD_AUDIT);
    ASK(&p, AS("alice@example.com", "eng-domain@example.com", "bob"),
        "action=REJECT 5.7.1 sender alice@example.com is not an address of the "
        "authenticated user bob");
    ASK(&p, AS("frank@example.com", "eng-audit@example.com", "bob"),
        "action=REJECT 5.7.1 sender frank@example.com is not an address of the "
        "authenticated user bob");
    ASK(&p, AS("x@example.org", "eng-open@example.com", "bob"),
        "action=REJECT 5.7.1 sender x@example.org is not an address of the "
        "authenticated user bob");
    ASK(&p, AS("", "eng-open@example.com", "bob"),
        "action=REJECT 5.7.1 sender <> is not an address of the authenticated user bob");
    /* refused anyway: the directory's reason */
    ASK(&p, AS("x@example.org", "eng-domain@example.com", "bob"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    /* not a group: not decided */
    ASK(&p, AS("alice@example.com", "carol@example.com", "bob"), "action=DUNNO");
    ASK(&p, AS("bob@example.com", "eng-domain@example.com", "nosuchuser"),
        "action=REJECT 5.7.1 no account found for the authenticated user nosuchuser");
    /* the login is a value, never a filter */
    ASK(&p, AS("bob@example.com", "eng-domain@example.com", "*"),
        "action=REJECT 5.7.1 no account found for the authenticated user *");
    ASK(&p, AS("bob@example.com", "eng-domain@example.com", "x)(uid=bob"),
        "action=REJECT 5.7.1 no account found for the authenticated user x)(uid=bob");
    close_policyd(&p);
    assert_log_has(&p, "decision: sender=alice@example.com login=bob client=" UNTRUSTED
                       " recipient=eng-domain@example.com group=cn=eng-domain," GROUPS
                       " action=REJECT 5.7.1 reason=\"sender alice@example.com is not an "
                       "address of the authenticated user bob\"");

    policyd q = spawn_policyd(mta_config("sasl_login_filter = (mail=%s)"));
    ASK(&q, AS("bob@example.com", "eng-domain@example.com", "bob@example.com"),
        "action=DUNNO");
    ASK(&q, AS("bob@example.com", "eng-domain@example.com", "bob"),
        "action=REJECT 5.7.1 no account found for the authenticated user bob");
    close_policyd(&q);

    policyd r = spawn_policyd(mta_config("sasl_login_filter = (|(uid=%s)(uid=alice))"));
    ASK(&r, AS("bob@example.com", "eng-domain@example.com", "bob"),
        "action=REJECT 5.7.1 more than one account found for the authenticated user bob");
    close_policyd(&r);
}
END_TEST

/* An unauthenticated client outside trusted_networks claiming a sender of a local domain is
 * decided as an outsider: only "anyone" lets it through, and no auditor's exemption. */
START_TEST(test_outsider)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));
    /* a colleague (domain), a member (members), an auditor (exemption), a whitelisted
     * domain that is the organisation's own (partners@lists.example.net) */
    ASK(&p, FROM_OUTSIDE("bob@example.com", "eng-domain@example.com"),
        REJECT_LOCAL("bob@example.com", "eng-domain@example.com"));
    ASK(&p, FROM_OUTSIDE("dave@example.com", "eng-hidden@example.com"),
        REJECT_LOCAL("dave@example.com", "eng-hidden@example.com"));
    ASK(&p, FROM_OUTSIDE("frank@example.com", "eng-audit@example.com"), HOLD_AUDIT);
    ASK(&p, FROM_OUTSIDE("x@lists.example.net", "eng-white@example.com"),
        REJECT_LOCAL("x@lists.example.net", "eng-white@example.com"));
    ASK(&p, FROM_OUTSIDE("X@LISTS.Example.NET.", "eng-white@example.com"),
        REJECT_LOCAL("X@LISTS.Example.NET.", "eng-white@example.com"));
    /* anyone: still accepted; outsiders as before */
    ASK(&p, FROM_OUTSIDE("bob@example.com", "eng-open@example.com"), "action=DUNNO");
    ASK(&p, FROM_OUTSIDE("x@example.org", "eng-open@example.com"), "action=DUNNO");
    ASK(&p, FROM_OUTSIDE("", "eng-open@example.com"), "action=DUNNO");
    ASK(&p, FROM_OUTSIDE("x@example.org", "eng-domain@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    ASK(&p, FROM_OUTSIDE("bob@example.com", "carol@example.com"), "action=DUNNO");
    /* trusted by default: loopback */
    ASK(&p, request_from("RCPT", "bob@example.com", "eng-domain@example.com", "::1", ""),
        "action=DUNNO");
    ASK(&p, request_from("RCPT", "frank@example.com", "eng-audit@example.com",
                         "::ffff:127.0.0.2", ""), "action=DUNNO");
    ASK(&p, request_from("RCPT", "bob@example.com", "eng-domain@example.com", "", ""),
        REJECT_LOCAL("bob@example.com", "eng-domain@example.com"));
    close_policyd(&p);

    policyd q = spawn_policyd(mta_config("trusted_networks = 192.0.2.0/24, [2001:db8::]/32\n"
                                         "local_domains = Example.COM."));
    ASK(&q, FROM_OUTSIDE("bob@example.com", "eng-domain@example.com"), "action=DUNNO");
    ASK(&q, request_from("RCPT", "bob@example.com", "eng-domain@example.com", "2001:db8::7",
                         ""), "action=DUNNO");
    ASK(&q, request_from("RCPT", "bob@example.com", "eng-domain@example.com", "127.0.0.1",
                         ""), "action=REJECT 5.7.1 sender bob@example.com is in a local "
                              "domain but not authenticated: not allowed to send to "
                              "eng-domain@example.com");
    /* lists.example.net is not listed: its whitelist entry counts */
    ASK(&q, request_from("RCPT", "x@lists.example.net", "eng-white@example.com",
                         "198.51.100.7", ""), "action=DUNNO");
    close_policyd(&q);
}
END_TEST

/* hold_action = review (the review loop, dmg-audit(8), holds the audited group's copy):
 * audited groups are decided like every other group, so a sender they do not allow is
 * refused at RCPT time (never bounced later to a possibly forged address), and only a hold
 * becomes DUNNO. An outsider claiming an auditor's address gets no exemption. */
START_TEST(test_hold_action_review)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config("hold_action = review"));
    /* held: left to the review loop */
    ASK(&p, AS("bob@example.com", "eng-audit@example.com", "bob"), "action=DUNNO");
    ASK(&p, AS("bob@example.com", "eng-audit-members@example.com", "bob"), "action=DUNNO");
    /* not allowed: refused now */
    ASK(&p, FROM_OUTSIDE("x@example.org", "eng-audit-members@example.com"),
        "action=REJECT 5.7.1 sender x@example.org is not allowed to send to "
        "eng-audit-members@example.com (policy: members)");
    ASK(&p, AS("frank@example.com", "eng-audit-members@example.com", "bob"),
        "action=REJECT 5.7.1 sender frank@example.com is not an address of the "
        "authenticated user bob");
    /* an untrusted client claiming the auditor's (and a member's) address: an outsider */
    ASK(&p, FROM_OUTSIDE("frank@example.com", "eng-audit-members@example.com"),
        REJECT_LOCAL("frank@example.com", "eng-audit-members@example.com"));
    ASK(&p, FROM_OUTSIDE("frank@example.com", "eng-audit@example.com"), "action=DUNNO");
    /* the genuine auditor */
    ASK(&p, AS("frank@example.com", "eng-audit-members@example.com", "frank"),
        "action=DUNNO");
    close_policyd(&p);
    /* the log tells a hold left to the review from an accepted sender */
    assert_log_has(&p, "decision: sender=bob@example.com login=bob client=" UNTRUSTED
                       " recipient=eng-audit-members@example.com group=cn=eng-audit-members,"
                       GROUPS " action=DUNNO reason=\"hold_action = review: ");
    assert_log_has(&p, "decision: sender=frank@example.com login=- client=" UNTRUSTED
                       " recipient=eng-audit@example.com group=cn=eng-audit," GROUPS
                       " action=DUNNO reason=\"hold_action = review: mail to "
                       "eng-audit@example.com is held for audit: sender frank@example.com "
                       "is in a local domain but not authenticated\"");
}
END_TEST

/* A group over dynmailgroup-max-members: refused for good at RCPT time. */
START_TEST(test_group_too_large)
{
    dmg_server_opts o = { 0 };
    o.overlay_config = "dynmailgroup-privileged " MTA_DN "\ndynmailgroup-max-members 4\n";
    dmg_server *own = dmg_server_start(&o);
    ck_assert_ptr_nonnull(own);
    ensure_groups(own);
    policyd p = spawn_policyd(write_config("small", dmg_server_uri(own), MTA_DN,
                                           DMG_PASSWORD "\n", NULL));
    ASK(&p, rcpt("bob@example.com", "eng-domain@example.com"),
        "action=REJECT 5.5.3 group too large: more members than the directory expands");
    ASK(&p, rcpt("x@example.org", "partners@lists.example.net"),
        "action=REJECT 5.7.1 sender x@example.org is not allowed to send to "
        "partners@lists.example.net (policy: domain)");
    close_policyd(&p);
    assert_log_has(&p, "action=REJECT 5.5.3 reason=\"search: Administrative limit exceeded "
                       "(11): group \"cn=eng-domain," GROUPS "\" has more than 4 members "
                       "(dynmailgroup-max-members)\"");
    ck_assert_int_eq(dmg_server_stop(own), 0);
}
END_TEST

START_TEST(test_extra_filter)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));
    ASK(&p, rcpt("x@example.org", "sales-frozen@example.com"),
        REJECT_DOMAIN("x@example.org", "sales-frozen@example.com"));
    close_policyd(&p);
    policyd q = spawn_policyd(mta_config("filter = (!(description=frozen))"));
    ASK(&q, rcpt("x@example.org", "sales-frozen@example.com"), "action=DUNNO");
    ASK(&q, rcpt("x@example.org", "eng-domain@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    close_policyd(&q);
}
END_TEST

/* The shipped example, with this server's URI and a password file of its own. */
START_TEST(test_example_config)
{
    ensure_groups(server);
    const char *src = getenv("DMG_SRCDIR");
    char example[PATH_MAX], pw[PATH_MAX], conf[PATH_MAX], line[2048];
    DMG_PATH_FMT(example, sizeof example, "%s/tools/dmg-policyd.conf.example",
             src && *src ? src : ".");
    DMG_PATH_FMT(pw, sizeof pw, "%s/example.pw", test_dir());
    DMG_PATH_FMT(conf, sizeof conf, "%s/example.conf", test_dir());
    write_text(pw, DMG_PASSWORD "\n");
    ck_assert_int_eq(chmod(pw, 0600), 0);
    FILE *in = fopen(example, "r");
    ck_assert_msg(in != NULL, "cannot read %s (set DMG_SRCDIR)", example);
    FILE *out = fopen(conf, "w");
    ck_assert_ptr_nonnull(out);
    int replaced = 0;
    while (fgets(line, sizeof line, in) != NULL) {
        if (strncmp(line, "uri =", 5) == 0) {
            fprintf(out, "uri = %s\n", dmg_server_uri(server));
            replaced++;
        } else if (strncmp(line, "bind_pw_file =", 14) == 0) {
            fprintf(out, "bind_pw_file = %s\n", pw);
            replaced++;
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
    ck_assert_int_eq(replaced, 2);
    policyd p = spawn_policyd(conf);
    ASK(&p, rcpt("x@example.org", "eng-hidden@example.com"),
        "action=REJECT 5.7.1 sender x@example.org is not allowed to send to "
        "eng-hidden@example.com (policy: members)");
    ASK(&p, rcpt("bob@example.com", "eng-domain@example.com"), "action=DUNNO");
    close_policyd(&p);
}
END_TEST

/* An idle client is let go after idle_timeout (Postfix reconnects when it needs to). */
START_TEST(test_idle_timeout)
{
    policyd p = spawn_policyd(mta_config("idle_timeout = 1"));
    ck_assert_ptr_null(read_reply(&p)); /* EOF: it exited by itself */
    ck_assert_int_eq(wait_exit(&p, EXIT_WAIT_MS), 0);
    close(p.to);
    close(p.from);
    assert_log_has(&p, "idle for 1 s; closing");
    assert_no_tool_reports(&p);
}
END_TEST

/* ============================================================================================
 * Spawn mode: bad input
 * ========================================================================================== */

#define MALFORMED "action=DEFER_IF_PERMIT 4.3.0 malformed policy request"

START_TEST(test_malformed_requests_answered)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));
    static char big[200000];

    /* a line over 2048 bytes */
    size_t n = (size_t)snprintf(big, sizeof big, "request=smtpd_access_policy\nsender=");
    memset(big + n, 'a', 3000);
    n += 3000;
    n += (size_t)snprintf(big + n, sizeof big - n, "@example.org\nrecipient=eng-open@example.com\n\n");
    ASK(&p, big, MALFORMED);
    /* still in step */
    ASK(&p, rcpt("x@example.org", "eng-domain@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));

    /* a request over 64 KiB (many lines of fine length) */
    n = 0;
    for (int i = 0; i < 60; i++) {
        n += (size_t)snprintf(big + n, sizeof big - n, "x%d=", i);
        memset(big + n, 'v', 2000);
        n += 2000;
        big[n++] = '\n';
    }
    big[n++] = '\n';
    big[n] = '\0';
    ASK(&p, big, MALFORMED);
    ASK(&p, rcpt("bob@example.com", "eng-domain@example.com"), "action=DUNNO");

    /* more than 100 attributes */
    n = 0;
    for (int i = 0; i < 101; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "attr%d=v\n", i);
    big[n++] = '\n';
    big[n] = '\0';
    ASK(&p, big, MALFORMED);

    /* binary junk with line ends, a NUL byte, lines without "=", a duplicate, empty */
    static const char junk[] = "\x01\x02\xff\xfe\x80 junk\n\x7f\x1b[0m=1\n\n";
    ck_assert_int_eq(write_all(p.to, junk, sizeof junk - 1), 0);
    ck_assert_str_eq(read_reply(&p), MALFORMED "\n\n");
    static const char nul[] = "request=smtpd_access_policy\nsender=a\0b@example.org\n\n";
    ck_assert_int_eq(write_all(p.to, nul, sizeof nul - 1), 0);
    ck_assert_str_eq(read_reply(&p), MALFORMED "\n\n");
    ASK(&p, "no equals sign here\n\n", MALFORMED);
    ASK(&p, "recipient=a@example.com\nrecipient=eng-domain@example.com\n\n", MALFORMED);
    ASK(&p, "\n", MALFORMED);

    /* and it still decides */
    ASK(&p, rcpt("x@example.org", "eng-audit@example.com"),
        "action=HOLD awaiting audit by alice.anderson@example.com, alice@example.com, "
        "frank@example.com");
    close_policyd(&p);
    assert_log_has(&p, "warning: line too long: line longer than 2048 bytes");
    assert_log_has(&p, "warning: request too large: request longer than 65536 bytes");
    assert_log_has(&p, "warning: too many attributes: more than 100 attributes");
    assert_log_has(&p, "warning: malformed request: NUL byte in a line");
}
END_TEST

/* An endless line: read in bounded memory, answered once, then a clean exit (65). */
START_TEST(test_endless_junk_exits_cleanly)
{
    ensure_groups(server);
    policyd p = spawn_policyd(mta_config(NULL));
    static char chunk[65536];
    memset(chunk, 'J', sizeof chunk);
    chunk[100] = '\0';
    chunk[200] = '\r';
    size_t sent = 0;
    /* 64 KiB + 256 KiB is where it gives up; 1 MiB is plenty; writes fail once it exits */
    while (sent < 1024 * 1024 && write_all(p.to, chunk, sizeof chunk) == 0)
        sent += sizeof chunk;
    char *reply = read_reply(&p);
    ck_assert_ptr_nonnull(reply);
    ck_assert_str_eq(reply, MALFORMED "\n\n");
    ck_assert_ptr_null(read_reply(&p)); /* then EOF */
    close(p.to);
    p.to = -1;
    ck_assert_int_eq(wait_exit(&p, EXIT_WAIT_MS), 65);
    assert_log_has(&p, "no end of request within 327680 bytes; closing the connection");
    assert_no_tool_reports(&p);
}
END_TEST

START_TEST(test_eof_inside_request)
{
    policyd p = spawn_policyd(mta_config(NULL));
    static const char part[] = "request=smtpd_access_policy\nprotocol_state=RCPT\nsen";
    ck_assert_int_eq(write_all(p.to, part, sizeof part - 1), 0);
    close_policyd(&p);
    assert_log_has(&p, "input ended in the middle of a request");
    /* nothing at all: exits 0 too */
    policyd q = spawn_policyd(mta_config(NULL));
    close_policyd(&q);
}
END_TEST

/* ============================================================================================
 * The directory unavailable
 * ========================================================================================== */

#define UNAVAILABLE "action=DEFER_IF_PERMIT 4.3.0 directory unavailable"

START_TEST(test_directory_down)
{
    char uri[64];
    int port;
    DMG_UNUSED_PORT(port);
    snprintf(uri, sizeof uri, "ldap://127.0.0.1:%d/", port);
    policyd p = spawn_policyd(write_config("down", uri, MTA_DN, DMG_PASSWORD "\n", NULL));
    ASK(&p, rcpt("x@example.org", "eng-domain@example.com"), UNAVAILABLE);
    ASK(&p, rcpt("", "eng-open@example.com"), UNAVAILABLE);
    /* no lookup, no deferral outside RCPT */
    ASK(&p, request_in("DATA", "x@example.org", "eng-domain@example.com"), "action=DUNNO");
    close_policyd(&p);
    assert_log_has(&p, "Can't contact LDAP server");
}
END_TEST

/* A server that accepts the TCP connection but never answers: the timeout bounds the wait. */
START_TEST(test_directory_hangs)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(lfd, 8), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    char uri[64];
    snprintf(uri, sizeof uri, "ldap://127.0.0.1:%d/", ntohs(a.sin_port));
    policyd p = spawn_policyd(write_config("hang", uri, MTA_DN, DMG_PASSWORD "\n",
                                           "timeout = 1"));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ASK(&p, rcpt("x@example.org", "eng-domain@example.com"), UNAVAILABLE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_msg(ms >= 900 && ms < 10000, "answered after %ld ms, expected about 1 s", ms);
    close_policyd(&p);
    close(lfd);
}
END_TEST

START_TEST(test_wrong_password)
{
    ensure_groups(server);
    policyd p = spawn_policyd(write_config("badpw", dmg_server_uri(server), MTA_DN,
                                           "not-the-password\n", NULL));
    ASK(&p, rcpt("x@example.org", "eng-domain@example.com"), UNAVAILABLE);
    close_policyd(&p);
    assert_log_has(&p, "Invalid credentials");
}
END_TEST

/* Its own server: restarted under a connected dmg-policyd (reconnect once), then stopped. */
START_TEST(test_reconnect_and_server_stop)
{
    dmg_server *own = dmg_server_start(NULL);
    ck_assert_ptr_nonnull(own);
    ensure_groups(own);
    const char *conf = write_config("own", dmg_server_uri(own), MTA_DN, DMG_PASSWORD "\n",
                                    NULL);
    policyd p = spawn_policyd(conf);
    ASK(&p, rcpt("x@example.org", "eng-domain@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));

    /* the connection dmg-policyd holds dies with the server; the next lookup reconnects */
    ck_assert_int_eq(dmg_server_restart(own), 0);
    ASK(&p, rcpt("x@example.org", "eng-audit@example.com"),
        "action=HOLD awaiting audit by alice.anderson@example.com, alice@example.com, "
        "frank@example.com");
    assert_log_has(&p, "reconnecting");

    /* the server gone: deferred, and the process lives on */
    ck_assert_int_eq(dmg_server_stop(own), 0);
    ASK(&p, rcpt("x@example.org", "eng-domain@example.com"), UNAVAILABLE);
    ASK(&p, rcpt("x@example.org", "eng-domain@example.com"), UNAVAILABLE);
    ASK(&p, request_in("DATA", "x@example.org", "eng-domain@example.com"), "action=DUNNO");
    close_policyd(&p);
}
END_TEST

/* ============================================================================================
 * Start-up errors
 * ========================================================================================== */

static int run_to_exit(const char *const *args, policyd *out)
{
    *out = start_policyd(args, 0);
    int status = wait_exit(out, EXIT_WAIT_MS);
    assert_no_tool_reports(out);
    return status;
}

START_TEST(test_startup_errors)
{
    policyd p;
    char path[PATH_MAX];

    const char *missing[] = { "-f", "-c", "/nonexistent/dmg-policyd.conf", NULL };
    ck_assert_int_eq(run_to_exit(missing, &p), 78);
    assert_log_has(&p, "cannot open configuration /nonexistent/dmg-policyd.conf");

    DMG_PATH_FMT(path, sizeof path, "%s/bad.conf", test_dir());
    write_text(path, "uri = ldap://127.0.0.1/\nbase = dc=example,dc=com\ntimeout = soon\n");
    const char *bad[] = { "-f", "-c", path, NULL };
    ck_assert_int_eq(run_to_exit(bad, &p), 78);
    assert_log_has(&p, "bad.conf:3: timeout: expected a number from 1 to 300");

    write_text(path, "uri = ldap://127.0.0.1/\npostconf = postconf\n");
    ck_assert_int_eq(run_to_exit(bad, &p), 78);
    assert_log_has(&p, "bad.conf:2: postconf: expected an absolute path");

    write_text(path, "trusted_networks = 127.0.0.1/8\n");
    ck_assert_int_eq(run_to_exit(bad, &p), 78);
    assert_log_has(&p, "bad.conf:1: trusted_networks: \"127.0.0.1/8\": address bits set "
                       "after the prefix");

    write_text(path, "sasl_login_filter = (uid=%u)\n");
    ck_assert_int_eq(run_to_exit(bad, &p), 78);
    assert_log_has(&p, "bad.conf:1: sasl_login_filter: only %s (the login) and %% may "
                       "follow %");

    write_text(path, "base = dc=example,dc=com\nbind_dn = " MTA_DN
                     "\nbind_pw_file = /nonexistent/pw\n");
    ck_assert_int_eq(run_to_exit(bad, &p), 78);
    assert_log_has(&p, "bind_pw_file /nonexistent/pw");

    const char *usage[] = { "-x", NULL };
    ck_assert_int_eq(run_to_exit(usage, &p), 64);
    assert_log_has(&p, "usage: dmg-policyd [-c CONFIG] [-l ADDRESS:PORT] [-f]");
    const char *extra[] = { "-f", "stray", NULL };
    ck_assert_int_eq(run_to_exit(extra, &p), 64);

    const char *conf = mta_config(NULL);
    const char *public[] = { "-f", "-c", conf, "-l", "0.0.0.0:10040", NULL };
    ck_assert_int_eq(run_to_exit(public, &p), 64);
    assert_log_has(&p, "not a loopback address");
    const char *noport[] = { "-f", "-c", conf, "-l", "127.0.0.1", NULL };
    ck_assert_int_eq(run_to_exit(noport, &p), 64);
    const char *badport[] = { "-f", "-c", conf, "-l", "127.0.0.1:99999", NULL };
    ck_assert_int_eq(run_to_exit(badport, &p), 64);
    assert_log_has(&p, "port must be a number from 1 to 65535");
}
END_TEST

/* ============================================================================================
 * TCP mode
 * ========================================================================================== */

/* dmg-policyd -f -l 127.0.0.1:PORT, up and accepting; the connection in *first. */
static policyd start_tcp(const char *conf, int *port, int *first)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        char spec[64];
        DMG_UNUSED_PORT(*port);
        snprintf(spec, sizeof spec, "127.0.0.1:%d", *port);
        const char *args[] = { "-f", "-c", conf, "-l", spec, NULL };
        policyd p = start_policyd(args, 0);
        for (int waited = 0; waited < CONNECT_WAIT_MS; waited += 20) {
            int fd = dmg_connect_port(*port);
            if (fd >= 0) {
                *first = fd;
                return p;
            }
            int status;
            if (waitpid(p.pid, &status, WNOHANG) == p.pid) {
                forget_child(p.pid);
                p.pid = -1;
                break; /* port taken meanwhile: another one */
            }
            struct timespec ts = { 0, 20 * 1000000L };
            nanosleep(&ts, NULL);
        }
        if (p.pid > 0) {
            char *log = dmg_read_file(p.log);
            ck_abort_msg("dmg-policyd -l did not accept connections; log:\n%s", log);
        }
    }
    ck_abort_msg("dmg-policyd -l could not listen");
    return (policyd){ -1, -1, -1, "" };
}

START_TEST(test_tcp_mode)
{
    ensure_groups(server);
    int port, fd1;
    policyd d = start_tcp(mta_config(NULL), &port, &fd1);
    int fd2 = dmg_connect_port(port);
    ck_assert_int_ge(fd2, 0);

    /* two connections at once, each served by its own process, each for several requests */
    policyd c1 = d, c2 = d;
    c1.to = c1.from = fd1;
    c2.to = c2.from = fd2;
    ASK(&c1, rcpt("x@example.org", "eng-domain@example.com"),
        REJECT_DOMAIN("x@example.org", "eng-domain@example.com"));
    ASK(&c2, rcpt("x@example.org", "eng-audit@example.com"),
        "action=HOLD awaiting audit by alice.anderson@example.com, alice@example.com, "
        "frank@example.com");
    ASK(&c1, rcpt("bob@example.com", "eng-domain@example.com"), "action=DUNNO");
    ASK(&c2, rcpt("x@example.org", "bob@example.com"), "action=DUNNO");
    ASK(&c1, "junk without equals\n\n", MALFORMED);
    ASK(&c1, rcpt("", "eng-domain@example.com"),
        "action=REJECT 5.7.1 the null sender <> is not allowed to send to "
        "eng-domain@example.com (policy: domain)");
    close(fd1);

    /* a new connection after one closed */
    int fd3 = dmg_connect_port(port);
    ck_assert_int_ge(fd3, 0);
    policyd c3 = d;
    c3.to = c3.from = fd3;
    ASK(&c3, rcpt("x@example.org", "eng-open@example.com"), "action=DUNNO");
    close(fd3);
    close(fd2);

    /* SIGTERM: clean exit, promptly (not after a poll timeout) */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kill(d.pid, SIGTERM);
    ck_assert_int_eq(wait_exit(&d, EXIT_WAIT_MS), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (getenv("DMG_POLICYD_WRAPPER") == NULL)
        ck_assert_msg(ms < 900, "SIGTERM took %ld ms", ms);
    assert_log_has(&d, "stopping on signal 15");
    assert_no_tool_reports(&d);
    ck_assert_int_lt(dmg_connect_port(port), 0);
}
END_TEST

/* max_children bounds the connections served at once; the next waits its turn. */
START_TEST(test_tcp_max_children)
{
    ensure_groups(server);
    int port, fd1;
    policyd d = start_tcp(mta_config("max_children = 1"), &port, &fd1);
    policyd c1 = d, c2 = d;
    c1.to = c1.from = fd1;
    ASK(&c1, rcpt("bob@example.com", "eng-domain@example.com"), "action=DUNNO");
    int fd2 = dmg_connect_port(port); /* accepted by the kernel, not yet by dmg-policyd */
    ck_assert_int_ge(fd2, 0);
    c2.to = c2.from = fd2;
    const char *req = rcpt("x@example.org", "eng-domain@example.com");
    ck_assert_int_eq(write_all(fd2, req, strlen(req)), 0);
    struct pollfd pfd = { fd2, POLLIN, 0 };
    ck_assert_int_eq(poll(&pfd, 1, 1500), 0); /* no answer while the first is open */
    close(fd1);
    char *r = read_reply(&c2);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r, REJECT_DOMAIN("x@example.org", "eng-domain@example.com") "\n\n");
    close(fd2);
    kill(d.pid, SIGTERM);
    ck_assert_int_eq(wait_exit(&d, EXIT_WAIT_MS), 0);
    assert_no_tool_reports(&d);
}
END_TEST

/* SIGTERM while connections are open: they are ended too. */
START_TEST(test_tcp_stop_with_open_connection)
{
    int port, fd1;
    policyd d = start_tcp(mta_config(NULL), &port, &fd1);
    policyd c1 = d;
    c1.to = c1.from = fd1;
    ASK(&c1, request_in("DATA", "x@example.org", "eng-domain@example.com"), "action=DUNNO");
    kill(d.pid, SIGTERM);
    ck_assert_int_eq(wait_exit(&d, EXIT_WAIT_MS), 0);
    ck_assert_ptr_null(read_reply(&c1)); /* the connection's process ended: EOF */
    close(fd1);
    assert_no_tool_reports(&d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("policyd");
    TCase *tc = dmg_tcase("spawn");
    tcase_add_test(tc, test_decisions);
    tcase_add_test(tc, test_null_and_malformed_sender);
    tcase_add_test(tc, test_hidden_group_needs_privileged_account);
    tcase_add_test(tc, test_other_states_and_requests);
    tcase_add_test(tc, test_filter_injection);
    tcase_add_test(tc, test_pipelined_requests);
    tcase_add_test(tc, test_recipient_delimiter);
    tcase_add_test(tc, test_delimiter_from_postconf);
    tcase_add_test(tc, test_every_group);
    tcase_add_test(tc, test_authenticated_sender);
    tcase_add_test(tc, test_outsider);
    tcase_add_test(tc, test_hold_action_review);
    tcase_add_test(tc, test_group_too_large);
    tcase_add_test(tc, test_extra_filter);
    tcase_add_test(tc, test_example_config);
    tcase_add_test(tc, test_idle_timeout);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("bad input");
    tcase_add_test(tc, test_malformed_requests_answered);
    tcase_add_test(tc, test_endless_junk_exits_cleanly);
    tcase_add_test(tc, test_eof_inside_request);
    tcase_add_test(tc, test_startup_errors);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("directory unavailable");
    tcase_add_test(tc, test_directory_down);
    tcase_add_test(tc, test_directory_hangs);
    tcase_add_test(tc, test_wrong_password);
    tcase_add_test(tc, test_reconnect_and_server_stop);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("tcp");
    tcase_add_test(tc, test_tcp_mode);
    tcase_add_test(tc, test_tcp_stop_with_open_connection);
    tcase_add_test(tc, test_tcp_max_children);
    suite_add_tcase(s, tc);

    /* postconf reads this main.cf (MAIL_CONFIG, as under Postfix's spawn): Debian's "+" */
    char pfdir[PATH_MAX], maincf[PATH_MAX + 16];
    const char *t = getenv("TMPDIR");
    snprintf(pfdir, sizeof pfdir, "%s/dmg-policyd-postfix-XXXXXX", t && *t ? t : "/tmp");
    if (mkdtemp(pfdir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    chmod(pfdir, 0755);
    snprintf(maincf, sizeof maincf, "%s/main.cf", pfdir);
    FILE *f = fopen(maincf, "w");
    if (f == NULL || fputs("recipient_delimiter = +\n", f) < 0 || fclose(f) != 0) {
        perror(maincf);
        return EXIT_FAILURE;
    }
    setenv("MAIL_CONFIG", pfdir, 1);

    dmg_server_opts o = { 0 };
    o.overlay_config = "dynmailgroup-privileged " MTA_DN "\n";
    int rc = dmg_run_suite(s, &o, &server);
    unlink(maincf);
    rmdir(pfdir);
    return rc;
}
