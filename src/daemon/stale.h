/* SPDX-License-Identifier: MIT */
/*
 * What a umdevd killed with SIGKILL (or crashed) leaves behind, and how the next one gets past
 * it (issue 12 item 2): its tree stays mounted with no process serving it, where every access
 * fails with ENOTCONN, and its pid file stays in the run directory. (The vfio layer removes the
 * stale vfio* sockets itself, vfio-user.md §3.2.)
 */
#ifndef UMDEVD_STALE_H
#define UMDEVD_STALE_H

/**
 * umdevd_clear_dead_mount() - unmount a dead umdev tree at @path, if there is one.
 * @path: the mountpoint, as given.
 *
 * A mount at @path is dead when stat(2) of it fails with ENOTCONN (its FUSE connection is
 * gone) or ECONNABORTED (aborted through the fusectl file system). One whose source and type are
 * umdevd's ("umdev", "fuse.umdev") is detached (umount2(MNT_DETACH), else `fusermount3 -uz`) and a
 * notice logged; any other dead mount is left alone. A live mount is not looked at here: mounting
 * on it fails with EBUSY.
 *
 * Return: 0 when nothing dead is left at @path; -EBUSY a dead mount that is not umdevd's;
 * -errno the unmount failed. Each failure is logged at error level.
 */
int umdevd_clear_dead_mount(const char *path);

/**
 * umdevd_pidfile_lock() - make @path this process's pid file, held with flock(2).
 * @path: <rundir>/umdevd.pid.
 * @ret_pid: on -EBUSY, the pid the file names (0 if it names none yet).
 *
 * A pid file nobody holds is stale (its umdevd died) and is taken over; one that another
 * process holds means a live umdevd uses the same run directory, whose vfio sockets and mtty
 * links this one would otherwise remove. The lock goes with the process, so no crash leaves it
 * behind. At shutdown unlink @path, then close the descriptor.
 *
 * Return: the locked descriptor, the file holding our pid; -EBUSY another process holds it;
 * -errno.
 */
int umdevd_pidfile_lock(const char *path, long *ret_pid);

#endif
