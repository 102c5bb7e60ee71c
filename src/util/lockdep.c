// SPDX-License-Identifier: MIT
/*
 * Checked locks (lockdep.h): the lock classes of docs/locking.md and, in debug and sanitizer
 * builds, a per-thread record of held locks that checks the order and "caller holds X".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lockdep.h"

/* docs/locking.md, one row each; ranks in lockdep.h */
const struct umdev_lock_class umdev__lock_class_driver = {"driver_lock", UMDEV_LOCK_RANK_DRIVER};
const struct umdev_lock_class umdev__lock_class_list = {"list_lock", UMDEV_LOCK_RANK_LIST};
const struct umdev_lock_class umdev__lock_class_tree = {"tree_lock", UMDEV_LOCK_RANK_TREE};
const struct umdev_lock_class umdev__lock_class_mtty_backend = {"mtty backend_lock",
								UMDEV_LOCK_RANK_MTTY_BACKEND};
const struct umdev_lock_class umdev__lock_class_mtty_device = {"mtty device lock",
							       UMDEV_LOCK_RANK_MTTY_DEVICE};
const struct umdev_lock_class umdev__lock_class_vfio_devices = {"vfio devices_lock",
								UMDEV_LOCK_RANK_VFIO_DEVICES};
const struct umdev_lock_class umdev__lock_class_vfio_device = {"vfio device lock",
							       UMDEV_LOCK_RANK_VFIO_DEVICE};
const struct umdev_lock_class umdev__lock_class_guard = {"parent guard mutex",
							 UMDEV_LOCK_RANK_LEAF};
const struct umdev_lock_class umdev__lock_class_mdev_ref = {"mdev ref_lock", UMDEV_LOCK_RANK_LEAF};
const struct umdev_lock_class umdev__lock_class_ida = {"ida lock", UMDEV_LOCK_RANK_LEAF};
const struct umdev_lock_class umdev__lock_class_sysfs_handle = {"sysfs handle lock",
								UMDEV_LOCK_RANK_LEAF};
const struct umdev_lock_class umdev__lock_class_sysfs_handles = {"sysfs handles_lock",
								 UMDEV_LOCK_RANK_LEAF};
const struct umdev_lock_class umdev__lock_class_sysfs_loop = {"sysfs loop_lock",
							      UMDEV_LOCK_RANK_LEAF};
const struct umdev_lock_class umdev__lock_class_log = {"log sink_lock", UMDEV_LOCK_RANK_LOG};

/* Our own bugs: a pthread call on a checked lock failed. */
static void check(int err, const char *what, const struct umdev_lock_class *cls)
{
	char msg[160];
	int n;

	if (err == 0)
		return;
	n = snprintf(msg, sizeof(msg), "umdev lockdep: %s of '%s' failed: %s\n", what,
		     cls ? cls->name : "?", strerror(err));
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg));
	abort();
}

void umdev__mutex_init(struct umdev_mutex *m, const struct umdev_lock_class *cls, bool adaptive)
{
	pthread_mutexattr_t attr;

	check(pthread_mutexattr_init(&attr), "mutexattr_init", cls);
	if (adaptive)
		check(pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP), "settype", cls);
	check(pthread_mutex_init(&m->mutex, &attr), "mutex_init", cls);
	pthread_mutexattr_destroy(&attr);
	m->cls = cls;
}

void umdev__mutex_destroy(struct umdev_mutex *m)
{
	umdev__assert_not_held(m);
	check(pthread_mutex_destroy(&m->mutex), "mutex_destroy", m->cls);
}

void umdev__rwlock_init(struct umdev_rwlock *l, const struct umdev_lock_class *cls,
			bool prefer_writer)
{
	pthread_rwlockattr_t attr;

	check(pthread_rwlockattr_init(&attr), "rwlockattr_init", cls);
	if (prefer_writer)
		check(pthread_rwlockattr_setkind_np(&attr,
						    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP),
		      "setkind", cls);
	check(pthread_rwlock_init(&l->rwlock, &attr), "rwlock_init", cls);
	pthread_rwlockattr_destroy(&attr);
	l->cls = cls;
}

void umdev__rwlock_destroy(struct umdev_rwlock *l)
{
	umdev__assert_not_held(l);
	check(pthread_rwlock_destroy(&l->rwlock), "rwlock_destroy", l->cls);
}

void umdev__cond_wait(pthread_cond_t *cond, struct umdev_mutex *m)
{
	umdev__assert_held(m);
	check(pthread_cond_wait(cond, &m->mutex), "cond_wait", m->cls);
}

int umdev__cond_timedwait(pthread_cond_t *cond, struct umdev_mutex *m,
			  const struct timespec *abstime)
{
	int ret;

	umdev__assert_held(m);
	ret = pthread_cond_timedwait(cond, &m->mutex, abstime);
	if (ret != ETIMEDOUT)
		check(ret, "cond_timedwait", m->cls);
	return ret;
}

#ifdef UMDEV_LOCKDEP

/* The deepest nesting in umdev is four; a thread holding more is a bug in itself. */
#define HELD_MAX 16

struct held_lock {
	const void *lock;
	const struct umdev_lock_class *cls;
	bool write;
	const char *file;
	int line;
};

/* The calling thread's held locks, in the order taken. Thread-local: no lock needed. */
static _Thread_local struct held_lock held[HELD_MAX];
static _Thread_local unsigned int nr_held;

/* Print one line to stderr without taking any lock (the log sink has one) and abort. */
__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	msg[n++] = '\n';
	(void)!write(STDERR_FILENO, msg, (size_t)n);
	abort();
}

static struct held_lock *find_held(const void *lock)
{
	for (unsigned int i = nr_held; i-- > 0;)
		if (held[i].lock == lock)
			return &held[i];
	return NULL;
}

void umdev__lockdep_acquire(const void *lock, const struct umdev_lock_class *cls, bool check_order,
			    bool write, const char *file, int line)
{
	if (!cls)
		die("umdev lockdep: lock %p taken at %s:%d has no class", lock, file, line);
	for (unsigned int i = 0; check_order && i < nr_held; i++) {
		const struct held_lock *h = &held[i];

		if (h->lock == lock)
			die("umdev lockdep: recursive locking: taking '%s' at %s:%d, already held "
			    "since %s:%d",
			    cls->name, file, line, h->file, h->line);
		if (h->cls->rank >= cls->rank)
			die("umdev lockdep: lock order violation (docs/locking.md): taking '%s' "
			    "(rank %u) at %s:%d while holding '%s' (rank %u) taken at %s:%d",
			    cls->name, cls->rank, file, line, h->cls->name, h->cls->rank, h->file,
			    h->line);
	}
	if (nr_held == HELD_MAX)
		die("umdev lockdep: more than %d locks held taking '%s' at %s:%d", HELD_MAX,
		    cls->name, file, line);
	held[nr_held++] = (struct held_lock){lock, cls, write, file, line};
}

void umdev__lockdep_release(const void *lock, const struct umdev_lock_class *cls, const char *file,
			    int line)
{
	struct held_lock *h = find_held(lock);

	if (!h)
		die("umdev lockdep: releasing '%s' at %s:%d, which this thread does not hold",
		    cls ? cls->name : "?", file, line);
	/* locks may be released in any order: close the gap */
	memmove(h, h + 1, (size_t)(&held[nr_held] - (h + 1)) * sizeof(*h));
	nr_held--;
}

void umdev__lockdep_assert(const void *lock, const struct umdev_lock_class *cls, bool want_held,
			   bool write, const char *file, int line)
{
	const struct held_lock *h = find_held(lock);

	if (want_held && !h)
		die("umdev lockdep: '%s' must be held at %s:%d", cls ? cls->name : "?", file, line);
	if (want_held && write && !h->write)
		die("umdev lockdep: '%s' must be held for writing at %s:%d (read-held since %s:%d)",
		    cls->name, file, line, h->file, h->line);
	if (!want_held && h)
		die("umdev lockdep: '%s' must not be held at %s:%d (held since %s:%d)",
		    cls ? cls->name : "?", file, line, h->file, h->line);
}

unsigned int umdev__lockdep_depth(void)
{
	return nr_held;
}

void umdev__mutex_lock_at(struct umdev_mutex *m, const char *file, int line)
{
	/* check before waiting: an inversion is reported even when it would not deadlock now */
	umdev__lockdep_acquire(m, m->cls, true, true, file, line);
	check(pthread_mutex_lock(&m->mutex), "mutex_lock", m->cls);
}

bool umdev__mutex_trylock_at(struct umdev_mutex *m, const char *file, int line)
{
	int ret = pthread_mutex_trylock(&m->mutex);

	if (ret == EBUSY)
		return false;
	check(ret, "mutex_trylock", m->cls);
	umdev__lockdep_acquire(m, m->cls, false, true, file, line);
	return true;
}

void umdev__mutex_unlock_at(struct umdev_mutex *m, const char *file, int line)
{
	umdev__lockdep_release(m, m->cls, file, line);
	check(pthread_mutex_unlock(&m->mutex), "mutex_unlock", m->cls);
}

void umdev__rwlock_rdlock_at(struct umdev_rwlock *l, const char *file, int line)
{
	umdev__lockdep_acquire(l, l->cls, true, false, file, line);
	check(pthread_rwlock_rdlock(&l->rwlock), "rwlock_rdlock", l->cls);
}

void umdev__rwlock_wrlock_at(struct umdev_rwlock *l, const char *file, int line)
{
	umdev__lockdep_acquire(l, l->cls, true, true, file, line);
	check(pthread_rwlock_wrlock(&l->rwlock), "rwlock_wrlock", l->cls);
}

void umdev__rwlock_unlock_at(struct umdev_rwlock *l, const char *file, int line)
{
	umdev__lockdep_release(l, l->cls, file, line);
	check(pthread_rwlock_unlock(&l->rwlock), "rwlock_unlock", l->cls);
}

#endif /* UMDEV_LOCKDEP */
