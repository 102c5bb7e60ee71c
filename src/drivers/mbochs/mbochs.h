/* SPDX-License-Identifier: MIT */
/*
 * The mbochs driver (mbochs.c) as module.c sees it: register the driver and its one parent
 * "mbochs" with a video memory budget, and undo that. Private to src/drivers/mbochs/.
 */
#ifndef UMDEV_MBOCHS_H
#define UMDEV_MBOCHS_H

#include <stdint.h>

/** Parent name, and the driver's. */
#define MBOCHS_NAME "mbochs"

/**
 * mbochs_add() - register the driver "mbochs" and the parent "mbochs" with types
 * mbochs-small (4 MB), mbochs-medium (16 MB) and mbochs-large (64 MB) sharing @budget_mb MB
 * of video memory. Return: 0, or the errno of the registration (nothing left behind).
 */
int mbochs_add(unsigned int budget_mb);

/** Undo mbochs_add(), after every mdev is gone (module exit). */
void mbochs_del(void);

#endif
