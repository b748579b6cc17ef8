/* The chain-neutral HTTP routes every worker serves (health, status,
 * blocks, transactions, genesis, governors, metrics). Handlers expect
 * api_request_t.ctx to point at the worker's node_api_t (common/node.h).
 * docs/api.md describes each route, its answers and its errors. */
#ifndef ADNET_API_ROUTES_H
#define ADNET_API_ROUTES_H

#include <stddef.h>

#include "common/node/api/api.h"

/* Transactions in one POST /txs/batch at most (and the body limit,
 * api.max_body_bytes, holds too). */
#define API_BATCH_MAX_TXS 1000

/* The routes, in match order ("/blocks/latest" before "/blocks/{}"). Put
 * this table first in api_config_t.route_tables so that a chain's table
 * cannot shadow them. */
extern const api_route_t api_common_routes[];
extern const size_t api_common_nroutes;

/* Answer GET /peer/... for key in the peer chain's tree (a chain's own
 * routes, e.g. by record commitment or account address, call it with the
 * key they derive): what the peer's state holds there at the newest
 * verified peer header (or ?height=H, one of peer_headers), proven
 * against that header's state root. docs/api.md has the answers. */
int api_peer_state(const api_request_t *req, api_response_t *res, const char *tree,
                   const uint8_t *key, size_t key_len);

/* For api_config_t.no_ledger (ctx: the worker's node_api_t): a halted
 * node answers 503 with its reason (/health and /status in their own
 * shape, other routes as the error "halted"); otherwise nothing is set. */
void api_common_no_ledger(void *ctx, const char *path, const char *why, api_response_t *res);

#endif
