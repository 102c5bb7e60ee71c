/* SPDX-License-Identifier: MIT */
/*
 * The core's face to the modules layered on it: sysfs (the FUSE tree) and vfio (vfioN and the
 * vfio-user server). Core calls them only through the hook tables below, installed once at
 * start-up before any driver or parent is registered, so core unit tests run with recording
 * hooks and no FUSE (STYLE.md §2).
 *
 * Object model seen from here (mdev.md §2):
 *  - struct umdev__parent is the core's own record of a registered parent. Unlike the vendor's
 *    struct umdev_parent it is reference counted, so a sysfs node may keep a pointer to it after
 *    the parent was unregistered: every operation on it then fails -ENODEV (stale handle,
 *    mdev.md §6.1, M-62, M-80) and no vendor memory is touched.
 *  - struct umdev__type lives inside its umdev__parent; references to a type are references to
 *    its parent.
 *  - an mdev is named by (uuid, serial): the serial is unique for the daemon's lifetime, so a
 *    node built for one mdev can never act on a later mdev that reuses its UUID.
 *
 * Lock order: docs/locking.md. No hook is called with list_lock held; the registration hooks
 * (driver_publish, driver_unpublish, parent_publish) run under driver_lock, so they
 * must not register or unregister anything. Hooks may call the functions below.
 */
#ifndef UMDEV_CORE_HOOKS_H
#define UMDEV_CORE_HOOKS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "umdev/mdev.h"

/* ---- parents and types ---- */

/** Take / drop a reference on a core parent record (and so on its types). */
void umdev__parent_get(struct umdev__parent *p);
void umdev__parent_put(struct umdev__parent *p);

/* Immutable after registration; valid while a reference is held. */
const char *umdev__parent_name(const struct umdev__parent *p);
const char *umdev__parent_class(const struct umdev__parent *p);
const char *umdev__parent_driver_name(const struct umdev__parent *p);
unsigned int umdev__parent_nr_types(const struct umdev__parent *p);
struct umdev__type *umdev__parent_type(struct umdev__parent *p, unsigned int i);

struct umdev__parent *umdev__type_parent(const struct umdev__type *t);
/** Type id, "<driver>-<sysfs_name>" (mdev.md §1): the type directory's name. */
const char *umdev__type_id(const struct umdev__type *t);
/** The `name` file's text without its newline: pretty name, else sysfs name (M-5). */
const char *umdev__type_name(const struct umdev__type *t);
/** The driver's device_api (M-6). */
const char *umdev__type_device_api(const struct umdev__type *t);
/** Whether the driver has show_description, i.e. whether `description` exists (M-3). */
bool umdev__type_has_description(const struct umdev__type *t);

/**
 * umdev__type_show_available() - format `available_instances` ("%u\n", mdev.md §4.5).
 * @buf: at least UMDEV_ATTR_BUF_SIZE bytes.
 * Calls get_available when the driver has it (M-79). Never blocks on create/remove/unregister.
 * Return: bytes written; -ENODEV parent unregistered.
 */
ssize_t umdev__type_show_available(struct umdev__type *t, char *buf, size_t len);

/**
 * umdev__type_show_description() - the bytes of show_description, unchanged (M-8).
 * Return: bytes written; -ENODEV parent unregistered or no callback; the callback's errno.
 */
ssize_t umdev__type_show_description(struct umdev__type *t, char *buf, size_t len);

/**
 * umdev__type_create() - umdev_mdev_create() for a type named by its core record (the path
 * of a `create` write). Return: as umdev_mdev_create(); -ENODEV once the parent began
 * unregistering or is gone, for stale handles (mdev.md §6.5, M-62).
 */
int umdev__type_create(struct umdev__type *t, const uuid_t *uuid);

/* ---- mdevs ---- */

/** Serial number of an mdev, unique for the process lifetime. */
uint64_t umdev__mdev_serial(const struct umdev_mdev *mdev);
struct umdev__type *umdev__mdev_core_type(const struct umdev_mdev *mdev);
/** iommu group number G of sys/kernel/iommu_groups/G; valid from C8 on (M-49). */
unsigned int umdev__mdev_iommu_group(const struct umdev_mdev *mdev);
/** The driver's vfio_ops (may be NULL); valid from C6 to R5, while the driver is bound. */
const struct umdev_vfio_ops *umdev__mdev_vfio_ops(const struct umdev_mdev *mdev);
/**
 * umdev__mdev_vfio_slot() - the vfio layer's per-mdev pointer (its device record), so that it
 * finds the record in O(1) (issue 10). NULL from C4; the core never reads or writes it
 * afterwards: the vfio layer sets and clears it under its own devices_lock, and clears it
 * before the record goes, except for records it keeps after the mdev is freed (a failed
 * probe's declaration), which it never reaches through the slot again.
 */
void **umdev__mdev_vfio_slot(struct umdev_mdev *mdev);
/** The driver's dev_groups (may be NULL). */
const struct umdev_attr_group *const *umdev__mdev_dev_groups(const struct umdev_mdev *mdev);

/**
 * umdev__mdev_get_serial() - reference on the ACTIVE mdev (@uuid, @serial), for a sysfs op on
 * one of its nodes. Return: the mdev (put with umdev_mdev_put()), or NULL: ENODEV to the user.
 */
struct umdev_mdev *umdev__mdev_get_serial(const uuid_t *uuid, uint64_t serial);

/**
 * umdev__mdev_remove_serial() - the `remove` write of mdev.md §6.6: remove (@uuid, @serial).
 * Return: 0; -ENODEV the mdev is GONE (stale handle) or its parent is unregistering; -EAGAIN
 * it is being removed by another writer (M-40).
 */
int umdev__mdev_remove_serial(const uuid_t *uuid, uint64_t serial);

/* ---- hooks installed by sysfs ---- */

/**
 * struct umdev_tree_hooks - the tree's side of registration, create and remove.
 *
 * Publication calls for one object never overlap; every publish is paired with exactly one
 * unpublish, in reverse order. None is called with a core lock held.
 */
struct umdev_tree_hooks {
	/* /sys/bus/mdev/drivers/<name>/ */
	int (*driver_publish)(void *opaque, const struct umdev_driver *drv);
	void (*driver_unpublish)(void *opaque, const struct umdev_driver *drv);
	/*
	 * mdev.md §4.3 step 2 except the mdev_bus link: parent dir (uevent, subsystem),
	 * class/<class>/<name>, mdev_supported_types/ and every type dir. Atomic: on error nothing
	 * stays published. Takes the parent references its nodes need.
	 */
	int (*parent_publish)(void *opaque, struct umdev__parent *p);
	/* class/mdev_bus/<name>: published last at registration, unpublished first (I-8) */
	int (*parent_publish_bus_link)(void *opaque, struct umdev__parent *p);
	void (*parent_unpublish_bus_link)(void *opaque, struct umdev__parent *p);
	/* §4.4 step 5: the reverse of parent_publish */
	void (*parent_unpublish)(void *opaque, struct umdev__parent *p);
	/*
	 * C8, the last step of create that can fail: build the mdev's node set without
	 * publishing it; atomic (on error nothing is left); -ENOMEM. The result is stored by the
	 * core and handed back to mdev_publish, then mdev_unpublish.
	 */
	int (*mdev_prepare)(void *opaque, struct umdev_mdev *mdev, void **ret_nodes);
	/* C9: publish the whole node set in one tree update; cannot fail */
	void (*mdev_publish)(void *opaque, struct umdev_mdev *mdev, void *nodes);
	/* R3: unpublish in one tree update and free the set; never waits for FUSE requests */
	void (*mdev_unpublish)(void *opaque, struct umdev_mdev *mdev, void *nodes);
};

/* ---- hooks installed by vfio ---- */

struct umdev_vfio_hooks {
	/* C7: create the vfio device, allocate N (lowest free, mdev.md §6.7); -errno */
	int (*vfio_register)(void *opaque, struct umdev_mdev *mdev, unsigned int *ret_index);
	/* R4 (and the undo of C7): terminate sessions, wait for their references, free N */
	void (*vfio_detach)(void *opaque, struct umdev_mdev *mdev);
};

/**
 * Install the hook tables. Call once each before the first registration; @hooks and @opaque
 * are borrowed until umdev__core_reset(). Without tree hooks nothing is published; without
 * vfio hooks the core numbers vfio devices itself (unit tests).
 */
void umdev__core_set_tree_hooks(const struct umdev_tree_hooks *hooks, void *opaque);
void umdev__core_set_vfio_hooks(const struct umdev_vfio_hooks *hooks, void *opaque);

/*
 * Points where a test may stop a core operation to force an interleaving (the kernel's
 * fault-injection points, issue 8): the hook runs in the operation's thread and may block.
 */
enum umdev_test_point {
	/* umdev_mdev_create(): the parent record found and referenced; before the ticket */
	UMDEV_TEST_CREATE_LOOKED_UP,
	/* create: UUID reserved (C4), ticket held; before probe (C6) */
	UMDEV_TEST_CREATE_RESERVED,
	/* create: node set published (C9), before the mdev is marked removable */
	UMDEV_TEST_CREATE_PUBLISHED,
	/* remove: found ACTIVE but not yet published; about to wait for C9 to end. list_lock
	 * is held: the hook must not block or call into the core. */
	UMDEV_TEST_REMOVE_WAIT_PUBLISHED,
	/* unregistration, steps 3 and 5: about to wait for outstanding tickets (uuid NULL). The
	 * parent's guard mutex is held: the hook must not block or call into the core. */
	UMDEV_TEST_UNREGISTER_DRAIN_WAIT,
};

/*
 * Test hooks (M-63): called with no lock held (except where said above). NULL: none.
 * before_bus_link: §4.3 just before the mdev_bus link is published.
 * after_bus_unlink: §4.4 just after step 2.
 * point: at each enum umdev_test_point; @uuid the mdev's, or NULL.
 */
struct umdev_test_hooks {
	void (*register_before_bus_link)(struct umdev_parent *parent);
	void (*unregister_after_bus_unlink)(struct umdev_parent *parent);
	void (*point)(enum umdev_test_point point, const uuid_t *uuid);
};
void umdev__core_set_test_hooks(const struct umdev_test_hooks *hooks);

/**
 * umdev__core_reset() - forget all hooks and registries (unit tests). Every parent and driver
 * must have been unregistered.
 */
void umdev__core_reset(void);

/**
 * umdev_core_remove_all() - remove every mdev, newest first (umdevd shutdown, mdev.md §8.2).
 * Mdevs whose remove fails (-EAGAIN: being created or removed by another thread) are skipped.
 * Exported from libumdev.so.0 for umdevd only (version node UMDEV_PRIVATE, src/lib/).
 * Return: the number of mdevs removed.
 */
unsigned int umdev_core_remove_all(void);

/** umdev__core_nr_mdevs() - number of mdevs in the UUID table (tests, shutdown). */
unsigned int umdev__core_nr_mdevs(void);

/**
 * umdev__core_for_each_parent() - call @fn for every registered parent, under driver_lock
 * (so @fn must not register or unregister anything). Used by umdevd at shutdown to collect
 * parents. Return: the first non-zero @fn result, or 0.
 */
int umdev__core_for_each_parent(int (*fn)(struct umdev_parent *parent, void *arg), void *arg);

#endif /* UMDEV_CORE_HOOKS_H */
