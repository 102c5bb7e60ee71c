// SPDX-License-Identifier: MIT
/*
 * tmod: a test module (umdev/module.h) with one parameter of each type. init logs the values
 * it got and registers the driver "tmod" with one parent named by its parameter `parent`;
 * `fail=ERRNO` makes init fail with -ERRNO after registering and then undoing everything (the
 * rule a failing init must follow). Built twice, as tmod.so and as tmod2.so (-DTMOD_NAME=tmod2),
 * so two modules can be loaded at once and their order seen in the log.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "umdev/log.h"
#include "umdev/mdev.h"
#include "umdev/module.h"

#ifndef TMOD_NAME
#define TMOD_NAME tmod
#endif
#define STR_(x) #x
#define STR(x) STR_(x)

static bool verbose;
static unsigned int count = 3;
static int offset = -1;
static const char *parent_name = STR(TMOD_NAME) "-parent";
static unsigned int fail;

static const struct umdev_module_param tmod_params[] = {
    UMDEV_PARAM_BOOL(verbose, verbose, "a bool"),
    UMDEV_PARAM_UINT(count, count, 1, 10, "a uint in 1..10"),
    UMDEV_PARAM_INT(offset, offset, -5, 5, "an int in -5..5"),
    UMDEV_PARAM_STRING(parent, parent_name, "the parent's name"),
    UMDEV_PARAM_UINT(fail, fail, 0, 4095, "init fails with this errno after undoing itself"),
    {0},
};

static int tmod_probe(struct umdev_mdev *mdev)
{
	(void)mdev;
	return 0;
}

static struct umdev_driver tmod_driver = {
    .name = STR(TMOD_NAME),
    .device_api = "vfio-pci",
    .max_instances = 2,
    .probe = tmod_probe,
};
static struct umdev_type tmod_type = {.sysfs_name = "1"};
static struct umdev_type *tmod_types[] = {&tmod_type};
static struct umdev_parent tmod_parent;

static int tmod_init(void)
{
	int ret;

	umdev_log(UMDEV_LOG_NOTICE, "%s: init verbose=%d count=%u offset=%d parent=%s rundir=%s",
		  STR(TMOD_NAME), verbose, count, offset, parent_name,
		  umdev_rundir() ? umdev_rundir() : "(none)");
	ret = umdev_register_driver(&tmod_driver);
	if (ret < 0)
		return ret;
	ret = umdev_register_parent(&tmod_parent, parent_name, NULL, &tmod_driver, tmod_types, 1);
	if (ret < 0) {
		umdev_unregister_driver(&tmod_driver);
		return ret;
	}
	if (fail) {
		umdev_unregister_parent(&tmod_parent);
		umdev_unregister_driver(&tmod_driver);
		return -(int)fail;
	}
	return 0;
}

static void tmod_exit(void)
{
	umdev_unregister_parent(&tmod_parent);
	umdev_unregister_driver(&tmod_driver);
	umdev_log(UMDEV_LOG_NOTICE, "%s: exit", STR(TMOD_NAME));
}

UMDEV_MODULE(TMOD_NAME, "a test module", tmod_init, tmod_exit, tmod_params);
