// SPDX-License-Identifier: MIT
/*
 * A client's fds: eventfds signalled and drained, and every received fd closed, without ever
 * waiting for another process (vfio-user.md §9.4 "eventfd writes never block", §10.2, §3.3:
 * no client can delay a removal; §5 C1).
 *
 * Everything a client sends is hostile, its fds included. An fd it hands over is its own open
 * file description: O_NONBLOCK is shared with the client, which may clear it at any time, so
 * neither setting nor checking the flag protects us. On a blocking eventfd, write(2) of 1
 * sleeps while the counter is at 0xfffffffffffffffe, and read(2) sleeps while it is 0; a poll()
 * before either races with the client's own reads and writes of its counter. The kernel never
 * blocks on an eventfd it signals: eventfd_signal() saturates the counter instead.
 *
 * Signal: we reach the kernel's eventfd_signal() through Linux AIO. An iocb submitted with
 * IOCB_FLAG_RESFD makes the kernel signal aio_resfd when the iocb completes; we submit a read
 * of 0 bytes from an empty memfd of ours (IOCB_CMD_PREAD, which valgrind understands too),
 * which completes inside io_submit(), and the kernel signals the client's eventfd from there:
 * never sleeping on the client, saturating like the kernel. io_submit()
 * also checks that the fd is an eventfd (-EINVAL otherwise). The call is as short as any
 * system call and cannot wait for the client, so it may run under dev->lock, which keeps the
 * fd number stable (the kernel, too, signals eventfds under its spinlocks).
 *
 * Drain (the INTx unmask eventfd): preadv2() with RWF_NOWAIT, a per-call non-blocking read
 * (eventfd reads honour IOCB_NOWAIT since Linux 5.11): a counter the client emptied first
 * gives -EAGAIN instead of a sleep. It needs no lock: only the server thread reads it.
 *
 * Without AIO (ENOSYS, a seccomp filter, aio-max-nr exhausted) or RWF_NOWAIT (older kernels),
 * both fall back to poll() with a zero timeout before the write or read. That fallback keeps
 * every cooperative client working, but a client racing its own counter against ours can then
 * still stall the calling thread: umdev_vfio_init() logs it at debug level.
 *
 * Close: close(2) runs the file's ->flush, which for a FUSE file waits for whoever serves that
 * file system (possibly the client itself, for ever), and for a tty or a lingering socket waits
 * too. So a received fd is closed at once only when its kind cannot wait, found without calling
 * into its file system: memory files (F_GET_SEALS answers for memfd, tmpfs and hugetlbfs),
 * anonymous inodes (eventfds), pipes, and AF_UNIX sockets. Any other fd is handed to a closer
 * thread, which nobody ever waits for, and counted in the device's close budget (struct
 * umdev__close_budget): a device with VFIO_CLOSE_PENDING_MAX such closes outstanding reads
 * nothing more from its clients until they complete (server.c), so a client whose fds cannot
 * be closed stalls only its own device, and pins a bounded number of our fds. The same rule
 * keeps DMA files to memory files (dma.c): reading a FUSE file under dev->lock would wait for
 * the client.
 *
 * Closer threads: a pool that grows on demand, so that one close that never returns holds up
 * no other. A deferred close goes to an idle closer thread if one waits for work that no
 * earlier record has claimed, else to a new thread; a thread that finishes its close takes the
 * next queued record, waits idle if fewer than CLOSERS_IDLE do, and otherwise exits. A stuck
 * close therefore pins one thread and one fd, never the queue. Bounds: one device has at most
 * VFIO_CLOSE_PENDING_MAX records with the threads (budget->active); its further closes (one
 * message can bring SCM_MAX_FD fds) wait on its budget's overflow list for one of its own
 * closes to finish, so a stuck device never takes threads from another. At most CLOSERS_MAX
 * threads exist in all; past that (CLOSERS_MAX / VFIO_CLOSE_PENDING_MAX devices with every
 * close stuck) a record waits in the queue for any thread to come free. closers.lock (a leaf,
 * docs/locking.md) covers the queue, the counts and the budgets' overflow lists for a few
 * lines, never a close() or a wait for a thread; it may be taken under dev->lock. Threads left
 * at exit, idle or stuck, are detached and hold nothing that is not reachable.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/aio_abi.h>

#include "umdev/log.h"
#include "private.h"

#define AIO_EVENTS 256 /* completions in the ring; each is reaped right after its submit */

#define CLOSERS_MAX 256u /* closer threads in all: 8 devices with every close stuck */
#define CLOSERS_IDLE 2u /* idle closer threads kept; more exit */
#define CLOSER_STACK (256u << 10) /* close() and a few lines: a small stack */

/*
 * Process-wide, set up once by umdev__clientfd_init() and never torn down (the kernel frees
 * them at exit): the AIO context and the empty memfd its reads come from. Read-only once set.
 */
static aio_context_t aio_ctx;
static int empty_fd = -1;
static bool aio_ok;
static bool nowait_ok = true; /* RWF_NOWAIT reads; cleared at the first EOPNOTSUPP */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* One fd for a closer thread. */
struct umdev__closing {
	struct umdev__closing *next; /* in closers.head or a budget's overflow list */
	int fd;
	struct umdev__close_budget *budget; /* holds a reference; NULL: none */
};

static const struct umdev_lock_class closers_class = {"vfio closers_lock", UMDEV_LOCK_RANK_LEAF};

/* The closer threads (see the top of this file); static, never torn down. */
static struct {
	struct umdev_mutex lock; /* leaf: protects the rest, and the budgets' active/overflow */
	pthread_cond_t cond; /* a record was queued: idle threads wait on it with lock */
	struct umdev__closing *head, **tail; /* queued for any thread, oldest first */
	unsigned int nr_queued;
	unsigned int nr_threads; /* alive, stuck ones included */
	unsigned int nr_idle; /* waiting on cond */
} closers = {
    .lock = UMDEV_MUTEX_INIT(&closers_class),
    .cond = PTHREAD_COND_INITIALIZER,
    .tail = &closers.head,
};

_Thread_local struct umdev__close_budget *umdev__close_budget_cur;

static void budget_put(struct umdev__close_budget *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

/*
 * Done with @c: the next record of its budget's overflow list, if any, stays with this
 * thread (return value); else the budget gets its slot back. Caller holds closers.lock.
 */
static struct umdev__closing *closing_done(struct umdev__closing *c)
{
	struct umdev__close_budget *b = c->budget;
	struct umdev__closing *next = NULL;

	umdev__assert_held(&closers.lock);
	if (b) {
		next = b->overflow;
		if (next) {
			b->overflow = next->next;
			if (!b->overflow)
				b->overflow_tail = &b->overflow;
			next->next = NULL;
		} else {
			b->active--;
		}
		atomic_fetch_sub(&b->pending, 1);
		budget_put(b); /* not the last while next holds one */
	}
	free(c);
	return next;
}

/* A closer thread, started for @arg: closes what may wait; nothing ever waits for it. */
static void *closer_main(void *arg)
{
	struct umdev__closing *c = arg;

	for (;;) {
		close(c->fd);
		umdev__mutex_lock(&closers.lock);
		c = closing_done(c);
		while (!c) {
			if (closers.head) {
				c = closers.head;
				closers.head = c->next;
				if (!closers.head)
					closers.tail = &closers.head;
				closers.nr_queued--;
				c->next = NULL;
			} else if (closers.nr_idle >= CLOSERS_IDLE) {
				closers.nr_threads--;
				umdev__mutex_unlock(&closers.lock);
				return NULL;
			} else {
				closers.nr_idle++;
				umdev__cond_wait(&closers.cond, &closers.lock);
				closers.nr_idle--;
			}
		}
		umdev__mutex_unlock(&closers.lock);
	}
}

/* Start a closer thread for @c. Return: 0 or a positive errno. */
static int closer_start(struct umdev__closing *c)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t t;
	int ret;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	(void)pthread_attr_setstacksize(&attr, CLOSER_STACK);
	sigfillset(&all); /* as the server threads: the daemon takes signals synchronously */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&t, &attr, closer_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return ret;
}

static void init_once_fn(void)
{
	aio_context_t ctx = 0;
	int fd;

	fd = memfd_create("umdev-aio", MFD_CLOEXEC); /* empty for ever */
	if (fd < 0)
		return;
	if (syscall(SYS_io_setup, AIO_EVENTS, &ctx) < 0) {
		close(fd);
		return;
	}
	aio_ctx = ctx;
	empty_fd = fd;
	aio_ok = true;
}

bool umdev__clientfd_init(void)
{
	pthread_once(&init_once, init_once_fn);
	return aio_ok;
}

struct umdev__close_budget *umdev__close_budget_new(void)
{
	struct umdev__close_budget *b = calloc(1, sizeof(*b));

	if (b) {
		atomic_init(&b->refs, 1);
		b->overflow_tail = &b->overflow;
	}
	return b;
}

void umdev__close_budget_put(struct umdev__close_budget *b)
{
	budget_put(b);
}

/* Whether close(@fd) cannot wait for another process; asks nothing of @fd's file system. */
static bool close_is_prompt(int fd)
{
	char path[32], link[32];
	int domain;
	socklen_t len = sizeof(domain);
	ssize_t n;

	if (fcntl(fd, F_GET_SEALS) >= 0)
		return true; /* memfd, tmpfs, hugetlbfs: no ->flush */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	if (!strncmp(link, "anon_inode:", 11) || !strncmp(link, "pipe:", 5))
		return true;
	return !strncmp(link, "socket:", 7) &&
	       getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX;
}

bool umdev__clientfd_is_memory(int fd)
{
	return fcntl(fd, F_GET_SEALS) >= 0;
}

/* Queue @c for any closer thread. Caller holds closers.lock. */
static void closers_queue(struct umdev__closing *c)
{
	umdev__assert_held(&closers.lock);
	*closers.tail = c;
	closers.tail = &c->next;
	closers.nr_queued++;
}

void umdev__clientfd_close(int fd)
{
	struct umdev__close_budget *b = umdev__close_budget_cur;
	struct umdev__closing *c;

	if (fd < 0)
		return;
	if (close_is_prompt(fd) || !(c = calloc(1, sizeof(*c)))) {
		close(fd); /* without memory, nothing else is left but to close here */
		return;
	}
	c->fd = fd;
	c->budget = b;
	if (b) {
		atomic_fetch_add(&b->refs, 1);
		atomic_fetch_add(&b->pending, 1);
	}
	umdev__mutex_lock(&closers.lock);
	if (b && b->active >= VFIO_CLOSE_PENDING_MAX) { /* after this device's own closes */
		*b->overflow_tail = c;
		b->overflow_tail = &c->next;
		umdev__mutex_unlock(&closers.lock);
		return;
	}
	if (b)
		b->active++;
	if (closers.nr_idle > closers.nr_queued) { /* an idle thread no record claimed yet */
		closers_queue(c);
		pthread_cond_broadcast(&closers.cond);
		umdev__mutex_unlock(&closers.lock);
		return;
	}
	if (closers.nr_threads < CLOSERS_MAX) {
		closers.nr_threads++;
		umdev__mutex_unlock(&closers.lock);
		if (closer_start(c) == 0)
			return;
		umdev__mutex_lock(&closers.lock);
		closers.nr_threads--;
	}
	if (closers.nr_threads) { /* every thread busy: the first to come free takes it */
		closers_queue(c);
		umdev__mutex_unlock(&closers.lock);
		return;
	}
	do { /* no thread at all: close here, and what queued behind it meanwhile */
		umdev__mutex_unlock(&closers.lock);
		close(c->fd);
		umdev__mutex_lock(&closers.lock);
	} while ((c = closing_done(c)));
	umdev__mutex_unlock(&closers.lock);
}

/* Reap whatever completions are in the ring, without waiting. */
static void aio_reap(void)
{
	struct io_event ev[16];
	struct timespec zero = {0, 0};

	while (syscall(SYS_io_getevents, aio_ctx, 0, 16, ev, &zero) == 16)
		;
}

static int aio_signal(int fd)
{
	static char none[1]; /* 0 bytes are read into it */
	struct iocb cb;
	struct iocb *cbs[1] = {&cb};

	memset(&cb, 0, sizeof(cb));
	cb.aio_lio_opcode = IOCB_CMD_PREAD;
	cb.aio_fildes = (uint32_t)empty_fd;
	cb.aio_buf = (uint64_t)(uintptr_t)none;
	cb.aio_nbytes = 0;
	cb.aio_flags = IOCB_FLAG_RESFD;
	cb.aio_resfd = (uint32_t)fd;
	for (int tries = 0; tries < 2; tries++) {
		long r = syscall(SYS_io_submit, aio_ctx, 1, cbs);

		if (r == 1) {
			aio_reap();
			return 0;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			aio_reap(); /* another thread's completion is still in the ring */
			continue;
		}
		return r < 0 ? -errno : -EIO;
	}
	return -EAGAIN;
}

/* The fallback: signal only if the counter has room now. */
static void poll_write(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	uint64_t one = 1;

	if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT))
		(void)!write(fd, &one, sizeof(one));
	/* else the counter is at its maximum: already signalled, as the kernel saturates */
}

void umdev__eventfd_signal(int fd)
{
	if (fd < 0)
		return;
	if (aio_ok) {
		int ret = aio_signal(fd);

		if (ret == 0 || ret == -EINVAL || ret == -EBADF)
			return; /* -EINVAL: not an eventfd (checked at SET_IRQS already) */
	}
	poll_write(fd);
}

bool umdev__eventfd_drain(int fd)
{
	uint64_t v;
	struct iovec iov = {&v, sizeof(v)};
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t r;

	if (fd < 0)
		return false;
	if (__atomic_load_n(&nowait_ok, __ATOMIC_RELAXED)) {
		do
			r = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
		while (r < 0 && errno == EINTR);
		if (r >= 0 || errno != EOPNOTSUPP)
			return r == (ssize_t)sizeof(v);
		__atomic_store_n(&nowait_ok, false, __ATOMIC_RELAXED);
	}
	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
		return false;
	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}
