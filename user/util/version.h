/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ST_VERSION_H
#define ST_VERSION_H
#define ST_VERSION "0.3.0"
#endif
