// SPDX-License-Identifier: MIT
/*
 * Every allocation failure of the tree's node building, taken once (issue 8 §3; mdev.md §4.1
 * C4-C8, §4.2, §4.3 step 4). tests/fault makes each malloc/calloc/realloc/strdup/asprintf/
 * vasprintf of our static libraries a numbered point; a walk fails point n = 1, 2, ... of one
 * operation until a run passes every point: then each point has failed once. After each
 * failure the operation's errno is ENOMEM and nothing of the attempt is observable: no node,
 * no table entry, no vfio index or iommu group (the next create gets the same numbers), the
 * counters as before, and no leak (LeakSanitizer, in the ASan build).
 *
 * libfuse is a shared library: its allocations are not points. The FUSE worker thread that
 * serves the test's request counts its points too, so a walk runs one operation at a time
 * and checks only after disarming.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "tree_fixture.h"

/* The tree and counters a failed attempt must leave as they were. */
struct before {
	char *dump;
	long avail;
	unsigned int nr_mdevs;
	unsigned int vfio_live;
};

static struct before take(struct fx *f, unsigned int parent)
{
	struct before b = {
	    .dump = fx_dump(f),
	    .avail = parent < f->nr_parents ? fx_available(f, parent) : -1,
	    .nr_mdevs = umdev__core_nr_mdevs(),
	    .vfio_live = fx_vfio_live(),
	};

	assert_non_null(b.dump);
	return b;
}

static void check_list(const char *path, const char *want)
{
	char *l = fx_list(path);

	assert_non_null(l);
	assert_string_equal(l, want);
	free(l);
}

/* Nothing of the failed attempt @n is observable. */
static void check_unchanged(struct fx *f, const struct before *b, unsigned int parent,
			    unsigned int n)
{
	char *dump = fx_dump(f);

	assert_non_null(dump);
	if (strcmp(dump, b->dump) != 0)
		fprintf(stderr, "# point %u (%s): the tree changed\n", n, fault_last());
	assert_string_equal(dump, b->dump);
	free(dump);
	if (parent < f->nr_parents)
		assert_int_equal(fx_available(f, parent), b->avail);
	assert_int_equal(umdev__core_nr_mdevs(), b->nr_mdevs);
	assert_int_equal(fx_vfio_live(), b->vfio_live);
	assert_int_equal(tdrv_violations(), 0);
}

/* The walk failed points 1..@walked in turn; its last run passed @passed points, none failing. */
static void report(const char *what, unsigned int walked, unsigned int passed)
{
	printf("# %s: %u injection points, each failed once; the clean run passed %u\n", what,
	       walked, passed);
	assert_true(walked > 0);
	assert_true(passed <= walked); /* so every point of the clean run was failed once */
}

/* ---- the skeleton: umdev_sysfs_create(), before any mount (§6.2) ---- */

static void test_6_2_skeleton_allocation_failures_are_enomem(void **state)
{
	struct umdev_sysfs_options opt = {.mountpoint = "/nonexistent/umdev-fault"};
	struct umdev_sysfs *fs = NULL;
	unsigned int n, passed;
	bool fired;
	int ret;

	(void)state;
	for (n = 1;; n++) {
		fault_arm(n);
		ret = umdev_sysfs_create(&opt, &fs);
		fired = fault_fired();
		passed = fault_disarm();
		if (!fired)
			break;
		assert_int_equal(ret, -ENOMEM);
		assert_null(fs); /* untouched; everything built so far freed (LeakSanitizer) */
	}
	assert_int_equal(ret, 0);
	assert_non_null(fs);
	umdev_sysfs_destroy(fs); /* uninstalls the tree hooks: before the mounted group */
	report("sysfs create", n - 1, passed);
}

/* ---- driver registration: umdev_register_driver() with tdrv, sys/bus/mdev/drivers ---- */

static void test_M9_register_driver_allocation_failures_leave_no_node(void **state)
{
	struct fx *f = *state;
	struct before b = take(f, 0);
	unsigned int n, passed;
	bool fired;
	int ret;

	for (n = 1;; n++) {
		fault_arm(n);
		ret = tdrv_register(NULL);
		fired = fault_fired();
		passed = fault_disarm();
		if (!fired)
			break;
		assert_int_equal(ret, -ENOMEM);
		check_list(fx_path(f, "sys/bus/mdev/drivers"), "");
		check_unchanged(f, &b, 0, n);
	}
	assert_int_equal(ret, 0);
	f->tdrv = true; /* unregistered by the teardown */
	check_list(fx_path(f, "sys/bus/mdev/drivers"), "tdrv");
	free(b.dump);
	report("register driver", n - 1, passed);
}

/* ---- parent registration: umdev_register_parent() with tdrv, §4.3 ---- */

/*
 * Walk the registration of @name as the parent @i of f (t<i>): the other parents registered
 * before it keep their nodes and the shared class directories.
 */
static void walk_register(struct fx *f, unsigned int i, const char *name)
{
	char class_list[64] = "", *p = class_list;
	struct before b = take(f, i);
	struct tdrv_parent *t;
	unsigned int n, passed;
	bool fired;
	int err;

	for (unsigned int k = 0; k < i; k++)
		p += snprintf(p, sizeof(class_list) - (size_t)(p - class_list), "%st%u",
			      k ? "," : "", k);
	for (n = 1;; n++) {
		err = 0;
		fault_arm(n);
		t = tdrv_parent_add(name, &err);
		fired = fault_fired();
		passed = fault_disarm();
		if (!fired)
			break;
		if (t || err != -ENOMEM)
			fprintf(stderr, "# register point %u (%s): %s, err %d\n", n, fault_last(),
				t ? "registered" : "failed", err);
		assert_null(t);
		assert_int_equal(err, -ENOMEM);
		/* no node of the attempt: the bus link, the class link, the parent dir (I-8) */
		check_list(fx_path(f, "sys/class/mdev_bus"), class_list);
		if (i == 0) {
			assert_false(fx_exists(fx_path(f, "sys/class/tdrv")));
			assert_false(fx_exists(fx_path(f, "sys/devices/virtual/tdrv")));
		} else {
			check_list(fx_path(f, "sys/class/tdrv"), class_list);
			check_list(fx_path(f, "sys/devices/virtual/tdrv"), class_list);
		}
		check_unchanged(f, &b, i, n);
	}
	assert_non_null(t); /* the name was not left taken (M-11's EEXIST) */
	assert_int_equal(err, 0);
	f->t[i] = t;
	f->nr_parents = i + 1;
	free(b.dump);
	report(i == 0 ? "register (first of its class)" : "register (class shared)", n - 1, passed);
}

static void test_I8_register_parent_allocation_failures_leave_no_node(void **state)
{
	struct fx *f = *state;
	struct tdrv_options opt = {.description = true, .sample_attr = true};

	fx_start(f, &opt, 0);
	walk_register(f, 0, "t0"); /* builds sys/class/tdrv and sys/devices/virtual/tdrv */
	walk_register(f, 1, "t1"); /* shares them */
	assert_true(
	    fx_resolves_to(f, fx_path(f, "sys/class/mdev_bus/t1"), "sys/devices/virtual/tdrv/t1"));
	assert_true(fx_exists(fx_type(f, 1, "description")));
}

/* ---- create through the tree: open + one write + close of <type>/create, §4.1 ---- */

/* The vfioN and iommu group numbers of the live mdev @uuid. */
static void numbers_of(struct fx *f, const char *uuid, unsigned int *ret_vfio,
		       unsigned int *ret_group)
{
	char target[PATH_MAX], *l;
	const char *slash;

	assert_int_equal(fx_readlink(fx_dev(f, uuid, "iommu_group"), target, sizeof(target)), 0);
	slash = strrchr(target, '/');
	assert_non_null(slash);
	*ret_group = (unsigned int)strtoul(slash + 1, NULL, 10);
	l = fx_list(fx_dev(f, uuid, "vfio-dev"));
	assert_non_null(l);
	assert_int_equal(strncmp(l, "vfio", 4), 0);
	*ret_vfio = (unsigned int)strtoul(l + 4, NULL, 10);
	free(l);
}

/* Create @uuid on t0, check its numbers are @vfio and @group, remove it (M-33, M-46, I-7). */
static void check_numbers_free(struct fx *f, const char *uuid, unsigned int vfio,
			       unsigned int group)
{
	unsigned int v, g;

	assert_int_equal(fx_create(f, 0, uuid), 37);
	numbers_of(f, uuid, &v, &g);
	assert_int_equal(v, vfio);
	assert_int_equal(g, group);
	assert_int_equal(fx_remove(f, uuid), 1);
}

static void test_M32_create_allocation_failures_unwind_whole(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(0xfa17);
	unsigned int n, passed, vfio, group, v, g;
	struct before b;
	bool fired;
	ssize_t ret;

	/* the numbers the walk's mdev must get: every failed attempt frees its own */
	assert_int_equal(fx_create(f, 0, u), 37);
	numbers_of(f, u, &vfio, &group);
	assert_int_equal(fx_remove(f, u), 1);
	b = take(f, 0);
	for (n = 1;; n++) {
		fault_arm(n);
		ret = fx_create(f, 0, u);
		fired = fault_fired();
		passed = fault_disarm();
		if (!fired)
			break;
		if (ret != -ENOMEM)
			fprintf(stderr, "# create point %u (%s): %zd\n", n, fault_last(), ret);
		assert_int_equal(ret, -ENOMEM);
		/* no node of the attempt (I-2, M-29's list) */
		check_list(fx_path(f, "sys/bus/mdev/devices"), "");
		check_list(fx_type(f, 0, "devices"), "");
		check_list(fx_path(f, "sys/devices/virtual/tdrv/t0"),
			   "mdev_supported_types,subsystem,uevent");
		check_list(fx_path(f, "sys/bus/mdev/drivers/tdrv"), "");
		check_list(fx_path(f, "sys/kernel/iommu_groups"), "");
		check_list(fx_path(f, "sys/class/vfio-dev"), "");
		check_unchanged(f, &b, 0, n);
		assert_int_equal(tdrv_live(f->t[0]), 0); /* remove once if probe succeeded (I-4) */
		check_numbers_free(f, u, vfio, group);
	}
	assert_int_equal(ret, 37);
	assert_true(fx_exists(fx_dev(f, u, "sample_attr")));
	numbers_of(f, u, &v, &g);
	assert_int_equal(v, vfio);
	assert_int_equal(g, group);
	assert_int_equal(fx_remove(f, u), 1);
	free(b.dump);
	report("create", n - 1, passed);
}

/* ---- remove through the tree: open + one write of "1" + close of <dev>/remove, §4.2 ---- */

static void test_M37_remove_allocation_failures_keep_the_device(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(0xfa18);
	unsigned int n, passed;
	struct before b;
	bool fired;
	ssize_t ret;

	for (n = 1;; n++) {
		assert_int_equal(fx_create(f, 0, u), 37);
		b = take(f, 0);
		fault_arm(n);
		ret = fx_remove(f, u);
		fired = fault_fired();
		passed = fault_disarm();
		if (!fired) {
			free(b.dump);
			break;
		}
		if (ret != -ENOMEM)
			fprintf(stderr, "# remove point %u (%s): %zd\n", n, fault_last(), ret);
		assert_int_equal(ret, -ENOMEM);
		/* the device remains whole, its remove node included (M-37) */
		check_unchanged(f, &b, 0, n);
		free(b.dump);
		assert_int_equal(fx_remove(f, u), 1);
	}
	assert_int_equal(ret, 1);
	assert_false(fx_exists(fx_dev(f, u, NULL)));
	assert_int_equal(fx_available(f, 0), 16);
	report("remove", n - 1, passed);
}

int main(void)
{
	const struct CMUnitTest unmounted[] = {
	    cmocka_unit_test(test_6_2_skeleton_allocation_failures_are_enomem),
	};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_M9_register_driver_allocation_failures_leave_no_node, fx_setup_bare,
		fx_teardown),
	    cmocka_unit_test_setup_teardown(
		test_I8_register_parent_allocation_failures_leave_no_node, fx_setup_bare,
		fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M32_create_allocation_failures_unwind_whole,
					    fx_setup_sample, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M37_remove_allocation_failures_keep_the_device,
					    fx_setup, fx_teardown),
	};
	int failed;

	failed = cmocka_run_group_tests_name("unmounted", unmounted, NULL, NULL);
	failed += cmocka_run_group_tests_name("mounted", tests, fx_group_setup, fx_group_teardown);
	return failed;
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   §6.2 (no item: the skeleton), M-9, I-8 with §4.3 step 4, M-32 with M-33 and I-2/I-4/I-7,
 *   M-37.
 */
