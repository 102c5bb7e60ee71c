// SPDX-License-Identifier: MIT
/*
 * umdevd - the umdev daemon: serves the mdev sysfs tree over FUSE (mdev.md §6) and the vfio
 * devices over vfio-user, with the driver modules named by --driver (umdev/module.h) or, by
 * default, the built-in mtty module with its one parent "mtty" (mtty.md §3), until SIGTERM or
 * SIGINT.
 *
 * The FUSE mount root R holds `sys/`, so the tree the kernel has at /sys/... is at R/sys/...
 * (default R: <rundir>/root, i.e. /run/umdev/root). umdev-exec shows it at /sys.
 *
 * Start-up: the modules are opened and their parameters checked before anything else (a bad
 * one refuses the start with a message); then the tree and the vfio hooks, then each module's
 * init (its drivers and parents, so the tree is complete when it appears), then the mount, then
 * the devices of mdevctl's auto-start definitions (autostart.h); only then is umdevd ready.
 * Readiness is the "tree mounted" line on stdout, the daemonizing parent's exit, and systemd's
 * READY=1 (sd_notify(3), Type=notify). Shutdown (mdev.md §8.2): remove every mdev newest first,
 * call the modules' exit newest first (they unregister their parents and drivers), unmount, and
 * close the modules last. Signals are taken synchronously with sigwait() in the main thread; every
 * other thread starts with them blocked.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "umdev/log.h"
#include "umdev/mdev.h"
#include "autostart.h"
#include "hooks.h"
#include "modules.h"
#include "stale.h"
#include "sysfs.h"
#include "vfio.h"

#ifndef UMDEV_VERSION
#define UMDEV_VERSION "unknown"
#endif

#define DEFAULT_RUNDIR "/run/umdev"
#ifndef UMDEV_MODULE_DIR
#define UMDEV_MODULE_DIR "/usr/local/lib/umdev/drivers"
#endif
#define DEFAULT_DRIVER "mtty" /* built in: umdevd runs with no configuration */
#define FDS_RESERVED 64 /* fds the daemon needs besides its mdevs' (FUSE, listeners, logs) */
#define MAX_DRIVERS 64
#define MOUNT_SUBDIR "root" /* default mountpoint: <rundir>/root */
#define DEFAULT_MAX_THREADS 256
#define MAX_THREADS_LIMIT 100000

struct options {
	const char *mountpoint; /* NULL: <rundir>/root */
	const char *rundir;
	bool foreground;
	bool allow_other;
	bool fuse_debug;
	enum umdev_log_level log_level;
	unsigned int max_threads;
	const char *module_dir;
	const char *mdevctl_config; /* mdevctl's definitions: /etc/mdevctl.d */
	const char *drivers[MAX_DRIVERS]; /* --driver SPECs, in order; borrowed from argv */
	unsigned int nr_drivers;
	bool help;
	struct umdev_vfio_options vfio; /* vfio-user.md §12; rundir set at start */
};

/* Exit statuses, as sysexits(3) would name them. */
enum {
	EXIT_USAGE = 2,
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: umdevd [OPTION]...\n"
	    "Serve the Linux mdev sysfs tree over FUSE and each mdev over vfio-user, with the\n"
	    "driver modules --driver names (default: the built-in mtty, parent 'mtty').\n"
	    "\n"
	    "  -d, --driver SPEC          load a driver module: NAME (from the module directory,\n"
	    "                             else built in) or a PATH with a '/', optionally with\n"
	    "                             parameters: mtty:parents=8,ports=24; repeatable\n"
	    "      --module-dir DIR       where --driver NAME looks for NAME.so\n"
	    "                             (default: " UMDEV_MODULE_DIR ")\n"
	    "      --mdevctl-config DIR   start the auto-start devices mdevctl defined in DIR\n"
	    "                             (default: " UMDEVD_MDEVCTL_CONFIG ")\n"
	    "  -m, --mountpoint DIR       mount the tree at DIR; the kernel's /sys is at DIR/sys\n"
	    "                             (default: RUNDIR/root, created if missing)\n"
	    "  -r, --rundir DIR           run directory (default: " DEFAULT_RUNDIR ")\n"
	    "  -f, --foreground           stay in the foreground (default: daemonize once\n"
	    "                             the tree is mounted)\n"
	    "  -l, --log-level LEVEL      err, warning, notice, info or debug (default: notice)\n"
	    "  -t, --fuse-max-threads N   FUSE worker threads, 1..%d (default: %d)\n"
	    "      --allow-other          let users other than the mounting one use the tree\n"
	    "      --fuse-debug           libfuse debug output on stderr\n"
	    "      --vfio-socket-group=GROUP    vfio sockets mode 0660 with GROUP\n"
	    "      --vfio-max-dma-maps=N        DMA mappings per session, 1..65535 (1024)\n"
	    "      --vfio-handshake-timeout=MS  first-message deadline (5000)\n"
	    "      --vfio-req-timeout=MS        wait after REQ on removal (0)\n"
	    "      --vfio-dma-timeout=MS        message DMA reply deadline (5000)\n"
	    "  -h, --help                 show this help and exit; after --driver, the\n"
	    "                             module's parameters\n"
	    "  -V, --version              show the version and exit\n"
	    "\n"
	    "Use the tree with stock tools through umdev-exec, e.g. `umdev-exec -- mdevctl "
	    "types`.\n"
	    "SIGTERM or SIGINT removes every mdev, unregisters the parents and unmounts.\n",
	    MAX_THREADS_LIMIT, DEFAULT_MAX_THREADS);
}

static int parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *ret)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned int)v;
	return 0;
}

/* Return: 0 to go on; 1 for --help/--version (exit 0); -EINVAL after printing a message. */
static int parse_options(int argc, char **argv, struct options *opt)
{
	enum {
		OPT_ALLOW_OTHER = 256,
		OPT_FUSE_DEBUG,
		OPT_MODULE_DIR,
		OPT_MDEVCTL_CONFIG,
		OPT_VFIO_GROUP,
		OPT_VFIO_MAX_DMA_MAPS,
		OPT_VFIO_HANDSHAKE,
		OPT_VFIO_REQ,
		OPT_VFIO_DMA,
	};
	static const struct option longopts[] = {
	    {"mountpoint", required_argument, NULL, 'm'},
	    {"rundir", required_argument, NULL, 'r'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"fuse-max-threads", required_argument, NULL, 't'},
	    {"allow-other", no_argument, NULL, OPT_ALLOW_OTHER},
	    {"fuse-debug", no_argument, NULL, OPT_FUSE_DEBUG},
	    {"driver", required_argument, NULL, 'd'},
	    {"module-dir", required_argument, NULL, OPT_MODULE_DIR},
	    {"mdevctl-config", required_argument, NULL, OPT_MDEVCTL_CONFIG},
	    {"vfio-socket-group", required_argument, NULL, OPT_VFIO_GROUP},
	    {"vfio-max-dma-maps", required_argument, NULL, OPT_VFIO_MAX_DMA_MAPS},
	    {"vfio-handshake-timeout", required_argument, NULL, OPT_VFIO_HANDSHAKE},
	    {"vfio-req-timeout", required_argument, NULL, OPT_VFIO_REQ},
	    {"vfio-dma-timeout", required_argument, NULL, OPT_VFIO_DMA},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c, level;

	*opt = (struct options){
	    .rundir = DEFAULT_RUNDIR,
	    .log_level = UMDEV_LOG_NOTICE,
	    .max_threads = DEFAULT_MAX_THREADS,
	    .module_dir = UMDEV_MODULE_DIR,
	    .mdevctl_config = UMDEVD_MDEVCTL_CONFIG,
	};
	while ((c = getopt_long(argc, argv, "m:r:fl:t:d:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			opt->mountpoint = optarg;
			break;
		case 'r':
			opt->rundir = optarg;
			break;
		case 'f':
			opt->foreground = true;
			break;
		case 'l':
			level = umdev_log_parse_level(optarg);
			if (level < 0) {
				fprintf(stderr, "umdevd: unknown log level '%s'\n", optarg);
				return -EINVAL;
			}
			opt->log_level = (enum umdev_log_level)level;
			break;
		case 't':
			if (parse_uint(optarg, 1, MAX_THREADS_LIMIT, &opt->max_threads) < 0) {
				fprintf(stderr, "umdevd: bad --fuse-max-threads '%s' (1..%d)\n",
					optarg, MAX_THREADS_LIMIT);
				return -EINVAL;
			}
			break;
		case OPT_ALLOW_OTHER:
			opt->allow_other = true;
			break;
		case OPT_FUSE_DEBUG:
			opt->fuse_debug = true;
			break;
		case 'd':
			if (opt->nr_drivers == MAX_DRIVERS) {
				fprintf(stderr, "umdevd: more than %d --driver options\n",
					MAX_DRIVERS);
				return -EINVAL;
			}
			opt->drivers[opt->nr_drivers++] = optarg;
			break;
		case OPT_MODULE_DIR:
			opt->module_dir = optarg;
			break;
		case OPT_MDEVCTL_CONFIG:
			opt->mdevctl_config = optarg;
			break;
		case OPT_VFIO_GROUP:
			opt->vfio.socket_group = optarg;
			break;
		case OPT_VFIO_MAX_DMA_MAPS:
		case OPT_VFIO_HANDSHAKE:
		case OPT_VFIO_REQ:
		case OPT_VFIO_DMA: {
			unsigned int *field = c == OPT_VFIO_MAX_DMA_MAPS ? &opt->vfio.max_dma_maps
					      : c == OPT_VFIO_HANDSHAKE
						  ? &opt->vfio.handshake_timeout_ms
					      : c == OPT_VFIO_REQ ? &opt->vfio.req_timeout_ms
								  : &opt->vfio.dma_timeout_ms;
			unsigned int max = c == OPT_VFIO_MAX_DMA_MAPS ? 65535 : 3600000;
			unsigned int min = c == OPT_VFIO_REQ ? 0 : 1;

			if (parse_uint(optarg, min, max, field) < 0) {
				fprintf(stderr, "umdevd: bad value '%s' for an option (%u..%u)\n",
					optarg, min, max);
				return -EINVAL;
			}
			break;
		}
		case 'h':
			opt->help = true; /* after every --driver is known */
			break;
		case 'V':
			printf("umdevd %s\n", UMDEV_VERSION);
			return 1;
		default:
			fprintf(stderr, "Try 'umdevd --help' for more information.\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "umdevd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (opt->help && !opt->nr_drivers) {
		usage(stdout);
		return 1;
	}
	return 0;
}

/* mkdir -p @path with @mode for the directories it creates. Return: 0 or -errno. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = saved;
		if (saved == '\0')
			break;
	}
	return 0;
}

/* What umdevd set up, torn down at shutdown in reverse order. */
struct daemon {
	struct umdev_sysfs *fs;
	struct umdevd_modules modules; /* the driver modules, in loading order */
	char mountpoint[PATH_MAX];
	char rundir[PATH_MAX];
	char pidfile[PATH_MAX + 16]; /* empty: none written */
	int pidfile_fd; /* holds the pid file's lock; -1: none */
};

/*
 * Daemonize before any thread exists (libfuse starts workers at mount). The parent waits on
 * @ret_fd's pipe for the child's start-up status byte and exits with it, so `umdevd` returns
 * only once the tree is mounted (or start-up failed). Return: 0 in the child; never returns
 * in the parent; -errno on failure.
 */
static int daemonize(int *ret_fd)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int ret = -errno;

		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	if (pid > 0) {
		unsigned char status = 1;

		close(fds[1]);
		if (read(fds[0], &status, 1) != 1) {
			int wstatus;

			/* the child died before reporting: pass on its own status */
			if (waitpid(pid, &wstatus, 0) == pid && WIFEXITED(wstatus))
				status = (unsigned char)WEXITSTATUS(wstatus);
			if (status == 0)
				status = 1;
		}
		_exit(status);
	}
	close(fds[0]);
	if (setsid() < 0)
		umdev_log(UMDEV_LOG_WARNING, "setsid failed: %s, ignoring", strerror(errno));
	*ret_fd = fds[1];
	return 0;
}

/* Tell the waiting parent the start-up status and detach stdin/stdout. */
static void daemonize_done(int fd, unsigned char status)
{
	int null;

	if (fd < 0)
		return;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		(void)dup2(null, STDIN_FILENO);
		(void)dup2(null, STDOUT_FILENO);
		close(null);
	}
	(void)!write(fd, &status, 1);
	close(fd);
}

/*
 * <rundir>/umdevd.pid: how scripts find a daemonized umdevd, locked while this one runs
 * (stale.h), so a second umdevd on the same run directory is refused before its vfio layer
 * removes our sockets, and a stale one is simply taken over. Return: 0, or -EBUSY after
 * logging; other failures are not fatal.
 */
static int pidfile_take(struct daemon *d)
{
	long pid = 0;
	int fd;

	if (snprintf(d->pidfile, sizeof(d->pidfile), "%s/umdevd.pid", d->rundir) >=
	    (int)sizeof(d->pidfile)) {
		d->pidfile[0] = '\0';
		return 0;
	}
	fd = umdevd_pidfile_lock(d->pidfile, &pid);
	if (fd == -EBUSY)
		umdev_log(UMDEV_LOG_ERR, "run directory '%s' is in use by umdevd pid %ld ('%s')",
			  d->rundir, pid, d->pidfile);
	else if (fd < 0)
		umdev_log(UMDEV_LOG_WARNING, "cannot write '%s': %s, ignoring", d->pidfile,
			  strerror(-fd));
	if (fd < 0) {
		d->pidfile[0] = '\0';
		return fd == -EBUSY ? fd : 0;
	}
	d->pidfile_fd = fd;
	return 0;
}

static const char *mount_error(int err)
{
	switch (err) {
	case -EBUSY:
		return "already a mount point (is another umdevd running?)";
	case -ENODEV:
		return "FUSE is unavailable (cannot open /dev/fuse; try 'modprobe fuse')";
	case -ENOENT:
	case -ENOTDIR:
		return "not a directory";
	case -ENOTCONN:
		return "a dead FUSE mount that is not umdevd's (unmount it: fusermount3 -uz)";
	default:
		return strerror(-err);
	}
}

static int daemon_start(struct daemon *d, const struct options *opt)
{
	struct umdev_sysfs_options fs_opt = {
	    .mountpoint = d->mountpoint,
	    .max_threads = opt->max_threads,
	    .allow_other = opt->allow_other,
	    .debug = opt->fuse_debug,
	};
	struct umdev_vfio_options vfio_opt = opt->vfio;
	int ret;

	vfio_opt.rundir = d->rundir;

	ret = umdev_sysfs_create(&fs_opt, &d->fs); /* installs the tree hooks: first */
	if (ret < 0) {
		umdev_log(UMDEV_LOG_ERR, "cannot create the sysfs tree: %s", strerror(-ret));
		return ret;
	}
	ret = umdev_vfio_init(&vfio_opt);
	if (ret < 0) {
		umdev_log(UMDEV_LOG_ERR, "cannot set up vfio devices: %s", strerror(-ret));
		goto err_sysfs_destroy;
	}
	ret = umdevd_modules_init(&d->modules); /* logs a failure; undoes itself */
	if (ret < 0)
		goto err_vfio_fini;
	ret = umdev_sysfs_mount(d->fs);
	if (ret < 0) {
		umdev_log(UMDEV_LOG_ERR, "cannot mount the tree at '%s': %s", d->mountpoint,
			  mount_error(ret));
		goto err_modules_exit;
	}
	return 0;

err_modules_exit:
	umdevd_modules_exit(&d->modules);
err_vfio_fini:
	umdev_vfio_fini();
err_sysfs_destroy:
	umdev_sysfs_destroy(d->fs);
	d->fs = NULL;
	return ret;
}

/* mdev.md §8.2: every mdev first (newest first), then parents, drivers, and the mount. */
static void daemon_stop(struct daemon *d)
{
	unsigned int n;

	umdev_vfio_shutdown(); /* no removal waits T_req for a client from here (V-5, §3.3) */
	n = umdev_core_remove_all();
	umdev_log(UMDEV_LOG_INFO, "removed %u mdev%s", n, n == 1 ? "" : "s");
	/* parent unregistration also removes mdevs remove_all skipped (mid-create) */
	umdevd_modules_exit(&d->modules);
	umdev_sysfs_unmount(d->fs);
	umdev_vfio_fini();
	umdev_sysfs_destroy(d->fs);
	d->fs = NULL;
}

/* Block the stop signals in this thread and so in every thread started later. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stderr must not kill the daemon */
}

static int resolve_dirs(struct daemon *d, const struct options *opt)
{
	char mp[PATH_MAX];
	int ret, n;

	ret = mkdir_p(opt->rundir, 0755);
	if (ret < 0 || !realpath(opt->rundir, d->rundir)) {
		fprintf(stderr, "umdevd: cannot create run directory '%s': %s\n", opt->rundir,
			strerror(ret < 0 ? -ret : errno));
		return -1;
	}
	if (opt->mountpoint)
		n = snprintf(mp, sizeof(mp), "%s", opt->mountpoint);
	else
		n = snprintf(mp, sizeof(mp), "%s/%s", d->rundir, MOUNT_SUBDIR);
	if (n < 0 || (size_t)n >= sizeof(mp)) {
		fprintf(stderr, "umdevd: mountpoint path too long\n");
		return -1;
	}
	if (umdevd_clear_dead_mount(mp) < 0) /* a killed umdevd's tree (logs why not) */
		return -1;
	ret = mkdir_p(mp, 0755);
	if (ret < 0 || !realpath(mp, d->mountpoint)) {
		fprintf(stderr, "umdevd: cannot create mountpoint '%s': %s\n", mp,
			strerror(ret < 0 ? -ret : errno));
		return -1;
	}
	return 0;
}

/*
 * Every client holds fds of ours (its connection, DMA files, eventfds: bounded per session,
 * src/vfio/private.h), so the usual 1024-fd soft limit is raised to the hard limit.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		umdev_log(UMDEV_LOG_WARNING, "cannot read the fd limit: %s, ignoring",
			  strerror(errno));
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			umdev_log(UMDEV_LOG_WARNING, "cannot raise the fd limit %llu: %s, ignoring",
				  (unsigned long long)old, strerror(errno));
			return;
		}
	}
	/*
	 * An idle mdev holds one fd (its vfio socket), a pty-backed mtty port one more; past the
	 * limit a create fails EMFILE for its writer and leaves nothing (issue 10).
	 */
	umdev_log(UMDEV_LOG_NOTICE,
		  "fd limit: %llu open files, room for about %llu idle mdevs (one fd each, and one "
		  "per pty-backed port)",
		  (unsigned long long)rl.rlim_cur,
		  rl.rlim_cur > FDS_RESERVED ? (unsigned long long)(rl.rlim_cur - FDS_RESERVED)
					     : 0);
}

/*
 * mdevctl's udev rule starts a parent's auto-start devices when the parent registers; no uevent
 * is ever sent for ours, so umdevd starts them itself (autostart.h).
 */
static void autostart(const struct daemon *d, const struct options *opt)
{
	struct umdevd_autostart_stats st;
	char sys[PATH_MAX + 8];

	snprintf(sys, sizeof(sys), "%s/sys", d->mountpoint);
	umdevd_autostart(opt->mdevctl_config, sys, &st);
	if (st.started || st.failed || st.foreign)
		umdev_log(UMDEV_LOG_NOTICE, "'%s': %u started, %u failed, %u of other parents",
			  opt->mdevctl_config, st.started, st.failed, st.foreign);
}

extern const struct umdev_module umdev_builtin_module_mtty;

const struct umdev_module *const umdevd_builtin_modules[] = {
    &umdev_builtin_module_mtty,
    NULL,
};

/*
 * Open every --driver module (or the default) and set its parameters; nothing of them runs yet.
 * Return: 0 to go on; 1 after printing --help; -errno after printing why a module is refused.
 */
static int load_modules(struct daemon *d, const struct options *opt)
{
	int ret = 0;

	d->modules.dir = opt->module_dir;
	if (!opt->nr_drivers)
		ret = umdevd_modules_load(&d->modules, DEFAULT_DRIVER, stderr);
	for (unsigned int i = 0; i < opt->nr_drivers && ret == 0; i++)
		ret = umdevd_modules_load(&d->modules, opt->drivers[i], stderr);
	if (ret == 0 && opt->help) {
		umdevd_modules_help(&d->modules, stdout);
		ret = 1;
	}
	if (ret != 0)
		umdevd_modules_unload(&d->modules);
	return ret;
}

int main(int argc, char **argv)
{
	struct daemon d = {.pidfile_fd = -1};
	struct options opt;
	int status_fd = -1;
	sigset_t set;
	int ret, sig;

	ret = parse_options(argc, argv, &opt);
	if (ret != 0)
		return ret > 0 ? EXIT_SUCCESS : EXIT_USAGE;
	umdev_log_set_sink(NULL, NULL, opt.log_level);
	ret = load_modules(&d, &opt);
	if (ret != 0)
		return ret > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	if (resolve_dirs(&d, &opt) < 0) {
		umdevd_modules_unload(&d.modules);
		return EXIT_FAILURE;
	}

	block_signals(&set);
	if (!opt.foreground) {
		ret = daemonize(&status_fd);
		if (ret < 0) {
			fprintf(stderr, "umdevd: cannot daemonize: %s\n", strerror(-ret));
			return EXIT_FAILURE;
		}
	}

	if (pidfile_take(&d) < 0) {
		umdevd_modules_unload(&d.modules);
		daemonize_done(status_fd, EXIT_FAILURE);
		return EXIT_FAILURE;
	}
	raise_fd_limit();
	if (daemon_start(&d, &opt) < 0) {
		if (d.pidfile[0])
			(void)unlink(d.pidfile);
		umdevd_modules_unload(&d.modules);
		daemonize_done(status_fd, EXIT_FAILURE);
		return EXIT_FAILURE;
	}
	autostart(&d, &opt);
	printf("umdevd: tree mounted at %s (sys/ inside)\n", d.mountpoint);
	fflush(stdout);
	/* Type=notify (systemd/umdevd.service): ready once the tree and its devices are up */
	(void)sd_notifyf(0, "READY=1\nSTATUS=serving %s", d.mountpoint);
	umdev_log(UMDEV_LOG_INFO, "serving '%s' with %u module%s, %u FUSE threads at most",
		  d.mountpoint, d.modules.nr, d.modules.nr == 1 ? "" : "s", opt.max_threads);
	daemonize_done(status_fd, EXIT_SUCCESS);

	do {
		ret = sigwait(&set, &sig);
	} while (ret == EINTR);
	umdev_log(UMDEV_LOG_INFO, "%s: shutting down",
		  ret == 0 ? strsignal(sig) : "sigwait failed");
	(void)sd_notify(0, "STOPPING=1\nSTATUS=removing every mdev");

	daemon_stop(&d);
	umdevd_modules_unload(&d.modules); /* last: nothing calls into a module any more */
	if (d.pidfile[0])
		(void)unlink(d.pidfile); /* before the lock goes with the descriptor */
	if (d.pidfile_fd >= 0)
		close(d.pidfile_fd);
	return EXIT_SUCCESS;
}
