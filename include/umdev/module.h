/* SPDX-License-Identifier: MIT */
/*
 * umdev/module.h - declaring a vendor driver as a loadable module of umdevd.
 *
 * A module is a shared object (NAME.so) that umdevd loads at start (`umdevd --driver NAME`,
 * `--driver ./path/NAME.so`, with parameters `--driver NAME:key=value,...`) and unloads at
 * shutdown. It declares itself once with UMDEV_MODULE(), the analogue of the kernel's
 * module_init()/module_exit()/MODULE_DESCRIPTION(), and its parameters with an array of
 * UMDEV_PARAM_*() entries, the analogue of module_param()/MODULE_PARM_DESC():
 *
 *	static unsigned int nr_parents = 1;
 *
 *	static const struct umdev_module_param params[] = {
 *		UMDEV_PARAM_UINT(parents, nr_parents, 1, 64, "number of parents to register"),
 *		{0},
 *	};
 *
 *	static int mydrv_init(void) { ... umdev_register_driver(), umdev_register_parent() ... }
 *	static void mydrv_exit(void) { ... umdev_unregister_parent(), umdev_unregister_driver() }
 *
 *	UMDEV_MODULE(mydrv, "My vendor's device", mydrv_init, mydrv_exit, params);
 *
 * Sequence (docs/writing-a-driver.md): umdevd opens the module, checks its ABI version, stores
 * the parameters given on the command line into the variables (the others keep their initial
 * values, which are the defaults), then calls init once, from its main thread, after the tree
 * and the vfio layer exist and before the tree is mounted. At shutdown every mdev that exists
 * is removed first, then exit is called, modules in the reverse order of loading, and only
 * then is the module closed. A create still running when shutdown began may complete before
 * exit: exit's umdev_unregister_parent() waits for it and removes what it made. Build a module with
 *`pkg-config --cflags --libs umdev` and -shared -fPIC.
 */
#ifndef UMDEV_MODULE_H
#define UMDEV_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * UMDEV_ABI_VERSION - the ABI this header describes: the major number of libumdev's SONAME
 * (libumdev.so.0). umdevd refuses a module whose umdev_module.abi_version differs from its own.
 */
#define UMDEV_ABI_VERSION 0u

/** UMDEV_MODULE_MAGIC - first word of every struct umdev_module ("umdM"). */
#define UMDEV_MODULE_MAGIC 0x756d644du

/** UMDEV_MODULE_SYMBOL - the name of the symbol umdevd looks up in a module, as a string. */
#define UMDEV_MODULE_SYMBOL "umdev_module_info"

/** Largest module name, in bytes without the NUL ([A-Za-z0-9_-]). */
#define UMDEV_MODULE_NAME_MAX 64

/**
 * enum umdev_param_type - how a parameter's value is parsed and where it is stored.
 * @UMDEV_PARAM_BOOL: bool; "1", "y", "yes", "true", "on" or "0", "n", "no", "false", "off"
 *	(any case), and a bare `key` with no `=value` means true (kernel: bool parameters).
 * @UMDEV_PARAM_UINT: unsigned int; decimal or 0x hex, within [min, max].
 * @UMDEV_PARAM_INT: int; decimal or 0x hex, optionally negative, within [min, max].
 * @UMDEV_PARAM_STRING: const char *; points into umdevd's command line, valid until exit
 *	returns. Cannot contain ','.
 */
enum umdev_param_type {
	UMDEV_PARAM_BOOL = 1,
	UMDEV_PARAM_UINT,
	UMDEV_PARAM_INT,
	UMDEV_PARAM_STRING,
};

/**
 * struct umdev_module_param - one module parameter (kernel: module_param() and
 * MODULE_PARM_DESC()). Fill it with the UMDEV_PARAM_*() macros.
 * @name: the key on the command line; [a-z0-9_], unique in the module.
 * @type: the value's type.
 * @value: the module's variable (bool *, unsigned int *, int * or const char **); its value
 *	before loading is the default `umdevd --driver NAME --help` shows.
 * @min: smallest value accepted (UINT, INT); ignored for the others.
 * @max: largest value accepted (UINT, INT); ignored for the others.
 * @description: one line for --help.
 */
struct umdev_module_param {
	const char *name;
	enum umdev_param_type type;
	void *value;
	int64_t min;
	int64_t max;
	const char *description;
};

/**
 * struct umdev_module - what a module declares (filled by UMDEV_MODULE()).
 * @magic: UMDEV_MODULE_MAGIC.
 * @abi_version: UMDEV_ABI_VERSION of the headers the module was built with. @magic and
 *	@abi_version stay the first two fields in every ABI version, so any umdevd can read them.
 * @name: the module's name; also its file name without ".so".
 * @description: one line for --help.
 * @init: called once after the parameters are set; registers the module's drivers and parents.
 *	Returns 0, or a negative errno after undoing everything it did (the kernel's rule for
 *	module_init): umdevd then refuses to start and names the module and the errno.
 * @exit: called once at shutdown, after every existing mdev was removed (creates still in
 *	flight are waited for and removed by its umdev_unregister_parent()); unregisters what @init
 *	registered. May be NULL for a module with nothing to undo.
 * @params: array ended by an entry with a NULL name; NULL for no parameters.
 */
struct umdev_module {
	uint32_t magic;
	uint32_t abi_version;
	const char *name;
	const char *description;
	int (*init)(void);
	void (*exit)(void);
	const struct umdev_module_param *params;
};

/*
 * UMDEV_MODULE(name, description, init, exit, params) - declare the module. @name is a bare
 * identifier (mtty, not "mtty"); once per module. A module compiled into umdevd itself
 * (UMDEV_BUILTIN_MODULE defined while compiling) gets a symbol of its own per name instead.
 */
#ifdef UMDEV_BUILTIN_MODULE
#define UMDEV__MODULE_SYM(name) umdev_builtin_module_##name
#define UMDEV__MODULE_VISIBLE
#else
#define UMDEV__MODULE_SYM(name) umdev_module_info
#define UMDEV__MODULE_VISIBLE __attribute__((visibility("default")))
#endif
#define UMDEV__STRINGIFY(x) #x
#define UMDEV__MODULE_NAME(x) UMDEV__STRINGIFY(x) /* @x macro-expanded first */
#define UMDEV_MODULE(name_, description_, init_, exit_, params_)                                   \
	extern UMDEV__MODULE_VISIBLE const struct umdev_module UMDEV__MODULE_SYM(name_);           \
	UMDEV__MODULE_VISIBLE const struct umdev_module UMDEV__MODULE_SYM(name_) = {               \
	    UMDEV_MODULE_MAGIC, UMDEV_ABI_VERSION, UMDEV__MODULE_NAME(name_),                      \
	    (description_),	(init_),	   (exit_),                                        \
	    (params_)}

/* UMDEV_PARAM_*(key, variable, ...) - one entry of a module's parameter array. */
#define UMDEV_PARAM_BOOL(key_, var_, description_)                                                 \
	{                                                                                          \
#key_, UMDEV_PARAM_BOOL, (bool *)&(var_), 0, 1, (description_)                     \
	}
#define UMDEV_PARAM_UINT(key_, var_, min_, max_, description_)                                     \
	{                                                                                          \
#key_, UMDEV_PARAM_UINT, (unsigned int *)&(var_), (min_), (max_), (description_)   \
	}
#define UMDEV_PARAM_INT(key_, var_, min_, max_, description_)                                      \
	{                                                                                          \
#key_, UMDEV_PARAM_INT, (int *)&(var_), (min_), (max_), (description_)             \
	}
#define UMDEV_PARAM_STRING(key_, var_, description_)                                               \
	{                                                                                          \
#key_, UMDEV_PARAM_STRING, (const char **)&(var_), 0, 0, (description_)            \
	}

/**
 * umdev_rundir() - umdevd's run directory (e.g. /run/umdev), for files a driver makes for
 * users (mtty's pty links, mtty.md §4.3).
 *
 * Return: the absolute path, owned by libumdev and valid until the module's exit returns; NULL
 * when no daemon set one (e.g. in a unit test).
 */
const char *umdev_rundir(void);

#ifdef __cplusplus
}
#endif

#endif /* UMDEV_MODULE_H */
