/* SPDX-License-Identifier: MIT */
/*
 * umdev/mdev.h - the mdev core's public API: what a vendor driver uses to register an mdev
 * driver and its parents, and what umdevd uses to create and remove mdevs.
 *
 * Mirrors the kernel's include/linux/mdev.h with a `umdev_` prefix; the vfio device model of
 * an mdev (regions, irqs, DMA) is in umdev/vfio.h, the PCI config-space helper in umdev/pci.h,
 * and the declaration of a loadable driver module in umdev/module.h. Contract: mdev.md §5
 * (../shared/spec/mdev.md); sequences §4. Errors are negative errno values. Every function
 * here is thread-safe unless it says otherwise.
 */
#ifndef UMDEV_MDEV_H
#define UMDEV_MDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uuid/uuid.h>

#ifdef __cplusplus
extern "C" {
#endif

struct umdev_mdev; /* an mdev device; opaque, owned by the core */
struct umdev_vfio_ops; /* vfio-user.md §10.3; defined in umdev/vfio.h */
struct umdev__parent; /* core-private */
struct umdev__type; /* core-private */

/** Largest sysfs_name of an mdev type, in bytes without the NUL (mdev.md §5.1). */
#define UMDEV_TYPE_NAME_MAX 64
/** Largest parent name or class, in bytes without the NUL. */
#define UMDEV_PARENT_NAME_MAX 64
/** Size of the buffer handed to show callbacks, in bytes (one page, as sysfs). */
#define UMDEV_ATTR_BUF_SIZE 4096

/**
 * struct umdev_type - an mdev type a parent offers (kernel: struct mdev_type).
 *
 * The driver fills the first group and zero-initialises the rest. The type id shown in sysfs
 * is "<driver name>-<sysfs_name>" (mdev.md §1). Vendor memory: it must stay valid until
 * umdev_unregister_parent() returns; the core does not touch it afterwards.
 */
struct umdev_type {
	/* set by the driver */
	const char *sysfs_name; /* required; [A-Za-z0-9_.:+-], 1..64 bytes */
	const char *pretty_name; /* optional; the `name` file falls back to sysfs_name */

	/* set by the core at registration; private */
	struct umdev__type *core;
};

/**
 * struct umdev_parent - a device able to host mdevs (kernel: struct mdev_parent).
 *
 * Embedded in the vendor's own state; the vendor fills nothing. Valid from
 * umdev_register_parent() until umdev_unregister_parent() returns.
 */
struct umdev_parent {
	/* set by the core; private */
	struct umdev__parent *core;
};

/**
 * struct umdev_attr - one device attribute file (kernel: struct device_attribute).
 * @name: file name; no '/'.
 * @mode: 0444, 0200 or 0644. A read bit needs @show, a write bit needs @store (mdev.md §6.1).
 *	With UMDEV_ATTR_BIN set, this is the @attr of a struct umdev_bin_attr instead.
 * @show: fill @buf (UMDEV_ATTR_BUF_SIZE bytes) and return the byte count, or a negative errno
 *	returned to the reader. Called with a reference on an ACTIVE mdev, no core lock held.
 * @store: one write(2) of @len bytes (1..4096). Return @len (or fewer: a short write) or a
 *	negative errno returned to the writer. Never called for an mdev that is not ACTIVE (M-81).
 */
struct umdev_attr {
	const char *name;
	unsigned int mode;
	ssize_t (*show)(struct umdev_mdev *mdev, char *buf, size_t len);
	ssize_t (*store)(struct umdev_mdev *mdev, const char *buf, size_t len);
};

/**
 * UMDEV_ATTR_BIN - flag in umdev_attr.mode: this attribute is the @attr member of a
 * struct umdev_bin_attr, which the core reaches from it (the kernel's bin_attribute).
 */
#define UMDEV_ATTR_BIN 0x10000u

/**
 * struct umdev_bin_attr - one binary device attribute file (kernel: struct bin_attribute).
 * @attr: what every attribute has; @attr.name is the file name (no '/'), @attr.mode is
 *	0444 | UMDEV_ATTR_BIN (write bits are ignored: binary files are read-only), @attr.show
 *	and @attr.store are NULL. List &@attr in a group's @attrs like any other attribute.
 * @size: the file's length in bytes, reported as st_size; reads are clipped to it and a read
 *	at or past it returns 0 (end of file) without calling @read. 0: the length is not known
 *	in advance (st_size 0): every read is passed on and @read says where the end is by
 *	returning 0.
 * @read: copy at most @len bytes of the content at byte @offset into @buf (caller's memory,
 *	@len bytes, borrowed for the call) and return the count (0: end of file), or a negative
 *	errno returned to the reader unchanged. Unlike show there is no 4096-byte limit and no
 *	snapshot: each read(2), at any offset, is one call (with @len up to the kernel's FUSE
 *	read size, 128 KiB typically; a larger read(2) is several calls), so content that must
 *	be consistent across calls is the driver's to keep. Called with a reference on an
 *	ACTIVE mdev and no core lock held, possibly from several threads at once. A count above
 *	@len, or a positive value that is no count, is a driver bug: the reader gets EIO and
 *	the core logs it at error level.
 *
 * Source: the kernel's include/linux/sysfs.h (struct bin_attribute) and fs/sysfs/file.c
 * (sysfs_kf_bin_read(): clipped to the size unless it is 0). ABI: a new type only; no
 * existing structure changes, so a module built against an older umdev still loads.
 */
struct umdev_bin_attr {
	struct umdev_attr attr;
	size_t size;
	ssize_t (*read)(struct umdev_mdev *mdev, char *buf, size_t offset, size_t len);
};

/**
 * struct umdev_attr_group - device attributes, optionally in a subdirectory.
 * @name: subdirectory of the mdev directory, or NULL for the mdev directory itself.
 * @attrs: NULL-terminated array; binary attributes appear through their &umdev_bin_attr.attr.
 * @is_visible: optional (kernel: attribute_group.is_visible). Called once per attribute when
 *	the mdev's nodes are built (create step C8, after probe succeeded, no core lock held);
 *	false leaves that attribute out of this mdev's directory. NULL: every attribute exists.
 */
struct umdev_attr_group {
	const char *name;
	const struct umdev_attr *const *attrs;
	bool (*is_visible)(struct umdev_mdev *mdev, const struct umdev_attr *attr);
};

/**
 * struct umdev_driver - the mdev driver bound to every mdev of its parents
 * (kernel: struct mdev_driver). Vendor memory; must outlive every parent that uses it.
 * Callback contract: mdev.md §5.3. No core lock is held during any callback (M-78).
 */
struct umdev_driver {
	/* set by the driver */
	const char *name; /* required; unique; /sys/bus/mdev/drivers/<name> */
	const char *device_api; /* required; e.g. "vfio-pci" */
	/*
	 * Core-managed accounting when get_available is NULL: one counter per parent shared by
	 * all its types (mdev.md §4.5); create fails -EUSERS at 0.
	 */
	unsigned int max_instances;
	/* C6: set up per-device state; 0 or -errno, leaving nothing behind on error */
	int (*probe)(struct umdev_mdev *mdev);
	/* R5: free what probe built; may sleep; never calls umdev_unregister_parent() */
	void (*remove)(struct umdev_mdev *mdev);
	/* driver-managed accounting: capacity of @type now; cheap, never blocks */
	unsigned int (*get_available)(struct umdev_type *type);
	/* `description` file (absent when NULL): at most @len bytes, returns count or -errno */
	ssize_t (*show_description)(struct umdev_type *type, char *buf, size_t len);
	/* NULL-terminated; published with the mdev and unpublished at remove */
	const struct umdev_attr_group *const *dev_groups;
	/* vfio-user.md §10.3; NULL for a driver without a vfio device model */
	const struct umdev_vfio_ops *vfio_ops;

	/* set by the core; private */
	unsigned int nr_parents; /* under driver_lock: registered parents using this driver */
	bool registered; /* under driver_lock */
};

/**
 * umdev_register_driver() - make an mdev driver available to parents.
 * @drv: the driver; borrowed, must stay valid until umdev_unregister_driver() succeeds.
 *
 * Makes /sys/bus/mdev/drivers/<name>/ appear. Source: mdev.md §5.2.
 *
 * Return: 0, -EINVAL no @name, no @device_api or no @probe, a bad name (empty, '/', over 64
 * bytes), or an empty @device_api or one of 64 bytes or more (M-9); -EEXIST a driver of that
 * name is registered (M-9); -ENOMEM.
 */
int umdev_register_driver(struct umdev_driver *drv);

/**
 * umdev_unregister_driver() - withdraw a driver registered with umdev_register_driver().
 * @drv: the driver.
 *
 * Return: 0; -EBUSY a registered parent still uses it (M-13); -ENOENT not registered.
 */
int umdev_unregister_driver(struct umdev_driver *drv);

/**
 * umdev_register_parent() - register a parent and its mdev types (kernel:
 * mdev_register_parent()).
 * @parent: vendor storage, zero-initialised; borrowed until umdev_unregister_parent().
 * @name: parent name (the directory basename and the /sys/class/mdev_bus link); copied.
 * @class: directory under /sys/devices/virtual and /sys/class; NULL means @drv->name; copied.
 * @drv: a registered driver; borrowed.
 * @types: @nr pointers to vendor types; borrowed until umdev_unregister_parent() returns.
 * @nr: number of types, at least 1.
 *
 * Publishes the parent's tree in the order of mdev.md §4.3, the mdev_bus link last (I-8);
 * on failure nothing of the parent is visible.
 *
 * Return: 0, -EINVAL @nr is 0, a bad or duplicate sysfs_name, @drv not registered, a bad
 * @name or @class (M-10); -EEXIST a parent of that name is registered (M-11); -ENOMEM; or the
 * sysfs layer's errno.
 */
int umdev_register_parent(struct umdev_parent *parent, const char *name, const char *class,
			  struct umdev_driver *drv, struct umdev_type **types, unsigned int nr);

/**
 * umdev_unregister_parent() - remove every mdev of @parent and unregister it.
 * @parent: a registered parent.
 *
 * Blocks until in-flight creates and removes on @parent finished, then removes the remaining
 * mdevs (vendor remove is called for each), and unpublishes the parent (mdev.md §4.4). Creates
 * and removes on @parent that start after it began fail -ENODEV (M-59). On return no callback
 * for @parent runs or will run and the vendor may free @parent and its types (M-80). Must not
 * be called from any callback of @parent's driver (probe, remove, get_available,
 * show_description, attribute show and store, the vfio_ops: it waits for them), nor while
 * holding a lock one of them takes.
 */
void umdev_unregister_parent(struct umdev_parent *parent);

/**
 * umdev_mdev_create() - create the mdev @uuid of mdev type @type.
 * @type: an mdev type of a registered parent; borrowed.
 * @uuid: name of the new mdev; copied.
 *
 * Runs steps C2-C9 of mdev.md §4.1. On success the mdev is ACTIVE and published with all its
 * nodes and the driver's probe has returned 0. Waits on no other create or remove; creates on
 * different parents and on one parent run in parallel (M-50, M-51).
 *
 * Return: 0, or a negative errno after which nothing of the attempt is observable:
 * -EEXIST @uuid names an mdev on any parent (M-20), or a dev_groups attribute has the name of
 * a node the core makes in the mdev directory (C8, e.g. "uevent"); -EUSERS core-managed and no
 * instance left (M-27); -ENOMEM; -ENODEV the parent is unregistering (M-59); else probe's errno
 * unchanged (M-29), -EIO for a probe result that is not an errno (M-31), or the vfio layer's errno
 * (M-32).
 */
int umdev_mdev_create(struct umdev_type *type, const uuid_t *uuid);

/**
 * umdev_mdev_remove() - remove the mdev @uuid (mdev.md §4.2, R1-R6).
 * @uuid: the mdev's UUID.
 *
 * Returns when the mdev is GONE: the UUID is free, available_instances restored, vfioN free.
 *
 * Return: 0; -ENODEV no such mdev or its parent is unregistering (M-44); -EAGAIN the mdev is
 * being created or removed by another thread (M-42).
 */
int umdev_mdev_remove(const uuid_t *uuid);

/**
 * umdev_mdev_get() - look up an ACTIVE mdev and take a reference on it.
 * @uuid: the UUID.
 *
 * Return: the mdev, or NULL when no mdev of that UUID is ACTIVE. Drop with umdev_mdev_put().
 */
struct umdev_mdev *umdev_mdev_get(const uuid_t *uuid);

/**
 * umdev_mdev_put() - drop a reference taken by umdev_mdev_get(). NULL is a no-op.
 */
void umdev_mdev_put(struct umdev_mdev *mdev);

/*
 * Accessors. Each is valid from the driver's probe entry until its remove returns (mdev.md
 * §5.2), and for the holder of a reference from umdev_mdev_get(). None fails, takes a lock or
 * blocks; the kernel's counterparts are the mdev_* helpers of <linux/mdev.h>.
 */

/**
 * umdev_mdev_uuid() - the UUID of @mdev (kernel: mdev_uuid()).
 * @mdev: the mdev.
 *
 * Return: the UUID, owned by the core and constant for the mdev's life.
 */
const uuid_t *umdev_mdev_uuid(const struct umdev_mdev *mdev);

/**
 * umdev_mdev_type() - the mdev type @mdev was created from (kernel: mdev->type).
 * @mdev: the mdev.
 *
 * Return: the vendor's struct umdev_type, as given to umdev_register_parent().
 */
struct umdev_type *umdev_mdev_type(const struct umdev_mdev *mdev);

/**
 * umdev_type_parent() - the parent that offers @type (kernel: mdev_type->parent).
 * @type: an mdev type of a registered parent.
 *
 * Return: the vendor's struct umdev_parent, as given to umdev_register_parent(); embed it in
 * the driver's own parent state and reach that with umdev_container_of().
 */
struct umdev_parent *umdev_type_parent(const struct umdev_type *type);

/**
 * umdev_mdev_set_drvdata() - attach driver-private data to @mdev (kernel: dev_set_drvdata()).
 * @mdev: the mdev, normally in probe.
 * @data: any pointer; owned by the driver, which frees it in remove.
 *
 * Not synchronised by the core: set it in probe before the device is reachable (C6 runs before
 * the vfio device and the nodes exist) and only read it afterwards.
 */
void umdev_mdev_set_drvdata(struct umdev_mdev *mdev, void *data);

/**
 * umdev_mdev_get_drvdata() - the pointer set by umdev_mdev_set_drvdata().
 * @mdev: the mdev.
 *
 * Return: the driver's pointer, or NULL if none was set.
 */
void *umdev_mdev_get_drvdata(const struct umdev_mdev *mdev);

/**
 * umdev_mdev_vfio_index() - the number N of @mdev's vfio device vfioN (vfio-user.md §3).
 * @mdev: the mdev, after create step C7 succeeded (i.e. not in probe).
 *
 * Return: N, the lowest number free at C7 (mdev.md §6.7); unspecified before C7.
 */
unsigned int umdev_mdev_vfio_index(const struct umdev_mdev *mdev);

/**
 * umdev_container_of() - the structure that embeds a member (kernel: container_of()).
 * @ptr: pointer to the member, e.g. the struct umdev_parent of umdev_type_parent().
 * @type: the embedding structure's type.
 * @member: the member's name in @type.
 *
 * Return: a pointer to the @type object containing *@ptr. No check: @ptr must point into one.
 */
#define umdev_container_of(ptr, type, member)                                                      \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#ifdef __cplusplus
}
#endif

#endif /* UMDEV_MDEV_H */
