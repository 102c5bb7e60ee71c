// SPDX-License-Identifier: MIT
/*
 * The public API as a vendor links it (issue 9): this test includes only the public headers
 * and links only libumdev.so.0, no internal object. It checks that what the headers promise works
 * through the shared library (mdev.md §5), that the module declaration macros fill struct
 * umdev_module as umdevd reads it, and that nothing internal is exported. No tree and no vfio layer
 * are set up, so the core runs without publishing (as in a vendor's own unit tests).
 */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <umdev/log.h>
#include <umdev/mdev.h>
#include <umdev/module.h>
#include <umdev/pci.h>
#include <umdev/vfio.h>

/* ---- a small driver, as a vendor writes one ---- */

struct api_parent {
	int tag;
	struct umdev_parent parent; /* not first: umdev_container_of() must do the work */
	struct umdev_type types[2];
	struct umdev_type *type_ptrs[2];
};

static atomic_int nr_probed, nr_removed;
static int probe_errno; /* probe fails with this when non-zero */

static int api_probe(struct umdev_mdev *mdev)
{
	struct api_parent *p =
	    umdev_container_of(umdev_type_parent(umdev_mdev_type(mdev)), struct api_parent, parent);
	int ret;

	if (probe_errno)
		return probe_errno;
	assert_int_equal(p->tag, 0x5eed);
	ret = umdev_pci_init(mdev, 0x1234, 0x11e8, 0x078000, 1);
	if (ret < 0)
		return ret;
	ret = umdev_pci_set_bar(mdev, 0, 4096, 0);
	if (ret == 0)
		ret = umdev_pci_add_msi(mdev, 0x50, 1, UMDEV_PCI_MSI_64BIT);
	if (ret < 0) {
		umdev_pci_fini(mdev);
		return ret;
	}
	umdev_mdev_set_drvdata(mdev, p);
	atomic_fetch_add(&nr_probed, 1);
	return 0;
}

static void api_remove(struct umdev_mdev *mdev)
{
	umdev_pci_fini(mdev);
	atomic_fetch_add(&nr_removed, 1);
}

static struct umdev_driver api_driver = {
    .name = "apidrv",
    .device_api = "vfio-pci",
    .max_instances = 2,
    .probe = api_probe,
    .remove = api_remove,
};

static void parent_init(struct api_parent *p)
{
	memset(p, 0, sizeof(*p));
	p->tag = 0x5eed;
	p->types[0].sysfs_name = "a";
	p->types[1].sysfs_name = "b";
	p->type_ptrs[0] = &p->types[0];
	p->type_ptrs[1] = &p->types[1];
}

static int setup(void **state)
{
	(void)state;
	nr_probed = nr_removed = 0;
	probe_errno = 0;
	return umdev_register_driver(&api_driver);
}

static int teardown(void **state)
{
	(void)state;
	return umdev_unregister_driver(&api_driver);
}

static void uuid_n(uuid_t u, unsigned char n)
{
	memset(u, 0, sizeof(uuid_t));
	u[6] = 0x40; /* version 4 */
	u[8] = 0x80;
	u[15] = n;
}

/* M-20, M-27, M-29 and the accessors, through libumdev.so.0 only. */
static void test_api_M20_M27_M29_create_remove_through_the_library(void **state)
{
	struct api_parent p1, p2;
	struct umdev_mdev *mdev;
	uuid_t u1, u2, u3;
	uint32_t v;

	(void)state;
	parent_init(&p1);
	parent_init(&p2);
	assert_int_equal(
	    umdev_register_parent(&p1.parent, "api0", NULL, &api_driver, p1.type_ptrs, 2), 0);
	assert_int_equal(
	    umdev_register_parent(&p2.parent, "api1", NULL, &api_driver, p2.type_ptrs, 2), 0);
	uuid_n(u1, 1);
	uuid_n(u2, 2);
	uuid_n(u3, 3);

	assert_int_equal(umdev_mdev_create(&p1.types[0], &u1), 0);
	assert_int_equal(umdev_mdev_create(&p2.types[1], &u1), -EEXIST); /* M-20: all parents */
	assert_int_equal(umdev_mdev_create(&p1.types[1], &u2), 0);
	assert_int_equal(umdev_mdev_create(&p1.types[0], &u3), -EUSERS); /* M-27: 2 per parent */
	probe_errno = -ENOSPC;
	assert_int_equal(umdev_mdev_create(&p2.types[0], &u3), -ENOSPC); /* M-29 */
	probe_errno = 0;

	mdev = umdev_mdev_get(&u1);
	assert_non_null(mdev);
	assert_memory_equal(umdev_mdev_uuid(mdev), u1, sizeof(uuid_t));
	assert_ptr_equal(umdev_mdev_type(mdev), &p1.types[0]);
	assert_ptr_equal(umdev_type_parent(umdev_mdev_type(mdev)), &p1.parent);
	assert_ptr_equal(umdev_mdev_get_drvdata(mdev), &p1);
	/* the declared config space, before any vfio device exists */
	assert_int_equal(umdev_pci_config_get(mdev, 0, 4, &v), 0);
	assert_int_equal(v, 0x11e81234);
	assert_int_equal(umdev_pci_config_get(mdev, 0x50, 1, &v), 0);
	assert_int_equal(v, 0x05); /* MSI capability ID */
	umdev_mdev_put(mdev);

	assert_int_equal(umdev_mdev_remove(&u1), 0);
	assert_null(umdev_mdev_get(&u1));
	assert_int_equal(umdev_mdev_remove(&u1), -ENODEV);
	assert_int_equal(atomic_load(&nr_probed), 2);
	assert_int_equal(atomic_load(&nr_removed), 1);

	umdev_unregister_parent(&p1.parent); /* removes u2 */
	assert_int_equal(atomic_load(&nr_removed), 2);
	assert_null(umdev_mdev_get(&u2));
	assert_int_equal(umdev_mdev_create(&p2.types[0], &u2), 0); /* the UUID is free again */
	umdev_unregister_parent(&p2.parent);
	assert_int_equal(atomic_load(&nr_removed), 3);
}

/* M-9, M-13: bad drivers and a driver still in use. */
static void test_api_M9_M13_driver_errors(void **state)
{
	struct umdev_driver nameless = {.device_api = "vfio-pci", .probe = api_probe};
	struct umdev_driver dup = {.name = "apidrv", .device_api = "vfio-pci", .probe = api_probe};
	struct api_parent p;

	(void)state;
	assert_int_equal(umdev_register_driver(&nameless), -EINVAL);
	assert_int_equal(umdev_register_driver(&dup), -EEXIST);
	parent_init(&p);
	assert_int_equal(
	    umdev_register_parent(&p.parent, "api2", NULL, &api_driver, p.type_ptrs, 2), 0);
	assert_int_equal(umdev_unregister_driver(&api_driver), -EBUSY);
	umdev_unregister_parent(&p.parent);
}

static char last_log[256];

static void capture(void *opaque, enum umdev_log_level level, const char *msg)
{
	(void)opaque;
	(void)level;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static void test_api_log_sink_and_rundir(void **state)
{
	(void)state;
	umdev_log_set_sink(capture, NULL, UMDEV_LOG_INFO);
	umdev_log(UMDEV_LOG_INFO, "hello %d", 42);
	assert_string_equal(last_log, "hello 42");
	umdev_log(UMDEV_LOG_DEBUG, "dropped");
	assert_string_equal(last_log, "hello 42");
	assert_false(umdev_log_enabled(UMDEV_LOG_DEBUG));
	assert_int_equal(umdev_log_parse_level("warning"), UMDEV_LOG_WARNING);
	assert_int_equal(umdev_log_parse_level("loud"), -EINVAL);
	umdev_log_set_sink(NULL, NULL, UMDEV_LOG_NOTICE);
	assert_null(umdev_rundir()); /* no daemon */
}

/* ---- the module declaration, as umdevd reads it ---- */

#define MYNAME apimod
static bool flag;
static unsigned int count = 4;
static int delta = -2;
static const char *label = "x";

static const struct umdev_module_param api_params[] = {
    UMDEV_PARAM_BOOL(flag, flag, "a bool"),
    UMDEV_PARAM_UINT(count, count, 1, 8, "a uint"),
    UMDEV_PARAM_INT(delta, delta, -3, 3, "an int"),
    UMDEV_PARAM_STRING(label, label, "a string"),
    {0},
};

static int api_mod_init(void)
{
	return 0;
}

UMDEV_MODULE(MYNAME, "the test's module", api_mod_init, NULL, api_params);

static void test_api_module_declaration(void **state)
{
	const struct umdev_module *m = &umdev_module_info;

	(void)state;
	assert_int_equal(m->magic, UMDEV_MODULE_MAGIC);
	assert_int_equal(m->abi_version, UMDEV_ABI_VERSION);
	assert_string_equal(m->name, "apimod"); /* a macro name is expanded first */
	assert_ptr_equal(m->init, api_mod_init);
	assert_null(m->exit);
	assert_string_equal(m->params[1].name, "count");
	assert_int_equal(m->params[1].type, UMDEV_PARAM_UINT);
	assert_ptr_equal(m->params[1].value, &count);
	assert_int_equal(m->params[1].min, 1);
	assert_int_equal(m->params[1].max, 8);
	assert_int_equal(m->params[2].min, -3);
	assert_ptr_equal(m->params[3].value, &label);
	assert_null(m->params[4].name);
	/* the layout umdevd relies on for any ABI: magic and version first */
	assert_int_equal(offsetof(struct umdev_module, magic), 0);
	assert_int_equal(offsetof(struct umdev_module, abi_version), 4);
	(void)flag;
	(void)delta;
}

/* The version script: the public API is exported with version UMDEV_0, internals are not. */
static void test_api_only_public_symbols_are_exported(void **state)
{
	void *lib = dlopen("libumdev.so.0", RTLD_NOW | RTLD_NOLOAD);

	(void)state;
	assert_non_null(lib); /* linked: already loaded */
	assert_non_null(dlvsym(lib, "umdev_register_driver", "UMDEV_0"));
	assert_non_null(dlvsym(lib, "umdev_pci_init", "UMDEV_0"));
	assert_non_null(dlvsym(lib, "umdev_rundir", "UMDEV_0"));
	assert_null(dlsym(lib, "umdev__core_reset"));
	assert_null(dlsym(lib, "umdev__mutex_lock_at"));
	assert_null(dlsym(lib, "umdev_ida_alloc"));
	dlclose(lib);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_api_M20_M27_M29_create_remove_through_the_library,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_M9_M13_driver_errors, setup, teardown),
	    cmocka_unit_test(test_api_log_sink_and_rundir),
	    cmocka_unit_test(test_api_module_declaration),
	    cmocka_unit_test(test_api_only_public_symbols_are_exported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
