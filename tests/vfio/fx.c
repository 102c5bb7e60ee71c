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

bool fx_fds_settle(int expected)
{
	for (int i = 0; i < 1000; i++) {
		if (fx_count_fds() == expected)
			return true;
		usleep(5000);
	}
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
