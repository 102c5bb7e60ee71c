// SPDX-License-Identifier: MIT
/*
 * Every failure path of the core taken (issue 8 §3): driver and parent registration, create,
 * remove and unregistration, each walked with tests/fault's fail-nth injection. The points
 * are every allocation made by the core, the util library and tdrv (the vendor driver), the
 * tree and vfio hooks that can fail (fixture), and tdrv's probe. For n = 1, 2, ... the n-th
 * point fails, until a run passes every point: then each point has failed once. Each failed
 * run must return the errno the spec names and leave nothing behind (mdev.md §4.1: no table
 * entry, no node, no vfioN, no iommu group, counter restored, vendor state untouched); LSan
 * (ASan build) checks that nothing leaks.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "fault.h"
#include "test_core_fixture.h"

#define T0 tdrv_type(f->t[0])
#define WALK_MAX 1000 /* far above any operation's points: a walk that reaches it is a bug */

/* tdrv's probe as a point: fails with -EIO when its turn comes */
static void probe_point(struct umdev_mdev *mdev, void *arg)
{
	(void)mdev;
	tdrv_set_probe_result(arg, fault_hit("probe") ? -EIO : 0);
}

/* The errno a failed point must surface as (mdev.md §4.1, §4.3; vendor errnos unchanged). */
static int expected_errno(const char *point)
{
	if (strcmp(point, "probe") == 0 || strcmp(point, "vfio_register") == 0 ||
	    strcmp(point, "driver_publish") == 0 || strcmp(point, "parent_publish") == 0 ||
	    strcmp(point, "parent_publish_bus_link") == 0)
		return -EIO; /* what the fixture's hooks and the probe point return */
	return -ENOMEM; /* an allocation, the core's or the vendor's (tdrv passes it on) */
}

static bool parent_listed_fn_found;

static int find_tw(struct umdev_parent *parent, void *arg)
{
	(void)arg;
	if (parent->core && strcmp(umdev__parent_name(parent->core), "tw") == 0)
		parent_listed_fn_found = true;
	return 0;
}

static bool tw_registered(void)
{
	parent_listed_fn_found = false;
	(void)umdev__core_for_each_parent(find_tw, NULL);
	return parent_listed_fn_found;
}

/* What must hold after every run of every walk (no mdev of the attempt anywhere). */
static void assert_nothing_left(struct fx *f, unsigned int nr_mdevs)
{
	assert_int_equal(umdev__core_nr_mdevs(), nr_mdevs);
	assert_int_equal(fx_published(), nr_mdevs);
	assert_int_equal(fx_outstanding_nodes(), nr_mdevs); /* none merely prepared */
	assert_int_equal(fx_available(T0), 16 - (int)nr_mdevs);
	assert_int_equal(tdrv_live(f->t[0]), nr_mdevs);
	assert_int_equal(tdrv_violations(), 0);
	for (unsigned int i = nr_mdevs; i < 4; i++) {
		assert_false(fx_vfio_taken(i)); /* vfioN free again */
		assert_false(umdev_ida_taken(&umdev__iommu_ida, i)); /* and the iommu group */
	}
}

static void report(const char *op, unsigned int points)
{
	print_message("fault walk: %s: %u injection points, each failed once, then a clean run\n",
		      op, points);
}

static void test_M32_create_every_failure_path(void **state)
{
	struct fx *f = *state;
	unsigned int n, points = 0;
	uuid_t u;
	int ret;

	fx_uuid(u, 1);
	tdrv_set_probe_hook(f->t[0], probe_point, f->t[0]);
	for (n = 1; n < WALK_MAX; n++) {
		fault_arm(n);
		ret = umdev_mdev_create(T0, &u);
		points = fault_disarm();
		if (!fault_fired())
			break;
		if (ret != expected_errno(fault_last()))
			fail_msg("create, point %u (%s): %d, expected %d", n, fault_last(), ret,
				 expected_errno(fault_last()));
		assert_nothing_left(f, 0);
		assert_false(fx_active(&u));
	}
	assert_true(n < WALK_MAX);
	assert_int_equal(ret, 0); /* the clean run */
	assert_true(points >= 5); /* mdev, probe, vfio_register, iommu group, mdev_prepare */
	assert_int_equal(points, n - 1);
	report("create", points);
	/* the clean run got the numbers every failed run gave back */
	assert_int_equal(fx_mdev_vfio_index(&u), 0);
	assert_true(umdev_ida_taken(&umdev__iommu_ida, 0));
	assert_nothing_left(f, 1);
	assert_int_equal(umdev_mdev_remove(&u), 0);
	tdrv_set_probe_hook(f->t[0], NULL, NULL);
}

static void test_R1_remove_every_failure_path(void **state)
{
	struct fx *f = *state;
	unsigned int n, points = 0;
	uuid_t u;
	int ret;

	fx_uuid(u, 2);
	for (n = 1; n < WALK_MAX; n++) {
		assert_int_equal(umdev_mdev_create(T0, &u), 0);
		fault_arm(n);
		ret = umdev_mdev_remove(&u);
		points = fault_disarm();
		assert_int_equal(ret, 0); /* remove never fails past R2 (§4.2) */
		assert_nothing_left(f, 0);
		if (!fault_fired())
			break;
	}
	assert_true(n < WALK_MAX);
	assert_int_equal(points, n - 1);
	report("remove", points);
}

static void test_M10_parent_registration_every_failure_path(void **state)
{
	struct fx *f = *state;
	struct tdrv_parent *p;
	unsigned int n, points = 0;
	int err;

	for (n = 1; n < WALK_MAX; n++) {
		err = 0;
		fault_arm(n);
		p = tdrv_parent_add("tw", &err);
		points = fault_disarm();
		if (!fault_fired())
			break;
		assert_null(p);
		if (err != expected_errno(fault_last()))
			fail_msg("register, point %u (%s): %d, expected %d", n, fault_last(), err,
				 expected_errno(fault_last()));
		assert_false(tw_registered()); /* no partial parent (§4.3 step 4) */
		assert_nothing_left(f, 0);
	}
	assert_true(n < WALK_MAX);
	assert_non_null(p);
	assert_true(points >= 2); /* the core's record, the tree's publish */
	assert_int_equal(points, n - 1);
	report("parent registration", points);
	assert_true(tw_registered());
	tdrv_parent_remove(p);
}

static void test_M58_unregistration_every_failure_path(void **state)
{
	struct fx *f = *state;
	struct tdrv_parent *p;
	unsigned int n, points = 0;
	uuid_t u[2];

	fx_uuid(u[0], 3);
	fx_uuid(u[1], 4);
	for (n = 1; n < WALK_MAX; n++) {
		p = tdrv_parent_add("tw", NULL);
		assert_non_null(p);
		assert_int_equal(umdev_mdev_create(tdrv_type(p), &u[0]), 0);
		assert_int_equal(umdev_mdev_create(tdrv_type(p), &u[1]), 0);
		fault_arm(n);
		tdrv_parent_unregister(p); /* cannot fail (§4.4) */
		points = fault_disarm();
		tdrv_parent_free(p);
		assert_false(tw_registered());
		assert_nothing_left(f, 0);
		if (!fault_fired())
			break;
	}
	assert_true(n < WALK_MAX);
	assert_int_equal(points, n - 1);
	report("parent unregistration", points);
}

static int stub_probe(struct umdev_mdev *mdev)
{
	(void)mdev;
	return 0;
}

static void test_M9_driver_registration_every_failure_path(void **state)
{
	struct umdev_driver drv = {.name = "fw", .device_api = "vfio-pci", .probe = stub_probe};
	unsigned int n, points = 0;
	int ret;

	(void)state;
	for (n = 1; n < WALK_MAX; n++) {
		fault_arm(n);
		ret = umdev_register_driver(&drv);
		points = fault_disarm();
		if (!fault_fired())
			break;
		if (ret != expected_errno(fault_last()))
			fail_msg("driver registration, point %u (%s): %d, expected %d", n,
				 fault_last(), ret, expected_errno(fault_last()));
		assert_int_equal(umdev_unregister_driver(&drv), -ENOENT); /* not registered */
	}
	assert_true(n < WALK_MAX);
	assert_int_equal(ret, 0);
	assert_true(points >= 1);
	assert_int_equal(points, n - 1);
	report("driver registration", points);
	assert_int_equal(umdev_unregister_driver(&drv), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_M32_create_every_failure_path),
	    T(test_R1_remove_every_failure_path),
	    T(test_M10_parent_registration_every_failure_path),
	    T(test_M58_unregistration_every_failure_path),
	    T(test_M9_driver_registration_every_failure_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   M-9, M-10, M-32, M-58, R1 (remove, mdev.md §4.2)
 */
