/* The shared-memory rings between two chains' workers, made once by the
 * supervisor when it starts (so that they outlive either worker's
 * restart): for chains a and b, a ring a->b and a ring b->a (memfds,
 * common/node/ipc/ring.h), each with the eventfd its consumer parks on. A
 * worker gets four descriptors, in this order: its outgoing ring, that
 * ring's wake-up, its incoming ring, that ring's wake-up. */
#ifndef ADNET_IPCLINKS_H
#define ADNET_IPCLINKS_H

#include <stddef.h>

#define IPCLINK_SLOTS 64          /* messages a ring holds: a minute of 1-second blocks */
#define IPCLINK_SLOT_BYTES 16384  /* the longest inter-worker message fits one slot */
#define IPCLINK_NFDS 4

typedef struct {
    int ring[2]; /* ring[0]: a -> b, ring[1]: b -> a; -1 when not made */
    int wake[2]; /* the eventfd of ring[i]'s consumer */
} ipclink_t;

/* Make the two rings and their wake-ups of a link between chains a and b.
 * Return 0, or -errno with a message in err (nothing left open). */
int ipclink_create(ipclink_t *l, const char *a, const char *b, char *err, size_t errlen);

/* The descriptors side (0: a, 1: b) gets, in the order above. */
void ipclink_fds(const ipclink_t *l, int side, int out[IPCLINK_NFDS]);

/* Close what l holds; NULL-safe, safe on a link never made (all -1). */
void ipclink_close(ipclink_t *l);

#endif
