// SPDX-License-Identifier: MIT
/*
 * The mbochs module (umdev/module.h): the kernel's mbochs sample, a bochs display card whose
 * video memory the client maps. `umdevd --driver mbochs:memory=512`.
 *
 *   memory=MB   video memory all devices of the parent share (the kernel sample's
 *               mbochs_mem parameter); each type's available_instances follows from it
 */
#include "umdev/log.h"
#include "umdev/module.h"
#include "mbochs.h"

/** Largest memory= value, in MB. */
#define MBOCHS_MEMORY_LIMIT 65536

/* Parameter: its value before loading is the default --help shows. */
static unsigned int memory_mb = 256;

static const struct umdev_module_param mbochs_params[] = {
    UMDEV_PARAM_UINT(memory, memory_mb, 1, MBOCHS_MEMORY_LIMIT,
		     "video memory in MB all mbochs devices share"),
    {0},
};

static int mbochs_module_init(void)
{
	int ret = mbochs_add(memory_mb);

	if (ret == 0)
		umdev_log(UMDEV_LOG_INFO, "mbochs: parent 'mbochs', %u MB of video memory",
			  memory_mb);
	return ret;
}

static void mbochs_module_exit(void)
{
	mbochs_del();
}

UMDEV_MODULE(mbochs, "the kernel's mbochs sample: a bochs display with mappable video memory",
	     mbochs_module_init, mbochs_module_exit, mbochs_params);
