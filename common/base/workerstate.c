#include "common/base/workerstate.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/fsutil.h"

#define FILE_MAX (64 * 1024) /* far above what WORKERSTATE_MAX workers take */

int workerstate_path(char *out, size_t cap, const char *home)
{
    return fs_path(out, cap, "%s/run/%s", home, WORKERSTATE_FILE);
}

static bool name_ok(const char *s)
{
    return s && *s && strlen(s) <= WORKERSTATE_NAME_MAX;
}

static bool listed(const char *const *states, size_t nstates, const char *st)
{
    for (size_t i = 0; i < nstates; i++)
        if (strcmp(states[i], st) == 0)
            return true;
    return false;
}

/* The file's JSON for the arguments of workerstate_write, or NULL with
 * *rc set. */
static json_t *build(const char *const *states, size_t nstates, const workerstate_t *w, size_t n,
                     int *rc)
{
    json_t *root = json_pack("{s:[], s:[]}", "states", "workers");
    json_t *sts = json_object_get(root, "states"), *ws = json_object_get(root, "workers");
    *rc = -EINVAL;
    if (nstates > WORKERSTATE_MAX || n > WORKERSTATE_MAX)
        goto fail;
    *rc = -ENOMEM;
    if (!root)
        goto fail;
    for (size_t i = 0; i < nstates; i++) {
        *rc = name_ok(states[i]) ? -ENOMEM : -EINVAL;
        if (*rc == -EINVAL || json_array_append_new(sts, json_string(states[i])) < 0)
            goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        bool ok = name_ok(w[i].name) && name_ok(w[i].state) &&
                  listed(states, nstates, w[i].state);
        *rc = ok ? -ENOMEM : -EINVAL;
        if (!ok || json_array_append_new(ws, json_pack("{s:s, s:s, s:b}", "name", w[i].name,
                                                       "state", w[i].state, "up", w[i].up)) < 0)
            goto fail;
    }
    *rc = 0;
    return root;
fail:
    json_decref(root);
    return NULL;
}

int workerstate_write(const char *path, const char *const *states, size_t nstates,
                      const workerstate_t *w, size_t n)
{
    int rc;
    json_t *root = build(states, nstates, w, n, &rc);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    if (root && !text)
        rc = -ENOMEM;
    if (text)
        rc = fs_write_file(path, text, strlen(text), 0600, true);
    free(text);
    json_decref(root);
    return rc;
}

/* Check that root has the shape workerstate_write gives it. */
static bool shape_ok(json_t *root)
{
    json_t *sts = json_object_get(root, "states"), *ws = json_object_get(root, "workers"), *v;
    size_t i;
    if (!json_is_array(sts) || !json_is_array(ws) || json_array_size(sts) > WORKERSTATE_MAX ||
        json_array_size(ws) > WORKERSTATE_MAX)
        return false;
    json_array_foreach(sts, i, v) {
        if (!name_ok(json_string_value(v)))
            return false;
    }
    json_array_foreach(ws, i, v) {
        const char *name = NULL, *st = NULL;
        int up = 0;
        if (json_unpack(v, "{s:s, s:s, s:b}", "name", &name, "state", &st, "up", &up) < 0 ||
            !name_ok(name) || !name_ok(st))
            return false;
    }
    return true;
}

/* Set one worker's gauges: up, and one state series per listed state. */
static void export_worker(metrics_t *m, json_t *states, json_t *w)
{
    char name[2 * WORKERSTATE_NAME_MAX + 1], st[2 * WORKERSTATE_NAME_MAX + 1];
    char labels[6 * WORKERSTATE_NAME_MAX + 32];
    const char *state = json_string_value(json_object_get(w, "state"));
    json_t *v;
    size_t i;
    if (metrics_label_escape(json_string_value(json_object_get(w, "name")), name, sizeof name) < 0)
        return;
    snprintf(labels, sizeof labels, "worker=\"%s\"", name);
    metrics_gauge_set(m, "adnet_worker_up",
                      "1 if the supervisor sees this worker running, 0 otherwise.", labels,
                      json_is_true(json_object_get(w, "up")) ? 1 : 0);
    json_array_foreach(states, i, v) {
        if (metrics_label_escape(json_string_value(v), st, sizeof st) < 0)
            continue;
        snprintf(labels, sizeof labels, "worker=\"%s\",state=\"%s\"", name, st);
        metrics_gauge_set(m, "adnet_worker_state",
                          "1 for the state the supervisor sees this worker in, 0 for the others.",
                          labels, strcmp(json_string_value(v), state) == 0 ? 1 : 0);
    }
}

int workerstate_export(metrics_t *m, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    json_t *root = NULL, *w;
    size_t i;
    int rc = fs_read_file(path, FILE_MAX, &text, &len);
    if (rc < 0)
        goto out;
    rc = -EINVAL;
    if (!(root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL)) || !shape_ok(root))
        goto out;
    json_array_foreach(json_object_get(root, "workers"), i, w)
        export_worker(m, json_object_get(root, "states"), w);
    rc = 0;
out:
    json_decref(root);
    free(text);
    return rc;
}
