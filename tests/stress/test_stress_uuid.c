// SPDX-License-Identifier: MIT
/*
 * M-53: 64 threads create one UUID on 8 parents at once: exactly one wins, 63 get EEXIST.
 * M-54: 50 threads create distinct UUIDs on one parent of max_instances 10: exactly 10 win,
 * 40 get EUSERS. Through the C API, repeated for bounded rounds.
 */
#include <errno.h>

#include "stress.h"

#define M53_ROUNDS 30
#define M54_ROUNDS 30

struct op {
	struct umdev_type *type;
	uuid_t uuid;
	int ret;
};

static void *create_thread(void *arg)
{
	struct op *op = arg;

	op->ret = umdev_mdev_create(op->type, &op->uuid);
	return NULL;
}

static void m53(void)
{
	struct tdrv_parent *t[8];
	struct op ops[64];
	unsigned int round, i, probes = 0;

	st_begin(120);
	st_add_parents(NULL, t, 8);
	for (round = 0; round < M53_ROUNDS; round++) {
		unsigned int ok = 0, eexist = 0, winner = 0;

		for (i = 0; i < 64; i++) {
			ops[i].type = tdrv_type(t[i % 8]);
			st_uuid(ops[i].uuid, 1);
		}
		st_run_threads(64, create_thread, ops, sizeof(ops[0]));
		for (i = 0; i < 64; i++) {
			if (ops[i].ret == 0) {
				ok++;
				winner = i % 8;
			} else {
				CHECK(ops[i].ret == -EEXIST, "round %u thread %u: %d", round, i,
				      ops[i].ret);
				eexist++;
			}
		}
		CHECK(ok == 1 && eexist == 63, "round %u: %u ok, %u EEXIST", round, ok, eexist);
		CHECK(umdev__core_nr_mdevs() == 1, "round %u: %u mdevs", round,
		      umdev__core_nr_mdevs());
		CHECK(st_parent_of(1, t, 8) == (int)winner, "round %u: device not on the winner",
		      round);
		for (i = 0; i < 8; i++) {
			int want = i == winner ? 15 : 16;

			CHECK(st_available(tdrv_type(t[i])) == want, "round %u: t%u available %d",
			      round, i, st_available(tdrv_type(t[i])));
			CHECK(tdrv_live(t[i]) == (i == winner), "round %u: t%u live", round, i);
		}
		probes++;
		for (i = 0, ok = 0; i < 8; i++)
			ok += tdrv_calls(t[i], TDRV_PROBE);
		CHECK(ok == probes, "round %u: %u probes (losers must not reach probe)", round, ok);
		CHECK(umdev_mdev_remove(&ops[0].uuid) == 0, "remove");
		CHECK(st_nr_published() == 0 && st_nr_vfio() == 0, "round %u: leftovers", round);
	}
	st_end(t, 8);
	printf("M-53: %u rounds x 64 threads x 8 parents, same UUID: 1 ok + 63 EEXIST each, "
	       "available unchanged except the winner's, probe only for the winner\n",
	       M53_ROUNDS);
}

static void m54(void)
{
	struct tdrv_options opt = {.max_instances = 10};
	struct tdrv_parent *t[1];
	struct op ops[50];
	unsigned int round, i;

	st_begin(120);
	st_add_parents(&opt, t, 1);
	for (round = 0; round < M54_ROUNDS; round++) {
		unsigned int ok = 0, eusers = 0, probes = tdrv_calls(t[0], TDRV_PROBE);

		for (i = 0; i < 50; i++) {
			ops[i].type = tdrv_type(t[0]);
			st_uuid(ops[i].uuid, round * 50 + i);
		}
		st_run_threads(50, create_thread, ops, sizeof(ops[0]));
		for (i = 0; i < 50; i++) {
			if (ops[i].ret == 0) {
				ok++;
			} else {
				CHECK(ops[i].ret == -EUSERS, "round %u thread %u: %d", round, i,
				      ops[i].ret);
				eusers++;
			}
		}
		CHECK(ok == 10 && eusers == 40, "round %u: %u ok, %u EUSERS", round, ok, eusers);
		CHECK(st_available(tdrv_type(t[0])) == 0, "round %u: available %d", round,
		      st_available(tdrv_type(t[0])));
		CHECK(tdrv_calls(t[0], TDRV_PROBE) == probes + 10, "round %u: EUSERS reached probe",
		      round);
		CHECK(umdev__core_nr_mdevs() == 10 && st_nr_published() == 10, "round %u", round);
		for (i = 0; i < 50; i++)
			if (ops[i].ret == 0)
				CHECK(umdev_mdev_remove(&ops[i].uuid) == 0, "remove");
		CHECK(st_available(tdrv_type(t[0])) == 10, "round %u: available after removes %d",
		      round, st_available(tdrv_type(t[0])));
	}
	st_end(t, 1);
	printf("M-54: %u rounds x 50 threads on max_instances 10: 10 ok + 40 EUSERS each, "
	       "available 0 then 10\n",
	       M54_ROUNDS);
}

int main(void)
{
	m53();
	m54();
	return 0;
}
