// SPDX-License-Identifier: MIT
/* The core PCI helper (src/vfio/pci.c): config space rules of vfio-user.md §9.3. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <linux/vfio.h>

#include "private.h"

static struct umdev__pci pci;

static int setup(void **state)
{
	(void)state;
	umdev__pci_defaults(&pci, 0x1234, 0x5678, 0x070002, 0x10);
	return 0;
}

static uint32_t rd(unsigned int off, unsigned int n)
{
	uint8_t b[4] = {0};

	umdev__pci_read(&pci, off, b, n);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void wr(unsigned int off, unsigned int n, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	umdev__pci_write(&pci, off, b, n);
}

static void test_V62_identity_registers(void **state)
{
	(void)state;
	assert_int_equal(rd(0, 4), 0x56781234);
	assert_int_equal(rd(8, 4), 0x07000210);
	assert_int_equal(rd(0x2c, 4), 0x56781234); /* subsystem defaults to the IDs */
	assert_int_equal(rd(0x34, 1), 0);
	assert_int_equal(rd(6, 2), 0);
}

static void test_V66_read_only_registers_ignore_writes(void **state)
{
	(void)state;
	wr(0, 2, 0xffff);
	wr(8, 4, 0xffffffff);
	wr(0x0e, 2, 0xffff); /* header type, BIST */
	assert_int_equal(rd(0, 4), 0x56781234);
	assert_int_equal(rd(8, 4), 0x07000210);
	assert_int_equal(rd(0x0e, 2), 0);
}

static void test_V67_command_mask_default_and_override(void **state)
{
	(void)state;
	wr(4, 2, 0xffff);
	assert_int_equal(rd(4, 2), 0x0547);
	assert_int_equal(umdev__pci_define(&pci, 4, 2, 0x0001, 0x0401), 0); /* mtty.md §6.1 */
	assert_int_equal(rd(4, 2), 0x0001);
	wr(4, 2, 0xffff);
	assert_int_equal(rd(4, 2), 0x0401 | 0x0001);
	wr(4, 2, 0);
	assert_int_equal(rd(4, 2), 0x0000);
	umdev__pci_reset(&pci);
	assert_int_equal(rd(4, 2), 0x0001);
}

static void test_V68_status_rw1c_and_level_bit(void **state)
{
	uint8_t v[2] = {0x00, 0xf9};

	(void)state;
	umdev__pci_store(&pci, 6, v, 2); /* every RW1C bit set by the driver */
	wr(6, 2, 0x8000);
	assert_int_equal(rd(6, 2), 0x7900);
	wr(6, 2, 0x0010 | 0x0008); /* read-only bits */
	assert_int_equal(rd(6, 2), 0x7900);
	pci.intx_level = true;
	assert_int_equal(rd(6, 2), 0x7908);
	assert_int_equal(rd(6, 1), 0x08);
	assert_int_equal(rd(4, 4) >> 16, 0x7908);
	pci.intx_level = false;
	assert_int_equal(rd(6, 2) & 8, 0);
}

static void test_V69_bar_sizing(void **state)
{
	(void)state;
	assert_int_equal(umdev__pci_set_bar(&pci, 0, 8, UMDEV_PCI_BAR_IO), 0);
	assert_int_equal(umdev__pci_set_bar(&pci, 1, 4096, UMDEV_PCI_BAR_PREFETCH), 0);
	assert_int_equal(umdev__pci_set_bar(&pci, 2, 1ull << 33, UMDEV_PCI_BAR_MEM64), 0);
	assert_int_equal(rd(0x10, 4), 0x1);
	assert_int_equal(rd(0x14, 4), 0x8);
	assert_int_equal(rd(0x18, 4), 0x4);
	wr(0x10, 4, 0xffffffff);
	wr(0x14, 4, 0xffffffff);
	wr(0x18, 4, 0xffffffff);
	wr(0x1c, 4, 0xffffffff);
	wr(0x20, 4, 0xffffffff); /* unimplemented */
	assert_int_equal(rd(0x10, 4), 0xfffffff9);
	assert_int_equal(rd(0x14, 4), 0xfffff008);
	assert_int_equal(rd(0x18, 4), 0x00000004); /* 8 GiB: no low address bit writable */
	assert_int_equal(rd(0x1c, 4), 0xfffffffe);
	assert_int_equal(rd(0x20, 4), 0);
	wr(0x10, 4, 0xc123);
	assert_int_equal(rd(0x10, 4), 0xc121); /* (value & ~7) | 1 */
	assert_int_equal(umdev__pci_region_size(&pci, 0), 8);
	assert_int_equal(umdev__pci_region_size(&pci, 3), 0); /* upper half of the 64-bit BAR */
	assert_int_equal(umdev__pci_region_flags(&pci, 0),
			 VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
	assert_int_equal(umdev__pci_region_flags(&pci, 4), 0);
	umdev__pci_reset(&pci);
	assert_int_equal(rd(0x10, 4), 0x1);
}

static void test_V69_bad_bar_declarations(void **state)
{
	(void)state;
	assert_int_equal(umdev__pci_set_bar(&pci, 6, 16, 0), -EINVAL);
	assert_int_equal(umdev__pci_set_bar(&pci, 0, 24, 0), -EINVAL);
	assert_int_equal(umdev__pci_set_bar(&pci, 0, 8, 0), -EINVAL); /* memory < 16 */
	assert_int_equal(umdev__pci_set_bar(&pci, 0, 2, UMDEV_PCI_BAR_IO), -EINVAL);
	assert_int_equal(umdev__pci_set_bar(&pci, 0, 16, UMDEV_PCI_BAR_IO | UMDEV_PCI_BAR_MEM64),
			 -EINVAL);
	assert_int_equal(umdev__pci_set_bar(&pci, 5, 16, UMDEV_PCI_BAR_MEM64), -EINVAL);
	assert_int_equal(umdev__pci_set_bar(&pci, 0, 1ull << 32, 0), -EINVAL);
	assert_int_equal(umdev__pci_set_bar(&pci, 0, 16, 0x100), -EINVAL);
	assert_int_equal(umdev__pci_set_bar(&pci, 0, 16, UMDEV_PCI_BAR_MEM64), 0);
	assert_int_equal(umdev__pci_set_bar(&pci, 1, 16, 0), -EINVAL); /* the upper dword */
	assert_int_equal(rd(0x10, 4), 0x4); /* unchanged by the failures */
}

static void test_rom_bar_and_writable_bytes(void **state)
{
	(void)state;
	wr(0x30, 4, 0xffffffff);
	assert_int_equal(rd(0x30, 4), 0);
	wr(0x0c, 2, 0xabcd);
	wr(0x3c, 2, 0xffff);
	assert_int_equal(rd(0x0c, 2), 0xabcd);
	assert_int_equal(rd(0x3c, 2), 0x00ff); /* line RW, pin RO */
	umdev__pci_reset(&pci);
	assert_int_equal(rd(0x0c, 2), 0);
}

static void test_V70_msi_capability(void **state)
{
	(void)state;
	assert_int_equal(umdev__pci_add_msi(&pci, 0x50, 1, 0), 0);
	assert_int_equal(rd(0x34, 1), 0x50);
	assert_int_equal(rd(6, 2) & 0x10, 0x10);
	assert_int_equal(rd(0x50, 2), 0x0005);
	wr(0x50, 2, 0xffff);
	assert_int_equal(rd(0x50, 2), 0x0005);
	wr(0x52, 2, 0x0070);
	assert_int_equal(rd(0x52, 2), 0);
	wr(0x52, 2, 0x0001);
	assert_int_equal(rd(0x52, 2), 1);
	wr(0x54, 4, 0xfee00003);
	assert_int_equal(rd(0x54, 4), 0xfee00000);
	wr(0x58, 4, 0xffffffff);
	assert_int_equal(rd(0x58, 4), 0xffff);
	umdev__pci_reset(&pci);
	assert_int_equal(rd(0x52, 2), 0);
	assert_int_equal(rd(0x54, 4), 0);
	assert_int_equal(rd(6, 2) & 0x10, 0x10);
}

static void test_V70_msi_mme_clamped_to_mmc(void **state)
{
	(void)state;
	assert_int_equal(
	    umdev__pci_add_msi(&pci, 0x60, 4, UMDEV_PCI_MSI_64BIT | UMDEV_PCI_MSI_MASKABLE), 0);
	assert_int_equal(rd(0x62, 2), 0x0184); /* MMC 2, 64-bit, maskable */
	wr(0x62, 2, 0x0070);
	assert_int_equal(rd(0x62, 2), 0x01a4); /* MME 7 -> 2 */
	wr(0x62, 2, 0x0010);
	assert_int_equal(rd(0x62, 2), 0x0194);
	wr(0x68, 4, 0xffffffff); /* upper address */
	assert_int_equal(rd(0x68, 4), 0xffffffff);
	wr(0x70, 4, 0xffffffff); /* mask bits: 4 vectors */
	assert_int_equal(rd(0x70, 4), 0xf);
	assert_true(umdev__pci_msi_masked(&pci, 2));
	umdev__pci_msi_set_pending(&pci, 2, true);
	assert_int_equal(rd(0x74, 4), 0x4);
	wr(0x74, 4, 0); /* pending is read-only */
	assert_int_equal(rd(0x74, 4), 0x4);
	assert_int_equal(umdev__pci_add_msi(&pci, 0x80, 1, 0), -EINVAL); /* one per device */
}

static void test_msi_bad_declarations(void **state)
{
	(void)state;
	assert_int_equal(umdev__pci_add_msi(&pci, 0x3c, 1, 0), -EINVAL);
	assert_int_equal(umdev__pci_add_msi(&pci, 0x52, 1, 0), -EINVAL);
	assert_int_equal(umdev__pci_add_msi(&pci, 0x50, 3, 0), -EINVAL);
	assert_int_equal(umdev__pci_add_msi(&pci, 0x50, 64, 0), -EINVAL);
	assert_int_equal(umdev__pci_add_msi(&pci, 0xf0, 1, UMDEV_PCI_MSI_MASKABLE), -EINVAL);
	assert_int_equal(umdev__pci_add_msi(&pci, 0x50, 1, 4), -EINVAL);
	assert_int_equal(rd(0x34, 1), 0);
}

static void test_define_rejects_bad_ranges(void **state)
{
	(void)state;
	assert_int_equal(umdev__pci_define(&pci, 0xff, 2, 0, 0), -EINVAL);
	assert_int_equal(umdev__pci_define(&pci, 0x40, 3, 0, 0), -EINVAL);
	assert_int_equal(umdev__pci_define(&pci, 0x40, 4, 0x80000023, 0), 0);
	wr(0x40, 4, 0);
	assert_int_equal(rd(0x40, 4), 0x80000023);
}

#define T(fn) cmocka_unit_test_setup(fn, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_V62_identity_registers),
	    T(test_V66_read_only_registers_ignore_writes),
	    T(test_V67_command_mask_default_and_override),
	    T(test_V68_status_rw1c_and_level_bit),
	    T(test_V69_bar_sizing),
	    T(test_V69_bad_bar_declarations),
	    T(test_rom_bar_and_writable_bytes),
	    T(test_V70_msi_capability),
	    T(test_V70_msi_mme_clamped_to_mmc),
	    T(test_msi_bad_declarations),
	    T(test_define_rejects_bad_ranges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   V-62, V-66, V-67, V-68, V-69, V-70
 */
