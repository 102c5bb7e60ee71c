// SPDX-License-Identifier: MIT
/*
 * bench_core - create+remove throughput through the C API (issue 3 benchmark).
 *
 * Runs, in one process and one run, three configurations for the same wall time each:
 *   A: 1 thread  creating+removing on 1 parent        (the baseline)
 *   B: 2 threads creating+removing on 2 parents, one each
 *   C: 2 threads creating+removing on 1 parent
 * and prints pairs/s for each and the ratios B/A and C/A. If list_lock or anything else
 * serialised creates across parents, B/A would stay near 1 on a 2-core machine.
 *
 * Each configuration runs twice: with an empty probe (the core's own cost, where any shared
 * cache line shows) and with a probe that sleeps 1 ms (a driver doing real work, where
 * serialisation would show as B/A near 1 instead of near 2).
 *
 * Usage: bench_core [SECONDS_PER_CONFIG] [ROUNDS]   (defaults 2 and 3; the best round counts)
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "hooks.h"
#include "umdev/mdev.h"

/* A minimal driver, so that the figures are the core's and not a test driver's bookkeeping. */
static atomic_uint probe_us;

static int bench_probe(struct umdev_mdev *mdev)
{
	unsigned int us = atomic_load_explicit(&probe_us, memory_order_relaxed);

	(void)mdev;
	if (us) {
		struct timespec ts = {0, (long)us * 1000};

		nanosleep(&ts, NULL);
	}
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
};

struct worker {
	pthread_t thread;
	struct bench_parent *parent;
	unsigned int id;
	unsigned long pairs;
	int error;
};

static atomic_bool stop;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uuid_t u;

	memset(u, 0, sizeof(u));
	u[0] = (unsigned char)w->id;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned long n = w->pairs;

		memcpy(&u[8], &n, sizeof(n));
		if ((w->error = umdev_mdev_create(&w->parent->type, &u)) < 0)
			break;
		if ((w->error = umdev_mdev_remove(&u)) < 0)
			break;
		w->pairs++;
	}
	return NULL;
}

/* Run @nr workers, worker i on parents[i % nr_parents]; return pairs per second. */
static double run(struct bench_parent *parents, unsigned int nr_parents, unsigned int nr,
		  double seconds)
{
	struct worker w[8];
	unsigned long total = 0;
	double t0, t1;

	atomic_store(&stop, false);
	memset(w, 0, sizeof(w));
	t0 = now_s();
	for (unsigned int i = 0; i < nr; i++) {
		w[i].parent = &parents[i % nr_parents];
		w[i].id = i + 1;
		pthread_create(&w[i].thread, NULL, work, &w[i]);
	}
	while (now_s() - t0 < seconds) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	atomic_store(&stop, true);
	for (unsigned int i = 0; i < nr; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].error < 0) {
			fprintf(stderr, "bench_core: worker %u failed: %s\n", i,
				strerror(-w[i].error));
			exit(1);
		}
		total += w[i].pairs;
	}
	t1 = now_s();
	return (double)total / (t1 - t0);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	static struct bench_parent p[2];

	if (umdev_register_driver(&bench_driver) < 0) {
		fprintf(stderr, "bench_core: cannot register the driver\n");
		return 1;
	}
	for (unsigned int i = 0; i < 2; i++) {
		p[i].type.sysfs_name = "a";
		p[i].types[0] = &p[i].type;
		if (umdev_register_parent(&p[i].parent, i ? "b1" : "b0", NULL, &bench_driver,
					  p[i].types, 1) < 0) {
			fprintf(stderr, "bench_core: cannot register a parent\n");
			return 1;
		}
	}
	for (unsigned int probe_ms = 0; probe_ms <= 1; probe_ms++) {
		double a = 0, b = 0, c = 0;

		atomic_store(&probe_us, probe_ms * 1000);
		printf("probe sleeping %u ms:\n", probe_ms);
		for (int r = 0; r < rounds; r++) {
			double ra = run(p, 1, 1, seconds);
			double rb = run(p, 2, 2, seconds);
			double rc = run(p, 1, 2, seconds);

			printf("  round %d: A %.0f  B %.0f  C %.0f pairs/s\n", r + 1, ra, rb, rc);
			a = ra > a ? ra : a;
			b = rb > b ? rb : b;
			c = rc > c ? rc : c;
		}
		printf("  A 1 thread, 1 parent:   %10.0f create+remove pairs/s\n", a);
		printf("  B 2 threads, 2 parents: %10.0f pairs/s  ratio B/A %.2f\n", b, b / a);
		printf("  C 2 threads, 1 parent:  %10.0f pairs/s  ratio C/A %.2f\n", c, c / a);
	}
	umdev_unregister_parent(&p[1].parent);
	umdev_unregister_parent(&p[0].parent);
	umdev_unregister_driver(&bench_driver);
	return 0;
}
