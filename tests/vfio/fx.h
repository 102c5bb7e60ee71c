/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the tests/vfio suites: two vdrv devices (vfio0, vfio1) served on a temporary
 * rundir, set up before and torn down after every test, and the fd counting the tests use to
 * check that teardown closed everything.
 */
#ifndef UMDEV_TESTS_VFIO_FX_H
#define UMDEV_TESTS_VFIO_FX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "umdev/mdev.h"
#include "vfio.h"

struct fx {
	char rundir[64];
	char path[2][128]; /* the devices' sockets */
	uuid_t u[2];
	bool live[2]; /* not yet removed by the test */
	int fds_before; /* fx_count_fds() once both devices were up */
	bool low_nofile; /* the soft RLIMIT_NOFILE was lowered: rl is restored at teardown */
	struct rlimit rl;
};

/**
 * fx_setup_opts() - start the vfio module with @o (its rundir is the fixture's), register
 * vdrv and create both devices.
 * @low_nofile: lower the soft fd limit to the usual 1024 first, whatever the environment
 *	gave (restored by fx_teardown()).
 * Return: 0 with *@state the struct fx, or -1 (cmocka fails the test).
 */
int fx_setup_opts(void **state, const struct umdev_vfio_options *o, bool low_nofile);
/* Remove the devices still live, stop the module, delete the rundir. Return: 0. */
int fx_teardown(void **state);
struct umdev_mdev *fx_mdev(struct fx *f, int i);

/* Return: the number of fds open in this process, or -1. */
int fx_count_fds(void);
/* Return: whether fx_count_fds() reaches @expected within 5 s (teardown runs on threads). */
bool fx_fds_settle(int expected);
/* Return: CLOCK_MONOTONIC in milliseconds. */
uint64_t fx_now_ms(void);

#endif
