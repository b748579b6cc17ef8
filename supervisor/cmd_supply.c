/* `adnet supply --home DIR [--json]`: check that value is conserved across
 * the bridge. Value leaves a chain only by a bridge transfer (burnt on the
 * source, credited once on the destination), so for every asset
 *   alpha supply + delta supply + in flight == genesis total
 * where in flight is what one chain burnt and the other has not credited
 * yet, and the genesis total is both geneses' balances plus what alpha's
 * mint transactions issued. Both chains' GET /supply are read as a pair at
 * one alpha height (alpha, delta, alpha again, retried while alpha moves):
 * alpha read first, delta cannot have credited a burn alpha does not show
 * yet, and alpha cannot have credited a bridge_out delta does not show. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/store/genesis.h"
#include "proto/tx.h"
#include "supervisor/cli.h"
#include "supervisor/cliopt.h"
#include "supervisor/httpc.h"

#define SUPPLY_TRIES 20           /* pair reads before giving up on a moving alpha */
#define SUPPLY_TIMEOUT_MS 10000   /* one HTTP request at most */
#define SUPPLY_HOLDS 0            /* exit codes: the equation holds for every asset */
#define SUPPLY_MISMATCH 1         /* ... or not */

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

/* The terms read for one asset; each a sum of values of at most 2^63-1. */
enum {
    T_ALPHA_SUPPLY,        /* alpha supply: unspent records */
    T_ALPHA_BURNED,        /* alpha burned: bridged out to delta */
    T_ALPHA_MINTED,        /* alpha minted: issued by mint transactions */
    T_ALPHA_BRIDGE_MINTED, /* alpha bridge_in.minted: credited from delta */
    T_DELTA_TOTAL,         /* delta supply.total */
    T_DELTA_BRIDGED_OUT,   /* delta supply.bridged_out: bridged out to alpha */
    T_DELTA_BRIDGE_MINTED, /* delta bridge_in.minted: credited from alpha */
    T_GENESIS,             /* both geneses' balances */
    T_N,
};

typedef struct {
    char asset[GENESIS_ASSET_MAX + 1];
    i128 t[T_N];
} supply_row_t;

typedef struct {
    supply_row_t *rows; /* one per asset met; owned */
    size_t n, cap;
    char home[PATH_MAX];
    bool json;
} supply_t;

static const struct option supply_opts[] = {
    { "home", required_argument, NULL, 'H' },
    { "json", no_argument, NULL, 'j' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void supply_usage(FILE *f)
{
    fprintf(f,
        "usage: adnet supply --home DIR [--json]\n"
        "\n"
        "Check that the bridge conserves value: for each asset,\n"
        "  alpha supply + delta supply + in flight == genesis total\n"
        "alpha supply: alpha's unspent records; delta supply: delta's total (balances,\n"
        "pools, staked, unbonding); in flight alpha->delta: alpha's burned minus what\n"
        "delta credited; in flight delta->alpha: delta's bridged_out minus what alpha\n"
        "credited (below 0 is a mismatch); genesis total: both chains' genesis balances\n"
        "plus what alpha's mint transactions issued. Both GET /supply are read as a pair\n"
        "at one alpha height (alpha, delta, alpha again; up to %d tries while alpha\n"
        "moves). The genesis balances are streamed once per run: O(genesis accounts).\n"
        "Exit codes: 0 it holds for every asset, 1 it does not, 100 usage error or not a\n"
        "node home, 111 a chain unreachable (node not running) or moving too fast.\n",
        SUPPLY_TRIES);
}

static const char *i128_str(i128 v, char buf[48])
{
    char tmp[48];
    size_t n = 0;
    bool neg = v < 0;
    u128 u = neg ? -(u128)v : (u128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    size_t k = 0;
    if (neg)
        buf[k++] = '-';
    while (n)
        buf[k++] = tmp[--n];
    buf[k] = '\0';
    return buf;
}

/* A JSON integer, or the decimal string of a value beyond 64 bits. */
static json_t *i128_json(i128 v)
{
    char buf[48];
    if (v >= INT64_MIN && v <= INT64_MAX)
        return json_integer((json_int_t)v);
    return json_string(i128_str(v, buf));
}

/* The row of asset, made with zeros if new; NULL when out of memory. */
static supply_row_t *row_of(supply_t *s, const char *asset)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->rows[i].asset, asset) == 0)
            return &s->rows[i];
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        supply_row_t *v = realloc(s->rows, cap * sizeof(*v));
        if (!v)
            return NULL;
        s->rows = v;
        s->cap = cap;
    }
    supply_row_t *r = &s->rows[s->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->asset, sizeof(r->asset), "%s", asset);
    return r;
}

static int balance_ignore(void *ctx, uint64_t index, const genesis_balance_t *b, char *err,
                          size_t errlen)
{
    (void)ctx, (void)index, (void)b, (void)err, (void)errlen;
    return 0;
}

/* Add chain's genesis balances per asset to T_GENESIS. Return -1, or an exit code. */
static int add_genesis(supply_t *s, const char *chain)
{
    char path[PATH_MAX], err[GENESIS_ERR_MAX] = "";
    genesis_totals_t tot = { 0 };
    genesis_t *g = malloc(sizeof(*g));
    int rc = ADNET_EXIT_SYSTEM, r;
    if (!g)
        goto out;
    if ((r = fs_path(path, sizeof(path), "%s/%s/genesis.json", s->home, chain)) < 0 ||
        (r = genesis_load(g, path, chain, err)) < 0 ||
        (r = genesis_balances_foreach(g, balance_ignore, NULL, NULL, &tot, err,
                                      sizeof(err))) < 0) {
        fprintf(stderr, "adnet supply: %s genesis: %s\n", chain, err[0] ? err : strerror(-r));
        rc = r == -EINVAL || r == -ENOENT || r == -ENAMETOOLONG ? ADNET_EXIT_CONFIG
                                                                : ADNET_EXIT_SYSTEM;
        goto out;
    }
    for (size_t i = 0; i < tot.n; i++) {
        supply_row_t *row = row_of(s, tot.v[i].asset);
        if (!row)
            goto out;
        row->t[T_GENESIS] += tot.v[i].amount;
    }
    rc = -1;
out:
    genesis_totals_free(&tot);
    free(g);
    return rc;
}

/* Add, for each asset of the map doc[field] (absent or null: none), its
 * value (sub NULL) or its value's member sub (absent: 0) to term t. A value
 * that is not a whole number 0..2^63-1 is an answer we cannot trust.
 * Return -1, or an exit code (reported). */
static int add_map(supply_t *s, const char *chain, const json_t *doc, const char *field,
                   const char *sub, int t)
{
    const json_t *m = json_object_get(doc, field), *v;
    const char *asset;
    if (!m || json_is_null(m))
        return -1;
    if (!json_is_object(m))
        goto bad;
    json_object_foreach((json_t *)m, asset, v) {
        if (strlen(asset) > GENESIS_ASSET_MAX || !tx_asset_is_valid(asset))
            goto bad;
        const json_t *n = sub ? json_object_get(v, sub) : v;
        if (sub && !json_is_object(v))
            goto bad;
        if (!n)
            continue;
        if (!json_is_integer(n) || json_integer_value(n) < 0)
            goto bad;
        supply_row_t *row = row_of(s, asset);
        if (!row)
            return ADNET_EXIT_SYSTEM;
        row->t[t] += json_integer_value(n);
    }
    return -1;
bad:
    fprintf(stderr, "adnet supply: %s GET /supply: \"%s\" is not a map of assets to whole "
            "numbers%s%s\n", chain, field, sub ? " under " : "", sub ? sub : "");
    return ADNET_EXIT_SYSTEM;
}

/* GET /supply of chain through h; return -1 with *out (owned by the caller)
 * and *height, or an exit code (reported). */
static int supply_get(httpc_t *h, const char *chain, json_t **out, uint64_t *height)
{
    httpc_response_t res;
    int r = httpc_get(h, "/supply", &res);
    if (r < 0) {
        fprintf(stderr, "adnet supply: %s unreachable: %s%s\n", chain, httpc_error(h),
                r == -ECONNREFUSED ? " (is the node running? adnet run)" : "");
        return ADNET_EXIT_SYSTEM;
    }
    int rc = ADNET_EXIT_SYSTEM;
    const json_t *hv = json_object_get(res.json, "height");
    if (res.status != 200 || !json_is_object(res.json))
        fprintf(stderr, "adnet supply: %s GET /supply: HTTP %ld%s\n", chain, res.status,
                res.json ? "" : ", not JSON");
    else if (!json_is_integer(hv) || json_integer_value(hv) < 0)
        fprintf(stderr, "adnet supply: %s GET /supply: no height in the answer\n", chain);
    else {
        *height = (uint64_t)json_integer_value(hv);
        *out = json_incref(res.json);
        rc = -1;
    }
    httpc_response_clear(&res);
    return rc;
}

/* Read alpha, delta, then alpha again until alpha's height stayed put;
 * return -1 with *a and *d (owned by the caller) and their heights, or an
 * exit code (reported). */
static int read_pair(httpc_t *ha, httpc_t *hd, json_t **a, json_t **d, uint64_t *ah,
                     uint64_t *dh)
{
    json_t *a1 = NULL, *dd = NULL, *a2 = NULL;
    uint64_t h1 = 0, h2 = 0, hdd = 0;
    int rc = -1;
    for (int i = 0; i < SUPPLY_TRIES; i++) {
        json_decref(a1);
        json_decref(dd);
        json_decref(a2);
        a1 = dd = a2 = NULL;
        if ((rc = supply_get(ha, "alpha", &a1, &h1)) >= 0 ||
            (rc = supply_get(hd, "delta", &dd, &hdd)) >= 0 ||
            (rc = supply_get(ha, "alpha", &a2, &h2)) >= 0)
            goto out;
        if (h1 == h2) {
            *a = a2;
            *d = dd;
            *ah = h2;
            *dh = hdd;
            a2 = dd = NULL;
            rc = -1;
            goto out;
        }
    }
    fprintf(stderr, "adnet supply: alpha moved during each of %d reads of both chains: the "
            "chains move too fast for a consistent pair; try again\n", SUPPLY_TRIES);
    rc = ADNET_EXIT_SYSTEM;
out:
    json_decref(a1);
    json_decref(dd);
    json_decref(a2);
    return rc;
}

/* Add both chains' /supply terms to s. Return -1, or an exit code (reported). */
static int add_chains(supply_t *s, const json_t *a, const json_t *d)
{
    int rc;
    if ((rc = add_map(s, "alpha", a, "supply", NULL, T_ALPHA_SUPPLY)) >= 0 ||
        (rc = add_map(s, "alpha", a, "burned", NULL, T_ALPHA_BURNED)) >= 0 ||
        (rc = add_map(s, "alpha", a, "minted", NULL, T_ALPHA_MINTED)) >= 0 ||
        (rc = add_map(s, "alpha", a, "bridge_in", "minted", T_ALPHA_BRIDGE_MINTED)) >= 0 ||
        (rc = add_map(s, "delta", d, "supply", "total", T_DELTA_TOTAL)) >= 0 ||
        (rc = add_map(s, "delta", d, "supply", "bridged_out", T_DELTA_BRIDGED_OUT)) >= 0 ||
        (rc = add_map(s, "delta", d, "bridge_in", "minted", T_DELTA_BRIDGE_MINTED)) >= 0)
        return rc;
    return -1;
}

/* What the equation says for one asset. */
typedef struct {
    i128 in_ad, in_da; /* in flight alpha->delta, delta->alpha */
    i128 sum, total;   /* left side; genesis balances + alpha minted */
    bool holds;
} supply_check_t;

static supply_check_t row_check(const supply_row_t *r)
{
    supply_check_t k;
    k.in_ad = r->t[T_ALPHA_BURNED] - r->t[T_DELTA_BRIDGE_MINTED];
    k.in_da = r->t[T_DELTA_BRIDGED_OUT] - r->t[T_ALPHA_BRIDGE_MINTED];
    k.sum = r->t[T_ALPHA_SUPPLY] + r->t[T_DELTA_TOTAL] + k.in_ad + k.in_da;
    k.total = r->t[T_GENESIS] + r->t[T_ALPHA_MINTED];
    k.holds = k.sum == k.total && k.in_ad >= 0 && k.in_da >= 0;
    return k;
}

static int row_cmp(const void *x, const void *y)
{
    return strcmp(((const supply_row_t *)x)->asset, ((const supply_row_t *)y)->asset);
}

/* One term: "  what  v", and with la, how it is made: "(la x op lb y)". */
static void print_line(const char *what, i128 v, const char *la, i128 x, const char *op,
                       const char *lb, i128 y)
{
    char b[3][48];
    printf("  %-26s %24s", what, i128_str(v, b[0]));
    if (la)
        printf("   (%s %s %s %s %s)", la, i128_str(x, b[1]), op, lb, i128_str(y, b[2]));
    putchar('\n');
}

/* The table; return whether the equation holds for every asset. */
static bool print_table(const supply_t *s, uint64_t ah, uint64_t dh)
{
    bool all = true;
    char b[48];
    printf("supply at alpha height %" PRIu64 ", delta height %" PRIu64 "\n", ah, dh);
    for (size_t i = 0; i < s->n; i++) {
        const supply_row_t *r = &s->rows[i];
        supply_check_t k = row_check(r);
        all = all && k.holds;
        printf("%s\n", r->asset);
        print_line("alpha supply", r->t[T_ALPHA_SUPPLY], NULL, 0, NULL, NULL, 0);
        print_line("delta supply", r->t[T_DELTA_TOTAL], NULL, 0, NULL, NULL, 0);
        print_line("in flight alpha -> delta", k.in_ad, "burned", r->t[T_ALPHA_BURNED], "-",
                   "credited on delta", r->t[T_DELTA_BRIDGE_MINTED]);
        print_line("in flight delta -> alpha", k.in_da, "bridged out", r->t[T_DELTA_BRIDGED_OUT],
                   "-", "credited on alpha", r->t[T_ALPHA_BRIDGE_MINTED]);
        print_line("sum", k.sum, NULL, 0, NULL, NULL, 0);
        print_line("genesis total", k.total, "genesis balances", r->t[T_GENESIS], "+",
                   "minted", r->t[T_ALPHA_MINTED]);
        if (k.holds)
            printf("  OK\n");
        else if (k.sum != k.total)
            printf("  MISMATCH: sum - genesis total = %s\n", i128_str(k.sum - k.total, b));
        else
            printf("  MISMATCH: an in-flight term is below 0\n");
    }
    printf("%s\n", all ? "holds for every asset" : "DOES NOT HOLD");
    return all;
}

/* The --json object; return whether the equation holds for every asset, or -1. */
static int print_json(const supply_t *s, uint64_t ah, uint64_t dh)
{
    json_t *o = json_pack("{s:I, s:I, s:{}}", "alpha_height", (json_int_t)ah, "delta_height",
                          (json_int_t)dh, "assets");
    json_t *assets = json_object_get(o, "assets");
    bool all = true;
    int rc = -1;
    for (size_t i = 0; o && i < s->n; i++) {
        const supply_row_t *r = &s->rows[i];
        supply_check_t k = row_check(r);
        all = all && k.holds;
        json_t *e = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
                              "alpha_supply", i128_json(r->t[T_ALPHA_SUPPLY]),
                              "delta_supply", i128_json(r->t[T_DELTA_TOTAL]),
                              "in_flight_alpha_to_delta", i128_json(k.in_ad),
                              "in_flight_delta_to_alpha", i128_json(k.in_da),
                              "sum", i128_json(k.sum),
                              "genesis_balances", i128_json(r->t[T_GENESIS]),
                              "alpha_minted", i128_json(r->t[T_ALPHA_MINTED]),
                              "genesis_total", i128_json(k.total),
                              "difference", i128_json(k.sum - k.total),
                              "holds", k.holds);
        if (!e || json_object_set_new(assets, r->asset, e) < 0)
            goto out;
    }
    if (!o || json_object_set_new(o, "holds", json_boolean(all)) < 0 ||
        json_dumpf(o, stdout, JSON_COMPACT) < 0 || fputc('\n', stdout) == EOF)
        goto out;
    rc = all;
out:
    json_decref(o);
    return rc;
}

/* Parse argv into s. Return -1 to go on, or an exit code. */
static int supply_parse(supply_t *s, int argc, char **argv)
{
    const char *home = getenv("ADNET_HOME");
    struct stat st;
    char yaml[PATH_MAX];
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", supply_opts, NULL)) != -1) {
        if (o == 'h') {
            supply_usage(stdout);
            return ADNET_EXIT_OK;
        } else if (o == 'H') {
            home = optarg;
        } else if (o == 'j') {
            s->json = true;
        } else {
            return cliopt_fail("supply", supply_opts, o, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "adnet supply: unexpected argument \"%s\"\n", argv[optind]);
        return ADNET_EXIT_CONFIG;
    }
    if (!home || !*home) {
        fprintf(stderr, "adnet supply: no node home: pass --home DIR or set ADNET_HOME\n");
        return ADNET_EXIT_CONFIG;
    }
    if (!realpath(home, s->home)) {
        fprintf(stderr, "adnet supply: %s: %s\n", home, strerror(errno));
        return ADNET_EXIT_CONFIG;
    }
    if (stat(s->home, &st) < 0 || !S_ISDIR(st.st_mode) ||
        fs_path(yaml, sizeof(yaml), "%s/adnet.yaml", s->home) < 0 || !fs_exists(yaml)) {
        fprintf(stderr, "adnet supply: %s is not a node home (it has no adnet.yaml)\n",
                s->home);
        return ADNET_EXIT_CONFIG;
    }
    return -1;
}

/* A client of chain's API; return -1 with *h, or an exit code (reported). */
static int supply_client(const supply_t *s, const char *chain, httpc_t **h)
{
    char base[HTTPC_URL_MAX];
    int rc = cli_api_base("supply", s->home, chain, base, sizeof(base));
    if (rc >= 0)
        return rc;
    if (httpc_new(h, base, SUPPLY_TIMEOUT_MS) < 0) {
        fprintf(stderr, "adnet supply: cannot make an HTTP client\n");
        return ADNET_EXIT_SYSTEM;
    }
    return -1;
}

int cmd_supply(int argc, char **argv)
{
    supply_t s;
    httpc_t *ha = NULL, *hd = NULL;
    json_t *a = NULL, *d = NULL;
    uint64_t ah = 0, dh = 0;
    int rc;
    memset(&s, 0, sizeof(s));
    if ((rc = supply_parse(&s, argc, argv)) >= 0)
        goto out;
    if ((rc = add_genesis(&s, "alpha")) >= 0 || (rc = add_genesis(&s, "delta")) >= 0 ||
        (rc = supply_client(&s, "alpha", &ha)) >= 0 ||
        (rc = supply_client(&s, "delta", &hd)) >= 0 ||
        (rc = read_pair(ha, hd, &a, &d, &ah, &dh)) >= 0 || (rc = add_chains(&s, a, d)) >= 0)
        goto out;
    qsort(s.rows, s.n, sizeof(s.rows[0]), row_cmp);
    int holds = s.json ? print_json(&s, ah, dh) : print_table(&s, ah, dh);
    if (holds < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "adnet supply: cannot write the result\n");
        rc = ADNET_EXIT_SYSTEM;
        goto out;
    }
    rc = holds ? SUPPLY_HOLDS : SUPPLY_MISMATCH;
out:
    json_decref(a);
    json_decref(d);
    httpc_free(ha);
    httpc_free(hd);
    free(s.rows);
    return rc;
}
