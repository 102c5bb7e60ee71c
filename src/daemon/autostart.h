/* SPDX-License-Identifier: MIT */
/*
 * umdevd's auto-start of persistent mdevctl definitions (issue 12 item 1). On a host with the
 * kernel's mdev, mdevctl's udev rule runs `mdevctl start-parent-mdevs <parent>` when a parent
 * registers; no uevent is ever sent for umdevd's parents, so umdevd does the same itself once
 * its modules registered their parents and the tree is mounted, before it reports readiness.
 */
#ifndef UMDEVD_AUTOSTART_H
#define UMDEVD_AUTOSTART_H

/** The mdevctl configuration directory: <dir>/<parent>/<uuid> holds one definition. */
#define UMDEVD_MDEVCTL_CONFIG "/etc/mdevctl.d"

/**
 * struct umdevd_autostart_stats - what one umdevd_autostart() did.
 * @started: definitions whose device was created and all its attributes written.
 * @failed: auto-start definitions that did not start (each logged at warning level).
 * @foreign: auto-start definitions of parents umdevd does not have (logged at notice level:
 *	on a host with the kernel's mdev they are the kernel's, for mdevctl's udev rule).
 */
struct umdevd_autostart_stats {
	unsigned int started;
	unsigned int failed;
	unsigned int foreign;
};

/**
 * umdevd_autostart() - start every definition with "start": "auto" under @config_dir, as
 * `mdevctl start-parent-mdevs` does for each parent umdevd serves.
 * @config_dir: mdevctl's configuration directory; a missing one holds no definitions.
 * @sys: the mounted tree's sys directory (<mountpoint>/sys).
 * @stats: filled with the counts.
 *
 * Parents, then definitions, in name order. Each device is created by a write of its UUID to
 * sys/class/mdev_bus/<parent>/mdev_supported_types/<mdev_type>/create and each attribute of
 * "attrs" is then written, in order, to sys/bus/mdev/devices/<uuid>/<name>: the very writes
 * mdevctl makes, served by the tree like any user's. A definition that fails (unreadable or bad
 * JSON, unknown type, no instances left, an attribute missing or refused) is logged with its
 * file name and the reason, a device already created for it is removed again (as mdevctl
 * does), and the others still start. Main thread only, with the tree mounted.
 */
void umdevd_autostart(const char *config_dir, const char *sys,
		      struct umdevd_autostart_stats *stats);

#endif
