// SPDX-License-Identifier: MIT
/*
 * mdevs: the global UUID table, create (mdev.md §4.1), remove (§4.2), references (§2.1).
 *
 * The table is a fixed array of hash chains under list_lock. list_lock is held for one
 * search plus insert or one state change only, so creates and removes on different parents,
 * or on one parent, never wait on each other (§3.2, M-50, M-51).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "umdev/log.h"

#define UUID_TABLE_BUCKETS 1024

/* The UUID table (I-1): one namespace for all parents. Under list_lock. */
static struct umdev_mdev *uuid_table[UUID_TABLE_BUCKETS];
unsigned int umdev__nr_mdevs; /* under list_lock */
static uint64_t next_serial = 1; /* under list_lock */
/* Signalled (under list_lock) when an mdev becomes published: R2 waits for it (M-40). */
static pthread_cond_t published_cond = PTHREAD_COND_INITIALIZER;

static unsigned int uuid_hash(const uuid_t *uuid)
{
	uint64_t a, b;

	memcpy(&a, *uuid, 8);
	memcpy(&b, *uuid + 8, 8);
	a ^= b;
	a ^= a >> 29;
	return (unsigned int)(a * UINT64_C(0x9e3779b97f4a7c15) >> 54) % UUID_TABLE_BUCKETS;
}

/* Caller holds list_lock. */
static struct umdev_mdev *table_find(const uuid_t *uuid)
{
	struct umdev_mdev *m;

	umdev__assert_held(&umdev__list_lock);

	for (m = uuid_table[uuid_hash(uuid)]; m; m = m->hash_next)
		if (memcmp(m->uuid, *uuid, sizeof(uuid_t)) == 0) /* 16 binary bytes (I-1) */
			return m;
	return NULL;
}

/* Caller holds list_lock. */
static void table_insert(struct umdev_mdev *mdev)
{
	unsigned int h = uuid_hash(&mdev->uuid);

	umdev__assert_held(&umdev__list_lock);

	mdev->hash_next = uuid_table[h];
	uuid_table[h] = mdev;
	umdev__nr_mdevs++;
}

/* Caller holds list_lock. */
static void table_delete(struct umdev_mdev *mdev)
{
	struct umdev_mdev **pp = &uuid_table[uuid_hash(&mdev->uuid)];

	umdev__assert_held(&umdev__list_lock);

	while (*pp != mdev)
		pp = &(*pp)->hash_next;
	*pp = mdev->hash_next;
	umdev__nr_mdevs--;
}

/* ---- references ---- */

struct umdev_mdev *umdev_mdev_get(const uuid_t *uuid)
{
	struct umdev_mdev *mdev;

	umdev__mutex_lock(&umdev__list_lock);
	mdev = table_find(uuid);
	if (mdev && mdev->state == UMDEV_MDEV_ACTIVE)
		atomic_fetch_add_explicit(&mdev->refs, 1, memory_order_relaxed);
	else
		mdev = NULL; /* RESERVED, REMOVING, GONE: invisible (§2.2) */
	umdev__mutex_unlock(&umdev__list_lock);
	return mdev; /* ACTIVE holds the creation reference, so refs was > 0 */
}

struct umdev_mdev *umdev__mdev_get_serial(const uuid_t *uuid, uint64_t serial)
{
	struct umdev_mdev *mdev;

	umdev__mutex_lock(&umdev__list_lock);
	mdev = table_find(uuid);
	if (mdev && mdev->serial == serial && mdev->state == UMDEV_MDEV_ACTIVE)
		atomic_fetch_add_explicit(&mdev->refs, 1, memory_order_relaxed);
	else
		mdev = NULL;
	umdev__mutex_unlock(&umdev__list_lock);
	return mdev;
}

void umdev_mdev_put(struct umdev_mdev *mdev)
{
	if (!mdev)
		return;
	/* under ref_lock so that a waiter in wait_refs() cannot miss the wake-up */
	umdev__mutex_lock(&mdev->ref_lock);
	if (atomic_fetch_sub_explicit(&mdev->refs, 1, memory_order_acq_rel) <= 2)
		pthread_cond_broadcast(&mdev->ref_zero);
	umdev__mutex_unlock(&mdev->ref_lock);
}

/* Wait until at most @target references remain; the state is no longer ACTIVE. */
static void wait_refs(struct umdev_mdev *mdev, unsigned int target)
{
	umdev__mutex_lock(&mdev->ref_lock);
	while (atomic_load_explicit(&mdev->refs, memory_order_acquire) > target)
		umdev__cond_wait(&mdev->ref_zero, &mdev->ref_lock);
	umdev__mutex_unlock(&mdev->ref_lock);
}

/*
 * RELEASE (§4.1, R6): drop the creation reference, wait for zero, then delete the table
 * entry and restore the counter, drop the type reference and free.
 */
static void mdev_release(struct umdev_mdev *mdev)
{
	struct umdev__parent *p = mdev->type->parent;

	umdev_mdev_put(mdev); /* the creation reference, taken at C4 */
	wait_refs(mdev, 0);

	umdev__mutex_lock(&umdev__list_lock);
	table_delete(mdev);
	umdev_list_del(&mdev->parent_node);
	if (!p->driver_managed)
		p->available++; /* §4.5: incremented at RELEASE only */
	umdev__mutex_unlock(&umdev__list_lock);

	umdev__parent_put(p); /* the type reference, taken at C4 */
	pthread_cond_destroy(&mdev->ref_zero);
	umdev__mutex_destroy(&mdev->ref_lock);
	free(mdev);
}

/* ---- create (§4.1) ---- */

/* vfioN numbers when no vfio module is installed (core unit tests) */
static struct umdev_ida fallback_vfio_ida = UMDEV_IDA_INIT;

static int vfio_register(struct umdev_mdev *mdev)
{
	int n;

	if (umdev__vfio)
		return umdev__vfio->vfio_register(umdev__vfio_opaque, mdev, &mdev->vfio_index);
	n = umdev_ida_alloc(&fallback_vfio_ida);
	if (n < 0)
		return n;
	mdev->vfio_index = (unsigned int)n;
	return 0;
}

static void vfio_detach(struct umdev_mdev *mdev)
{
	if (umdev__vfio)
		umdev__vfio->vfio_detach(umdev__vfio_opaque, mdev);
	else
		umdev_ida_free(&fallback_vfio_ida, mdev->vfio_index);
}

/* A probe result that is not 0 or an errno is a driver bug (M-31). */
static int probe_result(const struct umdev__parent *p, int ret)
{
	if (ret > 0 || ret < -4095) {
		umdev_log(UMDEV_LOG_ERR, "parent '%s': probe returned %d, not an errno; using -EIO",
			  p->name, ret);
		return -EIO;
	}
	return ret;
}

/* Vendor callbacks and hooks run with no core lock held (M-78, hooks.h). */
static void assert_no_core_lock(void)
{
	umdev__assert_not_held(&umdev__driver_lock);
	umdev__assert_not_held(&umdev__list_lock);
}

/* A test hook's point (hooks.h). */
static void test_point(enum umdev_test_point point, const uuid_t *uuid)
{
	if (umdev__test && umdev__test->point)
		umdev__test->point(point, uuid);
}

/*
 * Create (§4.1). The guard ticket (C5) is taken first, before the UUID is reserved, so that
 * no mdev is ever in the table without a ticket on its parent: unregistration's step 3,
 * which waits for the tickets, then also waits for every reservation (I-6, M-45). A failed
 * ticket is reported in the spec's errno order, after C2-C4's checks: EEXIST, EUSERS and
 * ENOMEM still win over ENODEV (M-20, M-27). A dead parent (a stale `create` handle) fails
 * before anything else (§6.5, M-62).
 */
int umdev__type_create(struct umdev__type *t, const uuid_t *uuid)
{
	struct umdev__parent *p = t->parent;
	struct umdev_mdev *mdev;
	int ticket, ret;

	ticket = umdev__guard_get(&p->guard, false); /* C5 (M-59); see above */
	if (ticket == -ESTALE)
		return -ENODEV;

	/* allocated before list_lock; its failure is reported after C2/C3 (errno order) */
	mdev = calloc(1, sizeof(*mdev));

	umdev__mutex_lock(&umdev__list_lock);
	if (table_find(uuid)) {
		ret = -EEXIST; /* C2: any parent (M-20) */
		goto err_unlock;
	}
	if (!p->driver_managed && p->available == 0) {
		ret = -EUSERS; /* C3 (M-27) */
		goto err_unlock;
	}
	if (!mdev) {
		ret = -ENOMEM; /* C4 */
		goto err_unlock;
	}
	if (ticket < 0) {
		ret = ticket; /* C5's -ENODEV, now that nothing else fails first */
		goto err_unlock;
	}
	/* C4: reserve; from here the UUID is taken and the instance counted */
	memcpy(mdev->uuid, *uuid, sizeof(uuid_t));
	mdev->serial = next_serial++;
	mdev->type = t;
	mdev->state = UMDEV_MDEV_RESERVED;
	mdev->iommu_group = -1;
	atomic_init(&mdev->refs, 1); /* the creation reference; put in mdev_release() */
	umdev__mutex_init(&mdev->ref_lock, &umdev__lock_class_mdev_ref, false);
	pthread_cond_init(&mdev->ref_zero, NULL);
	umdev__parent_get(p); /* the type reference; put in mdev_release() */
	if (!p->driver_managed)
		p->available--;
	table_insert(mdev);
	umdev_list_add_tail(&p->mdevs, &mdev->parent_node);
	umdev__mutex_unlock(&umdev__list_lock);

	test_point(UMDEV_TEST_CREATE_RESERVED, uuid);
	assert_no_core_lock(); /* M-78 */
	ret = probe_result(p, p->drv->probe(mdev)); /* C6: vendor errno unchanged (M-29) */
	if (ret < 0)
		goto err_release;
	ret = vfio_register(mdev); /* C7: allocates vfioN (M-32, M-46) */
	if (ret < 0)
		goto err_vendor_remove;
	ret = umdev_ida_alloc(&umdev__iommu_ida); /* C8: iommu group (M-49) */
	if (ret < 0)
		goto err_vfio_detach;
	mdev->iommu_group = ret;
	if (umdev__tree) {
		/* C8: the last step that can fail; on error it leaves nothing */
		ret = umdev__tree->mdev_prepare(umdev__tree_opaque, mdev, &mdev->tree_nodes);
		if (ret < 0)
			goto err_free_group;
	}
	/* C9: cannot fail */
	umdev__mutex_lock(&umdev__list_lock);
	mdev->state = UMDEV_MDEV_ACTIVE;
	umdev__mutex_unlock(&umdev__list_lock);
	if (umdev__tree)
		umdev__tree->mdev_publish(umdev__tree_opaque, mdev, mdev->tree_nodes);
	test_point(UMDEV_TEST_CREATE_PUBLISHED, uuid);
	umdev__mutex_lock(&umdev__list_lock);
	mdev->published = true; /* removable from here (R2); removers may be waiting for it */
	pthread_cond_broadcast(&published_cond);
	umdev__mutex_unlock(&umdev__list_lock);
	umdev__guard_put(&p->guard);
	return 0;

err_free_group:
	umdev_ida_free(&umdev__iommu_ida, (unsigned int)mdev->iommu_group);
err_vfio_detach:
	vfio_detach(mdev);
err_vendor_remove:
	if (p->drv->remove)
		p->drv->remove(mdev); /* probe succeeded: remove exactly once (I-4) */
err_release:
	mdev_release(mdev); /* before the ticket: unregistration waits for the table entry */
	umdev__guard_put(&p->guard);
	return ret;
err_unlock:
	umdev__mutex_unlock(&umdev__list_lock);
	free(mdev);
	if (ticket == 0)
		umdev__guard_put(&p->guard);
	return ret;
}

int umdev_mdev_create(struct umdev_type *type, const uuid_t *uuid)
{
	struct umdev__type *t;
	int ret;

	if (!type || !uuid)
		return -EINVAL;
	/*
	 * The parent may be unregistering on another thread: its record is reachable through
	 * type->core only while registered, and step 6 clears that pointer under list_lock
	 * before the registry's reference goes, so a reference taken here is safe.
	 */
	umdev__mutex_lock(&umdev__list_lock);
	t = type->core;
	if (t)
		umdev__parent_get(t->parent); /* put below */
	umdev__mutex_unlock(&umdev__list_lock);
	if (!t)
		return -ENODEV; /* the parent is not registered */
	test_point(UMDEV_TEST_CREATE_LOOKED_UP, uuid);
	ret = umdev__type_create(t, uuid);
	umdev__parent_put(t->parent);
	return ret;
}

/* ---- remove (§4.2) ---- */

void umdev__mdev_teardown(struct umdev_mdev *mdev)
{
	struct umdev__parent *p = mdev->type->parent;

	umdev__assert_not_held(&umdev__list_lock);
	/* R3: the mirror of C8, which built the node set after taking the iommu group */
	if (umdev__tree)
		umdev__tree->mdev_unpublish(umdev__tree_opaque, mdev, mdev->tree_nodes);
	umdev_ida_free(&umdev__iommu_ida, (unsigned int)mdev->iommu_group);
	vfio_detach(mdev); /* R4: sessions terminated, vfioN freed; the mirror of C7 */
	/*
	 * Let the short-lived users (sysfs attribute operations) finish before the vendor frees
	 * its state: show/store never run concurrently with remove (§5.3, M-81). No new one can
	 * start: the mdev is no longer ACTIVE. Only the creation reference remains afterwards.
	 */
	wait_refs(mdev, 1);
	assert_no_core_lock(); /* M-78 */
	if (p->drv->remove) /* R5: the mirror of C6 */
		p->drv->remove(mdev);
	mdev_release(mdev); /* R6 */
}

struct umdev_mdev *umdev__parent_take_active(struct umdev__parent *p)
{
	struct umdev_list *pos;
	struct umdev_mdev *found = NULL;

	umdev__mutex_lock(&umdev__list_lock);
	umdev_list_for_each(pos, &p->mdevs) {
		struct umdev_mdev *m = umdev_list_entry(pos, struct umdev_mdev, parent_node);

		if (m->state == UMDEV_MDEV_ACTIVE && m->published) {
			m->state = UMDEV_MDEV_REMOVING;
			found = m;
			break;
		}
	}
	umdev__mutex_unlock(&umdev__list_lock);
	return found;
}

/*
 * Remove @uuid; with @check_serial only the mdev of that serial (a sysfs `remove` node).
 * R1 and R2 share one list_lock section: the guard ticket is try-only and its mutex a leaf
 * below list_lock, so taking it there never waits on unregistration (docs/locking.md).
 *
 * An mdev that is ACTIVE but not yet published is between the two halves of C9, which
 * cannot fail: R2 waits for the creator to finish it rather than fail with EAGAIN, which
 * §2.2 gives only while RESERVED or REMOVING. The wait holds the ticket; the creator holds
 * its own and needs neither this one nor anything the waiter holds.
 */
static int mdev_remove(const uuid_t *uuid, bool check_serial, uint64_t serial)
{
	struct umdev__parent *p;
	struct umdev_mdev *mdev;
	int ret;

	umdev__mutex_lock(&umdev__list_lock);
	mdev = table_find(uuid);
	if (!mdev || (check_serial && mdev->serial != serial)) {
		umdev__mutex_unlock(&umdev__list_lock);
		return -ENODEV; /* M-44; stale handle (M-39, M-40) */
	}
	p = mdev->type->parent;
	ret = umdev__guard_get(&p->guard, false); /* R1 */
	if (ret < 0) {
		umdev__mutex_unlock(&umdev__list_lock);
		return -ENODEV;
	}
	if (mdev->state == UMDEV_MDEV_ACTIVE && !mdev->published) {
		uint64_t found = mdev->serial;

		test_point(UMDEV_TEST_REMOVE_WAIT_PUBLISHED, uuid); /* list_lock held */
		/*
		 * The wait drops list_lock: once C9 ends another remover may take the mdev and
		 * free it, and a new one may take its UUID. Look it up again after each wake-up.
		 */
		do {
			umdev__cond_wait(&published_cond, &umdev__list_lock);
			mdev = table_find(uuid);
		} while (mdev && mdev->serial == found && mdev->state == UMDEV_MDEV_ACTIVE &&
			 !mdev->published);
		if (!mdev || mdev->serial != found) {
			umdev__mutex_unlock(&umdev__list_lock);
			umdev__guard_put(&p->guard);
			return -ENODEV; /* removed by another remover meanwhile: GONE */
		}
	}
	if (mdev->state != UMDEV_MDEV_ACTIVE)
		ret = -EAGAIN; /* R2: RESERVED or REMOVING (M-40, M-42) */
	else
		mdev->state = UMDEV_MDEV_REMOVING;
	umdev__mutex_unlock(&umdev__list_lock);

	if (ret == 0)
		umdev__mdev_teardown(mdev); /* R3-R6; the ticket keeps p registered */
	umdev__guard_put(&p->guard);
	return ret;
}

int umdev_mdev_remove(const uuid_t *uuid)
{
	if (!uuid)
		return -EINVAL;
	return mdev_remove(uuid, false, 0);
}

int umdev__mdev_remove_serial(const uuid_t *uuid, uint64_t serial)
{
	return mdev_remove(uuid, true, serial);
}

struct victim {
	uuid_t uuid;
	uint64_t serial;
};

static int victim_newer_first(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;

	return x->serial < y->serial ? 1 : x->serial > y->serial ? -1 : 0;
}

unsigned int umdev_core_remove_all(void)
{
	struct victim *v = NULL;
	unsigned int n = 0, cap, removed = 0;

	/* size the array outside list_lock (no allocation under it); retry if the table grew */
	for (;;) {
		umdev__mutex_lock(&umdev__list_lock);
		cap = umdev__nr_mdevs;
		umdev__mutex_unlock(&umdev__list_lock);
		free(v);
		v = calloc(cap ? cap : 1, sizeof(*v));
		if (!v)
			return 0;
		umdev__mutex_lock(&umdev__list_lock);
		if (umdev__nr_mdevs <= cap)
			break;
		umdev__mutex_unlock(&umdev__list_lock);
	}
	for (unsigned int b = 0; b < UUID_TABLE_BUCKETS; b++) {
		for (struct umdev_mdev *m = uuid_table[b]; m; m = m->hash_next) {
			memcpy(v[n].uuid, m->uuid, sizeof(uuid_t));
			v[n++].serial = m->serial;
		}
	}
	umdev__mutex_unlock(&umdev__list_lock);
	qsort(v, n, sizeof(*v), victim_newer_first);
	for (unsigned int i = 0; i < n; i++)
		if (umdev__mdev_remove_serial(&v[i].uuid, v[i].serial) == 0)
			removed++;
	free(v);
	return removed;
}

/* ---- accessors ---- */

const uuid_t *umdev_mdev_uuid(const struct umdev_mdev *mdev)
{
	return &mdev->uuid;
}

struct umdev_type *umdev_mdev_type(const struct umdev_mdev *mdev)
{
	return mdev->type->vendor;
}

void umdev_mdev_set_drvdata(struct umdev_mdev *mdev, void *data)
{
	mdev->drvdata = data;
}

void *umdev_mdev_get_drvdata(const struct umdev_mdev *mdev)
{
	return mdev->drvdata;
}

unsigned int umdev_mdev_vfio_index(const struct umdev_mdev *mdev)
{
	return mdev->vfio_index;
}

uint64_t umdev__mdev_serial(const struct umdev_mdev *mdev)
{
	return mdev->serial;
}

void **umdev__mdev_vfio_slot(struct umdev_mdev *mdev)
{
	return &mdev->vfio_device;
}

struct umdev__type *umdev__mdev_core_type(const struct umdev_mdev *mdev)
{
	return mdev->type;
}

unsigned int umdev__mdev_iommu_group(const struct umdev_mdev *mdev)
{
	return (unsigned int)mdev->iommu_group;
}

const struct umdev_attr_group *const *umdev__mdev_dev_groups(const struct umdev_mdev *mdev)
{
	struct umdev_driver *drv = mdev->type->parent->drv;

	return drv ? drv->dev_groups : NULL;
}

const struct umdev_vfio_ops *umdev__mdev_vfio_ops(const struct umdev_mdev *mdev)
{
	struct umdev_driver *drv = mdev->type->parent->drv;

	return drv ? drv->vfio_ops : NULL;
}
