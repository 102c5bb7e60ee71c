// SPDX-License-Identifier: MIT
/*
 * The sysfs module's lifecycle (sysfs.h): the tree and its hooks, the mount, the
 * multi-threaded FUSE loop on background threads (mdev.md §8.1), and the unmount.
 *
 * The loop runs on a custom transport (fuse_session_custom_io) over the mount's own
 * /dev/fuse descriptor for one reason: libfuse 3.14 cannot set FOPEN_PARALLEL_DIRECT_WRITES in
 * an open reply, and without it the kernel serialises direct writes to one inode under the
 * inode lock, so 16 creates on one `create` file would run one after the other (M-50, M-51)
 * and a second `remove` writer would wait for the first instead of failing EAGAIN (M-40).
 * The transport adds that flag to the replies of OPEN requests; nothing else is changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "private.h"
#include "umdev/log.h"

#define DEFAULT_MAX_THREADS 256 /* mdev.md §8.1 */
#define FUSE_SUPER_MAGIC_VALUE 0x65735546 /* statfs f_type of a FUSE mount */
#define MOUNT_TIMEOUT_S 10 /* the INIT handshake must come this fast */
/*
 * How long an unmount waits for the kernel's releases of closed files (release_drain()):
 * at most RELEASE_WAIT_MS in all, and no longer than RELEASE_QUIET_MS once releases stop
 * coming, since a file still open then is one a process keeps open.
 */
#define RELEASE_WAIT_MS 2000
#define RELEASE_QUIET_MS 100

/* ---- transport: FOPEN_PARALLEL_DIRECT_WRITES in open replies ---- */

/*
 * The unique id of the OPEN request this worker thread is serving, or 0. High-level libfuse
 * answers a request on the thread that read it, before reading the next one, so a
 * thread-local is enough to pair a reply with its request.
 */
static __thread uint64_t open_unique;

static ssize_t dev_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t ret = read(fd, buf, len);

	(void)userdata;
	open_unique = 0;
	if (ret >= (ssize_t)sizeof(struct fuse_in_header)) {
		const struct fuse_in_header *in = buf;

		if (in->opcode == FUSE_OPEN)
			open_unique = in->unique;
	}
	return ret;
}

static ssize_t dev_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fuse_out_header *out = iov[0].iov_base;

	(void)userdata;
	if (open_unique && count >= 2 && iov[0].iov_len >= sizeof(*out) &&
	    out->unique == open_unique && out->error == 0 &&
	    iov[1].iov_len >= sizeof(struct fuse_open_out)) {
		struct fuse_open_out *arg = iov[1].iov_base;

		/* one write(2) is one store; writers of one file must not queue (M-40, M-50) */
		arg->open_flags |= FOPEN_PARALLEL_DIRECT_WRITES;
		open_unique = 0;
	}
	return writev(fd, iov, count);
}

static const struct fuse_custom_io transport = {
    .read = dev_read,
    .writev = dev_writev,
};

/* libfuse's own messages: debug level only, as library code (STYLE.md §8) */
static void fuse_log_bridge(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char msg[512];
	size_t len;

	(void)level;
	if (!umdev_log_enabled(UMDEV_LOG_DEBUG))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	umdev_log(UMDEV_LOG_DEBUG, "fuse: %s", msg);
}

/* ---- lifecycle ---- */

/* A condition variable whose timed waits take CLOCK_MONOTONIC deadlines. */
static void cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
}

/* now + @ms on CLOCK_MONOTONIC */
static struct timespec deadline_in(unsigned int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

static void locks_fini(struct umdev_sysfs *fs)
{
	pthread_cond_destroy(&fs->loop_cond);
	umdev__mutex_destroy(&fs->loop_lock);
	pthread_cond_destroy(&fs->handles_empty);
	umdev__mutex_destroy(&fs->handles_lock);
	umdev__rwlock_destroy(&fs->tree_lock);
}

int umdev_sysfs_create(const struct umdev_sysfs_options *opt, struct umdev_sysfs **ret)
{
	struct umdev_sysfs *fs;
	int err;

	if (!opt || !opt->mountpoint || !*opt->mountpoint || !ret)
		return -EINVAL;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->mountpoint = strdup(opt->mountpoint);
	if (!fs->mountpoint || asprintf(&fs->stop_path, "%s/.umdev-stop", opt->mountpoint) < 0) {
		free(fs->mountpoint);
		free(fs);
		return -ENOMEM;
	}
	fs->max_threads = opt->max_threads ? opt->max_threads : DEFAULT_MAX_THREADS;
	fs->allow_other = opt->allow_other;
	fs->debug = opt->debug;
	clock_gettime(CLOCK_REALTIME, &fs->birth);
	umdev_list_init(&fs->parents);
	umdev_list_init(&fs->handles);
	/* a stream of FUSE readers must not starve publish/unpublish */
	umdev__rwlock_init(&fs->tree_lock, &umdev__lock_class_tree, true);
	umdev__mutex_init(&fs->handles_lock, &umdev__lock_class_sysfs_handles, false);
	cond_init_monotonic(&fs->handles_empty);
	umdev__mutex_init(&fs->loop_lock, &umdev__lock_class_sysfs_loop, false);
	cond_init_monotonic(&fs->loop_cond);
	err = umdev__sysfs_tree_init(fs);
	if (err < 0) {
		locks_fini(fs);
		free(fs->stop_path);
		free(fs->mountpoint);
		free(fs);
		return err;
	}
	if (!fs->debug) /* debug: libfuse writes its trace to stderr itself */
		fuse_set_log_func(fuse_log_bridge);
	umdev__core_set_tree_hooks(&umdev__sysfs_tree_hooks, fs);
	*ret = fs;
	return 0;
}

void umdev_sysfs_destroy(struct umdev_sysfs *fs)
{
	if (!fs)
		return;
	umdev_sysfs_unmount(fs);
	umdev__core_set_tree_hooks(NULL, NULL);
	if (!umdev_list_empty(&fs->parents))
		umdev_log(UMDEV_LOG_ERR, "sysfs destroyed with parents still published, ignoring");
	umdev__sysfs_handles_fini(fs); /* the loop has ended: no release will come for these */
	umdev__sysfs_tree_fini(fs);
	locks_fini(fs);
	free(fs->stop_path);
	free(fs->mountpoint);
	free(fs);
}

/* ---- mount ---- */

static void loop_set_state(struct umdev_sysfs *fs, int state)
{
	umdev__mutex_lock(&fs->loop_lock);
	fs->loop_state = state;
	pthread_cond_broadcast(&fs->loop_cond);
	umdev__mutex_unlock(&fs->loop_lock);
}

static int loop_get_state(struct umdev_sysfs *fs)
{
	int state;

	umdev__mutex_lock(&fs->loop_lock);
	state = fs->loop_state;
	umdev__mutex_unlock(&fs->loop_lock);
	return state;
}

void umdev__sysfs_loop_live(struct umdev_sysfs *fs)
{
	loop_set_state(fs, LOOP_LIVE);
}

static void *loop_main(void *arg)
{
	struct umdev_sysfs *fs = arg;
	struct fuse_loop_config *cfg;
	int ret = -ENOMEM;

	cfg = fuse_loop_cfg_create();
	if (cfg) {
		fuse_loop_cfg_set_max_threads(cfg, fs->max_threads); /* §8.1: not 10 */
		fuse_loop_cfg_set_clone_fd(cfg, 0);
		ret = fuse_loop_mt(fs->fuse, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	if (ret != 0)
		umdev_log(UMDEV_LOG_DEBUG, "fuse loop ended: %d", ret);
	loop_set_state(fs, LOOP_DEAD);
	return NULL;
}

/* The mount point must be a directory that is not already a mount point. */
static int check_mountpoint(const char *path)
{
	struct statx stx;
	int fd;

	if (statx(AT_FDCWD, path, 0, STATX_TYPE, &stx) < 0) /* ENOTCONN: a dead FUSE mount */
		return errno == ENOTDIR || errno == ENOTCONN ? -errno : -ENOENT;
	if (!S_ISDIR(stx.stx_mode))
		return -ENOTDIR;
	if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return -EBUSY;
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -ENODEV;
	close(fd);
	return 0;
}

/* Wait for the INIT handshake; then the mount root must be ours. */
static int wait_live(struct umdev_sysfs *fs)
{
	struct timespec deadline = deadline_in(MOUNT_TIMEOUT_S * 1000);
	struct statfs sfs;
	int state;

	umdev__mutex_lock(&fs->loop_lock);
	while (fs->loop_state == LOOP_STARTING &&
	       umdev__cond_timedwait(&fs->loop_cond, &fs->loop_lock, &deadline) == 0)
		;
	state = fs->loop_state;
	umdev__mutex_unlock(&fs->loop_lock);
	if (state != LOOP_LIVE)
		return -EIO;
	if (statfs(fs->mountpoint, &sfs) < 0 || sfs.f_type != FUSE_SUPER_MAGIC_VALUE)
		return -EIO;
	return 0;
}

int umdev_sysfs_mount(struct umdev_sysfs *fs)
{
	char opts[128];
	char *argv[] = {"umdevd", "-o", opts, NULL, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_session *se;
	int ret;

	if (fs->mounted)
		return -EBUSY;
	ret = check_mountpoint(fs->mountpoint);
	if (ret < 0)
		return ret;
	snprintf(opts, sizeof(opts), "fsname=umdev,subtype=umdev%s",
		 fs->allow_other ? ",allow_other,default_permissions" : "");
	if (fs->debug)
		argv[args.argc++] = "-d";
	fs->fuse = fuse_new(&args, &umdev__sysfs_fuse_ops, sizeof(umdev__sysfs_fuse_ops), fs);
	fuse_opt_free_args(&args);
	if (!fs->fuse)
		return -EIO;
	if (fuse_mount(fs->fuse, fs->mountpoint) != 0) {
		ret = -EIO;
		goto err_destroy;
	}
	se = fuse_get_session(fs->fuse);
	ret = fuse_session_custom_io(se, &transport, fuse_session_fd(se));
	if (ret < 0)
		goto err_unmount;
	fs->loop_state = LOOP_STARTING;
	umdev__mutex_lock(&fs->handles_lock);
	fs->closing = false; /* opens work again after an earlier unmount */
	umdev__mutex_unlock(&fs->handles_lock);
	ret = -pthread_create(&fs->loop_thread, NULL, loop_main, fs);
	if (ret < 0)
		goto err_unmount;
	fs->mounted = true;
	ret = wait_live(fs);
	if (ret < 0) {
		umdev_sysfs_unmount(fs);
		return ret;
	}
	return 0;

err_unmount:
	fuse_unmount(fs->fuse);
err_destroy:
	fuse_destroy(fs->fuse);
	fs->fuse = NULL;
	return ret;
}

static bool earlier(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* The time @t (CLOCK_MONOTONIC) has come. */
static bool past(const struct timespec *t)
{
	struct timespec now = deadline_in(0);

	return !earlier(&now, t);
}

/*
 * Let the kernel deliver the releases it owes us, before the loop stops. close(2) does not
 * wait for its RELEASE: the kernel queues it and sends it in the background. libfuse keeps
 * state for each open directory (struct fuse_dh, with the listing) that only serving the
 * RELEASEDIR frees, and fuse_destroy() does not: a release still queued when the loop stops
 * is either read after the exit flag, and dropped, or aborted with the connection, and that
 * memory is lost (a LeakSanitizer report at exit, issue 8).
 *
 * Opens fail from here on, so the handles only go. Each round makes one request of our own
 * (a lookup of stop_path, answered ENOENT): the kernel hands out requests in the order they
 * were queued, so once it is answered the releases queued before it have been read by
 * workers, which finish them (exit is not set). Then wait for the list to empty, at most
 * RELEASE_QUIET_MS; go round again while releases keep coming, up to RELEASE_WAIT_MS. A
 * handle still open at the end belongs to a process that keeps its file open.
 * Return: the number of handles still open.
 */
static unsigned int release_drain(struct umdev_sysfs *fs)
{
	struct timespec limit = deadline_in(RELEASE_WAIT_MS), now = deadline_in(0), quiet;
	unsigned int left, before;
	struct stat st;

	umdev__sysfs_handles_close(fs);
	left = umdev__sysfs_handles_wait(fs, &now);
	if (loop_get_state(fs) != LOOP_LIVE)
		return left; /* a loop that ended (mount failed, aborted) delivers nothing */
	while (left > 0 && !past(&limit)) {
		before = left;
		(void)stat(fs->stop_path, &st); /* the round trip: ENOENT */
		quiet = deadline_in(RELEASE_QUIET_MS);
		if (past(&limit) || earlier(&limit, &quiet))
			quiet = limit;
		left = umdev__sysfs_handles_wait(fs, &quiet);
		if (left >= before)
			break; /* none came in a quiet period: files that processes keep open */
	}
	return left;
}

/*
 * A request that wakes one worker after fuse_exit(): libfuse drops (never answers) a request
 * read after the exit flag was set, so the lookup blocks until fuse_unmount() closes
 * /dev/fuse, which aborts the connection. Hence a thread of its own, joined after that.
 */
static void *poke_main(void *arg)
{
	struct umdev_sysfs *fs = arg;
	struct stat st;

	(void)stat(fs->stop_path, &st);
	return NULL;
}

/*
 * Stop the loop, in this order:
 *  1. Let the kernel deliver the releases it owes us (release_drain()).
 *  2. Set the exit flag, then make one request (a lookup of stop_path) so that a worker
 *     wakes, sees the flag and ends the loop, which cancels the other workers and joins
 *     every one of them before fuse_loop_mt() returns: a request being served is finished.
 *  3. Unmount (lazily: files may still be open): this closes /dev/fuse first, which aborts
 *     what is left, the lookup included. Then free the session.
 */
void umdev_sysfs_unmount(struct umdev_sysfs *fs)
{
	unsigned int still_open;
	bool poking = false;
	pthread_t poke;

	if (!fs || !fs->mounted)
		return;
	still_open = release_drain(fs);
	if (still_open)
		umdev_log(UMDEV_LOG_DEBUG, "sysfs: unmounting with %u file%s still open",
			  still_open, still_open == 1 ? "" : "s");
	fuse_exit(fs->fuse);
	if (loop_get_state(fs) != LOOP_DEAD) {
		poking = pthread_create(&poke, NULL, poke_main, fs) == 0;
		if (!poking)
			umdev_log(UMDEV_LOG_ERR,
				  "sysfs: cannot stop the FUSE loop, waiting for it");
	}
	pthread_join(fs->loop_thread, NULL);
	fuse_unmount(fs->fuse);
	if (poking)
		pthread_join(poke, NULL);
	fuse_destroy(fs->fuse);
	fs->fuse = NULL;
	fs->mounted = false;
}
