/* The ledger's WAL checkpoints on a thread and a connection of their own.
 * Left to SQLite, the commit that takes the WAL past its limit also
 * copies every page of the WAL back into the database file and fsyncs
 * it, on the committing thread: at a million accounts that doubles what a
 * block's commit writes and syncs. With a checkpointer attached, a commit
 * only appends to the WAL (and fsyncs it); once the WAL holds
 * threshold_pages or more, the commit's WAL hook wakes the thread, which
 * runs a PASSIVE checkpoint (never waiting for, nor blocking, the writer
 * or the readers) beside the loop. Crash-safe as SQLite's own: a
 * checkpoint cut short is redone from the WAL at the next one. */
#ifndef ADNET_CHECKPOINT_H
#define ADNET_CHECKPOINT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define CKPT_THRESHOLD_PAGES 1000 /* SQLite's own wal_autocheckpoint default */

typedef struct ledger_ckpt ledger_ckpt_t;

typedef struct {
    uint64_t runs;     /* checkpoints run */
    uint64_t frames;   /* WAL frames copied into the database by them */
    int last_rc;       /* SQLite's code of the last one (SQLITE_OK, SQLITE_FULL, ...) */
} ckpt_stats_t;

/* Attach a checkpointer to writer, the connection that writes the ledger
 * at path (WAL mode): open a second connection, start the thread, take
 * over writer's WAL hook (which turns SQLite's automatic checkpoint off).
 * Return 0 and *out, or a negative errno with a message in err. */
int ckpt_start(ledger_ckpt_t **out, sqlite3 *writer, const char *path, int threshold_pages,
               char *err, size_t errlen);
/* Stop the thread (a checkpoint under way is cut short: the next one, or
 * the writer's close, redoes it from the WAL), close its
 * connection and give the writer back SQLite's automatic checkpoint.
 * Before the writer closes. NULL-safe. */
void ckpt_stop(ledger_ckpt_t *c);
/* What the checkpointer did so far. Thread-safe. */
void ckpt_stats(ledger_ckpt_t *c, ckpt_stats_t *out);

#endif
