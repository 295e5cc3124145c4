// SPDX-License-Identifier: BSD-2-Clause
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "discover/classify.h"
#include "util/cut.h"

#define MAX_ARGS 256

static const char *const servers[] = { "uvicorn", "gunicorn", "hypercorn", "daphne", "granian" };

/* multiprocessing helpers started by a server: Python, but never serving */
static const char *const helpers[] = {
	"multiprocessing.resource_tracker", "multiprocessing.forkserver",
	"multiprocessing.semaphore_tracker",
};

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* "uvicorn", "uvicorn.__main__", "gunicorn: master [app]", "hypercorn3" */
static bool names_server(const char *name)
{
	size_t i, n;

	for (i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		n = strlen(servers[i]);
		if (!strncmp(name, servers[i], n) &&
		    (name[n] == 0 || name[n] == '.' || name[n] == ':' || name[n] == ' ' ||
		     isdigit((unsigned char)name[n])))
			return true;
	}
	return false;
}

static bool is_ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

/* "module.sub:attr" or "module:factory()": not "host:8000", "unix:/path", "[::1]:80" */
static bool is_app_spec(const char *s)
{
	const char *colon = strchr(s, ':'), *p;

	if (!colon || colon == s || !is_ident_start(s[0]) || !is_ident_start(colon[1]))
		return false;
	for (p = s; p < colon; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.')
			return false;
	for (p = colon + 1; *p && *p != '('; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.')
			return false;
	return *p == 0 || (*p == '(' && p[strlen(p) - 1] == ')');
}

static void find_service(char **argv, int argc, int from, char *service, size_t servicesz)
{
	int i;

	if (servicesz)
		service[0] = 0;
	for (i = from; i < argc; i++) {
		if (argv[i][0] != '-' && is_app_spec(argv[i])) {
			cut__copy(service, servicesz, argv[i]);
			return;
		}
	}
}

/* CPython options that take a value as the next argument when not attached. */
static bool takes_value(char opt)
{
	return opt == 'W' || opt == 'X';
}

/*
 * A python command line's program: the script ('s'), -m's module ('m') or
 * -c's code ('c') in *val, *kind set; its index in argv, or -1 for none.
 */
static int python_program(char **argv, int argc, char *kind, const char **val)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || !a[1]) {
			*kind = 's';
			*val = a;
			return i;
		}
		if (!strcmp(a, "--"))
			continue;
		if (a[1] == '-') {
			/* --check-hash-based-pycs MODE is the only long option with a value */
			if (!strcmp(a, "--check-hash-based-pycs"))
				i++;
			continue;
		}
		/* a cluster of short flags, possibly ending in one with a value */
		for (const char *f = a + 1; *f; f++) {
			if (*f == 'm' || *f == 'c') {
				*kind = *f;
				*val = f[1] ? f + 1 : (i + 1 < argc ? argv[++i] : "");
				return i;
			}
			if (takes_value(*f)) {
				if (!f[1])
					i++;
				break;
			}
		}
	}
	return -1;
}

/* argv of a command line, in buf (NUL-separated, len bytes): argc. */
static int split(const char *args, size_t len, char *buf, size_t bufsz, char **argv)
{
	size_t off = 0;
	int argc = 0;

	if (len >= bufsz)
		len = bufsz - 1;
	memcpy(buf, args, len);
	buf[len] = 0;
	while (off < len && argc < MAX_ARGS) {
		argv[argc++] = buf + off;
		off += strlen(buf + off) + 1;
	}
	return argc;
}

static bool is_helper(const char *val, char kind)
{
	size_t h;

	for (h = 0; h < sizeof(helpers) / sizeof(helpers[0]); h++)
		if (kind == 'c' ? !!strstr(val, helpers[h]) : !strcmp(val, helpers[h]))
			return true;
	return false;
}

enum discover_verdict discover__classify(const char *args, size_t len, char *service,
					 size_t servicesz)
{
	char buf[4096], *argv[MAX_ARGS], kind = 0;
	const char *val = NULL;
	int argc, i;

	if (servicesz)
		service[0] = 0;
	if (!len)
		return DISCOVER_NO;
	argc = split(args, len, buf, sizeof(buf), argv);
	/* gunicorn's setproctitle: "gunicorn: worker [app:app]" in one argument */
	if (names_server(base_name(argv[0]))) {
		const char *lb = strchr(argv[0], '['), *rb = lb ? strchr(lb, ']') : NULL;

		find_service(argv, argc, 1, service, servicesz);
		if (lb && rb && !rb[1] && servicesz && !service[0]) {
			char spec[DISCOVER_SERVICE_MAX];

			cut__copyn(spec, sizeof(spec), lb + 1, rb - lb - 1);
			if (is_app_spec(spec))
				cut__copy(service, servicesz, spec);
		}
		return DISCOVER_SERVER;
	}
	if (strncmp(base_name(argv[0]), "python", 6))
		return DISCOVER_NO;
	i = python_program(argv, argc, &kind, &val);
	if (i < 0)
		return DISCOVER_NO;
	if (kind != 's' && is_helper(val, kind))
		return DISCOVER_NEVER;
	/* the script: /usr/bin/uvicorn, .../bin/gunicorn; or -m uvicorn */
	if (kind == 'c' || !names_server(kind == 's' ? base_name(val) : val))
		return DISCOVER_NO;
	find_service(argv, argc, i + 1, service, servicesz);
	return DISCOVER_SERVER;
}

void discover__program(const char *args, size_t len, char *out, size_t outsz)
{
	char buf[4096], *argv[MAX_ARGS], kind = 0;
	const char *val = NULL;
	int argc;

	if (outsz)
		out[0] = 0;
	if (!len || !outsz)
		return;
	argc = split(args, len, buf, sizeof(buf), argv);
	if (strncmp(base_name(argv[0]), "python", 6) ||
	    python_program(argv, argc, &kind, &val) < 0 || kind == 'c' || !val[0])
		return;
	cut__copy(out, outsz, kind == 's' ? base_name(val) : val);
}
