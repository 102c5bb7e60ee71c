/* SPDX-License-Identifier: MIT */
/*
 * Fixture shared by the core unit tests (tests/unit/test_core_*.c): recording tree, vfio and
 * test hooks, fault injection on any hook that can fail (M-32, C8; fx_fail(), and the
 * fault walk's points of tests/fault), a log sink that counts
 * messages at warning level or above (M-20, M-31), and tdrv parents t0..t7.
 *
 * Every hook call is appended to one ordered record, so a test can check the exact sequence a
 * create, remove or (un)registration produced. The fixture's teardown checks what must hold
 * after every test: no mdev left, no node set leaked or published, no vfio index held, no tdrv
 * violation, no unexpected warning.
 */
#ifndef UMDEV_TEST_CORE_FIXTURE_H
#define UMDEV_TEST_CORE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hooks.h"
#include "tdrv.h"
#include "umdev/log.h"

#define FX_MAX_PARENTS 8
#define FX_NAME_MAX 72

enum fx_kind {
	FX_DRIVER_PUBLISH,
	FX_DRIVER_UNPUBLISH,
	FX_PARENT_PUBLISH,
	FX_BUS_LINK_PUBLISH,
	FX_BUS_LINK_UNPUBLISH,
	FX_PARENT_UNPUBLISH,
	FX_MDEV_PREPARE,
	FX_MDEV_PUBLISH,
	FX_MDEV_UNPUBLISH,
	FX_VFIO_REGISTER,
	FX_VFIO_DETACH,
	FX_TEST_BEFORE_BUS_LINK,
	FX_TEST_AFTER_BUS_UNLINK,
	FX_NR_KINDS,
};

/* One recorded hook call. */
struct fx_rec {
	enum fx_kind kind;
	uuid_t uuid; /* mdev and vfio hooks */
	char name[FX_NAME_MAX]; /* driver and parent hooks: driver or parent name */
	unsigned int index; /* vfio_register: N given; prepare: vfio N seen by the tree */
	unsigned int remove_calls; /* vfio hooks, prepare: vendor remove calls of the parent then */
	int ret; /* what a hook that can fail returned */
	bool group_taken; /* vfio_detach: the mdev's iommu group number still allocated */
};

struct fx {
	struct tdrv_parent *t[FX_MAX_PARENTS]; /* t0..; NULL once a test removed it */
	unsigned int nr_parents;
	bool real_vfio; /* the real vfio module numbers vfioN (M-46); no vfio records */
	bool tdrv; /* tdrv is registered; the teardown unregisters it (M-13 clears it) */
};

/* Setups (cmocka group of one test): tdrv registered with the options, parents t0..t<n-1>. */
int fx_setup(void **state); /* defaults, t0 and t1 */
int fx_setup_8(void **state); /* defaults, t0..t7 */
int fx_setup_max2(void **state); /* max_instances 2, t0 */
int fx_setup_max10(void **state); /* max_instances 10, t0 */
int fx_setup_managed(void **state); /* driver-managed, description, sample_attr; t0, t1 */
int fx_setup_real_vfio(void **state); /* defaults, t0 and t1, real vfio module */
int fx_setup_bare(void **state); /* hooks installed, nothing registered */
int fx_setup_with(void **state, const struct tdrv_options *opt, unsigned int nr_parents,
		  bool real_vfio);
/* Unregisters what is left and checks the end-of-test invariants; then umdev__core_reset(). */
int fx_teardown(void **state);

/* Fail every later call of hook @kind with @err (a negative errno); 0 stops failing. */
void fx_fail(enum fx_kind kind, int err);

/* The record: number of entries, one entry, entries of @kind (with @uuid if non-NULL). */
unsigned int fx_nr_recs(void);
struct fx_rec fx_rec_at(unsigned int i);
unsigned int fx_count(enum fx_kind kind, const uuid_t *uuid);
/* Index of the first record at or after @from of @kind (and @uuid if non-NULL), or -1. */
int fx_find(unsigned int from, enum fx_kind kind, const uuid_t *uuid);
/* Mdev node sets currently published / prepared and not yet published, unpublished or discarded. */
unsigned int fx_published(void);
unsigned int fx_outstanding_nodes(void);
/* Whether vfio index @n is held (fixture vfio hooks only). */
bool fx_vfio_taken(unsigned int n);

/* Messages logged at warning level or above since setup; the teardown expects @n. */
unsigned int fx_warnings(void);
unsigned int fx_errors(void);
void fx_expect_warnings(unsigned int n);

/* Test hooks (M-63): run @fn from the core's test hook after recording it; NULL: none. */
void fx_on_before_bus_link(void (*fn)(struct umdev_parent *parent));
void fx_on_after_bus_unlink(void (*fn)(struct umdev_parent *parent));
/*
 * Run @fn at each test point of the core (hooks.h, enum umdev_test_point) in the thread of
 * the operation; NULL: none. At the points where the core holds a lock, @fn must not block.
 */
void fx_on_point(void (*fn)(enum umdev_test_point point, const uuid_t *uuid));

/* Helpers. */
void fx_uuid(uuid_t out, unsigned int n); /* distinct fixed UUIDs U<n> */
int fx_available(const struct umdev_type *t); /* parsed available_instances, or -errno */
unsigned int fx_mdev_vfio_index(const uuid_t *uuid); /* via umdev_mdev_get(); UINT32_MAX none */
bool fx_active(const uuid_t *uuid); /* umdev_mdev_get() finds it */
struct tdrv_parent *fx_parent_of(const struct umdev_mdev *mdev); /* NULL: not a fixture parent */

/* Run @fn(@arg) in a new thread; fx_join() fails the test if it takes over @timeout_ms. */
struct fx_thread;
struct fx_thread *fx_spawn(void *(*fn)(void *), void *arg);
void *fx_join(struct fx_thread *t, unsigned int timeout_ms);
bool fx_done(struct fx_thread *t);
void fx_sleep_ms(unsigned int ms);
uint64_t fx_now_ms(void);

#endif
