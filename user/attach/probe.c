// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attach/probe.h"
#include "resolve/props.h"
#include "resolve/opcodes.h"
#include "resolve/target.h"
#include "sessiontrace.skel.h"
#include "util/log.h"

/*
 * One uprobe per interpreter file (pid -1: every process mapping it), shared
 * by the processes that run it; the BPF program filters by the targets map.
 * A new worker of a traced server then costs a map update, not an attach.
 */
struct attachment {
	dev_t dev;
	ino_t ino;
	unsigned kind; /* enum st_probe_kind */
	struct bpf_link *link;
	unsigned refs;
};

#define BTF_PATH   "/sys/kernel/btf/vmlinux"
#define UPROBE_PMU "/sys/bus/event_source/devices/uprobe/type"

struct probe {
	struct sessiontrace_bpf *skel;
	struct ring_buffer *rb;       /* the events map: hits */
	struct ring_buffer *procs_rb; /* the procs map: execs and forks, once watched */
	probe_event_fn fn;
	probe_proc_fn proc_fn;
	void *ctx, *proc_ctx;
	struct attachment *att;
	size_t natt, capatt;
	struct bpf_link *exec_link, *fork_link;
	unsigned progs; /* enum probe_progs loaded */
	unsigned budget, consumed; /* records per drain (0: no bound) */
};

/* Returned by on_sample once a drain's budget is spent: the sample is consumed. */
#define BUDGET_SPENT (-EAGAIN)

static int on_sample(void *ctx, void *data, size_t size)
{
	struct probe *p = ctx;

	if (size < sizeof(struct st_event))
		return 0;
	p->fn(p->ctx, data);
	if (p->budget && ++p->consumed >= p->budget)
		return BUDGET_SPENT; /* libbpf stops here, this sample consumed */
	return 0;
}

static int on_proc(void *ctx, void *data, size_t size)
{
	struct probe *p = ctx;

	if (size < sizeof(struct st_proc_event) || !p->proc_fn)
		return 0;
	p->proc_fn(p->proc_ctx, data);
	return 0;
}

int probe__kernel_check(char *err, size_t errsz)
{
	struct stat sb;

	if (stat(BTF_PATH, &sb) || !S_ISREG(sb.st_mode) || sb.st_size == 0) {
		snprintf(err, errsz, "this kernel exposes no BTF (%s): sessiontrace needs a kernel "
			 "built with CONFIG_DEBUG_INFO_BTF", BTF_PATH);
		return -ENOTSUP;
	}
	if (access(UPROBE_PMU, R_OK)) {
		snprintf(err, errsz, "this kernel has no uprobe support (%s missing): sessiontrace "
			 "needs CONFIG_UPROBE_EVENTS", UPROBE_PMU);
		return -ENOTSUP;
	}
	return 0;
}

unsigned probe__prog_for(const struct target *t)
{
	if (t->bpf.probe == ST_PROBE_RAISE)
		return PROBE_PROG_RAISE;
	return t->assert_site == ASSERT_SITE_DO_RAISE ? PROBE_PROG_DO_RAISE : PROBE_PROG_ASSERT;
}

struct probe *probe__new(probe_event_fn fn, void *ctx, unsigned progs, char *errbuf,
			 size_t errsz)
{
	struct probe *p;
	size_t i;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(errbuf, errsz, "out of memory");
		return NULL;
	}
	p->fn = fn;
	p->ctx = ctx;
	p->skel = sessiontrace_bpf__open();
	if (!p->skel) {
		err = -errno;
		snprintf(errbuf, errsz, "failed to open the BPF object: %s", strerror(errno));
		goto cleanup;
	}
	p->progs = progs;
	bpf_program__set_autoload(p->skel->progs.raise_probe, progs & PROBE_PROG_RAISE);
	bpf_program__set_autoload(p->skel->progs.assert_probe, progs & PROBE_PROG_ASSERT);
	bpf_program__set_autoload(p->skel->progs.do_raise_probe, progs & PROBE_PROG_DO_RAISE);
	for (i = 0; i < ST_NPROPS && i < ST_NPATTERNS; i++) {
		size_t n = strlen(props__message(i));

		if (n > ST_PATTERN_MAX)
			n = ST_PATTERN_MAX;
		/* prefixes: matched in BPF on the first ST_PATTERN_MAX bytes */
		memcpy((char *)p->skel->rodata->patterns[i], props__message(i), n);
		strncpy((char *)p->skel->rodata->prop_names[i], props__name(i),
			sizeof(p->skel->rodata->prop_names[i]) - 1);
		p->skel->rodata->pattern_len[i] = n;
	}
	err = sessiontrace_bpf__load(p->skel);
	if (err) {
		snprintf(errbuf, errsz, "failed to load the BPF program: %s (kernel without BTF or "
			 "BPF? run as root; -v shows the verifier log)", strerror(-err));
		goto cleanup;
	}
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_sample, p, NULL);
	if (!p->rb) {
		err = -errno;
		snprintf(errbuf, errsz, "failed to create the ring buffer: %s", strerror(errno));
		goto cleanup;
	}
	return p;
cleanup:
	probe__free(p);
	errno = -err;
	return NULL;
}

static void release(struct probe *p, struct attachment *a)
{
	bpf_link__destroy(a->link);
	*a = p->att[--p->natt];
}

static struct attachment *find_attachment(struct probe *p, const struct target *t)
{
	size_t i;

	for (i = 0; i < p->natt; i++)
		if (p->att[i].dev == t->interp_dev && p->att[i].ino == t->interp_ino &&
		    p->att[i].kind == t->bpf.probe)
			return &p->att[i];
	return NULL;
}

/* The uprobe of t's probe kind on t's interpreter file. */
static struct bpf_link *attach_file(struct probe *p, const struct target *t)
{
	/* libbpf resolves named functions itself; unnamed ones go by file offset */
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = t->raise_func);
	struct bpf_link *link;

	if (t->bpf.probe == ST_PROBE_ASSERT) {
		/* unnamed code (a handler, a static function): by file offset only */
		opts.func_name = NULL;
		link = bpf_program__attach_uprobe_opts(t->assert_site == ASSERT_SITE_DO_RAISE ?
						       p->skel->progs.do_raise_probe :
						       p->skel->progs.assert_probe, -1,
						       t->open_path, t->assert_offset, &opts);
	} else {
		link = bpf_program__attach_uprobe_opts(p->skel->progs.raise_probe, -1,
						       t->open_path,
						       t->raise_func ? 0 : t->raise_offset, &opts);
	}
	if (!link)
		pr_warn("pid %d: failed to attach the %s probe to %s: %s\n", t->pid,
			t->bpf.probe == ST_PROBE_ASSERT ? "assert" : "raise", t->interp,
			strerror(errno));
	return link;
}

int probe__attach(struct probe *p, const struct target *t)
{
	struct attachment *a = find_attachment(p, t);
	__u32 key = t->pid;
	int err;

	if (!(p->progs & probe__prog_for(t))) {
		pr_warn("pid %d: its probe program was not loaded\n", t->pid);
		return -ENOTSUP;
	}

	if (!a) {
		if (p->natt == p->capatt) {
			size_t cap = p->capatt ? p->capatt * 2 : 8;
			struct attachment *n = realloc(p->att, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			p->att = n;
			p->capatt = cap;
		}
		a = &p->att[p->natt];
		*a = (struct attachment){
			.dev = t->interp_dev, .ino = t->interp_ino, .kind = t->bpf.probe,
		};
		a->link = attach_file(p, t);
		if (!a->link)
			return -errno;
		p->natt++;
		pr_debug("%s probe on %s (dev %lu ino %lu)\n",
			 t->bpf.probe == ST_PROBE_ASSERT ? "assert" : "raise", t->interp,
			 (unsigned long)t->interp_dev, (unsigned long)t->interp_ino);
	}
	err = bpf_map_update_elem(bpf_map__fd(p->skel->maps.targets), &key, &t->bpf, BPF_ANY);
	if (err) {
		err = -errno;
		pr_warn("pid %d: failed to add to the targets map: %s\n", t->pid, strerror(errno));
		if (!a->refs)
			release(p, a);
		return err;
	}
	a->refs++;
	return 0;
}

void probe__detach(struct probe *p, const struct target *t)
{
	__u32 key = t->pid;
	struct attachment *a;

	bpf_map_delete_elem(bpf_map__fd(p->skel->maps.targets), &key);
	a = find_attachment(p, t);
	if (a && --a->refs == 0)
		release(p, a);
}

int probe__watch_processes(struct probe *p, probe_proc_fn fn, void *ctx)
{
	int err;

	p->proc_fn = fn;
	p->proc_ctx = ctx;
	/* its own ring buffer: the process that watches need not be the one that decodes */
	p->procs_rb = ring_buffer__new(bpf_map__fd(p->skel->maps.procs), on_proc, p, NULL);
	if (!p->procs_rb)
		goto fail;
	p->exec_link = bpf_program__attach(p->skel->progs.proc_exec);
	if (!p->exec_link)
		goto fail;
	p->fork_link = bpf_program__attach(p->skel->progs.proc_fork);
	if (!p->fork_link)
		goto fail;
	return 0;
fail:
	err = -errno;
	pr_warn("failed to attach the exec/fork tracepoints: %s\n", strerror(errno));
	bpf_link__destroy(p->exec_link);
	p->exec_link = NULL;
	return err;
}

int probe__drain(struct probe *p, unsigned max)
{
	int err;

	/* records are submitted without wakeups: consume what is there, up to max */
	p->budget = max;
	p->consumed = 0;
	err = ring_buffer__consume(p->rb);
	p->budget = 0;
	if (err == BUDGET_SPENT)
		return 1;
	return err < 0 ? err : 0;
}

int probe__epoll_fd(const struct probe *p)
{
	return ring_buffer__epoll_fd(p->rb);
}

int probe__drain_processes(struct probe *p)
{
	int err = p->procs_rb ? ring_buffer__consume(p->procs_rb) : 0;

	return err < 0 ? err : 0;
}

int probe__processes_fd(const struct probe *p)
{
	return p->procs_rb ? ring_buffer__epoll_fd(p->procs_rb) : -1;
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
	bpf_link__destroy(p->fork_link);
	bpf_link__destroy(p->exec_link);
	while (p->natt)
		release(p, &p->att[p->natt - 1]);
	free(p->att);
	ring_buffer__free(p->procs_rb);
	ring_buffer__free(p->rb);
	sessiontrace_bpf__destroy(p->skel);
	free(p);
}
