/* Structured logging: one line per event on stderr, logfmt style
 *   ts=2026-11-25T22:50:01.123Z level=info comp=supervisor event=worker_exit worker=NAME signal=KILL
 * Library code does not log; callers that decide what to do log once. */
#ifndef ADNET_LOG_H
#define ADNET_LOG_H

#include <stdarg.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;

/* Set the component name printed as comp= (copied) and the minimum level. */
void log_init(const char *component, log_level_t level);
void log_set_level(log_level_t level);

/* Parse "debug", "info", "warn", "error". Return 0 and set *out, or -EINVAL. */
int log_level_parse(const char *s, log_level_t *out);
const char *log_level_name(log_level_t level);

/* Emit one line: event is a short snake_case name; fmt (may be NULL) is the
 * key=value tail in printf form. Values with spaces must be quoted by the
 * caller ("msg=\"%s\""). */
void log_emit(log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) log_emit(LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...) log_emit(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_emit(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_emit(LOG_ERROR, ev, __VA_ARGS__)

#endif
