/*
 * address.c - envelope-sender and dmgWhitelist address parsing (see address.h for the
 * accepted syntax).  Pure C99 + POSIX inet_pton; every scan is bounded by an explicit length.
 */
#define _POSIX_C_SOURCE 200112L

#include "address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define DMG_DOMAIN_MAX_LEN 253	/* RFC 1035: 255 on the wire is 253 in text form */

/* Static reasons shared by several checks, so tests and callers see one spelling. */
static const char REASON_CONTROL[] = "control character or space outside a quoted local part";
static const char REASON_UTF8[] = "invalid UTF-8 in address";
static const char REASON_TOO_LONG[] = "address longer than 254 octets";

/* ---- character classes (ASCII only; locale must not matter) ---- */

static int
is_ascii_digit( unsigned char c )
{
	return c >= '0' && c <= '9';
}

static int
is_ascii_alpha( unsigned char c )
{
	return ( c >= 'a' && c <= 'z' ) || ( c >= 'A' && c <= 'Z' );
}

static int
is_hex_digit( unsigned char c )
{
	return is_ascii_digit( c ) || ( c >= 'a' && c <= 'f' ) || ( c >= 'A' && c <= 'F' );
}

/* C0 controls (NUL included) and DEL: never allowed anywhere in an address. */
static int
is_control( unsigned char c )
{
	return c < 0x20 || c == 0x7f;
}

static unsigned char
ascii_lower( unsigned char c )
{
	return ( c >= 'A' && c <= 'Z' ) ? (unsigned char)( c - 'A' + 'a' ) : c;
}

/* RFC 5321 atext: letters, digits and these specials.  A switch, not strchr(), so that a NUL
 * octet can never match the terminator of a list. */
static int
is_atext( unsigned char c )
{
	if ( is_ascii_alpha( c ) || is_ascii_digit( c ) )
		return 1;
	switch ( c ) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
	case '|': case '}': case '~':
		return 1;
	default:
		return 0;
	}
}

static int
ascii_case_equal( const char *a, const char *b, size_t n )
{
	size_t i;

	for ( i = 0; i < n; i++ )
		if ( ascii_lower( (unsigned char)a[i] ) != ascii_lower( (unsigned char)b[i] ) )
			return 0;
	return 1;
}

/*
 * Length of the well-formed multi-octet UTF-8 sequence starting at p, or 0.  Callers pass
 * n >= 1 octets available and p[0] >= 0x80.  Follows the RFC 3629 table, so overlong forms,
 * surrogates and code points above U+10FFFF are refused: two spellings of one character must
 * not slip past a comparison.
 */
static size_t
utf8_sequence_len( const unsigned char *p, size_t n )
{
	unsigned char c = p[0];
	/* range allowed for the second octet; only four lead octets narrow it */
	unsigned char lo = ( c == 0xE0 ) ? 0xA0 : ( c == 0xF0 ) ? 0x90 : 0x80;
	unsigned char hi = ( c == 0xED ) ? 0x9F : ( c == 0xF4 ) ? 0x8F : 0xBF;
	size_t need, i;

	if ( c >= 0xC2 && c <= 0xDF )
		need = 2;
	else if ( c >= 0xE0 && c <= 0xEF )
		need = 3;
	else if ( c >= 0xF0 && c <= 0xF4 )
		need = 4;
	else
		return 0;	/* continuation octet, overlong lead C0/C1, or beyond U+10FFFF */
	if ( n < need || p[1] < lo || p[1] > hi )
		return 0;
	for ( i = 2; i < need; i++ )
		if ( p[i] < 0x80 || p[i] > 0xBF )
			return 0;
	return need;
}

/* Moves *i past the multi-octet UTF-8 sequence at p[*i] (p[*i] >= 0x80, *i < len); 0 when
 * the sequence is not well-formed */
static int
skip_utf8( const unsigned char *p, size_t len, size_t *i )
{
	size_t n = utf8_sequence_len( p + *i, len - *i );

	*i += n;
	return n != 0;
}

/* ---- local part ---- */

/*
 * Scan a Quoted-string local part starting at p[0] == '"'.  On success *end is the index just
 * past the closing quote.  RFC 5321 qtextSMTP is printable ASCII except '"' and '\';
 * quoted-pairSMTP is '\' followed by printable ASCII or space.
 */
static const char *
scan_quoted_local( const unsigned char *p, size_t len, size_t *end )
{
	size_t i = 1;

	while ( i < len ) {
		unsigned char c = p[i];

		if ( c == '"' ) {
			*end = i + 1;
			return NULL;
		}
		if ( c == '\\' ) {
			if ( i + 1 >= len )
				return "unbalanced quotes in local part";
			if ( p[i + 1] < 0x20 || p[i + 1] > 0x7e )
				return "control character or non-ASCII octet after a backslash "
					"in a quoted local part";
			i += 2;
			continue;
		}
		if ( is_control( c ) )
			return "control character inside a quoted local part";
		if ( c >= 0x80 ) {
			if ( !skip_utf8( p, len, &i ) )
				return REASON_UTF8;
			continue;
		}
		i++;
	}
	return "unbalanced quotes in local part";
}

/*
 * Scan a Dot-string local part up to the first '@' (or the end).  *end is the index of that
 * '@' or len.  Dot placement is checked by the caller once it knows the extent.
 */
static const char *
scan_dot_string_local( const unsigned char *p, size_t len, size_t *end )
{
	size_t i = 0;

	while ( i < len && p[i] != '@' ) {
		unsigned char c = p[i];

		if ( c == '.' ) {
			if ( i > 0 && p[i - 1] == '.' )
				return "consecutive dots in local part";
			i++;
			continue;
		}
		if ( is_control( c ) || c == ' ' )
			return REASON_CONTROL;
		if ( c == '"' )
			return "misplaced quote in local part";
		if ( c >= 0x80 ) {
			if ( !skip_utf8( p, len, &i ) )
				return REASON_UTF8;
			continue;
		}
		if ( !is_atext( c ) )
			return "invalid character in local part";
		i++;
	}
	*end = i;
	return NULL;
}

/* Find and check the local part; on success *at is the index of the separating '@'. */
static const char *
parse_local_part( const unsigned char *p, size_t len, size_t *at )
{
	const char *why;
	size_t end = 0;
	int quoted = ( p[0] == '"' ); /* len >= 1 here */

	why = quoted ? scan_quoted_local( p, len, &end ) : scan_dot_string_local( p, len, &end );
	if ( why != NULL )
		return why;
	if ( end >= len )
		return "address has no @";
	if ( p[end] != '@' )
		return "characters after the closing quote of the local part";
	if ( end == 0 || ( quoted && end == 2 ) )
		return "empty local part";
	if ( !quoted && p[0] == '.' )
		return "local part starts with a dot";
	if ( !quoted && p[end - 1] == '.' )
		return "local part ends with a dot";
	if ( end > DMG_ADDR_MAX_LOCAL )
		return "local part longer than 64 octets";
	*at = end;
	return NULL;
}

/* ---- domain ---- */

static const char *
check_ipv4_literal( const unsigned char *p, size_t n )
{
	static const char bad[] = "malformed IPv4 address literal in domain";
	size_t i = 0;
	int part;

	for ( part = 0; part < 4; part++ ) {
		unsigned value = 0;
		size_t digits = 0;

		while ( i < n && is_ascii_digit( p[i] ) && digits < 3 ) {
			value = value * 10 + (unsigned)( p[i] - '0' );
			i++;
			digits++;
		}
		if ( digits == 0 || value > 255 )
			return bad;
		if ( part < 3 ) {
			if ( i >= n || p[i] != '.' )
				return bad;
			i++;
		}
	}
	return i == n ? NULL : bad;
}

/* inet_pton wants a C string, so copy the (pre-filtered, short) text into a local buffer. */
static const char *
check_ipv6_literal( const unsigned char *p, size_t n )
{
	static const char bad[] = "malformed IPv6 address literal in domain";
	char text[INET6_ADDRSTRLEN];
	struct in6_addr ignored;
	size_t i;

	if ( n == 0 || n >= sizeof( text ) )
		return bad;
	for ( i = 0; i < n; i++ ) {
		if ( !is_hex_digit( p[i] ) && p[i] != ':' && p[i] != '.' )
			return bad;
		text[i] = (char)p[i];
	}
	text[n] = '\0';
	return inet_pton( AF_INET6, text, &ignored ) == 1 ? NULL : bad;
}

/* p[0] == '['.  RFC 5321 address-literal: IPv4, "IPv6:" tagged, or general (unsupported). */
static const char *
check_address_literal( const unsigned char *p, size_t len )
{
	const unsigned char *inner = p + 1;
	size_t n;

	if ( len < 2 || p[len - 1] != ']' )
		return "address literal in domain does not end with ]";
	n = len - 2;
	if ( n >= 5 && ascii_case_equal( (const char *)inner, "IPv6:", 5 ) )
		return check_ipv6_literal( inner + 5, n - 5 );
	if ( memchr( inner, ':', n ) != NULL )
		return "unsupported address literal in domain";
	return check_ipv4_literal( inner, n );
}

static const char *
check_label_char( const unsigned char *p, size_t n, size_t *used )
{
	unsigned char c = p[0];

	*used = 1;
	if ( is_ascii_alpha( c ) || is_ascii_digit( c ) || c == '-' )
		return NULL;
	if ( c >= 0x80 ) {
		*used = utf8_sequence_len( p, n );
		return *used == 0 ? REASON_UTF8 : NULL;
	}
	if ( c == '@' )
		return "more than one @ in address";
	if ( is_control( c ) || c == ' ' )
		return REASON_CONTROL;
	return "invalid character in domain";
}

/* One label between dots: letters, digits, hyphens (or UTF-8), 1..63 octets, no edge hyphen. */
static const char *
check_label( const unsigned char *p, size_t n )
{
	const char *why;
	size_t i = 0, used;

	if ( n == 0 )
		return "empty label in domain";
	if ( n > DMG_ADDR_MAX_LABEL )
		return "domain label longer than 63 octets";
	while ( i < n ) {
		why = check_label_char( p + i, n - i, &used );
		if ( why != NULL )
			return why;
		i += used;
	}
	if ( p[0] == '-' || p[n - 1] == '-' )
		return "domain label starts or ends with a hyphen";
	return NULL;
}

static const char *
check_hostname( const unsigned char *p, size_t len )
{
	const char *why;
	size_t start = 0, i;

	for ( i = 0; i <= len; i++ ) {
		if ( i == len || p[i] == '.' ) {
			why = check_label( p + start, i - start );
			if ( why != NULL )
				return why;
			start = i + 1;
		}
	}
	return NULL;
}

/* Check a domain; *domain_len receives its length without the one optional trailing dot. */
static const char *
parse_domain( const unsigned char *p, size_t len, size_t *domain_len )
{
	if ( len > 0 && p[0] == '[' ) {
		*domain_len = len;
		return check_address_literal( p, len );
	}
	if ( len > 0 && p[len - 1] == '.' )
		len--;
	if ( len == 0 )
		return "empty domain";
	if ( len > DMG_DOMAIN_MAX_LEN )
		return "domain longer than 253 octets";
	*domain_len = len;
	return check_hostname( p, len );
}

/* ---- public functions ---- */

static enum dmg_addr_status
malformed( const char **reason, const char *why )
{
	if ( reason != NULL )
		*reason = why;
	return DMG_ADDR_MALFORMED;
}

/* Remove one pair of surrounding angle brackets; a lone one on either side is an error.
 * Called with *len >= 1. */
static const char *
strip_angle_brackets( const unsigned char **p, size_t *len )
{
	int opens = ( ( *p )[0] == '<' );
	int closes = ( ( *p )[*len - 1] == '>' );

	if ( opens && closes ) {	/* *len >= 2: one octet cannot be both '<' and '>' */
		( *p )++;
		*len -= 2;
		return NULL;
	}
	if ( opens || closes )
		return "unbalanced angle brackets";
	return NULL;
}

enum dmg_addr_status
dmg_addr_parse( const char *s, size_t len, struct dmg_addr *out, const char **reason )
{
	const unsigned char *p = (const unsigned char *)s;
	const char *why;
	size_t at = 0, domain_len = 0;

	if ( len == 0 )
		return DMG_ADDR_NULL;
	if ( s == NULL )
		return malformed( reason, "no address buffer" );
	why = strip_angle_brackets( &p, &len );
	if ( why != NULL )
		return malformed( reason, why );
	if ( len == 0 )
		return DMG_ADDR_NULL;
	/* Early bound before scanning; +1 because a trailing dot is not counted. */
	if ( len > DMG_ADDR_MAX_LEN + 1 )
		return malformed( reason, REASON_TOO_LONG );
	why = parse_local_part( p, len, &at );
	if ( why != NULL )
		return malformed( reason, why );
	why = parse_domain( p + at + 1, len - at - 1, &domain_len );
	if ( why != NULL )
		return malformed( reason, why );
	if ( at + 1 + domain_len > DMG_ADDR_MAX_LEN )
		return malformed( reason, REASON_TOO_LONG );
	if ( out != NULL ) {
		out->local = (const char *)p;
		out->local_len = at;
		out->domain = (const char *)p + at + 1;
		out->domain_len = domain_len;
	}
	return DMG_ADDR_OK;
}

static size_t
without_trailing_dot( const char *d, size_t len )
{
	return ( len > 0 && d[len - 1] == '.' ) ? len - 1 : len;
}

int
dmg_addr_domain_equal( const char *d1, size_t l1, const char *d2, size_t l2 )
{
	if ( d1 == NULL || d2 == NULL )
		return 0;
	l1 = without_trailing_dot( d1, l1 );
	l2 = without_trailing_dot( d2, l2 );
	/* An empty domain names nothing, so it equals nothing. */
	return l1 != 0 && l1 == l2 && ascii_case_equal( d1, d2, l1 );
}

/* Leading/trailing spaces are insignificant in caseIgnoreIA5Match, so drop them. */
static void
trim_spaces( const char **s, size_t *len )
{
	while ( *len > 0 && ( *s )[0] == ' ' ) {
		( *s )++;
		( *len )--;
	}
	while ( *len > 0 && ( *s )[*len - 1] == ' ' )
		( *len )--;
}

int
dmg_addr_equal( const char *a, size_t la, const char *b, size_t lb )
{
	struct dmg_addr pa, pb;

	if ( a == NULL || b == NULL )
		return 0;
	trim_spaces( &a, &la );
	trim_spaces( &b, &lb );
	if ( dmg_addr_parse( a, la, &pa, NULL ) != DMG_ADDR_OK
		|| dmg_addr_parse( b, lb, &pb, NULL ) != DMG_ADDR_OK )
		return 0;
	return pa.local_len == pb.local_len
		&& ascii_case_equal( pa.local, pb.local, pa.local_len )
		&& dmg_addr_domain_equal( pa.domain, pa.domain_len, pb.domain, pb.domain_len );
}

size_t
dmg_addr_canonical( const struct dmg_addr *a, char *buf, size_t bufsz )
{
	size_t total;

	if ( a == NULL || buf == NULL || a->local == NULL || a->domain == NULL )
		return 0;
	total = a->local_len + 1 + a->domain_len;
	if ( total > DMG_ADDR_MAX_LEN || total >= bufsz ) {
		if ( bufsz > 0 )
			buf[0] = '\0';
		return 0;
	}
	memcpy( buf, a->local, a->local_len );
	buf[a->local_len] = '@';
	memcpy( buf + a->local_len + 1, a->domain, a->domain_len );
	buf[total] = '\0';
	return total;
}

int
dmg_domain_check( const char *s, size_t len, const char **reason )
{
	const char *why;
	size_t ignored = 0;

	if ( s == NULL )
		len = 0;
	why = parse_domain( (const unsigned char *)s, len, &ignored );
	if ( why == NULL )
		return 0;
	if ( reason != NULL )
		*reason = why;
	return -1;
}

static int
whitelist_fail( const char **reason, const char *why )
{
	if ( reason != NULL )
		*reason = why;
	return -1;
}

int
dmg_whitelist_value_check( const char *s, size_t len, const char **reason )
{
	const char *why = "not an address";
	size_t i;

	if ( s == NULL || len == 0 )
		return whitelist_fail( reason, "empty whitelist value" );
	for ( i = 0; i < len; i++ )
		if ( (unsigned char)s[i] >= 0x80 )
			return whitelist_fail( reason,
				"non-ASCII octet in whitelist value (IA5 only)" );
	if ( s[0] == '<' || s[len - 1] == '>' )
		return whitelist_fail( reason, "angle brackets in whitelist value" );
	if ( s[0] == '@' )
		return dmg_domain_check( s + 1, len - 1, reason );
	if ( dmg_addr_parse( s, len, NULL, &why ) != DMG_ADDR_OK )
		return whitelist_fail( reason, why );
	return 0;
}
