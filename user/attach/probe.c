// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attach/probe.h"
#include "attach/watch.h"
#include "resolve/props.h"
#include "resolve/opcodes.h"
#include "resolve/target.h"
#include "sessiontrace.skel.h"
#include "util/log.h"

/*
 * What one target is attached by: a uprobe on its interpreter file for its
 * pid alone (other processes mapping the file take no trap), or the watch
 * trigger's breakpoints on its threads.
 */
struct attachment {
	pid_t pid;
	struct bpf_link *link; /* uprobe */
	struct watch *watch;   /* watch trigger */
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
	struct bpf_link *exec_link, *fork_link, *listen_link;
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
	if (t->bpf.probe == ST_PROBE_WATCH)
		return PROBE_PROG_WATCH;
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
	bpf_program__set_autoload(p->skel->progs.watch_probe, progs & PROBE_PROG_WATCH);
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
	if (progs & PROBE_PROG_WATCH) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		/* watch_probe tells its own events by its id (several fire for one read) */
		err = bpf_obj_get_info_by_fd(bpf_program__fd(p->skel->progs.watch_probe), &info,
					      &len);
		if (err) {
			snprintf(errbuf, errsz, "failed to read the watch program's id: %s",
				 strerror(-err));
			goto cleanup;
		}
		p->skel->bss->watch_prog_id = info.id;
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
	watch__close(a->watch);
	*a = p->att[--p->natt];
}

static struct attachment *find_attachment(struct probe *p, pid_t pid)
{
	size_t i;

	for (i = 0; i < p->natt; i++)
		if (p->att[i].pid == pid)
			return &p->att[i];
	return NULL;
}

/* The uprobe of t's probe kind on t's interpreter file, for t's pid only. */
static int attach_uprobe(struct probe *p, const struct target *t, struct attachment *a,
			 char *err, size_t errsz)
{
	/* libbpf resolves named functions itself; unnamed ones go by file offset */
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = t->raise_func[0] ? t->raise_func : NULL);
	const struct bpf_program *prog = p->skel->progs.raise_probe;
	size_t off = t->raise_func[0] ? 0 : t->raise_offset;

	if (t->bpf.probe == ST_PROBE_ASSERT) {
		/* unnamed code (a handler, a static function): by file offset only */
		opts.func_name = NULL;
		prog = t->assert_site == ASSERT_SITE_DO_RAISE ? p->skel->progs.do_raise_probe :
								p->skel->progs.assert_probe;
		off = t->assert_offset;
	}
	a->link = bpf_program__attach_uprobe_opts(prog, t->pid, t->open_path, off, &opts);
	if (!a->link) {
		snprintf(err, errsz, "pid %d: failed to attach the %s probe to %s: %s", t->pid,
			 target__probe_name(t->bpf.probe), t->interp, strerror(errno));
		return -errno;
	}
	pr_debug("%s probe on %s for pid %d\n", target__probe_name(t->bpf.probe), t->interp,
		 t->pid);
	return 0;
}

int probe__attach(struct probe *p, const struct target *t, char *err, size_t errsz)
{
	int fd = bpf_map__fd(p->skel->maps.targets), ret;
	struct st_target v = t->bpf;
	struct attachment *a;
	__u32 key = t->pid;

	if (!(p->progs & probe__prog_for(t))) {
		snprintf(err, errsz, "pid %d: its probe program was not loaded", t->pid);
		return -ENOTSUP;
	}
	if (find_attachment(p, t->pid)) {
		snprintf(err, errsz, "pid %d: attached already", t->pid);
		return -EEXIST;
	}
	if (p->natt == p->capatt) {
		size_t cap = p->capatt ? p->capatt * 2 : 8;
		struct attachment *n = realloc(p->att, cap * sizeof(*n));

		if (!n) {
			snprintf(err, errsz, "out of memory");
			return -ENOMEM;
		}
		p->att = n;
		p->capatt = cap;
	}
	a = &p->att[p->natt];
	*a = (struct attachment){ .pid = t->pid };
	v.watch_addr = t->watch_addr;
	/* the target first: what its probe reports from the first run on is counted */
	if (bpf_map_update_elem(fd, &key, &v, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errsz, "pid %d: failed to add to the targets map: %s", t->pid,
			 strerror(errno));
		return ret;
	}
	if (t->bpf.probe == ST_PROBE_WATCH) {
		a->watch = watch__open(p->skel->progs.watch_probe, t->pid, t->watch_addr, err,
				       errsz);
		ret = a->watch ? 0 : -errno;
	} else {
		ret = attach_uprobe(p, t, a, err, errsz);
	}
	if (ret) {
		bpf_map_delete_elem(fd, &key);
		return ret;
	}
	p->natt++;
	return 0;
}

void probe__detach(struct probe *p, const struct target *t)
{
	__u32 key = t->pid;
	struct attachment *a;

	bpf_map_delete_elem(bpf_map__fd(p->skel->maps.targets), &key);
	a = find_attachment(p, t->pid);
	if (a)
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
	/* listen(): the syscall's tracepoint; without tracefs, TCP sockets entering LISTEN */
	p->listen_link = bpf_program__attach(p->skel->progs.proc_listen);
	if (!p->listen_link) {
		pr_debug("no syscall tracepoint for listen() (%s: is tracefs mounted?): "
			 "discovery sees TCP listeners only\n", strerror(errno));
		p->listen_link = bpf_program__attach(p->skel->progs.proc_tcp_listen);
		if (!p->listen_link)
			goto fail;
	}
	return 0;
fail:
	err = -errno;
	pr_warn("failed to attach the exec/fork/listen probes: %s\n", strerror(errno));
	bpf_link__destroy(p->fork_link);
	bpf_link__destroy(p->exec_link);
	p->exec_link = p->fork_link = NULL;
	return err;
}

int probe__forker(struct probe *p, pid_t pid)
{
	__u32 key = pid;
	__u8 one = 1;

	/* an LRU map: the entries of processes long gone make room */
	return bpf_map_update_elem(bpf_map__fd(p->skel->maps.forkers), &key, &one, BPF_ANY) ?
	       -errno : 0;
}

void probe__count_check(struct probe *p, unsigned verdict)
{
	int fd = bpf_map__fd(p->skel->maps.checks);
	__u32 key = verdict;
	__u64 v = 0;

	if (verdict >= ST_CHECK_VERDICTS)
		return;
	bpf_map_lookup_elem(fd, &key, &v); /* one writer: this process's event loop */
	v++;
	bpf_map_update_elem(fd, &key, &v, BPF_ANY);
}

int probe__checks(const struct probe *p, __u64 out[ST_CHECK_VERDICTS])
{
	int fd = bpf_map__fd(p->skel->maps.checks);
	__u32 k;

	for (k = 0; k < ST_CHECK_VERDICTS; k++)
		if (bpf_map_lookup_elem(fd, &k, &out[k]))
			out[k] = 0;
	return 0;
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
	bpf_link__destroy(p->listen_link);
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
