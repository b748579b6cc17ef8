#include "common/base/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

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

log_level_t log_get_level(void)
{
    return log_min;
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

    struct timeval tv;
    struct tm tm;
    char line[2048];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    static const char *const prio[] = { "<7>", "<6>", "<4>", "<3>" }; /* debug info warning err */
    int n = snprintf(line, sizeof(line), "%s"
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s event=%s",
                     log_journal ? prio[level & 3] : "", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)(tv.tv_usec / 1000), log_level_name(level),
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
