// SPDX-License-Identifier: MIT
/*
 * Parent registration and unregistration (mdev.md §4.3, §4.4), the parent guard, stale core
 * records after unregistration (M-62, M-80).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "test_core_fixture.h"

#define T0 tdrv_type(f->t[0])
#define T1 tdrv_type(f->t[1])

static unsigned int count_since(unsigned int from, enum fx_kind kind)
{
	unsigned int i, n = 0;

	for (i = from; i < fx_nr_recs(); i++)
		n += fx_rec_at(i).kind == kind;
	return n;
}

static void assert_no_parent_publication_since(unsigned int from)
{
	assert_int_equal(count_since(from, FX_PARENT_PUBLISH), 0);
	assert_int_equal(count_since(from, FX_BUS_LINK_PUBLISH), 0);
	assert_int_equal(count_since(from, FX_PARENT_UNPUBLISH), 0);
	assert_int_equal(count_since(from, FX_BUS_LINK_UNPUBLISH), 0);
}

static void test_M10_bad_types_are_einval_and_publish_nothing(void **state)
{
	struct fx *f = *state;
	struct umdev_type a = {.sysfs_name = "a"}, a2 = {.sysfs_name = "a"};
	struct umdev_type slash = {.sysfs_name = "a/b"}, none = {.sysfs_name = NULL};
	struct umdev_type empty = {.sysfs_name = ""}, space = {.sysfs_name = "a b"};
	struct umdev_type longname = {
	    .sysfs_name = "01234567890123456789012345678901234567890123456789012345678901234"};
	struct umdev_type ok64 = {
	    .sysfs_name = "0123456789012345678901234567890123456789012345678901234567890123"};
	struct umdev_type *dup[] = {&a, &a2}, *sl[] = {&a, &slash}, *nn[] = {&none};
	struct umdev_type *em[] = {&empty}, *sp[] = {&space}, *ln[] = {&longname};
	struct umdev_type *good[] = {&ok64};
	struct umdev_driver unregistered = {
	    .name = "nodrv", .device_api = "vfio-pci", .probe = tdrv_driver()->probe};
	struct umdev_parent p = {0};
	unsigned int from = fx_nr_recs();

	assert_int_equal(umdev_register_parent(&p, "px", NULL, tdrv_driver(), good, 0), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "px", NULL, tdrv_driver(), dup, 2), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "px", NULL, tdrv_driver(), sl, 2), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "px", NULL, tdrv_driver(), nn, 1), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "px", NULL, tdrv_driver(), em, 1), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "px", NULL, tdrv_driver(), sp, 1), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "px", NULL, tdrv_driver(), ln, 1), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "px", NULL, &unregistered, good, 1), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "p/x", NULL, tdrv_driver(), good, 1), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "", NULL, tdrv_driver(), good, 1), -EINVAL);
	assert_int_equal(umdev_register_parent(&p, "px", "c/x", tdrv_driver(), good, 1), -EINVAL);
	assert_no_parent_publication_since(from); /* no node of that parent appeared */
	assert_int_equal(fx_nr_recs(), from);
	assert_null(p.core);

	/* a 64-byte sysfs_name is fine, and the name "px" is still free */
	assert_int_equal(umdev_register_parent(&p, "px", NULL, tdrv_driver(), good, 1), 0);
	assert_int_equal(fx_available(&ok64), 16);
	umdev_unregister_parent(&p);
	assert_int_equal(count_since(from, FX_PARENT_PUBLISH), 1);
	assert_int_equal(count_since(from, FX_PARENT_UNPUBLISH), 1);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_PROBE), 0);
}

static void test_M11_duplicate_parent_name_is_eexist(void **state)
{
	struct fx *f = *state;
	struct umdev_type b = {.sysfs_name = "b"}, *types[] = {&b};
	struct umdev_parent p = {0};
	unsigned int from = fx_nr_recs();
	uuid_t u1;

	fx_uuid(u1, 1);
	assert_int_equal(umdev_register_parent(&p, "t0", "other", tdrv_driver(), types, 1),
			 -EEXIST);
	assert_int_equal(fx_nr_recs(), from); /* first parent's tree untouched */
	/* the first parent still works */
	assert_int_equal(fx_available(T0), 16);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	assert_int_equal(umdev_mdev_remove(&u1), 0);
	assert_int_equal(count_since(from, FX_BUS_LINK_UNPUBLISH), 0);
	assert_int_equal(count_since(from, FX_PARENT_UNPUBLISH), 0);
}

/* §4.3 step 4: a failure of the last publication unwinds the earlier ones. */
static void test_register_parent_bus_link_failure_unpublishes_parent(void **state)
{
	struct fx *f = *state;
	unsigned int from = fx_nr_recs();
	struct tdrv_parent *p;
	struct fx_rec r;
	int err = 0;

	fx_fail(FX_BUS_LINK_PUBLISH, -ENOMEM);
	p = tdrv_parent_add("t2", &err);
	fx_fail(FX_BUS_LINK_PUBLISH, 0);
	assert_null(p);
	assert_int_equal(err, -ENOMEM);
	assert_int_equal(fx_nr_recs(), from + 4);
	r = fx_rec_at(from);
	assert_int_equal(r.kind, FX_PARENT_PUBLISH);
	assert_string_equal(r.name, "t2");
	assert_int_equal(fx_rec_at(from + 1).kind, FX_TEST_BEFORE_BUS_LINK);
	r = fx_rec_at(from + 2);
	assert_int_equal(r.kind, FX_BUS_LINK_PUBLISH);
	assert_int_equal(r.ret, -ENOMEM);
	r = fx_rec_at(from + 3);
	assert_int_equal(r.kind, FX_PARENT_UNPUBLISH);
	assert_string_equal(r.name, "t2");

	/* nothing of it stayed registered: the name is free */
	f->t[2] = tdrv_parent_add("t2", &err);
	assert_non_null(f->t[2]);
	f->nr_parents = 3;
	assert_int_equal(fx_available(tdrv_type(f->t[2])), 16);
}

static void test_register_parent_publish_failure_returns_errno(void **state)
{
	struct fx *f = *state;
	unsigned int from = fx_nr_recs();
	int err = 0;

	fx_fail(FX_PARENT_PUBLISH, -EIO);
	assert_null(tdrv_parent_add("t2", &err));
	fx_fail(FX_PARENT_PUBLISH, 0);
	assert_int_equal(err, -EIO);
	assert_int_equal(fx_nr_recs(), from + 1); /* atomic hook: nothing to unpublish */
	assert_int_equal(fx_rec_at(from).kind, FX_PARENT_PUBLISH);
	f->t[2] = tdrv_parent_add("t2", &err);
	assert_non_null(f->t[2]);
	f->nr_parents = 3;
}

static void test_M58_unregister_removes_every_mdev(void **state)
{
	struct fx *f = *state;
	unsigned int i, from, unpublished = 0, detached = 0;
	uuid_t u[16];
	int at;

	for (i = 0; i < 16; i++) {
		fx_uuid(u[i], i + 1);
		assert_int_equal(umdev_mdev_create(T0, &u[i]), 0);
	}
	assert_int_equal(fx_available(T0), 0);
	assert_int_equal(tdrv_live(f->t[0]), 16);
	from = fx_nr_recs();

	tdrv_parent_remove(f->t[0]); /* records a tdrv violation if any mdev stayed live */
	f->t[0] = NULL;

	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_int_equal(tdrv_violations(), 0); /* each remove once, none without probe */
	/* §4.4 order: mdev_bus link first, the mdevs, then the parent's nodes last */
	assert_int_equal(fx_rec_at(from).kind, FX_BUS_LINK_UNPUBLISH);
	assert_string_equal(fx_rec_at(from).name, "t0");
	assert_int_equal(fx_rec_at(from + 1).kind, FX_TEST_AFTER_BUS_UNLINK);
	for (i = 0; i < 16; i++) {
		at = fx_find(from, FX_MDEV_UNPUBLISH, &u[i]);
		assert_true(at > (int)from);
		unpublished++;
		at = fx_find((unsigned int)at, FX_VFIO_DETACH, &u[i]);
		assert_true(at > 0);
		detached++;
	}
	assert_int_equal(unpublished, 16);
	assert_int_equal(detached, 16);
	assert_int_equal(count_since(from, FX_MDEV_UNPUBLISH), 16);
	assert_int_equal(fx_rec_at(fx_nr_recs() - 1).kind, FX_PARENT_UNPUBLISH);
	assert_int_equal(fx_published(), 0);
	for (i = 0; i < 16; i++) /* the UUIDs are free */
		assert_int_equal(umdev_mdev_create(T1, &u[i]), 0);
	assert_int_equal(umdev__core_nr_mdevs(), 16);
	assert_int_equal(fx_available(T1), 0);
}

/* M-59: unregistration with one probe gated. */
static struct {
	atomic_bool unlinked;
} m59;

static void m59_after_unlink(struct umdev_parent *parent)
{
	(void)parent;
	atomic_store(&m59.unlinked, true);
}

struct create_op {
	struct umdev_type *type;
	uuid_t uuid;
	int ret;
};

static void *create_thread(void *arg)
{
	struct create_op *op = arg;

	op->ret = umdev_mdev_create(op->type, &op->uuid);
	return NULL;
}

static void *unregister_thread(void *arg)
{
	tdrv_parent_remove(arg);
	return NULL;
}

static void test_M59_unregister_waits_for_gated_probe(void **state)
{
	struct fx *f = *state;
	struct create_op a = {.type = T0};
	struct fx_thread *ta, *tb;
	struct umdev__parent *core;
	struct umdev__type *ctype;
	uuid_t u0, u2, u3;
	uint64_t t;

	fx_uuid(u0, 100);
	fx_uuid(a.uuid, 1);
	fx_uuid(u2, 2);
	fx_uuid(u3, 3);
	atomic_store(&m59.unlinked, false);
	fx_on_after_bus_unlink(m59_after_unlink);
	assert_int_equal(umdev_mdev_create(T0, &u0), 0);
	core = tdrv_umdev_parent(f->t[0])->core;
	umdev__parent_get(core); /* put at the end: the stale `create` handle */
	ctype = umdev__parent_type(core, 0);

	tdrv_gate_close(f->t[0], TDRV_PROBE);
	ta = fx_spawn(create_thread, &a);
	tdrv_gate_wait_blocked(f->t[0], TDRV_PROBE, 1);
	tb = fx_spawn(unregister_thread, f->t[0]);
	while (!atomic_load(&m59.unlinked))
		fx_sleep_ms(1);

	/* unregistering: new creates and removes on t0 fail ENODEV at once */
	t = fx_now_ms();
	assert_int_equal(umdev_mdev_create(T0, &u2), -ENODEV);
	assert_int_equal(umdev__type_create(ctype, &u3), -ENODEV);
	assert_int_equal(umdev_mdev_remove(&u0), -ENODEV);
	assert_true(fx_now_ms() - t < 1000);
	assert_true(fx_active(&u0));
	assert_false(fx_active(&u2));
	assert_int_equal(tdrv_calls(f->t[0], TDRV_PROBE), 2); /* u0 and the gated one only */
	/* other parents are not held up */
	assert_int_equal(umdev_mdev_create(T1, &u2), 0);
	assert_int_equal(umdev_mdev_remove(&u2), 0);

	fx_sleep_ms(100);
	assert_false(fx_done(tb)); /* waits for the gated create's ticket */
	assert_false(fx_done(ta));
	tdrv_gate_open(f->t[0], TDRV_PROBE);
	fx_join(ta, 5000);
	assert_int_equal(a.ret, 0); /* the create that passed the guard finished */
	fx_join(tb, 5000);
	f->t[0] = NULL;

	/* ... and unregistration then removed it, with u0 */
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_int_equal(fx_count(FX_MDEV_PUBLISH, &a.uuid), 1);
	assert_int_equal(fx_count(FX_MDEV_UNPUBLISH, &a.uuid), 1);
	assert_int_equal(fx_count(FX_MDEV_UNPUBLISH, &u0), 1);
	assert_int_equal(tdrv_violations(), 0);
	assert_false(fx_active(&a.uuid));
	assert_int_equal(umdev__type_create(ctype, &u3), -ENODEV); /* stale handle (M-62) */
	umdev__parent_put(core);
}

/*
 * Issue 8 defect 1 (M-80, §5.2): a vendor thread's umdev_mdev_create() racing the
 * unregistration of its parent. The test point stops the create just after it found the
 * parent; unregistration then runs to its end (the create holds no ticket yet, so nothing
 * waits) and the driver frees its parent. The create must fail -ENODEV without touching
 * freed memory (ASan: heap-use-after-free before the fix).
 */
static struct {
	struct tdrv_parent *parent;
	uuid_t uuid;
	atomic_int fired;
} d1;

static void d1_point(enum umdev_test_point point, const uuid_t *uuid)
{
	if (point != UMDEV_TEST_CREATE_LOOKED_UP || uuid_compare(*uuid, d1.uuid) != 0)
		return;
	atomic_fetch_add(&d1.fired, 1);
	tdrv_parent_remove(d1.parent); /* unregisters and frees the vendor parent */
}

static void test_M80_public_create_racing_unregistration_is_enodev(void **state)
{
	struct fx *f = *state;
	struct umdev_type *type = T0;
	unsigned int probes_t1 = tdrv_calls(f->t[1], TDRV_PROBE);

	fx_uuid(d1.uuid, 1);
	d1.parent = f->t[0];
	atomic_store(&d1.fired, 0);
	f->t[0] = NULL; /* the point removes it */
	fx_on_point(d1_point);

	assert_int_equal(umdev_mdev_create(type, &d1.uuid), -ENODEV);
	assert_int_equal(atomic_load(&d1.fired), 1);
	fx_on_point(NULL);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_int_equal(fx_count(FX_VFIO_REGISTER, &d1.uuid), 0);
	/* and the UUID is free on another parent at once */
	assert_int_equal(umdev_mdev_create(T1, &d1.uuid), 0);
	assert_int_equal(tdrv_calls(f->t[1], TDRV_PROBE), probes_t1 + 1);
	assert_int_equal(umdev_mdev_remove(&d1.uuid), 0);
}

/*
 * Issue 8 defect 2 (§4.4 step 3, I-6, M-45): a create stopped right after it reserved its
 * UUID (C4) while its parent's unregistration begins. When unregistration returns, the UUID
 * must be free on any parent. Before the fix the reservation held no ticket, unregistration
 * did not wait, and the UUID was still taken (EEXIST) when it returned; now the ticket is
 * taken before the reservation and unregistration waits for the create to finish.
 */
static struct {
	struct tdrv_parent *parent;
	struct umdev_type *other;
	uuid_t uuid;
	struct fx_thread *unreg;
	atomic_bool draining;
	int free_at_return; /* create of the UUID on another parent when unregistration returned */
	bool checked_in_point;
} d2;

static void d2_point(enum umdev_test_point point, const uuid_t *uuid)
{
	uint64_t start;

	if (point == UMDEV_TEST_UNREGISTER_DRAIN_WAIT) {
		atomic_store(&d2.draining, true); /* guard mutex held: only a flag */
		return;
	}
	if (point != UMDEV_TEST_CREATE_RESERVED || uuid_compare(*uuid, d2.uuid) != 0)
		return;
	d2.unreg = fx_spawn(unregister_thread, d2.parent);
	start = fx_now_ms();
	/* until unregistration either returned or waits for tickets (this create's) */
	while (!fx_done(d2.unreg) && !atomic_load(&d2.draining) && fx_now_ms() - start < 5000)
		fx_sleep_ms(1); /* a hang shows in the main thread's fx_join() */
	if (fx_done(d2.unreg)) {
		/* unregistration returned while this create still holds its reservation */
		d2.free_at_return = umdev_mdev_create(d2.other, &d2.uuid);
		d2.checked_in_point = true;
	}
}

static void test_M45_unregistration_waits_for_a_reserved_create(void **state)
{
	struct fx *f = *state;
	struct create_op a = {.type = T0};
	struct fx_thread *ta;

	memset(&d2, 0, sizeof(d2));
	fx_uuid(a.uuid, 7);
	uuid_copy(d2.uuid, a.uuid);
	d2.parent = f->t[0];
	d2.other = T1;
	f->t[0] = NULL; /* the point's thread removes it */
	fx_on_point(d2_point);

	ta = fx_spawn(create_thread, &a);
	fx_join(ta, 10000);
	fx_join(d2.unreg, 10000);
	fx_on_point(NULL);

	if (!d2.checked_in_point) /* unregistration waited: check the moment it returned */
		d2.free_at_return = umdev_mdev_create(d2.other, &d2.uuid);
	assert_int_equal(d2.free_at_return, 0);
	assert_false(d2.checked_in_point); /* it waited for the reserved create */
	/* the create finished ACTIVE (it held a ticket) and unregistration removed it */
	assert_int_equal(a.ret, 0);
	assert_int_equal(fx_count(FX_MDEV_UNPUBLISH, &a.uuid), 1);
	assert_int_equal(umdev__core_nr_mdevs(), 1); /* the one on t1 */
	assert_int_equal(umdev_mdev_remove(&a.uuid), 0);
	assert_int_equal(tdrv_violations(), 0);
}

/* M-62 (C API): after unregistration the same name registers again with full capacity. */
static void test_M62_reregister_same_name(void **state)
{
	struct fx *f = *state;
	struct umdev__parent *core;
	struct umdev__type *ctype;
	char buf[UMDEV_ATTR_BUF_SIZE];
	uuid_t u1, u2;
	int err = 0;

	fx_uuid(u1, 1);
	fx_uuid(u2, 2);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	core = tdrv_umdev_parent(f->t[0])->core;
	umdev__parent_get(core);
	ctype = umdev__parent_type(core, 0);
	tdrv_parent_remove(f->t[0]);
	f->t[0] = NULL;

	assert_int_equal(umdev__type_create(ctype, &u2), -ENODEV);
	assert_int_equal(umdev__type_show_available(ctype, buf, sizeof(buf)), -ENODEV);
	assert_int_equal(umdev__core_nr_mdevs(), 0);

	f->t[0] = tdrv_parent_add("t0", &err);
	assert_non_null(f->t[0]);
	assert_int_equal(fx_available(T0), 16);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0); /* the old UUID is free */
	/* the old record does not alias the new parent */
	assert_int_equal(umdev__type_create(ctype, &u2), -ENODEV);
	assert_int_equal(umdev__core_nr_mdevs(), 1);
	umdev__parent_put(core);
	assert_int_equal(umdev_mdev_remove(&u1), 0);
}

/* M-63: the mdev_bus link is published last and unpublished first (I-8). */
static struct {
	struct umdev_type *type;
	unsigned int from;
	bool before_ok, after_ok;
	int create_ret;
} m63;

static void m63_before_bus_link(struct umdev_parent *parent)
{
	(void)parent;
	/* parent dir and types published, the link not yet */
	m63.before_ok = fx_find(m63.from, FX_PARENT_PUBLISH, NULL) >= 0 &&
			fx_find(m63.from, FX_BUS_LINK_PUBLISH, NULL) < 0;
}

static void m63_after_bus_unlink(struct umdev_parent *parent)
{
	uuid_t u;

	(void)parent;
	m63.after_ok = fx_find(m63.from, FX_BUS_LINK_UNPUBLISH, NULL) >= 0 &&
		       fx_find(m63.from, FX_PARENT_UNPUBLISH, NULL) < 0;
	fx_uuid(u, 77);
	m63.create_ret = umdev_mdev_create(m63.type, &u); /* step 1 already done */
}

static void test_M63_bus_link_published_last_unpublished_first(void **state)
{
	struct fx *f = *state;
	struct tdrv_parent *p;
	unsigned int from;
	uuid_t u1;
	int err = 0;

	fx_uuid(u1, 1);
	fx_on_before_bus_link(m63_before_bus_link);
	fx_on_after_bus_unlink(m63_after_bus_unlink);
	m63.from = from = fx_nr_recs();
	p = tdrv_parent_add("t2", &err);
	assert_non_null(p);
	assert_true(m63.before_ok);
	assert_int_equal(fx_nr_recs(), from + 3);
	assert_int_equal(fx_rec_at(from).kind, FX_PARENT_PUBLISH);
	assert_int_equal(fx_rec_at(from + 1).kind, FX_TEST_BEFORE_BUS_LINK);
	assert_int_equal(fx_rec_at(from + 2).kind, FX_BUS_LINK_PUBLISH);
	assert_string_equal(fx_rec_at(from + 2).name, "t2");

	assert_int_equal(umdev_mdev_create(tdrv_type(p), &u1), 0);
	m63.type = tdrv_type(p);
	m63.create_ret = 1;
	m63.from = from = fx_nr_recs();
	tdrv_parent_remove(p);
	assert_true(m63.after_ok);
	assert_int_equal(m63.create_ret, -ENODEV);
	assert_int_equal(fx_rec_at(from).kind, FX_BUS_LINK_UNPUBLISH);
	assert_int_equal(fx_rec_at(from + 1).kind, FX_TEST_AFTER_BUS_UNLINK);
	assert_int_equal(fx_rec_at(from + 2).kind, FX_MDEV_UNPUBLISH);
	assert_int_equal(fx_rec_at(from + 3).kind, FX_VFIO_DETACH);
	assert_int_equal(fx_rec_at(fx_nr_recs() - 1).kind, FX_PARENT_UNPUBLISH);
	assert_int_equal(count_since(from, FX_PARENT_UNPUBLISH), 1);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_int_equal(tdrv_calls(f->t[0], TDRV_PROBE), 0); /* other parents untouched */
}

/* §4.1 errno precedence during unregistration: EEXIST > EUSERS > ENODEV. */
static struct {
	struct umdev_type *type;
	uuid_t existing;
	int dup_ret, full_ret;
} prec;

static void prec_after_unlink(struct umdev_parent *parent)
{
	uuid_t u;

	(void)parent;
	fx_uuid(u, 999);
	prec.dup_ret = umdev_mdev_create(prec.type, &prec.existing);
	prec.full_ret = umdev_mdev_create(prec.type, &u);
}

static void test_errno_precedence_eexist_eusers_enodev(void **state)
{
	struct fx *f = *state;
	unsigned int i;
	uuid_t u;

	for (i = 0; i < 16; i++) {
		fx_uuid(u, i + 1);
		assert_int_equal(umdev_mdev_create(T0, &u), 0);
	}
	fx_uuid(prec.existing, 1);
	prec.type = T0;
	fx_on_after_bus_unlink(prec_after_unlink);
	tdrv_parent_remove(f->t[0]);
	f->t[0] = NULL;
	assert_int_equal(prec.dup_ret, -EEXIST);
	assert_int_equal(prec.full_ret, -EUSERS);
	assert_int_equal(umdev__core_nr_mdevs(), 0);
}

/* M-80: after unregistration the vendor frees everything; stale core records stay safe. */
static void test_M80_stale_records_after_unregister_touch_no_vendor_memory(void **state)
{
	struct fx *f = *state; /* driver-managed, description, sample_attr */
	char buf[UMDEV_ATTR_BUF_SIZE];
	struct umdev__parent *core;
	struct umdev__type *ctype;
	struct umdev_mdev *m;
	unsigned int i, ga;
	uint64_t serial;
	uuid_t u1, u2;

	fx_uuid(u1, 1);
	fx_uuid(u2, 2);
	assert_int_equal(umdev_mdev_create(T0, &u1), 0);
	m = umdev_mdev_get(&u1);
	assert_non_null(m);
	serial = umdev__mdev_serial(m);
	umdev_mdev_put(m);
	core = tdrv_umdev_parent(f->t[0])->core;
	umdev__parent_get(core);
	ctype = umdev__parent_type(core, 0);
	ga = tdrv_get_available_calls(f->t[1]);

	tdrv_parent_remove(f->t[0]); /* frees the parent, its type and type array */
	f->t[0] = NULL;

	for (i = 0; i < 1000; i++) {
		assert_int_equal(umdev__type_create(ctype, &u2), -ENODEV);
		assert_int_equal(umdev__type_show_available(ctype, buf, sizeof(buf)), -ENODEV);
		assert_int_equal(umdev__type_show_description(ctype, buf, sizeof(buf)), -ENODEV);
		assert_int_equal(umdev_mdev_remove(&u1), -ENODEV);
		assert_null(umdev__mdev_get_serial(&u1, serial));
		assert_int_equal(umdev__mdev_remove_serial(&u1, serial), -ENODEV);
		assert_null(umdev_mdev_get(&u1));
	}
	/* immutable strings stay readable while the record is referenced */
	assert_string_equal(umdev__parent_name(core), "t0");
	assert_string_equal(umdev__type_id(ctype), "tdrv-a");
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_int_equal(tdrv_get_available_calls(f->t[1]), ga);
	umdev__parent_put(core);
}

static int count_parent(struct umdev_parent *parent, void *arg)
{
	(void)parent;
	(*(unsigned int *)arg)++;
	return 0;
}

static void test_for_each_parent_lists_registered_parents(void **state)
{
	struct fx *f = *state;
	unsigned int n = 0;

	assert_int_equal(umdev__core_for_each_parent(count_parent, &n), 0);
	assert_int_equal(n, 2);
	tdrv_parent_remove(f->t[1]);
	f->t[1] = NULL;
	n = 0;
	assert_int_equal(umdev__core_for_each_parent(count_parent, &n), 0);
	assert_int_equal(n, 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_M10_bad_types_are_einval_and_publish_nothing),
	    T(test_M11_duplicate_parent_name_is_eexist),
	    T(test_register_parent_bus_link_failure_unpublishes_parent),
	    T(test_register_parent_publish_failure_returns_errno),
	    T(test_M58_unregister_removes_every_mdev),
	    T(test_M59_unregister_waits_for_gated_probe),
	    T(test_M62_reregister_same_name),
	    T(test_M63_bus_link_published_last_unpublished_first),
	    T(test_errno_precedence_eexist_eusers_enodev),
	    cmocka_unit_test_setup_teardown(
		test_M80_stale_records_after_unregister_touch_no_vendor_memory, fx_setup_managed,
		fx_teardown),
	    T(test_for_each_parent_lists_registered_parents),
	    T(test_M80_public_create_racing_unregistration_is_enodev),
	    T(test_M45_unregistration_waits_for_a_reserved_create),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   M-10, M-11, M-45, M-58, M-59, M-62, M-63, M-80
 */
