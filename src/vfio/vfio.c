// SPDX-License-Identifier: MIT
/* vfio devices: numbering of vfioN at create step C7 and its release at R4 (mdev.md §6.7). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"
#include "ida.h"
#include "vfio.h"

/* One allocator for all parents and drivers (IDA semantics: lowest free, reused). */
static struct umdev_ida vfio_ida = UMDEV_IDA_INIT;

static int vfio_register(void *opaque, struct umdev_mdev *mdev, unsigned int *ret_index)
{
	int n;

	(void)opaque;
	(void)mdev;
	n = umdev_ida_alloc(&vfio_ida); /* allocation and ownership in one step (§6.7) */
	if (n < 0)
		return n;
	*ret_index = (unsigned int)n;
	return 0;
}

static void vfio_detach(void *opaque, struct umdev_mdev *mdev)
{
	(void)opaque;
	umdev_ida_free(&vfio_ida, umdev_mdev_vfio_index(mdev)); /* R4: N free for reuse (M-46) */
}

static const struct umdev_vfio_hooks vfio_hooks = {
	.vfio_register = vfio_register,
	.vfio_detach = vfio_detach,
};

int umdev_vfio_init(const struct umdev_vfio_options *opt)
{
	(void)opt;
	umdev__core_set_vfio_hooks(&vfio_hooks, NULL);
	return 0;
}

void umdev_vfio_fini(void)
{
	umdev__core_set_vfio_hooks(NULL, NULL);
	umdev_ida_destroy(&vfio_ida);
}
