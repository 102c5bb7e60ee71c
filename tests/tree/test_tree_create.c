// SPDX-License-Identifier: MIT
/*
 * Create through the tree (mdev.md §6.4, §6.5, §9.2): tdrv analogues of M-14..M-34. Every
 * failing write is checked for its errno and for leaving the whole tree, the counters and
 * the driver untouched.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree_fixture.h"

/* What a rejected create must leave alone. */
struct snap {
	char *dump;
	long avail[2];
	unsigned int probes, removes, nr_mdevs, detaches;
};

static struct snap take(struct fx *f)
{
	struct snap s = {
	    .dump = fx_dump(f),
	    .avail = {fx_available(f, 0), fx_available(f, 1)},
	    .probes = tdrv_calls(f->t[0], TDRV_PROBE),
	    .removes = tdrv_calls(f->t[0], TDRV_REMOVE),
	    .nr_mdevs = umdev__core_nr_mdevs(),
	    .detaches = fx_vfio_detaches(),
	};

	assert_non_null(s.dump);
	return s;
}

/* Nothing changed but (when @probed) one more probe call on t0. */
static void check_unchanged(struct fx *f, struct snap *s, unsigned int probed)
{
	struct snap now = take(f);

	assert_string_equal(now.dump, s->dump);
	assert_int_equal(now.avail[0], s->avail[0]);
	assert_int_equal(now.avail[1], s->avail[1]);
	assert_int_equal(now.probes, s->probes + probed);
	assert_int_equal(now.removes, s->removes);
	assert_int_equal(now.nr_mdevs, s->nr_mdevs);
	free(now.dump);
	free(s->dump);
	s->dump = NULL;
}

static ssize_t write_create(struct fx *f, unsigned int i, const char *bytes, size_t len)
{
	return fx_write(fx_type(f, i, "create"), bytes, len, O_WRONLY);
}

/* ---- M-14..M-19 ---- */

static void test_M14_create_with_newline_returns_37(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(1);

	assert_int_equal(fx_create(f, 0, u), 37);
	assert_true(
	    fx_resolves_to(f, fx_dev(f, u, NULL),
			   fx_path(f, "sys/devices/virtual/tdrv/t0/%s", u) + strlen(f->root) + 1));
	assert_int_equal(fx_available(f, 0), 15);
	assert_int_equal(fx_available(f, 1), 16);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_PROBE), 1);
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M15_create_36_bytes_returns_36(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(2);

	assert_int_equal(write_create(f, 0, u, 36), 36);
	assert_true(fx_exists(fx_dev(f, u, NULL)));
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M16_upper_case_creates_lower_case_dir(void **state)
{
	struct fx *f = *state;
	char upper[37];
	const char *u = fx_uuid(0xabcdef);
	char *l;

	for (int i = 0; i < 36; i++)
		upper[i] = (char)(u[i] >= 'a' && u[i] <= 'f' ? u[i] - 'a' + 'A' : u[i]);
	upper[36] = '\0';
	assert_int_equal(write_create(f, 0, upper, 36), 36);
	assert_true(fx_exists(fx_dev(f, u, NULL)));
	assert_false(fx_exists(fx_dev(f, upper, NULL)));
	l = fx_list(fx_path(f, "sys/bus/mdev/devices"));
	assert_string_equal(l, u);
	free(l);
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M17_bad_create_writes_are_einval(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(3);
	char buf[64];
	struct snap s = take(f);

	assert_int_equal(write_create(f, 0, u, 35), -EINVAL);
	snprintf(buf, sizeof(buf), "%s\r\n", u);
	assert_int_equal(write_create(f, 0, buf, 38), -EINVAL);
	snprintf(buf, sizeof(buf), "{%s}", u);
	assert_int_equal(write_create(f, 0, buf, 38), -EINVAL);
	assert_int_equal(write_create(f, 0, "6a1c0f3e000040008000000000000003", 32), -EINVAL);
	snprintf(buf, sizeof(buf), " %s", u);
	assert_int_equal(write_create(f, 0, buf, 37), -EINVAL);
	assert_int_equal(write_create(f, 0, "6a1c0f3e-0000-4000-8000-00000000000g", 36), -EINVAL);
	check_unchanged(f, &s, 0);
	assert_int_equal(fx_warnings(), 0);
}

static void test_M18_37th_byte_is_ignored(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(4);
	char buf[64];

	snprintf(buf, sizeof(buf), "%sx", u);
	assert_int_equal(write_create(f, 0, buf, 37), 37);
	assert_true(fx_exists(fx_dev(f, u, NULL)));
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M19_5000_byte_write_is_einval(void **state)
{
	struct fx *f = *state;
	char buf[5000];
	struct snap s = take(f);

	memset(buf, ' ', sizeof(buf));
	memcpy(buf, fx_uuid(5), 36);
	assert_int_equal(write_create(f, 0, buf, sizeof(buf)), -EINVAL);
	assert_false(fx_exists(fx_dev(f, fx_uuid(5), NULL)));
	check_unchanged(f, &s, 0);
}

/* ---- M-20, M-21, M-28 ---- */

static void test_M20_same_uuid_anywhere_is_eexist_without_warning(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(6);
	struct snap s;

	assert_int_equal(fx_create(f, 0, u), 37);
	s = take(f);
	assert_int_equal(fx_create(f, 0, u), -EEXIST);
	assert_int_equal(fx_create(f, 1, u), -EEXIST);
	check_unchanged(f, &s, 0);
	assert_int_equal(tdrv_calls(f->t[1], TDRV_PROBE), 0);
	assert_int_equal(fx_warnings(), 0);
	assert_true(
	    fx_resolves_to(f, fx_dev(f, u, NULL),
			   fx_path(f, "sys/devices/virtual/tdrv/t0/%s", u) + strlen(f->root) + 1));
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M21_upper_case_of_existing_is_eexist(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(0xfeed);
	char upper[37];
	struct snap s;

	for (int i = 0; i < 36; i++)
		upper[i] = (char)(u[i] >= 'a' && u[i] <= 'f' ? u[i] - 'a' + 'A' : u[i]);
	upper[36] = '\0';
	assert_int_equal(fx_create(f, 0, u), 37);
	s = take(f);
	assert_int_equal(write_create(f, 1, upper, 36), -EEXIST);
	check_unchanged(f, &s, 0);
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M28_eexist_before_eusers(void **state)
{
	struct fx *f = *state;
	struct tdrv_options opt = {.max_instances = 1};
	struct snap s;

	fx_stop(f);
	fx_start(f, &opt, 2);
	assert_int_equal(fx_create(f, 0, fx_uuid(7)), 37);
	assert_int_equal(fx_available(f, 0), 0);
	s = take(f);
	assert_int_equal(fx_create(f, 0, fx_uuid(7)), -EEXIST);
	assert_int_equal(fx_create(f, 0, fx_uuid(8)), -EUSERS);
	check_unchanged(f, &s, 0);
	assert_int_equal(fx_remove(f, fx_uuid(7)), 1);
	assert_int_equal(fx_available(f, 0), 1);
}

/* ---- M-22..M-25: the device directory ---- */

static void test_M22_device_dir_lists_exactly(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(9);
	char *l;

	assert_int_equal(fx_create(f, 0, u), 37);
	l = fx_list(fx_dev(f, u, NULL));
	assert_string_equal(l, "driver,iommu_group,mdev_type,remove,sample_attr,subsystem,uevent,"
			       "vfio-dev");
	free(l);
	l = fx_list(fx_type(f, 0, "devices"));
	assert_string_equal(l, u);
	free(l);
	assert_true(fx_resolves_to(
	    f, fx_path(f, "%s/%s", fx_type(f, 0, "devices") + strlen(f->root) + 1, u),
	    fx_path(f, "sys/devices/virtual/tdrv/t0/%s", u) + strlen(f->root) + 1));
	l = fx_list(fx_path(f, "sys/bus/mdev/drivers/tdrv"));
	assert_string_equal(l, u);
	free(l);
	l = fx_list(fx_path(f, "sys/devices/virtual/tdrv/t0"));
	char want[256];
	snprintf(want, sizeof(want), "%s,mdev_supported_types,subsystem,uevent", u);
	assert_string_equal(l, want);
	free(l);
	l = fx_list(fx_type(f, 1, "devices"));
	assert_string_equal(l, "");
	free(l);
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M22_device_dir_without_dev_groups(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(10);
	char *l;

	assert_int_equal(fx_create(f, 0, u), 37);
	l = fx_list(fx_dev(f, u, NULL));
	assert_string_equal(l, "driver,iommu_group,mdev_type,remove,subsystem,uevent,vfio-dev");
	free(l);
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M23_mdev_type_link(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(11);
	char target[PATH_MAX];

	assert_int_equal(fx_create(f, 0, u), 37);
	assert_int_equal(fx_readlink(fx_dev(f, u, "mdev_type"), target, sizeof(target)), 0);
	assert_string_equal(target, "../mdev_supported_types/tdrv-a");
	assert_true(fx_resolves_to(f, fx_dev(f, u, "mdev_type"),
				   "sys/devices/virtual/tdrv/t0/mdev_supported_types/tdrv-a"));
	assert_int_equal(fx_readlink(fx_dev(f, u, NULL), target, sizeof(target)), 0);
	char want[256];
	snprintf(want, sizeof(want), "../../../devices/virtual/tdrv/t0/%s", u);
	assert_string_equal(target, want);
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M24_uevent_driver_subsystem(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(12);
	char buf[64], target[PATH_MAX];

	assert_int_equal(fx_create(f, 0, u), 37);
	assert_int_equal(fx_read(fx_dev(f, u, "uevent"), buf, sizeof(buf)), 12);
	assert_string_equal(buf, "DRIVER=tdrv\n");
	assert_int_equal(fx_write_str(fx_dev(f, u, "uevent"), "change"), 6); /* ignored */
	assert_int_equal(fx_read(fx_dev(f, u, "uevent"), buf, sizeof(buf)), 12);
	assert_true(fx_resolves_to(f, fx_dev(f, u, "driver"), "sys/bus/mdev/drivers/tdrv"));
	assert_int_equal(fx_readlink(fx_dev(f, u, "driver"), target, sizeof(target)), 0);
	assert_string_equal(target, "../../../../../bus/mdev/drivers/tdrv");
	assert_true(fx_resolves_to(f, fx_dev(f, u, "subsystem"), "sys/bus/mdev"));
	assert_int_equal(fx_readlink(fx_dev(f, u, "subsystem"), target, sizeof(target)), 0);
	assert_string_equal(target, "../../../../../bus/mdev");
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M25_dev_groups_attribute_reads_and_writes(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(13);
	char buf[64];
	struct stat st;

	assert_int_equal(fx_create(f, 0, u), 37);
	assert_int_equal(stat(fx_dev(f, u, "sample_attr"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_size, 4096);
	assert_int_equal(fx_read(fx_dev(f, u, "sample_attr"), buf, sizeof(buf)), 0);
	assert_int_equal(fx_write_str(fx_dev(f, u, "sample_attr"), "hello\n"), 6);
	assert_int_equal(tdrv_store_calls(f->t[0]), 1);
	assert_int_equal(fx_read(fx_dev(f, u, "sample_attr"), buf, sizeof(buf)), 6);
	assert_string_equal(buf, "hello\n");
	assert_int_equal(fx_remove(f, u), 1);
}

/* ---- M-27 (two types, core-managed 2) ---- */

static int mini_probe(struct umdev_mdev *mdev)
{
	(void)mdev;
	return 0;
}

static void test_M27_core_managed_counter_shared_by_types(void **state)
{
	struct fx *f = *state;
	struct umdev_driver drv = {
	    .name = "mini", .device_api = "vfio-pci", .max_instances = 2, .probe = mini_probe};
	struct umdev_type x = {.sysfs_name = "x"}, y = {.sysfs_name = "y"};
	struct umdev_type *types[] = {&x, &y};
	struct umdev_parent p = {0};
	const char *tx = fx_path(f, "sys/class/mdev_bus/m0/mdev_supported_types/mini-x");
	const char *ty = fx_path(f, "sys/class/mdev_bus/m0/mdev_supported_types/mini-y");
	char path[PATH_MAX + 64], buf[64];

	assert_int_equal(umdev_register_driver(&drv), 0);
	assert_int_equal(umdev_register_parent(&p, "m0", NULL, &drv, types, 2), 0);
	snprintf(path, sizeof(path), "%s/create", tx);
	assert_int_equal(fx_write_str(path, fx_uuid(20)), 36);
	snprintf(path, sizeof(path), "%s/create", ty);
	assert_int_equal(fx_write_str(path, fx_uuid(21)), 36);
	snprintf(path, sizeof(path), "%s/available_instances", tx);
	assert_int_equal(fx_read(path, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "0\n");
	snprintf(path, sizeof(path), "%s/available_instances", ty);
	assert_int_equal(fx_read(path, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "0\n");
	snprintf(path, sizeof(path), "%s/create", tx);
	assert_int_equal(fx_write_str(path, fx_uuid(22)), -EUSERS);
	snprintf(path, sizeof(path), "%s/create", ty);
	assert_int_equal(fx_write_str(path, fx_uuid(22)), -EUSERS);
	assert_int_equal(umdev__core_nr_mdevs(), 2);
	umdev_unregister_parent(&p); /* removes both */
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_false(fx_exists(fx_dev(f, fx_uuid(20), NULL)));
	assert_int_equal(umdev_unregister_driver(&drv), 0);
}

/* ---- M-29..M-33: failing creates leave nothing ---- */

static void failing_probe(struct fx *f, int probe_ret, int want)
{
	const char *u = fx_uuid(30);
	struct snap s = take(f);

	tdrv_set_probe_result(f->t[0], probe_ret);
	assert_int_equal(fx_create(f, 0, u), want);
	check_unchanged(f, &s, 1);
	assert_false(fx_exists(fx_dev(f, u, NULL)));
	assert_int_equal(fx_vfio_live(), 0);
	assert_int_equal(tdrv_live(f->t[0]), 0);
	tdrv_set_probe_result(f->t[0], 0);
}

static void test_M29_probe_errno_is_returned_unchanged(void **state)
{
	failing_probe(*state, -EBADMSG, -EBADMSG);
}

static void test_M30_probe_errnos_are_returned_unchanged(void **state)
{
	static const int errs[] = {EINVAL, ENOMEM, ENOSPC, EIO, EPERM};

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		failing_probe(*state, -errs[i], -errs[i]);
}

static void test_M31_bogus_probe_result_is_eio(void **state)
{
	struct fx *f = *state;

	failing_probe(f, 5, -EIO);
	f->warnings_expected = fx_warnings(); /* the core logs the driver bug at error level */
	assert_true(f->warnings_expected >= 1);
}

static void test_M32_vfio_failure_unwinds(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(31);
	struct snap s = take(f);

	fx_vfio_fail(-ENOMEM);
	assert_int_equal(fx_create(f, 0, u), -ENOMEM);
	fx_vfio_fail(0);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), s.removes + 1); /* exactly once */
	s.removes++;
	check_unchanged(f, &s, 1);
	assert_int_equal(tdrv_live(f->t[0]), 0);
}

static void test_M33_create_after_failure_succeeds(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(32);

	tdrv_set_probe_result(f->t[0], -EIO);
	assert_int_equal(fx_create(f, 0, u), -EIO);
	tdrv_set_probe_result(f->t[0], 0);
	fx_vfio_fail(-ENOMEM);
	assert_int_equal(fx_create(f, 0, u), -ENOMEM);
	fx_vfio_fail(0);
	assert_int_equal(fx_create(f, 0, u), 37);
	assert_true(fx_exists(fx_dev(f, u, "remove")));
	assert_int_equal(fx_available(f, 0), 15);
	assert_int_equal(fx_remove(f, u), 1);
}

/* ---- M-34 ---- */

static void test_M34_open_access_check_even_as_root(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(33);

	assert_int_equal(geteuid(), 0);
	assert_int_equal(open(fx_type(f, 0, "create"), O_RDONLY), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(open(fx_type(f, 0, "create"), O_RDWR), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(open(fx_type(f, 0, "name"), O_WRONLY), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(open(fx_type(f, 0, "available_instances"), O_WRONLY), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(open(fx_type(f, 0, "device_api"), O_RDWR), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(fx_create(f, 0, u), 37);
	assert_int_equal(open(fx_dev(f, u, "remove"), O_RDONLY), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(fx_remove(f, u), 1);
}

/*
 * Directories of many children (issue 10): past DIR_HASH_MIN children a directory indexes its
 * names, and the index is rebuilt as it grows (here through 32, 64 and 128 buckets in
 * bus/mdev/devices and t0's directory). Every present name resolves, every removed one is
 * ENOENT, and the listing stays exact, after creates and removes in an order that leaves holes.
 */
#define MANY 200
static void test_M22_large_directories_resolve_every_name(void **state)
{
	struct tdrv_options opt = {.max_instances = MANY};
	struct fx *f = *state;
	char *list;

	fx_stop(f);
	fx_start(f, &opt, 1);
	for (unsigned int i = 0; i < MANY; i++)
		assert_int_equal(fx_create(f, 0, fx_uuid(1000 + i)), 37);
	for (unsigned int i = 0; i < MANY; i += 3) /* holes in every bucket chain */
		assert_int_equal(fx_remove(f, fx_uuid(1000 + i)), 1);
	for (unsigned int i = 0; i < MANY; i++) {
		const char *u = fx_uuid(1000 + i);
		bool present = i % 3 != 0;

		assert_int_equal(fx_exists(fx_dev(f, u, NULL)), present);
		assert_int_equal(fx_exists(fx_path(f, "sys/devices/virtual/tdrv/t0/%s/uevent", u)),
				 present);
	}
	list = fx_list(fx_path(f, "sys/bus/mdev/devices"));
	assert_non_null(list);
	for (unsigned int i = 0; i < MANY; i++)
		if (i % 3 != 0)
			assert_non_null(strstr(list, fx_uuid(1000 + i)));
	/* exactly those: 36 bytes each, comma-separated */
	assert_int_equal(strlen(list), (size_t)(MANY - (MANY + 2) / 3) * (UUID_STR_LEN)-1);
	free(list);
	for (unsigned int i = 0; i < MANY; i++)
		if (i % 3 != 0)
			assert_int_equal(fx_remove(f, fx_uuid(1000 + i)), 1);
	assert_false(fx_exists(fx_dev(f, fx_uuid(1001), NULL)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_M14_create_with_newline_returns_37, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M15_create_36_bytes_returns_36, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M16_upper_case_creates_lower_case_dir, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M17_bad_create_writes_are_einval, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M18_37th_byte_is_ignored, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M19_5000_byte_write_is_einval, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M20_same_uuid_anywhere_is_eexist_without_warning,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M21_upper_case_of_existing_is_eexist, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M28_eexist_before_eusers, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M22_device_dir_lists_exactly, fx_setup_sample,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M22_device_dir_without_dev_groups, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M23_mdev_type_link, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M24_uevent_driver_subsystem, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M25_dev_groups_attribute_reads_and_writes,
					    fx_setup_sample, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M27_core_managed_counter_shared_by_types, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M29_probe_errno_is_returned_unchanged, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M30_probe_errnos_are_returned_unchanged, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M31_bogus_probe_result_is_eio, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M32_vfio_failure_unwinds, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M33_create_after_failure_succeeds, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M34_open_access_check_even_as_root, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M22_large_directories_resolve_every_name, fx_setup,
					    fx_teardown),
	};

	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   M-14, M-15, M-16, M-17, M-18, M-19, M-20, M-21, M-22, M-23, M-24, M-25, M-27, M-28,
 *   M-29, M-30, M-31, M-32, M-33, M-34
 */
