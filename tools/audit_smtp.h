/*
 * audit_smtp.h - hand a message to Postfix over SMTP (dmg-audit's reinject_smtp): the
 * after-queue content-filter pattern of Postfix's FILTER_README, for installations where the
 * pipe user may not run sendmail(1) against the right Postfix instance.
 */
#ifndef DMG_AUDIT_SMTP_H
#define DMG_AUDIT_SMTP_H

#include <stddef.h>

/* Send the message (from fd when fd >= 0, else the len bytes at text; LF or CRLF line ends)
 * from sender ("" = null sender) to rcpts over SMTP to host:port ("127.0.0.1:10026",
 * "[::1]:10026"). timeout in seconds per reply. Returns 0 when the server accepted the
 * message for every recipient it accepted and at least one; a permanent refusal (5xx) of
 * single recipients is reported in refused (",-joined", cut to its size) and counts as done;
 * -1 with why on any other problem (nothing delivered: the caller may try again), -2 when
 * the connection failed after the whole message was sent (the server may have kept it). */
int au_smtp_send(const char *hostport, int timeout, const char *helo, const char *sender,
                 char *const *rcpts, size_t nrcpt, int fd, const char *text, size_t len,
                 char *refused, size_t refsize, char *why, size_t whysize);

#endif /* DMG_AUDIT_SMTP_H */
