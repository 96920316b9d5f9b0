/*
 * fuzz_address.c - libFuzzer harness for overlay/address.c.
 *
 * The whole input is one candidate address (any octets, NULs included).  Beyond "no crash,
 * no sanitizer report" it checks the properties the policy code relies on; a violated one
 * aborts, which libFuzzer reports as a crash with the input saved.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ioverlay \
 *       overlay/address.c fuzz/fuzz_address.c -o fuzz_address
 *   mkdir -p /tmp/fuzz-address && ./fuzz_address -max_total_time=60 /tmp/fuzz-address fuzz/corpus/address
 *   (the first directory receives new inputs; keep it outside the tree)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

/* Static reasons are one line of printable ASCII. */
static void require_clean_reason(const char *why)
{
    REQUIRE(why != NULL && why[0] != '\0');
    for (; *why; why++)
        REQUIRE(*why >= 0x20 && *why < 0x7f);
}

static void upper_ascii(char *dst, const char *src, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        dst[i] = (src[i] >= 'a' && src[i] <= 'z') ? (char)(src[i] - 'a' + 'A') : src[i];
}

/* What a successful parse promises. */
static void check_parsed(const char *s, size_t size, const struct dmg_addr *a)
{
    char canon[DMG_ADDR_MAX_LEN + 1], upper[DMG_ADDR_MAX_LEN + 4];
    struct dmg_addr again;
    size_t n;

    /* the parts lie inside the input, in order, separated by '@' */
    REQUIRE(a->local >= s && a->local + a->local_len < s + size);
    REQUIRE(a->domain == a->local + a->local_len + 1 && a->local[a->local_len] == '@');
    REQUIRE(a->domain + a->domain_len <= s + size);
    /* lengths within RFC 5321 limits */
    REQUIRE(a->local_len >= 1 && a->local_len <= DMG_ADDR_MAX_LOCAL);
    REQUIRE(a->domain_len >= 1 && a->local_len + 1 + a->domain_len <= DMG_ADDR_MAX_LEN);
    REQUIRE(a->domain[a->domain_len - 1] != '.');
    REQUIRE(dmg_domain_check(a->domain, a->domain_len, NULL) == 0);
    REQUIRE(dmg_addr_domain_equal(a->domain, a->domain_len, a->domain, a->domain_len));

    /* the canonical form parses to itself and equals the input */
    n = dmg_addr_canonical(a, canon, sizeof canon);
    REQUIRE(n == a->local_len + 1 + a->domain_len && canon[n] == '\0');
    REQUIRE(dmg_addr_parse(canon, n, &again, NULL) == DMG_ADDR_OK);
    REQUIRE(again.local_len == a->local_len && again.domain_len == a->domain_len);
    REQUIRE(dmg_addr_equal(s, size, canon, n));
    REQUIRE(dmg_addr_equal(s, size, s, size));

    /* ASCII case never matters */
    if (size <= sizeof upper) {
        upper_ascii(upper, s, size);
        REQUIRE(dmg_addr_parse(upper, size, NULL, NULL) == DMG_ADDR_OK);
        REQUIRE(dmg_addr_equal(s, size, upper, size));
    }
}

static void check_whitelist_value(const char *s, size_t size)
{
    const char *why = NULL;
    size_t i;

    if (dmg_whitelist_value_check(s, size, &why) != 0) {
        require_clean_reason(why);
        return;
    }
    REQUIRE(size > 0);
    for (i = 0; i < size; i++)
        REQUIRE((unsigned char)s[i] < 0x80);
    if (s[0] == '@')
        REQUIRE(dmg_domain_check(s + 1, size - 1, NULL) == 0);
    else
        REQUIRE(dmg_addr_parse(s, size, NULL, NULL) == DMG_ADDR_OK);
}

/* Comparisons are symmetric whatever the two halves of the input are. */
static void check_symmetry(const char *s, size_t size)
{
    size_t half = size / 2;
    const char *b = s + half;
    size_t lb = size - half;

    REQUIRE(dmg_addr_domain_equal(s, half, b, lb) == dmg_addr_domain_equal(b, lb, s, half));
    REQUIRE(dmg_addr_equal(s, half, b, lb) == dmg_addr_equal(b, lb, s, half));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct dmg_addr a;
    const char *why = NULL;

    switch (dmg_addr_parse(s, size, &a, &why)) {
    case DMG_ADDR_OK:
        REQUIRE(why == NULL);
        check_parsed(s, size, &a);
        break;
    case DMG_ADDR_NULL:
        REQUIRE(size == 0 || (size == 2 && memcmp(s, "<>", 2) == 0));
        REQUIRE(!dmg_addr_equal(s, size, s, size));
        break;
    case DMG_ADDR_MALFORMED:
        require_clean_reason(why);
        REQUIRE(!dmg_addr_equal(s, size, s, size) || s[0] == ' ' || s[size - 1] == ' ');
        break;
    default:
        abort();
    }
    (void)dmg_domain_check(s, size, NULL);
    check_whitelist_value(s, size);
    check_symmetry(s, size);
    return 0;
}
