/* dmg.h -- internal interfaces of the dynmailgroup overlay
 *
 * The overlay computes the members of dynamicMailGroup entries on read.  Each source file
 * holds one concern; this header is the map:
 *
 *   dynmailgroup.c  module glue: registration, database hooks, hook dispatch, the overlay's
 *                   place among the other overlays, conditions logged once, the stack's
 *                   slots no hook sees (transaction commit, hasSubordinates of a compare)
 *   ops.c           operations the overlay makes (internal searches and their filter strings,
 *                   entry lookups, rootdn copies, the write grant, what the backend would
 *                   refuse, a lock held until a write's result) and the slapd internals they
 *                   rely on
 *   config.c        slapd.conf directives and cn=config attributes
 *   schema.c        computed attribute types and the references' UUID companions (registered
 *                   in code) and stored-schema lookup
 *   rule.c          a group's membership rule, read from its entry
 *   members.c       a member list: its strings in blocks shared by the lists derived from it,
 *                   its index by DN and attribute-ready arrays, edited in place by a write's
 *                   update; put on an entry; what it holds, for the cache's statistics
 *   membership.c    forward expansion (members of a group) and the reverse test (is E a member,
 *                   and why), both with overrides and nested groups; the cache's use: lists by
 *                   group and identity, read from it or computed and stored
 *   explain.c       the explanation (dmgMembershipExplanation): the reverse test's reasons, to
 *                   those who may read the rule, as much as they may learn
 *   reverse.c       reverse lookups (the groups of E: dmgMemberOf, (member=E)), candidates
 *                   found level by level; entries by mail; the filters these build
 *   invalidate.c    what a write does to cached lists: they are tagged with the entries and
 *                   attributes they depend on, and a write keeps, updates in place (one
 *                   entry's membership) or invalidates them
 *   named.c         which entries groups include (by DN and entryUUID) and which groups
 *                   include them, read once per generation of writes that may add such a
 *                   name: reverse lookups take the next level of nesting from it
 *   cache.c         bounded membership cache (pure C, generation-checked, invalidated by
 *                   tags: a write drops only the lists of the groups it concerns, keeps those
 *                   that read none of the attributes it changed, or replaces them by updates)
 *   monitor.c       the cache's statistics under cn=monitor
 *   search.c        search hook: filter rewriting for computed attributes (and hasSubordinates
 *                   without hidden groups), response callback; the children a requester may
 *                   learn of
 *   compare.c       compare hook on computed attributes
 *   guard.c         write guard: validation of group entries (conditions screened before
 *                   slapd parses them), roles and who may write, what the grant covers,
 *                   what refusals may name (and deletes of entries whose only children
 *                   are hidden groups), the write-guard lock, applicant
 *   references.c    entries groups name (departments, overrides, roles): their entryUUIDs
 *                   kept with the DN values (written by the guard in the same write, read
 *                   for membership and roles), current DNs presented on read, dangling
 *                   references; renames and moves followed, deletes refused or followed
 *   enrol.c         self-enrolment guard: no condition on what employees may write themselves
 *   access.c        roles (decided once per operation, remembered per identity until a
 *                   write that may change them or a configuration change), hidden groups,
 *                   member visibility (requester or group), ACL group clauses
 *                   (bi_entry_get_rw), what the member-list cache assumes of slapd's ACLs
 *   decision.c      send decision glue between slapd and the pure-C policy.c
 *   preview.c       the No-Op control and a previewed group write's Post-Read entry
 */
#ifndef DMG_H
#define DMG_H

#include "portable.h"

#include <ac/string.h>

#include "slap.h"
#include "slap-config.h"

#include "cache.h"

#define DMG_LOG_PREFIX "dynmailgroup: "

/* ---- attribute descriptions ------------------------------------------------------------ */

typedef struct dmg_schema {
	/* stored, from schema/dynmailgroup.schema; resolved when a database opens */
	ObjectClass *oc_group;
	AttributeDescription *department;
	AttributeDescription *include_sub;
	AttributeDescription *condition;
	AttributeDescription *applicant;
	AttributeDescription *administrator;
	AttributeDescription *audit_required;
	AttributeDescription *auditor;
	AttributeDescription *send_policy;
	AttributeDescription *whitelist;
	AttributeDescription *show_in_contacts;
	AttributeDescription *include_member;
	AttributeDescription *exclude_member;
	AttributeDescription *mail;
	AttributeDescription *member;
	AttributeDescription *unique_member;
	ObjectClass *oc_group_of_names;
	ObjectClass *oc_group_of_unique_names;
	/* computed, registered by the module at load time */
	AttributeDescription *member_mail;
	AttributeDescription *member_count;
	AttributeDescription *member_of;
	AttributeDescription *decision;
	AttributeDescription *decision_reason;
	AttributeDescription *auditor_mail;
	AttributeDescription *sender;
	AttributeDescription *explain_member;
	AttributeDescription *explanation;
	AttributeDescription *joining_member;
	AttributeDescription *leaving_member;
	AttributeDescription *dangling;
	/* stored by the overlay (references.c): the entryUUID of each entry a reference
	 * attribute names, registered by the module (operational) */
	AttributeDescription *department_uuid;
	AttributeDescription *administrator_uuid;
	AttributeDescription *auditor_uuid;
	AttributeDescription *applicant_uuid;
	AttributeDescription *include_member_uuid;
	AttributeDescription *exclude_member_uuid;
} dmg_schema;

extern dmg_schema dmg_ad;

int dmg_schema_register_computed( void );
int dmg_schema_resolve_stored( const char **missing );
int dmg_ad_is_computed( AttributeDescription *ad );
/* TRUE for computed attributes that live on groups (member and the dmg* group values) */
int dmg_ad_is_group_computed( AttributeDescription *ad );

/* ---- per-database configuration ---------------------------------------------------------- */

#define DMG_LOGGED_MAX 16

typedef struct dmg_info {
	Filter *member_filter;		/* dynmailgroup-member-filter */
	struct berval member_filter_str;
	Filter *dept_filter;		/* dynmailgroup-department-filter */
	struct berval dept_filter_str;
	BerVarray postmaster;		/* dynmailgroup-postmaster, pretty */
	BerVarray postmaster_n;		/* normalized */
	BerVarray privileged;		/* dynmailgroup-privileged, pretty */
	BerVarray privileged_n;
	int max_departments;		/* dynmailgroup-max-departments */
	int max_whitelist;		/* dynmailgroup-max-whitelist */
	unsigned long max_members;	/* dynmailgroup-max-members, 0 = no limit */
	unsigned long cache_max_values;	/* dynmailgroup-cache-max-values, 0 = no cache */
	int max_condition_length;	/* dynmailgroup-max-condition-length, octets per value */
	int max_conditions;		/* dynmailgroup-max-conditions, values per group */
	int max_overrides;		/* dynmailgroup-max-overrides, values per attribute */
	int visibility_group;		/* dynmailgroup-member-visibility group (access.c) */
	dmg_cache *cache;		/* member lists, see membership.c and invalidate.c */
	/* the write guard's lock: held from a write's checks of other entries (a mail value is
	 * free, a department or role exists, no group names an entry) until the backend has
	 * written it (guard.c), so that no other write changes what was checked in between */
	ldap_pvt_thread_mutex_t write_lock;
	/* the ACLs the cache follows (dmg_cache_follow_acls): their fingerprint when last
	 * seen, and whether they may answer two connections of one identity differently;
	 * changed under acl_lock, read without it (atomic loads) */
	ldap_pvt_thread_mutex_t acl_lock;
	unsigned long long acl_print;
	int acl_print_valid;
	int acl_conn_dependent;
	/* writes between their hook and the end of their result (dmg_writes_in_flight);
	 * this and the two below are changed under flight_lock, read without it */
	ldap_pvt_thread_mutex_t flight_lock;
	unsigned writes_in_flight;
	/* every write in flight, and the generation of the requesters' remembered roles
	 * (dmg_roles_generation) */
	unsigned roles_writes;
	unsigned long roles_gen;
	struct dmg_who_memo *who_memo;	/* the remembered roles (access.c) */
	struct dmg_named *named;	/* the entries groups include (named.c) */
	struct berval monitor_ndn;	/* the overlay's cn=monitor entry (monitor.c) */
	int monitor_ndn_owned;		/* monitor_ndn is ours to free (slapd 2.6) */
	void *monitor_cb;		/* its monitor_callback_t, NULL when not registered */
	/* what dmg_log_once has logged: the last DMG_LOGGED_MAX keys */
	ldap_pvt_thread_mutex_t logged_lock;
	struct berval logged[DMG_LOGGED_MAX];
	unsigned logged_next;
} dmg_info;

#define DMG_DEFAULT_MEMBER_FILTER "(objectClass=inetOrgPerson)"
#define DMG_DEFAULT_DEPT_FILTER "(objectClass=organizationalUnit)"
#define DMG_DEFAULT_MAX_DEPARTMENTS 50
#define DMG_DEFAULT_MAX_WHITELIST 1000
#define DMG_DEFAULT_MAX_CONDITION_LENGTH 1024
#define DMG_DEFAULT_MAX_CONDITIONS 16
#define DMG_DEFAULT_MAX_OVERRIDES 1000
/* Holds the MTA's lists of every group of a 100,000-employee directory (about 600,000 member
 * DNs and mail values for 1,000 groups) with room for the rootdn's and postmasters' most read
 * ones; the man page states what it costs in memory. */
#define DMG_DEFAULT_CACHE_MAX_VALUES 1000000UL

int dmg_config_init( BackendInfo *bi );
int dmg_info_set_defaults( dmg_info *di );
void dmg_info_free( dmg_info *di );

/* ---- cache statistics under cn=monitor (monitor.c) ---------------------------------------- */

int dmg_monitor_register_schema( void );
/* Registers the statistics when slapd has a monitor database; never fails the database */
int dmg_monitor_db_open( BackendDB *be );
void dmg_monitor_db_close( BackendDB *be );

/* ---- operations the overlay makes itself (ops.c) ----------------------------------------- */

/* Marks write operations issued by the overlay (reference rewrites) so that its own write
 * guard lets them through.  Internal searches carry ManageDsaIT instead, which makes every
 * dynamic overlay (this one and dynlist) return entries as stored. */
extern int dmg_internal_key;
int dmg_op_is_internal( Operation *op );
void dmg_op_mark_internal( Operation *op, OpExtra *oex );
void dmg_op_unmark_internal( Operation *op, OpExtra *oex );
/* Is op issued from inside another operation (its o_extra holds others' records)? */
int dmg_op_nested( Operation *op );

/* The database the overlay sits on, as a normal (non-overlay-walking) BackendDB. */
BackendDB *dmg_real_db( Operation *op );

/* f as an LDAP filter string (op->o_tmpmemctx), as filter2bv_x writes it, cheaper */
void dmg_filter2bv( Operation *op, Filter *f, struct berval *out );
/* Returns the backend's result code, logged when it is a failure: callers fail closed.  The
 * callback may read the database only through the Operation it is handed (ops.c). */
int dmg_internal_search( Operation *op, struct berval *base, int scope, Filter *f,
	slap_callback *cb );

/* The entry ndn as stored (below this overlay), or NULL when it is not in this database;
 * give it back with dmg_entry_release. */
/* an entry of this database by normalized DN: LDAP_SUCCESS with *ep, LDAP_NO_SUCH_OBJECT (also
 * for a DN outside it), or the backend's error; dmg_entry_get: the entry or NULL */
int dmg_entry_lookup( Operation *op, slap_overinst *on, struct berval *ndn, Entry **ep );
Entry *dmg_entry_get( Operation *op, slap_overinst *on, struct berval *ndn );
void dmg_entry_release( Operation *op, slap_overinst *on, Entry *e );

/* An operation copy that runs with the rootdn's rights (ACL-free structural checks). */
void dmg_op_as_root( Operation *op, Operation *root );

/* The write guard's grant: op runs as rootdn of its private database copy. */
void dmg_grant_write( Operation *op );

/* Would the backend refuse this write (add, modify, delete, modrdn) for op's rights, or
 * because target (the stored entry; NULL when absent) is not there, or, for an add, because
 * the entry is?  Decided as back-mdb decides it, so that the backend's answer can be left to
 * it. */
int dmg_backend_refuses( Operation *op, slap_overinst *on, Entry *target );
/* back-mdb's result code (and text, or NULL) for op; as_free: as if the new DN of an add were
 * free, the answer a requester gets where nothing is there */
int dmg_backend_answer( Operation *op, slap_overinst *on, Entry *target, int as_free,
	const char **text );

/* The DN a rename gives its entry: new RDN below the new superior, or below the old parent
 * (op->o_tmpmemctx) */
void dmg_modrdn_new_dn( Operation *op, struct berval *dn, struct berval *ndn );

/* Does op run inside a transaction of the backend already (before the overlay read
 * anything through it)? */
int dmg_op_in_backend_txn( Operation *op );

/* Unlocks lock (held by the caller) when op's result comes, once the backend has written and
 * the response callbacks above below (pushed since op->o_callback was below) have run. */
void dmg_unlock_at_result( Operation *op, ldap_pvt_thread_mutex_t *lock, slap_callback *below );

/* ---- the requester's roles (access.c) ------------------------------------------------------ */

/* The length of a normalized entryUUID (UUIDNormalize: the 16 octets of the UUID) */
#define DMG_UUID_LEN 16

/* Decided by each hook before it reads the database, kept on the operation (o_extra) until
 * dmg_who_end; copies of the operation see it too. */
typedef struct dmg_who {
	OpExtra oe;
	unsigned root : 1, postmaster : 1, privileged : 1;
	ber_len_t uuid_len;	/* the entryUUID of the requester's entry (normalized), 0: none */
	char uuid_buf[DMG_UUID_LEN];
} dmg_who;
void dmg_who_begin( Operation *op, slap_overinst *on, dmg_who *who );
/* FNV-1a, 64 bits, of len bytes at p into *h (start from DMG_FNV_OFFSET): the remembered
 * roles' slots, the ACLs' fingerprint, the member lists' index (access.c) */
#define DMG_FNV_OFFSET 0xcbf29ce484222325ULL
void dmg_hash_bytes( unsigned long long *h, const void *p, size_t len );
/* The roles decided for an identity are remembered (access.c) until the next write to the
 * database that may change them (dmg_write_moves_roles) or change of the overlay's
 * configuration */
struct dmg_who_memo *dmg_who_memo_new( void );
void dmg_who_memo_free( struct dmg_who_memo *m );
int dmg_write_moves_roles( Operation *op, dmg_info *di );
/* dynmailgroup.c: the generation the remembered roles are valid for, DMG_NO_GENERATION while
 * a write runs; dmg_roles_moved starts a new one (a configuration change), and so does the
 * end of a write that may change them */
unsigned long dmg_roles_generation( dmg_info *di );
void dmg_roles_moved( dmg_info *di );
/* The entryUUID of op's requester's entry (normalized), empty when none: read by the hook */
void dmg_requester_uuid( Operation *op, slap_overinst *on, struct berval *out );
void dmg_who_end( Operation *op, dmg_who *who );
int dmg_who_is_record( OpExtra *oex );

/* dynmailgroup-member-visibility (access.c): the operation whose rights decide the members of
 * group for op -- op itself (requester, the default; and the rootdn); with group, a rootdn
 * copy held in ag when op's requester may read the group's member attribute, else NULL: the
 * group shows op no member.  Give ag back with dmg_membership_end. */
typedef struct dmg_as_group {
	Operation root;
	dmg_who who;
	int active;
} dmg_as_group;
Operation *dmg_membership_begin( Operation *op, slap_overinst *on, Entry *group,
	dmg_as_group *ag );
/* Does group show op its members (always, but with group visibility and no read access to
 * the group's member attribute)? */
int dmg_membership_shown( Operation *op, slap_overinst *on, Entry *group );
void dmg_membership_end( dmg_as_group *ag );

/* What the member-list cache assumes of slapd's ACLs (access.c): does a "by" clause of the
 * database's or the frontend's ACLs test the connection (peer, socket, listener, domain,
 * security strength), the real DN, or a dynamic ACL module?  And a fingerprint of those ACLs
 * that changes when olcAccess does. */
int dmg_acls_connection_dependent( Operation *op );
unsigned long long dmg_acls_fingerprint( Operation *op );
/* dynmailgroup.c: a change of those ACLs since the last operation starts a new cache
 * generation; returns whether they let lists be cached (no connection-dependent clause).
 * Called by dmg_operation_generation, before the operation reads the database. */
int dmg_cache_follow_acls( Operation *op, dmg_info *di );
/* Whether the ACLs last followed let lists be cached */
int dmg_cache_acls_allow( dmg_info *di );
/* Whether a write to the database is under way: cached lists are then not taken */
int dmg_writes_in_flight( dmg_info *di );
/* Is oex the record of a write in flight (not a marker of nesting: dmg_op_nested)? */
int dmg_flight_is_record( OpExtra *oex );

/* ---- references by entryUUID (references.c) ----------------------------------------------- */

/* The current values of a reference attribute of a group: the current DN of each entry its
 * UUID companion names (a UUID naming no entry is dangling), or the DN values as stored when
 * the group has no UUID companion for it. */
typedef struct dmg_refs {
	Attribute a;		/* a_desc: the DN attribute; values NULL-terminated */
	int owned;		/* a's arrays are ours (op->o_tmpmemctx) */
	BerVarray dangling;	/* the stored DN (else the UUID) of each dangling value */
} dmg_refs;
int dmg_refs_current( Operation *op, slap_overinst *on, Entry *g, AttributeDescription *ad,
	dmg_refs *out );
void dmg_refs_free( Operation *op, dmg_refs *r );
/* Does a DN value of attribute ad of g no longer name the entry its UUID names (a rename no
 * rewrite has followed yet)? */
int dmg_refs_stale( Operation *op, slap_overinst *on, Entry *g, AttributeDescription *ad );
/* Does the UUID companion of attribute ad of g, which holds e's entryUUID, name e as
 * dmg_refs_current resolves it: 1, 0, or -1 when the lookup failed (logged)? */
int dmg_ref_uuid_names( Operation *op, Entry *g, AttributeDescription *ad, Entry *e );
/* The UUID companion of reference attribute ad, or NULL */
AttributeDescription *dmg_ref_uuid_ad( AttributeDescription *ad );
/* Is ad the UUID companion of a reference attribute? */
int dmg_ad_is_reference_uuid( AttributeDescription *ad );
/* Does entryUUID nuuid name the entry ndn and no other (1, 0; -1: the lookup failed, or
 * several entries carry it, logged)? */
int dmg_uuid_names_only( Operation *op, struct berval *nuuid, struct berval *ndn );
/* The normalized entryUUID of e, or NULL */
struct berval *dmg_entry_uuid( Entry *e );
/* Does the group name the requester (dmg_who's UUID) in reference attribute ad? */
int dmg_group_names_requester( Operation *op, slap_overinst *on, Entry *group,
	AttributeDescription *ad );
/* Adds (ad=ndn) to the OR filter or, and (adUUID=uuid) when e (the entry ndn, or NULL) has
 * one: the groups naming the entry, whether their DN value is current or not */
void dmg_filter_or_add_ref( Operation *op, Filter *or, AttributeDescription *ad,
	struct berval *ndn, Entry *e );
/* A group sent to a search (rs->sr_entry) with its requested reference values as they are
 * now: the current DN of each entry named, when the group has UUIDs for the attribute and
 * every one names an entry; otherwise as stored.  The lookups' failure is returned. */
int dmg_refs_present( Operation *op, SlapReply *rs, slap_overinst *on );
/* Does the search op ask for a reference attribute (by name or "*")? */
int dmg_refs_requested( Operation *op );
/* Adds dmgDanglingReference of group to target: "<attribute> <DN as stored, or UUID>" for each
 * value naming an entry that no longer exists; a failed lookup is returned (nothing added) */
int dmg_dangling_to_entry( Operation *op, slap_overinst *on, Entry *group, Entry *target );
/* The write guard's part (guard.c): the UUID companions after a write of a group (after: the
 * group as the write leaves it), appended to the write where they change (mods NULL: an add,
 * whose entry gets them); before is the group before a modify, NULL for an add.  A refusal
 * (two values naming one entry, a delete of values whose UUIDs cannot be told apart) is
 * returned with its text. */
int dmg_refs_pair_write( Operation *op, slap_overinst *on, Entry *before, Entry *after,
	Modifications **mods, char *text, size_t len );
/* The guard's part before it checks a modify of the group stored: a value deleted by the
 * current DN of the entry it names (as reads show it) is deleted as stored, when the stored
 * value predates a rename */
void dmg_refs_deletes_as_stored( Operation *op, slap_overinst *on, Entry *stored,
	Modifications *ml );
/* The entry the value ndn of attribute ad of group g names, in *e (NULL: none; give it back
 * with dmg_entry_release): by its paired UUID when the group has one for it (the value may
 * predate a rename), else by DN.  The UUID lookup's result code: a failure is no answer. */
int dmg_ref_entry_get( Operation *op, slap_overinst *on, Entry *g, AttributeDescription *ad,
	struct berval *ndn, Entry **e );

/* ---- a group's rule --------------------------------------------------------------------- */

typedef struct dmg_rule {
	struct berval ndn;	/* the group's (owned by the group entry, as the values below) */
	Entry *entry;		/* the group's */
	struct berval *depts;	/* normalized department DNs */
	struct berval *dept_vals;	/* as stored */
	int ndepts;
	int include_sub;	/* dmgIncludeSubDepartments, default TRUE */
	Attribute *conds;	/* dmgCondition as stored, or NULL */
	/* dmgIncludeMember, dmgExcludeMember, or NULL; set by dmg_rule_overrides only */
	Attribute *include, *exclude;
	dmg_refs dept_refs, include_refs, exclude_refs;	/* the current values above */
	Filter *filter;		/* (&(member filter)(condition)...), op->o_tmpmemctx */
} dmg_rule;


int dmg_entry_is_group( Entry *e );
int dmg_entry_bool( Entry *e, AttributeDescription *ad, int dflt );
/* A failure to resolve the references is returned (logged); the rule then selects nobody */
int dmg_rule_from_entry( Operation *op, slap_overinst *on, Entry *e, dmg_rule *r );
/* The current values of the overrides (forward expansion): a failure to resolve them is
 * returned (logged), the values are then unset */
int dmg_rule_overrides( Operation *op, slap_overinst *on, dmg_rule *r );
/* Does group g have values of reference attribute ad (as stored, or UUIDs only)? */
int dmg_group_has_refs( Entry *g, AttributeDescription *ad );
void dmg_rule_free( Operation *op, dmg_rule *r );
/* The attribute a filter item asserts on; NULL for AND, OR, NOT, computed items and
 * extensible matches without an attribute */
AttributeDescription *dmg_filter_ad( Filter *f );

/* ---- member lists (members.c) ------------------------------------------------------------- */

typedef struct dmg_member {
	struct berval dn, ndn;
	unsigned mail_first, mail_count;	/* range in dmg_members.mail */
	unsigned shown_first;	/* where its values start in mail_vals, once that is built */
} dmg_member;

/* A block of a member list's strings (DNs and mail values), shared by the lists built from
 * that list (a list updated after a write, a group that includes another) and freed with the
 * last of them: such a list copies the member array, not the strings. */
typedef struct dmg_strblock dmg_strblock;

typedef struct dmg_members {
	dmg_member *m;
	unsigned n, cap;
	struct berval *mail, *nmail;		/* every mail value of every member */
	unsigned nmail_count, mail_cap;
	/* the blocks its strings are in, one reference each; the ones it appends to: own_dn
	 * for the members' DNs, own_mail for their mail values, own for the normalized forms
	 * (a read of member or dmgMemberMail then copies strings that lie one after another,
	 * as a static group's values do, not a third of each stretch it reads) */
	dmg_strblock **blocks, *own, *own_dn, *own_mail;
	unsigned nblocks, blocks_cap;
	/* members dropped by updates whose strings (and mail entries) it still holds */
	unsigned dropped;
	/* Attribute-ready, NULL-terminated arrays pointing into the strings above: member
	 * (dn_vals/dn_nvals, n values, room for cap) and dmgMemberMail (mail_vals/mail_nvals,
	 * mail_n values, room for mail_vals_cap).  Built once the list is complete; a cached
	 * list is written again only by an update that has it alone (dmg_members_edit). */
	struct berval *dn_vals, *dn_nvals, *mail_vals, *mail_nvals;
	unsigned mail_n, mail_vals_cap;
	/* the members by their normalized DNs, a hash table (built with the arrays above): the
	 * reverse test's lookup in a cached list (dmg_group_cached_has), an update's */
	dmg_member **by_ndn;
	/* an empty list that stands for "not shown" (dynmailgroup-member-visibility group, to a
	 * requester who may not read the group's member): no value, not even a count */
	int hidden;
	/* an override named a group (or a cycle): the list depends on that group's members */
	int names_group;
	unsigned long gen;	/* a cached list: the generation it was computed at */
	size_t strbytes;	/* a cached list: its strings' bytes, for the statistics */
} dmg_members;

void dmg_members_free( dmg_members *ms );
/* Appends e with the mail values op may read */
void dmg_members_push( Operation *op, dmg_members *ms, Entry *e );
/* Appends the members of a nested group's list, with their mail values */
void dmg_members_append( dmg_members *out, dmg_members *src );
/* Appends the members of src but the entry skip (NULL: none), strings shared when src allows */
void dmg_members_append_except( dmg_members *out, dmg_members *src, struct berval *skip );
/* A complete list nothing else reads changed in place: without skip, then with e (NULL: none);
 * 0, and ms unchanged, when it lacks the room or holds too much that was dropped (copy it) */
int dmg_members_edit( Operation *op, dmg_members *ms, struct berval *skip, Entry *e );
/* Keeps each member once (several departments may overlap) */
void dmg_members_dedupe( dmg_members *ms );
/* Drops the members of ms that are in ex (whose order it changes) */
void dmg_members_remove( dmg_members *ms, dmg_members *ex );
/* Builds the index by DN and the attribute-ready arrays of a complete list */
void dmg_members_index( dmg_members *ms );
/* dmg_members_index for ms, an update of old: old's members but skip, then at most one more */
void dmg_members_index_update( dmg_members *ms, dmg_members *old, struct berval *skip );
/* Is ndn among the members of a complete list? */
int dmg_members_has_ndn( dmg_members *ms, struct berval *ndn );
/* The cache's free function of a list it holds (allocated with ch_malloc) */
void dmg_members_free_value( void *ms );
/* What a list's arrays hold, for the cache's statistics */
size_t dmg_members_array_bytes( dmg_members *ms );
/* What a list holds, arrays and strings (kept in strbytes), for the cache's statistics */
size_t dmg_members_bytes( dmg_members *ms );
/* Adds to target, as values of ad, the members of a that are not in b (whose order it
 * changes) */
void dmg_members_missing_to_entry( dmg_members *a, dmg_members *b, Entry *target,
	AttributeDescription *ad );
/* Puts the values of a complete list on target (stored member values removed first); with
 * attach the values point into ms, which must outlive target's attributes, and room, when
 * not NULL, is where the two attributes that point into it go (DMG_ATTACH_ROOM, zeroed,
 * never given to attr_free) rather than attr_alloc's. */
#define DMG_ATTACH_ROOM	2
void dmg_members_put( Entry *target, dmg_members *ms, int want_member, int want_mail,
	int want_count, int attach, Attribute *room );

/* ---- membership (membership.c) ------------------------------------------------------------ */

/* A member list to read: from the cache (held) or computed for this operation (owned). */
typedef struct dmg_members_view {
	dmg_members *ms;
	dmg_members owned;
	dmg_cache_entry *held;
} dmg_members_view;
/* The cache generation for an operation, read in its hook before it reads the database;
 * DMG_NO_GENERATION when its lists must not be cached. */
#define DMG_NO_GENERATION ( ~0UL )
unsigned long dmg_operation_generation( Operation *op, dmg_info *di );
/* gen: dmg_operation_generation() of the operation */
int dmg_members_acquire( Operation *op, slap_overinst *on, Entry *group, unsigned long gen,
	dmg_members_view *v );
void dmg_members_release( slap_overinst *on, dmg_members_view *v );
/* Members of the group in 'group' as op's identity may see them.  LDAP_ADMINLIMIT_EXCEEDED
 * when there are more than dynmailgroup-max-members, an internal search's failure as it
 * is; never a partial list. */
int dmg_members_expand( Operation *op, slap_overinst *on, Entry *group, dmg_members *out );
/* Adds the requested computed values of group to target (which may be the group itself).
 * With keep, the values are attached without copying and *keep holds the list: release it
 * (dmg_members_release) once target has been sent; without, they are copied. */
int dmg_members_to_entry( Operation *op, slap_overinst *on, Entry *group, Entry *target,
	unsigned long gen, int want_member, int want_mail, int want_count, dmg_members_view *keep );
/* dmg_rule_tests_member's answer for the entry ndn from the list of group cached for the
 * identity its members are computed with (gen: as for dmg_members_acquire): 1 when such a
 * list answered (in *yes), 0 when the rule must be tested */
int dmg_group_cached_has( Operation *op, slap_overinst *on, Entry *group, unsigned long gen,
	struct berval *ndn, int *yes );
/* Is entry e a member of the group with rule r, as op's identity sees it? */
int dmg_rule_has_member( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e );
/* The same, as dynmailgroup-member-visibility shows group (whose rule r is) to op */
int dmg_rule_shows_member( Operation *op, slap_overinst *on, Entry *group, dmg_rule *r,
	Entry *e );
/* The same in *yes; LDAP_OTHER when a lookup failed (logged; *yes then fails closed), for
 * the callers that give no answer rather than a wrong one */
int dmg_rule_tests_member( Operation *op, slap_overinst *on, Entry *group, dmg_rule *r, Entry *e,
	int *yes );
/* dmg_rule_has_member's answer in *yes; LDAP_OTHER when the rule's own entries could not be
 * found */
int dmg_rule_member_rc( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, int *yes );
/* Why e is or is not a member of the group with rule r (man page EXPLANATIONS); the detail
 * is in op->o_tmpmemctx (dmg_why_free).  dmg_rule_has_member is its verdict. */
typedef enum dmg_why_reason {
	DMG_WHY_NO_SUCH_ENTRY, DMG_WHY_EXCLUDED, DMG_WHY_EXCLUDED_VIA, DMG_WHY_MEMBER_FILTER,
	DMG_WHY_INCLUDED, DMG_WHY_INCLUDED_VIA, DMG_WHY_DEPARTMENT, DMG_WHY_OUTSIDE,
	DMG_WHY_SUB_DEPARTMENT, DMG_WHY_CONDITION
} dmg_why_reason;
typedef struct dmg_why {
	int member;
	dmg_why_reason reason;
	struct berval detail;
	int unknown;	/* the rule's own entries could not be found: the verdict fails closed */
} dmg_why;
void dmg_rule_why( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, dmg_why *why );
void dmg_why_free( Operation *op, dmg_why *why );
/* A reverse lookup's test: is candidate group g (dynamic or static) one of e's groups, as op
 * sees it (*yes)?  gen: as for dmg_members_acquire.  LDAP_OTHER when g's own references could
 * not be looked up. */
int dmg_group_has( Operation *op, slap_overinst *on, Entry *g, Entry *e, unsigned long gen,
	int *yes );
/* What an entry a reference names is: a dynamic group, a static group (groupOfNames or
 * groupOfUniqueNames), or any other entry */
typedef enum dmg_named_kind {
	DMG_NAMED_ENTRY, DMG_NAMED_DYNAMIC, DMG_NAMED_STATIC
} dmg_named_kind;
dmg_named_kind dmg_named_kind_of( Entry *x );
/* Does a group named in an override stand for its members to op (op may read it, and see it
 * when it is hidden)? */
int dmg_named_group_readable( Operation *op, slap_overinst *on, Entry *x );

/* ---- the explanation (explain.c) ---------------------------------------------------------- */

/* Adds dmgMembershipExplanation of the entry ndn in group to target; when the group's own
 * entries could not be found, the error (nothing added) */
int dmg_explanation_to_entry( Operation *op, slap_overinst *on, Entry *group,
	struct berval *ndn, Entry *target );

/* ---- reverse lookups (reverse.c) ---------------------------------------------------------- */

/* Groups (normalized DNs, visible to op) that have entry e as member; op->o_tmpmemctx.  With
 * cand, also an indexed filter that selects at least those groups (a search's widening).
 * gen: as for dmg_members_acquire (a group's cached list answers for it). */
int dmg_groups_of_entry( Operation *op, slap_overinst *on, Entry *e, BerVarray *ndns,
	BerVarray *dns, Filter **cand, unsigned long gen );
/* Adds dmgMemberOf of e to target (gen: as for dmg_members_acquire) */
int dmg_member_of_to_entry( Operation *op, slap_overinst *on, Entry *e, Entry *target,
	unsigned long gen );
/* Entries matching the member filter with mail=addr (as op's identity), ndns in tmpmemctx;
 * the internal search's failure is returned (and *ndns is NULL) */
int dmg_entries_with_mail( Operation *op, slap_overinst *on, struct berval *addr, BerVarray *ndns );
/* (ad=nval), nval normalized; op->o_tmpmemctx */
Filter *dmg_filter_eq( Operation *op, AttributeDescription *ad, struct berval *nval );
/* An empty OR filter; op->o_tmpmemctx */
Filter *dmg_filter_or( Operation *op );
/* (|(objectClass=C)...) of the classes of ocs[n] the schema has; op->o_tmpmemctx */
Filter *dmg_filter_classes( Operation *op, ObjectClass **ocs, int n );
/* Adds (dmgDepartment=A) to or for every ancestor A of ndn (self: ndn's entry, or NULL); with
 * on, also (dmgDepartmentUUID=U) for the entryUUID U of each */
void dmg_filter_add_ancestors( Operation *op, slap_overinst *on, Filter *or, struct berval *ndn,
	Entry *self );
/* Adds f to the OR filter or */
void dmg_filter_or_add( Filter *or, Filter *f );
/* Does the array of normalized DNs a hold dn? */
int dmg_bvarray_has_dn( BerVarray a, struct berval *dn );
/* Appends a copy of bv (in ctx) to *a */
void dmg_bvarray_add_copy( BerVarray *a, struct berval *bv, void *ctx );

/* ---- cached lists and writes (invalidate.c) ----------------------------------------------- */

/* In a write's response, once it has succeeded: drops the cached lists of the groups whose
 * rule may select ndn (a department above it), of groups with overrides, and of ndn itself
 * when it is a group -- but keeps those a modify cannot change (it changes no attribute they
 * read) and updates in place those that can change only by ndn's own membership; for a rename
 * (new_ndn not NULL) the same for new_ndn, and the lists of groups naming an entry at or
 * below either DN, all dropped */
void dmg_cache_invalidate_entry( Operation *op, dmg_info *di, struct berval *ndn,
	struct berval *new_ndn );
/* Stores group's list ms (under key, computed from data read at generation gen) with its tags
 * and dependencies; 1 when the cache took it (then *held holds it) */
int dmg_members_store( Operation *op, slap_overinst *on, Entry *group, char *key, size_t len,
	unsigned long gen, dmg_members *ms, dmg_cache_entry **held );

/* ---- the entries groups include (named.c) ------------------------------------------------ */

struct dmg_named *dmg_named_new( void );
void dmg_named_free( struct dmg_named *n );
/* A write that may add a name, or a configuration change: the memo is read again */
void dmg_named_moved( dmg_info *di );
/* At a successful write's result, before it lands: moves the memo's generation when the
 * write may add a name (always when it is not bounded: a transaction's, a replica's) */
void dmg_named_after_write( Operation *op, dmg_info *di, int bounded );
/* The names for a reverse lookup by op (read now when not remembered), NULL when op must
 * search every level (a write in flight, a nested operation: op_gen, its cache generation,
 * is DMG_NO_GENERATION; a glued database, a failed read); released with dmg_names_release */
typedef struct dmg_names dmg_names;
dmg_names *dmg_names_acquire( Operation *op, slap_overinst *on, unsigned long op_gen );
void dmg_names_release( slap_overinst *on, dmg_names *ns );
/* Does ns know every group that names an entry (else the levels are searched: ns NULL, or
 * the names were too many)? */
int dmg_names_complete( dmg_names *ns );
/* Appends to *out (op->o_tmpmemctx) the DNs of the groups that name g (by DN or entryUUID):
 * the dynamic groups that include it, the followed static groups that have it as member */
void dmg_names_namers( Operation *op, dmg_names *ns, Entry *g, BerVarray *out );
/* Does ns know every dynamic group's departments (else the rules are searched)? */
int dmg_names_departments_complete( dmg_names *ns );
/* Appends to *out (op->o_tmpmemctx) the DNs of the dynamic groups that name ndn as a
 * department, by DN or, when e (ndn's entry) is given, by its entryUUID */
void dmg_names_departments( Operation *op, dmg_names *ns, struct berval *ndn, Entry *e,
	BerVarray *out );
/* ---- hidden groups and the requester's roles (access.c) ----------------------------------- */

/* Answers (sent) noSuchObject when op's target (an add's: its parent) is, or lies below, a
 * hidden group its requester may not see, with the matched DN back-mdb gives for an entry
 * that does not exist, as if the group did not; 1 when answered.  Entries that exist below
 * such a group are not judged. */
int dmg_refuse_hidden_target( Operation *op, SlapReply *rs, slap_overinst *on );
/* Is the group entry visible to op (dmgShowInContacts FALSE hides it from most) */
int dmg_group_visible( Operation *op, slap_overinst *on, Entry *group );
/* Does op's requester see every group (rootdn, postmasters, privileged identities)? */
int dmg_sees_every_group( Operation *op, slap_overinst *on );
int dmg_is_root( Operation *op, slap_overinst *on );
int dmg_is_postmaster( Operation *op, slap_overinst *on );
int dmg_is_privileged( Operation *op, slap_overinst *on );
/* Does attribute ad of e hold the DN ndn? */
int dmg_entry_names( Entry *e, AttributeDescription *ad, struct berval *ndn );

/* ---- hooks ------------------------------------------------------------------------------- */

int dmg_search( Operation *op, SlapReply *rs );
int dmg_compare( Operation *op, SlapReply *rs );
int dmg_add( Operation *op, SlapReply *rs );
int dmg_modify( Operation *op, SlapReply *rs );
int dmg_modrdn( Operation *op, SlapReply *rs );
int dmg_delete( Operation *op, SlapReply *rs );
int dmg_entry_get_rw( Operation *op, struct berval *ndn, ObjectClass *oc,
	AttributeDescription *at, int rw, Entry **e );
int dmg_entry_release_rw( Operation *op, Entry *e, int rw );

/* guard.c: the first entry other than skip that matches f, searched with the rootdn's rights.
 * Returns the search's result code (callers fail closed on anything but LDAP_SUCCESS); found
 * tells whether there is one, and dn names it as op's requester may learn of it. */
typedef struct dmg_first_dn {
	struct berval *skip;
	int groups_only;
	struct berval ndn;	/* the entry found, op->o_tmpmemctx (until dmg_find_other returns) */
	char dn[256];		/* the quoted DN, or "another entry" when the requester may not see it */
	int found;
	int disclosed;		/* dn names it */
} dmg_first_dn;
int dmg_find_other( Operation *op, Filter *f, struct berval *skip, int groups_only, dmg_first_dn *out );
/* May op's requester learn that entry e exists (read access to it, and a hidden group only to
 * those who see it)? */
int dmg_entry_disclosed( Operation *op, slap_overinst *on, Entry *e );

/* references.c, called by the modrdn/delete hooks for entries that are not groups: a rename
 * is followed in every group that names the entry; a delete is refused (department, only
 * auditor of an audited group) or followed (role values removed) */
int dmg_references_delete( Operation *op, SlapReply *rs, slap_overinst *on );
int dmg_references_follow_rename( Operation *op, SlapReply *rs, slap_overinst *on );
/* Is ad one of the attributes in which a group names other entries (the list above)? */
int dmg_ad_is_reference( AttributeDescription *ad );

/* enrol.c, called by the write guard's validation of a group (before: the group before a
 * modify, NULL for an add): LDAP_SUCCESS, or the result code with text naming the condition,
 * the attribute and an employee who may write it */
int dmg_check_self_enrolment( Operation *op, dmg_info *di, Entry *group, Entry *before,
	char *text, size_t len );

/* preview.c: the standard No-Op control (registered at load time, enabled per database) is
 * slapd's o_noop for every write; dmg_preview_group, at the end of the guard's checks of a
 * group add (before NULL) or modify, prepares the Post-Read entry of a previewed write
 * (after: the group as the write would leave it) */
int dmg_preview_register( void );
int dmg_preview_db_open( BackendDB *be );
void dmg_preview_noop( Operation *op );
int dmg_preview_group( Operation *op, SlapReply *rs, slap_overinst *on, Entry *before,
	Entry *after );

/* decision.c: adds dmgDecision, dmgDecisionReason, dmgAuditorMail to e as requested; returns
 * the failure of a lookup the decision needed (then nothing is added) */
int dmg_decision_attrs( Operation *op, slap_overinst *on, Entry *group, Entry *e,
	struct berval *sender, int want_decision, int want_auditor_mail );

/* search.c: has e a child op's requester may learn of, hidden groups left out?  *yes is 0
 * only when e has a hidden group the requester may not see as child and no other child (so
 * also 1 for an entry without children); the lookup's failure is returned. */
int dmg_has_shown_child( Operation *op, slap_overinst *on, Entry *e, int *yes );
/* search.c: *hs, the backend's hasSubordinates of e (LDAP_COMPARE_TRUE or FALSE), made FALSE
 * when e's only children are hidden groups op's requester may not see; the lookup's failure
 * is returned */
int dmg_subordinates_shown( Operation *op, slap_overinst *on, Entry *e, int *hs );
/* search.c: refuses (unwillingToPerform, sent) an assertion control that names a computed
 * attribute of the target; 1 when refused */
int dmg_assertion_refused( Operation *op, SlapReply *rs, slap_overinst *on );
/* dynmailgroup.c: an overlay configured on the wrong side of this one on its database
 * (sssvlv below would count what this overlay drops; syncprov above would send groups as
 * stored, hidden ones included, to sync searches this overlay never sees).  NULL when type is
 * absent or where it belongs; else the rule it breaks. */
typedef struct dmg_stack_rule {
	const char *type;	/* on_bi.bi_type */
	int below;		/* where it belongs: below (configured before) this overlay */
	const char *why;	/* what the other order would do */
	const char *remedy;	/* "configure sssvlv after dynmailgroup" */
} dmg_stack_rule;
const dmg_stack_rule *dmg_stack_misplaced( slap_overinst *on, const char *type );

/* dynmailgroup.c: TRUE the first time key (e.g. a condition and a DN) is seen, so that a
 * condition repeated by every retry of a client is logged once; remembers the last
 * DMG_LOGGED_MAX keys of the database. */
int dmg_log_once( dmg_info *di, const char *kind, struct berval *key );

/* helpers shared by the hooks: dmg_attr_requested (search.c), dmg_attr_add_ulong (members.c) */
int dmg_attr_requested( Operation *op, AttributeName *attrs, AttributeDescription *ad, int by_star_or_plus );
void dmg_attr_add_ulong( Entry *e, AttributeDescription *ad, unsigned long v );

#endif /* DMG_H */
