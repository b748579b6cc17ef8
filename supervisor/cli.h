/* The adnet command line: one function per verb, each returning a
 * process exit code from common/exitcode.h. */
#ifndef ADNET_CLI_H
#define ADNET_CLI_H

#include <stdbool.h>

#include <stddef.h>

#define INIT_ASSETS_MAX 16

/* What `adnet init` was asked for. */
typedef struct {
    bool force;                           /* re-initialize a home that has adnet.yaml */
    const char *balances;                 /* --balances FILE, or NULL */
    const char *assets[INIT_ASSETS_MAX];  /* --asset SYMBOL=AMOUNT, as typed */
    size_t nassets;
    size_t governors;                     /* --governors N (1..128): keys gov1..govN govern
                                             both chains; 0: the validator key does */
} init_opts_t;

/* `adnet init`: make home with adnet.yaml, a validator key and both
 * genesis files, everything checked before anything is written. A key
 * file already at keys/validator.json is kept as it is (and used); no
 * key is ever replaced. An existing home (adnet.yaml) is refused unless
 * o->force, which moves the old adnet.yaml, genesis and balances files
 * and ledgers aside under NAME.<UTC time>.bak names, never deleting
 * them; a home whose node runs is refused. With o->balances (a JSON-lines
 * file), each chain's genesis names a canonical balances.jsonl made from
 * it; each o->assets entry gives the validator key a delta genesis
 * balance. With o->governors, keys/gov1.json..govN.json are made (an
 * existing one is kept and used, as the validator key is) and both
 * geneses list them as the governors instead of the validator key. Both
 * geneses list the built-in programs (gov_builtins). */
int cmd_init(const char *home, const init_opts_t *o);

/* `adnet status`, `adnet restart NAME`, `adnet stop`: talk to the
 * supervisor of home over its control socket. A node that is not running
 * is said so: an error for status and restart (111), not for stop (0).
 * restart with wait returns once the new worker is running (0) or has
 * failed (111). */
int cmd_status(const char *home, bool json);
int cmd_restart(const char *home, const char *worker, bool wait);
int cmd_stop(const char *home, bool wait);

/* Verbs that parse their own arguments (argv[0] is the verb):
 *   adnet keys new|show|list|export|import ... (supervisor/cmd_keys.c)
 *   adnet tx KIND ...                   (supervisor/cmd_tx.c)
 *   adnet query WHAT ...                (supervisor/cmd_tx.c)
 *   adnet verify-proof FILE|-           (supervisor/cmd_proof.c)
 *   adnet verify-ledger --home DIR --chain C (supervisor/cmd_verify.c: execs the
 *                                       chain's worker with --verify-ledger) */
int cmd_keys(int argc, char **argv);
int cmd_tx(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_verify_proof(int argc, char **argv);
int cmd_verify_ledger(int argc, char **argv);
/*   adnet backup --home DIR --out PATH [--with-keys]
 *   adnet restore --home DIR PATH       (supervisor/cmd_backup.c) */
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
/*   adnet supply --home DIR [--json]   (supervisor/cmd_supply.c: the bridge
 *                                       conservation check across both chains) */
int cmd_supply(int argc, char **argv);
/*   adnet genesis sign|verify --home DIR --chain C ... (supervisor/cmd_genesis.c:
 *                                       governors' signatures of a genesis) */
int cmd_genesis(int argc, char **argv);
/*   adnet gov propose|sign|attest|vote|shadow|show|list|apply ... --chain C --home DIR
 *                                       (supervisor/cmd_gov.c: governance proposals,
 *                                       governors' signatures and votes; docs/cli.md) */
int cmd_gov(int argc, char **argv);

/* Find chain's API of the node home (absolute path) as `adnet run` does
 * (adnet.yaml, then ADNET_<CHAIN>_API_LISTEN) and write its base URL
 * "http://host:port" into base[cap]. Return -1 on success, or an exit
 * code with the reason printed as "adnet verb: ..." (supervisor/cmd_tx.c). */
int cli_api_base(const char *verb, const char *home, const char *chain, char *base, size_t cap);

#endif
