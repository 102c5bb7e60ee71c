// SPDX-License-Identifier: MIT
/* The log facility of include/umdev/log.h: one sink, stderr by default. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lockdep.h"
#include "umdev/log.h"

/* Sink configuration; set at start-up, read by every logger (a race-free snapshot via the lock). */
/* innermost (docs/locking.md): protects the two below; held to copy or set them */
static struct umdev_mutex sink_lock = UMDEV_MUTEX_INIT(&umdev__lock_class_log);
static umdev_log_fn *sink_fn;
static void *sink_opaque;
static atomic_int sink_max_level = UMDEV_LOG_NOTICE;

void umdev_log_set_sink(umdev_log_fn *fn, void *opaque, enum umdev_log_level max_level)
{
	umdev__mutex_lock(&sink_lock);
	sink_fn = fn;
	sink_opaque = opaque;
	atomic_store(&sink_max_level, (int)max_level);
	umdev__mutex_unlock(&sink_lock);
}

int umdev_log_enabled(enum umdev_log_level level)
{
	return (int)level <= atomic_load(&sink_max_level);
}

static const char *const level_names[] = {
    [UMDEV_LOG_ERR] = "error", [UMDEV_LOG_WARNING] = "warning", [UMDEV_LOG_NOTICE] = "notice",
    [UMDEV_LOG_INFO] = "info", [UMDEV_LOG_DEBUG] = "debug",
};

/*
 * Whether stderr is the journal's stream: JOURNAL_STREAM names its "device:inode", which must
 * be those of fd 2 (systemd.exec(5)); a variable inherited by a child whose stderr was
 * redirected does not count. Decided once (-1: not yet).
 */
static bool stderr_is_journal(void)
{
	static atomic_int is_journal = -1;
	int v = atomic_load(&is_journal);

	if (v < 0) {
		const char *e = getenv("JOURNAL_STREAM");
		unsigned long long dev, ino;
		struct stat st;

		v = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
		    fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
		    (unsigned long long)st.st_ino == ino;
		atomic_store(&is_journal, v);
	}
	return v;
}

static void stderr_sink(enum umdev_log_level level, const char *msg)
{
	if (stderr_is_journal())
		fprintf(stderr, "<%d>%s\n", (int)level, msg);
	else
		fprintf(stderr, "umdevd: %s: %s\n", level_names[level], msg);
}

void umdev_log(enum umdev_log_level level, const char *fmt, ...)
{
	char msg[1024];
	umdev_log_fn *fn;
	void *opaque;
	va_list ap;

	if (!umdev_log_enabled(level))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	umdev__mutex_lock(&sink_lock);
	fn = sink_fn;
	opaque = sink_opaque;
	umdev__mutex_unlock(&sink_lock);
	if (fn)
		fn(opaque, level, msg);
	else
		stderr_sink(level, msg);
}

int umdev_log_parse_level(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i] && strcmp(level_names[i], name) == 0)
			return (int)i;
	if (strcmp(name, "err") == 0)
		return UMDEV_LOG_ERR;
	return -EINVAL;
}
