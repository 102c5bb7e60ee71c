// SPDX-License-Identifier: MIT
/*
 * M-60: removes racing parent unregistration, 100 rounds.
 * M-64: unregistration of t0 held in a gated vendor remove does not hold up t1..t7.
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

int main(void)
{
	m60();
	m64();
	return 0;
}
