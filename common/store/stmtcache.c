#include "common/store/stmtcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CACHES 8

typedef struct {
    char *sql;
    uint64_t hash;
    sqlite3_stmt *st;
    bool in_use;
} entry_t;

typedef struct {
    sqlite3 *db;
    entry_t *e;
    size_t n, cap;
} cache_t;

/* Few connections have a cache, and each is used by one thread at a time;
 * the mutex guards the registry, not the statements. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static cache_t *registry[MAX_CACHES];

static cache_t *cache_of(sqlite3 *db)
{
    cache_t *c = NULL;
    pthread_mutex_lock(&registry_mu);
    for (int i = 0; i < MAX_CACHES; i++)
        if (registry[i] && registry[i]->db == db)
            c = registry[i];
    pthread_mutex_unlock(&registry_mu);
    return c;
}

int stmt_cache_attach(sqlite3 *db)
{
    int r = -ENOSPC;
    cache_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->db = db;
    pthread_mutex_lock(&registry_mu);
    for (int i = 0; i < MAX_CACHES; i++)
        if (registry[i] && registry[i]->db == db)
            r = -EEXIST;
    for (int i = 0; i < MAX_CACHES && r == -ENOSPC; i++) {
        if (!registry[i]) {
            registry[i] = c;
            r = 0;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    if (r < 0)
        free(c);
    return r;
}

void stmt_cache_detach(sqlite3 *db)
{
    cache_t *c = NULL;
    pthread_mutex_lock(&registry_mu);
    for (int i = 0; i < MAX_CACHES; i++) {
        if (registry[i] && registry[i]->db == db) {
            c = registry[i];
            registry[i] = NULL;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        sqlite3_finalize(c->e[i].st);
        free(c->e[i].sql);
    }
    free(c->e);
    free(c);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int stmt_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    cache_t *c = cache_of(db);
    if (c) {
        uint64_t h = fnv1a(sql);
        for (size_t i = 0; i < c->n; i++) {
            entry_t *e = &c->e[i];
            if (e->hash == h && !e->in_use && strcmp(e->sql, sql) == 0) {
                e->in_use = true;
                *out = e->st;
                return 0;
            }
        }
        /* Not cached (or busy): prepare, and keep it if this SQL is new. */
        bool known = false;
        for (size_t i = 0; i < c->n && !known; i++)
            known = c->e[i].hash == h && strcmp(c->e[i].sql, sql) == 0;
        if (!known) {
            if (c->n == c->cap) {
                size_t cap = c->cap ? 2 * c->cap : 32;
                entry_t *e = realloc(c->e, cap * sizeof(*e));
                if (!e)
                    return -ENOMEM;
                c->e = e;
                c->cap = cap;
            }
            entry_t *e = &c->e[c->n];
            if (!(e->sql = strdup(sql)))
                return -ENOMEM;
            if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &e->st, NULL) !=
                SQLITE_OK) {
                free(e->sql);
                return -EIO;
            }
            e->hash = h;
            e->in_use = true;
            c->n++;
            *out = e->st;
            return 0;
        }
    }
    return sqlite3_prepare_v2(db, sql, -1, out, NULL) == SQLITE_OK ? 0 : -EIO;
}

void stmt_release(sqlite3_stmt *st)
{
    if (!st)
        return;
    cache_t *c = cache_of(sqlite3_db_handle(st));
    for (size_t i = 0; c && i < c->n; i++) {
        if (c->e[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            c->e[i].in_use = false;
            return;
        }
    }
    sqlite3_finalize(st);
}
