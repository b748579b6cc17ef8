/* The governance routes every worker serves (docs/api.md, "Governance"):
 *   GET  /gov/proposals[?state=S]        newest first, at most 100
 *   GET  /gov/proposals/{id}             with its votes, journal and what signers sign
 *   POST /gov/proposals/{id}/shadow      a dry run on the live state (node_api_t.gov_shadow)
 *   GET  /gov/params                     the governed parameters and their bases
 *   GET  /registry/{name}[?program=1]    resolve a program name: id, edition, checksum
 *   GET  /network/governors              the current governors and threshold
 * Handlers expect api_request_t.ctx to point at the worker's node_api_t. */
#ifndef ADNET_GOV_ROUTES_H
#define ADNET_GOV_ROUTES_H

#include <stddef.h>

#include "common/node/api/api.h"

extern const api_route_t gov_routes[];
extern const size_t gov_n_routes;

#endif
