/*
 * harness.c -- runs a real slapd for the integration tests and wraps libldap for them.
 * See harness.h for the interface and the environment it reads.
 */
#define _GNU_SOURCE /* mkdtemp, nftw, prctl, strcasecmp with C99 */

#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sasl/sasl.h>

/* Bounds. Everything that waits, waits in 10 ms steps for a bounded number of steps. */
#define NAP_MS            10
#define READY_TRIES       1500 /* slapd start: up to ~15 s (sanitizer builds are slow) */
#define STOP_TRIES        2000 /* slapd shutdown after SIGTERM: up to ~20 s */
#define TOOL_TRIES        12000 /* slaptest / slapadd: up to ~120 s */
#define PORT_ATTEMPTS     5    /* another process may grab the port we picked */
#define MAX_SERVERS       16   /* servers alive at once in one process */
#define LOG_DUMP_MAX      65536 /* bytes of slapd.log printed on failure */
#define LDAP_OP_TIMEOUT_S 30   /* client-side bound on one LDAP operation */
#define TCASE_TIMEOUT_S   60
#define UNIX_PATH_MAX_    100  /* sun_path is 108 bytes; keep a margin */
/* Valgrind mode (DMG_VALGRIND): slapd runs 20-50 times slower and checks for leaks at exit. */
#define VG_READY_S        180  /* slapd start under valgrind: wall-clock bound */
#define VG_STOP_TRIES     18000 /* shutdown + leak check: up to ~180 s */
#define VG_SLOWDOWN       5    /* Check test-case timeouts and LDAP operation bounds grow */
#define VG_ERROR_EXIT     97   /* --error-exitcode: "valgrind saw errors"; the log decides */
#define VG_INFO_SHOWN     5    /* records outside the module printed in full per log */
#define DEFAULT_VALGRIND  "/usr/bin/valgrind"

#define DEFAULT_SLAPD      "/usr/sbin/slapd"
#define DEFAULT_MODULEPATH "/usr/lib/ldap"
#define DEFAULT_SCHEMADIR  "/etc/ldap/schema"
#define DEFAULT_FIXTURE    "org.ldif"

struct dmg_server {
    char dir[PATH_MAX];
    char conf[PATH_MAX];
    char tools_conf[PATH_MAX];
    char confdir[PATH_MAX]; /* <dir>/slapd.d: slapd's configuration when config_dir is set */
    int config_dir;         /* slapd runs with -F confdir (converted from conf) instead of -f */
    char pidfile[PATH_MAX];
    char log[PATH_MAX];
    char socket[PATH_MAX];
    char uri[64];
    char ldapi_uri[3 * PATH_MAX];
    int port;
    volatile pid_t pid;  /* read by the signal handler */
    pid_t owner;         /* the process that started slapd; only it may stop it */
    off_t log_offset;    /* where the current run's output starts in slapd.log */
    int under_valgrind;    /* slapd was started under valgrind (DMG_VALGRIND) */
    int killed;            /* the current (or last) run ended by dmg_server_kill */
    char vg_log[PATH_MAX]; /* then: the current (or last) run's valgrind log */
};

/* ============================================================================================
 * Small utilities
 * ========================================================================================== */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return p;
}

static void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

/* Growable string; every append keeps it NUL-terminated. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_putn(sbuf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->s = xrealloc(b->s, cap);
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *p)
{
    sb_putn(b, p, strlen(p));
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *tmp = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_putn(b, tmp, (size_t)n);
    free(tmp);
}

/* The buffer's string, "" for an empty buffer; ownership passes to the caller. */
static char *sb_take(sbuf *b)
{
    char *s = b->s ? b->s : xstrdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

/* snprintf that reports truncation instead of silently cutting a path. */
static int fmt_path(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fmt_path(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "harness: path too long: %s...\n", dst);
        return -1;
    }
    return 0;
}

static void copy_bounded(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return (v != NULL && *v != '\0') ? v : dflt;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ============================================================================================
 * Where things are (environment with defaults for runs by hand)
 * ========================================================================================== */

/* The source tree: $DMG_SRCDIR, else the first of ., .., ../.. (or this file's tree when it
 * was compiled with an absolute path) that holds schema/dynmailgroup.schema. */
static const char *src_dir(void)
{
    static char found[PATH_MAX];
    const char *env = getenv("DMG_SRCDIR");
    if (env != NULL && *env != '\0')
        return env;
    if (found[0] != '\0')
        return found;

    char from_file[PATH_MAX];
    copy_bounded(from_file, sizeof from_file, __FILE__);
    char *cut = strstr(from_file, "tests/integration/harness.c");
    if (cut != NULL)
        *cut = '\0';
    const char *candidates[] = { ".", "..", "../..", from_file[0] ? from_file : "." };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char probe[PATH_MAX];
        if (fmt_path(probe, sizeof probe, "%s/schema/dynmailgroup.schema", candidates[i]) == 0
            && file_exists(probe) && realpath(candidates[i], found) != NULL)
            return found;
    }
    copy_bounded(found, sizeof found, ".");
    return found;
}

/* The module, always as an absolute path: moduleload resolves relative names against
 * modulepath, not against the current directory. */
static const char *module_path(void)
{
    static char path[PATH_MAX];
    char raw[PATH_MAX];
    const char *env = getenv("DMG_MODULE");
    if (env != NULL && *env != '\0')
        copy_bounded(raw, sizeof raw, env);
    else if (fmt_path(raw, sizeof raw, "%s/.libs/dynmailgroup.so",
                      env_or("DMG_BUILDDIR", ".")) != 0)
        return env_or("DMG_MODULE", "dynmailgroup.so");
    if (raw[0] == '/' || realpath(raw, path) == NULL)
        copy_bounded(path, sizeof path, raw);
    return path;
}

static const char *slapd_path(void)
{
    return env_or("DMG_SLAPD", DEFAULT_SLAPD);
}

/* A slapd tool (slaptest, slapadd): the explicit path when given, else the binary next to
 * slapd with that name, else slapd itself started under that name (slapd picks its mode from
 * argv[0]). */
static void tool_path(const char *tool, const char *explicit_path, char *out, size_t size)
{
    if (explicit_path != NULL && *explicit_path != '\0') {
        copy_bounded(out, size, explicit_path);
        return;
    }
    char sibling[PATH_MAX];
    copy_bounded(sibling, sizeof sibling, slapd_path());
    char *slash = strrchr(sibling, '/');
    if (slash != NULL) {
        slash[1] = '\0';
        char candidate[PATH_MAX];
        if (fmt_path(candidate, sizeof candidate, "%s%s", sibling, tool) == 0
            && access(candidate, X_OK) == 0) {
            copy_bounded(out, size, candidate);
            return;
        }
    }
    copy_bounded(out, size, slapd_path());
}

/* ============================================================================================
 * Child processes
 * ========================================================================================== */

/* Sanitizer builds preload the ASan/UBSan runtime into Debian's uninstrumented slapd.
 *
 * Known wart of that set-up (glibc 2.36, GCC 12 libasan, p11-kit 0.24): libasan's constructor
 * runs after libp11-kit's (preloaded objects are initialised last), so ASan initialises lazily
 * inside p11-kit's constructor, in malloc() called by newlocale() while newlocale holds glibc's
 * setlocale lock; ASan's initialisation calls dlerror(), whose gettext takes the same lock and
 * leaves it corrupt. Everything works until exit(), where p11-kit's destructor (freelocale)
 * blocks forever on that lock. So a preloaded slapd or slap tool never exits by itself; the
 * harness recognises "finished, stuck in exit handlers" and kills it (see wait_done). */
enum { RUN_PRELOAD = 1, RUN_SLAPD = 2 };

static int preload_mode(void)
{
    const char *preload = getenv("DMG_PRELOAD");
    return preload != NULL && *preload != '\0';
}

/* Valgrind mode: DMG_VALGRIND set to anything but "" or "0" runs slapd (not the slap tools,
 * not the test programs) under memcheck; see launch_under_valgrind and scan_valgrind_log.
 * Memcheck and a preloaded ASan runtime exclude each other: with DMG_PRELOAD set the variable
 * is ignored, with a warning. */
static int valgrind_mode(void)
{
    static int warned;
    const char *v = getenv("DMG_VALGRIND");
    if (v == NULL || *v == '\0' || strcmp(v, "0") == 0)
        return 0;
    if (preload_mode()) {
        if (!warned++)
            fprintf(stderr, "harness: DMG_VALGRIND ignored: sanitizer build (DMG_PRELOAD set)\n");
        return 0;
    }
    return 1;
}

/* slapd 2.5 unloads its modules (module_kill) before every pool thread has exited; a thread
 * that exits later runs LMDB's reader-slot destructor (a pthread key of back_mdb) at an address
 * no longer mapped, and slapd dies of SIGSEGV at shutdown, now and then under load. Preloading
 * back_mdb keeps it mapped after moduleload's handle is closed, so a stop is judged on what the
 * test did, not on that race. Nothing changes when the module is not a separate file. Not
 * under valgrind: LD_PRELOAD would reach the wrapper scripts before slapd, and slapd runs there
 * far too slowly for that race. */
static void append_back_mdb(char *preload, size_t size)
{
    char path[PATH_MAX];
    if (fmt_path(path, sizeof path, "%s/back_mdb.so",
                 env_or("DMG_MODULEPATH", DEFAULT_MODULEPATH)) != 0 || !file_exists(path))
        return;
    size_t used = strlen(preload);
    if (used + 1 + strlen(path) + 1 > size)
        return;
    snprintf(preload + used, size - used, "%s%s", used > 0 ? ":" : "", path);
}

/* In the child, before exec: output to the log, sanitizer runtime when asked for, and (Linux)
 * death of the child when the test process dies, so an aborted test run leaves no slapd.
 * SIGKILL, because slap tools catch SIGTERM and a preloaded process may hang in exit(). */
static void child_setup(const char *logpath, int flags, pid_t parent)
{
    int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        if (devnull > STDERR_FILENO)
            close(devnull);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
#else
    (void)parent;
#endif
    char preload[2 * PATH_MAX + 2] = "";
    if (flags & RUN_PRELOAD) {
        /* Debian's slapd is not instrumented; the module is. Leaks of slapd itself are not
         * ours to report, and an error must end the process so that stop() notices it. */
        copy_bounded(preload, sizeof preload, getenv("DMG_PRELOAD"));
        setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
        setenv("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1", 1);
    }
    if (flags & RUN_SLAPD)
        append_back_mdb(preload, sizeof preload);
    if (preload[0] != '\0')
        setenv("LD_PRELOAD", preload, 1);
}

/* fork + exec path with argv; output appended to logpath. -1 when fork fails. */
static pid_t spawn(const char *path, char *const argv[], const char *logpath, int flags)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        child_setup(logpath, flags, parent);
        execv(path, argv);
        fprintf(stderr, "harness: exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    return pid;
}

static void describe_status(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "status 0x%x", status);
}

/* Print a file (from offset, at most LOG_DUMP_MAX bytes: the end is what matters) to stderr. */
static void dump_file(const char *title, const char *path, off_t offset)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "harness: %s: cannot open %s\n", title, path);
        return;
    }
    fseeko(f, 0, SEEK_END);
    off_t end = ftello(f);
    off_t from = offset;
    if (end - from > LOG_DUMP_MAX)
        from = end - LOG_DUMP_MAX;
    fseeko(f, from, SEEK_SET);
    fprintf(stderr, "----- %s (%s%s) -----\n", title, path, from > offset ? ", end only" : "");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fprintf(stderr, "----- end of %s -----\n", title);
    fclose(f);
}

/* Does the file (from offset) contain text? */
static int log_contains(const char *path, off_t offset, const char *text)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    fseeko(f, offset, SEEK_SET);
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* Wait for pid, at most tries * NAP_MS. 0 with *status when it ended, 1 on timeout, -1 on
 * error. With done_marker (preload mode only) it also accepts "finished, stuck in its exit
 * handlers": the log (from offset) shows done_marker, gone_file (when not NULL) no longer
 * exists, and the process is still there EXIT_HANG_TRIES polls later; it is then killed and
 * reported as a clean exit.  A tool that fails hangs in exit the same way: fail_marker seen,
 * it is killed and reported as exit status 1. */
#define EXIT_HANG_TRIES 20 /* ~200 ms for the last clean-up between marker and exit() */
static int wait_done(pid_t pid, int tries, int *status, const char *log, off_t offset,
                     const char *done_marker, const char *fail_marker, const char *gone_file)
{
    int finished_polls = 0;
    int marker_seen = 0;
    for (int i = 0; i < tries; i++) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
        if (done_marker != NULL && !marker_seen)
            marker_seen = log_contains(log, offset, done_marker);
        if (fail_marker != NULL && log_contains(log, offset, fail_marker)
            && ++finished_polls > EXIT_HANG_TRIES) {
            kill(pid, SIGKILL);
            waitpid(pid, status, 0);
            *status = W_EXITCODE(1, 0);
            return 0;
        }
        if (marker_seen && (gone_file == NULL || !file_exists(gone_file))
            && ++finished_polls > EXIT_HANG_TRIES) {
            kill(pid, SIGKILL);
            waitpid(pid, status, 0);
            *status = 0;
            return 0;
        }
        dmg_nap_ms(NAP_MS);
    }
    return 1;
}

/* Run a slapd tool to completion; its exit status, or -1 when it could not run or hung.
 * done_marker, fail_marker: see wait_done (only used with RUN_PRELOAD). */
static int run_tool(const char *path, char *const argv[], const char *logpath, int flags,
                    const char *done_marker, const char *fail_marker)
{
    off_t offset = 0;
    struct stat st;
    if (stat(logpath, &st) == 0)
        offset = st.st_size;
    pid_t pid = spawn(path, argv, logpath, flags);
    if (pid < 0)
        return -1;
    int status = 0;
    int w = wait_done(pid, TOOL_TRIES, &status, logpath, offset,
                      (flags & RUN_PRELOAD) ? done_marker : NULL,
                      (flags & RUN_PRELOAD) ? fail_marker : NULL, NULL);
    if (w != 0) {
        fprintf(stderr, "harness: %s did not finish; killing it\n", argv[0]);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char how[128];
        describe_status(status, how, sizeof how);
        fprintf(stderr, "harness: %s failed (%s)\n", argv[0], how);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    return 0;
}

/* ============================================================================================
 * Registry of live servers: the signal handler and atexit() stop what this process started.
 * ========================================================================================== */

static dmg_server *volatile registry[MAX_SERVERS];
static int cleanup_installed;

static int registry_add(dmg_server *s)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (registry[i] == NULL) {
            registry[i] = s;
            return 0;
        }
    }
    fprintf(stderr, "harness: more than %d servers at once\n", MAX_SERVERS);
    return -1;
}

static void registry_remove(dmg_server *s)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        if (registry[i] == s)
            registry[i] = NULL;
}

/* Async-signal-safe: only kill(), getpid(), write(), signal(), raise(). Check's forked test
 * children inherit this handler and the registry, hence the owner test. */
static void on_fatal_signal(int sig)
{
    pid_t self = getpid();
    for (int i = 0; i < MAX_SERVERS; i++) {
        dmg_server *s = registry[i];
        if (s != NULL && s->owner == self && s->pid > 0)
            kill(s->pid, SIGKILL);
    }
    static const char msg[] = "harness: interrupted; slapd killed\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    signal(sig, SIG_DFL);
    raise(sig);
}

static int stop_server(dmg_server *s, int quiet);
static void remove_dir(dmg_server *s);

/* Runs in every process that exits normally, Check's test children included. */
static void cleanup_at_exit(void)
{
    pid_t self = getpid();
    for (int i = 0; i < MAX_SERVERS; i++) {
        dmg_server *s = registry[i];
        if (s != NULL && s->owner == self) {
            registry[i] = NULL;
            stop_server(s, 1);
            remove_dir(s);
            free(s);
        }
    }
}

static void install_cleanup(void)
{
    if (cleanup_installed)
        return;
    cleanup_installed = 1;
    atexit(cleanup_at_exit);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* ============================================================================================
 * Server: configuration
 * ========================================================================================== */

static void conf_modules(sbuf *c, const dmg_server_opts *o, int with_dmg)
{
    /* Modules before schema, as in Debian's cn=config layout (cn=module{0} is loaded before
     * cn=schema): a module must not need the schema files at load time. */
    sb_printf(c, "modulepath %s\nmoduleload back_mdb\n", env_or("DMG_MODULEPATH", DEFAULT_MODULEPATH));
    if (o->modules != NULL) {
        const char *p = o->modules;
        while (*p != '\0') {
            size_t skip = strspn(p, " \t\n,");
            p += skip;
            size_t n = strcspn(p, " \t\n,");
            if (n > 0)
                sb_printf(c, "moduleload %.*s\n", (int)n, p);
            p += n;
        }
    }
    if (with_dmg)
        sb_printf(c, "moduleload \"%s\"\n", module_path());
}

static void conf_schema(sbuf *c, const dmg_server_opts *o)
{
    const char *dir = env_or("DMG_SCHEMADIR", DEFAULT_SCHEMADIR);
    static const char *const files[] = { "core", "cosine", "inetorgperson", "dyngroup" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        sb_printf(c, "include %s/%s.schema\n", dir, files[i]);
    if (!o->no_dmg_schema)
        sb_printf(c, "include \"%s/schema/dynmailgroup.schema\"\n", src_dir());
}

static void conf_verbatim(sbuf *c, const char *text)
{
    if (text == NULL || *text == '\0')
        return;
    sb_puts(c, text);
    if (text[strlen(text) - 1] != '\n')
        sb_puts(c, "\n");
}

/* slapd.conf, or with for_tools the same without the dynmailgroup module and overlay: slapadd
 * needs neither (tool mode bypasses overlays), and so it runs uninstrumented even in sanitizer
 * builds. */
static char *build_config(const dmg_server *s, const dmg_server_opts *o, int for_tools)
{
    int with_dmg = !o->without_module && !for_tools;
    sbuf c = { 0 };
    sb_printf(&c, "# generated by tests/integration/harness.c%s\n",
              for_tools ? " (for slapadd: no dynmailgroup)" : "");
    conf_modules(&c, o, with_dmg);
    conf_schema(&c, o);
    sb_printf(&c, "pidfile \"%s/slapd.pid\"\nargsfile \"%s/slapd.args\"\n", s->dir, s->dir);
    conf_verbatim(&c, o->global_config);

    /* cn=config: manage for this process's peer credentials over ldapi (root in CI), so tests
     * can change overlay settings at run time; cn=config/secret as a simple-bind fallback. */
    sb_printf(&c,
              "\ndatabase config\nrootdn \"cn=config\"\nrootpw secret\n"
              "access to * by dn.exact=\"gidNumber=%lu+uidNumber=%lu,cn=peercred,cn=external,cn=auth\""
              " manage by * none\n",
              (unsigned long)getgid(), (unsigned long)getuid());

    if (o->accesslog_db != NULL) {
        sb_printf(&c, "\ndatabase mdb\nsuffix \"cn=accesslog\"\ndirectory \"%s/accesslog\"\n",
                  s->dir);
        conf_verbatim(&c, o->accesslog_db);
    }

    sb_printf(&c,
              "\ndatabase mdb\nsuffix \"%s\"\nrootdn \"%s\"\nrootpw %s\n"
              "directory \"%s/db\"\nmaxsize 1073741824\n"
              "index objectClass eq\nindex uid eq\nindex mail eq\nindex cn eq\n",
              DMG_SUFFIX, DMG_ROOTDN, DMG_ROOTPW, s->dir);
    if (!o->no_dmg_schema)
        sb_puts(&c, "index dmgDepartment eq\n");
    conf_verbatim(&c, o->db_config);
    conf_verbatim(&c, o->overlays_before);
    if (with_dmg && !o->without_overlay) {
        sb_puts(&c, "overlay dynmailgroup\n");
        conf_verbatim(&c, o->overlay_config);
    }
    return sb_take(&c);
}

/* ============================================================================================
 * Server: directory, tools, port, start, readiness
 * ========================================================================================== */

/* A private directory; /tmp when $TMPDIR is too long for the ldapi socket path. */
static int make_dir(dmg_server *s)
{
    const char *tmp = env_or("TMPDIR", "/tmp");
    if (strlen(tmp) + sizeof "/dmg-XXXXXX/ldapi" > UNIX_PATH_MAX_)
        tmp = "/tmp";
    if (fmt_path(s->dir, sizeof s->dir, "%s/dmg-XXXXXX", tmp) != 0)
        return -1;
    if (mkdtemp(s->dir) == NULL) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", s->dir, strerror(errno));
        return -1;
    }
    char db[PATH_MAX];
    if (fmt_path(db, sizeof db, "%s/db", s->dir) != 0 || mkdir(db, 0700) != 0)
        return -1;
    if (fmt_path(s->conf, sizeof s->conf, "%s/slapd.conf", s->dir) != 0
        || fmt_path(s->tools_conf, sizeof s->tools_conf, "%s/slapadd.conf", s->dir) != 0
        || fmt_path(s->confdir, sizeof s->confdir, "%s/slapd.d", s->dir) != 0
        || fmt_path(s->pidfile, sizeof s->pidfile, "%s/slapd.pid", s->dir) != 0
        || fmt_path(s->log, sizeof s->log, "%s/slapd.log", s->dir) != 0
        || fmt_path(s->socket, sizeof s->socket, "%s/ldapi", s->dir) != 0)
        return -1;
    /* ldapi URLs carry the socket path percent-encoded ('/' as %2F). */
    sbuf u = { 0 };
    sb_puts(&u, "ldapi://");
    for (const char *p = s->socket; *p != '\0'; p++) {
        unsigned char ch = (unsigned char)*p;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_')
            sb_putn(&u, p, 1);
        else
            sb_printf(&u, "%%%02X", ch);
    }
    sb_puts(&u, "/");
    copy_bounded(s->ldapi_uri, sizeof s->ldapi_uri, u.s);
    free(u.s);
    return 0;
}

static off_t file_size(const char *path);

/* slaptest on the server's configuration: mode 'u' checks slapd.conf (slaptest -u -f),
 * 'c' converts it into the empty <dir>/slapd.d (slaptest -n0 -f slapd.conf -F slapd.d,
 * which checks it as well), 'F' checks the slapd.d as it is now (slaptest -u -F). */
static int run_slaptest(const dmg_server *s, int mode)
{
    char path[PATH_MAX];
    tool_path("slaptest", NULL, path, sizeof path);
    char tool_log[PATH_MAX];
    if (fmt_path(tool_log, sizeof tool_log, "%s/slaptest.log", s->dir) != 0)
        return -1;
    char *check_conf[] = { "slaptest", "-u", "-f", (char *)s->conf, NULL };
    /* -n0: open only the config database (the mdb one may not exist yet: slapadd comes
     * after, and a slap tool does not create it); all of slapd.conf is still parsed. */
    char *convert[] = { "slaptest", "-n0", "-f", (char *)s->conf, "-F", (char *)s->confdir,
                        NULL };
    char *check_dir[] = { "slaptest", "-u", "-F", (char *)s->confdir, NULL };
    char **argv = mode == 'c' ? convert : mode == 'F' ? check_dir : check_conf;
    if (mode == 'c' && mkdir(s->confdir, 0700) != 0) {
        fprintf(stderr, "harness: mkdir %s: %s\n", s->confdir, strerror(errno));
        return -1;
    }
    off_t offset = file_size(tool_log);
    int flags = preload_mode() ? RUN_PRELOAD : 0;
    /* "slaptest: bad configuration file!" (or directory) */
    if (run_tool(path, argv, tool_log, flags, "config file testing succeeded",
                 "bad configuration") != 0) {
        dump_file("slaptest output", tool_log, offset);
        if (mode != 'F')
            dump_file("generated slapd.conf", s->conf, 0);
        return -1;
    }
    return 0;
}

/* slapd.conf checked, or in config_dir mode converted into slapd.d. */
static int validate_config(const dmg_server *s)
{
    return run_slaptest(s, s->config_dir ? 'c' : 'u');
}

static int load_fixture(const dmg_server *s, const char *fixture)
{
    if (fixture == NULL)
        fixture = DEFAULT_FIXTURE;
    if (*fixture == '\0')
        return 0;
    char ldif[PATH_MAX];
    if (fixture[0] == '/')
        copy_bounded(ldif, sizeof ldif, fixture);
    else if (fmt_path(ldif, sizeof ldif, "%s/tests/fixtures/%s", src_dir(), fixture) != 0)
        return -1;
    char path[PATH_MAX];
    tool_path("slapadd", getenv("DMG_SLAPADD"), path, sizeof path);
    char tool_log[PATH_MAX];
    if (fmt_path(tool_log, sizeof tool_log, "%s/slapadd.log", s->dir) != 0)
        return -1;
    char *argv[] = { "slapadd", "-q", "-f", (char *)s->tools_conf, "-b", DMG_SUFFIX, "-l", ldif,
                     NULL };
    if (run_tool(path, argv, tool_log, 0, NULL, NULL) != 0) {
        dump_file("slapadd output", tool_log, 0);
        return -1;
    }
    return 0;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* One anonymous bind; the first that succeeds proves slapd serves requests. */
static int probe_bind(const char *uri)
{
    LDAP *ld = NULL;
    if (ldap_initialize(&ld, uri) != LDAP_SUCCESS)
        return -1;
    int version = LDAP_VERSION3;
    struct timeval tv = { 1, 0 };
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    struct berval empty = { 0, NULL };
    int rc = ldap_sasl_bind_s(ld, NULL, LDAP_SASL_SIMPLE, &empty, NULL, NULL, NULL);
    ldap_unbind_ext_s(ld, NULL, NULL);
    return rc;
}

enum { START_OK = 0, START_FAILED = -1, START_PORT_TAKEN = -2 };

/* slapd's -d level. "none" logs only what slapd always logs (errors, "slapd starting",
 * "slapd stopped."); stop_server needs the last one in preload mode, so never 0 there. */
static const char *debug_level(void)
{
    const char *level = env_or("DMG_SLAPD_DEBUG", "none");
    if (preload_mode() && strcmp(level, "0") == 0)
        return "none";
    return level;
}

/* Valgrind mode: exec valgrind on slapd with slapd's arguments (argv[0] excluded; slapd then
 * sees its own path as argv[0] and still runs as the server). valgrind's output goes to
 * <dir>/valgrind.<pid>.log, <pid> being s->pid since spawn execs valgrind directly.
 *   --error-exitcode: a distinct status; stop_server accepts it and the log decides.
 *   --keep-debuginfo=yes: slapd unloads modules before it exits; without it the leak report's
 *     frames in dynmailgroup.so would be "???".
 *   --fullpath-after= : full source paths, so a frame of ours reads ".../overlay/x.c:LINE".
 * DMG_VALGRIND_BIN names valgrind (/usr/bin/valgrind); DMG_VALGRIND_OPTS adds options
 * (space separated, after ours), e.g. "--track-origins=yes --gen-suppressions=all". */
static int launch_under_valgrind(dmg_server *s, char *const slapd_argv[])
{
    enum { MAX_ARGS = 64 };
    static const char *const fixed[] = {
        "--tool=memcheck", "--leak-check=full", "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite", "--track-origins=no", "--num-callers=30",
        "--keep-debuginfo=yes", "--fullpath-after=",
    };
    char exitcode[32], logfile[PATH_MAX + 16], supp[PATH_MAX], suppopt[PATH_MAX + 16];
    char extra[1024];
    char *argv[MAX_ARGS];
    int n = 0;
    snprintf(exitcode, sizeof exitcode, "--error-exitcode=%d", VG_ERROR_EXIT);
    if (fmt_path(logfile, sizeof logfile, "--log-file=%s/valgrind.%%p.log", s->dir) != 0
        || fmt_path(supp, sizeof supp, "%s/tests/valgrind.supp", src_dir()) != 0)
        return START_FAILED;
    argv[n++] = "valgrind";
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argv[n++] = (char *)fixed[i];
    argv[n++] = exitcode;
    argv[n++] = logfile;
    if (file_exists(supp)) {
        snprintf(suppopt, sizeof suppopt, "--suppressions=%s", supp);
        argv[n++] = suppopt;
    }
    copy_bounded(extra, sizeof extra, getenv("DMG_VALGRIND_OPTS"));
    char *save = NULL;
    for (char *tok = strtok_r(extra, " \t\n", &save); tok != NULL && n < MAX_ARGS - 12;
         tok = strtok_r(NULL, " \t\n", &save))
        argv[n++] = tok;
    argv[n++] = (char *)slapd_path();
    for (int i = 1; slapd_argv[i] != NULL && n < MAX_ARGS - 1; i++)
        argv[n++] = slapd_argv[i];
    argv[n] = NULL;
    s->pid = spawn(env_or("DMG_VALGRIND_BIN", DEFAULT_VALGRIND), argv, s->log, 0);
    if (s->pid <= 0)
        return START_FAILED;
    s->under_valgrind = 1;
    if (fmt_path(s->vg_log, sizeof s->vg_log, "%s/valgrind.%ld.log", s->dir, (long)s->pid) != 0)
        return START_FAILED;
    return START_OK;
}

/* Exec slapd in the foreground (-d) so that its pid is ours to wait for and stop. */
static int launch_slapd(dmg_server *s)
{
    if (fmt_path(s->uri, sizeof s->uri, "ldap://127.0.0.1:%d/", s->port) != 0)
        return START_FAILED;
    char urls[sizeof s->uri + sizeof s->ldapi_uri + 2];
    snprintf(urls, sizeof urls, "%s %s", s->uri, s->ldapi_uri);
    char *argv[] = { "slapd", "-d", (char *)debug_level(), s->config_dir ? "-F" : "-f",
                     s->config_dir ? s->confdir : s->conf, "-h", urls, NULL };
    s->log_offset = file_size(s->log);
    s->killed = 0;
    if (valgrind_mode())
        return launch_under_valgrind(s, argv);
    s->pid = spawn(slapd_path(), argv, s->log, RUN_SLAPD | (preload_mode() ? RUN_PRELOAD : 0));
    return s->pid > 0 ? START_OK : START_FAILED;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Under valgrind a start takes seconds and a probe against a half-started slapd may use its
 * whole 1 s timeout, so the bound there is wall-clock time (VG_READY_S), not a try count. */
static int ready_timed_out(const dmg_server *s, int tries, const struct timespec *t0)
{
    if (s->under_valgrind)
        return seconds_since(t0) > VG_READY_S;
    return tries >= READY_TRIES;
}

/* Bounded wait until an anonymous bind succeeds; gives up early when slapd exits. */
static int wait_ready(dmg_server *s)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; !ready_timed_out(s, i, &t0); i++) {
        int status = 0;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = -1;
            if (log_contains(s->log, s->log_offset, "Address already in use"))
                return START_PORT_TAKEN;
            char how[128];
            describe_status(status, how, sizeof how);
            fprintf(stderr, "harness: slapd exited during start-up (%s)\n", how);
            dump_file("slapd.log", s->log, s->log_offset);
            if (s->under_valgrind)
                dump_file("valgrind log", s->vg_log, 0);
            return START_FAILED;
        }
        if (probe_bind(s->uri) == LDAP_SUCCESS)
            return START_OK;
        dmg_nap_ms(NAP_MS);
    }
    fprintf(stderr, "harness: slapd did not answer on %s in time\n", s->uri);
    dump_file("slapd.log", s->log, s->log_offset);
    if (s->under_valgrind)
        dump_file("valgrind log", s->vg_log, 0);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = -1;
    return START_FAILED;
}

/* Start slapd on s->port (when set) or a fresh port; another port when that one is taken. */
static int start_slapd(dmg_server *s)
{
    for (int attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
        if (s->port <= 0 && (s->port = dmg_unused_port()) <= 0) {
            fprintf(stderr, "harness: no free loopback port\n");
            return -1;
        }
        if (launch_slapd(s) != START_OK)
            return -1;
        int rc = wait_ready(s);
        if (rc == START_OK)
            return 0;
        if (rc != START_PORT_TAKEN)
            return -1;
        fprintf(stderr, "harness: port %d taken; trying another\n", s->port);
        s->port = 0;
    }
    return -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "harness: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static void remove_dir(dmg_server *s)
{
    if (s->dir[0] == '\0')
        return;
    if (getenv("DMG_KEEP_TMP") != NULL) {
        fprintf(stderr, "harness: kept %s\n", s->dir);
        return;
    }
    nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int make_accesslog_dir(const dmg_server *s, const dmg_server_opts *o)
{
    char dir[PATH_MAX];
    if (o->accesslog_db == NULL)
        return 0;
    if (fmt_path(dir, sizeof dir, "%s/accesslog", s->dir) != 0 || mkdir(dir, 0700) != 0) {
        fprintf(stderr, "harness: cannot create %s\n", dir);
        return -1;
    }
    return 0;
}

static void track(const dmg_server *s);

dmg_server *dmg_server_start(const dmg_server_opts *o)
{
    static const dmg_server_opts defaults;
    if (o == NULL)
        o = &defaults;
    /* Keep a developer's ~/.ldaprc or ldap.conf (BASE, SIZELIMIT, URI ...) out of the tests. */
    setenv("LDAPNOINIT", "1", 0);

    if (!o->without_module && !file_exists(module_path())) {
        fprintf(stderr, "harness: module %s not found (build it first, or set DMG_MODULE / "
                        "DMG_BUILDDIR)\n", module_path());
        return NULL;
    }
    dmg_server *s = xmalloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->pid = -1;
    s->owner = getpid();
    s->config_dir = o->config_dir != 0;
    if (make_dir(s) != 0)
        goto fail;
    char *conf = build_config(s, o, 0);
    char *tools_conf = build_config(s, o, 1);
    int wrote = dmg_write_file(s->conf, conf, 0) | dmg_write_file(s->tools_conf, tools_conf, 0);
    free(conf);
    free(tools_conf);
    if (wrote != 0 || make_accesslog_dir(s, o) != 0 || validate_config(s) != 0
        || load_fixture(s, o->fixture) != 0)
        goto fail;
    track(s);

    install_cleanup();
    if (registry_add(s) != 0)
        goto fail;
    if (start_slapd(s) != 0) {
        registry_remove(s);
        goto fail;
    }
    return s;

fail:
    fprintf(stderr, "harness: slapd not started%s\n",
            getenv("DMG_KEEP_TMP") == NULL ? " (DMG_KEEP_TMP=1 keeps its files)" : "");
    remove_dir(s);
    free(s);
    return NULL;
}

char *dmg_server_start_captured(dmg_server **out, const dmg_server_opts *o)
{
    char path[] = "/tmp/dmg-stderr-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    *out = dmg_server_start(o);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *text = dmg_read_file(path);
    unlink(path);
    fputs(text, stderr);
    return text;
}

/* ============================================================================================
 * Server: stop, restart
 * ========================================================================================== */

/* ---- valgrind mode: judging memcheck's log ------------------------------------------------
 *
 * memcheck writes records separated by empty "==PID== " lines (or directly after a warning
 * line); an error record starts with an unindented headline ("Invalid read of size 8",
 * "Conditional jump or move depends on uninitialised value(s)", "40 bytes in 1 blocks are
 * definitely lost in loss record 3 of 9", ...) followed by its stack(s) (for invalid
 * accesses also where the block was allocated and freed).
 * An error record is the module's when any of its frames is in dynmailgroup.so or in a source
 * file under overlay/: that fails the run and is printed in full. Records entirely inside
 * slapd and its libraries are printed as information only (tests/valgrind.supp silences the
 * known ones). */

static const char *const vg_error_kinds[] = {
    "Invalid read", "Invalid write", "Invalid free", "Mismatched free", "uninitialised",
    "definitely lost", "Source and destination overlap", "fishy value", "Process terminating",
};

/* The line without valgrind's "==PID== " (or "--PID-- ") prefix. */
static const char *vg_body(const char *line)
{
    if ((line[0] == '=' && line[1] == '=') || (line[0] == '-' && line[1] == '-')) {
        const char *p = line + 2;
        while (isdigit((unsigned char)*p))
            p++;
        if (p > line + 2 && p[0] == line[0] && p[1] == line[0])
            return p[2] == ' ' ? p + 3 : p + 2;
    }
    return line;
}

static int vg_is_error(const char *record)
{
    size_t head = strcspn(record, "\n");
    for (size_t i = 0; i < sizeof vg_error_kinds / sizeof vg_error_kinds[0]; i++) {
        const char *hit = strstr(record, vg_error_kinds[i]);
        if (hit != NULL && (size_t)(hit - record) < head)
            return 1;
    }
    return 0;
}

static int vg_is_module(const char *record)
{
    return strstr(record, "dynmailgroup.so") != NULL || strstr(record, "/overlay/") != NULL
        || strstr(record, "(overlay/") != NULL;
}

/* 0 when the log shows no error of the module and a finished leak check; else prints the
 * module's records and returns 1. */
static int scan_valgrind_log(const dmg_server *s)
{
    FILE *f = fopen(s->vg_log, "r");
    if (f == NULL) {
        fprintf(stderr, "harness: valgrind log %s: %s\n", s->vg_log, strerror(errno));
        return 1;
    }
    sbuf rec = { 0 }, mine = { 0 }, info = { 0 };
    int n_mine = 0, n_info = 0, finished = 0;
    char summary[512] = "";
    char line[4096];
    for (;;) {
        char *got = fgets(line, sizeof line, f);
        const char *body = got != NULL ? vg_body(line) : "";
        /* A record ends at an empty line, and where an unindented line (the next headline,
         * e.g. after a "Warning: set address range perms" line) begins. */
        int blank = got == NULL || body[strspn(body, " \t\r\n")] == '\0';
        if (blank || (body[0] != ' ' && rec.len > 0)) {
            if (rec.len > 0 && vg_is_error(rec.s)) {
                if (vg_is_module(rec.s)) {
                    sb_printf(&mine, "----- valgrind: the module's error %d -----\n%s", ++n_mine,
                              rec.s);
                } else if (++n_info <= VG_INFO_SHOWN) {
                    sb_printf(&info, "----- valgrind (info): outside the module -----\n%s",
                              rec.s);
                }
            }
            free(rec.s);
            memset(&rec, 0, sizeof rec);
            if (got == NULL)
                break;
            if (blank)
                continue;
        }
        if (strstr(body, "ERROR SUMMARY:") != NULL) {
            finished = 1;
            copy_bounded(summary, sizeof summary, body);
            summary[strcspn(summary, "\n")] = '\0';
        }
        sb_puts(&rec, body);
    }
    fclose(f);
    if (n_info > 0) {
        fprintf(stderr, "harness: valgrind (info, not a failure): %d error record(s) entirely "
                        "inside slapd or its libraries (%s)%s\n%s",
                n_info, s->vg_log, n_info > VG_INFO_SHOWN ? "; the first ones:" : ":", info.s);
    }
    if (n_mine > 0) {
        fprintf(stderr, "harness: valgrind: %d error record(s) involving the module "
                        "(dynmailgroup.so / overlay/) in %s [%s]\n%s----- end of valgrind "
                        "records -----\n", n_mine, s->vg_log, summary, mine.s);
    }
    /* a run ended by kill -9 on purpose has no leak check to judge */
    if (!finished && !s->killed)
        fprintf(stderr, "harness: valgrind log %s has no ERROR SUMMARY: slapd did not exit "
                        "normally, no leak check was done\n", s->vg_log);
    free(mine.s);
    free(info.s);
    return n_mine > 0 || (!finished && !s->killed);
}

/* Does the current run's log hold a sanitizer report? Then print it. */
/* Debian's slapd 2.5 (and LMDB generally) can crash while a pool thread exits after the
 * environment is closed: LMDB's thread-key destructor (mdb_env_reader_dest) touches the
 * unmapped reader table.  It is rare and only seen under the sanitizer runtime.  A SEGV whose
 * report comes after "slapd shutdown" and names no frame of the module is that race, not a
 * finding about the module; anything else still fails. */
static int known_shutdown_crash(const dmg_server *s)
{
    FILE *f = fopen(s->log, "r");
    if (f == NULL)
        return 0;
    fseeko(f, s->log_offset, SEEK_SET);
    char line[4096];
    int shutting_down = 0, in_report = 0, segv = 0, ours = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (!in_report && strstr(line, "slapd shutdown") != NULL)
            shutting_down = 1;
        if (strstr(line, "AddressSanitizer") != NULL || strstr(line, "==ERROR") != NULL) {
            in_report = 1;
            segv |= strstr(line, "SEGV") != NULL;
        }
        if (in_report && strstr(line, "dynmailgroup") != NULL)
            ours = 1;
    }
    fclose(f);
    return shutting_down && in_report && segv && !ours;
}

static int scan_log(const dmg_server *s)
{
    static const char *const markers[] = { "AddressSanitizer", "runtime error:",
                                           "LeakSanitizer", "==ERROR" };
    FILE *f = fopen(s->log, "r");
    if (f == NULL)
        return 0;
    fseeko(f, s->log_offset, SEEK_SET);
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f) != NULL)
        for (size_t i = 0; i < sizeof markers / sizeof markers[0] && !found; i++)
            found = strstr(line, markers[i]) != NULL;
    fclose(f);
    if (found && known_shutdown_crash(s)) {
        fprintf(stderr, "harness: warning: slapd crashed during shutdown outside the module "
                        "(LMDB thread-exit race); not counted\n");
        dump_file("slapd.log", s->log, s->log_offset);
        found = 0;
    } else if (found) {
        fprintf(stderr, "harness: sanitizer report in slapd's log\n");
        dump_file("slapd.log", s->log, s->log_offset);
    }
    if (s->under_valgrind)
        found |= scan_valgrind_log(s);
    return found;
}

/* SIGTERM, bounded wait, SIGKILL. 0 when slapd ended with exit status 0. */
static int stop_server(dmg_server *s, int quiet)
{
    pid_t pid = s->pid;
    if (pid <= 0)
        return 0;
    kill(pid, SIGTERM);
    int status = 0;
    /* Preload mode: "slapd stopped." and the pidfile gone mean main() has finished (module
     * unloaded, pidfile removed); only the exit-handler hang described above remains. */
    const char *marker = preload_mode() ? "slapd stopped." : NULL;
    /* Under valgrind the exit includes memcheck's leak check, which takes a while. */
    int tries = s->under_valgrind ? VG_STOP_TRIES : STOP_TRIES;
    int w = wait_done(pid, tries, &status, s->log, s->log_offset, marker, NULL, s->pidfile);
    if (w != 0) {
        if (!quiet)
            fprintf(stderr, "harness: slapd (pid %ld) ignored SIGTERM; killing it\n", (long)pid);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    s->pid = -1;
    if (w == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    /* valgrind's --error-exitcode: slapd itself exited; whether the errors are the module's
     * is for scan_valgrind_log to say (slapd's and libraries' own are not failures). */
    if (w == 0 && s->under_valgrind && WIFEXITED(status) && WEXITSTATUS(status) == VG_ERROR_EXIT)
        return 0;
    if (w == 0 && preload_mode() && known_shutdown_crash(s))
        return 0; /* reported by scan_log */
    /* The same LMDB thread-exit race without the sanitizer runtime: a SIGSEGV after slapd
     * logged "slapd stopped.", when its modules (this one included) are already unloaded
     * and only pool threads' exit handlers still run.  Seen about once in fifty runs with
     * slapd 2.6; reported, not counted. */
    if (w == 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV
        && log_contains(s->log, s->log_offset, "slapd stopped.")) {
        fprintf(stderr, "harness: warning: slapd crashed after \"slapd stopped.\" (LMDB "
                        "thread-exit race, module already unloaded); not counted\n");
        return 0;
    }
    /* slapd's own startup race (daemon.c, 2.5 and 2.6): its main thread waits for the
     * listener threads to report ready, and when the SIGTERM lands before that thread has run
     * again it finds the shutdown flag set, logs "listener initialization failed" and exits
     * with status 1 after a complete shutdown.  Seen on a loaded machine with a test that
     * stops its server right after one operation; reported, not counted. */
    if (w == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1
        && log_contains(s->log, s->log_offset, "daemon: shutdown requested")
        && log_contains(s->log, s->log_offset, "listener initialization failed")
        && log_contains(s->log, s->log_offset, "slapd stopped.")) {
        fprintf(stderr, "harness: warning: slapd exited 1 after \"listener initialization "
                        "failed\" (its startup/shutdown race, a clean stop otherwise); not "
                        "counted\n");
        return 0;
    }
    if (!quiet) {
        char how[128];
        describe_status(status, how, sizeof how);
        fprintf(stderr, "harness: slapd ended abnormally (%s)\n", how);
        dump_file("slapd.log", s->log, s->log_offset);
    }
    return 1;
}

static int owned_here(const dmg_server *s, const char *what)
{
    if (s->owner == getpid())
        return 1;
    fprintf(stderr, "harness: %s: this slapd belongs to process %ld; start a server inside "
                    "the test to stop or restart it\n", what, (long)s->owner);
    return 0;
}

int dmg_server_stop(dmg_server *s)
{
    if (s == NULL)
        return 0;
    if (!owned_here(s, "dmg_server_stop"))
        return 1;
    int bad = stop_server(s, 0);
    bad |= scan_log(s);
    registry_remove(s);
    remove_dir(s);
    free(s);
    return bad;
}

int dmg_server_kill(dmg_server *s)
{
    if (s == NULL || !owned_here(s, "dmg_server_kill") || s->pid <= 0)
        return 1;
    kill(s->pid, SIGKILL);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    s->pid = -1;
    s->killed = 1;
    return 0;
}

int dmg_server_restart(dmg_server *s)
{
    if (s == NULL || !owned_here(s, "dmg_server_restart"))
        return 1;
    int bad = stop_server(s, 0);
    bad |= scan_log(s);
    if (bad)
        return 1;
    return start_slapd(s) == 0 ? 0 : 1;
}

const char *dmg_server_uri(const dmg_server *s)
{
    return s->uri;
}

const char *dmg_server_ldapi_uri(const dmg_server *s)
{
    return s->ldapi_uri;
}

const char *dmg_server_dir(const dmg_server *s)
{
    return s->dir;
}

const char *dmg_server_log(const dmg_server *s)
{
    return s->log;
}

const char *dmg_server_config_dir(const dmg_server *s)
{
    return s->config_dir ? s->confdir : NULL;
}

int dmg_server_check_config(const dmg_server *s)
{
    if (s == NULL)
        return 1;
    return run_slaptest(s, s->config_dir ? 'F' : 'u') == 0 ? 0 : 1;
}

/* ============================================================================================
 * Suites
 * ========================================================================================== */

/* Check's timeouts scale with CK_TIMEOUT_MULTIPLIER; the client-side LDAP bound follows. */
static long timeout_multiplier(void)
{
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    long v = m != NULL ? strtol(m, NULL, 10) : 1;
    return (v > 0 ? v : 1) * (valgrind_mode() ? VG_SLOWDOWN : 1);
}

TCase *dmg_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    /* Check multiplies by CK_TIMEOUT_MULTIPLIER itself; valgrind mode adds its own factor. */
    tcase_set_timeout(tc, TCASE_TIMEOUT_S * (valgrind_mode() ? VG_SLOWDOWN : 1));
    return tc;
}

int dmg_run_suite(Suite *suite, const dmg_server_opts *o, dmg_server **global)
{
    SRunner *sr = srunner_create(suite);
    dmg_server *s = dmg_server_start(o);
    if (s == NULL) {
        fprintf(stderr, "harness: could not start slapd; the suite is not run\n");
        srunner_free(sr);
        return EXIT_FAILURE;
    }
    *global = s;
    /* Tests are children; the server belongs to this process. CK_FORK=no (for a debugger)
     * still wins because the status is only forced when the variable is unset. */
    if (getenv("CK_FORK") == NULL)
        srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed > 0)
        fprintf(stderr, "harness: %d test(s) failed; slapd's log is %s%s\n", failed, s->log,
                getenv("DMG_KEEP_TMP") == NULL ? " (DMG_KEEP_TMP=1 keeps it)" : "");
    *global = NULL;
    int stop_bad = dmg_server_stop(s);
    if (stop_bad)
        fprintf(stderr, "harness: the server did not stop cleanly; failing the suite\n");
    return (failed == 0 && stop_bad == 0) ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ============================================================================================
 * Connections
 * ========================================================================================== */

static void fill_result(LDAP *ld, int rc, dmg_result *r)
{
    memset(r, 0, sizeof *r);
    r->rc = rc;
    char *msg = NULL;
    if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS && msg) {
        copy_bounded(r->diag, sizeof r->diag, msg);
        ldap_memfree(msg);
    }
    char *matched = NULL;
    if (ldap_get_option(ld, LDAP_OPT_MATCHED_DN, &matched) == LDAP_OPT_SUCCESS && matched) {
        copy_bounded(r->matched, sizeof r->matched, matched);
        ldap_memfree(matched);
    }
}

/* Forget the previous operation's message: client-side failures would not replace it. */
static void clear_result(LDAP *ld)
{
    ldap_set_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, NULL);
    ldap_set_option(ld, LDAP_OPT_MATCHED_DN, NULL);
}

static LDAP *open_ld(const char *file, int line, const char *uri)
{
    LDAP *ld = NULL;
    int rc = ldap_initialize(&ld, uri);
    if (rc != LDAP_SUCCESS)
        _ck_assert_failed(file, line, "ldap_initialize", "ldap_initialize(%s): %s", uri,
                          ldap_err2string(rc));
    int version = LDAP_VERSION3;
    struct timeval net = { 5, 0 };
    struct timeval op = { LDAP_OP_TIMEOUT_S * timeout_multiplier(), 0 };
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    return ld;
}

dmg_result dmg_bind(LDAP *ld, const char *dn, const char *password)
{
    struct berval cred = { 0, NULL };
    if (password != NULL) {
        cred.bv_val = (char *)password;
        cred.bv_len = strlen(password);
    }
    clear_result(ld);
    int rc = ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    dmg_result r;
    fill_result(ld, rc, &r);
    return r;
}

LDAP *dmg_connect_at(const char *file, int line, const dmg_server *s, const char *binddn,
                     const char *password)
{
    if (s == NULL)
        _ck_assert_failed(file, line, "dmg_connect", "no server (did it start?)");
    LDAP *ld = open_ld(file, line, s->uri);
    dmg_result r = dmg_bind(ld, binddn, binddn != NULL ? password : NULL);
    if (r.rc != LDAP_SUCCESS) {
        ldap_unbind_ext_s(ld, NULL, NULL);
        _ck_assert_failed(file, line, "dmg_connect", "bind as \"%s\" to %s: %s (%d) %s",
                          binddn ? binddn : "(anonymous)", s->uri, ldap_err2string(r.rc),
                          r.rc, r.diag);
    }
    return ld;
}

LDAP *dmg_connect_as_at(const char *file, int line, const dmg_server *s, const char *binddn)
{
    const char *password = NULL;
    if (binddn != NULL)
        password = strcmp(binddn, DMG_ROOTDN) == 0 ? DMG_ROOTPW : DMG_PASSWORD;
    return dmg_connect_at(file, line, s, binddn, password);
}

/* SASL EXTERNAL needs no answers from the user: every prompt gets its default (empty). */
static int sasl_defaults(LDAP *ld, unsigned flags, void *defaults, void *interact)
{
    (void)ld;
    (void)flags;
    (void)defaults;
    for (sasl_interact_t *in = interact; in != NULL && in->id != SASL_CB_LIST_END; in++) {
        in->result = in->defresult != NULL ? in->defresult : "";
        in->len = (unsigned)strlen(in->result);
    }
    return LDAP_SUCCESS;
}

LDAP *dmg_connect_ldapi_external_at(const char *file, int line, const dmg_server *s)
{
    if (s == NULL)
        _ck_assert_failed(file, line, "dmg_connect_ldapi_external", "no server (did it start?)");
    LDAP *ld = open_ld(file, line, s->ldapi_uri);
    clear_result(ld);
    int rc = ldap_sasl_interactive_bind_s(ld, NULL, "EXTERNAL", NULL, NULL, LDAP_SASL_QUIET,
                                          sasl_defaults, NULL);
    if (rc != LDAP_SUCCESS) {
        dmg_result r;
        fill_result(ld, rc, &r);
        ldap_unbind_ext_s(ld, NULL, NULL);
        _ck_assert_failed(file, line, "dmg_connect_ldapi_external",
                          "SASL EXTERNAL bind to %s: %s (%d) %s", s->ldapi_uri,
                          ldap_err2string(rc), rc, r.diag);
    }
    return ld;
}

void dmg_disconnect(LDAP *ld)
{
    if (ld != NULL)
        ldap_unbind_ext_s(ld, NULL, NULL);
}

/* ============================================================================================
 * LDIF text -> LDAPMod
 * ========================================================================================== */

typedef struct modlist {
    LDAPMod **mods; /* NULL-terminated once built */
    size_t n, cap;
} modlist;

static LDAPMod *modlist_new(modlist *ml, int op, const char *attr, size_t attr_len)
{
    if (ml->n + 2 > ml->cap) {
        ml->cap = ml->cap ? ml->cap * 2 : 8;
        ml->mods = xrealloc(ml->mods, ml->cap * sizeof *ml->mods);
    }
    LDAPMod *m = xmalloc(sizeof *m);
    memset(m, 0, sizeof *m);
    m->mod_op = op | LDAP_MOD_BVALUES;
    m->mod_type = xstrndup(attr, attr_len);
    ml->mods[ml->n++] = m;
    ml->mods[ml->n] = NULL;
    return m;
}

/* For add: one LDAPMod per attribute, whatever the order of the value lines. */
static LDAPMod *modlist_find(modlist *ml, const char *attr, size_t attr_len)
{
    for (size_t i = 0; i < ml->n; i++)
        if (strlen(ml->mods[i]->mod_type) == attr_len
            && strncasecmp(ml->mods[i]->mod_type, attr, attr_len) == 0)
            return ml->mods[i];
    return NULL;
}

static void mod_add_value(LDAPMod *m, const char *val, size_t len)
{
    size_t n = 0;
    while (m->mod_bvalues != NULL && m->mod_bvalues[n] != NULL)
        n++;
    m->mod_bvalues = xrealloc(m->mod_bvalues, (n + 2) * sizeof *m->mod_bvalues);
    struct berval *bv = xmalloc(sizeof *bv);
    bv->bv_val = xstrndup(val, len);
    bv->bv_len = len;
    m->mod_bvalues[n] = bv;
    m->mod_bvalues[n + 1] = NULL;
}

static void modlist_free(modlist *ml)
{
    for (size_t i = 0; i < ml->n; i++) {
        LDAPMod *m = ml->mods[i];
        for (size_t j = 0; m->mod_bvalues != NULL && m->mod_bvalues[j] != NULL; j++) {
            free(m->mod_bvalues[j]->bv_val);
            free(m->mod_bvalues[j]);
        }
        free(m->mod_bvalues);
        free(m->mod_type);
        free(m);
    }
    free(ml->mods);
    memset(ml, 0, sizeof *ml);
}

/* Reads the next logical LDIF line (folded lines joined, comments skipped) into out.
 * 0 at the end of the text. */
static int next_line(const char **pos, sbuf *out)
{
    const char *p = *pos;
    out->len = 0;
    sb_putn(out, "", 0);
    while (*p != '\0') {
        size_t n = strcspn(p, "\n");
        const char *next = p + n + (p[n] == '\n');
        int comment = p[0] == '#';
        sb_putn(out, p, (n > 0 && p[n - 1] == '\r') ? n - 1 : n);
        p = next;
        while (*p == ' ') { /* continuation: drop the one leading space */
            n = strcspn(p + 1, "\n");
            if (!comment)
                sb_putn(out, p + 1, (n > 0 && p[n] == '\r') ? n - 1 : n);
            p += 1 + n + (p[1 + n] == '\n');
        }
        if (comment) {
            out->len = 0;
            out->s[0] = '\0';
            continue;
        }
        *pos = p;
        return 1;
    }
    *pos = p;
    return 0;
}

static int b64_digit(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes base64 in place; length or -1 when malformed. */
static long b64_decode(char *s)
{
    size_t out = 0;
    unsigned long acc = 0;
    int bits = 0;
    for (char *p = s; *p != '\0'; p++) {
        if (*p == '=' || isspace((unsigned char)*p))
            continue;
        int d = b64_digit((unsigned char)*p);
        if (d < 0)
            return -1;
        acc = (acc << 6) | (unsigned long)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            s[out++] = (char)((acc >> bits) & 0xff);
        }
    }
    s[out] = '\0';
    return (long)out;
}

/* One "attr: value" line. The value is what follows the colon and its spaces; "attr::" means
 * base64. Returns 0 and fills the pieces, -1 with err filled. */
typedef struct ldif_pair {
    const char *attr;
    size_t attr_len;
    char *value;   /* inside the line buffer (decoded in place for base64) */
    size_t value_len;
} ldif_pair;

static int split_pair(char *line, ldif_pair *pv, char *err, size_t errsize)
{
    char *colon = strchr(line, ':');
    if (colon == NULL || colon == line) {
        snprintf(err, errsize, "not an \"attr: value\" line: \"%s\"", line);
        return -1;
    }
    pv->attr = line;
    pv->attr_len = (size_t)(colon - line);
    char *v = colon + 1;
    int base64 = *v == ':';
    if (base64 || *v == '<') {
        if (!base64) {
            snprintf(err, errsize, "URL values are not supported: \"%s\"", line);
            return -1;
        }
        v++;
    }
    while (*v == ' ')
        v++;
    pv->value = v;
    if (base64) {
        long n = b64_decode(v);
        if (n < 0) {
            snprintf(err, errsize, "bad base64 value in \"%.*s\"", (int)pv->attr_len, line);
            return -1;
        }
        pv->value_len = (size_t)n;
    } else {
        pv->value_len = strlen(v);
    }
    return 0;
}

static int attr_is(const ldif_pair *pv, const char *name)
{
    return strlen(name) == pv->attr_len && strncasecmp(pv->attr, name, pv->attr_len) == 0;
}

/* Reads the "dn:" line; the DN is copied to dn (bounded). */
static int parse_dn(const char **pos, sbuf *line, char *dn, size_t dnsize, char *err,
                    size_t errsize)
{
    while (next_line(pos, line)) {
        if (line->len == 0)
            continue;
        ldif_pair pv;
        if (split_pair(line->s, &pv, err, errsize) != 0)
            return -1;
        if (!attr_is(&pv, "dn")) {
            snprintf(err, errsize, "LDIF must start with \"dn:\", not \"%s\"", line->s);
            return -1;
        }
        if (pv.value_len >= dnsize) {
            snprintf(err, errsize, "DN too long");
            return -1;
        }
        memcpy(dn, pv.value, pv.value_len);
        dn[pv.value_len] = '\0';
        return 0;
    }
    snprintf(err, errsize, "empty LDIF");
    return -1;
}

/* An entry for ldap_add: all "attr: value" lines after the DN, grouped by attribute. */
static int parse_add(const char *text, char *dn, size_t dnsize, modlist *ml, char *err,
                     size_t errsize)
{
    const char *pos = text;
    sbuf line = { 0 };
    int rc = parse_dn(&pos, &line, dn, dnsize, err, errsize);
    while (rc == 0 && next_line(&pos, &line)) {
        if (line.len == 0 || strcmp(line.s, "-") == 0)
            continue;
        ldif_pair pv;
        rc = split_pair(line.s, &pv, err, errsize);
        if (rc != 0)
            break;
        if (attr_is(&pv, "changetype")) {
            if (strncasecmp(pv.value, "add", pv.value_len) != 0 || pv.value_len != 3) {
                snprintf(err, errsize, "dmg_add_ldif takes an entry, not changetype %s", pv.value);
                rc = -1;
            }
            continue;
        }
        LDAPMod *m = modlist_find(ml, pv.attr, pv.attr_len);
        if (m == NULL)
            m = modlist_new(ml, LDAP_MOD_ADD, pv.attr, pv.attr_len);
        mod_add_value(m, pv.value, pv.value_len);
    }
    free(line.s);
    if (rc == 0 && ml->n == 0) {
        snprintf(err, errsize, "entry %.200s has no attributes", dn);
        rc = -1;
    }
    return rc;
}

static int mod_op_of(const ldif_pair *pv)
{
    if (attr_is(pv, "add")) return LDAP_MOD_ADD;
    if (attr_is(pv, "delete")) return LDAP_MOD_DELETE;
    if (attr_is(pv, "replace")) return LDAP_MOD_REPLACE;
    if (attr_is(pv, "increment")) return LDAP_MOD_INCREMENT;
    return -1;
}

/* A changetype-modify body: "op: attr" starts a modification, value lines follow, "-" ends. */
static int parse_modify(const char *text, modlist *ml, char *err, size_t errsize)
{
    const char *pos = text;
    sbuf line = { 0 };
    LDAPMod *cur = NULL;
    int rc = 0;
    while (rc == 0 && next_line(&pos, &line)) {
        if (line.len == 0)
            continue;
        if (strcmp(line.s, "-") == 0) {
            cur = NULL;
            continue;
        }
        ldif_pair pv;
        rc = split_pair(line.s, &pv, err, errsize);
        if (rc != 0)
            break;
        if (cur == NULL && ml->n == 0 && attr_is(&pv, "changetype"))
            continue;
        if (cur == NULL) {
            int op = mod_op_of(&pv);
            if (op < 0) {
                snprintf(err, errsize, "expected add:/delete:/replace:/increment:, got \"%s\"",
                         line.s);
                rc = -1;
            } else {
                cur = modlist_new(ml, op, pv.value, pv.value_len);
            }
            continue;
        }
        if (strlen(cur->mod_type) != pv.attr_len
            || strncasecmp(cur->mod_type, pv.attr, pv.attr_len) != 0) {
            snprintf(err, errsize, "value line \"%s\" inside the modification of %s (missing \"-\"?)",
                     line.s, cur->mod_type);
            rc = -1;
            break;
        }
        mod_add_value(cur, pv.value, pv.value_len);
    }
    free(line.s);
    if (rc == 0 && ml->n == 0) {
        snprintf(err, errsize, "no modifications");
        rc = -1;
    }
    return rc;
}

/* ============================================================================================
 * Operations
 * ========================================================================================== */

dmg_result dmg_add_ldif_at(const char *file, int line, LDAP *ld, const char *ldif,
                           LDAPControl **sctrls)
{
    char dn[2048];
    char err[512];
    modlist ml = { 0 };
    if (parse_add(ldif, dn, sizeof dn, &ml, err, sizeof err) != 0) {
        modlist_free(&ml);
        _ck_assert_failed(file, line, "dmg_add_ldif", "bad LDIF: %s", err);
    }
    clear_result(ld);
    int rc = ldap_add_ext_s(ld, dn, ml.mods, sctrls, NULL);
    dmg_result r;
    fill_result(ld, rc, &r);
    modlist_free(&ml);
    return r;
}

dmg_result dmg_modify_at(const char *file, int line, LDAP *ld, const char *dn,
                         const char *changes, LDAPControl **sctrls)
{
    char err[512];
    modlist ml = { 0 };
    if (parse_modify(changes, &ml, err, sizeof err) != 0) {
        modlist_free(&ml);
        _ck_assert_failed(file, line, "dmg_modify", "bad modify LDIF for %s: %s", dn, err);
    }
    clear_result(ld);
    int rc = ldap_modify_ext_s(ld, dn, ml.mods, sctrls, NULL);
    dmg_result r;
    fill_result(ld, rc, &r);
    modlist_free(&ml);
    return r;
}

dmg_result dmg_rename_ext(LDAP *ld, const char *dn, const char *newrdn, const char *newsuperior,
                          int deleteoldrdn, LDAPControl **sctrls)
{
    clear_result(ld);
    int rc = ldap_rename_s(ld, dn, newrdn, newsuperior, deleteoldrdn, sctrls, NULL);
    dmg_result r;
    fill_result(ld, rc, &r);
    return r;
}

dmg_result dmg_rename(LDAP *ld, const char *dn, const char *newrdn, const char *newsuperior,
                      int deleteoldrdn)
{
    return dmg_rename_ext(ld, dn, newrdn, newsuperior, deleteoldrdn, NULL);
}

dmg_result dmg_delete_ext(LDAP *ld, const char *dn, LDAPControl **sctrls)
{
    clear_result(ld);
    int rc = ldap_delete_ext_s(ld, dn, sctrls, NULL);
    dmg_result r;
    fill_result(ld, rc, &r);
    return r;
}

dmg_result dmg_delete(LDAP *ld, const char *dn)
{
    return dmg_delete_ext(ld, dn, NULL);
}

dmg_result dmg_compare_ext(LDAP *ld, const char *dn, const char *attr, const char *value,
                           LDAPControl **sctrls)
{
    struct berval bv = { strlen(value), (char *)value };
    clear_result(ld);
    int rc = ldap_compare_ext_s(ld, dn, attr, &bv, sctrls, NULL);
    dmg_result r;
    fill_result(ld, rc, &r);
    return r;
}

dmg_result dmg_compare(LDAP *ld, const char *dn, const char *attr, const char *value)
{
    return dmg_compare_ext(ld, dn, attr, value, NULL);
}

/* ============================================================================================
 * Search
 * ========================================================================================== */

static void collect_attr(LDAP *ld, LDAPMessage *msg, const char *name, dmg_attr *a)
{
    a->name = xstrdup(name);
    struct berval **vals = ldap_get_values_len(ld, msg, name);
    size_t n = 0;
    while (vals != NULL && vals[n] != NULL)
        n++;
    a->values = xmalloc(n * sizeof *a->values);
    for (size_t i = 0; i < n; i++)
        a->values[i] = xstrndup(vals[i]->bv_val ? vals[i]->bv_val : "", vals[i]->bv_len);
    a->nvalues = n;
    ldap_value_free_len(vals);
}

static void collect_entry(LDAP *ld, LDAPMessage *msg, dmg_entry *e)
{
    char *dn = ldap_get_dn(ld, msg);
    e->dn = xstrdup(dn != NULL ? dn : "");
    ldap_memfree(dn);
    size_t cap = 0;
    BerElement *ber = NULL;
    for (char *name = ldap_first_attribute(ld, msg, &ber); name != NULL;
         name = ldap_next_attribute(ld, msg, ber)) {
        if (e->nattrs == cap) {
            cap = cap ? cap * 2 : 8;
            e->attrs = xrealloc(e->attrs, cap * sizeof *e->attrs);
        }
        collect_attr(ld, msg, name, &e->attrs[e->nattrs++]);
        ldap_memfree(name);
    }
    ber_free(ber, 0);
}

static dmg_entries *collect_entries(LDAP *ld, LDAPMessage *res)
{
    dmg_entries *out = xmalloc(sizeof *out);
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    /* no result at all (the server went away: a partition test's node) is no entries;
     * libldap asserts on a NULL chain */
    LDAPMessage *first = res != NULL ? ldap_first_message(ld, res) : NULL;
    for (LDAPMessage *m = first; m != NULL; m = ldap_next_message(ld, m)) {
        int type = ldap_msgtype(m);
        if (type == LDAP_RES_SEARCH_REFERENCE) {
            out->references++;
            continue;
        }
        if (type != LDAP_RES_SEARCH_ENTRY)
            continue;
        if (out->count == cap) {
            cap = cap ? cap * 2 : 16;
            out->entries = xrealloc(out->entries, cap * sizeof *out->entries);
        }
        dmg_entry *e = &out->entries[out->count++];
        memset(e, 0, sizeof *e);
        collect_entry(ld, m, e);
    }
    return out;
}

dmg_result dmg_search(LDAP *ld, const char *base, int scope, const char *filter,
                      const char *const *attrs, LDAPControl **sctrls, dmg_entries **out)
{
    LDAPMessage *res = NULL;
    clear_result(ld);
    /* sizelimit -1: the connection's LDAP_OPT_SIZELIMIT (0 = none unless a test sets one). */
    int rc = ldap_search_ext_s(ld, base, scope, filter ? filter : "(objectClass=*)",
                               (char **)attrs, 0, sctrls, NULL, NULL, -1, &res);
    dmg_result r;
    fill_result(ld, rc, &r);
    if (out != NULL)
        *out = collect_entries(ld, res);
    ldap_msgfree(res);
    return r;
}

void dmg_entries_free(dmg_entries *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->count; i++) {
        dmg_entry *en = &e->entries[i];
        for (size_t j = 0; j < en->nattrs; j++) {
            for (size_t k = 0; k < en->attrs[j].nvalues; k++)
                free(en->attrs[j].values[k]);
            free(en->attrs[j].values);
            free(en->attrs[j].name);
        }
        free(en->attrs);
        free(en->dn);
    }
    free(e->entries);
    free(e);
}

const dmg_entry *dmg_entries_find(const dmg_entries *e, const char *dn)
{
    for (size_t i = 0; e != NULL && i < e->count; i++)
        if (strcasecmp(e->entries[i].dn, dn) == 0)
            return &e->entries[i];
    return NULL;
}

const dmg_attr *dmg_entry_attr(const dmg_entry *e, const char *name)
{
    for (size_t i = 0; e != NULL && i < e->nattrs; i++)
        if (strcasecmp(e->attrs[i].name, name) == 0)
            return &e->attrs[i];
    return NULL;
}

/* ============================================================================================
 * Sorted, joined lists
 * ========================================================================================== */

/* Case-insensitive first so lists read naturally; byte order breaks ties so the result is
 * deterministic. */
static int cmp_lines(const void *a, const void *b)
{
    const char *x = *(const char *const *)a;
    const char *y = *(const char *const *)b;
    int c = strcasecmp(x, y);
    return c != 0 ? c : strcmp(x, y);
}

static char *join_sorted(char **items, size_t n)
{
    if (n > 1) /* qsort's base must not be NULL, even for no items */
        qsort(items, n, sizeof *items, cmp_lines);
    sbuf b = { 0 };
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sb_puts(&b, "\n");
        sb_puts(&b, items[i]);
    }
    return sb_take(&b);
}

char *dmg_sorted_lines(const char *text)
{
    char *copy = xstrdup(text != NULL ? text : "");
    size_t n = 0, cap = 0;
    char **items = NULL;
    char *save = NULL;
    for (char *tok = strtok_r(copy, "\n", &save); tok != NULL; tok = strtok_r(NULL, "\n", &save)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            items = xrealloc(items, cap * sizeof *items);
        }
        items[n++] = tok;
    }
    char *out = join_sorted(items, n);
    free(items);
    free(copy);
    return out;
}

const char *dmg_fmt(const char *f, ...)
{
    static char ring[1024][1024];
    static unsigned next;
    char *b = ring[next++ % (sizeof ring / sizeof ring[0])];
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(b, sizeof ring[0], f, ap);
    va_end(ap);
    ck_assert_msg(n >= 0 && (size_t)n < sizeof ring[0], "dmg_fmt: string too long");
    return b;
}

void dmg_expect_ok_at(const char *file, int line, dmg_result r, const char *what)
{
    ck_assert_msg(r.rc == LDAP_SUCCESS, "%s:%d: %s: %s (%d) \"%s\"", file, line, what,
                  ldap_err2string(r.rc), r.rc, r.diag);
}

static dmg_entries *search_or_abort(const char *file, int line, LDAP *ld, const char *base,
                                    int scope, const char *filter, const char *const *attrs,
                                    LDAPControl **sctrls)
{
    dmg_entries *e = NULL;
    dmg_result r = dmg_search(ld, base, scope, filter, attrs, sctrls, &e);
    if (r.rc != LDAP_SUCCESS) {
        dmg_entries_free(e);
        _ck_assert_failed(file, line, "dmg_search", "search base \"%s\" filter \"%s\": %s (%d)%s%s",
                          base, filter ? filter : "(objectClass=*)", ldap_err2string(r.rc), r.rc,
                          r.diag[0] ? ": " : "", r.diag);
    }
    return e;
}

char *dmg_values_joined_at(const char *file, int line, LDAP *ld, const char *base, int scope,
                           const char *filter, const char *attr, LDAPControl **sctrls)
{
    const char *attrs[] = { attr, NULL };
    dmg_entries *e = search_or_abort(file, line, ld, base, scope, filter, attrs, sctrls);
    size_t n = 0, cap = 0;
    char **items = NULL;
    for (size_t i = 0; i < e->count; i++) {
        const dmg_attr *a = dmg_entry_attr(&e->entries[i], attr);
        for (size_t k = 0; a != NULL && k < a->nvalues; k++) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                items = xrealloc(items, cap * sizeof *items);
            }
            items[n++] = a->values[k];
        }
    }
    char *out = join_sorted(items, n);
    free(items);
    dmg_entries_free(e);
    return out;
}

char *dmg_dns_joined_at(const char *file, int line, LDAP *ld, const char *base, int scope,
                        const char *filter)
{
    /* "1.1": no attributes, only the DNs. */
    const char *attrs[] = { LDAP_NO_ATTRS, NULL };
    dmg_entries *e = search_or_abort(file, line, ld, base, scope, filter, attrs, NULL);
    char **items = xmalloc(e->count * sizeof *items);
    for (size_t i = 0; i < e->count; i++)
        items[i] = e->entries[i].dn;
    char *out = join_sorted(items, e->count);
    free(items);
    dmg_entries_free(e);
    return out;
}

/* ============================================================================================
 * Controls
 * ========================================================================================== */

LDAPControl *dmg_ctrl_manage_dsait(void)
{
    static char oid[] = LDAP_CONTROL_MANAGEDSAIT;
    static LDAPControl c;
    c.ldctl_oid = oid;
    c.ldctl_value.bv_len = 0;
    c.ldctl_value.bv_val = NULL;
    c.ldctl_iscritical = 1;
    return &c;
}

LDAPControl *dmg_ctrl_relax(void)
{
    static char oid[] = DMG_OID_RELAX;
    static LDAPControl c;
    c.ldctl_oid = oid;
    c.ldctl_value.bv_len = 0;
    c.ldctl_value.bv_val = NULL;
    c.ldctl_iscritical = 1;
    return &c;
}

/* ============================================================================================
 * Assertions
 * ========================================================================================== */

/* Lines of a that are not in b (as multisets, both sorted by cmp_lines), each prefixed. */
static void diff_lines(sbuf *msg, const char *prefix, const char *a, const char *b)
{
    char *sa = dmg_sorted_lines(a), *sb = dmg_sorted_lines(b);
    char *save_a = NULL, *save_b = NULL;
    char *x = strtok_r(sa, "\n", &save_a);
    char *y = strtok_r(sb, "\n", &save_b);
    while (x != NULL) {
        int c = y == NULL ? -1 : cmp_lines(&x, &y);
        if (c < 0) {
            sb_printf(msg, "%s%s\n", prefix, x);
            x = strtok_r(NULL, "\n", &save_a);
        } else {
            if (c == 0)
                x = strtok_r(NULL, "\n", &save_a);
            y = strtok_r(NULL, "\n", &save_b);
        }
    }
    free(sa);
    free(sb);
}

static size_t count_lines(const char *s)
{
    if (*s == '\0')
        return 0;
    size_t n = 1;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

void dmg_assert_str_impl(const char *file, int line, const char *expr, const char *got,
                         const char *expected)
{
    if (got == NULL)
        got = "(null)";
    if (expected == NULL)
        expected = "(null)";
    if (strcmp(got, expected) == 0)
        return;
    sbuf msg = { 0 };
    sb_printf(&msg, "%s: got %zu line(s), expected %zu\n", expr, count_lines(got),
              count_lines(expected));
    diff_lines(&msg, "  missing:    ", expected, got);
    diff_lines(&msg, "  unexpected: ", got, expected);
    sb_printf(&msg, "--- got:\n%s\n--- expected:\n%s", got, expected);
    /* Check cuts messages at BUFSIZ; then stderr gets the whole of it. */
    if (msg.len >= 4000)
        fprintf(stderr, "%s:%d: %s\n", file, line, msg.s);
    char shown[4096];
    copy_bounded(shown, sizeof shown, msg.s);
    free(msg.s);
    _ck_assert_failed(file, line, expr, "%s%s", shown,
                      strlen(shown) == sizeof shown - 1 ? "\n(cut; full text on stderr)" : "");
}

void dmg_assert_rc_impl(const char *file, int line, const char *expr, const dmg_result *r,
                        int expected)
{
    if (r->rc == expected)
        return;
    _ck_assert_failed(file, line, expr, "%s: got %s (%d), expected %s (%d); diagnostic \"%s\"%s%s",
                      expr, ldap_err2string(r->rc), r->rc, ldap_err2string(expected), expected,
                      r->diag, r->matched[0] ? ", matched " : "", r->matched);
}

static const char *scope_name(int scope)
{
    switch (scope) {
    case LDAP_SCOPE_BASE: return "base";
    case LDAP_SCOPE_ONELEVEL: return "one";
    case LDAP_SCOPE_SUBTREE: return "sub";
    case LDAP_SCOPE_CHILDREN: return "children";
    default: return "?";
    }
}

void dmg_assert_dns_at(const char *file, int line, LDAP *ld, const char *base, int scope,
                       const char *filter, const char *expected)
{
    char *got = dmg_dns_joined_at(file, line, ld, base, scope, filter);
    char *want = dmg_sorted_lines(expected);
    char label[1024];
    snprintf(label, sizeof label, "DNs of search -b \"%s\" -s %s \"%s\"", base,
             scope_name(scope), filter ? filter : "(objectClass=*)");
    dmg_assert_str_impl(file, line, label, got, want);
    free(got);
    free(want);
}

void dmg_assert_values_at(const char *file, int line, LDAP *ld, const char *base, int scope,
                          const char *filter, const char *attr, const char *expected,
                          LDAPControl **sctrls)
{
    char *got = dmg_values_joined_at(file, line, ld, base, scope, filter, attr, sctrls);
    char *want = dmg_sorted_lines(expected);
    char label[1024];
    snprintf(label, sizeof label, "%s of search -b \"%s\" -s %s \"%s\"", attr, base,
             scope_name(scope), filter ? filter : "(objectClass=*)");
    dmg_assert_str_impl(file, line, label, got, want);
    free(got);
    free(want);
}

void dmg_ensure_entries_at(const char *file, int line, const dmg_server *s,
                           const char *const *ldifs, size_t n, LDAPControl **sctrls)
{
    LDAP *ld = dmg_connect_at(file, line, s, DMG_ROOTDN, DMG_ROOTPW);
    for (size_t i = 0; i < n; i++) {
        dmg_result r = dmg_add_ldif_at(file, line, ld, ldifs[i], sctrls);
        if (r.rc != LDAP_ALREADY_EXISTS)
            dmg_assert_rc_impl(file, line, "add of a shared fixture entry", &r, LDAP_SUCCESS);
    }
    dmg_disconnect(ld);
}

/* ============================================================================================
 * Replication helpers
 * ========================================================================================== */

long dmg_slowdown(void)
{
    return valgrind_mode() ? VG_SLOWDOWN : 1;
}

long dmg_poll_max_ms(void)
{
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    long k = m != NULL ? strtol(m, NULL, 10) : 1;
    return 30000L * (k > 0 ? k : 1) * dmg_slowdown();
}

/* A failed assertion ends a test child with _exit(), so the exit-time clean-up does not remove
 * the directories of the servers the test started: with track_servers() every server started
 * notes its directory in a list, and remove_tracked() removes those still there after the run,
 * or names them with DMG_KEEP_TMP. */
static char tracked_list[PATH_MAX]; /* "" until track_servers() */

static void track_servers(void)
{
    if (fmt_path(tracked_list, sizeof tracked_list, "%s/dmg-tracked-XXXXXX",
                 env_or("TMPDIR", "/tmp")) != 0) {
        tracked_list[0] = '\0';
        return;
    }
    int fd = mkstemp(tracked_list);
    if (fd >= 0)
        close(fd);
    else
        tracked_list[0] = '\0';
}

static void track(const dmg_server *s)
{
    FILE *f = tracked_list[0] ? fopen(tracked_list, "a") : NULL;
    if (f != NULL) {
        fprintf(f, "%s\n", s->dir);
        fclose(f);
    }
}

static void remove_tracked(void)
{
    FILE *f = tracked_list[0] ? fopen(tracked_list, "r") : NULL;
    char dir[PATH_MAX];
    while (f != NULL && fgets(dir, sizeof dir, f) != NULL) {
        dir[strcspn(dir, "\n")] = '\0';
        if (dir[0] != '/' || strstr(dir, "/dmg-") == NULL || access(dir, F_OK) != 0)
            continue;
        if (getenv("DMG_KEEP_TMP") != NULL) {
            fprintf(stderr, "harness: kept %s\n", dir);
            continue;
        }
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (f != NULL)
        fclose(f);
    if (tracked_list[0])
        unlink(tracked_list);
}

int dmg_run_suite_own_servers(Suite *suite)
{
    setenv("LDAPNOINIT", "1", 0);
    track_servers();
    SRunner *sr = srunner_create(suite);
    if (getenv("CK_FORK") == NULL)
        srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tracked();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void dmg_syncrepl_value(char *buf, size_t size, const char *rid, const char *provider_uri,
                        const char *extra)
{
    int n = snprintf(buf, size,
                     "rid=%s provider=%s type=refreshAndPersist retry=\"1 +\" "
                     "searchbase=\"" DMG_SUFFIX "\" bindmethod=simple "
                     "binddn=\"" DMG_ROOTDN "\" credentials=" DMG_ROOTPW " "
                     "scope=sub attrs=\"*,+\"%s%s",
                     rid, provider_uri, extra ? " " : "", extra ? extra : "");
    ck_assert_msg(n > 0 && (size_t)n < size, "syncrepl value truncated");
}

char *dmg_config_db_dn(LDAP *cfg)
{
    dmg_query q = { "cn=config", LDAP_SCOPE_ONELEVEL, "(olcSuffix=" DMG_SUFFIX ")", NULL, 0 };
    char *dn = dmg_snapshot(cfg, &q);
    ck_assert_msg(dn[0] != '\0' && dn[0] != '!' && strchr(dn, '\n') == NULL,
                  "cn=config: one database with olcSuffix " DMG_SUFFIX " expected, got: %s", dn);
    return dn;
}

char *dmg_snapshot(LDAP *ld, const dmg_query *q)
{
    static const char *const no_attrs[] = { LDAP_NO_ATTRS, NULL };
    dmg_entries *es = NULL;
    LDAPControl **ctrls = q->manage_dsait ? DMG_CTRLS(dmg_ctrl_manage_dsait()) : NULL;
    dmg_result r = dmg_search(ld, q->base, q->scope, q->filter, q->attrs ? q->attrs : no_attrs,
                              ctrls, &es);
    dmg_text t = { 0 };
    if (r.rc != LDAP_SUCCESS) {
        dmg_text_printf(&t, "!search below \"%s\" for %s: %s (%d) %s", q->base, q->filter,
                        ldap_err2string(r.rc), r.rc, r.diag);
    } else {
        for (size_t i = 0; i < es->count; i++) {
            const dmg_entry *e = &es->entries[i];
            dmg_text_printf(&t, "%s\n", e->dn);
            for (size_t j = 0; j < e->nattrs; j++) {
                char name[128];
                copy_bounded(name, sizeof name, e->attrs[j].name);
                for (char *p = name; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                for (size_t k = 0; k < e->attrs[j].nvalues; k++)
                    dmg_text_printf(&t, "%s | %s: %s\n", e->dn, name, e->attrs[j].values[k]);
            }
        }
    }
    dmg_entries_free(es);
    char *out = dmg_sorted_lines(t.s ? t.s : "");
    free(t.s);
    return out;
}

void dmg_wait_for_at(const char *file, int line, LDAP *ld, const dmg_query *q,
                     const char *want)
{
    char *expected = dmg_sorted_lines(want);
    long deadline = dmg_now_ms() + dmg_poll_max_ms();
    char *got = dmg_snapshot(ld, q);
    while (strcmp(got, expected) != 0 && dmg_now_ms() < deadline) {
        dmg_nap_ms(DMG_POLL_STEP_MS);
        free(got);
        got = dmg_snapshot(ld, q);
    }
    if (strcmp(got, expected) != 0)
        fprintf(stderr, "%s:%d: no agreement within %ld ms\n", file, line, dmg_poll_max_ms());
    dmg_assert_str_impl(file, line, q->base, got, expected);
    free(got);
    free(expected);
}

char *dmg_wait_same_at(const char *file, int line, LDAP *a, LDAP *b, const dmg_query *q)
{
    long deadline = dmg_now_ms() + dmg_poll_max_ms();
    char *sa = dmg_snapshot(a, q), *sb = dmg_snapshot(b, q);
    while ((strcmp(sa, sb) != 0 || sa[0] == '!') && dmg_now_ms() < deadline) {
        dmg_nap_ms(DMG_POLL_STEP_MS);
        free(sa);
        free(sb);
        sa = dmg_snapshot(a, q);
        sb = dmg_snapshot(b, q);
    }
    if (strcmp(sa, sb) != 0)
        fprintf(stderr, "%s:%d: the nodes did not agree within %ld ms\n", file, line,
                dmg_poll_max_ms());
    ck_assert_msg(sa[0] != '!', "%s:%d: %s", file, line, sa);
    dmg_assert_str_impl(file, line, "the second node's answer", sb, sa);
    free(sb);
    return sa;
}

char *dmg_slapcat(const dmg_server *s)
{
    char conf[PATH_MAX], tool[PATH_MAX], ldif[PATH_MAX], log[PATH_MAX];
    /* slapd.conf loads the module, so computed attribute types are known to slapcat. In
     * sanitizer builds the instrumented module cannot load into the uninstrumented tool:
     * slapadd.conf (no module) is used; a computed value in the database would then make
     * slapcat fail, which fails the test as well. */
    copy_bounded(conf, sizeof conf, preload_mode() ? s->tools_conf : s->conf);
    ck_assert_int_eq(fmt_path(ldif, sizeof ldif, "%s/slapcat.ldif", s->dir), 0);
    ck_assert_int_eq(fmt_path(log, sizeof log, "%s/slapcat.log", s->dir), 0);
    tool_path("slapcat", getenv("DMG_SLAPCAT"), tool, sizeof tool);
    /* argv[0] "slapcat": the slapd binary itself acts as slapcat under that name */
    char *argv[] = { "slapcat", "-f", conf, "-b", DMG_SUFFIX, "-o", "ldif-wrap=no", "-l", ldif,
                     NULL };
    unlink(ldif);
    int st = run_tool(tool, argv, log, 0, NULL, NULL);
    if (st != 0)
        dump_file("slapcat output", log, 0);
    ck_assert_msg(st == 0, "%s -f %s failed (status %d)", tool, conf, st);
    return dmg_read_file(ldif);
}

char *dmg_check_script(const dmg_server *s, int *status)
{
    char script[PATH_MAX];
    ck_assert_int_eq(fmt_path(script, sizeof script, "%s/scripts/dmg-check.sh", src_dir()), 0);
    char *argv[] = { "/bin/sh", script, "-b", DMG_SUFFIX, "-H", (char *)s->uri, "-x", "-D",
                     DMG_ROOTDN, "-w", DMG_ROOTPW, NULL };
    char *out = NULL, *err = NULL;
    *status = dmg_run(argv, s->dir, NULL, &out, &err);
    fprintf(stderr, "%s%s", out, err);
    free(err);
    return out;
}

/* ============================================================================================
 * A provider and its replicas
 * ========================================================================================== */

static const char *const tree_attrs[] = { "*", "entryCSN", "entryUUID", NULL };
const dmg_query dmg_q_tree = { DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(objectClass=*)", tree_attrs, 1 };

void dmg_replica_db_config(char *buf, size_t size, const dmg_server *provider, const char *rid,
                           const char *extra, const char *tail)
{
    char sr[1024];
    dmg_syncrepl_value(sr, sizeof sr, rid, provider->uri, extra);
    int n = snprintf(buf, size, DMG_REPL_INDEX_AND_LIMITS "syncrepl %s\n%s", sr,
                     tail ? tail : "");
    ck_assert_msg(n > 0 && (size_t)n < size, "replica db_config truncated");
}

void dmg_connect_pair_at(const char *file, int line, const dmg_server *prov,
                         const dmg_server *cons, LDAP **p, LDAP **c)
{
    *p = dmg_connect(prov, DMG_ROOTDN, DMG_ROOTPW);
    *c = dmg_connect(cons, DMG_ROOTDN, DMG_ROOTPW);
    free(dmg_wait_same_at(file, line, *p, *c, &dmg_q_tree));
}

void dmg_stop_pair_at(const char *file, int line, dmg_server *prov, dmg_server *cons, LDAP *p,
                      LDAP *c)
{
    dmg_disconnect(p);
    dmg_disconnect(c);
    int rc = dmg_server_stop(cons);
    ck_assert_msg(rc == 0, "%s:%d: the replica stopped with status %d", file, line, rc);
    rc = dmg_server_stop(prov);
    ck_assert_msg(rc == 0, "%s:%d: the provider stopped with status %d", file, line, rc);
}

/* ============================================================================================
 * Mail groups of the role tests
 * ========================================================================================== */

dmg_result dmg_add_mail_group(LDAP *ld, const char *cn, const char *extra, LDAPControl **ctrls)
{
    char ldif[4096];
    snprintf(ldif, sizeof ldif,
             "dn: cn=%s,ou=Groups," DMG_SUFFIX "\n"
             "objectClass: dynamicMailGroup\n"
             "cn: %s\n"
             "mail: %s@example.com\n"
             "%s%s",
             cn, cn, cn,
             (extra != NULL && strstr(extra, "dmgDepartment:") != NULL)
                 ? "" : "dmgDepartment: ou=Engineering," DMG_SUFFIX "\n",
             extra != NULL ? extra : "");
    return dmg_add_ldif_ext(ld, ldif, ctrls);
}

void dmg_root_add_mail_group(const dmg_server *s, const char *cn, const char *extra,
                             LDAPControl **ctrls, int may_exist)
{
    LDAP *ld = dmg_connect_as(s, DMG_ROOTDN);
    dmg_result r = dmg_add_mail_group(ld, cn, extra, ctrls);
    ck_assert_msg(r.rc == LDAP_SUCCESS || (may_exist && r.rc == LDAP_ALREADY_EXISTS),
                  "rootdn could not add group %s: %s (%d) \"%s\"", cn, ldap_err2string(r.rc),
                  r.rc, r.diag);
    dmg_disconnect(ld);
}

int dmg_root_sees(const dmg_server *s, const char *dn)
{
    LDAP *ld = dmg_connect_as(s, DMG_ROOTDN);
    const char *attrs[] = { LDAP_NO_ATTRS, NULL };
    dmg_result r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, NULL, NULL);
    dmg_disconnect(ld);
    ck_assert_msg(r.rc == LDAP_SUCCESS || r.rc == LDAP_NO_SUCH_OBJECT,
                  "base search of %s: %s (%d) \"%s\"", dn, ldap_err2string(r.rc), r.rc, r.diag);
    return r.rc == LDAP_SUCCESS;
}

char *dmg_root_values(const dmg_server *s, const char *dn, const char *attr)
{
    LDAP *ld = dmg_connect_as(s, DMG_ROOTDN);
    char *v = dmg_values_joined(ld, dn, LDAP_SCOPE_BASE, NULL, attr);
    dmg_disconnect(ld);
    return v;
}

void dmg_assert_root_values_at(const char *file, int line, const dmg_server *s, const char *dn,
                               const char *attr, const char *expected)
{
    char *got = dmg_root_values(s, dn, attr);
    char *want = dmg_sorted_lines(expected);
    dmg_assert_str_impl(file, line, dmg_fmt("%s of %s", attr, dn), got, want);
    free(got);
    free(want);
}

TCase *dmg_tcase_timeout(const char *name, long seconds)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, (double)(seconds * dmg_slowdown()));
    return tc;
}
