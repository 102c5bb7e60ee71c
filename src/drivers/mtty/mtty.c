// SPDX-License-Identifier: MIT
/*
 * The mtty driver's registration, port budget and per-mdev state (mtty.md §3, §4.1).
 *
 * Accounting is driver-managed (mdev.md §4.5): each parent owns MTTY_MAX_PORTS ports; probe
 * reserves the type's ports with a compare-and-swap on the parent's free count before it
 * allocates anything, and both a failed probe and remove give them back. get_available then
 * reads floor(free / ports), so no reader ever sees a value the formula could not give.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "umdev/log.h"
#include "umdev/mdev.h"
#include "device.h"
#include "mtty.h"

#define MTTY_DRIVER_NAME "mtty"
#define MTTY_NR_TYPES 2

/* One mtty parent: the registered umdev parent, its two types and its port budget. */
struct mtty_parent {
	struct umdev_parent parent; /* registered with the core; container of the callbacks' */
	struct umdev_type types[MTTY_NR_TYPES];
	struct umdev_type *type_ptrs[MTTY_NR_TYPES];
	/*
	 * Ports of this parent not held by a device that exists or is being created. Changed
	 * only by compare-and-swap in probe (take) and by atomic add in probe's unwind and in
	 * remove (give back); never above the budget it started with (mtty.md §3).
	 */
	atomic_uint free_ports;
};

/* Per-mdev state (the kernel sample's struct mdev_state), from probe until remove. */
struct mtty_state {
	struct mtty_parent *parent; /* whose budget nr_ports came from */
	unsigned int nr_ports; /* 1 (mtty-1) or 2 (mtty-2) */
	struct mtty_device *device; /* device.c: registers, ptys, vfio callbacks */
};

/* The sysfs names and pretty names of mtty.md §3; index + 1 is the number of ports. */
static const char *const type_sysfs_names[MTTY_NR_TYPES] = {"1", "2"};
static const char *const type_pretty_names[MTTY_NR_TYPES] = {
    "Single port serial",
    "Dual port serial",
};

/* Ports each new parent owns (mtty_set_ports()); written before any parent is added. */
static unsigned int mtty_nr_ports = MTTY_MAX_PORTS;

int mtty_set_ports(unsigned int nr)
{
	if (nr < 1 || nr > MTTY_PORTS_LIMIT)
		return -EINVAL;
	mtty_nr_ports = nr;
	return 0;
}

static struct mtty_parent *to_mtty_parent(struct umdev_parent *parent)
{
	return umdev_container_of(parent, struct mtty_parent, parent);
}

/* Ports a device of @type uses: its index in the parent's type array, plus one. */
static unsigned int type_nr_ports(const struct mtty_parent *p, const struct umdev_type *type)
{
	return (unsigned int)(type - p->types) + 1;
}

/* Take @nr ports from @p's budget, all or none (mtty.md §3). Return: 0 or -ENOSPC. */
static int ports_take(struct mtty_parent *p, unsigned int nr)
{
	unsigned int free_ports = atomic_load(&p->free_ports);

	do {
		if (free_ports < nr)
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak(&p->free_ports, &free_ports, free_ports - nr));
	return 0;
}

/* Give back @nr ports taken with ports_take(). */
static void ports_give(struct mtty_parent *p, unsigned int nr)
{
	atomic_fetch_add(&p->free_ports, nr);
}

static int mtty_probe(struct umdev_mdev *mdev)
{
	struct umdev_type *type = umdev_mdev_type(mdev);
	struct mtty_parent *p = to_mtty_parent(umdev_type_parent(type));
	unsigned int nr_ports = type_nr_ports(p, type);
	struct mtty_state *state;
	int ret;

	ret = ports_take(p, nr_ports); /* before anything is allocated (mtty.md §3, M-26) */
	if (ret < 0)
		return ret;

	state = calloc(1, sizeof(*state));
	if (!state) {
		ret = -ENOMEM;
		goto err_give_ports;
	}
	state->parent = p;
	state->nr_ports = nr_ports;
	ret = mtty_device_create(mdev, nr_ports, &state->device);
	if (ret < 0)
		goto err_free_state;
	umdev_mdev_set_drvdata(mdev, state);
	return 0;

err_free_state:
	free(state);
err_give_ports:
	ports_give(p, nr_ports);
	return ret;
}

static void mtty_remove(struct umdev_mdev *mdev)
{
	struct mtty_state *state = umdev_mdev_get_drvdata(mdev);

	mtty_device_destroy(state->device);
	umdev_mdev_set_drvdata(mdev, NULL);
	ports_give(state->parent, state->nr_ports); /* mtty.md §3: returned at remove (T-5) */
	free(state);
}

struct mtty_device *mtty_device_of(struct umdev_mdev *mdev)
{
	struct mtty_state *state = umdev_mdev_get_drvdata(mdev);

	return state ? state->device : NULL;
}

static unsigned int mtty_get_available(struct umdev_type *type)
{
	struct mtty_parent *p = to_mtty_parent(umdev_type_parent(type));

	return atomic_load(&p->free_ports) / type_nr_ports(p, type);
}

/* vendor/sample_mdev_dev: "This is MDEV <uuid>\n" (mtty.md §4.1, T-11, M-25) */
static ssize_t sample_mdev_dev_show(struct umdev_mdev *mdev, char *buf, size_t len)
{
	char uuid_str[UUID_STR_LEN];
	int n;

	uuid_unparse_lower(*umdev_mdev_uuid(mdev), uuid_str);
	n = snprintf(buf, len, "This is MDEV %s\n", uuid_str);
	if (n < 0 || (size_t)n >= len)
		return -EINVAL;
	return n;
}

static const struct umdev_attr sample_mdev_dev_attr = {
    .name = "sample_mdev_dev",
    .mode = 0444,
    .show = sample_mdev_dev_show,
};

static const struct umdev_attr *const vendor_attrs[] = {
    &sample_mdev_dev_attr,
    NULL,
};

static const struct umdev_attr_group vendor_group = {
    .name = "vendor",
    .attrs = vendor_attrs,
};

static const struct umdev_attr_group *const mtty_dev_groups[] = {
    &vendor_group,
    &mtty_attr_group,
    NULL,
};

static struct umdev_driver mtty_driver = {
    .name = MTTY_DRIVER_NAME,
    .device_api = "vfio-pci",
    .probe = mtty_probe,
    .remove = mtty_remove,
    .get_available = mtty_get_available,
    .dev_groups = mtty_dev_groups,
    .vfio_ops = &mtty_vfio_ops,
};

int mtty_register_driver(void)
{
	return umdev_register_driver(&mtty_driver);
}

void mtty_unregister_driver(void)
{
	int ret;

	ret = umdev_unregister_driver(&mtty_driver);
	if (ret < 0)
		umdev_log(UMDEV_LOG_DEBUG, "driver '%s': unregister failed: %s", mtty_driver.name,
			  strerror(-ret));
}

struct mtty_parent *mtty_parent_add(const char *name, int *ret_err)
{
	struct mtty_parent *p;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p) {
		ret = -ENOMEM;
		goto err;
	}
	for (unsigned int i = 0; i < MTTY_NR_TYPES; i++) {
		p->types[i].sysfs_name = type_sysfs_names[i];
		p->types[i].pretty_name = type_pretty_names[i];
		p->type_ptrs[i] = &p->types[i];
	}
	atomic_init(&p->free_ports, mtty_nr_ports);

	ret = umdev_register_parent(&p->parent, name, MTTY_DRIVER_NAME, &mtty_driver, p->type_ptrs,
				    MTTY_NR_TYPES);
	if (ret < 0)
		goto err_free;
	return p;

err_free:
	free(p);
err:
	if (ret_err)
		*ret_err = ret;
	return NULL;
}

void mtty_parent_remove(struct mtty_parent *parent)
{
	if (!parent)
		return;
	umdev_unregister_parent(&parent->parent); /* removes every mdev: remove gives ports back */
	free(parent);
}
