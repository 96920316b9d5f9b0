/* preview.c -- a write previewed: the No-Op control with Post-Read (man page PREVIEW)
 *
 * slapd 2.5 knows the No-Op control only under its experimental OID (o_noop: back-mdb runs the
 * write to the end and undoes it, answering noOperation); the standard OID is not built in and
 * would be refused with unavailableCriticalExtension.  The overlay registers it and makes it
 * mean what o_noop means, for every write, so that nothing sent with it is ever stored; the
 * backend's own answer is then exactly the real write's, the guard's refusals are the same
 * as for the real write, and the preview cannot disagree with either.
 *
 * For an add or modify of a group with Post-Read, the Post-Read entry is the overlay's: the
 * group as it would be after the write, with its computed values as they would be (member,
 * dmgMemberMail, dmgMemberCount) and who would join and leave (dmgJoiningMember,
 * dmgLeavingMember).  They are computed before the write reaches the backend, with the
 * requester's rights (not the write guard's grant), and sent with the backend's noOperation
 * only; slapd's ACLs apply to the Post-Read entry as to any entry sent.  The backend's own
 * Pre-Read and Post-Read are not made for a group preview (its Post-Read entry would lack the
 * computed values).
 */
#include "dmg.h"

#define DMG_CONTROL_NOOP "1.3.6.1.4.1.4203.1.10.2"

static int dmg_noop_cid;

static int
dmg_noop_parse( Operation *op, SlapReply *rs, LDAPControl *ctrl )
{
	if ( op->o_ctrlflag[dmg_noop_cid] != SLAP_CONTROL_NONE ) {
		rs->sr_text = "No-Op control specified multiple times";
		return LDAP_PROTOCOL_ERROR;
	}
	if ( !BER_BVISNULL( &ctrl->ldctl_value ) ) {
		rs->sr_text = "No-Op control value not empty";
		return LDAP_PROTOCOL_ERROR;
	}
	op->o_ctrlflag[dmg_noop_cid] = ctrl->ldctl_iscritical
		? SLAP_CONTROL_CRITICAL : SLAP_CONTROL_NONCRITICAL;
	return LDAP_SUCCESS;
}

int
dmg_preview_register( void )
{
	/* every write: a non-critical control that slapd ignored for one kind of write would let
	 * that write be stored */
	return register_supported_control( DMG_CONTROL_NOOP,
		SLAP_CTRL_ADD|SLAP_CTRL_DELETE|SLAP_CTRL_MODIFY|SLAP_CTRL_RENAME, NULL,
		dmg_noop_parse, &dmg_noop_cid );
}

int
dmg_preview_db_open( BackendDB *be )
{
	return overlay_register_control( be, DMG_CONTROL_NOOP );
}

void
dmg_preview_noop( Operation *op )
{
	if ( op->o_ctrlflag[dmg_noop_cid] != SLAP_CONTROL_NONE && op->o_noop == SLAP_CONTROL_NONE )
		op->o_noop = op->o_ctrlflag[dmg_noop_cid];
}

/* ---- the Post-Read entry ------------------------------------------------------------------- */

typedef struct dmg_preview {
	slap_callback cb;
	Entry *post;
	int critical;		/* Post-Read was critical */
} dmg_preview;

/* Sends the Post-Read entry with the backend's noOperation; any other answer goes as it is */
static int
dmg_preview_response( Operation *op, SlapReply *rs )
{
	dmg_preview *pv = op->o_callback->sc_private;
	LDAPControl *ctrl = NULL, *ctrls[2] = { NULL, NULL };
	Entry *entry = rs->sr_entry;
	AttributeName *attrs = rs->sr_attrs;
	Operation o;

	if ( rs->sr_type != REP_RESULT || pv->post == NULL )
		return SLAP_CB_CONTINUE;
	if ( rs->sr_err == LDAP_X_NO_OPERATION ) {
		slap_mask_t flags = rs->sr_flags;
		int rc;

		/* the requester's rights: op->o_bd may carry the write guard's grant */
		o = *op;
		o.o_bd = dmg_real_db( op );
		rc = slap_read_controls( &o, rs, pv->post, &slap_post_read_bv, &ctrl );
		/* slap_read_controls sends the entry as a search entry (the backends call it
		 * before their result): what follows this callback (the other overlays'
		 * responses, every cleanup) must see the result again */
		rs->sr_type = REP_RESULT;
		rs->sr_flags = flags;
		rs->sr_entry = entry;
		rs->sr_attrs = attrs;
		if ( rc == LDAP_SUCCESS ) {
			/* the result frees the control with its array (REP_CTRLS_MUSTBEFREED) */
			ctrls[0] = ctrl;
			slap_add_ctrls( op, rs, ctrls );
		} else if ( pv->critical ) {
			rs->sr_err = LDAP_OTHER;
			rs->sr_text = "dynmailgroup: the Post-Read entry could not be encoded";
		}
	}
	/* encoded, or not to be sent: the result is the last use of the entry (the cleanup
	 * frees it when no result came) */
	entry_free( pv->post );
	pv->post = NULL;
	return SLAP_CB_CONTINUE;
}

static int
dmg_preview_cleanup( Operation *op, SlapReply *rs )
{
	dmg_preview *pv = op->o_callback->sc_private;

	if ( rs->sr_type != REP_RESULT && !op->o_abandon && rs->sr_err != SLAPD_ABANDON )
		return SLAP_CB_CONTINUE;
	op->o_callback = pv->cb.sc_next;
	if ( pv->post )
		entry_free( pv->post );
	op->o_tmpfree( pv, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

/* The group after the write with its computed values as op sees them; before is the stored
 * group (NULL for an add: every member joins).  The failure of a computation is returned. */
static int
dmg_preview_entry( Operation *op, slap_overinst *on, Entry *before, Entry *after, Entry **post )
{
	dmg_members now = { 0 }, then = { 0 };
	int rc = LDAP_SUCCESS;
	dmg_as_group ag;
	Operation *mop;

	*post = NULL;
	/* as the group will show its members (dynmailgroup-member-visibility): when it shows op
	 * none, nobody joins or leaves either */
	if ( ( mop = dmg_membership_begin( op, on, after, &ag ) ) == NULL )
		then.hidden = 1;
	else if ( dmg_entry_is_group( after ) )
		rc = dmg_members_expand( mop, on, after, &then );
	if ( rc == LDAP_SUCCESS && mop && before && dmg_entry_is_group( before ) )
		rc = dmg_members_expand( mop, on, before, &now );
	dmg_membership_end( &ag );
	if ( rc == LDAP_SUCCESS ) {
		/* slapd sends what Post-Read asks for; who joins and leaves, only by name */
		*post = entry_dup( after );
		dmg_members_put( *post, &then, 1, 1, 1, 0, NULL );
		if ( dmg_attr_requested( op, op->o_postread_attrs, dmg_ad.joining_member, 0 ) )
			dmg_members_missing_to_entry( &then, &now, *post, dmg_ad.joining_member );
		if ( dmg_attr_requested( op, op->o_postread_attrs, dmg_ad.leaving_member, 0 ) )
			dmg_members_missing_to_entry( &now, &then, *post, dmg_ad.leaving_member );
	}
	dmg_members_free( &now );
	dmg_members_free( &then );
	return rc;
}

int
dmg_preview_group( Operation *op, SlapReply *rs, slap_overinst *on, Entry *before,
	Entry *after )
{
	dmg_preview *pv;
	Operation o;
	Entry *post = NULL;
	int rc;

	if ( op->o_noop == SLAP_CONTROL_NONE || op->o_postread == SLAP_CONTROL_NONE )
		return SLAP_CB_CONTINUE;
	/* the requester's rights, not the write guard's grant */
	o = *op;
	o.o_bd = dmg_real_db( op );
	rc = dmg_preview_entry( &o, on, before, after, &post );
	if ( rc != LDAP_SUCCESS ) {
		send_ldap_error( op, rs, rc == LDAP_ADMINLIMIT_EXCEEDED ? rc : LDAP_OTHER,
			rc == LDAP_ADMINLIMIT_EXCEEDED ? "dynmailgroup: the group would have more than "
			"dynmailgroup-max-members members" : "dynmailgroup: the members the write "
			"would give could not be computed" );
		return rs->sr_err;
	}
	pv = op->o_tmpcalloc( 1, sizeof( *pv ), op->o_tmpmemctx );
	pv->post = post;
	pv->critical = op->o_postread == SLAP_CONTROL_CRITICAL;
	pv->cb.sc_response = dmg_preview_response;
	pv->cb.sc_cleanup = dmg_preview_cleanup;
	pv->cb.sc_private = pv;
	pv->cb.sc_next = op->o_callback;
	op->o_callback = &pv->cb;
	/* the Post-Read entry is ours; the backend's Pre-Read would come in an array the
	 * backend frees itself, which slap_add_ctrls cannot extend */
	op->o_postread = SLAP_CONTROL_NONE;
	op->o_preread = SLAP_CONTROL_NONE;
	return SLAP_CB_CONTINUE;
}
