// SPDX-License-Identifier: MIT
/*
 * M-60: removes racing parent unregistration, 100 rounds.
 * M-64: unregistration of t0 held in a gated vendor remove does not hold up t1..t7.
 * M-80/M-45 (issue 8 defects 1 and 2): vendor threads creating through the public API while
 * their parent unregisters; when unregistration returns no mdev of it is left in the table.
 */
#include <errno.h>
#include <stdatomic.h>

#include "stress.h"

#define M60_ROUNDS 100
#define M64_ROUNDS 5

struct m60_op {
	struct tdrv_parent *parent; /* non-NULL: this thread unregisters it */
	uuid_t uuid;
	int ret;
};

static void *m60_thread(void *arg)
{
	struct m60_op *op = arg;

	if (op->parent)
		tdrv_parent_remove(op->parent);
	else
		op->ret = umdev_mdev_remove(&op->uuid);
	return NULL;
}

static void m60(void)
{
	struct tdrv_parent *none[1] = {NULL};
	struct m60_op ops[17];
	unsigned int round, i, removed = 0, enodev = 0, eagain = 0;
	uint64_t worst = 0;

	st_begin(300);
	CHECK(tdrv_register(NULL) == 0, "tdrv_register");
	for (round = 0; round < M60_ROUNDS; round++) {
		unsigned int detaches = st_vfio_detaches();
		struct tdrv_parent *p;
		uint64_t start;
		int err = 0;

		p = tdrv_parent_add("t0", &err);
		CHECK(p, "round %u: tdrv_parent_add: %d", round, err);
		for (i = 0; i < 16; i++) {
			ops[i].parent = NULL;
			st_uuid(ops[i].uuid, i);
			CHECK(umdev_mdev_create(tdrv_type(p), &ops[i].uuid) == 0, "create");
		}
		ops[16].parent = p;
		start = st_now_ms();
		st_run_threads(17, m60_thread, ops, sizeof(ops[0]));
		start = st_now_ms() - start;
		worst = start > worst ? start : worst;
		CHECK(start < 5000, "round %u took %llu ms", round, (unsigned long long)start);
		for (i = 0; i < 16; i++) {
			CHECK(ops[i].ret == 0 || ops[i].ret == -ENODEV || ops[i].ret == -EAGAIN,
			      "round %u: remove %u: %d", round, i, ops[i].ret);
			removed += ops[i].ret == 0;
			enodev += ops[i].ret == -ENODEV;
			eagain += ops[i].ret == -EAGAIN;
		}
		CHECK(umdev__core_nr_mdevs() == 0, "round %u: %u devices left", round,
		      umdev__core_nr_mdevs());
		/* each device detached once; tdrv saw remove once each (no violation, none live) */
		CHECK(st_vfio_detaches() - detaches == 16, "round %u: %u detaches", round,
		      st_vfio_detaches() - detaches);
		CHECK(tdrv_violations() == 0, "round %u: vendor remove not exactly once", round);
	}
	st_end(none, 0);
	printf("M-60: %u rounds of 16 removers vs unregistration: %u ok, %u ENODEV, %u EAGAIN; "
	       "zero devices after each round, remove once per device; worst round %llu ms\n",
	       M60_ROUNDS, removed, enodev, eagain, (unsigned long long)worst);
}

static void *unregister_thread(void *arg)
{
	tdrv_parent_remove(arg);
	return NULL;
}

static void m64(void)
{
	struct tdrv_parent *t[8];
	unsigned int round, i;
	uint64_t worst = 0;

	st_begin(120);
	st_add_parents(NULL, t, 8);
	for (round = 0; round < M64_ROUNDS; round++) {
		pthread_t unreg;
		uuid_t u0, u;
		int err = 0;

		st_uuid(u0, 500);
		CHECK(umdev_mdev_create(tdrv_type(t[0]), &u0) == 0, "create on t0");
		tdrv_gate_close(t[0], TDRV_REMOVE);
		CHECK(pthread_create(&unreg, NULL, unregister_thread, t[0]) == 0, "thread");
		tdrv_gate_wait_blocked(t[0], TDRV_REMOVE, 1);

		for (i = 1; i < 8; i++) {
			uint64_t start = st_now_ms(), ms;
			int a;

			st_uuid(u, 100 + i);
			CHECK(umdev_mdev_create(tdrv_type(t[i]), &u) == 0, "create on t%u", i);
			a = st_available(tdrv_type(t[i]));
			CHECK(a == 15, "t%u available %d", i, a);
			CHECK(umdev_mdev_remove(&u) == 0, "remove on t%u", i);
			ms = st_now_ms() - start;
			worst = ms > worst ? ms : worst;
			CHECK(ms < 1000, "t%u: operations took %llu ms while t0 unregisters", i,
			      (unsigned long long)ms);
		}
		/* t0 itself refuses new work at once */
		st_uuid(u, 600);
		CHECK(umdev_mdev_create(tdrv_type(t[0]), &u) == -ENODEV, "create on t0");
		CHECK(umdev__core_nr_mdevs() == 1, "u0 is REMOVING, still in the table");

		tdrv_gate_open(t[0], TDRV_REMOVE);
		pthread_join(unreg, NULL);
		CHECK(umdev__core_nr_mdevs() == 0, "round %u: devices left", round);
		t[0] = tdrv_parent_add("t0", &err);
		CHECK(t[0], "re-add t0: %d", err);
	}
	st_end(t, 8);
	printf("M-64: %u rounds: while t0's unregistration sat in a gated remove, create + read + "
	       "remove on t1..t7 each completed (worst %llu ms < 1000)\n",
	       M64_ROUNDS, (unsigned long long)worst);
}

#define M80_ROUNDS 50
#define M80_CREATORS 6

struct m80_op {
	struct tdrv_parent *parent;
	unsigned int id;
	atomic_bool *unregistered;
	unsigned int created, enodev; /* this thread's results */
	int left_at_return; /* unregistering thread: mdevs in the table when it returned */
};

static void *m80_thread(void *arg)
{
	struct m80_op *op = arg;
	uint64_t rnd = op->id * 0x9e3779b97f4a7c15ull + 1;
	uuid_t u;

	if (op->id == M80_CREATORS) {
		st_sleep_ms(st_rand(&rnd) % 3);
		tdrv_parent_unregister(op->parent);
		op->left_at_return = (int)umdev__core_nr_mdevs();
		atomic_store(op->unregistered, true);
		return NULL;
	}
	/* until unregistration has returned, then a last try that must fail */
	for (unsigned int i = 0;; i++) {
		bool done = atomic_load(op->unregistered);
		int ret;

		st_uuid(u, op->id * 1000 + i % 1000);
		ret = umdev_mdev_create(tdrv_type(op->parent), &u);
		CHECK(ret == 0 || ret == -ENODEV || ret == -EEXIST || ret == -EUSERS, "create: %d",
		      ret);
		CHECK(!done || ret == -ENODEV, "create after unregistration: %d", ret);
		op->created += ret == 0;
		op->enodev += ret == -ENODEV;
		if (ret == 0 && st_rand(&rnd) % 2) {
			ret = umdev_mdev_remove(&u);
			CHECK(ret == 0 || ret == -ENODEV, "remove: %d", ret);
		}
		if (done)
			break;
	}
	return NULL;
}

static void m80(void)
{
	struct tdrv_parent *none[1] = {NULL};
	struct m80_op ops[M80_CREATORS + 1];
	unsigned int round, i, created = 0, enodev = 0;
	atomic_bool unregistered;

	st_begin(300);
	CHECK(tdrv_register(NULL) == 0, "tdrv_register");
	for (round = 0; round < M80_ROUNDS; round++) {
		struct tdrv_parent *p;
		int err = 0;

		p = tdrv_parent_add("t0", &err);
		CHECK(p, "round %u: tdrv_parent_add: %d", round, err);
		atomic_store(&unregistered, false);
		for (i = 0; i <= M80_CREATORS; i++)
			ops[i] =
			    (struct m80_op){.parent = p, .id = i, .unregistered = &unregistered};
		st_run_threads(M80_CREATORS + 1, m80_thread, ops, sizeof(ops[0]));
		CHECK(ops[M80_CREATORS].left_at_return == 0,
		      "round %u: %d mdevs in the table when unregistration returned", round,
		      ops[M80_CREATORS].left_at_return);
		CHECK(umdev__core_nr_mdevs() == 0, "round %u: mdevs left", round);
		CHECK(tdrv_violations() == 0, "round %u: tdrv violations", round);
		for (i = 0; i < M80_CREATORS; i++) {
			created += ops[i].created;
			enodev += ops[i].enodev;
		}
		tdrv_parent_free(p); /* the creators are done with its types */
	}
	st_end(none, 0);
	printf("M-80/M-45: %u rounds of %u public creators vs unregistration: %u created, %u "
	       "ENODEV; none left in the table when unregistration returned\n",
	       M80_ROUNDS, M80_CREATORS, created, enodev);
}

int main(void)
{
	m60();
	m64();
	m80();
	return 0;
}
