/* ./scripts/dev bench restart [--json] [--kills N]
 *
 * Kills a worker N times (default 50, alternating alpha and delta) with
 * SIGKILL and measures the time from the kill to the supervisor reporting
 * the new worker process running (it reports "running" only after the
 * worker's READY message, so this spans death, SIGCHLD, fork+exec, ledger
 * open and recovery). Baseline, measured in the same run: a bare fork+exec
 * of /bin/true and its wait. Back-off is set to 0 and the crash-loop limit
 * raised for the run, since 50 kills in one window would otherwise be
 * paced, by design, by the back-off this benchmark does not measure. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/lib/baseline.h"

int main(int argc, char **argv)
{
    int kills = 50, json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--kills") == 0 && i + 1 < argc)
            kills = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_restart [--json] [--kills N]\n");
            return 2;
        }
    }
    if (kills < 2 || kills > 10000) {
        fprintf(stderr, "bench_restart: --kills: expected 2..10000\n");
        return 2;
    }
    double *restart = calloc((size_t)kills, sizeof(double));
    double *fe = calloc((size_t)kills, sizeof(double));
    node_t node;
    if (!restart || !fe || node_init(&node) < 0) {
        fprintf(stderr, "bench_restart: adnet init failed (ADNET_BIN=%s)\n", getenv("ADNET_BIN"));
        return 1;
    }
    const char *args[] = { "--set", "alpha.block_interval_ms=1000", "--set",
                           "delta.block_interval_ms=1000", "--set",
                           "supervisor.backoff_initial_ms=0", "--set",
                           "supervisor.restart_burst=100000", NULL };
    int rc = 1;
    if (node_start(&node, args, NULL) < 0 || !node_wait_running(&node, "alpha", 10000) ||
        !node_wait_running(&node, "delta", 10000)) {
        fprintf(stderr, "bench_restart: node did not start; log: %s\n", node.log);
        goto out;
    }
    for (int i = 0; i < kills; i++) {
        const char *name = i % 2 ? "delta" : "alpha";
        pid_t old = node_worker_pid(&node, name);
        if (old <= 0) {
            fprintf(stderr, "bench_restart: no %s pid\n", name);
            goto out;
        }
        double t0 = now_ms();
        kill(old, SIGKILL);
        for (;;) {
            json_t *s = node_status(&node);
            size_t k;
            json_t *w;
            int done = 0;
            json_array_foreach(json_object_get(s, "workers"), k, w) {
                json_t *pid = json_object_get(w, "pid");
                if (strcmp(json_string_value(json_object_get(w, "name")), name) == 0 &&
                    json_is_integer(pid) && json_integer_value(pid) != old &&
                    strcmp(json_string_value(json_object_get(w, "state")), "running") == 0)
                    done = 1;
            }
            json_decref(s);
            if (done)
                break;
            if (now_ms() - t0 > 10000) {
                fprintf(stderr, "bench_restart: %s not back after 10 s; log: %s\n", name,
                        node.log);
                goto out;
            }
        }
        restart[i] = now_ms() - t0;
        fe[i] = baseline_forkexec_ms();
    }
    double r50 = baseline_percentile(restart, kills, 50), r99 = baseline_percentile(restart, kills, 99),
           rmax = restart[kills - 1];
    double f50 = baseline_percentile(fe, kills, 50), f99 = baseline_percentile(fe, kills, 99);
    if (json) {
        printf("{\"kills\":%d,\"restart_p50_ms\":%.3f,\"restart_p99_ms\":%.3f,"
               "\"restart_max_ms\":%.3f,\"forkexec_p50_ms\":%.3f,\"forkexec_p99_ms\":%.3f,"
               "\"restart_to_forkexec_p50_ratio\":%.2f,\"target_restart_p50_ms\":50}\n",
               kills, r50, r99, rmax, f50, f99, r50 / f50);
    } else {
        printf("restart: %d SIGKILLs (alternating alpha and delta), death -> worker running\n\n",
               kills);
        printf("%-34s %10s %10s %10s\n", "measure", "p50 ms", "p99 ms", "max ms");
        printf("%-34s %10.3f %10.3f %10.3f\n", "restart (kill -> ready)", r50, r99, rmax);
        printf("%-34s %10.3f %10.3f %10.3f\n", "baseline: fork+exec+wait /bin/true", f50, f99,
               fe[kills - 1]);
        printf("\nratio restart/fork+exec (p50): %.1fx   target: restart p50 < 50 ms: %s\n",
               r50 / f50, r50 < 50 ? "met" : "NOT met");
    }
    rc = node_stop(&node, SIGTERM, 30000) == 0 ? 0 : 1;
out:
    node_cleanup(&node);
    free(restart);
    free(fe);
    return rc;
}
