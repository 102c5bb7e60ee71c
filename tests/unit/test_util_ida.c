// SPDX-License-Identifier: MIT
/* Unit tests of the lowest-free index allocator behind vfioN and iommu groups (M-46, M-47). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "ida.h"

static void test_M46_lowest_free_index_is_reused(void **state)
{
	struct umdev_ida ida = UMDEV_IDA_INIT;

	(void)state;
	assert_int_equal(umdev_ida_alloc(&ida), 0);
	assert_int_equal(umdev_ida_alloc(&ida), 1);
	assert_int_equal(umdev_ida_alloc(&ida), 2);
	umdev_ida_free(&ida, 0);
	assert_false(umdev_ida_taken(&ida, 0));
	assert_true(umdev_ida_taken(&ida, 1));
	assert_int_equal(umdev_ida_alloc(&ida), 0); /* lowest free, not next */
	assert_int_equal(umdev_ida_alloc(&ida), 3);
	umdev_ida_destroy(&ida);
}

static void test_ida_grows_past_one_word(void **state)
{
	struct umdev_ida ida = UMDEV_IDA_INIT;

	(void)state;
	for (int i = 0; i < 200; i++)
		assert_int_equal(umdev_ida_alloc(&ida), i);
	umdev_ida_free(&ida, 130);
	umdev_ida_free(&ida, 64);
	assert_int_equal(umdev_ida_alloc(&ida), 64);
	assert_int_equal(umdev_ida_alloc(&ida), 130);
	assert_int_equal(umdev_ida_alloc(&ida), 200);
	umdev_ida_destroy(&ida);
}

#define THREADS 8
#define PER_THREAD 64

static struct umdev_ida shared_ida = UMDEV_IDA_INIT;
static int got[THREADS][PER_THREAD];

static void *alloc_many(void *arg)
{
	int t = (int)(intptr_t)arg;

	for (int i = 0; i < PER_THREAD; i++)
		got[t][i] = umdev_ida_alloc(&shared_ida);
	return NULL;
}

/* Allocation is one atomic step: concurrent callers never get the same index (M-47). */
static void test_M47_concurrent_allocations_are_distinct(void **state)
{
	pthread_t th[THREADS];
	unsigned char seen[THREADS * PER_THREAD] = {0};

	(void)state;
	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, alloc_many, (void *)(intptr_t)t);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < THREADS; t++) {
		for (int i = 0; i < PER_THREAD; i++) {
			int n = got[t][i];

			assert_in_range(n, 0, THREADS * PER_THREAD - 1);
			assert_int_equal(seen[n], 0);
			seen[n] = 1;
		}
	}
	umdev_ida_destroy(&shared_ida);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_M46_lowest_free_index_is_reused),
	    cmocka_unit_test(test_ida_grows_past_one_word),
	    cmocka_unit_test(test_M47_concurrent_allocations_are_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
