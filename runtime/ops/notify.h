/* ops/notify.h - telling systemd how the handler is doing (notify.c). */
#ifndef FLUSSO_NOTIFY_H
#define FLUSSO_NOTIFY_H

/* Sends state ("READY=1", "STOPPING=1") to $NOTIFY_SOCKET when it is
 * set; nothing otherwise.  0, or -1 when the message could not go. */
int notify_send(const char *state);

#endif
