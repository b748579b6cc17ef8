/* WAL checkpoints beside the loop; see checkpoint.h. */
#include "common/store/checkpoint.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/store/sql.h"

struct ledger_ckpt {
    sqlite3 *writer;
    sqlite3 *db;            /* the checkpointer's own connection */
    int threshold;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool kick, stop;
    ckpt_stats_t stats;     /* under mu */
};

/* The writer's WAL hook, on the writer's thread after each commit. */
static int on_wal(void *ctx, sqlite3 *db, const char *name, int pages)
{
    ledger_ckpt_t *c = ctx;
    (void)db;
    (void)name;
    if (pages >= c->threshold) {
        pthread_mutex_lock(&c->mu);
        c->kick = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

static void *ckpt_run(void *arg)
{
    ledger_ckpt_t *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->kick && !c->stop)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop)
            break;
        c->kick = false;
        pthread_mutex_unlock(&c->mu);
        int log = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        pthread_mutex_lock(&c->mu);
        c->stats.runs++;
        c->stats.frames += done > 0 ? (uint64_t)done : 0;
        c->stats.last_rc = rc;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* The checkpointer's connection: read-write, no busy wait (a PASSIVE
 * checkpoint takes no lock it would wait for), syncing as the writer. */
static int ckpt_open_db(ledger_ckpt_t *c, const char *path, char *err, size_t errlen)
{
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: checkpoint connection: %s", path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        return sql_errno(rc);
    }
    return 0;
}

int ckpt_start(ledger_ckpt_t **out, sqlite3 *writer, const char *path, int threshold_pages,
               char *err, size_t errlen)
{
    ledger_ckpt_t *c = calloc(1, sizeof *c);
    int rc;

    if (c == NULL) {
        snprintf(err, errlen, "checkpointer: out of memory");
        return -ENOMEM;
    }
    c->writer = writer;
    c->threshold = threshold_pages > 0 ? threshold_pages : CKPT_THRESHOLD_PAGES;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if ((rc = ckpt_open_db(c, path, err, errlen)) < 0)
        goto out;
    if ((rc = -pthread_create(&c->thread, NULL, ckpt_run, c)) < 0) {
        snprintf(err, errlen, "checkpointer: cannot start its thread: %s", strerror(-rc));
        goto out;
    }
    sqlite3_wal_hook(writer, on_wal, c);
    *out = c;
    return 0;
out:
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return rc;
}

void ckpt_stop(ledger_ckpt_t *c)
{
    if (c == NULL)
        return;
    sqlite3_wal_autocheckpoint(c->writer, CKPT_THRESHOLD_PAGES); /* replaces our hook */
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    sqlite3_interrupt(c->db); /* a checkpoint under way stops at its next page */
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void ckpt_stats(ledger_ckpt_t *c, ckpt_stats_t *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}
