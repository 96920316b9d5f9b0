/*
 * test_hostile_read.c -- reads by someone looking for what the ACLs and hidden groups hide
 * (man page ACCESS CONTROL, MEMBERSHIP, CAVEATS), against a real slapd with a realistic ACL set:
 *
 *  - ou=HR is readable by HR staff only (cn=hr-staff,ou=HR, a groupOfNames);
 *  - employees may write their own title, l and description, and read the rest;
 *  - cn=layoffs: its member, dmgMemberMail and dmgMemberCount, and the dmgMemberOf value that
 *    names it, are readable by HR staff (and the postmaster and the MTA) only;
 *  - a postmaster, an MTA account in dynmailgroup-privileged, hidden groups
 *    (dmgShowInContacts: FALSE) with an applicant, an administrator and an auditor;
 *  - cn=hr-planted, loaded with slapadd with a stored member value (uma, who is not in its
 *    department), guards ou=Sales's description through a group/dynamicMailGroup/member clause.
 *
 * Each item checks that the answers a requester gets do not depend on what they may not see:
 * result codes, entries, values, counts, pages and errors.  Item 5 holds the computed values,
 * put on a copy that shares the backend entry's values, to exact answers whatever the
 * attribute list, pages, abandons or slapo-rwm above.
 */
#define _GNU_SOURCE /* strcasestr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <fcntl.h>

#include "harness.h"

#define GROUPS     "ou=Groups," DMG_SUFFIX
#define HR         "ou=HR," DMG_SUFFIX
#define HRGROUP    "cn=hr-staff," HR
#define HILDA      "uid=hilda," HR                              /* HR staff */
#define NOBODY_HR  "uid=nobody," HR                             /* does not exist */
#define POSTMASTER "uid=postmaster,ou=System," DMG_SUFFIX
#define MTA        "uid=mta,ou=System," DMG_SUFFIX              /* dynmailgroup-privileged */
#define ERIN       "uid=erin,ou=Engineering," DMG_SUFFIX        /* an employee */
#define BOB        "uid=bob,ou=Engineering," DMG_SUFFIX         /* on the layoffs list */
#define CAROL      "uid=carol,ou=Engineering," DMG_SUFFIX       /* administrator of hr-h */
#define DAVE       "uid=dave,ou=Engineering," DMG_SUFFIX        /* auditor of hr-h */
#define HEIDI      "uid=heidi,ou=Backend,ou=Engineering," DMG_SUFFIX /* applicant of hr-h */
#define UMA        "uid=uma,ou=Sales," DMG_SUFFIX
#define GINA       "uid=gina,ou=Finance," DMG_SUFFIX
#define SALES      "ou=Sales," DMG_SUFFIX
#define LAYOFFS    "cn=layoffs," GROUPS
#define PLANTED    "cn=hr-planted," GROUPS
#define VISIBLE    "cn=hr-v," GROUPS
#define HIDDEN     "cn=hr-h," GROUPS

#define N_ROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))

static dmg_server *srv;

typedef struct who {
    const char *label;
    const char *dn; /* NULL: anonymous */
} who;

static const who curious[] = {
    { "anonymous", NULL },
    { "employee", ERIN },
};

/* ---- fixtures ----------------------------------------------------------------------------- */

static const char *const hr_entries[] = {
    "dn: " HR "\nobjectClass: organizationalUnit\nou: HR\n",
    "dn: " HILDA "\nobjectClass: inetOrgPerson\nuid: hilda\ncn: Hilda Hale\nsn: Hale\n"
    "mail: hilda@example.com\nuserPassword: " DMG_PASSWORD "\n",
    "dn: " HRGROUP "\nobjectClass: groupOfNames\ncn: hr-staff\nmember: " HILDA "\n",
    "dn: " LAYOFFS "\nobjectClass: dynamicMailGroup\ncn: layoffs\nmail: layoffs@example.com\n"
    "dmgDepartment: ou=Engineering," DMG_SUFFIX "\ndmgCondition: (|(uid=bob)(uid=carol))\n"
    "dmgSendPolicy: members\n",
};

/* The visible group first, then the hidden one: back-mdb returns them in that order, so a
 * size limit of 1 is reached by the visible group and the hidden one would come next. */
static const char *const visible_then_hidden[] = {
    "dn: " VISIBLE "\nobjectClass: dynamicMailGroup\ncn: hr-v\nmail: hr-v@example.com\n"
    "dmgDepartment: ou=Engineering," DMG_SUFFIX "\n",
    "dn: " HIDDEN "\nobjectClass: dynamicMailGroup\ncn: hr-h\nmail: hr-h@example.com\n"
    "dmgDepartment: ou=Sales," DMG_SUFFIX "\ndmgCondition: (l=Berlin)\n"
    "dmgShowInContacts: FALSE\ndmgApplicant: " HEIDI "\ndmgAdministrator: " CAROL "\n"
    "dmgAuditor: " DAVE "\n",
};

static void ensure_acls(const dmg_server *s);

static void ensure_fixtures(const dmg_server *s)
{
    ensure_acls(s);
    dmg_ensure_entries(s, hr_entries, 3);
    dmg_ensure_entries_ext(s, &hr_entries[3], 1, DMG_CTRLS(dmg_ctrl_relax()));
    dmg_ensure_entries_ext(s, visible_then_hidden, 2, DMG_CTRLS(dmg_ctrl_relax()));
}

/* ---- helpers -------------------------------------------------------------------------------- */

/* A search with a client size limit; the DNs returned, sorted, "\n"-joined, in *dns. */
static int search_limited(LDAP *ld, const char *filter, int sizelimit, LDAPControl **ctrls,
                          char **dns)
{
    const char *attrs[] = { "cn", NULL };
    dmg_entries *e = NULL;
    ck_assert_int_eq(ldap_set_option(ld, LDAP_OPT_SIZELIMIT, &sizelimit), LDAP_OPT_SUCCESS);
    dmg_result r = dmg_search(ld, GROUPS, LDAP_SCOPE_SUBTREE, filter, attrs, ctrls, &e);
    size_t len = 1;
    for (size_t i = 0; e != NULL && i < e->count; i++)
        len += strlen(e->entries[i].dn) + 1;
    char *joined = calloc(1, len);
    for (size_t i = 0; e != NULL && i < e->count; i++) {
        if (i > 0)
            strcat(joined, "\n");
        strcat(joined, e->entries[i].dn);
    }
    *dns = dmg_sorted_lines(joined);
    free(joined);
    dmg_entries_free(e);
    int zero = 0;
    ldap_set_option(ld, LDAP_OPT_SIZELIMIT, &zero);
    return r.rc;
}

typedef struct paged {
    int rc;
    int entries;
    int pages;
} paged;

/* Called with each page's entries (search_paged_visit) */
typedef void page_visitor(LDAP *ld, LDAPMessage *page, void *arg);

/* A paged search (RFC 2696) with page size 1 to the end: entries and pages seen; visit (NULL:
 * none) is given each page. */
static paged search_paged_visit(LDAP *ld, const char *base, const char *filter, char **attrs,
                                page_visitor *visit, void *arg)
{
    paged p = { LDAP_SUCCESS, 0, 0 };
    struct berval cookie = { 0, NULL };
    do {
        LDAPControl *page = NULL, **rctrls = NULL;
        LDAPMessage *res = NULL;
        ck_assert_int_eq(ldap_create_page_control(ld, 1, &cookie, 1, &page), LDAP_SUCCESS);
        LDAPControl *sctrls[] = { page, NULL };
        int rc = ldap_search_ext_s(ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, sctrls,
                                   NULL, NULL, 0, &res);
        ldap_control_free(page);
        ber_memfree(cookie.bv_val);
        cookie.bv_val = NULL;
        cookie.bv_len = 0;
        if (res == NULL) {
            p.rc = rc;
            break;
        }
        p.pages++;
        p.entries += ldap_count_entries(ld, res);
        if (visit != NULL)
            visit(ld, res, arg);
        int err = LDAP_OTHER;
        LDAPMessage *m = ldap_first_message(ld, res);
        while (m != NULL && ldap_msgtype(m) != LDAP_RES_SEARCH_RESULT)
            m = ldap_next_message(ld, m);
        ck_assert_ptr_nonnull(m);
        ck_assert_int_eq(ldap_parse_result(ld, m, &err, NULL, NULL, NULL, &rctrls, 0),
                         LDAP_SUCCESS);
        p.rc = err;
        LDAPControl *resp = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);
        if (resp != NULL) {
            ber_int_t estimate = 0;
            ck_assert_int_eq(ldap_parse_pageresponse_control(ld, resp, &estimate, &cookie),
                             LDAP_SUCCESS);
        }
        ldap_controls_free(rctrls);
        ldap_msgfree(res);
    } while (p.rc == LDAP_SUCCESS && cookie.bv_len > 0 && p.pages < 10);
    ber_memfree(cookie.bv_val);
    return p;
}

/* The groups' cn, page by page */
static paged search_paged(LDAP *ld, const char *filter)
{
    char *attrs[] = { "cn", NULL };
    return search_paged_visit(ld, GROUPS, filter, attrs, NULL, NULL);
}

/* The values of attr of the entries found, sorted and joined (the search must succeed). */
static char *values_as(const char *dn, const char *base, int scope, const char *filter,
                       const char *attr)
{
    LDAP *ld = dmg_connect_as(srv, dn);
    char *v = dmg_values_joined(ld, base, scope, filter, attr);
    dmg_disconnect(ld);
    return v;
}

static char *dns_as(const char *dn, const char *base, int scope, const char *filter)
{
    LDAP *ld = dmg_connect_as(srv, dn);
    char *v = dmg_dns_joined(ld, base, scope, filter);
    dmg_disconnect(ld);
    return v;
}

#define ASSERT_DNS_AS(dn, base, scope, filter, expected) \
    do { char *got_ = dns_as((dn), (base), (scope), (filter)); \
         char *exp_ = dmg_sorted_lines(expected); \
         dmg_assert_str_impl(__FILE__, __LINE__, filter, got_, exp_); \
         free(got_); free(exp_); } while (0)

/* ============================================================================================
 * 1. Hidden groups are hidden from size limits, pages and sorted views
 * ========================================================================================== */

/* -z 1: a filter that also matches the hidden group gets exactly the answer of one that
 * matches nothing more (the visible group, success), for anonymous and an employee. */
START_TEST(sizelimit_same_with_hidden_match)
{
    const who *w = &curious[_i];
    ensure_fixtures(srv);
    LDAP *ld = dmg_connect_as(srv, w->dn);
    char *with = NULL, *without = NULL;
    int rc_with = search_limited(ld, "(|(cn=hr-v)(mail=hr-h@example.com))", 1, NULL, &with);
    int rc_without = search_limited(ld, "(|(cn=hr-v)(mail=hr-none@example.com))", 1, NULL,
                                    &without);
    ck_assert_msg(rc_with == LDAP_SUCCESS && rc_without == LDAP_SUCCESS,
                  "%s: -z 1 with a hidden match %s (%d), without %s (%d)", w->label,
                  ldap_err2string(rc_with), rc_with, ldap_err2string(rc_without), rc_without);
    DMG_ASSERT_STR(with, VISIBLE);
    DMG_ASSERT_STR(without, VISIBLE);
    /* a condition guessed against the hidden group changes nothing either */
    free(with);
    int rc_cond = search_limited(ld, "(|(cn=hr-v)(&(cn=hr-h)(dmgCondition=\\28l=Berlin\\29)))", 1,
                                 NULL, &with);
    DMG_ASSERT_RC(((dmg_result){ .rc = rc_cond }), LDAP_SUCCESS);
    DMG_ASSERT_STR(with, VISIBLE);
    /* ManageDsaIT returns entries as stored; hidden groups stay out of its counts too */
    free(with);
    int rc_dsait = search_limited(ld, "(|(cn=hr-v)(mail=hr-h@example.com))", 1,
                                  DMG_CTRLS(dmg_ctrl_manage_dsait()), &with);
    DMG_ASSERT_RC(((dmg_result){ .rc = rc_dsait }), LDAP_SUCCESS);
    DMG_ASSERT_STR(with, VISIBLE);
    free(with);
    free(without);
    dmg_disconnect(ld);
}
END_TEST

/* -z 1 counts the entries that match, not those a filter on a computed attribute had the
 * backend consider: alice matches, bob is considered for (dmgMemberOf=layoffs) and dropped. */
START_TEST(sizelimit_counts_matches_only)
{
    const who *w = &curious[_i];
    ensure_fixtures(srv);
    LDAP *ld = dmg_connect_as(srv, w->dn);
    const char *attrs[] = { "cn", NULL };
    int one = 1;
    ck_assert_int_eq(ldap_set_option(ld, LDAP_OPT_SIZELIMIT, &one), LDAP_OPT_SUCCESS);
    dmg_entries *e = NULL;
    dmg_result r = dmg_search(ld, "ou=Engineering," DMG_SUFFIX, LDAP_SCOPE_SUBTREE,
                              "(|(uid=alice)(dmgMemberOf=" LAYOFFS "))", attrs, NULL, &e);
    ck_assert_msg(r.rc == LDAP_SUCCESS && e->count == 1
                      && dmg_entries_find(e, "uid=alice,ou=Engineering," DMG_SUFFIX) != NULL,
                  "%s: %s (%d), %zu entries", w->label, ldap_err2string(r.rc), r.rc, e->count);
    dmg_entries_free(e);
    /* two entries that match are one too many */
    r = dmg_search(ld, "ou=Engineering," DMG_SUFFIX, LDAP_SCOPE_SUBTREE,
                   "(|(uid=alice)(uid=bob)(dmgMemberOf=" LAYOFFS "))", attrs, NULL, NULL);
    DMG_ASSERT_RC(r, LDAP_SIZELIMIT_EXCEEDED);
    dmg_disconnect(ld);
}
END_TEST

/* Paged results with a page size of 1: one page, one entry, no cookie, whether or not the
 * hidden group matches. */
START_TEST(paged_same_with_hidden_match)
{
    const who *w = &curious[_i];
    ensure_fixtures(srv);
    LDAP *ld = dmg_connect_as(srv, w->dn);
    paged with = search_paged(ld, "(|(cn=hr-v)(mail=hr-h@example.com))");
    paged without = search_paged(ld, "(|(cn=hr-v)(mail=hr-none@example.com))");
    dmg_disconnect(ld);
    ck_assert_msg(with.rc == LDAP_SUCCESS && with.entries == 1 && with.pages == 1,
                  "%s with a hidden match: rc %d, %d entries in %d pages", w->label, with.rc,
                  with.entries, with.pages);
    ck_assert_msg(without.rc == LDAP_SUCCESS && without.entries == 1 && without.pages == 1,
                  "%s without: rc %d, %d entries in %d pages", w->label, without.rc,
                  without.entries, without.pages);
}
END_TEST

static const who hidden_roles[] = {
    { "applicant", HEIDI },
    { "administrator", CAROL },
    { "auditor", DAVE },
    { "postmaster", POSTMASTER },
    { "mta", MTA },
};

/* The hidden group's own applicant, administrator and auditor (and the postmaster and the
 * privileged MTA) still find it, and it counts for them. */
START_TEST(hidden_found_by_its_roles)
{
    const who *w = &hidden_roles[_i];
    ensure_fixtures(srv);
    LDAP *ld = dmg_connect_as(srv, w->dn);
    char *dns = NULL;
    int rc = search_limited(ld, "(|(cn=hr-v)(mail=hr-h@example.com))", 0, NULL, &dns);
    ck_assert_msg(rc == LDAP_SUCCESS, "%s: %s (%d)", w->label, ldap_err2string(rc), rc);
    char *exp = dmg_sorted_lines(VISIBLE "\n" HIDDEN);
    DMG_ASSERT_STR(dns, exp);
    free(dns);
    rc = search_limited(ld, "(|(cn=hr-v)(mail=hr-h@example.com))", 1, NULL, &dns);
    ck_assert_msg(rc == LDAP_SIZELIMIT_EXCEEDED, "%s with -z 1: %s (%d)", w->label,
                  ldap_err2string(rc), rc);
    free(dns);
    paged p = search_paged(ld, "(|(cn=hr-v)(mail=hr-h@example.com))");
    ck_assert_msg(p.rc == LDAP_SUCCESS && p.entries == 2, "%s paged: rc %d, %d entries",
                  w->label, p.rc, p.entries);
    free(exp);
    dmg_disconnect(ld);
}
END_TEST

/* sssvlv below dynmailgroup would count what dynmailgroup drops: slapd does not start. */
START_TEST(sssvlv_below_refused)
{
    dmg_server_opts o = { .modules = "sssvlv", .overlays_before = "overlay sssvlv\n" };
    dmg_server *s = NULL;
    char *log = dmg_server_start_captured(&s, &o);
    if (s != NULL) {
        dmg_server_stop(s);
        ck_abort_msg("slapd started with sssvlv configured before dynmailgroup");
    }
    ck_assert_msg(dmg_contains_ci(log, "configure sssvlv after dynmailgroup"),
                  "no clear message in slapd's output");
    free(log);
}
END_TEST

typedef struct vlv {
    int rc;
    int entries;
    ber_int_t count; /* the VLV response's contentCount */
} vlv;

/* Sorted by createTimestamp (cn has no ordering rule), a virtual list view of the first 10
 * entries. */
static vlv search_vlv(LDAP *ld, const char *filter)
{
    vlv v = { LDAP_OTHER, 0, -1 };
    LDAPSortKey **keys = NULL;
    LDAPControl *sort = NULL, *view = NULL, **rctrls = NULL;
    LDAPMessage *res = NULL;
    char *attrs[] = { "cn", NULL };
    LDAPVLVInfo info = { .ldvlv_version = 1, .ldvlv_before_count = 0,
                         .ldvlv_after_count = 9, .ldvlv_offset = 1, .ldvlv_count = 0 };
    ck_assert_int_eq(ldap_create_sort_keylist(&keys, "createTimestamp"), LDAP_SUCCESS);
    ck_assert_int_eq(ldap_create_sort_control(ld, keys, 1, &sort), LDAP_SUCCESS);
    ck_assert_int_eq(ldap_create_vlv_control(ld, &info, &view), LDAP_SUCCESS);
    LDAPControl *sctrls[] = { sort, view, NULL };
    ldap_search_ext_s(ld, GROUPS, LDAP_SCOPE_SUBTREE, filter, attrs, 0, sctrls, NULL, NULL,
                      0, &res);
    ck_assert_ptr_nonnull(res);
    v.entries = ldap_count_entries(ld, res);
    LDAPMessage *m = ldap_first_message(ld, res);
    while (m != NULL && ldap_msgtype(m) != LDAP_RES_SEARCH_RESULT)
        m = ldap_next_message(ld, m);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(ldap_parse_result(ld, m, &v.rc, NULL, NULL, NULL, &rctrls, 0),
                     LDAP_SUCCESS);
    LDAPControl *resp = ldap_control_find(LDAP_CONTROL_VLVRESPONSE, rctrls, NULL);
    if (resp != NULL) {
        ber_int_t target = 0;
        int err = 0;
        ck_assert_int_eq(ldap_parse_vlvresponse_control(ld, resp, &target, &v.count, NULL,
                                                        &err), LDAP_SUCCESS);
    }
    ldap_controls_free(rctrls);
    ldap_msgfree(res);
    ldap_control_free(sort);
    ldap_control_free(view);
    ldap_free_sort_keylist(keys);
    return v;
}

/* sssvlv after (above) dynmailgroup sees only what dynmailgroup returns: its count and list
 * are the same whether or not the hidden group matches. */
START_TEST(sssvlv_above_counts_visible_only)
{
    dmg_server_opts o = {
        .modules = "sssvlv",
        .overlay_config = "dynmailgroup-privileged " MTA "\noverlay sssvlv\n",
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start with sssvlv above dynmailgroup");
    dmg_ensure_entries_ext(s, visible_then_hidden, 2, DMG_CTRLS(dmg_ctrl_relax()));
    for (int i = 0; i < N_ROWS(curious); i++) {
        LDAP *ld = dmg_connect_as(s, curious[i].dn);
        vlv with = search_vlv(ld, "(|(cn=hr-v)(mail=hr-h@example.com))");
        vlv without = search_vlv(ld, "(|(cn=hr-v)(mail=hr-none@example.com))");
        dmg_disconnect(ld);
        ck_assert_msg(with.rc == LDAP_SUCCESS && with.entries == 1 && with.count == 1,
                      "%s with a hidden match: rc %d, %d entries, count %d", curious[i].label,
                      with.rc, with.entries, (int)with.count);
        ck_assert_msg(without.rc == LDAP_SUCCESS && without.entries == 1
                          && without.count == 1,
                      "%s without: rc %d, %d entries, count %d", curious[i].label,
                      without.rc, without.entries, (int)without.count);
    }
    LDAP *mta = dmg_connect_as(s, MTA);
    vlv seen = search_vlv(mta, "(|(cn=hr-v)(mail=hr-h@example.com))");
    dmg_disconnect(mta);
    ck_assert_msg(seen.rc == LDAP_SUCCESS && seen.entries == 2 && seen.count == 2,
                  "mta: rc %d, %d entries, count %d", seen.rc, seen.entries, (int)seen.count);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* cn=config may insert sssvlv below dynmailgroup at run time: sorted searches are then
 * refused with the same advice, and the others still work. */
START_TEST(sssvlv_inserted_below_at_run_time)
{
    dmg_server_opts o = { .modules = "sssvlv" };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start");
    LDAP *cfg = dmg_connect_ldapi_external(s);
    DMG_ASSERT_RC(dmg_add_ldif(cfg, "dn: olcOverlay={0}sssvlv,olcDatabase={1}mdb,cn=config\n"
                                    "objectClass: olcOverlayConfig\n"
                                    "objectClass: olcSssVlvConfig\n"
                                    "olcOverlay: {0}sssvlv\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_DNS(cfg, "olcDatabase={1}mdb,cn=config", LDAP_SCOPE_ONELEVEL,
                   "(objectClass=olcOverlayConfig)",
                   "olcOverlay={0}sssvlv,olcDatabase={1}mdb,cn=config\n"
                   "olcOverlay={1}dynmailgroup,olcDatabase={1}mdb,cn=config");
    dmg_disconnect(cfg);
    dmg_ensure_entries_ext(s, visible_then_hidden, 2, DMG_CTRLS(dmg_ctrl_relax()));
    LDAP *ld = dmg_connect_as(s, NULL);
    vlv v = search_vlv(ld, "(|(cn=hr-v)(mail=hr-h@example.com))");
    ck_assert_msg(v.rc == LDAP_UNWILLING_TO_PERFORM && v.entries == 0,
                  "sorted search with sssvlv below: rc %d, %d entries", v.rc, v.entries);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(|(cn=hr-v)(mail=hr-h@example.com))",
                   VISIBLE);
    dmg_disconnect(ld);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* ============================================================================================
 * 2. Filters cost at most linearly: each group expanded once per search
 * ========================================================================================== */

/* Enough groups that expanding each once per leaf (the pre-fix behaviour: 2,000 expansions of
 * each group, about a minute here) cannot finish within the test case's timeout, while
 * expanding each once takes well under a second. */
#define BIG_GROUPS 100
#define LEAVES 2000
#define COST_TIMEOUT_S 15

static void ensure_big_groups(void)
{
    static char ldif[BIG_GROUPS][512];
    const char *ldifs[BIG_GROUPS];
    for (int i = 0; i < BIG_GROUPS; i++) {
        snprintf(ldif[i], sizeof ldif[i],
                 "dn: cn=hr-big-%d," GROUPS "\nobjectClass: dynamicMailGroup\ncn: hr-big-%d\n"
                 "mail: hr-big-%d@example.com\n"
                 "dmgDepartment: ou=Engineering," DMG_SUFFIX "\n"
                 "dmgDepartment: ou=Sales," DMG_SUFFIX "\n"
                 "dmgDepartment: ou=Finance," DMG_SUFFIX "\n"
                 "dmgDepartment: ou=Support," DMG_SUFFIX "\n", i, i, i);
        ldifs[i] = ldif[i];
    }
    dmg_ensure_entries(srv, ldifs, BIG_GROUPS);
}

/* (&(cn=hr-big-*)(|(dmgMemberCount>=CMP)...(dmgMemberCount>=LAST))(&(dmgSender=x)...)) */
static char *big_filter(const char *cmp, const char *last)
{
    size_t cap = (size_t)LEAVES * 64 + 256;
    char *f = malloc(cap), *p = f;
    p += sprintf(p, "(&(cn=hr-big-*)(|");
    for (int i = 0; i < LEAVES - 1; i++)
        p += sprintf(p, "(dmgMemberCount>=%s)", cmp);
    p += sprintf(p, "(dmgMemberCount>=%s))(&", last);
    for (int i = 0; i < LEAVES; i++)
        p += sprintf(p, "(dmgSender=s%d@example.com)", i);
    sprintf(p, "))");
    return f;
}

/* Every OR'd count leaf but the last is false, so each is evaluated: the groups' members are
 * computed once per group, not once per leaf, and the answer is exact. */
START_TEST(many_computed_leaves_exact)
{
    ensure_fixtures(srv);
    ensure_big_groups();
    static char expected[BIG_GROUPS * 64];
    for (int i = 0; i < BIG_GROUPS; i++)
        sprintf(expected + strlen(expected), "%scn=hr-big-%d," GROUPS, i ? "\n" : "", i);
    char *exp = dmg_sorted_lines(expected);
    char *f = big_filter("100000", "0");
    ASSERT_DNS_AS(ERIN, GROUPS, LDAP_SCOPE_SUBTREE, f, exp);
    free(f);
    /* exactly at the groups' member count, and one above it */
    char *count = values_as(ERIN, "cn=hr-big-0," GROUPS, LDAP_SCOPE_BASE, "(objectClass=*)",
                            "dmgMemberCount");
    char above[32];
    ck_assert_int_gt(atoi(count), 40);
    snprintf(above, sizeof above, "%d", atoi(count) + 1);
    f = big_filter("100000", count);
    ASSERT_DNS_AS(ERIN, GROUPS, LDAP_SCOPE_SUBTREE, f, exp);
    free(f);
    f = big_filter("100000", above);
    ASSERT_DNS_AS(ERIN, GROUPS, LDAP_SCOPE_SUBTREE, f, "");
    free(f);
    free(count);
    free(exp);
}
END_TEST

/* ============================================================================================
 * 3. Filters on computed attributes need the access a stored attribute needs
 * ========================================================================================== */

static const struct {
    const char *base;
    const char *filter;
    const char *hr_sees; /* what HR staff get; the others get nothing */
} acl_filters[] = {
    { GROUPS, "(&(cn=layoffs)(member=" BOB "))", LAYOFFS },
    { GROUPS, "(&(cn=layoffs)(dmgMemberMail=bob@example.com))", LAYOFFS },
    { GROUPS, "(&(cn=layoffs)(dmgMemberCount>=1))", LAYOFFS },
    { GROUPS, "(&(cn=layoffs)(dmgMemberMail=bob*))", LAYOFFS },
    { GROUPS, "(&(cn=layoffs)(!(member=" ERIN ")))", LAYOFFS },
    { GROUPS, "(&(cn=layoffs)(!(dmgMemberCount>=100)))", LAYOFFS },
    { "ou=Engineering," DMG_SUFFIX, "(dmgMemberOf=" LAYOFFS ")", BOB "\n" CAROL },
    { "ou=Engineering," DMG_SUFFIX, "(&(uid=erin)(!(dmgMemberOf=" LAYOFFS ")))", ERIN },
};

START_TEST(computed_filters_need_search_access)
{
    ensure_fixtures(srv);
    char *exp = dmg_sorted_lines(acl_filters[_i].hr_sees);
    ASSERT_DNS_AS(HILDA, acl_filters[_i].base, LDAP_SCOPE_SUBTREE, acl_filters[_i].filter, exp);
    free(exp);
    for (int i = 0; i < N_ROWS(curious); i++)
        ASSERT_DNS_AS(curious[i].dn, acl_filters[_i].base, LDAP_SCOPE_SUBTREE,
                      acl_filters[_i].filter, "");
}
END_TEST

/* A members-policy decision asked by someone who may not search the group's members: the
 * same reject for a member and for a non-member, saying membership could not be checked. */
START_TEST(decision_does_not_reveal_membership)
{
    static const char *const senders[] = { "bob@example.com", "erin@example.com" };
    ensure_fixtures(srv);
    for (int s = 0; s < 2; s++) {
        char filter[256], reason[256];
        snprintf(filter, sizeof filter, "(&(mail=layoffs@example.com)(dmgSender=%s))",
                 senders[s]);
        snprintf(reason, sizeof reason, "could not determine whether sender %s is a member of "
                 "layoffs@example.com (policy: members)", senders[s]);
        for (int i = 0; i < N_ROWS(curious); i++) {
            char *d = values_as(curious[i].dn, GROUPS, LDAP_SCOPE_SUBTREE, filter,
                                "dmgDecision");
            char *r = values_as(curious[i].dn, GROUPS, LDAP_SCOPE_SUBTREE, filter,
                                "dmgDecisionReason");
            DMG_ASSERT_STR(d, "reject");
            DMG_ASSERT_STR(r, reason);
            free(d);
            free(r);
        }
    }
    char *d = values_as(HILDA, GROUPS, LDAP_SCOPE_SUBTREE,
                        "(&(mail=layoffs@example.com)(dmgSender=bob@example.com))",
                        "dmgDecision");
    DMG_ASSERT_STR(d, "accept");
    free(d);
    d = values_as(HILDA, GROUPS, LDAP_SCOPE_SUBTREE,
                  "(&(mail=layoffs@example.com)(dmgSender=erin@example.com))", "dmgDecision");
    DMG_ASSERT_STR(d, "reject");
    free(d);
}
END_TEST

/* ============================================================================================
 * 4. Compare on an entry the requester cannot see: noSuchObject, existing or not
 * ========================================================================================== */

START_TEST(compare_invisible_entry_identical)
{
    const who *w = &curious[_i];
    ensure_fixtures(srv);
    LDAP *ld = dmg_connect_as(srv, w->dn);
    static const char *const attrs[][2] = {
        { "dmgMemberOf", LAYOFFS },
        { "dmgMemberOf", "cn=hr-v," GROUPS },
        { "cn", "Hilda Hale" },
    };
    for (int i = 0; i < 3; i++) {
        dmg_result there = dmg_compare(ld, HILDA, attrs[i][0], attrs[i][1]);
        dmg_result absent = dmg_compare(ld, NOBODY_HR, attrs[i][0], attrs[i][1]);
        ck_assert_msg(there.rc == LDAP_NO_SUCH_OBJECT && absent.rc == LDAP_NO_SUCH_OBJECT,
                      "%s compare %s: existing entry %s (%d), absent entry %s (%d)", w->label,
                      attrs[i][0], ldap_err2string(there.rc), there.rc,
                      ldap_err2string(absent.rc), absent.rc);
        ck_assert_msg(strcmp(there.diag, absent.diag) == 0 && strcmp(there.matched, absent.matched) == 0,
                      "%s compare %s: \"%s\"/\"%s\" vs \"%s\"/\"%s\"", w->label, attrs[i][0],
                      there.diag, there.matched, absent.diag, absent.matched);
    }
    /* a group's computed attribute the requester may not compare is insufficientAccess, as
     * for a stored one: the group itself is visible */
    DMG_ASSERT_RC(dmg_compare(ld, LAYOFFS, "member", BOB), LDAP_INSUFFICIENT_ACCESS);
    DMG_ASSERT_RC(dmg_compare(ld, LAYOFFS, "member", ERIN), LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ld);
    ld = dmg_connect_as(srv, HILDA);
    DMG_ASSERT_RC(dmg_compare(ld, HILDA, "dmgMemberOf", LAYOFFS), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(ld, LAYOFFS, "member", BOB), LDAP_COMPARE_TRUE);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * 5. No bypass through stored values, ManageDsaIT or the assertion control
 * ========================================================================================== */

/* hr-planted was loaded with a stored member value (uma); its computed members are Finance's.
 * The ACL clause on it gives uma nothing, with or without ManageDsaIT. */
START_TEST(acl_clause_ignores_stored_members)
{
    ensure_fixtures(srv);
    LDAP *ld = dmg_connect_as(srv, UMA);
    DMG_ASSERT_RC(dmg_modify(ld, SALES, "replace: description\ndescription: by uma\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    DMG_ASSERT_RC(dmg_modify_ext(ld, SALES, "replace: description\ndescription: by uma\n",
                                 DMG_CTRLS(dmg_ctrl_manage_dsait())),
                  LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ld);
    ld = dmg_connect_as(srv, GINA);
    DMG_ASSERT_RC(dmg_modify_ext(ld, SALES, "replace: description\ndescription: by gina\n",
                                 DMG_CTRLS(dmg_ctrl_manage_dsait())),
                  LDAP_SUCCESS);
    dmg_disconnect(ld);
    char *v = values_as(DMG_ROOTDN, SALES, LDAP_SCOPE_BASE, "(objectClass=*)", "description");
    DMG_ASSERT_STR(v, "by gina");
    free(v);
}
END_TEST

/* The stored member value is never returned or matched: the computed ones replace it. */
START_TEST(stored_member_never_returned)
{
    static const char *const readers[] = { NULL, ERIN, MTA, DMG_ROOTDN };
    const char *finance = "uid=gina,ou=Finance," DMG_SUFFIX "\nuid=hans,ou=Finance," DMG_SUFFIX
                          "\nuid=iris,ou=Finance," DMG_SUFFIX "\nuid=jack,ou=Finance," DMG_SUFFIX
                          "\nuid=kate,ou=Finance," DMG_SUFFIX "\nuid=liam,ou=Finance," DMG_SUFFIX;
    char *exp = dmg_sorted_lines(finance);
    ensure_fixtures(srv);
    for (int i = 0; i < N_ROWS(readers); i++) {
        char *v = values_as(readers[i], PLANTED, LDAP_SCOPE_BASE, "(objectClass=*)", "member");
        DMG_ASSERT_STR(v, exp);
        free(v);
        v = dns_as(readers[i], GROUPS, LDAP_SCOPE_SUBTREE, "(member=" UMA ")");
        ck_assert_msg(strstr(v, "hr-planted") == NULL, "(member=uma) finds hr-planted: %s", v);
        free(v);
    }
    free(exp);
}
END_TEST

static LDAPControl *assertion(LDAP *ld, const char *filter)
{
    LDAPControl *c = NULL;
    ck_assert_int_eq(ldap_create_assertion_control(ld, (char *)filter, 1, &c), LDAP_SUCCESS);
    return c;
}

/* The assertion control on a computed attribute is refused clearly (the backend could only
 * test the entry as stored); on stored attributes, and on member of a static group, it works. */
START_TEST(assertion_on_computed_refused)
{
    ensure_fixtures(srv);
    const char *attrs[] = { "cn", NULL };
    LDAP *ld = dmg_connect_as(srv, POSTMASTER);
    LDAPControl *a = assertion(ld, "(member=" ERIN ")");
    dmg_result r = dmg_search(ld, VISIBLE, LDAP_SCOPE_BASE, NULL, attrs, DMG_CTRLS(a), NULL);
    DMG_ASSERT_RC(r, LDAP_UNWILLING_TO_PERFORM);
    ck_assert_msg(dmg_contains_ci(r.diag, "assertion"), "diagnostic \"%s\"", r.diag);
    DMG_ASSERT_RC(dmg_compare_ext(ld, VISIBLE, "cn", "hr-v", DMG_CTRLS(a)),
                  LDAP_UNWILLING_TO_PERFORM);
    DMG_ASSERT_RC(dmg_modify_ext(ld, VISIBLE, "replace: description\ndescription: x\n",
                                 DMG_CTRLS(a)), LDAP_UNWILLING_TO_PERFORM);
    ldap_control_free(a);
    a = assertion(ld, "(dmgMemberCount>=1)");
    DMG_ASSERT_RC(dmg_modify_ext(ld, VISIBLE, "replace: description\ndescription: x\n",
                                 DMG_CTRLS(a)), LDAP_UNWILLING_TO_PERFORM);
    ldap_control_free(a);
    a = assertion(ld, "(dmgMemberOf=" VISIBLE ")");
    DMG_ASSERT_RC(dmg_search(ld, ERIN, LDAP_SCOPE_BASE, NULL, attrs, DMG_CTRLS(a), NULL),
                  LDAP_UNWILLING_TO_PERFORM);
    ldap_control_free(a);
    char *v = values_as(DMG_ROOTDN, VISIBLE, LDAP_SCOPE_BASE, "(objectClass=*)", "description");
    DMG_ASSERT_STR(v, "");
    free(v);
    /* stored attributes: as slapd does */
    a = assertion(ld, "(cn=hr-v)");
    DMG_ASSERT_RC(dmg_search(ld, VISIBLE, LDAP_SCOPE_BASE, NULL, attrs, DMG_CTRLS(a), NULL),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_compare_ext(ld, VISIBLE, "member", ERIN, DMG_CTRLS(a)), LDAP_COMPARE_TRUE);
    ldap_control_free(a);
    a = assertion(ld, "(cn=other)");
    DMG_ASSERT_RC(dmg_search(ld, VISIBLE, LDAP_SCOPE_BASE, NULL, attrs, DMG_CTRLS(a), NULL),
                  LDAP_ASSERTION_FAILED);
    DMG_ASSERT_RC(dmg_compare_ext(ld, VISIBLE, "member", ERIN, DMG_CTRLS(a)),
                  LDAP_ASSERTION_FAILED);
    ldap_control_free(a);
    a = assertion(ld, "(member=uid=pm2,ou=System," DMG_SUFFIX ")");
    DMG_ASSERT_RC(dmg_search(ld, "cn=postmasters,ou=System," DMG_SUFFIX, LDAP_SCOPE_BASE, NULL,
                             attrs, DMG_CTRLS(a), NULL), LDAP_SUCCESS);
    ldap_control_free(a);
    dmg_disconnect(ld);
    /* on a hidden group, for someone who may not see it: noSuchObject, as without it */
    ld = dmg_connect_as(srv, ERIN);
    a = assertion(ld, "(member=" ERIN ")");
    DMG_ASSERT_RC(dmg_search(ld, HIDDEN, LDAP_SCOPE_BASE, NULL, attrs, DMG_CTRLS(a), NULL),
                  LDAP_NO_SUCH_OBJECT);
    ldap_control_free(a);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * main
 * ========================================================================================== */

/* The ACLs; those that name computed attributes cannot be in slapadd's configuration (it runs
 * without the module), so the server starts with the others and the full set is put in place
 * over cn=config before the first test (ensure_acls). */
#define ACL_PASSWORD "to attrs=userPassword by self write by anonymous auth by * none"
#define ACL_HR "to dn.subtree=\"" HR "\" by group/groupOfNames/member=\"" HRGROUP "\" read" \
    " by * none"
#define ACL_LAYOFFS "to dn.base=\"" LAYOFFS "\" attrs=member,dmgMemberMail,dmgMemberCount" \
    " by group/groupOfNames/member=\"" HRGROUP "\" read" \
    " by dn.exact=\"" POSTMASTER "\" read by dn.exact=\"" MTA "\" read by * none"
#define ACL_LAYOFFS_MEMBER_OF "to attrs=dmgMemberOf val.exact=\"" LAYOFFS "\"" \
    " by group/groupOfNames/member=\"" HRGROUP "\" read" \
    " by dn.exact=\"" POSTMASTER "\" read by dn.exact=\"" MTA "\" read by * none"
#define ACL_SALES "to dn.base=\"" SALES "\" attrs=description" \
    " by group/dynamicMailGroup/member=\"" PLANTED "\" write by * read"
#define ACL_SELF "to attrs=title,l,description by self write by * read"
#define ACL_READ "to * by * read"

#define ACLS_WITHOUT_COMPUTED \
    "access " ACL_PASSWORD "\naccess " ACL_HR "\naccess " ACL_SALES "\naccess " ACL_SELF \
    "\naccess " ACL_READ "\n"

#define ACLS_OLC \
    "replace: olcAccess\nolcAccess: " ACL_PASSWORD "\nolcAccess: " ACL_HR \
    "\nolcAccess: " ACL_LAYOFFS "\nolcAccess: " ACL_LAYOFFS_MEMBER_OF "\nolcAccess: " ACL_SALES \
    "\nolcAccess: " ACL_SELF "\nolcAccess: " ACL_READ "\n"

#define OVERLAY_CONFIG \
    "dynmailgroup-postmaster " POSTMASTER "\n" \
    "dynmailgroup-privileged " MTA "\n"

/* org.ldif and extra, written to a temporary file for slapadd. */
static const char *fixture_with(char *path, size_t n, const char *extra)
{
    const char *src = getenv("DMG_SRCDIR");
    char org[4096];
    snprintf(org, sizeof org, "%s/tests/fixtures/org.ldif", src != NULL && *src ? src : ".");
    FILE *in = fopen(org, "r");
    if (in == NULL)
        return NULL;
    snprintf(path, n, "/tmp/dmg-hostile-fixture-XXXXXX");
    int fd = mkstemp(path);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (out == NULL) {
        fclose(in);
        return NULL;
    }
    char buf[8192];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, got, out);
    fclose(in);
    fputs(extra, out);
    fclose(out);
    return path;
}

/* hr-planted, with a member value stored as slapadd (or a provider without the overlay)
 * would leave it */
#define PLANTED_LDIF \
    "\ndn: " PLANTED "\nobjectClass: dynamicMailGroup\ncn: hr-planted\n" \
    "mail: hr-planted@example.com\ndmgDepartment: ou=Finance," DMG_SUFFIX "\n" \
    "dmgApplicant: " DMG_ROOTDN "\nmember: " UMA "\n"

static void ensure_acls(const dmg_server *s)
{
    LDAP *cfg = dmg_connect_ldapi_external(s);
    DMG_ASSERT_RC(dmg_modify(cfg, "olcDatabase={1}mdb,cn=config", ACLS_OLC), LDAP_SUCCESS);
    dmg_disconnect(cfg);
}

/* ============================================================================================
 * 6. A failed lookup fails the read: never a partial list, nothing cached
 * ========================================================================================== */

/* A department on a database that cannot answer (back-ldap to a closed port; loaded with
 * slapadd, which does not check departments) makes every lookup of the group's members fail. */
#define REMOTE_DEPT "ou=People,dc=remote"
#define REMOTE_GROUP "cn=hr-remote," GROUPS
#define REMOTE_LDIF \
    "\ndn: " REMOTE_GROUP "\nobjectClass: dynamicMailGroup\ncn: hr-remote\n" \
    "mail: hr-remote@example.com\ndmgDepartment: ou=Finance," DMG_SUFFIX "\n" \
    "dmgDepartment: " REMOTE_DEPT "\ndmgApplicant: " DMG_ROOTDN "\n"

START_TEST(failed_lookup_fails_the_read)
{
    char fixture[64];
    ck_assert_ptr_nonnull(fixture_with(fixture, sizeof fixture, REMOTE_LDIF));
    dmg_server_opts o = {
        .modules = "back_ldap",
        .overlay_config = OVERLAY_CONFIG "dynmailgroup-cache-max-values 1000\n"
                          "\ndatabase ldap\nsuffix \"dc=remote\"\n"
                          "uri \"ldap://127.0.0.1:1/\"\n",
        .fixture = fixture,
    };
    dmg_server *s = dmg_server_start(&o);
    unlink(fixture);
    ck_assert_msg(s != NULL, "slapd did not start");
    static const char *const readers[] = { ERIN, MTA, MTA /* again: nothing was cached */ };
    for (int i = 0; i < N_ROWS(readers); i++) {
        LDAP *ld = dmg_connect_as(s, readers[i]);
        static const char *const asked[][2] = {
            { "member", NULL }, { "dmgMemberMail", NULL }, { "dmgMemberCount", NULL },
        };
        for (int a = 0; a < N_ROWS(asked); a++) {
            dmg_entries *e = NULL;
            dmg_result r = dmg_search(ld, REMOTE_GROUP, LDAP_SCOPE_BASE, NULL, asked[a], NULL,
                                      &e);
            ck_assert_msg(r.rc == LDAP_OTHER && e->count == 0,
                          "%s reading %s: %s (%d) \"%s\", %zu entries", readers[i],
                          asked[a][0], ldap_err2string(r.rc), r.rc, r.diag, e->count);
            ck_assert_msg(strstr(r.diag, REMOTE_GROUP) != NULL, "diagnostic \"%s\"", r.diag);
            dmg_entries_free(e);
        }
        /* a filter that needs the members, and a compare */
        dmg_result r = dmg_search(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                                  "(&(cn=hr-remote)(dmgMemberCount>=0))", NULL, NULL, NULL);
        DMG_ASSERT_RC(r, LDAP_OTHER);
        DMG_ASSERT_RC(dmg_compare(ld, REMOTE_GROUP, "dmgMemberCount", "6"), LDAP_OTHER);
        /* the group's other readings, and the other groups, are unaffected */
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(cn=hr-remote)", REMOTE_GROUP);
        dmg_disconnect(ld);
    }
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* ============================================================================================
 * 5. Computed values put on a copy that shares the backend entry's values: attribute lists,
 *    pages, abandoned searches and an overlay above that rewrites what it sends
 * ========================================================================================== */

#define LAYOFFS_MEMBERS "uid=bob,ou=Engineering," DMG_SUFFIX "\nuid=carol,ou=Engineering," \
                        DMG_SUFFIX
#define COMPUTED_OR_SHARED "(|(cn=layoffs)(uid=bob))"

/* The values of attr on dn in e, sorted and "\n"-joined; NULL when the attribute is absent. */
static char *entry_values(const dmg_entries *e, const char *dn, const char *attr)
{
    const dmg_entry *en = dmg_entries_find(e, dn);
    const dmg_attr *a = en != NULL ? dmg_entry_attr(en, attr) : NULL;
    if (a == NULL)
        return NULL;
    size_t len = 1;
    for (size_t i = 0; i < a->nvalues; i++)
        len += strlen(a->values[i]) + 1;
    char *joined = calloc(1, len);
    ck_assert_ptr_nonnull(joined);
    for (size_t i = 0; i < a->nvalues; i++) {
        if (i > 0)
            strcat(joined, "\n");
        strcat(joined, a->values[i]);
    }
    char *sorted = dmg_sorted_lines(joined);
    free(joined);
    return sorted;
}

/* One attribute of dn read alone, as the postmaster: the reference the lists are held to */
static char *alone(LDAP *ld, const char *dn, const char *attr)
{
    const char *attrs[] = { attr, NULL };
    dmg_entries *e = NULL;
    DMG_ASSERT_RC(dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, NULL, &e), LDAP_SUCCESS);
    char *v = entry_values(e, dn, attr);
    dmg_entries_free(e);
    ck_assert_msg(v != NULL, "%s of %s read alone: absent", attr, dn);
    return v;
}

typedef struct attr_list {
    const char *attrs[9];
    int only_1_1;   /* no attribute at all */
    int all_user;   /* "*": member comes without being named */
} attr_list;

static const attr_list attr_lists[] = {
    { { "member", "member", "dmgMemberOf", NULL }, 0, 0 },
    { { "*", "+", NULL }, 0, 1 },
    { { "1.1", "member", "dmgMemberCount", "dmgMemberOf", NULL }, 0, 0 },
    { { "+", "member", "*", "MEMBER", "dmgmembercount", "dmgMemberMail", "dmgMemberOf",
        "dmgMemberOf", NULL }, 0, 1 },
    { { "1.1", NULL }, 1, 0 },
    { { "cn", "+", "1.1", NULL }, 0, 0 },
};

static int named(const attr_list *l, const char *attr)
{
    for (int i = 0; l->attrs[i] != NULL; i++)
        if (strcasecmp(l->attrs[i], attr) == 0)
            return 1;
    return 0;
}

/* Every list of attributes (duplicates, "*", "+", "1.1", case), in one search that returns a
 * group and a member: each computed attribute is either absent (not asked for) or exactly
 * what it is read alone, and an attribute named is never absent.  With ManageDsaIT (entries
 * as stored) none of them is sent, and the stored cn is still whole. */
START_TEST(attribute_lists_give_exact_values)
{
    const attr_list *l = &attr_lists[_i / 2];
    LDAPControl **ctrls = _i % 2 ? DMG_CTRLS(dmg_ctrl_manage_dsait()) : NULL;
    static const struct { const char *dn, *attr; } computed[] = {
        { LAYOFFS, "member" }, { LAYOFFS, "dmgMemberCount" }, { LAYOFFS, "dmgMemberMail" },
        { BOB, "dmgMemberOf" },
    };
    ensure_fixtures(srv);
    LDAP *ld = dmg_connect_as(srv, POSTMASTER);
    char *member = alone(ld, LAYOFFS, "member");
    ck_assert_str_eq(member, LAYOFFS_MEMBERS);
    free(member);
    for (int round = 0; round < 2; round++) { /* the second from the member-list cache */
        dmg_entries *e = NULL;
        DMG_ASSERT_RC(dmg_search(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, COMPUTED_OR_SHARED,
                                 l->attrs, ctrls, &e),
                      LDAP_SUCCESS);
        ck_assert_int_eq(e->count, 2);
        for (size_t i = 0; l->only_1_1 && i < e->count; i++)
            ck_assert_msg(e->entries[i].nattrs == 0, "%s: %zu attributes with 1.1 only",
                          e->entries[i].dn, e->entries[i].nattrs);
        for (int c = 0; c < N_ROWS(computed); c++) {
            char *got = entry_values(e, computed[c].dn, computed[c].attr);
            int asked = named(l, computed[c].attr)
                        || (l->all_user && strcmp(computed[c].attr, "member") == 0);
            /* ManageDsaIT: entries as stored, where none of these is */
            ck_assert_msg(ctrls == NULL || got == NULL, "list %d, ManageDsaIT: %s of %s: %s",
                          _i / 2, computed[c].attr, computed[c].dn, got);
            ck_assert_msg(got != NULL || !asked || ctrls != NULL, "list %d: %s of %s absent",
                          _i / 2, computed[c].attr, computed[c].dn);
            if (got != NULL) {
                char *want = alone(ld, computed[c].dn, computed[c].attr);
                dmg_assert_str_impl(__FILE__, __LINE__, computed[c].attr, got, want);
                free(want);
            }
            free(got);
        }
        /* a stored attribute on the shared copy is the backend's, whole */
        char *cn = entry_values(e, LAYOFFS, "cn");
        if (named(l, "cn") || l->all_user)
            ck_assert_str_eq(cn != NULL ? cn : "(absent)", "layoffs");
        free(cn);
        dmg_entries_free(e);
    }
    dmg_disconnect(ld);
}
END_TEST

/* A page's cn=layoffs carries its two members and their count, whole */
static void layoffs_page_exact(LDAP *ld, LDAPMessage *page, void *arg)
{
    int *layoffs = arg;
    for (LDAPMessage *m = ldap_first_entry(ld, page); m; m = ldap_next_entry(ld, m)) {
        char *dn = ldap_get_dn(ld, m);
        if (strcasecmp(dn, LAYOFFS) == 0) {
            struct berval **v = ldap_get_values_len(ld, m, "member");
            ck_assert_int_eq(ldap_count_values_len(v), 2);
            ldap_value_free_len(v);
            v = ldap_get_values_len(ld, m, "dmgMemberCount");
            ck_assert_int_eq(ldap_count_values_len(v), 1);
            ck_assert_str_eq(v[0]->bv_val, "2");
            ldap_value_free_len(v);
            (*layoffs)++;
        }
        ldap_memfree(dn);
    }
}

/* Pages of one entry, the computed values of each page whole, and a size limit reached in
 * the middle of the pages */
START_TEST(paged_and_size_limited_values_exact)
{
    ensure_fixtures(srv);
    LDAP *ld = dmg_connect_as(srv, POSTMASTER);
    char *attrs[] = { "member", "dmgMemberCount", "cn", NULL };
    int layoffs = 0;
    paged p = search_paged_visit(ld, DMG_SUFFIX, COMPUTED_OR_SHARED, attrs, layoffs_page_exact,
                                 &layoffs);
    ck_assert_int_eq(p.rc, LDAP_SUCCESS);
    ck_assert_int_eq(p.entries, 2);
    ck_assert_int_eq(layoffs, 1);

    /* a size limit of 1 over the whole subtree, in pages of 2: one entry, sizeLimitExceeded */
    int one = 1;
    ck_assert_int_eq(ldap_set_option(ld, LDAP_OPT_SIZELIMIT, &one), LDAP_OPT_SUCCESS);
    LDAPControl *page = NULL;
    ck_assert_int_eq(ldap_create_page_control(ld, 2, NULL, 1, &page), LDAP_SUCCESS);
    dmg_entries *e = NULL;
    const char *cattrs[] = { "member", "dmgMemberOf", NULL };
    dmg_result r = dmg_search(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(objectClass=*)", cattrs,
                              DMG_CTRLS(page), &e);
    ldap_control_free(page);
    ck_assert_msg(r.rc == LDAP_SIZELIMIT_EXCEEDED && e->count == 1, "%s (%d) \"%s\", %zu entries",
                  ldap_err2string(r.rc), r.rc, r.diag, e->count);
    dmg_entries_free(e);
    int zero = 0;
    ldap_set_option(ld, LDAP_OPT_SIZELIMIT, &zero);
    DMG_ASSERT_VALUES(ld, LAYOFFS, LDAP_SCOPE_BASE, NULL, "member", LAYOFFS_MEMBERS);
    dmg_disconnect(ld);
}
END_TEST

/* Searches abandoned after their first entry, while entries with computed values (held
 * lists, shared copies) are on their way: the server goes on answering exactly. */
START_TEST(abandoned_mid_stream)
{
    ensure_fixtures(srv);
    LDAP *ld = dmg_connect_as(srv, POSTMASTER);
    char *attrs[] = { "*", "member", "dmgMemberOf", "dmgMemberMail", "dmgMemberCount", NULL };
    for (int round = 0; round < 20; round++) {
        int msgid = -1;
        ck_assert_int_eq(ldap_search_ext(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(objectClass=*)",
                                         attrs, 0, NULL, NULL, NULL, 0, &msgid),
                         LDAP_SUCCESS);
        LDAPMessage *res = NULL;
        int type = ldap_result(ld, msgid, LDAP_MSG_ONE, NULL, &res);
        ck_assert_int_eq(type, LDAP_RES_SEARCH_ENTRY);
        ldap_msgfree(res);
        ck_assert_int_eq(ldap_abandon_ext(ld, msgid, NULL, NULL), LDAP_SUCCESS);
    }
    DMG_ASSERT_VALUES(ld, LAYOFFS, LDAP_SCOPE_BASE, NULL, "member", LAYOFFS_MEMBERS);
    dmg_disconnect(ld);
    ld = dmg_connect_as(srv, POSTMASTER);
    DMG_ASSERT_VALUES(ld, LAYOFFS, LDAP_SCOPE_BASE, NULL, "dmgMemberCount", "2");
    dmg_disconnect(ld);
}
END_TEST

/* slapo-rwm above the overlay rewrites the DN values it sends (searchAttrDN): it takes its
 * own copy of the shared entry, the computed members are rewritten in what is sent, and
 * the cached list is not (a filter on the members, which rwm leaves alone, still matches the
 * stored DNs after every read). */
START_TEST(rwm_above_rewrites_a_copy)
{
    dmg_server_opts o = {
        .modules = "rwm",
        .overlay_config = OVERLAY_CONFIG "dynmailgroup-cache-max-values 1000\n"
                          "overlay rwm\nrwm-rewriteEngine on\n"
                          "rwm-rewriteContext searchAttrDN\n"
                          "rwm-rewriteRule \"^(.+),ou=Engineering,dc=example,dc=com$\" "
                          "\"$1,ou=Eng,dc=example,dc=com\" \":\"\n",
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start with rwm above dynmailgroup");
    dmg_ensure_entries_ext(s, &hr_entries[3], 1, DMG_CTRLS(dmg_ctrl_relax()));
    LDAP *ld = dmg_connect_as(s, POSTMASTER);
    for (int round = 0; round < 3; round++) {
        DMG_ASSERT_VALUES(ld, LAYOFFS, LDAP_SCOPE_BASE, NULL, "member",
                          "uid=bob,ou=Eng," DMG_SUFFIX "\nuid=carol,ou=Eng," DMG_SUFFIX);
        DMG_ASSERT_VALUES(ld, LAYOFFS, LDAP_SCOPE_BASE, NULL, "dmgMemberCount", "2");
        DMG_ASSERT_VALUES(ld, LAYOFFS, LDAP_SCOPE_BASE, NULL, "cn", "layoffs");
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                       "(&(cn=layoffs)(member=uid=bob,ou=Engineering," DMG_SUFFIX "))", LAYOFFS);
        char *of = dmg_values_joined(ld, BOB, LDAP_SCOPE_BASE, NULL, "dmgMemberOf");
        ck_assert_msg(strstr(of, LAYOFFS) != NULL, "bob's dmgMemberOf: %s", of);
        free(of);
    }
    dmg_disconnect(ld);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

static Suite *hostile_read_suite(void)
{
    Suite *s = suite_create("hostile read");
    TCase *tc = dmg_tcase("hidden");
    tcase_add_loop_test(tc, sizelimit_same_with_hidden_match, 0, N_ROWS(curious));
    tcase_add_loop_test(tc, sizelimit_counts_matches_only, 0, N_ROWS(curious));
    tcase_add_loop_test(tc, paged_same_with_hidden_match, 0, N_ROWS(curious));
    tcase_add_loop_test(tc, hidden_found_by_its_roles, 0, N_ROWS(hidden_roles));
    tcase_add_test(tc, sssvlv_below_refused);
    tcase_add_test(tc, sssvlv_above_counts_visible_only);
    tcase_add_test(tc, sssvlv_inserted_below_at_run_time);
    suite_add_tcase(s, tc);

    /* linear cost: the pre-fix overlay expanded each group once per leaf (2,000 times) */
    tc = dmg_tcase("cost");
    const char *vg = getenv("DMG_VALGRIND");
    tcase_set_timeout(tc, COST_TIMEOUT_S * (vg != NULL && *vg && strcmp(vg, "0") ? 5 : 1));
    tcase_add_test(tc, many_computed_leaves_exact);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("acl");
    tcase_add_loop_test(tc, computed_filters_need_search_access, 0, N_ROWS(acl_filters));
    tcase_add_test(tc, decision_does_not_reveal_membership);
    tcase_add_loop_test(tc, compare_invisible_entry_identical, 0, N_ROWS(curious));
    suite_add_tcase(s, tc);

    tc = dmg_tcase("bypass");
    tcase_add_test(tc, acl_clause_ignores_stored_members);
    tcase_add_test(tc, stored_member_never_returned);
    tcase_add_test(tc, assertion_on_computed_refused);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("shared copy");
    tcase_add_loop_test(tc, attribute_lists_give_exact_values, 0, 2 * N_ROWS(attr_lists));
    tcase_add_test(tc, paged_and_size_limited_values_exact);
    tcase_add_test(tc, abandoned_mid_stream);
    tcase_add_test(tc, rwm_above_rewrites_a_copy);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("fail closed");
    tcase_add_test(tc, failed_lookup_fails_the_read);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    char fixture[64];
    if (fixture_with(fixture, sizeof fixture, PLANTED_LDIF) == NULL) {
        fprintf(stderr, "cannot write the fixture\n");
        return EXIT_FAILURE;
    }
    dmg_server_opts o = {
        .db_config = ACLS_WITHOUT_COMPUTED,
        .overlay_config = OVERLAY_CONFIG,
        .fixture = fixture,
    };
    int rc = dmg_run_suite(hostile_read_suite(), &o, &srv);
    unlink(fixture);
    return rc;
}
