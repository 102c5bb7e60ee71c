/* SPDX-License-Identifier: MIT */
/*
 * The mtty vendor driver's entry header (mtty.md): umdev's version of the kernel sample
 * samples/vfio-mdev/mtty.c. It registers the mdev driver "mtty" (device_api "vfio-pci") and
 * parents offering two mdev types, sysfs names "1" ("Single port serial", type id mtty-1) and
 * "2" ("Dual port serial", mtty-2), whose accounting is driver-managed: each parent owns a
 * budget of MTTY_MAX_PORTS ports (mtty.md §3).
 *
 * Lifecycle: mtty_register_driver() -> mtty_parent_add() ... -> mtty_parent_remove() ->
 * mtty_unregister_driver(); module.c does this as the module "mtty" (umdev/module.h) with the
 * parameters parents=, ports= and backend=. The driver uses only the public API of
 * include/umdev/, plus the lock checker of src/util/lockdep.c compiled into it.
 */
#ifndef UMDEV_MTTY_H
#define UMDEV_MTTY_H

/** Ports owned by one mtty parent by default (the kernel sample's MAX_MTTYS; mtty.md §3). */
#define MTTY_MAX_PORTS 24
/** Largest port budget mtty_set_ports() accepts. */
#define MTTY_PORTS_LIMIT 65536

/** Name and class of the parent umdevd registers by default (mtty.md §3). */
#define MTTY_DEFAULT_PARENT "mtty"

struct mtty_parent;

/**
 * mtty_set_rundir() - the daemon's run directory, for the <rundir>/mtty/<uuid>/portN pty
 * symlinks (mtty.md §4.3).
 * @rundir: copied; NULL or "" for no symlinks.
 *
 * Call before mtty_parent_add(); affects devices created afterwards. Not thread-safe.
 *
 * Return: 0; -ENAMETOOLONG.
 */
int mtty_set_rundir(const char *rundir);

/**
 * mtty_set_default_backend() - the backend of devices created afterwards (mtty.md §4.2,
 * `umdevd --mtty-backend`).
 * @name: "pty" (the default) or "loopback".
 *
 * Call before mtty_parent_add(). Not thread-safe.
 *
 * Return: 0; -EINVAL any other @name.
 */
int mtty_set_default_backend(const char *name);

/**
 * mtty_set_ports() - the port budget of parents added afterwards (`ports=` parameter of the
 * mtty module); MTTY_MAX_PORTS until called.
 * @nr: 1..MTTY_PORTS_LIMIT ports.
 *
 * Call before mtty_parent_add(). Not thread-safe.
 *
 * Return: 0; -EINVAL @nr out of range.
 */
int mtty_set_ports(unsigned int nr);

/**
 * mtty_register_driver() - register the mdev driver "mtty" with the core.
 *
 * Makes /sys/bus/mdev/drivers/mtty appear. Call once, before mtty_parent_add(). Not
 * thread-safe against mtty_unregister_driver(). Source: mtty.md §3, mdev.md §5.2.
 *
 * Return: 0, or umdev_register_driver()'s errno: -EEXIST the driver is already registered;
 * -ENOMEM; or the sysfs layer's errno.
 */
int mtty_register_driver(void);

/**
 * mtty_unregister_driver() - unregister the mdev driver "mtty".
 *
 * Call after every parent added with mtty_parent_add() was removed; a driver still in use
 * stays registered (the core answers -EBUSY, M-13) and a debug message is logged.
 */
void mtty_unregister_driver(void);

/**
 * mtty_parent_add() - allocate an mtty parent and register it with its two types.
 * @name: parent name: the directory /sys/devices/virtual/mtty/<name> and the link
 *	/sys/class/mdev_bus/<name>; copied by the core. The class is always "mtty".
 * @ret_err: if non-NULL, set to the negative errno on failure; untouched on success.
 *
 * The new parent has a fresh budget of ports (MTTY_MAX_PORTS unless mtty_set_ports() said
 * otherwise), so by default its types read 24 and 12 available instances (mtty.md §3, T-2).
 *Thread-safe. Source: mtty.md §3, mdev.md §4.3.
 *
 * Return: the parent, or NULL with *@ret_err set: -ENOMEM; -EINVAL bad @name or the driver
 * is not registered; -EEXIST a parent named @name exists (M-11); or the sysfs layer's errno.
 */
struct mtty_parent *mtty_parent_add(const char *name, int *ret_err);

/**
 * mtty_parent_remove() - unregister @parent and free it.
 * @parent: a parent returned by mtty_parent_add(); NULL is a no-op.
 *
 * Removes every mdev of @parent first (the driver's remove runs for each and returns its
 * ports), as umdev_unregister_parent() does (mdev.md §4.4); blocks until that is done.
 * Must not be called from an mdev callback.
 */
void mtty_parent_remove(struct mtty_parent *parent);

/* ---- for tests only (mtty.md T-7): not used by umdevd ---- */

/**
 * mtty_inject_pty_failure() - make step @step (1-4) of mtty.md §4.3 fail with -@err in every
 * later pty creation, before that step does anything (step 4 fails before any directory or
 * symlink is made), until called again with @step 0.
 * @step: 1 posix_openpt, 2 raw mode, 3 the slave's open and close, 4 the symlink; 0 none.
 * @err: a positive errno; ignored when @step is 0.
 *
 * Not thread-safe: call while no device is being created or switched to pty mode.
 */
void mtty_inject_pty_failure(unsigned int step, int err);

#endif /* UMDEV_MTTY_H */
