// SPDX-License-Identifier: MIT
/* Fixture of the core unit tests: recording hooks, fault injection, tdrv parents. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "fault.h"
#include "test_core_fixture.h"
#include "vfio.h"

#define FX_MAX_RECS 16384
#define FX_MAX_VFIO 1024

/* A node set handed out by mdev_prepare: checked for exactly one publish+unpublish or discard. */
struct fx_nodes {
	uint32_t magic;
	uuid_t uuid;
	bool published;
};
#define FX_NODES_MAGIC 0x6e6f6465u

/* Leaf lock of the fixture: protects everything below; never held while calling the core. */
static pthread_mutex_t fx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fx_rec recs[FX_MAX_RECS];
static unsigned int nr_recs;
static bool recs_overflow;
static int fail_err[FX_NR_KINDS];
static unsigned int published;
static unsigned int outstanding;
static bool vfio_taken[FX_MAX_VFIO];
static unsigned int fixture_errors; /* hook misuse seen by the fixture */
static void (*on_before_bus_link)(struct umdev_parent *parent);
static void (*on_after_bus_unlink)(struct umdev_parent *parent);
static void (*on_point)(enum umdev_test_point point, const uuid_t *uuid);
static struct fx *current;

static atomic_uint warnings, errors_logged, expected_warnings;

static void fixture_error(const char *what)
{
	fprintf(stderr, "fixture: %s\n", what);
	fixture_errors++;
}

struct tdrv_parent *fx_parent_of(const struct umdev_mdev *mdev)
{
	struct umdev_parent *up = umdev_type_parent(umdev_mdev_type(mdev));
	unsigned int i;

	if (!current)
		return NULL;
	for (i = 0; i < current->nr_parents; i++)
		if (current->t[i] && tdrv_umdev_parent(current->t[i]) == up)
			return current->t[i];
	return NULL;
}

static unsigned int remove_calls_of(const struct umdev_mdev *mdev)
{
	struct tdrv_parent *p = fx_parent_of(mdev);

	return p ? tdrv_calls(p, TDRV_REMOVE) : 0;
}

static const char *const kind_names[FX_NR_KINDS] = {
    [FX_DRIVER_PUBLISH] = "driver_publish",
    [FX_PARENT_PUBLISH] = "parent_publish",
    [FX_BUS_LINK_PUBLISH] = "parent_publish_bus_link",
};

/* Whether hook @kind can fail (the core checks its result). */
static bool can_fail(enum fx_kind kind)
{
	return kind_names[kind] != NULL;
}

/* Caller holds fx_lock. */
static struct fx_rec *record(enum fx_kind kind)
{
	struct fx_rec *r;

	if (nr_recs == FX_MAX_RECS) {
		recs_overflow = true;
		nr_recs = 0; /* stress-like tests: keep going, the sequence checks lose */
	}
	r = &recs[nr_recs++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	return r;
}

static int record_name(enum fx_kind kind, const char *name)
{
	struct fx_rec *r;
	int ret;

	pthread_mutex_lock(&fx_lock);
	r = record(kind);
	(void)snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
	ret = fail_err[kind];
	if (!ret && can_fail(kind) && fault_hit(kind_names[kind]))
		ret = -EIO; /* a fault walk's point (tests/fault) */
	r->ret = ret;
	pthread_mutex_unlock(&fx_lock);
	return ret;
}

static int driver_publish(void *opaque, const struct umdev_driver *drv)
{
	(void)opaque;
	return record_name(FX_DRIVER_PUBLISH, drv->name);
}

static void driver_unpublish(void *opaque, const struct umdev_driver *drv)
{
	(void)opaque;
	(void)record_name(FX_DRIVER_UNPUBLISH, drv->name);
}

static int parent_publish(void *opaque, struct umdev__parent *p)
{
	(void)opaque;
	return record_name(FX_PARENT_PUBLISH, umdev__parent_name(p));
}

static int parent_publish_bus_link(void *opaque, struct umdev__parent *p)
{
	(void)opaque;
	return record_name(FX_BUS_LINK_PUBLISH, umdev__parent_name(p));
}

static void parent_unpublish_bus_link(void *opaque, struct umdev__parent *p)
{
	(void)opaque;
	(void)record_name(FX_BUS_LINK_UNPUBLISH, umdev__parent_name(p));
}

static void parent_unpublish(void *opaque, struct umdev__parent *p)
{
	(void)opaque;
	(void)record_name(FX_PARENT_UNPUBLISH, umdev__parent_name(p));
}

static int mdev_prepare(void *opaque, struct umdev_mdev *mdev, void **ret_nodes)
{
	unsigned int remove_calls = remove_calls_of(mdev);
	unsigned int index = umdev_mdev_vfio_index(mdev);
	struct fx_nodes *nodes = NULL;
	struct fx_rec *r;
	int ret;

	(void)opaque;
	pthread_mutex_lock(&fx_lock);
	r = record(FX_MDEV_PREPARE);
	uuid_copy(r->uuid, *umdev_mdev_uuid(mdev));
	r->index = index;
	r->remove_calls = remove_calls;
	ret = fail_err[FX_MDEV_PREPARE];
	if (!ret && fault_hit("mdev_prepare"))
		ret = -ENOMEM; /* the tree's only errno here */
	if (!ret) {
		nodes = calloc(1, sizeof(*nodes));
		if (!nodes) {
			ret = -ENOMEM;
		} else {
			nodes->magic = FX_NODES_MAGIC;
			uuid_copy(nodes->uuid, *umdev_mdev_uuid(mdev));
			outstanding++;
		}
	}
	r->ret = ret;
	pthread_mutex_unlock(&fx_lock);
	if (!ret)
		*ret_nodes = nodes;
	return ret;
}

/* Caller holds fx_lock. */
static bool nodes_ok(struct fx_nodes *nodes, struct umdev_mdev *mdev)
{
	if (!nodes || nodes->magic != FX_NODES_MAGIC) {
		fixture_error("node set not from mdev_prepare");
		return false;
	}
	if (uuid_compare(nodes->uuid, *umdev_mdev_uuid(mdev)) != 0) {
		fixture_error("node set handed back for another mdev");
		return false;
	}
	return true;
}

static void mdev_publish(void *opaque, struct umdev_mdev *mdev, void *nodes)
{
	struct fx_nodes *n = nodes;
	struct fx_rec *r;

	(void)opaque;
	pthread_mutex_lock(&fx_lock);
	r = record(FX_MDEV_PUBLISH);
	uuid_copy(r->uuid, *umdev_mdev_uuid(mdev));
	if (nodes_ok(n, mdev)) {
		if (n->published)
			fixture_error("node set published twice");
		n->published = true;
		published++;
	}
	pthread_mutex_unlock(&fx_lock);
}

static void mdev_unpublish(void *opaque, struct umdev_mdev *mdev, void *nodes)
{
	struct fx_nodes *n = nodes;
	struct fx_rec *r;

	(void)opaque;
	pthread_mutex_lock(&fx_lock);
	r = record(FX_MDEV_UNPUBLISH);
	uuid_copy(r->uuid, *umdev_mdev_uuid(mdev));
	if (nodes_ok(n, mdev)) {
		if (!n->published)
			fixture_error("unpublish of a node set never published");
		else
			published--;
		n->magic = 0;
		outstanding--;
		free(n);
	}
	pthread_mutex_unlock(&fx_lock);
}

static const struct umdev_tree_hooks tree_hooks = {
    .driver_publish = driver_publish,
    .driver_unpublish = driver_unpublish,
    .parent_publish = parent_publish,
    .parent_publish_bus_link = parent_publish_bus_link,
    .parent_unpublish_bus_link = parent_unpublish_bus_link,
    .parent_unpublish = parent_unpublish,
    .mdev_prepare = mdev_prepare,
    .mdev_publish = mdev_publish,
    .mdev_unpublish = mdev_unpublish,
};

static int vfio_register(void *opaque, struct umdev_mdev *mdev, unsigned int *ret_index)
{
	unsigned int remove_calls = remove_calls_of(mdev);
	struct fx_rec *r;
	unsigned int n;
	int ret;

	(void)opaque;
	pthread_mutex_lock(&fx_lock);
	r = record(FX_VFIO_REGISTER);
	uuid_copy(r->uuid, *umdev_mdev_uuid(mdev));
	r->remove_calls = remove_calls;
	ret = fail_err[FX_VFIO_REGISTER];
	if (!ret && fault_hit("vfio_register"))
		ret = -EIO;
	if (!ret) {
		for (n = 0; n < FX_MAX_VFIO && vfio_taken[n]; n++)
			;
		if (n == FX_MAX_VFIO) {
			ret = -ENOSPC;
		} else {
			vfio_taken[n] = true;
			r->index = n;
			*ret_index = n;
		}
	}
	r->ret = ret;
	pthread_mutex_unlock(&fx_lock);
	return ret;
}

/* Whether the mdev's iommu group number is still allocated (C8 done, its undo not yet). */
static bool mdev_group_taken(const struct umdev_mdev *mdev)
{
	return mdev->iommu_group >= 0 &&
	       umdev_ida_taken(&umdev__iommu_ida, (unsigned int)mdev->iommu_group);
}

static void vfio_detach(void *opaque, struct umdev_mdev *mdev)
{
	unsigned int remove_calls = remove_calls_of(mdev);
	unsigned int n = umdev_mdev_vfio_index(mdev);
	struct fx_rec *r;

	(void)opaque;
	pthread_mutex_lock(&fx_lock);
	r = record(FX_VFIO_DETACH);
	uuid_copy(r->uuid, *umdev_mdev_uuid(mdev));
	r->index = n;
	r->group_taken = mdev_group_taken(mdev);
	r->remove_calls = remove_calls;
	if (n >= FX_MAX_VFIO || !vfio_taken[n])
		fixture_error("vfio_detach of an index not held");
	else
		vfio_taken[n] = false;
	pthread_mutex_unlock(&fx_lock);
}

static const struct umdev_vfio_hooks vfio_hooks = {
    .vfio_register = vfio_register,
    .vfio_detach = vfio_detach,
};

static void test_before_bus_link(struct umdev_parent *parent)
{
	void (*fn)(struct umdev_parent *);

	(void)record_name(FX_TEST_BEFORE_BUS_LINK, umdev__parent_name(parent->core));
	pthread_mutex_lock(&fx_lock);
	fn = on_before_bus_link;
	pthread_mutex_unlock(&fx_lock);
	if (fn)
		fn(parent);
}

static void test_after_bus_unlink(struct umdev_parent *parent)
{
	void (*fn)(struct umdev_parent *);

	(void)record_name(FX_TEST_AFTER_BUS_UNLINK, umdev__parent_name(parent->core));
	pthread_mutex_lock(&fx_lock);
	fn = on_after_bus_unlink;
	pthread_mutex_unlock(&fx_lock);
	if (fn)
		fn(parent);
}

static void test_point(enum umdev_test_point point, const uuid_t *uuid)
{
	void (*fn)(enum umdev_test_point, const uuid_t *);

	pthread_mutex_lock(&fx_lock);
	fn = on_point;
	pthread_mutex_unlock(&fx_lock);
	if (fn)
		fn(point, uuid);
}

static const struct umdev_test_hooks test_hooks = {
    .register_before_bus_link = test_before_bus_link,
    .unregister_after_bus_unlink = test_after_bus_unlink,
    .point = test_point,
};

static void log_sink(void *opaque, enum umdev_log_level level, const char *msg)
{
	(void)opaque;
	if (level <= UMDEV_LOG_WARNING) {
		fprintf(stderr, "fixture: core logged at level %d: %s\n", (int)level, msg);
		atomic_fetch_add(&warnings, 1);
		if (level <= UMDEV_LOG_ERR)
			atomic_fetch_add(&errors_logged, 1);
	}
}

static void state_reset(void)
{
	pthread_mutex_lock(&fx_lock);
	nr_recs = 0;
	recs_overflow = false;
	memset(fail_err, 0, sizeof(fail_err));
	published = 0;
	outstanding = 0;
	memset(vfio_taken, 0, sizeof(vfio_taken));
	fixture_errors = 0;
	on_before_bus_link = NULL;
	on_after_bus_unlink = NULL;
	on_point = NULL;
	pthread_mutex_unlock(&fx_lock);
	atomic_store(&warnings, 0);
	atomic_store(&errors_logged, 0);
	atomic_store(&expected_warnings, 0);
}

int fx_setup_with(void **state, const struct tdrv_options *opt, unsigned int nr_parents,
		  bool real_vfio)
{
	struct fx *f = calloc(1, sizeof(*f));
	unsigned int i;

	if (!f)
		return -1;
	umdev__core_reset();
	state_reset();
	umdev_log_set_sink(log_sink, NULL, UMDEV_LOG_DEBUG);
	umdev__core_set_tree_hooks(&tree_hooks, NULL);
	f->real_vfio = real_vfio;
	if (real_vfio) {
		if (umdev_vfio_init(NULL) < 0)
			return -1;
	} else {
		umdev__core_set_vfio_hooks(&vfio_hooks, NULL);
	}
	umdev__core_set_test_hooks(&test_hooks);
	current = f;
	*state = f;
	if (nr_parents == 0 && !opt)
		return 0;
	if (tdrv_register(opt) < 0)
		return -1;
	f->tdrv = true;
	for (i = 0; i < nr_parents; i++) {
		char name[16];
		int err = 0;

		(void)snprintf(name, sizeof(name), "t%u", i);
		f->t[i] = tdrv_parent_add(name, &err);
		if (!f->t[i]) {
			fprintf(stderr, "fixture: tdrv_parent_add(%s): %d\n", name, err);
			return -1;
		}
		f->nr_parents = i + 1;
	}
	return 0;
}

int fx_setup(void **state)
{
	return fx_setup_with(state, NULL, 2, false);
}

int fx_setup_8(void **state)
{
	return fx_setup_with(state, NULL, 8, false);
}

int fx_setup_max2(void **state)
{
	struct tdrv_options opt = {.max_instances = 2};

	return fx_setup_with(state, &opt, 1, false);
}

int fx_setup_max10(void **state)
{
	struct tdrv_options opt = {.max_instances = 10};

	return fx_setup_with(state, &opt, 1, false);
}

int fx_setup_managed(void **state)
{
	struct tdrv_options opt = {
	    .driver_managed = true, .description = true, .sample_attr = true};

	return fx_setup_with(state, &opt, 2, false);
}

int fx_setup_real_vfio(void **state)
{
	return fx_setup_with(state, NULL, 2, true);
}

int fx_setup_bare(void **state)
{
	return fx_setup_with(state, NULL, 0, false);
}

int fx_teardown(void **state)
{
	struct fx *f = *state;
	unsigned int i, n;
	int ret;

	if (!f)
		return 0;
	fx_on_before_bus_link(NULL); /* a test's hooks must not run for the teardown's parents */
	fx_on_after_bus_unlink(NULL);
	fx_on_point(NULL);
	for (i = 0; i < f->nr_parents; i++) {
		tdrv_parent_remove(f->t[i]);
		f->t[i] = NULL;
	}
	if (f->tdrv) {
		ret = tdrv_unregister();
		if (ret != 0)
			fail_msg("tdrv_unregister: %d", ret);
	}
	assert_int_equal(umdev__core_nr_mdevs(), 0);
	assert_int_equal(tdrv_violations(), 0);
	pthread_mutex_lock(&fx_lock);
	n = 0;
	for (i = 0; i < FX_MAX_VFIO; i++)
		n += vfio_taken[i];
	pthread_mutex_unlock(&fx_lock);
	assert_int_equal(n, 0); /* every vfio index freed (I-7) */
	assert_int_equal(fx_published(), 0); /* every node set unpublished */
	assert_int_equal(fx_outstanding_nodes(), 0); /* ... or discarded */
	assert_int_equal(fixture_errors, 0);
	assert_int_equal(fx_warnings(), atomic_load(&expected_warnings));
	if (f->real_vfio)
		umdev_vfio_fini();
	current = NULL;
	umdev__core_reset();
	umdev_log_set_sink(NULL, NULL, UMDEV_LOG_NOTICE);
	free(f);
	*state = NULL;
	return 0;
}

void fx_fail(enum fx_kind kind, int err)
{
	pthread_mutex_lock(&fx_lock);
	fail_err[kind] = err;
	pthread_mutex_unlock(&fx_lock);
}

unsigned int fx_nr_recs(void)
{
	unsigned int n;

	pthread_mutex_lock(&fx_lock);
	n = nr_recs;
	pthread_mutex_unlock(&fx_lock);
	return n;
}

struct fx_rec fx_rec_at(unsigned int i)
{
	struct fx_rec r = {.kind = FX_NR_KINDS};

	pthread_mutex_lock(&fx_lock);
	if (i < nr_recs)
		r = recs[i];
	pthread_mutex_unlock(&fx_lock);
	return r;
}

unsigned int fx_count(enum fx_kind kind, const uuid_t *uuid)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&fx_lock);
	for (i = 0; i < nr_recs; i++)
		if (recs[i].kind == kind && (!uuid || uuid_compare(recs[i].uuid, *uuid) == 0))
			n++;
	pthread_mutex_unlock(&fx_lock);
	return n;
}

int fx_find(unsigned int from, enum fx_kind kind, const uuid_t *uuid)
{
	unsigned int i;
	int ret = -1;

	pthread_mutex_lock(&fx_lock);
	for (i = from; i < nr_recs; i++) {
		if (recs[i].kind == kind && (!uuid || uuid_compare(recs[i].uuid, *uuid) == 0)) {
			ret = (int)i;
			break;
		}
	}
	pthread_mutex_unlock(&fx_lock);
	return ret;
}

unsigned int fx_published(void)
{
	unsigned int n;

	pthread_mutex_lock(&fx_lock);
	n = published;
	pthread_mutex_unlock(&fx_lock);
	return n;
}

unsigned int fx_outstanding_nodes(void)
{
	unsigned int n;

	pthread_mutex_lock(&fx_lock);
	n = outstanding;
	pthread_mutex_unlock(&fx_lock);
	return n;
}

bool fx_vfio_taken(unsigned int n)
{
	bool taken;

	pthread_mutex_lock(&fx_lock);
	taken = n < FX_MAX_VFIO && vfio_taken[n];
	pthread_mutex_unlock(&fx_lock);
	return taken;
}

unsigned int fx_warnings(void)
{
	return atomic_load(&warnings);
}

unsigned int fx_errors(void)
{
	return atomic_load(&errors_logged);
}

void fx_expect_warnings(unsigned int n)
{
	atomic_store(&expected_warnings, n);
}

void fx_on_before_bus_link(void (*fn)(struct umdev_parent *parent))
{
	pthread_mutex_lock(&fx_lock);
	on_before_bus_link = fn;
	pthread_mutex_unlock(&fx_lock);
}

void fx_on_after_bus_unlink(void (*fn)(struct umdev_parent *parent))
{
	pthread_mutex_lock(&fx_lock);
	on_after_bus_unlink = fn;
	pthread_mutex_unlock(&fx_lock);
}

void fx_on_point(void (*fn)(enum umdev_test_point point, const uuid_t *uuid))
{
	pthread_mutex_lock(&fx_lock);
	on_point = fn;
	pthread_mutex_unlock(&fx_lock);
}

void fx_uuid(uuid_t out, unsigned int n)
{
	/* 6f1a0000-0000-4000-8000-0000000000nn: version 4 layout, distinct per n */
	memset(out, 0, sizeof(uuid_t));
	out[0] = 0x6f;
	out[1] = 0x1a;
	out[6] = 0x40;
	out[8] = 0x80;
	out[12] = (unsigned char)(n >> 24);
	out[13] = (unsigned char)(n >> 16);
	out[14] = (unsigned char)(n >> 8);
	out[15] = (unsigned char)n;
}

int fx_available(const struct umdev_type *t)
{
	char buf[UMDEV_ATTR_BUF_SIZE];
	ssize_t n;
	char *end;
	long v;

	n = umdev__type_show_available(t->core, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (n == 0 || (size_t)n >= sizeof(buf) || buf[n - 1] != '\n')
		return -EPROTO; /* must be "%u\n" */
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (end != buf + n - 1 || v < 0)
		return -EPROTO;
	return (int)v;
}

unsigned int fx_mdev_vfio_index(const uuid_t *uuid)
{
	struct umdev_mdev *m = umdev_mdev_get(uuid);
	unsigned int n = UINT32_MAX;

	if (m) {
		n = umdev_mdev_vfio_index(m);
		umdev_mdev_put(m);
	}
	return n;
}

bool fx_active(const uuid_t *uuid)
{
	struct umdev_mdev *m = umdev_mdev_get(uuid);

	umdev_mdev_put(m);
	return m != NULL;
}

struct fx_thread {
	pthread_t tid;
	void *(*fn)(void *);
	void *arg;
	void *result;
	atomic_bool done;
};

static void *thread_main(void *arg)
{
	struct fx_thread *t = arg;

	t->result = t->fn(t->arg);
	atomic_store(&t->done, true);
	return NULL;
}

struct fx_thread *fx_spawn(void *(*fn)(void *), void *arg)
{
	struct fx_thread *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->fn = fn;
	t->arg = arg;
	assert_int_equal(pthread_create(&t->tid, NULL, thread_main, t), 0);
	return t;
}

bool fx_done(struct fx_thread *t)
{
	return atomic_load(&t->done);
}

void *fx_join(struct fx_thread *t, unsigned int timeout_ms)
{
	uint64_t deadline = fx_now_ms() + timeout_ms;
	void *result;

	while (!fx_done(t)) {
		if (fx_now_ms() > deadline) {
			/* a hang: fail loudly rather than block the suite (the thread is leaked) */
			fail_msg("thread did not finish within %u ms (deadlock?)", timeout_ms);
		}
		fx_sleep_ms(1);
	}
	pthread_join(t->tid, NULL);
	result = t->result;
	free(t);
	return result;
}

void fx_sleep_ms(unsigned int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

uint64_t fx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
