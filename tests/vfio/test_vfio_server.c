// SPDX-License-Identifier: MIT
/*
 * The vfio-user server end to end, in-process: two vdrv devices (vfio0, vfio1) served on a
 * temporary rundir, driven over their sockets by the test client of vclient.h, whose byte
 * layouts come from vfio-user.md and not from the server's headers. Tests are named after the
 * checklist items (vfio-user.md §14) they prove.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>

#include "hooks.h"
#include "umdev/log.h"
#include "fx.h"
#include "threads.h"
#include "vclient.h"
#include "vdrv.h"
#include "vfio.h"

/* The eventfd's counter if it is signalled within @timeout_ms, else 0. */
static uint64_t ev_wait(int efd, int timeout_ms)
{
	struct pollfd p = {.fd = efd, .events = POLLIN};
	uint64_t v = 0;

	if (poll(&p, 1, timeout_ms) == 1 && read(efd, &v, sizeof(v)) == sizeof(v))
		return v;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_opts(
	    state, &(struct umdev_vfio_options){.max_dma_maps = 16, .handshake_timeout_ms = 1000},
	    false);
}

static int fx_setup_req(void **state)
{
	return fx_setup_opts(state, &(struct umdev_vfio_options){.req_timeout_ms = 1000}, false);
}

/* ---- sockets and lifecycle ---- */

/*
 * Issue 10: an idle device costs its listening socket and no thread. A connection starts the
 * device's server thread (the listeners' thread watches every idle socket), which ends once
 * its client is gone; a new connection starts another. Two devices connected at once have a
 * thread each (C1), and 20 cycles leave the process as it was.
 */
static void test_V1_C1_idle_devices_have_no_thread(void **state)
{
	struct fx *f = *state;
	unsigned int idle = test_nr_threads();
	uint32_t v;
	int a, b;

	a = vc_open(f->path[0]);
	assert_true(a >= 0);
	assert_int_equal(test_nr_threads(), idle + 1);
	b = vc_open(f->path[1]);
	assert_true(b >= 0);
	assert_int_equal(test_nr_threads(), idle + 2);
	assert_int_equal(vc_region_read(a, 7, 0, 4, &v), 0); /* both serve */
	assert_int_equal(vc_region_read(b, 7, 0, 4, &v), 0);
	close(a);
	assert_int_equal(test_nr_threads_reach(idle + 1, 2000), idle + 1);
	close(b);
	assert_int_equal(test_nr_threads_reach(idle, 2000), idle);
	for (int i = 0; i < 20; i++) {
		a = vc_open(f->path[0]);
		assert_true(a >= 0);
		assert_int_equal(vc_region_read(a, 7, 0, 4, &v), 0);
		close(a);
		assert_int_equal(test_nr_threads_reach(idle, 2000), idle);
	}
	assert_true(fx_fds_settle(f->fds_before));
}

struct remover {
	const uuid_t *u;
	int ret;
};

static void *remove_thread(void *arg)
{
	struct remover *r = arg;

	r->ret = umdev_mdev_remove(r->u);
	return NULL;
}

/*
 * Removal racing connections (issue 10): R4 takes an idle socket out of the listeners' watch
 * while connections arrive on it, or joins the server thread a connection just started. Each
 * round creates a device, connects to it from this thread while another removes it; whatever
 * the order, removal succeeds, the client sees the handshake or EOF or ENOENT/ECONNREFUSED,
 * and nothing is left (ASan and TSan run this suite too).
 */
static void test_V3_V5_removal_racing_connections(void **state)
{
	struct fx *f = *state;

	for (int round = 0; round < 100; round++) {
		struct remover r;
		char path[160];
		uuid_t u;
		pthread_t t;
		int fd;

		uuid_generate(u);
		assert_int_equal(vdrv_create(&u), 0);
		snprintf(path, sizeof(path), "%s/vfio/devices/vfio%u", f->rundir,
			 umdev_mdev_vfio_index(vdrv_find(&u)->mdev));
		r = (struct remover){.u = (const uuid_t *)&u};
		assert_int_equal(pthread_create(&t, NULL, remove_thread, &r), 0);
		fd = vc_connect(path);
		if (round % 2 && fd >= 0) { /* half of them also try the handshake */
			struct vc_reply rep;

			(void)vc_version(fd, 0, VC_QEMU_CAPS, &rep);
			vc_reply_free(&rep);
		}
		pthread_join(t, NULL);
		assert_int_equal(r.ret, 0);
		if (fd >= 0) {
			assert_true(vc_eof(fd, 2000)); /* the device is gone: EOF, never a hang */
			close(fd);
		} else {
			assert_true(fd == -ENOENT || fd == -ECONNREFUSED);
		}
	}
	assert_true(fx_fds_settle(f->fds_before));
}

/* ---- a driver that declares a PCI device but has no vfio_ops ---- */

static int noops_probe(struct umdev_mdev *mdev)
{
	int ret = umdev_pci_init(mdev, 0x1234, 0x5678, 0xff0000, 0);

	if (ret == 0)
		ret = umdev_pci_set_bar(mdev, 0, 4096, 0);
	if (ret < 0)
		umdev_pci_fini(mdev);
	return ret;
}

static void noops_remove(struct umdev_mdev *mdev)
{
	umdev_pci_fini(mdev);
}

/*
 * §10.3, C7: a device model needs the driver's vfio_ops. A driver without them that declares
 * a PCI device and a BAR anyway fails create with EINVAL, and nothing listens: before, C7
 * checked nothing for it, served the BAR, and the first REGION_READ crashed the daemon.
 */
static void test_V1_pci_model_without_vfio_ops_is_einval(void **state)
{
	static struct umdev_driver drv = {
	    .name = "noops",
	    .device_api = "vfio-pci",
	    .probe = noops_probe,
	    .remove = noops_remove,
	    .max_instances = 1,
	};
	static struct umdev_type type = {.sysfs_name = "1"};
	struct umdev_type *types[] = {&type};
	struct umdev_parent parent = {0};
	struct fx *f = *state;
	char path[160];
	uuid_t u;

	assert_int_equal(umdev_register_driver(&drv), 0);
	assert_int_equal(umdev_register_parent(&parent, "noops0", NULL, &drv, types, 1), 0);
	uuid_generate(u);
	assert_int_equal(umdev_mdev_create(&type, &u), -EINVAL);
	assert_null(umdev_mdev_get(&u));
	snprintf(path, sizeof(path), "%s/vfio/devices/vfio2", f->rundir); /* the next number */
	assert_int_equal(vc_connect(path), -ENOENT);
	umdev_unregister_parent(&parent);
	assert_int_equal(umdev_unregister_driver(&drv), 0);
	assert_true(fx_fds_settle(f->fds_before));
}

static void test_V1_socket_0600_owned_by_euid(void **state)
{
	struct fx *f = *state;
	struct stat st;

	assert_int_equal(stat(f->path[0], &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(umdev_mdev_vfio_index(fx_mdev(f, 0)), 0);
	assert_int_equal(umdev_mdev_vfio_index(fx_mdev(f, 1)), 1);
}

static void test_V2_lowest_free_number_is_reused(void **state)
{
	struct fx *f = *state;
	struct stat st;

	assert_int_equal(umdev_mdev_remove(&f->u[0]), 0);
	uuid_generate(f->u[0]);
	assert_int_equal(vdrv_create(&f->u[0]), 0);
	assert_int_equal(umdev_mdev_vfio_index(fx_mdev(f, 0)), 0);
	assert_int_equal(umdev_mdev_vfio_index(fx_mdev(f, 1)), 1);
	assert_int_equal(stat(f->path[0], &st), 0);
	int fd = vc_open(f->path[0]);
	assert_true(fd >= 0);
	close(fd);
}

static void test_V3_remove_unlinks_socket_then_enoent(void **state)
{
	struct fx *f = *state;
	struct stat st;

	assert_int_equal(umdev_mdev_remove(&f->u[0]), 0);
	f->live[0] = false;
	assert_int_equal(stat(f->path[0], &st), -1);
	assert_int_equal(vc_connect(f->path[0]), -ENOENT);
	assert_true(fx_fds_settle(f->fds_before - 1)); /* its listener: idle, it had no more */
}

struct closer {
	int fd, req;
	uint64_t signalled_ms;
};

/* A cooperative VMM: closes the connection as soon as REQ fires. */
static void *closer_thread(void *arg)
{
	struct closer *c = arg;

	if (ev_wait(c->req, 5000))
		c->signalled_ms = fx_now_ms();
	close(c->fd);
	return NULL;
}

static void test_V4_req_signalled_and_client_close_ends_removal(void **state)
{
	struct fx *f = *state; /* vfio-req-timeout = 1 s */
	struct closer c = {.fd = vc_open(f->path[0]), .req = eventfd(0, EFD_CLOEXEC)};
	pthread_t t;
	uint64_t t0;
	struct stat st;

	assert_true(c.fd >= 0);
	assert_int_equal(vc_set_irqs(c.fd, 0x24, 4, 0, 1, &c.req, 1), 0);
	assert_int_equal(pthread_create(&t, NULL, closer_thread, &c), 0);
	t0 = fx_now_ms();
	assert_int_equal(umdev_mdev_remove(&f->u[0]), 0);
	f->live[0] = false;
	pthread_join(t, NULL);
	assert_true(c.signalled_ms != 0);
	assert_true(fx_now_ms() - t0 < 900); /* ended by the close, not by T_req */
	assert_int_equal(stat(f->path[0], &st), -1);
	close(c.req);
}

static void test_V5_uncooperative_client_waits_t_req(void **state)
{
	struct fx *f = *state; /* vfio-req-timeout = 1 s */
	int fd = vc_open(f->path[0]);
	int req = eventfd(0, EFD_CLOEXEC);
	uint64_t t0, dt;

	assert_true(fd >= 0);
	assert_int_equal(vc_set_irqs(fd, 0x24, 4, 0, 1, &req, 1), 0);
	t0 = fx_now_ms();
	assert_int_equal(umdev_mdev_remove(&f->u[0]), 0);
	dt = fx_now_ms() - t0;
	f->live[0] = false;
	assert_true(dt >= 1000 && dt < 5000);
	assert_true(ev_wait(req, 0) >= 1);
	assert_true(vc_eof(fd, 1000));
	close(fd);
	close(req);
}

static void test_V5_default_removal_does_not_wait_and_client_reads_eof(void **state)
{
	struct fx *f = *state; /* default vfio-req-timeout 0 */
	int fd = vc_open(f->path[0]);
	int req = eventfd(0, EFD_CLOEXEC);
	uint64_t t0;

	assert_true(fd >= 0);
	assert_int_equal(vc_set_irqs(fd, 0x24, 4, 0, 1, &req, 1), 0);
	t0 = fx_now_ms();
	assert_int_equal(umdev_mdev_remove(&f->u[0]), 0);
	f->live[0] = false;
	assert_true(fx_now_ms() - t0 < 1000);
	assert_true(ev_wait(req, 0) >= 1);
	assert_true(vc_eof(fd, 1000)); /* device removed while connected: EOF */
	close(fd);
	close(req);
	assert_true(fx_fds_settle(f->fds_before - 1)); /* the listener; the thread's went with it */
}

static void test_M61_unregister_ends_session_before_remove_without_waiting(void **state)
{
	struct fx *f = *state; /* default vfio-req-timeout 0 */
	int fd = vc_open(f->path[0]); /* keeps its socket open and does nothing */
	int req = eventfd(0, EFD_CLOEXEC);
	struct stat st;
	uint64_t t0;

	assert_true(fd >= 0);
	/* a REQ eventfd, so that a removal that waited for the client (T_req > 0) could do so */
	assert_int_equal(vc_set_irqs(fd, 0x24, 4, 0, 1, &req, 1), 0);
	assert_int_equal(atomic_load(&vdrv_find(&f->u[0])->opens), 1); /* a session is open */
	t0 = fx_now_ms();
	vdrv_unregister(); /* umdev_unregister_parent, then the driver */
	f->live[0] = f->live[1] = false;
	assert_true(fx_now_ms() - t0 < 1000); /* did not wait for the client */
	assert_true(ev_wait(req, 0) >= 1);
	assert_int_equal(atomic_load(&vdrv_removes), 2);
	/* vdrv's remove saw close_device already run: session terminated before remove */
	assert_int_equal(atomic_load(&vdrv_removes_with_session), 0);
	assert_true(vc_eof(fd, 1000));
	assert_int_equal(stat(f->path[0], &st), -1);
	close(fd);
	close(req);
}

static void test_V8_stale_file_replaced(void **state)
{
	struct fx *f = *state;
	char p[160];
	int fd;

	assert_int_equal(umdev_mdev_remove(&f->u[0]), 0);
	fd = open(f->path[0], O_CREAT | O_WRONLY, 0644); /* a stale regular file */
	assert_true(fd >= 0);
	close(fd);
	uuid_generate(f->u[0]);
	assert_int_equal(vdrv_create(&f->u[0]), 0);
	fd = vc_open(f->path[0]);
	assert_true(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s", f->path[0]);
	(void)p;
}

/* ---- connection model ---- */

static void test_V9_second_client_gets_ebusy_then_eof(void **state)
{
	struct fx *f = *state;
	int a = vc_open(f->path[0]);
	int b = vc_connect(f->path[0]);
	struct vc_reply r;

	assert_true(a >= 0 && b >= 0);
	assert_int_equal(vc_version(b, 0, VC_QEMU_CAPS, &r), EBUSY);
	assert_int_equal(r.flags, 0x21);
	assert_int_equal(r.command, C_VERSION);
	vc_reply_free(&r);
	assert_true(vc_eof(b, 2000));
	assert_int_equal(vc_call_err(a, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	close(a);
	close(b);
}

static void test_V10_silent_client_dropped_after_handshake_timeout(void **state)
{
	struct fx *f = *state; /* vfio-handshake-timeout = 1 s */
	int fd = vc_connect(f->path[0]);
	uint64_t t0 = fx_now_ms(), dt;

	assert_true(fd >= 0);
	assert_true(vc_eof(fd, 6000));
	dt = fx_now_ms() - t0;
	assert_true(dt >= 500 && dt < 5000);
	close(fd);
	fd = vc_open(f->path[0]);
	assert_true(fd >= 0);
	close(fd);
}

static int memfd(size_t size)
{
	int fd = memfd_create("vfio-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void test_V11_teardown_closes_every_fd(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int m1 = memfd(1 << 20), m2 = memfd(1 << 20);
	int trig = eventfd(0, EFD_CLOEXEC), unmask = eventfd(0, EFD_CLOEXEC);
	int before = f->fds_before + 4; /* the test's own four */

	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0x10000, m1), 0);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x200000, 0x10000, m2), 0);
	assert_int_equal(vc_set_irqs(fd, 0x24, 0, 0, 1, &trig, 1), 0);
	assert_int_equal(vc_set_irqs(fd, 0x14, 0, 0, 1, &unmask, 1), 0);
	/* both socket ends, the server's copies, its thread's wake eventfd */
	assert_int_equal(fx_count_fds(), before + 2 + 4 + 1);
	close(fd);
	assert_true(fx_fds_settle(before + 0));
	fd = vc_open(f->path[0]);
	assert_true(fd >= 0);
	close(fd);
	close(m1);
	close(m2);
	close(trig);
	close(unmask);
	assert_true(fx_fds_settle(f->fds_before));
}

static void test_V12_disconnect_resets_command_register(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	unsigned int resets = vdrv_find(&f->u[0])->resets;

	assert_int_equal(vc_cfg_write(fd, 4, 2, 0x0007), 0);
	assert_int_equal(vc_cfg_read(fd, 4, 2), 0x0007);
	close(fd);
	fd = vc_open(f->path[0]);
	assert_int_equal(vc_cfg_read(fd, 4, 2), 0x0000); /* the helper's power-on command */
	assert_int_equal(vdrv_find(&f->u[0])->resets, resets + 1);
	assert_int_equal(vdrv_find(&f->u[0])->closes, 1);
	close(fd);
}

static void test_V13_200_cycles_leak_nothing(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 200; i++) {
		int fd = vc_open(f->path[0]);

		assert_true(fd >= 0);
		assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
		close(fd);
	}
	assert_true(fx_fds_settle(f->fds_before));
}

/* ---- header and framing ---- */

static void test_V15_get_info_reply_header(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t p[16] = {16};
	struct vc_reply r;

	assert_int_equal(vc_send(fd, 0x4242, C_GET_INFO, 0, p, 16, NULL, 0), 0);
	assert_int_equal(vc_recv(fd, &r, 5000), 0);
	assert_int_equal(r.msg_id, 0x4242);
	assert_int_equal(r.command, C_GET_INFO);
	assert_int_equal(r.flags, 0x1);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.msg_size, 32);
	vc_reply_free(&r);
	close(fd);
}

static void test_V16_V20_unknown_commands_enosys(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	const uint16_t cmds[] = {0, 14, 19, 65535, C_DMA_READ, C_DMA_WRITE};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		assert_int_equal(vc_call_err(fd, cmds[i], NULL, 0, NULL, 0), ENOSYS);
	close(fd);
}

static void test_V17_posted_write_then_read(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t p[17];
	uint8_t b = 0;
	struct vc_reply r;

	vc_put64(p, 3);
	vc_put32(p + 8, 0);
	vc_put32(p + 12, 1);
	p[16] = 0x5a;
	assert_int_equal(vc_send(fd, 1, C_REGION_WRITE, 0x10, p, 17, NULL, 0), 0);
	vc_put32(p + 12, 1);
	assert_int_equal(vc_send(fd, 2, C_REGION_READ, 0, p, 16, NULL, 0), 0);
	assert_int_equal(vc_recv(fd, &r, 5000), 0);
	assert_int_equal(r.msg_id, 2); /* exactly one reply: the read's */
	assert_int_equal(r.payload[16], 0x5a);
	vc_reply_free(&r);
	(void)b;
	close(fd);
}

static void test_V18_posted_invalid_no_reply_stays_usable(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t p[16] = {8}; /* argsz 8: invalid GET_INFO */
	struct vc_reply r;

	assert_int_equal(vc_send(fd, 1, C_GET_INFO, 0x10, p, 16, NULL, 0), 0);
	p[0] = 16;
	assert_int_equal(vc_send(fd, 2, C_GET_INFO, 0, p, 16, NULL, 0), 0);
	assert_int_equal(vc_recv(fd, &r, 5000), 0);
	assert_int_equal(r.msg_id, 2);
	assert_int_equal(r.flags, 1);
	vc_reply_free(&r);
	close(fd);
}

static void test_V19_pipelined_same_msg_id_in_order(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t p[16];

	for (int i = 0; i < 64; i++) {
		vc_put64(p, 0);
		vc_put32(p + 8, 7);
		vc_put32(p + 12, (uint32_t)(i % 4) + 1); /* count tells the replies apart */
		assert_int_equal(vc_send(fd, 7, C_REGION_READ, 0, p, 16, NULL, 0), 0);
	}
	for (int i = 0; i < 64; i++) {
		struct vc_reply r;

		assert_int_equal(vc_recv(fd, &r, 5000), 0);
		assert_int_equal(r.msg_id, 7);
		assert_int_equal(vc_get32(r.payload + 12), (uint32_t)(i % 4) + 1);
		vc_reply_free(&r);
	}
	close(fd);
}

/*
 * C4: 67 messages in one write, so the server's reads take several at once: the 64th
 * message a read loop executes (its BURST) leaves three whole ones read but not executed, and
 * the socket empty, so poll() will not report it readable again. Every one is answered.
 */
static void test_V19_messages_read_together_all_answered(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t buf[32 + 66 * 16] = {0};

	vc_put16(buf, 0); /* a 4-byte config read, 32 bytes */
	vc_put16(buf + 2, C_REGION_READ);
	vc_put32(buf + 4, 32);
	vc_put32(buf + 24, 7);
	vc_put32(buf + 28, 4);
	for (int i = 0; i < 66; i++) { /* command 0, header only: ENOSYS */
		vc_put16(buf + 32 + 16 * i, (uint16_t)(i + 1));
		vc_put32(buf + 32 + 16 * i + 4, 16);
	}
	assert_int_equal(vc_send_raw(fd, buf, sizeof(buf), NULL, 0), 0);
	for (int i = 0; i < 67; i++) {
		struct vc_reply r;

		assert_int_equal(vc_recv(fd, &r, 2000), 0);
		assert_int_equal(r.msg_id, i);
		assert_int_equal(r.error, i ? ENOSYS : 0);
		vc_reply_free(&r);
	}
	assert_int_equal(vc_cfg_read(fd, 0, 2), 0x1234); /* still usable */
	close(fd);
}

static void test_V21_type2_einval_unsolicited_reply_ignored(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t p[16] = {16};
	struct vc_reply r;

	assert_int_equal(vc_send(fd, 1, C_GET_INFO, 2, p, 16, NULL, 0), 0);
	assert_int_equal(vc_recv(fd, &r, 5000), 0);
	assert_int_equal(r.flags, 0x21);
	assert_int_equal(r.error, EINVAL);
	vc_reply_free(&r);
	assert_int_equal(vc_send(fd, 2, C_GET_INFO, 1, p, 16, NULL, 0), 0); /* a "reply" */
	assert_int_equal(vc_send(fd, 3, C_GET_INFO, 0, p, 16, NULL, 0), 0);
	assert_int_equal(vc_recv(fd, &r, 5000), 0);
	assert_int_equal(r.msg_id, 3);
	assert_int_equal(r.flags, 1);
	vc_reply_free(&r);
	close(fd);
}

static void test_V22_reserved_flags_and_error_field_ignored(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t m[32] = {0};
	struct vc_reply r;

	vc_put16(m, 9);
	vc_put16(m + 2, C_GET_INFO);
	vc_put32(m + 4, 32);
	vc_put32(m + 8, 0xffffffc0);
	vc_put32(m + 12, 77);
	vc_put32(m + 16, 16);
	assert_int_equal(vc_send_raw(fd, m, 32, NULL, 0), 0);
	assert_int_equal(vc_recv(fd, &r, 5000), 0);
	assert_int_equal(r.flags, 1);
	assert_int_equal(vc_get32(r.payload + 8), 9);
	vc_reply_free(&r);
	close(fd);
}

static void test_V23_msg_size_8_einval_then_eof(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t m[16] = {1, 0, C_GET_INFO, 0, 8};
	struct vc_reply r;

	assert_int_equal(vc_send_raw(fd, m, 16, NULL, 0), 0);
	assert_int_equal(vc_recv(fd, &r, 5000), 0);
	assert_int_equal(r.flags, 0x21);
	assert_int_equal(r.error, EINVAL);
	vc_reply_free(&r);
	assert_true(vc_eof(fd, 2000));
	close(fd);
}

static void test_V24_msg_too_big_e2big_without_body(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t m[16] = {1, 0, C_REGION_WRITE};
	struct vc_reply r;

	vc_put32(m + 4, 1048608 + 1);
	assert_int_equal(vc_send_raw(fd, m, 16, NULL, 0), 0);
	assert_int_equal(vc_recv(fd, &r, 2000), 0);
	assert_int_equal(r.flags, 0x21);
	assert_int_equal(r.error, E2BIG);
	vc_reply_free(&r);
	assert_true(vc_eof(fd, 2000));
	close(fd);
}

static void test_V25_byte_at_a_time(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t m[32] = {5, 0, C_GET_INFO, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16};
	struct vc_reply r;

	for (int i = 0; i < 32; i++) {
		assert_int_equal(vc_send_raw(fd, m + i, 1, NULL, 0), 0);
		usleep(10000);
	}
	assert_int_equal(vc_recv(fd, &r, 5000), 0);
	assert_int_equal(r.flags, 1);
	assert_int_equal(r.msg_id, 5);
	vc_reply_free(&r);
	close(fd);
}

static void test_V26_partial_header_then_close(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t m[10] = {1, 0, C_GET_INFO, 0, 32};

	assert_int_equal(vc_send_raw(fd, m, 10, NULL, 0), 0);
	close(fd);
	assert_true(fx_fds_settle(f->fds_before));
	fd = vc_open(f->path[0]);
	assert_true(fd >= 0);
	close(fd);
}

static void test_V27_stalled_message_does_not_block_other_device(void **state)
{
	struct fx *f = *state;
	int a = vc_open(f->path[0]);
	int b = vc_open(f->path[1]);
	uint8_t m[56] = {1, 0, C_GET_INFO, 0, 100};
	struct vc_reply r;
	uint64_t t0;

	assert_int_equal(vc_send_raw(a, m, 56, NULL, 0), 0);
	t0 = fx_now_ms();
	assert_int_equal(vc_call_err(b, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	assert_true(fx_now_ms() - t0 < 1000);
	assert_int_equal(vc_recv(a, &r, 200), -ETIMEDOUT);
	close(a);
	close(b);
}

static void test_V28_get_info_with_8_byte_payload(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);

	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[8]){16}, 8, NULL, 0), EINVAL);
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	close(fd);
}

/* ---- fd passing ---- */

static void test_V29_fd_on_get_info_closed(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int pp[2];
	char c;

	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, &pp[1], 1), EINVAL);
	close(pp[1]);
	assert_int_equal(read(pp[0], &c, 1), 0); /* EOF: the server's copy is closed */
	close(pp[0]);
	close(fd);
}

static void test_V30_nine_eventfds_rejected_and_closed(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int ev[9];

	for (int i = 0; i < 9; i++)
		ev[i] = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(vc_set_irqs(fd, 0x24, 0, 0, 1, ev, 9), EINVAL);
	for (int i = 0; i < 9; i++)
		close(ev[i]);
	/* both socket ends and the server thread's wake eventfd, nothing else */
	assert_int_equal(fx_count_fds(), f->fds_before + 3);
	assert_int_equal(umdev_intx_set_level(fx_mdev(f, 0), true), 0); /* nothing assigned */
	close(fd);
}

static void test_V31_fd_attached_to_payload(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int m = memfd(1 << 20);
	uint8_t hdr[16] = {1, 0, C_DMA_MAP, 0, 48}, p[32];
	struct vc_reply r;
	uint8_t in[4] = {1, 2, 3, 4}, out[4];

	vc_put32(p, 32);
	vc_put32(p + 4, 3);
	vc_put64(p + 8, 0);
	vc_put64(p + 16, 0x100000);
	vc_put64(p + 24, 0x10000);
	assert_int_equal(vc_send_raw(fd, hdr, 16, NULL, 0), 0);
	usleep(20000);
	assert_int_equal(vc_send_raw(fd, p, 32, &m, 1), 0);
	assert_int_equal(vc_recv(fd, &r, 5000), 0);
	assert_int_equal(r.flags, 1);
	vc_reply_free(&r);
	assert_int_equal(pwrite(m, in, 4, 0), 4);
	assert_int_equal(umdev_dma_read(fx_mdev(f, 0), 0x100000, out, 4), 0);
	assert_memory_equal(in, out, 4);
	close(m);
	close(fd);
}

/* ---- version ---- */

/*
 * §6.2: QEMU sends each message with one sendmsg(), its fds attached. A GET_INFO and a DMA_MAP
 * with its memfd sent back to back often reach one read of the server together: the fd is
 * still the DMA_MAP's, never the GET_INFO's (which would fail it with EINVAL).
 */
static void test_V31_fd_of_the_next_message_read_together(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int m = memfd(1 << 20);
	uint8_t info[16] = {0}, map[32], unmap[24];

	vc_put32(info, 16);
	vc_put32(map, 32);
	vc_put32(map + 4, 3);
	vc_put64(map + 8, 0);
	vc_put64(map + 16, 0x100000);
	vc_put64(map + 24, 0x10000);
	vc_put32(unmap, 24);
	vc_put32(unmap + 4, 0);
	vc_put64(unmap + 8, 0x100000);
	vc_put64(unmap + 16, 0x10000);
	for (int i = 0; i < 200; i++) {
		struct vc_reply r;

		assert_int_equal(vc_send(fd, 1, C_GET_INFO, 0, info, 16, NULL, 0), 0);
		assert_int_equal(vc_send(fd, 2, C_DMA_MAP, 0, map, 32, &m, 1), 0);
		assert_int_equal(vc_recv(fd, &r, 5000), 0);
		assert_int_equal(r.msg_id, 1);
		assert_int_equal(r.flags, 0x1);
		vc_reply_free(&r);
		assert_int_equal(vc_recv(fd, &r, 5000), 0);
		assert_int_equal(r.msg_id, 2);
		assert_int_equal(r.flags, 0x1);
		vc_reply_free(&r);
		assert_int_equal(vc_call_err(fd, C_DMA_UNMAP, unmap, 24, NULL, 0), 0);
	}
	close(m);
	close(fd);
}

static void test_V32_qemu_proposal(void **state)
{
	struct fx *f = *state;
	int fd = vc_connect(f->path[0]);
	struct vc_reply r;
	const char *want = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,"
			   "\"pgsizes\":4096,\"max_dma_maps\":16,\"write_multiple\":true}}";

	assert_int_equal(vc_version(fd, 0, VC_QEMU_CAPS, &r), 0);
	assert_int_equal(vc_get32(r.payload) & 0xffff, 0);
	assert_int_equal(vc_get32(r.payload) >> 16, 0);
	assert_int_equal(r.payload[r.len - 1], 0);
	assert_string_equal((char *)r.payload + 4, want);
	vc_reply_free(&r);
	close(fd);
}

static void test_V33_minor2_two_keys(void **state)
{
	struct fx *f = *state;
	int fd = vc_connect(f->path[0]);
	struct vc_reply r;

	assert_int_equal(vc_version(fd, 2,
				    "{\"capabilities\":{\"max_msg_fds\":4,"
				    "\"max_data_xfer_size\":4096}}",
				    &r),
			 0);
	assert_int_equal(vc_get32(r.payload) >> 16, 2);
	assert_string_equal(
	    (char *)r.payload + 4,
	    "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}");
	vc_reply_free(&r);
	close(fd);
}

static void test_V34_minor7_and_no_json(void **state)
{
	struct fx *f = *state;
	int fd = vc_connect(f->path[0]);
	struct vc_reply r;

	assert_int_equal(vc_version(fd, 7, "{}", &r), 0);
	assert_int_equal(vc_get32(r.payload) >> 16, 2);
	vc_reply_free(&r);
	close(fd);
	fd = vc_connect(f->path[0]);
	assert_int_equal(vc_version(fd, 1, NULL, &r), 0);
	assert_int_equal(r.len, 4 + sizeof("{\"capabilities\":{}}"));
	assert_string_equal((char *)r.payload + 4, "{\"capabilities\":{}}");
	vc_reply_free(&r);
	close(fd);
}

static void expect_version_fatal(struct fx *f, const void *payload, size_t len, const int *fds,
				 unsigned int nr_fds)
{
	int fd = vc_connect(f->path[0]);

	assert_true(fd >= 0);
	assert_int_equal(vc_call_err(fd, C_VERSION, payload, len, fds, nr_fds), EINVAL);
	assert_true(vc_eof(fd, 2000));
	close(fd);
}

static void expect_json_fatal(struct fx *f, const char *json, size_t jl)
{
	uint8_t *p = calloc(1, 4 + jl);

	memcpy(p + 4, json, jl);
	expect_version_fatal(f, p, 4 + jl, NULL, 0);
	free(p);
}

static void test_V35_major1_fatal(void **state)
{
	struct fx *f = *state;
	uint8_t p[4] = {1, 0, 0, 0};

	expect_version_fatal(f, p, 4, NULL, 0);
}

static void test_V36_bad_json_fatal(void **state)
{
	struct fx *f = *state;
	const char *bad[] = {
	    "{\"capabilities\":[}",
	    "[1,2]",
	    "{\"capabilities\":\"x\"}",
	    "{\"capabilities\":{\"max_msg_fds\":\"1\"}}",
	    "{\"capabilities\":{\"max_msg_fds\":-1}}",
	    "{\"capabilities\":{\"max_msg_fds\":2000}}",
	};
	char deep[256] = "";

	expect_json_fatal(f, "{}", 2); /* no final NUL */
	expect_json_fatal(f, "{}\0junk", 8); /* text after the string's NUL (§7.1) */
	expect_json_fatal(f, "{}\0\0x\0", 6);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_json_fatal(f, bad[i], strlen(bad[i]) + 1);
	for (int i = 0; i < 100; i++)
		strcat(deep, "[");
	for (int i = 0; i < 100; i++)
		strcat(deep, "]");
	memmove(deep + 20, deep, 201);
	memcpy(deep, "{\"capabilities\":{\"a\":", 20);
	expect_json_fatal(f, deep, strlen(deep) + 1);
}

/* The JSON string's NUL may be followed by NULs (padding), and by nothing else (V-36). */
static void test_V36_nul_padding_after_json_accepted(void **state)
{
	struct fx *f = *state;
	static const char json[] = "{\"capabilities\":{\"max_msg_fds\":8}}\0\0\0";
	uint8_t p[4 + sizeof(json)] = {0};
	int fd = vc_connect(f->path[0]);
	struct vc_reply r;

	assert_true(fd >= 0);
	memcpy(p + 4, json, sizeof(json)); /* the string, its NUL and three more */
	assert_int_equal(vc_call(fd, C_VERSION, p, sizeof(p), NULL, 0, &r), 0);
	assert_int_equal(r.flags, 0x1);
	assert_non_null(memmem(r.payload, r.len, "\"max_msg_fds\"", 13)); /* it was parsed */
	vc_reply_free(&r);
	close(fd);
}

static void test_V37_short_payload_and_fd_fatal(void **state)
{
	struct fx *f = *state;
	uint8_t p[4] = {0};
	int pp[2];
	char c;

	expect_version_fatal(f, p, 2, NULL, 0);
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	expect_version_fatal(f, p, 4, &pp[1], 1);
	close(pp[1]);
	assert_int_equal(read(pp[0], &c, 1), 0);
	close(pp[0]);
}

static void test_V38_first_message_not_version(void **state)
{
	struct fx *f = *state;
	int fd = vc_connect(f->path[0]);

	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), EINVAL);
	assert_true(vc_eof(fd, 2000));
	close(fd);
}

static void test_V39_second_version_einval_session_continues(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	struct vc_reply r;

	assert_int_equal(vc_version(fd, 0, VC_QEMU_CAPS, &r), EINVAL);
	vc_reply_free(&r);
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	close(fd);
}

static void test_V41_unknown_keys_not_echoed(void **state)
{
	struct fx *f = *state;
	int fd = vc_connect(f->path[0]);
	struct vc_reply r;

	assert_int_equal(vc_version(fd, 2, "{\"capabilities\":{\"foo\":1}}", &r), 0);
	assert_string_equal((char *)r.payload + 4, "{\"capabilities\":{}}");
	vc_reply_free(&r);
	close(fd);
}

/* ---- information ---- */

static void test_V42_get_info(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	struct vc_reply r;

	assert_int_equal(vc_call(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0, &r), 0);
	assert_int_equal(r.len, 16);
	assert_int_equal(vc_get32(r.payload), 16);
	assert_int_equal(vc_get32(r.payload + 4), 0x3);
	assert_int_equal(vc_get32(r.payload + 8), 9);
	assert_int_equal(vc_get32(r.payload + 12), 5);
	vc_reply_free(&r);
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){15}, 16, NULL, 0), EINVAL);
	close(fd);
}

static int region_info(int fd, uint32_t index, uint32_t argsz, struct vc_reply *r)
{
	uint8_t p[32] = {0};

	vc_put32(p, argsz);
	vc_put32(p + 8, index);
	return vc_call(fd, C_REGION_INFO, p, 32, NULL, 0, r);
}

static void test_V43_V44_region_info(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	struct vc_reply r;
	const struct {
		uint32_t index, flags;
		uint64_t size;
	} want[] = {{7, 3, 256}, {0, 3, 8}, {1, 3, 4096}, {2, 0, 0}, {6, 0, 0}, {8, 0, 0}};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(region_info(fd, want[i].index, 32, &r), 0);
		assert_int_equal(r.flags, 1);
		assert_int_equal(r.len, 32);
		assert_int_equal(r.nr_fds, 0);
		assert_int_equal(vc_get32(r.payload), 32);
		assert_int_equal(vc_get32(r.payload + 4), want[i].flags);
		assert_int_equal(vc_get32(r.payload + 8), want[i].index);
		assert_int_equal(vc_get32(r.payload + 12), 0);
		assert_int_equal(vc_get64(r.payload + 16), want[i].size);
		assert_int_equal(vc_get64(r.payload + 24), 0);
		vc_reply_free(&r);
	}
	close(fd);
}

static void test_V46_region_info_sparse_mmap_caps_and_fd(void **state)
{
	struct fx *f = *state;
	char path[sizeof(f->path[0])];
	uuid_t u;
	struct vc_reply r;
	uint32_t full;
	uint8_t *m;
	int fd;

	vdrv_mmap_bar = 1;
	uuid_generate(u);
	assert_int_equal(vdrv_create(&u), 0);
	vdrv_mmap_bar = 0;
	snprintf(path, sizeof(path), "%s/vfio/devices/vfio2", f->rundir);
	fd = vc_open(path);

	/* argsz 32: truncated, argsz tells the full size, CAPS clear, cap_offset 0, no fd */
	assert_int_equal(region_info(fd, 2, 32, &r), 0);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.len, 32);
	assert_int_equal(r.nr_fds, 0);
	full = vc_get32(r.payload);
	assert_true(full > 32);
	assert_int_equal(vc_get32(r.payload + 4) & 0x8, 0);
	assert_int_equal(vc_get32(r.payload + 8), 2);
	assert_int_equal(vc_get32(r.payload + 12), 0);
	assert_int_equal(vc_get64(r.payload + 16), 16384);
	vc_reply_free(&r);

	/* retry with that argsz: CAPS and MMAP, the sparse-mmap capability, one fd */
	assert_int_equal(region_info(fd, 2, full, &r), 0);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.len, full);
	assert_int_equal(r.len, 64);
	assert_int_equal(vc_get32(r.payload), full);
	assert_int_equal(vc_get32(r.payload + 4), 0x1 | 0x2 | 0x4 | 0x8);
	assert_int_equal(vc_get32(r.payload + 8), 2);
	assert_int_equal(vc_get32(r.payload + 12), 32);
	assert_int_equal(vc_get64(r.payload + 16), 16384);
	assert_int_equal(vc_get64(r.payload + 24), 0);
	assert_int_equal(r.payload[32] | r.payload[33] << 8,
			 1); /* VFIO_REGION_INFO_CAP_SPARSE_MMAP */
	assert_int_equal(r.payload[34] | r.payload[35] << 8, 1); /* version */
	assert_int_equal(vc_get32(r.payload + 36), 0); /* next */
	assert_int_equal(vc_get32(r.payload + 40), 1); /* nr_areas */
	assert_int_equal(vc_get64(r.payload + 48), 4096);
	assert_int_equal(vc_get64(r.payload + 56), 8192);
	assert_int_equal(r.nr_fds, 1);
	/* the fd maps the region: the area's first byte is the driver's 0xA5 */
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, r.fds[0], 4096);
	assert_true(m != MAP_FAILED);
	assert_int_equal(m[0], 0xa5);
	munmap(m, 8192);
	vc_reply_free(&r);

	/* a region without an area stays plain */
	assert_int_equal(region_info(fd, 1, 64, &r), 0);
	assert_int_equal(r.len, 32);
	assert_int_equal(vc_get32(r.payload + 4), 3);
	assert_int_equal(r.nr_fds, 0);
	vc_reply_free(&r);
	close(fd);
	assert_int_equal(umdev_mdev_remove(&u), 0);
}

static void test_V45_region_info_errors(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	struct vc_reply r;

	assert_int_equal(region_info(fd, 9, 32, &r), 0);
	assert_int_equal(r.error, EINVAL);
	vc_reply_free(&r);
	assert_int_equal(region_info(fd, 0xffffffff, 32, &r), 0);
	assert_int_equal(r.error, EINVAL);
	vc_reply_free(&r);
	assert_int_equal(region_info(fd, 7, 16, &r), 0);
	assert_int_equal(r.error, EINVAL);
	vc_reply_free(&r);
	close(fd);
}

static int io_fds(int fd, uint32_t flags, uint32_t index, uint32_t count, struct vc_reply *r)
{
	uint8_t p[16];

	vc_put32(p, 16);
	vc_put32(p + 4, flags);
	vc_put32(p + 8, index);
	vc_put32(p + 12, count);
	return vc_call(fd, C_REGION_IO_FDS, p, 16, NULL, 0, r);
}

static void test_V47_region_io_fds(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	struct vc_reply r;

	assert_int_equal(io_fds(fd, 0, 7, 0, &r), 0);
	assert_int_equal(r.flags, 1);
	assert_int_equal(r.len, 16);
	assert_int_equal(vc_get32(r.payload), 16);
	assert_int_equal(vc_get32(r.payload + 12), 0);
	assert_int_equal(r.nr_fds, 0);
	vc_reply_free(&r);
	assert_int_equal(io_fds(fd, 1, 7, 0, &r), 0);
	assert_int_equal(r.error, EINVAL);
	vc_reply_free(&r);
	assert_int_equal(io_fds(fd, 0, 7, 1, &r), 0);
	assert_int_equal(r.error, EINVAL);
	vc_reply_free(&r);
	assert_int_equal(io_fds(fd, 0, 9, 0, &r), 0);
	assert_int_equal(r.error, EINVAL);
	vc_reply_free(&r);
	close(fd);
}

static void test_V48_irq_info(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	const uint32_t flags[5] = {7, 9, 1, 9, 9}, count[5] = {1, 1, 0, 0, 1};

	for (uint32_t i = 0; i < 6; i++) {
		uint8_t p[16] = {16};
		struct vc_reply r;

		vc_put32(p + 8, i);
		assert_int_equal(vc_call(fd, C_IRQ_INFO, p, 16, NULL, 0, &r), 0);
		if (i == 5) {
			assert_int_equal(r.error, EINVAL);
		} else {
			assert_int_equal(r.flags, 1);
			assert_int_equal(vc_get32(r.payload + 4), flags[i]);
			assert_int_equal(vc_get32(r.payload + 8), i);
			assert_int_equal(vc_get32(r.payload + 12), count[i]);
		}
		vc_reply_free(&r);
	}
	close(fd);
}

/* ---- SET_IRQS ---- */

struct irqfx {
	int fd, trig;
	struct umdev_mdev *mdev;
};

static void intx_setup(struct fx *f, struct irqfx *x)
{
	x->fd = vc_open(f->path[0]);
	x->trig = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->mdev = fx_mdev(f, 0);
	assert_int_equal(vc_set_irqs(x->fd, 0x24, 0, 0, 1, &x->trig, 1), 0);
}

static void intx_done(struct irqfx *x)
{
	close(x->fd);
	close(x->trig);
}

static void test_V49_intx_signals_once_then_automasked(void **state)
{
	struct irqfx x;

	intx_setup(*state, &x);
	assert_int_equal(umdev_intx_set_level(x.mdev, true), 0);
	assert_int_equal(ev_wait(x.trig, 1000), 1);
	assert_int_equal(umdev_intx_set_level(x.mdev, false), 0);
	assert_int_equal(umdev_intx_set_level(x.mdev, true), 0);
	assert_int_equal(ev_wait(x.trig, 100), 0); /* still masked */
	assert_int_equal(vc_cfg_read(x.fd, 6, 2) & 0x8, 0x8); /* Status bit 3 = level */
	intx_done(&x);
}

static void test_V50_unmask_resignals_when_level_high(void **state)
{
	struct irqfx x;

	intx_setup(*state, &x);
	umdev_intx_set_level(x.mdev, true);
	assert_int_equal(ev_wait(x.trig, 1000), 1);
	assert_int_equal(vc_set_irqs(x.fd, 0x11, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(ev_wait(x.trig, 0), 1); /* by the time the reply arrived */
	umdev_intx_set_level(x.mdev, false);
	assert_int_equal(vc_set_irqs(x.fd, 0x11, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(ev_wait(x.trig, 0), 0);
	intx_done(&x);
}

static void test_V51_unmask_eventfd(void **state)
{
	struct irqfx x;
	int unmask = eventfd(0, EFD_CLOEXEC);
	uint64_t one = 1;

	intx_setup(*state, &x);
	assert_int_equal(vc_set_irqs(x.fd, 0x14, 0, 0, 1, &unmask, 1), 0);
	umdev_intx_set_level(x.mdev, true);
	assert_int_equal(ev_wait(x.trig, 1000), 1);
	assert_int_equal(write(unmask, &one, 8), 8);
	assert_int_equal(ev_wait(x.trig, 1000), 1);
	umdev_intx_set_level(x.mdev, false);
	assert_int_equal(write(unmask, &one, 8), 8);
	assert_int_equal(vc_call_err(x.fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	assert_int_equal(ev_wait(x.trig, 0), 0);
	close(unmask);
	intx_done(&x);
}

static void test_V52_intx_disable_bit(void **state)
{
	struct irqfx x;

	intx_setup(*state, &x);
	assert_int_equal(vc_cfg_write(x.fd, 4, 2, 0x0400), 0);
	umdev_intx_set_level(x.mdev, true);
	assert_int_equal(ev_wait(x.trig, 100), 0);
	assert_int_equal(vc_cfg_write(x.fd, 4, 2, 0x0000), 0);
	assert_int_equal(ev_wait(x.trig, 0), 1);
	assert_int_equal(ev_wait(x.trig, 50), 0);
	intx_done(&x);
}

static void test_V53_disable_index_drops_both_eventfds(void **state)
{
	struct fx *f = *state;
	struct irqfx x;
	int unmask = eventfd(0, EFD_CLOEXEC);
	int n;

	intx_setup(f, &x);
	assert_int_equal(vc_set_irqs(x.fd, 0x14, 0, 0, 1, &unmask, 1), 0);
	n = fx_count_fds();
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(fx_count_fds(), n - 2);
	umdev_intx_set_level(x.mdev, true);
	assert_int_equal(ev_wait(x.trig, 100), 0);
	close(unmask);
	intx_done(&x);
}

static void test_V54_eventfd_without_fds_deassigns_none_loops_back(void **state)
{
	struct irqfx x;

	intx_setup(*state, &x);
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 0, 0, 1, NULL, 0), 0); /* loop-back */
	assert_int_equal(ev_wait(x.trig, 0), 1);
	assert_int_equal(vc_set_irqs(x.fd, 0x24, 0, 0, 1, NULL, 0), 0); /* de-assign */
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(ev_wait(x.trig, 50), 0);
	intx_done(&x);
}

static void test_V55_bool_trigger(void **state)
{
	struct irqfx x;
	uint8_t p[22] = {21, 0, 0, 0, 0x22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0};

	intx_setup(*state, &x);
	assert_int_equal(vc_call_err(x.fd, C_SET_IRQS, p, 21, NULL, 0), 0);
	assert_int_equal(ev_wait(x.trig, 0), 1);
	assert_int_equal(vc_call_err(x.fd, C_SET_IRQS, p, 22, NULL, 0), EINVAL);
	intx_done(&x);
}

static void test_V56_invalid_set_irqs_change_nothing(void **state)
{
	struct irqfx x;
	const struct {
		uint32_t flags, index, start, count;
	} bad[] = {{0x26, 0, 0, 1}, {0x31, 0, 0, 1},	      {0x61, 0, 0, 1}, {0x21, 5, 0, 1},
		   {0x21, 0, 1, 1}, {0x21, 0, 0xffffffff, 2}, {0x21, 0, 1, 0}};

	intx_setup(*state, &x);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vc_set_irqs(x.fd, bad[i].flags, bad[i].index, bad[i].start,
					     bad[i].count, NULL, 0),
				 EINVAL);
	umdev_intx_set_level(x.mdev, true);
	assert_int_equal(ev_wait(x.trig, 1000), 1);
	intx_done(&x);
}

static void test_V57_V58_non_eventfd_and_fd_with_data_none(void **state)
{
	struct irqfx x;
	int pp[2], ev = eventfd(0, EFD_CLOEXEC);
	char c;

	intx_setup(*state, &x);
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	assert_int_equal(vc_set_irqs(x.fd, 0x24, 0, 0, 1, &pp[1], 1), EINVAL);
	close(pp[1]);
	assert_int_equal(read(pp[0], &c, 1), 0);
	close(pp[0]);
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 0, 0, 1, &ev, 1), EINVAL);
	close(ev);
	intx_done(&x);
}

static void test_V59_one_interrupt_mode_at_a_time(void **state)
{
	struct irqfx x;
	int msi = eventfd(0, EFD_CLOEXEC);

	intx_setup(*state, &x);
	assert_int_equal(vc_set_irqs(x.fd, 0x24, 1, 0, 1, &msi, 1), EINVAL);
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(vc_set_irqs(x.fd, 0x24, 1, 0, 1, &msi, 1), 0);
	close(msi);
	intx_done(&x);
}

static void test_V60_unsupported_actions(void **state)
{
	struct irqfx x;
	int ev = eventfd(0, EFD_CLOEXEC);

	intx_setup(*state, &x);
	assert_int_equal(vc_set_irqs(x.fd, 0x0c, 0, 0, 1, &ev, 1), ENOTTY);
	assert_int_equal(vc_set_irqs(x.fd, 0x09, 1, 0, 1, NULL, 0), ENOTTY);
	assert_int_equal(vc_set_irqs(x.fd, 0x11, 4, 0, 1, NULL, 0), ENOTTY);
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 4, 0, 2, NULL, 0), EINVAL);
	assert_int_equal(vc_set_irqs(x.fd, 0x11, 3, 0, 1, NULL, 0), EINVAL);
	close(ev);
	intx_done(&x);
}

static void test_V61_msi_notify_ignores_enable_bit(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int msi = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct umdev_mdev *mdev = fx_mdev(f, 0);

	assert_int_equal(vc_set_irqs(fd, 0x24, 1, 0, 1, &msi, 1), 0);
	assert_int_equal(umdev_msi_notify(mdev, 0), 0);
	assert_int_equal(ev_wait(msi, 0), 1);
	assert_int_equal(vc_cfg_write(fd, 0x52, 2, 1), 0);
	assert_int_equal(umdev_msi_notify(mdev, 0), 0);
	assert_int_equal(ev_wait(msi, 0), 1);
	assert_int_equal(umdev_msi_notify(mdev, 1), -EINVAL);
	assert_int_equal(vc_set_irqs(fd, 0x21, 1, 0, 0, NULL, 0), 0);
	assert_int_equal(umdev_msi_notify(mdev, 0), 0);
	assert_int_equal(ev_wait(msi, 0), 0);
	close(msi);
	close(fd);
}

static uint64_t signals(struct umdev_mdev *mdev)
{
	uint64_t n = 0xdead;

	assert_int_equal(umdev_irq_signal_count(mdev, &n), 0);
	return n;
}

static void test_V49_V54_V61_irq_signal_count(void **state)
{
	struct fx *f = *state;
	struct irqfx x;
	int msi = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int req = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t n0;

	intx_setup(f, &x);
	n0 = signals(x.mdev);
	assert_int_equal(umdev_irq_signal_count(x.mdev, NULL), -EINVAL);
	umdev_intx_set_level(x.mdev, true); /* delivered and automasked: one write */
	assert_int_equal(ev_wait(x.trig, 1000), 1);
	assert_int_equal(signals(x.mdev), n0 + 1);
	umdev_intx_set_level(x.mdev, true); /* masked: no write, not counted */
	assert_int_equal(signals(x.mdev), n0 + 1);
	assert_int_equal(vc_set_irqs(x.fd, 0x11, 0, 0, 1, NULL, 0), 0); /* unmask, level 1 */
	assert_int_equal(ev_wait(x.trig, 0), 1);
	assert_int_equal(signals(x.mdev), n0 + 2);
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 0, 0, 1, NULL, 0), 0); /* loop-back (T-56) */
	assert_int_equal(ev_wait(x.trig, 0), 1);
	assert_int_equal(signals(x.mdev), n0 + 3);
	assert_int_equal(vc_set_irqs(x.fd, 0x24, 4, 0, 1, &req, 1), 0);
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 4, 0, 1, NULL, 0), 0); /* REQ: not counted */
	assert_int_equal(ev_wait(req, 0), 1);
	assert_int_equal(signals(x.mdev), n0 + 3);
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 0, 0, 0, NULL, 0), 0); /* INTx off */
	umdev_intx_set_level(x.mdev, false);
	assert_int_equal(vc_set_irqs(x.fd, 0x24, 1, 0, 1, &msi, 1), 0);
	assert_int_equal(umdev_msi_notify(x.mdev, 0), 0);
	assert_int_equal(ev_wait(msi, 0), 1);
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 1, 0, 1, NULL, 0), 0); /* MSI loop-back */
	assert_int_equal(ev_wait(msi, 0), 1);
	assert_int_equal(signals(x.mdev), n0 + 5);
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 1, 0, 0, NULL, 0), 0);
	assert_int_equal(umdev_msi_notify(x.mdev, 0), 0); /* nothing assigned: no write */
	assert_int_equal(signals(x.mdev), n0 + 5);
	close(x.fd); /* disconnect and teardown reset do not clear the count */
	x.fd = vc_open(f->path[0]);
	assert_true(x.fd >= 0);
	assert_int_equal(signals(x.mdev), n0 + 5);
	close(msi);
	close(req);
	intx_done(&x);
}

#define IRQ_LAST(index, start, count, action)                                                      \
	((unsigned int)(index) << 24 | (start) << 16 | (count) << 8 | (unsigned int)(action))

static void test_V53_V54_V55_set_irqs_callback_says_what_changed(void **state)
{
	struct irqfx x;
	struct vdrv_dev *d = vdrv_find(&((struct fx *)*state)->u[0]);
	int unmask = eventfd(0, EFD_CLOEXEC), msi = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint8_t no[21] = {21, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
	unsigned int calls;

	intx_setup(*state, &x);
	assert_int_equal(d->irq_last, IRQ_LAST(0, 0, 1, UMDEV_IRQ_ASSIGNED));
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(d->irq_last, IRQ_LAST(0, 0, 1, UMDEV_IRQ_SIGNALLED));
	assert_int_equal(vc_set_irqs(x.fd, 0x09, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(d->irq_last, IRQ_LAST(0, 0, 1, UMDEV_IRQ_MASKED));
	assert_int_equal(vc_set_irqs(x.fd, 0x11, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(d->irq_last, IRQ_LAST(0, 0, 1, UMDEV_IRQ_UNMASKED));
	assert_int_equal(vc_set_irqs(x.fd, 0x14, 0, 0, 1, &unmask, 1), 0);
	assert_int_equal(d->irq_last, IRQ_LAST(0, 0, 1, UMDEV_IRQ_UNMASK_EVENTFD));
	calls = d->set_irqs; /* MASK|DATA_BOOL false: nothing changes, no call */
	assert_int_equal(vc_call_err(x.fd, C_SET_IRQS, no, 21, NULL, 0), 0);
	assert_int_equal(d->set_irqs, calls);
	assert_int_equal(vc_set_irqs(x.fd, 0x24, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(d->irq_last, IRQ_LAST(0, 0, 1, UMDEV_IRQ_RELEASED));
	assert_int_equal(vc_set_irqs(x.fd, 0x21, 0, 0, 0, NULL, 0), 0); /* the whole index */
	assert_int_equal(d->irq_last, IRQ_LAST(0, 0, 1, UMDEV_IRQ_RELEASED));
	assert_int_equal(vc_set_irqs(x.fd, 0x24, 1, 0, 1, &msi, 1), 0);
	assert_int_equal(d->irq_last, IRQ_LAST(1, 0, 1, UMDEV_IRQ_ASSIGNED));
	calls = d->set_irqs;
	assert_int_equal(vc_set_irqs(x.fd, 0x26, 1, 0, 1, NULL, 0), EINVAL); /* failed: no call */
	assert_int_equal(d->set_irqs, calls);
	close(unmask);
	close(msi);
	intx_done(&x);
}

/* ---- region access and config space ---- */

static void test_V62_full_config_read(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t cfg[256];

	assert_int_equal(vc_region_read(fd, 7, 0, 256, cfg), 0);
	assert_int_equal(cfg[0] | cfg[1] << 8, 0x1234);
	assert_int_equal(cfg[2] | cfg[3] << 8, 0x5678);
	assert_int_equal(cfg[0x0b], 0x07);
	assert_int_equal(cfg[0x09], 0x02);
	assert_int_equal(cfg[0x10], 0x01); /* I/O BAR */
	assert_int_equal(cfg[0x34], 0x50);
	assert_int_equal(cfg[0x06] & 0x10, 0x10);
	assert_int_equal(cfg[0x3d], 1);
	assert_int_equal(cfg[0x40], 0x23);
	assert_int_equal(cfg[0x50], 0x05);
	close(fd);
}

static void test_V63_V64_V65_access_bounds(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t p[21] = {0};

	assert_int_equal(vc_region_read(fd, 7, 0, 0, NULL), 0);
	assert_int_equal(vc_region_read(fd, 7, 250, 8, NULL), EINVAL);
	assert_int_equal(vc_region_read(fd, 7, 0xfffffffffffffff0ull, 32, NULL), EINVAL);
	assert_int_equal(vc_region_read(fd, 9, 0, 1, NULL), EINVAL);
	assert_int_equal(vc_region_read(fd, 2, 0, 1, NULL), EINVAL);
	assert_int_equal(vc_region_read(fd, 7, 0, 1048577, NULL), E2BIG);
	vc_put32(p + 8, 7);
	vc_put32(p + 12, 4);
	assert_int_equal(vc_call_err(fd, C_REGION_WRITE, p, 21, NULL, 0), EINVAL);
	assert_int_equal(vc_call_err(fd, C_REGION_READ, p, 20, NULL, 0), EINVAL);
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	close(fd);
}

static void test_V66_V67_V69_config_masks(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);

	assert_int_equal(vc_cfg_write(fd, 0, 2, 0xffff), 0);
	assert_int_equal(vc_cfg_read(fd, 0, 2), 0x1234);
	assert_int_equal(vc_cfg_write(fd, 4, 2, 0xffff), 0);
	assert_int_equal(vc_cfg_read(fd, 4, 2), 0x0547);
	assert_int_equal(vc_cfg_write(fd, 0x10, 4, 0xffffffff), 0);
	assert_int_equal(vc_cfg_read(fd, 0x10, 4), 0xfffffff9);
	assert_int_equal(vc_cfg_write(fd, 0x14, 4, 0xffffffff), 0);
	assert_int_equal(vc_cfg_read(fd, 0x14, 4), 0xfffff000);
	assert_int_equal(vc_cfg_write(fd, 0x18, 4, 0xffffffff), 0);
	assert_int_equal(vc_cfg_read(fd, 0x18, 4), 0);
	assert_int_equal(vc_cfg_write(fd, 0x30, 4, 0xffffffff), 0); /* ROM BAR ignored */
	assert_int_equal(vc_cfg_read(fd, 0x30, 4), 0);
	close(fd);
}

static void test_V68_status_rw1c(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint32_t st;

	assert_int_equal(umdev_pci_config_get(fx_mdev(f, 0), 6, 2, &st), 0);
	assert_int_equal(umdev_pci_config_set(fx_mdev(f, 0), 6, 2, st | 0x8000), 0);
	assert_int_equal(vc_cfg_read(fd, 6, 2) & 0x8000, 0x8000);
	assert_int_equal(vc_cfg_write(fd, 6, 2, 0x8000), 0);
	assert_int_equal(vc_cfg_read(fd, 6, 2) & 0x8000, 0);
	assert_int_equal(vc_cfg_write(fd, 6, 2, 0x0010), 0);
	assert_int_equal(vc_cfg_read(fd, 6, 2) & 0x0010, 0x0010);
	close(fd);
}

static void test_V70_msi_control(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);

	assert_int_equal(vc_cfg_write(fd, 0x52, 2, 0x0070), 0);
	assert_int_equal(vc_cfg_read(fd, 0x52, 2) & 0x70, 0);
	assert_int_equal(vc_cfg_write(fd, 0x52, 2, 0x0001), 0);
	assert_int_equal(vc_cfg_read(fd, 0x52, 2) & 1, 1);
	assert_int_equal(vc_cfg_write(fd, 0x54, 4, 0xfee00003), 0);
	assert_int_equal(vc_cfg_read(fd, 0x54, 4), 0xfee00000);
	close(fd);
}

static void write_multi(uint8_t *p, uint64_t n)
{
	vc_put64(p, n);
}

static void test_V71_write_multi(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t p[8 + 3 * 24] = {0};
	struct vc_reply r;
	uint8_t bar0[8];

	write_multi(p, 3);
	for (int i = 0; i < 3; i++) {
		uint8_t *e = p + 8 + 24 * i;

		vc_put64(e, (uint64_t)i);
		vc_put32(e + 8, 0);
		vc_put32(e + 12, 1);
		e[16] = (uint8_t)(0x10 + i);
	}
	assert_int_equal(vc_call(fd, C_WRITE_MULTI, p, sizeof(p), NULL, 0, &r), 0);
	assert_int_equal(r.flags, 1);
	assert_int_equal(vc_get64(r.payload), 3);
	vc_reply_free(&r);
	assert_int_equal(vc_region_read(fd, 0, 0, 8, bar0), 0);
	assert_int_equal(bar0[0], 0x10);
	assert_int_equal(bar0[2], 0x12);
	p[8 + 24 * 0 + 16] = 0x77;
	vc_put32(p + 8 + 24 * 2 + 8, 9); /* invalid region in the last entry */
	assert_int_equal(vc_call_err(fd, C_WRITE_MULTI, p, sizeof(p), NULL, 0), EINVAL);
	assert_int_equal(vc_region_read(fd, 0, 0, 1, bar0), 0);
	assert_int_equal(bar0[0], 0x10); /* none applied */
	close(fd);
	fd = vc_connect(f->path[0]);
	assert_int_equal(vc_version(fd, 2, "{}", &r), 0);
	vc_reply_free(&r);
	vc_put32(p + 8 + 24 * 2 + 8, 0);
	assert_int_equal(vc_call_err(fd, C_WRITE_MULTI, p, sizeof(p), NULL, 0), ENOTSUP);
	close(fd);
}

/* ---- reset, features ---- */

static void test_V72_V73_reset(void **state)
{
	struct fx *f = *state;
	struct irqfx x;
	int m = memfd(1 << 20);
	uint8_t b[4];

	intx_setup(f, &x);
	assert_int_equal(vc_dma_map(x.fd, 3, 0, 0x100000, 0x10000, m), 0);
	assert_int_equal(vc_cfg_write(x.fd, 4, 2, 0x0007), 0);
	assert_int_equal(vc_cfg_write(x.fd, 0x10, 4, 0xc000), 0);
	assert_int_equal(vc_cfg_write(x.fd, 0x52, 2, 1), 0);
	umdev_intx_set_level(x.mdev, true);
	assert_int_equal(ev_wait(x.trig, 1000), 1); /* now masked */
	assert_int_equal(vc_call_err(x.fd, C_RESET, (uint8_t[4]){0}, 4, NULL, 0), EINVAL);
	assert_int_equal(vc_cfg_read(x.fd, 4, 2), 0x0007); /* not reset */
	assert_int_equal(vc_call_err(x.fd, C_RESET, NULL, 0, NULL, 0), 0);
	assert_int_equal(vc_cfg_read(x.fd, 4, 2), 0);
	assert_int_equal(vc_cfg_read(x.fd, 0x10, 4), 1);
	assert_int_equal(vc_cfg_read(x.fd, 0x52, 2) & 1, 0);
	assert_int_equal(vc_cfg_read(x.fd, 6, 2) & 0x8, 0); /* level cleared */
	umdev_intx_set_level(x.mdev, true);
	assert_int_equal(ev_wait(x.trig, 1000), 1); /* unmasked, eventfd kept */
	assert_int_equal(umdev_dma_read(x.mdev, 0x100000, b, 4), 0); /* mapping kept */
	close(m);
	intx_done(&x);
}

static void test_V74_device_feature_and_migration(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t p[16] = {16, 0, 0, 0, 1, 0, 0x05, 0}; /* feature 1, GET|PROBE */

	assert_int_equal(vc_call_err(fd, C_FEATURE, p, 16, NULL, 0), ENOTTY);
	assert_int_equal(vc_call_err(fd, C_FEATURE, p, 4, NULL, 0), EINVAL);
	assert_int_equal(vc_call_err(fd, C_MIG_READ, p, 16, NULL, 0), ENOTSUP);
	close(fd);
}

/* ---- DMA ---- */

static void test_V75_overlap_is_eexist(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int m = memfd(1 << 20);

	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0x10000, m), 0);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x108000, 0x10000, m), EEXIST);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0x10000, m), EEXIST);
	assert_int_equal(vc_dma_map(fd, 3, 0x10000, 0x110000, 0x1000, m), 0);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x0f0000, 0x10000, m), 0); /* touching below */
	close(m);
	close(fd);
}

static void test_V76_invalid_maps_close_fd(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int m = memfd(1 << 20), pp[2], ro, n;
	char path[64];
	uint8_t p[32];

	n = fx_count_fds();
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0, m), EINVAL);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x1001, 0x1000, m), EINVAL);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0xfffffffffffff000ull, 0x2000, m), EINVAL);
	assert_int_equal(vc_dma_map(fd, 0, 0, 0x100000, 0x1000, m), EINVAL);
	assert_int_equal(vc_dma_map(fd, 7, 0, 0x100000, 0x1000, m), EINVAL);
	assert_int_equal(vc_dma_map(fd, 3, 0x1000, 0x100000, 0x1000, -1), EINVAL);
	assert_int_equal(vc_dma_map(fd, 3, 0xff000, 0x100000, 0x2000, m), EINVAL);
	vc_put32(p, 32);
	vc_put32(p + 4, 3);
	vc_put64(p + 8, 0);
	vc_put64(p + 16, 0x100000);
	vc_put64(p + 24, 0x1000);
	assert_int_equal(vc_call_err(fd, C_DMA_MAP, p, 32, (int[2]){m, m}, 2), EINVAL);
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0x1000, pp[0]), EINVAL);
	close(pp[0]);
	close(pp[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0x1000, ro), EACCES);
	assert_int_equal(vc_dma_map(fd, 1, 0, 0x100000, 0x1000, ro), 0); /* table was empty */
	close(ro);
	assert_int_equal(fx_count_fds(), n + 1); /* only the accepted mapping's copy */
	close(m);
	close(fd);
}

static void test_V77_map_limit_enospc(void **state)
{
	struct fx *f = *state; /* vfio-max-dma-maps = 16 */
	int fd = vc_open(f->path[0]);

	for (uint64_t i = 0; i < 16; i++)
		assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000 + i * 0x2000, 0x1000, -1), 0);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x900000, 0x1000, -1), ENOSPC);
	assert_int_equal(vc_dma_unmap(fd, 0, 0x100000, 0x1000), 0);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x900000, 0x1000, -1), 0);
	close(fd);
}

static void test_V78_unmap_rules(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t p[24];
	struct vc_reply r;

	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0x2000, -1), 0);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x102000, 0x2000, -1), 0);
	vc_put32(p, 24);
	vc_put32(p + 4, 0);
	vc_put64(p + 8, 0x100000);
	vc_put64(p + 16, 0x2000);
	assert_int_equal(vc_call(fd, C_DMA_UNMAP, p, 24, NULL, 0, &r), 0);
	assert_int_equal(r.flags, 1);
	assert_int_equal(r.len, 24);
	assert_memory_equal(r.payload, p, 24);
	vc_reply_free(&r);
	assert_int_equal(vc_dma_unmap(fd, 0, 0x100000, 0x2000), ENOENT);
	assert_int_equal(vc_dma_unmap(fd, 0, 0x102000, 0x1000), ENOENT);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0x2000, -1), 0);
	assert_int_equal(vc_dma_unmap(fd, 0, 0x100000, 0x4000), ENOENT);
	assert_int_equal(vc_dma_unmap(fd, 2, 0, 1), EINVAL);
	assert_int_equal(vc_dma_unmap(fd, 1, 0, 0), ENOTSUP);
	assert_int_equal(vc_dma_unmap(fd, 4, 0, 0), EINVAL);
	assert_int_equal(vc_dma_unmap(fd, 2, 0, 0), 0);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0x4000, -1), 0); /* table empty */
	close(fd);
}

static void test_V79_driver_dma_through_fd(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int m = memfd(1 << 20);
	struct umdev_mdev *mdev = fx_mdev(f, 0);
	uint8_t in[16], out[16];

	for (int i = 0; i < 16; i++)
		in[i] = (uint8_t)(i * 7);
	assert_int_equal(vc_dma_map(fd, 3, 0x1000, 0x100000, 0x1000, m), 0);
	assert_int_equal(vc_dma_map(fd, 1, 0x2000, 0x101000, 0x1000, m), 0);
	assert_int_equal(pwrite(m, in, 16, 0x1ff8), 16); /* spans both mappings */
	assert_int_equal(umdev_dma_read(mdev, 0x100ff8, out, 16), 0);
	assert_memory_equal(in, out, 16);
	assert_int_equal(umdev_dma_write(mdev, 0x100000, in, 16), 0);
	assert_int_equal(pread(m, out, 16, 0x1000), 16);
	assert_memory_equal(in, out, 16);
	assert_int_equal(umdev_dma_write(mdev, 0x101000, in, 16), -EPERM);
	assert_int_equal(umdev_dma_read(mdev, 0x102000, out, 1), -EFAULT);
	assert_int_equal(umdev_dma_read(mdev, 0x101ff8, out, 16), -EFAULT);
	assert_int_equal(vc_dma_unmap(fd, 0, 0x101000, 0x1000), 0);
	assert_int_equal(umdev_dma_read(mdev, 0x101000, out, 16), -EFAULT);
	assert_int_equal(ftruncate(m, 0), 0);
	assert_int_equal(umdev_dma_read(mdev, 0x100000, out, 16), -EFAULT);
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	assert_int_equal(vdrv_find(&f->u[0])->maps, 2);
	assert_int_equal(vdrv_find(&f->u[0])->unmaps, 1);
	close(m);
	close(fd);
}

static void test_V83_message_dma_in_callback_edeadlk(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	uint8_t one = 1;

	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0x1000, -1), 0); /* no fd */
	assert_int_equal(vc_region_write(fd, 0, 7, &one, 1), 0);
	assert_int_equal(vdrv_find(&f->u[0])->cb_dma_ret, -EDEADLK);
	close(fd);
}

/* ---- concurrency ---- */

struct reader {
	const char *path;
	int errors;
	uint8_t mark;
};

static void *reader_thread(void *arg)
{
	struct reader *rd = arg;
	int fd = vc_open(rd->path);

	if (fd < 0 || vc_cfg_write(fd, 0x0c, 1, rd->mark) != 0) {
		rd->errors++;
		return NULL;
	}
	for (int i = 0; i < 10000; i++) {
		uint8_t p[16];
		struct vc_reply r = {0};
		uint16_t id = (uint16_t)i;

		vc_put64(p, 0x0c);
		vc_put32(p + 8, 7);
		vc_put32(p + 12, 1);
		if (vc_send(fd, id, C_REGION_READ, 0, p, 16, NULL, 0) != 0 ||
		    vc_recv(fd, &r, 5000) != 0 || r.msg_id != id || r.payload[16] != rd->mark)
			rd->errors++;
		vc_reply_free(&r);
	}
	close(fd);
	return NULL;
}

static void test_V81_two_devices_concurrently(void **state)
{
	struct fx *f = *state;
	struct reader rd[2] = {{f->path[0], 0, 0x11}, {f->path[1], 0, 0x22}};
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader_thread, &rd[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(rd[0].errors, 0);
	assert_int_equal(rd[1].errors, 0);
}

static void test_V80_flooded_device_does_not_stall_other(void **state)
{
	struct fx *f = *state;
	int a = vc_open(f->path[0]);
	int b = vc_open(f->path[1]);
	uint8_t p[17] = {0};
	int sent = 0;

	/* flood vfio0 with posted-less writes and never read the replies */
	vc_put32(p + 8, 0);
	vc_put32(p + 12, 1);
	for (;;) {
		uint8_t m[33];
		struct pollfd pf = {.fd = a, .events = POLLOUT};

		vc_put16(m, 1);
		vc_put16(m + 2, C_REGION_WRITE);
		vc_put32(m + 4, 33);
		vc_put32(m + 8, 0);
		vc_put32(m + 12, 0);
		memcpy(m + 16, p, 17);
		if (poll(&pf, 1, 500) == 0)
			break; /* send() would block: the server stopped reading (C2) */
		if (send(a, m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			continue;
		sent++;
		assert_true(sent < 10000000);
	}
	for (int i = 0; i < 100; i++) {
		uint64_t t0 = fx_now_ms();

		assert_int_equal(vc_call_err(b, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
		assert_true(fx_now_ms() - t0 < 1000);
	}
	close(a);
	close(b);
	assert_true(fx_fds_settle(f->fds_before));
}

/*
 * Flood with REGION_READs of BAR1 (4 KiB replies) and read nothing until send() would block,
 * i.e. until the server stopped reading (C2). Return: messages sent.
 */
static int flood_reads(int fd)
{
	int sent = 0;

	for (;;) {
		uint8_t m[32] = {0};
		struct pollfd pf = {.fd = fd, .events = POLLOUT};

		vc_put16(m, (uint16_t)sent);
		vc_put16(m + 2, C_REGION_READ);
		vc_put32(m + 4, 32);
		vc_put32(m + 24, 1); /* region 1 */
		vc_put32(m + 28, 4096); /* count */
		if (poll(&pf, 1, 500) == 0)
			return sent;
		if (send(fd, m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(m))
			sent++;
		assert_true(sent < 1000000);
	}
}

static void test_V80_V5_backed_up_client_removal_is_prompt_and_whole(void **state)
{
	struct fx *f = *state;
	int fd = vc_open(f->path[0]);
	int msi = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct umdev_mdev *mdev = fx_mdev(f, 0);
	uint64_t t0, dt;
	int sent, got = 0;

	assert_true(fd >= 0);
	assert_int_equal(vc_set_irqs(fd, 0x24, 1, 0, 1, &msi, 1), 0);
	sent = flood_reads(fd);
	assert_true(sent > 1000); /* more than fits in the socket buffers: the queue holds them */
	assert_int_equal(umdev_msi_notify(mdev, 0), 0); /* C6: interrupts still delivered */
	assert_int_equal(ev_wait(msi, 1000), 1);
	t0 = fx_now_ms();
	assert_int_equal(umdev_mdev_remove(&f->u[0]), 0); /* T_req 0: never waits (§3.3) */
	dt = fx_now_ms() - t0;
	f->live[0] = false;
	assert_true(dt < 1000);
	for (;;) { /* whole replies in order, then EOF: no partial reply (§3.3 step 4) */
		struct vc_reply r;
		int ret = vc_recv(fd, &r, 2000);

		if (ret == -EPIPE && r.msg_size == 0)
			break;
		assert_int_equal(ret, 0);
		assert_int_equal(r.flags, 0x1);
		assert_int_equal(r.msg_id, (uint16_t)got);
		assert_int_equal(r.len, 16 + 4096);
		vc_reply_free(&r);
		got++;
	}
	assert_true(got > 0 && got <= sent);
	close(fd);
	close(msi);
	assert_true(fx_fds_settle(f->fds_before - 1));
}

static int fx_setup_dma(void **state)
{
	return fx_setup_opts(state, &(struct umdev_vfio_options){.dma_timeout_ms = 1000}, false);
}

struct dma_call {
	struct umdev_mdev *mdev;
	bool write;
	uint64_t iova;
	uint8_t buf[64];
	size_t len;
	int ret;
	uint64_t ms;
};

static void *dma_thread(void *arg)
{
	struct dma_call *c = arg;
	uint64_t t0 = fx_now_ms();

	c->ret = c->write ? umdev_dma_write(c->mdev, c->iova, c->buf, c->len)
			  : umdev_dma_read(c->mdev, c->iova, c->buf, c->len);
	c->ms = fx_now_ms() - t0;
	return NULL;
}

/* Receive a DMA request on @fd and check its header and address/count. */
static void dma_expect(int fd, uint16_t command, uint64_t iova, uint64_t count, struct vc_reply *r)
{
	assert_int_equal(vc_recv(fd, r, 2000), 0);
	assert_int_equal(r->command, command);
	assert_int_equal(r->flags, 0); /* a command, reply expected */
	assert_int_equal(r->len, 16 + (command == C_DMA_WRITE ? count : 0));
	assert_int_equal(vc_get64(r->payload), iova);
	assert_int_equal(vc_get64(r->payload + 8), count);
}

/* The DMA_READ reply: address, count, data. */
static void dma_answer(int fd, uint16_t msg_id, uint64_t iova, const uint8_t *data, size_t n)
{
	uint8_t p[16 + 64];

	vc_put64(p, iova);
	vc_put64(p + 8, n);
	memcpy(p + 16, data, n);
	assert_int_equal(vc_send(fd, msg_id, C_DMA_READ, 0x1, p, 16 + n, NULL, 0), 0);
}

static void test_V82_message_dma_on_main_socket(void **state)
{
	struct fx *f = *state; /* vfio-dma-timeout = 1 s */
	struct dma_call c = {.mdev = fx_mdev(f, 0), .iova = 0x100004, .len = 12};
	const uint8_t want[12] = "guest-memory";
	uint8_t err_hdr[16] = {0};
	struct vc_reply r, v;
	pthread_t t;
	int fd = vc_connect(f->path[0]);

	assert_true(fd >= 0); /* the client takes at most 8 bytes per DMA message */
	assert_int_equal(vc_version(fd, 2, "{\"capabilities\":{\"max_data_xfer_size\":8}}", &v), 0);
	vc_reply_free(&v);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0x1000, -1), 0); /* no fd */

	/* a read from a driver thread: split at 8 bytes, REGION_READ answered meanwhile */
	assert_int_equal(pthread_create(&t, NULL, dma_thread, &c), 0);
	dma_expect(fd, C_DMA_READ, 0x100004, 8, &r);
	assert_int_equal(vc_cfg_read(fd, 0, 2), 0x1234); /* the server still serves commands */
	dma_answer(fd, r.msg_id, 0x100004, want, 8);
	vc_reply_free(&r);
	dma_expect(fd, C_DMA_READ, 0x10000c, 4, &r);
	dma_answer(fd, r.msg_id, 0x10000c, want + 8, 4);
	vc_reply_free(&r);
	pthread_join(t, NULL);
	assert_int_equal(c.ret, 0);
	assert_memory_equal(c.buf, want, 12);

	/* an error reply: the client's errno */
	c.len = 4;
	assert_int_equal(pthread_create(&t, NULL, dma_thread, &c), 0);
	dma_expect(fd, C_DMA_READ, 0x100004, 4, &r);
	vc_put16(err_hdr, r.msg_id);
	vc_put16(err_hdr + 2, C_DMA_READ);
	vc_put32(err_hdr + 4, 16);
	vc_put32(err_hdr + 8, 0x21);
	vc_put32(err_hdr + 12, EFAULT);
	assert_int_equal(vc_send_raw(fd, err_hdr, 16, NULL, 0), 0);
	vc_reply_free(&r);
	pthread_join(t, NULL);
	assert_int_equal(c.ret, -EFAULT);

	/* a reply with another count: EIO */
	assert_int_equal(pthread_create(&t, NULL, dma_thread, &c), 0);
	dma_expect(fd, C_DMA_READ, 0x100004, 4, &r);
	dma_answer(fd, r.msg_id, 0x100004, want, 3);
	vc_reply_free(&r);
	pthread_join(t, NULL);
	assert_int_equal(c.ret, -EIO);

	/* DMA_WRITE: data in the request; a reply with a 4-byte count is accepted */
	c.write = true;
	memcpy(c.buf, "abcd", 4);
	assert_int_equal(pthread_create(&t, NULL, dma_thread, &c), 0);
	dma_expect(fd, C_DMA_WRITE, 0x100004, 4, &r);
	assert_memory_equal(r.payload + 16, "abcd", 4);
	{
		uint8_t p[12];

		vc_put64(p, 0x100004);
		vc_put32(p + 8, 4);
		assert_int_equal(vc_send(fd, r.msg_id, C_DMA_WRITE, 0x1, p, 12, NULL, 0), 0);
	}
	vc_reply_free(&r);
	pthread_join(t, NULL);
	assert_int_equal(c.ret, 0);

	/* no reply: -ETIMEDOUT after T_dma; a late reply is discarded */
	c.write = false;
	assert_int_equal(pthread_create(&t, NULL, dma_thread, &c), 0);
	dma_expect(fd, C_DMA_READ, 0x100004, 4, &r);
	pthread_join(t, NULL);
	assert_int_equal(c.ret, -ETIMEDOUT);
	assert_true(c.ms >= 1000 && c.ms < 5000);
	dma_answer(fd, r.msg_id, 0x100004, want, 4);
	vc_reply_free(&r);
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);

	/* the session ends while a transfer waits: -ENOTCONN at once (§4.4 step 1) */
	assert_int_equal(pthread_create(&t, NULL, dma_thread, &c), 0);
	dma_expect(fd, C_DMA_READ, 0x100004, 4, &r);
	vc_reply_free(&r);
	close(fd);
	pthread_join(t, NULL);
	assert_int_equal(c.ret, -ENOTCONN);
	assert_true(c.ms < 1000);
}

#define TWIN_CAPS "{\"capabilities\":{\"max_msg_fds\":1,\"twin_socket\":{\"supported\":true}}}"

static void test_V40_twin_socket_negotiation(void **state)
{
	struct fx *f = *state;
	int fd = vc_connect(f->path[0]), type = 0, domain = 0;
	socklen_t len = sizeof(int);
	struct sockaddr_un peer;
	socklen_t plen = sizeof(peer);
	struct vc_reply r;

	assert_int_equal(vc_version(fd, 2, TWIN_CAPS, &r), 0);
	assert_non_null(
	    strstr((char *)r.payload + 4, "\"twin_socket\":{\"supported\":true,\"fd_index\":0}"));
	assert_int_equal(r.nr_fds, 1);
	assert_int_equal(getsockopt(r.fds[0], SOL_SOCKET, SO_TYPE, &type, &len), 0);
	assert_int_equal(getsockopt(r.fds[0], SOL_SOCKET, SO_DOMAIN, &domain, &len), 0);
	assert_int_equal(type, SOCK_STREAM);
	assert_int_equal(domain, AF_UNIX);
	assert_int_equal(getpeername(r.fds[0], (struct sockaddr *)&peer, &plen), 0); /* connected */
	vc_reply_free(&r);
	close(fd);
	assert_true(fx_fds_settle(f->fds_before)); /* the server's end closed at teardown (§4.4) */

	fd = vc_connect(f->path[0]); /* max_msg_fds 0: no twin socket */
	assert_int_equal(vc_version(fd, 2,
				    "{\"capabilities\":{\"max_msg_fds\":0,"
				    "\"twin_socket\":{\"supported\":true}}}",
				    &r),
			 0);
	assert_null(strstr((char *)r.payload + 4, "twin_socket"));
	assert_int_equal(r.nr_fds, 0);
	vc_reply_free(&r);
	close(fd);
}

static void test_V84_dma_on_twin_socket_only(void **state)
{
	struct fx *f = *state;
	struct dma_call c = {.mdev = fx_mdev(f, 0), .iova = 0x100000, .len = 4};
	int fd = vc_connect(f->path[0]), twin;
	struct vc_reply r, extra;
	pthread_t t;

	assert_int_equal(vc_version(fd, 2, TWIN_CAPS, &r), 0);
	assert_int_equal(r.nr_fds, 1);
	twin = r.fds[0];
	r.nr_fds = 0;
	vc_reply_free(&r);
	assert_int_equal(vc_dma_map(fd, 3, 0, 0x100000, 0x1000, -1), 0);
	assert_int_equal(pthread_create(&t, NULL, dma_thread, &c), 0);
	dma_expect(twin, C_DMA_READ, 0x100000, 4, &r);
	assert_int_equal(vc_recv(fd, &extra, 200), -ETIMEDOUT); /* nothing on the main socket */
	vc_reply_free(&extra);
	dma_answer(fd, r.msg_id, 0x100000, (const uint8_t *)"main", 4); /* ignored there */
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	dma_answer(twin, r.msg_id, 0x100000, (const uint8_t *)"twin", 4);
	vc_reply_free(&r);
	pthread_join(t, NULL);
	assert_int_equal(c.ret, 0);
	assert_memory_equal(c.buf, "twin", 4);
	close(twin);
	close(fd);
}

static int fx_setup_group(void **state)
{
	static char group[16];

	snprintf(group, sizeof(group), "%u", (unsigned int)getegid());
	return fx_setup_opts(state, &(struct umdev_vfio_options){.socket_group = group}, false);
}

static void test_V6_socket_group_mode_0660(void **state)
{
	struct fx *f = *state;
	struct stat st;
	int fd;

	assert_int_equal(stat(f->path[0], &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, getegid());
	fd = vc_open(f->path[0]);
	assert_true(fd >= 0);
	close(fd);
}

struct logcap {
	pthread_mutex_t lock;
	char text[4096];
};

static void logcap_sink(void *opaque, enum umdev_log_level level, const char *msg)
{
	struct logcap *c = opaque;
	size_t n;

	(void)level;
	pthread_mutex_lock(&c->lock);
	n = strlen(c->text);
	snprintf(c->text + n, sizeof(c->text) - n, "%s\n", msg);
	pthread_mutex_unlock(&c->lock);
}

static bool logcap_has(struct logcap *c, const char *needle)
{
	bool found = false;

	for (int i = 0; i < 200 && !found; i++) {
		pthread_mutex_lock(&c->lock);
		found = strstr(c->text, needle) != NULL;
		pthread_mutex_unlock(&c->lock);
		if (!found)
			usleep(5000);
	}
	return found;
}

/*
 * The V-7 child, as uid/gid 65534: connect, send VERSION, then expect to receive nothing.
 * Exit 0: no byte came back (EOF, possibly after ECONNRESET when the server closed with our
 * request unread); 10+: setup failed; 20: connect failed; 30: a byte was received; 40: no EOF.
 */
static int v7_child(const char *path)
{
	static const char json[] = "{\"capabilities\": {\"max_msg_fds\": 16}}";
	uint8_t m[16 + 4 + sizeof(json)] = {1, 0, C_VERSION, 0};
	struct pollfd p;
	char b[64];
	int fd;

	if (setgroups(0, NULL) < 0 || setgid(65534) < 0)
		return 10;
	if (setuid(65534) < 0 || getuid() != 65534)
		return 11;
	fd = vc_connect(path);
	if (fd < 0)
		return 20;
	vc_put32(m + 4, sizeof(m));
	memcpy(m + 20, json, sizeof(json)); /* VERSION 0.0 */
	(void)!send(fd, m, sizeof(m), MSG_NOSIGNAL); /* EPIPE if already closed: fine */
	for (;;) {
		ssize_t n;

		p = (struct pollfd){.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 3000) <= 0)
			return 40;
		n = recv(fd, b, sizeof(b), 0);
		if (n == 0)
			return 0;
		if (n > 0)
			return 30;
		if (errno != ECONNRESET && errno != EINTR)
			return 41;
	}
}

static void test_V7_foreign_uid_closed_without_a_byte(void **state)
{
	struct fx *f = *state;
	struct logcap cap = {.lock = PTHREAD_MUTEX_INITIALIZER};
	char dir[160], needle[64];
	int status, fd;
	bool logged;
	pid_t pid;

	if (geteuid() != 0)
		skip(); /* needs to become another uid */
	/*
	 * The socket's 0600 mode (V-1) is the primary control: as uid 65534 connect() would fail
	 * with EACCES before the server sees anything. To reach the SO_PEERCRED check of §3.4
	 * (defence in depth) the test relaxes the mode to 0666 and lets others traverse the
	 * directories above it (mkdtemp made the rundir 0700).
	 */
	assert_int_equal(chmod(f->path[0], 0666), 0);
	assert_int_equal(chmod(f->rundir, 0711), 0);
	snprintf(dir, sizeof(dir), "%s/vfio", f->rundir);
	assert_int_equal(chmod(dir, 0711), 0);
	snprintf(dir, sizeof(dir), "%s/vfio/devices", f->rundir);
	assert_int_equal(chmod(dir, 0711), 0);
	umdev_log_set_sink(logcap_sink, &cap, UMDEV_LOG_DEBUG);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(v7_child(f->path[0]));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	snprintf(needle, sizeof(needle), "pid %d uid 65534", (int)pid);
	logged = logcap_has(&cap, needle); /* the server logs the refused peer */
	umdev_log_set_sink(NULL, NULL, UMDEV_LOG_WARNING);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(logged);
	/* the refusal cost nothing: the owner still negotiates */
	fd = vc_open(f->path[0]);
	assert_true(fd >= 0);
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	close(fd);
}

static void test_V14_client_killed_mid_region_write(void **state)
{
	struct fx *f = *state;
	pid_t pid = fork();
	uint64_t t0;
	int fd;

	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t m[16 + 16 + 4] = {1, 0, C_REGION_WRITE, 0, 36};
		int c = vc_open(f->path[0]);

		if (c >= 0)
			(void)!write(c, m, 20); /* header and part of the body */
		pause();
		_exit(0);
	}
	usleep(100000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	t0 = fx_now_ms();
	for (fd = -EBUSY; fd < 0 && fx_now_ms() - t0 < 1000; usleep(10000))
		fd = vc_open(f->path[0]);
	assert_true(fd >= 0);
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	close(fd);
}

/* Drain whatever replies are already there, without waiting. */
static void drain(int fd)
{
	char b[8192];

	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

static void test_V85_random_messages(void **state)
{
	struct fx *f = *state;
	unsigned int seed = 20260601;
	int fd = vc_open(f->path[0]);
	static uint8_t m[16 + 4096];

	for (int i = 0; i < 100000; i++) {
		uint32_t len = (uint32_t)rand_r(&seed) % 4097;
		int ev[3];
		unsigned int nr = (unsigned int)rand_r(&seed) % 4;

		if (rand_r(&seed) % 4) /* mostly short payloads, as real commands */
			len %= 48;
		for (uint32_t j = 0; j < 16 + len; j++)
			m[j] = (uint8_t)rand_r(&seed);
		m[2] = (uint8_t)(rand_r(&seed) % 20); /* command */
		m[3] = 0;
		vc_put32(m + 4, 16 + len);
		m[8] &= 0x3f;
		if (rand_r(&seed) % 2)
			m[8] &= 0x30; /* type 0 half of the time */
		for (unsigned int j = 0; j < nr; j++)
			ev[j] = eventfd(0, EFD_CLOEXEC);
		if (fd < 0 || vc_send_raw(fd, m, 16 + len, ev, nr) < 0) {
			if (fd >= 0)
				close(fd);
			fd = vc_open(f->path[0]); /* reconnect */
		}
		for (unsigned int j = 0; j < nr; j++)
			close(ev[j]);
		if (fd >= 0)
			drain(fd);
		if (i % 5000 == 4999 && fd >= 0) {
			close(fd);
			fd = vc_open(f->path[0]);
		}
	}
	if (fd >= 0) {
		/*
		 * A round trip first: replies come in order, so once it is answered the server has
		 * read every message before it, and what is left after the close is the teardown
		 * alone (under valgrind, a backlog of random messages can take seconds).
		 */
		struct vc_reply r;

		if (vc_call(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0, &r) == 0)
			vc_reply_free(&r);
		close(fd);
	}
	assert_true(fx_fds_settle(f->fds_before));
	fd = vc_open(f->path[0]);
	assert_true(fd >= 0);
	assert_int_equal(vc_call_err(fd, C_GET_INFO, (uint8_t[16]){16}, 16, NULL, 0), 0);
	close(fd);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_V1_socket_0600_owned_by_euid),
	    T(test_V1_pci_model_without_vfio_ops_is_einval),
	    T(test_V1_C1_idle_devices_have_no_thread),
	    T(test_V3_V5_removal_racing_connections),
	    T(test_V2_lowest_free_number_is_reused),
	    T(test_V3_remove_unlinks_socket_then_enoent),
	    cmocka_unit_test_setup_teardown(test_V4_req_signalled_and_client_close_ends_removal,
					    fx_setup_req, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_V5_uncooperative_client_waits_t_req, fx_setup_req,
					    fx_teardown),
	    T(test_V5_default_removal_does_not_wait_and_client_reads_eof),
	    T(test_M61_unregister_ends_session_before_remove_without_waiting),
	    cmocka_unit_test_setup_teardown(test_V6_socket_group_mode_0660, fx_setup_group,
					    fx_teardown),
	    T(test_V7_foreign_uid_closed_without_a_byte),
	    T(test_V8_stale_file_replaced),
	    T(test_V9_second_client_gets_ebusy_then_eof),
	    T(test_V10_silent_client_dropped_after_handshake_timeout),
	    T(test_V11_teardown_closes_every_fd),
	    T(test_V12_disconnect_resets_command_register),
	    T(test_V13_200_cycles_leak_nothing),
	    T(test_V14_client_killed_mid_region_write),
	    T(test_V15_get_info_reply_header),
	    T(test_V16_V20_unknown_commands_enosys),
	    T(test_V17_posted_write_then_read),
	    T(test_V18_posted_invalid_no_reply_stays_usable),
	    T(test_V19_pipelined_same_msg_id_in_order),
	    T(test_V19_messages_read_together_all_answered),
	    T(test_V21_type2_einval_unsolicited_reply_ignored),
	    T(test_V22_reserved_flags_and_error_field_ignored),
	    T(test_V23_msg_size_8_einval_then_eof),
	    T(test_V24_msg_too_big_e2big_without_body),
	    T(test_V25_byte_at_a_time),
	    T(test_V26_partial_header_then_close),
	    T(test_V27_stalled_message_does_not_block_other_device),
	    T(test_V28_get_info_with_8_byte_payload),
	    T(test_V29_fd_on_get_info_closed),
	    T(test_V30_nine_eventfds_rejected_and_closed),
	    T(test_V31_fd_attached_to_payload),
	    T(test_V31_fd_of_the_next_message_read_together),
	    T(test_V32_qemu_proposal),
	    T(test_V33_minor2_two_keys),
	    T(test_V34_minor7_and_no_json),
	    T(test_V35_major1_fatal),
	    T(test_V36_bad_json_fatal),
	    T(test_V36_nul_padding_after_json_accepted),
	    T(test_V37_short_payload_and_fd_fatal),
	    T(test_V38_first_message_not_version),
	    T(test_V39_second_version_einval_session_continues),
	    T(test_V41_unknown_keys_not_echoed),
	    T(test_V42_get_info),
	    T(test_V43_V44_region_info),
	    T(test_V45_region_info_errors),
	    T(test_V46_region_info_sparse_mmap_caps_and_fd),
	    T(test_V47_region_io_fds),
	    T(test_V48_irq_info),
	    T(test_V49_intx_signals_once_then_automasked),
	    T(test_V50_unmask_resignals_when_level_high),
	    T(test_V51_unmask_eventfd),
	    T(test_V52_intx_disable_bit),
	    T(test_V53_disable_index_drops_both_eventfds),
	    T(test_V54_eventfd_without_fds_deassigns_none_loops_back),
	    T(test_V55_bool_trigger),
	    T(test_V56_invalid_set_irqs_change_nothing),
	    T(test_V57_V58_non_eventfd_and_fd_with_data_none),
	    T(test_V59_one_interrupt_mode_at_a_time),
	    T(test_V60_unsupported_actions),
	    T(test_V61_msi_notify_ignores_enable_bit),
	    T(test_V49_V54_V61_irq_signal_count),
	    T(test_V53_V54_V55_set_irqs_callback_says_what_changed),
	    T(test_V62_full_config_read),
	    T(test_V63_V64_V65_access_bounds),
	    T(test_V66_V67_V69_config_masks),
	    T(test_V68_status_rw1c),
	    T(test_V70_msi_control),
	    T(test_V71_write_multi),
	    T(test_V72_V73_reset),
	    T(test_V74_device_feature_and_migration),
	    T(test_V75_overlap_is_eexist),
	    T(test_V76_invalid_maps_close_fd),
	    T(test_V77_map_limit_enospc),
	    T(test_V78_unmap_rules),
	    T(test_V79_driver_dma_through_fd),
	    T(test_V83_message_dma_in_callback_edeadlk),
	    T(test_V81_two_devices_concurrently),
	    T(test_V80_flooded_device_does_not_stall_other),
	    T(test_V80_V5_backed_up_client_removal_is_prompt_and_whole),
	    cmocka_unit_test_setup_teardown(test_V82_message_dma_on_main_socket, fx_setup_dma,
					    fx_teardown),
	    T(test_V40_twin_socket_negotiation),
	    T(test_V84_dma_on_twin_socket_only),
	    T(test_V85_random_messages),
	};

	umdev_log_set_sink(NULL, NULL, UMDEV_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   V-1, V-2, V-3, V-4, V-5, V-6, V-7, V-8, V-9, V-10, V-11, V-12, V-13, V-14, V-15, V-16,
 *   V-17, V-18, V-19, V-20, V-21, V-22, V-23, V-24, V-25, V-26, V-27, V-28, V-29, V-30,
 *   V-31, V-32, V-33, V-34, V-35, V-36, V-37, V-38, V-39, V-40, V-41, V-42, V-43, V-44,
 *   V-45, V-47, V-48, V-49, V-50, V-51, V-52, V-53, V-54, V-55, V-56, V-57, V-58, V-59,
 *   V-60, V-61, V-62, V-63, V-64, V-65, V-66, V-67, V-68, V-69, V-70, V-71, V-72, V-73,
 *   V-74, V-75, V-76, V-77, V-78, V-79, V-80, V-81, V-82, V-83, V-84, V-85; M-61 (mdev.md)
 */
