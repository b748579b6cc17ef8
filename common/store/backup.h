/* Online copies of a ledger and what they hold, for `adnet backup` and
 * `adnet restore` (docs/operations.md, "Backup and restore").
 *
 * A copy is made with SQLite's online backup API from a read-only
 * connection that holds one read transaction for the whole copy: in WAL
 * mode that snapshot never blocks the worker's writer (it keeps
 * committing into the WAL; only checkpoints cannot pass the snapshot
 * until the copy is done), and since each block is one transaction the
 * copy ends at a block boundary. The pages go over in small steps so that
 * progress can be shown. */
#ifndef ADNET_BACKUP_H
#define ADNET_BACKUP_H

#include <stdint.h>

#include "proto/block.h"

#define BACKUP_ERR_MAX 512
#define BACKUP_DIGEST_LEN 32     /* BLAKE2b-256 of a file */
#define BACKUP_STEP_PAGES 256    /* pages per sqlite3_backup_step */

/* Format a message into err[BACKUP_ERR_MAX] (cut to fit), as this
 * module's functions do: for callers that report their own steps of a
 * backup in the same buffer. */
void backup_errf(char err[BACKUP_ERR_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Called after each step with the pages copied so far and the total. */
typedef void (*backup_progress_fn)(void *arg, uint64_t done, uint64_t total);

/* Copy the ledger at src (while its worker may be writing) into a new
 * file dst, which must not exist, and make it durable (fsync of the file
 * and its folder). progress (may be NULL) is called with arg after each
 * step. Return 0, or -ENOENT (no ledger at src), -EEXIST (dst exists),
 * -ENOSPC (disk full), -EBUSY (src locked exclusively), -EIO, with what
 * was wrong in err; a failed copy's dst is removed. */
int backup_ledger(const char *src, const char *dst, backup_progress_fn progress, void *arg,
                  char err[BACKUP_ERR_MAX]);

/* What a (closed, complete) ledger file holds. */
typedef struct {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    char genesis_hash[2 * BLOCK_HASH_LEN + 1];  /* lowercase hex, as meta keeps it */
    uint64_t height;                            /* its tip; 0: the genesis state only */
    uint8_t block_hash[BLOCK_HASH_LEN];         /* the tip's hash; zero at height 0 */
} backup_ledger_info_t;

/* Read what the ledger file at path holds, writing nothing beside it.
 * Return 0 and *out, or -EILSEQ (not a ledger, or no genesis state in
 * it), -ENOENT, -EIO, with a message in err. */
int backup_ledger_info(const char *path, backup_ledger_info_t *out, char err[BACKUP_ERR_MAX]);

/* BLAKE2b-256 of the whole file at path and its size. Return 0, or
 * -errno with a message in err; out and *size are written only on
 * success. */
int backup_file_digest(const char *path, uint8_t out[BACKUP_DIGEST_LEN], uint64_t *size,
                       char err[BACKUP_ERR_MAX]);

#endif
