// SPDX-License-Identifier: MIT
/*
 * bench_tree - the sysfs tree through a real FUSE mount (issue 3 benchmark).
 *
 * In one process and one run:
 *  1. create+remove pairs/s through the tree (open+write `create`, open+write `remove`):
 *     A 1 thread on 1 parent, B 2 threads on 2 parents; ratio B/A;
 *  2. wall time to create 128 devices on 8 parents through the tree, 128 threads released at
 *     once, against one thread creating the same 128 in a row;
 *  1 and 2 run with an empty probe and with a probe that sleeps 1 ms (a driver doing work);
 *  3. open+read+close of `available_instances` against the same on a trivial libfuse file
 *     (one 3-byte file, same mount options: timeouts 0, direct_io), both mounted here.
 *
 * Usage: bench_tree [SECONDS_PER_CONFIG] [READS]   (defaults 2 and 20000). Run as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#define FUSE_USE_VERSION 35
#include <fuse.h>

#include "hooks.h"
#include "sysfs.h"
#include "umdev/mdev.h"

#define NR_PARENTS 8

/* ---- a minimal mdev driver, as in bench_core ---- */

static atomic_uint probe_us; /* the probe's sleep: 0, or a driver doing real work */

static int bench_probe(struct umdev_mdev *mdev)
{
	unsigned int us = atomic_load_explicit(&probe_us, memory_order_relaxed);

	(void)mdev;
	if (us)
		usleep(us);
	return 0;
}

static void bench_remove(struct umdev_mdev *mdev)
{
	(void)mdev;
}

static struct umdev_driver bench_driver = {
    .name = "bench",
    .device_api = "vfio-pci",
    .max_instances = 1024,
    .probe = bench_probe,
    .remove = bench_remove,
};

struct bench_parent {
	struct umdev_parent parent;
	struct umdev_type type;
	struct umdev_type *types[1];
	char name[8];
};

static struct bench_parent parents[NR_PARENTS];
static char root[64];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -errno : 0;
}

static void uuid_text(unsigned int a, unsigned long b, char out[UUID_STR_LEN])
{
	uuid_t u;

	memset(u, 0, sizeof(u));
	memcpy(u, &a, sizeof(a));
	memcpy(&u[8], &b, sizeof(b));
	uuid_unparse_lower(u, out);
}

static int create_via_tree(unsigned int parent, const char *uuid)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/sys/class/mdev_bus/%s/mdev_supported_types/bench-a/create",
		 root, parents[parent].name);
	return write_file(path, uuid);
}

static int remove_via_tree(const char *uuid)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/sys/bus/mdev/devices/%s/remove", root, uuid);
	return write_file(path, "1");
}

/* ---- 1: create+remove pairs through the tree ---- */

struct worker {
	pthread_t thread;
	unsigned int id, parent;
	unsigned long pairs;
	int error;
};

static atomic_bool stop;

static void *pair_loop(void *arg)
{
	struct worker *w = arg;
	char u[UUID_STR_LEN];

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uuid_text(w->id, w->pairs, u);
		if ((w->error = create_via_tree(w->parent, u)) < 0 ||
		    (w->error = remove_via_tree(u)) < 0)
			break;
		w->pairs++;
	}
	return NULL;
}

static double pairs_per_s(unsigned int nr, double seconds)
{
	struct worker w[NR_PARENTS];
	unsigned long total = 0;
	double t0 = now_s();

	memset(w, 0, sizeof(w));
	atomic_store(&stop, false);
	for (unsigned int i = 0; i < nr; i++) {
		w[i].id = i + 1;
		w[i].parent = i;
		pthread_create(&w[i].thread, NULL, pair_loop, &w[i]);
	}
	while (now_s() - t0 < seconds)
		usleep(10000);
	atomic_store(&stop, true);
	for (unsigned int i = 0; i < nr; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].error < 0) {
			fprintf(stderr, "bench_tree: worker failed: %s\n", strerror(-w[i].error));
			exit(1);
		}
		total += w[i].pairs;
	}
	return (double)total / (now_s() - t0);
}

/* ---- 2: 128 creates on 8 parents ---- */

static pthread_barrier_t start_line;

static void *create_one(void *arg)
{
	unsigned int n = (unsigned int)(uintptr_t)arg;
	char u[UUID_STR_LEN];

	uuid_text(0xc0de, n, u);
	pthread_barrier_wait(&start_line);
	return (void *)(intptr_t)create_via_tree(n % NR_PARENTS, u);
}

static void remove_128(void)
{
	char u[UUID_STR_LEN];

	for (unsigned int n = 0; n < 128; n++) {
		uuid_text(0xc0de, n, u);
		if (remove_via_tree(u) < 0) {
			fprintf(stderr, "bench_tree: remove failed\n");
			exit(1);
		}
	}
}

static double create_128_parallel(void)
{
	pthread_t th[128];
	double t0;

	pthread_barrier_init(&start_line, NULL, 129);
	for (unsigned int n = 0; n < 128; n++)
		pthread_create(&th[n], NULL, create_one, (void *)(uintptr_t)n);
	pthread_barrier_wait(&start_line);
	t0 = now_s();
	for (unsigned int n = 0; n < 128; n++) {
		void *ret;

		pthread_join(th[n], &ret);
		if ((intptr_t)ret < 0) {
			fprintf(stderr, "bench_tree: parallel create failed\n");
			exit(1);
		}
	}
	t0 = now_s() - t0;
	pthread_barrier_destroy(&start_line);
	remove_128();
	return t0;
}

static double create_128_serial(void)
{
	char u[UUID_STR_LEN];
	double t0 = now_s();

	for (unsigned int n = 0; n < 128; n++) {
		uuid_text(0xc0de, n, u);
		if (create_via_tree(n % NR_PARENTS, u) < 0) {
			fprintf(stderr, "bench_tree: serial create failed\n");
			exit(1);
		}
	}
	t0 = now_s() - t0;
	remove_128();
	return t0;
}

/* ---- 3: a trivial libfuse file as the baseline for reads ---- */

static const char trivial_text[] = "16\n";

static int trivial_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/file") != 0)
		return -ENOENT;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = 4096;
	return 0;
}

static int trivial_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/file") != 0)
		return -ENOENT;
	fi->direct_io = 1;
	return 0;
}

static int trivial_read(const char *path, char *buf, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	size_t len = sizeof(trivial_text) - 1;

	(void)path;
	(void)fi;
	if ((size_t)off >= len)
		return 0;
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	memcpy(buf, trivial_text + off, size);
	return (int)size;
}

static void *trivial_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	return NULL;
}

static const struct fuse_operations trivial_ops = {
    .getattr = trivial_getattr,
    .open = trivial_open,
    .read = trivial_read,
    .init = trivial_init,
};

static struct fuse *trivial;

static void *trivial_loop(void *arg)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();

	(void)arg;
	fuse_loop_mt(trivial, cfg);
	fuse_loop_cfg_destroy(cfg);
	return NULL;
}

static double read_us(const char *path, unsigned int reads)
{
	char buf[64];
	double t0 = now_s();

	for (unsigned int i = 0; i < reads; i++) {
		int fd = open(path, O_RDONLY);

		if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0) {
			fprintf(stderr, "bench_tree: read of %s failed\n", path);
			exit(1);
		}
		close(fd);
	}
	return (now_s() - t0) * 1e6 / reads;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	unsigned int reads = argc > 2 ? (unsigned int)atoi(argv[2]) : 20000;
	struct umdev_sysfs_options opt = {.mountpoint = root};
	char troot[64] = "/tmp/bench-trivial-XXXXXX", avail[256], tfile[128];
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct umdev_sysfs *fs;
	pthread_t tthread;
	double a, b, par, ser, r_tree, r_triv;

	snprintf(root, sizeof(root), "/tmp/bench-tree-XXXXXX");
	if (!mkdtemp(root) || !mkdtemp(troot) || umdev_sysfs_create(&opt, &fs) < 0 ||
	    umdev_sysfs_mount(fs) < 0) {
		fprintf(stderr, "bench_tree: cannot mount the tree (root and FUSE needed)\n");
		return 1;
	}
	if (umdev_register_driver(&bench_driver) < 0)
		return 1;
	for (unsigned int i = 0; i < NR_PARENTS; i++) {
		snprintf(parents[i].name, sizeof(parents[i].name), "b%u", i);
		parents[i].type.sysfs_name = "a";
		parents[i].types[0] = &parents[i].type;
		if (umdev_register_parent(&parents[i].parent, parents[i].name, NULL, &bench_driver,
					  parents[i].types, 1) < 0)
			return 1;
	}

	fuse_opt_add_arg(&args, "bench_tree");
	trivial = fuse_new(&args, &trivial_ops, sizeof(trivial_ops), NULL);
	if (!trivial || fuse_mount(trivial, troot) != 0) {
		fprintf(stderr, "bench_tree: cannot mount the trivial filesystem\n");
		return 1;
	}
	pthread_create(&tthread, NULL, trivial_loop, NULL);

	for (unsigned int us = 0; us <= 1000; us += 1000) {
		atomic_store(&probe_us, us);
		printf("probe sleeping %u us:\n", us);
		a = pairs_per_s(1, seconds);
		b = pairs_per_s(2, seconds);
		printf("  tree create+remove, A 1 thread 1 parent:   %8.0f pairs/s\n", a);
		printf(
		    "  tree create+remove, B 2 threads 2 parents: %8.0f pairs/s  ratio B/A %.2f\n",
		    b, b / a);
		ser = create_128_serial();
		par = create_128_parallel();
		printf("  128 creates on 8 parents: one thread %.1f ms, 128 threads %.1f ms, "
		       "ratio %.2f\n",
		       ser * 1e3, par * 1e3, ser / par);
	}
	atomic_store(&probe_us, 0);

	snprintf(avail, sizeof(avail),
		 "%s/sys/class/mdev_bus/b0/mdev_supported_types/bench-a/available_instances", root);
	snprintf(tfile, sizeof(tfile), "%s/file", troot);
	(void)read_us(avail, reads / 10); /* warm up both */
	(void)read_us(tfile, reads / 10);
	r_tree = read_us(avail, reads);
	r_triv = read_us(tfile, reads);
	printf("open+read+close: available_instances %.1f us, trivial libfuse file %.1f us, "
	       "ratio %.2f\n",
	       r_tree, r_triv, r_tree / r_triv);

	fuse_exit(trivial);
	(void)umount2(troot, MNT_DETACH);
	open(tfile, O_RDONLY); /* wake the loop; fails once unmounted */
	pthread_join(tthread, NULL);
	fuse_unmount(trivial);
	fuse_destroy(trivial);
	fuse_opt_free_args(&args);
	for (unsigned int i = 0; i < NR_PARENTS; i++)
		umdev_unregister_parent(&parents[i].parent);
	umdev_unregister_driver(&bench_driver);
	umdev_sysfs_unmount(fs);
	umdev_sysfs_destroy(fs);
	rmdir(root);
	rmdir(troot);
	return 0;
}
