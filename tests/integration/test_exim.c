/*
 * test_exim.c - a real Exim asks the overlay for send decisions over LDAP.
 *
 * The worked example (README.md "Exim"): in an ACL or router condition,
 *
 *   ${lookup ldap{user="uid=mta,ou=System,dc=example,dc=com" pass=secret \
 *     ldap://127.0.0.1:3890/dc=example,dc=com?dmgDecision?sub?\
 *     (&(mail=${quote_ldap:$local_part@$domain})(dmgSender=${quote_ldap:$sender_address}))}}
 *
 * expands to accept, hold or reject, and to nothing when the recipient is not a group (the
 * lookup fails; with {yes}{no} strings the "no" string is used). The null sender gives
 * (dmgSender=). The man page's ACL (man page EXAMPLES) acts on it:
 *
 *   require set acl_m_dmg = ${lookup ldap{...the lookup above...}}
 *   deny  condition = ${if eq{$acl_m_dmg}{reject}}
 *         message = 5.7.1 you may not send to this group
 *   warn  condition = ${if eq{$acl_m_dmg}{hold}}
 *         control = freeze
 *
 * How it is run: `exim4 -C FILE [-f SENDER] -be` (string expansion test mode) with the
 * expression on standard input, line breaks as above (Exim refuses arguments over 256
 * octets), and a minimal configuration in <server dir>/exim: ldap_default_servers =
 * 127.0.0.1::PORT, spool_directory and log_file_path there. $sender_address comes from -f
 * (-f '<>' is the null sender); the recipient, which exists only in an SMTP or routing
 * context, is written in literally in place of $local_part@$domain. The ACL runs in a real
 * SMTP reception (`exim4 -C FILE -bs`, SMTP on standard input, queue_only): a held message is
 * then frozen in the private spool (`exim4 -bp`, "frozen by ACL" in the mainlog).
 *
 * The README's identity rules (authenticated clients send as their account, found by
 * $authenticated_id; unauthenticated clients outside relay_from_hosts that claim a local
 * sender pass only "anyone" groups and are frozen when the group is audited) run, verbatim,
 * in host-checking sessions (`exim4 -C FILE -bh ADDRESS`: the ACLs of a session from that
 * address, nothing received) with a plaintext authenticator for AUTH PLAIN.
 *
 * Exim: Debian's exim4-daemon-heavy conflicts with postfix, which the other tests need, so
 * scripts/exim-private.sh unpacks it (never installs it) into /var/cache/dynmailgroup/exim and
 * prints the binary's path; DMG_EXIM names another exim binary with LDAP lookups. When no
 * binary can be had (no network, no cache), every test FAILS saying so; nothing is skipped.
 * Debian's exim accepts -C FILE anywhere from root (no ALT_CONFIG_PREFIX or TRUSTED_CONFIG_LIST
 * restriction applies to root), so the test runs as root, as CI does. A reception runs as
 * Debian-exim, so the server directory is made traversable (0711).
 */
#define _GNU_SOURCE

#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MTA_DN "uid=mta,ou=System,dc=example,dc=com"
#define GROUPS "ou=Groups,dc=example,dc=com"
#define GROUP  "eng-review@example.com"

static dmg_server *server;

/* The exim binary, or why there is none (found by main() before the suite runs). */
static char exim_bin[PATH_MAX];
static char exim_problem[16384];

/* ============================================================================================
 * Small helpers
 * ========================================================================================== */

static void chomp(char *s)
{
    size_t len = strlen(s);
    while (len > 0 && s[len - 1] == '\n')
        s[--len] = '\0';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A comma-separated list sorted (new string). */
static char *sorted_csv(const char *csv)
{
    char *copy = strdup(csv), *out = calloc(1, strlen(csv) + 1);
    char *items[64];
    size_t n = 0;
    char *save = NULL;
    ck_assert_ptr_nonnull(copy);
    ck_assert_ptr_nonnull(out);
    for (char *t = strtok_r(copy, ",", &save); t != NULL && n < 64; t = strtok_r(NULL, ",", &save))
        items[n++] = t;
    qsort(items, n, sizeof items[0], cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(out, ",");
        strcat(out, items[i]);
    }
    free(copy);
    return out;
}

/* The slapd port, from ldap://127.0.0.1:PORT/. */
static int server_port(void)
{
    const char *uri = dmg_server_uri(server);
    const char *colon = strrchr(uri, ':');
    ck_assert_ptr_nonnull(colon);
    return atoi(colon + 1);
}

/* Run argv with standard input from the text in_text (NULL: empty); standard output and
 * error into new strings (caller frees). Returns the exit status (128+N for signal N). */
static int run(char *const argv[], const char *in_text, char **out, char **err)
{
    int st = dmg_run(argv, dmg_server_dir(server), in_text, out, err);
    ck_assert_msg(st >= 0, "cannot run %s", argv[0]);
    return st;
}

/* ============================================================================================
 * Exim: the binary, its configuration
 * ========================================================================================== */

/* In main(), before the suite: DMG_EXIM, or what scripts/exim-private.sh prints. */
static void find_exim(void)
{
    const char *env = getenv("DMG_EXIM");
    if (env != NULL && *env != '\0') {
        snprintf(exim_bin, sizeof exim_bin, "%s", env);
        if (access(exim_bin, X_OK) != 0)
            snprintf(exim_problem, sizeof exim_problem, "DMG_EXIM=%s is not executable: %s",
                     env, strerror(errno));
        return;
    }
    const char *src = getenv("DMG_SRCDIR");
    char script[PATH_MAX], cmd[2 * PATH_MAX + 64], errfile[PATH_MAX];
    snprintf(script, sizeof script, "%s/scripts/exim-private.sh", src && *src ? src : ".");
    const char *tmp = getenv("TMPDIR");
    snprintf(errfile, sizeof errfile, "%s/test_exim-%ld.err", tmp && *tmp ? tmp : "/tmp",
             (long)getpid());
    snprintf(cmd, sizeof cmd, "sh '%s' 2>'%s'", script, errfile);
    FILE *p = popen(cmd, "r");
    char line[PATH_MAX] = "";
    int st = -1;
    if (p != NULL) {
        if (fgets(line, sizeof line, p) == NULL)
            line[0] = '\0';
        while (fgetc(p) != EOF)
            ;
        int ws = pclose(p);
        st = ws == -1 ? -1 : WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    }
    chomp(line);
    FILE *e = fopen(errfile, "r");
    char errtext[4096] = "";
    size_t n = e ? fread(errtext, 1, sizeof errtext - 1, e) : 0;
    errtext[n] = '\0';
    if (e != NULL)
        fclose(e);
    unlink(errfile);
    if (st != 0 || line[0] != '/' || access(line, X_OK) != 0) {
        /* the script's last words say why */
        const char *tail = errtext;
        if (n > 1500)
            tail = errtext + n - 1500;
        snprintf(exim_problem, sizeof exim_problem,
                 "no Exim with LDAP lookups: %s (status %d) printed \"%s\"; its messages: %s "
                 "(it downloads Debian's exim4-daemon-heavy, which needs network access the "
                 "first time; DMG_EXIM names an exim binary instead)",
                 script, st, line, tail);
        return;
    }
    snprintf(exim_bin, sizeof exim_bin, "%s", line);
}

static const char *require_exim(void)
{
    ck_assert_msg(exim_problem[0] == '\0', "%s", exim_problem);
    ck_assert_msg(geteuid() == 0, "exim accepts -C only from root: run the test as root");
    return exim_bin;
}

/* <server dir>/exim with exim.conf (written every time; the same text); Exim creates spool/
 * and spool/log/ as its user. Returns the configuration's path (static). */
/* <server dir>/exim into dir; Exim's user gets through to it. */
static void exim_dir(char *dir, size_t size)
{
    DMG_PATH_FMT(dir, size, "%s/exim", dmg_server_dir(server));
    if (mkdir(dir, 0755) != 0)
        ck_assert_msg(errno == EEXIST, "mkdir %s: %s", dir, strerror(errno));
    /* spool and log are used by Exim's user for a reception (-bs): let it through */
    ck_assert_int_eq(chmod(dmg_server_dir(server), 0711), 0);
}

/* The start of every configuration: spool and log in dir (created by Exim's user), received
 * messages stay in the spool. */
#define EXIM_COMMON \
    "# written by test_exim.c\n" \
    "spool_directory = %s/spool\n" \
    "log_file_path = %s/spool/log/%%slog\n" \
    "keep_environment =\n" \
    "primary_hostname = mx.example.com\n" \
    "qualify_domain = example.com\n" \
    "queue_only = true\n"

static const char *exim_config(void)
{
    static char conf[PATH_MAX];
    char dir[PATH_MAX], text[3 * PATH_MAX];
    exim_dir(dir, sizeof dir);
    snprintf(text, sizeof text,
             EXIM_COMMON
             "ldap_default_servers = 127.0.0.1::%d\n"
             "acl_smtp_rcpt = rcpt\n"
             "\n"
             "begin acl\n"
             "\n"
             "# man page EXAMPLES\n"
             "rcpt:\n"
             "  require set acl_m_dmg = ${lookup ldap{user=\"" MTA_DN "\" \\\n"
             "          pass=" DMG_PASSWORD " "
             "ldap://127.0.0.1:%d/dc=example,dc=com?dmgDecision?sub?\\\n"
             "          (&(mail=${quote_ldap:$local_part@$domain})\\\n"
             "          (dmgSender=${quote_ldap:$sender_address}))}}\n"
             "  deny  condition = ${if eq{$acl_m_dmg}{reject}}\n"
             "        message = 5.7.1 you may not send to this group\n"
             "  warn  condition = ${if eq{$acl_m_dmg}{hold}}\n"
             "        control = freeze\n"
             "  accept\n",
             dir, dir, server_port(), server_port());
    DMG_PATH_FMT(conf, sizeof conf, "%s/exim.conf", dir);
    DMG_WRITE_FILE(conf, text, 0);
    return conf;
}

/* The README's identity rules (section "Mail systems", Exim), verbatim but for DMG_LDAP's
 * URI: this server's port. */
#define README_IDENTITY_ACL \
    "acl_check_rcpt:\n" \
    "  # \"\" when the recipient is not a group; no answer from the directory: 451\n" \
    "  require set acl_m_dmg = ${lookup ldap{DMG_LDAP?dmgDecision?sub?\\\n" \
    "            (&(mail=${quote_ldap:$local_part@$domain})" \
    "(dmgSender=${quote_ldap:$sender_address}))}}\n" \
    "  # authenticated clients send as their account\n" \
    "  deny    authenticated = *\n" \
    "          condition = ${if !eq{$acl_m_dmg}{}}\n" \
    "          !condition = ${if forany{<, ${lookup ldap{DMG_LDAP?mail?sub?\\\n" \
    "            (uid=${quote_ldap:$authenticated_id})}}}{eqi{$item}{$sender_address}}}\n" \
    "          message = 5.7.1 sender $sender_address is not an address of the " \
    "authenticated user $authenticated_id\n" \
    "  # outsiders claiming a local sender: only \"anyone\" groups, always held when " \
    "audited\n" \
    "  deny    !authenticated = *\n" \
    "          hosts = ! +relay_from_hosts\n" \
    "          sender_domains = +dmg_local_domains\n" \
    "          condition = ${if !eq{$acl_m_dmg}{}}\n" \
    "          !condition = ${if forany{<, ${lookup ldap{DMG_LDAP?dmgSendPolicy?sub?\\\n" \
    "            (mail=${quote_ldap:$local_part@$domain})}}}{eqi{$item}{anyone}}}\n" \
    "          message = 5.7.1 sender $sender_address is in a local domain but not " \
    "authenticated\n" \
    "  warn    !authenticated = *\n" \
    "          hosts = ! +relay_from_hosts\n" \
    "          sender_domains = +dmg_local_domains\n" \
    "          condition = ${if !eq{$acl_m_dmg}{}}\n" \
    "          condition = ${lookup ldap{DMG_LDAP?dmgAuditRequired?sub?\\\n" \
    "            (mail=${quote_ldap:$local_part@$domain})}}\n" \
    "          control = freeze\n" \
    "  deny    condition = ${if eq{$acl_m_dmg}{reject}}\n" \
    "          message = 5.7.1 you may not send to this group\n" \
    "  warn    condition = ${if eq{$acl_m_dmg}{hold}}\n" \
    "          control = freeze\n"

/* <server dir>/exim/identity.conf: the README's identity rules, relay_from_hosts =
 * 127.0.0.1, and PLAIN authentication of bob and alice (password DMG_PASSWORD). Static. */
static const char *exim_identity_config(void)
{
    static char conf[PATH_MAX];
    char dir[PATH_MAX], text[3 * PATH_MAX + 4096];
    exim_dir(dir, sizeof dir);
    snprintf(text, sizeof text,
             EXIM_COMMON
             "hostlist relay_from_hosts = 127.0.0.1\n"
             "domainlist dmg_local_domains = example.com\n"
             "DMG_LDAP = user=\"" MTA_DN "\" pass=" DMG_PASSWORD
             " ldap://127.0.0.1:%d/dc=example,dc=com\n"
             "acl_smtp_rcpt = acl_check_rcpt\n"
             "\n"
             "begin acl\n"
             "\n"
             README_IDENTITY_ACL
             "  accept\n"
             "\n"
             "begin authenticators\n"
             "\n"
             "plain:\n"
             "  driver = plaintext\n"
             "  public_name = PLAIN\n"
             "  server_prompts = :\n"
             "  server_condition = ${if and{{inlist{$auth2}{bob:alice}}"
             "{eq{$auth3}{" DMG_PASSWORD "}}}}\n"
             "  server_set_id = $auth2\n",
             dir, dir, server_port());
    DMG_PATH_FMT(conf, sizeof conf, "%s/identity.conf", dir);
    DMG_WRITE_FILE(conf, text, 0);
    return conf;
}

/* exim -C CONF [-f SENDER] -be, the expression on standard input (Exim limits arguments to
 * 256 octets; on standard input a line ending in a backslash continues on the next one with
 * its leading white space removed, as in a configuration file). Exim answers "> RESULT" and
 * a last "> " prompt at the end of the input. Returns RESULT (caller frees); a failed expansion
 * gives "Failed: ...", returned as is. A non-zero status, anything on standard error or
 * another shape of output fails the test. sender NULL: no -f. */
static char *expand(const char *sender, const char *expr)
{
    const char *exim = require_exim();
    const char *conf = exim_config();
    char *argv[10];
    int n = 0;
    argv[n++] = (char *)exim;
    argv[n++] = "-C";
    argv[n++] = (char *)conf;
    if (sender != NULL) {
        argv[n++] = "-f";
        argv[n++] = (char *)sender;
    }
    argv[n++] = "-be";
    argv[n] = NULL;
    size_t len = strlen(expr);
    char *input = malloc(len + 2);
    ck_assert_ptr_nonnull(input);
    memcpy(input, expr, len);
    memcpy(input + len, "\n", 2);
    char *out, *err;
    int st = run(argv, input, &out, &err);
    free(input);
    ck_assert_msg(st == 0 && err[0] == '\0',
                  "exim -be <<'%s': status %d, stdout \"%s\", stderr \"%s\"", expr, st, out,
                  err);
    size_t first = strcspn(out, "\n");
    ck_assert_msg(strncmp(out, "> ", 2) == 0 && strcmp(out + first, "\n> \n") == 0,
                  "exim -be <<'%s': unexpected output \"%s\"", expr, out);
    char *result = strndup(out + 2, first - 2);
    free(out);
    free(err);
    return result;
}

/* The README's lookup, line breaks included, with the recipient written in for
 * $local_part@$domain (host "" takes the server from ldap_default_servers: ldap:///...) and
 * attrs for dmgDecision; yes_no is appended inside the outer braces ("" for none). Static. */
static const char *lookup_expr(const char *recipient, const char *attrs, const char *host,
                               const char *yes_no)
{
    static char expr[4096];
    DMG_PATH_FMT(expr, sizeof expr,
             "${lookup ldap{user=\"" MTA_DN "\" pass=" DMG_PASSWORD " \\\n"
             "  ldap://%s/dc=example,dc=com?%s?sub?\\\n"
             "  (&(mail=${quote_ldap:%s})(dmgSender=${quote_ldap:$sender_address}))}%s}",
             host, attrs, recipient, yes_no);
    return expr;
}

static const char *server_host(void)
{
    static char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", server_port());
    return host;
}

static const char *decision_lookup(const char *recipient, const char *attrs, const char *yes_no)
{
    return lookup_expr(recipient, attrs, server_host(), yes_no);
}

/* The README's expression for (sender, recipient); sender "" is the null sender. */
#define ASSERT_DECISION(sender, recipient, expected) \
    assert_expansion_at(__FILE__, __LINE__, (sender), \
                        decision_lookup((recipient), "dmgDecision", ""), (expected))
static void assert_expansion_at(const char *file, int line, const char *sender,
                                const char *expr, const char *expected)
{
    char *got = expand(sender, expr);
    if (strcmp(got, expected) != 0)
        _ck_assert_failed(file, line, "exim -be",
                          "sender <%s>: %s expanded to \"%s\", expected \"%s\"", sender, expr,
                          got, expected);
    free(got);
}

/* ============================================================================================
 * Groups
 * ========================================================================================== */

static const char *const group_ldif[] = {
    /* members of Engineering (and its sub-departments) may send; audited by alice, who has
     * two addresses */
    "dn: cn=eng-review," GROUPS "\nobjectClass: dynamicMailGroup\ncn: eng-review\n"
    "mail: " GROUP "\ndmgDepartment: ou=Engineering,dc=example,dc=com\n"
    "dmgSendPolicy: members\ndmgAuditRequired: TRUE\n"
    "dmgAuditor: uid=alice,ou=Engineering,dc=example,dc=com\n",
    /* anyone, no audit */
    "dn: cn=eng-open," GROUPS "\nobjectClass: dynamicMailGroup\ncn: eng-open\n"
    "mail: eng-open@example.com\ndmgDepartment: ou=Engineering,dc=example,dc=com\n"
    "dmgSendPolicy: anyone\n",
    /* anyone, audited by alice */
    "dn: cn=eng-audit," GROUPS "\nobjectClass: dynamicMailGroup\ncn: eng-audit\n"
    "mail: eng-audit@example.com\ndmgDepartment: ou=Engineering,dc=example,dc=com\n"
    "dmgSendPolicy: anyone\ndmgAuditRequired: TRUE\n"
    "dmgAuditor: uid=alice,ou=Engineering,dc=example,dc=com\n",
    /* hidden from address books: only the privileged MTA account sees it */
    "dn: cn=eng-hidden," GROUPS "\nobjectClass: dynamicMailGroup\ncn: eng-hidden\n"
    "mail: eng-hidden@example.com\ndmgDepartment: ou=Engineering,dc=example,dc=com\n"
    "dmgSendPolicy: members\ndmgShowInContacts: FALSE\n",
};

static void ensure_groups(void)
{
    dmg_ensure_entries(server, group_ldif, sizeof group_ldif / sizeof group_ldif[0]);
}

#define REASON_MEMBERS "is not allowed to send to " GROUP " (policy: members)"

/* ============================================================================================
 * exim -be: the README's lookup
 * ========================================================================================== */

START_TEST(test_decisions)
{
    ensure_groups();
    /* alice: a member and the auditor -> accept */
    ASSERT_DECISION("alice@example.com", GROUP, "accept");
    ASSERT_DECISION("Alice.Anderson@EXAMPLE.com", GROUP, "accept");
    /* bob and frank (Backend is below Engineering): members, not auditors -> hold */
    ASSERT_DECISION("bob@example.com", GROUP, "hold");
    ASSERT_DECISION("frank@example.com", GROUP, "hold");
    /* uma (Sales), an outsider -> reject */
    ASSERT_DECISION("uma@example.com", GROUP, "reject");
    ASSERT_DECISION("x@example.org", GROUP, "reject");
    /* the group address in any case */
    ASSERT_DECISION("bob@example.com", "ENG-Review@Example.COM", "hold");
    /* the privileged bind sees the hidden group */
    ASSERT_DECISION("dave@example.com", "eng-hidden@example.com", "accept");
    ASSERT_DECISION("uma@example.com", "eng-hidden@example.com", "reject");
}
END_TEST

START_TEST(test_null_sender)
{
    ensure_groups();
    /* -f '<>' is the null sender: $sender_address is empty, the filter has (dmgSender=) */
    char *empty = expand("<>", "[$sender_address]");
    DMG_ASSERT_STR(empty, "[]");
    free(empty);
    ASSERT_DECISION("<>", GROUP, "reject");
    ASSERT_DECISION("<>", "eng-open@example.com", "accept");
    /* and its reason */
    char *reason = expand("<>", decision_lookup(GROUP, "dmgDecisionReason", ""));
    DMG_ASSERT_STR(reason, "the null sender <> " REASON_MEMBERS);
    free(reason);
}
END_TEST

START_TEST(test_not_a_group)
{
    ensure_groups();
    /* a person's address, an unknown address: the lookup fails -> "" (README form) or the
     * "no" string */
    ASSERT_DECISION("bob@example.com", "bob@example.com", "");
    ASSERT_DECISION("bob@example.com", "nobody@example.com", "");
    assert_expansion_at(__FILE__, __LINE__, "bob@example.com",
                        decision_lookup("nobody@example.com", "dmgDecision",
                                        "{$value}{not a group}"),
                        "not a group");
    assert_expansion_at(__FILE__, __LINE__, "bob@example.com",
                        decision_lookup(GROUP, "dmgDecision", "{found $value}{not a group}"),
                        "found hold");
}
END_TEST

/* The reason and the auditors, several attributes in one lookup, ${extract} to pick. */
START_TEST(test_reason_and_auditors)
{
    ensure_groups();
    const char *lookup = decision_lookup(GROUP, "dmgDecision,dmgDecisionReason,dmgAuditorMail",
                                         "");
    char expr[8192];

    DMG_PATH_FMT(expr, sizeof expr, "${extract{dmgDecisionReason}{%s}}", lookup);
    assert_expansion_at(__FILE__, __LINE__, "uma@example.com", expr,
                        "sender uma@example.com " REASON_MEMBERS);
    DMG_PATH_FMT(expr, sizeof expr, "${extract{dmgDecision}{%s}}", lookup);
    assert_expansion_at(__FILE__, __LINE__, "uma@example.com", expr, "reject");

    /* hold: the auditors' addresses (alice's two) */
    DMG_PATH_FMT(expr, sizeof expr, "${extract{dmgDecision}{%s}}", lookup);
    assert_expansion_at(__FILE__, __LINE__, "bob@example.com", expr, "hold");
    /* Exim joins the values with "," in the order the server sent them */
    DMG_PATH_FMT(expr, sizeof expr, "${extract{dmgAuditorMail}{%s}}", lookup);
    char *auditors = expand("bob@example.com", expr);
    char *sorted = sorted_csv(auditors);
    DMG_ASSERT_STR(sorted, "alice.anderson@example.com,alice@example.com");
    free(sorted);
    free(auditors);
    /* dmgAuditorMail lists the group's auditors whatever the decision (man page SCHEMA):
     * the same for alice, who is accepted */
    DMG_PATH_FMT(expr, sizeof expr, "${extract{dmgDecision}{%s}}", lookup);
    assert_expansion_at(__FILE__, __LINE__, "alice@example.com", expr, "accept");
    DMG_PATH_FMT(expr, sizeof expr, "${extract{dmgAuditorMail}{%s}}", lookup);
    auditors = expand("alice@example.com", expr);
    sorted = sorted_csv(auditors);
    DMG_ASSERT_STR(sorted, "alice.anderson@example.com,alice@example.com");
    free(sorted);
    free(auditors);
}
END_TEST

/* ldap:/// takes the server from ldap_default_servers = 127.0.0.1::PORT. */
START_TEST(test_default_servers)
{
    ensure_groups();
    assert_expansion_at(__FILE__, __LINE__, "bob@example.com",
                        lookup_expr(GROUP, "dmgDecision", "", ""), "hold");
    assert_expansion_at(__FILE__, __LINE__, "uma@example.com",
                        lookup_expr(GROUP, "dmgDecision", "", ""), "reject");
}
END_TEST

/* ============================================================================================
 * exim -bs: the man page's ACL in a real SMTP reception
 * ========================================================================================== */

/* The reply lines of an SMTP conversation on standard output, "\n"-joined. */
static char *smtp_session(const char *commands)
{
    const char *exim = require_exim();
    char *argv[] = { (char *)exim, "-C", (char *)exim_config(), "-bs", NULL };
    char *out, *err;
    int st = run(argv, commands, &out, &err);
    ck_assert_msg(st == 0 && err[0] == '\0', "exim -bs: status %d, stdout \"%s\", stderr \"%s\"",
                  st, out, err);
    free(err);
    /* SMTP lines end in CRLF */
    char *w = out;
    for (const char *r = out; *r; r++)
        if (*r != '\r')
            *w++ = *r;
    *w = '\0';
    chomp(out);
    return out;
}

/* exim -bh ADDR (a session from that host, ACLs run, nothing received) on the identity
 * configuration: the SMTP replies, one per line (caller frees); Exim's account of the ACLs
 * (standard error) in *log. */
static char *host_session(const char *addr, const char *commands, char **log)
{
    const char *exim = require_exim();
    char *argv[] = { (char *)exim, "-C", (char *)exim_identity_config(), "-bh", (char *)addr,
                     NULL };
    char *out;
    int st = run(argv, commands, &out, log);
    ck_assert_msg(st == 0, "exim -bh %s: status %d, stdout \"%s\", stderr \"%s\"", addr, st,
                  out, *log);
    char *w = out;
    for (const char *r = out; *r; r++)
        if (*r != '\r')
            *w++ = *r;
    *w = '\0';
    chomp(out);
    return out;
}

/* The reply to the RCPT command: the line after the MAIL reply. */
static char *nth_line(const char *text, int n)
{
    const char *p = text;
    for (int i = 0; i < n && p != NULL; i++) {
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    ck_assert_msg(p != NULL, "no line %d in:\n%s", n, text);
    size_t len = strcspn(p, "\n");
    return strndup(p, len);
}

START_TEST(test_acl_in_smtp)
{
    ensure_groups();
    /* reject: 550 with the ACL's message; accept and hold: 250 */
    const struct {
        const char *sender, *reply;
    } cases[] = {
        { "uma@example.com", "550 5.7.1 you may not send to this group" },
        { "", "550 5.7.1 you may not send to this group" },
        { "alice@example.com", "250 Accepted" },
        { "bob@example.com", "250 Accepted" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char commands[1024];
        DMG_PATH_FMT(commands, sizeof commands,
                 "HELO client.example.com\r\nMAIL FROM:<%s>\r\nRCPT TO:<" GROUP ">\r\n"
                 "QUIT\r\n", cases[i].sender);
        char *replies = smtp_session(commands);
        /* 0: banner, 1: HELO, 2: MAIL, 3: RCPT */
        char *rcpt = nth_line(replies, 3);
        ck_assert_msg(strcmp(rcpt, cases[i].reply) == 0,
                      "sender <%s>: RCPT answered \"%s\", expected \"%s\"; session:\n%s",
                      cases[i].sender, rcpt, cases[i].reply, replies);
        free(rcpt);
        free(replies);
    }
}
END_TEST

/* A held message is received, and frozen in the spool. */
START_TEST(test_acl_freezes_held_message)
{
    ensure_groups();
    const char *exim = require_exim();
    const char *msg_hold =
        "HELO client.example.com\r\nMAIL FROM:<bob@example.com>\r\nRCPT TO:<" GROUP ">\r\n"
        "DATA\r\nSubject: held\r\n\r\nfor the auditors\r\n.\r\nQUIT\r\n";
    const char *msg_accept =
        "HELO client.example.com\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<" GROUP ">\r\n"
        "DATA\r\nSubject: accepted\r\n\r\nfrom the auditor\r\n.\r\nQUIT\r\n";
    char *held = smtp_session(msg_hold);
    char *accepted = smtp_session(msg_accept);
    /* 250 OK id=... after the data */
    char *l5 = nth_line(held, 5), *a5 = nth_line(accepted, 5);
    ck_assert_msg(strncmp(l5, "250 OK id=", 10) == 0, "held message: \"%s\"; session:\n%s", l5,
                  held);
    ck_assert_msg(strncmp(a5, "250 OK id=", 10) == 0, "accepted message: \"%s\"; session:\n%s",
                  a5, accepted);
    char held_id[64], accepted_id[64];
    snprintf(held_id, sizeof held_id, "%s", l5 + 10);
    snprintf(accepted_id, sizeof accepted_id, "%s", a5 + 10);

    /* exim -bp: "  0m   318 1abcde-000000-AB <bob@example.com> *** frozen ***" */
    char *argv[] = { (char *)exim, "-C", (char *)exim_config(), "-bp", NULL };
    char *out, *err;
    int st = run(argv, NULL, &out, &err);
    ck_assert_msg(st == 0 && err[0] == '\0', "exim -bp: status %d, stderr \"%s\"", st, err);
    int held_frozen = 0, accepted_seen = 0, accepted_frozen = 0;
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        if (strstr(l, held_id) != NULL)
            held_frozen = strstr(l, "*** frozen ***") != NULL;
        if (strstr(l, accepted_id) != NULL) {
            accepted_seen = 1;
            accepted_frozen = strstr(l, "*** frozen ***") != NULL;
        }
    }
    ck_assert_msg(held_frozen, "message %s (bob, hold) is not frozen:\n%s", held_id, out);
    ck_assert_msg(accepted_seen && !accepted_frozen,
                  "message %s (alice, accept) should be queued, not frozen:\n%s", accepted_id,
                  out);
    free(out);
    free(err);

    /* and Exim says why */
    char logpath[PATH_MAX], want[128];
    DMG_PATH_FMT(logpath, sizeof logpath, "%s/exim/spool/log/mainlog", dmg_server_dir(server));
    char *mainlog = dmg_read_file(logpath);
    snprintf(want, sizeof want, "%s frozen by ACL", held_id);
    ck_assert_msg(strstr(mainlog, want) != NULL, "\"%s\" not in %s:\n%s", want, logpath, mainlog);
    free(mainlog);
    free(l5);
    free(a5);
    free(held);
    free(accepted);
}
END_TEST

/* The reply before the last one (QUIT's), its lines joined: "550-A\n550 B" is "550 A B".
 * Caller frees. */
static char *reply_before_last(const char *replies)
{
    char *copy = strdup(replies), *save = NULL, *lines[64];
    size_t n = 0;
    ck_assert_ptr_nonnull(copy);
    for (char *l = strtok_r(copy, "\n", &save); l != NULL && n < 64;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    ck_assert_msg(n >= 2, "fewer than two replies:\n%s", replies);
    size_t first = n - 2;
    while (first > 0 && strlen(lines[first - 1]) > 3 && lines[first - 1][3] == '-')
        first--;
    char *joined = calloc(1, strlen(replies) + 1);
    ck_assert_ptr_nonnull(joined);
    for (size_t k = first; k <= n - 2; k++) {
        ck_assert_msg(strlen(lines[k]) >= 3, "bad reply line \"%s\"", lines[k]);
        if (k == first)
            memcpy(joined, lines[k], 3);
        strcat(joined, " ");
        strcat(joined, lines[k] + (strlen(lines[k]) > 3 ? 4 : 3));
    }
    free(copy);
    return joined;
}

/* The README's identity rules, from the host addr, authenticated as auth ("" = not): the
 * RCPT reply of sender to rcpt must be expected; whether the message would be frozen too. */
#define ASSERT_HOST_RCPT(addr, auth, sender, rcpt, expected, frozen) \
    assert_host_rcpt_at(__LINE__, (addr), (auth), (sender), (rcpt), (expected), (frozen))
static void assert_host_rcpt_at(int line, const char *addr, const char *auth,
                                const char *sender, const char *rcpt, const char *expected,
                                int frozen)
{
    char commands[1024], *log;
    DMG_PATH_FMT(commands, sizeof commands, "EHLO client.example.org\r\n%s%s%s"
             "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nQUIT\r\n", auth[0] ? "AUTH PLAIN " : "",
             auth, auth[0] ? "\r\n" : "", sender, rcpt);
    char *replies = host_session(addr, commands, &log);
    char *got = reply_before_last(replies);
    ck_assert_msg(strcmp(got, expected) == 0,
                  "line %d: from %s%s%s, MAIL FROM:<%s> RCPT TO:<%s>: got \"%s\", expected "
                  "\"%s\"; Exim said:\n%s", line, addr, auth[0] ? " authenticated " : "",
                  auth, sender, rcpt, got, expected, log);
    int was_frozen = strstr(log, "freeze") != NULL && strstr(log, "warn: condition test "
                                                                  "succeeded") != NULL;
    ck_assert_msg(was_frozen == frozen, "line %d: frozen %d, expected %d; Exim said:\n%s",
                  line, was_frozen, frozen, log);
    free(got);
    free(replies);
    free(log);
}

#define AUTH_BOB   "AGJvYgBzZWNyZXQ="      /* \0bob\0secret */
#define AUTH_ALICE "AGFsaWNlAHNlY3JldA=="  /* \0alice\0secret */
#define OUTSIDE "192.0.2.10"

/* Authenticated clients send as their account; unauthenticated outsiders claiming a local
 * sender pass only "anyone", held when audited; relay hosts keep the overlay's decision. */
START_TEST(test_acl_identity)
{
    /* the rules tested are the README's */
    const char *src = getenv("DMG_SRCDIR");
    char readme_path[PATH_MAX];
    DMG_PATH_FMT(readme_path, sizeof readme_path, "%s/README.md", src && *src ? src : ".");
    char *readme = dmg_read_file(readme_path);
    ck_assert_msg(strstr(readme, README_IDENTITY_ACL) != NULL,
                  "%s does not show these rules:\n%s", readme_path, README_IDENTITY_ACL);
    free(readme);

    ensure_groups();
    ASSERT_HOST_RCPT(OUTSIDE, "", "bob@example.com", GROUP,
                     "550 5.7.1 sender bob@example.com is in a local domain but not "
                     "authenticated", 0);
    ASSERT_HOST_RCPT(OUTSIDE, "", "alice@example.com", "eng-audit@example.com",
                     "250 Accepted", 1);
    ASSERT_HOST_RCPT(OUTSIDE, "", "bob@example.com", "eng-open@example.com", "250 Accepted",
                     0);
    ASSERT_HOST_RCPT(OUTSIDE, "", "x@example.org", "eng-open@example.com", "250 Accepted", 0);
    ASSERT_HOST_RCPT(OUTSIDE, "", "x@example.org", GROUP,
                     "550 5.7.1 you may not send to this group", 0);
    ASSERT_HOST_RCPT(OUTSIDE, AUTH_BOB, "alice@example.com", GROUP,
                     "550 5.7.1 sender alice@example.com is not an address of the "
                     "authenticated user bob", 0);
    ASSERT_HOST_RCPT(OUTSIDE, AUTH_BOB, "bob@example.com", GROUP, "250 Accepted", 1);
    ASSERT_HOST_RCPT(OUTSIDE, AUTH_ALICE, "alice.anderson@example.com", GROUP, "250 Accepted",
                     0);
    ASSERT_HOST_RCPT("127.0.0.1", "", "alice@example.com", GROUP, "250 Accepted", 0);
    ASSERT_HOST_RCPT("127.0.0.1", "", "alice@example.com", "eng-audit@example.com",
                     "250 Accepted", 0);
}
END_TEST

int main(void)
{
    find_exim();
    if (exim_problem[0] != '\0')
        fprintf(stderr, "test_exim: %s\n", exim_problem);

    Suite *s = suite_create("exim");
    TCase *tc = dmg_tcase("exim -be");
    tcase_add_test(tc, test_decisions);
    tcase_add_test(tc, test_null_sender);
    tcase_add_test(tc, test_not_a_group);
    tcase_add_test(tc, test_reason_and_auditors);
    tcase_add_test(tc, test_default_servers);
    suite_add_tcase(s, tc);
    TCase *acl = dmg_tcase("exim ACL");
    tcase_add_test(acl, test_acl_in_smtp);
    tcase_add_test(acl, test_acl_freezes_held_message);
    tcase_add_test(acl, test_acl_identity);
    suite_add_tcase(s, acl);

    dmg_server_opts o = { 0 };
    o.overlay_config = "dynmailgroup-privileged " MTA_DN "\n";
    return dmg_run_suite(s, &o, &server);
}
