// SPDX-License-Identifier: MIT
/*
 * umdev-exec - run a command in a private mount namespace where umdevd's tree appears at the
 * kernel's paths under /sys (mdev.md §9.8), e.g. `umdev-exec -- mdevctl types`.
 *
 * /sys becomes a tmpfs holding every entry of the real sysfs (bind mounts, recursive, so
 * cgroup, debugfs and the like stay usable) merged with the entries of umdevd's tree. The
 * directories both have are merged one level down: sys/, class/, bus/, devices/,
 * devices/virtual/ and kernel/. Below those, where a name exists on both sides (a host with
 * the kernel's vfio_mdev loaded has class/mdev_bus), umdevd's entry wins. So
 * /sys/class/mdev_bus, /sys/bus/mdev, /sys/devices/virtual/<class>, /sys/kernel/iommu_groups
 * and /sys/class/vfio-dev come from umdevd while /sys/class/net still lists the host's
 * interfaces. Needs root; the host's mounts are never touched.
 *
 * A C program rather than a script: it makes ~150 mounts per call, and mount(8) rereads the
 * mount table each time (a script took 1-4 s per call, this takes milliseconds).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MOUNTPOINT "/run/umdev/root"
#define MDEVCTL_CONFIG "/etc/mdevctl.d"
#define EXIT_SETUP 125 /* our own failure, as env(1) and chroot(1) report it */

/* directories (relative to sys/) whose entries come from both sides */
static const char *const merged_dirs[] = {
    ".", "class", "bus", "devices", "devices/virtual", "kernel",
};

static const char *tree_sys; /* <mountpoint>/sys */
static const char *real_sys; /* the real sysfs, bound at a temporary directory */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("umdev-exec: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_SETUP);
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: umdev-exec [OPTION]... [--] COMMAND [ARG]...\n"
	    "Run COMMAND in a private mount namespace where umdevd's tree is at /sys.\n"
	    "\n"
	    "  -m, --mountpoint DIR   umdevd's mount root, which holds sys/\n"
	    "                         (default: " DEFAULT_MOUNTPOINT ")\n"
	    "      --private-config   put an empty tmpfs over " MDEVCTL_CONFIG " holding\n"
	    "                         scripts.d/callouts and scripts.d/notifiers (what mdevctl\n"
	    "                         needs)\n"
	    "      --config-dir DIR   bind DIR over " MDEVCTL_CONFIG " instead (creating the\n"
	    "                         scripts.d directories in it), so definitions persist\n"
	    "  -h, --help             show this help and exit\n"
	    "\n"
	    "Example: umdev-exec --private-config -- mdevctl types\n"
	    "COMMAND's exit status is umdev-exec's; %d means umdev-exec itself failed.\n",
	    EXIT_SETUP);
}

/* @a/@b into @buf (PATH_MAX bytes), where "." as either part is the other part */
static void path_join(char *buf, const char *a, const char *b)
{
	int n;

	if (strcmp(b, ".") == 0)
		n = snprintf(buf, PATH_MAX, "%s", a);
	else if (strcmp(a, ".") == 0)
		n = snprintf(buf, PATH_MAX, "%s", b);
	else
		n = snprintf(buf, PATH_MAX, "%s/%s", a, b);
	if (n < 0 || n >= PATH_MAX)
		die("path too long: %s/%s", a, b);
}

static void mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		die("path too long: %s", path);
	for (char *p = buf + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			die("cannot create '%s': %s", buf, strerror(errno));
		*p = c;
		if (c == '\0')
			return;
	}
}

/* Undo the \ooo escapes of /proc/self/mountinfo in place. */
static void unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/* Whether @path is the mount point of a FUSE mount; the last mount there counts. */
static bool fuse_mounted(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	bool fuse = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		die("cannot read /proc/self/mountinfo: %s", strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		/* id parent major:minor root mount-point options [optional...] - fstype ... */
		char *save = NULL, *field, *mnt = NULL, *fstype = NULL;
		bool after_sep = false;

		field = strtok_r(line, " \n", &save);
		for (int i = 0; field; i++, field = strtok_r(NULL, " \n", &save)) {
			if (i == 4)
				mnt = field;
			else if (after_sep) {
				fstype = field;
				break;
			} else if (i > 5 && strcmp(field, "-") == 0)
				after_sep = true;
		}
		if (!mnt || !fstype)
			continue;
		unescape(mnt);
		if (strcmp(mnt, path) == 0)
			fuse = strncmp(fstype, "fuse", 4) == 0;
	}
	free(line);
	fclose(f);
	return fuse;
}

static bool is_merged(const char *rel)
{
	for (size_t i = 0; i < sizeof(merged_dirs) / sizeof(merged_dirs[0]); i++)
		if (strcmp(merged_dirs[i], rel) == 0)
			return true;
	return false;
}

/* Put the entry @src at @dst, a new name in our tmpfs. */
static void place(const char *src, const char *dst, bool recursive)
{
	char target[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	if (lstat(src, &st) < 0)
		return; /* vanished meanwhile (a device removed): leave it out */
	if (S_ISLNK(st.st_mode)) {
		n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return;
		target[n] = '\0';
		if (symlink(target, dst) < 0)
			die("cannot create symlink '%s': %s", dst, strerror(errno));
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0)
			die("cannot create '%s': %s", dst, strerror(errno));
	} else {
		fd = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			die("cannot create '%s': %s", dst, strerror(errno));
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0)
		die("cannot bind '%s' at '%s': %s", src, dst, strerror(errno));
}

/* Fill /sys/@rel from the tree's @rel and the real sysfs's @rel. */
static void merge(const char *rel)
{
	char tree_dir[PATH_MAX], real_dir[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
	char sub[PATH_MAX], real_sub[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *dir;

	path_join(tree_dir, tree_sys, rel);
	path_join(real_dir, real_sys, rel);

	/* umdevd's entries first: they win */
	dir = opendir(tree_dir);
	if (!dir)
		die("cannot list '%s': %s", tree_dir, strerror(errno));
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		path_join(sub, rel, de->d_name);
		path_join(src, tree_sys, sub);
		path_join(dst, "/sys", sub);
		path_join(real_sub, real_sys, sub);
		if (is_merged(sub) && lstat(real_sub, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (mkdir(dst, 0755) < 0)
				die("cannot create '%s': %s", dst, strerror(errno));
			merge(sub);
		} else {
			place(src, dst, false);
		}
	}
	closedir(dir);

	/* then the real sysfs's entries that umdevd does not have */
	dir = opendir(real_dir);
	if (!dir)
		return; /* the real sysfs lacks this directory: umdevd's alone */
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		path_join(sub, rel, de->d_name);
		path_join(dst, "/sys", sub);
		if (lstat(dst, &st) == 0)
			continue; /* placed from umdevd's tree */
		path_join(src, real_sys, sub);
		place(src, dst, true);
	}
	closedir(dir);
}

static void setup_sys(void)
{
	static char stage[] = "/tmp/umdev-exec.XXXXXX";

	if (!mkdtemp(stage))
		die("cannot create a temporary directory: %s", strerror(errno));
	/* the real sysfs with its submounts, seen from the side */
	if (mount("/sys", stage, NULL, MS_BIND | MS_REC, NULL) < 0)
		die("cannot bind /sys: %s", strerror(errno));
	real_sys = stage;
	if (mount("umdev-sys", "/sys", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") < 0)
		die("cannot mount a tmpfs on /sys: %s", strerror(errno));
	merge(".");
	if (umount2(stage, MNT_DETACH) < 0)
		die("cannot unmount '%s': %s", stage, strerror(errno));
	(void)rmdir(stage);
}

static void setup_config(const char *config_dir, bool private_config)
{
	if (!config_dir && !private_config)
		return;
	mkdir_p(MDEVCTL_CONFIG);
	if (private_config) {
		if (mount("umdev-mdevctl", MDEVCTL_CONFIG, "tmpfs", MS_NOSUID | MS_NODEV,
			  "mode=0755") < 0)
			die("cannot mount a tmpfs on " MDEVCTL_CONFIG ": %s", strerror(errno));
		mkdir_p(MDEVCTL_CONFIG "/scripts.d/callouts");
		mkdir_p(MDEVCTL_CONFIG "/scripts.d/notifiers");
	} else if (mount(config_dir, MDEVCTL_CONFIG, NULL, MS_BIND, NULL) < 0) {
		die("cannot bind '%s' at " MDEVCTL_CONFIG ": %s", config_dir, strerror(errno));
	}
}

int main(int argc, char **argv)
{
	enum { OPT_PRIVATE_CONFIG = 256, OPT_CONFIG_DIR };
	static const struct option longopts[] = {
	    {"mountpoint", required_argument, NULL, 'm'},
	    {"private-config", no_argument, NULL, OPT_PRIVATE_CONFIG},
	    {"config-dir", required_argument, NULL, OPT_CONFIG_DIR},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char mountpoint[PATH_MAX], tree[PATH_MAX], check[PATH_MAX], config[PATH_MAX];
	const char *mountpoint_arg = DEFAULT_MOUNTPOINT, *config_arg = NULL;
	bool private_config = false;
	struct stat st;
	int c;

	while ((c = getopt_long(argc, argv, "+m:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			mountpoint_arg = optarg;
			break;
		case OPT_PRIVATE_CONFIG:
			private_config = true;
			config_arg = NULL;
			break;
		case OPT_CONFIG_DIR:
			config_arg = optarg;
			private_config = false;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (geteuid() != 0)
		die("must run as root (it mounts in a private mount namespace)");

	if (!realpath(mountpoint_arg, mountpoint))
		die("mountpoint '%s': %s (is umdevd running?)", mountpoint_arg, strerror(errno));
	/* without the FUSE mount the tree would be the empty directory underneath (notes) */
	if (!fuse_mounted(mountpoint))
		die("no umdevd tree is mounted at '%s' (is umdevd running?)", mountpoint);
	path_join(tree, mountpoint, "sys");
	path_join(check, tree, "class/mdev_bus");
	if (stat(check, &st) < 0 || !S_ISDIR(st.st_mode))
		die("'%s' holds no sys/class/mdev_bus: not a umdevd tree", mountpoint);
	tree_sys = tree;
	if (config_arg) {
		mkdir_p(config_arg);
		if (!realpath(config_arg, config))
			die("config directory '%s': %s", config_arg, strerror(errno));
		path_join(check, config, "scripts.d/callouts");
		mkdir_p(check);
		path_join(check, config, "scripts.d/notifiers");
		mkdir_p(check);
	}

	if (unshare(CLONE_NEWNS) < 0)
		die("cannot create a mount namespace: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("cannot make the mounts private: %s", strerror(errno));
	setup_sys();
	setup_config(config_arg ? config : NULL, private_config);

	execvp(argv[optind], &argv[optind]);
	fprintf(stderr, "umdev-exec: cannot run '%s': %s\n", argv[optind], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
