// SPDX-License-Identifier: MIT
/*
 * The core's globals (STYLE.md §3): driver_lock and the driver and parent registries,
 * list_lock (its table lives in mdev.c), the hook tables, and mdev driver registration
 * (mdev.md §5.2).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "umdev/log.h"

/* docs/locking.md rows 1 and 3; what each protects: core.h */
struct umdev_mutex umdev__list_lock = UMDEV_MUTEX_INIT_ADAPTIVE(&umdev__lock_class_list);
struct umdev_mutex umdev__driver_lock = UMDEV_MUTEX_INIT(&umdev__lock_class_driver);
struct umdev_list umdev__parents = UMDEV_LIST_INIT(umdev__parents);
struct umdev_ida umdev__iommu_ida = UMDEV_IDA_INIT;

/* Set once before the first registration (hooks.h); read without a lock afterwards. */
const struct umdev_tree_hooks *umdev__tree;
void *umdev__tree_opaque;
const struct umdev_vfio_hooks *umdev__vfio;
void *umdev__vfio_opaque;
const struct umdev_test_hooks *umdev__test;

/* Registered drivers; under driver_lock. */
static struct umdev_driver **drivers;
static unsigned int nr_drivers;

void umdev__core_set_tree_hooks(const struct umdev_tree_hooks *hooks, void *opaque)
{
	umdev__tree = hooks;
	umdev__tree_opaque = opaque;
}

void umdev__core_set_vfio_hooks(const struct umdev_vfio_hooks *hooks, void *opaque)
{
	umdev__vfio = hooks;
	umdev__vfio_opaque = opaque;
}

void umdev__core_set_test_hooks(const struct umdev_test_hooks *hooks)
{
	umdev__test = hooks;
}

bool umdev__name_valid(const char *name, size_t max)
{
	size_t len;

	if (!name)
		return false;
	len = strnlen(name, max + 1);
	if (len == 0 || len > max || strchr(name, '/'))
		return false;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] <= ' ' || name[i] == 0x7f)
			return false;
	return true;
}

/* Caller holds driver_lock. */
static struct umdev_driver *find_driver(const char *name)
{
	umdev__assert_held(&umdev__driver_lock);
	for (unsigned int i = 0; i < nr_drivers; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

int umdev_register_driver(struct umdev_driver *drv)
{
	struct umdev_driver **grown;
	int ret;

	if (!drv || !umdev__name_valid(drv->name, UMDEV_PARENT_NAME_MAX) || !drv->device_api ||
	    !drv->device_api[0] || strlen(drv->device_api) >= 64 || !drv->probe)
		return -EINVAL; /* M-9 */

	umdev__mutex_lock(&umdev__driver_lock);
	if (drv->registered || find_driver(drv->name)) {
		ret = -EEXIST; /* M-9 */
		goto out_unlock;
	}
	grown = realloc(drivers, (nr_drivers + 1) * sizeof(*drivers));
	if (!grown) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	drivers = grown;
	if (umdev__tree && umdev__tree->driver_publish) {
		ret = umdev__tree->driver_publish(umdev__tree_opaque, drv);
		if (ret < 0)
			goto out_unlock;
	}
	drivers[nr_drivers++] = drv;
	drv->registered = true;
	drv->nr_parents = 0;
	ret = 0;
out_unlock:
	umdev__mutex_unlock(&umdev__driver_lock);
	return ret;
}

int umdev_unregister_driver(struct umdev_driver *drv)
{
	int ret = -ENOENT;

	umdev__mutex_lock(&umdev__driver_lock);
	for (unsigned int i = 0; i < nr_drivers; i++) {
		if (drivers[i] != drv)
			continue;
		if (drv->nr_parents) {
			ret = -EBUSY; /* M-13 */
			break;
		}
		drivers[i] = drivers[--nr_drivers];
		drv->registered = false;
		if (umdev__tree && umdev__tree->driver_unpublish)
			umdev__tree->driver_unpublish(umdev__tree_opaque, drv);
		ret = 0;
		break;
	}
	umdev__mutex_unlock(&umdev__driver_lock);
	return ret;
}

struct umdev__parent *umdev__registry_find_parent(const char *name)
{
	struct umdev_list *pos;

	umdev__assert_held(&umdev__driver_lock);
	umdev_list_for_each(pos, &umdev__parents) {
		struct umdev__parent *p = umdev_list_entry(pos, struct umdev__parent, node);

		if (strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

int umdev__core_for_each_parent(int (*fn)(struct umdev_parent *parent, void *arg), void *arg)
{
	struct umdev_list *pos;
	int ret = 0;

	umdev__mutex_lock(&umdev__driver_lock);
	umdev_list_for_each(pos, &umdev__parents) {
		struct umdev__parent *p = umdev_list_entry(pos, struct umdev__parent, node);

		ret = fn(p->vendor, arg);
		if (ret)
			break;
	}
	umdev__mutex_unlock(&umdev__driver_lock);
	return ret;
}

unsigned int umdev__core_nr_mdevs(void)
{
	unsigned int n;

	umdev__mutex_lock(&umdev__list_lock);
	n = umdev__nr_mdevs;
	umdev__mutex_unlock(&umdev__list_lock);
	return n;
}

void umdev__core_reset(void)
{
	umdev__mutex_lock(&umdev__driver_lock);
	if (!umdev_list_empty(&umdev__parents))
		umdev_log(UMDEV_LOG_ERR, "core reset with parents still registered");
	free(drivers);
	drivers = NULL;
	nr_drivers = 0;
	umdev__mutex_unlock(&umdev__driver_lock);
	umdev_ida_destroy(&umdev__iommu_ida);
	umdev__tree = NULL;
	umdev__tree_opaque = NULL;
	umdev__vfio = NULL;
	umdev__vfio_opaque = NULL;
	umdev__test = NULL;
}
