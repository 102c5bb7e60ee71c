// SPDX-License-Identifier: MIT
/*
 * umdevd's module loader (modules.h). A module is found, opened with dlopen(RTLD_NOW |
 * RTLD_LOCAL) so that a missing symbol refuses it at once, and recognised by its
 * umdev_module_info symbol (umdev/module.h), whose first two words (magic, ABI version) are
 * read before anything else of it. The parameters are parsed from a private copy of the SPEC,
 * which also holds the string parameters' values until the module is unloaded.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "umdev/log.h"
#include "modules.h"

struct umdevd_module {
	const struct umdev_module *m;
	void *handle; /* dlopen(3) handle; NULL for a built-in module */
	char *spec; /* owned copy of the SPEC, cut into the path and the key=value pieces */
	char where[PATH_MAX]; /* the file, or "built in" */
};

static bool name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > UMDEV_MODULE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

static const struct umdev_module *builtin_find(const char *name)
{
	for (unsigned int i = 0; umdevd_builtin_modules[i]; i++)
		if (!strcmp(umdevd_builtin_modules[i]->name, name))
			return umdevd_builtin_modules[i];
	return NULL;
}

static bool parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"1", "y", "yes", "true", "on"};
	static const char *const no[] = {"0", "n", "no", "false", "off"};

	for (unsigned int i = 0; i < 5; i++) {
		if (!strcasecmp(s, yes[i])) {
			*ret = true;
			return true;
		}
		if (!strcasecmp(s, no[i])) {
			*ret = false;
			return true;
		}
	}
	return false;
}

static bool parse_int(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (!*s || isspace((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

/* Store "@key=@value" (@value NULL: a bare key) into @m's variables. Return: 0 or -EINVAL. */
static int param_set(const struct umdev_module *m, const char *key, const char *value, FILE *err)
{
	const struct umdev_module_param *p = m->params;
	int64_t v;
	bool b;

	for (; p && p->name; p++)
		if (!strcmp(p->name, key))
			break;
	if (!p || !p->name) {
		fprintf(err,
			"umdevd: module '%s': unknown parameter '%s' (umdevd --driver %s --help)\n",
			m->name, key, m->name);
		return -EINVAL;
	}
	if (!value && p->type != UMDEV_PARAM_BOOL) {
		fprintf(err, "umdevd: module '%s': parameter '%s' needs a value (%s=...)\n",
			m->name, key, key);
		return -EINVAL;
	}
	switch (p->type) {
	case UMDEV_PARAM_BOOL:
		if (!value) {
			b = true;
		} else if (!parse_bool(value, &b)) {
			fprintf(err, "umdevd: module '%s': parameter '%s': '%s' is not a boolean\n",
				m->name, key, value);
			return -EINVAL;
		}
		*(bool *)p->value = b;
		return 0;
	case UMDEV_PARAM_UINT:
	case UMDEV_PARAM_INT:
		if (!parse_int(value, &v) || v < p->min || v > p->max) {
			fprintf(err,
				"umdevd: module '%s': parameter '%s': '%s' is not a number in "
				"%" PRId64 "..%" PRId64 "\n",
				m->name, key, value, p->min, p->max);
			return -EINVAL;
		}
		if (p->type == UMDEV_PARAM_UINT)
			*(unsigned int *)p->value = (unsigned int)v;
		else
			*(int *)p->value = (int)v;
		return 0;
	case UMDEV_PARAM_STRING:
		*(const char **)p->value = value;
		return 0;
	}
	fprintf(err, "umdevd: module '%s': parameter '%s' has an unknown type %d\n", m->name, key,
		(int)p->type);
	return -EINVAL;
}

/* Parse "k=v,k=v,..." (cut in place; values stay in @list) into @m. Return: 0 or -EINVAL. */
static int params_set(const struct umdev_module *m, char *list, FILE *err)
{
	char *save = NULL;

	if (!list)
		return 0;
	if (!*list || list[strlen(list) - 1] == ',' || strstr(list, ",,")) {
		fprintf(err, "umdevd: module '%s': empty parameter in '%s'\n", m->name, list);
		return -EINVAL;
	}
	for (char *kv = strtok_r(list, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		int ret;

		if (eq)
			*eq = '\0';
		ret = param_set(m, kv, eq ? eq + 1 : NULL, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Check what @sym points at, reading the magic and the ABI version first. */
static int module_check(const struct umdev_module *m, const char *what, FILE *err)
{
	if (m->magic != UMDEV_MODULE_MAGIC) {
		fprintf(err, "umdevd: module %s: not a umdev module (bad magic 0x%08x)\n", what,
			m->magic);
		return -ENOEXEC;
	}
	if (m->abi_version != UMDEV_ABI_VERSION) {
		fprintf(err,
			"umdevd: module %s was built for umdev ABI %u, but this umdevd has ABI %u "
			"(libumdev.so.%u): rebuild it against this umdev\n",
			what, m->abi_version, UMDEV_ABI_VERSION, UMDEV_ABI_VERSION);
		return -ENOEXEC;
	}
	if (!m->name || !name_valid(m->name) || !m->init) {
		fprintf(err, "umdevd: module %s: its umdev_module has %s\n", what,
			!m->init ? "no init function" : "a bad name");
		return -ENOEXEC;
	}
	for (const struct umdev_module_param *p = m->params; p && p->name; p++) {
		if (p->type < UMDEV_PARAM_BOOL || p->type > UMDEV_PARAM_STRING || !p->value) {
			fprintf(err, "umdevd: module '%s': parameter '%s' is malformed\n", m->name,
				p->name);
			return -ENOEXEC;
		}
	}
	return 0;
}

/* dlopen @path and find its module. Return: 0 with mod->handle and mod->m set, or -errno. */
static int module_open(struct umdevd_module *mod, const char *path, FILE *err)
{
	const struct umdev_module *m;

	if (access(path, F_OK) < 0) {
		int ret = -errno;

		fprintf(err, "umdevd: module '%s': %s\n", path, strerror(-ret));
		return ret;
	}
	(void)dlerror();
	mod->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!mod->handle) {
		fprintf(err, "umdevd: module '%s': cannot load: %s\n", path, dlerror());
		return -ELIBBAD;
	}
	m = dlsym(mod->handle, UMDEV_MODULE_SYMBOL);
	if (!m) {
		fprintf(err,
			"umdevd: module '%s': no symbol " UMDEV_MODULE_SYMBOL
			": not a umdev module (declare it with UMDEV_MODULE())\n",
			path);
		return -ENOEXEC;
	}
	mod->m = m;
	return 0;
}

static void module_free(struct umdevd_module *mod)
{
	if (!mod)
		return;
	if (mod->handle)
		dlclose(mod->handle);
	free(mod->spec);
	free(mod);
}

int umdevd_modules_load(struct umdevd_modules *ms, const char *spec, FILE *err)
{
	struct umdevd_module *mod, **mods;
	char *colon, *slash, *params = NULL;
	char label[PATH_MAX + 8];
	int ret;

	mod = calloc(1, sizeof(*mod));
	if (!mod || !(mod->spec = strdup(spec))) {
		free(mod);
		fprintf(err, "umdevd: module '%s': out of memory\n", spec);
		return -ENOMEM;
	}
	slash = strrchr(mod->spec, '/');
	colon = strchr(slash ? slash : mod->spec, ':');
	if (colon) {
		*colon = '\0';
		params = colon + 1;
	}
	if (slash) {
		ret = module_open(mod, mod->spec, err);
		if (ret < 0)
			goto err;
		if (!realpath(mod->spec, mod->where))
			snprintf(mod->where, sizeof(mod->where), "%s", mod->spec);
	} else {
		if (!name_valid(mod->spec)) {
			fprintf(err,
				"umdevd: '%s' is not a module name ([A-Za-z0-9_-], 1..%d bytes)\n",
				mod->spec, UMDEV_MODULE_NAME_MAX);
			ret = -EINVAL;
			goto err;
		}
		ret = snprintf(mod->where, sizeof(mod->where), "%s/%s.so", ms->dir, mod->spec);
		if (ret > 0 && (size_t)ret < sizeof(mod->where) && access(mod->where, F_OK) == 0) {
			ret = module_open(mod, mod->where, err);
			if (ret < 0)
				goto err;
		} else if ((mod->m = builtin_find(mod->spec))) {
			snprintf(mod->where, sizeof(mod->where), "built in");
		} else {
			fprintf(err, "umdevd: module '%s' not found in %s, nor built in\n",
				mod->spec, ms->dir);
			ret = -ENOENT;
			goto err;
		}
	}
	snprintf(label, sizeof(label), "'%s'", slash ? mod->where : mod->spec);
	ret = module_check(mod->m, label, err);
	if (ret < 0)
		goto err;
	if (!slash && strcmp(mod->m->name, mod->spec)) {
		fprintf(err, "umdevd: module %s calls itself '%s'\n", mod->where, mod->m->name);
		ret = -ENOEXEC;
		goto err;
	}
	for (unsigned int i = 0; i < ms->nr; i++) {
		if (!strcmp(ms->mods[i]->m->name, mod->m->name)) {
			fprintf(err, "umdevd: module '%s' (%s) is already loaded from %s\n",
				mod->m->name, mod->where, ms->mods[i]->where);
			ret = -EEXIST;
			goto err;
		}
	}
	ret = params_set(mod->m, params, err);
	if (ret < 0)
		goto err;
	mods = realloc(ms->mods, (ms->nr + 1) * sizeof(*mods));
	if (!mods) {
		fprintf(err, "umdevd: module '%s': out of memory\n", mod->m->name);
		ret = -ENOMEM;
		goto err;
	}
	ms->mods = mods;
	ms->mods[ms->nr++] = mod;
	return 0;

err:
	module_free(mod);
	return ret;
}

void umdevd_modules_help(const struct umdevd_modules *ms, FILE *out)
{
	for (unsigned int i = 0; i < ms->nr; i++) {
		const struct umdev_module *m = ms->mods[i]->m;

		fprintf(out, "Module %s (%s): %s\n", m->name, ms->mods[i]->where,
			m->description ? m->description : "");
		if (!m->params || !m->params->name) {
			fprintf(out, "  no parameters\n");
			continue;
		}
		fprintf(out, "Parameters (--driver %s:KEY=VALUE,...):\n", m->name);
		for (const struct umdev_module_param *p = m->params; p->name; p++) {
			char type[64];

			switch (p->type) {
			case UMDEV_PARAM_BOOL:
				snprintf(type, sizeof(type), "bool, default %s",
					 *(bool *)p->value ? "y" : "n");
				break;
			case UMDEV_PARAM_UINT:
				snprintf(type, sizeof(type), "%" PRId64 "..%" PRId64 ", default %u",
					 p->min, p->max, *(unsigned int *)p->value);
				break;
			case UMDEV_PARAM_INT:
				snprintf(type, sizeof(type), "%" PRId64 "..%" PRId64 ", default %d",
					 p->min, p->max, *(int *)p->value);
				break;
			case UMDEV_PARAM_STRING:
			default:
				snprintf(type, sizeof(type), "string, default '%s'",
					 *(const char **)p->value ? *(const char **)p->value : "");
				break;
			}
			fprintf(out, "  %-12s %s (%s)\n", p->name,
				p->description ? p->description : "", type);
		}
	}
}

int umdevd_modules_init(struct umdevd_modules *ms)
{
	for (unsigned int i = ms->nr_inited; i < ms->nr; i++) {
		const struct umdev_module *m = ms->mods[i]->m;
		int ret = m->init();

		if (ret != 0) {
			if (ret > 0 || ret < -4095)
				ret = -EIO;
			umdev_log(UMDEV_LOG_ERR, "module '%s' (%s): init failed: %s", m->name,
				  ms->mods[i]->where, strerror(-ret));
			umdevd_modules_exit(ms);
			return ret;
		}
		ms->nr_inited = i + 1;
		umdev_log(UMDEV_LOG_INFO, "module '%s' (%s) loaded", m->name, ms->mods[i]->where);
	}
	return 0;
}

void umdevd_modules_exit(struct umdevd_modules *ms)
{
	while (ms->nr_inited) {
		const struct umdev_module *m = ms->mods[--ms->nr_inited]->m;

		if (m->exit)
			m->exit();
		umdev_log(UMDEV_LOG_INFO, "module '%s' unloaded", m->name);
	}
}

void umdevd_modules_unload(struct umdevd_modules *ms)
{
	while (ms->nr)
		module_free(ms->mods[--ms->nr]);
	free(ms->mods);
	ms->mods = NULL;
}
