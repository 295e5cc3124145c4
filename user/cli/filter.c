// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include "cli/filter.h"

void filter__init(struct report_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->since = f->until = NAN;
	f->pid = -1;
}

bool filter__active(const struct report_filter *f)
{
	return !isnan(f->since) || !isnan(f->until) || f->service || f->route || f->cause ||
	       f->container || f->pod_uid || f->hostname || f->pid >= 0;
}

int filter__parse_duration(const char *s, double *out)
{
	static const struct { char unit; double secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char *end;
	double v;
	size_t i;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v <= 0 || !end[0] || end[1])
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (*end == units[i].unit) {
			*out = v * units[i].secs;
			return *out < 1e12 ? 0 : -EINVAL;
		}
	return -EINVAL;
}

/* n decimal digits at s into *v; false if not digits. */
static bool digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

int filter__parse_rfc3339(const char *s, double *out)
{
	int y, mo, d, h, mi, sec, oh, om;
	struct tm tm = { 0 };
	double frac = 0, scale = 0.1;
	const char *p = s + 19;
	time_t t;

	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -EINVAL;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
		if (p == s + 20)
			return -EINVAL;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		*out = (double)t + frac;
		return 0;
	}
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2, &oh) && p[3] == ':' &&
	    digits(p + 4, 2, &om) && oh < 24 && om < 60) {
		*out = (double)t + frac - (*p == '+' ? 1 : -1) * (oh * 3600.0 + om * 60.0);
		return 0;
	}
	return -EINVAL;
}

int filter__parse_time(const char *s, double now, double *out)
{
	double ago;

	if (!s)
		return -EINVAL;
	if (!filter__parse_duration(s, &ago)) {
		*out = now - ago;
		return 0;
	}
	return filter__parse_rfc3339(s, out);
}

static const char *str_at(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k1, &v))
		return NULL;
	if (k2 && !json_object_object_get_ex(v, k2, &v))
		return NULL;
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool same(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

bool filter__match(const struct report_filter *f, struct json_object *rec, double ts)
{
	struct json_object *pid;

	if (!isnan(f->since) && !(ts >= f->since))
		return false;
	if (!isnan(f->until) && !(ts <= f->until))
		return false;
	if (f->pid >= 0 && (!json_object_object_get_ex(rec, "pid", &pid) ||
			    !json_object_is_type(pid, json_type_int) ||
			    json_object_get_int64(pid) != f->pid))
		return false;
	return same(f->service, str_at(rec, "service", NULL)) &&
	       same(f->route, str_at(rec, "route", NULL)) &&
	       same(f->cause, str_at(rec, "cause", NULL)) &&
	       same(f->container, str_at(rec, "container", "id")) &&
	       same(f->pod_uid, str_at(rec, "k8s", "pod_uid")) &&
	       same(f->hostname, str_at(rec, "hostname", NULL));
}
