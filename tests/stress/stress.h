/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the stress tests (tests/stress, suite `stress`, built and run under TSan):
 * tracking tree and vfio hooks (which UUIDs are published, which vfio indexes are held),
 * tdrv parents t0..t7, a hard watchdog, and CHECK() that prints what failed and exits.
 *
 * Every test is bounded in rounds and in time and prints what it checked.
 */
#ifndef UMDEV_TEST_STRESS_H
#define UMDEV_TEST_STRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hooks.h"
#include "tdrv.h"

#define ST_MAX_PARENTS 8
#define ST_MAX_UUIDS 65536

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			st_fail();                                                                 \
		}                                                                                  \
	} while (0)

/* Fail the test: run the hook set with st_set_fail_hook() (e.g. abort a FUSE connection, so
 * no thread stays blocked on our own mount), then _exit(1). */
void st_fail(void) __attribute__((noreturn));
void st_set_fail_hook(void (*fn)(void));

/* Install the tracking hooks and a watchdog of @timeout_s seconds (the process dies on hang). */
void st_begin(unsigned int timeout_s);
/* Register tdrv with @opt (NULL: defaults) and add parents t0..t<n-1> into @ret. */
void st_add_parents(const struct tdrv_options *opt, struct tdrv_parent **ret, unsigned int n);
/*
 * End: remove the parents left in @t (NULL entries skipped), unregister tdrv, and check that
 * no mdev, published node set, vfio index or tdrv violation is left; umdev__core_reset().
 */
void st_end(struct tdrv_parent **t, unsigned int n);

void st_uuid(uuid_t out, unsigned int n); /* U<n>, n < ST_MAX_UUIDS */
bool st_published(unsigned int n); /* whether U<n> is published */
unsigned int st_nr_published(void);
unsigned int st_nr_vfio(void); /* vfio indexes held */
unsigned int st_vfio_detaches(void); /* vfio_detach calls so far */
int st_available(struct umdev_type *t); /* parsed available_instances, or -errno */
/* The parent index (in @t) of the ACTIVE mdev U<n>, -1 if none. */
int st_parent_of(unsigned int n, struct tdrv_parent **t, unsigned int nr);

uint64_t st_now_ms(void);
void st_sleep_ms(unsigned int ms);
uint32_t st_rand(uint64_t *state); /* xorshift; per-thread state */

/*
 * Start @n threads running @fn(@args + i * @size) behind one barrier; join them all.
 * Return: milliseconds from the barrier's release to the last join (thread creation, slow
 * under TSan, is not counted).
 */
uint64_t st_run_threads(unsigned int n, void *(*fn)(void *), void *args, size_t size);

#endif
