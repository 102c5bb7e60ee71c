/* SPDX-License-Identifier: MIT */
/*
 * umdevd's module loader: driver modules (umdev/module.h) named on the command line
 * (`--driver SPEC`, repeatable) or built in, their parameters, their init at start-up and their
 * exit and unloading at shutdown. Main thread only; not thread-safe.
 *
 * SPEC is NAME or PATH, optionally followed by ":key=value,key=value...". A SPEC with a '/' is
 * a path (its parameters start at the first ':' after the last '/'); a NAME is looked up as
 * <module dir>/NAME.so, then among the modules built into umdevd.
 */
#ifndef UMDEVD_MODULES_H
#define UMDEVD_MODULES_H

#include <stdbool.h>
#include <stdio.h>

#include "umdev/module.h"

struct umdevd_module;

/**
 * struct umdevd_modules - the modules of one umdevd, in loading order.
 * @dir: the module directory; borrowed.
 * @mods: @nr loaded modules; owned.
 * @nr: how many are loaded.
 * @nr_inited: how many of @mods, from the first, ran init successfully.
 */
struct umdevd_modules {
	const char *dir;
	struct umdevd_module **mods;
	unsigned int nr;
	unsigned int nr_inited;
};

/** The modules built into umdevd (mtty), NULL-terminated. */
extern const struct umdev_module *const umdevd_builtin_modules[];

/**
 * umdevd_modules_load() - open the module SPEC names, check it and store its parameters.
 * @ms: the loader; the module is appended.
 * @spec: the --driver argument; borrowed, must outlive @ms (string parameters point into it).
 * @err: where to print why it was refused, one line naming the module and the reason.
 *
 * Nothing of the module runs: its init is called by umdevd_modules_init().
 *
 * Return: 0; -ENOENT no such module; -ENOEXEC not a umdev module, or built for another ABI
 * (UMDEV_ABI_VERSION); -ELIBBAD it cannot be loaded (dlopen(3): e.g. a missing symbol);
 * -EINVAL a bad SPEC, unknown parameter or bad value; -EEXIST a module of that name is loaded;
 * -ENOMEM.
 */
int umdevd_modules_load(struct umdevd_modules *ms, const char *spec, FILE *err);

/**
 * umdevd_modules_help() - print the description and parameters of every loaded module.
 * @ms: the loader.
 * @out: where.
 */
void umdevd_modules_help(const struct umdevd_modules *ms, FILE *out);

/**
 * umdevd_modules_init() - call each loaded module's init, in loading order.
 * @ms: the loader.
 *
 * On a failure, logs it (naming the module and the errno) and calls the exit of the modules
 * that were initialised, newest first, so that none of them stays registered.
 *
 * Return: 0, or the failing init's negative errno (-EIO if it returned no errno).
 */
int umdevd_modules_init(struct umdevd_modules *ms);

/**
 * umdevd_modules_exit() - call the exit of every initialised module, newest first. Call after
 * every mdev is removed.
 */
void umdevd_modules_exit(struct umdevd_modules *ms);

/**
 * umdevd_modules_unload() - close every module, newest first, and free the loader's memory.
 * Call after umdevd_modules_exit() and once nothing can call into a module any more.
 */
void umdevd_modules_unload(struct umdevd_modules *ms);

#endif /* UMDEVD_MODULES_H */
