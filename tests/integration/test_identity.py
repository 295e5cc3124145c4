"""Which pod and which container (issue 26, item 1).

Servers run in cgroups named as the kubelet and the runtimes name them
(systemd driver with containerd and CRI-O, the cgroupfs driver, docker),
each with its own hostname (a UTS namespace of its own, as a pod has), one
in a private cgroup namespace, and one on the host. Their records carry
container (id, runtime), k8s (pod_uid) and hostname exactly where the cgroup
path says so, and none of them on the host; sessiontrace_target_info has a
series per process with the same ids; a tracer that itself runs in a
private cgroup namespace (as the DaemonSet's pod does: it sees /../..) reads
the same ids. Real Prometheus scrapes the tracer and a kube_pod_info-shaped
exposition: the one-line join on uid returns each pod's namespace and name.
"""
import http.server
import re
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import Prometheus, free_port, http_request
from test_discovery import node_tracer, scrape


def cgroup_root():
    """Where to make cgroups: the unified hierarchy when mounted, else v1's pids one."""
    v1 = None
    with open("/proc/self/mounts") as f:
        for line in f:
            _, mnt, fstype, opts = line.split()[:4]
            if fstype == "cgroup2":
                return Path(mnt)
            if fstype == "cgroup" and "pids" in opts.split(","):
                v1 = Path(mnt)
    if v1 is None:
        pytest.skip("no cgroup hierarchy is mounted")
    return v1


def hexid():
    return (uuid.uuid4().hex + uuid.uuid4().hex)[:64]


class Pod:
    """One server's place: its cgroup path (relative), and what the records must say."""

    def __init__(self, name, rel, container_id, runtime, pod_uid, hostname, cgroupns=False):
        self.name, self.rel = name, rel
        self.container_id, self.runtime, self.pod_uid = container_id, runtime, pod_uid
        self.hostname, self.cgroupns = hostname, cgroupns


def pods():
    uids = [str(uuid.uuid4()) for _ in range(3)]
    ids = [hexid() for _ in range(4)]
    return [
        Pod("containerd", "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
            f"{uids[0].replace('-', '_')}.slice/cri-containerd-{ids[0]}.scope",
            ids[0], "containerd", uids[0], "shop-web-7d9f-abcde"),
        Pod("cgroupfs", f"kubepods/besteffort/pod{uids[1]}/{ids[1]}", ids[1], None, uids[1],
            "shop-api-5c6b-fghij"),
        Pod("crio", f"kubepods.slice/kubepods-pod{uids[2].replace('-', '_')}.slice/"
            f"crio-{ids[2]}.scope", ids[2], "cri-o", uids[2], "shop-admin-0", cgroupns=True),
        Pod("docker", f"system.slice/docker-{ids[3]}.scope", ids[3], "docker", None,
            "0f3c2a1b9e8d"),
        Pod("host", None, None, None, None, None),
    ]


def start_in(servers, interp, root, pod):
    """mw_no_session under uvicorn, moved into pod's cgroup, with its hostname, before
    it starts (no braces in the script: Server formats its arguments)."""
    cmd = ["{python}", "-m", "uvicorn", "mw_no_session:app", "--host", "127.0.0.1",
           "--port", "{port}", "--app-dir", "{apps}", "--no-access-log"]
    if pod.rel is None:
        return servers.start(interp, "mw_no_session", argv=cmd)
    cg = root / pod.rel
    cg.mkdir(parents=True, exist_ok=True)
    inner = f'hostname {pod.hostname} && exec "$@"'
    script = (f'echo $$ > {cg}/cgroup.procs && exec unshare -u{"C" if pod.cgroupns else ""} '
              f'sh -c \'{inner}\' sh "$@"')
    return servers.start(interp, "mw_no_session", argv=["sh", "-c", script, "sh"] + cmd)


def check_record(r, pod):
    if pod.container_id:
        want = {"id": pod.container_id}
        if pod.runtime:
            want["runtime"] = pod.runtime
        assert r.get("container") == want, (pod.name, r)
    else:
        assert "container" not in r, (pod.name, r)
    if pod.pod_uid:
        assert r.get("k8s") == {"pod_uid": pod.pod_uid}, (pod.name, r)
    else:
        assert "k8s" not in r, (pod.name, r)
    if pod.hostname:
        assert r.get("hostname") == pod.hostname, (pod.name, r)
    else:
        assert "hostname" not in r, (pod.name, r)


INFO = re.compile(r"^sessiontrace_target_info\{([^}]*)\} 1$", re.M)


def target_info(text):
    out = {}
    for m in INFO.finditer(text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        out[int(labels.pop("pid"))] = labels
    return out


def serve_static(text):
    """A kube-state-metrics stand-in: text at /metrics."""
    body = text.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_pods_and_containers(debian, tracers, servers, tmp_path):
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is missing; scripts/deps.sh installs it")
    root = cgroup_root() / f"st-test-{uuid.uuid4().hex[:8]}"
    all_pods = pods()
    made = []
    try:
        placed = []
        for pod in all_pods:
            s = start_in(servers, debian, root, pod)
            placed.append((pod, s))
            if pod.rel:
                made.append(root / pod.rel)
        port = free_port()
        t = node_tracer(tracers, tmp_path, port)
        for pod, s in placed:
            t.wait_attached(s.pid, s.interp.tracer_version, timeout=15.0)
        n = 3
        for pod, s in placed:
            for i in range(n):
                assert http_request(s.port, f"/{pod.name}/{i}").status == 500
        t.wait_records(n * len(placed))
        text = scrape(port)
        info = target_info(text)
        for pod, s in placed:
            labels = info[s.pid]
            want = {"service": "mw_no_session:app"}
            for k, v in (("container_id", pod.container_id), ("pod_uid", pod.pod_uid),
                         ("hostname", pod.hostname)):
                if v:
                    want[k] = v
            assert labels == want, (pod.name, labels)

        # kube_pod_info, as kube-state-metrics exports it; the join of the README
        ksm = serve_static("".join(
            f'kube_pod_info{{namespace="shop",pod="{pod.hostname}",uid="{pod.pod_uid}",'
            f'node="node-1"}} 1\n' for pod, _ in placed if pod.pod_uid))
        with Prometheus(tmp_path, {"sessiontrace": f"127.0.0.1:{port}",
                                   "kube-state-metrics": f"127.0.0.1:{ksm.server_address[1]}"}
                        ) as prom:
            promql = ("sessiontrace_assertions_total * on(uid) group_left(namespace, pod) "
                      "kube_pod_info")
            deadline = time.time() + 60
            res = []
            while time.time() < deadline:
                try:
                    res = prom.api("query", query=promql)["result"]
                except OSError:
                    res = []
                if len(res) == 3:
                    break
                time.sleep(0.5)
            got = {(r["metric"]["uid"], r["metric"]["namespace"], r["metric"]["pod"],
                    int(float(r["value"][1]))) for r in res}
            assert got == {(pod.pod_uid, "shop", pod.hostname, n)
                           for pod, _ in placed if pod.pod_uid}, (res, prom.log())
        ksm.shutdown()

        records = t.stop()
        t.check_accounting()
        for pod, s in placed:
            mine = [r for r in records if r["pid"] == s.pid]
            assert sorted(r["request"]["path"] for r in mine) == \
                [f"/{pod.name}/{i}" for i in range(n)], pod.name
            for r in mine:
                check_record(r, pod)

        # a tracer in a private cgroup namespace (the DaemonSet's pod) sees /../.. paths
        agent = root / "agent"
        agent.mkdir(parents=True)
        made.append(agent)
        crio_pod, crio = next((pod, s) for pod, s in placed if pod.name == "crio")
        jpath = tmp_path / "agent.jsonl"
        t2 = tracers.spawn(["-p", str(crio.pid), "-q", "-j", str(jpath), "-d", "3"], jpath,
                           prefix=["sh", "-c", f'echo $$ > {agent}/cgroup.procs && '
                                   'exec unshare -C "$@"', "sh"])
        t2.wait_attached(crio.pid, crio.interp.tracer_version)
        seen = subprocess.run(["nsenter", "-t", str(t2.pid), "-C", "cat",
                               f"/proc/{crio.pid}/cgroup"], capture_output=True, text=True,
                              timeout=10).stdout
        assert re.search(r"^\d+:[^:]*:/\.\./", seen, re.M), seen
        assert http_request(crio.port, "/crio/agent").status == 500
        t2.wait_records(1)
        assert t2.wait() == 0
        recs = t2.read_records()
        assert [r["request"]["path"] for r in recs] == ["/crio/agent"]
        check_record(recs[0], crio_pod)
    finally:
        tracers.kill_all()
        servers.stop_all()
        for cg in sorted(made, key=lambda c: -len(c.parts)):
            for d in [cg] + list(cg.parents):
                if d == root.parent:
                    break
                try:
                    d.rmdir()
                except OSError:
                    pass
