/* SPDX-License-Identifier: MIT */
/*
 * Lowest-free index allocator (the kernel's IDA semantics): used for iommu group numbers
 * (mdev.md §6.4) and vfioN (§6.7). Allocation is one atomic step under the allocator's lock.
 */
#ifndef UMDEV_UTIL_IDA_H
#define UMDEV_UTIL_IDA_H

#include <pthread.h>
#include <stdint.h>

#include "lockdep.h"

struct umdev_ida {
	/* leaf (docs/locking.md); protects words and nr_words; held for one scan */
	struct umdev_mutex lock;
	uint64_t *words; /* bit n set: index n is taken */
	unsigned int nr_words;
};

#define UMDEV_IDA_INIT                                                                             \
	{                                                                                          \
		.lock = UMDEV_MUTEX_INIT_ADAPTIVE(&umdev__lock_class_ida)                          \
	}

/* Return: the lowest free index, now taken; -ENOMEM; -ENOSPC past 1 << 20 indexes. */
int umdev_ida_alloc(struct umdev_ida *ida);
/* Free @index, which must be taken. */
void umdev_ida_free(struct umdev_ida *ida, unsigned int index);
/* Return: whether @index is taken (tests). */
int umdev_ida_taken(struct umdev_ida *ida, unsigned int index);
/* Free the allocator's memory; all indexes become free. */
void umdev_ida_destroy(struct umdev_ida *ida);

#endif
