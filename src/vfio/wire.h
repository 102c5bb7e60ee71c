/* SPDX-License-Identifier: MIT */
/*
 * The vfio-user wire layer (vfio-user.md §6, §8): the only place that knows message layouts.
 * The 16-byte header, then one decoder and one encoder per message type. Decoders take a
 * payload and its length and fill a host struct, returning 0 or the errno the spec names for
 * a malformed message (-EINVAL short or inconsistent, -E2BIG over a size limit); the checks
 * that need device state stay with the handlers. Encoders write into a caller's buffer of the
 * size the matching *_SIZE macro or return value gives.
 *
 * Byte order: the wire is little-endian (§6.1). Every field goes through wire_get*() and
 * wire_put*(), which assemble bytes explicitly, so no struct is ever copied to or from the
 * wire and the host's order does not matter (compilers turn these into plain loads on x86).
 * Where vfio-user reuses a <linux/vfio.h> struct (vfio_region_info, vfio_irq_info,
 * vfio_irq_set, vfio_region_sparse_mmap_area) the decoded form is that struct and its
 * constants; the messages vfio has no struct for get one here.
 */
#ifndef UMDEV_VFIO_WIRE_H
#define UMDEV_VFIO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vfio.h>

/* ---- wire constants (vfio-user.md §6, §8) ---- */

#define VFIO_USER_HDR_SIZE 16u
#define VFIO_USER_MAX_DATA_XFER 1048576u
#define VFIO_USER_MAX_MSG_SIZE (16u + 16u + VFIO_USER_MAX_DATA_XFER)
#define VFIO_USER_MAX_MSG_FDS 8u
#define VFIO_USER_PGSIZE 4096u
#define VFIO_USER_JSON_DEPTH 16
#define VFIO_USER_MAX_WR_CNT 200u

#define VFIO_USER_F_TYPE_MASK 0xfu
#define VFIO_USER_F_TYPE_COMMAND 0x0u
#define VFIO_USER_F_TYPE_REPLY 0x1u
#define VFIO_USER_F_NO_REPLY 0x10u
#define VFIO_USER_F_ERROR 0x20u

enum vfio_user_command {
	VFIO_USER_VERSION = 1,
	VFIO_USER_DMA_MAP = 2,
	VFIO_USER_DMA_UNMAP = 3,
	VFIO_USER_DEVICE_GET_INFO = 4,
	VFIO_USER_DEVICE_GET_REGION_INFO = 5,
	VFIO_USER_DEVICE_GET_REGION_IO_FDS = 6,
	VFIO_USER_DEVICE_GET_IRQ_INFO = 7,
	VFIO_USER_DEVICE_SET_IRQS = 8,
	VFIO_USER_REGION_READ = 9,
	VFIO_USER_REGION_WRITE = 10,
	VFIO_USER_DMA_READ = 11,
	VFIO_USER_DMA_WRITE = 12,
	VFIO_USER_DEVICE_RESET = 13,
	VFIO_USER_REGION_WRITE_MULTI = 15,
	VFIO_USER_DEVICE_FEATURE = 16,
	VFIO_USER_MIG_DATA_READ = 17,
	VFIO_USER_MIG_DATA_WRITE = 18,
};

#define VFIO_USER_NUM_REGIONS 9u
#define VFIO_USER_NUM_IRQS 5u

/* ---- little-endian fields ---- */

static inline uint16_t wire_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t wire_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t wire_get64(const uint8_t *p)
{
	return (uint64_t)wire_get32(p) | (uint64_t)wire_get32(p + 4) << 32;
}

static inline void wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void wire_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void wire_put64(uint8_t *p, uint64_t v)
{
	wire_put32(p, (uint32_t)v);
	wire_put32(p + 4, (uint32_t)(v >> 32));
}

/* ---- the header (§6.1) ---- */

struct vfio_user_header {
	uint16_t msg_id;
	uint16_t command;
	uint32_t msg_size; /* header included */
	uint32_t flags; /* VFIO_USER_F_* */
	uint32_t error; /* an errno when VFIO_USER_F_ERROR */
};

void umdev__wire_hdr_decode(const uint8_t *p, struct vfio_user_header *h);
void umdev__wire_hdr_encode(uint8_t *p, const struct vfio_user_header *h);
/* msg_size of the header at @p, without decoding the rest (framing) */
static inline uint32_t umdev__wire_hdr_size(const uint8_t *p)
{
	return wire_get32(p + 4);
}
/* flags of the header at @p */
static inline uint32_t umdev__wire_hdr_flags(const uint8_t *p)
{
	return wire_get32(p + 8);
}
/*
 * The reply header to the request header @req (msg_id and command echoed): success with
 * @payload_len bytes after it, or, @err non-zero (a positive errno), an error reply of
 * header only (§6.1).
 */
void umdev__wire_reply_hdr(uint8_t *p, const uint8_t *req, size_t payload_len, uint32_t err);
/* Check msg_size. Return: 0, or -EINVAL (below 16) / -E2BIG (above the maximum). */
int umdev__wire_check_size(uint32_t msg_size);

/* ---- VERSION (§7.1) ---- */

struct vfio_user_version {
	uint16_t major, minor;
	const uint8_t *caps; /* the JSON text field, NUL included; not checked here */
	size_t caps_len;
};

int umdev__wire_version_decode(const uint8_t *p, size_t len, struct vfio_user_version *v);
/* Return: bytes for the reply with a @text_len-byte (NUL included) capabilities field. */
static inline size_t umdev__wire_version_size(size_t text_len)
{
	return 4 + text_len;
}
void umdev__wire_version_encode(uint8_t *p, uint16_t major, uint16_t minor, const char *text,
				size_t text_len);

/* ---- DMA_MAP, DMA_UNMAP (§8.2, §8.3) ---- */

struct vfio_user_dma_map {
	uint32_t argsz;
	uint32_t flags; /* VFIO_DMA_MAP_FLAG_* */
	uint64_t offset; /* in the message's fd */
	uint64_t addr;
	uint64_t size;
};
#define VFIO_USER_DMA_MAP_SIZE 32u

struct vfio_user_dma_unmap {
	uint32_t argsz;
	uint32_t flags; /* VFIO_DMA_UNMAP_FLAG_* */
	uint64_t addr;
	uint64_t size;
};
#define VFIO_USER_DMA_UNMAP_SIZE 24u

int umdev__wire_dma_map_decode(const uint8_t *p, size_t len, struct vfio_user_dma_map *m);
int umdev__wire_dma_unmap_decode(const uint8_t *p, size_t len, struct vfio_user_dma_unmap *u);
/* the reply echoes the request; VFIO_USER_DMA_UNMAP_SIZE bytes */
void umdev__wire_dma_unmap_encode(uint8_t *p, const struct vfio_user_dma_unmap *u);

/* ---- DEVICE_GET_INFO (§8.4) ---- */

#define VFIO_USER_DEVICE_INFO_SIZE 16u

/* the request: argsz only; Return: 0 or -EINVAL */
int umdev__wire_device_info_decode(const uint8_t *p, size_t len, uint32_t *argsz);
/* argsz, flags, num_regions, num_irqs of @info; VFIO_USER_DEVICE_INFO_SIZE bytes */
void umdev__wire_device_info_encode(uint8_t *p, const struct vfio_device_info *info);

/* ---- DEVICE_GET_REGION_INFO (§8.5) ---- */

#define VFIO_USER_REGION_INFO_SIZE 32u
/* the sparse-mmap capability with one area, right after the region info */
#define VFIO_USER_REGION_INFO_SPARSE_SIZE (VFIO_USER_REGION_INFO_SIZE + 16u + 16u)

int umdev__wire_region_info_decode(const uint8_t *p, size_t len, struct vfio_region_info *ri);
/*
 * The reply: @ri, then, with @area, the sparse-mmap capability (cap_offset 32, one area; the
 * caller sets VFIO_REGION_INFO_FLAG_CAPS). Return: bytes written, 32 or
 * VFIO_USER_REGION_INFO_SPARSE_SIZE.
 */
size_t umdev__wire_region_info_encode(uint8_t *p, const struct vfio_region_info *ri,
				      const struct vfio_region_sparse_mmap_area *area);

/* ---- DEVICE_GET_REGION_IO_FDS (§8.6) ---- */

struct vfio_user_region_io_fds {
	uint32_t argsz, flags, index, count;
};
#define VFIO_USER_REGION_IO_FDS_SIZE 16u

int umdev__wire_region_io_fds_decode(const uint8_t *p, size_t len,
				     struct vfio_user_region_io_fds *r);
void umdev__wire_region_io_fds_encode(uint8_t *p, const struct vfio_user_region_io_fds *r);

/* ---- DEVICE_GET_IRQ_INFO (§8.7) ---- */

#define VFIO_USER_IRQ_INFO_SIZE 16u

int umdev__wire_irq_info_decode(const uint8_t *p, size_t len, struct vfio_irq_info *ii);
void umdev__wire_irq_info_encode(uint8_t *p, const struct vfio_irq_info *ii);

/* ---- DEVICE_SET_IRQS (§8.8) ---- */

/*
 * struct vfio_irq_set's fields; its data[] (a flexible array) is a pointer into the message
 * here, so the decoded form can sit in a union with the others.
 */
struct vfio_user_set_irqs {
	uint32_t argsz;
	uint32_t flags; /* VFIO_IRQ_SET_DATA_* | VFIO_IRQ_SET_ACTION_* */
	uint32_t index, start, count;
	const uint8_t *data; /* DATA_BOOL: len - 20 bytes (the handler checks count) */
	size_t data_len;
};
#define VFIO_USER_SET_IRQS_SIZE 20u

int umdev__wire_set_irqs_decode(const uint8_t *p, size_t len, struct vfio_user_set_irqs *set);

/* ---- REGION_READ, REGION_WRITE, REGION_WRITE_MULTI (§8.9) ---- */

struct vfio_user_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	const uint8_t *data; /* WRITE: count bytes of the message */
};
#define VFIO_USER_REGION_ACCESS_SIZE 16u

/* READ: exactly 16 bytes; count above the transfer maximum: -E2BIG */
int umdev__wire_region_read_decode(const uint8_t *p, size_t len, struct vfio_user_region_access *a);
/* WRITE: 16 bytes and count bytes of data */
int umdev__wire_region_write_decode(const uint8_t *p, size_t len,
				    struct vfio_user_region_access *a);
/* the replies' 16 bytes (READ's data follows, written by the caller) */
void umdev__wire_region_access_encode(uint8_t *p, const struct vfio_user_region_access *a);

#define VFIO_USER_WRITE_MULTI_ENTRY_SIZE 24u

/* wr_cnt in [1, VFIO_USER_MAX_WR_CNT] and the length that count implies */
int umdev__wire_write_multi_decode(const uint8_t *p, size_t len, uint64_t *ret_wr_cnt);
/* entry @i of a message umdev__wire_write_multi_decode() accepted; data points at @p */
void umdev__wire_write_multi_entry(const uint8_t *p, uint64_t i, struct vfio_user_region_access *a);
#define VFIO_USER_WRITE_MULTI_REPLY_SIZE 8u
void umdev__wire_write_multi_encode(uint8_t *p, uint64_t wr_cnt);

/* ---- DEVICE_FEATURE (§8.11) ---- */

#define VFIO_USER_DEVICE_FEATURE_SIZE 8u

/* ---- DMA_READ, DMA_WRITE: the server's requests and the client's replies (§8.12) ---- */

struct vfio_user_dma_rw {
	uint64_t addr;
	uint64_t count;
	const uint8_t *data; /* DMA_WRITE request, DMA_READ reply: count bytes */
};
#define VFIO_USER_DMA_RW_SIZE 16u

/* Return: payload bytes of the request (DMA_WRITE carries its data) */
static inline size_t umdev__wire_dma_rw_req_size(bool write, uint64_t count)
{
	return VFIO_USER_DMA_RW_SIZE + (write ? (size_t)count : 0);
}
/* the request's payload; @write: copies count bytes of r->data after the 16 bytes */
void umdev__wire_dma_rw_req_encode(uint8_t *p, bool write, const struct vfio_user_dma_rw *r);
/*
 * A client's reply. DMA_READ: 16 bytes and count bytes of data. DMA_WRITE: address and a
 * count of 4 or 8 bytes (both accepted). Return: 0 or -EINVAL.
 */
int umdev__wire_dma_rw_reply_decode(const uint8_t *p, size_t len, bool write,
				    struct vfio_user_dma_rw *r);

#endif
