/* SPDX-License-Identifier: MIT */
/*
 * The vfio module's entry header: vfio devices (vfioN) for mdevs (mdev.md §6.7,
 * vfio-user.md §3). Numbers come from one lowest-free allocator shared by all parents.
 *
 * This version numbers vfio devices and publishes nothing else; the vfio-user server that
 * serves <rundir>/vfio/devices/vfioN comes with it later.
 */
#ifndef UMDEV_VFIO_H
#define UMDEV_VFIO_H

struct umdev_vfio_options {
	const char *rundir; /* run directory; copied (NULL: numbering only, no files) */
};

/**
 * umdev_vfio_init() - install the core's vfio hooks. Call before any parent is registered.
 * Return: 0, -ENOMEM.
 */
int umdev_vfio_init(const struct umdev_vfio_options *opt);

/** umdev_vfio_fini() - uninstall; every vfio device must have been detached. */
void umdev_vfio_fini(void);

#endif
