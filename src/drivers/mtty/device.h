/* SPDX-License-Identifier: MIT */
/*
 * The mtty device (mtty.md §4-§8): private interface between the driver's registration
 * (mtty.c) and the device model (device.c: PCI declaration, vfio callbacks, interrupts,
 * backends, the `mtty/` attributes) and its host ptys (pty.c). Not for use outside
 * src/drivers/mtty/ and its unit tests.
 */
#ifndef UMDEV_MTTY_DEVICE_H
#define UMDEV_MTTY_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "umdev/mdev.h"
#include "umdev/pci.h"
#include "umdev/vfio.h"

/** Ports of the largest mtty type (mtty-2). */
#define MTTY_DEVICE_MAX_PORTS 2

/** Longest pty slave path kept, NUL included (e.g. "/dev/pts/7"). */
#define MTTY_PTY_PATH_MAX 64

struct mtty_device;

/* ---- device.c ---- */

/**
 * mtty_device_create() - build the per-device state of @mdev in probe (create step C6).
 * @mdev: the mdev being probed.
 * @nr_ports: 1 (mtty-1) or 2 (mtty-2).
 * @ret_dev: the new device; untouched on failure.
 *
 * Creates the host ptys when the default backend is pty (mtty.md §4.3), then declares the
 * PCI device model (§6.1, §6.2). Fails leaving nothing behind.
 *
 * Return: 0; -ENOMEM; or the errno of a pty creation step (§4.3) or of a declaration.
 */
int mtty_device_create(struct umdev_mdev *mdev, unsigned int nr_ports,
		       struct mtty_device **ret_dev);

/**
 * mtty_device_destroy() - free what mtty_device_create() built (remove step R5): for each
 * port the symlink goes first, then the master is closed (§5.5). NULL is a no-op.
 */
void mtty_device_destroy(struct mtty_device *dev);

/** The vfio callbacks of every mtty device (vfio-user.md §10.3). */
extern const struct umdev_vfio_ops mtty_vfio_ops;

/** The `mtty/` attribute group (mtty.md §4.1). */
extern const struct umdev_attr_group mtty_attr_group;

/* ---- mtty.c ---- */

/** The mtty device of @mdev, from probe's end until remove. */
struct mtty_device *mtty_device_of(struct umdev_mdev *mdev);

/* ---- pty.c (mtty.md §4.3, §5.2, §5.5) ---- */

/* One host pty: the master umdevd keeps and the published slave path. */
struct mtty_pty {
	int master; /* -1: none */
	char path[MTTY_PTY_PATH_MAX]; /* slave path; "" when none */
	char *link; /* <rundir>/mtty/<uuid>/portN, malloc'd; NULL when no symlink */
};

/**
 * mtty_pty_open() - steps 1-4 of mtty.md §4.3 for port @port of the mdev @uuid_str.
 * @pty: filled on success; on failure left with master -1 and nothing created.
 * @rundir: NULL or "" for no symlink (unit tests without a run directory).
 *
 * Return: 0 or the negative errno of the failing step (earlier steps undone).
 */
int mtty_pty_open(struct mtty_pty *pty, const char *rundir, const char *uuid_str,
		  unsigned int port);

/**
 * mtty_pty_close() - remove the symlink, then close the master (§5.5); the caller removes the
 * directory <rundir>/mtty/<uuid> after the last port with mtty_pty_rmdir().
 */
void mtty_pty_close(struct mtty_pty *pty);

/** Remove <rundir>/mtty/<uuid> if empty; errors ignored. */
void mtty_pty_rmdir(const char *rundir, const char *uuid_str);

/*
 * mtty_pty_clear_stale() - remove what a killed daemon left in <rundir>/mtty: each device
 * directory's portN symlinks (which name /dev/pts numbers other processes may hold by now)
 * and the directory. Call before any device exists (module init). Nothing else is touched.
 */
void mtty_pty_clear_stale(const char *rundir);

/** Whether a host process holds the slave open (the master is not hung up, §2). */
bool mtty_pty_attached(const struct mtty_pty *pty);

#endif /* UMDEV_MTTY_DEVICE_H */
