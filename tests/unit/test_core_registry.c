// SPDX-License-Identifier: MIT
/* The driver registry, type records and per-read callbacks (mdev.md §4.5, §5.2). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test_core_fixture.h"

#define T0 tdrv_type(f->t[0])
#define T1 tdrv_type(f->t[1])

static int dummy_probe(struct umdev_mdev *mdev)
{
	(void)mdev;
	return 0;
}

static void dummy_remove(struct umdev_mdev *mdev)
{
	(void)mdev;
}

static unsigned int count_since(unsigned int from, enum fx_kind kind)
{
	unsigned int i, n = 0;

	for (i = from; i < fx_nr_recs(); i++)
		n += fx_rec_at(i).kind == kind;
	return n;
}

static void test_M9_register_driver_validation(void **state)
{
	struct umdev_driver no_api = {.name = "d1", .probe = dummy_probe};
	struct umdev_driver no_name = {.device_api = "vfio-pci", .probe = dummy_probe};
	struct umdev_driver no_probe = {.name = "d1", .device_api = "vfio-pci"};
	struct umdev_driver slash = {.name = "d/1", .device_api = "vfio-pci", .probe = dummy_probe};
	struct umdev_driver empty = {.name = "", .device_api = "vfio-pci", .probe = dummy_probe};
	struct umdev_driver longname = {
	    .name = "01234567890123456789012345678901234567890123456789012345678901234",
	    .device_api = "vfio-pci",
	    .probe = dummy_probe};
	struct umdev_driver dup = {.name = "tdrv", .device_api = "vfio-pci", .probe = dummy_probe};
	struct umdev_driver ok = {
	    .name = "d1", .device_api = "vfio-ccw", .probe = dummy_probe, .remove = dummy_remove};
	struct umdev_driver ok_again = ok;
	unsigned int from;

	(void)state;
	from = fx_nr_recs();
	assert_int_equal(umdev_register_driver(&no_api), -EINVAL);
	assert_int_equal(umdev_register_driver(&no_name), -EINVAL);
	assert_int_equal(umdev_register_driver(&no_probe), -EINVAL);
	assert_int_equal(umdev_register_driver(&slash), -EINVAL);
	assert_int_equal(umdev_register_driver(&empty), -EINVAL);
	assert_int_equal(umdev_register_driver(&longname), -EINVAL);
	assert_int_equal(umdev_register_driver(&dup), -EEXIST); /* tdrv is registered */
	assert_int_equal(tdrv_register(NULL), -EEXIST); /* the same driver again */
	assert_int_equal(fx_nr_recs(), from); /* nothing published */

	assert_int_equal(umdev_register_driver(&ok), 0);
	assert_int_equal(fx_nr_recs(), from + 1);
	assert_int_equal(fx_rec_at(from).kind, FX_DRIVER_PUBLISH);
	assert_string_equal(fx_rec_at(from).name, "d1");
	assert_int_equal(umdev_register_driver(&ok_again), -EEXIST);
	assert_int_equal(umdev_unregister_driver(&ok), 0);
	assert_int_equal(fx_rec_at(from + 1).kind, FX_DRIVER_UNPUBLISH);
	assert_int_equal(umdev_unregister_driver(&ok), -ENOENT);
	assert_int_equal(umdev_register_driver(&ok_again), 0); /* the name is free again */
	assert_int_equal(umdev_unregister_driver(&ok_again), 0);
	assert_int_equal(count_since(from, FX_DRIVER_PUBLISH), 2);
	assert_int_equal(count_since(from, FX_DRIVER_UNPUBLISH), 2);
}

static void test_register_driver_publish_failure_returns_errno(void **state)
{
	struct umdev_driver d = {.name = "d1", .device_api = "vfio-pci", .probe = dummy_probe};
	unsigned int from = fx_nr_recs();

	(void)state;
	fx_fail(FX_DRIVER_PUBLISH, -ENOMEM);
	assert_int_equal(umdev_register_driver(&d), -ENOMEM);
	fx_fail(FX_DRIVER_PUBLISH, 0);
	assert_int_equal(count_since(from, FX_DRIVER_UNPUBLISH), 0);
	assert_int_equal(umdev_unregister_driver(&d), -ENOENT); /* not registered */
	assert_int_equal(umdev_register_driver(&d), 0);
	assert_int_equal(umdev_unregister_driver(&d), 0);
}

static void test_M13_unregister_driver_in_use_is_ebusy(void **state)
{
	struct fx *f = *state;
	unsigned int from = fx_nr_recs();
	uuid_t u1;

	fx_uuid(u1, 1);
	assert_int_equal(tdrv_unregister(), -EBUSY);
	assert_int_equal(fx_nr_recs(), from);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0); /* still fully usable */
	tdrv_parent_remove(f->t[0]);
	f->t[0] = NULL;
	assert_int_equal(tdrv_unregister(), -EBUSY); /* t1 still uses it */
	tdrv_parent_remove(f->t[1]);
	f->t[1] = NULL;
	assert_int_equal(tdrv_unregister(), 0);
	f->tdrv = false;
	assert_int_equal(count_since(from, FX_DRIVER_UNPUBLISH), 1);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
}

static void test_M5_M6_M7_type_records(void **state)
{
	struct fx *f = *state;
	struct umdev__type *t = T0->core;
	struct umdev__parent *p = tdrv_umdev_parent(f->t[0])->core;

	assert_non_null(t);
	assert_ptr_equal(umdev__type_parent(t), p);
	assert_ptr_equal(umdev__parent_type(p, 0), t);
	assert_int_equal(umdev__parent_nr_types(p), 1);
	assert_string_equal(umdev__parent_name(p), "t0");
	assert_string_equal(umdev__parent_class(p), "tdrv");
	assert_string_equal(umdev__parent_driver_name(p), "tdrv");
	assert_string_equal(umdev__type_id(t), "tdrv-a");
	assert_string_equal(umdev__type_name(t), "a"); /* no pretty name: sysfs name */
	assert_string_equal(umdev__type_device_api(t), "vfio-pci");
	assert_false(umdev__type_has_description(t));
	assert_int_equal(fx_available(T0), 16);
	assert_ptr_equal(umdev_type_parent(T0), tdrv_umdev_parent(f->t[0]));
}

static void test_M79_get_available_called_on_every_read(void **state)
{
	struct fx *f = *state; /* driver-managed */
	unsigned int i, before = tdrv_get_available_calls(f->t[0]);
	unsigned int other = tdrv_get_available_calls(f->t[1]);

	tdrv_set_available(f->t[0], 7);
	for (i = 0; i < 5; i++)
		assert_int_equal(fx_available(T0), 7);
	assert_int_equal(tdrv_get_available_calls(f->t[0]), before + 5);
	tdrv_set_available(f->t[0], 0);
	assert_int_equal(fx_available(T0), 0); /* no caching */
	assert_int_equal(tdrv_get_available_calls(f->t[0]), before + 6);
	assert_int_equal(tdrv_get_available_calls(f->t[1]), other);
}

static void test_M79_show_description_called_on_every_read(void **state)
{
	struct fx *f = *state;
	char buf[UMDEV_ATTR_BUF_SIZE];
	unsigned int i, before = tdrv_description_calls(f->t[0]);

	assert_true(umdev__type_has_description(T0->core));
	tdrv_set_description(f->t[0], "a\nb", 3);
	for (i = 0; i < 4; i++) {
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(umdev__type_show_description(T0->core, buf, sizeof(buf)), 3);
		assert_memory_equal(buf, "a\nb", 3); /* M-8: the bytes, nothing added */
	}
	assert_int_equal(tdrv_description_calls(f->t[0]), before + 4);
}

static void test_driver_managed_core_does_no_accounting(void **state)
{
	struct fx *f = *state; /* driver-managed: never EUSERS (§4.5) */
	uuid_t u1, u2;

	fx_uuid(u1, 1);
	fx_uuid(u2, 2);
	tdrv_set_available(f->t[0], 0);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	assert_int_equal(umdev_mdev_create(T0, &u2), 0);
	assert_int_equal(fx_available(T0), 0);
	tdrv_set_available(f->t[0], 3);
	assert_int_equal(fx_available(T0), 3); /* the callback's value, untouched by the core */
	assert_int_equal(umdev_mdev_remove(&u1), 0);
	assert_int_equal(fx_available(T0), 3);
	assert_int_equal(umdev_mdev_remove(&u2), 0);
}

static void test_no_description_callback_is_enodev(void **state)
{
	struct fx *f = *state;
	char buf[UMDEV_ATTR_BUF_SIZE];

	assert_false(umdev__type_has_description(T0->core));
	assert_int_equal(umdev__type_show_description(T0->core, buf, sizeof(buf)), -ENODEV);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
#define TM(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_managed, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_M9_register_driver_validation),
	    T(test_register_driver_publish_failure_returns_errno),
	    T(test_M13_unregister_driver_in_use_is_ebusy),
	    T(test_M5_M6_M7_type_records),
	    TM(test_M79_get_available_called_on_every_read),
	    TM(test_M79_show_description_called_on_every_read),
	    TM(test_driver_managed_core_does_no_accounting),
	    T(test_no_description_callback_is_enodev),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   M-5, M-6, M-7, M-9, M-13, M-79
 */
