// SPDX-License-Identifier: MIT
/*
 * A module that needs a function libumdev does not have (as one built against a newer umdev
 * that added it would): dlopen(RTLD_NOW) fails, and umdevd must say which symbol is missing.
 */
#include "umdev/module.h"

int umdev_no_such_function(void);

static int bad_init(void)
{
	return umdev_no_such_function();
}

UMDEV_MODULE(bad_symbol, "needs a missing symbol", bad_init, NULL, NULL);
