// SPDX-License-Identifier: MIT
/*
 * Core create (mdev.md §4.1, C2-C9 and their unwinding) through the C API, with recording
 * hooks: every test checks the result and that nothing else changed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "test_core_fixture.h"

#define T0 tdrv_type(f->t[0])
#define T1 tdrv_type(f->t[1])

struct op {
	struct umdev_type *type;
	uuid_t uuid;
	int ret;
	pthread_barrier_t *start; /* NULL: go at once */
};

static void *create_thread(void *arg)
{
	struct op *op = arg;

	if (op->start)
		(void)pthread_barrier_wait(op->start);
	op->ret = umdev_mdev_create(op->type, &op->uuid);
	return NULL;
}

/* Snapshot of everything a failed or rejected create must leave alone. */
struct snap {
	unsigned int recs, nr_mdevs, probes[2], removes[2], live[2];
	int avail[2];
};

static struct snap take(struct fx *f)
{
	struct snap s = {.recs = fx_nr_recs(), .nr_mdevs = umdev__core_nr_mdevs()};
	unsigned int i;

	for (i = 0; i < 2 && i < f->nr_parents; i++) {
		s.probes[i] = tdrv_calls(f->t[i], TDRV_PROBE);
		s.removes[i] = tdrv_calls(f->t[i], TDRV_REMOVE);
		s.live[i] = tdrv_live(f->t[i]);
		s.avail[i] = fx_available(tdrv_type(f->t[i]));
	}
	return s;
}

/* Everything but t0's probe count (the create under test may have called probe) unchanged. */
static void assert_unchanged_but_probe(struct fx *f, const struct snap *s, unsigned int nr_recs)
{
	struct snap now = take(f);
	unsigned int i;

	assert_int_equal(now.recs, s->recs + nr_recs);
	assert_int_equal(now.nr_mdevs, s->nr_mdevs);
	for (i = 0; i < 2 && i < f->nr_parents; i++) {
		assert_int_equal(now.live[i], s->live[i]);
		assert_int_equal(now.avail[i], s->avail[i]);
		if (i > 0) {
			assert_int_equal(now.probes[i], s->probes[i]);
			assert_int_equal(now.removes[i], s->removes[i]);
		}
	}
}

/* ---- C2: duplicate UUIDs ---- */

static void test_M20_same_uuid_any_parent_is_eexist(void **state)
{
	struct fx *f = *state;
	unsigned int vfio;
	struct snap s;
	uuid_t u1;

	fx_uuid(u1, 1);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	vfio = fx_mdev_vfio_index(&u1);
	s = take(f);

	assert_int_equal(umdev_mdev_create(T0, &u1), -EEXIST); /* same type */
	assert_int_equal(umdev_mdev_create(T1, &u1), -EEXIST); /* another parent */

	assert_unchanged_but_probe(f, &s, 0); /* no hook call: nothing was touched */
	assert_int_equal(tdrv_calls(f->t[0], TDRV_PROBE), s.probes[0]);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 0);
	assert_true(fx_active(&u1)); /* the existing device is untouched */
	assert_int_equal(fx_mdev_vfio_index(&u1), vfio);
	assert_int_equal(fx_warnings(), 0); /* no log at warning level or above */
	assert_int_equal(umdev_mdev_remove(&u1), 0);
}

static void test_M21_uuid_compared_as_bytes(void **state)
{
	struct fx *f = *state;
	uuid_t u1, upper;
	struct snap s;

	fx_uuid(u1, 1);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	/* the upper-case spelling parses to the same 16 bytes, in another buffer */
	assert_int_equal(uuid_parse("6F1A0000-0000-4000-8000-000000000001", upper), 0);
	assert_memory_equal(upper, u1, sizeof(uuid_t));
	s = take(f);
	assert_int_equal(umdev_mdev_create(T1, &upper), -EEXIST);
	assert_unchanged_but_probe(f, &s, 0);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_PROBE), s.probes[0]);
	assert_int_equal(umdev_mdev_remove(&upper), 0);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
}

/* ---- C3: core-managed accounting ---- */

/* A driver of its own with two types on one parent (tdrv has one type). */
static atomic_uint two_probes, two_removes;

static int two_probe(struct umdev_mdev *mdev)
{
	(void)mdev;
	atomic_fetch_add(&two_probes, 1);
	return 0;
}

static void two_remove(struct umdev_mdev *mdev)
{
	(void)mdev;
	atomic_fetch_add(&two_removes, 1);
}

static void test_M27_counter_shared_by_types_eusers_at_zero(void **state)
{
	struct umdev_driver drv = {.name = "two",
				   .device_api = "vfio-pci",
				   .max_instances = 2,
				   .probe = two_probe,
				   .remove = two_remove};
	struct umdev_type x = {.sysfs_name = "x"}, y = {.sysfs_name = "y"};
	struct umdev_type *types[] = {&x, &y};
	struct umdev_parent parent = {0};
	uuid_t u1, u2, u3;
	unsigned int recs;

	(void)state;
	atomic_store(&two_probes, 0);
	atomic_store(&two_removes, 0);
	fx_uuid(u1, 1);
	fx_uuid(u2, 2);
	fx_uuid(u3, 3);
	assert_int_equal(umdev_register_driver(&drv), 0);
	assert_int_equal(umdev_register_parent(&parent, "p2", NULL, &drv, types, 2), 0);
	assert_int_equal(fx_available(&x), 2);
	assert_int_equal(fx_available(&y), 2);

	assert_int_equal(umdev_mdev_create(&x, &u1), 0);
	assert_int_equal(fx_available(&x), 1);
	assert_int_equal(fx_available(&y), 1); /* one counter per parent */
	assert_int_equal(umdev_mdev_create(&y, &u2), 0);
	assert_int_equal(fx_available(&x), 0);
	assert_int_equal(fx_available(&y), 0);

	recs = fx_nr_recs();
	assert_int_equal(umdev_mdev_create(&x, &u3), -EUSERS);
	assert_int_equal(umdev_mdev_create(&y, &u3), -EUSERS);
	assert_int_equal(atomic_load(&two_probes), 2); /* C3 fails before probe */
	assert_int_equal(fx_nr_recs(), recs);
	assert_int_equal(umdev__core_nr_mdevs(), 2);
	assert_int_equal(fx_available(&x), 0);

	assert_int_equal(umdev_mdev_remove(&u1), 0);
	assert_int_equal(fx_available(&x), 1);
	assert_int_equal(fx_available(&y), 1);
	assert_int_equal(umdev_mdev_create(&y, &u3), 0); /* the freed instance is usable */
	assert_int_equal(fx_available(&x), 0);

	umdev_unregister_parent(&parent);
	assert_int_equal(atomic_load(&two_removes), 3);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_int_equal(umdev_unregister_driver(&drv), 0);
}

static void test_M28_eexist_takes_precedence_over_eusers(void **state)
{
	struct fx *f = *state; /* max_instances 2, t0 */
	uuid_t u1, u2, u3;
	unsigned int recs, probes;

	fx_uuid(u1, 1);
	fx_uuid(u2, 2);
	fx_uuid(u3, 3);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	assert_int_equal(umdev_mdev_create(T0, &u2), 0);
	assert_int_equal(fx_available(T0), 0);
	recs = fx_nr_recs();
	probes = tdrv_calls(f->t[0], TDRV_PROBE);

	assert_int_equal(umdev_mdev_create(T0, &u1), -EEXIST);
	assert_int_equal(umdev_mdev_create(T0, &u3), -EUSERS);

	assert_int_equal(tdrv_calls(f->t[0], TDRV_PROBE), probes);
	assert_int_equal(fx_nr_recs(), recs);
	assert_int_equal(fx_available(T0), 0);
	assert_int_equal(umdev__core_nr_mdevs(), 2);
	assert_false(fx_active(&u3));
}

/* ---- C6: vendor probe errors ---- */

/* One failing create of @u on t0 whose probe returns @probe_ret: expect @want, state intact. */
static void failing_probe(struct fx *f, const uuid_t *u, int probe_ret, int want)
{
	struct snap s = take(f);

	tdrv_set_probe_result(f->t[0], probe_ret);
	assert_int_equal(umdev_mdev_create(T0, u), want);
	tdrv_set_probe_result(f->t[0], 0);

	/* C6 failure: no vfio or tree call at all, remove never called (I-4) */
	assert_unchanged_but_probe(f, &s, 0);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_PROBE), s.probes[0] + 1);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), s.removes[0]);
	assert_false(fx_active(u));
	assert_int_equal(umdev_mdev_remove(u), -ENODEV); /* RELEASE freed the UUID */
}

static void test_M29_probe_errno_passes_through(void **state)
{
	struct fx *f = *state;
	uuid_t u1;

	fx_uuid(u1, 1);
	failing_probe(f, &u1, -EBADMSG, -EBADMSG); /* not EBUSY */
	assert_int_equal(fx_available(T0), 16);
	assert_int_equal(fx_count(FX_VFIO_REGISTER, NULL), 0);
	assert_int_equal(fx_count(FX_MDEV_PREPARE, NULL), 0);

	/* M-33: with the fault removed the same UUID creates */
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	assert_true(fx_active(&u1));
	assert_int_equal(fx_mdev_vfio_index(&u1), 0);
	assert_int_equal(umdev_mdev_remove(&u1), 0);
}

static void test_M30_every_probe_errno_is_returned_unchanged(void **state)
{
	static const int errs[] = {EINVAL, ENOMEM, ENOSPC, EIO, EPERM, EBADMSG, EAGAIN, ENODEV};
	struct fx *f = *state;
	unsigned int i;
	uuid_t u1;

	fx_uuid(u1, 1);
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		failing_probe(f, &u1, -errs[i], -errs[i]);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_PROBE), sizeof(errs) / sizeof(errs[0]));
	assert_int_equal(umdev_mdev_create(T0, &u1), 0); /* M-33 */
	assert_int_equal(umdev_mdev_remove(&u1), 0);
}

static void test_M31_bogus_probe_result_is_eio_and_logged(void **state)
{
	static const int bogus[] = {5, 1, -4096, -100000};
	struct fx *f = *state;
	unsigned int i;
	uuid_t u1;

	fx_uuid(u1, 1);
	for (i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++) {
		unsigned int errs = fx_errors();

		failing_probe(f, &u1, bogus[i], -EIO);
		assert_int_equal(fx_errors(), errs + 1); /* a driver bug: logged at error level */
	}
	fx_expect_warnings(sizeof(bogus) / sizeof(bogus[0]));
	assert_int_equal(fx_available(T0), 16);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0); /* M-33 */
	assert_int_equal(umdev_mdev_remove(&u1), 0);
}

/* ---- C7, C8: faults injected into the hooks ---- */

static void test_M32_vfio_register_failure_unwinds_vendor_remove_once(void **state)
{
	struct fx *f = *state;
	struct fx_rec r;
	struct snap s;
	uuid_t u1;

	fx_uuid(u1, 1);
	s = take(f);
	fx_fail(FX_VFIO_REGISTER, -ENOMEM);
	assert_int_equal(umdev_mdev_create(T0, &u1), -ENOMEM);
	fx_fail(FX_VFIO_REGISTER, 0);

	/* exactly one hook call, the failed vfio_register; no tree call, no detach */
	assert_unchanged_but_probe(f, &s, 1);
	r = fx_rec_at(s.recs);
	assert_int_equal(r.kind, FX_VFIO_REGISTER);
	assert_memory_equal(r.uuid, u1, sizeof(uuid_t));
	assert_int_equal(r.remove_calls, 0);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_PROBE), 1);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 1); /* undo of C6, once */
	assert_int_equal(tdrv_live(f->t[0]), 0);
	assert_int_equal(fx_available(T0), 16);
	assert_false(fx_vfio_taken(0));
	assert_false(fx_active(&u1));

	/* M-33 */
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	assert_int_equal(fx_mdev_vfio_index(&u1), 0);
	assert_int_equal(umdev_mdev_remove(&u1), 0);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 2);
}

static void test_C8_prepare_failure_detaches_vfio_then_removes(void **state)
{
	struct fx *f = *state;
	struct fx_rec r;
	struct snap s;
	struct umdev_mdev *m;
	uuid_t u1;

	fx_uuid(u1, 1);
	s = take(f);
	fx_fail(FX_MDEV_PREPARE, -ENOMEM);
	assert_int_equal(umdev_mdev_create(T0, &u1), -ENOMEM);
	fx_fail(FX_MDEV_PREPARE, 0);

	/* exact reverse unwind: register, prepare (fails), detach; vendor remove after detach */
	assert_unchanged_but_probe(f, &s, 3);
	r = fx_rec_at(s.recs);
	assert_int_equal(r.kind, FX_VFIO_REGISTER);
	assert_int_equal(r.ret, 0);
	r = fx_rec_at(s.recs + 1);
	assert_int_equal(r.kind, FX_MDEV_PREPARE);
	assert_int_equal(r.ret, -ENOMEM);
	assert_memory_equal(r.uuid, u1, sizeof(uuid_t));
	r = fx_rec_at(s.recs + 2);
	assert_int_equal(r.kind, FX_VFIO_DETACH);
	assert_memory_equal(r.uuid, u1, sizeof(uuid_t));
	assert_int_equal(r.remove_calls, 0); /* vendor remove not yet called at detach */
	assert_false(r.group_taken); /* the group (C8) was freed before the detach (C7) */
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 1);
	assert_int_equal(tdrv_live(f->t[0]), 0);
	assert_int_equal(fx_outstanding_nodes(), 0); /* the failed prepare left nothing */
	assert_int_equal(fx_count(FX_MDEV_PUBLISH, NULL), 0);
	assert_false(fx_vfio_taken(0));
	assert_int_equal(fx_available(T0), 16);

	/* M-33: recreate; vfio index and iommu group of the failed attempt were freed */
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	m = umdev_mdev_get(&u1);
	assert_non_null(m);
	assert_int_equal(umdev_mdev_vfio_index(m), 0);
	assert_int_equal(umdev__mdev_iommu_group(m), 0);
	umdev_mdev_put(m);
	assert_int_equal(umdev_mdev_remove(&u1), 0);
}

static void test_C9_success_sequence_register_prepare_publish(void **state)
{
	struct fx *f = *state;
	unsigned int from = fx_nr_recs();
	struct fx_rec r;
	uuid_t u1, u2;

	fx_uuid(u1, 1);
	fx_uuid(u2, 2);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	assert_int_equal(umdev_mdev_create(T1, &u2), 0);
	assert_int_equal(fx_nr_recs(), from + 6);
	r = fx_rec_at(from);
	assert_int_equal(r.kind, FX_VFIO_REGISTER);
	assert_int_equal(r.index, 0);
	r = fx_rec_at(from + 1);
	assert_int_equal(r.kind, FX_MDEV_PREPARE);
	assert_int_equal(r.index, 0); /* the tree sees the vfio index allocated at C7 */
	r = fx_rec_at(from + 2);
	assert_int_equal(r.kind, FX_MDEV_PUBLISH);
	assert_memory_equal(r.uuid, u1, sizeof(uuid_t));
	r = fx_rec_at(from + 4);
	assert_int_equal(r.kind, FX_MDEV_PREPARE);
	assert_int_equal(r.index, 1);
	assert_int_equal(fx_published(), 2);
	assert_int_equal(fx_available(T0), 15);
	assert_int_equal(fx_available(T1), 15);
	assert_int_equal(tdrv_live(f->t[0]), 1);
	assert_int_equal(umdev__core_nr_mdevs(), 2);
	assert_int_equal(umdev_mdev_remove(&u1), 0);
	assert_int_equal(umdev_mdev_remove(&u2), 0);
}

/* ---- concurrency at the C API ---- */

static void test_M42_remove_while_probe_gated_is_eagain(void **state)
{
	struct fx *f = *state;
	struct op op = {.type = T0};
	struct fx_thread *t;
	uuid_t u2;

	fx_uuid(op.uuid, 1);
	fx_uuid(u2, 2);
	tdrv_gate_close(f->t[0], TDRV_PROBE);
	t = fx_spawn(create_thread, &op);
	tdrv_gate_wait_blocked(f->t[0], TDRV_PROBE, 1);

	/* RESERVED: not published (M-43), invisible to get, remove EAGAIN, create EEXIST */
	assert_int_equal(umdev_mdev_remove(&op.uuid), -EAGAIN);
	assert_false(fx_active(&op.uuid));
	assert_int_equal(fx_count(FX_MDEV_PUBLISH, &op.uuid), 0);
	assert_int_equal(fx_count(FX_VFIO_REGISTER, &op.uuid), 0);
	assert_int_equal(umdev_mdev_create(T1, &op.uuid), -EEXIST);
	assert_int_equal(fx_available(T0), 15); /* counts from C4 */
	assert_int_equal(umdev__core_nr_mdevs(), 1);
	/* other creates do not wait for the gated one */
	assert_int_equal(umdev_mdev_create(T1, &u2), 0);
	assert_int_equal(umdev_mdev_remove(&u2), 0);
	assert_false(fx_done(t));

	tdrv_gate_open(f->t[0], TDRV_PROBE);
	fx_join(t, 5000);
	assert_int_equal(op.ret, 0);
	assert_true(fx_active(&op.uuid));
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 0); /* the EAGAIN did nothing */
	assert_int_equal(umdev_mdev_remove(&op.uuid), 0);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_REMOVE), 1);
	assert_int_equal(fx_available(T0), 16);
}

static void test_M51_probes_on_one_parent_run_concurrently(void **state)
{
	struct fx *f = *state;
	struct op ops[4];
	struct fx_thread *t[4];
	unsigned int i;

	for (i = 0; i < 4; i++) {
		ops[i] = (struct op){.type = T0};
		fx_uuid(ops[i].uuid, i + 1);
	}
	tdrv_gate_close(f->t[0], TDRV_PROBE);
	for (i = 0; i < 4; i++)
		t[i] = fx_spawn(create_thread, &ops[i]);
	/* all four are inside probe at once: no per-parent serialization (§3.2) */
	tdrv_gate_wait_blocked(f->t[0], TDRV_PROBE, 4);
	assert_int_equal(fx_available(T0), 12);
	tdrv_gate_open(f->t[0], TDRV_PROBE);
	for (i = 0; i < 4; i++) {
		fx_join(t[i], 5000);
		assert_int_equal(ops[i].ret, 0);
	}
	assert_int_equal(tdrv_live(f->t[0]), 4);
	assert_int_equal(fx_published(), 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(umdev_mdev_remove(&ops[i].uuid), 0);
}

static void test_M54_fifty_creates_on_ten_instances(void **state)
{
	struct fx *f = *state; /* max_instances 10 */
	struct op ops[50];
	struct fx_thread *t[50];
	pthread_barrier_t start;
	unsigned int i, ok = 0, eusers = 0;

	assert_int_equal(pthread_barrier_init(&start, NULL, 50), 0);
	for (i = 0; i < 50; i++) {
		ops[i] = (struct op){.type = T0, .start = &start};
		fx_uuid(ops[i].uuid, i + 1);
		t[i] = fx_spawn(create_thread, &ops[i]);
	}
	for (i = 0; i < 50; i++) {
		fx_join(t[i], 10000);
		if (ops[i].ret == 0)
			ok++;
		else if (ops[i].ret == -EUSERS)
			eusers++;
		else
			fail_msg("create %u: unexpected %d", i, ops[i].ret);
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(ok, 10);
	assert_int_equal(eusers, 40);
	assert_int_equal(fx_available(T0), 0);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_PROBE), 10); /* EUSERS never reaches probe */
	assert_int_equal(umdev__core_nr_mdevs(), 10);
	for (i = 0; i < 50; i++)
		if (ops[i].ret == 0)
			assert_int_equal(umdev_mdev_remove(&ops[i].uuid), 0);
	assert_int_equal(fx_available(T0), 10);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
}

/* M-78: probe of U1 on t0 creates U2 on t1, reads t1's available and looks U1 up. */
struct nested {
	struct fx *f;
	uuid_t u2;
	int create_ret, avail, remove_ret;
	bool self_visible;
};

static void nested_probe_hook(struct umdev_mdev *mdev, void *arg)
{
	struct nested *n = arg;
	struct umdev_mdev *self;

	n->create_ret = umdev_mdev_create(tdrv_type(n->f->t[1]), &n->u2);
	n->avail = fx_available(tdrv_type(n->f->t[1]));
	self = umdev_mdev_get(umdev_mdev_uuid(mdev)); /* RESERVED: invisible */
	n->self_visible = self != NULL;
	umdev_mdev_put(self);
	n->remove_ret = umdev_mdev_remove(umdev_mdev_uuid(mdev)); /* RESERVED: -EAGAIN */
}

static void test_M78_probe_may_call_into_the_core(void **state)
{
	struct fx *f = *state;
	struct nested n = {.f = f, .create_ret = 1, .avail = -1, .remove_ret = 1};
	struct op op = {.type = T0};
	struct fx_thread *t;

	fx_uuid(op.uuid, 1);
	fx_uuid(n.u2, 2);
	tdrv_set_probe_hook(f->t[0], nested_probe_hook, &n);
	t = fx_spawn(create_thread, &op);
	fx_join(t, 5000); /* no deadlock: no core lock is held during probe */
	tdrv_set_probe_hook(f->t[0], NULL, NULL);

	assert_int_equal(op.ret, 0);
	assert_int_equal(n.create_ret, 0);
	assert_int_equal(n.avail, 15);
	assert_false(n.self_visible);
	assert_int_equal(n.remove_ret, -EAGAIN);
	assert_true(fx_active(&op.uuid));
	assert_true(fx_active(&n.u2));
	assert_int_equal(umdev__core_nr_mdevs(), 2);
	assert_int_equal(umdev_mdev_remove(&op.uuid), 0);
	assert_int_equal(umdev_mdev_remove(&n.u2), 0);
}

/* ---- vfio numbering through the real vfio module, iommu groups ---- */

static void test_M46_vfio_index_lowest_free_shared_by_parents(void **state)
{
	struct fx *f = *state; /* real vfio module */
	uuid_t u[6];
	unsigned int i;

	for (i = 0; i < 6; i++)
		fx_uuid(u[i], i + 1);
	assert_int_equal(umdev_mdev_create(T0, &u[0]), 0);
	assert_int_equal(fx_mdev_vfio_index(&u[0]), 0); /* first device: vfio0 */
	assert_int_equal(umdev_mdev_create(T1, &u[1]), 0);
	assert_int_equal(fx_mdev_vfio_index(&u[1]), 1); /* next: vfio1, whatever the parent */
	assert_int_equal(umdev_mdev_remove(&u[0]), 0);
	assert_int_equal(umdev_mdev_create(T1, &u[2]), 0);
	assert_int_equal(fx_mdev_vfio_index(&u[2]), 0); /* lowest free again */

	/* a failed create holds no index afterwards */
	tdrv_set_probe_result(f->t[0], -EIO);
	assert_int_equal(umdev_mdev_create(T0, &u[3]), -EIO);
	tdrv_set_probe_result(f->t[0], 0);
	assert_int_equal(umdev_mdev_create(T0, &u[4]), 0);
	assert_int_equal(fx_mdev_vfio_index(&u[4]), 2);

	assert_int_equal(umdev_mdev_remove(&u[1]), 0);
	assert_int_equal(umdev_mdev_remove(&u[2]), 0);
	assert_int_equal(umdev_mdev_remove(&u[4]), 0);
	assert_int_equal(umdev_mdev_create(T0, &u[5]), 0);
	assert_int_equal(fx_mdev_vfio_index(&u[5]), 0);
	assert_int_equal(umdev_mdev_remove(&u[5]), 0);
}

static unsigned int iommu_group_of(const uuid_t *u)
{
	struct umdev_mdev *m = umdev_mdev_get(u);
	unsigned int g;

	assert_non_null(m);
	g = umdev__mdev_iommu_group(m);
	umdev_mdev_put(m);
	return g;
}

static void test_M49_iommu_group_lowest_free(void **state)
{
	struct fx *f = *state;
	uuid_t u[4];
	unsigned int i;

	for (i = 0; i < 4; i++)
		fx_uuid(u[i], i + 1);
	assert_int_equal(umdev_mdev_create(T0, &u[0]), 0);
	assert_int_equal(umdev_mdev_create(T1, &u[1]), 0);
	assert_int_equal(iommu_group_of(&u[0]), 0);
	assert_int_equal(iommu_group_of(&u[1]), 1);
	assert_int_equal(umdev_mdev_remove(&u[0]), 0);
	fx_fail(FX_MDEV_PREPARE, -ENOMEM); /* C8 failure frees its group */
	assert_int_equal(umdev_mdev_create(T0, &u[2]), -ENOMEM);
	fx_fail(FX_MDEV_PREPARE, 0);
	assert_int_equal(umdev_mdev_create(T0, &u[3]), 0);
	assert_int_equal(iommu_group_of(&u[3]), 0);
	assert_int_equal(umdev_mdev_remove(&u[1]), 0);
	assert_int_equal(umdev_mdev_remove(&u[3]), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_M20_same_uuid_any_parent_is_eexist),
	    T(test_M21_uuid_compared_as_bytes),
	    cmocka_unit_test_setup_teardown(test_M27_counter_shared_by_types_eusers_at_zero,
					    fx_setup_bare, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_M28_eexist_takes_precedence_over_eusers,
					    fx_setup_max2, fx_teardown),
	    T(test_M29_probe_errno_passes_through),
	    T(test_M30_every_probe_errno_is_returned_unchanged),
	    T(test_M31_bogus_probe_result_is_eio_and_logged),
	    T(test_M32_vfio_register_failure_unwinds_vendor_remove_once),
	    T(test_C8_prepare_failure_detaches_vfio_then_removes),
	    T(test_C9_success_sequence_register_prepare_publish),
	    T(test_M42_remove_while_probe_gated_is_eagain),
	    T(test_M51_probes_on_one_parent_run_concurrently),
	    cmocka_unit_test_setup_teardown(test_M54_fifty_creates_on_ten_instances, fx_setup_max10,
					    fx_teardown),
	    T(test_M78_probe_may_call_into_the_core),
	    cmocka_unit_test_setup_teardown(test_M46_vfio_index_lowest_free_shared_by_parents,
					    fx_setup_real_vfio, fx_teardown),
	    T(test_M49_iommu_group_lowest_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   M-20, M-21, M-27, M-28, M-29, M-30, M-31, M-32, M-42, M-46, M-49, M-51, M-54, M-78
 */
