// SPDX-License-Identifier: MIT
/* A module built for another ABI: umdevd must refuse it before reading anything else of it. */
#include <stddef.h>

#include "umdev/module.h"

static int bad_init(void)
{
	return 0;
}

/* what UMDEV_MODULE() makes, with the next ABI version (and a layout umdevd must not read) */
__attribute__((visibility("default")))
const struct umdev_module umdev_module_info = {UMDEV_MODULE_MAGIC,
					       UMDEV_ABI_VERSION + 1,
					       "bad_abi",
					       "built for the next ABI",
					       bad_init,
					       NULL,
					       NULL};
