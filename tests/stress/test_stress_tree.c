// SPDX-License-Identifier: MIT
/*
 * M-50, M-52, M-53, M-56 and M-57 through the FUSE tree: the sysfs module mounted in-process
 * at a temporary directory, tdrv parents t0..t7, threads writing `create` and `remove` files
 * with one write(2) each. Exits 77 (skip) when FUSE is unavailable.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "stress.h"
#include "sysfs.h"
#include "umdev/log.h"

#define SLEEP_MS 200
#define M56_THREADS 16
#ifdef __SANITIZE_THREAD__
#define M56_ITERATIONS 500 /* TSan: every FUSE round trip is slow; keep the suite bounded */
#else
#define M56_ITERATIONS 2000
#endif
#define M56_UUIDS 200

static char root[64];
static struct tdrv_parent *t[8];
static atomic_uint warnings;

static void log_sink(void *opaque, enum umdev_log_level level, const char *msg)
{
	(void)opaque;
	if (level <= UMDEV_LOG_WARNING) {
		fprintf(stderr, "stress_tree: logged at level %d: %s\n", (int)level, msg);
		atomic_fetch_add(&warnings, 1);
	}
}

/*
 * Watchdog: on a hang, report the stage and abort our FUSE connection so that no thread of
 * ours stays blocked on a request to a server that is gone (and the mount is not left wedged).
 */
static const char *volatile stage = "setup";
static char abort_path[128];

static void abort_fuse(void)
{
	int fd = open(abort_path, O_WRONLY);

	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
}

static void watchdog(int sig)
{
	const char *msg = "stress_tree: WATCHDOG: hung in stage ";
	int fd;

	(void)sig;
	(void)!write(2, msg, strlen(msg));
	(void)!write(2, stage, strlen(stage));
	(void)!write(2, "\n", 1);
	fd = open(abort_path, O_WRONLY);
	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
	_exit(1);
}

/* One write(2) of @buf to @path; the byte count or -errno. */
static ssize_t write_once(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

static int read_uint(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	return atoi(buf);
}

static void uuid_text(char out[UUID_STR_LEN], unsigned int n)
{
	uuid_t u;

	st_uuid(u, n);
	uuid_unparse_lower(u, out);
}

static void type_path(char *out, size_t size, unsigned int p, const char *file)
{
	(void)snprintf(out, size, "%s/sys/class/mdev_bus/t%u/mdev_supported_types/tdrv-a/%s", root,
		       p, file);
}

static ssize_t tree_create(unsigned int p, unsigned int n)
{
	char path[PATH_MAX], u[UUID_STR_LEN + 1];

	uuid_text(u, n);
	strcat(u, "\n");
	type_path(path, sizeof(path), p, "create");
	return write_once(path, u, strlen(u));
}

static ssize_t tree_remove(unsigned int n)
{
	char path[PATH_MAX], u[UUID_STR_LEN];

	uuid_text(u, n);
	(void)snprintf(path, sizeof(path), "%s/sys/bus/mdev/devices/%s/remove", root, u);
	return write_once(path, "1", 1);
}

static int tree_available(unsigned int p)
{
	char path[PATH_MAX];

	type_path(path, sizeof(path), p, "available_instances");
	return read_uint(path);
}

static unsigned int count_bus_devices(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	unsigned int n = 0;
	DIR *d;

	(void)snprintf(path, sizeof(path), "%s/sys/bus/mdev/devices", root);
	d = opendir(path);
	CHECK(d, "opendir %s: %s", path, strerror(errno));
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

struct op {
	unsigned int p, n;
	ssize_t ret;
};

static void *create_thread(void *arg)
{
	struct op *op = arg;

	op->ret = tree_create(op->p, op->n);
	return NULL;
}

static void *remove_thread(void *arg)
{
	struct op *op = arg;

	op->ret = tree_remove(op->n);
	return NULL;
}

static void m53(void)
{
	struct op ops[64];
	unsigned int i, ok = 0, eexist = 0, winner = 0;

	for (i = 0; i < 64; i++)
		ops[i] = (struct op){.p = i % 8, .n = 7};
	st_run_threads(64, create_thread, ops, sizeof(ops[0]));
	for (i = 0; i < 64; i++) {
		if (ops[i].ret == 37) {
			ok++;
			winner = ops[i].p;
		} else {
			CHECK(ops[i].ret == -EEXIST, "M-53 write %u: %zd", i, ops[i].ret);
			eexist++;
		}
	}
	CHECK(ok == 1 && eexist == 63, "M-53: %u ok, %u EEXIST", ok, eexist);
	CHECK(count_bus_devices() == 1, "M-53: %u devices", count_bus_devices());
	for (i = 0; i < 8; i++)
		CHECK(tree_available(i) == (i == winner ? 15 : 16), "M-53: t%u available %d", i,
		      tree_available(i));
	CHECK(tree_remove(7) == 1, "M-53: remove");
	printf("M-53 (tree): 64 writes of one UUID to 8 parents' create: 1 ok, 63 EEXIST, one "
	       "device, other parents' available_instances unchanged\n");
}

static void m50_m52(void)
{
	static struct op ops[128];
	uint64_t ms;
	unsigned int i;

	for (i = 0; i < 8; i++)
		tdrv_set_sleep_ms(t[i], TDRV_PROBE, SLEEP_MS);
	for (i = 0; i < 128; i++)
		ops[i] = (struct op){.p = i / 16, .n = 100 + i};
	ms = st_run_threads(128, create_thread, ops, sizeof(ops[0]));
	for (i = 0; i < 128; i++)
		CHECK(ops[i].ret == 37, "M-50 create %u: %zd", i, ops[i].ret);
	CHECK(ms < 2000, "M-50: 128 creates through the tree took %llu ms", (unsigned long long)ms);
	CHECK(count_bus_devices() == 128, "M-50: %u devices listed", count_bus_devices());
	printf("M-50 (tree): 128 concurrent create writes on 8 parents, probe %u ms: %llu ms "
	       "(< 2000)\n",
	       SLEEP_MS, (unsigned long long)ms);

	for (i = 0; i < 8; i++) {
		tdrv_set_sleep_ms(t[i], TDRV_PROBE, 0);
		tdrv_set_sleep_ms(t[i], TDRV_REMOVE, SLEEP_MS);
	}
	ms = st_run_threads(128, remove_thread, ops, sizeof(ops[0]));
	for (i = 0; i < 128; i++)
		CHECK(ops[i].ret == 1, "M-52 remove %u: %zd", i, ops[i].ret);
	CHECK(ms < 2000, "M-52: 128 removes through the tree took %llu ms", (unsigned long long)ms);
	CHECK(count_bus_devices() == 0 && umdev__core_nr_mdevs() == 0, "M-52: devices left");
	for (i = 0; i < 8; i++) {
		tdrv_set_sleep_ms(t[i], TDRV_REMOVE, 0);
		CHECK(tree_available(i) == 16, "M-52: t%u available", i);
	}
	printf("M-52 (tree): 128 concurrent remove writes, remove %u ms: %llu ms (< 2000), all "
	       "UUIDs free\n",
	       SLEEP_MS, (unsigned long long)ms);
}

static atomic_bool stop;
static atomic_uint reader_checks, reader_vanished;

/* Whether @name stays listed while its mdev_type fails to resolve, three times in a row. */
static bool partial(const char *dir, const char *name)
{
	char link[PATH_MAX], type[PATH_MAX], real[PATH_MAX];
	unsigned int i;
	struct stat st;

	(void)snprintf(link, sizeof(link), "%s/%s", dir, name);
	(void)snprintf(type, sizeof(type), "%s/%s/mdev_type", dir, name);
	for (i = 0; i < 3; i++) {
		if (lstat(link, &st) < 0)
			return false;
		if (realpath(type, real))
			return false;
		if (lstat(link, &st) < 0)
			return false;
	}
	CHECK(0, "M-57: %s listed without a resolvable mdev_type", name);
	return true;
}

/* M-57: a listed device always has a resolvable mdev_type (no partial publication). */
static void *reader_thread(void *arg)
{
	char dir[256], path[PATH_MAX], real[PATH_MAX];

	(void)arg;
	(void)snprintf(dir, sizeof(dir), "%s/sys/bus/mdev/devices", root);
	while (!atomic_load(&stop)) {
		struct dirent *de;
		DIR *d = opendir(dir);

		CHECK(d, "opendir: %s", strerror(errno));
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			(void)snprintf(path, sizeof(path), "%s/%s/mdev_type", dir, de->d_name);
			if (realpath(path, real)) {
				const char *base = strrchr(real, '/');

				CHECK(base && strcmp(base, "/tdrv-a") == 0, "M-57: %s -> %s", path,
				      real);
				atomic_fetch_add(&reader_checks, 1);
				continue;
			}
			CHECK(errno == ENOENT, "M-57: realpath %s: %s", path, strerror(errno));
			/*
			 * Removed between readdir and realpath (maybe re-created and removed again
			 * meanwhile)? Only a device whose link stays present around three failed
			 * resolutions in a row is a partial publication.
			 */
			if (!partial(dir, de->d_name))
				atomic_fetch_add(&reader_vanished, 1);
		}
		closedir(d);
	}
	return NULL;
}

struct worker {
	unsigned int id, creates, eio, removes;
};

static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * (w->id + 3);
	unsigned int i;

	for (i = 0; i < M56_ITERATIONS; i++) {
		unsigned int n = 1000 + st_rand(&rnd) % M56_UUIDS;
		ssize_t ret;

		if (st_rand(&rnd) % 2) {
			ret = tree_create(st_rand(&rnd) % 8, n);
			CHECK(ret == 37 || ret == -EEXIST || ret == -EUSERS || ret == -EIO,
			      "M-56 create: %zd", ret);
			w->creates += ret == 37;
			w->eio += ret == -EIO;
		} else {
			ret = tree_remove(n);
			/* ENOENT: not listed; ENODEV/EAGAIN: removed meanwhile by another thread */
			CHECK(ret == 1 || ret == -ENOENT || ret == -ENODEV || ret == -EAGAIN,
			      "M-56 remove: %zd", ret);
			w->removes += ret == 1;
		}
	}
	return NULL;
}

static void m56_m57(void)
{
	static struct worker w[M56_THREADS];
	unsigned int i, n, total = 0, in_table[8] = {0}, creates = 0, eio = 0, removes = 0;
	pthread_t reader;
	uint64_t start = st_now_ms();

	for (i = 0; i < 8; i++)
		tdrv_set_probe_fail_ratio(t[i], -EIO, 10);
	for (i = 0; i < M56_THREADS; i++)
		w[i].id = i;
	CHECK(pthread_create(&reader, NULL, reader_thread, NULL) == 0, "reader");
	st_run_threads(M56_THREADS, worker_thread, w, sizeof(w[0]));
	atomic_store(&stop, true);
	pthread_join(reader, NULL);

	/* quiescent: table == listed devices; available == 16 - devices per parent */
	for (n = 1000; n < 1000 + M56_UUIDS; n++) {
		char path[PATH_MAX], u[UUID_STR_LEN];
		int owner = st_parent_of(n, t, 8);
		struct stat st;

		uuid_text(u, n);
		(void)snprintf(path, sizeof(path), "%s/sys/bus/mdev/devices/%s", root, u);
		CHECK((lstat(path, &st) == 0) == (owner >= 0), "M-56: U%u listed != in table", n);
		if (owner >= 0) {
			in_table[owner]++;
			total++;
		}
	}
	CHECK(umdev__core_nr_mdevs() == total && count_bus_devices() == total,
	      "M-56: table %u, listed %u, found %u", umdev__core_nr_mdevs(), count_bus_devices(),
	      total);
	for (i = 0; i < 8; i++)
		CHECK(tree_available(i) == 16 - (int)in_table[i],
		      "M-56: t%u available %d, devices %u", i, tree_available(i), in_table[i]);
	for (i = 0; i < M56_THREADS; i++) {
		creates += w[i].creates;
		eio += w[i].eio;
		removes += w[i].removes;
	}
	CHECK(creates - removes == total, "M-56: %u creates - %u removes != %u", creates, removes,
	      total);
	for (n = 1000; n < 1000 + M56_UUIDS; n++)
		if (st_parent_of(n, t, 8) >= 0)
			CHECK(tree_remove(n) == 1, "M-56: cleanup remove");
	for (i = 0; i < 8; i++) {
		tdrv_set_probe_fail_ratio(t[i], 0, 0);
		CHECK(tree_available(i) == 16, "M-56: t%u available after cleanup", i);
	}
	printf("M-56/M-57 (tree): %u threads x %u create/remove writes on 8 parents in %llu ms: %u "
	       "creates, %u injected probe failures, %u removes; %u devices at quiescence: listed "
	       "== table, available == 16 - devices; reader resolved mdev_type %u times (%u "
	       "vanished between readdir and realpath), never a partial device\n",
	       M56_THREADS, M56_ITERATIONS, (unsigned long long)(st_now_ms() - start), creates, eio,
	       removes, total, atomic_load(&reader_checks), atomic_load(&reader_vanished));
}

int main(void)
{
	struct umdev_sysfs_options opt = {0};
	struct umdev_sysfs *fs;
	unsigned int i;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(280);
	(void)snprintf(root, sizeof(root), "/tmp/umdev-stress-XXXXXX");
	CHECK(mkdtemp(root), "mkdtemp");
	umdev__core_reset();
	umdev_log_set_sink(log_sink, NULL, UMDEV_LOG_DEBUG);
	opt.mountpoint = root;
	CHECK(umdev_sysfs_create(&opt, &fs) == 0, "umdev_sysfs_create");
	/* no vfio hooks: the core numbers vfio devices itself (the tree only shows N) */
	ret = umdev_sysfs_mount(fs);
	if (ret < 0) {
		printf("stress_tree: cannot mount FUSE (%s): skipped\n", strerror(-ret));
		umdev_sysfs_destroy(fs);
		rmdir(root);
		return 77;
	}
	{
		struct stat st;

		CHECK(stat(root, &st) == 0, "stat %s", root);
		(void)snprintf(abort_path, sizeof(abort_path), "/sys/fs/fuse/connections/%u/abort",
			       minor(st.st_dev));
		signal(SIGALRM, watchdog);
		st_set_fail_hook(abort_fuse);
	}
	CHECK(tdrv_register(NULL) == 0, "tdrv_register");
	for (i = 0; i < 8; i++) {
		char name[16];
		int err = 0;

		(void)snprintf(name, sizeof(name), "t%u", i);
		t[i] = tdrv_parent_add(name, &err);
		CHECK(t[i], "tdrv_parent_add: %d", err);
	}

	stage = "M-53";
	m53();
	stage = "M-50/M-52";
	m50_m52();
	stage = "M-56/M-57";
	m56_m57();
	stage = "teardown";

	for (i = 0; i < 8; i++)
		tdrv_parent_remove(t[i]);
	CHECK(tdrv_unregister() == 0, "tdrv_unregister");
	CHECK(tdrv_violations() == 0, "%u tdrv violations", tdrv_violations());
	CHECK(umdev__core_nr_mdevs() == 0, "devices left");
	umdev_sysfs_unmount(fs);
	umdev_sysfs_destroy(fs);
	rmdir(root);
	CHECK(atomic_load(&warnings) == 0, "%u warnings logged", atomic_load(&warnings));
	return 0;
}
