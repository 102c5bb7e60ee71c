/* SPDX-License-Identifier: MIT */
/*
 * The mbochs device model (issue 11; facts from the kernel's samples/vfio-mdev/mbochs.c):
 * the bochs dispi (VBE) registers and the EDID block of BAR2, the mode they describe, and the
 * parent-wide video memory budget. Plain data and pure functions: no umdev call, no lock (the
 * caller serialises), so the unit tests (tests/unit/test_mbochs_device.c) drive it directly.
 * Private to src/drivers/mbochs/.
 */
#ifndef UMDEV_MBOCHS_DEVICE_H
#define UMDEV_MBOCHS_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PCI identity: QEMU's bochs-display IDs, which the guest's bochs DRM driver matches. */
#define MBOCHS_VENDOR_ID 0x1234
#define MBOCHS_DEVICE_ID 0x1111
#define MBOCHS_SUBSYS_VENDOR_ID 0x1af4
#define MBOCHS_SUBSYS_ID 0x1100
#define MBOCHS_CLASS_CODE 0x038000 /* display controller, other */
#define MBOCHS_REVISION 1

/* BAR2: 4 KiB of MMIO (QEMU's bochs-display layout). */
#define MBOCHS_MMIO_SIZE 4096
#define MBOCHS_EDID_OFFSET 0x000 /* 0x000-0x3ff: EDID block */
#define MBOCHS_EDID_AREA 0x400
#define MBOCHS_EDID_SIZE 128 /* one EDID 1.4 base block, no extension */
#define MBOCHS_VBE_OFFSET 0x500 /* 0x500-0x515: 16-bit dispi registers, index * 2 */

/* Dispi register indexes (QEMU's hw/display/vga_int.h, the kernel's bochs driver). */
enum mbochs_vbe_index {
	MBOCHS_VBE_ID,
	MBOCHS_VBE_XRES,
	MBOCHS_VBE_YRES,
	MBOCHS_VBE_BPP,
	MBOCHS_VBE_ENABLE,
	MBOCHS_VBE_BANK,
	MBOCHS_VBE_VIRT_WIDTH,
	MBOCHS_VBE_VIRT_HEIGHT,
	MBOCHS_VBE_X_OFFSET,
	MBOCHS_VBE_Y_OFFSET,
	MBOCHS_VBE_VIDEO_MEMORY_64K,
	MBOCHS_VBE_NR,
};

#define MBOCHS_VBE_ID5 0xB0C5 /* ID after reset */
#define MBOCHS_VBE_ENABLED 0x01 /* ENABLE bit 0 */

/* The registers of one device; the caller serialises access. */
struct mbochs_regs {
	uint16_t vbe[MBOCHS_VBE_NR];
	uint64_t memsize; /* bytes of video memory (BAR0) */
	uint8_t edid[MBOCHS_EDID_SIZE];
};

/* What the registers describe (the kernel's mbochs_check_framebuffer()). */
struct mbochs_mode {
	bool enabled; /* false: no picture; the other fields are 0 */
	uint32_t width, height; /* pixels */
	uint32_t bpp; /* 32: XRGB8888, little-endian (B, G, R, X bytes) */
	uint64_t stride; /* bytes per line: max(virt width, width) * 4 */
	uint64_t offset; /* bytes from BAR0 start to the first visible pixel */
};

/**
 * mbochs_regs_init() - power-on state of a device with @memsize bytes of video memory whose
 * EDID offers at most @max_x x @max_y pixels: mbochs_regs_reset() plus the EDID block.
 */
void mbochs_regs_init(struct mbochs_regs *r, uint64_t memsize, uint32_t max_x, uint32_t max_y);

/**
 * mbochs_regs_reset() - every dispi register 0, except ID (MBOCHS_VBE_ID5) and
 * VIDEO_MEMORY_64K (memsize / 64 KiB). Video memory and the EDID block are not touched.
 */
void mbochs_regs_reset(struct mbochs_regs *r);

/**
 * mbochs_mmio_read() - a read of @count bytes at @offset of BAR2 into @buf.
 *
 * EDID bytes at 0x000-0x3ff (0 past the 128-byte block); a dispi register for a 2-byte read
 * at an even offset in 0x500-0x515 (little-endian); 0 for everything else (VGA ports at
 * 0x400, QEMU's extended registers at 0x600: unhandled, as in the kernel sample). The caller
 * checked @offset + @count <= MBOCHS_MMIO_SIZE.
 */
void mbochs_mmio_read(const struct mbochs_regs *r, uint64_t offset, void *buf, size_t count);

/**
 * mbochs_mmio_write() - a write of @count bytes at @offset of BAR2: a 2-byte write at an even
 * offset in 0x500-0x515 sets that dispi register, except VIDEO_MEMORY_64K (read-only, as in
 * QEMU); every other write is ignored.
 */
void mbochs_mmio_write(struct mbochs_regs *r, uint64_t offset, const void *buf, size_t count);

/**
 * mbochs_mode_get() - the visible framebuffer the registers describe. Enabled only with the
 * ENABLE bit set, BPP 32, at least 64x64 pixels, and offset + stride * height within video
 * memory (the kernel sample's checks); else all zero.
 */
void mbochs_mode_get(const struct mbochs_regs *r, struct mbochs_mode *mode);

/**
 * mbochs_mode_format() - the `mode` file: "1024x768 32bpp stride 4096 offset 0\n" or
 * "disabled\n". Return: bytes written without the NUL, at most @len - 1.
 */
size_t mbochs_mode_format(const struct mbochs_mode *mode, char *buf, size_t len);

/**
 * mbochs_edid_build() - a 128-byte EDID 1.4 block whose preferred (and largest) mode is
 * @xres x @yres at 60 Hz with reduced blanking; checksum included.
 */
void mbochs_edid_build(uint8_t *edid, uint32_t xres, uint32_t yres);

/* The parent-wide video memory budget (module parameter memory=). Caller serialises. */
struct mbochs_budget {
	uint64_t total; /* bytes */
	uint64_t used; /* bytes of the devices that exist */
};

/** Devices of @memsize bytes that still fit. */
unsigned int mbochs_budget_available(const struct mbochs_budget *b, uint64_t memsize);

/** Take @memsize bytes. Return: 0; -ENOSPC when they do not fit (nothing changes). */
int mbochs_budget_reserve(struct mbochs_budget *b, uint64_t memsize);

/** Give back what mbochs_budget_reserve() took. */
void mbochs_budget_release(struct mbochs_budget *b, uint64_t memsize);

#endif
