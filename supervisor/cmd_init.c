#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adnet_build.h"
#include "common/base/clock.h"
#include "common/base/config.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "common/base/keys.h"
#include "common/store/genesis.h"
#include "supervisor/cli.h"
#include "supervisor/node_chains.h"

#define GENESIS_SUPPLY 1000000000000ULL /* per chain, to the validator, on devnet */

static int fail(const char *what, const char *path, int r)
{
    fprintf(stderr, "adnet init: %s %s: %s\n", what, path, strerror(-r));
    return -r == EEXIST ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
}

/* Keep an old ledger (and its WAL) under a .bak name: --force never deletes data. */
static int keep_old_ledger(const char *home, const char *chain, long stamp)
{
    static const char *const suffix[] = { "", "-wal", "-shm" };
    for (int i = 0; i < 3; i++) {
        char from[PATH_MAX], to[PATH_MAX];
        if (fs_path(from, sizeof(from), "%s/%s/ledger.db%s", home, chain, suffix[i]) < 0 ||
            fs_path(to, sizeof(to), "%s/%s/ledger.db.%ld.bak%s", home, chain, stamp, suffix[i]) < 0)
            return -ENAMETOOLONG;
        if (!fs_exists(from))
            continue;
        if (rename(from, to) < 0)
            return -errno;
        printf("kept old ledger   %s\n", to);
    }
    return 0;
}

/* The genesis balances: the validator's own (inline, when list is NULL),
 * or n of them in a balances file that init_balances_file writes. */
typedef struct {
    genesis_balance_t validator;
    genesis_balance_t *list;   /* sorted, the validator's included; NULL: inline */
    size_t n;
} init_balances_t;

static void genesis_fill(genesis_t *g, const char *chain, const keys_pair_t *key, uint64_t now,
                         init_balances_t *b)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->chain_id, sizeof(g->chain_id), "adnet-%s-%s", ADNET_NETWORK, chain);
    snprintf(g->chain, sizeof(g->chain), "%s", chain);
    snprintf(g->network, sizeof(g->network), "%s", ADNET_NETWORK);
    g->genesis_time_ms = now;
    g->protocol_version = 1;
    genesis_params_default(g);
    /* Each chain's own params (alpha-worker/alpha_chain.h, delta-worker/delta_chain.h):
     * on a devnet the node's own key mints on alpha; delta unbonds in 10 blocks. */
    if (strcmp(chain, "alpha") == 0)
        genesis_param_set_hex(g, "minter", key->pk, BLOCK_KEY_LEN);
    else
        genesis_param_set_u64(g, "unbonding_blocks", 10);
    g->n_validators = 1;
    snprintf(g->validators[0].name, sizeof(g->validators[0].name), "validator");
    memcpy(g->validators[0].pk, key->pk, BLOCK_KEY_LEN);
    g->validators[0].power = 10;
    /* A devnet's one node governs too; testnets list their governors. */
    g->n_governors = 1;
    memcpy(g->governors[0], key->pk, BLOCK_KEY_LEN);
    if (!b->list) {
        g->n_balances = 1;
        g->balances = &b->validator;
    }
}

/* Write b's list as <home>/<chain>/balances.jsonl and name it in g. */
static int write_balances(const char *home, genesis_t *g, const init_balances_t *b, bool force)
{
    char path[PATH_MAX], hex[2 * BLOCK_HASH_LEN + 1];
    int r;
    if (fs_path(path, sizeof(path), "%s/%s/%s", home, g->chain, GENESIS_BALANCES_FILE) < 0)
        return ADNET_EXIT_CONFIG;
    if ((r = genesis_balances_write(path, b->list, b->n, force, g->balances_hash)) < 0)
        return fail("cannot write", path, r);
    snprintf(g->balances_file, sizeof(g->balances_file), "%s", GENESIS_BALANCES_FILE);
    g->n_balances = b->n;
    hex_encode(hex, g->balances_hash, BLOCK_HASH_LEN);
    printf("wrote balances    %s (%zu balances, BLAKE2b-256 %s)\n", path, b->n, hex);
    return ADNET_EXIT_OK;
}

/* Write g as <home>/<chain>/genesis.json (after its balances file, if
 * any) and say so. Return an exit code. */
static int write_genesis(const char *home, genesis_t *g, const init_balances_t *b, bool force)
{
    char path[PATH_MAX], hex[2 * BLOCK_HASH_LEN + 1];
    int r, rc;
    if (b->list && (rc = write_balances(home, g, b, force)) != ADNET_EXIT_OK)
        return rc;
    if (fs_path(path, sizeof(path), "%s/%s/genesis.json", home, g->chain) < 0)
        return ADNET_EXIT_CONFIG;
    if ((r = genesis_save(g, path, force)) < 0)
        return fail("cannot write", path, r);
    hex_encode(hex, g->hash, BLOCK_HASH_LEN);
    printf("wrote genesis     %s (chain %s, hash %s)\n", path, g->chain_id, hex);
    return ADNET_EXIT_OK;
}

/* Both genesis files; delta's names alpha's. Return an exit code. */
static int write_genesis_files(const char *home, const keys_pair_t *key, uint64_t now,
                               init_balances_t *b, bool force)
{
    genesis_t *alpha = malloc(sizeof(*alpha)), *delta = malloc(sizeof(*delta));
    int rc = ADNET_EXIT_SYSTEM;

    if (!alpha || !delta)
        goto out;
    genesis_fill(alpha, "alpha", key, now, b);
    if ((rc = write_genesis(home, alpha, b, force)) != ADNET_EXIT_OK)
        goto out;
    genesis_fill(delta, "delta", key, now, b);
    delta->has_peer_genesis = 1;
    snprintf(delta->peer_chain, sizeof(delta->peer_chain), "alpha");
    memcpy(delta->peer_genesis_hash, alpha->hash, BLOCK_HASH_LEN);
    rc = write_genesis(home, delta, b, force);
out:
    free(alpha);
    free(delta);
    return rc;
}

/* The home's folders, its old ledgers kept aside, and adnet.yaml. */
static int init_home(const char *home, bool force, uint64_t now)
{
    static const char *const dirs[] = { "", "/keys", "/alpha", "/delta", "/run" };
    char path[PATH_MAX];
    int r;

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (fs_path(path, sizeof(path), "%s%s", home, dirs[i]) < 0)
            return ADNET_EXIT_CONFIG;
        if ((r = fs_mkdir_p(path, 0700)) < 0)
            return fail("cannot create", path, r);
    }
    if ((r = keep_old_ledger(home, "alpha", (long)(now / 1000))) < 0 ||
        (r = keep_old_ledger(home, "delta", (long)(now / 1000))) < 0)
        return fail("cannot move old ledger in", home, r);
    fs_path(path, sizeof(path), "%s/adnet.yaml", home);
    if (force)
        unlink(path);
    if ((r = config_write_default(path, node_chains, N_NODE_CHAINS)) < 0)
        return fail("cannot write", path, r);
    printf("wrote config      %s\n", path);
    return ADNET_EXIT_OK;
}

/* Read and check the operator's balances (with the validator's own) before
 * anything is written. Return an exit code. */
static int read_balances(const char *file, init_balances_t *b)
{
    char err[GENESIS_ERR_MAX];
    int r = genesis_balances_import(file, &b->validator, 1, &b->list, &b->n, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "adnet init: --balances %s\n", err);
        return r == -EINVAL || r == -ENOENT ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
    }
    return ADNET_EXIT_OK;
}

int cmd_init(const char *home, bool force, const char *balances)
{
    char path[PATH_MAX], hex[2 * BLOCK_HASH_LEN + 1];
    init_balances_t b;
    keys_pair_t key;
    int r, rc;

    memset(&b, 0, sizeof(b));
    if (fs_path(path, sizeof(path), "%s/adnet.yaml", home) < 0) {
        fprintf(stderr, "adnet init: home path too long\n");
        return ADNET_EXIT_CONFIG;
    }
    if (fs_exists(path) && !force) {
        fprintf(stderr, "adnet init: %s already holds a node (%s exists); use --force to "
                "re-initialize it (old ledgers are kept as .bak files)\n", home, path);
        return ADNET_EXIT_CONFIG;
    }
    if ((r = keys_generate(&key, "validator")) < 0)
        return fail("cannot generate", "the validator key", r);
    memcpy(b.validator.owner, key.pk, BLOCK_KEY_LEN);
    snprintf(b.validator.asset, sizeof(b.validator.asset), "%s", GENESIS_DEFAULT_FEE_ASSET);
    b.validator.amount = GENESIS_SUPPLY;
    uint64_t now = clock_wall_ms();
    if ((balances && (rc = read_balances(balances, &b)) != ADNET_EXIT_OK) ||
        (rc = init_home(home, force, now)) != ADNET_EXIT_OK)
        goto out;
    fs_path(path, sizeof(path), "%s/keys/validator.json", home);
    if ((r = keys_save(&key, path, force)) < 0) {
        rc = fail("cannot write", path, r);
        goto out;
    }
    hex_encode(hex, key.pk, BLOCK_KEY_LEN);
    printf("wrote key         %s (mode 0600, public key %s)\n", path, hex);
    if ((rc = write_genesis_files(home, &key, now, &b, force)) == ADNET_EXIT_OK)
        printf("\nStart the node with:  adnet run --home %s\n", home);
out:
    keys_wipe(&key);
    free(b.list);
    return rc;
}
