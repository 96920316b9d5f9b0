/*
 * postfix.c -- a private Postfix instance for the tests (see postfix.h).
 */
#define _GNU_SOURCE
#include "postfix.h"
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_WAIT_MS 20000 /* smtpd to answer on its port */
#define STOP_WAIT_MS  20000 /* the master to exit */

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

static void instance_paths(dmg_postfix *p, const char *dir)
{
    DMG_PATH_FMT(p->dir, sizeof p->dir, "%s", dir);
    DMG_PATH_FMT(p->etc, sizeof p->etc, "%s/etc", p->dir);
    DMG_PATH_FMT(p->queue, sizeof p->queue, "%s/queue", p->dir);
    DMG_PATH_FMT(p->bin, sizeof p->bin, "%s/bin", p->dir);
    DMG_PATH_FMT(p->maillog, sizeof p->maillog, "%s/maillog", p->dir);
}

/* The command directory and the queue permissions for a non-root sendmail (postfix.h). The
 * mail then goes sendmail -> postdrop -> maildrop/ -> pickup as on a server; only the
 * set-group-ID bit is replaced by directory permissions. */
static void allow_sendmail(const dmg_postfix *p)
{
    static const char *const linked[] = { "postalias", "postcat", "postconf", "postkick",
                                          "postlock", "postlog", "postmap", "postqueue",
                                          "postsuper", "sendmail" };
    static const struct {
        const char *name;
        mode_t mode;
    } dirs[] = { { "maildrop", 01733 }, { "public", 0711 } };
    char from[PATH_MAX], to[PATH_MAX];
    struct passwd *owner = getpwnam("postfix");
    struct group *drop = getgrnam("postdrop");
    ck_assert_msg(owner != NULL && drop != NULL,
                  "no user postfix or group postdrop: " DMG_POSTFIX_HINT);
    for (size_t i = 0; i < sizeof linked / sizeof linked[0]; i++) {
        const char *prog = dmg_find_program(linked[i]);
        ck_assert_msg(prog != NULL, "%s not found: " DMG_POSTFIX_HINT, linked[i]);
        DMG_PATH_FMT(to, sizeof to, "%s/%s", p->bin, linked[i]);
        ck_assert_msg(symlink(prog, to) == 0, "symlink %s: %s", to, strerror(errno));
    }
    const char *postdrop = dmg_find_program("postdrop");
    ck_assert_msg(postdrop != NULL, "postdrop not found: " DMG_POSTFIX_HINT);
    DMG_PATH_FMT(from, sizeof from, "%s", postdrop);
    DMG_PATH_FMT(to, sizeof to, "%s/postdrop", p->bin);
    ck_assert_int_eq(dmg_copy_file(from, to, 0755), 0);
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        DMG_PATH_FMT(to, sizeof to, "%s/%s", p->queue, dirs[i].name);
        ck_assert_msg(mkdir(to, 0700) == 0, "mkdir %s: %s", to, strerror(errno));
        ck_assert_int_eq(chown(to, owner->pw_uid, drop->gr_gid), 0);
        ck_assert_int_eq(chmod(to, dirs[i].mode), 0);
    }
}

void dmg_postfix_init(dmg_postfix *p, const char *server_dir)
{
    char dir[PATH_MAX];
    memset(p, 0, sizeof *p);
    ck_assert_msg(geteuid() == 0, "the Postfix instance needs root (postfix start, pipe and "
                                  "spawn user=): run the test as root");
    ck_assert_msg(dmg_find_program("postfix") != NULL, "postfix not found: " DMG_POSTFIX_HINT);
    /* postfix and nobody must get through the server directory to their files */
    ck_assert_int_eq(chmod(server_dir, 0711), 0);
    DMG_PATH_FMT(dir, sizeof dir, "%s/postfix-%ld", server_dir, (long)getpid());
    instance_paths(p, dir);
    const char *dirs[] = { p->dir, p->etc, p->queue, p->bin };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        ck_assert_msg(mkdir(dirs[i], 0755) == 0, "mkdir %s: %s", dirs[i], strerror(errno));
        ck_assert_int_eq(chmod(dirs[i], 0755), 0);
    }
    allow_sendmail(p);
    p->port = dmg_unused_port();
    ck_assert_int_gt(p->port, 0);
}

void dmg_postfix_configure(const dmg_postfix *p, const char *main_extra,
                           const char *master_extra)
{
    dmg_text t = { 0 };
    char path[PATH_MAX];
    dmg_text_printf(&t,
                    "# written by the test (tests/integration/postfix.c)\n"
                    "compatibility_level = 3.6\n"
                    "queue_directory = %s\n"
                    "data_directory = %s/data\n"
                    "command_directory = %s\n"
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
                    "smtpd_authorized_xclient_hosts = 127.0.0.0/8\n"
                    "%s",
                    p->queue, p->dir, p->bin, p->maillog, p->dir, main_extra);
    DMG_PATH_FMT(path, sizeof path, "%s/main.cf", p->etc);
    DMG_WRITE_FILE(path, t.s, 0644);
    date_back(path);
    free(t.s);
    memset(&t, 0, sizeof t);
    dmg_text_printf(&t,
                    "# written by the test (tests/integration/postfix.c)\n"
                    "127.0.0.1:%d inet n - n - - smtpd\n"
                    "pickup    unix  n - n 60 1 pickup\n"
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
                    "%s",
                    p->port, master_extra);
    DMG_PATH_FMT(path, sizeof path, "%s/master.cf", p->etc);
    DMG_WRITE_FILE(path, t.s, 0644);
    date_back(path);
    free(t.s);
}

void dmg_postfix_policyd(const char *dir, const char *uri, const char *bind_dn,
                         const char *conf_extra, char *master_line, size_t size)
{
    char def[PATH_MAX], bin[PATH_MAX], conf[PATH_MAX], pw[PATH_MAX], text[4096];
    struct passwd *nobody = getpwnam("nobody");
    ck_assert_msg(nobody != NULL, "no user nobody for the policy service");
    const char *policyd = getenv("DMG_POLICYD");
    if (policyd == NULL || *policyd == '\0') {
        const char *b = getenv("DMG_BUILDDIR");
        DMG_PATH_FMT(def, sizeof def, "%s/tools/dmg-policyd", b != NULL && *b ? b : ".");
        policyd = def;
    }
    ck_assert_msg(access(policyd, X_OK) == 0, "%s is not executable (set DMG_POLICYD)",
                  policyd);
    DMG_PATH_FMT(bin, sizeof bin, "%s/dmg-policyd", dir);
    DMG_PATH_FMT(conf, sizeof conf, "%s/dmg-policyd.conf", dir);
    DMG_PATH_FMT(pw, sizeof pw, "%s/dmg-policyd.pw", dir);
    ck_assert_int_eq(dmg_copy_file(policyd, bin, 0755), 0);
    DMG_WRITE_FILE(pw, DMG_PASSWORD "\n", 0600);
    ck_assert_int_eq(chown(pw, nobody->pw_uid, nobody->pw_gid), 0);
    DMG_PATH_FMT(text, sizeof text, "uri = %s\nbind_dn = %s\nbind_pw_file = %s\n%s", uri,
                 bind_dn, pw, conf_extra);
    DMG_WRITE_FILE(conf, text, 0644);
    DMG_PATH_FMT(master_line, size, "dmg-policyd unix - n n - 0 spawn user=nobody argv=%s -c %s\n",
                 bin, conf);
}

int dmg_postfix_cmd(const dmg_postfix *p, const char *what)
{
    char postfix[PATH_MAX];
    const char *found = dmg_find_program("postfix");
    if (found == NULL || dmg_path_fmt(postfix, sizeof postfix, "%s", found) != 0)
        return -1;
    char *out, *argv[] = { postfix, "-c", (char *)p->etc, (char *)what, NULL };
    int st = dmg_run(argv, p->dir, NULL, &out, NULL);
    if (st != 0)
        fprintf(stderr, "postfix -c %s %s: status %d: %s", p->etc, what, st, out);
    free(out);
    return st;
}

/* smtpd answers (bounded retry on connect), and the banner is this instance's. */
static void wait_smtpd(const dmg_postfix *p)
{
    long deadline = dmg_now_ms() + START_WAIT_MS;
    int fd;
    while ((fd = dmg_connect_port(p->port)) < 0 && dmg_now_ms() < deadline)
        dmg_nap_ms(20);
    if (fd < 0) {
        char *log = dmg_read_file(p->maillog);
        ck_abort_msg("nothing answers on 127.0.0.1:%d after %d ms; maillog:\n%s", p->port,
                     START_WAIT_MS, log);
    }
    char banner[256] = "";
    size_t len = 0;
    while (len < sizeof banner - 1 && strchr(banner, '\n') == NULL) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        long left = deadline - dmg_now_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        ssize_t n = read(fd, banner + len, sizeof banner - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        banner[len] = '\0';
    }
    close(fd);
    if (strncmp(banner, "220 mx.example.com ESMTP", 24) != 0) {
        char *log = dmg_read_file(p->maillog);
        ck_abort_msg("127.0.0.1:%d greets with \"%s\", not as this Postfix; maillog:\n%s",
                     p->port, banner, log);
    }
}

void dmg_postfix_start(dmg_postfix *p)
{
    ck_assert_msg(!p->started, "the instance in %s runs already", p->dir);
    int st = dmg_postfix_cmd(p, "start");
    p->started = 1;
    if (st != 0) {
        char *log = dmg_read_file(p->maillog);
        ck_abort_msg("postfix -c %s start: status %d; maillog:\n%s", p->etc, st, log);
    }
    wait_smtpd(p);
}

static pid_t master_pid(const dmg_postfix *p)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/pid/master.pid", p->queue);
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
static int is_master_of(pid_t pid, const dmg_postfix *p)
{
    char link[64], cwd[PATH_MAX];
    snprintf(link, sizeof link, "/proc/%ld/cwd", (long)pid);
    ssize_t n = readlink(link, cwd, sizeof cwd - 1);
    if (n < 0)
        return 0;
    cwd[n] = '\0';
    size_t qlen = strlen(p->queue);
    return strncmp(cwd, p->queue, qlen) == 0
           && (cwd[qlen] == '\0' || strcmp(cwd + qlen, " (deleted)") == 0);
}

int dmg_postfix_stop(dmg_postfix *p)
{
    if (!p->started)
        return 0;
    p->started = 0;
    pid_t master = master_pid(p);
    if (master > 0 && !is_master_of(master, p))
        master = 0;
    int rc = dmg_postfix_cmd(p, "stop") == 0 ? 0 : -1;
    if (master > 0) {
        long deadline = dmg_now_ms() + STOP_WAIT_MS;
        while (running(master) && dmg_now_ms() < deadline)
            dmg_nap_ms(20);
        if (running(master)) {
            fprintf(stderr, "the Postfix master %ld did not stop; killing it\n", (long)master);
            kill(master, SIGKILL);
            rc = -1;
        }
    }
    return rc;
}

void dmg_postfix_stop_leftovers(const char *server_dir)
{
    DIR *d = server_dir != NULL ? opendir(server_dir) : NULL;
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "postfix-", 8) != 0)
            continue;
        dmg_postfix p;
        char dir[PATH_MAX];
        memset(&p, 0, sizeof p);
        if (dmg_path_fmt(dir, sizeof dir, "%s/%s", server_dir, e->d_name) != 0
            || dmg_path_fmt(p.dir, sizeof p.dir, "%s", dir) != 0
            || dmg_path_fmt(p.etc, sizeof p.etc, "%s/etc", dir) != 0
            || dmg_path_fmt(p.queue, sizeof p.queue, "%s/queue", dir) != 0)
            continue;
        /* only a master still running (Postfix leaves the pid file behind) */
        pid_t master = master_pid(&p);
        if (master <= 0 || !running(master) || !is_master_of(master, &p))
            continue;
        fprintf(stderr, "stopping the Postfix instance left in %s\n", p.dir);
        p.started = 1;
        dmg_postfix_stop(&p);
    }
    closedir(d);
}
