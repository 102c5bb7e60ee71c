// SPDX-License-Identifier: MIT
/*
 * The mtty module (umdev/module.h): what the kernel sample's mtty_dev_init()/mtty_dev_exit()
 * do, with parameters. `umdevd --driver mtty:parents=8,ports=16,backend=loopback`, or nothing
 * at all: umdevd has this module built in and loads it with its defaults when no --driver is
 * given (compiled a second time with UMDEV_BUILTIN_MODULE for that).
 *
 *   parents=N   N parents: "mtty", then "mtty1" ... "mtty<N-1>", each with its own budget
 *   ports=N     ports each parent owns (mtty.md §3; the kernel sample's 24)
 *   backend=B   far end of new devices, "pty" or "loopback" (mtty.md §4.2)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "umdev/log.h"
#include "umdev/module.h"
#include "device.h"
#include "mtty.h"

/** Largest parents= value. */
#define MTTY_PARENTS_LIMIT 1024

/* Parameters: the values before loading are the defaults --help shows. */
static unsigned int nr_parents = 1;
static unsigned int nr_ports = MTTY_MAX_PORTS;
static const char *backend = "pty";

static const struct umdev_module_param mtty_params[] = {
    UMDEV_PARAM_UINT(parents, nr_parents, 1, MTTY_PARENTS_LIMIT,
		     "number of parents: mtty, mtty1, ..., each with its own port budget"),
    UMDEV_PARAM_UINT(ports, nr_ports, 1, MTTY_PORTS_LIMIT, "ports each parent owns"),
    UMDEV_PARAM_STRING(backend, backend, "far end of new devices' ports: pty or loopback"),
    {0},
};

/* The parents init registered, [0, nr_added); removed newest first by exit. */
static struct mtty_parent **parents;
static unsigned int nr_added;

static void mtty_module_exit(void)
{
	while (nr_added)
		mtty_parent_remove(parents[--nr_added]);
	free(parents);
	parents = NULL;
	mtty_unregister_driver();
}

static int mtty_module_init(void)
{
	char name[32];
	int ret;

	ret = mtty_set_default_backend(backend);
	if (ret < 0) {
		umdev_log(UMDEV_LOG_ERR, "mtty: backend '%s' is neither pty nor loopback", backend);
		return ret;
	}
	ret = mtty_set_ports(nr_ports);
	if (ret == 0)
		ret = mtty_set_rundir(umdev_rundir());
	if (ret < 0)
		return ret;
	mtty_pty_clear_stale(umdev_rundir()); /* a killed umdevd's links (mtty.md §4.3) */
	parents = calloc(nr_parents, sizeof(*parents));
	if (!parents)
		return -ENOMEM;
	ret = mtty_register_driver();
	if (ret < 0) {
		umdev_log(UMDEV_LOG_ERR, "mtty: cannot register driver 'mtty': %s", strerror(-ret));
		free(parents);
		parents = NULL;
		return ret;
	}
	for (unsigned int i = 0; i < nr_parents; i++) {
		if (i == 0)
			snprintf(name, sizeof(name), "%s", MTTY_DEFAULT_PARENT);
		else
			snprintf(name, sizeof(name), "%s%u", MTTY_DEFAULT_PARENT, i);
		parents[i] = mtty_parent_add(name, &ret);
		if (!parents[i]) {
			umdev_log(UMDEV_LOG_ERR, "mtty: cannot register parent '%s': %s", name,
				  strerror(-ret));
			mtty_module_exit();
			return ret;
		}
		nr_added++;
	}
	umdev_log(UMDEV_LOG_INFO, "mtty: %u parent%s of %u ports, backend %s", nr_parents,
		  nr_parents == 1 ? "" : "s", nr_ports, backend);
	return 0;
}

UMDEV_MODULE(mtty, "the kernel's mtty sample: PCI serial ports (16550A) behind host ptys",
	     mtty_module_init, mtty_module_exit, mtty_params);
