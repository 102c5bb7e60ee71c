// SPDX-License-Identifier: MIT
/*
 * The scenario: 8 parents x 16 devices; threads create distinct and colliding UUIDs,
 * remove, read available_instances, and one thread unregisters and re-registers parents, all
 * at once, for bounded rounds. Creates go through the core's parent records (as the sysfs
 * `create` handle does), so a create may race the unregistration of its parent without
 * touching freed vendor memory. At the end: no device left, nothing leaked (ASan), every
 * parent's available_instances back to its starting value.
 */
#include <errno.h>
#include <stdatomic.h>

#include "stress.h"

#define NR_PARENTS 8
#define NR_DISTINCT 8 /* threads with a UUID range of their own */
#define NR_COLLIDE 4 /* threads sharing one small UUID range */
#define NR_REMOVERS 2 /* threads removing anything */
#define ITERATIONS 1500 /* per worker, at least ... */
#define MIN_CYCLES 200 /* ... and until this many parent re-registrations happened */
#define MAX_ITERATIONS 100000
#define RANGE 24 /* UUIDs per distinct thread */
#define COLLIDE_BASE 1000
#define COLLIDE_RANGE 32
#define NR_UUIDS (COLLIDE_BASE + COLLIDE_RANGE)

struct slot {
	pthread_mutex_t lock; /* protects the two below; leaf, never held into the core */
	struct tdrv_parent *parent; /* NULL while being re-registered */
	struct umdev__parent *core; /* a reference held by the slot */
};

static struct slot slots[NR_PARENTS];
static atomic_bool stop;
static atomic_uint nr_ok, nr_eexist, nr_eusers, nr_enodev, nr_removed, nr_eagain, nr_cycles;

/* A reference on slot @i's parent record (possibly one being unregistered). */
static struct umdev__parent *slot_get(unsigned int i)
{
	struct umdev__parent *core;

	pthread_mutex_lock(&slots[i].lock);
	core = slots[i].core;
	if (core)
		umdev__parent_get(core); /* put by the caller */
	pthread_mutex_unlock(&slots[i].lock);
	return core;
}

static void create_on(unsigned int p, unsigned int n)
{
	struct umdev__parent *core = slot_get(p);
	uuid_t u;
	int ret;

	if (!core)
		return;
	st_uuid(u, n);
	ret = umdev__type_create(umdev__parent_type(core, 0), &u);
	umdev__parent_put(core);
	switch (ret) {
	case 0:
		atomic_fetch_add(&nr_ok, 1);
		break;
	case -EEXIST:
		atomic_fetch_add(&nr_eexist, 1);
		break;
	case -EUSERS:
		atomic_fetch_add(&nr_eusers, 1);
		break;
	case -ENODEV:
		atomic_fetch_add(&nr_enodev, 1);
		break;
	default:
		CHECK(0, "create U%u on t%u: %d", n, p, ret);
	}
}

static void remove_one(unsigned int n)
{
	uuid_t u;
	int ret;

	st_uuid(u, n);
	ret = umdev_mdev_remove(&u);
	CHECK(ret == 0 || ret == -ENODEV || ret == -EAGAIN, "remove U%u: %d", n, ret);
	if (ret == 0)
		atomic_fetch_add(&nr_removed, 1);
	else if (ret == -EAGAIN)
		atomic_fetch_add(&nr_eagain, 1);
}

struct worker {
	unsigned int id;
};

static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	uint64_t rnd = 0x2545f4914f6cdd1dULL * (w->id + 7);
	unsigned int i;

	for (i = 0; (i < ITERATIONS || atomic_load(&nr_cycles) < MIN_CYCLES) && i < MAX_ITERATIONS;
	     i++) {
		unsigned int op = st_rand(&rnd) % 4, p = st_rand(&rnd) % NR_PARENTS, n;

		if (w->id < NR_DISTINCT)
			n = w->id * RANGE + st_rand(&rnd) % RANGE;
		else if (w->id < NR_DISTINCT + NR_COLLIDE)
			n = COLLIDE_BASE + st_rand(&rnd) % COLLIDE_RANGE;
		else
			n = st_rand(&rnd) % NR_UUIDS;
		if (w->id >= NR_DISTINCT + NR_COLLIDE || op == 0)
			remove_one(n);
		else
			create_on(p, n);
	}
	return NULL;
}

static void *reader_thread(void *arg)
{
	char buf[UMDEV_ATTR_BUF_SIZE];
	uint64_t rnd = 99;

	(void)arg;
	while (!atomic_load(&stop)) {
		struct umdev__parent *core = slot_get(st_rand(&rnd) % NR_PARENTS);
		ssize_t n;

		if (!core)
			continue;
		n = umdev__type_show_available(umdev__parent_type(core, 0), buf, sizeof(buf) - 1);
		umdev__parent_put(core);
		if (n == -ENODEV)
			continue; /* unregistered meanwhile: a stale handle */
		CHECK(n > 0, "show_available: %zd", n);
		buf[n] = '\0';
		CHECK(atoi(buf) >= 0 && atoi(buf) <= 16, "available %s (I-5)", buf);
	}
	return NULL;
}

static void slot_set(unsigned int i, struct tdrv_parent *p)
{
	struct umdev__parent *core = tdrv_umdev_parent(p)->core;

	umdev__parent_get(core); /* put in cycle_thread() */
	pthread_mutex_lock(&slots[i].lock);
	slots[i].parent = p;
	slots[i].core = core;
	pthread_mutex_unlock(&slots[i].lock);
}

static void *cycle_thread(void *arg)
{
	uint64_t rnd = 4242;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned int i = st_rand(&rnd) % NR_PARENTS;
		struct umdev__parent *core;
		struct tdrv_parent *p;
		char name[16];
		int err = 0;

		/* the old record stays in the slot until the new parent replaces it: creates and
		 * reads meanwhile use it as a stale `create` handle would (ENODEV) */
		pthread_mutex_lock(&slots[i].lock);
		p = slots[i].parent;
		core = slots[i].core;
		slots[i].parent = NULL;
		pthread_mutex_unlock(&slots[i].lock);

		tdrv_parent_remove(p); /* races creates holding references on core */
		(void)snprintf(name, sizeof(name), "t%u", i);
		p = tdrv_parent_add(name, &err);
		CHECK(p, "re-register %s: %d", name, err);
		CHECK(st_available(tdrv_type(p)) == 16, "%s: available after re-registration",
		      name);
		slot_set(i, p);
		umdev__parent_put(core); /* the slot's reference on the old record */
		atomic_fetch_add(&nr_cycles, 1);
	}
	return NULL;
}

int main(void)
{
	static struct worker w[NR_DISTINCT + NR_COLLIDE + NR_REMOVERS];
	struct tdrv_parent *t[NR_PARENTS];
	unsigned int i, n, total = 0;
	pthread_t reader, cycler;
	uint64_t start = st_now_ms();

	st_begin(240);
	st_add_parents(NULL, t, NR_PARENTS);
	for (i = 0; i < NR_PARENTS; i++) {
		pthread_mutex_init(&slots[i].lock, NULL);
		slot_set(i, t[i]);
	}
	/* start full: 16 devices on each parent */
	for (i = 0; i < NR_PARENTS * 16; i++) {
		uuid_t u;

		st_uuid(u, i);
		CHECK(umdev_mdev_create(tdrv_type(t[i / 16]), &u) == 0, "initial create %u", i);
	}
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		w[i].id = i;
	CHECK(pthread_create(&reader, NULL, reader_thread, NULL) == 0, "reader");
	CHECK(pthread_create(&cycler, NULL, cycle_thread, NULL) == 0, "cycler");
	st_run_threads(sizeof(w) / sizeof(w[0]), worker_thread, w, sizeof(w[0]));
	atomic_store(&stop, true);
	pthread_join(reader, NULL);
	pthread_join(cycler, NULL);

	/* quiescent: per-parent accounting is exact */
	for (i = 0; i < NR_PARENTS; i++)
		t[i] = slots[i].parent;
	for (n = 0; n < NR_UUIDS; n++) {
		int owner = st_parent_of(n, t, NR_PARENTS);

		CHECK(st_published(n) == (owner >= 0), "U%u published %d owner %d", n,
		      st_published(n), owner);
		total += owner >= 0;
	}
	CHECK(umdev__core_nr_mdevs() == total, "table %u, found %u", umdev__core_nr_mdevs(), total);
	for (i = 0; i < NR_PARENTS; i++) {
		int a = st_available(tdrv_type(t[i]));

		CHECK(a == 16 - (int)tdrv_live(t[i]), "t%u: available %d, live %u", i, a,
		      tdrv_live(t[i]));
	}
	for (n = 0; n < NR_UUIDS; n++)
		remove_one(n);
	CHECK(umdev__core_nr_mdevs() == 0, "devices left after removing all");
	for (i = 0; i < NR_PARENTS; i++) {
		CHECK(st_available(tdrv_type(t[i])) == 16, "t%u: available not back to 16", i);
		pthread_mutex_lock(&slots[i].lock);
		umdev__parent_put(slots[i].core);
		slots[i].core = NULL;
		slots[i].parent = NULL;
		pthread_mutex_unlock(&slots[i].lock);
	}
	CHECK(atomic_load(&nr_cycles) > 0 && atomic_load(&nr_ok) > 0, "nothing raced");
	st_end(t, NR_PARENTS);
	printf("mixed: 8 parents x 16 devices, %u workers x >= %u iterations + reader + %u parent "
	       "re-registrations in %llu ms: %u creates ok, %u EEXIST, %u EUSERS, %u ENODEV, %u "
	       "removes ok, %u EAGAIN; at the end no device left, available back to 16, no "
	       "violation, nothing leaked\n",
	       (unsigned int)(sizeof(w) / sizeof(w[0])), ITERATIONS, atomic_load(&nr_cycles),
	       (unsigned long long)(st_now_ms() - start), atomic_load(&nr_ok),
	       atomic_load(&nr_eexist), atomic_load(&nr_eusers), atomic_load(&nr_enodev),
	       atomic_load(&nr_removed), atomic_load(&nr_eagain));
	return 0;
}
