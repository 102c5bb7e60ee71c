// SPDX-License-Identifier: MIT
/*
 * The mtty device (src/drivers/mtty/device.c, pty.c) in-process: the real mtty driver and
 * parent over the real core and vfio-user server on a temporary rundir, driven over the
 * device's socket with the test client of tests/vfio/vclient.h (byte layouts written from
 * vfio-user.md, not from the server's headers), and its `mtty/` attributes through their
 * show/store callbacks. Tests are named after the checklist items of mtty.md §11.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <cmocka.h>

#include "device.h"
#include "hooks.h"
#include "mtty.h"
#include "threads.h"
#include "vclient.h"
#include "vfio.h"

/* UART offsets (<linux/serial_reg.h>) */
enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4 };
enum { LSR = 5, MSR = 6, SCR = 7 };
#define CONFIG 7
/* SET_IRQS flags */
#define DATA_NONE 0x1
#define DATA_EVENTFD 0x4
#define ACTION_MASK 0x8
#define ACTION_UNMASK 0x10
#define ACTION_TRIGGER 0x20

struct fx {
	char rundir[64];
	struct mtty_parent *parent;
	struct umdev__type *types[2]; /* mtty-1, mtty-2 */
	uuid_t u;
	struct umdev_mdev *mdev; /* with a reference, dropped in teardown */
	char uuid_str[UUID_STR_LEN];
	int fd; /* client; -1 none */
};

static int find_parent(struct umdev_parent *parent, void *arg)
{
	struct umdev__parent **ret = arg;

	*ret = parent->core;
	return 1;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct umdev__parent *p = NULL;
	int ret;

	strcpy(f->rundir, "/tmp/umdev-mtty-XXXXXX");
	f->fd = -1;
	if (!mkdtemp(f->rundir))
		return -1;
	if (umdev_vfio_init(&(struct umdev_vfio_options){.rundir = f->rundir}) < 0)
		return -1;
	if (mtty_set_rundir(f->rundir) < 0 || mtty_set_default_backend("pty") < 0)
		return -1;
	if (mtty_register_driver() < 0)
		return -1;
	f->parent = mtty_parent_add("mtty", &ret);
	if (!f->parent)
		return -1;
	umdev__core_for_each_parent(find_parent, &p);
	f->types[0] = umdev__parent_type(p, 0);
	f->types[1] = umdev__parent_type(p, 1);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	if (f->fd >= 0)
		close(f->fd);
	umdev_mdev_put(f->mdev);
	mtty_parent_remove(f->parent);
	mtty_unregister_driver();
	umdev_vfio_fini();
	umdev__core_reset();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->rundir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static const struct umdev_attr *attr_find(struct umdev_mdev *mdev, const char *name)
{
	const struct umdev_attr_group *const *g = umdev__mdev_dev_groups(mdev);

	for (; *g; g++) {
		if (!(*g)->name || strcmp((*g)->name, "mtty"))
			continue;
		for (size_t i = 0; (*g)->attrs[i]; i++)
			if (!strcmp((*g)->attrs[i]->name, name))
				return (*g)->attrs[i];
	}
	return NULL;
}

/* The text of mtty/@name; a static buffer. */
static const char *attr_show(struct fx *f, const char *name)
{
	static char buf[UMDEV_ATTR_BUF_SIZE];
	const struct umdev_attr *a = attr_find(f->mdev, name);
	ssize_t n;

	assert_non_null(a);
	n = a->show(f->mdev, buf, sizeof(buf));
	assert_true(n >= 0 && (size_t)n < sizeof(buf));
	buf[n] = '\0';
	return buf;
}

static ssize_t attr_store(struct fx *f, const char *name, const char *text)
{
	const struct umdev_attr *a = attr_find(f->mdev, name);

	assert_non_null(a);
	return a->store(f->mdev, text, strlen(text));
}

static uint64_t stat_get(struct fx *f, const char *key)
{
	const char *s = attr_show(f, "stats");
	size_t kl = strlen(key);

	for (const char *l = s; *l; l = strchr(l, '\n') + 1) {
		if (!strncmp(l, key, kl) && l[kl] == ' ')
			return strtoull(l + kl + 1, NULL, 10);
		if (!strchr(l, '\n'))
			break;
	}
	fail_msg("no stats key %s", key);
	return 0;
}

/* Create a device of @nr_ports ports in @backend mode and connect a negotiated client. */
static void fx_create(struct fx *f, unsigned int nr_ports, const char *backend)
{
	char path[128];

	uuid_generate(f->u);
	uuid_unparse_lower(f->u, f->uuid_str);
	assert_int_equal(umdev__type_create(f->types[nr_ports - 1], &f->u), 0);
	f->mdev = umdev_mdev_get(&f->u); /* put in fx_teardown() */
	assert_non_null(f->mdev);
	if (backend)
		assert_int_equal(attr_store(f, "backend", backend), (ssize_t)strlen(backend));
	snprintf(path, sizeof(path), "%s/vfio/devices/vfio%u", f->rundir,
		 umdev_mdev_vfio_index(f->mdev));
	f->fd = vc_open(path);
	assert_true(f->fd >= 0);
}

static uint8_t reg(struct fx *f, unsigned int port, unsigned int off)
{
	uint8_t v = 0xEE;

	assert_int_equal(vc_region_read(f->fd, port, off, 1, &v), 0);
	return v;
}

static void set_reg(struct fx *f, unsigned int port, unsigned int off, uint8_t v)
{
	assert_int_equal(vc_region_write(f->fd, port, off, &v, 1), 0);
}

static uint32_t cfg(struct fx *f, unsigned int off, unsigned int size)
{
	return vc_cfg_read(f->fd, off, size);
}

static void cfg_write(struct fx *f, unsigned int off, unsigned int size, uint32_t v)
{
	assert_int_equal(vc_cfg_write(f->fd, off, size, v), 0);
}

static uint64_t ev_wait(int efd, int timeout_ms)
{
	struct pollfd p = {.fd = efd, .events = POLLIN};
	uint64_t v = 0;

	if (poll(&p, 1, timeout_ms) == 1 && read(efd, &v, sizeof(v)) == sizeof(v))
		return v;
	return 0;
}

static int install(struct fx *f, unsigned int index)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(efd >= 0);
	assert_int_equal(vc_set_irqs(f->fd, ACTION_TRIGGER | DATA_EVENTFD, index, 0, 1, &efd, 1),
			 0);
	return efd;
}

static void region_info(struct fx *f, uint32_t index, uint32_t *ret_flags, uint64_t *ret_size,
			int *ret_err)
{
	uint8_t p[32] = {0};
	struct vc_reply r;

	vc_put32(p, 32);
	vc_put32(p + 8, index);
	assert_int_equal(vc_call(f->fd, C_REGION_INFO, p, 32, NULL, 0, &r), 0);
	*ret_err = (r.flags & 0x20) ? (int)r.error : 0;
	if (!*ret_err) {
		*ret_flags = vc_get32(r.payload + 4);
		*ret_size = vc_get64(r.payload + 16);
	}
	vc_reply_free(&r);
}

static int irq_info(struct fx *f, uint32_t index, uint32_t *ret_flags, uint32_t *ret_count)
{
	uint8_t p[16] = {0};
	struct vc_reply r;
	int err;

	vc_put32(p, 16);
	vc_put32(p + 8, index);
	assert_int_equal(vc_call(f->fd, C_IRQ_INFO, p, 16, NULL, 0, &r), 0);
	err = (r.flags & 0x20) ? (int)r.error : 0;
	if (!err) {
		*ret_flags = vc_get32(r.payload + 4);
		*ret_count = vc_get32(r.payload + 12);
	}
	vc_reply_free(&r);
	return err;
}

/* The §6.1 power-on table. */
static void power_on_table(uint8_t t[256], unsigned int nr_ports)
{
	static const uint8_t head[] = {0x48, 0x43, 0x53, 0x32, 0x01, 0x00, 0x10, 0x02,
				       0x10, 0x02, 0x00, 0x07, 0,    0,	   0,	 0};

	memset(t, 0, 256);
	memcpy(t, head, sizeof(head));
	t[0x10] = 1;
	if (nr_ports == 2)
		t[0x14] = 1;
	t[0x2C] = 0x48;
	t[0x2D] = 0x43;
	t[0x2E] = 0x53;
	t[0x2F] = 0x32;
	t[0x34] = 0x50;
	t[0x3D] = 0x01;
	t[0x40] = t[0x44] = t[0x48] = t[0x4C] = 0x23;
	t[0x43] = 0x80;
	t[0x50] = 0x05;
	memcpy(t + 0x60, "PCI Serial/UART", 15);
}

/* ---- device, region and irq info (§6.2) ---- */

static void test_T16_T17_T18_info_mtty2(void **state)
{
	struct fx *f = *state;
	static const uint32_t irq_flags[5] = {0x7, 0x9, 0x1, 0x9, 0x9};
	static const uint32_t irq_count[5] = {1, 1, 0, 0, 1};
	uint8_t p[16] = {16};
	struct vc_reply r;
	uint32_t flags, count;
	uint64_t size;
	int err;

	fx_create(f, 2, NULL);
	assert_int_equal(vc_call(f->fd, C_GET_INFO, p, 16, NULL, 0, &r), 0);
	assert_int_equal(r.flags, 1);
	assert_int_equal(vc_get32(r.payload + 4), 0x3); /* PCI | RESET */
	assert_int_equal(vc_get32(r.payload + 8), 9);
	assert_int_equal(vc_get32(r.payload + 12), 5);
	vc_reply_free(&r);
	for (uint32_t i = 0; i < 9; i++) {
		region_info(f, i, &flags, &size, &err);
		assert_int_equal(err, 0);
		if (i == 0 || i == 1) {
			assert_int_equal(flags, 0x3); /* READ | WRITE, no MMAP */
			assert_int_equal(size, 8);
		} else if (i == CONFIG) {
			assert_int_equal(flags, 0x3);
			assert_int_equal(size, 256);
		} else {
			assert_int_equal(flags, 0);
			assert_int_equal(size, 0);
		}
	}
	region_info(f, 9, &flags, &size, &err);
	assert_int_equal(err, EINVAL);
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(irq_info(f, i, &flags, &count), 0);
		assert_int_equal(flags, irq_flags[i]);
		assert_int_equal(count, irq_count[i]);
	}
	assert_int_equal(irq_info(f, 5, &flags, &count), EINVAL);
}

static void test_T17_T22_T74_mtty1_has_no_bar1(void **state)
{
	struct fx *f = *state;
	uint32_t flags = 1;
	uint64_t size = 1;
	uint8_t b = 0;
	int err;

	fx_create(f, 1, NULL);
	region_info(f, 1, &flags, &size, &err);
	assert_int_equal(err, 0);
	assert_int_equal(flags, 0);
	assert_int_equal(size, 0);
	assert_int_equal(vc_region_read(f->fd, 1, 0, 1, &b), EINVAL);
	assert_int_equal(vc_region_write(f->fd, 1, 0, &b, 1), EINVAL);
	cfg_write(f, 0x14, 4, 0xFFFFFFFF);
	assert_int_equal(cfg(f, 0x14, 4), 0);
}

/* ---- config space (§6.1) ---- */

static void test_T19_T20_power_on_config(void **state)
{
	struct fx *f = *state;
	uint8_t want[256], got[256];

	fx_create(f, 2, NULL);
	power_on_table(want, 2);
	assert_int_equal(vc_region_read(f->fd, CONFIG, 0, 256, got), 0);
	assert_memory_equal(got, want, 256);
	assert_int_equal(cfg(f, 0x00, 4), 0x32534348);
	assert_int_equal(cfg(f, 0x08, 4), 0x07000210);
	assert_int_equal(cfg(f, 0x2C, 4), 0x32534348);
}

static void test_T19_mtty1_power_on_config(void **state)
{
	struct fx *f = *state;
	uint8_t want[256], got[256];

	fx_create(f, 1, NULL);
	power_on_table(want, 1);
	assert_int_equal(vc_region_read(f->fd, CONFIG, 0, 256, got), 0);
	assert_memory_equal(got, want, 256);
}

static void test_T21_T22_T23_bar_and_command_writes(void **state)
{
	struct fx *f = *state;

	fx_create(f, 2, NULL);
	for (unsigned int bar = 0x10; bar <= 0x14; bar += 4) {
		cfg_write(f, bar, 4, 0xFFFFFFFF);
		assert_int_equal(cfg(f, bar, 4), 0xFFFFFFF9);
		cfg_write(f, bar, 4, 0x0000C0F3);
		assert_int_equal(cfg(f, bar, 4), 0x0000C0F1);
	}
	for (unsigned int off = 0x18; off <= 0x30; off += 4) {
		if (off == 0x28 || off == 0x2C)
			continue;
		cfg_write(f, off, 4, 0xFFFFFFFF);
		assert_int_equal(cfg(f, off, 4), 0);
	}
	cfg_write(f, 0x04, 2, 0xFFFF);
	assert_int_equal(cfg(f, 0x04, 2), 0x0401);
	cfg_write(f, 0x04, 2, 0x0000);
	assert_int_equal(cfg(f, 0x04, 2), 0x0000);
	cfg_write(f, 0x06, 2, 0xFFFF);
	assert_int_equal(cfg(f, 0x06, 2), 0x0210);
}

static void test_T24_T25_T26_T27_T28_more_config(void **state)
{
	struct fx *f = *state;
	uint8_t want[256], got[256], b[8];

	fx_create(f, 2, NULL);
	power_on_table(want, 2);
	cfg_write(f, 0x3C, 1, 0x0B);
	assert_int_equal(cfg(f, 0x3C, 1), 0x0B);
	cfg_write(f, 0x3D, 1, 0x05);
	assert_int_equal(cfg(f, 0x3D, 1), 0x01);
	cfg_write(f, 0x00, 4, 0);
	cfg_write(f, 0x08, 4, 0);
	cfg_write(f, 0x60, 4, 0);
	cfg_write(f, 0x0C, 4, 0xFFFFFFFF); /* cache line .. BIST read-only 0 */
	assert_int_equal(cfg(f, 0x0C, 4), 0);
	assert_int_equal(cfg(f, 0x00, 4), 0x32534348);
	assert_int_equal(cfg(f, 0x08, 4), 0x07000210);
	assert_int_equal(vc_region_read(f->fd, CONFIG, 0x60, 15, got), 0);
	assert_memory_equal(got, "PCI Serial/UART", 15);
	/* T-25 */
	assert_int_equal(cfg(f, 0x34, 1), 0x50);
	assert_int_equal(cfg(f, 0x50, 2), 0x0005);
	cfg_write(f, 0x52, 2, 0xFFFF);
	assert_int_equal(cfg(f, 0x52, 2), 0x0001);
	cfg_write(f, 0x54, 4, 0xFFFFFFFF);
	assert_int_equal(cfg(f, 0x54, 4), 0xFFFFFFFC);
	cfg_write(f, 0x58, 2, 0xFFFF);
	assert_int_equal(cfg(f, 0x58, 2), 0xFFFF);
	/* T-26 */
	assert_int_equal(cfg(f, 0x40, 1), 0x23);
	assert_int_equal(cfg(f, 0x43, 1), 0x80);
	assert_int_equal(cfg(f, 0x44, 1), 0x23);
	assert_int_equal(cfg(f, 0x48, 1), 0x23);
	assert_int_equal(cfg(f, 0x4C, 1), 0x23);
	/* T-27: four 1-byte writes equal one 4-byte write */
	for (unsigned int i = 0; i < 4; i++)
		cfg_write(f, 0x10 + i, 1, (0x0000C0F3u >> (8 * i)) & 0xFF);
	assert_int_equal(cfg(f, 0x10, 4), 0x0000C0F1);
	/* T-28 */
	assert_int_equal(vc_region_read(f->fd, CONFIG, 250, 8, b), EINVAL);
	assert_int_equal(vc_region_read(f->fd, CONFIG, 0, 0, b), 0);
	/* T-69: reset restores the table */
	assert_int_equal(vc_call_err(f->fd, C_RESET, NULL, 0, NULL, 0), 0);
	assert_int_equal(vc_region_read(f->fd, CONFIG, 0, 256, got), 0);
	assert_memory_equal(got, want, 256);
}

/* ---- registers, FIFOs (loopback backend) ---- */

static void test_T29_T73_T74_power_on_registers_and_widths(void **state)
{
	struct fx *f = *state;
	static const uint8_t want[8] = {0, 0x00, 0x01, 0x00, 0x00, 0x60, 0xB0, 0x00};
	uint8_t b[4] = {0};

	fx_create(f, 2, "loopback");
	for (unsigned int port = 0; port < 2; port++)
		for (unsigned int off = 1; off < 8; off++)
			assert_int_equal(reg(f, port, off), want[off]);
	set_reg(f, 0, FCR, 0x01);
	set_reg(f, 0, THR, 'x');
	assert_int_equal(vc_region_read(f->fd, 0, 0, 2, b), EINVAL);
	assert_int_equal(vc_region_read(f->fd, 0, 0, 4, b), EINVAL);
	assert_int_equal(vc_region_write(f->fd, 0, 0, b, 2), EINVAL);
	assert_int_equal(vc_region_read(f->fd, 0, 8, 1, b), EINVAL);
	assert_int_equal(reg(f, 0, LSR), 0x61); /* unchanged: the byte is still there */
	assert_int_equal(reg(f, 0, RBR), 'x');
}

static void test_T36_T37_T38_fifo_and_overrun(void **state)
{
	struct fx *f = *state;

	fx_create(f, 1, "loopback");
	set_reg(f, 0, FCR, 0x07);
	for (int i = 0; i < 17; i++)
		set_reg(f, 0, THR, (uint8_t)('a' + i));
	assert_int_equal(reg(f, 0, LSR), 0x63);
	assert_int_equal(stat_get(f, "port0_rx_overruns"), 1);
	for (int i = 0; i < 16; i++)
		assert_int_equal(reg(f, 0, RBR), 'a' + i);
	assert_int_equal(reg(f, 0, LSR), 0x60);
	/* T-38: FIFOs off, a holding register */
	set_reg(f, 0, FCR, 0x00);
	set_reg(f, 0, THR, 'A');
	set_reg(f, 0, THR, 'B');
	assert_int_equal(stat_get(f, "port0_rx_overruns"), 2);
	assert_int_equal(reg(f, 0, RBR), 'A');
	assert_int_equal(reg(f, 0, LSR), 0x62);
	assert_int_equal(reg(f, 0, LSR), 0x60);
	assert_int_equal(stat_get(f, "port0_tx_dropped"), 0); /* T-67 */
}

static void test_T44_iir_priorities(void **state)
{
	struct fx *f = *state;

	fx_create(f, 1, "loopback");
	set_reg(f, 0, FCR, 0x01);
	set_reg(f, 0, IER, 0x0F);
	for (int i = 0; i < 17; i++)
		set_reg(f, 0, THR, (uint8_t)i);
	assert_int_equal(reg(f, 0, IIR), 0xC6);
	(void)reg(f, 0, LSR);
	assert_int_equal(reg(f, 0, IIR), 0xC4);
	for (int i = 0; i < 16; i++)
		(void)reg(f, 0, RBR);
	assert_int_equal(reg(f, 0, IIR), 0xC2);
	assert_int_equal(reg(f, 0, IIR), 0xC1);
}

/* ---- interrupts (§7) ---- */

static void test_T49_T50_T51_intx_level_automask(void **state)
{
	struct fx *f = *state;
	int efd;

	fx_create(f, 2, "loopback");
	efd = install(f, 0);
	set_reg(f, 0, MCR, 0x00); /* T-49: OUT2 = 0 does not gate */
	set_reg(f, 0, FCR, 0x01);
	set_reg(f, 0, IER, 0x02);
	assert_int_equal(ev_wait(efd, 1000), 1);
	assert_true(cfg(f, 0x06, 2) & 0x08);
	set_reg(f, 1, IER, 0x02); /* another source on port 1: masked */
	assert_int_equal(ev_wait(efd, 50), 0);
	assert_int_equal(vc_set_irqs(f->fd, ACTION_UNMASK | DATA_NONE, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(ev_wait(efd, 1000), 1);
	assert_int_equal(reg(f, 0, IIR), 0xC2);
	assert_int_equal(reg(f, 1, IIR), 0x02);
	assert_false(cfg(f, 0x06, 2) & 0x08);
	assert_int_equal(vc_set_irqs(f->fd, ACTION_UNMASK | DATA_NONE, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(ev_wait(efd, 50), 0); /* T-51 */
	close(efd);
}

static void test_T52_intx_disable(void **state)
{
	struct fx *f = *state;
	int efd;

	fx_create(f, 1, "loopback");
	efd = install(f, 0);
	cfg_write(f, 0x04, 2, 0x0401);
	set_reg(f, 0, IER, 0x02);
	assert_int_equal(vc_set_irqs(f->fd, ACTION_UNMASK | DATA_NONE, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(ev_wait(efd, 50), 0);
	assert_true(cfg(f, 0x06, 2) & 0x08);
	cfg_write(f, 0x04, 2, 0x0001);
	assert_int_equal(ev_wait(efd, 1000), 1);
	close(efd);
}

static void test_T53_T54_msi_edges(void **state)
{
	struct fx *f = *state;
	int efd;

	fx_create(f, 1, "loopback");
	set_reg(f, 0, IER, 0x02); /* THRE pending before MSI is installed (T-57: no eventfd) */
	efd = install(f, 1);
	assert_int_equal(ev_wait(efd, 1000), 1); /* T-54 */
	/* a loop-back trigger while C is true is one write, not two (T-56) */
	assert_int_equal(vc_set_irqs(f->fd, ACTION_TRIGGER | DATA_NONE, 1, 0, 1, NULL, 0), 0);
	assert_int_equal(ev_wait(efd, 1000), 1);
	set_reg(f, 0, IER, 0x00);
	assert_int_equal(reg(f, 0, IIR), 0x01);
	set_reg(f, 0, FCR, 0x01);
	set_reg(f, 0, IER, 0x01);
	set_reg(f, 0, THR, '1'); /* C rises */
	assert_int_equal(ev_wait(efd, 1000), 1);
	set_reg(f, 0, THR, '2'); /* C stays */
	assert_int_equal(ev_wait(efd, 50), 0);
	assert_int_equal(reg(f, 0, RBR), '1');
	assert_int_equal(reg(f, 0, RBR), '2');
	set_reg(f, 0, THR, '3');
	assert_int_equal(ev_wait(efd, 1000), 1);
	close(efd);
}

static void test_T55_T56_irq_rules(void **state)
{
	struct fx *f = *state;
	int e1, e2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t before;

	fx_create(f, 1, "loopback");
	e1 = install(f, 0);
	assert_int_equal(vc_set_irqs(f->fd, ACTION_TRIGGER | DATA_EVENTFD, 1, 0, 1, &e2, 1),
			 EINVAL);
	assert_int_equal(vc_set_irqs(f->fd, ACTION_UNMASK | DATA_NONE, 1, 0, 1, NULL, 0), ENOTTY);
	assert_int_equal(vc_set_irqs(f->fd, ACTION_TRIGGER | DATA_EVENTFD, 2, 0, 1, &e2, 1),
			 EINVAL);
	assert_int_equal(vc_set_irqs(f->fd, ACTION_TRIGGER | DATA_EVENTFD, 0, 1, 1, &e2, 1),
			 EINVAL);
	/* T-56: loop-back signal, masked or not, counted in irq_signals */
	before = stat_get(f, "irq_signals");
	assert_int_equal(vc_set_irqs(f->fd, ACTION_MASK | DATA_NONE, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(vc_set_irqs(f->fd, ACTION_TRIGGER | DATA_NONE, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(ev_wait(e1, 1000), 1);
	assert_int_equal(stat_get(f, "irq_signals"), before + 1);
	close(e1);
	close(e2);
}

/*
 * INTx torn down while automasked, then installed again, as QEMU does around MSI use
 * (vfio_intx_disable(): ACTION_TRIGGER | DATA_NONE with count 0; vfio_intx_enable(): a new
 * trigger eventfd). The kernel starts a newly enabled INTx unmasked (vfio_intx_enable():
 * masked = virq_disabled), and QEMU sends no ACTION_UNMASK after it (nothing is pending on
 * its side): a level still high must signal the new eventfd at once (T-50), or the line is
 * dead for good.
 */
static void test_T50_T54_intx_installed_again_starts_unmasked(void **state)
{
	struct fx *f = *state;
	int efd, msi;

	fx_create(f, 2, NULL);
	efd = install(f, 0);
	set_reg(f, 1, IER, 0x02); /* THRE on port 1: C rises, signal, automask */
	assert_int_equal(ev_wait(efd, 1000), 1);
	assert_int_equal(vc_set_irqs(f->fd, ACTION_TRIGGER | DATA_NONE, 0, 0, 0, NULL, 0), 0);
	close(efd);
	efd = install(f, 0); /* C is still true */
	assert_int_equal(ev_wait(efd, 1000), 1);
	/* the same through MSI (T-54): INTx masked, torn down, MSI used, INTx back */
	assert_int_equal(vc_set_irqs(f->fd, ACTION_TRIGGER | DATA_NONE, 0, 0, 0, NULL, 0), 0);
	close(efd);
	msi = install(f, 1);
	assert_int_equal(ev_wait(msi, 1000), 1);
	assert_int_equal(vc_set_irqs(f->fd, ACTION_TRIGGER | DATA_NONE, 1, 0, 0, NULL, 0), 0);
	close(msi);
	efd = install(f, 0);
	assert_int_equal(ev_wait(efd, 1000), 1);
	assert_int_equal(ev_wait(efd, 50), 0); /* automasked again */
	close(efd);
}

/* ---- reset (§8) ---- */

static void test_T68_T71_reset_registers_keep_eventfd(void **state)
{
	struct fx *f = *state;
	static const uint8_t want[8] = {0, 0x00, 0x01, 0x00, 0x00, 0x60, 0xB0, 0x00};
	int efd;

	fx_create(f, 1, "loopback");
	efd = install(f, 0);
	set_reg(f, 0, IER, 0x0F);
	set_reg(f, 0, FCR, 0xC7);
	set_reg(f, 0, SCR, 0x5A);
	set_reg(f, 0, MCR, 0x1F);
	for (int i = 0; i < 3; i++)
		set_reg(f, 0, THR, (uint8_t)i);
	set_reg(f, 0, LCR, 0x9B);
	set_reg(f, 0, DLL, 0x01);
	(void)ev_wait(efd, 100);
	assert_int_equal(vc_call_err(f->fd, C_RESET, NULL, 0, NULL, 0), 0);
	for (unsigned int off = 1; off < 8; off++)
		assert_int_equal(reg(f, 0, off), want[off]);
	set_reg(f, 0, LCR, 0x80);
	assert_int_equal(reg(f, 0, DLL), 0);
	assert_int_equal(reg(f, 0, DLM), 0);
	set_reg(f, 0, LCR, 0x00);
	assert_false(cfg(f, 0x06, 2) & 0x08); /* nothing pending after reset */
	assert_int_equal(ev_wait(efd, 50), 0);
	set_reg(f, 0, IER, 0x02); /* T-71: the eventfd is kept */
	assert_int_equal(ev_wait(efd, 1000), 1);
	assert_int_equal(stat_get(f, "port0_tx_bytes"), 3); /* T-15: counters survive */
	close(efd);
}

/* ---- backend switching, attributes, stats (§4) ---- */

static void test_T12_T13_backend_attribute(void **state)
{
	struct fx *f = *state;
	char path0[64], line0[64], link[160];
	int slave;
	struct pollfd p;

	fx_create(f, 2, NULL);
	close(f->fd); /* no client: the backend may change */
	f->fd = -1;
	for (int i = 0; i < 200 && attr_store(f, "backend", "pty") == -EBUSY; i++)
		usleep(10000); /* teardown runs on the server thread */
	assert_string_equal(attr_show(f, "backend"), "pty\n");
	snprintf(line0, sizeof(line0), "%s", attr_show(f, "port0_pty"));
	snprintf(path0, sizeof(path0), "%s", line0);
	assert_true(!strncmp(path0, "/dev/pts/", 9));
	assert_string_not_equal(attr_show(f, "port1_pty"), path0);
	path0[strlen(path0) - 1] = '\0';
	snprintf(link, sizeof(link), "%s/mtty/%s/port0", f->rundir, f->uuid_str);
	{
		char target[64] = {0};

		assert_true(readlink(link, target, sizeof(target) - 1) > 0);
		assert_string_equal(target, path0); /* T-9 */
	}
	/* T-10 */
	slave = open(path0, O_RDWR | O_NOCTTY | O_NONBLOCK);
	assert_true(slave >= 0);
	{
		struct termios t;

		assert_int_equal(tcgetattr(slave, &t), 0);
		assert_false(t.c_lflag & (ICANON | ECHO));
		assert_false(t.c_iflag & ICRNL);
		assert_false(t.c_oflag & OPOST);
		assert_int_equal(t.c_cflag & CSIZE, CS8);
		assert_int_equal(cfgetospeed(&t), B115200);
	}
	/* T-13 */
	assert_int_equal(attr_store(f, "backend", "serial"), -EINVAL);
	assert_int_equal(attr_store(f, "backend", "pty x"), -EINVAL);
	assert_string_equal(attr_show(f, "backend"), "pty\n");
	assert_int_equal(attr_store(f, "backend", "pty\n"), 4); /* same value: nothing changes */
	assert_string_equal(attr_show(f, "port0_pty"), line0); /* the pty and its path stay */
	/* T-12 */
	assert_int_equal(attr_store(f, "backend", "loopback"), 8);
	assert_string_equal(attr_show(f, "backend"), "loopback\n");
	assert_string_equal(attr_show(f, "port0_pty"), "");
	assert_string_equal(attr_show(f, "port1_pty"), "");
	assert_int_equal(access(link, F_OK), -1);
	p = (struct pollfd){.fd = slave, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 1000), 1);
	assert_true(p.revents & POLLHUP);
	close(slave);
	/* loopback -> pty: new ptys; then EBUSY while a client is connected */
	assert_int_equal(attr_store(f, "backend", "pty"), 3);
	assert_true(!strncmp(attr_show(f, "port0_pty"), "/dev/pts/", 9));
	assert_int_equal(access(link, F_OK), 0);
	{
		char sock[128];

		snprintf(sock, sizeof(sock), "%s/vfio/devices/vfio%u", f->rundir,
			 umdev_mdev_vfio_index(f->mdev));
		f->fd = vc_open(sock);
		assert_true(f->fd >= 0);
	}
	assert_int_equal(attr_store(f, "backend", "loopback"), -EBUSY);
	assert_int_equal(attr_store(f, "backend", "pty"), -EBUSY);
	assert_string_equal(attr_show(f, "backend"), "pty\n");
}

static void test_T15_T58_stats_and_pty_transmit(void **state)
{
	struct fx *f = *state;
	char path[64];
	char buf[16] = {0};
	int slave;
	struct pollfd p;

	fx_create(f, 2, NULL);
	assert_string_equal(attr_show(f, "stats"),
			    "irq_signals 0\n"
			    "port0_tx_bytes 0\nport0_tx_dropped 0\nport0_rx_bytes 0\n"
			    "port0_rx_overruns 0\n"
			    "port1_tx_bytes 0\nport1_tx_dropped 0\nport1_rx_bytes 0\n"
			    "port1_rx_overruns 0\n");
	set_reg(f, 0, THR, 'x'); /* not attached: dropped (T-60) */
	snprintf(path, sizeof(path), "%s", attr_show(f, "port0_pty"));
	path[strlen(path) - 1] = '\0';
	slave = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
	assert_true(slave >= 0);
	for (const char *s = "hello"; *s; s++) {
		set_reg(f, 0, THR, (uint8_t)*s);
		assert_int_equal(reg(f, 0, LSR), 0x60);
	}
	for (size_t got = 0; got < 5;) { /* the tty layer may hand the bytes over in parts */
		ssize_t n;

		p = (struct pollfd){.fd = slave, .events = POLLIN};
		assert_int_equal(poll(&p, 1, 1000), 1);
		n = read(slave, buf + got, sizeof(buf) - 1 - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_string_equal(buf, "hello");
	assert_int_equal(stat_get(f, "port0_tx_bytes"), 6);
	assert_int_equal(stat_get(f, "port0_tx_dropped"), 1);
	assert_int_equal(stat_get(f, "port1_tx_bytes"), 0);
	/* T-59 in short: host bytes reach RBR */
	set_reg(f, 0, FCR, 0x01);
	assert_int_equal(write(slave, "ok", 2), 2);
	for (int i = 0; i < 100 && stat_get(f, "port0_rx_bytes") < 2; i++)
		usleep(10000);
	assert_int_equal(reg(f, 0, RBR), 'o');
	assert_int_equal(reg(f, 0, RBR), 'k');
	close(slave);
}

static void test_T75_random_accesses_then_reset(void **state)
{
	struct fx *f = *state;
	static const uint8_t want[8] = {0, 0x00, 0x01, 0x00, 0x00, 0x60, 0xB0, 0x00};
	unsigned int seed = 75;

	fx_create(f, 2, "loopback");
	for (int i = 0; i < 20000; i++) {
		unsigned int r = (unsigned int)rand_r(&seed);
		uint8_t v = (uint8_t)(r >> 8);

		if (r & 1)
			assert_int_equal(vc_region_write(f->fd, (r >> 1) & 1, (r >> 2) & 7, &v, 1),
					 0);
		else
			assert_int_equal(vc_region_read(f->fd, (r >> 1) & 1, (r >> 2) & 7, 1, &v),
					 0);
	}
	assert_int_equal(vc_call_err(f->fd, C_RESET, NULL, 0, NULL, 0), 0);
	for (unsigned int port = 0; port < 2; port++)
		for (unsigned int off = 1; off < 8; off++)
			assert_int_equal(reg(f, port, off), want[off]);
}

/* ---- T-33 with the register writes of a Linux guest (8250_port.c, 16550A) ---- */

/* tcgetattr() on the slave of @port's pty, opened and closed as `stty -F` does. */
static void slave_termios(struct fx *f, unsigned int port, struct termios *t)
{
	char path[64];
	int slave;

	snprintf(path, sizeof(path), "%s", attr_show(f, port ? "port1_pty" : "port0_pty"));
	path[strcspn(path, "\n")] = '\0';
	slave = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	assert_true(slave >= 0);
	assert_int_equal(tcgetattr(slave, t), 0);
	close(slave);
}

/* autoconfig() at probe, for a 16550A with UPF_SKIP_TEST (8250_pci): DLAB set and cleared. */
static void linux_autoconfig(struct fx *f, unsigned int port)
{
	uint8_t ier = reg(f, port, IER), mcr, lcr;

	set_reg(f, port, IER, 0x00);
	(void)reg(f, port, IER);
	set_reg(f, port, IER, 0x0F);
	(void)reg(f, port, IER);
	set_reg(f, port, IER, ier);
	mcr = reg(f, port, MCR);
	lcr = reg(f, port, LCR);
	set_reg(f, port, LCR, 0xBF); /* UART_LCR_CONF_MODE_B */
	set_reg(f, port, FCR, 0x00); /* UART_EFR */
	set_reg(f, port, LCR, 0x00);
	set_reg(f, port, FCR, 0x01);
	assert_int_equal(reg(f, port, IIR) >> 6, 3); /* a 16550A */
	set_reg(f, port, LCR, lcr);
	set_reg(f, port, MCR, mcr);
	set_reg(f, port, FCR, 0x01); /* serial8250_clear_fifos() */
	set_reg(f, port, FCR, 0x07);
	set_reg(f, port, FCR, 0x00);
	(void)reg(f, port, RBR);
	set_reg(f, port, IER, 0x00);
}

/* serial8250_do_startup() at the first open: LCR = 0x03 while the divisor is still 0. */
static void linux_startup(struct fx *f, unsigned int port)
{
	set_reg(f, port, FCR, 0x01);
	set_reg(f, port, FCR, 0x07);
	set_reg(f, port, FCR, 0x00);
	(void)reg(f, port, LSR);
	(void)reg(f, port, RBR);
	(void)reg(f, port, IIR);
	(void)reg(f, port, MSR);
	set_reg(f, port, LCR, 0x03); /* UART_LCR_WLEN8 */
	set_reg(f, port, MCR, 0x08); /* OUT2 */
	set_reg(f, port, IER, 0x02); /* THRE test */
	(void)reg(f, port, IIR);
	set_reg(f, port, IER, 0x00);
	set_reg(f, port, IER, 0x05); /* RLSI | RDI */
}

/*
 * serial8250_do_set_termios(): IER, then serial8250_do_set_divisor() (LCR | DLAB, DLL, DLM),
 * then LCR without DLAB, FCR in two steps, MCR.
 */
static void linux_set_termios(struct fx *f, unsigned int port, uint16_t quot, uint8_t lcr)
{
	set_reg(f, port, IER, 0x05);
	set_reg(f, port, LCR, lcr | 0x80);
	set_reg(f, port, DLL, quot & 0xff);
	set_reg(f, port, DLM, quot >> 8);
	set_reg(f, port, LCR, lcr); /* reset DLAB */
	set_reg(f, port, FCR, 0x01);
	set_reg(f, port, FCR, 0x81); /* UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10 */
	set_reg(f, port, MCR, 0x0B); /* DTR | RTS | OUT2 */
}

/*
 * A fresh boot: QEMU resets the card, the guest probes the port, and its first open (as in
 * `stty -F /dev/ttyS1 9600`, or a shell started on the port) programs the tty's default
 * 9600 8N1. That first programming must reach the pty, which starts at 115200 (§4.3).
 */
static void test_T33_first_divisor_after_reset_reaches_pty(void **state)
{
	struct fx *f = *state;
	struct termios t;

	fx_create(f, 2, NULL);
	slave_termios(f, 0, &t);
	assert_int_equal(cfgetospeed(&t), B115200); /* T-10 */
	assert_int_equal(vc_call_err(f->fd, C_RESET, NULL, 0, NULL, 0), 0);
	for (unsigned int port = 0; port < 2; port++)
		linux_autoconfig(f, port);
	linux_startup(f, 0);
	slave_termios(f, 0, &t);
	assert_int_equal(cfgetospeed(&t), B115200); /* divisor 0: speed unchanged (§4.4) */
	linux_set_termios(f, 0, 12, 0x03);
	slave_termios(f, 0, &t);
	assert_int_equal(cfgetospeed(&t), B9600);
	assert_int_equal(cfgetispeed(&t), B9600);
	assert_int_equal(t.c_cflag & CSIZE, CS8);
	assert_false(t.c_cflag & (PARENB | CSTOPB));
	slave_termios(f, 1, &t);
	assert_int_equal(cfgetospeed(&t), B115200); /* port 1 was not opened */
	/* later changes: `stty 115200`, `stty 9600` */
	linux_set_termios(f, 0, 1, 0x03);
	slave_termios(f, 0, &t);
	assert_int_equal(cfgetospeed(&t), B115200);
	linux_set_termios(f, 0, 12, 0x03);
	slave_termios(f, 0, &t);
	assert_int_equal(cfgetospeed(&t), B9600);
}

/* ---- T-7: a failing pty step leaves nothing behind ---- */

static const char *available(struct fx *f, unsigned int type)
{
	static char buf[2][32];
	ssize_t n = umdev__type_show_available(f->types[type], buf[type], sizeof(buf[type]));

	assert_true(n > 0 && (size_t)n < sizeof(buf[type]));
	buf[type][n] = '\0';
	return buf[type];
}

static unsigned int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	unsigned int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_T7_pty_step_failure_leaves_nothing(void **state)
{
	struct fx *f = *state;
	static const int errs[5] = {0, EMFILE, EIO, EACCES, ENOSPC};
	char path[160];
	struct stat st;

	for (unsigned int step = 1; step <= 4; step++) {
		for (unsigned int type = 0; type < 2; type++) {
			uuid_generate(f->u);
			uuid_unparse_lower(f->u, f->uuid_str);
			mtty_inject_pty_failure(step, errs[step]);
			assert_int_equal(umdev__type_create(f->types[type], &f->u), -errs[step]);
			mtty_inject_pty_failure(0, 0);
			assert_string_equal(available(f, 0), "24\n");
			assert_string_equal(available(f, 1), "12\n");
			assert_null(umdev_mdev_get(&f->u)); /* the tree: no such mdev */
			snprintf(path, sizeof(path), "%s/mtty/%s", f->rundir, f->uuid_str);
			assert_int_equal(stat(path, &st), -1);
			assert_int_equal(errno, ENOENT);
			snprintf(path, sizeof(path), "%s/mtty", f->rundir);
			assert_int_equal(dir_entries(path), 0);
			snprintf(path, sizeof(path), "%s/vfio/devices", f->rundir);
			assert_int_equal(dir_entries(path), 0);
		}
	}
	/* the vfio index was not held: the next device gets the first one */
	fx_create(f, 2, NULL);
	assert_int_equal(umdev_mdev_vfio_index(f->mdev), 0);
	assert_string_equal(available(f, 1), "11\n");
}

/* ---- T-79, T-80: save and restore (mtty.md §9) ---- */

#define IMAGE_MAX (280 + 32 * 2)

struct snapshot {
	uint8_t cfg[256];
	uint8_t regs[2][10]; /* offsets 1-7, then DLL, DLM, LCR */
};

/* What a guest reads, RBR excepted; reading MSR, LSR, IIR may clear state. */
static void snapshot(struct fx *f, unsigned int nr_ports, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(vc_region_read(f->fd, CONFIG, 0, 256, s->cfg), 0);
	for (unsigned int p = 0; p < nr_ports; p++) {
		uint8_t lcr = reg(f, p, LCR);

		for (unsigned int off = 1; off < 8; off++)
			s->regs[p][off - 1] = reg(f, p, off);
		set_reg(f, p, LCR, (uint8_t)(lcr | 0x80));
		s->regs[p][7] = reg(f, p, DLL);
		s->regs[p][8] = reg(f, p, DLM);
		set_reg(f, p, LCR, lcr);
		s->regs[p][9] = lcr;
	}
}

static ssize_t dev_save(struct umdev_mdev *mdev, uint8_t *img)
{
	return mtty_vfio_ops.save(mdev, img, IMAGE_MAX);
}

/* Non-default registers, config and 3 RX bytes on port 0 of a loopback device. */
static void make_state(struct fx *f, uint8_t scr)
{
	set_reg(f, 0, LCR, 0x80);
	set_reg(f, 0, DLL, 0x0C);
	set_reg(f, 0, DLM, 0x01);
	set_reg(f, 0, LCR, 0x1B);
	set_reg(f, 0, FCR, 0xC1);
	set_reg(f, 0, IER, 0x05);
	set_reg(f, 0, MCR, 0x03);
	set_reg(f, 0, SCR, scr);
	set_reg(f, 0, THR, 'x');
	set_reg(f, 0, THR, 'y');
	set_reg(f, 0, THR, 'z');
	set_reg(f, 1, LCR, 0x07);
	set_reg(f, 1, SCR, (uint8_t)~scr);
	cfg_write(f, 0x04, 2, 0x0401);
	cfg_write(f, 0x10, 4, 0xC000);
	cfg_write(f, 0x14, 4, 0xC008);
	cfg_write(f, 0x3C, 1, 0x0B);
	cfg_write(f, 0x54, 4, 0xFEE00000);
	cfg_write(f, 0x58, 2, 0x4021);
	cfg_write(f, 0x52, 2, 0x0001);
}

static void test_T79_save_reset_restore(void **state)
{
	struct fx *f = *state;
	uint8_t img[IMAGE_MAX], again[IMAGE_MAX];
	struct snapshot a, b;

	fx_create(f, 2, "loopback");
	make_state(f, 0x5A);
	assert_int_equal(dev_save(f->mdev, img), 280 + 32 * 2);
	assert_memory_equal(img, "UMDVMTTY", 8);
	assert_int_equal(img[12], 2);
	assert_int_equal(img[280 + 9], 3); /* port 0: RX count */
	assert_memory_equal(img + 280 + 10, "xyz", 3);
	assert_int_equal(mtty_vfio_ops.save(f->mdev, again, IMAGE_MAX - 1), -ENOSPC);
	snapshot(f, 2, &a);
	assert_true(a.cfg[0x06] & 0x08); /* RX data pending: C, the INTx level */

	assert_int_equal(vc_call_err(f->fd, C_RESET, NULL, 0, NULL, 0), 0);
	snapshot(f, 2, &b);
	assert_memory_not_equal(&a, &b, sizeof(a));

	assert_int_equal(mtty_vfio_ops.restore(f->mdev, img, sizeof(img)), 0);
	assert_int_equal(dev_save(f->mdev, again), sizeof(again));
	assert_memory_equal(again, img, sizeof(img));
	snapshot(f, 2, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(reg(f, 0, RBR), 'x');
	assert_int_equal(reg(f, 0, RBR), 'y');
	assert_int_equal(reg(f, 0, RBR), 'z');
	assert_int_equal(reg(f, 0, LSR) & 0x01, 0);
	assert_int_equal(cfg(f, 0x06, 2) & 0x08, 0); /* C re-evaluated: nothing pending now */
}

/* restore of @img fails with EINVAL and the device's state (its image) stays @ref. */
static void restore_fails(struct fx *f, const uint8_t *img, size_t len, const uint8_t *ref,
			  const struct snapshot *cfg_ref)
{
	uint8_t now[IMAGE_MAX];
	uint8_t c[256];

	assert_int_equal(mtty_vfio_ops.restore(f->mdev, img, len), -EINVAL);
	assert_int_equal(dev_save(f->mdev, now), 280 + 32 * 2);
	assert_memory_equal(now, ref, 280 + 32 * 2);
	assert_int_equal(vc_region_read(f->fd, CONFIG, 0, 256, c), 0);
	assert_memory_equal(c, cfg_ref->cfg, 256);
}

static void test_T80_restore_rejects_bad_images(void **state)
{
	struct fx *f = *state;
	uint8_t one[IMAGE_MAX], img[IMAGE_MAX], bad[IMAGE_MAX], ref[IMAGE_MAX];
	struct snapshot cfg_ref;
	struct umdev_mdev *m1;
	uuid_t u1;

	/* an mtty-1 image */
	uuid_generate(u1);
	assert_int_equal(umdev__type_create(f->types[0], &u1), 0);
	m1 = umdev_mdev_get(&u1);
	assert_non_null(m1);
	assert_int_equal(dev_save(m1, one), 280 + 32);
	umdev_mdev_put(m1);

	fx_create(f, 2, "loopback");
	make_state(f, 0x11);
	assert_int_equal(dev_save(f->mdev, img), sizeof(img));
	set_reg(f, 0, SCR, 0x22); /* the state to keep: differs from img */
	set_reg(f, 1, IER, 0x02);
	cfg_write(f, 0x3C, 1, 0x05);
	assert_int_equal(dev_save(f->mdev, ref), sizeof(ref));
	assert_memory_not_equal(ref, img, sizeof(img));
	assert_int_equal(vc_region_read(f->fd, CONFIG, 0, 256, cfg_ref.cfg), 0);

	/* T-80: an mtty-1 image (as it is, and with the mtty-2 length) */
	restore_fails(f, one, 280 + 32, ref, &cfg_ref);
	memcpy(bad, img, sizeof(bad));
	memcpy(bad, one, 280 + 32);
	restore_fails(f, bad, sizeof(bad), ref, &cfg_ref);
	/* T-80: a wrong magic */
	memcpy(bad, img, sizeof(bad));
	bad[7] = 'X';
	restore_fails(f, bad, sizeof(bad), ref, &cfg_ref);
	/* T-80: RX count 17 (port 1, so port 0's valid record must not be applied either) */
	memcpy(bad, img, sizeof(bad));
	bad[280 + 32 + 6] = 0xC1; /* FIFOs on: capacity 16 */
	bad[280 + 32 + 9] = 17;
	restore_fails(f, bad, sizeof(bad), ref, &cfg_ref);
	bad[280 + 32 + 9] = 16;
	assert_int_equal(mtty_vfio_ops.restore(f->mdev, bad, sizeof(bad)), 0); /* the limit */
	assert_int_equal(mtty_vfio_ops.restore(f->mdev, ref, sizeof(ref)), 0);
	/* §9: other rejections */
	memcpy(bad, img, sizeof(bad));
	bad[8] = 2; /* version */
	restore_fails(f, bad, sizeof(bad), ref, &cfg_ref);
	memcpy(bad, img, sizeof(bad));
	bad[16] = 1; /* flags */
	restore_fails(f, bad, sizeof(bad), ref, &cfg_ref);
	memcpy(bad, img, sizeof(bad));
	bad[24 + 0x00] ^= 1; /* a read-only config bit: Vendor ID */
	restore_fails(f, bad, sizeof(bad), ref, &cfg_ref);
	memcpy(bad, img, sizeof(bad));
	bad[24 + 0x04] |= 0x02; /* Command: memory space is not writable for mtty */
	restore_fails(f, bad, sizeof(bad), ref, &cfg_ref);
	memcpy(bad, img, sizeof(bad));
	bad[280 + 0] = 0x10; /* IER bit 4 */
	restore_fails(f, bad, sizeof(bad), ref, &cfg_ref);
	restore_fails(f, img, sizeof(img) - 1, ref, &cfg_ref); /* length */
	/* Status[3] is ignored */
	memcpy(bad, img, sizeof(bad));
	bad[24 + 0x06] ^= 0x08;
	assert_int_equal(mtty_vfio_ops.restore(f->mdev, bad, sizeof(bad)), 0);
	assert_int_equal(dev_save(f->mdev, ref), sizeof(ref));
	assert_memory_equal(ref + 280, img + 280, 64);
}

/*
 * Issue 10: the pty poller runs only while a client is connected (§5.1: bytes move only
 * then), so an idle pty-mode device has no poller thread; a client adds exactly the poller
 * and the vfio server thread, and its departure takes both away again. Its input still flows
 * (T-59 covers the bytes themselves).
 */
static void test_T59_pty_poller_runs_only_while_a_client_is_connected(void **state)
{
	struct fx *f = *state;
	unsigned int before, idle, connected;
	char path[128];

	before = test_nr_threads();
	uuid_generate(f->u);
	assert_int_equal(umdev__type_create(f->types[1], &f->u), 0);
	f->mdev = umdev_mdev_get(&f->u);
	assert_non_null(f->mdev);
	assert_string_equal(attr_show(f, "backend"), "pty\n");
	idle = test_nr_threads();
	snprintf(path, sizeof(path), "%s/vfio/devices/vfio%u", f->rundir,
		 umdev_mdev_vfio_index(f->mdev));
	f->fd = vc_open(path);
	assert_true(f->fd >= 0);
	connected = test_nr_threads();
	assert_int_equal(connected, idle + 2); /* the poller, and the vfio server thread */
	close(f->fd);
	f->fd = -1;
	assert_int_equal(test_nr_threads_reach(idle, 5000), idle);
	/* an idle device costs no thread: at most the vfio listeners' thread, once */
	assert_true(idle - before <= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_T16_T17_T18_info_mtty2, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		test_T59_pty_poller_runs_only_while_a_client_is_connected, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T17_T22_T74_mtty1_has_no_bar1, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T19_T20_power_on_config, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T19_mtty1_power_on_config, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T21_T22_T23_bar_and_command_writes, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T24_T25_T26_T27_T28_more_config, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T29_T73_T74_power_on_registers_and_widths,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T36_T37_T38_fifo_and_overrun, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T44_iir_priorities, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T49_T50_T51_intx_level_automask, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T52_intx_disable, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T53_T54_msi_edges, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T55_T56_irq_rules, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T50_T54_intx_installed_again_starts_unmasked,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T68_T71_reset_registers_keep_eventfd, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T12_T13_backend_attribute, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T15_T58_stats_and_pty_transmit, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T75_random_accesses_then_reset, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T7_pty_step_failure_leaves_nothing, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T33_first_divisor_after_reset_reaches_pty,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T79_save_reset_restore, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_T80_restore_rejects_bad_images, fx_setup,
					    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   T-7, T-12, T-13, T-15, T-16, T-17, T-18, T-19, T-20, T-21, T-22, T-23, T-24, T-25, T-26,
 *   T-27, T-28, T-29, T-33, T-36, T-37, T-38, T-44, T-49, T-50, T-51, T-52, T-53, T-54,
 *   T-55, T-56, T-58, T-68, T-71, T-73, T-74, T-75, T-79, T-80
 */
