// SPDX-License-Identifier: MIT
/*
 * The mbochs device model (device.h): dispi registers, EDID, mode, budget. No locks and no
 * umdev calls: mbochs.c serialises each device under its own lock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "device.h"

void mbochs_regs_reset(struct mbochs_regs *r)
{
	memset(r->vbe, 0, sizeof(r->vbe));
	r->vbe[MBOCHS_VBE_ID] = MBOCHS_VBE_ID5;
	r->vbe[MBOCHS_VBE_VIDEO_MEMORY_64K] = (uint16_t)(r->memsize / (64 * 1024));
}

void mbochs_regs_init(struct mbochs_regs *r, uint64_t memsize, uint32_t max_x, uint32_t max_y)
{
	memset(r, 0, sizeof(*r));
	r->memsize = memsize;
	mbochs_regs_reset(r);
	mbochs_edid_build(r->edid, max_x, max_y);
}

/* The register index of a 2-byte access at @offset, or -1 when it is none. */
static int vbe_index(uint64_t offset, size_t count)
{
	if (count != 2 || offset < MBOCHS_VBE_OFFSET || offset % 2 ||
	    offset >= MBOCHS_VBE_OFFSET + 2 * MBOCHS_VBE_NR)
		return -1;
	return (int)((offset - MBOCHS_VBE_OFFSET) / 2);
}

void mbochs_mmio_read(const struct mbochs_regs *r, uint64_t offset, void *buf, size_t count)
{
	uint8_t *b = buf;
	int index = vbe_index(offset, count);

	memset(buf, 0, count); /* unhandled: reads 0 */
	if (index >= 0) {
		b[0] = (uint8_t)r->vbe[index];
		b[1] = (uint8_t)(r->vbe[index] >> 8);
		return;
	}
	for (size_t i = 0; i < count; i++)
		if (offset + i < MBOCHS_EDID_SIZE)
			b[i] = r->edid[offset + i];
}

void mbochs_mmio_write(struct mbochs_regs *r, uint64_t offset, const void *buf, size_t count)
{
	const uint8_t *b = buf;
	int index = vbe_index(offset, count);

	if (index < 0 || index == MBOCHS_VBE_VIDEO_MEMORY_64K)
		return; /* unhandled or read-only: ignored */
	r->vbe[index] = (uint16_t)(b[0] | b[1] << 8);
}

void mbochs_mode_get(const struct mbochs_regs *r, struct mbochs_mode *mode)
{
	const uint16_t *vbe = r->vbe;
	uint32_t virt_width;

	memset(mode, 0, sizeof(*mode));
	if (!(vbe[MBOCHS_VBE_ENABLE] & MBOCHS_VBE_ENABLED) || vbe[MBOCHS_VBE_BPP] != 32)
		return;
	mode->width = vbe[MBOCHS_VBE_XRES];
	mode->height = vbe[MBOCHS_VBE_YRES];
	mode->bpp = 32;
	virt_width = vbe[MBOCHS_VBE_VIRT_WIDTH];
	if (virt_width < mode->width)
		virt_width = mode->width;
	mode->stride = (uint64_t)virt_width * 4;
	mode->offset = (uint64_t)vbe[MBOCHS_VBE_X_OFFSET] * 4 +
		       (uint64_t)vbe[MBOCHS_VBE_Y_OFFSET] * mode->stride;
	if (mode->width < 64 || mode->height < 64 ||
	    mode->offset + mode->stride * mode->height > r->memsize)
		memset(mode, 0, sizeof(*mode));
	else
		mode->enabled = true;
}

size_t mbochs_mode_format(const struct mbochs_mode *mode, char *buf, size_t len)
{
	int n;

	if (!mode->enabled)
		n = snprintf(buf, len, "disabled\n");
	else
		n = snprintf(buf, len, "%ux%u %ubpp stride %llu offset %llu\n", mode->width,
			     mode->height, mode->bpp, (unsigned long long)mode->stride,
			     (unsigned long long)mode->offset);
	if (n < 0 || len == 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

/* An 18-byte detailed timing descriptor: @xres x @yres at 60 Hz, CVT reduced blanking. */
static void edid_dtd(uint8_t *d, uint32_t xres, uint32_t yres)
{
	const uint32_t hblank = 160, hfront = 48, hsync = 32;
	const uint32_t vblank = 46, vfront = 3, vsync = 6;
	uint32_t clock = (xres + hblank) * (yres + vblank) * 60 / 10000; /* 10 kHz units */

	d[0] = (uint8_t)clock;
	d[1] = (uint8_t)(clock >> 8);
	d[2] = (uint8_t)xres;
	d[3] = (uint8_t)hblank;
	d[4] = (uint8_t)((xres >> 8) << 4 | (hblank >> 8));
	d[5] = (uint8_t)yres;
	d[6] = (uint8_t)vblank;
	d[7] = (uint8_t)((yres >> 8) << 4 | (vblank >> 8));
	d[8] = (uint8_t)hfront;
	d[9] = (uint8_t)hsync;
	d[10] = (uint8_t)((vfront & 0xf) << 4 | (vsync & 0xf));
	d[11] = (uint8_t)((hfront >> 8) << 6 | (hsync >> 8) << 4);
	d[12] = (uint8_t)(xres * 254 / 3840); /* image size in mm at about 96 dpi */
	d[13] = (uint8_t)(yres * 254 / 3840);
	d[14] = (uint8_t)(((xres * 254 / 3840) >> 8) << 4 | ((yres * 254 / 3840) >> 8));
	d[17] = 0x1a; /* digital separate sync, +hsync, -vsync */
}

/* A display descriptor (tag 0xFC name, 0xFD range limits, 0x10 dummy) with @text. */
static void edid_text(uint8_t *d, uint8_t tag, const char *text)
{
	size_t n = strlen(text);

	d[3] = tag;
	memset(d + 5, ' ', 13);
	memcpy(d + 5, text, n);
	if (n < 13)
		d[5 + n] = '\n';
}

void mbochs_edid_build(uint8_t *e, uint32_t xres, uint32_t yres)
{
	static const uint8_t header[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	uint8_t sum = 0;

	memset(e, 0, MBOCHS_EDID_SIZE);
	memcpy(e, header, sizeof(header));
	e[8] = 0x49; /* manufacturer "RHT" (as QEMU's EDID): R=18 H=8 T=20 */
	e[9] = 0x14;
	e[10] = 0x34; /* product code 0x1234, little-endian */
	e[11] = 0x12;
	e[16] = 1; /* week */
	e[17] = 2024 - 1990; /* year */
	e[18] = 1; /* EDID 1.4 */
	e[19] = 4;
	e[20] = 0xa5; /* digital, 8 bits per colour, DisplayPort */
	e[21] = (uint8_t)(xres * 254 / 38400 + 1); /* screen size in cm */
	e[22] = (uint8_t)(yres * 254 / 38400 + 1);
	e[23] = 120; /* gamma 2.2 */
	e[24] = 0x06; /* RGB 4:4:4, preferred timing is native, continuous frequency */
	/* chromaticity: sRGB */
	static const uint8_t chroma[10] = {0xee, 0x91, 0xa3, 0x54, 0x4c,
					   0x99, 0x26, 0x0f, 0x50, 0x54};
	memcpy(e + 25, chroma, sizeof(chroma));
	for (int i = 38; i < 54; i += 2) {
		e[i] = 0x01; /* standard timings unused */
		e[i + 1] = 0x01;
	}
	edid_dtd(e + 54, xres, yres);
	edid_text(e + 72, 0xfc, "mbochs");
	/* range limits: 50-70 Hz vertical, 30-160 kHz horizontal, 340 MHz, no timing formula */
	e[90 + 3] = 0xfd;
	e[90 + 5] = 50;
	e[90 + 6] = 70;
	e[90 + 7] = 30;
	e[90 + 8] = 160;
	e[90 + 9] = 34;
	e[90 + 10] = 0x01;
	e[90 + 11] = '\n';
	memset(e + 90 + 12, ' ', 6);
	e[108 + 3] = 0x10; /* dummy descriptor */
	for (int i = 0; i < MBOCHS_EDID_SIZE - 1; i++)
		sum = (uint8_t)(sum + e[i]);
	e[MBOCHS_EDID_SIZE - 1] = (uint8_t)(0x100 - sum);
}

unsigned int mbochs_budget_available(const struct mbochs_budget *b, uint64_t memsize)
{
	return memsize && b->used <= b->total ? (unsigned int)((b->total - b->used) / memsize) : 0;
}

int mbochs_budget_reserve(struct mbochs_budget *b, uint64_t memsize)
{
	if (mbochs_budget_available(b, memsize) == 0)
		return -ENOSPC;
	b->used += memsize;
	return 0;
}

void mbochs_budget_release(struct mbochs_budget *b, uint64_t memsize)
{
	b->used = memsize <= b->used ? b->used - memsize : 0;
}
