// SPDX-License-Identifier: MIT
/*
 * vfio devices (vfio-user.md §3): numbering of vfioN at create step C7 and its release at R4
 * (mdev.md §6.7), the device-model declarations drivers make in probe (§10.3), the listening
 * socket of each device and its server thread.
 *
 * A device record is created by the driver's first umdev_pci_init() (state DECLARED; the mdev's
 * vfio slot points at it while it is listed) or at C7 for a driver without a model.
 * A probe that fails after umdev_pci_init() frees it with umdev_pci_fini() (the core calls
 * no vfio hook for a failed probe); umdev_vfio_fini() reaps what a driver forgot.
 * C7 makes it LIVE: N allocated, socket listening and watched by the listeners' thread. A
 * connection starts the device's server thread, which serves it (and any extra connection)
 * and, once nothing is left to serve, hands the socket back and ends: an idle device costs one
 * fd and no thread (issue 10). R4 stops a running thread, which terminates the session, or
 * takes an idle socket out of the watch, then unlinks the record and releases N, last.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "umdev/log.h"
#include "umdev/module.h"
#include "hooks.h"
#include "ida.h"
#include "private.h"

/* One allocator for all parents and drivers (IDA semantics: lowest free, reused). */
static struct umdev_ida vfio_ida = UMDEV_IDA_INIT;

/*
 * devices_lock: the list of device records (DECLARED and LIVE). Held for one lookup plus, for
 * lock_live, taking that device's lock; or for one insert/delete. Taken before dev->lock,
 * never while holding one; never held across I/O or a callback.
 */
static struct umdev_mutex devices_lock = UMDEV_MUTEX_INIT(&umdev__lock_class_vfio_devices);
static struct umdev_list devices = UMDEV_LIST_INIT(devices);

/* Options in effect; written by umdev_vfio_init() only, before any device exists. */
struct umdev__vfio_config umdev__vfio_config = {
    .max_dma_maps = UMDEV_VFIO_DEFAULT_MAX_DMA_MAPS,
    .handshake_timeout_ms = UMDEV_VFIO_DEFAULT_HANDSHAKE_TIMEOUT_MS,
    .dma_timeout_ms = UMDEV_VFIO_DEFAULT_DMA_TIMEOUT_MS,
};
static char socket_dir[PATH_MAX]; /* "<rundir>/vfio/devices"; empty: numbering only */
/* umdev_rundir(): the daemon's run directory; empty: none. Written by init and fini only. */
static char run_dir[PATH_MAX];
atomic_bool umdev__vfio_shutting_down;

#define SOCKET_PATH_MAX 107u
#define LISTEN_BACKLOG 16
#define LISTENER_EVENTS 64 /* epoll events per wait of the listeners' thread */
#define LISTENER_RETRY_MS 100 /* a server thread could not start: the socket rests this long */
#define LISTENER_WAKE UINT64_MAX /* epoll data of the listeners' wake eventfd */

/*
 * The listeners' thread: one epoll set of every idle device's listening socket, each armed
 * one-shot with its vfio number N as data, so that a readiness reported after R4 took the
 * socket out finds no device (or another one, which then just finds nothing to accept): the
 * thread looks the number up in by_index under devices_lock and never follows a pointer the
 * kernel kept. Everything here is under devices_lock, except epfd and wake_fd, which are
 * written before the thread starts and after it ended.
 */
static struct {
	int epfd; /* -1 until the first socket is armed */
	int wake_fd; /* eventfd in the set: stop */
	pthread_t thread;
	bool running;
	bool stop;
	struct umdev__vfio_device **by_index; /* LIVE devices with a socket, by N */
	unsigned int cap; /* entries of by_index */
	unsigned int *retry; /* numbers whose server thread could not start */
	unsigned int nr_retry, cap_retry;
	uint64_t retry_at_ms; /* when they are armed again */
} listeners = {.epfd = -1, .wake_fd = -1};

/* ---- records ---- */

/*
 * The listed record of @mdev, found through the mdev's vfio slot in O(1) (issue 10): the slot
 * points at the record exactly while it is listed. Caller holds devices_lock.
 */
static struct umdev__vfio_device *find_locked(struct umdev_mdev *mdev)
{
	umdev__assert_held(&devices_lock);
	return *umdev__mdev_vfio_slot(mdev);
}

/* List @dev and point its mdev's slot at it. Caller holds devices_lock. */
static void device_list(struct umdev__vfio_device *dev)
{
	umdev__assert_held(&devices_lock);
	umdev_list_add_tail(&devices, &dev->node);
	*umdev__mdev_vfio_slot(dev->mdev) = dev;
}

/* Unlist @dev and clear its mdev's slot; the mdev must be alive. Caller holds devices_lock. */
static void device_unlist(struct umdev__vfio_device *dev)
{
	umdev__assert_held(&devices_lock);
	umdev_list_del(&dev->node);
	*umdev__mdev_vfio_slot(dev->mdev) = NULL;
}

struct umdev__vfio_device *umdev__vfio_device_find(struct umdev_mdev *mdev)
{
	struct umdev__vfio_device *dev;

	umdev__mutex_lock(&devices_lock);
	dev = find_locked(mdev);
	umdev__mutex_unlock(&devices_lock);
	return dev;
}

struct umdev__vfio_device *umdev__vfio_lock_live(struct umdev_mdev *mdev)
{
	struct umdev__vfio_device *dev;

	if (!mdev)
		return NULL;
	umdev__mutex_lock(&devices_lock);
	dev = find_locked(mdev);
	if (dev) {
		umdev__mutex_lock(&dev->lock);
		if (dev->state != VFIO_DEV_LIVE) {
			umdev__mutex_unlock(&dev->lock);
			dev = NULL;
		}
	}
	umdev__mutex_unlock(&devices_lock);
	return dev; /* locked: unlocked by the caller */
}

static struct umdev__vfio_device *device_new(struct umdev_mdev *mdev)
{
	struct umdev__vfio_device *dev = calloc(1, sizeof(*dev));
	pthread_condattr_t attr;

	if (!dev)
		return NULL;
	dev->mdev = mdev;
	dev->serial = umdev__mdev_serial(mdev);
	umdev__mutex_init(&dev->lock, &umdev__lock_class_vfio_device, false);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* T_dma waits (§8.12) */
	pthread_cond_init(&dev->dma_cond, &attr);
	pthread_condattr_destroy(&attr);
	umdev_list_init(&dev->dma_reqs);
	dev->dma_xfer_max = VFIO_USER_MAX_DATA_XFER;
	umdev__irq_init(&dev->irq);
	for (unsigned int i = 0; i < 6; i++)
		dev->mmap[i].fd = -1;
	dev->listen_fd = -1;
	dev->wake_fd = -1;
	umdev_list_init(&dev->node);
	return dev;
}

static void device_free(struct umdev__vfio_device *dev)
{
	for (unsigned int i = 0; i < 6; i++)
		if (dev->mmap[i].fd >= 0)
			close(dev->mmap[i].fd);
	free(dev->dma.maps);
	pthread_cond_destroy(&dev->dma_cond);
	umdev__mutex_destroy(&dev->lock);
	free(dev);
}

struct umdev__vfio_device *umdev__vfio_lock_declared(struct umdev_mdev *mdev, bool create, int *ret)
{
	struct umdev__vfio_device *dev;

	if (!mdev) {
		*ret = -EINVAL;
		return NULL;
	}
	umdev__mutex_lock(&devices_lock);
	dev = find_locked(mdev);
	if (!dev && create) {
		dev = device_new(mdev);
		if (dev)
			device_list(dev);
	}
	if (dev)
		umdev__mutex_lock(&dev->lock);
	umdev__mutex_unlock(&devices_lock);
	if (!dev) {
		*ret = create ? -ENOMEM : -EINVAL;
		return NULL;
	}
	if (dev->state != VFIO_DEV_DECLARED) {
		umdev__mutex_unlock(&dev->lock);
		*ret = -EBUSY;
		return NULL;
	}
	return dev;
}

unsigned int umdev__vfio_nr_devices(void)
{
	struct umdev_list *pos;
	unsigned int n = 0;

	umdev__mutex_lock(&devices_lock);
	umdev_list_for_each(pos, &devices)
		n++;
	umdev__mutex_unlock(&devices_lock);
	return n;
}

void umdev__vfio_declared_free(struct umdev_mdev *mdev)
{
	struct umdev__vfio_device *dev;

	umdev__mutex_lock(&devices_lock);
	/* a listed record's state is stable under devices_lock: C7 and R4 unlist it to change it */
	dev = find_locked(mdev);
	if (dev && dev->state == VFIO_DEV_DECLARED)
		device_unlist(dev);
	else
		dev = NULL; /* none, or LIVE: R4 frees it */
	umdev__mutex_unlock(&devices_lock);
	if (dev)
		device_free(dev);
}

struct umdev__vfio_device *umdev__vfio_lock_model(struct umdev_mdev *mdev)
{
	struct umdev__vfio_device *dev;

	if (!mdev)
		return NULL;
	umdev__mutex_lock(&devices_lock);
	dev = find_locked(mdev);
	if (dev)
		umdev__mutex_lock(&dev->lock);
	umdev__mutex_unlock(&devices_lock);
	if (dev && (dev->state == VFIO_DEV_DETACHED || !dev->pci.initialised)) {
		umdev__mutex_unlock(&dev->lock);
		dev = NULL;
	}
	return dev;
}

/* ---- sockets (vfio-user.md §3.2) ---- */

static int socket_create(struct umdev__vfio_device *dev)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	ret = snprintf(dev->path, sizeof(dev->path), "%s/vfio%u", socket_dir, dev->index);
	if (ret < 0 || (size_t)ret > SOCKET_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, dev->path, (size_t)ret + 1);
	if (unlink(dev->path) < 0 && errno != ENOENT) /* step 2: a stale file */
		return -errno;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* step 3: the mode before bind(), so the file never exists with a wider mode */
	if (fchmod(fd, 0600) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (umdev__vfio_config.has_group &&
	    (chown(dev->path, (uid_t)-1, umdev__vfio_config.group) < 0 ||
	     chmod(dev->path, 0660) < 0)) {
		ret = -errno;
		goto err_unlink;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		ret = -errno;
		goto err_unlink;
	}
	dev->listen_fd = fd;
	return 0;

err_unlink:
	(void)unlink(dev->path);
err_close:
	close(fd);
	return ret;
}

/* ---- listeners (see the top of this file) ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Watch @dev's socket for one connection. Caller holds devices_lock. Return: 0 or -errno. */
static int listener_arm(struct umdev__vfio_device *dev)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = dev->index};

	umdev__assert_held(&devices_lock);
	if (epoll_ctl(listeners.epfd, EPOLL_CTL_MOD, dev->listen_fd, &ev) < 0 &&
	    (errno != ENOENT || epoll_ctl(listeners.epfd, EPOLL_CTL_ADD, dev->listen_fd, &ev) < 0))
		return -errno;
	dev->listen_armed = true;
	return 0;
}

/*
 * Start the server thread of @dev, which accepts the pending connection itself. Caller holds
 * devices_lock; @dev is LIVE, not removing and has no thread. Return: 0 or -errno.
 */
static int server_thread_start(struct umdev__vfio_device *dev)
{
	int fd, ret;

	umdev__assert_held(&devices_lock);
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	umdev__mutex_lock(&dev->lock);
	dev->wake_fd = fd;
	umdev__mutex_unlock(&dev->lock);
	/* signals are blocked in the listeners' thread, so in this one too */
	ret = -pthread_create(&dev->thread, NULL, umdev__vfio_server_thread, dev);
	if (ret < 0) {
		umdev__mutex_lock(&dev->lock);
		dev->wake_fd = -1;
		umdev__mutex_unlock(&dev->lock);
		close(fd);
		return ret;
	}
	dev->thread_running = true;
	return 0;
}

/* Note @n for another try in LISTENER_RETRY_MS. Caller holds devices_lock. */
static void listener_retry_later(unsigned int n)
{
	umdev__assert_held(&devices_lock);
	if (listeners.nr_retry == listeners.cap_retry) {
		unsigned int cap = listeners.cap_retry ? 2 * listeners.cap_retry : 16;
		unsigned int *r = realloc(listeners.retry, cap * sizeof(*r));

		if (!r)
			return; /* that socket stays unwatched until its device is removed */
		listeners.retry = r;
		listeners.cap_retry = cap;
	}
	if (!listeners.nr_retry)
		listeners.retry_at_ms = mono_ms() + LISTENER_RETRY_MS;
	listeners.retry[listeners.nr_retry++] = n;
}

static struct umdev__vfio_device *by_index(uint64_t n)
{
	umdev__assert_held(&devices_lock);
	return n < listeners.cap ? listeners.by_index[n] : NULL;
}

/* A connection is pending on vfio number @n: start its server thread. Caller holds devices_lock. */
static void listener_ready(uint64_t n)
{
	struct umdev__vfio_device *dev = by_index(n);
	int ret;

	if (!dev || !dev->listen_armed || dev->removing || dev->thread_running)
		return; /* a stale report: the device, or its socket's watch, is gone */
	dev->listen_armed = false; /* one-shot: the set reports it no more */
	ret = server_thread_start(dev);
	if (ret < 0) {
		umdev_log(UMDEV_LOG_WARNING, "vfio%u: cannot start its server thread: %s",
			  dev->index, strerror(-ret));
		listener_retry_later(dev->index);
	}
}

static void *listeners_main(void *arg)
{
	struct epoll_event ev[LISTENER_EVENTS];

	(void)arg;
	for (;;) {
		int n, timeout = -1;

		umdev__mutex_lock(&devices_lock);
		if (listeners.nr_retry) {
			uint64_t now = mono_ms();

			timeout =
			    listeners.retry_at_ms > now ? (int)(listeners.retry_at_ms - now) : 0;
		}
		umdev__mutex_unlock(&devices_lock);
		n = epoll_wait(listeners.epfd, ev, LISTENER_EVENTS, timeout);
		umdev__mutex_lock(&devices_lock);
		if (listeners.stop) {
			umdev__mutex_unlock(&devices_lock);
			break;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == LISTENER_WAKE) {
				uint64_t v;

				(void)!read(listeners.wake_fd, &v, sizeof(v));
				continue;
			}
			listener_ready(ev[i].data.u64);
		}
		if (listeners.nr_retry && mono_ms() >= listeners.retry_at_ms) {
			unsigned int nr = listeners.nr_retry;

			listeners.nr_retry = 0;
			for (unsigned int i = 0; i < nr; i++) {
				struct umdev__vfio_device *dev = by_index(listeners.retry[i]);

				if (dev && !dev->removing && !dev->thread_running &&
				    !dev->listen_armed && listener_arm(dev) < 0)
					listener_retry_later(dev->index);
			}
		}
		umdev__mutex_unlock(&devices_lock);
	}
	return NULL;
}

/* Create the epoll set and start the listeners' thread, once. Caller holds devices_lock. */
static int listeners_start(void)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LISTENER_WAKE};
	sigset_t all, old;
	int ret;

	umdev__assert_held(&devices_lock);
	if (listeners.running)
		return 0;
	listeners.epfd = epoll_create1(EPOLL_CLOEXEC);
	listeners.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (listeners.epfd < 0 || listeners.wake_fd < 0 ||
	    epoll_ctl(listeners.epfd, EPOLL_CTL_ADD, listeners.wake_fd, &ev) < 0) {
		ret = -errno;
		goto err;
	}
	listeners.stop = false;
	/* neither it nor the server threads it starts take a signal: umdevd uses sigwait() */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&listeners.thread, NULL, listeners_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0)
		goto err;
	listeners.running = true;
	return 0;

err:
	if (listeners.epfd >= 0)
		close(listeners.epfd);
	if (listeners.wake_fd >= 0)
		close(listeners.wake_fd);
	listeners.epfd = listeners.wake_fd = -1;
	return ret;
}

/* Stop the listeners' thread (umdev_vfio_fini(): every device is gone). */
static void listeners_stop(void)
{
	const uint64_t one = 1;
	bool running;

	umdev__mutex_lock(&devices_lock);
	running = listeners.running;
	listeners.stop = true;
	if (running)
		(void)!write(listeners.wake_fd, &one, sizeof(one));
	umdev__mutex_unlock(&devices_lock);
	if (running)
		pthread_join(listeners.thread, NULL);
	if (listeners.epfd >= 0)
		close(listeners.epfd);
	if (listeners.wake_fd >= 0)
		close(listeners.wake_fd);
	free(listeners.by_index);
	free(listeners.retry);
	listeners = (typeof(listeners)){.epfd = -1, .wake_fd = -1};
}

/*
 * C7's last step for a device with a socket: make it findable by number and watch its socket.
 * Caller holds devices_lock. Return: 0 or -errno (nothing changed).
 */
static int listener_add(struct umdev__vfio_device *dev)
{
	int ret;

	umdev__assert_held(&devices_lock);
	if (dev->index >= listeners.cap) {
		unsigned int cap = listeners.cap ? listeners.cap : 64;
		struct umdev__vfio_device **t;

		while (cap <= dev->index)
			cap *= 2;
		t = realloc(listeners.by_index, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		memset(t + listeners.cap, 0, (cap - listeners.cap) * sizeof(*t));
		listeners.by_index = t;
		listeners.cap = cap;
	}
	ret = listeners_start();
	if (ret == 0)
		ret = listener_arm(dev);
	if (ret == 0)
		listeners.by_index[dev->index] = dev;
	return ret;
}

bool umdev__vfio_thread_idle(struct umdev__vfio_device *dev)
{
	int fd, ret;

	umdev__mutex_lock(&devices_lock);
	if (dev->removing) {
		umdev__mutex_unlock(&devices_lock);
		return false; /* R4 joins this thread */
	}
	ret = listener_arm(dev);
	if (ret < 0) {
		umdev__mutex_unlock(&devices_lock);
		umdev_log(UMDEV_LOG_WARNING,
			  "vfio%u: cannot watch its socket (fd %d, epoll %d): %s; "
			  "its server thread keeps it",
			  dev->index, dev->listen_fd, listeners.epfd, strerror(-ret));
		return false; /* it stays and serves on */
	}
	umdev__mutex_lock(&dev->lock);
	fd = dev->wake_fd;
	dev->wake_fd = -1; /* DMA transfers need a session, and there is none (dma.c) */
	umdev__mutex_unlock(&dev->lock);
	dev->thread_running = false;
	pthread_detach(pthread_self()); /* nobody joins it: R4 sees no thread */
	umdev__mutex_unlock(&devices_lock);
	close(fd);
	return true;
}

/* ---- hooks ---- */

/*
 * A BAR with a size needs the region callbacks (§10.3); a model needs umdev_pci_init(); and a
 * model needs vfio_ops: without them a declared device would be served with no callback to
 * answer its BARs.
 */
static int model_check(const struct umdev__vfio_device *dev)
{
	if (!dev->ops)
		return dev->pci.initialised ? -EINVAL : 0;
	if (!dev->pci.initialised)
		return -EINVAL;
	for (unsigned int i = 0; i < 6; i++)
		if (dev->pci.bar[i].size && (!dev->ops->region_read || !dev->ops->region_write))
			return -EINVAL;
	return 0;
}

static int vfio_register(void *opaque, struct umdev_mdev *mdev, unsigned int *ret_index)
{
	struct umdev__vfio_device *dev;
	int n, ret;

	(void)opaque;
	umdev__mutex_lock(&devices_lock);
	dev = find_locked(mdev);
	if (!dev)
		dev = device_new(mdev); /* a driver without a device model */
	else
		device_unlist(dev); /* re-listed when LIVE */
	umdev__mutex_unlock(&devices_lock);
	if (!dev)
		return -ENOMEM;
	dev->ops = umdev__mdev_vfio_ops(mdev);
	ret = model_check(dev);
	if (ret < 0)
		goto err_free;
	n = umdev_ida_alloc(&vfio_ida); /* step 1: allocation and ownership in one step (§6.7) */
	if (n < 0) {
		ret = n;
		goto err_free;
	}
	dev->index = (unsigned int)n;
	if (socket_dir[0] && dev->pci.initialised) {
		ret = socket_create(dev); /* steps 2, 3 */
		if (ret < 0)
			goto err_free_index;
		dev->close_budget = umdev__close_budget_new(); /* NULL: closes are not counted */
	}
	dev->state = VFIO_DEV_LIVE;
	umdev__mutex_lock(&devices_lock);
	ret = dev->listen_fd >= 0 ? listener_add(dev) : 0; /* a connection may come at once */
	if (ret == 0)
		device_list(dev);
	umdev__mutex_unlock(&devices_lock);
	if (ret < 0)
		goto err_close_socket;
	*ret_index = dev->index;
	return 0;

err_close_socket:
	umdev__close_budget_put(dev->close_budget);
	dev->close_budget = NULL;
	(void)unlink(dev->path);
	close(dev->listen_fd);
	dev->listen_fd = -1;
err_free_index:
	umdev_ida_free(&vfio_ida, dev->index);
err_free:
	device_free(dev); /* the declaration goes with the failed create */
	return ret;
}

static void vfio_detach(void *opaque, struct umdev_mdev *mdev)
{
	struct umdev__vfio_device *dev;
	uint64_t one = 1;

	(void)opaque;
	umdev__mutex_lock(&devices_lock);
	dev = find_locked(mdev);
	umdev__mutex_unlock(&devices_lock);
	if (!dev)
		return; /* C7 never ran for it */
	if (dev->listen_fd >= 0) {
		bool running;

		/* step 1: no new connection */
		(void)unlink(dev->path);
		umdev__mutex_lock(&devices_lock);
		dev->removing = true; /* no thread starts from here, none goes idle */
		running = dev->thread_running;
		if (!running && dev->listen_armed) {
			(void)epoll_ctl(listeners.epfd, EPOLL_CTL_DEL, dev->listen_fd, NULL);
			dev->listen_armed = false;
		}
		listeners.by_index[dev->index] = NULL; /* a report still queued finds nothing */
		umdev__mutex_unlock(&devices_lock);
		if (running) {
			umdev__mutex_lock(&dev->lock);
			/* step 2: REQ, once; never sleeps, even on a full blocking eventfd */
			umdev__eventfd_signal(dev->irq.req_trigger);
			umdev__mutex_unlock(&dev->lock);
			(void)!write(dev->wake_fd, &one, sizeof(one));
			/*
			 * steps 3-5 run in the thread, which closes the listener and waits for a
			 * client only up to T_req (server.c); the session ends here, before the
			 * core's wait_refs() and RELEASE
			 */
			pthread_join(dev->thread, NULL);
			umdev__mutex_lock(&dev->lock);
			close(dev->wake_fd);
			dev->wake_fd = -1;
			umdev__mutex_unlock(&dev->lock);
		} else {
			close(dev->listen_fd); /* idle: no session, no REQ to send (step 2) */
			dev->listen_fd = -1;
		}
		umdev__close_budget_put(dev->close_budget); /* closes still pending keep it */
		dev->close_budget = NULL;
	}
	umdev__mutex_lock(&devices_lock);
	device_unlist(dev);
	umdev__mutex_unlock(&devices_lock);
	umdev__mutex_lock(&dev->lock);
	umdev__dma_abort_all(dev); /* no session any more; nothing new can be queued */
	while (dev->dma_waiters) /* driver threads leaving a message transfer (§10.1) */
		umdev__cond_wait(&dev->dma_cond, &dev->lock);
	dev->state = VFIO_DEV_DETACHED; /* no driver call holds the lock or waits any more */
	umdev__irq_release_all(dev);
	umdev__dma_release_all(dev);
	umdev__mutex_unlock(&dev->lock);
	umdev_ida_free(&vfio_ida, dev->index); /* step 6, last: N free for reuse (M-46) */
	device_free(dev);
}

static const struct umdev_vfio_hooks vfio_hooks = {
    .vfio_register = vfio_register,
    .vfio_detach = vfio_detach,
};

/* ---- init ---- */

static int parse_group(const char *name, gid_t *ret_gid)
{
	struct group grp, *res = NULL;
	char buf[4096];
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name && !*end && !errno && v < (gid_t)-1) {
		*ret_gid = (gid_t)v;
		return 0;
	}
	if (getgrnam_r(name, &grp, buf, sizeof(buf), &res) != 0 || !res)
		return -EINVAL;
	*ret_gid = res->gr_gid;
	return 0;
}

static int mkdir_mode(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	if (chmod(path, mode) < 0)
		return -errno;
	return 0;
}

/* §3.2 step 2 at start-up: remove every stale vfio* entry of the socket directory. */
static void remove_stale(void)
{
	DIR *d = opendir(socket_dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "vfio", 4))
			(void)unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

static int setup_rundir(const char *rundir)
{
	char vfio_dir[PATH_MAX];
	int n, ret;

	n = snprintf(socket_dir, sizeof(socket_dir), "%s/vfio/devices", rundir);
	/* the longest name: "/vfio" plus 7 digits (the allocator stops below 1 << 20) */
	if (n < 0 || (size_t)n + strlen("/vfio") + 7 > SOCKET_PATH_MAX) {
		socket_dir[0] = 0;
		return -ENAMETOOLONG;
	}
	snprintf(vfio_dir, sizeof(vfio_dir), "%s/vfio", rundir);
	ret = mkdir_mode(vfio_dir, 0755);
	if (ret == 0)
		ret = mkdir_mode(socket_dir, 0755);
	if (ret < 0) {
		socket_dir[0] = 0;
		return ret;
	}
	remove_stale();
	return 0;
}

int umdev_vfio_init(const struct umdev_vfio_options *opt)
{
	struct umdev__vfio_config c = {
	    .max_dma_maps = UMDEV_VFIO_DEFAULT_MAX_DMA_MAPS,
	    .handshake_timeout_ms = UMDEV_VFIO_DEFAULT_HANDSHAKE_TIMEOUT_MS,
	    .dma_timeout_ms = UMDEV_VFIO_DEFAULT_DMA_TIMEOUT_MS,
	};
	int ret;

	socket_dir[0] = 0;
	run_dir[0] = 0;
	if (opt) {
		if (opt->max_dma_maps > 65535)
			return -EINVAL;
		if (opt->max_dma_maps)
			c.max_dma_maps = opt->max_dma_maps;
		if (opt->handshake_timeout_ms)
			c.handshake_timeout_ms = opt->handshake_timeout_ms;
		if (opt->dma_timeout_ms)
			c.dma_timeout_ms = opt->dma_timeout_ms;
		c.req_timeout_ms = opt->req_timeout_ms;
		if (opt->socket_group) {
			ret = parse_group(opt->socket_group, &c.group);
			if (ret < 0)
				return ret;
			c.has_group = true;
		}
		if (opt->rundir) {
			ret = setup_rundir(opt->rundir);
			if (ret < 0)
				return ret;
			snprintf(run_dir, sizeof(run_dir), "%s", opt->rundir); /* fits: checked */
		}
	}
	if (!umdev__clientfd_init())
		umdev_log(UMDEV_LOG_DEBUG,
			  "vfio: no Linux AIO, eventfd signals use poll() first: a "
			  "client racing its own eventfd can stall its device's "
			  "server thread");
	umdev__vfio_config = c;
	atomic_store(&umdev__vfio_shutting_down, false);
	umdev__core_set_vfio_hooks(&vfio_hooks, NULL);
	return 0;
}

void umdev_vfio_shutdown(void)
{
	const uint64_t one = 1;
	struct umdev_list *pos;

	atomic_store(&umdev__vfio_shutting_down, true);
	umdev__mutex_lock(&devices_lock);
	umdev_list_for_each(pos, &devices) { /* a removal waiting T_req ends it now */
		struct umdev__vfio_device *dev =
		    umdev_list_entry(pos, struct umdev__vfio_device, node);

		if (dev->wake_fd >= 0) /* ours, non-blocking */
			(void)!write(dev->wake_fd, &one, sizeof(one));
	}
	umdev__mutex_unlock(&devices_lock);
}

const char *umdev_rundir(void)
{
	return run_dir[0] ? run_dir : NULL;
}

void umdev_vfio_fini(void)
{
	struct umdev_list *pos, *tmp;

	umdev__core_set_vfio_hooks(NULL, NULL);
	/* declarations of failed probes whose driver did not call umdev_pci_fini() */
	umdev__mutex_lock(&devices_lock);
	umdev_list_for_each_safe(pos, tmp, &devices) {
		struct umdev__vfio_device *dev =
		    umdev_list_entry(pos, struct umdev__vfio_device, node);

		if (dev->state == VFIO_DEV_DECLARED) {
			umdev_list_del(&dev->node); /* its mdev, and the slot, are gone already */
			device_free(dev);
		}
	}
	umdev__mutex_unlock(&devices_lock);
	listeners_stop();
	umdev_ida_destroy(&vfio_ida);
	socket_dir[0] = 0;
	run_dir[0] = 0;
}
