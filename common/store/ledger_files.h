/* The files of a ledger a process has open: ledger.db, ledger.db-wal and
 * ledger.db-shm. SQLite keeps writing to the files it opened, so a file
 * deleted or replaced under a running writer (rm, mv, a restore with cp)
 * is not an error SQLite reports: commits "succeed" into a file nobody
 * will find again. This module remembers which file (device and inode)
 * each name held when the writer opened the ledger, and says, cheaply (a
 * stat per file), whether each name still holds it and can be read and
 * written. */
#ifndef ADNET_LEDGER_FILES_H
#define ADNET_LEDGER_FILES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LEDGER_FILES_N 3 /* the ledger, its -wal and its -shm */
#define LEDGER_FILES_WHY_MAX 512

typedef struct {
    char path[LEDGER_FILES_N][PATH_MAX];
    bool known[LEDGER_FILES_N];   /* the name held a file when last looked at */
    dev_t dev[LEDGER_FILES_N];
    ino_t ino[LEDGER_FILES_N];
} ledger_files_t;

/* Remember the files db_path and its -wal and -shm name now (a name that
 * holds nothing yet is remembered once it does, at a later check).
 * Return 0, -ENAMETOOLONG, or -errno of a stat that failed otherwise than
 * ENOENT (with why). */
int ledger_files_init(ledger_files_t *f, const char *db_path, char why[LEDGER_FILES_WHY_MAX]);

/* Check that every remembered name still holds its file and that this
 * process may read and write it. Return 0, or -ESTALE (a file was
 * deleted or replaced) or -EACCES (it cannot be read or written any
 * more) with one sentence in why naming the file. */
int ledger_files_check(ledger_files_t *f, char why[LEDGER_FILES_WHY_MAX]);

#endif
