// SPDX-License-Identifier: MIT
/*
 * The vfio-user wire layer, src/vfio/wire.c: every decoder against bytes written here from the
 * layouts of vfio-user.md §6-§8 (not with wire.h's helpers: a test must not share the code it
 * tests), every encoder against the bytes it must produce, and the short and oversized inputs
 * each decoder refuses with the errno the spec names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wire.h"

static void p16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void p32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void p64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- header (§6.1) ---- */

static void test_V15_header_round_trip(void **state)
{
	const uint8_t bytes[16] = {0x34, 0x12, 4, 0, 32, 0, 0, 0, 0x40, 0, 0, 0x80, 7, 0, 0, 0};
	struct vfio_user_header h;
	uint8_t out[16];

	(void)state;
	umdev__wire_hdr_decode(bytes, &h);
	assert_int_equal(h.msg_id, 0x1234);
	assert_int_equal(h.command, VFIO_USER_DEVICE_GET_INFO);
	assert_int_equal(h.msg_size, 32);
	assert_int_equal(h.flags, 0x80000040u); /* reserved bits kept (V-22) */
	assert_int_equal(h.error, 7);
	assert_int_equal(umdev__wire_hdr_size(bytes), 32);
	assert_int_equal(umdev__wire_hdr_flags(bytes), 0x80000040u);
	umdev__wire_hdr_encode(out, &h);
	assert_memory_equal(out, bytes, 16);
}

static void test_V15_V16_reply_header(void **state)
{
	const uint8_t req[16] = {7, 0, 4, 0, 32, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0};
	const uint8_t ok[16] = {7, 0, 4, 0, 32, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
	const uint8_t err[16] = {7, 0, 4, 0, 16, 0, 0, 0, 0x21, 0, 0, 0, EBUSY, 0, 0, 0};
	uint8_t out[16];

	(void)state;
	umdev__wire_reply_hdr(out, req, 16, 0);
	assert_memory_equal(out, ok, 16);
	umdev__wire_reply_hdr(out, req, 16, EBUSY); /* an error reply has no payload */
	assert_memory_equal(out, err, 16);
}

static void test_V23_V24_msg_size(void **state)
{
	(void)state;
	assert_int_equal(umdev__wire_check_size(8), -EINVAL);
	assert_int_equal(umdev__wire_check_size(15), -EINVAL);
	assert_int_equal(umdev__wire_check_size(16), 0);
	assert_int_equal(umdev__wire_check_size(16 + 16 + 1048576), 0);
	assert_int_equal(umdev__wire_check_size(16 + 16 + 1048576 + 1), -E2BIG);
}

/* ---- VERSION (§7.1) ---- */

static void test_V34_V37_version(void **state)
{
	uint8_t p[8] = {0, 0, 2, 0, '{', '}', 0};
	struct vfio_user_version v;
	uint8_t out[7];

	(void)state;
	assert_int_equal(umdev__wire_version_decode(p, 2, &v), -EINVAL); /* V-37 */
	assert_int_equal(umdev__wire_version_decode(p, 4, &v), 0);
	assert_int_equal(v.caps_len, 0);
	assert_int_equal(umdev__wire_version_decode(p, 7, &v), 0);
	assert_int_equal(v.major, 0);
	assert_int_equal(v.minor, 2);
	assert_ptr_equal(v.caps, p + 4);
	assert_int_equal(v.caps_len, 3);
	assert_int_equal(umdev__wire_version_size(3), 7);
	umdev__wire_version_encode(out, 0, 2, "{}", 3);
	assert_memory_equal(out, p, 7);
}

/* ---- DMA_MAP, DMA_UNMAP (§8.2, §8.3) ---- */

static void test_V75_V76_dma_map(void **state)
{
	uint8_t p[40] = {0};
	struct vfio_user_dma_map m;

	(void)state;
	p32(p, 32);
	p32(p + 4, 3);
	p64(p + 8, 0x1000);
	p64(p + 16, 0x100000);
	p64(p + 24, 0x10000);
	assert_int_equal(umdev__wire_dma_map_decode(p, 32, &m), 0);
	assert_int_equal(m.argsz, 32);
	assert_int_equal(m.flags, 3);
	assert_int_equal(m.offset, 0x1000);
	assert_int_equal(m.addr, 0x100000);
	assert_int_equal(m.size, 0x10000);
	assert_int_equal(umdev__wire_dma_map_decode(p, 40, &m), 0); /* a longer argsz is fine */
	assert_int_equal(umdev__wire_dma_map_decode(p, 31, &m), -EINVAL);
	p32(p, 31);
	assert_int_equal(umdev__wire_dma_map_decode(p, 32, &m), -EINVAL);
}

static void test_V78_dma_unmap_echo(void **state)
{
	uint8_t p[24] = {0}, out[24];
	struct vfio_user_dma_unmap u;

	(void)state;
	p32(p, 24);
	p32(p + 4, VFIO_DMA_UNMAP_FLAG_ALL);
	p64(p + 8, 0x100000);
	p64(p + 16, 0x10000);
	assert_int_equal(umdev__wire_dma_unmap_decode(p, 24, &u), 0);
	assert_int_equal(u.flags, VFIO_DMA_UNMAP_FLAG_ALL);
	assert_int_equal(u.addr, 0x100000);
	assert_int_equal(u.size, 0x10000);
	umdev__wire_dma_unmap_encode(out, &u); /* the reply echoes the request */
	assert_memory_equal(out, p, 24);
	assert_int_equal(umdev__wire_dma_unmap_decode(p, 23, &u), -EINVAL);
	p32(p, 16);
	assert_int_equal(umdev__wire_dma_unmap_decode(p, 24, &u), -EINVAL);
}

/* ---- information (§8.4-§8.7) ---- */

static void test_V42_device_info(void **state)
{
	const struct vfio_device_info info = {
	    .argsz = 16, .flags = 3, .num_regions = 9, .num_irqs = 5};
	const uint8_t want[16] = {16, 0, 0, 0, 3, 0, 0, 0, 9, 0, 0, 0, 5, 0, 0, 0};
	uint8_t p[16] = {0}, out[16];
	uint32_t argsz;

	(void)state;
	p32(p, 16);
	assert_int_equal(umdev__wire_device_info_decode(p, 16, &argsz), 0);
	assert_int_equal(argsz, 16);
	assert_int_equal(umdev__wire_device_info_decode(p, 8, &argsz), -EINVAL); /* V-28 */
	p32(p, 15);
	assert_int_equal(umdev__wire_device_info_decode(p, 16, &argsz), -EINVAL);
	umdev__wire_device_info_encode(out, &info);
	assert_memory_equal(out, want, 16);
}

static void test_V43_V45_region_info(void **state)
{
	struct vfio_region_info ri = {0};
	uint8_t p[32] = {0};

	(void)state;
	p32(p, 32);
	p32(p + 8, 7);
	assert_int_equal(umdev__wire_region_info_decode(p, 32, &ri), 0);
	assert_int_equal(ri.argsz, 32);
	assert_int_equal(ri.index, 7);
	assert_int_equal(umdev__wire_region_info_decode(p, 16, &ri), -EINVAL);
	p32(p, 16); /* V-45: argsz 16 */
	assert_int_equal(umdev__wire_region_info_decode(p, 32, &ri), -EINVAL);
}

static void test_V46_region_info_sparse_mmap(void **state)
{
	struct vfio_region_info ri = {
	    .argsz = 64, .flags = 0xf, .index = 2, .cap_offset = 32, .size = 0x2000};
	struct vfio_region_sparse_mmap_area area = {.offset = 0x1000, .size = 0x1000};
	uint8_t want[64] = {0}, out[64];

	(void)state;
	p32(want, 64);
	p32(want + 4, 0xf);
	p32(want + 8, 2);
	p32(want + 12, 32);
	p64(want + 16, 0x2000);
	p16(want + 32, VFIO_REGION_INFO_CAP_SPARSE_MMAP); /* id 1 */
	p16(want + 34, 1); /* version 1, next 0 */
	p32(want + 40, 1); /* nr_areas */
	p64(want + 48, 0x1000);
	p64(want + 56, 0x1000);
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(umdev__wire_region_info_encode(out, &ri, &area), 64);
	assert_memory_equal(out, want, 64);
	ri.argsz = 64;
	ri.flags = 0x3;
	ri.cap_offset = 0;
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(umdev__wire_region_info_encode(out, &ri, NULL), 32);
	assert_int_equal(out[32], 0xa5); /* nothing past the 32 bytes */
}

static void test_V47_region_io_fds(void **state)
{
	struct vfio_user_region_io_fds r;
	uint8_t p[16] = {0}, out[16];

	(void)state;
	p32(p, 16);
	p32(p + 4, 1);
	p32(p + 8, 7);
	p32(p + 12, 1);
	assert_int_equal(umdev__wire_region_io_fds_decode(p, 16, &r), 0);
	assert_int_equal(r.flags, 1);
	assert_int_equal(r.index, 7);
	assert_int_equal(r.count, 1);
	umdev__wire_region_io_fds_encode(out, &r);
	assert_memory_equal(out, p, 16);
	assert_int_equal(umdev__wire_region_io_fds_decode(p, 15, &r), -EINVAL);
}

static void test_V48_irq_info(void **state)
{
	struct vfio_irq_info ii;
	uint8_t p[16] = {0}, out[16];

	(void)state;
	p32(p, 16);
	p32(p + 4, 7);
	p32(p + 8, 0);
	p32(p + 12, 1);
	assert_int_equal(umdev__wire_irq_info_decode(p, 16, &ii), 0);
	assert_int_equal(ii.index, 0);
	umdev__wire_irq_info_encode(out, &ii);
	assert_memory_equal(out, p, 16);
	assert_int_equal(umdev__wire_irq_info_decode(p, 12, &ii), -EINVAL);
	p32(p, 12);
	assert_int_equal(umdev__wire_irq_info_decode(p, 16, &ii), -EINVAL);
}

/* ---- SET_IRQS (§8.8) ---- */

static void test_V55_set_irqs(void **state)
{
	struct vfio_user_set_irqs set;
	uint8_t p[21] = {0};

	(void)state;
	p32(p, 21);
	p32(p + 4, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER);
	p32(p + 8, 1);
	p32(p + 12, 0);
	p32(p + 16, 1);
	p[20] = 1;
	assert_int_equal(umdev__wire_set_irqs_decode(p, 21, &set), 0);
	assert_int_equal(set.argsz, 21);
	assert_int_equal(set.flags, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER);
	assert_int_equal(set.index, 1);
	assert_int_equal(set.start, 0);
	assert_int_equal(set.count, 1);
	assert_int_equal(set.data_len, 1); /* the handler compares it with count (V-55) */
	assert_ptr_equal(set.data, p + 20);
	assert_int_equal(umdev__wire_set_irqs_decode(p, 19, &set), -EINVAL);
	p32(p, 19);
	assert_int_equal(umdev__wire_set_irqs_decode(p, 21, &set), -EINVAL);
}

/* ---- region access (§8.9) ---- */

static void test_V62_V65_region_read(void **state)
{
	struct vfio_user_region_access a;
	uint8_t p[20] = {0}, out[16];

	(void)state;
	p64(p, 0x10);
	p32(p + 8, 7);
	p32(p + 12, 4);
	assert_int_equal(umdev__wire_region_read_decode(p, 16, &a), 0);
	assert_int_equal(a.offset, 0x10);
	assert_int_equal(a.region, 7);
	assert_int_equal(a.count, 4);
	umdev__wire_region_access_encode(out, &a); /* the reply's 16 bytes echo the request */
	assert_memory_equal(out, p, 16);
	assert_int_equal(umdev__wire_region_read_decode(p, 20, &a), -EINVAL); /* V-65 */
	assert_int_equal(umdev__wire_region_read_decode(p, 12, &a), -EINVAL);
	p32(p + 12, 1048576);
	assert_int_equal(umdev__wire_region_read_decode(p, 16, &a), 0);
	p32(p + 12, 1048577);
	assert_int_equal(umdev__wire_region_read_decode(p, 16, &a), -E2BIG); /* V-65 */
}

static void test_V65_region_write(void **state)
{
	struct vfio_user_region_access a;
	uint8_t p[21] = {0};

	(void)state;
	p64(p, 4);
	p32(p + 8, 7);
	p32(p + 12, 4);
	memcpy(p + 16, "\x01\x02\x03\x04", 4);
	assert_int_equal(umdev__wire_region_write_decode(p, 20, &a), 0);
	assert_int_equal(a.count, 4);
	assert_ptr_equal(a.data, p + 16);
	assert_int_equal(umdev__wire_region_write_decode(p, 21, &a), -EINVAL); /* 16+count+1 */
	assert_int_equal(umdev__wire_region_write_decode(p, 19, &a), -EINVAL);
	assert_int_equal(umdev__wire_region_write_decode(p, 15, &a), -EINVAL);
}

static void test_V71_write_multi(void **state)
{
	uint8_t p[8 + 2 * 24] = {0}, out[8];
	struct vfio_user_region_access e;
	uint64_t n;

	(void)state;
	p64(p, 2);
	p64(p + 8, 4);
	p32(p + 16, 7);
	p32(p + 20, 2);
	p[24] = 0x55;
	p64(p + 32, 8);
	p32(p + 40, 0);
	p32(p + 44, 1);
	assert_int_equal(umdev__wire_write_multi_decode(p, sizeof(p), &n), 0);
	assert_int_equal(n, 2);
	umdev__wire_write_multi_entry(p, 0, &e);
	assert_int_equal(e.offset, 4);
	assert_int_equal(e.region, 7);
	assert_int_equal(e.count, 2);
	assert_ptr_equal(e.data, p + 24);
	umdev__wire_write_multi_entry(p, 1, &e);
	assert_int_equal(e.offset, 8);
	assert_int_equal(e.region, 0);
	assert_int_equal(e.count, 1);
	assert_int_equal(umdev__wire_write_multi_decode(p, sizeof(p) - 1, &n), -EINVAL);
	assert_int_equal(umdev__wire_write_multi_decode(p, 7, &n), -EINVAL);
	p64(p, 0);
	assert_int_equal(umdev__wire_write_multi_decode(p, 8, &n), -EINVAL);
	p64(p, 201);
	assert_int_equal(umdev__wire_write_multi_decode(p, 8 + 201 * 24, &n), -EINVAL);
	umdev__wire_write_multi_encode(out, 3);
	assert_memory_equal(out, "\x03\0\0\0\0\0\0\0", 8);
}

/* ---- message-based DMA (§8.12) ---- */

static void test_V82_dma_read_request_and_reply(void **state)
{
	const struct vfio_user_dma_rw req = {.addr = 0x2000, .count = 4};
	struct vfio_user_dma_rw r;
	uint8_t want[16], out[16], reply[20];

	(void)state;
	p64(want, 0x2000);
	p64(want + 8, 4);
	assert_int_equal(umdev__wire_dma_rw_req_size(false, 4), 16);
	umdev__wire_dma_rw_req_encode(out, false, &req);
	assert_memory_equal(out, want, 16);
	memcpy(reply, want, 16);
	memcpy(reply + 16, "abcd", 4);
	assert_int_equal(umdev__wire_dma_rw_reply_decode(reply, 20, false, &r), 0);
	assert_int_equal(r.addr, 0x2000);
	assert_int_equal(r.count, 4);
	assert_memory_equal(r.data, "abcd", 4);
	assert_int_equal(umdev__wire_dma_rw_reply_decode(reply, 19, false, &r), -EINVAL);
	assert_int_equal(umdev__wire_dma_rw_reply_decode(reply, 12, false, &r), -EINVAL);
}

static void test_V82_dma_write_request_and_reply(void **state)
{
	const struct vfio_user_dma_rw req = {
	    .addr = 0x3000, .count = 2, .data = (const uint8_t *)"xy"};
	struct vfio_user_dma_rw r;
	uint8_t want[18], out[18];

	(void)state;
	p64(want, 0x3000);
	p64(want + 8, 2);
	memcpy(want + 16, "xy", 2);
	assert_int_equal(umdev__wire_dma_rw_req_size(true, 2), 18);
	umdev__wire_dma_rw_req_encode(out, true, &req);
	assert_memory_equal(out, want, 18);
	/* the reply: address and a 4- or 8-byte count */
	assert_int_equal(umdev__wire_dma_rw_reply_decode(want, 16, true, &r), 0);
	assert_int_equal(r.count, 2);
	p32(want + 8, 2);
	assert_int_equal(umdev__wire_dma_rw_reply_decode(want, 12, true, &r), 0);
	assert_int_equal(r.addr, 0x3000);
	assert_int_equal(r.count, 2);
	assert_int_equal(umdev__wire_dma_rw_reply_decode(want, 18, true, &r), -EINVAL);
	assert_int_equal(umdev__wire_dma_rw_reply_decode(want, 8, true, &r), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_V15_header_round_trip),
	    cmocka_unit_test(test_V15_V16_reply_header),
	    cmocka_unit_test(test_V23_V24_msg_size),
	    cmocka_unit_test(test_V34_V37_version),
	    cmocka_unit_test(test_V75_V76_dma_map),
	    cmocka_unit_test(test_V78_dma_unmap_echo),
	    cmocka_unit_test(test_V42_device_info),
	    cmocka_unit_test(test_V43_V45_region_info),
	    cmocka_unit_test(test_V46_region_info_sparse_mmap),
	    cmocka_unit_test(test_V47_region_io_fds),
	    cmocka_unit_test(test_V48_irq_info),
	    cmocka_unit_test(test_V55_set_irqs),
	    cmocka_unit_test(test_V62_V65_region_read),
	    cmocka_unit_test(test_V65_region_write),
	    cmocka_unit_test(test_V71_write_multi),
	    cmocka_unit_test(test_V82_dma_read_request_and_reply),
	    cmocka_unit_test(test_V82_dma_write_request_and_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
