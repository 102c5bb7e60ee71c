// SPDX-License-Identifier: MIT
/*
 * The mbochs device model (src/drivers/mbochs/device.c, issue 11): dispi register semantics
 * and reset, the EDID block, mode -> stride and offset, the video memory budget. PCI config
 * space and BAR sizing of a real device are proved through vfio-user by
 * tests/functional/test_mbochs.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "device.h"

#define MB (1024 * 1024ull)

static uint16_t rd16(const struct mbochs_regs *r, unsigned int index)
{
	uint8_t b[2];

	mbochs_mmio_read(r, MBOCHS_VBE_OFFSET + 2 * index, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static void wr16(struct mbochs_regs *r, unsigned int index, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	mbochs_mmio_write(r, MBOCHS_VBE_OFFSET + 2 * index, b, 2);
}

static void set_mode(struct mbochs_regs *r, uint16_t x, uint16_t y, uint16_t bpp)
{
	wr16(r, MBOCHS_VBE_XRES, x);
	wr16(r, MBOCHS_VBE_YRES, y);
	wr16(r, MBOCHS_VBE_BPP, bpp);
	wr16(r, MBOCHS_VBE_ENABLE, MBOCHS_VBE_ENABLED);
}

static void test_vbe_power_on_id_and_video_memory(void **state)
{
	struct mbochs_regs r;

	(void)state;
	mbochs_regs_init(&r, 16 * MB, 1920, 1440);
	assert_int_equal(rd16(&r, MBOCHS_VBE_ID), 0xB0C5);
	assert_int_equal(rd16(&r, MBOCHS_VBE_VIDEO_MEMORY_64K), 256); /* 16 MB / 64 KiB */
	for (unsigned int i = MBOCHS_VBE_XRES; i <= MBOCHS_VBE_Y_OFFSET; i++)
		assert_int_equal(rd16(&r, i), 0);
}

static void test_vbe_registers_read_back_and_memory_is_read_only(void **state)
{
	struct mbochs_regs r;

	(void)state;
	mbochs_regs_init(&r, 4 * MB, 800, 600);
	for (unsigned int i = MBOCHS_VBE_XRES; i <= MBOCHS_VBE_Y_OFFSET; i++)
		wr16(&r, i, (uint16_t)(0x100 + i));
	for (unsigned int i = MBOCHS_VBE_XRES; i <= MBOCHS_VBE_Y_OFFSET; i++)
		assert_int_equal(rd16(&r, i), 0x100 + i);
	wr16(&r, MBOCHS_VBE_VIDEO_MEMORY_64K, 1);
	assert_int_equal(rd16(&r, MBOCHS_VBE_VIDEO_MEMORY_64K), 64);
}

static void test_vbe_other_accesses_read_0_and_are_ignored(void **state)
{
	struct mbochs_regs r, before;
	uint8_t b[4] = {0xaa, 0xbb, 0xcc, 0xdd};

	(void)state;
	mbochs_regs_init(&r, 4 * MB, 800, 600);
	before = r;
	mbochs_mmio_write(&r, MBOCHS_VBE_OFFSET + 2, b, 4); /* 4 bytes: not a register */
	mbochs_mmio_write(&r, MBOCHS_VBE_OFFSET + 3, b, 2); /* odd */
	mbochs_mmio_write(&r, 0x400, b, 2); /* VGA ports */
	mbochs_mmio_write(&r, 0x600, b, 2); /* QEMU extended */
	mbochs_mmio_write(&r, 0x516, b, 2); /* past the last register */
	mbochs_mmio_write(&r, 0x10, b, 2); /* EDID is read-only */
	assert_memory_equal(&r, &before, sizeof(r));
	mbochs_mmio_read(&r, 0x600, b, 4);
	assert_memory_equal(b, "\0\0\0\0", 4);
	memset(b, 0xff, sizeof(b));
	mbochs_mmio_read(&r, MBOCHS_VBE_OFFSET, b, 4);
	assert_memory_equal(b, "\0\0\0\0", 4);
	memset(b, 0xff, sizeof(b));
	mbochs_mmio_read(&r, 0x516, b, 2);
	assert_memory_equal(b, "\0\0", 2);
}

static void test_reset_restores_registers_keeps_edid(void **state)
{
	struct mbochs_regs r, fresh;

	(void)state;
	mbochs_regs_init(&r, 4 * MB, 800, 600);
	fresh = r;
	set_mode(&r, 640, 480, 32);
	wr16(&r, MBOCHS_VBE_ID, 0xB0C0);
	wr16(&r, MBOCHS_VBE_Y_OFFSET, 3);
	mbochs_regs_reset(&r);
	assert_memory_equal(&r, &fresh, sizeof(r));
	assert_int_equal(rd16(&r, MBOCHS_VBE_ID), 0xB0C5);
}

static void check_edid(uint32_t memsize_mb, uint32_t x, uint32_t y)
{
	struct mbochs_regs r;
	uint8_t e[MBOCHS_EDID_AREA];
	uint8_t sum = 0;

	mbochs_regs_init(&r, memsize_mb * MB, x, y);
	mbochs_mmio_read(&r, 0, e, sizeof(e));
	assert_memory_equal(e, "\x00\xff\xff\xff\xff\xff\xff\x00", 8);
	assert_int_equal(e[18], 1); /* EDID 1.4 */
	assert_int_equal(e[19], 4);
	for (int i = 0; i < MBOCHS_EDID_SIZE; i++)
		sum = (uint8_t)(sum + e[i]);
	assert_int_equal(sum, 0);
	/* the first detailed timing is the max resolution */
	assert_int_equal(e[56] | (e[58] >> 4) << 8, x);
	assert_int_equal(e[59] | (e[61] >> 4) << 8, y);
	assert_true((e[54] | e[55] << 8) > 0);
	for (int i = MBOCHS_EDID_SIZE; i < MBOCHS_EDID_AREA; i++)
		assert_int_equal(e[i], 0);
}

static void test_edid_is_valid_for_each_type(void **state)
{
	(void)state;
	check_edid(4, 800, 600);
	check_edid(16, 1920, 1440);
	check_edid(64, 2560, 1600);
}

static void test_mode_stride_and_offset(void **state)
{
	struct mbochs_regs r;
	struct mbochs_mode m;
	char text[64];

	(void)state;
	mbochs_regs_init(&r, 16 * MB, 1920, 1440);
	mbochs_mode_get(&r, &m);
	assert_false(m.enabled);
	assert_int_equal(mbochs_mode_format(&m, text, sizeof(text)), 9);
	assert_string_equal(text, "disabled\n");
	set_mode(&r, 1024, 768, 32);
	mbochs_mode_get(&r, &m);
	assert_true(m.enabled);
	assert_int_equal(m.stride, 4096);
	assert_int_equal(m.offset, 0);
	mbochs_mode_format(&m, text, sizeof(text));
	assert_string_equal(text, "1024x768 32bpp stride 4096 offset 0\n");
	/* a virtual width wider than xres sets the stride; x/y offsets pan */
	wr16(&r, MBOCHS_VBE_VIRT_WIDTH, 1280);
	wr16(&r, MBOCHS_VBE_X_OFFSET, 16);
	wr16(&r, MBOCHS_VBE_Y_OFFSET, 10);
	mbochs_mode_get(&r, &m);
	assert_int_equal(m.stride, 5120);
	assert_int_equal(m.offset, 16 * 4 + 10 * 5120);
	/* a narrower virtual width is xres */
	wr16(&r, MBOCHS_VBE_VIRT_WIDTH, 100);
	mbochs_mode_get(&r, &m);
	assert_int_equal(m.stride, 4096);
	assert_int_equal(m.offset, 16 * 4 + 10 * 4096);
}

static void test_mode_disabled_when_unusable(void **state)
{
	struct mbochs_regs r;
	struct mbochs_mode m;

	(void)state;
	mbochs_regs_init(&r, 4 * MB, 800, 600);
	set_mode(&r, 800, 600, 16); /* only 32 bpp */
	mbochs_mode_get(&r, &m);
	assert_false(m.enabled);
	set_mode(&r, 63, 600, 32); /* under 64 pixels */
	mbochs_mode_get(&r, &m);
	assert_false(m.enabled);
	set_mode(&r, 1024, 1024, 32); /* exactly 4 MB: fits */
	mbochs_mode_get(&r, &m);
	assert_true(m.enabled);
	wr16(&r, MBOCHS_VBE_Y_OFFSET, 1); /* one line beyond video memory */
	mbochs_mode_get(&r, &m);
	assert_false(m.enabled);
	assert_int_equal(m.stride, 0);
	wr16(&r, MBOCHS_VBE_Y_OFFSET, 0);
	wr16(&r, MBOCHS_VBE_ENABLE, 0);
	mbochs_mode_get(&r, &m);
	assert_false(m.enabled);
}

static void test_budget_accounting(void **state)
{
	struct mbochs_budget b = {.total = 256 * MB};

	(void)state;
	assert_int_equal(mbochs_budget_available(&b, 4 * MB), 64);
	assert_int_equal(mbochs_budget_available(&b, 16 * MB), 16);
	assert_int_equal(mbochs_budget_available(&b, 64 * MB), 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(mbochs_budget_reserve(&b, 64 * MB), 0);
	assert_int_equal(mbochs_budget_reserve(&b, 16 * MB), 0);
	assert_int_equal(mbochs_budget_available(&b, 64 * MB), 0);
	assert_int_equal(mbochs_budget_available(&b, 16 * MB), 3);
	assert_int_equal(mbochs_budget_available(&b, 4 * MB), 12);
	assert_int_equal(mbochs_budget_reserve(&b, 64 * MB), -ENOSPC);
	assert_int_equal(b.used, 208 * MB); /* a refused reserve changes nothing */
	mbochs_budget_release(&b, 16 * MB);
	assert_int_equal(mbochs_budget_available(&b, 64 * MB), 1);
	assert_int_equal(mbochs_budget_reserve(&b, 64 * MB), 0);
	assert_int_equal(mbochs_budget_available(&b, 4 * MB), 0);
	assert_int_equal(mbochs_budget_reserve(&b, 4 * MB), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vbe_power_on_id_and_video_memory),
	    cmocka_unit_test(test_vbe_registers_read_back_and_memory_is_read_only),
	    cmocka_unit_test(test_vbe_other_accesses_read_0_and_are_ignored),
	    cmocka_unit_test(test_reset_restores_registers_keeps_edid),
	    cmocka_unit_test(test_edid_is_valid_for_each_type),
	    cmocka_unit_test(test_mode_stride_and_offset),
	    cmocka_unit_test(test_mode_disabled_when_unusable),
	    cmocka_unit_test(test_budget_accounting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
