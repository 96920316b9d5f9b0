/*
 * address.h - envelope-sender and dmgWhitelist address parsing for slapo-dynmailgroup.
 *
 * Pure C99 + libc; no slapd or OpenLDAP types, so it can be unit-tested and fuzzed alone.
 * Every function takes an explicit length, never reads past it, and needs no NUL terminator.
 *
 * Accepted address syntax (RFC 5321 Mailbox, with RFC 6531 UTF-8 where noted):
 *
 *   local part  Dot-string (atoms of atext separated by single dots: no leading, trailing
 *               or doubled dot) or a Quoted-string ("a b"@example.com), inside which space,
 *               printable ASCII and backslash-escaped printable ASCII are allowed.  At most
 *               64 octets (quotes included); "" (empty quotes) counts as an empty local part.
 *   domain      Dot-separated labels of letters, digits and hyphens, 1..63 octets each, not
 *               starting or ending with a hyphen; a single-label domain ("localhost") is
 *               accepted.  One trailing dot is accepted and is not part of the parsed domain.
 *               Address literals are accepted: [192.0.2.1] (dotted quad, each part 0..255)
 *               and [IPv6:2001:db8::1] (checked with inet_pton); other tagged literals are
 *               rejected.  No trailing dot is allowed after a literal.
 *   UTF-8       Octets >= 0x80 are accepted in the local part and in domain labels when
 *               they form well-formed UTF-8 (RFC 6531 SMTPUTF8 senders).  They compare
 *               octet for octet; only ASCII letters fold case.  dmgWhitelist values are IA5
 *               (ASCII) and reject them.
 *   length      The address without angle brackets and without the one optional trailing
 *               dot must be at most 254 octets (RFC 5321 4.5.3.1.3 path limit minus "<>").
 *   null        "" and "<>" are the null sender (bounces), reported as DMG_ADDR_NULL.
 *   brackets    One pair of surrounding angle brackets is stripped; "<a@b" or "a@b>" is
 *               malformed.  Source routes ("<@relay:a@b>") are not supported (malformed).
 *
 * Rejected with DMG_ADDR_MALFORMED: no @, more than one @ outside quotes, empty local part or
 * domain, control characters (NUL, DEL and < 0x20) anywhere, spaces outside a quoted local
 * part, unbalanced quotes, invalid UTF-8, bad domain label characters, overlong parts.
 */
#ifndef DMG_ADDRESS_H
#define DMG_ADDRESS_H

#include <stddef.h>

#define DMG_ADDR_MAX_LEN 254	/* whole address, octets, RFC 5321 */
#define DMG_ADDR_MAX_LOCAL 64	/* local part, octets, RFC 5321 4.5.3.1.1 */
#define DMG_ADDR_MAX_LABEL 63	/* one domain label, octets, RFC 1035 */

/* A parsed address: both parts point into the caller's input buffer. */
struct dmg_addr {
	const char *local;
	size_t local_len;	/* including the quotes of a quoted local part */
	const char *domain;
	size_t domain_len;	/* excluding one trailing dot */
};

enum dmg_addr_status { DMG_ADDR_OK = 0, DMG_ADDR_NULL = 1, DMG_ADDR_MALFORMED = 2 };

/*
 * Parse an envelope address of len octets at s (s may be NULL when len is 0).
 * On DMG_ADDR_OK fills *out (if out != NULL).  On DMG_ADDR_MALFORMED sets *reason
 * (if reason != NULL) to a static, one-line English phrase such as "empty local part";
 * the phrase never contains input bytes.  *reason is left alone on success.
 */
enum dmg_addr_status dmg_addr_parse( const char *s, size_t len, struct dmg_addr *out,
	const char **reason );

/* 1 if the two domains are equal ignoring ASCII case and one trailing dot on either, else 0. */
int dmg_addr_domain_equal( const char *d1, size_t l1, const char *d2, size_t l2 );

/*
 * 1 if a and b are the same valid address, else 0.  Like LDAP caseIgnoreIA5Match on `mail`:
 * ASCII case is ignored in both parts and leading/trailing spaces of either value are
 * insignificant; in addition angle brackets and one trailing dot on the domain are ignored.
 * Quoting is compared as written ("a"@x and a@x differ), as caseIgnoreIA5Match would.
 * The null sender and malformed values equal nothing (not even themselves).
 */
int dmg_addr_equal( const char *a, size_t la, const char *b, size_t lb );

/*
 * Write the canonical form "local@domain" (no brackets, no trailing dot, case kept) of a
 * parsed address into buf, NUL-terminated.  Returns the length written (at most
 * DMG_ADDR_MAX_LEN), or 0 if buf is too small (bufsz must exceed the length) or a is NULL.
 */
size_t dmg_addr_canonical( const struct dmg_addr *a, char *buf, size_t bufsz );

/*
 * Check one domain (no "@"), with the same rules as the domain of an address.
 * Returns 0 if valid, else -1 and *reason (if reason != NULL) set to a static phrase.
 */
int dmg_domain_check( const char *s, size_t len, const char **reason );

/*
 * Validate one dmgWhitelist value: an address "user@example.com" or a domain "@example.com"
 * (which matches that domain exactly, not its subdomains).  Values are IA5: ASCII only, no
 * angle brackets, no null sender, no leading/trailing space.  Returns 0 if valid, else -1
 * and *reason (if reason != NULL) set to a static phrase.
 */
int dmg_whitelist_value_check( const char *s, size_t len, const char **reason );

#endif /* DMG_ADDRESS_H */
