// SPDX-License-Identifier: MIT
/*
 * File-system semantics and the API contract seen through the tree (mdev.md §6.1, §9.7,
 * §9.9): M-65..M-68 and M-78..M-81; and the unmount at shutdown (§8.2).
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "tree_fixture.h"

/* ---- M-65..M-68 ---- */

static void test_M65_o_trunc_open_and_truncate_are_accepted(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(1);
	char buf[64];
	int fd;

	assert_int_equal(fx_write(fx_type(f, 0, "create"), u, 36, O_WRONLY | O_CREAT | O_TRUNC),
			 36);
	assert_true(fx_exists(fx_dev(f, u, "remove")));
	assert_int_equal(truncate(fx_type(f, 0, "available_instances"), 0), 0);
	assert_int_equal(fx_read(fx_type(f, 0, "available_instances"), buf, sizeof(buf)), 3);
	assert_string_equal(buf, "15\n");
	fd = open(fx_dev(f, u, "remove"), O_WRONLY | O_CREAT | O_TRUNC, 0644); /* mdevctl stop */
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(write(fd, "1", 1), 1);
	close(fd);
	assert_false(fx_exists(fx_dev(f, u, NULL)));
	assert_int_equal(fx_available(f, 0), 16);
}

static void test_M66_nothing_is_created_removed_or_remoded(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(2);
	struct timeval tv[2] = {{0}, {0}};
	char *before, *after;

	assert_int_equal(fx_create(f, 0, u), 37);
	before = fx_dump(f);
	assert_int_equal(open(fx_type(f, 0, "newfile"), O_CREAT | O_WRONLY, 0644), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(mkdir(fx_type(f, 0, "newdir"), 0755), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(unlink(fx_dev(f, u, "remove")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(rmdir(fx_type(f, 0, "devices")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(rename(fx_type(f, 0, "name"), fx_type(f, 0, "name2")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(symlink("name", fx_type(f, 0, "link")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(link(fx_type(f, 0, "name"), fx_type(f, 0, "hard")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(mknod(fx_type(f, 0, "node"), S_IFIFO | 0644, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(chmod(fx_type(f, 0, "create"), 0644), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(chown(fx_type(f, 0, "create"), 1, 1), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(utimes(fx_type(f, 0, "name"), tv), -1);
	assert_int_equal(errno, EPERM);
	after = fx_dump(f);
	assert_string_equal(after, before);
	free(after);
	free(before);
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M67_one_byte_reads_and_pread_past_end(void **state)
{
	struct fx *f = *state;
	char c, out[8] = "";
	int fd = open(fx_type(f, 0, "available_instances"), O_RDONLY);

	assert_true(fd >= 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(read(fd, &c, 1), 1);
		out[i] = c;
	}
	assert_string_equal(out, "16\n");
	assert_int_equal(read(fd, &c, 1), 0);
	assert_int_equal(pread(fd, out, sizeof(out), 100), 0);
	assert_int_equal(pread(fd, out, 2, 1), 2); /* the snapshot continues */
	assert_memory_equal(out, "6\n", 2);
	close(fd);
	fd = open(fx_type(f, 0, "available_instances"), O_RDONLY);
	assert_int_equal(pread(fd, out, sizeof(out), 100), 0); /* no snapshot yet: still EOF */
	close(fd);
}

static void test_M67_snapshot_is_kept_until_offset_0(void **state)
{
	struct fx *f = *state;
	char buf[8];
	int fd = open(fx_type(f, 0, "available_instances"), O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, 1), 1); /* snapshot "16\n" */
	assert_int_equal(fx_create(f, 0, fx_uuid(3)), 37);
	assert_int_equal(read(fd, buf, sizeof(buf)), 2); /* continues the old snapshot */
	assert_memory_equal(buf, "6\n", 2);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 3); /* offset 0: new content */
	assert_memory_equal(buf, "15\n", 3);
	close(fd);
	assert_int_equal(fx_remove(f, fx_uuid(3)), 1);
}

static void test_M68_fresh_read_shows_new_value(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fx_available(f, 0), 16);
	assert_int_equal(fx_create(f, 0, fx_uuid(4)), 37);
	assert_int_equal(fx_available(f, 0), 15);
	assert_int_equal(fx_create(f, 0, fx_uuid(5)), 37);
	assert_int_equal(fx_available(f, 0), 14);
	assert_int_equal(fx_available(f, 1), 16);
	assert_int_equal(fx_remove(f, fx_uuid(4)), 1);
	assert_int_equal(fx_available(f, 0), 15);
	assert_int_equal(fx_remove(f, fx_uuid(5)), 1);
}

static void test_write_is_one_store_cut_at_4096(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(6);
	char big[5000], buf[300];
	int fd;

	assert_int_equal(fx_create(f, 0, u), 37);
	memset(big, 'z', sizeof(big));
	/* the store sees 4096 bytes and accepts them all: a short write of 4096 */
	assert_int_equal(fx_write(fx_dev(f, u, "sample_attr"), big, sizeof(big), O_WRONLY), 4096);
	assert_int_equal(tdrv_store_calls(f->t[0]), 1);
	/* the offset is ignored: a pwrite far out is the same single store */
	fd = open(fx_dev(f, u, "sample_attr"), O_WRONLY);
	assert_int_equal(pwrite(fd, "abc", 3, 1000), 3);
	close(fd);
	assert_int_equal(tdrv_store_calls(f->t[0]), 2);
	assert_int_equal(fx_read(fx_dev(f, u, "sample_attr"), buf, sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(fx_remove(f, u), 1);
}

/* ---- M-78 ---- */

struct nested {
	struct fx *f;
	ssize_t avail_read;
	int create_ret;
	unsigned int calls;
};

static void probe_hook(struct umdev_mdev *mdev, void *arg)
{
	struct nested *n = arg;
	char buf[64];
	uuid_t u2;

	(void)mdev;
	if (n->calls++)
		return; /* only for the first probe */
	uuid_parse(fx_uuid(11), u2);
	n->create_ret = umdev_mdev_create(tdrv_type(n->f->t[1]), &u2);
	n->avail_read = fx_read(fx_type(n->f, 1, "available_instances"), buf, sizeof(buf));
}

static void test_M78_probe_may_create_and_read_through_the_tree(void **state)
{
	struct fx *f = *state;
	struct nested n = {.f = f};

	tdrv_set_probe_hook(f->t[0], probe_hook, &n);
	assert_int_equal(fx_create(f, 0, fx_uuid(10)), 37);
	tdrv_set_probe_hook(f->t[0], NULL, NULL);
	assert_int_equal(n.create_ret, 0);
	assert_int_equal(n.avail_read, 3); /* "15\n" */
	assert_true(fx_exists(fx_dev(f, fx_uuid(11), "remove")));
	assert_int_equal(fx_remove(f, fx_uuid(10)), 1);
	assert_int_equal(fx_remove(f, fx_uuid(11)), 1);
}

/* ---- M-79 ---- */

static void test_M79_callbacks_run_on_every_read(void **state)
{
	struct fx *f = *state;
	struct tdrv_options opt = {.driver_managed = true, .description = true};
	char buf[64];

	fx_stop(f);
	fx_start(f, &opt, 1);
	tdrv_set_available(f->t[0], 7);
	tdrv_set_description(f->t[0], "desc", 4);
	unsigned int a0 = tdrv_get_available_calls(f->t[0]);
	unsigned int d0 = tdrv_description_calls(f->t[0]);

	for (int i = 0; i < 10; i++) {
		assert_int_equal(fx_read(fx_type(f, 0, "available_instances"), buf, sizeof(buf)),
				 2);
		assert_string_equal(buf, "7\n");
		assert_int_equal(fx_read(fx_type(f, 0, "description"), buf, sizeof(buf)), 4);
	}
	assert_int_equal(tdrv_get_available_calls(f->t[0]), a0 + 10);
	assert_int_equal(tdrv_description_calls(f->t[0]), d0 + 10);
	tdrv_set_available(f->t[0], 3);
	assert_int_equal(fx_available(f, 0), 3);
	/* a stat or a listing calls nothing */
	struct stat st;
	assert_int_equal(stat(fx_type(f, 0, "available_instances"), &st), 0);
	free(fx_list(fx_type(f, 0, NULL)));
	assert_int_equal(tdrv_get_available_calls(f->t[0]), a0 + 11);
}

/* ---- M-80 (and M-62's stale create handle) ---- */

static void test_M80_old_paths_and_handles_after_unregistration(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(20);
	char create_path[PATH_MAX], avail_path[PATH_MAX], remove_path[PATH_MAX], buf[64];
	int cfd, afd, rfd;

	snprintf(create_path, sizeof(create_path), "%s", fx_type(f, 0, "create"));
	snprintf(avail_path, sizeof(avail_path), "%s", fx_type(f, 0, "available_instances"));
	assert_int_equal(fx_create(f, 0, u), 37);
	snprintf(remove_path, sizeof(remove_path), "%s", fx_dev(f, u, "remove"));
	cfd = open(create_path, O_WRONLY);
	afd = open(avail_path, O_RDONLY);
	rfd = open(remove_path, O_WRONLY);
	assert_true(cfd >= 0 && afd >= 0 && rfd >= 0);

	tdrv_parent_remove(f->t[0]); /* frees the vendor parent and types */
	f->t[0] = NULL;
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	for (int i = 0; i < 1000; i++) {
		ssize_t r;

		r = fx_write(create_path, fx_uuid(21), 36, O_WRONLY);
		assert_int_equal(r, -ENOENT);
		r = fx_read(avail_path, buf, sizeof(buf));
		assert_int_equal(r, -ENOENT);
		r = fx_write_str(remove_path, "1");
		assert_int_equal(r, -ENOENT);
		assert_int_equal(write(cfd, fx_uuid(21 + i), 36), -1);
		assert_int_equal(errno, ENODEV); /* M-62 */
		assert_int_equal(pread(afd, buf, sizeof(buf), 0), -1);
		assert_int_equal(errno, ENODEV);
		assert_int_equal(write(rfd, "1", 1), -1);
		assert_int_equal(errno, ENODEV);
	}
	close(cfd);
	close(afd);
	close(rfd);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_true(fx_exists(fx_path(f, "sys/class/mdev_bus/t1")));
}

static void test_M62_reregistered_parent_is_fresh(void **state)
{
	struct fx *f = *state;
	int cfd, err = 0;

	cfd = open(fx_type(f, 0, "create"), O_WRONLY);
	assert_true(cfd >= 0);
	assert_int_equal(fx_create(f, 0, fx_uuid(30)), 37);
	tdrv_parent_remove(f->t[0]);
	f->t[0] = tdrv_parent_add("t0", &err);
	assert_non_null(f->t[0]);
	assert_int_equal(fx_available(f, 0), 16);
	assert_int_equal(write(cfd, fx_uuid(31), 36), -1); /* the old handle stays stale */
	assert_int_equal(errno, ENODEV);
	close(cfd);
	assert_false(fx_exists(fx_dev(f, fx_uuid(30), NULL)));
	assert_int_equal(fx_create(f, 0, fx_uuid(30)), 37);
	assert_int_equal(fx_remove(f, fx_uuid(30)), 1);
}

/* ---- M-81 ---- */

struct remover {
	struct fx *f;
	const char *uuid;
	ssize_t ret;
};

static void *remove_one(void *arg)
{
	struct remover *r = arg;

	r->ret = fx_remove(r->f, r->uuid);
	return NULL;
}

static void test_M81_dev_groups_live_exactly_while_published(void **state)
{
	struct fx *f = *state;
	struct remover r = {.f = f};
	char buf[64];
	pthread_t t;
	int wfd, rfd;

	r.uuid = fx_uuid(40);
	assert_false(fx_exists(fx_dev(f, r.uuid, "sample_attr")));
	assert_int_equal(fx_create(f, 0, r.uuid), 37);
	assert_true(fx_exists(fx_dev(f, r.uuid, "sample_attr")));
	wfd = open(fx_dev(f, r.uuid, "sample_attr"), O_WRONLY);
	rfd = open(fx_dev(f, r.uuid, "sample_attr"), O_RDONLY);
	assert_true(wfd >= 0 && rfd >= 0);
	assert_int_equal(write(wfd, "x", 1), 1);
	assert_int_equal(tdrv_store_calls(f->t[0]), 1);

	tdrv_gate_close(f->t[0], TDRV_REMOVE);
	assert_int_equal(pthread_create(&t, NULL, remove_one, &r), 0);
	tdrv_gate_wait_blocked(f->t[0], TDRV_REMOVE, 1);
	/* REMOVING: the attribute is gone, and a store through an old handle never runs */
	assert_false(fx_exists(fx_dev(f, r.uuid, "sample_attr")));
	assert_int_equal(write(wfd, "y", 1), -1);
	assert_int_equal(errno, ENODEV);
	assert_int_equal(pread(rfd, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, ENODEV);
	assert_int_equal(tdrv_store_calls(f->t[0]), 1);
	tdrv_gate_open(f->t[0], TDRV_REMOVE);
	pthread_join(t, NULL);
	assert_int_equal(r.ret, 1);
	assert_int_equal(write(wfd, "z", 1), -1);
	assert_int_equal(errno, ENODEV);
	close(wfd);
	close(rfd);
	assert_int_equal(tdrv_store_calls(f->t[0]), 1);
	assert_int_equal(tdrv_violations(), 0);
}

/* ---- unmount (§8.2): no group fixture, a mount of its own ---- */

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * close(2) does not wait for its RELEASE: an unmount right after a closedir must still let
 * libfuse serve the RELEASEDIR, or libfuse's listing of the directory leaks (issue 8: the
 * LeakSanitizer report of the ASan build at exit). Many rounds, so the race is taken.
 */
static void test_8_2_unmount_right_after_closedir_leaks_nothing(void **state)
{
	char root[] = "/tmp/umdev-unmount-XXXXXX", sys[64];
	struct umdev_sysfs_options opt = {.mountpoint = root};
	struct umdev_sysfs *fs;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(sys, sizeof(sys), "%s/sys", root);
	for (int round = 0; round < 20; round++) {
		unsigned int entries = 0;
		DIR *d;

		assert_int_equal(umdev_sysfs_create(&opt, &fs), 0);
		assert_int_equal(umdev_sysfs_mount(fs), 0);
		d = opendir(sys);
		assert_non_null(d);
		while (readdir(d))
			entries++;
		assert_int_equal(entries, 6); /* ., .., bus, class, devices, kernel */
		assert_int_equal(closedir(d), 0);
		umdev_sysfs_unmount(fs); /* at once: the RELEASEDIR is still on its way */
		umdev_sysfs_destroy(fs);
	}
	assert_int_equal(rmdir(root), 0);
}

/*
 * A file a process keeps open delays the unmount by a short quiet period, not by the 2 s cap.
 * (A regular file: libfuse keeps no state for one, unlike a directory.)
 */
static void test_8_2_unmount_with_a_file_kept_open_is_prompt(void **state)
{
	char root[] = "/tmp/umdev-unmount-XXXXXX", path[160];
	struct umdev_sysfs_options opt = {.mountpoint = root};
	struct umdev_sysfs *fs;
	struct tdrv_parent *t;
	double start;
	int fd, err;

	(void)state;
	assert_non_null(mkdtemp(root));
	assert_int_equal(umdev_sysfs_create(&opt, &fs), 0);
	assert_int_equal(umdev_sysfs_mount(fs), 0);
	assert_int_equal(tdrv_register(NULL), 0);
	t = tdrv_parent_add("t0", &err);
	assert_non_null(t);
	snprintf(path, sizeof(path), "%s/sys/class/mdev_bus/t0/mdev_supported_types/tdrv-a/name",
		 root);
	fd = open(path, O_RDONLY); /* released only after the unmount: never */
	assert_true(fd >= 0);
	tdrv_parent_remove(t);
	assert_int_equal(tdrv_unregister(), 0);
	start = now_s();
	umdev_sysfs_unmount(fs);
	assert_true(now_s() - start < 1.0);
	close(fd);
	umdev_sysfs_destroy(fs); /* frees the handle the kernel never released */
	assert_int_equal(rmdir(root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_M65_o_trunc_open_and_truncate_are_accepted,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M66_nothing_is_created_removed_or_remoded,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M67_one_byte_reads_and_pread_past_end, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M67_snapshot_is_kept_until_offset_0, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M68_fresh_read_shows_new_value, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_write_is_one_store_cut_at_4096, fx_setup_sample,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M78_probe_may_create_and_read_through_the_tree,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M79_callbacks_run_on_every_read, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M80_old_paths_and_handles_after_unregistration,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M62_reregistered_parent_is_fresh, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M81_dev_groups_live_exactly_while_published,
					    fx_setup_sample, fx_teardown),
	};

	const struct CMUnitTest unmounted[] = {
	    cmocka_unit_test(test_8_2_unmount_right_after_closedir_leaks_nothing),
	    cmocka_unit_test(test_8_2_unmount_with_a_file_kept_open_is_prompt),
	};
	int failed;

	failed = cmocka_run_group_tests_name("unmounted", unmounted, NULL, NULL);
	failed += cmocka_run_group_tests_name("mounted", tests, fx_group_setup, fx_group_teardown);
	return failed;
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   M-62, M-65, M-66, M-67, M-68, M-78, M-79, M-80, M-81; §8.2 (no item: the unmount)
 */
