/* SPDX-License-Identifier: MIT */
/*
 * A vfio-user test client with its own byte layouts, written from vfio-user.md (§6.1 header,
 * §7-§8 payloads) and deliberately not from the server's headers, so that a misreading shared
 * by both cannot hide. Little-endian helpers, connect, send with fds, receive with fds.
 */
#ifndef UMDEV_TESTS_VCLIENT_H
#define UMDEV_TESTS_VCLIENT_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* spec §8.1 command numbers, spelled out again here */
enum {
	C_VERSION = 1,
	C_DMA_MAP = 2,
	C_DMA_UNMAP = 3,
	C_GET_INFO = 4,
	C_REGION_INFO = 5,
	C_REGION_IO_FDS = 6,
	C_IRQ_INFO = 7,
	C_SET_IRQS = 8,
	C_REGION_READ = 9,
	C_REGION_WRITE = 10,
	C_DMA_READ = 11,
	C_DMA_WRITE = 12,
	C_RESET = 13,
	C_WRITE_MULTI = 15,
	C_FEATURE = 16,
	C_MIG_READ = 17,
};

#define VC_MAX_PAYLOAD (1u << 21)
#define VC_QEMU_CAPS                                                                               \
	"{\"capabilities\": {\"pgsizes\": 4096, \"max_msg_fds\": 16, \"max_dma_maps\": 65535, "    \
	"\"max_data_xfer_size\": 1048576, \"migration\": {\"max_bitmap_size\": 268435456, "        \
	"\"pgsize\": 4096}, \"write_multiple\": true}}"

static inline void vc_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void vc_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void vc_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t vc_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t vc_get64(const uint8_t *p)
{
	return (uint64_t)vc_get32(p) | (uint64_t)vc_get32(p + 4) << 32;
}

struct vc_reply {
	uint16_t msg_id, command;
	uint32_t msg_size, flags, error;
	uint8_t *payload; /* msg_size - 16 bytes, malloc'ed */
	size_t len;
	int fds[16];
	unsigned int nr_fds;
};

static inline void vc_reply_free(struct vc_reply *r)
{
	free(r->payload);
	for (unsigned int i = 0; i < r->nr_fds; i++)
		close(r->fds[i]);
	memset(r, 0, sizeof(*r));
}

/* Return: a connected fd, or -errno. */
static inline int vc_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Send raw bytes with @nr_fds fds attached to the first byte. Return: 0 or -errno. */
static inline int vc_send_raw(int fd, const void *buf, size_t len, const int *fds,
			      unsigned int nr_fds)
{
	char control[CMSG_SPACE(sizeof(int) * 16)];
	struct iovec iov = {(void *)buf, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	size_t done = 0;

	memset(control, 0, sizeof(control));
	if (nr_fds) {
		struct cmsghdr *c;

		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nr_fds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nr_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nr_fds);
	}
	while (done < len) {
		ssize_t r;

		iov.iov_base = (char *)buf + done;
		iov.iov_len = len - done;
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (r < 0)
			return -errno;
		done += (size_t)r;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	return 0;
}

/* Header of §6.1 followed by @payload. */
static inline int vc_send(int fd, uint16_t msg_id, uint16_t command, uint32_t flags,
			  const void *payload, size_t len, const int *fds, unsigned int nr_fds)
{
	uint8_t *buf = malloc(16 + len);
	int ret;

	if (!buf)
		return -ENOMEM;
	vc_put16(buf, msg_id);
	vc_put16(buf + 2, command);
	vc_put32(buf + 4, (uint32_t)(16 + len));
	vc_put32(buf + 8, flags);
	vc_put32(buf + 12, 0);
	if (len)
		memcpy(buf + 16, payload, len);
	ret = vc_send_raw(fd, buf, 16 + len, fds, nr_fds);
	free(buf);
	return ret;
}

/* Read exactly @len bytes, collecting fds. Return: 0, -EPIPE on EOF, -ETIMEDOUT. */
static inline int vc_read_full(int fd, void *buf, size_t len, struct vc_reply *r, int timeout_ms)
{
	size_t done = 0;

	while (done < len) {
		char control[CMSG_SPACE(sizeof(int) * 16)];
		struct iovec iov = {(char *)buf + done, len - done};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = control,
				    .msg_controllen = sizeof(control)};
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct cmsghdr *c;
		ssize_t n;

		if (poll(&p, 1, timeout_ms) == 0)
			return -ETIMEDOUT;
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int f;

				memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (r && r->nr_fds < 16)
					r->fds[r->nr_fds++] = f;
				else
					close(f);
			}
		}
		done += (size_t)n;
	}
	return 0;
}

/* Receive one message. Return: 0, -EPIPE (EOF before a header), -ETIMEDOUT, -EPROTO. */
static inline int vc_recv(int fd, struct vc_reply *r, int timeout_ms)
{
	uint8_t hdr[16];
	int ret;

	memset(r, 0, sizeof(*r));
	ret = vc_read_full(fd, hdr, 16, r, timeout_ms);
	if (ret < 0)
		return ret;
	r->msg_id = (uint16_t)(hdr[0] | hdr[1] << 8);
	r->command = (uint16_t)(hdr[2] | hdr[3] << 8);
	r->msg_size = vc_get32(hdr + 4);
	r->flags = vc_get32(hdr + 8);
	r->error = vc_get32(hdr + 12);
	if (r->msg_size < 16 || r->msg_size > VC_MAX_PAYLOAD)
		return -EPROTO;
	r->len = r->msg_size - 16;
	r->payload = calloc(1, r->len + 1);
	return vc_read_full(fd, r->payload, r->len, r, timeout_ms);
}

/* Whether the peer closed: EOF within @timeout_ms (data before it is discarded). */
static inline bool vc_eof(int fd, int timeout_ms)
{
	char b[256];
	struct pollfd p = {.fd = fd, .events = POLLIN};

	for (;;) {
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return false;
		n = recv(fd, b, sizeof(b), 0);
		if (n <= 0)
			return true;
	}
}

/* Send a command and wait for its reply (5 s). Return: as vc_recv(). */
static inline int vc_call(int fd, uint16_t command, const void *payload, size_t len, const int *fds,
			  unsigned int nr_fds, struct vc_reply *r)
{
	static _Thread_local uint16_t next_id = 100;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = vc_send(fd, next_id++, command, 0, payload, len, fds, nr_fds);
	if (ret < 0)
		return ret;
	return vc_recv(fd, r, 5000);
}

/* Call and return the reply's errno (0 on success); -errno of the transport. */
static inline int vc_call_err(int fd, uint16_t command, const void *payload, size_t len,
			      const int *fds, unsigned int nr_fds)
{
	struct vc_reply r;
	int ret = vc_call(fd, command, payload, len, fds, nr_fds, &r);

	if (ret == 0) {
		ret = (r.flags & 0x20) ? (int)r.error : 0;
		if ((r.flags & 0x20) && (r.msg_size != 16 || r.flags != 0x21))
			ret = -EPROTO; /* an error reply is exactly 16 bytes, flags 0x21 */
	}
	vc_reply_free(&r);
	return ret;
}

/* VERSION 0.@minor with @json (NULL: none). Return: reply errno or 0; r filled. */
static inline int vc_version(int fd, uint16_t minor, const char *json, struct vc_reply *r)
{
	size_t jl = json ? strlen(json) + 1 : 0;
	uint8_t *p = calloc(1, 4 + jl);
	int ret;

	vc_put16(p, 0);
	vc_put16(p + 2, minor);
	if (json)
		memcpy(p + 4, json, jl);
	ret = vc_call(fd, C_VERSION, p, 4 + jl, NULL, 0, r);
	free(p);
	if (ret == 0 && (r->flags & 0x20))
		ret = (int)r->error;
	return ret;
}

/* Connect and negotiate as QEMU does (VERSION 0.0, QEMU's capabilities). Return fd or -errno. */
static inline int vc_open(const char *path)
{
	struct vc_reply r;
	int fd = vc_connect(path), ret;

	if (fd < 0)
		return fd;
	ret = vc_version(fd, 0, VC_QEMU_CAPS, &r);
	vc_reply_free(&r);
	if (ret != 0) {
		close(fd);
		return ret > 0 ? -ret : ret;
	}
	return fd;
}

/* REGION_READ: @count bytes of region @region at @offset into @out. Return: errno or 0. */
static inline int vc_region_read(int fd, uint32_t region, uint64_t offset, uint32_t count,
				 void *out)
{
	uint8_t p[16];
	struct vc_reply r;
	int ret;

	vc_put64(p, offset);
	vc_put32(p + 8, region);
	vc_put32(p + 12, count);
	ret = vc_call(fd, C_REGION_READ, p, 16, NULL, 0, &r);
	if (ret == 0 && (r.flags & 0x20))
		ret = (int)r.error;
	else if (ret == 0 && (r.len != 16 + (size_t)count || vc_get32(r.payload + 12) != count))
		ret = -EPROTO;
	else if (ret == 0 && out)
		memcpy(out, r.payload + 16, count);
	vc_reply_free(&r);
	return ret;
}

static inline int vc_region_write(int fd, uint32_t region, uint64_t offset, const void *data,
				  uint32_t count)
{
	uint8_t *p = calloc(1, 16 + count);
	int ret;

	vc_put64(p, offset);
	vc_put32(p + 8, region);
	vc_put32(p + 12, count);
	memcpy(p + 16, data, count);
	ret = vc_call_err(fd, C_REGION_WRITE, p, 16 + count, NULL, 0);
	free(p);
	return ret;
}

static inline uint32_t vc_cfg_read(int fd, uint64_t offset, uint32_t count)
{
	uint8_t b[4] = {0};

	if (vc_region_read(fd, 7, offset, count, b) != 0)
		return 0xdeadbeef;
	return vc_get32(b);
}

static inline int vc_cfg_write(int fd, uint64_t offset, uint32_t count, uint32_t v)
{
	uint8_t b[4];

	vc_put32(b, v);
	return vc_region_write(fd, 7, offset, b, count);
}

/* SET_IRQS (§8.8) with @nr_fds fds and optional bool data. Return: errno or 0. */
static inline int vc_set_irqs(int fd, uint32_t flags, uint32_t index, uint32_t start,
			      uint32_t count, const int *fds, unsigned int nr_fds)
{
	uint8_t p[20];

	vc_put32(p, 20);
	vc_put32(p + 4, flags);
	vc_put32(p + 8, index);
	vc_put32(p + 12, start);
	vc_put32(p + 16, count);
	return vc_call_err(fd, C_SET_IRQS, p, 20, fds, nr_fds);
}

/* DMA_MAP (§8.2). Return: errno or 0. */
static inline int vc_dma_map(int fd, uint32_t flags, uint64_t offset, uint64_t iova, uint64_t size,
			     int map_fd)
{
	uint8_t p[32];

	vc_put32(p, 32);
	vc_put32(p + 4, flags);
	vc_put64(p + 8, offset);
	vc_put64(p + 16, iova);
	vc_put64(p + 24, size);
	return vc_call_err(fd, C_DMA_MAP, p, 32, map_fd >= 0 ? &map_fd : NULL, map_fd >= 0);
}

static inline int vc_dma_unmap(int fd, uint32_t flags, uint64_t iova, uint64_t size)
{
	uint8_t p[24];

	vc_put32(p, 24);
	vc_put32(p + 4, flags);
	vc_put64(p + 8, iova);
	vc_put64(p + 16, size);
	return vc_call_err(fd, C_DMA_UNMAP, p, 24, NULL, 0);
}

#endif
