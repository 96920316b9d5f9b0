/*
 * test_audit.c - dmg-audit(8), the review loop of audited groups, against a real slapd with
 * the overlay: the pipe commands (deliver, decide) exactly as Postfix's pipe(8) runs them,
 * the expiry timer and the postmaster's commands. Mail that dmg-audit hands to Postfix goes
 * to a recording sendmail (a shell script named by sendmail_path) that keeps each
 * invocation's arguments and standard input in <test dir>/out/, so that every notice,
 * release and its exact bytes can be checked.
 *
 * The group: fe-review@example.com, department ou=Frontend (members peggy, quentin, rita
 * with two addresses, sam, trent), send policy domain, audited by alice (two addresses) and
 * carol.
 *
 * Crash tests set DMG_AUDIT_CRASH_<STEP>=<flag file> (dmg-audit removes the file and kills
 * itself with SIGKILL at that step) and run the command again as Postfix would (same queue
 * ID, same message); expiry tests move the clock with "expire --now=". Both hooks exist only
 * in the test build of the same sources, tests/integration/dmg-audit-hooks ($DMG_AUDIT_HOOKS),
 * which those tests run; the others run tools/dmg-audit, which has no hooks
 * (test_no_hooks_installed).
 *
 * The "postfix" test case runs the loop through a real private Postfix (see below); it needs
 * Postfix with LDAP tables (Debian: postfix, postfix-ldap) and root, and FAILS saying so when
 * either is missing. DMG_AUDIT names the dmg-audit binary (default
 * $DMG_BUILDDIR/tools/dmg-audit), DMG_POLICYD dmg-policyd's.
 */
#define _GNU_SOURCE

#include "harness.h"
#include "postfix.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MTA_DN  "uid=mta,ou=System,dc=example,dc=com"
#define GROUPS  "ou=Groups,dc=example,dc=com"
#define GROUP   "fe-review@example.com"
#define REVIEW  "review.example.com"
#define RCPT    "--recipient=fe-review=example.com@dmg-audit.invalid"
#define MEMBERS "peggy@example.com\nquentin@example.com\nRita.Rossi@Example.COM\n" \
                "rita@example.com\nsam@example.com\ntrent@example.com"

static dmg_server *server;

static const char *const group_ldif[] = {
    "dn: cn=fe-review," GROUPS "\nobjectClass: dynamicMailGroup\ncn: fe-review\n"
    "mail: " GROUP "\ndmgDepartment: ou=Frontend,ou=Engineering,dc=example,dc=com\n"
    "dmgSendPolicy: domain\ndmgAuditRequired: TRUE\n"
    "dmgAuditor: uid=alice,ou=Engineering,dc=example,dc=com\n"
    "dmgAuditor: uid=carol,ou=Engineering,dc=example,dc=com\n",
};

/* ============================================================================================
 * Helpers
 * ========================================================================================== */

/* One test's world: spool, secret, configuration, recording sendmail. */
typedef struct world {
    char dir[PATH_MAX];
    char conf[PATH_MAX];
    char spool[PATH_MAX];
    char out[PATH_MAX];
    char log[PATH_MAX];
    char fail_flag[PATH_MAX];
    int seen;               /* recorded mails already looked at */
    int hooks;              /* run the test build (crash points, expire --now=) */
} world;

static void make_world(world *w, const char *extra_config, const char *uri)
{
    static int serial;
    char path[PATH_MAX], text[8192];
    memset(w, 0, sizeof w[0]);
    dmg_ensure_entries(server, group_ldif, sizeof group_ldif / sizeof group_ldif[0]);
    DMG_PATH_FMT(w->dir, sizeof w->dir, "%s/audit-%ld-%d", dmg_server_dir(server), (long)getpid(),
             ++serial);
    ck_assert_int_eq(mkdir(w->dir, 0700), 0);
    DMG_PATH_FMT(w->spool, sizeof w->spool, "%s/spool", w->dir);
    DMG_PATH_FMT(w->out, sizeof w->out, "%s/out", w->dir);
    DMG_PATH_FMT(w->log, sizeof w->log, "%s/audit.log", w->dir);
    DMG_PATH_FMT(w->fail_flag, sizeof w->fail_flag, "%s/sendmail-fails", w->dir);
    ck_assert_int_eq(mkdir(w->out, 0700), 0);
    ck_assert_int_eq(mkdir(w->spool, 0700), 0); /* the administrator creates it */
    DMG_PATH_FMT(path, sizeof path, "%s/mta.pw", w->dir);
    DMG_WRITE_FILE(path, DMG_PASSWORD "\n", 0600);
    DMG_PATH_FMT(path, sizeof path, "%s/secret", w->dir);
    DMG_WRITE_FILE(path, "0123456789abcdef0123456789abcdef\n", 0600);
    DMG_PATH_FMT(path, sizeof path, "%s/old-secret", w->dir);
    DMG_WRITE_FILE(path, "an older secret, still accepted\n", 0600);
    /* sendmail: arguments and standard input of each run, numbered */
    DMG_PATH_FMT(path, sizeof path, "%s/sendmail", w->dir);
    DMG_PATH_FMT(text, sizeof text,
             "#!/bin/sh\n"
             "[ -f '%s' ] && exit 75\n"
             "n=$(ls '%s' | wc -l)\n"
             "f='%s'/$(printf '%%04d' $((n / 2 + 1)))\n"
             "cat > \"$f.msg\"\n"
             "printf '%%s\\n' \"$@\" > \"$f.args\"\n",
             w->fail_flag, w->out, w->out);
    DMG_WRITE_FILE(path, text, 0700);
    DMG_PATH_FMT(w->conf, sizeof w->conf, "%s/dmg-audit.conf", w->dir);
    DMG_PATH_FMT(text, sizeof text,
             "# written by test_audit.c\n"
             "uri = %s\n"
             "base = dc=example,dc=com\n"
             "bind_dn = " MTA_DN "\n"
             "bind_pw_file = %s/mta.pw\n"
             "timeout = 5\n"
             "spool_directory = %s\n"
             "secret_file = %s/secret\n"
             "review_domain = " REVIEW "\n"
             "sendmail_path = %s/sendmail\n"
             "log_file = %s\n"
             "%s",
             uri != NULL ? uri : dmg_server_uri(server), w->dir, w->spool, w->dir, w->dir,
             w->log, extra_config != NULL ? extra_config : "");
    DMG_WRITE_FILE(w->conf, text, 0600);
}

/* The dmg-audit binary into path: the installed one, $DMG_AUDIT (default
 * $DMG_BUILDDIR/tools/dmg-audit), or with hooks the test build, $DMG_AUDIT_HOOKS (default
 * $DMG_BUILDDIR/tests/integration/dmg-audit-hooks). */
static void audit_binary(char *path, size_t size, int hooks)
{
    const char *bin = getenv(hooks ? "DMG_AUDIT_HOOKS" : "DMG_AUDIT");
    if (bin != NULL && bin[0] != '\0') {
        DMG_PATH_FMT(path, size, "%s", bin);
    } else {
        const char *b = getenv("DMG_BUILDDIR");
        DMG_PATH_FMT(path, size, "%s/%s", b != NULL && *b ? b : ".",
                 hooks ? "tests/integration/dmg-audit-hooks" : "tools/dmg-audit");
    }
    ck_assert_msg(access(path, X_OK) == 0, "%s is not executable (set %s)", path,
                  hooks ? "DMG_AUDIT_HOOKS" : "DMG_AUDIT");
}

/* Run dmg-audit -c CONF ARGS... (the test build with w->hooks) with input as standard
 * input; output into *out (may be NULL). env: "NAME=VALUE" to add, or NULL. The exit status
 * (128+N for signal N). */
static int audit_run(world *w, const char *input, char **out, const char *env,
                     const char *const *args)
{
    char bin[PATH_MAX], in_path[PATH_MAX], out_path[PATH_MAX];
    audit_binary(bin, sizeof bin, w->hooks);
    DMG_PATH_FMT(in_path, sizeof in_path, "%s/stdin", w->dir);
    DMG_PATH_FMT(out_path, sizeof out_path, "%s/stdout", w->dir);
    DMG_WRITE_FILE(in_path, input != NULL ? input : "", 0600);
    const char *argv[32];
    size_t n = 0;
    argv[n++] = bin;
    argv[n++] = "-c";
    argv[n++] = w->conf;
    for (size_t i = 0; args[i] != NULL; i++) {
        ck_assert_uint_lt(n, 31);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int i = open(in_path, O_RDONLY);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (i < 0 || o < 0)
            _exit(126);
        dup2(i, 0);
        dup2(o, 1);
        dup2(o, 2);
        if (env != NULL)
            putenv((char *)env);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    char *text = dmg_read_file(out_path);
    if (out != NULL)
        *out = text;
    else
        free(text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char message_fmt[] =
    "Received: from client.example.org (client.example.org [192.0.2.1])\r\n"
    "\tby mx.example.com (Postfix) with ESMTP id %s\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=from:to:subject;\r\n"
    "\tbh=abc=; b=def=\r\n"
    "From: Sender <%s>\r\n"
    "To: " GROUP ", other@example.com\r\n"
    "Subject: %s\r\n"
    "Date: Thu, 3 Dec 2026 12:00:00 +0000\r\n"
    "Message-ID: <%s@example.com>\r\n"
    "\r\n"
    "Hello team,\r\n"
    "this is %s.\r\n"
    ".leading dot and trailing blanks   \r\n";

static char *message(const char *queue_id, const char *sender, const char *subject)
{
    char *m = NULL;
    ck_assert_int_ge(asprintf(&m, message_fmt, queue_id, sender, subject, queue_id, subject), 0);
    return m;
}

/* deliver as pipe(8) runs it; the exit status */
static int deliver(world *w, const char *queue_id, const char *sender, const char *client,
                   const char *sasl, const char *msg, char **out, const char *env)
{
    char s[300], q[100], c[100], u[100];
    DMG_PATH_FMT(s, sizeof s, "--sender=%s", sender);
    DMG_PATH_FMT(q, sizeof q, "--queue-id=%s", queue_id);
    DMG_PATH_FMT(c, sizeof c, "--client-address=%s", client);
    DMG_PATH_FMT(u, sizeof u, "--sasl-username=%s", sasl);
    return audit_run(w, msg, out, env,
                     ARGS("deliver", s, RCPT, "--original-recipient=" GROUP, q, c, u));
}

static int decide(world *w, const char *queue_id, const char *sender, const char *rcpt,
                  const char *client, const char *sasl, const char *body, char **out,
                  const char *env)
{
    char s[300], r[300], q[100], c[100], u[100], *msg = NULL;
    DMG_PATH_FMT(s, sizeof s, "--sender=%s", sender);
    DMG_PATH_FMT(r, sizeof r, "--recipient=%s", rcpt);
    DMG_PATH_FMT(q, sizeof q, "--queue-id=%s", queue_id);
    DMG_PATH_FMT(c, sizeof c, "--client-address=%s", client);
    DMG_PATH_FMT(u, sizeof u, "--sasl-username=%s", sasl);
    ck_assert_int_ge(asprintf(&msg, "From: <%s>\nTo: <%s>\nSubject: Re: Audit\n\n%s", sender,
                              rcpt, body != NULL ? body : ""), 0);
    int st = audit_run(w, msg, out, env, ARGS("decide", s, r, q, c, u));
    free(msg);
    return st;
}

/* "DMG_AUDIT_CRASH_<step>=<flag>" with the flag file created: dmg-audit kills itself there,
 * once. Static. */
static const char *crash_env(world *w, const char *step)
{
    static char env[PATH_MAX + 64];
    char flag[PATH_MAX];
    DMG_PATH_FMT(flag, sizeof flag, "%s/crash-%s", w->dir, step);
    DMG_WRITE_FILE(flag, "", 0600);
    DMG_PATH_FMT(env, sizeof env, "DMG_AUDIT_CRASH_%s=%s", step, flag);
    return env;
}

/* The recorded sendmail runs after the ones seen so far: each "ARGS\n--\nMESSAGE"; count
 * in *n. Marks them seen. */
typedef struct mail {
    char *args;   /* one argument per line */
    char *msg;
} mail;

static size_t new_mails(world *w, mail *m, size_t max)
{
    size_t n = 0;
    for (;;) {
        char a[PATH_MAX], b[PATH_MAX];
        DMG_PATH_FMT(a, sizeof a, "%s/%04d.args", w->out, w->seen + 1);
        DMG_PATH_FMT(b, sizeof b, "%s/%04d.msg", w->out, w->seen + 1);
        if (access(a, F_OK) != 0)
            break;
        ck_assert_uint_lt(n, max);
        m[n].args = dmg_read_file(a);
        m[n].msg = dmg_read_file(b);
        n++;
        w->seen++;
    }
    return n;
}

static void free_mails(mail *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].args);
        free(m[i].msg);
    }
}

/* The audit ID from the log's "held: queue_id=Q audit_id=ID" line. */
static void held_id(world *w, const char *queue_id, char *id, size_t size)
{
    char *log = dmg_read_file(w->log), want[128];
    DMG_PATH_FMT(want, sizeof want, "held: queue_id=%s audit_id=", queue_id);
    const char *p = strstr(log, want);
    ck_assert_msg(p != NULL, "no \"%s\" in the log:\n%s", want, log);
    p += strlen(want);
    snprintf(id, size, "%.*s", (int)strcspn(p, " "), p);
    ck_assert_uint_eq(strlen(id), 16);
    free(log);
}

/* The decision address of a kind ("approve" / "reject") in a notice. */
static void decision_addr(const char *notice, const char *kind, char *out, size_t size)
{
    char want[32];
    DMG_PATH_FMT(want, sizeof want, "    %s+", kind);
    const char *p = strstr(notice, want);
    ck_assert_msg(p != NULL, "no %s address in the notice:\n%s", kind, notice);
    p += 4;
    snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
}

static void assert_log_has(world *w, const char *needle)
{
    char *log = dmg_read_file(w->log);
    ck_assert_msg(strstr(log, needle) != NULL, "\"%s\" not in the log:\n%s", needle, log);
    free(log);
}

static int log_count(world *w, const char *needle)
{
    char *log = dmg_read_file(w->log);
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(log);
    return n;
}

static const char *state_of(world *w, const char *id)
{
    static char state[32];
    char *out;
    ck_assert_int_eq(audit_run(w, NULL, &out, NULL, ARGS("show", "--json", id)), 0);
    const char *p = strstr(out, "\"state\": \"");
    ck_assert_msg(p != NULL, "no state in %s", out);
    p += 10;
    snprintf(state, sizeof state, "%.*s", (int)strcspn(p, "\""), p);
    free(out);
    return state;
}

/* Hold one message from bob; returns its ID, the approve and reject addresses (from the
 * notice to alice@example.com). */
static void hold_one(world *w, const char *queue_id, char *id, char *approve, char *reject,
                     char **msg_out)
{
    char *msg = message(queue_id, "bob@example.com", "Quarterly numbers"), *out;
    ck_assert_int_eq(deliver(w, queue_id, "bob@example.com", "127.0.0.1", "", msg, &out, NULL),
                     0);
    free(out);
    held_id(w, queue_id, id, 17);
    mail m[8];
    size_t n = new_mails(w, m, 8);
    ck_assert_uint_eq(n, 3); /* alice (two addresses), carol */
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (strstr(m[i].args, "\nalice@example.com\n") != NULL) {
            decision_addr(m[i].msg, "approve", approve, 200);
            decision_addr(m[i].msg, "reject", reject, 200);
            found = 1;
        }
    }
    ck_assert(found);
    free_mails(m, n);
    if (msg_out != NULL)
        *msg_out = msg;
    else
        free(msg);
}

/* The one new sendmail run is bob's message msg, released to every member byte for byte
 * (DKIM signatures still verify), and id is done. */
static void assert_released(world *w, const char *id, const char *msg)
{
    static const char head[] = "-i\n-f\nbob@example.com\n--\n";
    mail m[8];
    size_t n = new_mails(w, m, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_msg(strncmp(m[0].args, head, strlen(head)) == 0, "%s", m[0].args);
    char *sorted = dmg_sorted_lines(m[0].args + strlen(head));
    ck_assert_str_eq(sorted, MEMBERS);
    free(sorted);
    ck_assert_str_eq(m[0].msg, msg);
    free_mails(m, n);
    ck_assert_str_eq(state_of(w, id), "done");
}

/* ============================================================================================
 * Tests
 * ========================================================================================== */

/* Held and notified: one notice per auditor address with everything an auditor needs; the
 * spool keeps the message byte for byte; the log has held and notified with both IDs. */
START_TEST(test_held_and_notified)
{
    world w;
    make_world(&w, NULL, NULL);
    char *msg = message("4QHELD1", "bob@example.com", "Quarterly numbers"), *out;
    ck_assert_int_eq(deliver(&w, "4QHELD1", "bob@example.com", "127.0.0.1", "", msg, &out,
                             NULL), 0);
    ck_assert_str_eq(out, "");
    free(out);
    char id[17];
    held_id(&w, "4QHELD1", id, sizeof id);
    mail m[8];
    size_t n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 3);
    const char *to[] = { "alice.anderson@example.com", "alice@example.com", "carol@example.com" };
    for (size_t k = 0; k < 3; k++) {
        char args[200];
        DMG_PATH_FMT(args, sizeof args, "-i\n-f\n\n--\n%s\n", to[k]);
        size_t i;
        for (i = 0; i < n && strcmp(m[i].args, args) != 0; i++)
            ;
        ck_assert_msg(i < n, "no notice to %s", to[k]);
        const char *t = m[i].msg;
        char line[200];
        DMG_PATH_FMT(line, sizeof line, "To: <%s>\n", to[k]);
        const char *want[] = {
            line,
            "Subject: Audit: message from bob@example.com to " GROUP ": Quarterly numbers\n",
            "  Group:       " GROUP "\n",
            "  Sender:      bob@example.com\n",
            "  Subject:     Quarterly numbers\n",
            "  Date:        Thu, 3 Dec 2026 12:00:00 +0000\n",
            "  Message-ID:  <4QHELD1@example.com>\n",
            "queue ID 4QHELD1",
            "    approve+", "    reject+", "@" REVIEW "\n",
            "> Hello team,\n> this is Quarterly numbers.\n> .leading dot and trailing blanks\n",
        };
        for (size_t j = 0; j < sizeof want / sizeof want[0]; j++)
            ck_assert_msg(strstr(t, want[j]) != NULL, "\"%s\" not in the notice:\n%s", want[j],
                          t);
        char size_line[64];
        DMG_PATH_FMT(size_line, sizeof size_line, "  Size:        %zu bytes\n", strlen(msg));
        ck_assert_msg(strstr(t, size_line) != NULL, "no \"%s\" in:\n%s", size_line, t);
        ck_assert_ptr_nonnull(strstr(t, id));
    }
    free_mails(m, n);

    /* the spool keeps the message exactly */
    char path[PATH_MAX];
    DMG_PATH_FMT(path, sizeof path, "%s/msg/%s", w.spool, id);
    char *copy = dmg_read_file(path);
    ck_assert_str_eq(copy, msg);
    free(copy);

    char line[200];
    DMG_PATH_FMT(line, sizeof line, "held: queue_id=4QHELD1 audit_id=%s group=" GROUP
             " sender=bob@example.com size=%zu message_id=<4QHELD1@example.com>", id,
             strlen(msg));
    assert_log_has(&w, line);
    DMG_PATH_FMT(line, sizeof line, "notified: queue_id=4QHELD1 audit_id=%s group=" GROUP
             " auditors=", id);
    assert_log_has(&w, line);

    /* the postmaster's view */
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("list", "--json")), 0);
    ck_assert_msg(strstr(out, id) != NULL && strstr(out, "\"state\": \"held\"") != NULL
                  && strstr(out, "\"sender\": \"bob@example.com\"") != NULL
                  && strstr(out, "\"subject\": \"Quarterly numbers\"") != NULL, "%s", out);
    ck_assert_int_eq(out[0], '[');
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("list")), 0);
    ck_assert_msg(strstr(out, id) != NULL && strstr(out, "held") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("show", id)), 0);
    ck_assert_msg(strstr(out, "State:       held") != NULL
                  && strstr(out, "Queue ID:    4QHELD1") != NULL
                  && strstr(out, "Notified:    yes") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("show", "0000000000000000")), 65);
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("show", "../../etc")), 64);
    free(out);
    free(msg);
}
END_TEST

/* Approve by mail: the group's members at approval get the message unchanged, with the
 * original envelope sender; later decisions (another auditor, the same token again) get
 * "already decided" and change nothing. */
START_TEST(test_approve_by_mail)
{
    world w;
    make_world(&w, NULL, NULL);
    char id[17], approve[200], reject[200], *msg, *out;
    hold_one(&w, "4QAPPR1", id, approve, reject, &msg);

    ck_assert_int_eq(decide(&w, "4QDEC1", "alice@example.com", approve, "127.0.0.1", "",
                            "ok\n", &out, NULL), 0);
    free(out);
    assert_released(&w, id, msg);
    mail m[8];
    size_t n;
    char line[200];
    DMG_PATH_FMT(line, sizeof line, "approved: queue_id=4QAPPR1 audit_id=%s group=" GROUP
             " sender=bob@example.com by=alice@example.com", id);
    assert_log_has(&w, line);
    DMG_PATH_FMT(line, sizeof line, "released: queue_id=4QAPPR1 audit_id=%s group=" GROUP
             " sender=bob@example.com members=6", id);
    assert_log_has(&w, line);

    /* carol, too late; alice again with the same token: "already decided" notices */
    ck_assert_int_eq(decide(&w, "4QDEC2", "carol@example.com", reject, "127.0.0.1", "",
                            "no\n", &out, NULL), 0);
    free(out);
    ck_assert_int_eq(decide(&w, "4QDEC3", "alice@example.com", approve, "127.0.0.1", "", "",
                            &out, NULL), 0);
    free(out);
    n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(m[0].args, "-i\n-f\n\n--\ncarol@example.com\n");
    ck_assert_ptr_nonnull(strstr(m[0].msg, "already decided (approved by alice@example.com"));
    ck_assert_str_eq(m[1].args, "-i\n-f\n\n--\nalice@example.com\n");
    ck_assert_int_eq(log_count(&w, "released:"), 1);
    ck_assert_int_eq(log_count(&w, "already decided"), 2);
    free_mails(m, n);
    /* the postmaster cannot decide it again either */
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("reject", id, "late")), 65);
    ck_assert_ptr_nonnull(strstr(out, "already decided"));
    free(out);
    ck_assert_uint_eq(new_mails(&w, m, 8), 0);
    free(msg);
}
END_TEST

/* dmg-policyd's settings as they are. No base (its default): dmg-audit searches where
 * dmg-policyd does, every naming context, for the decision, the auditors, an authenticated
 * auditor's account and the members at release. The old setup's filter that left audited
 * groups out of dmg-policyd: not applied (a warning says so), or nothing would be found. */
START_TEST(test_no_base)
{
    world w;
    make_world(&w, "filter = (!(dmgAuditRequired=TRUE))\nhold_action = review\n", NULL);
    char *conf = dmg_read_file(w.conf), *at = strstr(conf, "base = dc=example,dc=com\n");
    ck_assert_ptr_nonnull(at);
    memmove(at, at + strlen("base = dc=example,dc=com\n"),
            strlen(at + strlen("base = dc=example,dc=com\n")) + 1);
    ck_assert_ptr_null(strstr(conf, "base"));
    DMG_WRITE_FILE(w.conf, conf, 0600);
    free(conf);

    char id[17], approve[200], reject[200], *msg, *out;
    hold_one(&w, "4QNOBASE1", id, approve, reject, &msg); /* decision and auditors found */
    /* alice, authenticated from an untrusted network: her account is found too */
    ck_assert_int_eq(decide(&w, "4QNOBASE2", "alice@example.com", approve, "203.0.113.9",
                            "alice", "ok\n", &out, NULL), 0);
    free(out);
    assert_released(&w, id, msg);
    assert_log_has(&w, ": filter (!(dmgAuditRequired=TRUE)) is not used by dmg-audit: "
                       "every group Postfix routes to the review is decided");
    free(msg);
}
END_TEST

/* tools/dmg-audit.conf.example works as written, but for the paths and the server's URI:
 * held, auditors notified. */
START_TEST(test_example_config)
{
    world w;
    make_world(&w, NULL, NULL);
    const char *src = getenv("DMG_SRCDIR");
    char example[PATH_MAX], line[2048], *conf = NULL;
    size_t len = 0;
    int replaced = 0;
    DMG_PATH_FMT(example, sizeof example, "%s/tools/dmg-audit.conf.example",
             src != NULL && *src ? src : ".");
    FILE *in = fopen(example, "r");
    ck_assert_msg(in != NULL, "cannot read %s (set DMG_SRCDIR)", example);
    FILE *out = open_memstream(&conf, &len);
    ck_assert_ptr_nonnull(out);
    while (fgets(line, sizeof line, in) != NULL) {
        static const char *const keys[] = { "uri =", "bind_pw_file =", "spool_directory =",
                                            "secret_file =" };
        static const char *const values[] = { "uri = %s\n", "bind_pw_file = %s/mta.pw\n",
                                              "spool_directory = %s\n",
                                              "secret_file = %s/secret\n" };
        const char *with[] = { dmg_server_uri(server), w.dir, w.spool, w.dir };
        size_t k = 0;
        while (k < 4 && strncmp(line, keys[k], strlen(keys[k])) != 0)
            k++;
        if (k < 4) {
            fprintf(out, values[k], with[k]);
            replaced++;
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    fprintf(out, "sendmail_path = %s/sendmail\nlog_file = %s\n", w.dir, w.log);
    ck_assert_int_eq(fclose(out), 0);
    ck_assert_int_eq(replaced, 4);
    DMG_WRITE_FILE(w.conf, conf, 0600);
    free(conf);
    char id[17], approve[200], reject[200];
    hold_one(&w, "4QEXAMPLE1", id, approve, reject, NULL);
    ck_assert_str_eq(state_of(&w, id), "held");
}
END_TEST

/* Reject by mail: nothing delivered; the sender gets the auditor's reason. */
START_TEST(test_reject_by_mail)
{
    world w;
    make_world(&w, NULL, NULL);
    char id[17], approve[200], reject[200], *out;
    hold_one(&w, "4QREJ1", id, approve, reject, NULL);
    ck_assert_int_eq(decide(&w, "4QDEC4", "carol@example.com", reject, "::1", "",
                            "\n> quoted notice\nNot for this list, sorry.\nCarol\n", &out,
                            NULL), 0);
    free(out);
    mail m[8];
    size_t n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(m[0].args, "-i\n-f\n\n--\nbob@example.com\n");
    ck_assert_ptr_nonnull(strstr(m[0].msg, "Subject: Rejected by the auditor of " GROUP
                                           ": Quarterly numbers\n"));
    ck_assert_ptr_nonnull(strstr(m[0].msg, "Reason: Not for this list, sorry.\n"));
    free_mails(m, n);
    ck_assert_str_eq(state_of(&w, id), "done");
    char line[200];
    DMG_PATH_FMT(line, sizeof line, "rejected: queue_id=4QREJ1 audit_id=%s group=" GROUP
             " sender=bob@example.com by=carol@example.com reason=Not for this list, sorry.",
             id);
    assert_log_has(&w, line);
    ck_assert_int_eq(log_count(&w, "released:"), 0);
    /* approving afterwards changes nothing */
    ck_assert_int_eq(decide(&w, "4QDEC5", "alice@example.com", approve, "127.0.0.1", "", "",
                            &out, NULL), 0);
    free(out);
    n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(m[0].msg, "already decided (rejected by carol@example.com"));
    free_mails(m, n);
    ck_assert_int_eq(log_count(&w, "released:"), 0);
}
END_TEST

/* Forged decisions are refused (exit 77, a 5.7.1 bounce), logged, and change nothing. */
START_TEST(test_forged_decisions)
{
    world w;
    make_world(&w, "trusted_networks = 127.0.0.0/8\n", NULL);
    char id[17], approve[200], reject[200], *out;
    hold_one(&w, "4QFRG1", id, approve, reject, NULL);

    struct {
        const char *sender, *rcpt, *client, *sasl, *why;
    } cases[] = {
        /* not an auditor, with a valid token */
        { "bob@example.com", approve, "127.0.0.1", "", "bob@example.com is not an auditor" },
        { "uma@example.com", reject, "127.0.0.1", "", "is not an auditor" },
        /* an auditor's address from an untrusted client without authentication */
        { "alice@example.com", approve, "198.51.100.7", "", "neither authenticated nor" },
        /* authenticated as someone else */
        { "alice@example.com", approve, "198.51.100.7", "bob", "not an address of the "
                                                               "authenticated account bob" },
        /* wrong token, unknown ID, malformed, another domain, null sender */
        { "alice@example.com", NULL, "127.0.0.1", "", "wrong token" },
        { "alice@example.com", "approve+0000000000000000-00000000000000000000000000000000@"
          REVIEW, "127.0.0.1", "", "no held message" },
        { "alice@example.com", "approve+xyz@" REVIEW, "127.0.0.1", "", "malformed" },
        { "alice@example.com", "postmaster@" REVIEW, "127.0.0.1", "", "neither approve" },
        { "", approve, "127.0.0.1", "", "needs the auditor's address" },
    };
    char wrong[200];
    snprintf(wrong, sizeof wrong, "%s", approve);
    char *dash = strchr(wrong, '-');
    dash[1] = dash[1] == 'a' ? 'b' : 'a';
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char q[32];
        snprintf(q, sizeof q, "4QF%zu", i);
        int st = decide(&w, q, cases[i].sender, cases[i].rcpt ? cases[i].rcpt : wrong,
                        cases[i].client, cases[i].sasl, "", &out, NULL);
        ck_assert_msg(st == 77, "case %zu: status %d: %s", i, st, out);
        ck_assert_msg(strncmp(out, "5.7.1 decision refused: ", 24) == 0
                      && strstr(out, cases[i].why) != NULL, "case %zu: %s", i, out);
        free(out);
        char line[64];
        snprintf(line, sizeof line, "refused: queue_id=%s ", q);
        assert_log_has(&w, line);
        ck_assert_str_eq(state_of(&w, id), "held");
    }
    mail m[8];
    ck_assert_uint_eq(new_mails(&w, m, 8), 0);

    /* alice authenticated from anywhere: accepted */
    ck_assert_int_eq(decide(&w, "4QFOK", "Alice@Example.com", approve, "198.51.100.7", "alice",
                            "", &out, NULL), 0);
    free(out);
    size_t n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(m[0].args, "\nsam@example.com\n"));
    free_mails(m, n);
    ck_assert_str_eq(state_of(&w, id), "done");
}
END_TEST

/* A token made with the previous secret still works while previous_secret_file names it;
 * without it, it is refused. */
START_TEST(test_secret_rotation)
{
    world w;
    make_world(&w, NULL, NULL);
    char id[17], approve[200], reject[200], *out, path[PATH_MAX], text[PATH_MAX * 2];
    hold_one(&w, "4QROT1", id, approve, reject, NULL);
    /* rotate: the new secret in secret_file, the old one as previous */
    DMG_PATH_FMT(path, sizeof path, "%s/secret", w.dir);
    char old[PATH_MAX];
    DMG_PATH_FMT(old, sizeof old, "%s/secret.previous", w.dir);
    ck_assert_int_eq(rename(path, old), 0);
    DMG_WRITE_FILE(path, "a brand new secret of 32 bytes..\n", 0600);
    ck_assert_int_eq(decide(&w, "4QROT2", "alice@example.com", approve, "127.0.0.1", "", "",
                            &out, NULL), 77);
    ck_assert_ptr_nonnull(strstr(out, "wrong token"));
    free(out);
    char *conf = dmg_read_file(w.conf);
    DMG_PATH_FMT(text, sizeof text, "%sprevious_secret_file = %s\n", conf, old);
    free(conf);
    DMG_WRITE_FILE(w.conf, text, 0600);
    ck_assert_int_eq(decide(&w, "4QROT3", "alice@example.com", approve, "127.0.0.1", "", "",
                            &out, NULL), 0);
    free(out);
    ck_assert_str_eq(state_of(&w, id), "done");
}
END_TEST

/* Expiry after hold_days: the sender and the auditors are told; nothing is delivered. */
START_TEST(test_expiry)
{
    world w;
    make_world(&w, "hold_days = 2\n", NULL);
    w.hooks = 1;
    char id[17], approve[200], reject[200], *out, now[64];
    hold_one(&w, "4QEXP1", id, approve, reject, NULL);
    /* a file a killed writer left in tmp/: removed after a day */
    char stale[PATH_MAX];
    DMG_PATH_FMT(stale, sizeof stale, "%s/tmp/123.1.deadbeef", w.spool);
    DMG_WRITE_FILE(stale, "half a message", 0600);
    snprintf(now, sizeof now, "--now=%ld", (long)time(NULL) + 3600);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("expire", now)), 0);
    free(out);
    ck_assert_int_eq(access(stale, F_OK), 0);
    snprintf(now, sizeof now, "--now=%ld", (long)time(NULL) + 86400 + 60);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("expire", now)), 0);
    free(out);
    ck_assert_int_eq(access(stale, F_OK), -1);
    ck_assert_str_eq(state_of(&w, id), "held");
    snprintf(now, sizeof now, "--now=%ld", (long)time(NULL) + 2 * 86400 + 60);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("expire", now)), 0);
    free(out);
    ck_assert_str_eq(state_of(&w, id), "done");
    mail m[8];
    size_t n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 4); /* bob, alice (2), carol */
    ck_assert_str_eq(m[0].args, "-i\n-f\n\n--\nbob@example.com\n");
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(strstr(m[i].msg, "Subject: Expired without an audit decision"));
        ck_assert_ptr_nonnull(strstr(m[i].msg, "waited 2 days"));
        ck_assert_ptr_null(strstr(m[i].args, "sam@example.com"));
    }
    free_mails(m, n);
    char line[200];
    DMG_PATH_FMT(line, sizeof line, "expired: queue_id=4QEXP1 audit_id=%s group=" GROUP, id);
    assert_log_has(&w, line);
    /* a decision afterwards: already decided (expired) */
    ck_assert_int_eq(decide(&w, "4QEXP2", "alice@example.com", approve, "127.0.0.1", "", "",
                            &out, NULL), 0);
    free(out);
    n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(m[0].msg, "already decided (expired by expiry after 2 days"));
    free_mails(m, n);
}
END_TEST

/* The auditor's own mail is not held: straight to the members, unchanged. A sender the
 * group does not allow is bounced with the directory's reason. */
START_TEST(test_auditor_and_rejected_sender)
{
    world w;
    make_world(&w, NULL, NULL);
    char *msg = message("4QAUD1", "alice.anderson@example.com", "From the auditor"), *out;
    ck_assert_int_eq(deliver(&w, "4QAUD1", "alice.anderson@example.com", "", "", msg, &out,
                             NULL), 0);
    free(out);
    mail m[8];
    size_t n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(m[0].args, "-f\nalice.anderson@example.com\n--\n"));
    ck_assert_ptr_nonnull(strstr(m[0].args, "\nRita.Rossi@Example.COM\n"));
    ck_assert_str_eq(m[0].msg, msg);
    free_mails(m, n);
    assert_log_has(&w, "accepted: queue_id=4QAUD1 ");
    ck_assert_int_eq(log_count(&w, "held:"), 0);
    free(msg);

    /* an auditor's address from an untrusted, unauthenticated client is held like any */
    msg = message("4QAUD2", "alice@example.com", "Claims to be the auditor");
    ck_assert_int_eq(deliver(&w, "4QAUD2", "alice@example.com", "203.0.113.9", "", msg, &out,
                             NULL), 0);
    free(out);
    assert_log_has(&w, "held: queue_id=4QAUD2 ");
    n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 3);
    free_mails(m, n);
    free(msg);
    /* authenticated as bob but sending as alice: bounced */
    msg = message("4QAUD3", "alice@example.com", "Spoofed");
    ck_assert_int_eq(deliver(&w, "4QAUD3", "alice@example.com", "203.0.113.9", "bob", msg,
                             &out, NULL), 77);
    ck_assert_str_eq(out, "5.7.1 sender alice@example.com is not an address of the "
                          "authenticated account bob\n");
    free(out);
    /* a login no account has (the login is a value, never a filter) */
    ck_assert_int_eq(deliver(&w, "4QAUD3", "alice@example.com", "203.0.113.9", "x)(uid=alice",
                             msg, &out, NULL), 77);
    ck_assert_str_eq(out, "5.7.1 no account found for the authenticated user x)(uid=alice\n");
    free(out);
    free(msg);

    /* not allowed by the group: 5.7.1 with the directory's reason, nothing kept */
    msg = message("4QOUT1", "zoe@example.org", "From outside");
    ck_assert_int_eq(deliver(&w, "4QOUT1", "zoe@example.org", "127.0.0.1", "", msg, &out, NULL),
                     77);
    ck_assert_msg(strncmp(out, "5.7.1 sender zoe@example.org is not allowed to send to " GROUP,
                          60) == 0, "%s", out);
    free(out);
    ck_assert_uint_eq(new_mails(&w, m, 8), 0);
    /* both bounces logged with the queue ID and the message's audit ID */
    ck_assert_int_eq(log_count(&w, "rejected: queue_id=4QAUD3 audit_id="), 2);
    ck_assert_int_eq(log_count(&w, "rejected: queue_id=4QOUT1 audit_id="), 1);
    char path[PATH_MAX];
    DMG_PATH_FMT(path, sizeof path, "%s/tmp", w.spool);
    DIR *d = opendir(path);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL)
        files += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(files, 0);
    free(msg);
}
END_TEST

/* The directory cannot be reached: try again later (75), nothing kept, nothing sent. */
START_TEST(test_directory_unavailable)
{
    char uri[64];
    snprintf(uri, sizeof uri, "ldap://127.0.0.1:%d/", dmg_unused_port());
    world w;
    make_world(&w, NULL, uri);
    char *msg = message("4QDOWN", "bob@example.com", "x"), *out;
    ck_assert_int_eq(deliver(&w, "4QDOWN", "bob@example.com", "127.0.0.1", "", msg, &out,
                             NULL), 75);
    ck_assert_msg(strncmp(out, "4.3.0 ", 6) == 0, "%s", out);
    free(out);
    mail m[4];
    ck_assert_uint_eq(new_mails(&w, m, 4), 0);
    free(msg);
    /* trusted_networks is dmg-policyd's setting, checked by its code */
    char *conf = dmg_read_file(w.conf), *bad = NULL;
    ck_assert_int_ge(asprintf(&bad, "%strusted_networks = 10.0.0.0/0\n", conf), 0);
    DMG_WRITE_FILE(w.conf, bad, 0600);
    free(bad);
    free(conf);
    ck_assert_int_eq(deliver(&w, "4QDOWN", "bob@example.com", "127.0.0.1", "", "x", &out,
                             NULL), 75);
    ck_assert_ptr_nonnull(strstr(out, "4.3.5 dmg-audit: configuration error"));
    free(out);
    assert_log_has(&w, "trusted_networks: \"10.0.0.0/0\": address bits set after the prefix");
    /* a broken configuration: also 75 (the message stays in Postfix's queue) */
    DMG_WRITE_FILE(w.conf, "spool_directory = relative\n", 0600);
    ck_assert_int_eq(deliver(&w, "4QDOWN", "bob@example.com", "127.0.0.1", "", "x", &out,
                             NULL), 75);
    ck_assert_ptr_nonnull(strstr(out, "4.3.5 dmg-audit: configuration error"));
    free(out);

    /* held while the directory answered, then it is gone: a decision by mail waits (75, the
     * auditors cannot be read), the postmaster's approval is recorded and its release waits
     * (the members cannot be read); nothing is delivered until it is back */
    world v;
    make_world(&v, NULL, NULL);
    char id[17], approve[200], reject[200], *held;
    hold_one(&v, "4QDOWN2", id, approve, reject, &held);
    char *orig = dmg_read_file(v.conf), *down = NULL, *at = strstr(orig, dmg_server_uri(server));
    ck_assert_ptr_nonnull(at);
    ck_assert_int_ge(asprintf(&down, "%.*s%s%s", (int)(at - orig), orig, uri,
                              at + strlen(dmg_server_uri(server))), 0);
    DMG_WRITE_FILE(v.conf, down, 0600);
    free(down);
    ck_assert_int_eq(decide(&v, "4QDOWN3", "alice@example.com", approve, "127.0.0.1", "", "",
                            &out, NULL), 75);
    ck_assert_msg(strncmp(out, "4.3.0 dmg-audit: directory: ", 28) == 0, "%s", out);
    free(out);
    ck_assert_str_eq(state_of(&v, id), "held");
    ck_assert_int_eq(audit_run(&v, NULL, &out, NULL, ARGS("approve", id)), 75);
    free(out);
    ck_assert_str_eq(state_of(&v, id), "decided");
    ck_assert_uint_eq(new_mails(&v, m, 4), 0);
    /* back: the timer carries the approval out */
    DMG_WRITE_FILE(v.conf, orig, 0600);
    free(orig);
    ck_assert_int_eq(audit_run(&v, NULL, &out, NULL, ARGS("expire")), 0);
    free(out);
    assert_released(&v, id, held);
    free(held);
}
END_TEST

/* The installed binary has no test hooks: the crash points' variables and expire --now=
 * change nothing (the hooks are compiled only into tests/integration/dmg-audit-hooks). */
START_TEST(test_no_hooks_installed)
{
    world w;
    make_world(&w, NULL, NULL);
    char *msg = message("4QHOOK1", "bob@example.com", "No hooks"), *out, id[17], now[64];
    char env[PATH_MAX + 64], flag[PATH_MAX];
    DMG_PATH_FMT(flag, sizeof flag, "%s/crash-flag", w.dir);
    DMG_WRITE_FILE(flag, "", 0600);
    DMG_PATH_FMT(env, sizeof env, "DMG_AUDIT_CRASH_BEFORE_NOTIFY=%s", flag);
    ck_assert_int_eq(deliver(&w, "4QHOOK1", "bob@example.com", "", "", msg, &out, env), 0);
    free(out);
    ck_assert_int_eq(access(flag, F_OK), 0); /* not taken */
    held_id(&w, "4QHOOK1", id, sizeof id);
    mail m[8];
    size_t n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 3); /* notified at once */
    free_mails(m, n);
    snprintf(now, sizeof now, "--now=%ld", (long)time(NULL) + 30 * 86400);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("expire", now)), 64);
    ck_assert_str_eq(out, "usage: dmg-audit expire\n");
    free(out);
    ck_assert_str_eq(state_of(&w, id), "held");
    ck_assert_uint_eq(new_mails(&w, m, 8), 0);
    free(msg);
}
END_TEST

/* Killed at each step, run again as Postfix (or the timer) would: nothing lost, nothing
 * delivered twice. */
START_TEST(test_crash_and_retry)
{
    world w;
    make_world(&w, NULL, NULL);
    w.hooks = 1;
    char *msg = message("4QCR1", "bob@example.com", "Crash test"), *out, id[17];
    mail m[8];
    size_t n;

    /* killed after storing the message, before recording it: Postfix retries */
    ck_assert_int_eq(deliver(&w, "4QCR1", "bob@example.com", "", "", msg, &out,
                             crash_env(&w, "BEFORE_HELD")), 137);
    free(out);
    ck_assert_uint_eq(new_mails(&w, m, 8), 0);
    /* killed after recording, before the notices */
    ck_assert_int_eq(deliver(&w, "4QCR1", "bob@example.com", "", "", msg, &out,
                             crash_env(&w, "BEFORE_NOTIFY")), 137);
    free(out);
    ck_assert_uint_eq(new_mails(&w, m, 8), 0);
    held_id(&w, "4QCR1", id, sizeof id);
    /* the retry sends the notices, once */
    ck_assert_int_eq(deliver(&w, "4QCR1", "bob@example.com", "", "", msg, &out, NULL), 0);
    free(out);
    n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 3);
    char approve[200], reject[200];
    decision_addr(m[0].msg, "approve", approve, sizeof approve);
    decision_addr(m[0].msg, "reject", reject, sizeof reject);
    free_mails(m, n);
    /* and another retry does nothing more */
    ck_assert_int_eq(deliver(&w, "4QCR1", "bob@example.com", "", "", msg, &out, NULL), 0);
    free(out);
    ck_assert_uint_eq(new_mails(&w, m, 8), 0);
    ck_assert_int_eq(log_count(&w, "held: queue_id=4QCR1"), 1);
    ck_assert_int_eq(log_count(&w, "duplicate: queue_id=4QCR1"), 2);

    /* the approval's sendmail fails: decision kept, release deferred (75); the timer
     * finishes it once sendmail works again */
    DMG_WRITE_FILE(w.fail_flag, "", 0600);
    ck_assert_int_eq(decide(&w, "4QCRD1", "alice@example.com", approve, "", "", "", &out, NULL),
                     75);
    free(out);
    ck_assert_str_eq(state_of(&w, id), "decided");
    unlink(w.fail_flag);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("expire")), 0);
    free(out);
    n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(m[0].msg, msg);
    free_mails(m, n);
    ck_assert_str_eq(state_of(&w, id), "done");
    /* Postfix retries the decision mail (it saw 75): nothing more */
    ck_assert_int_eq(decide(&w, "4QCRD1", "alice@example.com", approve, "", "", "", &out, NULL),
                     0);
    free(out);
    ck_assert_int_eq(log_count(&w, "released:"), 1);
    free_mails(m, new_mails(&w, m, 8));
    free(msg);

    /* killed between "handed to sendmail" and "marked done": never released again */
    msg = message("4QCR2", "bob@example.com", "Crash test 2");
    ck_assert_int_eq(deliver(&w, "4QCR2", "bob@example.com", "", "", msg, &out, NULL), 0);
    free(out);
    held_id(&w, "4QCR2", id, sizeof id);
    n = new_mails(&w, m, 8);
    decision_addr(m[0].msg, "approve", approve, sizeof approve);
    free_mails(m, n);
    ck_assert_int_eq(decide(&w, "4QCRD2", "alice@example.com", approve, "", "", "", &out,
                            crash_env(&w, "AFTER_RELEASE")), 137);
    free(out);
    n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 1); /* delivered once */
    free_mails(m, n);
    ck_assert_str_eq(state_of(&w, id), "uncertain");
    /* the same decision mail again, the timer, the postmaster: no second release */
    ck_assert_int_eq(decide(&w, "4QCRD2", "alice@example.com", approve, "", "", "", &out, NULL),
                     0);
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("expire")), 0);
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("approve", id)), 65);
    free(out);
    n = new_mails(&w, m, 8);
    for (size_t i = 0; i < n; i++)
        ck_assert_ptr_null(strstr(m[i].args, "sam@example.com"));
    free_mails(m, n);
    ck_assert_str_eq(state_of(&w, id), "uncertain");
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("show", id)), 0);
    ck_assert_ptr_nonnull(strstr(out, "never repeated automatically"));
    free(out);
    assert_log_has(&w, "uncertain: queue_id=4QCR2 ");
    /* the postmaster found it in the mail log: delivered */
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("resolve", id, "delivered")), 0);
    free(out);
    ck_assert_str_eq(state_of(&w, id), "done");
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("resolve", id, "release")), 65);
    free(out);
    free(msg);

    /* killed right after the marker, before the hand-over: uncertain too; the postmaster
     * finds nothing in the mail log and releases it (once) */
    msg = message("4QCR3", "bob@example.com", "Crash test 3");
    ck_assert_int_eq(deliver(&w, "4QCR3", "bob@example.com", "", "", msg, &out, NULL), 0);
    free(out);
    held_id(&w, "4QCR3", id, sizeof id);
    free_mails(m, new_mails(&w, m, 8));
    ck_assert_int_eq(audit_run(&w, NULL, &out, crash_env(&w, "BEFORE_RELEASE"),
                               ARGS("approve", id)), 137);
    free(out);
    ck_assert_uint_eq(new_mails(&w, m, 8), 0);
    ck_assert_str_eq(state_of(&w, id), "uncertain");
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("resolve", id, "release")), 0);
    free(out);
    n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(m[0].msg, msg);
    free_mails(m, n);
    ck_assert_str_eq(state_of(&w, id), "done");
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("resolve", id, "x")), 64);
    free(out);
    free(msg);
}
END_TEST

/* The postmaster decides from the shell. */
START_TEST(test_postmaster_commands)
{
    world w;
    make_world(&w, NULL, NULL);
    char id1[17], id2[17], a[200], r[200], *out;
    hold_one(&w, "4QPM1", id1, a, r, NULL);
    hold_one(&w, "4QPM2", id2, a, r, NULL);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("list", "--json")), 0);
    ck_assert_ptr_nonnull(strstr(out, id1));
    ck_assert_ptr_nonnull(strstr(out, id2));
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("approve", id1)), 0);
    ck_assert_ptr_nonnull(strstr(out, "approved and released"));
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL,
                               ARGS("reject", id2, "Wrong", "list")), 0);
    free(out);
    mail m[8];
    size_t n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 2);
    ck_assert_ptr_nonnull(strstr(m[0].args, "\ntrent@example.com\n"));
    ck_assert_str_eq(m[1].args, "-i\n-f\n\n--\nbob@example.com\n");
    ck_assert_ptr_nonnull(strstr(m[1].msg, "Reason: Wrong list\n"));
    free_mails(m, n);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("show", "--json", id2)), 0);
    ck_assert_msg(strstr(out, "\"decision\": \"reject\"") != NULL
                  && strstr(out, "\"reason\": \"Wrong list\"") != NULL
                  && strstr(out, "\"decided_by\": \"postmaster ") != NULL, "%s", out);
    free(out);
    /* held list is empty now; --all shows both */
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("list", "--json")), 0);
    ck_assert_str_eq(out, "[]\n");
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("list", "--all")), 0);
    ck_assert_ptr_nonnull(strstr(out, id1));
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("approve")), 64);
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("frobnicate")), 64);
    free(out);
}
END_TEST

/* Approved when nobody can get it: the group has no members, or is gone. Never released
 * to 0 members and marked done (lost): it stays in the spool as "undeliverable", listed,
 * the sender and a deciding auditor are told, one log line says why; expire leaves it;
 * the postmaster releases it once the group has members again, or discards it. */
START_TEST(test_approve_group_gone)
{
    world w;
    make_world(&w, NULL, NULL);
    char id[17], approve[200], reject[200], *msg, *out, line[300];
    const char *dn = "cn=fe-review," GROUPS;
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    hold_one(&w, "4QGONE1", id, approve, reject, &msg);

    /* no members at approval */
    DMG_EXPECT_OK(dmg_modify(root, dn, "replace: dmgDepartment\ndmgDepartment: " GROUPS "\n"),
                  "a department without people");
    ck_assert_int_eq(decide(&w, "4QGDEC1", "alice@example.com", approve, "127.0.0.1", "",
                            "ok\n", &out, NULL), 0);
    free(out);
    mail m[8];
    size_t n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 2); /* the sender and the deciding auditor; nothing to members */
    ck_assert_str_eq(m[0].args, "-i\n-f\n\n--\nbob@example.com\n");
    ck_assert_str_eq(m[1].args, "-i\n-f\n\n--\nalice@example.com\n");
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(strstr(m[i].msg, "Subject: Not delivered: " GROUP " is gone or has no "
                                       "members: Quarterly numbers\n") != NULL, "%s", m[i].msg);
        ck_assert_msg(strstr(m[i].msg, "approved by alice@example.com at ") != NULL
                      && strstr(m[i].msg, "could not be delivered: the group has no "
                                          "members.") != NULL, "%s", m[i].msg);
    }
    free_mails(m, n);
    ck_assert_str_eq(state_of(&w, id), "undeliverable");
    DMG_PATH_FMT(line, sizeof line, "undeliverable: queue_id=4QGONE1 audit_id=%s group=" GROUP
             " sender=bob@example.com: approved, nothing handed over: the group has no "
             "members", id);
    assert_log_has(&w, line);
    ck_assert_int_eq(log_count(&w, "undeliverable: "), 1);
    ck_assert_int_eq(log_count(&w, "released: "), 0);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("list")), 0);
    ck_assert_msg(strstr(out, id) != NULL && strstr(out, "undeliverable") != NULL, "%s", out);
    free(out);
    /* the timer neither retries nor drops it; a second decision changes nothing */
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("expire")), 0);
    free(out);
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("reject", id, "late")), 65);
    free(out);
    ck_assert_uint_eq(new_mails(&w, m, 8), 0);
    ck_assert_str_eq(state_of(&w, id), "undeliverable");
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("resolve", id, "delivered")), 64);
    free(out);
    /* members again: the postmaster releases it, once */
    DMG_EXPECT_OK(dmg_modify(root, dn, "replace: dmgDepartment\ndmgDepartment: ou=Frontend,"
                                       "ou=Engineering,dc=example,dc=com\n"), "restore");
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("resolve", id, "release")), 0);
    free(out);
    assert_released(&w, id, msg);
    free(msg);

    /* the group deleted before the postmaster approves it */
    hold_one(&w, "4QGONE2", id, approve, reject, NULL);
    DMG_EXPECT_OK(dmg_delete(root, dn), "delete the group");
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("approve", id)), 65);
    ck_assert_msg(strstr(out, "NOT delivered") != NULL, "%s", out);
    free(out);
    n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 1); /* the sender; the postmaster saw it on the terminal */
    ck_assert_str_eq(m[0].args, "-i\n-f\n\n--\nbob@example.com\n");
    ck_assert_ptr_nonnull(strstr(m[0].msg, "could not be delivered: the group no longer "
                                           "exists"));
    free_mails(m, n);
    ck_assert_str_eq(state_of(&w, id), "undeliverable");
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("show", id)), 0);
    ck_assert_msg(strstr(out, "State:       undeliverable") != NULL
                  && strstr(out, "the group no longer exists") != NULL, "%s", out);
    free(out);
    /* still gone: a release attempt keeps it (and tells the sender again) */
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("resolve", id, "release")), 65);
    free(out);
    n = new_mails(&w, m, 8);
    ck_assert_uint_eq(n, 1);
    free_mails(m, n);
    ck_assert_str_eq(state_of(&w, id), "undeliverable");
    ck_assert_int_eq(audit_run(&w, NULL, &out, NULL, ARGS("resolve", id, "discard")), 0);
    free(out);
    ck_assert_str_eq(state_of(&w, id), "done");
    DMG_PATH_FMT(line, sizeof line, "discarded: queue_id=4QGONE2 audit_id=%s", id);
    assert_log_has(&w, line);
    ck_assert_uint_eq(new_mails(&w, m, 8), 0);
    dmg_disconnect(root);
    dmg_ensure_entries(server, group_ldif, sizeof group_ldif / sizeof group_ldif[0]);
}
END_TEST

/* ============================================================================================
 * With a real Postfix: a private instance (postfix.h) that delivers to
 * Maildirs with virtual(8) and routes the audited group's copy to dmg-audit, as the README
 * shows:
 *
 *   virtual_alias_maps = ldap:audit.cf, ldap:groups.cf
 *       audit.cf   (&(objectClass=dynamicMailGroup)(mail=%s)(dmgAuditRequired=TRUE))
 *                  result_attribute = mail, result_format = %u=%d@dmg-audit.invalid
 *       groups.cf  (&(objectClass=dynamicMailGroup)(mail=%s)), result_attribute = dmgMemberMail
 *   transport_maps = dmg-audit.invalid -> dmg-audit:, review.example.com -> dmg-decide:
 *   dmg-audit  unix - n n - - pipe user=nobody null_sender= argv=dmg-audit deliver ...
 *   dmg-decide unix - n n - - pipe user=nobody null_sender= argv=dmg-audit decide ...
 *
 * dmg-audit hands releases and notices back as documented by default, with sendmail(1)
 * (sendmail_path = /usr/sbin/sendmail; postdrop, pickup) in test_postfix_review_loop, and
 * over SMTP (reinject_smtp) to a second smtpd on another loopback port in
 * test_postfix_restart_loses_nothing. See allow_sendmail for the one difference from a
 * server: the set-group-ID bit of postdrop. XCLIENT (smtpd_authorized_xclient_hosts) lets
 * the test speak as an untrusted client (ADDR=) and as an authenticated one (LOGIN=).
 * ========================================================================================== */

#define WAIT_MS 30000

/* The last 3000 bytes of a text (Check's messages are bounded). */
static const char *tail_of(const char *t)
{
    size_t n = strlen(t);
    return n > 3000 ? t + n - 3000 : t;
}

typedef struct pfx {
    dmg_postfix pf;             /* the instance (postfix.h) */
    char mail[PATH_MAX];        /* virtual_mailbox_base: a Maildir per mailbox */
    char audit[PATH_MAX];       /* dmg-audit's files (owned by nobody) */
    char mail_config[PATH_MAX + 16]; /* MAIL_CONFIG=etc: the postmaster's sendmail finds it */
    world w;                    /* dmg-audit's configuration and log, for audit_run */
    int reinject_port;
} pfx;

static pfx pf;

/* The parent after the test case: stop any instance a failed test left running. */
static void stop_leftover_postfix(void)
{
    if (server != NULL)
        dmg_postfix_stop_leftovers(dmg_server_dir(server));
}

static const char *const mailboxes[] = {
    "alice", "carol", "bob", "uma", "peggy", "quentin", "rita", "sam", "trent", "victor",
    "wendy",
};

/* dmg-audit's world in p->audit: binary (the test build with crash_env_words, else the
 * installed one), secret, password, spool, configuration, all nobody's. Hands mail to
 * Postfix with its default sendmail_path, or with via_smtp over SMTP (reinject_smtp). */
static void audit_world(pfx *p, const char *crash_env_words, int via_smtp, char *audit_bin,
                        size_t size)
{
    char path[PATH_MAX], text[4096], bin[PATH_MAX];
    struct passwd *nobody = getpwnam("nobody");
    ck_assert_ptr_nonnull(nobody);
    world *w = &p->w;
    snprintf(w->dir, sizeof w->dir, "%s", p->audit);
    DMG_PATH_FMT(w->spool, sizeof w->spool, "%s/spool", p->audit);
    DMG_PATH_FMT(w->log, sizeof w->log, "%s/audit.log", p->audit);
    DMG_PATH_FMT(w->conf, sizeof w->conf, "%s/dmg-audit.conf", p->audit);
    DMG_PATH_FMT(w->out, sizeof w->out, "%s/out", p->audit);
    ck_assert_int_eq(mkdir(w->spool, 0700), 0);
    ck_assert_int_eq(chown(w->spool, nobody->pw_uid, nobody->pw_gid), 0);
    audit_binary(bin, sizeof bin, crash_env_words[0] != '\0');
    DMG_PATH_FMT(audit_bin, size, "%s/dmg-audit", p->audit);
    ck_assert_int_eq(dmg_copy_file(bin, audit_bin, 0755), 0);
    const char *owned[][2] = { { "secret", "a secret of at least sixteen bytes\n" },
                               { "mta.pw", DMG_PASSWORD "\n" } };
    for (size_t i = 0; i < 2; i++) {
        DMG_PATH_FMT(path, sizeof path, "%s/%s", p->audit, owned[i][0]);
        DMG_WRITE_FILE(path, owned[i][1], 0600);
        ck_assert_int_eq(chown(path, nobody->pw_uid, nobody->pw_gid), 0);
    }
    do
        p->reinject_port = dmg_unused_port();
    while (p->reinject_port == p->pf.port);
    char reinject[64] = "";
    if (via_smtp)
        snprintf(reinject, sizeof reinject, "reinject_smtp = 127.0.0.1:%d\n", p->reinject_port);
    DMG_PATH_FMT(text, sizeof text,
             "# written by test_audit.c\n"
             "uri = %s\nbase = dc=example,dc=com\nbind_dn = " MTA_DN "\n"
             "bind_pw_file = %s/mta.pw\ntimeout = 5\n"
             "spool_directory = %s\nsecret_file = %s/secret\nreview_domain = " REVIEW "\n"
             "%slog_file = %s\ntrusted_networks = 127.0.0.0/8\n",
             dmg_server_uri(server), p->audit, w->spool, p->audit, reinject, w->log);
    DMG_WRITE_FILE(w->conf, text, 0644);
}

/* The instance's tables: audited groups -> review address, other groups -> members (LDAP),
 * the review transports, a Maildir per mailbox. */
static void write_tables(const pfx *p)
{
    char path[PATH_MAX], text[4096];
    const char *tables[][2] = {
        { "audit.cf", "query_filter = (&(objectClass=dynamicMailGroup)(mail=%s)"
                      "(dmgAuditRequired=TRUE))\nresult_attribute = mail\n"
                      "result_format = %u=%d@dmg-audit.invalid\n" },
        { "groups.cf", "query_filter = (&(objectClass=dynamicMailGroup)(mail=%s))\n"
                       "result_attribute = dmgMemberMail\n" },
    };
    for (size_t i = 0; i < 2; i++) {
        DMG_PATH_FMT(path, sizeof path, "%s/%s", p->pf.etc, tables[i][0]);
        DMG_PATH_FMT(text, sizeof text,
                 "server_host = %s\nversion = 3\nsearch_base = dc=example,dc=com\n"
                 "bind = yes\nbind_dn = " MTA_DN "\nbind_pw = " DMG_PASSWORD "\n%s",
                 dmg_server_uri(server), tables[i][1]);
        DMG_WRITE_FILE(path, text, 0644);
    }
    DMG_PATH_FMT(path, sizeof path, "%s/transport", p->pf.etc);
    DMG_WRITE_FILE(path, "dmg-audit.invalid dmg-audit:\n" REVIEW " dmg-decide:\n", 0644);
    dmg_text t = { 0 };
    for (size_t i = 0; i < sizeof mailboxes / sizeof mailboxes[0]; i++)
        dmg_text_printf(&t, "%s@example.com %s/\n", mailboxes[i], mailboxes[i]);
    dmg_text_printf(&t, "rita.rossi@example.com rita/\nalice.anderson@example.com alice/\n");
    DMG_PATH_FMT(path, sizeof path, "%s/mailboxes", p->pf.etc);
    DMG_WRITE_FILE(path, t.s, 0644);
    free(t.s);
}

/* Start the instance; crash_env ("" for none) goes in front of dmg-audit's argv. dmg-audit
 * hands mail to Postfix with the instance's sendmail (its default, sendmail_path =
 * /usr/sbin/sendmail, which finds the instance through MAIL_CONFIG, exported by Postfix to
 * pipe commands), or with via_smtp over SMTP to a loopback smtpd (reinject_smtp). */
static pfx *start_postfix(const char *crash_env_words, int via_smtp)
{
    pfx *p = &pf;
    char main_cf[4096], master_cf[8192], policyd[PATH_MAX + 128], audit_bin[PATH_MAX];
    struct passwd *nobody = getpwnam("nobody");
    ck_assert_ptr_nonnull(nobody);
    uid_t uid = nobody->pw_uid;
    gid_t gid = nobody->pw_gid;
    dmg_ensure_entries(server, group_ldif, sizeof group_ldif / sizeof group_ldif[0]);

    memset(p, 0, sizeof *p);
    dmg_postfix_init(&p->pf, dmg_server_dir(server));
    DMG_PATH_FMT(p->mail, sizeof p->mail, "%s/mail", p->pf.dir);
    DMG_PATH_FMT(p->audit, sizeof p->audit, "%s/audit", p->pf.dir);
    DMG_PATH_FMT(p->mail_config, sizeof p->mail_config, "MAIL_CONFIG=%s", p->pf.etc);
    const char *dirs[] = { p->mail, p->audit };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        ck_assert_int_eq(mkdir(dirs[i], 0755), 0);
        ck_assert_int_eq(chown(dirs[i], uid, gid), 0);
    }
    audit_world(p, crash_env_words, via_smtp, audit_bin, sizeof audit_bin);
    /* dmg-policyd in front: it decides audited groups too (a sender they do not allow is
     * refused at RCPT time) and leaves what is held to dmg-audit (hold_action = review;
     * Postfix's HOLD would hold the whole message) */
    dmg_postfix_policyd(p->audit, dmg_server_uri(server), MTA_DN,
                        "base = dc=example,dc=com\nhold_action = review\n", policyd,
                        sizeof policyd);
    write_tables(p);

    DMG_PATH_FMT(main_cf, sizeof main_cf,
             "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
             "smtpd_recipient_restrictions = check_policy_service unix:private/dmg-policyd\n"
             "dmg-policyd_time_limit = 3600\n"
             "virtual_mailbox_domains = example.com\n"
             "virtual_mailbox_base = %s\n"
             "virtual_mailbox_maps = texthash:%s/mailboxes\n"
             "virtual_uid_maps = static:%ld\nvirtual_gid_maps = static:%ld\n"
             "virtual_alias_maps = ldap:%s/audit.cf, ldap:%s/groups.cf\n"
             "relay_domains = " REVIEW "\n"
             "transport_maps = texthash:%s/transport\n"
             "default_transport = error:this test sends nothing out\n"
             "dmg-audit_destination_recipient_limit = 1\n"
             "dmg-decide_destination_recipient_limit = 1\n"
             "queue_run_delay = 1s\nminimal_backoff_time = 1s\nmaximal_backoff_time = 2s\n"
             "delay_warning_time = 0\nrecipient_delimiter = +\n",
             p->mail, p->pf.etc, (long)uid, (long)gid, p->pf.etc, p->pf.etc, p->pf.etc);
    const char *pipe_args =
        "--sender=${sender} --recipient=${recipient} --original-recipient=${original_recipient}"
        " --queue-id=${queue_id} --client-address=${client_address}"
        " --sasl-username=${sasl_username}";
    DMG_PATH_FMT(master_cf, sizeof master_cf,
             "127.0.0.1:%d inet n - n - - smtpd -o syslog_name=postfix/reinject"
             " -o smtpd_relay_restrictions=permit_mynetworks,reject\n"
             "virtual   unix  - n n - - virtual\n"
             "smtp      unix  - - n - - smtp\n"
             "%s"
             "dmg-audit unix - n n - - pipe user=nobody null_sender=\n"
             "  argv=%s%s -c %s deliver %s\n"
             "dmg-decide unix - n n - - pipe user=nobody null_sender=\n"
             "  argv=%s%s -c %s decide %s\n",
             p->reinject_port, policyd, crash_env_words, audit_bin, p->w.conf, pipe_args,
             crash_env_words, audit_bin, p->w.conf, pipe_args);
    dmg_postfix_configure(&p->pf, main_cf, master_cf);
    dmg_postfix_start(&p->pf);
    return p;
}

/* ---- a tiny SMTP client -------------------------------------------------------------- */

typedef struct smtp {
    FILE *f;
    int fd;
    char last[2048];
} smtp;

static int smtp_reply(smtp *c)
{
    char line[1024];
    c->last[0] = '\0';
    for (;;) {
        ck_assert_msg(fgets(line, sizeof line, c->f) != NULL, "SMTP connection closed");
        line[strcspn(line, "\r\n")] = '\0';
        size_t u = strlen(c->last);
        snprintf(c->last + u, sizeof c->last - u, "%s%s", u ? "\n" : "", line);
        if (strlen(line) < 4 || line[3] != '-')
            return atoi(line);
    }
}

static int smtp_cmd(smtp *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int smtp_cmd(smtp *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->f, fmt, ap);
    va_end(ap);
    fputs("\r\n", c->f);
    fflush(c->f);
    return smtp_reply(c);
}

/* A session as client (NULL: 127.0.0.1 itself) with sasl login (NULL: none) via XCLIENT. */
static smtp *smtp_open(const pfx *p, const char *client, const char *login)
{
    smtp *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->fd = dmg_connect_port(p->pf.port);
    ck_assert_msg(c->fd >= 0, "connect 127.0.0.1:%d: %s", p->pf.port, strerror(errno));
    struct timeval tv = { 30, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    c->f = fdopen(c->fd, "r+");
    ck_assert_int_eq(smtp_reply(c), 220);
    ck_assert_int_eq(smtp_cmd(c, "EHLO client.example.org"), 250);
    if (client != NULL || login != NULL) {
        int code = smtp_cmd(c, "XCLIENT ADDR=%s NAME=[UNAVAILABLE] LOGIN=%s",
                            client != NULL ? client : "127.0.0.1",
                            login != NULL ? login : "[UNAVAILABLE]");
        ck_assert_msg(code == 220, "XCLIENT: %s", c->last);
        ck_assert_int_eq(smtp_cmd(c, "EHLO client.example.org"), 250);
    }
    return c;
}

static void smtp_close(smtp *c)
{
    smtp_cmd(c, "QUIT");
    fclose(c->f);
    free(c);
}

/* One message (text with CRLF line ends, no final "."), to rcpts (NULL-terminated); its
 * queue ID into qid. */
static void smtp_send(smtp *c, const char *from, const char *const *rcpts, const char *text,
                      char *qid, size_t qsize)
{
    ck_assert_msg(smtp_cmd(c, "MAIL FROM:<%s>", from) == 250, "MAIL: %s", c->last);
    for (size_t i = 0; rcpts[i] != NULL; i++)
        ck_assert_msg(smtp_cmd(c, "RCPT TO:<%s>", rcpts[i]) == 250, "RCPT TO:<%s>: %s",
                      rcpts[i], c->last);
    ck_assert_int_eq(smtp_cmd(c, "DATA"), 354);
    fputs(text, c->f);
    int code = smtp_cmd(c, ".");
    const char *tag = "250 2.0.0 Ok: queued as ";
    ck_assert_msg(code == 250 && strncmp(c->last, tag, strlen(tag)) == 0, "DATA: %s", c->last);
    snprintf(qid, qsize, "%s", c->last + strlen(tag));
}

/* ---- Maildirs ------------------------------------------------------------------------ */

/* A copy of t with every run of blanks and line ends as one space (bounces fold lines). */
static char *unfold(const char *t)
{
    char *u = malloc(strlen(t) + 1);
    size_t o = 0;
    ck_assert_ptr_nonnull(u);
    for (; *t != '\0'; t++) {
        int blank = *t == ' ' || *t == '\t' || *t == '\r' || *t == '\n';
        if (blank && o > 0 && u[o - 1] == ' ')
            continue;
        u[o++] = blank ? ' ' : *t;
    }
    u[o] = '\0';
    return u;
}

/* The messages in box's Maildir (new/) that contain needle (compared unfolded): up to max
 * of them into msgs (new strings, caller frees); how many there are. */
static int maildir_messages(const pfx *p, const char *box, const char *needle, char **msgs,
                            int max)
{
    char dir[PATH_MAX];
    DMG_PATH_FMT(dir, sizeof dir, "%s/%s/new", p->mail, box);
    char *un = unfold(needle);
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char f[PATH_MAX * 2];
        snprintf(f, sizeof f, "%s/%s", dir, e->d_name);
        char *t = dmg_read_file(f), *ut = unfold(t);
        int hit = strstr(ut, un) != NULL;
        free(ut);
        if (hit && n < max)
            msgs[n] = t;
        else
            free(t);
        n += hit;
    }
    if (d != NULL)
        closedir(d);
    free(un);
    return n;
}

/* Those messages joined by "\n=====\n"; count in *n. */
static char *maildir_find(const pfx *p, const char *box, const char *needle, int *n)
{
    char *msgs[16];
    dmg_text all = { 0 };
    *n = maildir_messages(p, box, needle, msgs, 16);
    dmg_text_printf(&all, "%s", "");
    for (int i = 0; i < *n && i < 16; i++) {
        dmg_text_printf(&all, "%s%s", i ? "\n=====\n" : "", msgs[i]);
        free(msgs[i]);
    }
    return all.s;
}

/* t without the trace fields Postfix puts on top (Return-Path, X-Original-To, Delivered-To
 * at delivery, Received by each hop; each with its continuation lines): what the sender
 * wrote, if nothing changed it. */
static const char *after_trace(const char *t)
{
    static const char *const trace[] = { "Return-Path:", "X-Original-To:", "Delivered-To:",
                                          "Received:" };
    const size_t ntrace = sizeof trace / sizeof trace[0];
    for (;;) {
        size_t i = 0;
        while (i < ntrace && strncmp(t, trace[i], strlen(trace[i])) != 0)
            i++;
        if (i == ntrace)
            return t;
        do {
            const char *nl = strchr(t, '\n');
            if (nl == NULL)
                return "";
            t = nl + 1;
        } while (*t == ' ' || *t == '\t');
    }
}

/* box holds exactly copies messages with needle, each of them the sender's bytes (stored)
 * below Postfix's trace fields, with the original envelope sender as Return-Path. */
static void assert_copies(const pfx *p, const char *box, const char *needle,
                          const char *stored, const char *return_path, int copies)
{
    char *msgs[4];
    int n = maildir_messages(p, box, needle, msgs, 4);
    ck_assert_msg(n == copies, "%s has %d message(s) with %s, not %d", box, n, needle, copies);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(strcmp(after_trace(msgs[i]), stored) == 0, "%s's copy differs from the "
                      "original:\n%s\noriginal:\n%s", box, tail_of(msgs[i]), stored);
        ck_assert_msg(strstr(msgs[i], return_path) != NULL, "%s's copy lacks %s:\n%s", box,
                      return_path, tail_of(msgs[i]));
        free(msgs[i]);
    }
}

/* A deferred delivery (a killed pipe command) may wait for the next queue scan, and qmgr
 * may skip it once as "still being delivered": ask for a queue run every 2 s while waiting,
 * as an impatient postmaster would (postqueue -f). */
static void flush_now_and_then(const pfx *p)
{
    static long last;
    if (dmg_now_ms() - last >= 2000) {
        last = dmg_now_ms();
        dmg_postfix_cmd(&p->pf, "flush");
    }
}

/* Wait until box holds count messages containing needle; those messages. */
static char *wait_mail(const pfx *p, const char *box, const char *needle, int count)
{
    long deadline = dmg_now_ms() + WAIT_MS;
    for (;;) {
        int n;
        char *t = maildir_find(p, box, needle, &n);
        if (n >= count)
            return t;
        free(t);
        flush_now_and_then(p);
        if (dmg_now_ms() >= deadline) {
            char *log = dmg_read_file(p->pf.maillog), *alog = dmg_read_file(p->w.log);
            ck_abort_msg("%s has %d message(s) with \"%s\" after %d ms, not %d;\nmaillog:\n%s"
                         "\ndmg-audit log:\n%s", box, n, needle, WAIT_MS, count, tail_of(log),
                         tail_of(alog));
        }
        dmg_nap_ms(100);
    }
}

static int mail_count(const pfx *p, const char *box, const char *needle)
{
    int n;
    free(maildir_find(p, box, needle, &n));
    return n;
}

/* Wait until dmg-audit's log holds needle. */
static void wait_audit_log(const pfx *p, const char *needle)
{
    long deadline = dmg_now_ms() + WAIT_MS;
    for (;;) {
        char *log = dmg_read_file(p->w.log);
        int found = strstr(log, needle) != NULL;
        free(log);
        if (found)
            return;
        flush_now_and_then(p);
        if (dmg_now_ms() >= deadline) {
            char *ml = dmg_read_file(p->pf.maillog), *al = dmg_read_file(p->w.log);
            ck_abort_msg("\"%s\" not in dmg-audit's log after %d ms:\n%s\nmaillog:\n%s",
                         needle, WAIT_MS, tail_of(al), tail_of(ml));
        }
        dmg_nap_ms(100);
    }
}

/* Does the queue directory hold a queue file (below its hash levels)? */
static int queue_dir_busy(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int busy = 0;
    while (d != NULL && !busy && (de = readdir(d)) != NULL) {
        char path[PATH_MAX + 256];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lstat(path, &st) == 0)
            busy = S_ISDIR(st.st_mode) ? queue_dir_busy(path) : 1;
    }
    if (d != NULL)
        closedir(d);
    return busy;
}

/* Wait until Postfix has nothing left to deliver: a copy sent twice would still be in one of
 * these queues, or delivered already, so counting mailboxes afterwards is exact. */
static void wait_queue_empty(const pfx *p)
{
    static const char *const queues[] = { "maildrop", "incoming", "active", "deferred" };
    long deadline = dmg_now_ms() + WAIT_MS;
    for (;;) {
        int busy = 0;
        for (size_t i = 0; i < sizeof queues / sizeof queues[0] && !busy; i++) {
            char dir[PATH_MAX + 16];
            snprintf(dir, sizeof dir, "%s/%s", p->pf.queue, queues[i]);
            busy = queue_dir_busy(dir);
        }
        if (!busy)
            return;
        flush_now_and_then(p);
        ck_assert_msg(dmg_now_ms() < deadline, "Postfix's queue is not empty after %d ms",
                      WAIT_MS);
        dmg_nap_ms(100);
    }
}

static const char pf_message_fmt[] =
    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=from:to:subject;\r\n"
    "\tbh=abc=; b=def=\r\n"
    "From: <%s>\r\n"
    "To: " GROUP "\r\n"
    "Subject: %s\r\n"
    "Date: Thu, 3 Dec 2026 12:00:00 +0000\r\n"
    "Message-ID: <%s@example.com>\r\n"
    "\r\n"
    "Hello team,\r\n"
    "..a line that starts with a dot (dot-stuffed on the wire)\r\n"
    "this is %s.\r\n";

/* The message as SMTP carries it and as a Maildir keeps it (LF, unstuffed). */
static void pf_message(const char *from, const char *tag, char **wire, char **stored)
{
    ck_assert_int_ge(asprintf(wire, pf_message_fmt, from, tag, tag, tag), 0);
    char *s = malloc(strlen(*wire) + 1);
    size_t o = 0;
    int bol = 1;
    for (const char *q = *wire; *q != '\0'; q++) {
        if (bol && q[0] == '.' && q[1] == '.')
            continue; /* unstuff */
        bol = 0;
        if (q[0] == '\r' && q[1] == '\n')
            continue;
        s[o++] = *q;
        bol = *q == '\n';
    }
    s[o] = '\0';
    *stored = s;
}

static const char *const frontend[] = { "peggy", "quentin", "rita", "sam", "trent" };

/* Each of the department's members has copies copies of the message tagged tag per address
 * (rita has two addresses). */
static void assert_members_have(const pfx *p, const char *tag, int copies)
{
    char needle[128];
    DMG_PATH_FMT(needle, sizeof needle, "<%s@example.com>", tag);
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(mail_count(p, frontend[i], needle),
                         strcmp(frontend[i], "rita") ? copies : 2 * copies);
}

/* The message tagged tag was released to the department: one copy per member address,
 * each the sender's bytes (stored) with sender as Return-Path. */
static void assert_members_got(const pfx *p, const char *tag, const char *stored,
                               const char *sender)
{
    char needle[128], return_path[128];
    DMG_PATH_FMT(needle, sizeof needle, "<%s@example.com>", tag);
    DMG_PATH_FMT(return_path, sizeof return_path, "Return-Path: <%s>", sender);
    for (size_t i = 0; i < 5; i++)
        assert_copies(p, frontend[i], needle, stored, return_path,
                      strcmp(frontend[i], "rita") ? 1 : 2);
}

/* bob's message tagged tag to the group through smtpd, held: once carol's notice is there,
 * its queue ID (qid, 64 bytes), audit ID (id, 17 bytes), the decision address of kind
 * (addr, 200 bytes) and the message as a Maildir keeps it (*stored, caller frees). */
static void pf_hold(pfx *p, const char *tag, char *qid, char *id, const char *kind,
                    char *addr, char **stored)
{
    char *wire, *t;
    pf_message("bob@example.com", tag, &wire, stored);
    smtp *c = smtp_open(p, NULL, NULL);
    smtp_send(c, "bob@example.com", (const char *[]){ GROUP, NULL }, wire, qid, 64);
    smtp_close(c);
    free(wire);
    t = wait_mail(p, "carol", dmg_fmt("Audit: message from bob@example.com to " GROUP ": %s",
                                      tag), 1);
    decision_addr(t, kind, addr, 200);
    free(t);
    held_id(&p->w, qid, id, 17);
}

#define FRONTEND "ou=Frontend,ou=Engineering,dc=example,dc=com"

/* A person in the group's department, hence a member: uid@example.com. */
static void add_frontend_member(LDAP *root, const char *uid)
{
    DMG_EXPECT_OK(dmg_add_ldif(root, dmg_fmt("dn: uid=%s," FRONTEND "\nobjectClass: "
                                             "inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n"
                                             "mail: %s@example.com\n", uid, uid, uid, uid, uid)),
                  uid);
}

/* Every line of dmg-audit's log for event names the Postfix queue ID and the audit ID (16
 * hex digits); there is at least one. */
static void assert_event_logged(world *w, const char *event)
{
    char *log = dmg_read_file(w->log), want[64], *save = NULL;
    int n = 0;
    DMG_PATH_FMT(want, sizeof want, "]: %s: queue_id=", event);
    for (char *line = strtok_r(log, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        const char *q = strstr(line, want), *a = strstr(line, " audit_id=");
        if (strstr(line, dmg_fmt("]: %s: ", event)) == NULL)
            continue;
        n++;
        ck_assert_msg(q != NULL && q[strlen(want)] != ' ' && a != NULL
                      && strspn(a + 10, "0123456789abcdef") == 16, "log line without a queue "
                      "ID or an audit ID: %s", line);
    }
    ck_assert_msg(n > 0, "no %s line in dmg-audit's log", event);
    free(log);
}

/* The whole loop through Postfix, as documented: notices and releases go through the
 * instance's sendmail (postdrop, pickup) into the Maildirs. */
START_TEST(test_postfix_review_loop)
{
    pfx *p = start_postfix("", 0);
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    char qid[64], held_qid[64], *wire, *stored, *t, needle[256], id[17], *out;

    /* victor is a member while the message waits, not when it is approved */
    add_frontend_member(root, "victor");

    /* 1. bob to the audited group and to uma: uma at once, the group's copy held, the
     *    auditors notified */
    pf_message("bob@example.com", "pf-one", &wire, &stored);
    smtp *c = smtp_open(p, NULL, NULL);
    smtp_send(c, "bob@example.com", (const char *[]){ GROUP, "uma@example.com", NULL }, wire,
              qid, sizeof qid);
    smtp_close(c);
    snprintf(held_qid, sizeof held_qid, "%s", qid);
    free(wait_mail(p, "uma", "<pf-one@example.com>", 1));
    t = wait_mail(p, "alice", "X-Dmg-Audit-ID:", 2); /* alice has two addresses */
    ck_assert_ptr_nonnull(strstr(t, "Subject: Audit: message from bob@example.com to " GROUP
                                    ": pf-one"));
    ck_assert_ptr_nonnull(strstr(t, "  Message-ID:  <pf-one@example.com>"));
    char approve[200], reject[200];
    decision_addr(t, "approve", approve, sizeof approve);
    decision_addr(t, "reject", reject, sizeof reject);
    free(t);
    free(wait_mail(p, "carol", "X-Dmg-Audit-ID:", 1));
    DMG_PATH_FMT(needle, sizeof needle, "held: queue_id=%s audit_id=", held_qid);
    wait_audit_log(p, needle);
    DMG_PATH_FMT(needle, sizeof needle, "notified: queue_id=%s audit_id=", held_qid);
    wait_audit_log(p, needle);
    held_id(&p->w, held_qid, id, sizeof id);
    ck_assert_str_eq(state_of(&p->w, id), "held");
    assert_members_have(p, "pf-one", 0);
    ck_assert_int_eq(mail_count(p, "victor", "<pf-one@example.com>"), 0);

    /* 2. forged decisions: bounced (5.7.1), logged, nothing changed, nothing delivered */
    c = smtp_open(p, "198.51.100.7", NULL); /* untrusted, not authenticated */
    smtp_send(c, "alice@example.com", (const char *[]){ approve, NULL },
              "Subject: ok\r\n\r\nok\r\n", qid, sizeof qid);
    smtp_close(c);
    t = wait_mail(p, "alice", "decision refused: client 198.51.100.7 is neither", 1);
    free(t);
    char wrong[200];
    snprintf(wrong, sizeof wrong, "%s", approve);
    char *dash = strchr(wrong, '-');
    dash[1] = dash[1] == 'a' ? 'b' : 'a';
    c = smtp_open(p, NULL, NULL); /* a token one digit off */
    smtp_send(c, "alice@example.com", (const char *[]){ wrong, NULL },
              "Subject: ok\r\n\r\nok\r\n", qid, sizeof qid);
    smtp_close(c);
    free(wait_mail(p, "alice", "decision refused: wrong token for this audit ID", 1));
    c = smtp_open(p, NULL, NULL); /* bob is no auditor */
    smtp_send(c, "bob@example.com", (const char *[]){ approve, NULL },
              "Subject: ok\r\n\r\nok\r\n", qid, sizeof qid);
    smtp_close(c);
    free(wait_mail(p, "bob", "bob@example.com is not an auditor of " GROUP, 1));
    DMG_PATH_FMT(needle, sizeof needle, "refused: queue_id=%s ", qid);
    wait_audit_log(p, needle);
    ck_assert_int_eq(log_count(&p->w, dmg_fmt("audit_id=%s from=", id)), 3);
    wait_queue_empty(p);
    ck_assert_str_eq(state_of(&p->w, id), "held");
    assert_members_have(p, "pf-one", 0);

    /* the department changes while the message waits */
    DMG_EXPECT_OK(dmg_delete(root, "uid=victor," FRONTEND), "delete victor");
    add_frontend_member(root, "wendy");

    /* 3. alice approves (authenticated, from anywhere): every member as they are now gets
     *    one copy (rita two: two addresses), byte for byte the original below Postfix's
     *    trace fields; victor, no longer a member, none */
    c = smtp_open(p, "198.51.100.8", "alice");
    smtp_send(c, "alice@example.com", (const char *[]){ approve, NULL },
              "Subject: Re: Audit\r\n\r\nfine\r\n", qid, sizeof qid);
    smtp_close(c);
    free(wait_mail(p, "wendy", "<pf-one@example.com>", 1));
    DMG_PATH_FMT(needle, sizeof needle, "released: queue_id=%s audit_id=%s", held_qid, id);
    wait_audit_log(p, needle);
    wait_queue_empty(p);
    assert_members_got(p, "pf-one", stored, "bob@example.com");
    assert_copies(p, "wendy", "<pf-one@example.com>", stored, "Return-Path: <bob@example.com>",
                  1);
    ck_assert_int_eq(mail_count(p, "victor", "<pf-one@example.com>"), 0);
    ck_assert_str_eq(state_of(&p->w, id), "done");

    /* 4. the same approval again (a reused token), and carol too late: "already decided",
     *    refused, nothing delivered twice */
    c = smtp_open(p, "198.51.100.8", "alice");
    smtp_send(c, "alice@example.com", (const char *[]){ approve, NULL },
              "Subject: Re: Audit\r\n\r\nfine\r\n", qid, sizeof qid);
    smtp_close(c);
    free(wait_mail(p, "alice", "already decided (approved by alice@example.com", 1));
    c = smtp_open(p, NULL, NULL);
    smtp_send(c, "carol@example.com", (const char *[]){ reject, NULL },
              "Subject: no\r\n\r\nNo.\r\n", qid, sizeof qid);
    smtp_close(c);
    free(wait_mail(p, "carol", "already decided (approved by alice@example.com", 1));
    wait_queue_empty(p);
    ck_assert_int_eq(log_count(&p->w, dmg_fmt("audit_id=%s from=", id)), 5);
    assert_members_have(p, "pf-one", 1);
    ck_assert_int_eq(mail_count(p, "wendy", "<pf-one@example.com>"), 1);
    free(wire);
    free(stored);

    /* 5. a second message, rejected by carol with a reason: bob is told, nobody gets it */
    pf_hold(p, "pf-two", held_qid, id, "reject", reject, &stored);
    c = smtp_open(p, NULL, NULL);
    smtp_send(c, "carol@example.com", (const char *[]){ reject, NULL },
              "Subject: Re: Audit\r\n\r\nOff topic for this list.\r\n", qid, sizeof qid);
    smtp_close(c);
    t = wait_mail(p, "bob", "Rejected by the auditor of " GROUP ": pf-two", 1);
    ck_assert_ptr_nonnull(strstr(t, "Reason: Off topic for this list."));
    free(t);
    wait_queue_empty(p);
    assert_members_have(p, "pf-two", 0);
    ck_assert_int_eq(mail_count(p, "wendy", "<pf-two@example.com>"), 0);
    free(stored);

    /* 6. the auditor's own mail (to the group with an address extension, which Postfix
     *    carries onto the review address): straight to the members, unchanged, no notice */
    pf_message("alice@example.com", "pf-three", &wire, &stored);
    c = smtp_open(p, NULL, NULL);
    smtp_send(c, "alice@example.com", (const char *[]){ "fe-review+weekly@example.com", NULL },
              wire, qid, sizeof qid);
    smtp_close(c);
    free(wait_mail(p, "trent", "<pf-three@example.com>", 1));
    DMG_PATH_FMT(needle, sizeof needle, "accepted: queue_id=%s audit_id=", qid);
    wait_audit_log(p, needle);
    wait_queue_empty(p);
    assert_members_got(p, "pf-three", stored, "alice@example.com");
    ck_assert_int_eq(mail_count(p, "carol", ": pf-three"), 0);
    ck_assert_int_eq(log_count(&p->w, dmg_fmt("held: queue_id=%s ", qid)), 0);
    free(wire);
    free(stored);

    /* 6b. a sender the group does not allow: refused at RCPT time by dmg-policyd (no bounce
     *     to a possibly forged address later); so is an untrusted, unauthenticated client
     *     claiming an auditor's address (an outsider: no auditor's exemption) */
    c = smtp_open(p, NULL, NULL);
    ck_assert_int_eq(smtp_cmd(c, "MAIL FROM:<zoe@example.org>"), 250);
    ck_assert_int_eq(smtp_cmd(c, "RCPT TO:<" GROUP ">"), 554);
    ck_assert_msg(strstr(c->last, "5.7.1") != NULL
                  && strstr(c->last, "sender zoe@example.org is not allowed to send to "
                                     GROUP) != NULL, "%s", c->last);
    ck_assert_int_eq(smtp_cmd(c, "RSET"), 250);
    smtp_close(c);
    c = smtp_open(p, "198.51.100.9", NULL);
    ck_assert_int_eq(smtp_cmd(c, "MAIL FROM:<alice@example.com>"), 250);
    ck_assert_int_eq(smtp_cmd(c, "RCPT TO:<" GROUP ">"), 554);
    ck_assert_msg(strstr(c->last, "sender alice@example.com is in a local domain but not "
                                  "authenticated") != NULL, "%s", c->last);
    ck_assert_int_eq(smtp_cmd(c, "RSET"), 250);
    smtp_close(c);
    ck_assert_int_eq(log_count(&p->w, "zoe@example.org"), 0); /* never reached dmg-audit */

    /* 7. expiry: held, nobody decides; the timer (as root, with the instance's
     *    MAIL_CONFIG like any command of a second Postfix instance) rejects it after
     *    hold_days (5), bob and both auditors are told, nobody gets it */
    pf_hold(p, "pf-four", held_qid, id, "reject", reject, &stored);
    char now[64];
    snprintf(now, sizeof now, "--now=%ld", (long)time(NULL) + 4 * 86400);
    p->w.hooks = 1;
    ck_assert_int_eq(audit_run(&p->w, NULL, &out, p->mail_config, ARGS("expire", now)), 0);
    free(out);
    DMG_PATH_FMT(needle, sizeof needle, "expired: queue_id=%s ", held_qid);
    ck_assert_int_eq(log_count(&p->w, needle), 0); /* not yet after 4 days */
    snprintf(now, sizeof now, "--now=%ld", (long)time(NULL) + 6 * 86400);
    ck_assert_int_eq(audit_run(&p->w, NULL, &out, p->mail_config, ARGS("expire", now)), 0);
    free(out);
    p->w.hooks = 0;
    free(wait_mail(p, "bob", "Expired without an audit decision (" GROUP "): pf-four", 1));
    free(wait_mail(p, "carol", "Expired without an audit decision (" GROUP "): pf-four", 1));
    free(wait_mail(p, "alice", "Expired without an audit decision (" GROUP "): pf-four", 2));
    wait_queue_empty(p);
    assert_members_have(p, "pf-four", 0);
    ck_assert_int_eq(log_count(&p->w, needle), 1);
    free(stored);

    /* 8. the postmaster decides from the shell: list, show (--json), approve, reject with a
     *    reason; the release reaches the members through sendmail, byte for byte */
    char id5[17], id6[17], qid5[64], *stored6;
    pf_hold(p, "pf-five", qid5, id5, "reject", reject, &stored);
    pf_hold(p, "pf-six", held_qid, id6, "reject", reject, &stored6);
    ck_assert_int_eq(audit_run(&p->w, NULL, &out, NULL, ARGS("list")), 0);
    ck_assert_msg(strstr(out, id5) != NULL && strstr(out, id6) != NULL
                  && strstr(out, "pf-five") != NULL && strstr(out, id) == NULL, "%s", out);
    free(out);
    ck_assert_int_eq(audit_run(&p->w, NULL, &out, NULL, ARGS("list", "--json")), 0);
    ck_assert_msg(strstr(out, dmg_fmt("\"id\": \"%s\"", id5)) != NULL
                  && strstr(out, dmg_fmt("\"id\": \"%s\"", id6)) != NULL
                  && strstr(out, "\"subject\": \"pf-six\"") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(audit_run(&p->w, NULL, &out, NULL, ARGS("show", "--json", id5)), 0);
    ck_assert_msg(strstr(out, "\"state\": \"held\"") != NULL
                  && strstr(out, dmg_fmt("\"queue_id\": \"%s\"", qid5)) != NULL
                  && strstr(out, "\"group\": \"" GROUP "\"") != NULL
                  && strstr(out, "\"sender\": \"bob@example.com\"") != NULL
                  && strstr(out, "\"message_id\": \"<pf-five@example.com>\"") != NULL, "%s",
                  out);
    free(out);
    ck_assert_int_eq(audit_run(&p->w, NULL, &out, p->mail_config, ARGS("approve", id5)), 0);
    ck_assert_str_eq(out, dmg_fmt("%s: approved and released\n", id5));
    free(out);
    ck_assert_int_eq(audit_run(&p->w, NULL, &out, p->mail_config,
                               ARGS("reject", id6, "Not", "for", "this", "list")), 0);
    ck_assert_str_eq(out, dmg_fmt("%s: rejected; the sender was told\n", id6));
    free(out);
    t = wait_mail(p, "bob", "Rejected by the auditor of " GROUP ": pf-six", 1);
    ck_assert_ptr_nonnull(strstr(t, "Reason: Not for this list"));
    free(t);
    free(wait_mail(p, "wendy", "<pf-five@example.com>", 1));
    wait_queue_empty(p);
    assert_members_got(p, "pf-five", stored, "bob@example.com");
    assert_members_have(p, "pf-six", 0);
    ck_assert_int_eq(audit_run(&p->w, NULL, &out, NULL, ARGS("show", "--json", id5)), 0);
    ck_assert_msg(strstr(out, "\"state\": \"done\"") != NULL
                  && strstr(out, "\"decision\": \"approve") != NULL
                  && strstr(out, "\"decided_by\": \"postmaster root (shell)\"") != NULL, "%s",
                  out);
    free(out);
    free(stored);
    free(stored6);

    /* 9. one log line per event, each with the queue ID and the audit ID */
    static const char *const events[] = { "held", "notified", "refused", "approved",
                                           "released", "rejected", "discarded", "expired",
                                           "accepted" };
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        assert_event_logged(&p->w, events[i]);

    DMG_EXPECT_OK(dmg_delete(root, "uid=wendy," FRONTEND), "delete wendy");
    dmg_disconnect(root);
    dmg_postfix_stop(&p->pf);
}
END_TEST

/* The crash flags of test_postfix_restart_loses_nothing: dmg-audit's directory of the
 * instance (nobody may remove them there). */
static const char *const crash_steps[] = { "BEFORE_HELD", "BEFORE_NOTIFY", "BEFORE_RELEASE",
                                           "AFTER_RELEASE" };
#define NSTEPS (sizeof crash_steps / sizeof crash_steps[0])

static void crash_flag(char *path, size_t size, const char *step)
{
    DMG_PATH_FMT(path, size, "%s/postfix-%ld/audit/crash-%s", dmg_server_dir(server),
                 (long)getpid(), step);
}

/* Arms the crash point step: the next dmg-audit that reaches it is killed. */
static void arm_crash(const char *step)
{
    char flag[PATH_MAX];
    struct passwd *nobody = getpwnam("nobody");
    crash_flag(flag, sizeof flag, step);
    DMG_WRITE_FILE(flag, "", 0644);
    ck_assert_int_eq(chown(flag, nobody->pw_uid, nobody->pw_gid), 0);
}

/* dmg-audit killed at each step of its spool's state machine while Postfix delivers to it
 * (here over SMTP, reinject_smtp), Postfix stopped and started in the middle: nothing lost,
 * nothing delivered twice. */
START_TEST(test_postfix_restart_loses_nothing)
{
    char flag[PATH_MAX], env[NSTEPS * (PATH_MAX + 40)], *stored, qid[64], held_qid[64];
    char needle[200], id[17], *out;
    size_t used = (size_t)snprintf(env, sizeof env, "/usr/bin/env");
    for (size_t i = 0; i < NSTEPS; i++) {
        crash_flag(flag, sizeof flag, crash_steps[i]);
        used += (size_t)snprintf(env + used, sizeof env - used, " DMG_AUDIT_CRASH_%s=%s",
                                 crash_steps[i], flag);
    }
    snprintf(env + used, sizeof env - used, " ");
    pfx *p = start_postfix(env, 1);

    /* killed after storing the message, then after recording it, before the notices:
     * Postfix retries each time; held once, the notices go out once */
    arm_crash("BEFORE_HELD");
    arm_crash("BEFORE_NOTIFY");
    char approve[200];
    pf_hold(p, "pf-crash", held_qid, id, "approve", approve, &stored);
    for (size_t i = 0; i < 2; i++) {
        crash_flag(flag, sizeof flag, crash_steps[i]);
        ck_assert_msg(access(flag, F_OK) == -1, "no crash at %s", crash_steps[i]);
    }
    DMG_PATH_FMT(needle, sizeof needle, "duplicate: queue_id=%s ", held_qid);
    wait_audit_log(p, needle);
    wait_queue_empty(p);
    ck_assert_int_eq(mail_count(p, "carol", ": pf-crash"), 1);
    ck_assert_int_eq(mail_count(p, "alice", ": pf-crash"), 2);
    ck_assert_int_eq(log_count(&p->w, dmg_fmt("held: queue_id=%s ", held_qid)), 1);

    /* Postfix stopped and started while the message waits: nothing changes */
    ck_assert_int_eq(dmg_postfix_stop(&p->pf), 0);
    dmg_postfix_start(&p->pf);
    ck_assert_int_eq(audit_run(&p->w, NULL, &out, NULL, ARGS("list", "--json")), 0);
    ck_assert_msg(strstr(out, "\"state\": \"held\"") != NULL
                  && strstr(out, "\"subject\": \"pf-crash\"") != NULL, "%s", out);
    free(out);

    /* killed after handing the release over, before marking it: delivered once, the
     * retried decision mail does not release it again */
    arm_crash("AFTER_RELEASE");
    smtp *c = smtp_open(p, NULL, NULL);
    smtp_send(c, "alice@example.com", (const char *[]){ approve, NULL },
              "Subject: ok\r\n\r\nok\r\n", qid, sizeof qid);
    smtp_close(c);
    for (size_t i = 0; i < 5; i++)
        free(wait_mail(p, frontend[i], "<pf-crash@example.com>",
                       strcmp(frontend[i], "rita") ? 1 : 2));
    DMG_PATH_FMT(needle, sizeof needle, "duplicate: queue_id=%s ", qid);
    wait_audit_log(p, needle);
    wait_queue_empty(p);
    assert_members_got(p, "pf-crash", stored, "bob@example.com");
    ck_assert_int_eq(mail_count(p, "alice", "already decided"), 0);
    ck_assert_str_eq(state_of(&p->w, id), "uncertain");
    free(stored);

    /* killed right after the release marker, before the hand-over: the retried decision
     * mail hands nothing over (uncertain); the postmaster, finding nothing in the mail log,
     * releases it: once */
    pf_hold(p, "pf-crash2", held_qid, id, "approve", approve, &stored);
    arm_crash("BEFORE_RELEASE");
    c = smtp_open(p, NULL, NULL);
    smtp_send(c, "carol@example.com", (const char *[]){ approve, NULL },
              "Subject: ok\r\n\r\nok\r\n", qid, sizeof qid);
    smtp_close(c);
    DMG_PATH_FMT(needle, sizeof needle, "uncertain: queue_id=%s audit_id=%s", held_qid, id);
    wait_audit_log(p, needle);
    wait_queue_empty(p);
    assert_members_have(p, "pf-crash2", 0);
    ck_assert_str_eq(state_of(&p->w, id), "uncertain");
    ck_assert_int_eq(audit_run(&p->w, NULL, &out, NULL, ARGS("resolve", id, "release")), 0);
    ck_assert_str_eq(out, dmg_fmt("%s: released\n", id));
    free(out);
    free(wait_mail(p, "sam", "<pf-crash2@example.com>", 1));
    wait_queue_empty(p);
    assert_members_got(p, "pf-crash2", stored, "bob@example.com");
    ck_assert_str_eq(state_of(&p->w, id), "done");
    for (size_t i = 0; i < NSTEPS; i++) {
        crash_flag(flag, sizeof flag, crash_steps[i]);
        ck_assert_msg(access(flag, F_OK) == -1, "no crash at %s", crash_steps[i]);
    }
    free(stored);
    dmg_postfix_stop(&p->pf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = dmg_tcase("review loop");
    tcase_add_test(tc, test_held_and_notified);
    tcase_add_test(tc, test_approve_by_mail);
    tcase_add_test(tc, test_no_base);
    tcase_add_test(tc, test_example_config);
    tcase_add_test(tc, test_reject_by_mail);
    tcase_add_test(tc, test_forged_decisions);
    tcase_add_test(tc, test_secret_rotation);
    tcase_add_test(tc, test_expiry);
    tcase_add_test(tc, test_auditor_and_rejected_sender);
    tcase_add_test(tc, test_directory_unavailable);
    tcase_add_test(tc, test_crash_and_retry);
    tcase_add_test(tc, test_no_hooks_installed);
    tcase_add_test(tc, test_postmaster_commands);
    tcase_add_test(tc, test_approve_group_gone);
    suite_add_tcase(s, tc);
    tc = dmg_tcase("postfix");
    tcase_add_test(tc, test_postfix_review_loop);
    tcase_add_test(tc, test_postfix_restart_loses_nothing);
    tcase_add_unchecked_fixture(tc, NULL, stop_leftover_postfix);
    suite_add_tcase(s, tc);

    dmg_server_opts o = { 0 };
    o.overlay_config = "dynmailgroup-privileged " MTA_DN "\n";
    return dmg_run_suite(s, &o, &server);
}
