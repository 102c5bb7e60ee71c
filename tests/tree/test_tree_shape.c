// SPDX-License-Identifier: MIT
/*
 * Registration and tree shape through a real FUSE mount (mdev.md §6.2-§6.3, §9.1): tdrv
 * analogues of M-1..M-13, and a two-type driver ("mini") for the items that need two types.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree_fixture.h"

/* ---- a minimal two-type driver: parent "m0", types "x" and "y", max_instances 2 ---- */

static int mini_probe(struct umdev_mdev *mdev)
{
	(void)mdev;
	return 0;
}

static struct umdev_driver mini_drv = {
    .name = "mini",
    .device_api = "vfio-ccw",
    .max_instances = 2,
    .probe = mini_probe,
};
static struct umdev_type mini_x = {.sysfs_name = "x", .pretty_name = "Ex"};
static struct umdev_type mini_y = {.sysfs_name = "y"};
static struct umdev_type *mini_types[] = {&mini_x, &mini_y};
static struct umdev_parent mini_parent;

static void mini_start(void)
{
	assert_int_equal(umdev_register_driver(&mini_drv), 0);
	assert_int_equal(
	    umdev_register_parent(&mini_parent, "m0", "mclass", &mini_drv, mini_types, 2), 0);
}

static void mini_stop(void)
{
	umdev_unregister_parent(&mini_parent);
	assert_int_equal(umdev_unregister_driver(&mini_drv), 0);
}

/* ---- skeleton ---- */

static void test_skeleton_dirs_exist_when_mounted(void **state)
{
	struct fx *f = *state;
	static const char *const dirs[] = {
	    "sys/class/mdev_bus",      "sys/bus/mdev/devices", "sys/bus/mdev/drivers",
	    "sys/kernel/iommu_groups", "sys/class/vfio-dev",   "sys/devices/virtual",
	};
	struct stat st;
	char *l;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		assert_int_equal(lstat(fx_path(f, "%s", dirs[i]), &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0755);
	}
	l = fx_list(fx_path(f, "sys/bus/mdev/devices"));
	assert_string_equal(l, "");
	free(l);
	l = fx_list(fx_path(f, "sys"));
	assert_string_equal(l, "bus,class,devices,kernel");
	free(l);
	l = fx_list(f->root);
	assert_string_equal(l, "sys");
	free(l);
}

/* ---- M-1 ---- */

static void test_M1_mdev_bus_link_text_and_realpath(void **state)
{
	struct fx *f = *state;
	char target[PATH_MAX];
	struct stat st;

	assert_int_equal(fx_readlink(fx_path(f, "sys/class/mdev_bus/t0"), target, sizeof(target)),
			 0);
	assert_string_equal(target, "../../devices/virtual/tdrv/t0");
	assert_true(
	    fx_resolves_to(f, fx_path(f, "sys/class/mdev_bus/t0"), "sys/devices/virtual/tdrv/t0"));
	assert_int_equal(lstat(fx_path(f, "sys/class/mdev_bus/t0"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0777);
	/* exactly the registered parents */
	char *l = fx_list(fx_path(f, "sys/class/mdev_bus"));
	assert_string_equal(l, "t0,t1");
	free(l);
}

/* ---- M-2, M-3 ---- */

static void test_M2_supported_types_lists_exactly_the_types(void **state)
{
	struct fx *f = *state;
	char *l;

	l = fx_list(fx_path(f, "sys/devices/virtual/tdrv/t0/mdev_supported_types"));
	assert_string_equal(l, "tdrv-a");
	free(l);
	mini_start();
	l = fx_list(fx_path(f, "sys/class/mdev_bus/m0/mdev_supported_types"));
	assert_string_equal(l, "mini-x,mini-y");
	free(l);
	mini_stop();
	assert_false(fx_exists(fx_path(f, "sys/class/mdev_bus/m0")));
}

static void test_M3_type_dir_lists_exactly_its_files(void **state)
{
	struct fx *f = *state;
	char *l = fx_list(fx_type(f, 0, NULL));

	assert_string_equal(l, "available_instances,create,device_api,devices,name");
	free(l);
}

static void test_M3_description_adds_description_and_nothing_else(void **state)
{
	struct fx *f = *state;
	struct tdrv_options opt = {.description = true};
	char *l;

	fx_stop(f);
	fx_start(f, &opt, 1);
	l = fx_list(fx_type(f, 0, NULL));
	assert_string_equal(l, "available_instances,create,description,device_api,devices,name");
	free(l);
}

/* ---- M-4 ---- */

static void check_mode(const char *path, mode_t type, mode_t mode, off_t size)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & S_IFMT, type);
	assert_int_equal(st.st_mode & 07777, mode);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);
	if (size >= 0)
		assert_int_equal(st.st_size, size);
}

static void test_M4_modes_owner_and_size(void **state)
{
	struct fx *f = *state;
	struct tdrv_options opt = {.description = true};

	fx_stop(f);
	fx_start(f, &opt, 1);
	check_mode(fx_type(f, 0, "create"), S_IFREG, 0200, 4096);
	check_mode(fx_type(f, 0, "name"), S_IFREG, 0444, 4096);
	check_mode(fx_type(f, 0, "device_api"), S_IFREG, 0444, 4096);
	check_mode(fx_type(f, 0, "available_instances"), S_IFREG, 0444, 4096);
	check_mode(fx_type(f, 0, "description"), S_IFREG, 0444, 4096);
	check_mode(fx_type(f, 0, NULL), S_IFDIR, 0755, -1);
	check_mode(fx_type(f, 0, "devices"), S_IFDIR, 0755, -1);
	check_mode(fx_path(f, "sys/devices/virtual/tdrv/t0"), S_IFDIR, 0755, -1);
	check_mode(fx_path(f, "sys/devices/virtual/tdrv/t0/uevent"), S_IFREG, 0644, 4096);
	check_mode(fx_path(f, "sys/devices/virtual/tdrv/t0/subsystem"), S_IFLNK, 0777, -1);
	check_mode(fx_path(f, "sys/class/tdrv/t0"), S_IFLNK, 0777,
		   (off_t)strlen("../../devices/virtual/tdrv/t0"));
}

/* ---- M-5..M-8 ---- */

static void test_M5_name_falls_back_to_sysfs_name(void **state)
{
	struct fx *f = *state;
	char buf[64];

	assert_int_equal(fx_read(fx_type(f, 0, "name"), buf, sizeof(buf)), 2);
	assert_string_equal(buf, "a\n");
	mini_start();
	assert_int_equal(
	    fx_read(fx_path(f, "sys/class/mdev_bus/m0/mdev_supported_types/mini-x/name"), buf,
		    sizeof(buf)),
	    3);
	assert_string_equal(buf, "Ex\n");
	assert_int_equal(
	    fx_read(fx_path(f, "sys/class/mdev_bus/m0/mdev_supported_types/mini-y/name"), buf,
		    sizeof(buf)),
	    2);
	assert_string_equal(buf, "y\n");
	mini_stop();
}

static void test_M5_pretty_name(void **state)
{
	struct fx *f = *state;
	struct tdrv_options opt = {.pretty_name = "Test type A"};
	char buf[64];

	fx_stop(f);
	fx_start(f, &opt, 1);
	assert_int_equal(fx_read(fx_type(f, 0, "name"), buf, sizeof(buf)), 12);
	assert_string_equal(buf, "Test type A\n");
}

static void test_M6_device_api(void **state)
{
	struct fx *f = *state;
	char buf[64];

	assert_int_equal(fx_read(fx_type(f, 0, "device_api"), buf, sizeof(buf)), 9);
	assert_string_equal(buf, "vfio-pci\n");
	mini_start();
	assert_int_equal(
	    fx_read(fx_path(f, "sys/class/mdev_bus/m0/mdev_supported_types/mini-y/device_api"), buf,
		    sizeof(buf)),
	    9);
	assert_string_equal(buf, "vfio-ccw\n");
	mini_stop();
}

static void test_M7_fresh_tdrv_parent_has_16(void **state)
{
	struct fx *f = *state;
	char buf[64];

	assert_int_equal(fx_read(fx_type(f, 0, "available_instances"), buf, sizeof(buf)), 3);
	assert_string_equal(buf, "16\n");
	assert_int_equal(fx_available(f, 1), 16);
}

static void test_M8_description_is_the_callback_bytes(void **state)
{
	struct fx *f = *state;
	struct tdrv_options opt = {.description = true};
	char buf[64];

	fx_stop(f);
	fx_start(f, &opt, 1);
	tdrv_set_description(f->t[0], "a\nb", 3);
	assert_int_equal(fx_read(fx_type(f, 0, "description"), buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "a\nb", 3);
	tdrv_set_description(f->t[0], "", 0);
	assert_int_equal(fx_read(fx_type(f, 0, "description"), buf, sizeof(buf)), 0);
}

/* ---- M-9..M-13: failed registrations leave the tree unchanged ---- */

static void test_M9_bad_driver_registration_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct umdev_driver bad = {.name = "bad", .probe = mini_probe};
	struct umdev_driver dup = {.name = "tdrv", .device_api = "vfio-pci", .probe = mini_probe};
	char *before = fx_dump(f), *after;

	assert_int_equal(umdev_register_driver(&bad), -EINVAL);
	assert_int_equal(umdev_register_driver(&dup), -EEXIST);
	after = fx_dump(f);
	assert_string_equal(after, before);
	free(after);
	assert_false(fx_exists(fx_path(f, "sys/bus/mdev/drivers/bad")));
	assert_true(fx_exists(fx_path(f, "sys/bus/mdev/drivers/tdrv")));
	free(before);
}

static void test_M10_bad_parent_registration_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct umdev_type slash = {.sysfs_name = "a/b"};
	struct umdev_type *dup[] = {&mini_x, &mini_x};
	struct umdev_type *bad[] = {&slash};
	struct umdev_parent p = {0};
	char *before, *after;

	assert_int_equal(umdev_register_driver(&mini_drv), 0);
	before = fx_dump(f);
	assert_int_equal(umdev_register_parent(&p, "m1", NULL, &mini_drv, mini_types, 0), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "m1", NULL, &mini_drv, dup, 2), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "m1", NULL, &mini_drv, bad, 1), -EINVAL);
	after = fx_dump(f);
	assert_string_equal(after, before);
	assert_false(fx_exists(fx_path(f, "sys/class/mdev_bus/m1")));
	assert_false(fx_exists(fx_path(f, "sys/devices/virtual/mini")));
	free(after);
	free(before);
	assert_int_equal(umdev_unregister_driver(&mini_drv), 0);
}

static void test_M11_duplicate_parent_name_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct umdev_parent p = {0};
	char *before = fx_dump(f), *after;

	assert_int_equal(umdev_register_driver(&mini_drv), 0);
	free(before);
	before = fx_dump(f);
	assert_int_equal(umdev_register_parent(&p, "t0", NULL, &mini_drv, mini_types, 2), -EEXIST);
	after = fx_dump(f);
	assert_string_equal(after, before);
	assert_true(
	    fx_resolves_to(f, fx_path(f, "sys/class/mdev_bus/t0"), "sys/devices/virtual/tdrv/t0"));
	free(after);
	free(before);
	assert_int_equal(umdev_unregister_driver(&mini_drv), 0);
}

static void test_M12_parent_uevent_subsystem_and_class_link(void **state)
{
	struct fx *f = *state;
	char buf[64], target[PATH_MAX];

	assert_int_equal(
	    fx_read(fx_path(f, "sys/devices/virtual/tdrv/t0/uevent"), buf, sizeof(buf)), 0);
	assert_int_equal(fx_readlink(fx_path(f, "sys/devices/virtual/tdrv/t0/subsystem"), target,
				     sizeof(target)),
			 0);
	assert_string_equal(target, "../../../../class/tdrv");
	assert_true(fx_resolves_to(f, fx_path(f, "sys/devices/virtual/tdrv/t0/subsystem"),
				   "sys/class/tdrv"));
	assert_true(
	    fx_resolves_to(f, fx_path(f, "sys/class/tdrv/t0"), "sys/devices/virtual/tdrv/t0"));
	char *l = fx_list(fx_path(f, "sys/class/tdrv"));
	assert_string_equal(l, "t0,t1");
	free(l);
	l = fx_list(fx_path(f, "sys/devices/virtual/tdrv/t0"));
	assert_string_equal(l, "mdev_supported_types,subsystem,uevent");
	free(l);
	/* uevent takes writes and ignores them */
	assert_int_equal(fx_write_str(fx_path(f, "sys/devices/virtual/tdrv/t0/uevent"), "add"), 3);
	assert_int_equal(
	    fx_read(fx_path(f, "sys/devices/virtual/tdrv/t0/uevent"), buf, sizeof(buf)), 0);
}

static void test_M12_class_dirs_go_with_the_last_parent(void **state)
{
	struct fx *f = *state;

	tdrv_parent_remove(f->t[1]);
	f->t[1] = NULL;
	assert_true(fx_exists(fx_path(f, "sys/class/tdrv")));
	assert_false(fx_exists(fx_path(f, "sys/class/tdrv/t1")));
	assert_false(fx_exists(fx_path(f, "sys/devices/virtual/tdrv/t1")));
	assert_false(fx_exists(fx_path(f, "sys/class/mdev_bus/t1")));
	tdrv_parent_remove(f->t[0]);
	f->t[0] = NULL;
	assert_false(fx_exists(fx_path(f, "sys/class/tdrv")));
	assert_false(fx_exists(fx_path(f, "sys/devices/virtual/tdrv")));
	assert_true(fx_exists(fx_path(f, "sys/class/mdev_bus")));
}

static void test_M13_unregister_busy_driver_changes_nothing(void **state)
{
	struct fx *f = *state;
	char *before = fx_dump(f), *after;

	assert_int_equal(tdrv_unregister(), -EBUSY);
	after = fx_dump(f);
	assert_string_equal(after, before);
	free(after);
	free(before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_skeleton_dirs_exist_when_mounted, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M1_mdev_bus_link_text_and_realpath, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M2_supported_types_lists_exactly_the_types,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M3_type_dir_lists_exactly_its_files, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M3_description_adds_description_and_nothing_else,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M4_modes_owner_and_size, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M5_name_falls_back_to_sysfs_name, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M5_pretty_name, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M6_device_api, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M7_fresh_tdrv_parent_has_16, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M8_description_is_the_callback_bytes, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M9_bad_driver_registration_changes_nothing,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M10_bad_parent_registration_changes_nothing,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M11_duplicate_parent_name_changes_nothing,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M12_parent_uevent_subsystem_and_class_link,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M12_class_dirs_go_with_the_last_parent, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M13_unregister_busy_driver_changes_nothing,
					    fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   M-1, M-2, M-3, M-4, M-5, M-6, M-7, M-8, M-9, M-10, M-11, M-12, M-13
 */
