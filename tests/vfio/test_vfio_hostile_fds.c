// SPDX-License-Identifier: MIT
/*
 * Hostile file descriptors (vfio-user.md §3.3, §5 C1, §6.5 I2/I4, §9.4, §10.2): everything a
 * client sends is hostile, including its fds. A blocking eventfd whose counter is at its
 * maximum, an unmask eventfd the client drains itself, and a client that makes the daemon hold
 * fds until its table is full must not wedge the server: no removal waits on a client, other
 * devices keep working, and a full fd table makes no thread spin.
 *
 * Every test that could hang runs the blocking part in a thread with a deadline; when the
 * deadline passes it unsticks the server (reads the full eventfd, writes the unmask eventfd)
 * so that the test fails instead of hanging the suite.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>
#include <fuse_lowlevel.h>

#include "hooks.h"
#include "umdev/log.h"
#include "private.h"
#include "fx.h"
#include "vclient.h"
#include "vdrv.h"
#include "vfio.h"

#define FULL 0xfffffffffffffffeull /* the largest count a write may leave in an eventfd */

/* A blocking eventfd (no EFD_NONBLOCK) whose counter is at its maximum. */
static int full_blocking_eventfd(void)
{
	uint64_t v = FULL;
	int efd = eventfd(0, EFD_CLOEXEC);

	assert_true(efd >= 0);
	assert_int_equal(write(efd, &v, sizeof(v)), sizeof(v));
	return efd;
}

static void hf_stop(void);
static bool hf_running(void);

/* The usual 1024-fd soft limit, whatever the environment gave us (restored at teardown). */
static int fx_setup(void **state)
{
	return fx_setup_opts(state, &(struct umdev_vfio_options){.handshake_timeout_ms = 2000},
			     true);
}

static int fx_setup_req30(void **state)
{
	return fx_setup_opts(
	    state,
	    &(struct umdev_vfio_options){.handshake_timeout_ms = 2000, .req_timeout_ms = 30000},
	    true);
}

static int hf_teardown(void **state)
{
	if (hf_running())
		hf_stop(); /* a FUSE test failed half-way */
	return fx_teardown(state);
}

/* ---- running what may hang with a deadline ---- */

struct job {
	pthread_t thread;
	atomic_bool done;
	void *(*fn)(struct job *);
	/* arguments and results */
	uuid_t *uuid;
	struct umdev_mdev *mdev;
	int ret;
};

static void *job_main(void *arg)
{
	struct job *j = arg;

	j->fn(j);
	atomic_store(&j->done, true);
	return NULL;
}

static void job_start(struct job *j, void *(*fn)(struct job *))
{
	atomic_store(&j->done, false);
	j->fn = fn;
	assert_int_equal(pthread_create(&j->thread, NULL, job_main, j), 0);
}

/* Whether the job finished within @timeout_ms (it is joined only if it did). */
static bool job_wait(struct job *j, int timeout_ms)
{
	uint64_t end = fx_now_ms() + (uint64_t)timeout_ms;

	while (!atomic_load(&j->done) && fx_now_ms() < end)
		usleep(2000);
	if (!atomic_load(&j->done))
		return false;
	pthread_join(j->thread, NULL);
	return true;
}

static void *remove_fn(struct job *j)
{
	j->ret = umdev_mdev_remove(j->uuid);
	return NULL;
}

static void *intx_fn(struct job *j)
{
	j->ret = umdev_intx_set_level(j->mdev, true);
	return NULL;
}

static void *msi_fn(struct job *j)
{
	j->ret = umdev_msi_notify(j->mdev, 0);
	return NULL;
}

/* an attribute-style read of another device: devices_lock, then that device's lock */
static void *config_get_fn(struct job *j)
{
	uint32_t v = 0;

	j->ret = umdev_pci_config_get(j->mdev, 0, 2, &v);
	if (j->ret == 0 && v != 0x1234)
		j->ret = -EPROTO; /* vdrv's vendor ID */
	return NULL;
}

/* Read the full eventfd: a server write blocked on it completes (only on a failing run). */
static void unstick(int efd)
{
	uint64_t v;

	(void)!read(efd, &v, sizeof(v));
}

/* Signal the drained eventfd: a server read blocked on it completes (only on a failing run). */
static void unstick_read(int efd)
{
	uint64_t one = 1;

	(void)!write(efd, &one, sizeof(one));
}

/* Return: the eventfd's counter read without blocking; 0 if it is 0. */
static uint64_t ev_count(int efd)
{
	struct pollfd p = {.fd = efd, .events = POLLIN};
	uint64_t v = 0;

	if (poll(&p, 1, 0) == 1 && read(efd, &v, sizeof(v)) == sizeof(v))
		return v;
	return 0;
}

/*
 * C1 while device 0's server may be stuck: a driver call on device 0 and a config read of
 * device 1 both return within 1 s, and device 1 still negotiates.
 */
static void assert_daemon_responsive(struct fx *f, void (*unstick_fn)(int), int stuck_efd)
{
	struct job drv = {.mdev = fx_mdev(f, 0)}, other = {.mdev = fx_mdev(f, 1)};
	bool drv_ok, other_ok;
	int fd;

	job_start(&drv, intx_fn);
	usleep(100000); /* a stuck driver call would now hold devices_lock */
	job_start(&other, config_get_fn);
	drv_ok = job_wait(&drv, 1000);
	other_ok = job_wait(&other, 1000);
	if (!drv_ok || !other_ok) {
		unstick_fn(stuck_efd);
		if (!drv_ok)
			assert_true(job_wait(&drv, 5000));
		if (!other_ok)
			assert_true(job_wait(&other, 5000));
		fail_msg("daemon wedged by a client eventfd: driver call %s, other device %s",
			 drv_ok ? "returned" : "hung", other_ok ? "returned" : "hung");
	}
	assert_int_equal(drv.ret, 0);
	assert_int_equal(other.ret, 0);
	fd = vc_open(f->path[1]);
	assert_true(fd >= 0);
	close(fd);
}

/* Remove device 0 within 2 s, else unstick @stuck_efd and fail. */
static void assert_remove_prompt(struct fx *f, void (*unstick_fn)(int), int stuck_efd)
{
	struct job rm = {.uuid = &f->u[0]};

	job_start(&rm, remove_fn);
	if (!job_wait(&rm, 2000)) {
		unstick_fn(stuck_efd);
		assert_true(job_wait(&rm, 5000));
		f->live[0] = false;
		fail_msg("removal waited for a client's eventfd");
	}
	f->live[0] = false;
	assert_int_equal(rm.ret, 0);
}

/* ---- eventfds that would block a write (§9.4: eventfd writes never block) ---- */

/*
 * A blocking INTx trigger eventfd at its maximum, fired by a loop-back: the reply arrives,
 * the signal saturates as the kernel's eventfd_signal() does, and nothing else waits.
 */
static void test_V54_C1_loopback_to_full_blocking_intx_trigger_never_blocks(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int trig = full_blocking_eventfd();
	struct vc_reply r;
	uint8_t p[20];

	assert_true(fd >= 0);
	assert_int_equal(vc_set_irqs(fd, 0x24, 0, 0, 1, &trig, 1), 0);
	vc_put32(p, 20);
	vc_put32(p + 4, 0x21); /* TRIGGER | DATA_NONE: loop-back */
	vc_put32(p + 8, 0);
	vc_put32(p + 12, 0);
	vc_put32(p + 16, 1);
	assert_int_equal(vc_send(fd, 7, C_SET_IRQS, 0, p, sizeof(p), NULL, 0), 0);
	if (vc_recv(fd, &r, 2000) != 0) {
		unstick(trig);
		assert_int_equal(vc_recv(fd, &r, 5000), 0);
		vc_reply_free(&r);
		close(fd);
		close(trig);
		fail_msg("loop-back to a full blocking eventfd blocked the server");
	}
	assert_int_equal(r.flags, 0x1);
	vc_reply_free(&r);
	assert_daemon_responsive(f, unstick, trig);
	assert_true(ev_count(trig) >= FULL); /* saturated: "already signalled" */
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	close(fd);
	close(trig);
}

/* The same with the driver's level: umdev_intx_set_level() never blocks (§10.2). */
static void test_V49_C1_intx_level_on_full_blocking_trigger_never_blocks(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int trig = full_blocking_eventfd();
	struct job drv = {.mdev = fx_mdev(f, 0)};

	assert_true(fd >= 0);
	assert_int_equal(vc_set_irqs(fd, 0x24, 0, 0, 1, &trig, 1), 0);
	job_start(&drv, intx_fn);
	if (!job_wait(&drv, 1000)) {
		unstick(trig);
		assert_true(job_wait(&drv, 5000));
		close(fd);
		close(trig);
		fail_msg("umdev_intx_set_level() blocked on the client's eventfd");
	}
	assert_int_equal(drv.ret, 0);
	assert_daemon_responsive(f, unstick, trig);
	assert_remove_prompt(f, unstick, trig);
	assert_true(vc_eof(fd, 1000));
	close(fd);
	close(trig);
}

/* MSI: a loop-back and umdev_msi_notify() on a full blocking trigger eventfd. */
static void test_V61_C1_msi_on_full_blocking_trigger_never_blocks(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int trig = full_blocking_eventfd();
	struct job drv = {.mdev = fx_mdev(f, 0)};
	struct vc_reply r;
	uint8_t p[20];

	assert_true(fd >= 0);
	assert_int_equal(vc_set_irqs(fd, 0x24, 1, 0, 1, &trig, 1), 0);
	job_start(&drv, msi_fn);
	if (!job_wait(&drv, 1000)) {
		unstick(trig);
		assert_true(job_wait(&drv, 5000));
		close(fd);
		close(trig);
		fail_msg("umdev_msi_notify() blocked on the client's eventfd");
	}
	assert_int_equal(drv.ret, 0);
	unstick(trig); /* refill: the loop-back must meet a full counter too */
	{
		uint64_t v = FULL;

		assert_int_equal(write(trig, &v, sizeof(v)), sizeof(v));
	}
	vc_put32(p, 20);
	vc_put32(p + 4, 0x21);
	vc_put32(p + 8, 1);
	vc_put32(p + 12, 0);
	vc_put32(p + 16, 1);
	assert_int_equal(vc_send(fd, 8, C_SET_IRQS, 0, p, sizeof(p), NULL, 0), 0);
	if (vc_recv(fd, &r, 2000) != 0) {
		unstick(trig);
		(void)vc_recv(fd, &r, 5000);
		vc_reply_free(&r);
		close(fd);
		close(trig);
		fail_msg("MSI loop-back to a full blocking eventfd blocked the server");
	}
	assert_int_equal(r.flags, 0x1);
	vc_reply_free(&r);
	assert_daemon_responsive(f, unstick, trig);
	assert_remove_prompt(f, unstick, trig);
	close(fd);
	close(trig);
}

/*
 * A blocking REQ eventfd at its maximum: R4's signal (§3.3 step 2) must not block, so the
 * removal returns at once (default T_req 0) and other devices never notice.
 */
static void test_V5_C1_full_blocking_req_eventfd_never_delays_removal(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int req = full_blocking_eventfd();
	struct job rm = {.uuid = &f->u[0]};
	struct job other = {.mdev = fx_mdev(f, 1)};
	struct job drv = {.mdev = fx_mdev(f, 0)}; /* before R2 hides it */

	assert_true(fd >= 0);
	assert_int_equal(vc_set_irqs(fd, 0x24, 4, 0, 1, &req, 1), 0);
	job_start(&rm, remove_fn);
	if (!job_wait(&rm, 2000)) {
		bool other_ok;

		job_start(&drv, intx_fn); /* waits for device 0's lock under devices_lock */
		usleep(100000);
		job_start(&other, config_get_fn);
		other_ok = job_wait(&other, 1000);
		unstick(req);
		assert_true(job_wait(&rm, 5000));
		assert_true(job_wait(&drv, 5000));
		if (!other_ok)
			assert_true(job_wait(&other, 5000));
		f->live[0] = false;
		close(fd);
		close(req);
		fail_msg("removal waited for the REQ eventfd (other device %s)",
			 other_ok ? "fine" : "hung too");
	}
	f->live[0] = false;
	assert_int_equal(rm.ret, 0);
	assert_true(ev_count(req) >= FULL); /* REQ was signalled: saturated */
	assert_true(vc_eof(fd, 1000));
	job_start(&other, config_get_fn);
	assert_true(job_wait(&other, 1000));
	assert_int_equal(other.ret, 0);
	close(fd);
	close(req);
}

/* ---- an unmask eventfd the client drains itself (§8.8) ---- */

struct drainer {
	pthread_t thread;
	int efd;
	atomic_bool done;
};

static void *drainer_main(void *arg)
{
	struct drainer *d = arg;
	uint64_t v;

	(void)!read(d->efd, &v, sizeof(v)); /* blocking: the client's own second thread */
	atomic_store(&d->done, true);
	return NULL;
}

/*
 * The server polls the unmask eventfd; the client's second thread reads it first. The
 * server's read then finds the counter at 0 and must not block (with the device lock held,
 * today, that wedged removal and every other device).
 */
static void test_V51_C1_unmask_eventfd_drained_by_client_never_blocks(void **state)
{
	struct fx *f = *state;
	struct umdev__vfio_device *dev = umdev__vfio_device_find(fx_mdev(f, 0));
	struct drainer d = {.efd = eventfd(0, EFD_CLOEXEC)}; /* blocking */
	int fd = vc_open(f->path[0]);
	int trig = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t one = 1, end;

	assert_non_null(dev);
	assert_true(fd >= 0);
	assert_int_equal(vc_set_irqs(fd, 0x24, 0, 0, 1, &trig, 1), 0);
	assert_int_equal(vc_set_irqs(fd, 0x14, 0, 0, 1, &d.efd, 1), 0);
	assert_int_equal(pthread_create(&d.thread, NULL, drainer_main, &d), 0);
	usleep(50000); /* the drainer sits in read() */
	/* hold the device lock so the server, woken by the write, loses the race */
	umdev__mutex_lock(&dev->lock);
	assert_int_equal(write(d.efd, &one, sizeof(one)), sizeof(one));
	for (end = fx_now_ms() + 1000; !atomic_load(&d.done) && fx_now_ms() < end;)
		usleep(1000);
	usleep(20000); /* the server has seen POLLIN and waits for the lock */
	umdev__mutex_unlock(&dev->lock);
	/* the server may take the count first: signal until the drainer has had one */
	for (end = fx_now_ms() + 5000; !atomic_load(&d.done) && fx_now_ms() < end;) {
		assert_int_equal(write(d.efd, &one, sizeof(one)), sizeof(one));
		usleep(20000);
	}
	assert_true(atomic_load(&d.done));
	pthread_join(d.thread, NULL);
	usleep(50000); /* the server's read() happens now */
	assert_daemon_responsive(f, unstick_read, d.efd);
	assert_remove_prompt(f, unstick_read, d.efd);
	close(fd);
	close(trig);
	close(d.efd);
}

/* ---- fds a client makes the daemon hold (I2, I4, C1) ---- */

static int memfd_1m(void)
{
	int m = memfd_create("dma", MFD_CLOEXEC);

	assert_true(m >= 0);
	assert_int_equal(ftruncate(m, 1 << 20), 0);
	return m;
}

/*
 * One client maps the same memfd at 1,024 IOVAs (max_dma_maps is 1024): each map makes the
 * daemon hold one fd. Under a 1024-fd soft limit this must not fill the daemon's table: the
 * fd-backed maps stop with ENOSPC well below it, another device's session negotiates, and a
 * new mdev can be created.
 */
static void test_V77_I4_C1_fd_backed_maps_bounded_per_session(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int m = memfd_1m();
	int reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	unsigned int ok = 0, err = 0, first_err = 0;
	int other;
	uuid_t u3;

	assert_true(fd >= 0);
	assert_true(reserve >= 0);
	for (unsigned int i = 0; i < 1024; i++) {
		int e = vc_dma_map(fd, 3, 0, 0x100000 + (uint64_t)i * 0x1000, 0x1000, m);

		if (e < 0)
			break; /* the transport: our own fds ran out (only on a failing run) */
		if (e == 0) {
			ok++;
			continue;
		}
		if (!err++)
			first_err = (unsigned int)e;
		if (err >= 4)
			break;
	}
	close(reserve); /* room for the test's own client socket */
	other = vc_connect(f->path[1]);
	assert_true(other >= 0);
	{
		struct vc_reply r;
		int ret = vc_version(other, 0, VC_QEMU_CAPS, &r);

		vc_reply_free(&r);
		if (ret != 0) {
			close(other);
			close(fd); /* frees the daemon's table for teardown */
			close(m);
			assert_true(fx_fds_settle(f->fds_before));
			fail_msg(
			    "after %u fd-backed maps (first error %u) another device's session "
			    "failed: %d",
			    ok, first_err, ret);
		}
	}
	close(other);
	assert_true(ok >= 16); /* a VMM's few fd-backed regions always fit */
	assert_true(ok <= 256); /* well below the 1024-fd soft limit */
	assert_int_equal(first_err, ENOSPC); /* the map limit's errno (§6.4, V-77) */
	uuid_generate(u3);
	assert_int_equal(vdrv_create(&u3), 0);
	assert_int_equal(umdev_mdev_remove(&u3), 0);
	/* fd-less maps are still bounded only by max_dma_maps */
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x80000000, 0x1000, -1), 0);
	close(fd);
	close(m);
	assert_true(fx_fds_settle(f->fds_before));
}

/* valgrind changes what these tests measure: fd limits, and which syscalls may block */
static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "vgpreload");
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/*
 * With the fd table full, a pending connection makes accept4() fail with EMFILE. The server
 * must not spin on it, and must serve the connection soon after an fd is free again.
 */
static void test_C1_accept_emfile_does_not_spin_and_serves_later(void **state)
{
	struct fx *f = *state;
	int *fill = calloc(2048, sizeof(int));
	unsigned int nr = 0;
	int fd, spare;
	double cpu0, cpu;
	uint64_t t0;
	struct vc_reply r;
	uint8_t p[4 + sizeof(VC_QEMU_CAPS)];

	if (under_valgrind()) {
		free(fill);
		/* valgrind closes what accept4() returns above its reserved fds: EMFILE by drop */
		skip();
	}
	assert_non_null(fill);
	spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(spare >= 0);
	while (nr < 2048) {
		int d = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (d < 0)
			break;
		fill[nr++] = d;
	}
	assert_int_equal(errno, EMFILE);
	close(spare); /* exactly one free slot: our client socket */
	fd = vc_connect(f->path[0]);
	assert_true(fd >= 0);
	vc_put16(p, 0);
	vc_put16(p + 2, 0);
	memcpy(p + 4, VC_QEMU_CAPS, sizeof(VC_QEMU_CAPS));
	assert_int_equal(vc_send(fd, 1, C_VERSION, 0, p, sizeof(p), NULL, 0), 0);
	cpu0 = cpu_s();
	usleep(1000000);
	cpu = cpu_s() - cpu0;
	for (unsigned int i = 0; i < nr; i++)
		close(fill[i]);
	free(fill);
	t0 = fx_now_ms();
	assert_int_equal(vc_recv(fd, &r, 2000), 0); /* served once fds are free */
	assert_int_equal(r.flags, 0x1);
	vc_reply_free(&r);
	assert_true(fx_now_ms() - t0 < 1500);
	close(fd);
	if (cpu > 0.3)
		fail_msg("the server spun on accept4() EMFILE: %.2f s of CPU in 1 s", cpu);
}

/* ---- files whose I/O waits for their server: a FUSE file served by the test ---- */

#define HF_HELD_MAX 128

/*
 * A one-file FUSE file system ("ram", 1 MiB) served by this process's own thread, as a client
 * could serve its own. Its READ or FLUSH answers can be held back (hold_max of them, 1 unless a
 * test says otherwise): whatever the daemon does with the file then waits until the test lets
 * it go.
 */
static struct {
	char dir[64];
	struct fuse_session *se;
	pthread_t loop;
	pthread_mutex_t lock; /* protects the fields below it */
	bool hold_read, hold_flush;
	unsigned int hold_max; /* requests held at most */
	fuse_req_t held[HF_HELD_MAX]; /* held READs (held_size > 0) and FLUSHes */
	size_t held_size[HF_HELD_MAX];
	unsigned int nr_held;
	atomic_uint reads, flushes;
} hf = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void hf_attr(struct stat *st, fuse_ino_t ino)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0600;
	st->st_nlink = ino == FUSE_ROOT_ID ? 2 : 1;
	st->st_size = ino == FUSE_ROOT_ID ? 0 : 1 << 20;
}

static void hf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = {.ino = 2, .attr_timeout = 3600, .entry_timeout = 3600};

	if (parent != FUSE_ROOT_ID || strcmp(name, "ram")) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	hf_attr(&e.attr, 2);
	fuse_reply_entry(req, &e);
}

static void hf_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	hf_attr(&st, ino);
	fuse_reply_attr(req, &st, 3600);
}

static void hf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fi->direct_io = 1; /* every read reaches us */
	fuse_reply_open(req, fi);
}

/* Return: true if @req is now held (answered by hf_let_go()). */
static bool hf_hold(fuse_req_t req, bool *flag, size_t size)
{
	bool held = false;

	pthread_mutex_lock(&hf.lock);
	if (*flag && hf.nr_held < hf.hold_max && hf.nr_held < HF_HELD_MAX) {
		hf.held[hf.nr_held] = req;
		hf.held_size[hf.nr_held++] = size;
		held = true;
	}
	pthread_mutex_unlock(&hf.lock);
	return held;
}

static void hf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static char zeros[1 << 17];

	(void)ino;
	(void)off;
	(void)fi;
	atomic_fetch_add(&hf.reads, 1);
	if (hf_hold(req, &hf.hold_read, size ? size : 1))
		return;
	fuse_reply_buf(req, zeros, size < sizeof(zeros) ? size : sizeof(zeros));
}

static void hf_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	atomic_fetch_add(&hf.flushes, 1);
	if (hf_hold(req, &hf.hold_flush, 0))
		return;
	fuse_reply_err(req, 0);
}

static void hf_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops hf_ops = {
    .lookup = hf_lookup,
    .getattr = hf_getattr,
    .open = hf_open,
    .read = hf_read,
    .flush = hf_flush,
    .release = hf_release,
};

/* Answer the held requests, if any, and hold nothing more. */
static void hf_let_go(int unused)
{
	static char zeros[1 << 17];

	(void)unused;
	pthread_mutex_lock(&hf.lock);
	hf.hold_read = hf.hold_flush = false;
	for (unsigned int i = 0; i < hf.nr_held; i++)
		if (hf.held_size[i])
			fuse_reply_buf(hf.held[i], zeros,
				       hf.held_size[i] < sizeof(zeros) ? hf.held_size[i]
								       : sizeof(zeros));
		else
			fuse_reply_err(hf.held[i], 0);
	hf.nr_held = 0;
	pthread_mutex_unlock(&hf.lock);
}

static void *hf_loop(void *arg)
{
	(void)arg;
	fuse_session_loop(hf.se);
	return NULL;
}

static bool hf_running(void)
{
	return hf.se != NULL;
}

static void hf_wake(int sig)
{
	(void)sig; /* only interrupts the loop's read() */
}

/* Mount the file system; Return: an O_RDWR fd of its file, or -1 if FUSE is unavailable. */
static int hf_start(void)
{
	char *argv[] = {"hfuse", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct sigaction sa = {.sa_handler = hf_wake}; /* no SA_RESTART */
	char path[96];
	int fd;

	/* valgrind runs one thread at a time and close() holds its lock: a FLUSH we serve
	 * ourselves would never be read */
	if (under_valgrind())
		return -1;
	sigaction(SIGUSR1, &sa, NULL);
	atomic_store(&hf.reads, 0);
	atomic_store(&hf.flushes, 0);
	hf.hold_read = hf.hold_flush = false;
	hf.hold_max = 1;
	strcpy(hf.dir, "/tmp/umdev-hfuse-XXXXXX");
	if (!mkdtemp(hf.dir))
		return -1;
	hf.se = fuse_session_new(&args, &hf_ops, sizeof(hf_ops), NULL);
	fuse_opt_free_args(&args); /* the session keeps what it needs */
	if (!hf.se || fuse_session_mount(hf.se, hf.dir) != 0) {
		if (hf.se)
			fuse_session_destroy(hf.se);
		hf.se = NULL;
		rmdir(hf.dir);
		return -1;
	}
	assert_int_equal(pthread_create(&hf.loop, NULL, hf_loop, NULL), 0);
	snprintf(path, sizeof(path), "%s/ram", hf.dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/*
 * Stop serving even with files still open (a failed test): the loop is interrupted rather
 * than waited for, and closing the session's /dev/fuse fd aborts the connection, so that no
 * thread of this process can stay blocked on its own file system.
 */
static void hf_stop(void)
{
	hf_let_go(0);
	fuse_session_exit(hf.se);
	pthread_kill(hf.loop, SIGUSR1); /* read() -> EINTR; the loop sees it exited */
	pthread_join(hf.loop, NULL);
	fuse_session_unmount(hf.se);
	fuse_session_destroy(hf.se);
	hf.se = NULL;
	rmdir(hf.dir);
}

/*
 * The file for a test whose client socket is @client, which is closed if the test is skipped
 * (no FUSE here, or valgrind). Return: an O_RDWR fd of the file.
 */
static int hf_start_or_skip(int client)
{
	int ff = hf_start();

	if (ff < 0) {
		if (client >= 0)
			close(client);
		skip();
	}
	return ff;
}

/* Hold back the next @max FLUSH answers: closes of the file wait until hf_let_go(). */
static void hf_hold_flushes(unsigned int max)
{
	pthread_mutex_lock(&hf.lock);
	hf.hold_max = max;
	hf.hold_flush = true;
	pthread_mutex_unlock(&hf.lock);
}

/* Send @n GET_INFO commands on @fd, each carrying a copy of @pass: EINVAL, and it is closed. */
static void send_fds(int fd, uint16_t n, int pass)
{
	for (uint16_t i = 0; i < n; i++)
		assert_int_equal(vc_send(fd, i, C_GET_INFO, 0, (uint8_t[16]){16}, 16, &pass, 1), 0);
}

static void *dma_read_fn(struct job *j)
{
	uint8_t b[16];

	j->ret = umdev_dma_read(j->mdev, 0x100000, b, sizeof(b));
	return NULL;
}

/*
 * A DMA file the client serves itself over FUSE: a driver's DMA read would pread() it under
 * the device lock and wait for the client's answer, wedging removal and, through devices_lock,
 * every device. Only memory files are mapped: EINVAL, and the daemon never reads the file.
 */
static void test_V76_C1_dma_file_served_by_the_client_is_einval(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int ff = hf_start_or_skip(fd);
	struct job rd = {.mdev = fx_mdev(f, 0)};
	int e;

	assert_true(fd >= 0);
	e = vc_dma_map(fd, 3, 0, 0x100000, 0x1000, ff);
	if (e == 0) { /* accepted: now a driver reads it while the client holds its answer */
		pthread_mutex_lock(&hf.lock);
		hf.hold_read = true;
		pthread_mutex_unlock(&hf.lock);
		job_start(&rd, dma_read_fn);
		usleep(100000);
		assert_daemon_responsive(f, hf_let_go, 0);
		if (!job_wait(&rd, 1000)) {
			hf_let_go(0);
			assert_true(job_wait(&rd, 5000));
			close(fd);
			close(ff);
			hf_stop();
			fail_msg("a driver's DMA read waited for the client's FUSE server");
		}
	}
	assert_int_equal(e, EINVAL);
	assert_int_equal(atomic_load(&hf.reads), 0);
	assert_daemon_responsive(f, hf_let_go, 0);
	assert_remove_prompt(f, hf_let_go, 0);
	close(fd);
	close(ff);
	hf_stop();
}

/*
 * Any message may carry fds, and close() of a FUSE file waits for its server's FLUSH answer.
 * Closing what a client sent must never make its reply, its device's removal, or another
 * device wait: such fds are closed on a closer thread.
 */
static void test_V29_V5_C1_fd_whose_close_waits_never_delays_anything(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int ff = hf_start_or_skip(fd);
	struct vc_reply r;
	int n0;

	assert_true(fd >= 0);
	n0 = fx_count_fds();
	hf_hold_flushes(1);
	send_fds(fd, 1, ff);
	if (vc_recv(fd, &r, 2000) != 0) {
		hf_let_go(0);
		(void)vc_recv(fd, &r, 5000);
		vc_reply_free(&r);
		close(fd);
		close(ff);
		hf_stop();
		fail_msg("closing a client's FUSE fd held up the reply");
	}
	assert_int_equal(r.flags, 0x21);
	assert_int_equal(r.error, EINVAL);
	vc_reply_free(&r);
	usleep(100000);
	assert_int_equal(atomic_load(&hf.flushes), 1); /* our close waits on a closer thread */
	assert_daemon_responsive(f, hf_let_go, 0);
	assert_remove_prompt(f, hf_let_go, 0);
	assert_true(vc_eof(fd, 1000));
	close(fd);
	hf_let_go(0); /* the closer thread's close() completes */
	/* the closer's copy, the connection (ours and the server's), vfio0's listener and wake */
	assert_true(fx_fds_settle(n0 - 4));
	close(ff);
	hf_stop();
}

/*
 * The closes that wait pile up on closer threads: at VFIO_CLOSE_PENDING_MAX (32) the device
 * reads nothing more from its client (its own fault), so the fds the daemon holds for it stay
 * bounded, while other devices and the removal of this one go on.
 */
static void test_I4_C1_closes_that_wait_stall_only_their_device(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int ff = hf_start_or_skip(fd);
	unsigned int replies = 0;
	struct vc_reply r;
	int n0, other;

	assert_true(fd >= 0);
	n0 = fx_count_fds();
	hf_hold_flushes(HF_HELD_MAX); /* no close ends: every closer of this device is stuck */
	send_fds(fd, 64, ff);
	while (vc_recv(fd, &r, 500) == 0) {
		assert_int_equal(r.error, EINVAL);
		replies++;
		vc_reply_free(&r);
	}
	assert_true(replies >= 31 && replies <= 33); /* then the device stopped reading */
	assert_true(fx_count_fds() - n0 <= 34); /* the fds it holds for them: bounded */
	other = vc_open(f->path[1]);
	assert_true(other >= 0);
	assert_int_equal(vc_call_err(other, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	close(other);
	assert_remove_prompt(f, hf_let_go, 0);
	assert_true(vc_eof(fd, 1000));
	close(fd);
	hf_let_go(0); /* the closer threads catch up */
	assert_true(fx_fds_settle(n0 - 4));
	close(ff);
	hf_stop();
}

/*
 * One device never holds more than VFIO_CLOSE_PENDING_MAX (32) closer threads, even when a
 * message brings more fds than its budget has room for: the rest wait on the budget's overflow
 * list for the device's own closes, so a stuck device cannot take the threads other devices'
 * closes need; and once the client lets go, every one of them is closed.
 */
static void test_I4_C1_one_device_holds_at_most_32_closer_threads(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int ff = hf_start_or_skip(fd);
	struct umdev__close_budget *b = umdev__vfio_device_find(fx_mdev(f, 0))->close_budget;
	unsigned int flushes, pending;
	struct vc_reply r;
	int many[16], n0;
	uint64_t t0;

	assert_true(fd >= 0 && b);
	n0 = fx_count_fds();
	hf_hold_flushes(HF_HELD_MAX);
	send_fds(fd, 31, ff); /* 31 closes stuck: one below the budget, so one more is read */
	for (int i = 0; i < 31; i++) {
		assert_int_equal(vc_recv(fd, &r, 2000), 0);
		vc_reply_free(&r);
	}
	for (int i = 0; i < 16; i++)
		many[i] = ff;
	assert_int_equal(vc_send(fd, 99, C_GET_INFO, 0, (uint8_t[16]){16}, 16, many, 16), 0);
	assert_int_equal(vc_recv(fd, &r, 2000), 0);
	assert_int_equal(r.error, EINVAL);
	vc_reply_free(&r);
	for (t0 = fx_now_ms(); atomic_load(&hf.flushes) < 32 && fx_now_ms() - t0 < 2000;)
		usleep(1000);
	for (t0 = fx_now_ms(); atomic_load(&hf.flushes) <= 32 && fx_now_ms() - t0 < 200;)
		usleep(1000); /* more than 32 would show by now */
	flushes = atomic_load(&hf.flushes);
	pending = atomic_load(&b->pending);
	hf_let_go(0);
	for (t0 = fx_now_ms(); atomic_load(&b->pending) && fx_now_ms() - t0 < 2000;)
		usleep(1000);
	assert_int_equal(flushes, 32); /* one closer thread per stuck close, 32 at most */
	assert_int_equal(pending, 47);
	assert_int_equal(atomic_load(&b->pending), 0); /* the overflow was closed too */
	assert_int_equal(atomic_load(&hf.flushes), 47);
	assert_true(fx_fds_settle(n0));
	close(fd);
	close(ff);
}

/*
 * While a device is stalled on its closes (test_I4_C1_closes_that_wait_stall_only_their_device) it
 * reads no extra connection either; one that hangs up is still reported by every poll() (POLLHUP
 * needs no event), so it is dropped at once instead of making the server thread spin until its
 * deadline (C1).
 */
static void test_C1_busy_hangup_while_stalled_does_not_spin(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int ff = hf_start_or_skip(fd);
	struct vc_reply r;
	double cpu0, cpu;
	int n0, busy;
	bool dropped;

	assert_true(fd >= 0);
	hf_hold_flushes(HF_HELD_MAX); /* no close ends: the device stalls at 32 pending */
	send_fds(fd, 40, ff);
	while (vc_recv(fd, &r, 500) == 0)
		vc_reply_free(&r);
	n0 = fx_count_fds();
	busy = vc_connect(f->path[0]);
	assert_true(busy >= 0);
	assert_true(fx_fds_settle(n0 + 2)); /* ours and the server's: it was accepted */
	close(busy);
	cpu0 = cpu_s();
	dropped = fx_fds_settle(n0); /* the deadline is 2 s away */
	usleep(500000);
	cpu = cpu_s() - cpu0;
	assert_remove_prompt(f, hf_let_go, 0);
	close(fd);
	hf_let_go(0);
	close(ff);
	if (!dropped || cpu > 0.3)
		fail_msg("hung-up extra connection %s; %.2f s of CPU in about 1 s",
			 dropped ? "dropped" : "kept", cpu);
}

/*
 * One device's closes that never end hold up no other device's closes (C1): device 0's client
 * hands over FUSE files whose FLUSH it never answers, then device 1's client sends /dev/null
 * (a character device: its close is deferred too). Device 1's closes complete at once, and
 * each of device 0's stuck closes waits on its own, not queued behind the first.
 */
static void test_C1_closes_that_wait_never_delay_another_devices_closes(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int ff = hf_start_or_skip(fd);
	int other = vc_open(f->path[1]), null = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct umdev__close_budget *b = umdev__vfio_device_find(fx_mdev(f, 1))->close_budget;
	unsigned int pending, flushes;
	struct vc_reply r;
	uint64_t t0;

	assert_true(fd >= 0 && other >= 0 && null >= 0 && b);
	hf_hold_flushes(8);
	for (uint16_t i = 0; i < 8; i++) {
		send_fds(fd, 1, ff);
		assert_int_equal(vc_recv(fd, &r, 2000), 0);
		assert_int_equal(r.error, EINVAL); /* the fd is closed: deferred */
		vc_reply_free(&r);
	}
	for (t0 = fx_now_ms(); atomic_load(&hf.flushes) < 8 && fx_now_ms() - t0 < 1000;)
		usleep(1000);
	for (uint16_t i = 0; i < 4; i++) {
		send_fds(other, 1, null);
		assert_int_equal(vc_recv(other, &r, 2000), 0);
		assert_int_equal(r.error, EINVAL);
		vc_reply_free(&r);
	}
	for (t0 = fx_now_ms(); atomic_load(&b->pending) && fx_now_ms() - t0 < 1000;)
		usleep(1000);
	pending = atomic_load(&b->pending);
	flushes = atomic_load(&hf.flushes);
	hf_let_go(0); /* whatever the outcome: the stuck closes end */
	close(null);
	close(other);
	close(fd);
	close(ff);
	if (pending)
		fail_msg("%u of device 1's closes still pending behind device 0's stuck close",
			 pending);
	assert_int_equal(flushes, 8);
}

/*
 * vfio-user.md §3.3: daemon shutdown removes with T_req = 0 whatever the option says. A removal
 * already waiting T_req (30 s here) for a client that ignores REQ ends at once when shutdown
 * begins, and later removals do not wait at all; REQ is signalled in both cases.
 */
static void test_V5_shutdown_ends_every_t_req_wait(void **state)
{
	struct fx *f = *state; /* vfio-req-timeout = 30 s */
	int fd = vc_open(f->path[0]), fd1 = vc_open(f->path[1]);
	int req = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int req1 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct job rm = {.uuid = &f->u[0]};
	uint64_t t0;

	assert_true(fd >= 0 && fd1 >= 0);
	assert_int_equal(vc_set_irqs(fd, 0x24, 4, 0, 1, &req, 1), 0);
	assert_int_equal(vc_set_irqs(fd1, 0x24, 4, 0, 1, &req1, 1), 0);
	job_start(&rm, remove_fn);
	usleep(300000);
	assert_false(atomic_load(&rm.done)); /* the option applies until shutdown */
	umdev_vfio_shutdown();
	if (!job_wait(&rm, 1000)) {
		close(fd); /* the client closes: the T_req wait ends */
		assert_true(job_wait(&rm, 5000));
		f->live[0] = false;
		fail_msg("shutdown did not end a removal's T_req wait");
	}
	f->live[0] = false;
	assert_int_equal(rm.ret, 0);
	assert_true(ev_count(req) >= 1);
	assert_true(vc_eof(fd, 1000));
	t0 = fx_now_ms();
	assert_int_equal(umdev_mdev_remove(&f->u[1]), 0);
	f->live[1] = false;
	assert_true(fx_now_ms() - t0 < 1000);
	assert_true(ev_count(req1) >= 1);
	close(fd);
	close(fd1);
	close(req);
	close(req1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, hf_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_V54_C1_loopback_to_full_blocking_intx_trigger_never_blocks),
	    T(test_V49_C1_intx_level_on_full_blocking_trigger_never_blocks),
	    T(test_V61_C1_msi_on_full_blocking_trigger_never_blocks),
	    T(test_V5_C1_full_blocking_req_eventfd_never_delays_removal),
	    T(test_V51_C1_unmask_eventfd_drained_by_client_never_blocks),
	    T(test_V77_I4_C1_fd_backed_maps_bounded_per_session),
	    T(test_C1_accept_emfile_does_not_spin_and_serves_later),
	    T(test_V76_C1_dma_file_served_by_the_client_is_einval),
	    T(test_V29_V5_C1_fd_whose_close_waits_never_delays_anything),
	    T(test_I4_C1_closes_that_wait_stall_only_their_device),
	    T(test_C1_closes_that_wait_never_delay_another_devices_closes),
	    T(test_I4_C1_one_device_holds_at_most_32_closer_threads),
	    T(test_C1_busy_hangup_while_stalled_does_not_spin),
	    cmocka_unit_test_setup_teardown(test_V5_shutdown_ends_every_t_req_wait, fx_setup_req30,
					    hf_teardown),
	};

	umdev_log_set_sink(NULL, NULL, UMDEV_LOG_WARNING);
	if (getenv("UMDEV_TEST_FILTER")) /* e.g. "*accept*" */
		cmocka_set_test_filter(getenv("UMDEV_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
