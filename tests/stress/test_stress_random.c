// SPDX-License-Identifier: MIT
/*
 * M-56 through the C API: 16 threads x 2000 iterations of random create/remove on random
 * parents, 10 % injected probe failures. A reader checks I-5 bounds all along. At quiescence:
 * available == max - devices per parent, the UUID table equals the published set, every vfio
 * index held belongs to a device, and tdrv's counts match the results the threads saw.
 */
#include <errno.h>
#include <stdatomic.h>

#include "stress.h"

#define NR_THREADS 16
#define ITERATIONS 2000
#define NR_PARENTS 8
#define NR_UUIDS 200

static struct tdrv_parent *t[NR_PARENTS];
static atomic_bool stop;

struct worker {
	unsigned int id;
	unsigned int create_ok[NR_PARENTS], create_eio[NR_PARENTS];
	unsigned int eexist, eusers, remove_ok, enodev, eagain;
};

static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * (w->id + 1);
	unsigned int i;

	for (i = 0; i < ITERATIONS; i++) {
		unsigned int n = st_rand(&rnd) % NR_UUIDS;
		uuid_t u;
		int ret;

		st_uuid(u, n);
		if (st_rand(&rnd) % 2) {
			unsigned int p = st_rand(&rnd) % NR_PARENTS;

			ret = umdev_mdev_create(tdrv_type(t[p]), &u);
			if (ret == 0)
				w->create_ok[p]++;
			else if (ret == -EIO)
				w->create_eio[p]++;
			else if (ret == -EEXIST)
				w->eexist++;
			else if (ret == -EUSERS)
				w->eusers++;
			else
				CHECK(0, "create U%u on t%u: %d", n, p, ret);
		} else {
			ret = umdev_mdev_remove(&u);
			if (ret == 0)
				w->remove_ok++;
			else if (ret == -ENODEV)
				w->enodev++;
			else if (ret == -EAGAIN)
				w->eagain++;
			else
				CHECK(0, "remove U%u: %d", n, ret);
		}
	}
	return NULL;
}

static void *reader_thread(void *arg)
{
	uint64_t rnd = 12345;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned int p = st_rand(&rnd) % NR_PARENTS;
		int a = st_available(tdrv_type(t[p]));

		CHECK(a >= 0 && a <= 16, "t%u available %d out of [0, 16] (I-5)", p, a);
	}
	return NULL;
}

int main(void)
{
	static struct worker w[NR_THREADS];
	unsigned int i, p, n, probes = 0, ok = 0, eio = 0, removes = 0, removed_ok = 0;
	unsigned int in_table[NR_PARENTS] = {0}, total = 0, eexist = 0, eusers = 0, eagain = 0;
	pthread_t reader;
	uint64_t start = st_now_ms();

	st_begin(240);
	st_add_parents(NULL, t, NR_PARENTS);
	for (p = 0; p < NR_PARENTS; p++)
		tdrv_set_probe_fail_ratio(t[p], -EIO, 10);
	for (i = 0; i < NR_THREADS; i++)
		w[i].id = i;
	CHECK(pthread_create(&reader, NULL, reader_thread, NULL) == 0, "reader");
	st_run_threads(NR_THREADS, worker_thread, w, sizeof(w[0]));
	atomic_store(&stop, true);
	pthread_join(reader, NULL);

	/* quiescent: the table, the published set and the counters agree */
	for (n = 0; n < NR_UUIDS; n++) {
		int owner = st_parent_of(n, t, NR_PARENTS);

		CHECK(st_published(n) == (owner >= 0), "U%u: published %d, in table on t%d", n,
		      st_published(n), owner);
		if (owner >= 0) {
			in_table[owner]++;
			total++;
		}
	}
	CHECK(umdev__core_nr_mdevs() == total, "table %u, found %u", umdev__core_nr_mdevs(), total);
	CHECK(st_nr_published() == total, "published %u, table %u", st_nr_published(), total);
	CHECK(st_nr_vfio() == total, "vfio indexes %u, table %u (I-7)", st_nr_vfio(), total);
	for (p = 0; p < NR_PARENTS; p++) {
		unsigned int p_ok = 0, p_eio = 0;

		CHECK(st_available(tdrv_type(t[p])) == 16 - (int)in_table[p],
		      "t%u: available %d, devices %u (I-5)", p, st_available(tdrv_type(t[p])),
		      in_table[p]);
		CHECK(tdrv_live(t[p]) == in_table[p], "t%u: tdrv live %u, table %u", p,
		      tdrv_live(t[p]), in_table[p]);
		for (i = 0; i < NR_THREADS; i++) {
			p_ok += w[i].create_ok[p];
			p_eio += w[i].create_eio[p];
		}
		/* every probe either succeeded (create 0) or was an injected failure (EIO) */
		CHECK(tdrv_calls(t[p], TDRV_PROBE) == p_ok + p_eio, "t%u: probes %u != %u + %u", p,
		      tdrv_calls(t[p], TDRV_PROBE), p_ok, p_eio);
		probes += tdrv_calls(t[p], TDRV_PROBE);
		removes += tdrv_calls(t[p], TDRV_REMOVE);
		ok += p_ok;
		eio += p_eio;
	}
	for (i = 0; i < NR_THREADS; i++) {
		removed_ok += w[i].remove_ok;
		eexist += w[i].eexist;
		eusers += w[i].eusers;
		eagain += w[i].eagain;
	}
	CHECK(removes == removed_ok, "vendor removes %u, successful removes %u", removes,
	      removed_ok);
	CHECK(ok - removed_ok == total, "creates %u - removes %u != %u devices", ok, removed_ok,
	      total);
	CHECK(eio > 0 && eexist > 0, "the run exercised no failure");

	for (n = 0; n < NR_UUIDS; n++) {
		uuid_t u;

		st_uuid(u, n);
		(void)umdev_mdev_remove(&u);
	}
	for (p = 0; p < NR_PARENTS; p++)
		CHECK(st_available(tdrv_type(t[p])) == 16, "t%u: available after cleanup", p);
	st_end(t, NR_PARENTS);
	printf("M-56: %u threads x %u iterations on %u parents in %llu ms: %u creates ok, %u "
	       "injected probe failures, %u EEXIST, %u EUSERS, %u removes ok, %u EAGAIN; at "
	       "quiescence %u devices: table == published set == vfio indexes, available == 16 - "
	       "devices per parent, probes == ok + injected\n",
	       NR_THREADS, ITERATIONS, NR_PARENTS, (unsigned long long)(st_now_ms() - start), ok,
	       eio, eexist, eusers, removed_ok, eagain, total);
	return 0;
}
