/* SPDX-License-Identifier: MIT */
/*
 * Checked locks: pthread mutexes and rwlocks that know their place in the one lock order of
 * docs/locking.md, as the kernel's lockdep does for its locks.
 *
 * Every lock belongs to a class (struct umdev_lock_class): a name and a rank. The ranks below
 * are docs/locking.md's table, outer first. In debug and sanitizer builds (NDEBUG unset) each
 * thread records the locks it holds, and
 *  - taking a lock whose rank is not strictly above the rank of every lock the thread already
 *    holds aborts with both locks' names and where each was taken (an inversion, or two locks
 *    of one class nested);
 *  - umdev__assert_held() aborts unless the calling thread holds the lock (the kernel's
 *    lockdep_assert_held()); umdev__assert_not_held() is its opposite.
 * A trylock never waits, so it is recorded but not order-checked. A condition wait keeps the
 * record: the thread holds the mutex again when the wait returns.
 * With NDEBUG the records and checks compile away and the wrappers are the pthread calls.
 *
 * The wrappers abort on a pthread error (EDEADLK, EINVAL): those are our own bugs.
 */
#ifndef UMDEV_UTIL_LOCKDEP_H
#define UMDEV_UTIL_LOCKDEP_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#ifndef NDEBUG
#define UMDEV_LOCKDEP 1
#endif

/*
 * Lock ranks, outer (small) to inner (large): docs/locking.md's table. A thread may take a
 * lock only while every lock it holds has a smaller rank. Leaves share one rank, so no leaf
 * is ever taken inside another.
 */
enum umdev_lock_rank {
	UMDEV_LOCK_RANK_DRIVER = 10, /* core driver_lock */
	UMDEV_LOCK_RANK_LIST = 30, /* core list_lock */
	UMDEV_LOCK_RANK_TREE = 40, /* sysfs tree_lock */
	UMDEV_LOCK_RANK_MTTY_BACKEND = 50, /* mtty device backend_lock */
	UMDEV_LOCK_RANK_MTTY_DEVICE = 55, /* mtty device lock */
	UMDEV_LOCK_RANK_VFIO_DEVICES = 60, /* vfio devices_lock */
	UMDEV_LOCK_RANK_VFIO_DEVICE = 65, /* one vfio device's lock */
	UMDEV_LOCK_RANK_LEAF = 90, /* guard mutex, ref_lock, ida, sysfs handle(s)/loop */
	UMDEV_LOCK_RANK_LOG = 99, /* the log sink: anything may log */
};

/* A class of locks: one per lock in docs/locking.md's table. Static storage. */
struct umdev_lock_class {
	const char *name; /* as the table names it: "list_lock" */
	unsigned int rank; /* enum umdev_lock_rank */
};

/* A mutex with its class. Initialise with UMDEV_MUTEX_INIT() or umdev__mutex_init(). */
struct umdev_mutex {
	pthread_mutex_t mutex;
	const struct umdev_lock_class *cls;
};

/* A reader-writer lock with its class. */
struct umdev_rwlock {
	pthread_rwlock_t rwlock;
	const struct umdev_lock_class *cls;
};

#define UMDEV_MUTEX_INIT(cls_ptr)                                                                  \
	{                                                                                          \
		.mutex = PTHREAD_MUTEX_INITIALIZER, .cls = (cls_ptr)                               \
	}
#define UMDEV_MUTEX_INIT_ADAPTIVE(cls_ptr)                                                         \
	{                                                                                          \
		.mutex = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP, .cls = (cls_ptr)                   \
	}

/**
 * umdev__mutex_init() - initialise @m as a lock of class @cls (borrowed; static storage).
 * @adaptive: spin briefly before sleeping (PTHREAD_MUTEX_ADAPTIVE_NP), for short sections.
 */
void umdev__mutex_init(struct umdev_mutex *m, const struct umdev_lock_class *cls, bool adaptive);
/* umdev__mutex_destroy() - destroy @m, which no thread holds. */
void umdev__mutex_destroy(struct umdev_mutex *m);

/**
 * umdev__rwlock_init() - initialise @l as a lock of class @cls (borrowed; static storage).
 * @prefer_writer: a waiting writer blocks new readers (glibc's
 *	PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP), so a stream of readers cannot starve it;
 *	a reader must then never take the lock twice.
 */
void umdev__rwlock_init(struct umdev_rwlock *l, const struct umdev_lock_class *cls,
			bool prefer_writer);
/* umdev__rwlock_destroy() - destroy @l, which no thread holds. */
void umdev__rwlock_destroy(struct umdev_rwlock *l);

#ifdef UMDEV_LOCKDEP

void umdev__lockdep_acquire(const void *lock, const struct umdev_lock_class *cls, bool check,
			    bool write, const char *file, int line);
void umdev__lockdep_release(const void *lock, const struct umdev_lock_class *cls, const char *file,
			    int line);
void umdev__lockdep_assert(const void *lock, const struct umdev_lock_class *cls, bool held,
			   bool write, const char *file, int line);
/* Number of locks the calling thread holds (tests). */
unsigned int umdev__lockdep_depth(void);

void umdev__mutex_lock_at(struct umdev_mutex *m, const char *file, int line);
bool umdev__mutex_trylock_at(struct umdev_mutex *m, const char *file, int line);
void umdev__mutex_unlock_at(struct umdev_mutex *m, const char *file, int line);
void umdev__rwlock_rdlock_at(struct umdev_rwlock *l, const char *file, int line);
void umdev__rwlock_wrlock_at(struct umdev_rwlock *l, const char *file, int line);
void umdev__rwlock_unlock_at(struct umdev_rwlock *l, const char *file, int line);

/** umdev__mutex_lock() - lock @m; aborts on an order violation (see the top of this file). */
#define umdev__mutex_lock(m) umdev__mutex_lock_at((m), __FILE__, __LINE__)
/** umdev__mutex_trylock() - Return: true if @m is now held by the caller. Never waits. */
#define umdev__mutex_trylock(m) umdev__mutex_trylock_at((m), __FILE__, __LINE__)
/** umdev__mutex_unlock() - unlock @m, which the caller holds. */
#define umdev__mutex_unlock(m) umdev__mutex_unlock_at((m), __FILE__, __LINE__)
#define umdev__rwlock_rdlock(l) umdev__rwlock_rdlock_at((l), __FILE__, __LINE__)
#define umdev__rwlock_wrlock(l) umdev__rwlock_wrlock_at((l), __FILE__, __LINE__)
#define umdev__rwlock_unlock(l) umdev__rwlock_unlock_at((l), __FILE__, __LINE__)

/**
 * umdev__assert_held() - abort unless the calling thread holds @lock (a struct umdev_mutex *
 * or struct umdev_rwlock *, in either mode). The check behind every "Caller holds X".
 */
#define umdev__assert_held(lock)                                                                   \
	umdev__lockdep_assert((lock), (lock)->cls, true, false, __FILE__, __LINE__)
/** umdev__assert_write_held() - abort unless the caller holds rwlock @lock for writing. */
#define umdev__assert_write_held(lock)                                                             \
	umdev__lockdep_assert((lock), (lock)->cls, true, true, __FILE__, __LINE__)
/** umdev__assert_not_held() - abort if the calling thread holds @lock. */
#define umdev__assert_not_held(lock)                                                               \
	umdev__lockdep_assert((lock), (lock)->cls, false, false, __FILE__, __LINE__)

#else /* !UMDEV_LOCKDEP */

static inline void umdev__mutex_lock(struct umdev_mutex *m)
{
	pthread_mutex_lock(&m->mutex);
}

static inline bool umdev__mutex_trylock(struct umdev_mutex *m)
{
	return pthread_mutex_trylock(&m->mutex) == 0;
}

static inline void umdev__mutex_unlock(struct umdev_mutex *m)
{
	pthread_mutex_unlock(&m->mutex);
}

static inline void umdev__rwlock_rdlock(struct umdev_rwlock *l)
{
	pthread_rwlock_rdlock(&l->rwlock);
}

static inline void umdev__rwlock_wrlock(struct umdev_rwlock *l)
{
	pthread_rwlock_wrlock(&l->rwlock);
}

static inline void umdev__rwlock_unlock(struct umdev_rwlock *l)
{
	pthread_rwlock_unlock(&l->rwlock);
}

#define umdev__assert_held(lock) ((void)(lock))
#define umdev__assert_write_held(lock) ((void)(lock))
#define umdev__assert_not_held(lock) ((void)(lock))

#endif /* UMDEV_LOCKDEP */

/**
 * umdev__cond_wait() - pthread_cond_wait() on a checked mutex the caller holds; the caller
 * holds it again on return (and the record says so throughout).
 */
void umdev__cond_wait(pthread_cond_t *cond, struct umdev_mutex *m);
/**
 * umdev__cond_timedwait() - pthread_cond_timedwait() on a checked mutex the caller holds.
 * @abstime: absolute deadline on the condition variable's clock.
 * Return: 0 when signalled (or spuriously woken), ETIMEDOUT past @abstime.
 */
int umdev__cond_timedwait(pthread_cond_t *cond, struct umdev_mutex *m,
			  const struct timespec *abstime);

/*
 * The classes: one per row of docs/locking.md's table, defined in lockdep.c so that the
 * order lives in one file of code as it does in one page of docs.
 */
extern const struct umdev_lock_class umdev__lock_class_driver;
extern const struct umdev_lock_class umdev__lock_class_list;
extern const struct umdev_lock_class umdev__lock_class_guard;
extern const struct umdev_lock_class umdev__lock_class_mdev_ref;
extern const struct umdev_lock_class umdev__lock_class_ida;
extern const struct umdev_lock_class umdev__lock_class_log;
extern const struct umdev_lock_class umdev__lock_class_tree;
extern const struct umdev_lock_class umdev__lock_class_sysfs_handle;
extern const struct umdev_lock_class umdev__lock_class_sysfs_handles;
extern const struct umdev_lock_class umdev__lock_class_sysfs_loop;
extern const struct umdev_lock_class umdev__lock_class_vfio_devices;
extern const struct umdev_lock_class umdev__lock_class_vfio_device;
extern const struct umdev_lock_class umdev__lock_class_mtty_backend;
extern const struct umdev_lock_class umdev__lock_class_mtty_device;

#endif /* UMDEV_UTIL_LOCKDEP_H */
