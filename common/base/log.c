#include "common/base/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/base/clock.h"

static char log_component[32] = "adnet";
static log_level_t log_min = LOG_INFO;
static bool log_journal; /* stderr is a journald stream: prefix <priority> */

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *component, log_level_t level)
{
    snprintf(log_component, sizeof(log_component), "%s", component ? component : "adnet");
    log_min = level;
    /* systemd sets JOURNAL_STREAM=dev:ino for a stderr it connected to the
     * journal; a "<N>" prefix then gives each line its syslog priority. */
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    log_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
                  (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_set_level(log_level_t level)
{
    log_min = level;
}

int log_level_parse(const char *s, log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *log_level_name(log_level_t level)
{
    return (unsigned)level < 4 ? level_names[level] : "unknown";
}

void log_emit(log_level_t level, const char *event, const char *fmt, ...)
{
    if (level < log_min)
        return;

    char line[2048], ts[CLOCK_ISO8601_MAX];
    clock_iso8601(ts, clock_wall_ms());
    static const char *const prio[] = { "<7>", "<6>", "<4>", "<3>" }; /* debug info warning err */
    int n = snprintf(line, sizeof(line), "%sts=%s level=%s comp=%s event=%s",
                     log_journal ? prio[level & 3] : "", ts, log_level_name(level),
                     log_component, event);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(line) - 2 && fmt && *fmt) {
        va_list ap;
        line[n++] = ' ';
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
        if ((size_t)n > sizeof(line) - 2)
            n = (int)sizeof(line) - 2;
    }
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines whole when workers share stderr. */
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
}
