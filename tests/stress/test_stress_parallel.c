// SPDX-License-Identifier: MIT
/*
 * M-50, M-51, M-52 through the C API: with probe (remove) sleeping 200 ms, concurrent creates
 * (removes) finish in well under the serial time. The bounds only prove non-serialization
 * (mdev.md §8.1); speed is measured in bench/.
 */
#include <errno.h>

#include "stress.h"

#define SLEEP_MS 200

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

static void *remove_thread(void *arg)
{
	struct op *op = arg;

	op->ret = umdev_mdev_remove(&op->uuid);
	return NULL;
}

int main(void)
{
	static struct op ops[128];
	struct tdrv_parent *t[8];
	uint64_t ms;
	unsigned int i;

	st_begin(120);
	st_add_parents(NULL, t, 8);

	/* M-51: 16 creates on one parent and one type */
	tdrv_set_sleep_ms(t[0], TDRV_PROBE, SLEEP_MS);
	for (i = 0; i < 16; i++) {
		ops[i].type = tdrv_type(t[0]);
		st_uuid(ops[i].uuid, 1000 + i);
	}
	ms = st_run_threads(16, create_thread, ops, sizeof(ops[0]));
	for (i = 0; i < 16; i++)
		CHECK(ops[i].ret == 0, "M-51 create %u: %d", i, ops[i].ret);
	CHECK(ms < 1600, "M-51: 16 creates took %llu ms (serial: 3200)", (unsigned long long)ms);
	printf("M-51: 16 concurrent creates on one parent, probe %u ms: %llu ms (< 1600)\n",
	       SLEEP_MS, (unsigned long long)ms);
	for (i = 0; i < 16; i++)
		CHECK(umdev_mdev_remove(&ops[i].uuid) == 0, "remove");

	/* M-50: 8 parents x 16 UUIDs by 128 threads */
	for (i = 0; i < 8; i++)
		tdrv_set_sleep_ms(t[i], TDRV_PROBE, SLEEP_MS);
	for (i = 0; i < 128; i++) {
		ops[i].type = tdrv_type(t[i / 16]);
		st_uuid(ops[i].uuid, i);
	}
	ms = st_run_threads(128, create_thread, ops, sizeof(ops[0]));
	for (i = 0; i < 128; i++)
		CHECK(ops[i].ret == 0, "M-50 create %u: %d", i, ops[i].ret);
	CHECK(ms < 2000, "M-50: 128 creates took %llu ms (serial: 25600)", (unsigned long long)ms);
	CHECK(umdev__core_nr_mdevs() == 128 && st_nr_published() == 128 && st_nr_vfio() == 128,
	      "M-50: table %u, published %u", umdev__core_nr_mdevs(), st_nr_published());
	for (i = 0; i < 8; i++)
		CHECK(st_available(tdrv_type(t[i])) == 0, "M-50: t%u available", i);
	printf("M-50: 128 concurrent creates on 8 parents, probe %u ms: %llu ms (< 2000)\n",
	       SLEEP_MS, (unsigned long long)ms);

	/* M-52: remove the 128 concurrently */
	for (i = 0; i < 8; i++) {
		tdrv_set_sleep_ms(t[i], TDRV_PROBE, 0);
		tdrv_set_sleep_ms(t[i], TDRV_REMOVE, SLEEP_MS);
	}
	ms = st_run_threads(128, remove_thread, ops, sizeof(ops[0]));
	for (i = 0; i < 128; i++)
		CHECK(ops[i].ret == 0, "M-52 remove %u: %d", i, ops[i].ret);
	CHECK(ms < 2000, "M-52: 128 removes took %llu ms (serial: 25600)", (unsigned long long)ms);
	CHECK(umdev__core_nr_mdevs() == 0 && st_nr_published() == 0, "M-52: leftovers");
	for (i = 0; i < 128; i++)
		CHECK(st_parent_of(i, t, 8) < 0, "M-52: U%u still exists", i);
	for (i = 0; i < 8; i++) {
		CHECK(st_available(tdrv_type(t[i])) == 16, "M-52: t%u available", i);
		CHECK(tdrv_calls(t[i], TDRV_REMOVE) == 16 + (i == 0 ? 16 : 0), "M-52: t%u removes",
		      i);
		tdrv_set_sleep_ms(t[i], TDRV_REMOVE, 0);
	}
	/* all UUIDs free: each creates again at once */
	for (i = 0; i < 128; i++)
		CHECK(umdev_mdev_create(tdrv_type(t[(i + 1) % 8]), &ops[i].uuid) == 0, "reuse %u",
		      i);
	for (i = 0; i < 128; i++)
		CHECK(umdev_mdev_remove(&ops[i].uuid) == 0, "remove %u", i);
	printf("M-52: 128 concurrent removes, remove %u ms: %llu ms (< 2000), all UUIDs free\n",
	       SLEEP_MS, (unsigned long long)ms);
	st_end(t, 8);
	return 0;
}
