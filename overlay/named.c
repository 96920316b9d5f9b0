/* named.c -- which groups other groups name: the memo that spares reverse lookups a search
 * per level of nesting
 *
 * A reverse lookup (reverse.c, dmg_groups_of_entry) finds the groups that have an entry E
 * level by level: the groups that select E or name it (one search), then the groups that
 * name one of those, and so on.  This memo remembers every entry a dmgIncludeMember names (by
 * DN and by entryUUID; the DN as membership reads it, found by the entryUUID where the value
 * stored predates a rename or is missing), with the group that names it, read from the
 * database once: the groups that name E, and the levels after the first, are taken from it,
 * not searched.  It also remembers every dynamic group's departments, as stored (DN and
 * entryUUID), so that the groups whose rule may select E (those naming one of its ancestors)
 * need no search either.
 *
 * Of the overrides only includes matter: an exclude can take E out of a group, never put it
 * in, and a group found by its own rule is tested in full.  A static group matters only when
 * an include names it (else no level leads from it to a dynamic group): then its members are
 * names too, and so on down.  When the names (or the departments) are too many to remember,
 * or could not be read, they are searched, as without the memo.
 *
 * The memo may name more than the database does (a delete or a removed include leaves the
 * name and its namer in it: one candidate too many, which its test turns down), never less:
 * every write that may add a name
 * (an add of a group or of an entry with includes, a modify adding includes, members of a
 * static group, object classes or an entryUUID, every rename, a transaction's or a replica's
 * writes, a configuration change) moves its generation on, before its result, and no memo is
 * used while any write is in flight (dmg_roles_generation), so that one read before such a
 * write committed is not used after.  The read goes through the reading operation's snapshot,
 * which may be older than the memo's generation when the lookup began: the operation may hold
 * the backend's reader since before the write committed.  So each such move also moves the
 * cache's generation on, which the operation took in its hook, before its first read
 * (dmg_operation_generation), and a memo is kept only when that has not moved since.
 * Operations nested in another and databases glued to others compute without it.
 */

#include "dmg.h"

/* More names than that are not remembered: reading them (and looking up each named entry,
 * to learn which are static groups) would cost more than the searches it spares */
#define DMG_NAMES_MAX	4096

/* A name and the group that names it (a dynamic group's include, a followed static group's
 * member) */
typedef struct dmg_name {
	struct berval name, namer;	/* normalized */
} dmg_name;

typedef struct dmg_name_list {
	dmg_name *v;		/* sorted by name once read (dmg_name_cmp) */
	unsigned n, cap;
} dmg_name_list;

/* Names by DN and by entryUUID */
typedef struct dmg_name_set {
	dmg_name_list dns, uuids;
	int all;		/* too many: every group may name anything, the set is not used */
} dmg_name_set;

/* One reading of the names: shared by the lookups that use it, freed with the last */
struct dmg_names {
	unsigned refs;		/* under dmg_named.lock */
	dmg_name_set incl;	/* includes and followed static groups' members (the levels) */
	dmg_name_set depts;	/* dmgDepartment values as stored (the rules) */
};

struct dmg_named {
	ldap_pvt_thread_mutex_t lock;
	unsigned long gen;	/* moved by every write that may add a name */
	dmg_names *cur;		/* NULL: not read since the generation last moved */
};

struct dmg_named *
dmg_named_new( void )
{
	struct dmg_named *n = ch_calloc( 1, sizeof( *n ) );

	ldap_pvt_thread_mutex_init( &n->lock );
	return n;
}

static void
dmg_name_list_free( dmg_name_list *l )
{
	unsigned i;

	for ( i = 0; i < l->n; i++ ) {
		ch_free( l->v[i].name.bv_val );
		ch_free( l->v[i].namer.bv_val );
	}
	ch_free( l->v );
}

static void
dmg_names_free( dmg_names *ns )
{
	dmg_name_list_free( &ns->incl.dns );
	dmg_name_list_free( &ns->incl.uuids );
	dmg_name_list_free( &ns->depts.dns );
	dmg_name_list_free( &ns->depts.uuids );
	ch_free( ns );
}

/* Drops one reference, under n->lock */
static void
dmg_names_unref( dmg_names *ns )
{
	if ( ns && --ns->refs == 0 )
		dmg_names_free( ns );
}

void
dmg_named_free( struct dmg_named *n )
{
	if ( n == NULL )
		return;
	dmg_names_unref( n->cur );
	ldap_pvt_thread_mutex_destroy( &n->lock );
	ch_free( n );
}

void
dmg_named_moved( dmg_info *di )
{
	struct dmg_named *n = di->named;

	/* first: a lookup that stores its memo between the two steps still has it dropped by
	 * the second */
	dmg_cache_advance( di->cache );
	ldap_pvt_thread_mutex_lock( &n->lock );
	n->gen++;
	dmg_names_unref( n->cur );
	n->cur = NULL;
	ldap_pvt_thread_mutex_unlock( &n->lock );
}

/* ---- which writes may add a name ------------------------------------------------------------ */

/* The attributes names are read from: includes, departments, a static group's members
 * (followed when an include names the group), the object class (which makes an entry a
 * static group) and the entryUUID (which the rootdn may give with the Relax Rules control: an
 * include by that UUID then names the entry) */
static int
dmg_names_attr( AttributeDescription *ad )
{
	return ad->ad_type == dmg_ad.include_member->ad_type
		|| ad->ad_type == dmg_ad.include_member_uuid->ad_type
		|| ad->ad_type == dmg_ad.department->ad_type
		|| ad->ad_type == dmg_ad.department_uuid->ad_type
		|| ad->ad_type == dmg_ad.member->ad_type
		|| ad->ad_type == dmg_ad.unique_member->ad_type
		|| ad == slap_schema.si_ad_objectClass
		|| ad == slap_schema.si_ad_entryUUID;
}

static int
dmg_write_may_name( Operation *op )
{
	Modifications *ml;

	switch ( op->o_tag ) {
	case LDAP_REQ_ADD:
		/* only a group's names are read */
		return op->ora_e == NULL || dmg_named_kind_of( op->ora_e ) != DMG_NAMED_ENTRY;
	case LDAP_REQ_MODIFY:
		for ( ml = op->orm_modlist; ml; ml = ml->sml_next ) {
			if ( dmg_names_attr( ml->sml_desc ) && ml->sml_op != LDAP_MOD_DELETE )
				return 1;
		}
		return 0;
	case LDAP_REQ_MODRDN:
		return 1;
	}
	return 0;
}

void
dmg_named_after_write( Operation *op, dmg_info *di, int bounded )
{
	if ( !bounded || dmg_write_may_name( op ) )
		dmg_named_moved( di );
}

/* ---- reading the names ---------------------------------------------------------------------- */

static int
dmg_name_cmp( const void *a, const void *b )
{
	return ber_bvcmp( &( (const dmg_name *)a )->name, &( (const dmg_name *)b )->name );
}

typedef struct dmg_names_read {
	dmg_names *ns;
	BerVarray groups;	/* the groups with includes found (root's o_tmpmemctx) */
	void *memctx;
} dmg_names_read;

/* Adds name, named by namer, to l, one of set's lists; too many names make the set answer
 * for none */
static void
dmg_names_add( dmg_name_set *set, dmg_name_list *l, struct berval *name, struct berval *namer )
{
	if ( set->all )
		return;
	if ( set->dns.n + set->uuids.n >= DMG_NAMES_MAX ) {
		set->all = 1;
		return;
	}
	if ( l->n == l->cap ) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = ch_realloc( l->v, l->cap * sizeof( dmg_name ) );
	}
	ber_dupbv( &l->v[l->n].name, name );
	ber_dupbv( &l->v[l->n].namer, namer );
	l->n++;
}

static void
dmg_names_add_vals( dmg_name_set *set, Attribute *at, dmg_name_list *l, struct berval *namer )
{
	unsigned i;

	for ( i = 0; at && i < at->a_numvals; i++ )
		dmg_names_add( set, l, &at->a_nvals[i], namer );
}

static void
dmg_names_add_attr( dmg_name_set *set, Entry *g, AttributeDescription *ad, dmg_name_list *l )
{
	dmg_names_add_vals( set, attr_find( g->e_attrs, ad ), l, &g->e_nname );
}

/* Departments are kept as stored, DN and UUID: what a search for the rules that may select
 * an entry asserts of them */
static int
dmg_names_cb( Operation *op, SlapReply *rs )
{
	dmg_names_read *r = op->o_callback->sc_private;
	dmg_name_set *incl = &r->ns->incl, *depts = &r->ns->depts;
	Entry *g = rs->sr_entry;
	struct berval copy;

	if ( rs->sr_type != REP_SEARCH )
		return 0;
	dmg_names_add_attr( depts, g, dmg_ad.department, &depts->dns );
	dmg_names_add_attr( depts, g, dmg_ad.department_uuid, &depts->uuids );
	if ( incl->all || !dmg_group_has_refs( g, dmg_ad.include_member ) )
		return 0;
	dmg_names_add_attr( incl, g, dmg_ad.include_member_uuid, &incl->uuids );
	ber_dupbv_x( &copy, &g->e_nname, r->memctx );
	ber_bvarray_add_x( &r->groups, &copy, r->memctx );
	return 0;
}

/* The DNs of what each group found includes, as membership reads them (dmg_refs_current: a
 * value by its entryUUID, where the DN stored is older than a rename or missing), looked up
 * once the search is over (not from inside its callback).  Its failure is the read's. */
static int
dmg_names_add_included( Operation *root, slap_overinst *on, dmg_names_read *r )
{
	dmg_refs refs;
	Entry *stored, *g;
	unsigned i;
	int rc = LDAP_SUCCESS;

	for ( i = 0; r->groups && !BER_BVISNULL( &r->groups[i] ) && rc == LDAP_SUCCESS
			&& !r->ns->incl.all; i++ ) {
		if ( ( stored = dmg_entry_get( root, on, &r->groups[i] ) ) == NULL )
			continue;	/* deleted since the search: it names nobody */
		/* a copy: the UUIDs are looked up with searches */
		g = entry_dup( stored );
		dmg_entry_release( root, on, stored );
		rc = dmg_refs_current( root, on, g, dmg_ad.include_member, &refs );
		if ( rc == LDAP_SUCCESS )
			dmg_names_add_vals( &r->ns->incl, &refs.a, &r->ns->incl.dns, &g->e_nname );
		dmg_refs_free( root, &refs );
		entry_free( g );
	}
	return rc;
}

/* A static group that an include names stands for its members, which a level then looks
 * for too: their DNs are names as well, followed in turn (each static group once) */
static void
dmg_names_follow_static( Operation *root, slap_overinst *on, dmg_names_read *r )
{
	dmg_name_set *ns = &r->ns->incl;
	BerVarray followed = NULL;
	struct berval copy;
	Entry *x;
	unsigned i;

	for ( i = 0; i < ns->dns.n && !ns->all; i++ ) {
		if ( ( x = dmg_entry_get( root, on, &ns->dns.v[i].name ) ) == NULL )
			continue;
		if ( dmg_named_kind_of( x ) == DMG_NAMED_STATIC
			&& !dmg_bvarray_has_dn( followed, &x->e_nname ) ) {
			ber_dupbv_x( &copy, &x->e_nname, root->o_tmpmemctx );
			ber_bvarray_add_x( &followed, &copy, root->o_tmpmemctx );
			dmg_names_add_attr( ns, x, dmg_ad.member, &ns->dns );
			dmg_names_add_attr( ns, x, dmg_ad.unique_member, &ns->dns );
		}
		dmg_entry_release( root, on, x );
	}
	ber_bvarray_free_x( followed, root->o_tmpmemctx );
}

static void
dmg_name_set_sort( dmg_name_set *set )
{
	if ( set->dns.n )
		qsort( set->dns.v, set->dns.n, sizeof( dmg_name ), dmg_name_cmp );
	if ( set->uuids.n )
		qsort( set->uuids.v, set->uuids.n, sizeof( dmg_name ), dmg_name_cmp );
}

/* Reads the names as the rootdn: every dynamic group's includes and departments; NULL when
 * the search failed (logged; the lookup then searches) */
static dmg_names *
dmg_names_read_db( Operation *op, slap_overinst *on )
{
	dmg_names_read r = { NULL, NULL, NULL };
	slap_callback cb = { 0 };
	Operation root;
	Filter *f;
	char buf[256];
	int rc;

	r.ns = ch_calloc( 1, sizeof( dmg_names ) );
	cb.sc_response = dmg_names_cb;
	cb.sc_private = &r;
	snprintf( buf, sizeof( buf ), "(&(objectClass=%s)(|(%s=*)(%s=*)(%s=*)(%s=*)))",
		dmg_ad.oc_group->soc_cname.bv_val, dmg_ad.include_member->ad_cname.bv_val,
		dmg_ad.include_member_uuid->ad_cname.bv_val, dmg_ad.department->ad_cname.bv_val,
		dmg_ad.department_uuid->ad_cname.bv_val );
	f = str2filter_x( op, buf );
	assert( f != NULL );
	dmg_op_as_root( op, &root );
	r.memctx = root.o_tmpmemctx;
	rc = dmg_internal_search( &root, &op->o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, f, &cb );
	filter_free_x( op, f, 1 );
	if ( rc == LDAP_SUCCESS )
		rc = dmg_names_add_included( &root, on, &r );
	ber_bvarray_free_x( r.groups, root.o_tmpmemctx );
	if ( rc != LDAP_SUCCESS ) {
		dmg_names_free( r.ns );
		return NULL;
	}
	dmg_names_follow_static( &root, on, &r );
	dmg_name_set_sort( &r.ns->incl );
	dmg_name_set_sort( &r.ns->depts );
	return r.ns;
}

/* ---- using them ----------------------------------------------------------------------------- */

dmg_names *
dmg_names_acquire( Operation *op, slap_overinst *on, unsigned long op_gen )
{
	dmg_info *di = on->on_bi.bi_private;
	struct dmg_named *n = di->named;
	BackendDB *be = dmg_real_db( op );
	unsigned long gen;
	dmg_names *ns;

	/* op_gen: whether op is nested, decided in its hook (the backend's reader, which
	 * an entry op holds puts in op->o_extra, would make it look nested now) */
	if ( be == NULL || SLAP_GLUE_INSTANCE( be ) || op_gen == DMG_NO_GENERATION
		|| dmg_roles_generation( di ) == DMG_NO_GENERATION )
		return NULL;
	ldap_pvt_thread_mutex_lock( &n->lock );
	if ( ( ns = n->cur ) != NULL )
		ns->refs++;
	gen = n->gen;
	ldap_pvt_thread_mutex_unlock( &n->lock );
	if ( ns )
		return ns;
	if ( ( ns = dmg_names_read_db( op, on ) ) == NULL )
		return NULL;
	ns->refs = 1;
	ldap_pvt_thread_mutex_lock( &n->lock );
	/* kept for the next lookups only when no write that may add a name ended since op
	 * began (op_gen: op's snapshot may date from before that) or since the read began, and
	 * none is in flight (it may have committed before the search read) */
	if ( n->gen == gen && n->cur == NULL && dmg_cache_generation( di->cache ) == op_gen
		&& dmg_roles_generation( di ) != DMG_NO_GENERATION ) {
		n->cur = ns;
		ns->refs++;
	}
	ldap_pvt_thread_mutex_unlock( &n->lock );
	return ns;
}

void
dmg_names_release( slap_overinst *on, dmg_names *ns )
{
	dmg_info *di = on->on_bi.bi_private;

	if ( ns == NULL )
		return;
	ldap_pvt_thread_mutex_lock( &di->named->lock );
	dmg_names_unref( ns );
	ldap_pvt_thread_mutex_unlock( &di->named->lock );
}

int
dmg_names_complete( dmg_names *ns )
{
	return ns != NULL && !ns->incl.all;
}

int
dmg_names_departments_complete( dmg_names *ns )
{
	return ns != NULL && !ns->depts.all;
}

/* Appends the namers of name in l (sorted) to *out */
static void
dmg_name_list_namers( Operation *op, dmg_name_list *l, struct berval *name, BerVarray *out )
{
	dmg_name key, *hit;
	unsigned lo, hi;
	struct berval copy;

	key.name = *name;
	if ( l->n == 0 || ( hit = bsearch( &key, l->v, l->n, sizeof( dmg_name ),
			dmg_name_cmp ) ) == NULL )
		return;
	for ( lo = hit - l->v; lo > 0 && dmg_name_cmp( &l->v[lo - 1], &key ) == 0; lo-- )
		;
	for ( hi = hit - l->v; hi < l->n && dmg_name_cmp( &l->v[hi], &key ) == 0; hi++ )
		;
	for ( ; lo < hi; lo++ ) {
		ber_dupbv_x( &copy, &l->v[lo].namer, op->o_tmpmemctx );
		ber_bvarray_add_x( out, &copy, op->o_tmpmemctx );
	}
}

/* Appends the namers of ndn, and of entry e's entryUUID when e is given, in set to *out */
static void
dmg_name_set_namers( Operation *op, dmg_name_set *set, struct berval *ndn, Entry *e,
	BerVarray *out )
{
	struct berval *uuid = e ? dmg_entry_uuid( e ) : NULL;

	dmg_name_list_namers( op, &set->dns, ndn, out );
	if ( uuid )
		dmg_name_list_namers( op, &set->uuids, uuid, out );
}

void
dmg_names_namers( Operation *op, dmg_names *ns, Entry *g, BerVarray *out )
{
	dmg_name_set_namers( op, &ns->incl, &g->e_nname, g, out );
}

void
dmg_names_departments( Operation *op, dmg_names *ns, struct berval *ndn, Entry *e,
	BerVarray *out )
{
	dmg_name_set_namers( op, &ns->depts, ndn, e, out );
}
