/*
 * util.h -- small helpers shared by the test programs and the harness (libharness.la):
 * bounded formatting, whole files, a free loopback port, finding and running a program,
 * copying a file, sleeping and time, a growing text buffer, case-insensitive search.
 *
 * None of them calls Check's assertions (the harness also runs them outside any test): they
 * return an error the caller asserts on, or abort() when memory runs out.
 */
#ifndef DMG_UTIL_H
#define DMG_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* snprintf into dst; 0, or -1 when the result did not fit (dst then holds the cut text).
 * Meant for paths and commands, where a cut result would name something else. */
int dmg_path_fmt(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The whole file as a new string ("" when it cannot be read); caller frees. */
char *dmg_read_file(const char *path);

/* Writes text to path (created or truncated), then chmod to mode unless mode is 0; 0, or -1
 * after a message on stderr. */
int dmg_write_file(const char *path, const char *text, mode_t mode);

/* A loopback TCP port nobody listens on right now; -1 when none could be had. */
int dmg_unused_port(void);

/* A TCP connection to 127.0.0.1:port (a descriptor), or -1 when nothing answers. */
int dmg_connect_port(int port);

/* Runs argv[0] (a path) with argv; standard input from the text in_text (NULL: empty);
 * standard output into *out and standard error into *err (new strings, caller frees; always
 * set), or both into *out when err is NULL. The temporary files go to dir (kept with
 * DMG_KEEP_TMP). Returns the exit status, 128+N for signal N, or -1 when the process could
 * not be run. */
int dmg_run(char *const argv[], const char *dir, const char *in_text, char **out,
            char **err);

/* The path of the program name in /usr/sbin, /usr/local/sbin, /usr/bin or /sbin (a static
 * buffer, overwritten by the next call), or NULL when none of them has it. */
const char *dmg_find_program(const char *name);

/* Copies the file from to to (created or truncated), then chmod to mode; 0, or -1 after a
 * message on stderr. */
int dmg_copy_file(const char *from, const char *to, mode_t mode);

/* Sleeps ms milliseconds (signals do not cut it short). */
void dmg_nap_ms(long ms);

/* Milliseconds of the monotonic clock. */
long dmg_now_ms(void);

/* A growing text buffer: start with dmg_text t = { 0 }; t.s is NUL-terminated once anything
 * was added (free it when done). */
typedef struct dmg_text {
    char *s;
    size_t len, cap;
} dmg_text;

void dmg_text_printf(dmg_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether needle occurs in hay, ignoring ASCII case (the empty needle always does). */
int dmg_contains_ci(const char *hay, const char *needle);

#endif
