// SPDX-License-Identifier: MIT
/* Core remove (mdev.md §4.2, R1-R6) through the C API, with recording hooks. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "test_core_fixture.h"

#define T0 tdrv_type(f->t[0])
#define T1 tdrv_type(f->t[1])

struct op {
	uuid_t uuid;
	int ret;
};

static void *remove_thread(void *arg)
{
	struct op *op = arg;

	op->ret = umdev_mdev_remove(&op->uuid);
	return NULL;
}

static void test_M44_remove_of_unknown_uuid_is_enodev(void **state)
{
	struct fx *f = *state;
	unsigned int recs;
	uuid_t u1, u2;

	fx_uuid(u1, 1);
	fx_uuid(u2, 2);
	assert_int_equal(umdev_mdev_remove(&u2), -ENODEV); /* empty table */
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	recs = fx_nr_recs();
	assert_int_equal(umdev_mdev_remove(&u2), -ENODEV);
	assert_int_equal(fx_nr_recs(), recs); /* nothing touched */
	assert_true(fx_active(&u1));
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 0);
	assert_int_equal(tdrv_calls(f->t[1], TDRV_REMOVE), 0);
	assert_int_equal(fx_available(T0), 15);
	assert_int_equal(umdev__core_nr_mdevs(), 1);
	assert_int_equal(umdev_mdev_remove(&u1), 0);
}

static void test_M38_remove_unpublishes_detaches_then_calls_remove_once(void **state)
{
	struct fx *f = *state;
	unsigned int from, vfio;
	struct fx_rec r;
	uuid_t u1;

	fx_uuid(u1, 1);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	vfio = fx_mdev_vfio_index(&u1);
	assert_true(fx_vfio_taken(vfio));
	from = fx_nr_recs();

	assert_int_equal(umdev_mdev_remove(&u1), 0);

	/* R3 unpublish, R4 vfio detach (before vendor remove), nothing else */
	assert_int_equal(fx_nr_recs(), from + 2);
	r = fx_rec_at(from);
	assert_int_equal(r.kind, FX_MDEV_UNPUBLISH);
	assert_memory_equal(r.uuid, u1, sizeof(uuid_t));
	r = fx_rec_at(from + 1);
	assert_int_equal(r.kind, FX_VFIO_DETACH);
	assert_int_equal(r.index, vfio);
	assert_int_equal(r.remove_calls, 0); /* vendor remove runs after the detach */
	assert_false(r.group_taken); /* R3 freed the group: the mirror of C8 (C7 < C8) */
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 1);
	assert_int_equal(tdrv_live(f->t[0]), 0);
	/* GONE when remove returns: counter restored, UUID and vfio index free */
	assert_int_equal(fx_available(T0), 16);
	assert_false(fx_vfio_taken(vfio));
	assert_false(fx_active(&u1));
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_int_equal(fx_published(), 0);

	assert_int_equal(umdev_mdev_remove(&u1), -ENODEV);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 1); /* exactly once */
}

/*
 * Issue 8 defect 3 (§2.2, §6.6, M-40): a remove of an mdev whose nodes C9 has just published
 * (a `remove` write can reach it from here) must not fail with EAGAIN, which §2.2 gives only
 * while RESERVED or REMOVING. The test point stops the create between the publish and the
 * mark that makes the mdev removable; a remover started there either failed at once (EAGAIN,
 * before the fix) or waits for C9 to finish, then removes the mdev.
 */
static struct {
	uuid_t uuid;
	struct op rm;
	struct fx_thread *t;
	atomic_bool waiting;
	bool done_in_point;
} d3;

static void d3_point(enum umdev_test_point point, const uuid_t *uuid)
{
	uint64_t start;

	if (uuid_compare(*uuid, d3.uuid) != 0)
		return;
	if (point == UMDEV_TEST_REMOVE_WAIT_PUBLISHED) {
		atomic_store(&d3.waiting, true); /* list_lock held: only a flag */
		return;
	}
	if (point != UMDEV_TEST_CREATE_PUBLISHED)
		return;
	d3.t = fx_spawn(remove_thread, &d3.rm);
	start = fx_now_ms();
	while (!fx_done(d3.t) && !atomic_load(&d3.waiting) && fx_now_ms() - start < 5000)
		fx_sleep_ms(1);
	d3.done_in_point = fx_done(d3.t);
}

static void test_M40_remove_of_a_just_published_mdev_is_not_eagain(void **state)
{
	struct fx *f = *state;

	memset(&d3, 0, sizeof(d3));
	fx_uuid(d3.uuid, 3);
	uuid_copy(d3.rm.uuid, d3.uuid);
	fx_on_point(d3_point);

	assert_int_equal(umdev_mdev_create(T0, &d3.uuid), 0);
	fx_join(d3.t, 5000);
	fx_on_point(NULL);

	assert_int_equal(d3.rm.ret, 0);
	assert_false(d3.done_in_point); /* it waited for C9 to end */
	assert_int_equal(fx_count(FX_MDEV_PUBLISH, &d3.uuid), 1);
	assert_int_equal(fx_count(FX_MDEV_UNPUBLISH, &d3.uuid), 1);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 1);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_int_equal(fx_available(T0), 16);
}

static void test_M45_freed_uuid_reusable_on_other_parent(void **state)
{
	struct fx *f = *state;
	uuid_t u1;

	fx_uuid(u1, 1);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	assert_int_equal(umdev_mdev_remove(&u1), 0);
	assert_int_equal(umdev_mdev_create(T1, &u1), 0); /* immediately */
	assert_int_equal(fx_available(T0), 16);
	assert_int_equal(fx_available(T1), 15);
	assert_int_equal(tdrv_live(f->t[1]), 1);
	assert_int_equal(umdev_mdev_remove(&u1), 0);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 1);
	assert_int_equal(tdrv_calls(f->t[1], TDRV_REMOVE), 1);
}

/* C API form of M-40/M-41: the second remover gets EAGAIN, then ENODEV once GONE. */
static void test_M40_concurrent_remove_of_one_mdev_is_eagain_then_enodev(void **state)
{
	struct fx *f = *state;
	struct op a;
	struct fx_thread *t;
	uuid_t u2;

	fx_uuid(a.uuid, 1);
	fx_uuid(u2, 2);
	assert_int_equal(umdev_mdev_create(T0, &a.uuid), 0);
	tdrv_gate_close(f->t[0], TDRV_REMOVE);
	t = fx_spawn(remove_thread, &a);
	tdrv_gate_wait_blocked(f->t[0], TDRV_REMOVE, 1);

	/* REMOVING */
	assert_int_equal(umdev_mdev_remove(&a.uuid), -EAGAIN);
	assert_int_equal(umdev_mdev_create(T1, &a.uuid), -EEXIST);
	assert_int_equal(umdev_mdev_create(T0, &a.uuid), -EEXIST);
	assert_int_equal(fx_available(T0), 15); /* still counted (M-41) */
	assert_false(fx_active(&a.uuid));
	assert_int_equal(fx_count(FX_MDEV_UNPUBLISH, &a.uuid), 1); /* R3 done */
	assert_int_equal(fx_count(FX_VFIO_DETACH, &a.uuid), 1); /* R4 done */
	/* other parents and other mdevs of t0 do not wait */
	assert_int_equal(umdev_mdev_create(T1, &u2), 0);
	assert_int_equal(fx_available(T1), 15);
	assert_false(fx_done(t));

	tdrv_gate_open(f->t[0], TDRV_REMOVE);
	fx_join(t, 5000);
	assert_int_equal(a.ret, 0);
	assert_int_equal(umdev_mdev_remove(&a.uuid), -ENODEV);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 1);
	assert_int_equal(fx_available(T0), 16);
	assert_int_equal(fx_count(FX_MDEV_UNPUBLISH, &a.uuid), 1);
	assert_int_equal(umdev_mdev_remove(&u2), 0);
}

static void test_M52_removes_on_one_parent_run_concurrently(void **state)
{
	struct fx *f = *state;
	struct op ops[4];
	struct fx_thread *t[4];
	unsigned int i;

	for (i = 0; i < 4; i++) {
		fx_uuid(ops[i].uuid, i + 1);
		assert_int_equal(umdev_mdev_create(T0, &ops[i].uuid), 0);
	}
	tdrv_gate_close(f->t[0], TDRV_REMOVE);
	for (i = 0; i < 4; i++)
		t[i] = fx_spawn(remove_thread, &ops[i]);
	tdrv_gate_wait_blocked(f->t[0], TDRV_REMOVE, 4); /* all four inside remove at once */
	tdrv_gate_open(f->t[0], TDRV_REMOVE);
	for (i = 0; i < 4; i++) {
		fx_join(t[i], 5000);
		assert_int_equal(ops[i].ret, 0);
	}
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 4);
	assert_int_equal(fx_available(T0), 16);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
}

/* R6: RELEASE waits until every reference is dropped; the mdev is invisible meanwhile. */
static void test_R6_release_waits_for_references(void **state)
{
	struct fx *f = *state;
	struct umdev_mdev *m;
	struct fx_thread *t;
	struct op a;

	fx_uuid(a.uuid, 1);
	assert_int_equal(umdev_mdev_create(T0, &a.uuid), 0);
	m = umdev_mdev_get(&a.uuid); /* put below, while remove waits */
	assert_non_null(m);
	t = fx_spawn(remove_thread, &a);
	while (fx_count(FX_VFIO_DETACH, &a.uuid) == 0) /* R3, R4 done */
		fx_sleep_ms(1);
	fx_sleep_ms(100);
	assert_false(fx_done(t)); /* waiting for our reference (before or after vendor remove) */
	assert_false(fx_active(&a.uuid));
	assert_memory_equal(umdev_mdev_uuid(m), a.uuid, sizeof(uuid_t)); /* memory still valid */
	assert_int_equal(umdev_mdev_remove(&a.uuid), -EAGAIN); /* still REMOVING */
	umdev_mdev_put(m);
	fx_join(t, 5000);
	assert_int_equal(a.ret, 0);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 1);
	assert_int_equal(fx_available(T0), 16);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
}

/* The core side of M-39: an mdev is named by (uuid, serial); a reused UUID is another mdev. */
static void test_M39_stale_serial_is_enodev(void **state)
{
	struct fx *f = *state;
	struct umdev_mdev *m;
	uint64_t old, cur;
	uuid_t u1;

	fx_uuid(u1, 1);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	m = umdev_mdev_get(&u1);
	assert_non_null(m);
	old = umdev__mdev_serial(m);
	umdev_mdev_put(m);
	assert_int_equal(umdev__mdev_remove_serial(&u1, old), 0);
	assert_int_equal(umdev__mdev_remove_serial(&u1, old), -ENODEV);
	assert_null(umdev__mdev_get_serial(&u1, old));

	assert_int_equal(umdev_mdev_create(T1, &u1), 0); /* same UUID, new mdev */
	m = umdev_mdev_get(&u1);
	assert_non_null(m);
	cur = umdev__mdev_serial(m);
	umdev_mdev_put(m);
	assert_true(cur != old);
	assert_null(umdev__mdev_get_serial(&u1, old));
	assert_int_equal(umdev__mdev_remove_serial(&u1, old), -ENODEV);
	assert_true(fx_active(&u1)); /* the stale remove did not touch the new mdev */
	assert_int_equal(tdrv_calls(f->t[1], TDRV_REMOVE), 0);
	m = umdev__mdev_get_serial(&u1, cur);
	assert_non_null(m);
	umdev_mdev_put(m);
	assert_int_equal(umdev__mdev_remove_serial(&u1, cur), 0);
	assert_int_equal(tdrv_calls(f->t[1], TDRV_REMOVE), 1);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
}

static void test_remove_all_removes_newest_first(void **state)
{
	struct fx *f = *state;
	unsigned int i, from;
	uuid_t u[3];
	int at;

	for (i = 0; i < 3; i++) {
		fx_uuid(u[i], i + 1);
		assert_int_equal(umdev_mdev_create(i == 1 ? T1 : T0, &u[i]), 0);
	}
	from = fx_nr_recs();
	assert_int_equal(umdev_core_remove_all(), 3);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	at = fx_find(from, FX_MDEV_UNPUBLISH, &u[2]);
	assert_true(at >= 0);
	at = fx_find((unsigned int)at, FX_MDEV_UNPUBLISH, &u[1]);
	assert_true(at >= 0);
	assert_true(fx_find((unsigned int)at, FX_MDEV_UNPUBLISH, &u[0]) >= 0);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 2);
	assert_int_equal(tdrv_calls(f->t[1], TDRV_REMOVE), 1);
	assert_int_equal(fx_available(T0), 16);
	assert_int_equal(fx_available(T1), 16);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_M44_remove_of_unknown_uuid_is_enodev),
	    T(test_M38_remove_unpublishes_detaches_then_calls_remove_once),
	    T(test_M45_freed_uuid_reusable_on_other_parent),
	    T(test_M40_concurrent_remove_of_one_mdev_is_eagain_then_enodev),
	    T(test_M52_removes_on_one_parent_run_concurrently),
	    T(test_R6_release_waits_for_references),
	    T(test_M39_stale_serial_is_enodev),
	    T(test_remove_all_removes_newest_first),
	    T(test_M40_remove_of_a_just_published_mdev_is_not_eagain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   M-38, M-39, M-40, M-44, M-45, M-52
 */
