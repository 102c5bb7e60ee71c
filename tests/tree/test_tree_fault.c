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
#include <dirent.h>
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

/* @dir + "/" + @name, in one of a ring of static buffers (test thread only). */
static const char *join(const char *dir, const char *name)
{
	static char ring[4][PATH_MAX];
	static unsigned int pos;
	char *buf = ring[pos++ % 4];
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	assert_true(n > 0 && n < PATH_MAX);
	return buf;
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

/* Where a create walk creates: a type directory and the parent directory it is in. */
struct target {
	char type_dir[PATH_MAX]; /* R/.../mdev_supported_types/<type-id> */
	char parent_dir[PATH_MAX]; /* R/sys/devices/virtual/<class>/<parent> */
	char driver_dir[PATH_MAX]; /* R/sys/bus/mdev/drivers/<driver> */
	unsigned int tdrv_parent; /* t<i> for the counters; FX_MAX_PARENTS: not tdrv */
};

/* Parent @parent of class and driver @drv (class NULL at registration: the driver's name). */
static void target_init(struct fx *f, struct target *t, const char *parent, const char *drv,
			const char *type_id, unsigned int tdrv_parent)
{
	snprintf(t->type_dir, PATH_MAX, "%s",
		 fx_path(f, "sys/class/mdev_bus/%s/mdev_supported_types/%s", parent, type_id));
	snprintf(t->parent_dir, PATH_MAX, "%s",
		 fx_path(f, "sys/devices/virtual/%s/%s", drv, parent));
	snprintf(t->driver_dir, PATH_MAX, "%s", fx_path(f, "sys/bus/mdev/drivers/%s", drv));
	t->tdrv_parent = tdrv_parent;
}

static ssize_t create_at(const struct target *t, const char *uuid)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s\n", uuid);
	return fx_write(join(t->type_dir, "create"), buf, strlen(buf), O_WRONLY);
}

static long available_at(const struct target *t)
{
	char buf[32];
	ssize_t n = fx_read(join(t->type_dir, "available_instances"), buf, sizeof(buf));

	return n < 0 ? n : strtol(buf, NULL, 10);
}

/* Create @uuid, check its numbers are @vfio and @group, remove it (M-33, M-46, I-7). */
static void check_numbers_free(struct fx *f, const struct target *t, const char *uuid,
			       unsigned int vfio, unsigned int group)
{
	unsigned int v, g;

	assert_int_equal(create_at(t, uuid), 37);
	numbers_of(f, uuid, &v, &g);
	assert_int_equal(v, vfio);
	assert_int_equal(g, group);
	assert_int_equal(fx_remove(f, uuid), 1);
}

/* Walk a create of @uuid through @t's `create` file; then remove it. */
static void walk_create(struct fx *f, const struct target *t, const char *uuid, const char *what)
{
	unsigned int n, passed, vfio, group, v, g;
	unsigned int parent = t->tdrv_parent;
	struct before b;
	long avail;
	bool fired;
	ssize_t ret;

	/* the numbers the walk's mdev must get: every failed attempt frees its own */
	assert_int_equal(create_at(t, uuid), 37);
	numbers_of(f, uuid, &vfio, &group);
	assert_int_equal(fx_remove(f, uuid), 1);
	b = take(f, parent);
	avail = available_at(t);
	assert_true(avail > 0);
	for (n = 1;; n++) {
		fault_arm(n);
		ret = create_at(t, uuid);
		fired = fault_fired();
		passed = fault_disarm();
		if (!fired)
			break;
		if (ret != -ENOMEM)
			fprintf(stderr, "# %s point %u (%s): %zd\n", what, n, fault_last(), ret);
		assert_int_equal(ret, -ENOMEM);
		/* no node of the attempt (I-2, M-29's list) */
		check_list(fx_path(f, "sys/bus/mdev/devices"), "");
		check_list(join(t->type_dir, "devices"), "");
		check_list(t->parent_dir, "mdev_supported_types,subsystem,uevent");
		check_list(t->driver_dir, "");
		check_list(fx_path(f, "sys/kernel/iommu_groups"), "");
		check_list(fx_path(f, "sys/class/vfio-dev"), "");
		check_unchanged(f, &b, parent, n);
		assert_int_equal(available_at(t), avail); /* C4's count restored at RELEASE */
		if (parent < f->nr_parents) /* remove once if probe succeeded (I-4) */
			assert_int_equal(tdrv_live(f->t[parent]), 0);
		check_numbers_free(f, t, uuid, vfio, group);
	}
	assert_int_equal(ret, 37);
	numbers_of(f, uuid, &v, &g);
	assert_int_equal(v, vfio);
	assert_int_equal(g, group);
	free(b.dump);
	report(what, n - 1, passed);
}

static void test_M32_create_allocation_failures_unwind_whole(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(0xfa17);
	struct target t;

	target_init(f, &t, "t0", "tdrv", "tdrv-a", 0);
	walk_create(f, &t, u, "create");
	assert_true(fx_exists(fx_dev(f, u, "sample_attr")));
	assert_int_equal(fx_remove(f, u), 1);
}

/*
 * ---- create with attribute groups in subdirectories ----
 *
 * tdrv's one attribute group has no name; this driver's device has a named group with an
 * attribute is_visible hides, and one at the top (the kernel's dev_groups shapes, §6.4).
 */
static ssize_t gdrv_show(struct umdev_mdev *mdev, char *buf, size_t len)
{
	(void)mdev;
	return snprintf(buf, len, "1\n");
}

static const struct umdev_attr gdrv_top = {.name = "top", .mode = 0444, .show = gdrv_show};
static const struct umdev_attr gdrv_shown = {.name = "shown", .mode = 0444, .show = gdrv_show};
static const struct umdev_attr gdrv_hidden = {.name = "hidden", .mode = 0444, .show = gdrv_show};
static const struct umdev_attr *const gdrv_top_attrs[] = {&gdrv_top, NULL};
static const struct umdev_attr *const gdrv_grp_attrs[] = {&gdrv_shown, &gdrv_hidden, NULL};

static bool gdrv_visible(struct umdev_mdev *mdev, const struct umdev_attr *attr)
{
	(void)mdev;
	return attr != &gdrv_hidden;
}

static const struct umdev_attr_group gdrv_top_group = {.attrs = gdrv_top_attrs};
static const struct umdev_attr_group gdrv_named_group = {
    .name = "grp", .attrs = gdrv_grp_attrs, .is_visible = gdrv_visible};
static const struct umdev_attr_group *const gdrv_groups[] = {&gdrv_top_group, &gdrv_named_group,
							     NULL};

static int gdrv_probe(struct umdev_mdev *mdev)
{
	(void)mdev;
	return 0;
}

static void gdrv_remove(struct umdev_mdev *mdev)
{
	(void)mdev;
}

static struct umdev_driver gdrv = {
    .name = "gdrv",
    .device_api = "vfio-pci",
    .max_instances = 4,
    .probe = gdrv_probe,
    .remove = gdrv_remove,
    .dev_groups = gdrv_groups,
};

static void test_M32_create_with_named_groups_allocation_failures_unwind(void **state)
{
	struct fx *f = *state;
	struct umdev_type x = {.sysfs_name = "x"}, y = {.sysfs_name = "y"};
	struct umdev_type *types[] = {&x, &y};
	struct umdev_parent parent = {0};
	const char *u = fx_uuid(0xfa19);
	struct target t;

	target_init(f, &t, "g0", "gdrv", "gdrv-y", FX_MAX_PARENTS);
	assert_int_equal(umdev_register_driver(&gdrv), 0);
	assert_int_equal(umdev_register_parent(&parent, "g0", NULL, &gdrv, types, 2), 0);
	walk_create(f, &t, u, "create (named group)");
	check_list(fx_dev(f, u, NULL),
		   "driver,grp,iommu_group,mdev_type,remove,subsystem,top,uevent,vfio-dev");
	check_list(fx_dev(f, u, "grp"), "shown");
	assert_int_equal(fx_remove(f, u), 1);
	umdev_unregister_parent(&parent);
	assert_int_equal(umdev_unregister_driver(&gdrv), 0);
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

/* ---- reading: open + read of a file, opendir + readdir of a directory (§6.1) ---- */

/* The number of names in directory @path (no . and ..), or -errno; allocates nothing. */
static ssize_t count_names(const char *path)
{
	struct dirent *e;
	ssize_t nr = 0;
	DIR *d;

	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		nr += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return nr;
}

static void test_M67_read_allocation_failures_are_enomem(void **state)
{
	struct fx *f = *state;
	unsigned int n, passed;
	char buf[64];
	bool fired;
	ssize_t ret;

	for (n = 1;; n++) {
		fault_arm(n);
		ret = fx_read(fx_type(f, 0, "available_instances"), buf, sizeof(buf));
		fired = fault_fired();
		passed = fault_disarm();
		if (!fired)
			break;
		assert_int_equal(ret, -ENOMEM); /* the open's handle, or the snapshot buffer */
		assert_int_equal(fx_available(f, 0), 16);
	}
	assert_int_equal(ret, 3);
	assert_string_equal(buf, "16\n");
	report("read", n - 1, passed);

	for (n = 1;; n++) {
		fault_arm(n);
		ret = count_names(fx_type(f, 0, NULL));
		fired = fault_fired();
		passed = fault_disarm();
		if (!fired)
			break;
		assert_int_equal(ret, -ENOMEM); /* the directory handle */
	}
	assert_int_equal(ret, 5);
	check_list(fx_type(f, 0, NULL), "available_instances,create,device_api,devices,name");
	report("readdir", n - 1, passed);
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
	    cmocka_unit_test_setup_teardown(
		test_M32_create_with_named_groups_allocation_failures_unwind, fx_setup_bare,
		fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M67_read_allocation_failures_are_enomem, fx_setup,
					    fx_teardown),
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
 *   M-37, M-67.
 */
