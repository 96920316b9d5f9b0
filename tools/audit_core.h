/*
 * audit_core.h - everything of dmg-audit(8) that needs no directory and no mail system:
 * audit IDs and tokens, the decision addresses, what a held message says about itself
 * (headers, the start of its text), the notices' text and the spool's
 * state machine on disk.
 *
 * C99 + POSIX + GnuTLS (HMAC-SHA256, SHA-256, random numbers). Every function takes explicit
 * lengths or bounded buffers and never writes past them.
 *
 * Identifiers (all lower-case hex, so that an address survives case folding by any MTA):
 *   audit ID  AU_ID_LEN hex digits = the first bytes of
 *             HMAC-SHA256(secret, "dmg-audit id v1" 0 queue_id 0 group 0 sender 0 digest)
 *             where digest is the SHA-256 of the message as received: the same Postfix queue
 *             file delivered again (after a crash) maps to the same ID, so it is never held
 *             twice; a different message never does.
 *   token     AU_TOKEN_LEN hex digits = the first bytes of
 *             HMAC-SHA256(secret, "dmg-audit token v1" 0 ID 0 group 0 sender 0 digest)
 *             It binds the decision addresses to this one message; compared in constant time.
 *   address   approve+ID-TOKEN@REVIEW_DOMAIN, reject+ID-TOKEN@REVIEW_DOMAIN (57 and 56
 *             bytes of local part: below RFC 5321's 64).
 */
#ifndef DMG_AUDIT_CORE_H
#define DMG_AUDIT_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define AU_ID_LEN       16    /* hex digits of an audit ID (64 bits) */
#define AU_TOKEN_LEN    32    /* hex digits of a token (128 bits) */
#define AU_DIGEST_LEN   32    /* SHA-256 */
#define AU_DIGEST_HEX   (2 * AU_DIGEST_LEN)
#define AU_SECRET_MIN   16    /* bytes a secret needs at least */
#define AU_SECRET_MAX   512
#define AU_ADDR_MAX     256   /* an address (RFC 5321: 254) plus NUL */
#define AU_TEXT_MAX     512   /* one header value, a reason, a name */
#define AU_LINE_MAX     1024  /* one record line */

/* ---------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------- */

/* Constant-time comparison of n bytes: 1 when equal. */
int au_equal_ct(const void *a, const void *b, size_t n);

/* n bytes as 2n lower-case hex digits + NUL into out (size >= 2n + 1). */
void au_hex(char *out, const unsigned char *in, size_t n);

/* Copy len bytes of s into out (size > 0) as one line fit for a header, a record or a log:
 * tab and other control characters become ' ', DEL and bytes >= 0x80 become '?', leading
 * and trailing spaces dropped, cut to size - 1 bytes (ending "..." when cut and size >= 4).
 * Returns the length written. */
size_t au_sanitize(char *out, size_t size, const char *s, size_t len);

/* ASCII case-insensitive equality of two NUL-terminated strings. */
int au_caseeq(const char *a, const char *b);

/* A plausible mailbox address for an argument vector and a record: 1..254 bytes, exactly
 * one "@" with something on both sides, no control characters, spaces, "<", ">", ",", ";" or
 * quotes, and not starting with "-" (never read as an option). "" (the null sender) is valid
 * only when null_ok. 1 when valid. */
int au_address_ok(const char *a, int null_ok);

/* ---------------------------------------------------------------------------------------
 * Secrets, IDs, tokens
 * ------------------------------------------------------------------------------------- */

struct au_secret {
    unsigned char key[AU_SECRET_MAX];
    size_t len;
};

/* The secret from a file's contents: its first line (without "\r\n"), at least
 * AU_SECRET_MIN and at most AU_SECRET_MAX bytes, no NUL. 0, or -1 with err. */
int au_secret_from_text(struct au_secret *s, const char *text, size_t len, char *err,
                        size_t errsize);

/* The identity of a held message: what the ID and the token are computed over. */
struct au_identity {
    const char *queue_id;  /* Postfix queue ID of the delivery that held it */
    const char *group;     /* the group's address */
    const char *sender;    /* envelope sender ("" for the null sender) */
    const char *digest;    /* SHA-256 of the message, AU_DIGEST_HEX hex digits */
};

/* out: AU_ID_LEN + 1 bytes. 0, or -1 when HMAC fails. */
int au_make_id(char *out, const struct au_secret *s, const struct au_identity *m);
/* out: AU_TOKEN_LEN + 1 bytes. 0, or -1. */
int au_make_token(char *out, const struct au_secret *s, const char *id,
                  const struct au_identity *m);
/* 1 when token (any case) is the token of (id, m) under s, compared in constant time. */
int au_token_ok(const char *token, const struct au_secret *s, const char *id,
                const struct au_identity *m);

/* 1 when s is exactly AU_ID_LEN lower-case hex digits (what list/show accept). */
int au_id_ok(const char *s);

/* ---------------------------------------------------------------------------------------
 * Decision addresses
 * ------------------------------------------------------------------------------------- */

enum au_action { AU_ACT_NONE = 0, AU_ACT_APPROVE, AU_ACT_REJECT, AU_ACT_EXPIRE };

const char *au_action_name(enum au_action a); /* "approve", "reject", "expire", "none" */

struct au_decision_addr {
    enum au_action action;
    char id[AU_ID_LEN + 1];       /* lower case */
    char token[AU_TOKEN_LEN + 1]; /* lower case */
};

/* Parse "approve+ID-TOKEN@DOMAIN" / "reject+ID-TOKEN@DOMAIN" (any case; the domain must be
 * review_domain, ignoring case and a trailing dot; review_domain NULL or "" accepts any).
 * 0 on success, -1 with a short reason in err (for the refusal). */
int au_parse_decision_addr(const char *addr, const char *review_domain,
                           struct au_decision_addr *out, char *err, size_t errsize);

/* Format the decision address of (action, id, token) into out. The length, 0 when it does
 * not fit. */
size_t au_format_decision_addr(char *out, size_t size, enum au_action action, const char *id,
                               const char *token, const char *review_domain);

/* The group address from a review address: "LOCAL=DOMAIN@anything" -> "LOCAL@DOMAIN" (the
 * last "=" of the local part separates them: a domain holds no "="). What follows DOMAIN
 * from its first character that no domain name has ("+ext", which Postfix appends for
 * group+ext@domain) is dropped. A recipient that is already a plain address is returned
 * as is. 0, or -1 when there is none. */
int au_group_from_review_addr(char *out, size_t size, const char *recipient);

/* ---------------------------------------------------------------------------------------
 * A message as received (RFC 5322 text, LF or CRLF line ends)
 * ------------------------------------------------------------------------------------- */

/* The value of the first header field called name (case-insensitive), unfolded, sanitised
 * (au_sanitize) into out. 1 when found, 0 when not (out = ""). Only the header (up to the
 * first empty line) is searched. */
int au_header(const char *msg, size_t len, const char *name, char *out, size_t size);

/* Offset of the body (after the empty line ending the header); len when there is none. */
size_t au_body_offset(const char *msg, size_t len);

/* The start of the text for a notice: at most max_lines lines and about max_bytes bytes of the
 * body, each line sanitised and prefixed with "> ", joined with "\n". For a MIME multipart
 * message the first part's body is shown. Returns the length written. */
size_t au_text_start(char *out, size_t size, const char *msg, size_t len, size_t max_lines,
                     size_t max_bytes);

/* The reason in a decision mail: the first non-empty line of its text (first part of a
 * multipart message), without a leading "> " quote, sanitised, cut to size. Lines that only
 * quote the notice ("> ...") or are the subject are skipped. Returns the length ("" = none). */
size_t au_reason_from_mail(char *out, size_t size, const char *msg, size_t len);

/* ---------------------------------------------------------------------------------------
 * Notices (complete RFC 5322 messages, LF line ends, given to sendmail -i)
 * ------------------------------------------------------------------------------------- */

enum au_notice_kind {
    AU_NOTE_HELD = 0,   /* to an auditor: a message waits for your decision */
    AU_NOTE_REJECTED,   /* to the sender: an auditor rejected your message */
    AU_NOTE_EXPIRED,    /* to the sender and the auditors: nobody decided in time */
    AU_NOTE_ALREADY,    /* to a late decider: it was decided already */
    AU_NOTE_UNDELIVERABLE /* to the sender and the decider: approved, but the group is gone
                           * or has no members; kept in the spool (reason: why) */
};

struct au_notice {
    enum au_notice_kind kind;
    const char *from;          /* notify_from */
    const char *to;
    const char *review_domain;
    const char *id;
    const char *token;         /* AU_NOTE_HELD only */
    const char *group;
    const char *sender;        /* "" = null sender */
    const char *subject;       /* of the held message (sanitised here again) */
    const char *date;
    const char *message_id;
    const char *size;
    const char *queue_id;
    const char *text_start;    /* au_text_start() output, "" for none */
    const char *reason;        /* rejection reason, why undeliverable; "" for none */
    const char *decided;       /* AU_NOTE_ALREADY, AU_NOTE_UNDELIVERABLE: "approved by X at
                                * T" */
    long held_at, expires_at, now;
    const char *unique;        /* a few random hex digits for the Message-ID */
    int hold_days;
};

/* The notice as a complete message into out. Returns its length, 0 when it does not fit. */
size_t au_format_notice(char *out, size_t size, const struct au_notice *n);

/* Random bytes (GnuTLS's nonce generator). 0 or -1. */
int au_random(void *buf, size_t len);

/* ---------------------------------------------------------------------------------------
 * Records: "key: value" lines, values sanitised to one line
 * ------------------------------------------------------------------------------------- */

#define AU_REC_MAX 4096
struct au_record {
    char text[AU_REC_MAX];
    size_t len;
    int overflow;
};
void au_rec_init(struct au_record *r);
void au_rec_add(struct au_record *r, const char *key, const char *value);
void au_rec_addf(struct au_record *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The value of key in a record's text (exact key), copied to out. 1 found, 0 not. */
int au_rec_get(const char *text, size_t len, const char *key, char *out, size_t size);

/* ---------------------------------------------------------------------------------------
 * Held messages on disk (the spool). Layout under the spool directory:
 *   tmp/        files being written (a crash leaves only garbage here)
 *   msg/ID      the message exactly as received; never changed
 *   held/ID     the record of a held message (group, sender, queue ID, ...); its presence
 *               means "waiting or being decided"
 *   decision/ID the decision (approve/reject/expire, by whom, reason); created with link(2),
 *               which fails when it exists: the first decision wins, whatever the process
 *   release/ID  written before an approved message is handed to sendmail: on restart a
 *               message with this marker and without done/ID is "uncertain" and never
 *               handed over again (at most once)
 *   notified/ID the auditors have been told
 *   undeliverable/ID  approved, but the group was gone or had no (usable) member when the
 *               release was tried: nothing was handed over, the sender and the decider were
 *               told; the message stays held until the postmaster resolves it (never
 *               released or dropped silently)
 *   done/ID     the record moved from held/ after the decision was carried out
 * Every file is written to tmp/, fsync'ed, then renamed (or linked) into place, and the
 * directory fsync'ed, so each state change is atomic and durable.
 * ------------------------------------------------------------------------------------- */

enum au_state {
    AU_ST_NONE = 0,     /* no such ID */
    AU_ST_HELD,         /* waiting for a decision */
    AU_ST_DECIDED,      /* decided, decision not carried out yet (crash or in progress) */
    AU_ST_UNCERTAIN,    /* approved; the release was started but not confirmed */
    AU_ST_DONE,         /* decided and carried out */
    AU_ST_UNDELIVERABLE /* approved; no member to release it to (kept until resolved) */
};
const char *au_state_name(enum au_state s);

/* Create the subdirectories (mode 0700) when missing. 0, or -1 with err. */
int au_spool_init(const char *spool, char *err, size_t errsize);

/* The state of id from the files present. */
enum au_state au_spool_state(const char *spool, const char *id);

/* Write len bytes to "<spool>/<dir>/<name>" atomically (tmp, fsync, rename, fsync dir).
 * exclusive: link(2) instead of rename, failing with errno EEXIST when the file exists.
 * 0, or -1 with errno set. */
int au_spool_put(const char *spool, const char *dir, const char *name, const void *data,
                 size_t len, int exclusive);

/* Write the message from fd (up to max_bytes; more: errno EFBIG) into a new file under tmp/;
 * its name in tmpname, SHA-256 in digest (hex). 0, or -1 with errno. */
int au_spool_take(const char *spool, int fd, size_t max_bytes, char *tmpname, size_t tmpsize,
                  char *digest, size_t *size_out);
/* Move tmp/<tmpname> to msg/<id> (fsync'ed). 0 or -1. */
int au_spool_commit_msg(const char *spool, const char *tmpname, const char *id);

/* Read "<spool>/<dir>/<name>" into a new buffer (NUL-terminated, *len without it), at most
 * max bytes. NULL with errno. */
char *au_spool_read(const char *spool, const char *dir, const char *name, size_t max,
                    size_t *len);

/* Rename held/ID to done/ID (fsync'ed). 0 or -1. */
int au_spool_finish(const char *spool, const char *id);

/* Open "<spool>/<dir>/<name>" read-only; -1 with errno. */
int au_spool_open(const char *spool, const char *dir, const char *name);

/* Remove the files of id under every directory (purging old done entries). */
void au_spool_remove(const char *spool, const char *id);

#endif /* DMG_AUDIT_CORE_H */
