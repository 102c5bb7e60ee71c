// SPDX-License-Identifier: MIT
/* Fault injection for test binaries: see fault.h. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
int __real_vasprintf(char **ret, const char *fmt, va_list ap);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
int __wrap_asprintf(char **ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int __wrap_vasprintf(char **ret, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static atomic_bool armed;
static atomic_uint counted; /* points passed since fault_arm() */
static atomic_uint target; /* the point that fails; 0: none */
static atomic_bool fired;
static _Atomic(const char *) last = "";

void fault_arm(unsigned int nth)
{
	atomic_store(&counted, 0);
	atomic_store(&target, nth);
	atomic_store(&fired, false);
	atomic_store(&armed, true);
}

unsigned int fault_disarm(void)
{
	atomic_store(&armed, false);
	return atomic_load(&counted);
}

bool fault_fired(void)
{
	return atomic_load(&fired);
}

const char *fault_last(void)
{
	return atomic_load(&last);
}

bool fault_hit(const char *what)
{
	unsigned int n;

	if (!atomic_load(&armed))
		return false;
	n = atomic_fetch_add(&counted, 1) + 1;
	if (n != atomic_load(&target))
		return false;
	atomic_store(&last, what);
	atomic_store(&fired, true);
	return true;
}

void *__wrap_malloc(size_t size)
{
	return fault_hit("malloc") ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fault_hit("calloc") ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	return fault_hit("realloc") ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
	return fault_hit("strdup") ? NULL : __real_strdup(s);
}

int __wrap_vasprintf(char **ret, const char *fmt, va_list ap)
{
	if (fault_hit("vasprintf"))
		return -1;
	return __real_vasprintf(ret, fmt, ap);
}

int __wrap_asprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (fault_hit("asprintf"))
		return -1;
	va_start(ap, fmt);
	n = __real_vasprintf(ret, fmt, ap);
	va_end(ap);
	return n;
}
