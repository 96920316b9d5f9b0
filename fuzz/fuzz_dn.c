/*
 * fuzz_dn.c - libFuzzer harness for the DN parser and printer behind the DN-valued
 * directives (dynmailgroup-postmaster, dynmailgroup-privileged) and attributes (dmgDepartment,
 * dmgAuditor, dmgAdministrator, ...).
 *
 * slapd's dnPrettyNormal(), which checks and rewrites those values, is libldap's
 * ldap_bv2dn_x(LDAP_DN_FORMAT_LDAP) then a schema-aware rewrite inside slapd then
 * ldap_dn2bv_x(LDAP_DN_FORMAT_LDAPV3 [| LDAP_DN_PRETTY]). The schema-aware middle and the
 * module's use of the result are exercised against the live server by
 * tests/integration/test_fuzz_input.c; this harness fuzzes the libldap parts. scripts/fuzz.sh
 * compiles libraries/libldap/getdn.c of the installed slapd's own source tree with coverage
 * and sanitizers when that tree is available, else it links the system libldap.
 *
 * The whole input is one DN value (any octets, NULs included, as an attribute value may
 * be). It is parsed as slapd parses DN values and printed in both forms slapd stores
 * (pretty and normalized); the printed text is parsed and printed again. The properties are
 * only "no crash, no leak, no sanitizer report, printed text well-formed": a stronger
 * round-trip property does not hold for libldap alone (see check_form).
 *
 *   sh scripts/fuzz.sh                 (builds and runs every harness; DMG_FUZZ_ONLY=dn)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lber.h>
#include <ldap.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { \
    fprintf(stderr, "fuzz_dn: property failed: %s (line %d)\n", #cond, __LINE__); \
    abort(); } } while (0)

#define MAX_INPUT 8192

/* Print dn with flags as dnPretty / dnNormalize do; the text printed (when it prints) is a
 * proper string and parses again without harm. Whether it parses is not asserted: libldap
 * alone does not round-trip every value it accepts (found by this harness: "cn=# 402xample"
 * is accepted and printed as "cn=#", which is refused); in slapd the schema-aware rewrite
 * sits between the two and test_fuzz_input checks the server's answers. */
static void check_form(LDAPDN dn, unsigned flags)
{
    struct berval out = { 0, NULL }, out2 = { 0, NULL };
    LDAPDN dn2 = NULL;

    /* The parser does not check UTF-8 (nor some other value rules); printing does, and a
     * failure there makes dnPretty / dnNormalize refuse the value: a clean refusal. */
    if (ldap_dn2bv(dn, &out, flags) != LDAP_SUCCESS)
        return;
    REQUIRE(out.bv_val != NULL && strlen(out.bv_val) == out.bv_len);
    if (ldap_bv2dn(&out, &dn2, LDAP_DN_FORMAT_LDAP) == LDAP_SUCCESS) {
        if (ldap_dn2bv(dn2, &out2, flags) == LDAP_SUCCESS)
            REQUIRE(out2.bv_val != NULL && strlen(out2.bv_val) == out2.bv_len);
        ldap_dnfree(dn2);
    }
    ber_memfree(out.bv_val);
    ber_memfree(out2.bv_val);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berval in;
    LDAPDN dn = NULL;
    char *copy;

    if (size > MAX_INPUT)
        return 0;
    /* exact-size block (plus the NUL a berval from slapd always has) */
    copy = malloc(size + 1);
    REQUIRE(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    in.bv_val = copy;
    in.bv_len = size;

    if (ldap_bv2dn(&in, &dn, LDAP_DN_FORMAT_LDAP) == LDAP_SUCCESS) {
        check_form(dn, LDAP_DN_FORMAT_LDAPV3 | LDAP_DN_PRETTY); /* dnPretty */
        check_form(dn, LDAP_DN_FORMAT_LDAPV3);                  /* dnNormalize */
        ldap_dnfree(dn);
    }
    REQUIRE(memcmp(copy, data, size) == 0);
    free(copy);
    return 0;
}
