// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "probe.h"
#include "sessiontrace.skel.h"
#include "target.h"

/*
 * Message prefixes raised by Starlette's HTTPConnection properties
 * (starlette/requests.py), indexed by enum st_prop; matched in BPF (first
 * ST_PATTERN_MAX bytes), so only these records are made.
 */
static const char *const patterns[ST_NPROPS] = {
	[ST_PROP_SESSION] = "SessionMiddleware must be installed to access request.session",
	[ST_PROP_AUTH] = "AuthenticationMiddleware must be installed to access request.auth",
	[ST_PROP_USER] = "AuthenticationMiddleware must be installed to access request.user",
};

struct probe {
	struct sessiontrace_bpf *skel;
	struct ring_buffer *rb;
	probe_event_fn fn;
	void *ctx;
};

static int on_sample(void *ctx, void *data, size_t size)
{
	struct probe *p = ctx;

	if (size < sizeof(struct st_event))
		return 0;
	p->fn(p->ctx, data);
	return 0;
}

struct probe *probe__new(probe_event_fn fn, void *ctx)
{
	struct probe *p;
	size_t i;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->fn = fn;
	p->ctx = ctx;
	p->skel = sessiontrace_bpf__open();
	if (!p->skel) {
		err = -errno;
		pr_warn("failed to open the BPF object: %s\n", strerror(errno));
		goto cleanup;
	}
	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]) && i < ST_NPATTERNS; i++) {
		size_t n = strlen(patterns[i]);

		if (n > ST_PATTERN_MAX)
			n = ST_PATTERN_MAX;
		memcpy((char *)p->skel->rodata->patterns[i], patterns[i], n);
		p->skel->rodata->pattern_len[i] = n;
	}
	err = sessiontrace_bpf__load(p->skel);
	if (err) {
		pr_warn("failed to load the BPF program: %s (kernel without BTF or BPF? run as root; -v shows the verifier log)\n",
			strerror(-err));
		goto cleanup;
	}
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_sample, p, NULL);
	if (!p->rb) {
		err = -errno;
		pr_warn("failed to create the ring buffer: %s\n", strerror(errno));
		goto cleanup;
	}
	return p;
cleanup:
	probe__free(p);
	errno = -err;
	return NULL;
}

int probe__attach(struct probe *p, struct target *t)
{
	/* libbpf resolves named functions itself; unnamed ones go by file offset */
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = t->raise_func);
	__u32 key = t->pid;
	int err;

	err = bpf_map_update_elem(bpf_map__fd(p->skel->maps.targets), &key, &t->bpf, BPF_ANY);
	if (err) {
		err = -errno;
		pr_warn("pid %d: failed to add to the targets map: %s\n", t->pid, strerror(errno));
		return err;
	}
	/* A uprobe on the file, limited by the kernel to this process's mm. */
	t->link = bpf_program__attach_uprobe_opts(p->skel->progs.raise_probe, t->pid,
						  t->open_path,
						  t->raise_func ? 0 : t->raise_offset, &opts);
	if (!t->link) {
		err = -errno;
		pr_warn("pid %d: failed to attach uprobe to %s:%s: %s\n", t->pid, t->interp,
			t->raise_func ? t->raise_func : "_PyErr_SetObject", strerror(errno));
		bpf_map_delete_elem(bpf_map__fd(p->skel->maps.targets), &key);
		return err;
	}
	return 0;
}

void probe__detach(struct probe *p, struct target *t)
{
	__u32 key = t->pid;

	if (t->link) {
		bpf_link__destroy(t->link);
		t->link = NULL;
	}
	bpf_map_delete_elem(bpf_map__fd(p->skel->maps.targets), &key);
}

int probe__poll(struct probe *p, int timeout_ms)
{
	return ring_buffer__poll(p->rb, timeout_ms);
}

int probe__epoll_fd(const struct probe *p)
{
	return ring_buffer__epoll_fd(p->rb);
}

int probe__counters(const struct probe *p, __u64 out[ST_NCOUNTERS])
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(p->skel->maps.counters);
	__u64 *vals;
	__u32 k;
	int c;

	memset(out, 0, sizeof(__u64) * ST_NCOUNTERS);
	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (k = 0; k < ST_NCOUNTERS; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}

void probe__free(struct probe *p)
{
	if (!p)
		return;
	ring_buffer__free(p->rb);
	sessiontrace_bpf__destroy(p->skel);
	free(p);
}
