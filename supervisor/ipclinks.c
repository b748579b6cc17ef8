/* The rings between chains' workers; see ipclinks.h. */
#include "supervisor/ipclinks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/node/ipc/ring.h"

int ipclink_create(ipclink_t *l, const char *a, const char *b, char *err, size_t errlen)
{
    char name[64];
    int rc = 0;
    for (int i = 0; i < 2; i++)
        l->ring[i] = l->wake[i] = -1;
    for (int i = 0; i < 2 && rc == 0; i++) {
        snprintf(name, sizeof(name), "adnet-ring-%s-%s", i ? b : a, i ? a : b);
        if ((rc = l->ring[i] = ring_create(name, IPCLINK_SLOTS, IPCLINK_SLOT_BYTES)) < 0 ||
            (rc = l->wake[i] = ring_wake_create()) < 0)
            snprintf(err, errlen, "%s: %s", name, strerror(-rc));
        else
            rc = 0;
    }
    if (rc < 0)
        ipclink_close(l);
    return rc;
}

void ipclink_fds(const ipclink_t *l, int side, int out[IPCLINK_NFDS])
{
    int mine = side ? 1 : 0, theirs = 1 - mine;
    out[0] = l->ring[mine];
    out[1] = l->wake[mine];
    out[2] = l->ring[theirs];
    out[3] = l->wake[theirs];
}

void ipclink_close(ipclink_t *l)
{
    if (!l)
        return;
    for (int i = 0; i < 2; i++) {
        if (l->ring[i] >= 0)
            close(l->ring[i]);
        if (l->wake[i] >= 0)
            close(l->wake[i]);
        l->ring[i] = l->wake[i] = -1;
    }
}
