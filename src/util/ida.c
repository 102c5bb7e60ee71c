// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ida.h"

#define IDA_MAX_WORDS (1u << 14) /* 1 << 20 indexes */

int umdev_ida_alloc(struct umdev_ida *ida)
{
	int ret = -ENOSPC;

	umdev__mutex_lock(&ida->lock);
	for (unsigned int w = 0; w < ida->nr_words; w++) {
		if (ida->words[w] != UINT64_MAX) {
			unsigned int bit = (unsigned int)__builtin_ctzll(~ida->words[w]);

			ida->words[w] |= UINT64_C(1) << bit;
			ret = (int)(w * 64 + bit);
			goto out;
		}
	}
	if (ida->nr_words < IDA_MAX_WORDS) {
		unsigned int n = ida->nr_words ? ida->nr_words * 2 : 1;
		uint64_t *words = realloc(ida->words, n * sizeof(*words));

		if (!words) {
			ret = -ENOMEM;
			goto out;
		}
		memset(words + ida->nr_words, 0, (n - ida->nr_words) * sizeof(*words));
		ret = (int)(ida->nr_words * 64);
		words[ida->nr_words] = 1;
		ida->words = words;
		ida->nr_words = n;
	}
out:
	umdev__mutex_unlock(&ida->lock);
	return ret;
}

void umdev_ida_free(struct umdev_ida *ida, unsigned int index)
{
	umdev__mutex_lock(&ida->lock);
	assert(index / 64 < ida->nr_words);
	assert(ida->words[index / 64] & (UINT64_C(1) << (index % 64)));
	ida->words[index / 64] &= ~(UINT64_C(1) << (index % 64));
	umdev__mutex_unlock(&ida->lock);
}

int umdev_ida_taken(struct umdev_ida *ida, unsigned int index)
{
	int taken = 0;

	umdev__mutex_lock(&ida->lock);
	if (index / 64 < ida->nr_words)
		taken = !!(ida->words[index / 64] & (UINT64_C(1) << (index % 64)));
	umdev__mutex_unlock(&ida->lock);
	return taken;
}

void umdev_ida_destroy(struct umdev_ida *ida)
{
	umdev__mutex_lock(&ida->lock);
	free(ida->words);
	ida->words = NULL;
	ida->nr_words = 0;
	umdev__mutex_unlock(&ida->lock);
}
