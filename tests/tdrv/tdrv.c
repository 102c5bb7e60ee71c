// SPDX-License-Identifier: MIT
/*
 * tdrv - the test driver of mdev.md §9 (contract in tdrv.h).
 *
 * Every knob is per parent. Counters are atomics; gates, the description bytes and the probe
 * hook are under the parent's mutex; the set of live mdevs (probe returned 0, remove not yet
 * finished) is one global list under live_lock, so remove-without-probe, double remove and a
 * store on a removed mdev are detected whatever parent the mdev claims to belong to.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tdrv.h"

#define TDRV_NAME_MAX 64
#define TDRV_SAMPLE_MAX 256
#define TDRV_GATE_WAIT_S 60 /* tdrv_gate_wait_blocked() gives up (abort) after this */

struct tdrv_gate {
	bool closed; /* under tdrv_parent.lock */
	unsigned int blocked; /* under tdrv_parent.lock: callers waiting in the gate */
};

struct tdrv_parent {
	struct umdev_parent parent; /* registered with the core; first so container_of is cheap */
	struct umdev_type *type; /* separate allocations so ASan sees a use after free (M-80) */
	struct umdev_type **types;
	char name[TDRV_NAME_MAX + 1];

	pthread_mutex_t
	    lock; /* leaf; protects gates, description, probe_hook; never held in core */
	pthread_cond_t cond; /* gate state changed (opened, or a caller arrived) */
	struct tdrv_gate gate[TDRV_NR_CALLBACKS];
	char *description; /* under lock */
	size_t description_len;
	void (*probe_hook)(struct umdev_mdev *mdev, void *arg); /* under lock */
	void *probe_hook_arg;

	atomic_int probe_result;
	atomic_int fail_ret;
	atomic_uint fail_every;
	atomic_uint fail_seq; /* probe calls seen by the failure ratio */
	uint64_t fail_seed; /* immutable after add */
	atomic_uint sleep_ms[TDRV_NR_CALLBACKS];
	atomic_uint available; /* driver-managed value */

	atomic_uint calls[TDRV_NR_CALLBACKS];
	atomic_uint get_available_calls;
	atomic_uint description_calls;
	atomic_uint store_calls;
	atomic_uint bin_read_calls;
	atomic_long bin_result;
	atomic_uint live; /* updated under live_lock, read lock-free */
};

/* One mdev between successful probe and the end of its remove. */
struct tdrv_mdev {
	struct tdrv_mdev *next;
	struct umdev_mdev *mdev; /* key; never dereferenced through the record */
	struct tdrv_parent *parent;
	bool removing; /* remove has been entered */
	char sample[TDRV_SAMPLE_MAX];
	size_t sample_len;
};

/* Leaf; protects live_list and every record's fields. Never held across a callback's wait. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tdrv_mdev *live_list;
static atomic_uint violations;

static struct tdrv_options options; /* fixed between tdrv_register() and tdrv_unregister() */
static char driver_name[TDRV_NAME_MAX + 1];
static char pretty_name[TDRV_NAME_MAX + 1];
static struct umdev_driver tdrv_drv;
static bool tdrv_registered; /* under driver_setup_lock */
static pthread_mutex_t driver_setup_lock = PTHREAD_MUTEX_INITIALIZER;

static void violation(const char *what, struct umdev_mdev *mdev)
{
	char uuid_str[UUID_STR_LEN] = "?";

	if (mdev)
		uuid_unparse(*umdev_mdev_uuid(mdev), uuid_str);
	fprintf(stderr, "tdrv: VIOLATION: %s (mdev %s)\n", what, uuid_str);
	atomic_fetch_add(&violations, 1);
}

static struct tdrv_parent *parent_of_type(const struct umdev_type *type)
{
	return umdev_container_of(umdev_type_parent(type), struct tdrv_parent, parent);
}

static struct tdrv_parent *parent_of_mdev(const struct umdev_mdev *mdev)
{
	return parent_of_type(umdev_mdev_type(mdev));
}

/* Caller holds live_lock. */
static struct tdrv_mdev **live_find(struct umdev_mdev *mdev)
{
	struct tdrv_mdev **pos;

	for (pos = &live_list; *pos; pos = &(*pos)->next)
		if ((*pos)->mdev == mdev)
			return pos;
	return NULL;
}

static void gate_pass(struct tdrv_parent *p, enum tdrv_callback cb)
{
	struct tdrv_gate *g = &p->gate[cb];

	pthread_mutex_lock(&p->lock);
	if (g->closed) {
		g->blocked++;
		pthread_cond_broadcast(&p->cond);
		while (g->closed)
			pthread_cond_wait(&p->cond, &p->lock);
		g->blocked--;
	}
	pthread_mutex_unlock(&p->lock);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static int tdrv_probe(struct umdev_mdev *mdev)
{
	struct tdrv_parent *p = parent_of_mdev(mdev);
	void (*hook)(struct umdev_mdev *, void *);
	struct tdrv_mdev *rec;
	unsigned int every, ms;
	void *hook_arg;
	int ret;

	atomic_fetch_add(&p->calls[TDRV_PROBE], 1);

	pthread_mutex_lock(&p->lock);
	hook = p->probe_hook;
	hook_arg = p->probe_hook_arg;
	pthread_mutex_unlock(&p->lock);
	if (hook)
		hook(mdev, hook_arg); /* no lock of ours held (M-78) */

	gate_pass(p, TDRV_PROBE);
	ms = atomic_load(&p->sleep_ms[TDRV_PROBE]);
	if (ms)
		sleep_ms(ms);

	ret = atomic_load(&p->probe_result);
	every = atomic_load(&p->fail_every);
	if (!ret && every) {
		unsigned int seq = atomic_fetch_add(&p->fail_seq, 1);

		if (mix64(p->fail_seed ^ seq) % every == 0)
			ret = atomic_load(&p->fail_ret);
	}
	if (ret)
		return ret; /* nothing built: nothing to undo */

	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	rec->mdev = mdev;
	rec->parent = p;

	pthread_mutex_lock(&live_lock);
	if (live_find(mdev))
		violation("probe of an mdev already live", mdev);
	rec->next = live_list;
	live_list = rec;
	atomic_fetch_add(&p->live, 1);
	pthread_mutex_unlock(&live_lock);
	return 0;
}

static void tdrv_remove(struct umdev_mdev *mdev)
{
	struct tdrv_parent *p = parent_of_mdev(mdev);
	struct tdrv_mdev **pos, *rec = NULL;
	unsigned int ms;

	atomic_fetch_add(&p->calls[TDRV_REMOVE], 1);

	pthread_mutex_lock(&live_lock);
	pos = live_find(mdev);
	if (!pos)
		violation("remove of an mdev whose probe did not succeed, or removed twice", mdev);
	else if ((*pos)->removing)
		violation("concurrent double remove", mdev);
	else
		(*pos)->removing = true;
	pthread_mutex_unlock(&live_lock);

	gate_pass(p, TDRV_REMOVE);
	ms = atomic_load(&p->sleep_ms[TDRV_REMOVE]);
	if (ms)
		sleep_ms(ms);

	pthread_mutex_lock(&live_lock);
	pos = live_find(mdev);
	if (pos && (*pos)->removing) {
		rec = *pos;
		*pos = rec->next;
		atomic_fetch_sub(&rec->parent->live, 1);
	}
	pthread_mutex_unlock(&live_lock);
	free(rec);
}

static unsigned int tdrv_get_available(struct umdev_type *type)
{
	struct tdrv_parent *p = parent_of_type(type);

	atomic_fetch_add(&p->get_available_calls, 1);
	return atomic_load(&p->available);
}

static ssize_t tdrv_show_description(struct umdev_type *type, char *buf, size_t len)
{
	struct tdrv_parent *p = parent_of_type(type);
	size_t n;

	atomic_fetch_add(&p->description_calls, 1);
	pthread_mutex_lock(&p->lock);
	n = p->description_len < len ? p->description_len : len;
	if (n)
		memcpy(buf, p->description, n);
	pthread_mutex_unlock(&p->lock);
	return (ssize_t)n;
}

static ssize_t sample_show(struct umdev_mdev *mdev, char *buf, size_t len)
{
	struct tdrv_mdev **pos;
	ssize_t ret;

	pthread_mutex_lock(&live_lock);
	pos = live_find(mdev);
	if (!pos || (*pos)->removing) {
		violation("show on an mdev that is not live", mdev);
		ret = -ENODEV;
	} else {
		size_t n = (*pos)->sample_len < len ? (*pos)->sample_len : len;

		memcpy(buf, (*pos)->sample, n);
		ret = (ssize_t)n;
	}
	pthread_mutex_unlock(&live_lock);
	return ret;
}

/* A store must never reach an mdev that is not ACTIVE (M-81): record it if it does. */
static ssize_t sample_store(struct umdev_mdev *mdev, const char *buf, size_t len)
{
	struct tdrv_mdev **pos;
	ssize_t ret;

	atomic_fetch_add(&parent_of_mdev(mdev)->store_calls, 1);
	pthread_mutex_lock(&live_lock);
	pos = live_find(mdev);
	if (!pos || (*pos)->removing) {
		violation("store on an mdev that is not live", mdev);
		ret = -ENODEV;
	} else {
		size_t n = len < TDRV_SAMPLE_MAX ? len : TDRV_SAMPLE_MAX;

		memcpy((*pos)->sample, buf, n);
		(*pos)->sample_len = n;
		ret = (ssize_t)len;
	}
	pthread_mutex_unlock(&live_lock);
	return ret;
}

static const struct umdev_attr sample_attr = {
    .name = "sample_attr",
    .mode = 0644,
    .show = sample_show,
    .store = sample_store,
};
static const struct umdev_attr *const sample_attrs[] = {&sample_attr, NULL};
static const struct umdev_attr_group sample_group = {.name = NULL, .attrs = sample_attrs};
static const struct umdev_attr_group *const sample_groups[] = {&sample_group, NULL};

static ssize_t bin_read(struct umdev_mdev *mdev, char *buf, size_t off, size_t len)
{
	struct tdrv_parent *p = parent_of_mdev(mdev);
	long forced = atomic_load(&p->bin_result);
	size_t n;

	atomic_fetch_add(&p->bin_read_calls, 1);
	if (forced)
		return (ssize_t)forced;
	if (off >= TDRV_BIN_SIZE)
		return 0;
	n = TDRV_BIN_SIZE - off < len ? TDRV_BIN_SIZE - off : len;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)tdrv_bin_byte(off + i);
	return (ssize_t)n;
}

static const struct umdev_bin_attr bin_sized = {
    .attr = {.name = "sized", .mode = 0444 | UMDEV_ATTR_BIN},
    .size = TDRV_BIN_SIZE,
    .read = bin_read,
};
/* write bits in the mode: the file is read-only all the same */
static const struct umdev_bin_attr bin_dynamic = {
    .attr = {.name = "dynamic", .mode = 0644 | UMDEV_ATTR_BIN},
    .size = 0,
    .read = bin_read,
};
static const struct umdev_attr *const bin_attrs[] = {&bin_sized.attr, &bin_dynamic.attr, NULL};
static const struct umdev_attr_group bin_group = {.name = "bin", .attrs = bin_attrs};
static const struct umdev_attr_group *const bin_groups[] = {&bin_group, NULL};
static const struct umdev_attr_group *const both_groups[] = {&sample_group, &bin_group, NULL};

void tdrv_set_bin_result(struct tdrv_parent *p, long ret)
{
	atomic_store(&p->bin_result, ret);
}

unsigned int tdrv_bin_read_calls(struct tdrv_parent *p)
{
	return atomic_load(&p->bin_read_calls);
}

int tdrv_register(const struct tdrv_options *opt)
{
	int ret;

	pthread_mutex_lock(&driver_setup_lock);
	if (tdrv_registered) {
		/* the same driver again: let the core answer (-EEXIST), leave ours untouched */
		ret = umdev_register_driver(&tdrv_drv);
		pthread_mutex_unlock(&driver_setup_lock);
		return ret;
	}
	memset(&options, 0, sizeof(options));
	if (opt)
		options = *opt;
	(void)snprintf(driver_name, sizeof(driver_name), "%s",
		       options.driver_name ? options.driver_name : "tdrv");
	options.driver_name = driver_name;
	if (options.pretty_name) {
		(void)snprintf(pretty_name, sizeof(pretty_name), "%s", options.pretty_name);
		options.pretty_name = pretty_name;
	}
	if (!options.max_instances)
		options.max_instances = 16;

	memset(&tdrv_drv, 0, sizeof(tdrv_drv));
	tdrv_drv.name = driver_name;
	tdrv_drv.device_api = "vfio-pci";
	tdrv_drv.max_instances = options.max_instances;
	tdrv_drv.probe = tdrv_probe;
	tdrv_drv.remove = tdrv_remove;
	if (options.driver_managed)
		tdrv_drv.get_available = tdrv_get_available;
	if (options.description)
		tdrv_drv.show_description = tdrv_show_description;
	if (options.sample_attr && options.bin_attr)
		tdrv_drv.dev_groups = both_groups;
	else if (options.sample_attr)
		tdrv_drv.dev_groups = sample_groups;
	else if (options.bin_attr)
		tdrv_drv.dev_groups = bin_groups;

	atomic_store(&violations, 0);
	ret = umdev_register_driver(&tdrv_drv);
	if (ret == 0)
		tdrv_registered = true;
	pthread_mutex_unlock(&driver_setup_lock);
	return ret;
}

int tdrv_unregister(void)
{
	int ret;

	pthread_mutex_lock(&driver_setup_lock);
	ret = umdev_unregister_driver(&tdrv_drv);
	if (ret == 0)
		tdrv_registered = false;
	pthread_mutex_unlock(&driver_setup_lock);
	return ret;
}

struct umdev_driver *tdrv_driver(void)
{
	return &tdrv_drv;
}

static void parent_free(struct tdrv_parent *p)
{
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->description);
	free(p->types);
	free(p->type);
	free(p);
}

struct tdrv_parent *tdrv_parent_add(const char *name, int *ret_err)
{
	struct tdrv_parent *p;
	int ret = -ENOMEM;
	size_t i;

	p = calloc(1, sizeof(*p));
	if (!p)
		goto err;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->type = calloc(1, sizeof(*p->type));
	p->types = calloc(1, sizeof(*p->types));
	if (!p->type || !p->types)
		goto err_free;
	(void)snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
	p->type->sysfs_name = "a";
	p->type->pretty_name = options.pretty_name;
	p->types[0] = p->type;
	atomic_store(&p->available, options.max_instances ? options.max_instances : 16);
	p->fail_seed = 0x5eed;
	for (i = 0; p->name[i]; i++)
		p->fail_seed = p->fail_seed * 131 + (unsigned char)p->name[i];

	ret = umdev_register_parent(&p->parent, name, "tdrv", &tdrv_drv, p->types, 1);
	if (ret < 0)
		goto err_free;
	return p;

err_free:
	parent_free(p);
err:
	if (ret_err)
		*ret_err = ret;
	return NULL;
}

void tdrv_parent_unregister(struct tdrv_parent *p)
{
	umdev_unregister_parent(&p->parent);
	if (atomic_load(&p->live))
		violation("parent unregistered with live mdevs", NULL);
}

void tdrv_parent_free(struct tdrv_parent *p)
{
	parent_free(p); /* the core must not touch any of this any more (M-80) */
}

void tdrv_parent_remove(struct tdrv_parent *p)
{
	if (!p)
		return;
	tdrv_parent_unregister(p);
	tdrv_parent_free(p);
}

struct umdev_type *tdrv_type(struct tdrv_parent *p)
{
	return p->type;
}

struct umdev_parent *tdrv_umdev_parent(struct tdrv_parent *p)
{
	return &p->parent;
}

void tdrv_set_probe_result(struct tdrv_parent *p, int ret)
{
	atomic_store(&p->probe_result, ret);
}

void tdrv_set_probe_fail_ratio(struct tdrv_parent *p, int ret, unsigned int every)
{
	atomic_store(&p->fail_ret, ret);
	atomic_store(&p->fail_every, every);
}

void tdrv_set_sleep_ms(struct tdrv_parent *p, enum tdrv_callback cb, unsigned int ms)
{
	atomic_store(&p->sleep_ms[cb], ms);
}

void tdrv_set_available(struct tdrv_parent *p, unsigned int avail)
{
	atomic_store(&p->available, avail);
}

void tdrv_set_description(struct tdrv_parent *p, const char *bytes, size_t len)
{
	char *copy = NULL;

	if (len > UMDEV_ATTR_BUF_SIZE)
		len = UMDEV_ATTR_BUF_SIZE;
	if (len) {
		copy = malloc(len);
		if (!copy)
			abort(); /* test helper: out of memory is fatal */
		memcpy(copy, bytes, len);
	}
	pthread_mutex_lock(&p->lock);
	free(p->description);
	p->description = copy;
	p->description_len = len;
	pthread_mutex_unlock(&p->lock);
}

void tdrv_gate_close(struct tdrv_parent *p, enum tdrv_callback cb)
{
	pthread_mutex_lock(&p->lock);
	p->gate[cb].closed = true;
	pthread_mutex_unlock(&p->lock);
}

void tdrv_gate_open(struct tdrv_parent *p, enum tdrv_callback cb)
{
	pthread_mutex_lock(&p->lock);
	p->gate[cb].closed = false;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void tdrv_gate_wait_blocked(struct tdrv_parent *p, enum tdrv_callback cb, unsigned int n)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += TDRV_GATE_WAIT_S;
	pthread_mutex_lock(&p->lock);
	while (p->gate[cb].blocked < n) {
		if (pthread_cond_timedwait(&p->cond, &p->lock, &deadline) == ETIMEDOUT &&
		    p->gate[cb].blocked < n) {
			fprintf(stderr,
				"tdrv: %s: %u of %u callers blocked after %d s, giving up\n",
				p->name, p->gate[cb].blocked, n, TDRV_GATE_WAIT_S);
			abort();
		}
	}
	pthread_mutex_unlock(&p->lock);
}

void tdrv_set_probe_hook(struct tdrv_parent *p, void (*fn)(struct umdev_mdev *mdev, void *arg),
			 void *arg)
{
	pthread_mutex_lock(&p->lock);
	p->probe_hook = fn;
	p->probe_hook_arg = arg;
	pthread_mutex_unlock(&p->lock);
}

unsigned int tdrv_calls(struct tdrv_parent *p, enum tdrv_callback cb)
{
	return atomic_load(&p->calls[cb]);
}

unsigned int tdrv_get_available_calls(struct tdrv_parent *p)
{
	return atomic_load(&p->get_available_calls);
}

unsigned int tdrv_description_calls(struct tdrv_parent *p)
{
	return atomic_load(&p->description_calls);
}

unsigned int tdrv_store_calls(struct tdrv_parent *p)
{
	return atomic_load(&p->store_calls);
}

unsigned int tdrv_live(struct tdrv_parent *p)
{
	return atomic_load(&p->live);
}

unsigned int tdrv_violations(void)
{
	return atomic_load(&violations);
}
