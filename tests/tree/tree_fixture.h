/* SPDX-License-Identifier: MIT */
/*
 * Fixture of the in-process tree tests (tests/tree/test_tree_*.c, suite `tree`): the test
 * program creates the sysfs, mounts it at a fresh temporary directory R, registers tdrv
 * parents t0.. and then uses plain POSIX calls on R/sys/... from the test thread.
 *
 * The group setup mounts once per program; each test registers tdrv and its parents afresh
 * (fx_setup*), and its teardown unregisters them and checks what must hold after every test:
 * no mdev left, no tdrv violation, no log line at warning level or above (M-20), no vfio
 * index held, and the tree back to the skeleton.
 */
#ifndef UMDEV_TEST_TREE_FIXTURE_H
#define UMDEV_TEST_TREE_FIXTURE_H

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "hooks.h"
#include "sysfs.h"
#include "tdrv.h"
#include "umdev/log.h"

#define FX_MAX_PARENTS 8

struct fx {
	char root[PATH_MAX]; /* the mount point R */
	struct tdrv_parent *t[FX_MAX_PARENTS]; /* t0..; NULL once a test removed it */
	unsigned int nr_parents;
	bool tdrv; /* tdrv registered; the teardown unregisters it */
	unsigned int warnings_expected; /* log lines at warning or above the test allows */
};

/* cmocka group setup/teardown: create, mount, hooks; unmount, destroy. */
int fx_group_setup(void **state);
int fx_group_teardown(void **state);

/* Test setups: tdrv with the options and parents t0..t<n-1>. */
int fx_setup(void **state); /* defaults (max_instances 16), t0 and t1 */
int fx_setup_sample(void **state); /* + the writable device attribute sample_attr */
int fx_setup_bin(void **state); /* + the binary attributes bin/sized and bin/dynamic */
int fx_setup_8(void **state); /* defaults, t0..t7 */
int fx_setup_bare(void **state); /* nothing registered */
void fx_start(struct fx *f, const struct tdrv_options *opt, unsigned int nr_parents);
/* Remove the parents and unregister tdrv (so a test can start again with other options). */
void fx_stop(struct fx *f);
int fx_teardown(void **state);

/* ---- paths: each returns one of a ring of static buffers (test thread only) ---- */
const char *fx_path(struct fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* R/sys/class/mdev_bus/t<i>/mdev_supported_types/tdrv-a/<file> */
const char *fx_type(struct fx *f, unsigned int i, const char *file);
/* R/sys/bus/mdev/devices/<uuid>[/<file>] (file may be NULL) */
const char *fx_dev(struct fx *f, const char *uuid, const char *file);
/* The test UUID number @n, lower case. */
const char *fx_uuid(unsigned int n);

/* ---- POSIX helpers: byte counts or -errno ---- */
/* open(O_RDONLY) + read to EOF + close; @buf is NUL-terminated. */
ssize_t fx_read(const char *path, char *buf, size_t len);
/* open(@flags) + ONE write(2) of @len bytes + close. */
ssize_t fx_write(const char *path, const void *data, size_t len, int flags);
/* One write of the string @s to @path opened O_WRONLY. */
ssize_t fx_write_str(const char *path, const char *s);
/* readlink into @buf (NUL-terminated); -errno. */
int fx_readlink(const char *path, char *buf, size_t len);
/* realpath == R + @rel ? */
bool fx_resolves_to(struct fx *f, const char *path, const char *rel);
/* lstat succeeds? (and errno is ENOENT when not) */
bool fx_exists(const char *path);
/* Sorted, comma-separated names of a directory (no . and ..), malloc'd; NULL: errno set. */
char *fx_list(const char *path);
/* Every node under R/sys with type, mode and link target, one per line, sorted; malloc'd. */
char *fx_dump(struct fx *f);
/* available_instances of t<i> as a number; -errno */
long fx_available(struct fx *f, unsigned int i);

/* ---- create/remove through the tree ---- */
/* One write of uuid + "\n" to t<i>'s create: 37 or -errno. */
ssize_t fx_create(struct fx *f, unsigned int i, const char *uuid);
/* One write of "1" to the device's remove: 1 or -errno. */
ssize_t fx_remove(struct fx *f, const char *uuid);

/* ---- test vfio hooks (C7, R4): lowest free N, failure injection ---- */
void fx_vfio_fail(int err); /* later registrations fail with @err; 0 stops */
unsigned int fx_vfio_detaches(void); /* detach calls so far */
unsigned int fx_vfio_live(void); /* indexes held now */
/* tdrv remove calls of the mdev's parent seen at its last detach (M-38 order) */
unsigned int fx_vfio_removes_at_detach(void);

/* ---- log sink ---- */
unsigned int fx_warnings(void); /* lines at warning level or above since the test began */

#endif
