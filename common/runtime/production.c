/* A worker's production state; see production.h. */
#include "common/runtime/production.h"

#include <stdio.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/log.h"

#define HALTED_METRIC "adnet_block_production_halted"
#define HALTED_HELP "1 while block production is halted, by cause."
#define DELAYED_METRIC "adnet_block_production_delayed_seconds"
#define DELAYED_HELP "How long the next block has waited for a ledger locked by another process."
#define RETRIES_METRIC "adnet_block_retries_total"
#define RETRIES_HELP "Blocks tried again after a busy ledger, a full disk or a failed record write."

typedef struct {
    const char *name;   /* metrics label and log value */
    node_mode_t mode;
    int retry_ms;       /* < 0: never retried */
} cause_info_t;

static const cause_info_t CAUSES[PROD_NCAUSES] = {
    [PROD_OK] = { "none", NODE_PRODUCING, 0 },
    [PROD_LEDGER_BUSY] = { "ledger_busy", NODE_DELAYED, PROD_BUSY_RETRY_MS },
    [PROD_DISK_FULL] = { "disk_full", NODE_HALTED, PROD_HALT_RETRY_MS },
    [PROD_RECORD_FAILED] = { "record_failed", NODE_HALTED, PROD_HALT_RETRY_MS },
    [PROD_LEDGER_CHANGED] = { "ledger_changed", NODE_HALTED, -1 },
    [PROD_SIGN_REFUSED] = { "sign_refused", NODE_HALTED, -1 },
};

static void cause_labels(prod_cause_t c, char *out, size_t cap)
{
    snprintf(out, cap, "cause=\"%s\"", CAUSES[c].name);
}

void production_init(production_t *p, metrics_t *metrics)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->metrics = metrics;
}

void production_destroy(production_t *p)
{
    pthread_mutex_destroy(&p->mu);
}

/* Publish the state for the API threads. */
static void publish(production_t *p, prod_cause_t cause, const char *reason)
{
    pthread_mutex_lock(&p->mu);
    p->pub.mode = CAUSES[cause].mode;
    snprintf(p->pub.reason, sizeof p->pub.reason, "%s", cause == PROD_OK ? "" : reason);
    p->pub.since_ms = cause == PROD_OK ? 0 : clock_wall_ms() - (clock_mono_us() - p->since_us) / 1000;
    pthread_mutex_unlock(&p->mu);
}

/* Leave the current cause (logging how long it lasted), if any. */
static void leave(production_t *p, uint64_t height, uint64_t now_us)
{
    char labels[64];
    prod_cause_t was = p->cause;
    if (was == PROD_OK)
        return;
    cause_labels(was, labels, sizeof labels);
    if (CAUSES[was].mode == NODE_HALTED)
        metrics_gauge_set(p->metrics, HALTED_METRIC, HALTED_HELP, labels, 0);
    else
        metrics_gauge_set(p->metrics, DELAYED_METRIC, DELAYED_HELP, NULL, 0);
    log_info(CAUSES[was].mode == NODE_HALTED ? "resumed" : "block_delay_over",
             "cause=%s height=%llu waited_ms=%llu retries=%llu", CAUSES[was].name,
             (unsigned long long)height, (unsigned long long)((now_us - p->since_us) / 1000),
             (unsigned long long)p->retries);
    p->cause = PROD_OK;
    p->retries = 0;
}

/* Log the trouble: the first time at its level, then once a minute. */
static void log_trouble(production_t *p, uint64_t height, const char *reason, uint64_t now_us)
{
    const cause_info_t *ci = &CAUSES[p->cause];
    unsigned long long waited = (unsigned long long)((now_us - p->since_us) / 1000);
    bool first = p->logged_us == 0;
    if (!first && now_us - p->logged_us < (uint64_t)PROD_LOG_EVERY_MS * 1000)
        return;
    p->logged_us = now_us;
    if (ci->mode == NODE_DELAYED)
        log_warn("block_delayed", "cause=%s height=%llu waited_ms=%llu retry_ms=%d reason=\"%s\"",
                 ci->name, (unsigned long long)height, waited, ci->retry_ms, reason);
    else if (ci->retry_ms > 0)
        log_error(first ? "halted" : "still_halted",
                  "cause=%s height=%llu halted_ms=%llu retry_ms=%d reason=\"%s\"", ci->name,
                  (unsigned long long)height, waited, ci->retry_ms, reason);
    else
        log_error(first ? "halted" : "still_halted",
                  "cause=%s height=%llu halted_ms=%llu action=\"restart the node once the "
                  "cause is dealt with\" reason=\"%s\"", ci->name, (unsigned long long)height,
                  waited, reason);
}

double production_trouble(production_t *p, prod_cause_t cause, uint64_t height,
                          const char *reason)
{
    uint64_t now = clock_mono_us();
    char labels[64];
    if (cause != p->cause) {
        leave(p, height, now);
        p->cause = cause;
        p->since_us = now;
        p->logged_us = 0;
    } else {
        p->retries++;
        cause_labels(cause, labels, sizeof labels);
        metrics_counter_add(p->metrics, RETRIES_METRIC, RETRIES_HELP, labels, 1);
    }
    log_trouble(p, height, reason, now);
    cause_labels(cause, labels, sizeof labels);
    if (CAUSES[cause].mode == NODE_HALTED)
        metrics_gauge_set(p->metrics, HALTED_METRIC, HALTED_HELP, labels, 1);
    else
        metrics_gauge_set(p->metrics, DELAYED_METRIC, DELAYED_HELP, NULL,
                          (double)(now - p->since_us) / 1e6);
    publish(p, cause, reason);
    return CAUSES[cause].retry_ms < 0 ? -1.0 : CAUSES[cause].retry_ms / 1000.0;
}

void production_resume(production_t *p, uint64_t height)
{
    if (p->cause == PROD_OK)
        return;
    leave(p, height, clock_mono_us());
    publish(p, PROD_OK, "");
}

bool production_is_halted(production_t *p)
{
    return CAUSES[p->cause].mode == NODE_HALTED;
}

bool production_is_final(production_t *p)
{
    return CAUSES[p->cause].retry_ms < 0;
}

void production_get(production_t *p, node_state_t *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->pub;
    pthread_mutex_unlock(&p->mu);
}
