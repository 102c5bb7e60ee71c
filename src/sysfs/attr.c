// SPDX-License-Identifier: MIT
/*
 * Show and store of every attribute file (mdev.md §6.3-§6.6). Called by the FUSE read and
 * write operations with no lock held; a show fills a SYSFS_FILE_SIZE buffer, a store sees one
 * write(2) of 1..4096 bytes. Errors are negative errno values, passed to the caller unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "attr.h"
#include "parse.h"
#include "umdev/log.h"

/* A callback result that is no byte count and no errno is a driver bug (like M-31). */
static ssize_t check_result(ssize_t ret, size_t len, const char *what, const char *name)
{
	if ((ret < 0 && ret >= -4095) || (ret >= 0 && (size_t)ret <= len))
		return ret;
	umdev_log(UMDEV_LOG_ERR, "attribute '%s': %s returned %zd, answering EIO", name, what, ret);
	return -EIO;
}

static ssize_t show_text(char *buf, size_t len, const char *text)
{
	int n = snprintf(buf, len, "%s\n", text);

	return n < 0 ? -EIO : (ssize_t)((size_t)n < len ? (size_t)n : len - 1);
}

/* ---- fixed files ---- */

static ssize_t fixed_show(struct sysfs_node *n, char *buf, size_t len)
{
	size_t count = n->text_len < len ? n->text_len : len;

	memcpy(buf, n->text, count);
	return (ssize_t)count;
}

static ssize_t fixed_store(struct sysfs_node *n, const char *buf, size_t len)
{
	(void)n;
	(void)buf;
	return (ssize_t)len; /* uevent: accepted, no event emitted (§6.4 deviation) */
}

const struct sysfs_file_ops umdev__sysfs_fixed_ops = {
    .show = fixed_show,
    .store = fixed_store,
};

/* ---- type directory (§6.3) ---- */

/* <type>/create: 36 or 37 bytes; a 37th byte is ignored (§6.5, M-14..M-19) */
static ssize_t create_store(struct sysfs_node *n, const char *buf, size_t len)
{
	uuid_t uuid;
	int ret;

	ret = umdev__sysfs_parse_uuid(buf, len, &uuid); /* C1: -EINVAL (M-17) */
	if (ret < 0) {
		umdev_log(UMDEV_LOG_DEBUG, "type '%s': create: invalid UUID (%zu bytes)",
			  umdev__type_id(n->type), len);
		return ret;
	}
	ret = umdev__type_create(n->type, &uuid); /* C2-C9: the core's errno, unchanged */
	return ret < 0 ? ret : (ssize_t)len; /* never a short write */
}

const struct sysfs_file_ops umdev__sysfs_create_ops = {
    .store = create_store,
};

static ssize_t name_show(struct sysfs_node *n, char *buf, size_t len)
{
	return show_text(buf, len, umdev__type_name(n->type)); /* M-5 */
}

const struct sysfs_file_ops umdev__sysfs_name_ops = {
    .show = name_show,
};

static ssize_t device_api_show(struct sysfs_node *n, char *buf, size_t len)
{
	return show_text(buf, len, umdev__type_device_api(n->type)); /* M-6 */
}

const struct sysfs_file_ops umdev__sysfs_device_api_ops = {
    .show = device_api_show,
};

static ssize_t available_show(struct sysfs_node *n, char *buf, size_t len)
{
	return umdev__type_show_available(n->type, buf, len); /* "%u\n", every read (M-79) */
}

const struct sysfs_file_ops umdev__sysfs_available_ops = {
    .show = available_show,
};

static ssize_t description_show(struct sysfs_node *n, char *buf, size_t len)
{
	ssize_t ret = umdev__type_show_description(n->type, buf, len); /* bytes as is (M-8) */

	return check_result(ret, len, "show_description", n->name);
}

const struct sysfs_file_ops umdev__sysfs_description_ops = {
    .show = description_show,
};

/* ---- mdev directory (§6.4) ---- */

/*
 * <dev>/remove: kstrtoul(buf, 0) as the kernel's remove_store() (§6.6). Also called on a
 * stale handle: a removal then goes to the core, which answers EAGAIN while the device is
 * REMOVING and ENODEV once it is GONE (M-40); anything else on a stale handle is ENODEV.
 */
static ssize_t remove_store(struct sysfs_node *n, const char *buf, size_t len)
{
	bool stale = !atomic_load_explicit(&n->published, memory_order_acquire);
	unsigned long val;
	int ret;

	ret = umdev__sysfs_parse_ulong(buf, len, &val);
	if (ret < 0)
		return stale ? -ENODEV : ret; /* M-37 */
	if (val == 0)
		return stale ? -ENODEV : (ssize_t)len; /* no effect (M-36) */
	ret = umdev__mdev_remove_serial(&n->uuid, n->serial); /* R1-R6 */
	return ret < 0 ? ret : (ssize_t)len;
}

const struct sysfs_file_ops umdev__sysfs_remove_ops = {
    .store = remove_store,
    .store_when_stale = true,
};

/*
 * A dev_groups attribute. The mdev reference keeps the mdev ACTIVE-or-waited-for and so its
 * driver (and node->attr, driver memory) alive: vendor remove waits for it (M-81).
 */
static ssize_t dev_attr_show(struct sysfs_node *n, char *buf, size_t len)
{
	struct umdev_mdev *mdev;
	ssize_t ret;

	mdev = umdev__mdev_get_serial(&n->uuid, n->serial); /* put below */
	if (!mdev)
		return -ENODEV;
	ret = check_result(n->attr->show(mdev, buf, len), len, "show", n->name);
	umdev_mdev_put(mdev);
	return ret;
}

static ssize_t dev_attr_store(struct sysfs_node *n, const char *buf, size_t len)
{
	struct umdev_mdev *mdev;
	ssize_t ret;

	mdev = umdev__mdev_get_serial(&n->uuid, n->serial); /* put below */
	if (!mdev)
		return -ENODEV; /* not ACTIVE: store never called (M-81) */
	ret = check_result(n->attr->store(mdev, buf, len), len, "store", n->name);
	umdev_mdev_put(mdev);
	return ret;
}

const struct sysfs_file_ops umdev__sysfs_dev_attr_ops = {
    .show = dev_attr_show,
    .store = dev_attr_store,
};

/*
 * A binary dev_groups attribute (the kernel's sysfs_kf_bin_read()): clipped to the size when
 * it is known, passed on as asked when it is 0. Same mdev reference as dev_attr_show().
 */
static ssize_t dev_bin_read(struct sysfs_node *n, char *buf, size_t off, size_t len)
{
	struct umdev_mdev *mdev;
	ssize_t ret;

	if (n->bin_size) {
		if (off >= n->bin_size)
			return 0; /* end of file; the driver is not asked */
		if (len > n->bin_size - off)
			len = n->bin_size - off;
	}
	if (len == 0)
		return 0;
	mdev = umdev__mdev_get_serial(&n->uuid, n->serial); /* put below */
	if (!mdev)
		return -ENODEV;
	ret = check_result(n->bin->read(mdev, buf, off, len), len, "read", n->name);
	umdev_mdev_put(mdev);
	return ret;
}

const struct sysfs_file_ops umdev__sysfs_dev_bin_ops = {
    .read = dev_bin_read,
};
