/* SPDX-License-Identifier: MIT */
/*
 * umdev/log.h - the one logging facility of umdev (STYLE.md §8).
 *
 * Library code (core, sysfs, vfio, drivers) logs at debug level only and returns errors;
 * umdevd logs what it acts on. Lines carry no trailing newline. Thread-safe.
 */
#ifndef UMDEV_LOG_H
#define UMDEV_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

/** syslog(3) levels, same numbers. */
enum umdev_log_level {
	UMDEV_LOG_ERR = 3,
	UMDEV_LOG_WARNING = 4,
	UMDEV_LOG_NOTICE = 5,
	UMDEV_LOG_INFO = 6,
	UMDEV_LOG_DEBUG = 7,
};

/**
 * typedef umdev_log_fn - a log sink.
 * @opaque: the pointer given to umdev_log_set_sink().
 * @level: the message's level.
 * @msg: one line, NUL-terminated, no trailing newline; borrowed for the call.
 */
typedef void umdev_log_fn(void *opaque, enum umdev_log_level level, const char *msg);

/**
 * umdev_log_set_sink() - route messages at or below @max_level to @fn.
 * @fn: the sink, or NULL for the default (stderr; "<N>" prefixes when JOURNAL_STREAM is set).
 * @opaque: passed to @fn; borrowed.
 * @max_level: messages above this level are dropped before formatting.
 */
void umdev_log_set_sink(umdev_log_fn *fn, void *opaque, enum umdev_log_level max_level);

/** umdev_log_enabled() - whether a message at @level would reach the sink. */
int umdev_log_enabled(enum umdev_log_level level);

/**
 * umdev_log() - format and emit one message.
 * @level: its level.
 * @fmt: printf format; the result is truncated at 1023 bytes.
 */
void umdev_log(enum umdev_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/**
 * umdev_log_parse_level() - parse "err", "warning", "notice", "info" or "debug".
 * Return: the level, or -EINVAL.
 */
int umdev_log_parse_level(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* UMDEV_LOG_H */
