#include "tests/lib/chainenv.h"

#include <check.h>

void chainenv_open(const chain_ops_t *ops, const char *path, const genesis_t *g, ledger_t **l,
                   void **state)
{
    char err[LEDGER_ERR_MAX] = "";
    ck_assert_msg(ledger_open(l, path, ops->schema, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_begin(*l), 0);
    ck_assert_msg(ops->genesis_init(ledger_sql(*l), g, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ledger_commit(*l), 0);
    ck_assert_msg(ops->state_open(state, ledger_sql(*l), g, err, sizeof err) == 0, "%s", err);
}

void chainenv_close(const chain_ops_t *ops, ledger_t *l, void *state)
{
    ops->state_close(state);
    ledger_close(l);
}
