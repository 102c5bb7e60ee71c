// SPDX-License-Identifier: MIT
/*
 * One vfio-user session (vfio-user.md §4, §7, §8): VERSION negotiation, the command handlers
 * and session teardown. Everything here runs on the device's server thread (or a unit test's
 * thread), so the driver's callbacks are serialised per device (C7). Handlers validate first
 * and change state after (I3); they return 0 or a negative errno, and the sign flips once,
 * where the reply header is written (server.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "umdev/log.h"
#include "private.h"

_Thread_local bool umdev__vfio_in_callback;

/* capability keys the client proposed (§7.3: the reply echoes only those) */
enum {
	VFIO_CAP_MAX_MSG_FDS,
	VFIO_CAP_MAX_DATA_XFER,
	VFIO_CAP_PGSIZES,
	VFIO_CAP_MAX_DMA_MAPS,
	VFIO_CAP_WRITE_MULTIPLE,
	VFIO_CAP_TWIN_SOCKET, /* proposed {"supported":true} */
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* C8: client-induced messages, at most 10 lines per second per connection, at debug level. */
__attribute__((format(printf, 2, 3))) static void session_log(struct umdev__vfio_session *s,
							      const char *fmt, ...)
{
	char line[512];
	uint64_t now = now_ms();
	va_list ap;

	if (!umdev_log_enabled(UMDEV_LOG_DEBUG))
		return;
	if (now - s->log_window_ms >= 1000) {
		s->log_window_ms = now;
		s->log_count = 0;
	}
	if (++s->log_count > 10)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	umdev_log(UMDEV_LOG_DEBUG, "vfio%u: %s", s->dev->index, line);
}

static int reply_alloc(struct umdev__vfio_reply *reply, size_t len)
{
	reply->payload = calloc(1, len ? len : 1);
	if (!reply->payload)
		return -ENOMEM;
	reply->len = len;
	return 0;
}

void umdev__vfio_reply_free(struct umdev__vfio_reply *reply)
{
	free(reply->payload);
	reply->payload = NULL;
	reply->len = 0;
	for (unsigned int i = 0; i < reply->nr_fds; i++)
		if (reply->fds[i] >= 0)
			close(reply->fds[i]);
	reply->nr_fds = 0;
}

void umdev__vfio_msg_close_fds(struct umdev__vfio_msg *msg)
{
	for (unsigned int i = 0; i < msg->nr_fds; i++) {
		umdev__clientfd_close(msg->fds[i]);
		msg->fds[i] = -1;
	}
	msg->nr_fds = 0;
}

int umdev__vfio_check_header(uint32_t msg_size)
{
	if (msg_size < VFIO_USER_HDR_SIZE)
		return -EINVAL;
	if (msg_size > VFIO_USER_MAX_MSG_SIZE)
		return -E2BIG;
	return 0;
}

/* A driver's count-or-errno result (§8.9): a short count or a non-errno is -EIO. */
static int driver_result(ssize_t r, size_t count)
{
	if (r < 0)
		return r < -4095 ? -EIO : (int)r;
	return (size_t)r == count ? 0 : -EIO;
}

/* ---- session lifetime ---- */

struct umdev__vfio_session *umdev__vfio_session_new(struct umdev__vfio_device *dev, int fd)
{
	struct umdev__vfio_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->dev = dev;
	s->fd = fd;
	s->twin_fd = -1;
	s->state = VFIO_SESSION_HANDSHAKE;
	s->caps.max_msg_fds = 1;
	s->caps.max_data_xfer_size = VFIO_USER_MAX_DATA_XFER;
	for (unsigned int i = 0; i < VFIO_USER_RX_FDS_MAX; i++)
		s->rx.fds[i] = -1;
	return s;
}

/* DEVICE_RESET's effects (§8.10), also teardown step 5. Return: 0 or the driver's errno. */
static int device_reset(struct umdev__vfio_device *dev)
{
	int ret = 0;

	umdev__mutex_lock(&dev->lock);
	umdev__pci_reset(&dev->pci);
	umdev__irq_reset(dev);
	umdev__mutex_unlock(&dev->lock);
	if (dev->ops && dev->ops->reset) {
		umdev__assert_not_held(&dev->lock); /* no vfio lock across a callback */
		umdev__vfio_in_callback = true;
		ret = dev->ops->reset(dev->mdev);
		umdev__vfio_in_callback = false;
		if (ret > 0 || ret < -4095)
			ret = -EIO;
	}
	return ret;
}

void umdev__vfio_session_free(struct umdev__vfio_session *s)
{
	struct umdev__vfio_device *dev;
	struct umdev__vfio_msg unmap_all = {0};
	struct umdev__vfio_reply r = {0};
	uint8_t req[24] = {24, 0, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL};

	if (!s)
		return;
	dev = s->dev;
	if (s->state == VFIO_SESSION_ACTIVE) { /* teardown (§4.4) */
		umdev__mutex_lock(&dev->lock);
		umdev__dma_abort_all(dev); /* step 1: waiting transfers fail -ENOTCONN */
		umdev__mutex_unlock(&dev->lock);
		unmap_all.payload = req;
		unmap_all.len = sizeof(req);
		(void)umdev__dma_unmap(dev, &unmap_all, &r); /* step 2, with notifications */
		umdev__vfio_reply_free(&r);
		umdev__mutex_lock(&dev->lock);
		umdev__irq_release_all(dev); /* step 3 */
		umdev__mutex_unlock(&dev->lock);
		if (s->twin_fd >= 0) /* step 4 */
			close(s->twin_fd);
		s->twin_fd = -1;
		(void)device_reset(dev); /* step 5 */
		if (s->opened && dev->ops && dev->ops->close_device) {
			umdev__assert_not_held(&dev->lock); /* no vfio lock across a callback */
			umdev__vfio_in_callback = true;
			dev->ops->close_device(dev->mdev);
			umdev__vfio_in_callback = false;
		}
	}
	umdev__vfio_msg_close_fds(&s->rx);
	free(s->rx.payload);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

/* ---- VERSION (§7) ---- */

static bool json_int_in(struct json_object *o, int64_t lo, int64_t hi)
{
	int64_t v;

	if (!json_object_is_type(o, json_type_int))
		return false;
	v = json_object_get_int64(o);
	return v >= lo && v <= hi;
}

/*
 * Parse and check the client's capabilities into @caps. Return: 0 or -EINVAL.
 *
 * The field is one NUL-terminated string filling the rest of the payload (§7.1), as QEMU and
 * libvfio-user's client send it (the JSON text and one NUL). A byte other than NUL after the
 * first NUL makes the field text that is not JSON (JSON has no raw NUL): EINVAL, although
 * libvfio-user's server would stop reading at that NUL. NULs after it are accepted as padding.
 */
static int version_parse(const uint8_t *json, size_t len, struct umdev__vfio_caps *caps)
{
	struct json_tokener *tok;
	struct json_object *root, *c, *v;
	size_t slen;
	int ret = -EINVAL;

	if (len == 0)
		return 0;
	if (json[len - 1] != 0)
		return -EINVAL; /* not NUL-terminated */
	slen = strlen((const char *)json);
	for (size_t i = slen + 1; i < len; i++)
		if (json[i])
			return -EINVAL; /* bytes after the string's end */
	tok = json_tokener_new_ex(VFIO_USER_JSON_DEPTH);
	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, (const char *)json, (int)slen);
	if (!root || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	for (size_t i = json_tokener_get_parse_end(tok); i < slen; i++)
		if (!strchr(" \t\r\n", json[i]))
			goto out; /* trailing garbage */
	if (!json_object_is_type(root, json_type_object))
		goto out;
	if (!json_object_object_get_ex(root, "capabilities", &c)) {
		ret = 0;
		goto out;
	}
	if (!json_object_is_type(c, json_type_object))
		goto out;
	if (json_object_object_get_ex(c, "max_msg_fds", &v)) {
		if (!json_int_in(v, 0, 1024))
			goto out;
		caps->max_msg_fds = (unsigned int)json_object_get_int64(v);
		caps->proposed[VFIO_CAP_MAX_MSG_FDS] = true;
	}
	if (json_object_object_get_ex(c, "max_data_xfer_size", &v)) {
		if (!json_int_in(v, 1, 64ll << 20))
			goto out;
		caps->max_data_xfer_size = (uint32_t)json_object_get_int64(v);
		caps->proposed[VFIO_CAP_MAX_DATA_XFER] = true;
	}
	if (json_object_object_get_ex(c, "pgsizes", &v)) {
		if (!json_object_is_type(v, json_type_int))
			goto out;
		caps->proposed[VFIO_CAP_PGSIZES] = true;
	}
	if (json_object_object_get_ex(c, "max_dma_maps", &v)) {
		if (!json_object_is_type(v, json_type_int))
			goto out;
		caps->proposed[VFIO_CAP_MAX_DMA_MAPS] = true;
	}
	if (json_object_object_get_ex(c, "migration", &v) &&
	    !json_object_is_type(v, json_type_object))
		goto out;
	if (json_object_object_get_ex(c, "twin_socket", &v)) {
		struct json_object *sup;

		if (!json_object_is_type(v, json_type_object))
			goto out;
		if (json_object_object_get_ex(v, "supported", &sup)) {
			if (!json_object_is_type(sup, json_type_boolean))
				goto out;
			caps->proposed[VFIO_CAP_TWIN_SOCKET] = json_object_get_boolean(sup);
		}
	}
	if (json_object_object_get_ex(c, "write_multiple", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			goto out;
		caps->write_multiple = json_object_get_boolean(v);
		caps->proposed[VFIO_CAP_WRITE_MULTIPLE] = caps->write_multiple;
	}
	ret = 0;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return ret;
}

static int version_reply(const struct umdev__vfio_caps *caps, bool twin,
			 struct umdev__vfio_reply *reply)
{
	struct json_object *root = json_object_new_object();
	struct json_object *c = json_object_new_object();
	const char *text;
	size_t tlen;
	int ret = -ENOMEM;

	if (!root || !c) {
		json_object_put(c);
		goto out;
	}
	if (caps->proposed[VFIO_CAP_MAX_MSG_FDS])
		json_object_object_add(c, "max_msg_fds",
				       json_object_new_int64(VFIO_USER_MAX_MSG_FDS));
	if (caps->proposed[VFIO_CAP_MAX_DATA_XFER])
		json_object_object_add(c, "max_data_xfer_size",
				       json_object_new_int64(VFIO_USER_MAX_DATA_XFER));
	if (caps->proposed[VFIO_CAP_PGSIZES])
		json_object_object_add(c, "pgsizes", json_object_new_int64(VFIO_USER_PGSIZE));
	if (caps->proposed[VFIO_CAP_MAX_DMA_MAPS])
		json_object_object_add(c, "max_dma_maps",
				       json_object_new_int64(umdev__vfio_config.max_dma_maps));
	if (caps->proposed[VFIO_CAP_WRITE_MULTIPLE])
		json_object_object_add(c, "write_multiple", json_object_new_boolean(true));
	if (twin) {
		struct json_object *t = json_object_new_object();

		if (!t) {
			json_object_put(c); /* not yet attached to root */
			goto out;
		}
		json_object_object_add(t, "supported", json_object_new_boolean(true));
		json_object_object_add(t, "fd_index", json_object_new_int64(0));
		json_object_object_add(c, "twin_socket", t);
	}
	json_object_object_add(root, "capabilities", c);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	if (!text)
		goto out;
	tlen = strlen(text) + 1; /* NUL-terminated: QEMU reads the last byte as the NUL */
	ret = reply_alloc(reply, 4 + tlen);
	if (ret < 0)
		goto out;
	reply->payload[0] = (uint8_t)caps->major;
	reply->payload[2] = (uint8_t)caps->minor;
	memcpy(reply->payload + 4, text, tlen);
out:
	json_object_put(root);
	return ret;
}

static int handle_version(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			  struct umdev__vfio_reply *reply)
{
	struct umdev__vfio_device *dev = s->dev;
	struct umdev__vfio_caps caps = s->caps;
	int twin[2] = {-1, -1};
	uint16_t major, minor;
	bool want_twin;
	int ret;

	if (msg->len < 4 || msg->nr_fds_total)
		return -EINVAL;
	major = (uint16_t)(msg->payload[0] | msg->payload[1] << 8);
	minor = (uint16_t)(msg->payload[2] | msg->payload[3] << 8);
	if (major != 0)
		return -EINVAL;
	ret = version_parse(msg->payload + 4, msg->len - 4, &caps);
	if (ret < 0)
		return ret;
	caps.major = 0;
	caps.minor = minor < 2 ? minor : 2;
	/* §7.4: a twin socket when proposed and the client accepts at least one fd */
	want_twin = caps.proposed[VFIO_CAP_TWIN_SOCKET] && caps.max_msg_fds >= 1 && s->fd >= 0;
	if (want_twin &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, twin) < 0)
		return -errno;
	ret = version_reply(&caps, want_twin, reply);
	if (ret < 0)
		goto err_close_twin;
	if (dev->ops && dev->ops->open_device) {
		umdev__assert_not_held(&dev->lock); /* no vfio lock across a callback */
		umdev__vfio_in_callback = true;
		ret = dev->ops->open_device(dev->mdev);
		umdev__vfio_in_callback = false;
		if (ret > 0 || ret < -4095)
			ret = -EIO;
		if (ret < 0)
			goto err_free_reply;
	}
	if (want_twin) {
		reply->fds[0] = twin[1]; /* fd_index 0: the only fd of the reply */
		reply->nr_fds = 1;
		s->twin_fd = twin[0];
	}
	s->opened = true;
	s->caps = caps;
	s->state = VFIO_SESSION_ACTIVE;
	umdev__mutex_lock(&dev->lock);
	dev->session_open = true;
	dev->dma_xfer_max = caps.max_data_xfer_size < VFIO_USER_MAX_DATA_XFER
				? caps.max_data_xfer_size
				: VFIO_USER_MAX_DATA_XFER; /* replies above 1 MiB would be E2BIG */
	umdev__mutex_unlock(&dev->lock);
	return 0;

err_free_reply:
	umdev__vfio_reply_free(reply);
err_close_twin:
	if (want_twin) {
		close(twin[0]);
		close(twin[1]);
	}
	return ret;
}

/* ---- information (§8.4-§8.7) ---- */

static int handle_get_info(struct umdev__vfio_msg *msg, struct umdev__vfio_reply *reply)
{
	int ret;

	if (msg->len < 16 || le32(msg->payload) < 16 || msg->nr_fds_total)
		return -EINVAL;
	ret = reply_alloc(reply, 16);
	if (ret < 0)
		return ret;
	put32(reply->payload, 16);
	put32(reply->payload + 4, VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI);
	put32(reply->payload + 8, VFIO_USER_NUM_REGIONS);
	put32(reply->payload + 12, VFIO_USER_NUM_IRQS);
	return 0;
}

static int handle_region_info(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			      struct umdev__vfio_reply *reply)
{
	struct umdev__vfio_device *dev = s->dev;
	struct umdev__vfio_mmap area = {.fd = -1};
	uint32_t index, flags, argsz, full = 32;
	uint64_t size;
	int ret, fd = -1;

	if (msg->len < 32 || le32(msg->payload) < 32 || msg->nr_fds_total)
		return -EINVAL;
	argsz = le32(msg->payload);
	index = le32(msg->payload + 8);
	if (index >= VFIO_USER_NUM_REGIONS)
		return -EINVAL;
	umdev__mutex_lock(&dev->lock);
	size = umdev__pci_region_size(&dev->pci, index);
	flags = umdev__pci_region_flags(&dev->pci, index);
	/* §8.5 fd rule: MMAP only with a driver fd and a client accepting fds */
	if (index < 6 && dev->mmap[index].fd >= 0 && s->caps.max_msg_fds > 0 &&
	    dev->mmap[index].offset + dev->mmap[index].size <= size)
		area = dev->mmap[index];
	if (area.fd >= 0) {
		flags |= VFIO_REGION_INFO_FLAG_MMAP; /* a region property: even when truncated */
		full = 32 + 16 + 16; /* header, one sparse area */
		if (argsz >= full) {
			fd = fcntl(area.fd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0) {
				ret = -errno;
				umdev__mutex_unlock(&dev->lock);
				return ret;
			}
		}
	}
	umdev__mutex_unlock(&dev->lock);
	ret = reply_alloc(reply, argsz >= full ? full : 32);
	if (ret < 0) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	put32(reply->payload, full);
	put32(reply->payload + 8, index);
	put64(reply->payload + 16, size); /* offset @24: 0, the fd maps the region from 0 */
	if (fd >= 0) {
		/* the complete reply: CAPS, the sparse-mmap capability and the region's fd */
		flags |= VFIO_REGION_INFO_FLAG_CAPS;
		put32(reply->payload + 12, 32);
		put16(reply->payload + 32, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
		put16(reply->payload + 34, 1); /* version */
		put32(reply->payload + 36, 0); /* next: end of chain */
		put32(reply->payload + 40, 1); /* nr_areas */
		put64(reply->payload + 48, area.offset);
		put64(reply->payload + 56, area.size);
		reply->fds[0] = fd;
		reply->nr_fds = 1;
	}
	/* truncated (argsz < full): 32 bytes, CAPS clear, cap_offset 0, no fd */
	put32(reply->payload + 4, flags);
	return 0;
}

static int handle_region_io_fds(struct umdev__vfio_device *dev, struct umdev__vfio_msg *msg,
				struct umdev__vfio_reply *reply)
{
	uint32_t index;
	uint64_t size;
	int ret;

	if (msg->len < 16 || le32(msg->payload) < 16 || msg->nr_fds_total)
		return -EINVAL;
	index = le32(msg->payload + 8);
	if (le32(msg->payload + 4) || le32(msg->payload + 12) || index >= VFIO_USER_NUM_REGIONS)
		return -EINVAL;
	umdev__mutex_lock(&dev->lock);
	size = umdev__pci_region_size(&dev->pci, index);
	umdev__mutex_unlock(&dev->lock);
	if (!size)
		return -EINVAL;
	ret = reply_alloc(reply, 16);
	if (ret < 0)
		return ret;
	put32(reply->payload, 16);
	put32(reply->payload + 8, index);
	return 0;
}

static int handle_irq_info(struct umdev__vfio_device *dev, struct umdev__vfio_msg *msg,
			   struct umdev__vfio_reply *reply)
{
	uint32_t index, count;
	int ret;

	if (msg->len < 16 || le32(msg->payload) < 16 || msg->nr_fds_total)
		return -EINVAL;
	index = le32(msg->payload + 8);
	if (index >= VFIO_USER_NUM_IRQS)
		return -EINVAL;
	umdev__mutex_lock(&dev->lock);
	count = umdev__irq_count(dev, index);
	umdev__mutex_unlock(&dev->lock);
	ret = reply_alloc(reply, 16);
	if (ret < 0)
		return ret;
	put32(reply->payload, 16);
	put32(reply->payload + 4, umdev__irq_flags(index));
	put32(reply->payload + 8, index);
	put32(reply->payload + 12, count);
	return 0;
}

/* ---- region access (§8.9) ---- */

/* Checks shared by READ, WRITE and WRITE_MULTI entries after the length checks. */
static int access_check(struct umdev__vfio_device *dev, uint32_t region, uint64_t offset,
			uint32_t count, uint32_t need)
{
	uint64_t size;
	uint32_t flags;

	if (region >= VFIO_USER_NUM_REGIONS)
		return -EINVAL;
	umdev__mutex_lock(&dev->lock);
	size = umdev__pci_region_size(&dev->pci, region);
	flags = umdev__pci_region_flags(&dev->pci, region);
	umdev__mutex_unlock(&dev->lock);
	if (!size || !(flags & need))
		return -EINVAL;
	if (offset > size || count > size - offset)
		return -EINVAL;
	return 0;
}

static int region_write(struct umdev__vfio_device *dev, uint32_t region, uint64_t offset,
			const uint8_t *data, uint32_t count)
{
	ssize_t r;

	if (count == 0)
		return 0;
	if (region == VFIO_PCI_CONFIG_REGION_INDEX) {
		umdev__mutex_lock(&dev->lock);
		umdev__pci_write(&dev->pci, (unsigned int)offset, data, count);
		umdev__irq_intx_eval(dev); /* Command bit 10 may have cleared (§9.4) */
		umdev__irq_msi_eval(dev); /* a vector may have been unmasked */
		umdev__mutex_unlock(&dev->lock);
		if (dev->ops && dev->ops->config_write) {
			umdev__assert_not_held(&dev->lock); /* no vfio lock across a callback */
			umdev__vfio_in_callback = true;
			dev->ops->config_write(dev->mdev, (unsigned int)offset, count);
			umdev__vfio_in_callback = false;
		}
		return 0;
	}
	umdev__assert_not_held(&dev->lock); /* no vfio lock across a callback */
	umdev__vfio_in_callback = true;
	r = dev->ops->region_write(dev->mdev, region, offset, data, count);
	umdev__vfio_in_callback = false;
	return driver_result(r, count);
}

static int handle_region_read(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			      struct umdev__vfio_reply *reply)
{
	struct umdev__vfio_device *dev = s->dev;
	uint64_t offset;
	uint32_t region, count;
	ssize_t r;
	int ret;

	if (msg->len != 16 || msg->nr_fds_total)
		return -EINVAL;
	offset = le64(msg->payload);
	region = le32(msg->payload + 8);
	count = le32(msg->payload + 12);
	if (count > VFIO_USER_MAX_DATA_XFER)
		return -E2BIG;
	ret = access_check(dev, region, offset, count, VFIO_REGION_INFO_FLAG_READ);
	if (ret < 0)
		return ret;
	ret = reply_alloc(reply, 16 + (size_t)count);
	if (ret < 0)
		return ret;
	memcpy(reply->payload, msg->payload, 16);
	if (count == 0)
		return 0;
	if (region == VFIO_PCI_CONFIG_REGION_INDEX) {
		umdev__mutex_lock(&dev->lock);
		umdev__pci_read(&dev->pci, (unsigned int)offset, reply->payload + 16, count);
		umdev__mutex_unlock(&dev->lock);
		return 0;
	}
	umdev__assert_not_held(&dev->lock); /* no vfio lock across a callback */
	umdev__vfio_in_callback = true;
	r = dev->ops->region_read(dev->mdev, region, offset, reply->payload + 16, count);
	umdev__vfio_in_callback = false;
	ret = driver_result(r, count);
	if (ret < 0)
		umdev__vfio_reply_free(reply);
	return ret;
}

static int handle_region_write(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			       struct umdev__vfio_reply *reply)
{
	struct umdev__vfio_device *dev = s->dev;
	uint64_t offset;
	uint32_t region, count;
	int ret;

	if (msg->len < 16 || msg->nr_fds_total)
		return -EINVAL;
	offset = le64(msg->payload);
	region = le32(msg->payload + 8);
	count = le32(msg->payload + 12);
	if (msg->len != 16 + (size_t)count)
		return -EINVAL;
	if (count > VFIO_USER_MAX_DATA_XFER)
		return -E2BIG;
	ret = access_check(dev, region, offset, count, VFIO_REGION_INFO_FLAG_WRITE);
	if (ret < 0)
		return ret;
	ret = region_write(dev, region, offset, msg->payload + 16, count);
	if (ret < 0)
		return ret;
	ret = reply_alloc(reply, 16);
	if (ret < 0)
		return ret;
	memcpy(reply->payload, msg->payload, 16);
	return 0;
}

static int handle_region_write_multi(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
				     struct umdev__vfio_reply *reply)
{
	struct umdev__vfio_device *dev = s->dev;
	uint64_t wr_cnt, i;
	int ret;

	if (!s->caps.write_multiple)
		return -ENOTSUP;
	if (msg->len < 8 || msg->nr_fds_total)
		return -EINVAL;
	wr_cnt = le64(msg->payload);
	if (wr_cnt < 1 || wr_cnt > VFIO_USER_MAX_WR_CNT || msg->len != 8 + 24 * wr_cnt)
		return -EINVAL;
	for (i = 0; i < wr_cnt; i++) { /* every entry before any is applied */
		const uint8_t *e = msg->payload + 8 + 24 * i;
		uint32_t count = le32(e + 12);

		if (count < 1 || count > 8)
			return -EINVAL;
		ret = access_check(dev, le32(e + 8), le64(e), count, VFIO_REGION_INFO_FLAG_WRITE);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < wr_cnt; i++) {
		const uint8_t *e = msg->payload + 8 + 24 * i;

		ret = region_write(dev, le32(e + 8), le64(e), e + 16, le32(e + 12));
		if (ret < 0)
			return ret; /* earlier entries stay applied (I3 exception) */
	}
	ret = reply_alloc(reply, 8);
	if (ret < 0)
		return ret;
	put64(reply->payload, wr_cnt);
	return 0;
}

/* ---- the rest ---- */

static int handle_set_irqs(struct umdev__vfio_device *dev, struct umdev__vfio_msg *msg)
{
	struct umdev__irq_change ch;
	int ret;

	ret = umdev__irq_set(dev, msg, &ch);
	if (ret < 0)
		return ret;
	if (ch.action && dev->ops && dev->ops->set_irqs) {
		umdev__assert_not_held(&dev->lock); /* no vfio lock across a callback */
		umdev__vfio_in_callback = true;
		dev->ops->set_irqs(dev->mdev, ch.index, ch.start, ch.count, ch.action);
		umdev__vfio_in_callback = false;
	}
	return 0;
}

static int handle_reset(struct umdev__vfio_device *dev, struct umdev__vfio_msg *msg)
{
	if (msg->len || msg->nr_fds_total)
		return -EINVAL;
	return device_reset(dev);
}

static int handle_feature(struct umdev__vfio_msg *msg)
{
	if (msg->len < 8 || msg->nr_fds_total)
		return -EINVAL;
	return -ENOTTY; /* no feature supported (§8.11) */
}

int umdev__vfio_handle(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
		       struct umdev__vfio_reply *reply, bool *ret_fatal)
{
	struct umdev__vfio_device *dev = s->dev;
	uint32_t type = msg->flags & VFIO_USER_F_TYPE_MASK;
	int ret;

	*ret_fatal = false;
	if (type != VFIO_USER_F_TYPE_COMMAND)
		ret = -EINVAL; /* type 1 was routed before; 2-15 */
	else if (msg->nr_fds_total > VFIO_USER_MAX_MSG_FDS)
		ret = -EINVAL;
	else if (s->state == VFIO_SESSION_HANDSHAKE)
		ret = msg->command == VFIO_USER_VERSION ? handle_version(s, msg, reply) : -EINVAL;
	else
		switch (msg->command) {
		case VFIO_USER_VERSION:
			ret = -EINVAL; /* a second VERSION; the session continues (§7.3) */
			break;
		case VFIO_USER_DMA_MAP:
			ret = umdev__dma_map(dev, msg);
			break;
		case VFIO_USER_DMA_UNMAP:
			ret = umdev__dma_unmap(dev, msg, reply);
			break;
		case VFIO_USER_DEVICE_GET_INFO:
			ret = handle_get_info(msg, reply);
			break;
		case VFIO_USER_DEVICE_GET_REGION_INFO:
			ret = handle_region_info(s, msg, reply);
			break;
		case VFIO_USER_DEVICE_GET_REGION_IO_FDS:
			ret = handle_region_io_fds(dev, msg, reply);
			break;
		case VFIO_USER_DEVICE_GET_IRQ_INFO:
			ret = handle_irq_info(dev, msg, reply);
			break;
		case VFIO_USER_DEVICE_SET_IRQS:
			ret = handle_set_irqs(dev, msg);
			break;
		case VFIO_USER_REGION_READ:
			ret = handle_region_read(s, msg, reply);
			break;
		case VFIO_USER_REGION_WRITE:
			ret = handle_region_write(s, msg, reply);
			break;
		case VFIO_USER_REGION_WRITE_MULTI:
			ret = handle_region_write_multi(s, msg, reply);
			break;
		case VFIO_USER_DEVICE_RESET:
			ret = handle_reset(dev, msg);
			break;
		case VFIO_USER_DEVICE_FEATURE:
			ret = handle_feature(msg);
			break;
		case VFIO_USER_MIG_DATA_READ:
		case VFIO_USER_MIG_DATA_WRITE:
			ret = -ENOTSUP;
			break;
		default: /* 0, 14, >= 19, and DMA_READ/DMA_WRITE from a client */
			ret = -ENOSYS;
			break;
		}
	if (s->state == VFIO_SESSION_HANDSHAKE && ret < 0)
		*ret_fatal = true; /* §6.3: first message not VERSION, or VERSION failed */
	if (ret < 0) {
		umdev__vfio_reply_free(reply);
		session_log(s, "command %u (msg_id %u) failed: %s", msg->command, msg->msg_id,
			    strerror(-ret));
	}
	umdev__vfio_msg_close_fds(msg); /* adopted fds were set to -1 (§6.2) */
	return ret;
}
