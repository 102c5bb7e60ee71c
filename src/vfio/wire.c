// SPDX-License-Identifier: MIT
/*
 * The vfio-user wire layer (wire.h): every message layout of vfio-user.md §6-§8, and nothing
 * else. No state, no locks, no system calls; the handlers (session.c, dma.c, irq.c) and the
 * framing (server.c) call it.
 */
#include <errno.h>
#include <string.h>

#include "wire.h"

void umdev__wire_hdr_decode(const uint8_t *p, struct vfio_user_header *h)
{
	h->msg_id = wire_get16(p);
	h->command = wire_get16(p + 2);
	h->msg_size = wire_get32(p + 4);
	h->flags = wire_get32(p + 8);
	h->error = wire_get32(p + 12);
}

void umdev__wire_hdr_encode(uint8_t *p, const struct vfio_user_header *h)
{
	wire_put16(p, h->msg_id);
	wire_put16(p + 2, h->command);
	wire_put32(p + 4, h->msg_size);
	wire_put32(p + 8, h->flags);
	wire_put32(p + 12, h->error);
}

void umdev__wire_reply_hdr(uint8_t *p, const uint8_t *req, size_t payload_len, uint32_t err)
{
	struct vfio_user_header h = {
	    .msg_id = wire_get16(req),
	    .command = wire_get16(req + 2),
	    .msg_size = (uint32_t)(VFIO_USER_HDR_SIZE + (err ? 0 : payload_len)),
	    .flags = VFIO_USER_F_TYPE_REPLY | (err ? VFIO_USER_F_ERROR : 0),
	    .error = err,
	};

	umdev__wire_hdr_encode(p, &h);
}

int umdev__wire_check_size(uint32_t msg_size)
{
	if (msg_size < VFIO_USER_HDR_SIZE)
		return -EINVAL;
	if (msg_size > VFIO_USER_MAX_MSG_SIZE)
		return -E2BIG;
	return 0;
}

/* ---- argsz-led requests: 32-bit words, the first one argsz ---- */

/*
 * Decode @n 32-bit words of a request whose first word is argsz: the payload and argsz must
 * hold at least @min bytes (§8: shorter is EINVAL; longer is accepted, as vfio's ioctls do).
 */
static int words_decode(const uint8_t *p, size_t len, uint32_t min, uint32_t *w, unsigned int n)
{
	if (len < min || wire_get32(p) < min)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		w[i] = wire_get32(p + 4 * i);
	return 0;
}

static void words_encode(uint8_t *p, const uint32_t *w, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		wire_put32(p + 4 * i, w[i]);
}

/* ---- VERSION ---- */

int umdev__wire_version_decode(const uint8_t *p, size_t len, struct vfio_user_version *v)
{
	if (len < 4)
		return -EINVAL;
	v->major = wire_get16(p);
	v->minor = wire_get16(p + 2);
	v->caps = p + 4;
	v->caps_len = len - 4;
	return 0;
}

void umdev__wire_version_encode(uint8_t *p, uint16_t major, uint16_t minor, const char *text,
				size_t text_len)
{
	wire_put16(p, major);
	wire_put16(p + 2, minor);
	memcpy(p + 4, text, text_len);
}

/* ---- DMA_MAP, DMA_UNMAP ---- */

int umdev__wire_dma_map_decode(const uint8_t *p, size_t len, struct vfio_user_dma_map *m)
{
	if (len < VFIO_USER_DMA_MAP_SIZE || wire_get32(p) < VFIO_USER_DMA_MAP_SIZE)
		return -EINVAL;
	m->argsz = wire_get32(p);
	m->flags = wire_get32(p + 4);
	m->offset = wire_get64(p + 8);
	m->addr = wire_get64(p + 16);
	m->size = wire_get64(p + 24);
	return 0;
}

int umdev__wire_dma_unmap_decode(const uint8_t *p, size_t len, struct vfio_user_dma_unmap *u)
{
	if (len < VFIO_USER_DMA_UNMAP_SIZE || wire_get32(p) < VFIO_USER_DMA_UNMAP_SIZE)
		return -EINVAL;
	u->argsz = wire_get32(p);
	u->flags = wire_get32(p + 4);
	u->addr = wire_get64(p + 8);
	u->size = wire_get64(p + 16);
	return 0;
}

void umdev__wire_dma_unmap_encode(uint8_t *p, const struct vfio_user_dma_unmap *u)
{
	wire_put32(p, u->argsz);
	wire_put32(p + 4, u->flags);
	wire_put64(p + 8, u->addr);
	wire_put64(p + 16, u->size);
}

/* ---- DEVICE_GET_INFO ---- */

int umdev__wire_device_info_decode(const uint8_t *p, size_t len, uint32_t *argsz)
{
	return words_decode(p, len, VFIO_USER_DEVICE_INFO_SIZE, argsz, 1);
}

void umdev__wire_device_info_encode(uint8_t *p, const struct vfio_device_info *info)
{
	words_encode(
	    p, (const uint32_t[]){info->argsz, info->flags, info->num_regions, info->num_irqs}, 4);
}

/* ---- DEVICE_GET_REGION_INFO ---- */

int umdev__wire_region_info_decode(const uint8_t *p, size_t len, struct vfio_region_info *ri)
{
	if (len < VFIO_USER_REGION_INFO_SIZE || wire_get32(p) < VFIO_USER_REGION_INFO_SIZE)
		return -EINVAL;
	ri->argsz = wire_get32(p);
	ri->flags = wire_get32(p + 4);
	ri->index = wire_get32(p + 8);
	ri->cap_offset = wire_get32(p + 12);
	ri->size = wire_get64(p + 16);
	ri->offset = wire_get64(p + 24);
	return 0;
}

size_t umdev__wire_region_info_encode(uint8_t *p, const struct vfio_region_info *ri,
				      const struct vfio_region_sparse_mmap_area *area)
{
	wire_put32(p, ri->argsz);
	wire_put32(p + 4, ri->flags);
	wire_put32(p + 8, ri->index);
	wire_put32(p + 12, ri->cap_offset);
	wire_put64(p + 16, ri->size);
	wire_put64(p + 24, ri->offset);
	if (!area)
		return VFIO_USER_REGION_INFO_SIZE;
	/* struct vfio_region_info_cap_sparse_mmap: header, nr_areas, reserved, areas[] */
	p += VFIO_USER_REGION_INFO_SIZE;
	wire_put16(p, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	wire_put16(p + 2, 1); /* version */
	wire_put32(p + 4, 0); /* next: end of chain */
	wire_put32(p + 8, 1); /* nr_areas */
	wire_put32(p + 12, 0);
	wire_put64(p + 16, area->offset);
	wire_put64(p + 24, area->size);
	return VFIO_USER_REGION_INFO_SPARSE_SIZE;
}

/* ---- DEVICE_GET_REGION_IO_FDS ---- */

int umdev__wire_region_io_fds_decode(const uint8_t *p, size_t len,
				     struct vfio_user_region_io_fds *r)
{
	uint32_t w[4];
	int ret = words_decode(p, len, VFIO_USER_REGION_IO_FDS_SIZE, w, 4);

	if (ret < 0)
		return ret;
	*r = (struct vfio_user_region_io_fds){w[0], w[1], w[2], w[3]};
	return 0;
}

void umdev__wire_region_io_fds_encode(uint8_t *p, const struct vfio_user_region_io_fds *r)
{
	words_encode(p, (const uint32_t[]){r->argsz, r->flags, r->index, r->count}, 4);
}

/* ---- DEVICE_GET_IRQ_INFO ---- */

int umdev__wire_irq_info_decode(const uint8_t *p, size_t len, struct vfio_irq_info *ii)
{
	uint32_t w[4];
	int ret = words_decode(p, len, VFIO_USER_IRQ_INFO_SIZE, w, 4);

	if (ret < 0)
		return ret;
	*ii = (struct vfio_irq_info){.argsz = w[0], .flags = w[1], .index = w[2], .count = w[3]};
	return 0;
}

void umdev__wire_irq_info_encode(uint8_t *p, const struct vfio_irq_info *ii)
{
	words_encode(p, (const uint32_t[]){ii->argsz, ii->flags, ii->index, ii->count}, 4);
}

/* ---- DEVICE_SET_IRQS ---- */

int umdev__wire_set_irqs_decode(const uint8_t *p, size_t len, struct vfio_user_set_irqs *set)
{
	uint32_t w[5];
	int ret = words_decode(p, len, VFIO_USER_SET_IRQS_SIZE, w, 5);

	if (ret < 0)
		return ret;
	*set = (struct vfio_user_set_irqs){w[0],
					   w[1],
					   w[2],
					   w[3],
					   w[4],
					   p + VFIO_USER_SET_IRQS_SIZE,
					   len - VFIO_USER_SET_IRQS_SIZE};
	return 0;
}

/* ---- REGION_READ, REGION_WRITE, REGION_WRITE_MULTI ---- */

static void access_decode(const uint8_t *p, struct vfio_user_region_access *a)
{
	a->offset = wire_get64(p);
	a->region = wire_get32(p + 8);
	a->count = wire_get32(p + 12);
	a->data = p + VFIO_USER_REGION_ACCESS_SIZE;
}

int umdev__wire_region_read_decode(const uint8_t *p, size_t len, struct vfio_user_region_access *a)
{
	if (len != VFIO_USER_REGION_ACCESS_SIZE)
		return -EINVAL;
	access_decode(p, a);
	a->data = NULL;
	return a->count > VFIO_USER_MAX_DATA_XFER ? -E2BIG : 0;
}

int umdev__wire_region_write_decode(const uint8_t *p, size_t len, struct vfio_user_region_access *a)
{
	if (len < VFIO_USER_REGION_ACCESS_SIZE)
		return -EINVAL;
	access_decode(p, a);
	if (len != VFIO_USER_REGION_ACCESS_SIZE + (size_t)a->count)
		return -EINVAL;
	return a->count > VFIO_USER_MAX_DATA_XFER ? -E2BIG : 0;
}

void umdev__wire_region_access_encode(uint8_t *p, const struct vfio_user_region_access *a)
{
	wire_put64(p, a->offset);
	wire_put32(p + 8, a->region);
	wire_put32(p + 12, a->count);
}

int umdev__wire_write_multi_decode(const uint8_t *p, size_t len, uint64_t *ret_wr_cnt)
{
	uint64_t wr_cnt;

	if (len < 8)
		return -EINVAL;
	wr_cnt = wire_get64(p);
	if (wr_cnt < 1 || wr_cnt > VFIO_USER_MAX_WR_CNT ||
	    len != 8 + VFIO_USER_WRITE_MULTI_ENTRY_SIZE * wr_cnt)
		return -EINVAL;
	*ret_wr_cnt = wr_cnt;
	return 0;
}

void umdev__wire_write_multi_entry(const uint8_t *p, uint64_t i, struct vfio_user_region_access *a)
{
	/* offset, region, count, then 8 bytes of data of which count are used */
	access_decode(p + 8 + VFIO_USER_WRITE_MULTI_ENTRY_SIZE * i, a);
}

void umdev__wire_write_multi_encode(uint8_t *p, uint64_t wr_cnt)
{
	wire_put64(p, wr_cnt);
}

/* ---- DMA_READ, DMA_WRITE ---- */

void umdev__wire_dma_rw_req_encode(uint8_t *p, bool write, const struct vfio_user_dma_rw *r)
{
	wire_put64(p, r->addr);
	wire_put64(p + 8, r->count);
	if (write)
		memcpy(p + VFIO_USER_DMA_RW_SIZE, r->data, (size_t)r->count);
}

int umdev__wire_dma_rw_reply_decode(const uint8_t *p, size_t len, bool write,
				    struct vfio_user_dma_rw *r)
{
	r->data = NULL;
	if (write) {
		if (len != 12 && len != 16)
			return -EINVAL;
		r->addr = wire_get64(p);
		r->count = len == 12 ? wire_get32(p + 8) : wire_get64(p + 8);
		return 0;
	}
	if (len < VFIO_USER_DMA_RW_SIZE)
		return -EINVAL;
	r->addr = wire_get64(p);
	r->count = wire_get64(p + 8);
	if (len - VFIO_USER_DMA_RW_SIZE != r->count)
		return -EINVAL;
	r->data = p + VFIO_USER_DMA_RW_SIZE;
	return 0;
}
