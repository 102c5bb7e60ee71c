// SPDX-License-Identifier: MIT
/* Fixture of the in-process tree tests (tree_fixture.h). */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ida.h"
#include "tree_fixture.h"

static struct fx fixture;
static struct umdev_sysfs *fs;

/* ---- log sink: count lines at warning level or above ---- */

static atomic_uint warnings;

static void sink(void *opaque, enum umdev_log_level level, const char *msg)
{
	(void)opaque;
	if (level <= UMDEV_LOG_WARNING) {
		atomic_fetch_add(&warnings, 1);
		fprintf(stderr, "log<%d>: %s\n", (int)level, msg);
	}
}

unsigned int fx_warnings(void)
{
	return atomic_load(&warnings);
}

/* ---- test vfio hooks ---- */

static struct umdev_ida vfio_ida = UMDEV_IDA_INIT; /* vfioN, lowest free, as src/vfio */
static atomic_int vfio_fail;
static atomic_uint vfio_detaches, vfio_removes_at_detach;

static int vfio_register(void *opaque, struct umdev_mdev *mdev, unsigned int *ret_index)
{
	int err = atomic_load(&vfio_fail);
	int n;

	(void)opaque;
	(void)mdev;
	if (err)
		return err; /* M-32 */
	n = umdev_ida_alloc(&vfio_ida);
	if (n < 0)
		return n;
	*ret_index = (unsigned int)n;
	return 0;
}

static void vfio_detach(void *opaque, struct umdev_mdev *mdev)
{
	struct umdev_parent *parent = umdev_type_parent(umdev_mdev_type(mdev));

	(void)opaque;
	for (unsigned int i = 0; i < fixture.nr_parents; i++) {
		if (fixture.t[i] && tdrv_umdev_parent(fixture.t[i]) == parent)
			atomic_store(&vfio_removes_at_detach,
				     tdrv_calls(fixture.t[i], TDRV_REMOVE));
	}
	umdev_ida_free(&vfio_ida, umdev_mdev_vfio_index(mdev));
	atomic_fetch_add(&vfio_detaches, 1);
}

static const struct umdev_vfio_hooks vfio_hooks = {
    .vfio_register = vfio_register,
    .vfio_detach = vfio_detach,
};

void fx_vfio_fail(int err)
{
	atomic_store(&vfio_fail, err);
}

unsigned int fx_vfio_detaches(void)
{
	return atomic_load(&vfio_detaches);
}

unsigned int fx_vfio_live(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < 1024; i++)
		n += (unsigned int)umdev_ida_taken(&vfio_ida, i);
	return n;
}

unsigned int fx_vfio_removes_at_detach(void)
{
	return atomic_load(&vfio_removes_at_detach);
}

/* ---- group ---- */

static char *skeleton_dump;

/*
 * The test program serves its own mount: if it dies while one of its threads waits on a FUSE
 * request, the kernel waits for an answer nobody can give and the process never exits. So on
 * a fatal signal the fixture aborts the connection first (when fusectl is mounted).
 */
static int abort_fd = -1;

static void on_fatal(int sig)
{
	if (abort_fd >= 0)
		(void)!write(abort_fd, "1", 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void arm_abort(const char *root)
{
	static const int sigs[] = {SIGABRT, SIGTERM, SIGINT, SIGSEGV, SIGBUS, SIGALRM};
	char path[64];
	struct stat st;

	if (stat(root, &st) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort", minor(st.st_dev));
	abort_fd = open(path, O_WRONLY | O_CLOEXEC);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal);
}

int fx_group_setup(void **state)
{
	struct umdev_sysfs_options opt = {0};
	struct fx *f = &fixture;

	umdev_log_set_sink(sink, NULL, UMDEV_LOG_DEBUG);
	snprintf(f->root, sizeof(f->root), "/tmp/umdev-tree-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	opt.mountpoint = f->root;
	opt.debug = getenv("UMDEV_TREE_FUSE_DEBUG") != NULL;
	if (umdev_sysfs_create(&opt, &fs) < 0)
		return -1;
	umdev__core_set_vfio_hooks(&vfio_hooks, NULL);
	if (umdev_sysfs_mount(fs) < 0)
		return -1;
	arm_abort(f->root);
	skeleton_dump = fx_dump(f);
	*state = f;
	return skeleton_dump ? 0 : -1;
}

int fx_group_teardown(void **state)
{
	struct fx *f = *state;

	umdev_sysfs_unmount(fs);
	umdev_sysfs_destroy(fs);
	if (abort_fd >= 0)
		close(abort_fd);
	abort_fd = -1;
	umdev__core_set_vfio_hooks(NULL, NULL);
	free(skeleton_dump);
	rmdir(f->root);
	return 0;
}

/* ---- tests ---- */

void fx_start(struct fx *f, const struct tdrv_options *opt, unsigned int nr_parents)
{
	assert_int_equal(tdrv_register(opt), 0);
	f->tdrv = true;
	for (unsigned int i = 0; i < nr_parents; i++) {
		char name[16];
		int err = 0;

		snprintf(name, sizeof(name), "t%u", i);
		f->t[i] = tdrv_parent_add(name, &err);
		assert_non_null(f->t[i]);
		assert_int_equal(err, 0);
	}
	f->nr_parents = nr_parents;
}

void fx_stop(struct fx *f)
{
	for (unsigned int i = 0; i < f->nr_parents; i++) {
		tdrv_parent_remove(f->t[i]);
		f->t[i] = NULL;
	}
	f->nr_parents = 0;
	if (f->tdrv)
		assert_int_equal(tdrv_unregister(), 0);
	f->tdrv = false;
}

static int setup_with(void **state, const struct tdrv_options *opt, unsigned int nr)
{
	struct fx *f = &fixture;

	atomic_store(&warnings, 0);
	atomic_store(&vfio_fail, 0);
	f->warnings_expected = 0;
	fx_start(f, opt, nr);
	*state = f;
	return 0;
}

int fx_setup(void **state)
{
	return setup_with(state, NULL, 2);
}

int fx_setup_sample(void **state)
{
	struct tdrv_options opt = {.sample_attr = true};

	return setup_with(state, &opt, 2);
}

int fx_setup_bin(void **state)
{
	struct tdrv_options opt = {.bin_attr = true};

	return setup_with(state, &opt, 2);
}

int fx_setup_8(void **state)
{
	return setup_with(state, NULL, 8);
}

int fx_setup_bare(void **state)
{
	struct fx *f = &fixture;

	atomic_store(&warnings, 0);
	atomic_store(&vfio_fail, 0);
	f->warnings_expected = 0;
	*state = f;
	return 0;
}

int fx_teardown(void **state)
{
	struct fx *f = *state;
	char *dump;

	fx_stop(f);
	fx_vfio_fail(0);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_int_equal(tdrv_violations(), 0);
	assert_int_equal(fx_vfio_live(), 0);
	assert_int_equal(fx_warnings(), f->warnings_expected);
	dump = fx_dump(f); /* everything unpublished: back to the skeleton */
	assert_non_null(dump);
	assert_string_equal(dump, skeleton_dump);
	free(dump);
	return 0;
}

/* ---- paths ---- */

#define RING 16
static char ring[RING][PATH_MAX];
static unsigned int ring_pos;

static char *ring_next(void)
{
	return ring[ring_pos++ % RING];
}

const char *fx_path(struct fx *f, const char *fmt, ...)
{
	char *buf = ring_next();
	int n = snprintf(buf, PATH_MAX, "%s/", f->root);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, PATH_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return buf;
}

const char *fx_type(struct fx *f, unsigned int i, const char *file)
{
	return fx_path(f, "sys/class/mdev_bus/t%u/mdev_supported_types/tdrv-a%s%s", i,
		       file ? "/" : "", file ? file : "");
}

const char *fx_dev(struct fx *f, const char *uuid, const char *file)
{
	return fx_path(f, "sys/bus/mdev/devices/%s%s%s", uuid, file ? "/" : "", file ? file : "");
}

const char *fx_uuid(unsigned int n)
{
	static char uuids[64][UUID_STR_LEN];
	static unsigned int pos;
	char *buf = uuids[pos++ % 64]; /* a ring of its own: paths do not overwrite UUIDs */

	snprintf(buf, UUID_STR_LEN, "6a1c0f3e-0000-4000-8000-%012x", n);
	return buf;
}

/* ---- POSIX ---- */

ssize_t fx_read(const char *path, char *buf, size_t len)
{
	size_t done = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	while (done + 1 < len) {
		ssize_t n = read(fd, buf + done, len - 1 - done);

		if (n < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	buf[done] = '\0';
	close(fd);
	return (ssize_t)done;
}

ssize_t fx_write(const char *path, const void *data, size_t len, int flags)
{
	int fd = open(path, flags, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

ssize_t fx_write_str(const char *path, const char *s)
{
	return fx_write(path, s, strlen(s), O_WRONLY);
}

int fx_readlink(const char *path, char *buf, size_t len)
{
	ssize_t n = readlink(path, buf, len - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

bool fx_resolves_to(struct fx *f, const char *path, const char *rel)
{
	char real[PATH_MAX], want[PATH_MAX * 2];

	if (!realpath(path, real))
		return false;
	snprintf(want, sizeof(want), "%s/%s", f->root, rel);
	if (strcmp(real, want) != 0) {
		fprintf(stderr, "%s resolves to %s, expected %s\n", path, real, want);
		return false;
	}
	return true;
}

bool fx_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Join @n strings sorted with @sep; frees them. */
static char *join_sorted(char **v, size_t n, const char *sep)
{
	size_t len = 1;
	char *s;

	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + strlen(sep);
	s = calloc(1, len);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, sep);
		strcat(s, v[i]);
		free(v[i]);
	}
	free(v);
	return s;
}

char *fx_list(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0;

	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = strdup(e->d_name);
	}
	closedir(d);
	return join_sorted(v, n, ",");
}

static char **dump_v;
static size_t dump_n;
static size_t dump_skip;

static int dump_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char line[PATH_MAX * 2 + 64], target[PATH_MAX] = "";

	(void)flag;
	(void)ftw;
	if (S_ISLNK(st->st_mode))
		(void)fx_readlink(path, target, sizeof(target));
	snprintf(line, sizeof(line), "%s %06o %u:%u %lld %s", path + dump_skip,
		 (unsigned int)st->st_mode, (unsigned int)st->st_uid, (unsigned int)st->st_gid,
		 (long long)(S_ISDIR(st->st_mode) ? 0 : st->st_size), target);
	dump_v = realloc(dump_v, (dump_n + 1) * sizeof(*dump_v));
	dump_v[dump_n++] = strdup(line);
	return 0;
}

char *fx_dump(struct fx *f)
{
	char top[PATH_MAX + 8];

	snprintf(top, sizeof(top), "%s/sys", f->root);
	dump_v = NULL;
	dump_n = 0;
	dump_skip = strlen(f->root);
	if (nftw(top, dump_one, 16, FTW_PHYS) != 0)
		return NULL;
	return join_sorted(dump_v, dump_n, "\n");
}

long fx_available(struct fx *f, unsigned int i)
{
	char buf[64];
	ssize_t n = fx_read(fx_type(f, i, "available_instances"), buf, sizeof(buf));

	return n < 0 ? n : strtol(buf, NULL, 10);
}

ssize_t fx_create(struct fx *f, unsigned int i, const char *uuid)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s\n", uuid);
	return fx_write(fx_type(f, i, "create"), buf, strlen(buf), O_WRONLY);
}

ssize_t fx_remove(struct fx *f, const char *uuid)
{
	return fx_write_str(fx_dev(f, uuid, "remove"), "1");
}
