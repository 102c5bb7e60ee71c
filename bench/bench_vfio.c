// SPDX-License-Identifier: MIT
/*
 * bench_vfio - vfio-user round trips against umdev's own server and mtty driver (issue 5).
 *
 * The server runs in this process exactly as in umdevd (the core, src/vfio with one server
 * thread per device, the mtty driver with the loopback far end, no FUSE tree), on sockets in
 * a temporary run directory; the clients are threads here that speak vfio-user over those
 * sockets, written from the byte layouts of vfio-user.md (VERSION, then REGION_READ).
 *
 * It prints, in one run:
 *   1. the round trip of a 4-byte config REGION_READ (region 7, offset 0: 32-byte request,
 *      36-byte reply) and of a BAR0 register read (region 0, offset 5 = LSR, 1 byte: 32-byte
 *      request, 33-byte reply), p50 and p99, on one device with one client, against
 *   2. a bare UNIX-socket ping-pong of the same message sizes (a thread that reads the 32-byte
 *      request and writes a reply of the same size, through the same client code): the floor.
 *      Every thread of the process is pinned to one CPU for these, and ROUNDS rounds of the
 *      floor and of the server are interleaved; each round's ratio is printed, and the median.
 *      Then the same unpinned (the scheduler's choice), with the spread of the rounds: on a
 *      2-vCPU VM a round trip is ~7 us when both ends share a CPU and 65-95 us when they do
 *      not, so unpinned figures are reported, never used for a ratio. With
 *      BENCH_VFIO_EXTERNAL=<socket path> the same client also measures another vfio-user
 *      server's config read (e.g. libvfio-user's sample server, built outside this tree),
 *      interleaved the same way;
 *   3. the config-read round trip with 1, 8 and 64 devices served at once, each by its own
 *      client thread, for the same wall time: p50, p99 and round trips per second in total;
 *   4. the GET_INFO round trip (32-byte request, 32-byte reply), p50 and p99, of a client of
 *      vfio1, first with vfio0 idle, then while a client of vfio0 floods it as in V-80: pipelined
 * 1-byte config REGION_WRITEs whose replies it never reads, until its send() would block (the
 * server stopped reading it, C2); the flood stays in place while vfio1 is measured (V-86).
 *
 *   5. 100 clients connecting at once to 100 idle devices (each then has its server thread
 *      started by the listeners' thread): the time until the last VERSION reply, in 5 rounds.
 *
 * 100 devices need five mtty parents (24 ports each, mtty.md §3): they are mtty-1 devices on
 * parents bench0..bench4.
 *
 * Usage: bench_vfio [ROUND_TRIPS] [SECONDS_PER_SCALE_POINT]   (defaults 50000 and 3)
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "hooks.h"
#include "mtty.h"
#include "umdev/mdev.h"
#include "vfio.h"

/* vfio-user.md §6.1, §8.1 */
#define CMD_VERSION 1
#define CMD_GET_INFO 4
#define CMD_REGION_READ 9
#define CMD_REGION_WRITE 10
#define REGION_BAR0 0
#define REGION_CONFIG 7
#define MAX_DEVICES 100
#define NR_PARENTS 5

struct msg_hdr {
	uint16_t msg_id;
	uint16_t command;
	uint32_t size;
	uint32_t flags;
	uint32_t error;
};

struct region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
};

struct read_req {
	struct msg_hdr hdr;
	struct region_access ra;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_vfio: %s: %s\n", what, strerror(err));
	exit(1);
}

static int read_exact(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * One round trip as a client does it: write the request, read the reply header, then its body.
 * Return: the reply's body size, or a negative errno (the server's, for an error reply).
 */
static int round_trip(int fd, struct read_req *req, void *body, size_t body_max)
{
	struct msg_hdr rep;
	int ret;

	req->hdr.msg_id++;
	ret = write_all(fd, req, sizeof(*req));
	if (ret == 0)
		ret = read_exact(fd, &rep, sizeof(rep));
	if (ret)
		return ret;
	if (rep.size < sizeof(rep) || rep.size - sizeof(rep) > body_max)
		return -EPROTO;
	if (rep.flags & 0x20)
		return -(int)rep.error;
	ret = read_exact(fd, body, rep.size - sizeof(rep));
	return ret ? ret : (int)(rep.size - sizeof(rep));
}

static void set_read(struct read_req *req, uint32_t region, uint64_t offset, uint32_t count)
{
	memset(req, 0, sizeof(*req));
	req->hdr.command = CMD_REGION_READ;
	req->hdr.size = sizeof(*req);
	req->ra.region = region;
	req->ra.offset = offset;
	req->ra.count = count;
}

/* Connect to a device socket and negotiate (vfio-user.md §7). */
static int client_open(const char *path)
{
	static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":8,"
				   "\"max_data_xfer_size\":1048576}}";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[sizeof(struct msg_hdr) + 4 + sizeof(caps)];
	struct msg_hdr hdr = {.command = CMD_VERSION, .size = sizeof(buf)};
	char reply[4096];
	struct msg_hdr rep;
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket", errno);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die(path, errno);
	memcpy(buf, &hdr, sizeof(hdr));
	memset(buf + sizeof(hdr), 0, 4); /* major 0, minor 0 */
	memcpy(buf + sizeof(hdr) + 4, caps, sizeof(caps)); /* with its NUL */
	ret = write_all(fd, buf, sizeof(buf));
	if (ret == 0)
		ret = read_exact(fd, &rep, sizeof(rep));
	if (ret == 0 &&
	    (rep.flags & 0x20 || rep.size < sizeof(rep) || rep.size - sizeof(rep) > sizeof(reply)))
		ret = -EPROTO;
	if (ret == 0)
		ret = read_exact(fd, reply, rep.size - sizeof(rep));
	if (ret)
		die("VERSION", -ret);
	return fd;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct figures {
	double p50_us, p99_us;
};

static struct figures percentiles(uint64_t *ns, size_t n)
{
	struct figures f;

	qsort(ns, n, sizeof(*ns), cmp_u64);
	f.p50_us = (double)ns[n / 2] / 1000.0;
	f.p99_us = (double)ns[(n * 99) / 100] / 1000.0;
	return f;
}

/* @n timed round trips of @req on @fd (after n/10 untimed ones). */
static struct figures measure(int fd, struct read_req *req, size_t n, uint64_t *ns)
{
	char body[64];

	for (size_t i = 0; i < n / 10; i++)
		if (round_trip(fd, req, body, sizeof(body)) < 0)
			die("warm-up round trip", EPROTO);
	for (size_t i = 0; i < n; i++) {
		uint64_t t = now_ns();
		int ret = round_trip(fd, req, body, sizeof(body));

		if (ret < 0)
			die("round trip", -ret);
		ns[i] = now_ns() - t;
	}
	return percentiles(ns, n);
}

/* ---- the bare ping-pong: a thread answering each 32-byte request with @reply_size bytes ---- */

struct echo {
	int fd;
	size_t reply_size;
};

static void *echo_thread(void *arg)
{
	struct echo *e = arg;
	struct read_req req;
	char reply[64] = {0};
	struct msg_hdr *h = (struct msg_hdr *)reply;

	while (read_exact(e->fd, &req, sizeof(req)) == 0) {
		*h = req.hdr;
		h->size = (uint32_t)e->reply_size;
		h->flags = 1; /* a reply */
		if (write_all(e->fd, reply, e->reply_size))
			break;
	}
	return NULL;
}

static struct figures bare_ping_pong(size_t reply_size, size_t n, uint64_t *ns)
{
	struct echo e = {.reply_size = reply_size};
	struct read_req req;
	struct figures f;
	pthread_t t;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair", errno);
	e.fd = sv[1];
	if (pthread_create(&t, NULL, echo_thread, &e))
		die("pthread_create", EAGAIN);
	set_read(&req, REGION_CONFIG, 0, (uint32_t)(reply_size - sizeof(struct read_req)));
	f = measure(sv[0], &req, n, ns);
	close(sv[0]);
	pthread_join(t, NULL);
	close(sv[1]);
	return f;
}

/* ---- the in-process server: core + vfio + mtty, tree hooks that only note the parents ---- */

static struct umdev__parent *parents[NR_PARENTS];
static unsigned int nr_parents;

static int hook_driver_publish(void *opaque, const struct umdev_driver *drv)
{
	(void)opaque;
	(void)drv;
	return 0;
}

static void hook_driver_unpublish(void *opaque, const struct umdev_driver *drv)
{
	(void)opaque;
	(void)drv;
}

static int hook_parent_publish(void *opaque, struct umdev__parent *p)
{
	(void)opaque;
	if (nr_parents < NR_PARENTS)
		parents[nr_parents++] = p; /* valid until parent_unpublish */
	return 0;
}

static int hook_parent_link(void *opaque, struct umdev__parent *p)
{
	(void)opaque;
	(void)p;
	return 0;
}

static void hook_parent_unlink(void *opaque, struct umdev__parent *p)
{
	(void)opaque;
	(void)p;
}

static int hook_mdev_prepare(void *opaque, struct umdev_mdev *mdev, void **ret_nodes)
{
	(void)opaque;
	(void)mdev;
	*ret_nodes = NULL;
	return 0;
}

static void hook_mdev_nodes(void *opaque, struct umdev_mdev *mdev, void *nodes)
{
	(void)opaque;
	(void)mdev;
	(void)nodes;
}

static const struct umdev_tree_hooks bench_tree_hooks = {
    .driver_publish = hook_driver_publish,
    .driver_unpublish = hook_driver_unpublish,
    .parent_publish = hook_parent_publish,
    .parent_publish_bus_link = hook_parent_link,
    .parent_unpublish_bus_link = hook_parent_unlink,
    .parent_unpublish = hook_parent_unlink,
    .mdev_prepare = hook_mdev_prepare,
    .mdev_publish = hook_mdev_nodes,
    .mdev_unpublish = hook_mdev_nodes,
};

static char rundir[] = "/tmp/bench_vfio.XXXXXX";
static char sockets[MAX_DEVICES][128];
static uuid_t uuids[MAX_DEVICES];
static struct mtty_parent *mtty_parents[NR_PARENTS];

static struct umdev__type *mtty1_type(struct umdev__parent *p)
{
	for (unsigned int i = 0; i < umdev__parent_nr_types(p); i++)
		if (strcmp(umdev__type_id(umdev__parent_type(p, i)), "mtty-1") == 0)
			return umdev__parent_type(p, i);
	die("no mtty-1 type", ENOENT);
	return NULL;
}

static void server_start(void)
{
	struct umdev_vfio_options opt = {0};
	int ret;

	if (!mkdtemp(rundir))
		die("mkdtemp", errno);
	opt.rundir = rundir;
	umdev__core_set_tree_hooks(&bench_tree_hooks, NULL);
	ret = umdev_vfio_init(&opt);
	if (ret == 0)
		ret = mtty_set_default_backend("loopback");
	if (ret == 0)
		ret = mtty_register_driver();
	if (ret)
		die("server start", -ret);
	for (unsigned int i = 0; i < NR_PARENTS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "bench%u", i);
		mtty_parents[i] = mtty_parent_add(name, &ret);
		if (!mtty_parents[i])
			die("mtty_parent_add", -ret);
	}
	for (unsigned int i = 0; i < MAX_DEVICES; i++) {
		struct umdev_mdev *mdev;

		uuid_generate(uuids[i]);
		ret = umdev__type_create(mtty1_type(parents[i / MTTY_MAX_PORTS]), &uuids[i]);
		if (ret)
			die("create", -ret);
		mdev = umdev_mdev_get(&uuids[i]);
		snprintf(sockets[i], sizeof(sockets[i]), "%s/vfio/devices/vfio%u", rundir,
			 umdev_mdev_vfio_index(mdev));
		umdev_mdev_put(mdev);
	}
}

static void server_stop(void)
{
	for (unsigned int i = 0; i < NR_PARENTS; i++)
		mtty_parent_remove(mtty_parents[i]);
	mtty_unregister_driver();
	umdev_vfio_fini();
	rmdir(rundir); /* the vfio module removed its directories' contents */
}

/* ---- GET_INFO beside a flooded device (V-80, V-86) ---- */

/*
 * Flood @fd with pipelined 1-byte config REGION_WRITEs (offset 0, read-only Vendor ID) and read
 * no reply, until send() has blocked for 500 ms. Return: messages sent.
 */
static unsigned long flood_writes(int fd)
{
	unsigned long sent = 0;
	uint8_t m[33] = {0};
	struct msg_hdr *h = (struct msg_hdr *)m;
	struct region_access *ra = (struct region_access *)(m + sizeof(*h));

	h->command = CMD_REGION_WRITE;
	h->size = sizeof(m);
	ra->region = REGION_CONFIG;
	ra->count = 1;
	for (;;) {
		struct timeval tv = {.tv_usec = 500000};
		ssize_t r;

		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
			die("SO_SNDTIMEO", errno);
		h->msg_id = (uint16_t)sent;
		r = send(fd, m, sizeof(m), MSG_NOSIGNAL);
		if (r == (ssize_t)sizeof(m)) {
			sent++;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return sent; /* may leave a partial message: the stream is abandoned anyway
				      */
		if (r < 0 && errno == EINTR)
			continue;
		die("flood send", r < 0 ? errno : EPROTO);
	}
}

/* GET_INFO round trips on vfio1: *ret_idle before vfio0 is flooded, the result while it is. */
static struct figures get_info_while_flooded(size_t n, uint64_t *ns, struct figures *ret_idle,
					     unsigned long *ret_sent)
{
	int a = client_open(sockets[0]), b = client_open(sockets[1]);
	struct read_req req; /* GET_INFO: header + argsz 16, flags, num_regions, num_irqs */
	uint32_t argsz = 16;
	struct figures f;

	memset(&req, 0, sizeof(req));
	req.hdr.command = CMD_GET_INFO;
	req.hdr.size = sizeof(req);
	memcpy(&req.ra, &argsz, sizeof(argsz));
	*ret_idle = measure(b, &req, n, ns);
	*ret_sent = flood_writes(a);
	f = measure(b, &req, n, ns);
	close(b);
	close(a);
	return f;
}

/* ---- many devices at once ---- */

struct client {
	pthread_t thread;
	const char *path;
	double seconds;
	uint64_t *ns;
	size_t n, max;
};

static pthread_barrier_t start_line;

static void *client_thread(void *arg)
{
	struct client *c = arg;
	struct read_req req;
	char body[64];
	int fd = client_open(c->path);
	double until;

	set_read(&req, REGION_CONFIG, 0, 4);
	pthread_barrier_wait(&start_line); /* every client connected and negotiated */
	until = now_s() + c->seconds;
	while (c->n < c->max) {
		uint64_t t = now_ns();

		if (round_trip(fd, &req, body, sizeof(body)) != 4 + (int)sizeof(req.ra))
			die("round trip", EPROTO);
		c->ns[c->n++] = now_ns() - t;
		if ((c->n & 63) == 0 && now_s() >= until)
			break;
	}
	close(fd);
	return NULL;
}

static void scale_point(unsigned int nr, double seconds)
{
	static struct client clients[MAX_DEVICES];
	size_t max = 2000000 / nr, total = 0;
	uint64_t *all;
	struct figures f;
	double t0, t;

	pthread_barrier_init(&start_line, NULL, nr + 1);
	for (unsigned int i = 0; i < nr; i++) {
		clients[i] = (struct client){.path = sockets[i], .seconds = seconds, .max = max};
		clients[i].ns = malloc(max * sizeof(uint64_t));
		if (!clients[i].ns)
			die("malloc", ENOMEM);
	}
	for (unsigned int i = 0; i < nr; i++) {
		if (pthread_create(&clients[i].thread, NULL, client_thread, &clients[i]))
			die("pthread_create", EAGAIN);
	}
	pthread_barrier_wait(&start_line);
	t0 = now_s();
	for (unsigned int i = 0; i < nr; i++) {
		pthread_join(clients[i].thread, NULL);
		total += clients[i].n;
	}
	t = now_s() - t0;
	all = malloc(total * sizeof(uint64_t));
	if (!all)
		die("malloc", ENOMEM);
	total = 0;
	for (unsigned int i = 0; i < nr; i++) {
		memcpy(all + total, clients[i].ns, clients[i].n * sizeof(uint64_t));
		total += clients[i].n;
		free(clients[i].ns);
	}
	f = percentiles(all, total);
	printf("  %2u devices, %2u clients: p50 %7.1f us  p99 %7.1f us  %9.0f round trips/s "
	       "in total\n",
	       nr, nr, f.p50_us, f.p99_us, (double)total / t);
	free(all);
	pthread_barrier_destroy(&start_line);
}

/* ---- pinning and rounds ---- */

#define ROUNDS 5

/* Set the CPU affinity of every thread of this process (server threads included). */
static void affinity_all(const cpu_set_t *set)
{
	DIR *d = opendir("/proc/self/task");

	if (!d)
		die("opendir /proc/self/task", errno);
	for (struct dirent *e; (e = readdir(d));) {
		pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);

		if (tid > 0)
			(void)sched_setaffinity(tid, sizeof(*set), set); /* a thread may be gone */
	}
	closedir(d);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* One "config REGION_READ against the floor" series of ROUNDS interleaved rounds. */
struct series {
	struct figures floor[ROUNDS], server[ROUNDS], external[ROUNDS];
};

/* @efd: a connection to the external server, or -1; kept open (its server may serve one). */
static void run_series(struct series *sr, int efd, size_t n, uint64_t *ns)
{
	struct read_req req;
	int fd;

	fd = client_open(sockets[0]);
	set_read(&req, REGION_CONFIG, 0, 4);
	for (unsigned int r = 0; r < ROUNDS; r++) {
		sr->floor[r] = bare_ping_pong(sizeof(struct read_req) + 4, n, ns);
		sr->server[r] = measure(fd, &req, n, ns);
		if (efd >= 0)
			sr->external[r] = measure(efd, &req, n, ns);
	}
	close(fd);
}

static void print_series(const struct series *sr, bool pinned, bool ext)
{
	double fl[ROUNDS], sv[ROUNDS], ex[ROUNDS], r50[ROUNDS], r99[ROUNDS], rx[ROUNDS];

	for (unsigned int r = 0; r < ROUNDS; r++) {
		fl[r] = sr->floor[r].p50_us;
		sv[r] = sr->server[r].p50_us;
		ex[r] = sr->external[r].p50_us;
		r50[r] = sr->server[r].p50_us / sr->floor[r].p50_us;
		r99[r] = sr->server[r].p99_us / sr->floor[r].p99_us;
		rx[r] = ext ? sr->server[r].p50_us / sr->external[r].p50_us : 0;
		printf("  round %u: floor p50 %6.1f p99 %6.1f | umdev p50 %6.1f p99 %6.1f | "
		       "ratio p50 %.2fx p99 %.2fx",
		       r + 1, sr->floor[r].p50_us, sr->floor[r].p99_us, sr->server[r].p50_us,
		       sr->server[r].p99_us, r50[r], r99[r]);
		if (ext)
			printf(" | external p50 %6.1f, umdev/external %.2fx",
			       sr->external[r].p50_us, rx[r]);
		printf("\n");
	}
	if (pinned) {
		printf("  median of %d rounds: umdev/floor p50 %.2fx, p99 %.2fx", ROUNDS,
		       median(r50, ROUNDS), median(r99, ROUNDS));
		if (ext)
			printf(", umdev/external p50 %.2fx", median(rx, ROUNDS));
		printf("\n");
	} else {
		qsort(fl, ROUNDS, sizeof(double), cmp_double);
		qsort(sv, ROUNDS, sizeof(double), cmp_double);
		printf("  p50 spread over %d rounds (min/median/max): floor %.1f/%.1f/%.1f us, "
		       "umdev %.1f/%.1f/%.1f us",
		       ROUNDS, fl[0], fl[ROUNDS / 2], fl[ROUNDS - 1], sv[0], sv[ROUNDS / 2],
		       sv[ROUNDS - 1]);
		if (ext) {
			qsort(ex, ROUNDS, sizeof(double), cmp_double);
			printf(", external %.1f/%.1f/%.1f us", ex[0], ex[ROUNDS / 2],
			       ex[ROUNDS - 1]);
		}
		printf("\n");
	}
}

/* ---- one idle probe beside 64 busy clients (V-86) ---- */

/*
 * The config-read round trip of a client of device 64, alone, then while 64 other clients
 * each run round trips on their own device as fast as they can (issue 10, item 3: a busy
 * device must not delay another's replies; on 2 CPUs what is left is scheduling).
 */
static void busy_probe(size_t n, uint64_t *ns, double seconds, struct figures *ret_alone,
		       struct figures *ret_busy)
{
	static struct client clients[64];
	struct read_req req;
	int fd = client_open(sockets[64]);

	set_read(&req, REGION_CONFIG, 0, 4);
	*ret_alone = measure(fd, &req, n, ns);
	pthread_barrier_init(&start_line, NULL, 64 + 1);
	for (unsigned int i = 0; i < 64; i++) {
		clients[i] =
		    (struct client){.path = sockets[i], .seconds = seconds, .max = 1 << 20};
		clients[i].ns = malloc(clients[i].max * sizeof(uint64_t));
		if (!clients[i].ns)
			die("malloc", ENOMEM);
		if (pthread_create(&clients[i].thread, NULL, client_thread, &clients[i]))
			die("pthread_create", EAGAIN);
	}
	pthread_barrier_wait(&start_line);
	*ret_busy = measure(fd, &req, n, ns);
	for (unsigned int i = 0; i < 64; i++) {
		pthread_join(clients[i].thread, NULL);
		free(clients[i].ns);
	}
	pthread_barrier_destroy(&start_line);
	close(fd);
}

/* ---- 100 clients connecting at once ---- */

struct storm_client {
	pthread_t thread;
	const char *path;
	double done_s; /* when its VERSION reply arrived */
};

static pthread_barrier_t storm_line;

static void *storm_thread(void *arg)
{
	struct storm_client *c = arg;
	int fd;

	pthread_barrier_wait(&storm_line);
	fd = client_open(c->path); /* connect, VERSION, its reply */
	c->done_s = now_s();
	close(fd);
	return NULL;
}

/* Return: ms from the start line to the last client's VERSION reply. */
static double connect_storm(unsigned int nr)
{
	static struct storm_client c[MAX_DEVICES];
	double t0, last = 0;

	pthread_barrier_init(&storm_line, NULL, nr + 1);
	for (unsigned int i = 0; i < nr; i++) {
		c[i] = (struct storm_client){.path = sockets[i]};
		if (pthread_create(&c[i].thread, NULL, storm_thread, &c[i]))
			die("pthread_create", EAGAIN);
	}
	pthread_barrier_wait(&storm_line);
	t0 = now_s();
	for (unsigned int i = 0; i < nr; i++) {
		pthread_join(c[i].thread, NULL);
		if (c[i].done_s - t0 > last)
			last = c[i].done_s - t0;
	}
	pthread_barrier_destroy(&storm_line);
	usleep(200000); /* the server threads hand their sockets back and end */
	return last * 1000.0;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 50000;
	double seconds = argc > 2 ? strtod(argv[2], NULL) : 3.0;
	struct figures cfg, bar, bare36, bare33, idle, flooded;
	static struct series pinned, unpinned;
	cpu_set_t all_cpus, one_cpu;
	const char *ext;
	int efd;
	unsigned long sent;
	struct read_req req;
	uint64_t *ns;
	int fd;

	if (n < 100 || seconds <= 0) {
		fprintf(stderr, "usage: bench_vfio [ROUND_TRIPS >= 100] [SECONDS > 0]\n");
		return 2;
	}
	ns = malloc(n * sizeof(uint64_t));
	if (!ns)
		die("malloc", ENOMEM);
	signal(SIGPIPE, SIG_IGN); /* a server that hangs up is an error, not a kill */
	if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus))
		die("sched_getaffinity", errno);
	server_start();

	CPU_ZERO(&one_cpu);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &all_cpus)) {
			CPU_SET(c, &one_cpu);
			break;
		}
	}
	ext = getenv("BENCH_VFIO_EXTERNAL");
	efd = ext ? client_open(ext) : -1;
	affinity_all(&one_cpu); /* this thread and every server thread */
	run_series(&pinned, efd, n / ROUNDS, ns);
	affinity_all(&all_cpus);
	run_series(&unpinned, efd, n / ROUNDS, ns);
	if (efd >= 0)
		close(efd);
	printf("bench_vfio: config REGION_READ, 4 bytes, vs the ping-pong floor (32 -> 36 bytes);"
	       " %d interleaved rounds of %zu round trips, times in us\n",
	       ROUNDS, n / ROUNDS);
	printf("pinned: every thread on CPU %d\n", CPU_COUNT(&one_cpu) ? 0 : -1);
	print_series(&pinned, true, ext != NULL);
	printf("unpinned: %d CPUs\n", CPU_COUNT(&all_cpus));
	print_series(&unpinned, false, ext != NULL);

	affinity_all(&one_cpu); /* the figures below are pinned too */
	fd = client_open(sockets[0]);
	set_read(&req, REGION_CONFIG, 0, 4);
	cfg = measure(fd, &req, n, ns);
	set_read(&req, REGION_BAR0, 5, 1);
	bar = measure(fd, &req, n, ns);
	close(fd);
	bare36 = bare_ping_pong(sizeof(struct read_req) + 4, n, ns);
	bare33 = bare_ping_pong(sizeof(struct read_req) + 1, n, ns);

	printf("pinned, %zu round trips each, one client, one device (mtty-1, loopback)\n", n);
	printf("  %-34s p50 %7.1f us  p99 %7.1f us\n", "config REGION_READ, 4 bytes:", cfg.p50_us,
	       cfg.p99_us);
	printf("  %-34s p50 %7.1f us  p99 %7.1f us\n",
	       "bare ping-pong, 32 -> 36 bytes:", bare36.p50_us, bare36.p99_us);
	printf("  %-34s p50 %7.2fx     p99 %7.2fx\n", "ratio:", cfg.p50_us / bare36.p50_us,
	       cfg.p99_us / bare36.p99_us);
	printf("  %-34s p50 %7.1f us  p99 %7.1f us\n",
	       "BAR0 register read (LSR), 1 byte:", bar.p50_us, bar.p99_us);
	printf("  %-34s p50 %7.1f us  p99 %7.1f us\n",
	       "bare ping-pong, 32 -> 33 bytes:", bare33.p50_us, bare33.p99_us);
	printf("  %-34s p50 %7.2fx     p99 %7.2fx\n", "ratio:", bar.p50_us / bare33.p50_us,
	       bar.p99_us / bare33.p99_us);

	affinity_all(&all_cpus); /* many clients: both CPUs */
	printf("unpinned: config REGION_READ round trip, devices served at once, %.1f s each:\n",
	       seconds);
	scale_point(1, seconds);
	scale_point(8, seconds);
	scale_point(64, seconds);

	flooded = get_info_while_flooded(n, ns, &idle, &sent);
	printf("GET_INFO round trip (32 -> 32 bytes) on vfio1, %zu round trips each:\n", n);
	printf("  %-34s p50 %7.1f us  p99 %7.1f us\n", "vfio0 idle:", idle.p50_us, idle.p99_us);
	printf("  %-34s p50 %7.1f us  p99 %7.1f us\n", "vfio0 flooded (V-80):", flooded.p50_us,
	       flooded.p99_us);
	printf("  (flood: %lu pipelined REGION_WRITEs sent, replies never read)\n", sent);

	{
		struct figures alone, busy;

		busy_probe(n / 10, ns, 2.0 + seconds, &alone, &busy);
		printf("unpinned: config REGION_READ of one client, %zu round trips:\n", n / 10);
		printf("  %-34s p50 %7.1f us  p99 %7.1f us\n", "alone:", alone.p50_us,
		       alone.p99_us);
		printf("  %-34s p50 %7.1f us  p99 %7.1f us\n",
		       "beside 64 busy clients:", busy.p50_us, busy.p99_us);
	}
	printf("unpinned: %d clients connecting at once to %d idle devices, time to the last "
	       "VERSION reply:\n ",
	       MAX_DEVICES, MAX_DEVICES);
	for (int r = 0; r < ROUNDS; r++)
		printf(" %.1f ms", connect_storm(MAX_DEVICES));
	printf("\n");

	server_stop();
	free(ns);
	return 0;
}
