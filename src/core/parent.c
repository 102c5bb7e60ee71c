// SPDX-License-Identifier: MIT
/*
 * Parents and mdev types: registration (mdev.md §4.3), unregistration (§4.4), the parent
 * guard (§3.1), available_instances (§4.5) and the accessors of hooks.h.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "umdev/log.h"

/* ---- the guard ---- */

void umdev__guard_init(struct umdev_guard *g)
{
	umdev__mutex_init(&g->mutex, &umdev__lock_class_guard, false);
	pthread_cond_init(&g->drained, NULL);
	g->tickets = 0;
	g->unregistering = false;
	g->dead = false;
}

void umdev__guard_destroy(struct umdev_guard *g)
{
	pthread_cond_destroy(&g->drained);
	umdev__mutex_destroy(&g->mutex);
}

int umdev__guard_get(struct umdev_guard *g, bool callback)
{
	int ret = 0;

	umdev__mutex_lock(&g->mutex);
	if (g->dead)
		ret = callback ? -ENODEV : -ESTALE; /* §4.4 step 5 on: a stale handle (M-62) */
	else if (!callback && g->unregistering)
		ret = -ENODEV; /* C5, R1: fail fast, never wait (M-59) */
	else
		g->tickets++;
	umdev__mutex_unlock(&g->mutex);
	return ret;
}

void umdev__guard_put(struct umdev_guard *g)
{
	umdev__mutex_lock(&g->mutex);
	assert(g->tickets > 0);
	if (--g->tickets == 0 && g->unregistering)
		pthread_cond_broadcast(&g->drained);
	umdev__mutex_unlock(&g->mutex);
}

/* Wait for every outstanding ticket; with @kill, refuse callback tickets from now on too. */
static void guard_drain(struct umdev_guard *g, bool kill)
{
	umdev__mutex_lock(&g->mutex);
	g->unregistering = true;
	if (kill)
		g->dead = true;
	if (g->tickets && umdev__test && umdev__test->point)
		umdev__test->point(UMDEV_TEST_UNREGISTER_DRAIN_WAIT,
				   NULL); /* mutex held: no waits */
	while (g->tickets)
		umdev__cond_wait(&g->drained, &g->mutex);
	umdev__mutex_unlock(&g->mutex);
}

/* ---- the parent record ---- */

void umdev__parent_get(struct umdev__parent *p)
{
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void umdev__parent_put(struct umdev__parent *p)
{
	if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	umdev__guard_destroy(&p->guard);
	free(p);
}

const char *umdev__parent_name(const struct umdev__parent *p)
{
	return p->name;
}

const char *umdev__parent_class(const struct umdev__parent *p)
{
	return p->class;
}

const char *umdev__parent_driver_name(const struct umdev__parent *p)
{
	return p->drv_name;
}

unsigned int umdev__parent_nr_types(const struct umdev__parent *p)
{
	return p->nr_types;
}

struct umdev__type *umdev__parent_type(struct umdev__parent *p, unsigned int i)
{
	return i < p->nr_types ? &p->types[i] : NULL;
}

struct umdev__parent *umdev__type_parent(const struct umdev__type *t)
{
	return t->parent;
}

const char *umdev__type_id(const struct umdev__type *t)
{
	return t->id;
}

const char *umdev__type_name(const struct umdev__type *t)
{
	return t->name;
}

const char *umdev__type_device_api(const struct umdev__type *t)
{
	return t->parent->device_api;
}

bool umdev__type_has_description(const struct umdev__type *t)
{
	return t->parent->has_description;
}

struct umdev_parent *umdev_type_parent(const struct umdev_type *type)
{
	return type->core->parent->vendor;
}

ssize_t umdev__type_show_available(struct umdev__type *t, char *buf, size_t len)
{
	struct umdev__parent *p = t->parent;
	unsigned int avail;
	int ret;

	ret = umdev__guard_get(&p->guard, true); /* the vendor callback needs a live parent */
	if (ret < 0)
		return ret;
	if (p->driver_managed) {
		avail = p->drv->get_available(t->vendor); /* on every read (M-79) */
	} else {
		umdev__mutex_lock(&umdev__list_lock);
		avail = p->available;
		umdev__mutex_unlock(&umdev__list_lock);
	}
	umdev__guard_put(&p->guard);
	ret = snprintf(buf, len, "%u\n", avail);
	return ret < 0 || (size_t)ret >= len ? -EINVAL : ret;
}

ssize_t umdev__type_show_description(struct umdev__type *t, char *buf, size_t len)
{
	struct umdev__parent *p = t->parent;
	ssize_t ret;

	if (!p->has_description)
		return -ENODEV;
	ret = umdev__guard_get(&p->guard, true);
	if (ret < 0)
		return ret;
	ret = p->drv->show_description(t->vendor, buf, len); /* bytes unchanged (M-8) */
	umdev__guard_put(&p->guard);
	if (ret > (ssize_t)len || ret < -4095) {
		umdev_log(UMDEV_LOG_ERR, "parent '%s': show_description returned %zd", p->name,
			  ret);
		ret = -EIO;
	}
	return ret;
}

/* ---- registration (§4.3) ---- */

static bool type_name_valid(const char *s)
{
	size_t len;

	if (!s)
		return false;
	len = strnlen(s, UMDEV_TYPE_NAME_MAX + 1);
	if (len == 0 || len > UMDEV_TYPE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("_.:+-", c)))
			return false;
	}
	return true;
}

static int check_types(struct umdev_type **types, unsigned int nr)
{
	if (nr == 0 || !types)
		return -EINVAL; /* M-10 */
	for (unsigned int i = 0; i < nr; i++) {
		if (!types[i] || !type_name_valid(types[i]->sysfs_name))
			return -EINVAL;
		if (types[i]->pretty_name && strlen(types[i]->pretty_name) >= 255)
			return -EINVAL;
		for (unsigned int j = 0; j < i; j++)
			if (strcmp(types[i]->sysfs_name, types[j]->sysfs_name) == 0)
				return -EINVAL; /* duplicate sysfs_name (M-10) */
	}
	return 0;
}

static struct umdev__parent *parent_alloc(const char *name, const char *class,
					  struct umdev_driver *drv, struct umdev_type **types,
					  unsigned int nr)
{
	struct umdev__parent *p = calloc(1, sizeof(*p) + nr * sizeof(p->types[0]));

	if (!p)
		return NULL;
	atomic_init(&p->refs, 1); /* the registry's; put at the end of unregistration */
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->class, sizeof(p->class), "%s", class);
	snprintf(p->drv_name, sizeof(p->drv_name), "%s", drv->name);
	snprintf(p->device_api, sizeof(p->device_api), "%s", drv->device_api);
	p->driver_managed = drv->get_available != NULL;
	p->has_description = drv->show_description != NULL;
	p->drv = drv;
	umdev__guard_init(&p->guard);
	umdev_list_init(&p->node);
	umdev_list_init(&p->mdevs);
	p->available = drv->max_instances; /* §4.3 step 3 */
	p->nr_types = nr;
	for (unsigned int i = 0; i < nr; i++) {
		struct umdev__type *t = &p->types[i];

		t->parent = p;
		t->vendor = types[i];
		snprintf(t->id, sizeof(t->id), "%s-%s", drv->name, types[i]->sysfs_name);
		snprintf(t->name, sizeof(t->name), "%s",
			 types[i]->pretty_name ? types[i]->pretty_name : types[i]->sysfs_name);
	}
	return p;
}

/*
 * §4.4 steps 3-6, for a parent whose guard is already unregistering. Also the unwind of a
 * registration that failed at its last step.
 */
static void parent_teardown(struct umdev__parent *p)
{
	struct umdev_parent *parent = p->vendor;
	struct umdev_mdev *mdev;

	/* 3: in-flight creates finish ACTIVE or unwind; in-flight removes finish */
	guard_drain(&p->guard, false);
	/* 4: every remaining mdev, continuing past any that misbehaves */
	while ((mdev = umdev__parent_take_active(p)))
		umdev__mdev_teardown(mdev);
	/* 5: no callback ticket from here; then the nodes, reverse of §4.3 */
	guard_drain(&p->guard, true);
	if (umdev__tree && umdev__tree->parent_unpublish)
		umdev__tree->parent_unpublish(umdev__tree_opaque, p);
	/* 6 */
	umdev__mutex_lock(&umdev__driver_lock);
	umdev_list_del(&p->node);
	p->drv->nr_parents--;
	/*
	 * umdev_mdev_create() reads a type's core pointer and takes its parent reference under
	 * list_lock: after this section no create can reach @p through vendor memory, and one
	 * that did holds a reference of its own (and fails its ticket with -ENODEV).
	 */
	umdev__mutex_lock(&umdev__list_lock);
	assert(umdev_list_empty(&p->mdevs)); /* I-6: nothing of @p is left in the table */
	for (unsigned int i = 0; i < p->nr_types; i++) {
		p->types[i].vendor->core = NULL;
		p->types[i].vendor = NULL;
	}
	parent->core = NULL;
	umdev__mutex_unlock(&umdev__list_lock);
	p->vendor = NULL;
	p->drv = NULL;
	umdev__mutex_unlock(&umdev__driver_lock);
	umdev__parent_put(p); /* the registry's reference */
}

int umdev_register_parent(struct umdev_parent *parent, const char *name, const char *class,
			  struct umdev_driver *drv, struct umdev_type **types, unsigned int nr)
{
	struct umdev__parent *p;
	int ret;

	if (!parent || !drv || !umdev__name_valid(name, UMDEV_PARENT_NAME_MAX))
		return -EINVAL;
	if (!class)
		class = drv->name;
	if (!umdev__name_valid(class, UMDEV_PARENT_NAME_MAX))
		return -EINVAL;
	ret = check_types(types, nr);
	if (ret < 0)
		return ret;

	umdev__mutex_lock(&umdev__driver_lock);
	if (!drv->registered) {
		ret = -EINVAL;
		goto err_unlock;
	}
	if (umdev__registry_find_parent(name)) {
		ret = -EEXIST; /* M-11 */
		goto err_unlock;
	}
	p = parent_alloc(name, class, drv, types, nr);
	if (!p) {
		ret = -ENOMEM;
		goto err_unlock;
	}
	p->vendor = parent;
	/* step 2: everything but the mdev_bus link, atomically */
	if (umdev__tree && umdev__tree->parent_publish) {
		ret = umdev__tree->parent_publish(umdev__tree_opaque, p);
		if (ret < 0)
			goto err_free;
	}
	umdev_list_add_tail(&umdev__parents, &p->node); /* the name is taken from here on */
	drv->nr_parents++;
	umdev__mutex_lock(&umdev__list_lock); /* the readers of core pointers: see step 6 */
	parent->core = p;
	for (unsigned int i = 0; i < nr; i++)
		types[i]->core = &p->types[i];
	umdev__mutex_unlock(&umdev__list_lock);
	umdev__mutex_unlock(&umdev__driver_lock);

	if (umdev__test && umdev__test->register_before_bus_link)
		umdev__test->register_before_bus_link(parent); /* M-63 */
	/* last: class/mdev_bus/<name> (I-8) */
	if (umdev__tree && umdev__tree->parent_publish_bus_link) {
		ret = umdev__tree->parent_publish_bus_link(umdev__tree_opaque, p);
		if (ret < 0)
			goto err_unregister;
	}
	return 0;

err_unregister:
	umdev__mutex_lock(&p->guard.mutex);
	p->guard.unregistering = true;
	umdev__mutex_unlock(&p->guard.mutex);
	parent_teardown(p); /* creates may have raced in through the published type dirs */
	return ret;
err_free:
	umdev__parent_put(p);
err_unlock:
	umdev__mutex_unlock(&umdev__driver_lock);
	return ret;
}

/* ---- unregistration (§4.4) ---- */

void umdev_unregister_parent(struct umdev_parent *parent)
{
	struct umdev__parent *p = parent->core;

	if (!p)
		return;
	/* 1: creates and removes that have not passed the guard fail -ENODEV from here */
	umdev__mutex_lock(&p->guard.mutex);
	p->guard.unregistering = true;
	umdev__mutex_unlock(&p->guard.mutex);
	/* 2: mdevctl never sees a bus link without its types (I-8) */
	if (umdev__tree && umdev__tree->parent_unpublish_bus_link)
		umdev__tree->parent_unpublish_bus_link(umdev__tree_opaque, p);
	if (umdev__test && umdev__test->unregister_after_bus_unlink)
		umdev__test->unregister_after_bus_unlink(parent); /* M-63 */
	parent_teardown(p);
}
