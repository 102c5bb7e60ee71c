/* SPDX-License-Identifier: MIT */
/*
 * The sysfs module's entry header: the FUSE filesystem presenting the kernel's mdev sysfs ABI
 * (mdev.md §6). The mount root R holds `sys/`; every path of the spec is R/sys/...
 *
 * Lifecycle: umdev_sysfs_create() (installs the core's tree hooks; call before any driver or
 * parent is registered) -> umdev_sysfs_mount() -> ... -> umdev_sysfs_unmount() ->
 * umdev_sysfs_destroy() (after every parent and driver was unregistered).
 */
#ifndef UMDEV_SYSFS_H
#define UMDEV_SYSFS_H

#include <stdbool.h>

struct umdev_sysfs;

struct umdev_sysfs_options {
	const char *mountpoint; /* existing empty directory; copied */
	unsigned int max_threads; /* FUSE worker threads; 0: 256 (mdev.md §8.1) */
	bool allow_other; /* mount with allow_other,default_permissions */
	bool debug; /* libfuse debug output on stderr */
};

/**
 * umdev_sysfs_create() - build the static skeleton (sys/class/mdev_bus, sys/bus/mdev/devices,
 * sys/bus/mdev/drivers, sys/kernel/iommu_groups, sys/class/vfio-dev, ...) and install the
 * core's tree hooks.
 * @opt: options; borrowed for the call.
 * @ret: on success, the new filesystem; untouched on failure.
 * Return: 0, -EINVAL no mountpoint, -ENOMEM.
 */
int umdev_sysfs_create(const struct umdev_sysfs_options *opt, struct umdev_sysfs **ret);

/**
 * umdev_sysfs_mount() - mount at the mountpoint and serve requests from a multi-threaded loop
 * running in background threads. Returns once the mount is live (a stat of the mount root is
 * answered by this filesystem).
 * Return: 0; -ENOENT/-ENOTDIR mountpoint missing; -ENOTCONN a dead FUSE mount; -EBUSY mountpoint
 * already a mount point; -ENODEV FUSE unavailable (/dev/fuse cannot be opened); -EIO other mount
 * failures.
 */
int umdev_sysfs_mount(struct umdev_sysfs *fs);

/**
 * umdev_sysfs_unmount() - unmount (lazily if busy) and stop the loop; waits for the worker
 * threads. Idempotent.
 *
 * From its start, opens of files and directories in the tree fail with ENODEV. Before the loop
 * stops, it lets the kernel deliver the releases of files already closed (close(2) does not
 * wait for them), so libfuse frees what it keeps per open directory: it waits while releases
 * come, up to 2 s, and 100 ms more once they stop coming (files a process keeps open).
 */
void umdev_sysfs_unmount(struct umdev_sysfs *fs);

/** umdev_sysfs_destroy() - free the tree and uninstall the hooks. NULL is a no-op. */
void umdev_sysfs_destroy(struct umdev_sysfs *fs);

#endif
