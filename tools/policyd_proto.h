/*
 * policyd_proto.h - the Postfix policy-delegation protocol for dmg-policyd, and everything
 * else of the daemon that needs no I/O: configuration lines, the LDAP filter text, the
 * mapping of a directory answer to a reply.
 *
 * Pure C99 + libc; no libldap, no sockets. Every function takes explicit lengths or bounded
 * buffers and never writes past them.
 *
 * Protocol (Postfix SMTPD_POLICY_README): a request is a sequence of "name=value" lines, each
 * ended by "\n", and ends with an empty line. The reply is "action=WHAT\n\n". A "\r" right
 * before a "\n" is dropped, so CRLF clients work too. Bounds (a request that breaks one is
 * still read to its empty line, then answered with PD_REPLY_MALFORMED):
 *
 *   line      at most PD_LINE_MAX bytes, without its "\n"        -> PD_ERR_LINE_TOO_LONG
 *   request   at most PD_REQUEST_MAX bytes, final "\n" included  -> PD_ERR_REQUEST_TOO_LARGE
 *   attrs     at most PD_ATTRS_MAX name=value lines              -> PD_ERR_TOO_MANY_ATTRS
 *   syntax    "name=value": name of [A-Za-z0-9_-], not empty; no NUL byte anywhere; each
 *             name at most once; at least one line               -> PD_ERR_MALFORMED
 *
 * A stream that does not reach the end of a broken request within PD_DISCARD_MAX bytes is
 * given up (PD_FEED_BROKEN): the caller answers once and closes the connection.
 */
#ifndef DMG_POLICYD_PROTO_H
#define DMG_POLICYD_PROTO_H

#include <stddef.h>

#define PD_LINE_MAX     2048
#define PD_REQUEST_MAX  65536
#define PD_ATTRS_MAX    100
#define PD_DISCARD_MAX  (4 * PD_REQUEST_MAX)
#define PD_TEXT_MAX     200   /* bytes of text after the action word(s) in a reply */
#define PD_REPLY_MAX    (PD_TEXT_MAX + 64)
#define PD_LOOKUP_TEXT  512   /* reason and auditor list kept from the directory */

/* The replies that carry no directory text. */
#define PD_REPLY_DUNNO       "action=DUNNO\n\n"
#define PD_REPLY_UNAVAILABLE "action=DEFER_IF_PERMIT 4.3.0 directory unavailable\n\n"
#define PD_REPLY_FAILED      "action=DEFER_IF_PERMIT 4.3.0 directory lookup failed\n\n"
#define PD_REPLY_NO_DECISION "action=DEFER_IF_PERMIT 4.3.0 no decision from directory\n\n"
#define PD_REPLY_MALFORMED   "action=DEFER_IF_PERMIT 4.3.0 malformed policy request\n\n"
#define PD_REPLY_TOO_LARGE   "action=REJECT 5.5.3 group too large: more members than the " \
                             "directory expands\n\n"

/* ---------------------------------------------------------------------------------------
 * Request parser: fed any chunks of the byte stream, yields one request at a time.
 * ------------------------------------------------------------------------------------- */

enum pd_status {
    PD_OK = 0,
    PD_ERR_LINE_TOO_LONG,
    PD_ERR_REQUEST_TOO_LARGE,
    PD_ERR_TOO_MANY_ATTRS,
    PD_ERR_MALFORMED
};

enum pd_feed {
    PD_FEED_MORE = 0,     /* all input consumed, the request is not complete yet */
    PD_FEED_DONE,         /* a request ended (see pd_request_status); more input may remain */
    PD_FEED_BROKEN        /* the stream cannot be resynchronised; close it */
};

struct pd_attr {
    const char *name;     /* NUL-terminated, inside the parser */
    const char *value;    /* NUL-terminated (a value never holds a NUL byte) */
    size_t value_len;
};

typedef struct pd_parser {
    /* private: use the functions below */
    char line[PD_LINE_MAX + 1];
    size_t line_len;
    int skipping_line;          /* overlong line: dropping bytes up to its "\n" */
    size_t total;               /* bytes of the current request so far */
    char store[PD_REQUEST_MAX]; /* "name\0value\0" of every attribute */
    size_t store_len;
    struct pd_attr attrs[PD_ATTRS_MAX];
    size_t nattrs;
    enum pd_status status;      /* first problem of the current request */
    char detail[128];           /* what the problem was (no input bytes) */
} pd_parser;

/* Ready for a (next) request. */
void pd_parser_reset(pd_parser *p);

/* Consume input up to the end of the current request at most; *consumed (always set) tells
 * how many bytes of data were used. After PD_FEED_DONE the request can be read with the
 * functions below until pd_parser_reset. */
enum pd_feed pd_parser_feed(pd_parser *p, const char *data, size_t len, size_t *consumed);

/* Non-zero when part of a request has been read (EOF now would cut a request). */
int pd_parser_pending(const pd_parser *p);

enum pd_status pd_request_status(const pd_parser *p);
const char *pd_request_detail(const pd_parser *p); /* "" when PD_OK */
size_t pd_request_nattrs(const pd_parser *p);
/* Value of attribute name (case-sensitive, like Postfix), NULL when absent. */
const char *pd_request_get(const pd_parser *p, const char *name);

const char *pd_status_name(enum pd_status s);

/* ---------------------------------------------------------------------------------------
 * What to do with a well-formed request.
 * ------------------------------------------------------------------------------------- */

enum pd_action {
    PD_ACT_DUNNO = 0,   /* nothing to decide: reply DUNNO; *why says why */
    PD_ACT_LOOKUP       /* ask the directory about *recipient and *sender */
};

/* Only request=smtpd_access_policy with protocol_state=RCPT and a non-empty recipient is
 * looked up. A missing sender attribute counts as the null sender (""). */
enum pd_action pd_classify(const pd_parser *p, const char **recipient, const char **sender,
                           const char **why);

/* Who is sending, beyond the envelope: the SASL login ("" when the client did not
 * authenticate) and the client's IP address ("" when absent). Never NULL. */
struct pd_client {
    const char *login;
    const char *address;
};

void pd_client_of(const pd_parser *p, struct pd_client *c);

/* ---------------------------------------------------------------------------------------
 * LDAP filter text (RFC 4515).
 * ------------------------------------------------------------------------------------- */

/* Escape len bytes of s as an assertion value: "*()\\", NUL and every byte outside
 * printable ASCII become \hh. Returns the length written (without the NUL terminator), or
 * (size_t)-1 when it does not fit into size bytes. */
size_t pd_filter_escape(char *out, size_t size, const char *s, size_t len);

/* The addresses Postfix may deliver a recipient R as, R first: trivial-rewrite drops the
 * trailing dot of the domain ("g@example.com." is "g@example.com") and, with
 * allow_percent_hack (the default) for a local domain, makes "g%example.com@here"
 * "g@example.com"; the virtual alias lookup also tries each without its address
 * extension (pd_strip_extension). Each form differs from the others; at most max, each
 * NUL-terminated in forms[i] (PD_LINE_MAX + 1 bytes). The number of forms, or 0 when
 * there would be more than max or one does not fit. */
#define PD_FORMS_MAX 8
size_t pd_recipient_forms(char forms[][PD_LINE_MAX + 1], size_t max, const char *recipient,
                          const char *delimiters);

/* "(&(objectClass=dynamicMailGroup)(mail=R)(dmgSender=S)EXTRA)", with
 * "(|(mail=R)(mail=R2)...)" for the recipient's forms (pd_recipient_forms) when it has more
 * than one. extra may be NULL or "". 0 on success, -1 when it does not fit. */
int pd_build_filter(char *out, size_t size, const char *recipient, const char *sender,
                    const char *delimiters, const char *extra);

/* R without its address extension, as Postfix's split_addr() cuts it: the local part ends
 * before the first of any of the delimiter characters ("user+ext@domain" -> "user@domain"
 * for "+", also "user-ext@domain" for "+-"). Like Postfix, postmaster, MAILER-DAEMON and
 * double-bounce are never split, nor owner-* and *-request when "-" is a delimiter. 1 when
 * out holds a different address, 0 when there is none (no delimiter in the local part,
 * nothing before it, or one of those names), -1 when it does not fit. */
int pd_strip_extension(char *out, size_t size, const char *recipient, const char *delimiters);

/* "(&(objectClass=dynamicMailGroup)(mail=*@DOMAIN))": is DOMAIN a group's domain? 0, or -1
 * when it does not fit or the domain is empty. */
int pd_build_domain_filter(char *out, size_t size, const char *domain);

/* The account filter: template with %s replaced by the escaped login, %u by the part before
 * its last "@" (all of it without one), %d by the part after it ("" without one), %% by "%"
 * (as in Postfix's ldap_table(5)). 0, or -1 when it does not fit. */
int pd_build_login_filter(char *out, size_t size, const char *template_, const char *login);

/* ---------------------------------------------------------------------------------------
 * Directory answer -> reply.
 * ------------------------------------------------------------------------------------- */

enum pd_result {
    PD_RES_NOT_GROUP = 0,  /* no group has the recipient's address */
    PD_RES_ACCEPT,
    PD_RES_HOLD,
    PD_RES_REJECT,
    PD_RES_NO_DECISION,    /* a group came back without a usable dmgDecision */
    PD_RES_UNAVAILABLE,    /* could not connect, bind or reach the directory in time */
    PD_RES_FAILED,         /* the directory answered the search with an error */
    PD_RES_TOO_LARGE       /* the group has more members than dynmailgroup-max-members */
};

struct pd_lookup {
    enum pd_result result;
    char reason[PD_LOOKUP_TEXT];    /* dmgDecisionReason as returned ("" when none) */
    char auditors[PD_LOOKUP_TEXT];  /* auditors' addresses, ", "-separated, sorted */
    char group[PD_LOOKUP_TEXT];     /* DN of the (first) group, for the log */
    char group_mail[PD_LOOKUP_TEXT]; /* the group's (first) mail value */
    int allows_anyone;              /* dmgSendPolicy has "anyone" */
    int audit_required;             /* dmgAuditRequired is TRUE */
    char error[PD_LOOKUP_TEXT];     /* what went wrong, for the log */
};

void pd_lookup_init(struct pd_lookup *l);

/* Map a decision value (dmgDecision, ASCII case-insensitive) to a result:
 * accept/hold/reject, anything else PD_RES_NO_DECISION. */
enum pd_result pd_decision_result(const char *value, size_t len);

/* When several groups answer (should not happen: mail is unique), the strictest wins. */
enum pd_result pd_result_combine(enum pd_result a, enum pd_result b);

const char *pd_result_name(enum pd_result r);

/* ---------------------------------------------------------------------------------------
 * Sending identity: a group's decision for who the client is (man page SENDING IDENTITY).
 * ------------------------------------------------------------------------------------- */

enum pd_identity {
    PD_ID_AS_CLAIMED = 0, /* the envelope sender is taken as it is: the directory decides */
    PD_ID_NOT_ACCOUNT,    /* authenticated, and the sender is not one of the account's mail */
    PD_ID_NO_ACCOUNT,     /* authenticated, and no account has the login */
    PD_ID_MANY_ACCOUNTS,  /* authenticated, and several accounts have the login */
    PD_ID_OUTSIDER        /* not authenticated, not in trusted_networks, sender in a local
                             domain: decided as mail from outside the organisation */
};

/* Does the outsider rule change l's decision at all? Only when the directory would let the
 * sender through on more than "anyone" (or an auditor's exemption): then the caller must
 * find out whether the sender's domain is local. */
int pd_outsider_matters(const struct pd_lookup *l);

/* Adjust the directory's decision in l (accept or hold of a group; a rejection keeps the
 * directory's reason, other results are left alone) for identity id:
 *   PD_ID_NOT_ACCOUNT, PD_ID_NO_ACCOUNT, PD_ID_MANY_ACCOUNTS  reject, saying why
 *   PD_ID_OUTSIDER  only "anyone" lets the sender through, held when the group is audited
 *                   (no auditor's exemption); otherwise reject
 * l->reason is replaced by the reason for the new decision. */
void pd_apply_identity(struct pd_lookup *l, enum pd_identity id, const char *sender,
                       const char *login);

/* The domain of address (after its last "@"), lower-cased, without a trailing dot, into
 * out; "" for the null sender or an address without a domain. -1 when it does not fit. */
int pd_address_domain(char *out, size_t size, const char *address);

/* The reply for a lookup: DUNNO (not a group, accept), "HOLD awaiting audit by A, B",
 * "REJECT 5.7.1 REASON" or one of the DEFER_IF_PERMIT replies above. Always succeeds when
 * size >= PD_REPLY_MAX; returns the reply's length (0 when size is too small). */
size_t pd_format_lookup_reply(char *out, size_t size, const struct pd_lookup *l);

/* "action=ACTION[ TEXT]\n\n" with TEXT sanitised (pd_sanitize) and cut to PD_TEXT_MAX bytes
 * (ending in "..." when cut). action must be printable ASCII. Returns the length, 0 when
 * size < PD_REPLY_MAX or action is unusable. */
size_t pd_format_reply(char *out, size_t size, const char *action, const char *text,
                       size_t text_len);

/* Copy len bytes of s into out (size > 0) as one printable-ASCII line: tab and other
 * control characters become ' ', DEL and bytes >= 0x80 become '?', leading and trailing
 * spaces are dropped. Cut to size - 1 bytes; when cut, the end is "..." (size >= 4).
 * Returns the length written. */
size_t pd_sanitize(char *out, size_t size, const char *s, size_t len);

/* Join n strings sorted ASCII case-insensitively (ties: byte order), duplicates (ignoring
 * case) once, with ", ". When the result would not fit, it is cut and ends in "...". At
 * most PD_JOIN_MAX strings are considered; more are summarised as "...". Returns the
 * length written (out always NUL-terminated, size > 0). */
#define PD_JOIN_MAX 256
size_t pd_join_sorted(char *out, size_t size, const char *const *items, size_t n);

/* ---------------------------------------------------------------------------------------
 * Configuration file: "key = value" lines; "#" starts a comment line; blank lines ignored.
 * ------------------------------------------------------------------------------------- */

#define PD_CONF_VALUE_MAX 1024
#define PD_NETS_MAX       64    /* networks in trusted_networks */

/* One network of trusted_networks: family 4 or 6, address bytes, prefix length. */
struct pd_net {
    int family;
    unsigned char addr[16];
    unsigned prefix;
};

struct pd_config {
    char uri[PD_CONF_VALUE_MAX];          /* uri: LDAP URI(s), default ldapi:/// */
    char base[PD_CONF_VALUE_MAX];         /* base: search base ("" = the naming contexts) */
    char bind_dn[PD_CONF_VALUE_MAX];      /* bind_dn: "" = anonymous */
    char bind_pw_file[PD_CONF_VALUE_MAX]; /* bind_pw_file: first line is the password */
    char filter[PD_CONF_VALUE_MAX];       /* filter: extra filter ANDed in ("" = none) */
    char recipient_delimiter[64];         /* recipient_delimiter: as Postfix's ("" = none) */
    int recipient_delimiter_set;          /* set in the file (else asked of postconf) */
    char postconf[PD_CONF_VALUE_MAX];     /* postconf: the command, /usr/sbin/postconf */
    char sasl_login_filter[PD_CONF_VALUE_MAX]; /* sasl_login_filter: default (uid=%s) */
    struct pd_net trusted[PD_NETS_MAX];   /* trusted_networks: default 127.0.0.0/8 ::1 */
    size_t ntrusted;
    char local_domains[PD_CONF_VALUE_MAX]; /* local_domains: lower case, one space between */
    int local_domains_set;                /* set in the file (else the groups' domains) */
    int timeout;                          /* timeout: seconds, 1..300, default 5 */
    int idle_timeout;                     /* idle_timeout: seconds, 1..86400, default 600 */
    int max_children;                     /* max_children: TCP connections, 1..1024, 32 */
    int log_level;                        /* log_level: 0 errors, 1 decisions, 2 debug */
    int starttls;                         /* starttls: yes/no, default no */
    int hold_review;                      /* hold_action: review (1) or hold (0, default) */
};

void pd_config_defaults(struct pd_config *c);

/* One line of the file (without its "\n"; a trailing "\r" is ignored). 0 when the line was
 * used or ignored, -1 with a message in err (never the value of bind_pw_file's contents). */
int pd_config_line(struct pd_config *c, const char *line, size_t len, char *err,
                   size_t errsize);

/* After the last line: are the required settings there and consistent? 0 or -1 + err. */
int pd_config_check(const struct pd_config *c, char *err, size_t errsize);

/* recipient_delimiter from the output of "postconf -h recipient_delimiter" (len bytes):
 * the first line, checked like the setting. 0, or -1 with a message in err. */
int pd_config_postconf_delimiter(struct pd_config *c, const char *out, size_t len, char *err,
                                 size_t errsize);

/* The reply for a lookup under hold_action: with "review" a hold is DUNNO (the review loop,
 * dmg-audit(8), to which Postfix routes the audited group's copy, holds it and asks the
 * auditors), else as pd_format_lookup_reply ("HOLD awaiting audit by ..."). A rejection is
 * REJECT under either: refused at RCPT time, never bounced later. */
size_t pd_format_decision_reply(char *out, size_t size, const struct pd_lookup *l,
                                const struct pd_config *c);

/* Is the IP address (text, as Postfix's client_address) in trusted_networks? An
 * IPv4-mapped IPv6 address counts as its IPv4 address; "" or unparsable: no. */
int pd_client_trusted(const struct pd_config *c, const char *address);

/* Is domain (lower case, no trailing dot, see pd_address_domain) in local_domains? */
int pd_domain_listed(const struct pd_config *c, const char *domain);

/* First line of a password file's contents (len bytes at s): copied into out without its
 * line end. 0, or -1 when empty, too long for size or holding a NUL byte. */
int pd_password_from_text(char *out, size_t size, const char *s, size_t len);

#endif /* DMG_POLICYD_PROTO_H */
