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
	return umdev__wire_check_size(msg_size);
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

	if (!s)
		return;
	dev = s->dev;
	if (s->state == VFIO_SESSION_ACTIVE) { /* teardown (§4.4) */
		umdev__mutex_lock(&dev->lock);
		umdev__dma_abort_all(dev); /* step 1: waiting transfers fail -ENOTCONN */
		umdev__mutex_unlock(&dev->lock);
		umdev__dma_unmap_all(dev); /* step 2, with notifications */
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
	ret = reply_alloc(reply, umdev__wire_version_size(tlen));
	if (ret < 0)
		goto out;
	umdev__wire_version_encode(reply->payload, (uint16_t)caps->major, (uint16_t)caps->minor,
				   text, tlen);
out:
	json_object_put(root);
	return ret;
}

static int handle_version(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			  const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	struct umdev__vfio_device *dev = s->dev;
	struct umdev__vfio_caps caps = s->caps;
	uint16_t minor = a->version.minor;
	int twin[2] = {-1, -1};
	bool want_twin;
	int ret;

	(void)msg;
	if (a->version.major != 0)
		return -EINVAL;
	ret = version_parse(a->version.caps, a->version.caps_len, &caps);
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

static int handle_get_info(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			   const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	const struct vfio_device_info info = {
	    .argsz = VFIO_USER_DEVICE_INFO_SIZE,
	    .flags = VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI,
	    .num_regions = VFIO_USER_NUM_REGIONS,
	    .num_irqs = VFIO_USER_NUM_IRQS,
	};
	int ret;

	(void)s, (void)msg, (void)a;
	ret = reply_alloc(reply, VFIO_USER_DEVICE_INFO_SIZE);
	if (ret < 0)
		return ret;
	umdev__wire_device_info_encode(reply->payload, &info);
	return 0;
}

static int handle_region_info(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			      const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	struct umdev__vfio_device *dev = s->dev;
	struct umdev__vfio_mmap area = {.fd = -1};
	struct vfio_region_info ri = {.index = a->region_info.index};
	struct vfio_region_sparse_mmap_area sparse;
	uint32_t argsz = a->region_info.argsz, full = VFIO_USER_REGION_INFO_SIZE;
	int ret, fd = -1;

	(void)msg;
	if (ri.index >= VFIO_USER_NUM_REGIONS)
		return -EINVAL;
	umdev__mutex_lock(&dev->lock);
	ri.size = umdev__pci_region_size(&dev->pci, ri.index);
	ri.flags = umdev__pci_region_flags(&dev->pci, ri.index);
	/* §8.5 fd rule: MMAP only with a driver fd and a client accepting fds */
	if (ri.index < 6 && dev->mmap[ri.index].fd >= 0 && s->caps.max_msg_fds > 0 &&
	    dev->mmap[ri.index].offset + dev->mmap[ri.index].size <= ri.size)
		area = dev->mmap[ri.index];
	if (area.fd >= 0) {
		ri.flags |= VFIO_REGION_INFO_FLAG_MMAP; /* a region property: even when truncated */
		full = VFIO_USER_REGION_INFO_SPARSE_SIZE;
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
	ret = reply_alloc(reply, argsz >= full ? full : VFIO_USER_REGION_INFO_SIZE);
	if (ret < 0) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	ri.argsz = full; /* offset 0: the fd maps the region from 0 */
	if (fd < 0) {
		/* truncated (argsz < full) or no area: 32 bytes, CAPS clear, no fd */
		umdev__wire_region_info_encode(reply->payload, &ri, NULL);
		return 0;
	}
	/* the complete reply: CAPS, the sparse-mmap capability and the region's fd */
	ri.flags |= VFIO_REGION_INFO_FLAG_CAPS;
	ri.cap_offset = VFIO_USER_REGION_INFO_SIZE;
	sparse.offset = area.offset;
	sparse.size = area.size;
	umdev__wire_region_info_encode(reply->payload, &ri, &sparse);
	reply->fds[0] = fd;
	reply->nr_fds = 1;
	return 0;
}

static int handle_region_io_fds(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
				const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	struct vfio_user_region_io_fds r = {.argsz = VFIO_USER_REGION_IO_FDS_SIZE};
	uint64_t size;
	int ret;

	(void)msg;
	if (a->io_fds.flags || a->io_fds.count || a->io_fds.index >= VFIO_USER_NUM_REGIONS)
		return -EINVAL;
	r.index = a->io_fds.index;
	umdev__mutex_lock(&s->dev->lock);
	size = umdev__pci_region_size(&s->dev->pci, r.index);
	umdev__mutex_unlock(&s->dev->lock);
	if (!size)
		return -EINVAL;
	ret = reply_alloc(reply, VFIO_USER_REGION_IO_FDS_SIZE);
	if (ret < 0)
		return ret;
	umdev__wire_region_io_fds_encode(reply->payload, &r); /* no io fds: count 0 */
	return 0;
}

static int handle_irq_info(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			   const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	struct vfio_irq_info ii = {.argsz = VFIO_USER_IRQ_INFO_SIZE, .index = a->irq_info.index};
	int ret;

	(void)msg;
	if (ii.index >= VFIO_USER_NUM_IRQS)
		return -EINVAL;
	umdev__mutex_lock(&s->dev->lock);
	ii.count = umdev__irq_count(s->dev, ii.index);
	umdev__mutex_unlock(&s->dev->lock);
	ii.flags = umdev__irq_flags(ii.index);
	ret = reply_alloc(reply, VFIO_USER_IRQ_INFO_SIZE);
	if (ret < 0)
		return ret;
	umdev__wire_irq_info_encode(reply->payload, &ii);
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
			      const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	struct umdev__vfio_device *dev = s->dev;
	const struct vfio_user_region_access *ra = &a->access;
	uint8_t *data;
	ssize_t r;
	int ret;

	(void)msg;
	ret = access_check(dev, ra->region, ra->offset, ra->count, VFIO_REGION_INFO_FLAG_READ);
	if (ret < 0)
		return ret;
	ret = reply_alloc(reply, VFIO_USER_REGION_ACCESS_SIZE + (size_t)ra->count);
	if (ret < 0)
		return ret;
	umdev__wire_region_access_encode(reply->payload, ra);
	data = reply->payload + VFIO_USER_REGION_ACCESS_SIZE;
	if (ra->count == 0)
		return 0;
	if (ra->region == VFIO_PCI_CONFIG_REGION_INDEX) {
		umdev__mutex_lock(&dev->lock);
		umdev__pci_read(&dev->pci, (unsigned int)ra->offset, data, ra->count);
		umdev__mutex_unlock(&dev->lock);
		return 0;
	}
	umdev__assert_not_held(&dev->lock); /* no vfio lock across a callback */
	umdev__vfio_in_callback = true;
	r = dev->ops->region_read(dev->mdev, ra->region, ra->offset, data, ra->count);
	umdev__vfio_in_callback = false;
	ret = driver_result(r, ra->count);
	if (ret < 0)
		umdev__vfio_reply_free(reply);
	return ret;
}

static int handle_region_write(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			       const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	struct umdev__vfio_device *dev = s->dev;
	const struct vfio_user_region_access *wa = &a->access;
	int ret;

	(void)msg;
	ret = access_check(dev, wa->region, wa->offset, wa->count, VFIO_REGION_INFO_FLAG_WRITE);
	if (ret < 0)
		return ret;
	ret = region_write(dev, wa->region, wa->offset, wa->data, wa->count);
	if (ret < 0)
		return ret;
	ret = reply_alloc(reply, VFIO_USER_REGION_ACCESS_SIZE);
	if (ret < 0)
		return ret;
	umdev__wire_region_access_encode(reply->payload, wa);
	return 0;
}

static int handle_region_write_multi(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
				     const union umdev__vfio_args *a,
				     struct umdev__vfio_reply *reply)
{
	struct umdev__vfio_device *dev = s->dev;
	struct vfio_user_region_access e;
	uint64_t i;
	int ret;

	for (i = 0; i < a->wr_cnt; i++) { /* every entry before any is applied */
		umdev__wire_write_multi_entry(msg->payload, i, &e);
		if (e.count < 1 || e.count > 8)
			return -EINVAL;
		ret = access_check(dev, e.region, e.offset, e.count, VFIO_REGION_INFO_FLAG_WRITE);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < a->wr_cnt; i++) {
		umdev__wire_write_multi_entry(msg->payload, i, &e);
		ret = region_write(dev, e.region, e.offset, e.data, e.count);
		if (ret < 0)
			return ret; /* earlier entries stay applied (I3 exception) */
	}
	ret = reply_alloc(reply, VFIO_USER_WRITE_MULTI_REPLY_SIZE);
	if (ret < 0)
		return ret;
	umdev__wire_write_multi_encode(reply->payload, a->wr_cnt);
	return 0;
}

/* ---- the rest ---- */

static int handle_dma_map(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			  const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	(void)reply;
	return umdev__dma_map(s->dev, &a->dma_map, msg);
}

static int handle_dma_unmap(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			    const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	(void)msg;
	return umdev__dma_unmap(s->dev, &a->dma_unmap, reply);
}

static int handle_set_irqs(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			   const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	struct umdev__vfio_device *dev = s->dev;
	struct umdev__irq_change ch;
	int ret;

	(void)reply;
	ret = umdev__irq_set(dev, &a->set_irqs, msg, &ch);
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

static int handle_reset(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	(void)msg, (void)a, (void)reply;
	return device_reset(s->dev);
}

static int handle_feature(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			  const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	(void)s, (void)msg, (void)a, (void)reply;
	return -ENOTTY; /* no feature supported (§8.11) */
}

static int handle_migration(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
			    const union umdev__vfio_args *a, struct umdev__vfio_reply *reply)
{
	(void)s, (void)msg, (void)a, (void)reply;
	return -ENOTSUP;
}

/* ---- the command table ---- */

/* A wire.h decoder into its member of union umdev__vfio_args. */
#define DECODER(name, member)                                                                      \
	static int decode_##name(const uint8_t *p, size_t len, union umdev__vfio_args *a)          \
	{                                                                                          \
		return umdev__wire_##name##_decode(p, len, &a->member);                            \
	}

DECODER(version, version)
DECODER(dma_map, dma_map)
DECODER(dma_unmap, dma_unmap)
DECODER(device_info, argsz)
DECODER(region_info, region_info)
DECODER(region_io_fds, io_fds)
DECODER(irq_info, irq_info)
DECODER(set_irqs, set_irqs)
DECODER(region_read, access)
DECODER(region_write, access)
DECODER(write_multi, wr_cnt)

static int decode_empty(const uint8_t *p, size_t len, union umdev__vfio_args *a)
{
	(void)p, (void)a;
	return len ? -EINVAL : 0;
}

#define IN_HANDSHAKE (1u << VFIO_SESSION_HANDSHAKE)
#define IN_ACTIVE (1u << VFIO_SESSION_ACTIVE)

/*
 * One command: checked in this order (a failure is the errno in brackets): the session state
 * (EINVAL), a negotiated capability (ENOTSUP), the fds (EINVAL), min_len (EINVAL), the
 * decoder (wire.h), then the handler, which validates the rest before changing state (I3).
 */
struct command {
	unsigned int states; /* IN_*: where the command is allowed */
	bool write_multiple; /* needs the write_multiple capability (§7.2) */
	unsigned int max_fds; /* fds the message may carry */
	size_t min_len; /* payload bytes */
	int (*decode)(const uint8_t *p, size_t len, union umdev__vfio_args *a); /* NULL: none */
	int (*handle)(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
		      const union umdev__vfio_args *a, struct umdev__vfio_reply *reply);
};

/* DMA_READ and DMA_WRITE are the server's; from a client they are unknown (ENOSYS). */
static const struct command commands[] = {
    [VFIO_USER_VERSION] = {IN_HANDSHAKE, false, 0, 4, decode_version, handle_version},
    [VFIO_USER_DMA_MAP] = {IN_ACTIVE, false, 1, VFIO_USER_DMA_MAP_SIZE, decode_dma_map,
			   handle_dma_map},
    [VFIO_USER_DMA_UNMAP] = {IN_ACTIVE, false, 0, VFIO_USER_DMA_UNMAP_SIZE, decode_dma_unmap,
			     handle_dma_unmap},
    [VFIO_USER_DEVICE_GET_INFO] = {IN_ACTIVE, false, 0, VFIO_USER_DEVICE_INFO_SIZE,
				   decode_device_info, handle_get_info},
    [VFIO_USER_DEVICE_GET_REGION_INFO] = {IN_ACTIVE, false, 0, VFIO_USER_REGION_INFO_SIZE,
					  decode_region_info, handle_region_info},
    [VFIO_USER_DEVICE_GET_REGION_IO_FDS] = {IN_ACTIVE, false, 0, VFIO_USER_REGION_IO_FDS_SIZE,
					    decode_region_io_fds, handle_region_io_fds},
    [VFIO_USER_DEVICE_GET_IRQ_INFO] = {IN_ACTIVE, false, 0, VFIO_USER_IRQ_INFO_SIZE,
				       decode_irq_info, handle_irq_info},
    [VFIO_USER_DEVICE_SET_IRQS] = {IN_ACTIVE, false, VFIO_USER_MAX_MSG_FDS, VFIO_USER_SET_IRQS_SIZE,
				   decode_set_irqs, handle_set_irqs},
    [VFIO_USER_REGION_READ] = {IN_ACTIVE, false, 0, VFIO_USER_REGION_ACCESS_SIZE,
			       decode_region_read, handle_region_read},
    [VFIO_USER_REGION_WRITE] = {IN_ACTIVE, false, 0, VFIO_USER_REGION_ACCESS_SIZE,
				decode_region_write, handle_region_write},
    [VFIO_USER_DEVICE_RESET] = {IN_ACTIVE, false, 0, 0, decode_empty, handle_reset},
    [VFIO_USER_REGION_WRITE_MULTI] = {IN_ACTIVE, true, 0, 8, decode_write_multi,
				      handle_region_write_multi},
    [VFIO_USER_DEVICE_FEATURE] = {IN_ACTIVE, false, 0, VFIO_USER_DEVICE_FEATURE_SIZE, NULL,
				  handle_feature},
    [VFIO_USER_MIG_DATA_READ] = {IN_ACTIVE, false, VFIO_USER_MAX_MSG_FDS, 0, NULL,
				 handle_migration},
    [VFIO_USER_MIG_DATA_WRITE] = {IN_ACTIVE, false, VFIO_USER_MAX_MSG_FDS, 0, NULL,
				  handle_migration},
};

static int dispatch(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
		    struct umdev__vfio_reply *reply)
{
	const struct command *c = NULL;
	union umdev__vfio_args a;
	int ret;

	if ((msg->flags & VFIO_USER_F_TYPE_MASK) != VFIO_USER_F_TYPE_COMMAND)
		return -EINVAL; /* type 1 was routed before; 2-15 */
	if (msg->nr_fds_total > VFIO_USER_MAX_MSG_FDS)
		return -EINVAL;
	if (msg->command < sizeof(commands) / sizeof(commands[0]) && commands[msg->command].handle)
		c = &commands[msg->command];
	if (!c) /* 0, 14, >= 19, DMA_READ/DMA_WRITE; §6.3: before VERSION, anything else */
		return s->state == VFIO_SESSION_HANDSHAKE ? -EINVAL : -ENOSYS;
	if (!(c->states & (1u << s->state)))
		return -EINVAL; /* a second VERSION: the session continues (§7.3) */
	if (c->write_multiple && !s->caps.write_multiple)
		return -ENOTSUP;
	if (msg->nr_fds_total > c->max_fds || msg->len < c->min_len)
		return -EINVAL;
	if (c->decode) {
		ret = c->decode(msg->payload, msg->len, &a);
		if (ret < 0)
			return ret;
	}
	return c->handle(s, msg, &a, reply);
}

int umdev__vfio_handle(struct umdev__vfio_session *s, struct umdev__vfio_msg *msg,
		       struct umdev__vfio_reply *reply, bool *ret_fatal)
{
	int ret = dispatch(s, msg, reply);

	*ret_fatal = false;
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
