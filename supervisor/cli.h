/* The adnet command line: one function per verb, each returning a
 * process exit code from common/exitcode.h. */
#ifndef ADNET_CLI_H
#define ADNET_CLI_H

#include <stdbool.h>

/* `adnet init`: make home with adnet.yaml, a validator key and both
 * genesis files; refuse an existing home unless force (which keeps old
 * ledgers under a .bak name rather than deleting them). With balances (a
 * JSON-lines file, or NULL), each chain's genesis names a canonical
 * balances.jsonl made from it, checked before anything is written. */
int cmd_init(const char *home, bool force, const char *balances);

/* `adnet status`, `adnet restart NAME`, `adnet stop`: talk to the
 * supervisor of home over its control socket. */
int cmd_status(const char *home, bool json);
int cmd_restart(const char *home, const char *worker);
int cmd_stop(const char *home, bool wait);

/* Verbs that parse their own arguments (argv[0] is the verb):
 *   adnet keys new|show|list ...        (supervisor/cmd_keys.c)
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

#endif
