#include "tests/lib/txload.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/hex.h"
#include "proto/delta_tx.h"
#include "proto/tx.h"
#include "tests/lib/txbatch.h"

#define MAX_THREADS 64
#define POLL_US 20000
#define POSTED 1                 /* flags: sent at least once */
#define ACCEPTED 2               /* the node took it (counted in submitted) */

typedef struct {
    char hex[65];                /* public key as the txs table stores it */
    int s;
} sender_key_t;

/* One transfer of a batch: sender s's k-th. */
typedef struct {
    int s;
    size_t k;
} txref_t;

struct txload {
    txload_cfg_t cfg;            /* keys, nonce: not kept (NULL) */
    char *ledger;
    size_t ntx, slot;            /* transfers, bytes kept for each */
    uint8_t *bytes;              /* transfer s*per_sender+k at that index * slot */
    uint16_t *len;
    uint8_t *flags;              /* POSTED | ACCEPTED, written by the owning submitter */
    _Atomic uint64_t *sent_us;   /* wall clock of the last post */
    size_t *next;                /* per sender: next k to send (owning submitter) */
    _Atomic uint64_t *committed; /* per sender: transfers of the load committed */
    sender_key_t *keys;          /* sorted by hex */
    atomic_bool stop_submit, stop_poll, exhausted, ran;
    double cpu_s;                /* process CPU time in the window */
    _Atomic uint64_t t0_ms, t1_ms, submitted, refused, requests, committed_all;
    pthread_mutex_t codes_lock;
    txload_code_t codes[TXLOAD_CODES];
    int ncodes;
    /* the poller's */
    int64_t last_rowid;
    uint64_t in_window;
    double *lat;
    size_t nlat;
    int poll_errors;
};

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int txload_sign_transfer(const txload_terms_t *terms, const keys_pair_t *kp, uint64_t nonce,
                         const uint8_t to[32], uint64_t amount, uint8_t *buf, size_t cap,
                         size_t *len)
{
    delta_payload_t p;
    uint8_t pl[DELTA_PAYLOAD_MAX];
    size_t plen;
    tx_t tx;
    memset(&p, 0, sizeof(p));
    p.kind = DELTA_TX_TRANSFER;
    memcpy(p.u.transfer.to, to, 32);
    snprintf(p.u.transfer.asset, sizeof(p.u.transfer.asset), "%s", terms->asset);
    p.u.transfer.amount = amount;
    int rc = delta_payload_encode(&p, pl, sizeof(pl), &plen);
    if (rc < 0)
        return rc;
    memset(&tx, 0, sizeof(tx));
    snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", terms->chain_id);
    tx.kind = DELTA_TX_TRANSFER;
    memcpy(tx.sender, kp->pk, 32);
    tx.fee = terms->fee;
    tx.nonce = nonce;
    tx.expiry_height = terms->expiry_height;
    tx.payload = pl;
    tx.payload_len = plen;
    return tx_sign_encode(&tx, kp->sk, buf, cap, len);
}

size_t txload_per_sender(double seconds, int nsenders, double verify_per_s,
                         int block_interval_ms, int ahead)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double node = (double)(cores > 0 ? cores : 1) * verify_per_s / (nsenders > 0 ? nsenders : 1);
    double chain = 64.0 * 1000.0 / (block_interval_ms > 0 ? block_interval_ms : 1);
    return (size_t)(seconds * (node < chain ? node : chain)) + 1 + (size_t)(ahead > 0 ? ahead : 0);
}

/* ---- signing ---- */

typedef struct {
    txload_t *l;
    const txload_cfg_t *cfg;     /* with keys and nonce */
    int part, nparts;
    int rc;
} signer_t;

static void *sign_part(void *arg)
{
    signer_t *g = arg;
    txload_t *l = g->l;
    size_t per = l->cfg.per_sender;
    for (int s = g->part; s < l->cfg.nsenders && g->rc == 0; s += g->nparts)
        for (size_t k = 0; k < per && g->rc == 0; k++) {
            uint8_t to[32];
            size_t i = (size_t)s * per + k, len = 0;
            l->cfg.to(l->cfg.to_ctx, s, k, to);
            g->rc = txload_sign_transfer(&l->cfg.terms, g->cfg->keys[s], g->cfg->nonce[s] + k,
                                         to, l->cfg.amount, l->bytes + i * l->slot, l->slot,
                                         &len);
            l->len[i] = (uint16_t)len;
        }
    return NULL;
}

/* Sign every transfer on every core (parts no thread took, here). Return
 * 0 or the first error. */
static int sign_all(txload_t *l, const txload_cfg_t *cfg)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cores < 1 ? 1 : cores > 8 ? 8 : (int)cores, started = 0, rc = 0;
    signer_t g[8];
    pthread_t th[8];
    for (int i = 0; i < n; i++)
        g[i] = (signer_t){ l, cfg, i, n, 0 };
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, sign_part, &g[started]) != 0)
            break;
    for (int i = started; i < n; i++)
        sign_part(&g[i]);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < n && rc == 0; i++)
        rc = g[i].rc;
    return rc;
}

static int cmp_key(const void *a, const void *b)
{
    return memcmp(((const sender_key_t *)a)->hex, ((const sender_key_t *)b)->hex, 64);
}

static int check_cfg(const txload_cfg_t *c, char err[TXLOAD_ERR_MAX])
{
    const char *why = NULL;
    if (!c->keys || !c->nonce || !c->to || !c->ledger || !c->terms.chain_id || !c->terms.asset)
        why = "keys, nonce, to, ledger, terms.chain_id and terms.asset are required";
    else if (c->nsenders < 1 || c->per_sender < 1 || c->per_sender > SIZE_MAX / 256 /
             (size_t)c->nsenders)
        why = "nsenders and per_sender must be at least 1 (and their product sane)";
    else if (c->batch < 1 || c->batch > TXBATCH_MAX)
        why = "batch must be 1 to 1000";
    else if (c->threads < 1 || c->threads > MAX_THREADS || c->threads > c->nsenders)
        why = "threads must be 1 to 64 and at most nsenders";
    else if (c->ahead < 1 || c->ahead > 64)
        why = "ahead must be 1 to 64 (the chain admits nonces up to 64 ahead)";
    if (why)
        snprintf(err, TXLOAD_ERR_MAX, "txload: %s", why);
    return why ? -EINVAL : 0;
}

/* Allocate l's arrays for cfg; slot from one transfer signed to learn its size. */
static int alloc_load(txload_t *l, const txload_cfg_t *cfg)
{
    uint8_t probe[TX_MAX_BYTES], to[32] = {0};
    size_t plen;
    int rc = txload_sign_transfer(&cfg->terms, cfg->keys[0], cfg->nonce[0], to, cfg->amount,
                                  probe, sizeof(probe), &plen);
    if (rc < 0)
        return rc;
    l->slot = (plen + 16 + 7) & ~(size_t)7; /* transfers differ in size by little */
    l->ntx = (size_t)cfg->nsenders * cfg->per_sender;
    l->bytes = malloc(l->ntx * l->slot);
    l->len = calloc(l->ntx, sizeof(*l->len));
    l->flags = calloc(l->ntx, 1);
    l->sent_us = calloc(l->ntx, sizeof(*l->sent_us));
    l->lat = calloc(l->ntx, sizeof(*l->lat));
    l->next = calloc((size_t)cfg->nsenders, sizeof(*l->next));
    l->committed = calloc((size_t)cfg->nsenders, sizeof(*l->committed));
    l->keys = calloc((size_t)cfg->nsenders, sizeof(*l->keys));
    l->ledger = strdup(cfg->ledger);
    return l->bytes && l->len && l->flags && l->sent_us && l->lat && l->next && l->committed &&
           l->keys && l->ledger ? 0 : -ENOMEM;
}

int txload_new(txload_t **out, const txload_cfg_t *cfg, char err[TXLOAD_ERR_MAX])
{
    txload_t *l = NULL;
    int rc = check_cfg(cfg, err);
    if (rc < 0)
        goto out;
    if (!(l = calloc(1, sizeof(*l)))) {
        snprintf(err, TXLOAD_ERR_MAX, "txload: out of memory");
        rc = -ENOMEM;
        goto out;
    }
    l->cfg = *cfg;
    l->cfg.keys = NULL;
    l->cfg.nonce = NULL;
    l->cfg.ledger = NULL;
    pthread_mutex_init(&l->codes_lock, NULL);
    if ((rc = alloc_load(l, cfg)) < 0 || (rc = sign_all(l, cfg)) < 0) {
        snprintf(err, TXLOAD_ERR_MAX, "txload: signing %zu transfers: %s", l->ntx, strerror(-rc));
        goto out;
    }
    for (int s = 0; s < cfg->nsenders; s++) {
        hex_encode(l->keys[s].hex, cfg->keys[s]->pk, 32);
        l->keys[s].s = s;
    }
    qsort(l->keys, (size_t)cfg->nsenders, sizeof(*l->keys), cmp_key);
    *out = l;
    l = NULL;
out:
    txload_free(l);
    return rc;
}

void txload_free(txload_t *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->codes_lock);
    free(l->ledger);
    free(l->bytes);
    free(l->len);
    free(l->flags);
    free(l->sent_us);
    free(l->lat);
    free(l->next);
    free(l->committed);
    free(l->keys);
    free(l);
}

/* ---- submitting ---- */

static void count_code(txload_t *l, const char *code)
{
    pthread_mutex_lock(&l->codes_lock);
    int i;
    for (i = 0; i < l->ncodes; i++)
        if (strcmp(l->codes[i].code, code) == 0)
            break;
    if (i == TXLOAD_CODES)
        i = TXLOAD_CODES - 1;
    if (i == l->ncodes) {
        snprintf(l->codes[i].code, sizeof(l->codes[i].code), "%s", code);
        l->ncodes++;
    }
    l->codes[i].count++;
    pthread_mutex_unlock(&l->codes_lock);
}

/* Put into b up to cfg.batch transfers of submitter t's senders, one
 * nonce of each in turn, each within ahead of its committed count; their
 * places in src. Return how many; *left is false when t's senders had
 * nothing left to send. */
static size_t fill_batch(txload_t *l, int t, txbatch_t *b, txref_t *src, bool *left)
{
    const txload_cfg_t *c = &l->cfg;
    size_t n = 0;
    bool added = true;
    *left = false;
    txbatch_clear(b);
    while (added && n < (size_t)c->batch) {
        added = false;
        for (int s = t; s < c->nsenders && n < (size_t)c->batch; s += c->threads) {
            size_t k = l->next[s], i = (size_t)s * c->per_sender + k;
            if (k >= c->per_sender)
                continue;
            *left = true;
            if (k >= atomic_load(&l->committed[s]) + (uint64_t)c->ahead ||
                txbatch_add(b, l->bytes + i * l->slot, l->len[i]) < 0)
                continue;
            src[n++] = (txref_t){ s, k };
            l->next[s] = k + 1;
            added = true;
        }
    }
    return n;
}

/* Whether the node took src's transfer: pending, or it already had it. */
static bool taken(txload_t *l, txref_t r, uint8_t flags, const txbatch_result_t *res)
{
    if (res->pending || r.k < atomic_load(&l->committed[r.s]))
        return true;
    return (flags & POSTED) &&
           (strcmp(res->code, "duplicate") == 0 || strcmp(res->code, "replay") == 0);
}

/* Count the answers to src[n]; a refused transfer is sent again, with
 * every later nonce of its sender. Return true if the node asked for a
 * pause (503, 429, or no answer). */
static bool take_results(txload_t *l, const txref_t *src, size_t n,
                         const txbatch_result_t *res)
{
    bool pause = false;
    for (size_t i = 0; i < n; i++) {
        size_t id = (size_t)src[i].s * l->cfg.per_sender + src[i].k;
        uint8_t f = l->flags[id];
        l->flags[id] |= POSTED;
        if (taken(l, src[i], f, &res[i])) {
            if (!(f & ACCEPTED))
                atomic_fetch_add(&l->submitted, 1);
            l->flags[id] |= ACCEPTED;
            continue;
        }
        atomic_fetch_add(&l->refused, 1);
        count_code(l, res[i].code);
        if (src[i].k < l->next[src[i].s])
            l->next[src[i].s] = src[i].k;
        pause = pause || res[i].http_status == 503 || res[i].http_status == 429 ||
                res[i].http_status == 0;
    }
    return pause;
}

typedef struct {
    txload_t *l;
    int t;
} submitter_t;

static void *submitter(void *arg)
{
    submitter_t *me = arg;
    txload_t *l = me->l;
    txbatch_t *b = txbatch_new(l->cfg.port, l->cfg.batch == 1);
    txref_t *src = calloc((size_t)l->cfg.batch, sizeof(*src));
    txbatch_result_t *res = calloc((size_t)l->cfg.batch, sizeof(*res));
    if (!b || !src || !res) {
        count_code(l, "client_out_of_memory");
        goto out;
    }
    while (!atomic_load(&l->stop_submit)) {
        bool left;
        size_t n = fill_batch(l, me->t, b, src, &left);
        if (n == 0 && !left) {
            atomic_store(&l->exhausted, true);
            break;
        }
        if (n == 0) {
            usleep(1000);
            continue;
        }
        uint64_t now = wall_us();
        for (size_t i = 0; i < n; i++) { /* latency from the first post the node took */
            size_t id = (size_t)src[i].s * l->cfg.per_sender + src[i].k;
            if (!(l->flags[id] & ACCEPTED))
                atomic_store(&l->sent_us[id], now);
        }
        txbatch_post(b, res); /* a failure of the whole request is in each result */
        atomic_fetch_add(&l->requests, 1);
        if (take_results(l, src, n, res))
            usleep(2000);
    }
out:
    txbatch_free(b);
    free(src);
    free(res);
    return NULL;
}

/* ---- the ledger poller ---- */

static int sender_of(const txload_t *l, const char *hex)
{
    sender_key_t key;
    memcpy(key.hex, hex, 64);
    const sender_key_t *k = bsearch(&key, l->keys, (size_t)l->cfg.nsenders, sizeof(*l->keys),
                                    cmp_key);
    return k ? k->s : -1;
}

/* One committed transfer of sender s in a block of time tms. */
static void on_commit(txload_t *l, int s, uint64_t tms)
{
    uint64_t k = atomic_fetch_add(&l->committed[s], 1);
    uint64_t t0 = atomic_load(&l->t0_ms), t1 = atomic_load(&l->t1_ms);
    atomic_fetch_add(&l->committed_all, 1);
    if (tms >= t0 && (t1 == 0 || tms <= t1))
        l->in_window++;
    if (k >= l->cfg.per_sender)
        return;
    uint64_t sent = atomic_load(&l->sent_us[(size_t)s * l->cfg.per_sender + k]);
    double lat = ((double)tms * 1000.0 - (double)sent) / 1000.0;
    if (sent && l->nlat < l->ntx)
        l->lat[l->nlat++] = lat < 0 ? 0 : lat;
}

static void poll_once(txload_t *l, sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT t.rowid, t.sender, b.time_ms FROM txs t "
                                    "JOIN blocks b ON b.height = t.height WHERE t.rowid > ? "
                                    "ORDER BY t.rowid", -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, l->last_rowid);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *hex = (const char *)sqlite3_column_text(st, 1);
        int s = hex && strlen(hex) == 64 ? sender_of(l, hex) : -1;
        l->last_rowid = sqlite3_column_int64(st, 0);
        if (s >= 0)
            on_commit(l, s, (uint64_t)sqlite3_column_int64(st, 2));
    }
out:
    if (rc != SQLITE_DONE)
        l->poll_errors++;
    sqlite3_finalize(st);
}

static void *poller(void *arg)
{
    txload_t *l = arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(l->ledger, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        l->poll_errors++;
        goto out;
    }
    sqlite3_busy_timeout(db, 2000);
    while (!atomic_load(&l->stop_poll)) {
        poll_once(l, db);
        usleep(POLL_US);
    }
    poll_once(l, db);
out:
    sqlite3_close(db);
    return NULL;
}

/* The ledger's last txs row now: what the poller skips. */
static int skip_committed(txload_t *l, char err[TXLOAD_ERR_MAX])
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = -EIO;
    if (sqlite3_open_v2(l->ledger, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT coalesce(max(rowid), 0) FROM txs", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        snprintf(err, TXLOAD_ERR_MAX, "txload: reading %s: %s", l->ledger,
                 db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    l->last_rowid = sqlite3_column_int64(st, 0);
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

int64_t txload_accounts(const char *ledger)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open_v2(ledger, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM accounts", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* ---- the run ---- */

static double cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Wait for the window to pass, or the load to run out; close it. */
static void wait_window(txload_t *l, double seconds)
{
    uint64_t end = clock_mono_us() + (uint64_t)(seconds * 1e6);
    double cpu0 = cpu_s();
    while (clock_mono_us() < end && !atomic_load(&l->exhausted))
        usleep(10000);
    atomic_store(&l->t1_ms, wall_us() / 1000);
    l->cpu_s = cpu_s() - cpu0;
}

/* Wait for what was accepted to commit, at most drain_s. */
static void drain(txload_t *l, double drain_s)
{
    uint64_t end = clock_mono_us() + (uint64_t)(drain_s * 1e6);
    while (atomic_load(&l->committed_all) < atomic_load(&l->submitted) &&
           clock_mono_us() < end)
        usleep(POLL_US);
}

static void fill_result(const txload_t *l, txload_result_t *out)
{
    memset(out, 0, sizeof(*out));
    out->t0_ms = atomic_load(&l->t0_ms);
    out->t1_ms = atomic_load(&l->t1_ms);
    out->window_s = (double)(out->t1_ms - out->t0_ms) / 1000.0;
    out->presigned = l->ntx;
    out->submitted = atomic_load(&l->submitted);
    out->committed = atomic_load(&l->committed_all);
    out->in_window = l->in_window;
    out->refused = atomic_load(&l->refused);
    out->requests = atomic_load(&l->requests);
    out->client_cpu_s = l->cpu_s;
    out->exhausted = atomic_load(&l->exhausted);
    out->lat_ms = l->lat;
    out->nlat = l->nlat;
    memcpy(out->codes, l->codes, sizeof(out->codes));
    out->ncodes = l->ncodes;
    out->poll_errors = l->poll_errors;
}

int txload_run(txload_t *l, double seconds, double drain_s, txload_result_t *out,
               char err[TXLOAD_ERR_MAX])
{
    pthread_t poll, th[MAX_THREADS];
    submitter_t me[MAX_THREADS];
    int rc = -EINVAL, nth = 0;
    bool polling = false;
    if (atomic_exchange(&l->ran, true)) {
        snprintf(err, TXLOAD_ERR_MAX, "txload: a load runs once");
        return rc;
    }
    if ((rc = skip_committed(l, err)) < 0)
        goto out;
    rc = -EAGAIN;
    if (pthread_create(&poll, NULL, poller, l) != 0) {
        snprintf(err, TXLOAD_ERR_MAX, "txload: cannot start the ledger poller");
        goto out;
    }
    polling = true;
    atomic_store(&l->t0_ms, wall_us() / 1000);
    for (; nth < l->cfg.threads; nth++) {
        me[nth] = (submitter_t){ l, nth };
        if (pthread_create(&th[nth], NULL, submitter, &me[nth]) != 0) {
            snprintf(err, TXLOAD_ERR_MAX, "txload: cannot start submitter %d", nth);
            goto out;
        }
    }
    wait_window(l, seconds);
    atomic_store(&l->stop_submit, true);
    for (; nth > 0; nth--)
        pthread_join(th[nth - 1], NULL);
    drain(l, drain_s);
    rc = 0;
out:
    atomic_store(&l->stop_submit, true);
    for (; nth > 0; nth--)
        pthread_join(th[nth - 1], NULL);
    atomic_store(&l->stop_poll, true);
    if (polling)
        pthread_join(poll, NULL);
    if (rc == 0)
        fill_result(l, out);
    return rc;
}
