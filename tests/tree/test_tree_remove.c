// SPDX-License-Identifier: MIT
/*
 * Remove through the tree, stale handles, vfio numbering and iommu groups (mdev.md §6.6,
 * §6.7, §9.3, §9.4): tdrv analogues of M-35..M-49.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tree_fixture.h"

static const char *dev_dir_rel(struct fx *f, unsigned int i, const char *u)
{
	return fx_path(f, "sys/devices/virtual/tdrv/t%u/%s", i, u) + strlen(f->root) + 1;
}

/* Every node of the device is gone (M-35). */
static void check_gone(struct fx *f, unsigned int i, const char *u)
{
	assert_false(fx_exists(fx_dev(f, u, NULL)));
	assert_int_equal(errno, ENOENT);
	assert_false(fx_exists(fx_path(f, "sys/devices/virtual/tdrv/t%u/%s", i, u)));
	assert_false(
	    fx_exists(fx_path(f, "%s/%s", fx_type(f, i, "devices") + strlen(f->root) + 1, u)));
	assert_false(fx_exists(fx_path(f, "sys/bus/mdev/drivers/tdrv/%s", u)));
}

/* ---- M-35..M-37 ---- */

static void test_M35_remove_returns_1_and_everything_is_gone(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(1);
	char *before = fx_dump(f), *after;

	assert_int_equal(fx_create(f, 0, u), 37);
	assert_int_equal(fx_available(f, 0), 15);
	assert_int_equal(fx_write(fx_dev(f, u, "remove"), "1", 1, O_WRONLY), 1);
	assert_int_equal(fx_available(f, 0), 16); /* already restored when write returned */
	check_gone(f, 0, u);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 1);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	after = fx_dump(f);
	assert_string_equal(after, before);
	free(after);
	free(before);
}

static void test_M36_remove_accepts_values(void **state)
{
	struct fx *f = *state;
	static const char *const yes[] = {"1\n", "2", "0x1", "+1"};
	static const char *const no[] = {"0", "0\n"};
	const char *u = fx_uuid(2);

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		assert_int_equal(fx_create(f, 0, u), 37);
		assert_int_equal(fx_write_str(fx_dev(f, u, "remove"), yes[i]),
				 (ssize_t)strlen(yes[i]));
		check_gone(f, 0, u);
	}
	assert_int_equal(fx_create(f, 0, u), 37);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		assert_int_equal(fx_write_str(fx_dev(f, u, "remove"), no[i]),
				 (ssize_t)strlen(no[i]));
		assert_true(fx_exists(fx_dev(f, u, "remove")));
	}
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 4);
	assert_int_equal(fx_remove(f, u), 1);
}

static void test_M37_remove_rejects_and_zero_length(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
	    "\n", " 1", "1 ", "-1", "yes", "08", "99999999999999999999999"};
	const char *u = fx_uuid(3);
	char *before;

	assert_int_equal(fx_create(f, 0, u), 37);
	before = fx_dump(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fx_write_str(fx_dev(f, u, "remove"), bad[i]), -EINVAL);
	assert_int_equal(fx_write(fx_dev(f, u, "remove"), "", 0, O_WRONLY), 0);
	char *after = fx_dump(f);
	assert_string_equal(after, before);
	free(after);
	free(before);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 0);
	assert_int_equal(fx_available(f, 0), 15);
	assert_int_equal(fx_remove(f, u), 1);
}

/* ---- M-38, M-39 ---- */

static void test_M38_vendor_remove_once_after_vfio_detach(void **state)
{
	struct fx *f = *state;
	unsigned int detaches = fx_vfio_detaches();

	for (unsigned int n = 0; n < 3; n++) {
		assert_int_equal(fx_create(f, 0, fx_uuid(40 + n)), 37);
		assert_int_equal(fx_remove(f, fx_uuid(40 + n)), 1);
		assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), n + 1);
		/* at detach time vendor remove had not run yet for this mdev */
		assert_int_equal(fx_vfio_removes_at_detach(), n);
	}
	assert_int_equal(fx_vfio_detaches(), detaches + 3);
}

static void test_M39_stale_handles_answer_enodev(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(4);
	int rfd, ufd, cfd;
	char buf[64];

	assert_int_equal(fx_create(f, 0, u), 37);
	rfd = open(fx_dev(f, u, "remove"), O_WRONLY);
	ufd = open(fx_dev(f, u, "uevent"), O_RDWR);
	assert_true(rfd >= 0 && ufd >= 0);
	assert_int_equal(read(ufd, buf, sizeof(buf)), 12); /* live: works */
	assert_int_equal(fx_remove(f, u), 1);
	assert_int_equal(write(rfd, "1", 1), -1);
	assert_int_equal(errno, ENODEV);
	assert_int_equal(write(rfd, "0", 1), -1);
	assert_int_equal(errno, ENODEV);
	assert_int_equal(pread(ufd, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, ENODEV);
	assert_int_equal(pwrite(ufd, "x", 1, 0), -1);
	assert_int_equal(errno, ENODEV);
	/* a new device of the same UUID is not reached through the old handles */
	assert_int_equal(fx_create(f, 1, u), 37);
	assert_int_equal(write(rfd, "1", 1), -1);
	assert_int_equal(errno, ENODEV);
	assert_true(fx_exists(fx_dev(f, u, NULL)));
	cfd = open(fx_dev(f, u, "remove"), O_WRONLY);
	assert_true(cfd >= 0);
	assert_int_equal(write(cfd, "1", 1), 1);
	close(cfd);
	close(rfd);
	close(ufd);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE) + tdrv_calls(f->t[1], TDRV_REMOVE), 2);
}

/* ---- M-40, M-41: concurrent removers ---- */

struct writer {
	int fd;
	ssize_t ret;
	int err;
};

static void *write_one(void *arg)
{
	struct writer *w = arg;

	w->ret = write(w->fd, "1", 1);
	w->err = w->ret < 0 ? errno : 0;
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_M40_M41_second_remover_gets_eagain(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(5), *other = fx_uuid(6);
	struct writer a = {0}, b = {0};
	pthread_t ta;
	char buf[64];
	double t0;

	assert_int_equal(fx_create(f, 0, u), 37);
	assert_int_equal(fx_create(f, 1, other), 37);
	a.fd = open(fx_dev(f, u, "remove"), O_WRONLY);
	b.fd = open(fx_dev(f, u, "remove"), O_WRONLY);
	assert_true(a.fd >= 0 && b.fd >= 0);
	tdrv_gate_close(f->t[0], TDRV_REMOVE);
	assert_int_equal(pthread_create(&ta, NULL, write_one, &a), 0);
	tdrv_gate_wait_blocked(f->t[0], TDRV_REMOVE, 1);

	/* M-40: B fails at once */
	t0 = now_s();
	write_one(&b);
	assert_int_equal(b.ret, -1);
	assert_int_equal(b.err, EAGAIN);
	/* M-41: no waiting anywhere else */
	assert_int_equal(fx_create(f, 1, u), -EEXIST);
	assert_int_equal(fx_available(f, 0), 15); /* still counted */
	assert_int_equal(fx_read(fx_dev(f, other, "uevent"), buf, sizeof(buf)), 12);
	assert_int_equal(fx_create(f, 1, fx_uuid(7)), 37);
	assert_int_equal(fx_remove(f, fx_uuid(7)), 1);
	assert_true(now_s() - t0 < 1.0);
	assert_false(fx_exists(fx_dev(f, u, NULL))); /* unpublished at R3 already */

	tdrv_gate_open(f->t[0], TDRV_REMOVE);
	pthread_join(ta, NULL);
	assert_int_equal(a.ret, 1);
	write_one(&b);
	assert_int_equal(b.ret, -1);
	assert_int_equal(b.err, ENODEV);
	close(a.fd);
	close(b.fd);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 1);
	assert_int_equal(fx_available(f, 0), 16);
	assert_int_equal(fx_remove(f, other), 1);
}

/* ---- M-42, M-43: a create in progress ---- */

struct creator {
	struct fx *f;
	const char *uuid;
	ssize_t ret;
};

static void *create_one(void *arg)
{
	struct creator *c = arg;

	c->ret = fx_create(c->f, 0, c->uuid);
	return NULL;
}

static void test_M42_M43_create_in_progress_is_invisible_and_eagain(void **state)
{
	struct fx *f = *state;
	struct creator c = {.f = f};
	uuid_t uuid;
	pthread_t t;
	char *l;

	c.uuid = strdup(fx_uuid(8));
	assert_int_equal(uuid_parse(c.uuid, uuid), 0);
	tdrv_gate_close(f->t[0], TDRV_PROBE);
	assert_int_equal(pthread_create(&t, NULL, create_one, &c), 0);
	tdrv_gate_wait_blocked(f->t[0], TDRV_PROBE, 1);
	assert_int_equal(umdev_mdev_remove(&uuid), -EAGAIN); /* M-42 */
	assert_false(fx_exists(fx_dev(f, c.uuid, NULL))); /* M-43 */
	assert_false(fx_exists(fx_path(f, "sys/devices/virtual/tdrv/t0/%s", c.uuid)));
	l = fx_list(fx_path(f, "sys/bus/mdev/devices"));
	assert_string_equal(l, "");
	free(l);
	l = fx_list(fx_type(f, 0, "devices"));
	assert_string_equal(l, "");
	free(l);
	assert_int_equal(fx_available(f, 0), 15); /* reserved */
	tdrv_gate_open(f->t[0], TDRV_PROBE);
	pthread_join(t, NULL);
	assert_int_equal(c.ret, 37);
	assert_true(fx_exists(fx_dev(f, c.uuid, "remove")));
	assert_int_equal(fx_remove(f, c.uuid), 1);
	free((void *)c.uuid);
}

/* ---- M-44, M-45 ---- */

static void test_M44_remove_unknown_is_enodev(void **state)
{
	uuid_t uuid;

	(void)state;
	assert_int_equal(uuid_parse(fx_uuid(9), uuid), 0);
	assert_int_equal(umdev_mdev_remove(&uuid), -ENODEV);
}

static void test_M45_freed_uuid_reusable_on_other_parent(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(10);

	assert_int_equal(fx_create(f, 0, u), 37);
	assert_int_equal(fx_remove(f, u), 1);
	assert_int_equal(fx_create(f, 1, u), 37);
	assert_true(fx_resolves_to(f, fx_dev(f, u, NULL), dev_dir_rel(f, 1, u)));
	assert_int_equal(fx_remove(f, u), 1);
}

/* ---- M-46..M-49 ---- */

static void check_vfio(struct fx *f, const char *u, unsigned int n)
{
	char *l = fx_list(fx_dev(f, u, "vfio-dev")), want[32];

	snprintf(want, sizeof(want), "vfio%u", n);
	assert_string_equal(l, want);
	free(l);
}

static void test_M46_lowest_free_vfio_index(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fx_create(f, 0, fx_uuid(11)), 37);
	assert_int_equal(fx_create(f, 1, fx_uuid(12)), 37);
	check_vfio(f, fx_uuid(11), 0);
	check_vfio(f, fx_uuid(12), 1);
	assert_int_equal(fx_remove(f, fx_uuid(11)), 1);
	assert_false(fx_exists(fx_path(f, "sys/class/vfio-dev/vfio0")));
	assert_int_equal(fx_create(f, 0, fx_uuid(13)), 37);
	check_vfio(f, fx_uuid(13), 0);
	assert_int_equal(fx_remove(f, fx_uuid(12)), 1);
	assert_int_equal(fx_remove(f, fx_uuid(13)), 1);
}

static void *create_on(void *arg)
{
	struct creator *c = arg;
	unsigned int i = (unsigned int)(c->uuid[35] - '0') % 8; /* parent from the UUID */

	c->ret = fx_create(c->f, i, c->uuid);
	return NULL;
}

static void test_M47_concurrent_creates_get_distinct_numbers(void **state)
{
	struct fx *f = *state;
	struct creator c[64];
	pthread_t t[64];
	bool vfio_seen[64] = {false};
	char uuids[64][40];
	char *groups[64];

	for (unsigned int i = 0; i < 64; i++) {
		snprintf(uuids[i], sizeof(uuids[i]), "6a1c0f3e-0000-4000-8000-0000000%03u%02u", i,
			 i % 8);
		c[i] = (struct creator){.f = f, .uuid = uuids[i]};
		assert_int_equal(pthread_create(&t[i], NULL, create_on, &c[i]), 0);
	}
	for (unsigned int i = 0; i < 64; i++) {
		char *l;
		unsigned int n;

		pthread_join(t[i], NULL);
		assert_int_equal(c[i].ret, 37);
		l = fx_list(fx_dev(f, uuids[i], "vfio-dev"));
		assert_int_equal(sscanf(l, "vfio%u", &n), 1);
		assert_true(n < 64);
		assert_false(vfio_seen[n]);
		vfio_seen[n] = true;
		free(l);
		groups[i] = malloc(PATH_MAX);
		assert_int_equal(
		    fx_readlink(fx_dev(f, uuids[i], "iommu_group"), groups[i], PATH_MAX), 0);
		for (unsigned int j = 0; j < i; j++)
			assert_string_not_equal(groups[i], groups[j]);
	}
	for (unsigned int i = 0; i < 64; i++) {
		assert_int_equal(fx_remove(f, uuids[i]), 1);
		free(groups[i]);
	}
}

static void test_M48_vfio_class_link_and_uevent(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(14);
	char buf[64], target[PATH_MAX], want[PATH_MAX];
	char *l;

	assert_int_equal(fx_create(f, 0, u), 37);
	snprintf(want, sizeof(want), "%s/vfio-dev/vfio0", dev_dir_rel(f, 0, u));
	assert_true(fx_resolves_to(f, fx_path(f, "sys/class/vfio-dev/vfio0"), want));
	assert_int_equal(fx_read(fx_dev(f, u, "vfio-dev/vfio0/uevent"), buf, sizeof(buf)), 27);
	assert_string_equal(buf, "DEVNAME=vfio/devices/vfio0\n");
	l = fx_list(fx_dev(f, u, "vfio-dev/vfio0"));
	assert_string_equal(l, "device,subsystem,uevent");
	free(l);
	assert_int_equal(fx_readlink(fx_dev(f, u, "vfio-dev/vfio0/device"), target, sizeof(target)),
			 0);
	snprintf(want, sizeof(want), "../../../%s", u);
	assert_string_equal(target, want);
	assert_true(fx_resolves_to(f, fx_dev(f, u, "vfio-dev/vfio0/device"), dev_dir_rel(f, 0, u)));
	assert_true(
	    fx_resolves_to(f, fx_dev(f, u, "vfio-dev/vfio0/subsystem"), "sys/class/vfio-dev"));
	assert_int_equal(fx_remove(f, u), 1);
	assert_false(fx_exists(fx_path(f, "sys/class/vfio-dev/vfio0")));
}

static void test_M49_iommu_group_both_ways(void **state)
{
	struct fx *f = *state;
	const char *u = fx_uuid(15);
	char target[PATH_MAX], group[PATH_MAX], *l;

	assert_int_equal(fx_create(f, 0, u), 37);
	assert_int_equal(fx_readlink(fx_dev(f, u, "iommu_group"), target, sizeof(target)), 0);
	assert_string_equal(target, "../../../../../kernel/iommu_groups/0");
	assert_true(fx_resolves_to(f, fx_dev(f, u, "iommu_group"), "sys/kernel/iommu_groups/0"));
	snprintf(group, sizeof(group), "sys/kernel/iommu_groups/0/devices/%s", u);
	assert_true(fx_resolves_to(f, fx_path(f, "%s", group), dev_dir_rel(f, 0, u)));
	l = fx_list(fx_path(f, "sys/kernel/iommu_groups"));
	assert_string_equal(l, "0");
	free(l);
	assert_int_equal(fx_remove(f, u), 1);
	assert_false(fx_exists(fx_path(f, "sys/kernel/iommu_groups/0")));
	l = fx_list(fx_path(f, "sys/kernel/iommu_groups"));
	assert_string_equal(l, "");
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_M35_remove_returns_1_and_everything_is_gone,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M36_remove_accepts_values, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M37_remove_rejects_and_zero_length, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M38_vendor_remove_once_after_vfio_detach, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M39_stale_handles_answer_enodev, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M40_M41_second_remover_gets_eagain, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M42_M43_create_in_progress_is_invisible_and_eagain,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M44_remove_unknown_is_enodev, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M45_freed_uuid_reusable_on_other_parent, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M46_lowest_free_vfio_index, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M47_concurrent_creates_get_distinct_numbers,
					    fx_setup_8, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M48_vfio_class_link_and_uevent, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M49_iommu_group_both_ways, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   M-35, M-36, M-37, M-38, M-39, M-40, M-41, M-42, M-43, M-44, M-45, M-46, M-47, M-48,
 *   M-49
 */
