/* The built-in programs (program.h): what the node does today, described
 * as program files. Nothing executes them yet (docs/governance.md); their
 * interfaces name the operations the chains already carry out natively, so
 * that later editions are checked against them by the registry's policies.
 * The code is the one byte 00: nothing runs programs until the program VM
 * exists (docs/governance.md, "Not yet"). */
#include "common/node/gov/program.h"

/* Moving value: the record chain mints, transfers and burns records, the
 * account chain moves balances between accounts (docs/architecture.md).
 * burn takes the recipient on the other chain and the amount. Compatible,
 * so that a later edition can widen a signature (an asset argument, say)
 * without removing what wallets call. */
static const char CREDITS[] =
    "{\"name\": \"credits\",\n"
    " \"interface\": {\n"
    "   \"functions\": {\n"
    "     \"transfer\": {\"inputs\": [\"address\", \"u64\"], \"outputs\": []},\n"
    "     \"mint\": {\"inputs\": [\"address\", \"u64\"], \"outputs\": []},\n"
    "     \"burn\": {\"inputs\": [\"address\", \"u64\"], \"outputs\": []}},\n"
    "   \"records\": {\"credits\": {\"owner\": \"address\", \"amount\": \"u64\"}},\n"
    "   \"mappings\": {\"account\": {\"key\": \"address\", \"value\": \"u64\"}}},\n"
    " \"code\": \"00\"}\n";

/* The program registry itself: a name's hash to its program id and
 * checksum; resolve answers (checksum, edition), as GET /registry/{name}
 * does. Additive: what resolves today must keep resolving the same way. */
static const char REGISTRY[] =
    "{\"name\": \"registry\",\n"
    " \"interface\": {\n"
    "   \"functions\": {\n"
    "     \"register\": {\"inputs\": [\"field\", \"field\"], \"outputs\": []},\n"
    "     \"update\": {\"inputs\": [\"field\", \"field\"], \"outputs\": []},\n"
    "     \"resolve\": {\"inputs\": [\"field\"], \"outputs\": [\"field\", \"u64\"]}},\n"
    "   \"mappings\": {\"programs\": {\"key\": \"field\", \"value\": \"field\"}}},\n"
    " \"code\": \"00\"}\n";

/* The proposal lifecycle (the GOV_KIND_* transactions): propose takes a
 * nonce and the action's digest and gives the proposal id; attest takes
 * the id, the attestation's nonce and expiry height; vote the id and a
 * gov_choice_t; apply the id. proposals maps an id to its state.
 * Additive: governors' tools must keep working across editions. */
static const char GOVERNANCE[] =
    "{\"name\": \"governance\",\n"
    " \"interface\": {\n"
    "   \"functions\": {\n"
    "     \"propose\": {\"inputs\": [\"u64\", \"field\"], \"outputs\": [\"field\"]},\n"
    "     \"attest\": {\"inputs\": [\"field\", \"u64\", \"u64\"], \"outputs\": []},\n"
    "     \"vote\": {\"inputs\": [\"field\", \"u8\"], \"outputs\": []},\n"
    "     \"apply\": {\"inputs\": [\"field\"], \"outputs\": []}},\n"
    "   \"mappings\": {\"proposals\": {\"key\": \"field\", \"value\": \"u8\"}}},\n"
    " \"code\": \"00\"}\n";

const gov_builtin_t gov_builtins[] = {
    {"credits", CREDITS, GOV_POLICY_COMPATIBLE},
    {"registry", REGISTRY, GOV_POLICY_ADDITIVE},
    {"governance", GOVERNANCE, GOV_POLICY_ADDITIVE},
};

const size_t gov_n_builtins = sizeof gov_builtins / sizeof gov_builtins[0];
