// SPDX-License-Identifier: MIT
/*
 * Auto-start of mdevctl's persistent definitions (autostart.h). A definition is the file
 * <config>/<parent>/<uuid> that `mdevctl define` writes, as mdevctl 1.2.0 reads it
 * (src/mdev.rs, load_from_json and add_attributes):
 *
 *	{ "mdev_type": "mtty-2", "start": "auto",
 *	  "attrs": [ { "mtty/backend": "loopback" }, ... ] }
 *
 * "mdev_type" and "start" are required; only "start": "auto" starts at parent registration;
 * "attrs" is absent, null or an array of objects with exactly one member whose value is a
 * string, written in array order. File names that are not UUIDs are not definitions (mdevctl's
 * own scripts.d lives beside the parents). The device is started with the writes mdevctl makes
 * (MDev::start): the UUID, lower case, to the type's `create`, then each attribute's value to
 * the device directory's file of that name; an attribute that is missing or refused removes the
 * device again, through its `remove`.
 *
 * Unlike mdevctl, an attribute name must stay inside the device directory: it is opened with
 * openat2(RESOLVE_BENEATH) from the device directory, so "../" or a symbolic link cannot make
 * the root daemon write a file elsewhere.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <json-c/json.h>
#include <uuid/uuid.h>

#include "umdev/log.h"
#include "autostart.h"

#define DEFINITION_MAX (1u << 20) /* bytes; mdevctl's are a few hundred */

/* One definition being started: what the log lines name. */
struct definition {
	char path[PATH_MAX]; /* the file */
	const char *parent;
	char uuid[UUID_STR_LEN]; /* lower case, as mdevctl writes it */
	const char *type;
	struct json_object *attrs; /* the validated array, or NULL */
};

/* Read @path whole into a NUL-terminated buffer. Return: the buffer, or NULL with errno set. */
static char *read_file(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int fd, err;
	ssize_t n;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		goto err_free;
	for (;;) {
		if (len + 1 == cap) {
			char *bigger = cap >= DEFINITION_MAX ? NULL : realloc(buf, cap * 2);

			if (!bigger) {
				errno = cap >= DEFINITION_MAX ? EFBIG : ENOMEM;
				goto err_close;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err_close;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;

err_close:
	err = errno;
	close(fd);
	errno = err;
err_free:
	err = errno;
	free(buf);
	errno = err;
	return NULL;
}

/* Write all of @len bytes of @buf to @fd in as few write(2)s as it takes. Return: 0 or -errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* An attribute name stays inside the device directory: relative, no "." or ".." part. */
static bool attr_name_valid(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/')
		return false;
	while (*p) {
		size_t part = strcspn(p, "/");

		if (part == 0 || (part == 1 && p[0] == '.') ||
		    (part == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += part;
		if (*p == '/')
			p++;
	}
	return p[-1] != '/';
}

/*
 * Parse the definition's JSON. Return: 1 to start it (@def's type and attrs set, borrowed from
 * *@ret_root, which the caller puts), 0 when it is not an auto-start definition, -1 after
 * logging why it is broken.
 */
static int parse(struct definition *def, const char *text, struct json_object **ret_root)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root, *type, *start, *attrs;
	size_t len = strlen(text);
	const char *why = NULL;

	if (!tok) {
		umdev_log(UMDEV_LOG_WARNING, "'%s': %s", def->path, strerror(ENOMEM));
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		umdev_log(UMDEV_LOG_WARNING, "'%s': bad JSON: %s", def->path,
			  e == json_tokener_continue ? "unexpected end of file"
						     : json_tokener_error_desc(e));
		json_object_put(root);
		json_tokener_free(tok);
		return -1;
	}
	text += json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	*ret_root = root;
	if (text[strspn(text, " \t\r\n")])
		why = "bad JSON: trailing characters after the object";
	else if (!json_object_is_type(root, json_type_object))
		why = "not a JSON object";
	else if (!json_object_object_get_ex(root, "start", &start) ||
		 !json_object_is_type(start, json_type_string))
		why = "no \"start\" string";
	if (why) {
		umdev_log(UMDEV_LOG_WARNING, "'%s': %s", def->path, why);
		return -1;
	}
	if (strcmp(json_object_get_string(start), "auto") != 0)
		return 0; /* "manual": mdevctl start starts it, we do not */
	if (!json_object_object_get_ex(root, "mdev_type", &type) ||
	    !json_object_is_type(type, json_type_string)) {
		umdev_log(UMDEV_LOG_WARNING, "'%s': no \"mdev_type\" string", def->path);
		return -1;
	}
	def->type = json_object_get_string(type);
	def->attrs = NULL;
	if (!json_object_object_get_ex(root, "attrs", &attrs) || !attrs)
		return 1;
	if (!json_object_is_type(attrs, json_type_array)) {
		umdev_log(UMDEV_LOG_WARNING, "'%s': \"attrs\" is not an array", def->path);
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(attrs); i++) {
		struct json_object *a = json_object_array_get_idx(attrs, i);

		if (!json_object_is_type(a, json_type_object) ||
		    json_object_object_length(a) != 1) {
			umdev_log(UMDEV_LOG_WARNING,
				  "'%s': attribute %zu is not an object with one member", def->path,
				  i);
			return -1;
		}
		json_object_object_foreach(a, name, value)
		{
			if (!json_object_is_type(value, json_type_string)) {
				umdev_log(UMDEV_LOG_WARNING,
					  "'%s': attribute '%s': the value is not a string",
					  def->path, name);
				return -1;
			}
			if (!attr_name_valid(name)) {
				umdev_log(
				    UMDEV_LOG_WARNING,
				    "'%s': attribute '%s': not a file of the device directory",
				    def->path, name);
				return -1;
			}
		}
	}
	def->attrs = attrs;
	return 1;
}

/* Whether @path names a directory (following links, as mdevctl's is_dir()). */
static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Write @value to @dirfd's @name, as mdevctl's fs::write(). Return: 0 or -errno. */
static int write_attr(int dirfd, const char *name, const char *value, size_t len)
{
	struct open_how how = {
	    .flags = O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd, ret;

	fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	ret = write_all(fd, value, len);
	if (close(fd) < 0 && ret == 0 && errno != EINTR)
		ret = -errno;
	return ret;
}

/* Remove the device of a definition that failed after its create. */
static void remove_device(const struct definition *def, int devfd)
{
	int fd = openat(devfd, "remove", O_WRONLY | O_CLOEXEC);
	int ret = fd < 0 ? -errno : write_all(fd, "1", 1);

	if (fd >= 0)
		close(fd);
	if (ret < 0)
		umdev_log(UMDEV_LOG_ERR, "'%s': cannot remove mdev %s again: %s", def->path,
			  def->uuid, strerror(-ret));
}

/* Start one parsed definition (mdevctl's MDev::start). Return: 0, or -1 after logging. */
static int start(const struct definition *def, const char *sys)
{
	char path[PATH_MAX], create[PATH_MAX + 8];
	int fd, devfd, ret;

	/* the parent is known to be ours; the type need not be */
	if (snprintf(path, sizeof(path), "%s/class/mdev_bus/%s/mdev_supported_types/%s", sys,
		     def->parent, def->type) >= (int)sizeof(path) ||
	    strchr(def->type, '/') || !strcmp(def->type, ".") || !strcmp(def->type, "..") ||
	    !is_dir(path)) {
		umdev_log(UMDEV_LOG_WARNING, "'%s': parent '%s' has no mdev type '%s'", def->path,
			  def->parent, def->type);
		return -1;
	}
	snprintf(create, sizeof(create), "%s/create", path);
	fd = open(create, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ret = fd < 0 ? -errno : write_all(fd, def->uuid, strlen(def->uuid));
	if (fd >= 0)
		close(fd);
	if (ret < 0) {
		umdev_log(UMDEV_LOG_WARNING,
			  "'%s': cannot create mdev %s of type '%s' on '%s': %s%s", def->path,
			  def->uuid, def->type, def->parent, strerror(-ret),
			  ret == -ENOSPC || ret == -EUSERS ? " (no instances left)" : "");
		return -1;
	}
	if (!def->attrs)
		return 0;
	snprintf(path, sizeof(path), "%s/bus/mdev/devices/%s", sys, def->uuid);
	devfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (devfd < 0) {
		umdev_log(UMDEV_LOG_ERR, "'%s': mdev %s was created but '%s' is missing: %s",
			  def->path, def->uuid, path, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(def->attrs); i++) {
		json_object_object_foreach(json_object_array_get_idx(def->attrs, i), name, value)
		{
			ret = write_attr(devfd, name, json_object_get_string(value),
					 (size_t)json_object_get_string_len(value));
			if (ret == 0)
				continue;
			umdev_log(UMDEV_LOG_WARNING,
				  "'%s': attribute '%s' of mdev %s: %s '%s': %s; removing the mdev",
				  def->path, name, def->uuid,
				  ret == -ENOENT ? "no such attribute for" : "cannot write",
				  json_object_get_string(value), strerror(-ret));
			remove_device(def, devfd);
			close(devfd);
			return -1;
		}
	}
	close(devfd);
	return 0;
}

/* Start the auto-start definitions of one parent directory. */
static void start_parent(const char *config_dir, const char *parent, const char *sys,
			 struct umdevd_autostart_stats *stats)
{
	struct dirent **names;
	char dir[PATH_MAX], parent_dir[PATH_MAX];
	bool ours;
	int n;

	if (snprintf(dir, sizeof(dir), "%s/%s", config_dir, parent) >= (int)sizeof(dir))
		return;
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		if (errno != ENOTDIR)
			umdev_log(UMDEV_LOG_WARNING, "cannot list '%s': %s, ignoring", dir,
				  strerror(errno));
		return;
	}
	ours = snprintf(parent_dir, sizeof(parent_dir), "%s/class/mdev_bus/%s", sys, parent) <
		   (int)sizeof(parent_dir) &&
	       is_dir(parent_dir);
	for (int i = 0; i < n; i++) {
		struct definition def = {.parent = parent};
		struct json_object *root = NULL;
		uuid_t uuid;
		char *text;
		int ret;

		if (uuid_parse(names[i]->d_name, uuid) < 0 ||
		    snprintf(def.path, sizeof(def.path), "%s/%s", dir, names[i]->d_name) >=
			(int)sizeof(def.path))
			continue; /* not a definition (scripts.d/callouts, an editor's backup) */
		uuid_unparse_lower(uuid, def.uuid);
		text = read_file(def.path);
		if (!text) {
			umdev_log(UMDEV_LOG_WARNING, "'%s': cannot read: %s", def.path,
				  strerror(errno));
			stats->failed++;
			continue;
		}
		ret = parse(&def, text, &root);
		if (ret > 0 && !ours) {
			umdev_log(
			    UMDEV_LOG_NOTICE,
			    "'%s': parent '%s' is not registered with umdevd, not starting it",
			    def.path, parent);
			stats->foreign++;
		} else if (ret > 0) {
			ret = start(&def, sys);
			if (ret == 0) {
				umdev_log(UMDEV_LOG_INFO, "'%s': started mdev %s", def.path,
					  def.uuid);
				stats->started++;
			}
		}
		if (ret < 0)
			stats->failed++;
		json_object_put(root);
		free(text);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void umdevd_autostart(const char *config_dir, const char *sys, struct umdevd_autostart_stats *stats)
{
	struct dirent **names;
	int n;

	*stats = (struct umdevd_autostart_stats){0};
	n = scandir(config_dir, &names, NULL, alphasort);
	if (n < 0) {
		if (errno == ENOENT)
			umdev_log(UMDEV_LOG_DEBUG, "no mdevctl definitions: '%s' does not exist",
				  config_dir);
		else
			umdev_log(UMDEV_LOG_WARNING,
				  "cannot list '%s': %s, starting no definitions", config_dir,
				  strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.')
			start_parent(config_dir, names[i]->d_name, sys, stats);
		free(names[i]);
	}
	free(names);
}
