// SPDX-License-Identifier: MIT
/*
 * What a killed umdevd leaves behind (stale.h): its dead FUSE mount and its pid file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "umdev/log.h"
#include "stale.h"

#define FSNAME "umdev" /* src/sysfs/sysfs.c mounts with fsname=umdev,subtype=umdev */
#define FSTYPE "fuse.umdev"
#define MAX_DEAD 16 /* dead mounts stacked at one path that we clear, at most */

extern char **environ;

/* Undo the \ooo escapes of /proc/self/mountinfo in place. */
static void unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/*
 * The type and source of the topmost mount at @path (absolute, canonical) into @type and
 * @source (NAME_MAX + 1 bytes each). Return: true if there is one.
 */
static bool mount_at(const char *path, char *type, char *source)
{
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	/* id parent major:minor root mount-point options [optional...] - type source options */
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *mnt = NULL, *t = NULL, *src = NULL;
		char *field = strtok_r(line, " \n", &save);
		bool after_sep = false;

		for (int i = 0; field; i++, field = strtok_r(NULL, " \n", &save)) {
			if (i == 4) {
				mnt = field;
			} else if (i > 5 && !after_sep && !strcmp(field, "-")) {
				after_sep = true;
			} else if (after_sep && !t) {
				t = field;
			} else if (after_sep) {
				src = field;
				break;
			}
		}
		if (!mnt || !t || !src)
			continue;
		unescape(mnt);
		if (strcmp(mnt, path) != 0)
			continue;
		unescape(src);
		snprintf(type, NAME_MAX + 1, "%s", t); /* later lines are mounted on top */
		snprintf(source, NAME_MAX + 1, "%s", src);
		found = true;
	}
	free(line);
	fclose(f);
	return found;
}

/* @path made absolute and canonical without touching its last component (which is dead). */
static int canonical(const char *path, char *buf)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *base;
	char *slash;
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--; /* "root/" names "root" */
	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, len);
	dir[len] = '\0';
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		base = slash + 1;
	} else {
		base = dir;
	}
	if (!realpath(!slash ? "." : dir[0] ? dir : "/", real))
		return -errno;
	if (snprintf(buf, PATH_MAX, "%s/%s", strcmp(real, "/") ? real : "", base) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Detach the mount at @path: umount2() as root, else the setuid fusermount3. */
static int detach(const char *path)
{
	char *argv[] = {"fusermount3", "-u", "-z", (char *)path, NULL};
	int ret, status;
	pid_t pid;

	if (umount2(path, MNT_DETACH) == 0)
		return 0;
	ret = -errno;
	if (ret != -EPERM)
		return ret;
	if (posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ) != 0)
		return ret;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return ret;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : ret;
}

int umdevd_clear_dead_mount(const char *path)
{
	char abs[PATH_MAX], type[NAME_MAX + 1], source[NAME_MAX + 1];
	struct stat st;
	int ret, dead;

	for (int i = 0; i < MAX_DEAD; i++) {
		/* ECONNABORTED: aborted through /sys/fs/fuse/connections/N/abort */
		if (stat(path, &st) == 0 || (errno != ENOTCONN && errno != ECONNABORTED))
			return 0;
		dead = errno;
		ret = canonical(path, abs);
		if (ret < 0) {
			umdev_log(UMDEV_LOG_ERR, "mountpoint '%s': %s", path, strerror(-ret));
			return ret;
		}
		if (!mount_at(abs, type, source)) {
			umdev_log(UMDEV_LOG_ERR, "mountpoint '%s': %s, and no mount is there", abs,
				  strerror(dead));
			return -dead;
		}
		if (strcmp(type, FSTYPE) != 0 || strcmp(source, FSNAME) != 0) {
			umdev_log(UMDEV_LOG_ERR,
				  "mountpoint '%s' is a dead mount of '%s' (%s), not a umdev tree: "
				  "unmount it first (fusermount3 -uz)",
				  abs, source, type);
			return -EBUSY;
		}
		ret = detach(abs);
		if (ret < 0) {
			umdev_log(
			    UMDEV_LOG_ERR,
			    "cannot unmount the dead umdev tree at '%s' (its umdevd was killed): "
			    "%s",
			    abs, strerror(-ret));
			return ret;
		}
		umdev_log(UMDEV_LOG_NOTICE,
			  "'%s': unmounted the dead tree of a umdevd that was killed", abs);
	}
	umdev_log(UMDEV_LOG_ERR, "mountpoint '%s': more than %d dead mounts", path, MAX_DEAD);
	return -ELOOP;
}

/* The pid a pid file names, or 0. */
static long pid_in(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int umdevd_pidfile_lock(const char *path, long *ret_pid)
{
	struct stat held, named;
	char buf[32];
	int fd, n;

	/* a stopping umdevd unlinks the file it holds: lock again until we hold the named one */
	for (int tries = 0; tries < 16; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int ret = errno == EWOULDBLOCK ? -EBUSY : -errno;

			if (ret == -EBUSY)
				*ret_pid = pid_in(fd);
			close(fd);
			return ret;
		}
		if (fstat(fd, &held) == 0 && stat(path, &named) == 0 &&
		    held.st_dev == named.st_dev && held.st_ino == named.st_ino)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		return -EAGAIN;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		int ret = -errno;

		(void)unlink(path);
		close(fd);
		return ret ? ret : -EIO;
	}
	return fd;
}
