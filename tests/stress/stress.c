// SPDX-License-Identifier: MIT
/* Helpers of the stress tests: tracking hooks, parents, watchdog (stress.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"
#include "umdev/log.h"

#define ST_MAX_VFIO 4096
#define ST_NODES_MAGIC 0x73746e64u

struct st_nodes {
	uint32_t magic;
	unsigned int n; /* U<n> */
	bool published;
};

static atomic_bool published_set[ST_MAX_UUIDS];
static atomic_uint nr_published, nr_outstanding, hook_errors, warnings, vfio_detaches;
static pthread_mutex_t vfio_lock = PTHREAD_MUTEX_INITIALIZER; /* leaf: vfio_taken, nr_vfio */
static bool vfio_taken[ST_MAX_VFIO];
static unsigned int nr_vfio;

static void hook_error(const char *what)
{
	fprintf(stderr, "stress: hook misuse: %s\n", what);
	atomic_fetch_add(&hook_errors, 1);
}

static int uuid_index(const struct umdev_mdev *mdev)
{
	const unsigned char *u = *umdev_mdev_uuid(mdev);

	if (u[0] != 0x57 || u[1] != 0x7e)
		return -1;
	return (u[13] << 16) | (u[14] << 8) | u[15];
}

static int mdev_prepare(void *opaque, struct umdev_mdev *mdev, void **ret_nodes)
{
	struct st_nodes *nodes = calloc(1, sizeof(*nodes));
	int n = uuid_index(mdev);

	(void)opaque;
	if (!nodes)
		return -ENOMEM;
	if (n < 0 || n >= ST_MAX_UUIDS)
		hook_error("foreign UUID");
	nodes->magic = ST_NODES_MAGIC;
	nodes->n = (unsigned int)n;
	atomic_fetch_add(&nr_outstanding, 1);
	*ret_nodes = nodes;
	return 0;
}

static void mdev_publish(void *opaque, struct umdev_mdev *mdev, void *p)
{
	struct st_nodes *nodes = p;

	(void)opaque;
	(void)mdev;
	if (!nodes || nodes->magic != ST_NODES_MAGIC || nodes->published) {
		hook_error("publish of a bad node set");
		return;
	}
	nodes->published = true;
	if (atomic_exchange(&published_set[nodes->n % ST_MAX_UUIDS], true))
		hook_error("UUID published twice (I-1)");
	atomic_fetch_add(&nr_published, 1);
}

static void mdev_unpublish(void *opaque, struct umdev_mdev *mdev, void *p)
{
	struct st_nodes *nodes = p;

	(void)opaque;
	(void)mdev;
	if (!nodes || nodes->magic != ST_NODES_MAGIC || !nodes->published) {
		hook_error("unpublish of a bad node set");
		return;
	}
	if (!atomic_exchange(&published_set[nodes->n % ST_MAX_UUIDS], false))
		hook_error("unpublish of an unpublished UUID");
	atomic_fetch_sub(&nr_published, 1);
	atomic_fetch_sub(&nr_outstanding, 1);
	nodes->magic = 0;
	free(nodes);
}

static const struct umdev_tree_hooks tree_hooks = {
    .mdev_prepare = mdev_prepare,
    .mdev_publish = mdev_publish,
    .mdev_unpublish = mdev_unpublish,
};

static int vfio_register(void *opaque, struct umdev_mdev *mdev, unsigned int *ret_index)
{
	unsigned int n;

	(void)opaque;
	(void)mdev;
	pthread_mutex_lock(&vfio_lock);
	for (n = 0; n < ST_MAX_VFIO && vfio_taken[n]; n++)
		;
	if (n < ST_MAX_VFIO) {
		vfio_taken[n] = true;
		nr_vfio++;
	}
	pthread_mutex_unlock(&vfio_lock);
	if (n == ST_MAX_VFIO)
		return -ENOSPC;
	*ret_index = n;
	return 0;
}

static void vfio_detach(void *opaque, struct umdev_mdev *mdev)
{
	unsigned int n = umdev_mdev_vfio_index(mdev);

	(void)opaque;
	pthread_mutex_lock(&vfio_lock);
	if (n >= ST_MAX_VFIO || !vfio_taken[n]) {
		pthread_mutex_unlock(&vfio_lock);
		hook_error("detach of a vfio index not held (I-7)");
		return;
	}
	vfio_taken[n] = false;
	nr_vfio--;
	pthread_mutex_unlock(&vfio_lock);
	atomic_fetch_add(&vfio_detaches, 1);
}

static const struct umdev_vfio_hooks vfio_hooks = {
    .vfio_register = vfio_register,
    .vfio_detach = vfio_detach,
};

static void log_sink(void *opaque, enum umdev_log_level level, const char *msg)
{
	(void)opaque;
	if (level <= UMDEV_LOG_WARNING) {
		fprintf(stderr, "stress: core logged at level %d: %s\n", (int)level, msg);
		atomic_fetch_add(&warnings, 1);
	}
}

static void (*volatile fail_hook)(void);

void st_set_fail_hook(void (*fn)(void))
{
	fail_hook = fn;
}

void st_fail(void)
{
	fflush(stdout);
	fflush(stderr);
	if (fail_hook)
		fail_hook();
	_exit(1);
}

void st_begin(unsigned int timeout_s)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(timeout_s); /* SIGALRM's default action ends a hung test */
	umdev__core_reset();
	umdev_log_set_sink(log_sink, NULL, UMDEV_LOG_DEBUG);
	umdev__core_set_tree_hooks(&tree_hooks, NULL);
	umdev__core_set_vfio_hooks(&vfio_hooks, NULL);
}

void st_add_parents(const struct tdrv_options *opt, struct tdrv_parent **ret, unsigned int n)
{
	unsigned int i;
	int err;

	CHECK(tdrv_register(opt) == 0, "tdrv_register");
	for (i = 0; i < n; i++) {
		char name[16];

		(void)snprintf(name, sizeof(name), "t%u", i);
		err = 0;
		ret[i] = tdrv_parent_add(name, &err);
		CHECK(ret[i], "tdrv_parent_add(%s): %d", name, err);
	}
}

void st_end(struct tdrv_parent **t, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		tdrv_parent_remove(t[i]);
		t[i] = NULL;
	}
	CHECK(tdrv_unregister() == 0, "tdrv_unregister");
	CHECK(umdev__core_nr_mdevs() == 0, "%u mdevs left", umdev__core_nr_mdevs());
	CHECK(st_nr_published() == 0, "%u node sets published", st_nr_published());
	CHECK(atomic_load(&nr_outstanding) == 0, "%u node sets leaked",
	      atomic_load(&nr_outstanding));
	CHECK(st_nr_vfio() == 0, "%u vfio indexes held", st_nr_vfio());
	CHECK(atomic_load(&hook_errors) == 0, "hook misuse");
	CHECK(tdrv_violations() == 0, "%u tdrv violations", tdrv_violations());
	CHECK(atomic_load(&warnings) == 0, "%u warnings logged", atomic_load(&warnings));
	umdev__core_reset();
	umdev_log_set_sink(NULL, NULL, UMDEV_LOG_NOTICE);
	alarm(0);
}

void st_uuid(uuid_t out, unsigned int n)
{
	memset(out, 0, sizeof(uuid_t));
	out[0] = 0x57;
	out[1] = 0x7e;
	out[6] = 0x40;
	out[8] = 0x80;
	out[13] = (unsigned char)(n >> 16);
	out[14] = (unsigned char)(n >> 8);
	out[15] = (unsigned char)n;
}

bool st_published(unsigned int n)
{
	return atomic_load(&published_set[n % ST_MAX_UUIDS]);
}

unsigned int st_nr_published(void)
{
	return atomic_load(&nr_published);
}

unsigned int st_nr_vfio(void)
{
	unsigned int n;

	pthread_mutex_lock(&vfio_lock);
	n = nr_vfio;
	pthread_mutex_unlock(&vfio_lock);
	return n;
}

unsigned int st_vfio_detaches(void)
{
	return atomic_load(&vfio_detaches);
}

int st_available(struct umdev_type *t)
{
	char buf[UMDEV_ATTR_BUF_SIZE];
	ssize_t n = umdev__type_show_available(t->core, buf, sizeof(buf) - 1);

	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return atoi(buf);
}

int st_parent_of(unsigned int n, struct tdrv_parent **t, unsigned int nr)
{
	struct umdev_mdev *m;
	struct umdev_parent *up;
	unsigned int i;
	uuid_t u;
	int ret = -1;

	st_uuid(u, n);
	m = umdev_mdev_get(&u);
	if (!m)
		return -1;
	up = umdev_type_parent(umdev_mdev_type(m));
	for (i = 0; i < nr; i++)
		if (t[i] && tdrv_umdev_parent(t[i]) == up)
			ret = (int)i;
	umdev_mdev_put(m);
	return ret;
}

uint64_t st_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void st_sleep_ms(unsigned int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

uint32_t st_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return (uint32_t)(x >> 16);
}

struct st_start {
	pthread_barrier_t *barrier;
	void *(*fn)(void *);
	void *arg;
	atomic_uint_fast64_t *released; /* set by the one thread the barrier picks */
};

static void *start_main(void *arg)
{
	struct st_start *s = arg;

	if (pthread_barrier_wait(s->barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
		atomic_store(s->released, st_now_ms());
	return s->fn(s->arg);
}

uint64_t st_run_threads(unsigned int n, void *(*fn)(void *), void *args, size_t size)
{
	atomic_uint_fast64_t released = 0;
	pthread_t *tids = calloc(n, sizeof(*tids));
	struct st_start *starts = calloc(n, sizeof(*starts));
	pthread_barrier_t barrier;
	unsigned int i;

	CHECK(tids && starts, "out of memory");
	CHECK(pthread_barrier_init(&barrier, NULL, n) == 0, "barrier");
	for (i = 0; i < n; i++) {
		starts[i] = (struct st_start){&barrier, fn, (char *)args + i * size, &released};
		CHECK(pthread_create(&tids[i], NULL, start_main, &starts[i]) == 0, "thread %u", i);
	}
	for (i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	pthread_barrier_destroy(&barrier);
	free(starts);
	free(tids);
	return st_now_ms() - atomic_load(&released);
}
