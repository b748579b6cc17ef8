#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base/exitcode.h"
#include "supervisor/cli.h"
#include "supervisor/ctl.h"

#define CTL_TIMEOUT_MS 5000

/* Send cmd, parse the reply; on failure print why and return an exit code. */
static int ctl_json(const char *home, const char *request, json_t **out)
{
    char err[CTL_ERR_MAX], *text = NULL;
    json_error_t jerr;
    int r = ctl_call(home, request, &text, CTL_TIMEOUT_MS, err);
    if (r < 0) {
        fprintf(stderr, "adnet: %s\n", err);
        return ADNET_EXIT_SYSTEM;
    }
    json_t *reply = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!reply) {
        fprintf(stderr, "adnet: malformed reply from the supervisor: %s\n", jerr.text);
        return ADNET_EXIT_SYSTEM;
    }
    if (!json_is_true(json_object_get(reply, "ok"))) {
        const char *e = json_string_value(json_object_get(reply, "error"));
        fprintf(stderr, "adnet: %s\n", e ? e : "request refused");
        json_decref(reply);
        return ADNET_EXIT_CONFIG;
    }
    *out = reply;
    return ADNET_EXIT_OK;
}

static void fmt_duration(double s, char *out, size_t cap)
{
    long t = (long)s;
    if (t >= 86400)
        snprintf(out, cap, "%ldd%02ldh", t / 86400, t % 86400 / 3600);
    else if (t >= 3600)
        snprintf(out, cap, "%ldh%02ldm", t / 3600, t % 3600 / 60);
    else if (t >= 60)
        snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(out, cap, "%.1fs", s);
}

int cmd_status(const char *home, bool json)
{
    json_t *reply = NULL;
    int rc = ctl_json(home, "{\"cmd\":\"status\"}", &reply);
    if (rc)
        return rc;
    if (json) {
        json_object_del(reply, "ok");
        json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(reply);
        return ADNET_EXIT_OK;
    }
    json_t *sup = json_object_get(reply, "supervisor");
    char up[32];
    fmt_duration(json_real_value(json_object_get(sup, "uptime_s")), up, sizeof(up));
    printf("supervisor  pid %lld, up %s%s\n",
           (long long)json_integer_value(json_object_get(sup, "pid")), up,
           json_is_true(json_object_get(sup, "stopping")) ? ", stopping" : "");
    printf("%-6s %-9s %8s %9s %9s %10s  %-24s %s\n", "WORKER", "STATE", "PID", "RESTARTS",
           "UPTIME", "HEIGHT", "LAST BLOCK", "LAST EXIT");
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(reply, "workers"), i, w) {
        fmt_duration(json_real_value(json_object_get(w, "uptime_s")), up, sizeof(up));
        const char *when = json_string_value(json_object_get(w, "last_block_time"));
        char pid[24] = "-";
        if (json_is_integer(json_object_get(w, "pid")))
            snprintf(pid, sizeof(pid), "%lld",
                     (long long)json_integer_value(json_object_get(w, "pid")));
        printf("%-6s %-9s %8s %9lld %9s %10lld  %-24s %s\n",
               json_string_value(json_object_get(w, "name")),
               json_string_value(json_object_get(w, "state")), pid,
               (long long)json_integer_value(json_object_get(w, "restarts")), up,
               (long long)json_integer_value(json_object_get(w, "height")),
               when && *when ? when : "-",
               json_string_value(json_object_get(w, "last_exit")));
    }
    json_decref(reply);
    return ADNET_EXIT_OK;
}

int cmd_restart(const char *home, const char *worker)
{
    json_t *req = json_pack("{s:s, s:s}", "cmd", "restart", "worker", worker), *reply = NULL;
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    int rc = text ? ctl_json(home, text, &reply) : ADNET_EXIT_SYSTEM;
    free(text);
    if (rc == ADNET_EXIT_OK)
        printf("restarting %s\n", worker);
    json_decref(reply);
    return rc;
}

int cmd_stop(const char *home, bool wait)
{
    json_t *reply = NULL;
    int rc = ctl_json(home, "{\"cmd\":\"stop\"}", &reply);
    json_decref(reply);
    if (rc != ADNET_EXIT_OK)
        return rc;
    printf("stopping the node on %s\n", home);
    if (!wait)
        return rc;
    /* The control socket disappears when the supervisor has finished. */
    char err[CTL_ERR_MAX], *text = NULL;
    for (int i = 0; i < 1200; i++) {
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
        int r = ctl_call(home, "{\"cmd\":\"status\"}", &text, 1000, err);
        free(text);
        text = NULL;
        if (r == -ECONNREFUSED) {
            printf("stopped\n");
            return ADNET_EXIT_OK;
        }
    }
    fprintf(stderr, "adnet: the node did not stop within 60 s\n");
    return ADNET_EXIT_SYSTEM;
}
