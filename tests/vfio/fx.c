// SPDX-License-Identifier: MIT
/* The fixture of the tests/vfio suites (fx.h). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "hooks.h"
#include "vdrv.h"
#include "fx.h"
#include "threads.h"

int fx_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

uint64_t fx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* On a failed fx_fds_settle(): what is open, and how many threads, for the log. */
static void fds_dump(int expected)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], target[256];

	fprintf(stderr, "fx_fds_settle: %d fds open, %d expected:\n", fx_count_fds(), expected);
	while (d && (e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
	}
	if (d)
		closedir(d);
	fprintf(stderr, "  threads: %u\n", test_nr_threads());
	d = opendir("/proc/self/task");
	while (d && (e = readdir(d))) {
		char buf[256] = "";
		FILE *fp;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/syscall", e->d_name);
		fp = fopen(path, "re");
		if (fp) {
			if (!fgets(buf, sizeof(buf), fp))
				buf[0] = '\0';
			fclose(fp);
		}
		fprintf(stderr, "  thread %s: syscall %s", e->d_name, buf[0] ? buf : "?\n");
	}
	if (d)
		closedir(d);
}

bool fx_fds_settle(int expected)
{
	for (int i = 0; i < 1000; i++) {
		if (fx_count_fds() == expected)
			return true;
		usleep(5000);
	}
	fds_dump(expected);
	return false;
}

int fx_setup_opts(void **state, const struct umdev_vfio_options *base, bool low_nofile)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct umdev_vfio_options o = *base;

	if (!f)
		return -1;
	if (low_nofile) {
		struct rlimit low;

		if (getrlimit(RLIMIT_NOFILE, &f->rl) < 0)
			return -1;
		low = f->rl;
		low.rlim_cur = f->rl.rlim_max < 1024 ? f->rl.rlim_max : 1024;
		if (setrlimit(RLIMIT_NOFILE, &low) < 0)
			return -1;
		f->low_nofile = true;
	}
	strcpy(f->rundir, "/tmp/umdev-vfio-XXXXXX");
	if (!mkdtemp(f->rundir))
		return -1;
	o.rundir = f->rundir;
	if (umdev_vfio_init(&o) < 0 || vdrv_register() < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		uuid_generate(f->u[i]);
		if (vdrv_create(&f->u[i]) < 0)
			return -1;
		f->live[i] = true;
		snprintf(f->path[i], sizeof(f->path[i]), "%s/vfio/devices/vfio%d", f->rundir, i);
	}
	f->fds_before = fx_count_fds();
	*state = f;
	return 0;
}

int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	for (int i = 0; i < 2; i++)
		if (f->live[i])
			assert_int_equal(umdev_mdev_remove(&f->u[i]), 0);
	vdrv_unregister();
	umdev_vfio_fini();
	umdev__core_reset();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->rundir);
	assert_int_equal(system(cmd), 0);
	if (f->low_nofile)
		(void)setrlimit(RLIMIT_NOFILE, &f->rl);
	free(f);
	return 0;
}

struct umdev_mdev *fx_mdev(struct fx *f, int i)
{
	return vdrv_find(&f->u[i])->mdev;
}
