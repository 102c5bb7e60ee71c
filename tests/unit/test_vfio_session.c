// SPDX-License-Identifier: MIT
/*
 * Command handlers and message validation of src/vfio/session.c, irq.c and dma.c, without a
 * socket: a vdrv device created with the vfio module in numbering-only mode, and a session
 * object fed hand-built messages through umdev__vfio_handle() (vfio-user.md §6-§8).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "hooks.h"
#include "private.h"
#include "vdrv.h"

struct sfx {
	uuid_t u;
	struct umdev__vfio_device *dev;
	struct umdev__vfio_session *s;
	struct umdev__vfio_reply r;
	bool fatal;
};

static void p32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void p64(uint8_t *p, uint64_t v)
{
	p32(p, (uint32_t)v);
	p32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t g32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Run one message; @fds are handed over (the handler adopts or closes them). */
static int run(struct sfx *x, uint16_t cmd, uint32_t flags, const void *payload, size_t len,
	       const int *fds, unsigned int nr_fds)
{
	struct umdev__vfio_msg m = {.msg_id = 1, .command = cmd, .flags = flags};
	uint8_t *copy = malloc(len + 1);
	int ret;

	memcpy(copy, payload, len);
	m.payload = copy;
	m.len = len;
	m.msg_size = (uint32_t)(16 + len);
	for (unsigned int i = 0; i < nr_fds; i++)
		m.fds[i] = fds[i];
	m.nr_fds = m.nr_fds_total = nr_fds;
	umdev__vfio_reply_free(&x->r);
	ret = umdev__vfio_handle(x->s, &m, &x->r, &x->fatal);
	for (unsigned int i = 0; i < VFIO_USER_RX_FDS_MAX && i < nr_fds; i++)
		assert_int_equal(m.fds[i], -1); /* nothing left open by the handler (§6.2) */
	free(copy);
	return ret;
}

static int negotiate(struct sfx *x, const char *json)
{
	uint8_t p[256] = {0};
	size_t jl = strlen(json) + 1;

	memcpy(p + 4, json, jl);
	return run(x, 1, 0, p, 4 + jl, NULL, 0);
}

static int setup(void **state)
{
	struct sfx *x = calloc(1, sizeof(*x));

	if (umdev_vfio_init(&(struct umdev_vfio_options){.max_dma_maps = 4}) < 0 ||
	    vdrv_register() < 0)
		return -1;
	uuid_generate(x->u);
	if (vdrv_create(&x->u) < 0)
		return -1;
	x->dev = umdev__vfio_device_find(vdrv_find(&x->u)->mdev);
	x->s = umdev__vfio_session_new(x->dev, -1);
	if (!x->dev || !x->s)
		return -1;
	*state = x;
	return 0;
}

static int setup_session(void **state)
{
	struct sfx *x;

	if (setup(state) < 0)
		return -1;
	x = *state;
	return negotiate(x, "{\"capabilities\":{\"write_multiple\":true}}");
}

static int teardown(void **state)
{
	struct sfx *x = *state;

	umdev__vfio_reply_free(&x->r);
	umdev__vfio_session_free(x->s);
	assert_int_equal(umdev_mdev_remove(&x->u), 0);
	vdrv_unregister();
	umdev_vfio_fini();
	umdev__core_reset();
	free(x);
	return 0;
}

/* ---- framing ---- */

static void test_V23_V24_header_limits(void **state)
{
	(void)state;
	assert_int_equal(umdev__vfio_check_header(8), -EINVAL);
	assert_int_equal(umdev__vfio_check_header(15), -EINVAL);
	assert_int_equal(umdev__vfio_check_header(16), 0);
	assert_int_equal(umdev__vfio_check_header(1048608), 0);
	assert_int_equal(umdev__vfio_check_header(1048609), -E2BIG);
}

static void test_V38_first_message_must_be_version(void **state)
{
	struct sfx *x = *state;
	uint8_t p[16] = {16};

	assert_int_equal(run(x, 4, 0, p, 16, NULL, 0), -EINVAL);
	assert_true(x->fatal);
	assert_int_equal(x->s->state, VFIO_SESSION_HANDSHAKE);
}

static void test_V32_V33_version_reply(void **state)
{
	struct sfx *x = *state;
	uint8_t p[64] = {0, 0, 1, 0};

	memcpy(p + 4, "{\"capabilities\":{\"pgsizes\":65536}}", 35);
	assert_int_equal(run(x, 1, 0, p, 4 + 35, NULL, 0), 0);
	assert_false(x->fatal);
	assert_int_equal(x->r.payload[2], 1);
	assert_string_equal((char *)x->r.payload + 4, "{\"capabilities\":{\"pgsizes\":4096}}");
	assert_int_equal(x->s->state, VFIO_SESSION_ACTIVE);
	assert_int_equal(vdrv_find(&x->u)->opens, 1);
	assert_true(x->dev->session_open);
}

static void test_V36_version_json_checks(void **state)
{
	struct sfx *x = *state;
	const char *bad[] = {
	    "{\"capabilities\":{\"max_data_xfer_size\":0}}",
	    "{\"capabilities\":{\"write_multiple\":1}}",
	    "{\"capabilities\":{\"migration\":true}}",
	    "{\"capabilities\":{\"twin_socket\":{\"supported\":1}}}",
	    "{\"capabilities\":{\"pgsizes\":4096.5}}",
	    "{} x",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(negotiate(x, bad[i]), -EINVAL);
		assert_true(x->fatal);
	}
	assert_int_equal(vdrv_find(&x->u)->opens, 0);
}

static void test_V20_V21_dispatch_errors(void **state)
{
	struct sfx *x = *state;
	uint8_t p[16] = {16};

	assert_int_equal(run(x, 14, 0, p, 16, NULL, 0), -ENOSYS);
	assert_int_equal(run(x, 11, 0, p, 16, NULL, 0), -ENOSYS);
	assert_int_equal(run(x, 4, 2, p, 16, NULL, 0), -EINVAL); /* type 2 */
	assert_false(x->fatal);
	assert_int_equal(run(x, 4, 0xffffffc0, p, 16, NULL, 0), 0); /* V-22 */
	assert_int_equal(run(x, 17, 0, p, 16, NULL, 0), -ENOTSUP);
	assert_int_equal(run(x, 1, 0, p, 4, NULL, 0), -EINVAL); /* V-39 */
	assert_false(x->fatal);
}

static void test_V29_V30_fds_where_none_allowed(void **state)
{
	struct sfx *x = *state;
	uint8_t p[20] = {20, 0, 0, 0, 0x24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	int ev[9];

	ev[0] = eventfd(0, 0);
	assert_int_equal(run(x, 4, 0, (uint8_t[16]){16}, 16, ev, 1), -EINVAL);
	for (int i = 0; i < 9; i++)
		ev[i] = eventfd(0, 0);
	assert_int_equal(run(x, 8, 0, p, 20, ev, 9), -EINVAL);
	assert_int_equal(x->dev->irq.intx_trigger, -1);
}

/* ---- information ---- */

static void test_V42_V44_V48_info(void **state)
{
	struct sfx *x = *state;
	uint8_t p[32] = {32};

	assert_int_equal(run(x, 4, 0, p, 16, NULL, 0), 0);
	assert_int_equal(g32(x->r.payload + 4), 3);
	p32(p + 8, 1);
	assert_int_equal(run(x, 5, 0, p, 32, NULL, 0), 0);
	assert_int_equal(g32(x->r.payload + 16), 4096);
	p32(p + 8, 6);
	assert_int_equal(run(x, 5, 0, p, 32, NULL, 0), 0);
	assert_int_equal(g32(x->r.payload + 4), 0);
	assert_int_equal(g32(x->r.payload + 16), 0);
	assert_int_equal(run(x, 5, 0, p, 31, NULL, 0), -EINVAL);
	p32(p, 16);
	p32(p + 8, 4);
	assert_int_equal(run(x, 7, 0, p, 16, NULL, 0), 0);
	assert_int_equal(g32(x->r.payload + 4), 9);
	assert_int_equal(g32(x->r.payload + 12), 1);
	p32(p + 8, 2);
	assert_int_equal(run(x, 7, 0, p, 16, NULL, 0), 0);
	assert_int_equal(g32(x->r.payload + 4), 1);
	assert_int_equal(g32(x->r.payload + 12), 0);
	p32(p + 8, 7);
	assert_int_equal(run(x, 6, 0, p, 16, NULL, 0), 0);
	p32(p + 8, 2); /* size-0 region */
	assert_int_equal(run(x, 6, 0, p, 16, NULL, 0), -EINVAL);
}

/* ---- SET_IRQS ---- */

static int set_irqs(struct sfx *x, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		    const int *fds, unsigned int nr_fds)
{
	uint8_t p[20];

	p32(p, 20);
	p32(p + 4, flags);
	p32(p + 8, index);
	p32(p + 12, start);
	p32(p + 16, count);
	return run(x, 8, 0, p, 20, fds, nr_fds);
}

static void test_V56_V60_set_irqs_validation_order(void **state)
{
	struct sfx *x = *state;
	int ev = eventfd(0, EFD_CLOEXEC);

	assert_int_equal(set_irqs(x, 0x24, 0, 0, 1, &ev, 1), 0);
	assert_int_equal(x->dev->irq.intx_trigger, ev);
	assert_int_equal(set_irqs(x, 0x3f, 0, 0, 1, NULL, 0), -EINVAL);
	assert_int_equal(set_irqs(x, 0x11, 3, 0, 1, NULL, 0), -EINVAL); /* count first */
	assert_int_equal(set_irqs(x, 0x11, 4, 0, 1, NULL, 0), -ENOTTY);
	assert_int_equal(set_irqs(x, 0x09, 1, 0, 1, NULL, 0), -ENOTTY);
	assert_int_equal(set_irqs(x, 0x21, 3, 0, 0, NULL, 0), 0); /* disable an empty index */
	assert_int_equal(vdrv_find(&x->u)->set_irqs, 2);
	assert_int_equal(x->dev->irq.intx_trigger, ev);
}

static void test_V49_V52_intx_eval(void **state)
{
	struct sfx *x = *state;
	int ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), dup_ev = dup(ev);
	struct umdev_mdev *mdev = vdrv_find(&x->u)->mdev;
	uint64_t v = 0;

	assert_int_equal(set_irqs(x, 0x24, 0, 0, 1, &dup_ev, 1), 0);
	assert_int_equal(set_irqs(x, 0x09, 0, 0, 1, NULL, 0), 0); /* MASK|NONE */
	assert_int_equal(umdev_intx_set_level(mdev, true), 0);
	assert_int_equal(read(ev, &v, 8), -1); /* masked */
	assert_int_equal(set_irqs(x, 0x11, 0, 0, 1, NULL, 0), 0);
	assert_int_equal(read(ev, &v, 8), 8);
	assert_true(x->dev->irq.intx_masked);
	close(ev);
}

/* ---- region access ---- */

static int access_msg(struct sfx *x, uint16_t cmd, uint32_t region, uint64_t off, uint32_t count,
		      const void *data)
{
	uint8_t p[64] = {0};

	p64(p, off);
	p32(p + 8, region);
	p32(p + 12, count);
	if (data)
		memcpy(p + 16, data, count);
	return run(x, cmd, 0, p, cmd == 9 ? 16 : 16 + count, NULL, 0);
}

static void test_V63_V65_region_access(void **state)
{
	struct sfx *x = *state;

	assert_int_equal(access_msg(x, 9, 7, 0, 0, NULL), 0);
	assert_int_equal(x->r.len, 16);
	assert_int_equal(access_msg(x, 9, 7, 0, 1048577, NULL), -E2BIG);
	assert_int_equal(access_msg(x, 9, 7, 255, 2, NULL), -EINVAL);
	assert_int_equal(access_msg(x, 10, 0, 0, 4, "abcd"), 0);
	assert_int_equal(access_msg(x, 9, 0, 0, 4, NULL), 0);
	assert_memory_equal(x->r.payload + 16, "abcd", 4);
	assert_int_equal(access_msg(x, 10, 0, 6, 4, "abcd"), -EINVAL); /* beyond BAR0 */
	assert_int_equal(access_msg(x, 10, 7, 4, 2, "\x02\x00"), 0);
	assert_int_equal(vdrv_find(&x->u)->config_writes, 1);
}

static void test_V71_write_multi_validates_all_first(void **state)
{
	struct sfx *x = *state;
	uint8_t p[8 + 48] = {2};

	p32(p + 8 + 8, 0);
	p32(p + 8 + 12, 1);
	p[8 + 16] = 0x41;
	p64(p + 32, 7); /* second entry: BAR0 offset 7, count 2: beyond */
	p32(p + 32 + 12, 2);
	assert_int_equal(run(x, 15, 0, p, sizeof(p), NULL, 0), -EINVAL);
	assert_int_equal(vdrv_find(&x->u)->bar0_writes, 0);
	p32(p + 32 + 12, 1);
	assert_int_equal(run(x, 15, 0, p, sizeof(p), NULL, 0), 0);
	assert_int_equal(vdrv_find(&x->u)->bar0_writes, 2);
	p[0] = 201;
	assert_int_equal(run(x, 15, 0, p, sizeof(p), NULL, 0), -EINVAL);
}

/* ---- reset and DMA ---- */

static void test_V72_V73_reset(void **state)
{
	struct sfx *x = *state;

	assert_int_equal(run(x, 13, 0, "x", 1, NULL, 0), -EINVAL);
	assert_int_equal(vdrv_find(&x->u)->resets, 0);
	assert_int_equal(run(x, 13, 0, "", 0, NULL, 0), 0);
	assert_int_equal(vdrv_find(&x->u)->resets, 1);
}

static int dma_map(struct sfx *x, uint32_t flags, uint64_t off, uint64_t iova, uint64_t size,
		   int fd)
{
	uint8_t p[32];

	p32(p, 32);
	p32(p + 4, flags);
	p64(p + 8, off);
	p64(p + 16, iova);
	p64(p + 24, size);
	return run(x, 2, 0, p, 32, &fd, fd >= 0);
}

static void test_V75_V77_dma_table(void **state)
{
	struct sfx *x = *state; /* max_dma_maps 4 */
	int m = memfd_create("t", MFD_CLOEXEC);

	assert_int_equal(ftruncate(m, 1 << 16), 0);
	assert_int_equal(dma_map(x, 3, 0, 0x10000, 0x1000, dup(m)), 0);
	assert_int_equal(dma_map(x, 3, 0, 0x20000, 0x1000, -1), 0);
	assert_int_equal(dma_map(x, 3, 0, 0x0f000, 0x1000, -1), 0);
	assert_int_equal(dma_map(x, 3, 0, 0x0f000, 0x2000, -1), -EEXIST);
	assert_int_equal(dma_map(x, 3, 0, 0x10fff000, 0x1000, -1), 0);
	assert_int_equal(dma_map(x, 3, 0, 0x30000, 0x1000, -1), -ENOSPC);
	assert_int_equal(x->dev->dma.nr, 4);
	for (unsigned int i = 1; i < x->dev->dma.nr; i++)
		assert_true(x->dev->dma.maps[i - 1].iova < x->dev->dma.maps[i].iova);
	assert_int_equal(dma_map(x, 3, 0x10000, 0x40000, 0x1000, dup(m)), -EINVAL); /* EOF */
	assert_int_equal(vdrv_find(&x->u)->maps, 4);
	close(m);
}

#define S(fn) cmocka_unit_test_setup_teardown(fn, setup_session, teardown)
#define H(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* ---- declarations (§10.3) ---- */

static void test_M29_failed_probe_after_pci_init_frees_declaration(void **state)
{
	struct sfx *x = *state;
	struct umdev_mdev *mdev = vdrv_find(&x->u)->mdev;
	unsigned int before = umdev__vfio_nr_devices();
	uuid_t u;

	uuid_generate(u);
	vdrv_fail_probe = -EIO;
	assert_int_equal(vdrv_create(&u), -EIO); /* the vendor errno, unchanged */
	vdrv_fail_probe = 0;
	assert_int_equal(umdev__vfio_nr_devices(), before); /* umdev_pci_fini() freed it */
	assert_int_equal(vdrv_create(&u), 0); /* the next create numbers normally */
	assert_int_equal(umdev__vfio_nr_devices(), before + 1);
	assert_int_equal(umdev_mdev_vfio_index(vdrv_find(&u)->mdev), 1);
	umdev_pci_fini(mdev); /* after C7: does nothing, the vfio device lives on */
	umdev_pci_fini(NULL);
	assert_ptr_equal(umdev__vfio_device_find(mdev), x->dev);
	assert_int_equal(umdev__vfio_nr_devices(), before + 1);
	assert_int_equal(umdev_mdev_remove(&u), 0); /* R4 frees it; remove's fini is a no-op */
	assert_int_equal(umdev__vfio_nr_devices(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_V23_V24_header_limits),
	    H(test_V38_first_message_must_be_version),
	    H(test_V32_V33_version_reply),
	    H(test_V36_version_json_checks),
	    S(test_V20_V21_dispatch_errors),
	    S(test_V29_V30_fds_where_none_allowed),
	    S(test_V42_V44_V48_info),
	    S(test_V56_V60_set_irqs_validation_order),
	    S(test_V49_V52_intx_eval),
	    S(test_V63_V65_region_access),
	    S(test_V71_write_multi_validates_all_first),
	    S(test_V72_V73_reset),
	    S(test_V75_V77_dma_table),
	    H(test_M29_failed_probe_after_pci_init_frees_declaration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   M-29, V-20, V-21, V-23, V-24, V-29, V-30, V-32, V-33, V-36, V-38, V-42, V-44, V-48,
 *   V-49, V-52, V-56, V-60, V-63, V-65, V-71, V-72, V-73, V-75, V-77
 */
