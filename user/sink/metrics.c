// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include "decode/hit.h"
#include "diagnose/diagnose.h"
#include "diagnose/inspect.h"
#include "resolve/target.h"
#include "sink/metrics.h"
#include "sink/sink.h"
#include "sink/promfmt.h"
#include "util/cut.h"
#include "util/hashmap.h"
#include "util/version.h"

#define SERVICE_MAX 128
#define ROUTE_MAX   256
#define METHOD_MAX  8
#define CAUSE_MAX   32
#define CONN_LIMIT  16
#define CONN_PER_IP 4      /* a few idle clients of one address cannot hold every slot */
#define CONN_TIMEOUT_S 5   /* a scrape takes milliseconds */

struct series {
	char service[SERVICE_MAX], route[ROUTE_MAX], method[METHOD_MAX], cause[CAUSE_MAX];
	char uid[IDENTITY_UID_LEN + 1]; /* the pod's, or "": no label */
	unsigned long long count;
	char trace_id[33];   /* the latest hit's with a valid traceparent: the exemplar */
	double trace_ts;
};

/* What inspect predicts for one process: a reader and a cause, and how many findings. */
struct prediction {
	pid_t pid;
	char service[SERVICE_MAX], cause[CAUSE_MAX], reader[ROUTE_MAX];
	unsigned n;
};

/* A traced process, for sessiontrace_target_info. */
struct target_info {
	pid_t pid;
	char service[SERVICE_MAX];
	char container_id[IDENTITY_ID_LEN + 1], pod_uid[IDENTITY_UID_LEN + 1];
	char hostname[IDENTITY_HOST_MAX + 1];
};

/* A service's series: at most per_service, then its own overflow series. */
struct service_count {
	char name[SERVICE_MAX];
	size_t n;
	unsigned long long overflow;
};

struct metrics {
	struct sink sink;
	pthread_mutex_t lock;
	struct series *series;
	size_t n, max, per_service;
	struct hashmap index;      /* "service US route US method US cause" -> series index + 1 */
	struct hashmap services;   /* name -> struct service_count * */
	struct service_count **svc; /* the same, in order of their first hit */
	size_t nsvc;
	uint64_t seed;             /* routes are the clients', services the targets' */
	struct target_info *targets; /* METRICS_TARGETS */
	size_t ntargets;
	struct prediction *predictions; /* METRICS_PREDICTIONS */
	size_t npredictions;
	unsigned long long overflow;
	struct MHD_Daemon *httpd;
	int listen_fd;
	metrics_health_fn health;
	void *health_ctx;
};

static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

struct metrics *metrics__new(size_t max_series, size_t per_service)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->max = max_series;
	m->per_service = per_service < max_series ? per_service : max_series;
	m->series = calloc(max_series ? max_series : 1, sizeof(*m->series));
	m->svc = calloc(METRICS_SERVICES, sizeof(*m->svc));
	m->targets = calloc(METRICS_TARGETS, sizeof(*m->targets));
	m->predictions = calloc(METRICS_PREDICTIONS, sizeof(*m->predictions));
	if (!m->series || !m->svc || !m->targets || !m->predictions) {
		free(m->series);
		free(m->svc);
		free(m->targets);
		free(m->predictions);
		free(m);
		return NULL;
	}
	m->seed = hashmap__seed();
	hashmap__init(&m->index, hashmap__hash_str, hashmap__equal_str, &m->seed);
	hashmap__init(&m->services, hashmap__hash_str, hashmap__equal_str, &m->seed);
	pthread_mutex_init(&m->lock, NULL);
	m->listen_fd = -1;
	return m;
}

void metrics__free(struct metrics *m)
{
	struct hashmap_entry *e;
	size_t b;

	if (!m)
		return;
	if (m->httpd)
		MHD_stop_daemon(m->httpd);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	pthread_mutex_destroy(&m->lock);
	hashmap__for_each_entry(&m->index, e, b)
		free((void *)e->key);
	hashmap__clear(&m->index);
	hashmap__clear(&m->services);
	for (b = 0; b < m->nsvc; b++)
		free(m->svc[b]);
	free(m->svc);
	free(m->series);
	free(m->targets);
	free(m->predictions);
	free(m);
}

/* A label value, marked when cut (util/cut.h). */
static void copy(char *dst, size_t sz, const char *src)
{
	cut__copy(dst, sz, src ? src : "");
}

/* Forget pid's predictions (the lock held). */
static void forget_predictions(struct metrics *m, pid_t pid)
{
	size_t i = 0;

	while (i < m->npredictions)
		if (m->predictions[i].pid == pid)
			m->predictions[i] = m->predictions[--m->npredictions];
		else
			i++;
}

/* What inspect found in pid, in place of what it found before. */
static void predictions(struct metrics *m, pid_t pid, const char *service,
			const struct inspection *in)
{
	unsigned f;
	size_t i;

	pthread_mutex_lock(&m->lock);
	forget_predictions(m, pid);
	for (f = 0; f < in->nfindings; f++) {
		const struct inspect_finding *fi = &in->findings[f];
		const char *cause = diagnose__cause_name(fi->cause);

		for (i = 0; i < m->npredictions; i++) {
			struct prediction *p = &m->predictions[i];

			if (p->pid == pid && !strcmp(p->cause, cause) &&
			    !strncmp(p->reader, fi->reader.function, sizeof(p->reader) - 1))
				break;
		}
		if (i == m->npredictions) {
			if (m->npredictions == METRICS_PREDICTIONS)
				break; /* bounded: the rest of this process's are not shown */
			m->npredictions++;
			m->predictions[i] = (struct prediction){ .pid = pid };
			copy(m->predictions[i].service, sizeof(m->predictions[i].service), service);
			copy(m->predictions[i].cause, sizeof(m->predictions[i].cause), cause);
			copy(m->predictions[i].reader, sizeof(m->predictions[i].reader),
			     fi->reader.function);
		}
		m->predictions[i].n++;
	}
	pthread_mutex_unlock(&m->lock);
}

/*
 * sessiontrace_predicted_failures{service,cause,reader}: findings of that
 * reader and cause, the most any one process of the service has (its
 * workers predict the same).
 */
static void render_predictions(struct metrics *m, struct strbuf *sb, bool om)
{
	static const char *const keys[] = { "service", "cause", "reader" };
	size_t i, k;

	promfmt__header(sb, om, "sessiontrace_predicted_failures", "gauge",
			"Reads of request.session, .auth or .user that inspect finds will fail "
			"(no middleware, or in the wrong order, on their path), before any request "
			"has; by service, cause and the function that reads.");
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->npredictions; i++) {
		const struct prediction *p = &m->predictions[i];
		const char *vals[] = { p->service, p->cause, p->reader };
		unsigned most = p->n;

		for (k = 0; k < m->npredictions; k++) {
			const struct prediction *q = &m->predictions[k];

			if (strcmp(q->service, p->service) || strcmp(q->cause, p->cause) ||
			    strcmp(q->reader, p->reader))
				continue;
			if (k < i)
				break; /* shown with the first of them */
			if (q->n > most)
				most = q->n;
		}
		if (k == m->npredictions)
			promfmt__sample(sb, "sessiontrace_predicted_failures", keys, vals, 3, most);
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics__target(struct metrics *m, pid_t pid, const char *service,
		     const struct metrics_place *place)
{
	size_t i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->ntargets && m->targets[i].pid != pid; i++)
		;
	if (!service) { /* gone */
		if (i < m->ntargets)
			m->targets[i] = m->targets[--m->ntargets];
		forget_predictions(m, pid);
	} else if (i < m->ntargets || m->ntargets < METRICS_TARGETS) {
		if (i == m->ntargets)
			m->ntargets++;
		m->targets[i].pid = pid;
		copy(m->targets[i].service, sizeof(m->targets[i].service), service);
		copy(m->targets[i].container_id, sizeof(m->targets[i].container_id),
		     place->container_id);
		copy(m->targets[i].pod_uid, sizeof(m->targets[i].pod_uid), place->pod_uid);
		copy(m->targets[i].hostname, sizeof(m->targets[i].hostname), place->hostname);
	}
	pthread_mutex_unlock(&m->lock);
}

/* Clients choose the method: only the standard ones become label values. */
static const char *bounded_method(const char *method)
{
	size_t i;

	if (!method || !method[0])
		return "";
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(method, methods[i]))
			return methods[i];
	return "OTHER";
}

/* The count of a service's series, made on its first; NULL past METRICS_SERVICES. */
static struct service_count *service_count(struct metrics *m, const char *name)
{
	struct service_count *c;
	uintptr_t v;

	if (hashmap__find(&m->services, (uintptr_t)name, &v))
		return (struct service_count *)v;
	if (m->nsvc >= METRICS_SERVICES || !(c = calloc(1, sizeof(*c))))
		return NULL;
	copy(c->name, sizeof(c->name), name);
	if (hashmap__set(&m->services, (uintptr_t)c->name, (uintptr_t)c)) {
		free(c);
		return NULL;
	}
	m->svc[m->nsvc++] = c;
	return c;
}

/*
 * Label sets are the clients' and the targets' choice: at most max in all,
 * at most per_service of one service (then that service's overflow series),
 * so one service failing on every path it can make up leaves the others
 * theirs. Out of memory: the overflow series.
 */
void metrics__hit(struct metrics *m, const struct metrics_hit *h)
{
	struct service_count *c;
	struct series key = { 0 };
	const char *f[] = { key.service, key.route, key.method, key.cause, key.uid };
	char *id;
	uintptr_t v;

	copy(key.service, sizeof(key.service), h->service);
	copy(key.route, sizeof(key.route), h->route);
	copy(key.method, sizeof(key.method), bounded_method(h->method));
	copy(key.cause, sizeof(key.cause), h->cause);
	copy(key.uid, sizeof(key.uid), h->uid);
	if (h->trace_id && h->trace_id[0]) {
		copy(key.trace_id, sizeof(key.trace_id), h->trace_id);
		key.trace_ts = h->ts;
	}
	id = hashmap__tuple_key(f, 5);
	pthread_mutex_lock(&m->lock);
	if (id && hashmap__find(&m->index, (uintptr_t)id, &v)) {
		struct series *s = &m->series[v - 1];

		s->count++;
		if (key.trace_id[0]) {
			memcpy(s->trace_id, key.trace_id, sizeof(s->trace_id));
			s->trace_ts = key.trace_ts;
		}
	} else if (!id || m->n >= m->max || !(c = service_count(m, key.service))) {
		m->overflow++;
	} else if (c->n >= m->per_service) {
		c->overflow++;
	} else if (hashmap__set(&m->index, (uintptr_t)id, m->n + 1)) {
		m->overflow++;
	} else {
		id = NULL; /* the index's now */
		key.count = 1;
		m->series[m->n++] = key;
		c->n++;
	}
	pthread_mutex_unlock(&m->lock);
	free(id);
}

static void metrics_predict(struct sink *s, const struct target *t, const struct inspection *in)
{
	predictions((struct metrics *)s, t->pid, t->service, in);
}

static int metrics_emit(struct sink *s, const struct hit *h, const struct diagnosis *dg)
{
	struct metrics *m = (struct metrics *)s;

	struct metrics_hit mh = {
		.service = h->t->service, .route = dg->route,
		.method = h->request && h->method.present ? h->method.s : "",
		.cause = diagnose__cause_name(dg->cause), .uid = h->t->id.pod_uid,
		.trace_id = h->trace_id,
	};
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	mh.ts = now.tv_sec + now.tv_nsec / 1e9;
	metrics__hit(m, &mh);
	return 0;
}

/* Owned by the metrics object, freed with it: scrapes outlive the sinks. */
static void metrics_sink_free(struct sink *s)
{
}

struct sink *metrics__sink(struct metrics *m)
{
	m->sink = (struct sink){ .emit = metrics_emit, .predict = metrics_predict,
				 .free = metrics_sink_free };
	return &m->sink;
}

size_t metrics__nseries(struct metrics *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->n;
	pthread_mutex_unlock(&m->lock);
	return n;
}

static const char *const series_keys[] = { "service", "route", "method", "cause", "uid" };

static void add_fixed(struct strbuf *sb, const char *label, unsigned long long v)
{
	const char *vals[] = { label, label, label, label };

	promfmt__sample(sb, "sessiontrace_assertions_total", series_keys, vals, 4, v);
}

/* sessiontrace_target_info: a series per traced process, its identity's known parts as labels. */
static void render_targets(struct metrics *m, struct strbuf *sb, bool om)
{
	size_t i;

	promfmt__header(sb, om, "sessiontrace_target_info", "gauge",
			"A traced process: its pid, service, and where it runs (container, pod "
			"UID, the hostname of its UTS namespace) when known.");
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->ntargets; i++) {
		const struct target_info *ti = &m->targets[i];
		const char *keys[5], *vals[5];
		char pid[16];
		unsigned n = 0;

		snprintf(pid, sizeof(pid), "%d", ti->pid);
		keys[n] = "pid", vals[n++] = pid;
		keys[n] = "service", vals[n++] = ti->service;
		if (ti->container_id[0])
			keys[n] = "container_id", vals[n++] = ti->container_id;
		if (ti->pod_uid[0])
			keys[n] = "pod_uid", vals[n++] = ti->pod_uid;
		if (ti->hostname[0])
			keys[n] = "hostname", vals[n++] = ti->hostname;
		promfmt__sample(sb, "sessiontrace_target_info", keys, vals, n, 1);
	}
	pthread_mutex_unlock(&m->lock);
}

char *metrics__render(struct metrics *m, bool om, size_t *len)
{
	struct metrics_health h = { 0 };
	struct strbuf sb;
	const char *vkey[] = { "version" }, *vval[] = { ST_VERSION };
	size_t i;

	strbuf__init(&sb);
	if (m->health)
		m->health(&h, m->health_ctx);
	promfmt__header(&sb, om, "sessiontrace_assertions_total", "counter",
			"Failing reads of request.session, request.auth or request.user, one per "
			"failing access, by ASGI service, route template, HTTP method and cause.");
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n; i++) {
		const struct series *s = &m->series[i];
		const char *vals[] = { s->service, s->route, s->method, s->cause, s->uid };

		/* the pod's UID as "uid", kube_pod_info's name: a one-line join */
		if (om && s->trace_id[0])
			promfmt__sample_exemplar(&sb, "sessiontrace_assertions_total", series_keys,
						 vals, s->uid[0] ? 5 : 4, s->count, "trace_id",
						 s->trace_id, s->trace_ts);
		else
			promfmt__sample(&sb, "sessiontrace_assertions_total", series_keys, vals,
					s->uid[0] ? 5 : 4, s->count);
	}
	for (i = 0; i < m->nsvc; i++) {
		const char *vals[] = { m->svc[i]->name, METRICS_OVERFLOW, METRICS_OVERFLOW,
				       METRICS_OVERFLOW };

		if (m->svc[i]->overflow)
			promfmt__sample(&sb, "sessiontrace_assertions_total", series_keys, vals, 4,
					m->svc[i]->overflow);
	}
	if (m->overflow)
		add_fixed(&sb, METRICS_OVERFLOW, m->overflow);
	pthread_mutex_unlock(&m->lock);
	if (h.lost)
		add_fixed(&sb, METRICS_LOST, h.lost);
	if (h.dropped[DROP_OVER_BUDGET] + h.dropped[DROP_DECODE_BUDGET])
		add_fixed(&sb, METRICS_OVER_BUDGET,
			  h.dropped[DROP_OVER_BUDGET] + h.dropped[DROP_DECODE_BUDGET]);
	render_targets(m, &sb, om);
	render_predictions(m, &sb, om);
	promfmt__header(&sb, om, "sessiontrace_probe_hits_total", "counter",
			"Failures the BPF probe captured (counted in BPF, also when the record was "
			"lost).");
	promfmt__sample(&sb, "sessiontrace_probe_hits_total", NULL, NULL, 0, h.hits);
	promfmt__header(&sb, om, "sessiontrace_exec_events_total", "counter",
			"Execs that reached user space (discovery): only those that may start a "
			"server pass the kernel's filter.");
	promfmt__sample(&sb, "sessiontrace_exec_events_total", NULL, NULL, 0, h.execs);
	promfmt__header(&sb, om, "sessiontrace_listen_events_total", "counter",
			"listen() calls of Python processes that reached user space (discovery).");
	promfmt__sample(&sb, "sessiontrace_listen_events_total", NULL, NULL, 0, h.listens);
	promfmt__header(&sb, om, "sessiontrace_proc_events_lost_total", "counter",
			"Exec, fork and listen events lost for want of room (discovery rescans "
			"/proc after any).");
	promfmt__sample(&sb, "sessiontrace_proc_events_lost_total", NULL, NULL, 0, h.procs_lost);
	if (h.nchecks) {
		promfmt__header(&sb, om, "sessiontrace_discovery_checks_total", "counter",
				"Checks of Python processes by discovery, by verdict: traced, or why "
				"not (no_listener, no_starlette, not_ready, ...).");
		for (i = 0; i < h.nchecks && i < METRICS_CHECKS_MAX; i++) {
			const char *vkey_[] = { "verdict" }, *vval_[] = { h.check_names[i] };

			promfmt__sample(&sb, "sessiontrace_discovery_checks_total", vkey_, vval_, 1,
					h.checks[i]);
		}
	}
	promfmt__header(&sb, om, "sessiontrace_events_lost_total", "counter",
			"Records that did not fit in the ring buffer.");
	promfmt__sample(&sb, "sessiontrace_events_lost_total", NULL, NULL, 0, h.lost);
	promfmt__header(&sb, om, "sessiontrace_hits_dropped_total", "counter",
			"Captured hits that became no record, by reason (hits = records + lost + "
			"dropped).");
	for (i = 0; i < DROP_N; i++) {
		const char *rkey[] = { "reason" }, *rval[] = { drops__name(i) };

		promfmt__sample(&sb, "sessiontrace_hits_dropped_total", rkey, rval, 1, h.dropped[i]);
	}
	promfmt__header(&sb, om, "sessiontrace_attached_processes", "gauge",
			"Processes the probes are attached to.");
	promfmt__sample(&sb, "sessiontrace_attached_processes", NULL, NULL, 0, h.attached);
	promfmt__header(&sb, om, "sessiontrace_build_info", "gauge", "sessiontrace version.");
	promfmt__sample(&sb, "sessiontrace_build_info", vkey, vval, 1, 1);
	if (om)
		strbuf__addlit(&sb, "# EOF\n");
	if (sb.oom) {
		strbuf__free(&sb);
		return NULL;
	}
	*len = sb.len;
	return sb.buf;
}

int metrics__parse_addr(const char *spec, char *host, size_t hostsz, unsigned *port)
{
	const char *h = NULL, *p = spec, *colon;
	unsigned long v = 0;
	size_t hl = 0;

	if (!spec || !*spec)
		return -EINVAL;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':' || close == spec + 1)
			return -EINVAL;
		h = spec + 1;
		hl = close - h;
		p = close + 2;
	} else if ((colon = strchr(spec, ':'))) {
		if (strchr(colon + 1, ':') || colon == spec)
			return -EINVAL; /* an IPv6 address needs brackets */
		h = spec;
		hl = colon - spec;
		p = colon + 1;
	}
	if (hl >= hostsz || !*p || strlen(p) > 5)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	if (h) {
		memcpy(host, h, hl);
		host[hl] = 0;
	} else {
		snprintf(host, hostsz, "127.0.0.1");
	}
	*port = (unsigned)v;
	return 0;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type,
			       char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	static const char health[] = "sessiontrace: ok; metrics at /metrics\n";
	static const char notfound[] = "not found\n";
	static const char oom[] = "out of memory\n";
	struct metrics *m = cls;
	const char *accept;
	char *body;
	size_t len;
	bool om;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", (char *)notfound,
			       sizeof(notfound) - 1, MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/"))
		return respond(c, MHD_HTTP_OK, "text/plain; charset=utf-8", (char *)health,
			       sizeof(health) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return respond(c, MHD_HTTP_NOT_FOUND, "text/plain", (char *)notfound,
			       sizeof(notfound) - 1, MHD_RESPMEM_PERSISTENT);
	/* OpenMetrics (exemplars: the trace of a failing request) when the scraper asks */
	accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	om = accept && strstr(accept, "application/openmetrics-text");
	body = metrics__render(m, om, &len);
	if (!body)
		return respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", (char *)oom,
			       sizeof(oom) - 1, MHD_RESPMEM_PERSISTENT);
	return respond(c, MHD_HTTP_OK, om ? "application/openmetrics-text; version=1.0.0; "
		       "charset=utf-8" : "text/plain; version=0.0.4; charset=utf-8", body, len,
		       MHD_RESPMEM_MUST_FREE);
}

/* Our own listening socket: bind errors get their errno and a clear message. */
static int listen_on(const char *host, unsigned port, char *err, size_t errsz)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE }, *ai = NULL;
	char portstr[8];
	int fd, one = 1, rc;

	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc) {
		snprintf(err, errsz, "cannot serve metrics on %s:%u: %s", host, port,
			 gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		rc = -errno;
		snprintf(err, errsz, "cannot serve metrics on %s:%u: %s", host, port,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	return fd;
}

int metrics__listen(struct metrics *m, const char *spec, char *err, size_t errsz)
{
	char host[256];
	unsigned port;
	int fd;

	if (metrics__parse_addr(spec, host, sizeof(host), &port)) {
		snprintf(err, errsz, "invalid --metrics '%s' (PORT, ADDR:PORT or [ADDR6]:PORT)",
			 spec);
		return -EINVAL;
	}
	fd = listen_on(host, port, err, errsz);
	if (fd < 0)
		return fd;
	m->listen_fd = fd;
	return 0;
}

int metrics__start(struct metrics *m, metrics_health_fn health, void *ctx, char *err,
		   size_t errsz)
{
	if (m->listen_fd < 0) {
		snprintf(err, errsz, "metrics: not listening");
		return -EINVAL;
	}
	m->health = health;
	m->health_ctx = ctx;
	/* epoll where it exists: the tracer may hold more than FD_SETSIZE descriptors */
	m->httpd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, handle, m,
				    MHD_OPTION_LISTEN_SOCKET, m->listen_fd,
				    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
				    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CONN_PER_IP,
				    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
				    MHD_OPTION_END);
	if (!m->httpd) {
		snprintf(err, errsz, "cannot serve metrics: libmicrohttpd failed to start");
		return -EIO;
	}
	return 0; /* MHD does not close a socket it was given: metrics__free does */
}
