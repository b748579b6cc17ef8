/* The governance verifier stage: nothing governed reaches a chain's state
 * without the approval of its governors. Every transaction passes through
 * gov_tx, at admission and when a block is built or checked; only the
 * governance kinds (proto/gov.h, GOV_KIND_*) do anything here, and no
 * chain code sees them.
 *
 * A proposal (gov_propose, by a governor or a validator) names one action
 * and the base it was made against; it is approved by an attestation of
 * enough governors (gov_attest) or by their votes (gov_vote) before its
 * voting period ends, then applied at its activation height, or at once
 * when it has none; otherwise it is rejected or expires. Every step is a
 * row of gov_journal with a receipt. Approval counts when
 * yes * 10000 >= threshold_bps * governors. The tables (GOVTAB_SQL_V1,
 * docs/ledger.md) are written inside the block's transaction, so a crash
 * leaves them at a block boundary like the rest of the ledger. */
#ifndef ADNET_GOV_H
#define ADNET_GOV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/metrics.h"
#include "common/base/reject.h"
#include "common/store/genesis.h"
#include "common/store/sql.h"
#include "proto/gov.h"
#include "proto/tx.h"

/* The tables, a migration each chain's schema appends. */
extern const char GOVTAB_SQL_V1[];

#define GOV_ERR_MAX 512
/* Proposals a block expires or applies at most (the rest wait a block). */
#define GOV_PER_BLOCK 64
/* Refusals journalled per proposal at most (more are only counted). */
#define GOV_JOURNAL_REFUSALS_MAX 256

typedef struct gov gov_t;

/* Check g's governance (governors, threshold, its programs, or the
 * built-in ones when it lists none: each must load) and, on a ledger whose
 * governance tables are still empty (new, or migrated from before them),
 * write the genesis governance: governors, parameters, and the programs
 * in registry and programs with edition 0, in one transaction of its own
 * through sql (the writer; no transaction open). Return 0 and *out, or
 * -EINVAL (the genesis: "genesis programs[1] (credits): interface...")
 * / the ledger's code, with a message in err. */
int gov_open(gov_t **out, sql_t *sql, const genesis_t *g, char err[GOV_ERR_MAX]);
void gov_close(gov_t *gv);

/* Count attestations, verifier latency and proposal states in m (may be
 * NULL: nothing is counted). */
void gov_set_metrics(gov_t *gv, metrics_t *m);

/* What the stage knows of the block a transaction is checked for. */
typedef struct {
    uint64_t height;          /* the block being built (tip + 1 at admission) */
    const uint8_t *txid;      /* the transaction's id */
    const genesis_t *genesis; /* validators (who may propose) and the chain id */
} gov_ctx_t;

/* The verifier stage for tx, through sql (inside the caller's
 * transaction: a read one at admission, the block's when applying).
 * Transactions of other kinds pass (0) untouched. For a governance kind:
 * decode and check everything (authority, signatures, nonce, expiry,
 * state, base, editions, policy) and, when apply, change the tables
 * (the caller holds a savepoint and rolls it back on failure). Return 0
 * or a negative code with why (its code is stable: "unknown_proposal",
 * "not_governor", "too_few_signatures", "stale", "policy_break", ...;
 * docs/governance.md lists them). */
int gov_tx(gov_t *gv, sql_t *sql, const gov_ctx_t *x, const tx_t *tx, bool apply,
           reject_t *why);

/* At the start of the block at height (inside its transaction, before
 * its transactions): expire proposals whose voting period ended, and
 * apply approved ones whose activation height has come (a failure to
 * apply rejects that proposal, with the reason in the journal). At most
 * GOV_PER_BLOCK of each. Return 0 or the ledger's code with err. */
int gov_begin_block(gov_t *gv, sql_t *sql, uint64_t height, char err[GOV_ERR_MAX]);

/* After a block committed: refresh the proposal-state gauges. */
void gov_committed(gov_t *gv, sql_t *sql);

/* Journal a refusal of a governance transaction at admission (origin
 * "local": this node's own record, outside any block), in a transaction
 * of its own through sql; the first GOV_JOURNAL_REFUSALS_MAX per proposal.
 * A no-op for other kinds or undecodable payloads. Return 0 or the
 * ledger's code. */
int gov_journal_refusal(gov_t *gv, sql_t *sql, uint64_t height, const tx_t *tx,
                        const uint8_t txid[TX_ID_LEN], const reject_t *why);

/* What a shadow run asks of the chain: its state root and supply as they
 * stand in the open transaction. */
typedef struct {
    int (*state_root)(void *ctx, uint8_t out[32]);
    json_t *(*supply)(void *ctx); /* new reference, or NULL (none) */
    void *ctx;
} gov_shadow_env_t;

/* Shadow proposal id at height: inside a savepoint of the caller's open
 * transaction on sql (which the caller then rolls back), apply its action
 * as the block at height would, and report what would change:
 *   {"proposal", "height", "action", "ok", "error"?: {code, message},
 *    "state_root": {before, after}, "tables": {name: {before, after}},
 *    "supply": {before, after}, "changes": [...], "compatibility"?: {...}}
 * The report is *report (new reference). Return 0 (also when the apply
 * would fail: "ok": false), or -ENOENT / -EALREADY (no such proposal /
 * it is final: applied, rejected or expired) / the ledger's code, with
 * why. */
int gov_shadow(gov_t *gv, sql_t *sql, uint64_t height, const uint8_t id[GOV_ID_LEN],
               const gov_shadow_env_t *env, json_t **report, reject_t *why);

/* Record a shadow report (origin "local") in the journal, in a
 * transaction of its own through sql. Writes the receipt's hex into
 * receipt. Return 0 or the ledger's code. */
int gov_journal_shadow(gov_t *gv, sql_t *sql, uint64_t height, const uint8_t id[GOV_ID_LEN],
                       const json_t *report, char receipt[2 * 32 + 1]);

/* The bases an action names (gov_action_t.base): the digest of what it
 * changes as it is now. A name not registered has the base of 32 zero
 * bytes. The API serves them next to what they digest (GET /registry,
 * /gov/params, /network/governors), so a proposer needs no other copy. */
void gov_base_deploy(const char *name, bool registered, uint64_t edition,
                     const uint8_t checksum[32], uint8_t out[32]);
void gov_base_param(const char *key, uint64_t value, uint8_t out[32]);
void gov_base_governors(uint32_t threshold_bps, size_t n, const uint8_t (*keys)[32],
                        uint8_t out[32]);

/* ---- reading, for the API (any connection, e.g. a read-only one) ---- */

/* The current governors and threshold, from the ledger (genesis ones
 * until a rotation): {"governors":[{public_key, address}], "count",
 * "threshold_bps", "threshold_percent", "voting_period"}. NULL and err
 * on failure. */
json_t *gov_governors_json(sql_t *q, char *err, size_t errlen);
/* One proposal with its votes and journal, or NULL (-ENOENT in *rc when
 * there is none). */
json_t *gov_proposal_json(sql_t *q, const uint8_t id[GOV_ID_LEN], int *rc, char *err,
                          size_t errlen);
/* Proposals, newest first, at most limit, of one state (NULL: any). */
json_t *gov_proposals_json(sql_t *q, const char *state, size_t limit, int *rc, char *err,
                           size_t errlen);
/* The governed parameters: {"params": {key: {"value", "base"}}}. */
json_t *gov_params_json(sql_t *q, char *err, size_t errlen);
/* registry row of name: {"name","program_id","edition","checksum","policy",
 * "updated_height","proposal"}; with program, the program file too. */
json_t *gov_registry_json(sql_t *q, const char *name, bool program, int *rc, char *err,
                          size_t errlen);

#endif
