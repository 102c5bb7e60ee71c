/* SPDX-License-Identifier: MIT */
/*
 * Core-private definitions: the records behind struct umdev_parent, struct umdev_type and
 * struct umdev_mdev, the parent guard, and the globals of registry.c. Not seen by any other
 * module (they use hooks.h). Lock order: docs/locking.md.
 */
#ifndef UMDEV_CORE_H
#define UMDEV_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hooks.h"
#include "ida.h"
#include "list.h"
#include "lockdep.h"
#include "umdev/mdev.h"

/*
 * Parent guard (mdev.md §3.1, §4.4): parent liveness against create, remove and vendor
 * callbacks made for sysfs reads. Tickets are try-only: taking one never waits; only
 * unregistration waits, for the tickets actually outstanding (no grace period, §3.1).
 */
struct umdev_guard {
	struct umdev_mutex mutex; /* leaf; protects the four fields below; held for a few lines */
	unsigned int tickets; /* one per create from C1 on, remove past R1, or callback read */
	bool unregistering; /* §4.4 step 1: create and remove tickets fail -ENODEV */
	bool dead; /* §4.4 step 5: every ticket fails -ENODEV */
	pthread_cond_t drained; /* signalled when tickets reaches 0 while unregistering */
};

void umdev__guard_init(struct umdev_guard *g);
void umdev__guard_destroy(struct umdev_guard *g);
/*
 * Take a ticket: a create/remove one (@callback false) or a callback one. Never waits.
 * Return: 0; -ENODEV unregistering (create/remove) or dead (any); -ESTALE dead, when
 * @callback is false (a stale `create` handle, which fails before any other check).
 */
int umdev__guard_get(struct umdev_guard *g, bool callback);
/* Drop a ticket taken by umdev__guard_get(). */
void umdev__guard_put(struct umdev_guard *g);

/* The core's record of an mdev type; embedded in its parent's record. */
struct umdev__type {
	struct umdev__parent *parent;
	struct umdev_type *vendor; /* vendor memory: only while the parent is registered */
	char id[UMDEV_PARENT_NAME_MAX + UMDEV_TYPE_NAME_MAX + 2]; /* "<driver>-<sysfs_name>" */
	char name[256]; /* `name` text, no \n */
};

/*
 * The core's record of a registered parent. Reference counted so that sysfs nodes may
 * outlive the registration (they then get -ENODEV); vendor memory (vendor, drv, the types'
 * vendor pointers) is touched only under a guard ticket or by the unregistering thread.
 */
struct umdev__parent {
	/*
	 * Holders: the registry (registration to the end of unregistration), each mdev in the
	 * UUID table (its type reference, C4 to RELEASE), each sysfs node that names the parent,
	 * and each umdev_mdev_create() in progress (taken under list_lock while the vendor
	 * type's core pointer is set). A remove in progress holds none of its own: the mdev's
	 * type reference keeps the record, its guard ticket keeps the parent registered.
	 */
	atomic_uint refs;
	char name[UMDEV_PARENT_NAME_MAX + 1];
	char class[UMDEV_PARENT_NAME_MAX + 1];
	char drv_name[UMDEV_PARENT_NAME_MAX + 1];
	char device_api[64];
	bool driver_managed; /* drv->get_available set: no core accounting (§4.5) */
	bool has_description; /* drv->show_description set */
	struct umdev_driver *drv; /* vendor memory; see above */
	struct umdev_parent *vendor; /* vendor memory; see above */
	struct umdev_guard guard;
	struct umdev_list node; /* in the parent registry; under driver_lock */
	struct umdev_list mdevs; /* mdevs of this parent in the UUID table; under list_lock */
	unsigned int available; /* core-managed counter (§4.5); under list_lock */
	unsigned int nr_types;
	struct umdev__type types[];
};

enum umdev_mdev_state {
	UMDEV_MDEV_RESERVED,
	UMDEV_MDEV_ACTIVE,
	UMDEV_MDEV_REMOVING,
};

struct umdev_mdev {
	uuid_t uuid;
	uint64_t serial; /* unique for the process lifetime; set at C4 */
	struct umdev__type *type; /* holds a reference on type->parent (C4 to RELEASE) */
	enum umdev_mdev_state state; /* under list_lock */
	bool published; /* under list_lock; set after C9's publish; remove waits for it */
	struct umdev_list parent_node; /* type->parent->mdevs; under list_lock */
	struct umdev_mdev *hash_next; /* UUID table chain; under list_lock */
	/*
	 * Memory lifetime (mdev.md §2.1). Holders: the creation reference (C4 to RELEASE) and
	 * one per umdev_mdev_get()/umdev__mdev_get_serial() caller (sysfs attribute operations,
	 * drivers). Taken only while ACTIVE, under list_lock; so once the state leaves ACTIVE it
	 * only falls. vfio-user sessions hold none: R4 ends them and waits for their threads
	 * before anything of the mdev is freed, so none outlives R4.
	 */
	atomic_uint refs;
	struct umdev_mutex ref_lock; /* leaf; pairs a put with the waiter on ref_zero */
	pthread_cond_t ref_zero; /* signalled when refs drops to 1 or 0 */
	void *drvdata; /* the driver's; not synchronised by the core */
	unsigned int vfio_index; /* C7 */
	int iommu_group; /* C8; -1 before */
	void *tree_nodes; /* C8: the sysfs module's node set */
	void *vfio_device; /* the vfio layer's record (umdev__mdev_vfio_slot()); never read here */
};

/* ---- registry.c: globals and hooks ---- */

/*
 * list_lock (mdev.md §3.1): the UUID table, every mdev's state and published fields, every
 * parent's mdevs list and core-managed counter, the serial counter. Held for one search plus
 * insert, or one state change; never across a callback, hook, allocation that may block, or
 * a wait.
 */
extern struct umdev_mutex umdev__list_lock;
/* driver_lock: the driver and parent registries. Registration calls only; outermost. */
extern struct umdev_mutex umdev__driver_lock;
extern struct umdev_list umdev__parents; /* under driver_lock */
/* iommu group numbers (mdev.md §6.4): lowest free, one per mdev */
extern struct umdev_ida umdev__iommu_ida;

extern const struct umdev_tree_hooks *umdev__tree;
extern void *umdev__tree_opaque;
extern const struct umdev_vfio_hooks *umdev__vfio;
extern void *umdev__vfio_opaque;
extern const struct umdev_test_hooks *umdev__test;

/* Look up a parent by name. Caller holds driver_lock. */
struct umdev__parent *umdev__registry_find_parent(const char *name);

/* ---- mdev.c ---- */

/* R3-R6 for an mdev the caller moved to REMOVING; a guard ticket or unregistration holds
 * the parent. Caller holds no lock. */
void umdev__mdev_teardown(struct umdev_mdev *mdev);
/* The first ACTIVE mdev of @p, moved to REMOVING, or NULL (§4.4 step 4). Caller holds the
 * guard as unregistration (no create or remove of @p in flight). */
struct umdev_mdev *umdev__parent_take_active(struct umdev__parent *p);
/* Number of mdevs in the table (tests). */
extern unsigned int umdev__nr_mdevs; /* under list_lock */

/* Name checks shared by driver and parent registration. */
bool umdev__name_valid(const char *name, size_t max);

#endif
