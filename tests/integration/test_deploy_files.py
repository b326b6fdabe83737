"""The deployment files, checked offline: the Kubernetes base (docker/k8s/, rendered with
`kubectl kustomize`) and the systemd unit (docker/dockhand.service, `systemd-analyze verify`).

No cluster and no systemd run here, so what can be checked is checked against the real
binary and the Dockerfile on disk: every probe path answers 200 on a running dockhand
started with the manifests' own settings and a keys directory laid out like a Secret
volume; every DOCKHAND_* name is a setting `dockhand help` prints; the image, its
entrypoint, user and ports agree with docker/Dockerfile; the migration Job's arguments
migrate a fresh database. Each checker returns a list of problems, and
test_checkers_catch_broken_manifests / test_checkers_catch_a_broken_unit feed them broken
copies, so that none of these tests can pass vacuously.
"""

import base64
import copy
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import requests
import yaml

from helpers import dockhand as dh
from helpers.pg import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K8S = os.path.join(ROOT, "docker", "k8s")
MONITORING = os.path.join(K8S, "monitoring")
UNIT = os.path.join(ROOT, "docker", "dockhand.service")
DOCKERFILE = os.path.join(ROOT, "docker", "Dockerfile")
README = os.path.join(ROOT, "README.md")

DRAIN_LIMIT_S = 10  # DRAIN_LIMIT_MS in src/http/server.c: the longest drain after SIGTERM
IMAGE = "dockhand"  # what docker/Dockerfile is built as (README, compose: `-t dockhand`)
REQUIRED_KINDS = {"Deployment", "Service", "Job", "PodDisruptionBudget",
                  "HorizontalPodAutoscaler", "ConfigMap"}
# Secrets the base references but does not hold (no key or password is committed); each
# must be documented with its `kubectl create secret generic NAME` in kustomization.yaml
# and in the README.
EXTERNAL_SECRETS = {"dockhand-keys", "dockhand-database"}
SETTING_NAME = re.compile(r"\bDOCKHAND_[A-Z0-9_]+\b")
UNIT_HARDENING = {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
                  "ProtectHome": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": ""}
SECURITY_EXPOSURE_MAX = 2.0  # `systemd-analyze security`: below 2 is "OK"


# ----------------------------------------------------------------------------- inputs

def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def tool(name):
    path = shutil.which(name)
    assert path, "%s is missing: run scripts/install-deps" % name
    return path


def render(path):
    """`kubectl kustomize PATH` as a list of objects."""
    p = run([tool("kubectl"), "kustomize", path])
    assert p.returncode == 0, "kubectl kustomize %s failed:\n%s" % (path, p.stderr)
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def help_settings(bin_):
    out = run([bin_, "help"], env=dh.base_env()).stdout
    names = set(re.findall(r"^\s+(DOCKHAND_[A-Z0-9_]+)\s+--", out, re.M))
    assert len(names) >= 18, out
    return names


def dockerfile_facts(text):
    """The final stage's EXPOSE ports, USER, ENV, ENTRYPOINT, CMD, the path the binary is
    copied to, and a uid given to useradd (None when the Dockerfile leaves it to useradd)."""
    text = re.sub(r"\\\n", " ", text)
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    last_from = max(i for i, l in enumerate(lines) if l.upper().startswith("FROM "))
    facts = {"expose": set(), "user": None, "env": {}, "entrypoint": None, "cmd": None,
             "binary": None, "uid": None}
    for line in lines[last_from:]:
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "EXPOSE":
            facts["expose"] |= {int(p.split("/")[0]) for p in rest.split()}
        elif word == "USER":
            facts["user"] = rest.strip()
        elif word == "ENV":
            if "=" in rest.split()[0]:
                facts["env"].update(kv.split("=", 1) for kv in rest.split())
            else:
                k, v = rest.split(None, 1)
                facts["env"][k] = v
        elif word in ("ENTRYPOINT", "CMD"):
            facts[word.lower()] = yaml.safe_load(rest)
        elif word == "COPY" and rest.split()[-1].endswith("/dockhand"):
            facts["binary"] = rest.split()[-1]
        elif word == "RUN":
            m = re.search(r"useradd\b[^;&]*?(?:--uid|-u)\s+(\d+)", rest)
            if m:
                facts["uid"] = int(m.group(1))
    return facts


def unit_entries(text):
    """[(section, key, value)] of a unit file, in order (comments dropped)."""
    section, out = None, []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
        else:
            k, _, v = line.partition("=")
            out.append((section, k.strip(), v.strip()))
    return out


# ----------------------------------------------------------------------------- helpers

def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def one(docs, kind):
    found = by_kind(docs, kind)
    assert len(found) == 1, "expected one %s, found %d" % (kind, len(found))
    return found[0]


def pod_templates(docs):
    """[(label, pod template)] of every Deployment and Job."""
    return [("%s/%s" % (d["kind"], d["metadata"]["name"]), d["spec"]["template"])
            for d in docs if d.get("kind") in ("Deployment", "Job")]


def server(docs):
    """The Deployment's dockhand container."""
    return one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def env_of(docs, container):
    """Every environment variable of a container: envFrom ConfigMaps first, then env."""
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}
    env = {}
    for src in container.get("envFrom", []):
        name = src.get("configMapRef", {}).get("name")
        env.update(maps.get(name, {"<missing ConfigMap %s>" % name: ""}))
    for e in container.get("env", []):
        env[e["name"]] = e.get("value", e.get("valueFrom"))
    return env


def port_of(hostport):
    return int(str(hostport).rsplit(":", 1)[1])


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def quantity(q):
    """A CPU or memory quantity as a number (only the suffixes the manifests use)."""
    q = str(q)
    for suffix, f in (("m", 1e-3), ("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30)):
        if q.endswith(suffix):
            return float(q[:-len(suffix)]) * f
    return float(q)


def prestop_seconds(container):
    cmd = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return int(cmd[1]) if len(cmd) == 2 and cmd[0] == "sleep" else 0


# ----------------------------------------------------------------------------- checkers

def kinds_problems(docs, kustomization_text, readme_text):
    problems = ["no %s rendered" % k for k in sorted(REQUIRED_KINDS - {d["kind"] for d in docs})]
    rendered = {d["metadata"]["name"] for d in by_kind(docs, "Secret")}
    for label, tpl in pod_templates(docs):
        spec = tpl["spec"]
        refs = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
        for c in spec.get("containers", []):
            refs |= {e["valueFrom"]["secretKeyRef"]["name"] for e in c.get("env", [])
                     if "secretKeyRef" in e.get("valueFrom", {})}
        for name in sorted(refs - rendered):
            how = "kubectl create secret generic %s" % name
            if name not in EXTERNAL_SECRETS:
                problems.append("%s uses Secret %s, neither rendered nor a documented "
                                "external Secret" % (label, name))
            elif how not in kustomization_text or how not in readme_text:
                problems.append("external Secret %s: `%s` missing from kustomization.yaml "
                                "or the README" % (name, how))
    return problems


def security_problems(docs):
    problems = []
    for label, tpl in pod_templates(docs):
        spec = tpl["spec"]
        psc = spec.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            problems.append("%s: pod runAsNonRoot is not true" % label)
        if not psc.get("runAsUser"):
            problems.append("%s: no numeric non-root runAsUser (the image's USER is a name, "
                            "which the kubelet cannot check)" % label)
        if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append("%s: seccompProfile is not RuntimeDefault" % label)
        if spec.get("automountServiceAccountToken") is not False:
            problems.append("%s: mounts a service account token it does not need" % label)
        if spec.get("enableServiceLinks") is not False:
            problems.append("%s: service links put DOCKHAND_* variables into the "
                            "environment" % label)
        for c in spec.get("containers", []):
            where = "%s container %s" % (label, c["name"])
            sc = c.get("securityContext", {})
            if sc.get("runAsNonRoot") is False or sc.get("runAsUser") == 0:
                problems.append("%s: runs as root" % where)
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append("%s: allowPrivilegeEscalation is not false" % where)
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append("%s: root filesystem is not read-only" % where)
            if sc.get("privileged"):
                problems.append("%s: privileged" % where)
            caps = sc.get("capabilities", {})
            if "ALL" not in caps.get("drop", []) or caps.get("add"):
                problems.append("%s: capabilities are not all dropped" % where)
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in res.get(kind, {}):
                        problems.append("%s: no %s %s" % (where, r, kind))
            for r in ("cpu", "memory"):
                if r in res.get("requests", {}) and r in res.get("limits", {}) and \
                        quantity(res["requests"][r]) > quantity(res["limits"][r]):
                    problems.append("%s: %s request above its limit" % (where, r))
    return problems


def env_problems(docs, known, source_texts):
    """Every variable a container gets, and every DOCKHAND_* name written in the sources
    (comments included), is a setting."""
    problems = []
    for label, tpl in pod_templates(docs):
        for c in tpl["spec"]["containers"]:
            for name in env_of(docs, c):
                if name not in known:
                    problems.append("%s container %s: %s is not a dockhand setting"
                                    % (label, c["name"], name))
    for path, text in source_texts.items():
        for name in sorted(set(SETTING_NAME.findall(text)) - known):
            problems.append("%s names %s, which is not a dockhand setting" % (path, name))
    return problems


def probe_problems(docs, get):
    """Liveness on /healthz, readiness on /readyz, on the port DOCKHAND_LISTEN serves, and
    each path answers 200 from get(path) (a running dockhand)."""
    problems = []
    c = server(docs)
    env = env_of(docs, c)
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    listen = port_of(env.get("DOCKHAND_LISTEN", "0:0"))
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        h = c.get(probe, {}).get("httpGet")
        if not h:
            problems.append("no %s with httpGet" % probe)
            continue
        if h["path"] != path:
            problems.append("%s on %s, not %s" % (probe, h["path"], path))
        port = ports.get(h["port"], h["port"])
        if port != listen:
            problems.append("%s on port %s, dockhand listens on %s" % (probe, port, listen))
        status = get(h["path"])
        if status != 200:
            problems.append("%s: GET %s answered %s" % (probe, h["path"], status))
    return problems


def grace_problems(docs):
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    grace = spec.get("terminationGracePeriodSeconds", 30)
    need = DRAIN_LIMIT_S + prestop_seconds(spec["containers"][0])
    if grace <= need:
        return ["terminationGracePeriodSeconds %s is not above preStop + the %s s drain (%s)"
                % (grace, DRAIN_LIMIT_S, need)]
    return []


def job_problems(docs):
    job = one(docs, "Job")
    spec = job["spec"]["template"]["spec"]
    c = spec["containers"][0]
    problems = []
    if c.get("command") or c.get("args") != ["migrate"]:
        problems.append("the Job runs %r %r, not the image's entrypoint with [migrate]"
                        % (c.get("command"), c.get("args")))
    if spec.get("restartPolicy") not in ("OnFailure", "Never"):
        problems.append("the Job's restartPolicy is %r" % spec.get("restartPolicy"))
    if "DOCKHAND_DATABASE_URL" not in env_of(docs, c):
        problems.append("the Job has no DOCKHAND_DATABASE_URL")
    if c["image"] != server(docs)["image"]:
        problems.append("the Job's image %s is not the server's %s" % (c["image"],
                                                                       server(docs)["image"]))
    return problems


def image_problems(docs, facts):
    """The manifests against docker/Dockerfile: image, entrypoint, command, user, ports,
    the keys directory."""
    problems = []
    if facts["entrypoint"] != ["dockhand"]:
        problems.append("the Dockerfile's ENTRYPOINT is %r" % facts["entrypoint"])
    user = facts["user"] or "root"
    if user in ("root", "0") or user.startswith("0:"):
        problems.append("the Dockerfile runs as %s" % user)
    for label, tpl in pod_templates(docs):
        spec = tpl["spec"]
        uid = spec.get("securityContext", {}).get("runAsUser")
        want = int(user) if user.isdigit() else facts["uid"]
        if want is not None and uid != want:
            problems.append("%s runs as uid %s, the image's user is %s" % (label, uid, want))
        for c in spec["containers"]:
            repo = c["image"].split("@")[0]
            if repo.rsplit("/", 1)[-1].split(":")[0] != IMAGE:
                problems.append("%s: image %s is not %s" % (label, c["image"], IMAGE))
            if c.get("command"):
                problems.append("%s: command replaces the image's ENTRYPOINT" % label)
    c = server(docs)
    if c.get("args") != facts["cmd"]:
        problems.append("the server runs %r, the image's CMD is %r" % (c.get("args"),
                                                                     facts["cmd"]))
    env = dict(facts["env"])
    env.update(env_of(docs, c))
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    if ports.get("http") not in facts["expose"]:
        problems.append("container port http %s is not EXPOSEd (%s)"
                        % (ports.get("http"), sorted(facts["expose"])))
    if "DOCKHAND_LISTEN" not in env or port_of(env["DOCKHAND_LISTEN"]) != ports.get("http"):
        problems.append("DOCKHAND_LISTEN %s does not serve container port http %s"
                        % (env.get("DOCKHAND_LISTEN"), ports.get("http")))
    if str(env.get("DOCKHAND_LISTEN", "")).rsplit(":", 1)[0] not in ("0.0.0.0", "[::]", ""):
        problems.append("DOCKHAND_LISTEN %s is not reachable from outside the pod"
                        % env.get("DOCKHAND_LISTEN"))
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    keys = [v["name"] for v in one(docs, "Deployment")["spec"]["template"]["spec"]
            .get("volumes", []) if v.get("secret", {}).get("secretName") == "dockhand-keys"]
    if not keys or mounts.get(keys[0]) != env.get("DOCKHAND_KEYS_DIR"):
        problems.append("the keys Secret is not mounted at DOCKHAND_KEYS_DIR %s"
                        % env.get("DOCKHAND_KEYS_DIR"))
    return problems


def wiring_problems(docs):
    """Service, PodDisruptionBudget and HorizontalPodAutoscaler point at the server pods."""
    problems = []
    dep = one(docs, "Deployment")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    job_labels = one(docs, "Job")["spec"]["template"]["metadata"].get("labels", {})
    if not matches(dep["spec"]["selector"]["matchLabels"], labels):
        problems.append("the Deployment's selector does not match its pods")
    svc = one(docs, "Service")
    if not matches(svc["spec"]["selector"], labels):
        problems.append("the Service does not select the server pods")
    if matches(svc["spec"]["selector"], job_labels):
        problems.append("the Service selects the migration Job's pod")
    names = {p.get("name") for p in server(docs).get("ports", [])}
    numbers = {p["containerPort"] for p in server(docs).get("ports", [])}
    for p in svc["spec"]["ports"]:
        if p["targetPort"] not in names | numbers:
            problems.append("Service port %s targets %s, not a container port"
                            % (p["name"], p["targetPort"]))
    pdb = one(docs, "PodDisruptionBudget")
    if not matches(pdb["spec"]["selector"]["matchLabels"], labels) or \
            matches(pdb["spec"]["selector"]["matchLabels"], job_labels):
        problems.append("the PodDisruptionBudget does not select exactly the server pods")
    hpa = one(docs, "HorizontalPodAutoscaler")
    ref = hpa["spec"]["scaleTargetRef"]
    if (ref["kind"], ref["name"]) != ("Deployment", dep["metadata"]["name"]):
        problems.append("the HorizontalPodAutoscaler scales %s/%s" % (ref["kind"], ref["name"]))
    lo, hi = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
    if lo < 2 or hi < lo:
        problems.append("replicas %s..%s: fewer than 2 cannot survive one pod's loss" % (lo, hi))
    if "minAvailable" in pdb["spec"] and pdb["spec"]["minAvailable"] >= lo:
        problems.append("the PodDisruptionBudget never lets a pod go at %s replicas" % lo)
    if "replicas" in dep["spec"]:
        problems.append("the Deployment sets replicas, which every apply resets under the "
                        "autoscaler")
    return problems


def metrics_problems(docs, monitor_docs):
    problems = []
    dep = one(docs, "Deployment")
    ann = dep["spec"]["template"]["metadata"].get("annotations", {})
    c = server(docs)
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    listen = env_of(docs, c).get("DOCKHAND_METRICS_LISTEN")
    if ann.get("prometheus.io/scrape") != "true":
        problems.append("the pods are not annotated prometheus.io/scrape: \"true\"")
    if "metrics" not in ports:
        problems.append("no container port named metrics")
    elif str(ports["metrics"]) != ann.get("prometheus.io/port"):
        problems.append("prometheus.io/port %s is not the metrics port %s"
                        % (ann.get("prometheus.io/port"), ports["metrics"]))
    if not listen or not listen.startswith("0.0.0.0:") or port_of(listen) != ports.get("metrics"):
        problems.append("DOCKHAND_METRICS_LISTEN %s does not serve the metrics port on every "
                        "address" % listen)
    if ann.get("prometheus.io/path") != "/metrics":
        problems.append("prometheus.io/path is %s" % ann.get("prometheus.io/path"))
    svc = one(docs, "Service")
    sm = one(monitor_docs, "ServiceMonitor")
    if not matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]):
        problems.append("the ServiceMonitor does not select the Service")
    for ep in sm["spec"]["endpoints"]:
        if ep["port"] not in {p["name"] for p in svc["spec"]["ports"]} or ep["port"] != "metrics":
            problems.append("the ServiceMonitor scrapes port %s" % ep["port"])
        if ep.get("path", "/metrics") != ann.get("prometheus.io/path"):
            problems.append("the ServiceMonitor scrapes %s" % ep.get("path"))
    return problems


def unit_problems(text, known, facts):
    entries = unit_entries(text)
    svc = {}
    for section, k, v in entries:
        if section == "Service":
            svc.setdefault(k, []).append(v)
    problems = []
    for k, want in UNIT_HARDENING.items():
        if svc.get(k, [None])[-1] != want:
            problems.append("%s=%s, want %s" % (k, svc.get(k, [None])[-1], want))
    user = svc.get("User", [""])[-1]
    if svc.get("DynamicUser", ["no"])[-1] != "yes" and user in ("", "root", "0"):
        problems.append("runs as root (no User= and no DynamicUser=yes)")
    reload_ = " ".join(svc.get("ExecReload", []))
    if not re.search(r"kill -(HUP|s HUP|SIGHUP) \$MAINPID", reload_):
        problems.append("ExecReload=%s does not send SIGHUP to $MAINPID" % reload_)
    start = svc.get("ExecStart", [""])[-1].split()
    if start[:1] != [facts["binary"]] or start[1:] != ["serve"]:
        problems.append("ExecStart=%s, want %s serve (the image's path)"
                        % (" ".join(start), facts["binary"]))
    stop = svc.get("TimeoutStopSec", ["90"])[-1]
    if not stop.isdigit() or int(stop) <= DRAIN_LIMIT_S:
        problems.append("TimeoutStopSec=%s is not above the %s s drain" % (stop, DRAIN_LIMIT_S))
    for v in svc.get("Environment", []):
        for assignment in v.split():
            name = assignment.split("=", 1)[0].strip('"')
            if name not in known:
                problems.append("Environment= sets %s, not a dockhand setting" % name)
    for name in sorted(set(SETTING_NAME.findall(text)) - known):
        problems.append("the unit names %s, not a dockhand setting" % name)
    return problems


def analyze_verify(unit_text, bin_, tmp_path):
    """`systemd-analyze verify` on a copy whose ExecStart binary is the built one (verify
    wants the file to exist); returns (status, output)."""
    path = os.path.join(str(tmp_path), "dockhand.service")
    with open(path, "w") as f:
        f.write(unit_text.replace("/usr/local/bin/dockhand", bin_))
    p = run([tool("systemd-analyze"), "verify", path])
    return p.returncode, (p.stdout + p.stderr).strip(), path


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def docs():
    return render(K8S)


@pytest.fixture(scope="module")
def monitor_docs():
    return render(MONITORING)


@pytest.fixture(scope="module")
def facts():
    with open(DOCKERFILE) as f:
        return dockerfile_facts(f.read())


@pytest.fixture(scope="module")
def real_settings(dockhand_bin):
    return help_settings(dockhand_bin)


@pytest.fixture(scope="module")
def known(real_settings):
    return real_settings


def text(path):
    with open(path) as f:
        return f.read()


def k8s_sources():
    out = {}
    for d, _, files in os.walk(K8S):
        for name in files:
            if name.endswith((".yaml", ".yml")):
                p = os.path.join(d, name)
                out[os.path.relpath(p, ROOT)] = text(p)
    return out


def secret_volume(secret, dest, mode=0o440, stamp="..2026_01_01_00_00_00.000000001"):
    """Lays a Secret out as the kubelet mounts it: the files in a timestamped directory,
    `..data` pointing at it, and one symlink per key through `..data`. Called again with a
    new stamp, it swaps `..data` atomically, as the kubelet does when the Secret changes."""
    os.makedirs(os.path.join(dest, stamp))
    for name, b64 in secret["data"].items():
        p = os.path.join(dest, stamp, name)
        with open(p, "wb") as f:
            f.write(base64.b64decode(b64))
        os.chmod(p, mode)
    tmp = os.path.join(dest, "..data_tmp")
    os.symlink(stamp, tmp)
    os.replace(tmp, os.path.join(dest, "..data"))
    for name in secret["data"]:
        link = os.path.join(dest, name)
        if not os.path.islink(link):
            os.symlink(os.path.join("..data", name), link)


def keys_secret(bin_, keys_dir):
    """The README's steps: `dockhand keygen --keys-dir DIR`, then the Secret that
    `kubectl create secret generic dockhand-keys --from-file=DIR/` makes (client side)."""
    p = run([bin_, "keygen", "--keys-dir", keys_dir], env=dh.base_env())
    assert p.returncode == 0, p.stderr
    p = run([tool("kubectl"), "create", "secret", "generic", "dockhand-keys",
             "--from-file=%s/" % keys_dir, "--dry-run=client", "-o", "yaml"])
    assert p.returncode == 0, p.stderr
    return yaml.safe_load(p.stdout)


# ----------------------------------------------------------------------------- tests

def test_kustomize_renders_the_base_and_the_monitoring_part(docs, monitor_docs):
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Job",
                            "PodDisruptionBudget", "Service"]), kinds
    assert [d["kind"] for d in monitor_docs] == ["ServiceMonitor"]
    # The CRD may be absent from a cluster: the ServiceMonitor is not in the base.
    assert "servicemonitor" not in text(os.path.join(K8S, "kustomization.yaml")).lower()


def test_kinds_and_the_documented_external_secrets(docs):
    assert kinds_problems(docs, text(os.path.join(K8S, "kustomization.yaml")),
                          text(README)) == []


def test_security_context_and_resources(docs):
    assert security_problems(docs) == []


def test_every_environment_variable_is_a_setting(docs, known):
    assert env_problems(docs, known, k8s_sources()) == []


def test_grace_period_outlasts_the_drain(docs):
    assert grace_problems(docs) == []


def test_image_entrypoint_user_and_ports_agree_with_the_dockerfile(docs, facts):
    assert facts["expose"] and facts["binary"], facts
    assert image_problems(docs, facts) == []


def test_service_pdb_and_autoscaler_select_the_server(docs):
    assert wiring_problems(docs) == []


def test_metrics_port_annotations_and_servicemonitor(docs, monitor_docs):
    assert metrics_problems(docs, monitor_docs) == []


def test_probes_answer_on_dockhand_run_with_the_manifests_settings(
        docs, real_settings, dockhand_factory, dockhand_bin, tmp_path):
    """dockhand started with the Deployment's own settings (where they do not name the
    cluster: the listen addresses and the database are the test's) and its keys in a
    directory laid out like the mounted Secret: both probes answer 200, and a key added
    to the Secret is picked up by SIGHUP through the kubelet's ..data swap."""
    env = {k: v for k, v in env_of(docs, server(docs)).items() if isinstance(v, str)}
    env.pop("DOCKHAND_DATABASE_URL", None)
    env.pop("DOCKHAND_KEYS_DIR", None)  # the mount path: image_problems checks it
    env["DOCKHAND_LISTEN"] = "127.0.0.1:%d" % free_port()
    env["DOCKHAND_METRICS_LISTEN"] = "127.0.0.1:%d" % free_port()
    made = str(tmp_path / "keygen")
    mounted = str(tmp_path / "keys")
    secret_volume(keys_secret(dockhand_bin, made), mounted)
    assert os.path.islink(os.path.join(mounted, "..data"))
    d = dockhand_factory(keys_dir=mounted, **env)

    assert probe_problems(docs, lambda path: requests.get(d.url + path, timeout=10)
                          .status_code) == []
    assert requests.get(d.url + "/readyz", timeout=10).json()["keys"] == 1
    ann = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    r = requests.get("http://%s%s" % (env["DOCKHAND_METRICS_LISTEN"], ann["prometheus.io/path"]),
                     timeout=10)
    assert r.status_code == 200, r.text[:200]

    # A second key in the Secret: the kubelet writes a new timestamped directory and swaps
    # ..data; dockhand reads it on SIGHUP (what `kill -HUP 1` in the pod does).
    secret_volume(keys_secret(dockhand_bin, made), mounted,
                  stamp="..2026_01_02_00_00_00.000000002")
    d.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while requests.get(d.url + "/readyz", timeout=10).json().get("keys") != 2:
        assert time.monotonic() < deadline, d.log_tail()
        time.sleep(0.05)


def test_migration_job_migrates_a_fresh_database(docs, dockhand_factory):
    assert job_problems(docs) == []
    c = one(docs, "Job")["spec"]["template"]["spec"]["containers"][0]
    d = dockhand_factory(migrate=False, start=False)
    env = dh.base_env()
    env["DOCKHAND_DATABASE_URL"] = d.env["DOCKHAND_DATABASE_URL"]
    p = run([d.bin] + c["args"], env=env)
    assert p.returncode == 0, p.stderr
    d.start()  # serve refuses an older schema: it starts, so the Job did its work


def test_systemd_unit_verifies_and_is_hardened(dockhand_bin, known, facts, tmp_path):
    unit = text(UNIT)
    assert unit_problems(unit, known, facts) == []
    status, out, path = analyze_verify(unit, dockhand_bin, tmp_path)
    assert status == 0 and out == "", out
    p = run([tool("systemd-analyze"), "security", "--offline=true", "--no-pager", path])
    m = re.search(r"Overall exposure level for dockhand\.service: ([0-9.]+)", p.stdout)
    assert p.returncode == 0 and m, p.stdout + p.stderr
    assert float(m.group(1)) <= SECURITY_EXPOSURE_MAX, p.stdout


def test_checkers_catch_broken_manifests(docs, monitor_docs, known, facts):
    """Each checker reports a broken copy of the manifests: the tests above cannot pass
    vacuously."""
    def broken(change):
        d = copy.deepcopy(docs)
        change(d)
        return d

    def pod(d, kind="Deployment"):
        return one(d, kind)["spec"]["template"]["spec"]

    def liveness(d, path):
        server(d)["livenessProbe"]["httpGet"]["path"] = path

    def unknown_env(d):
        server(d)["env"].append({"name": "DOCKHAND_NO_SUCH_SETTING", "value": "1"})

    def unknown_in_configmap(d):
        one(d, "ConfigMap")["data"]["DOCKHAND_LISTEN_ADDR"] = "0.0.0.0:5001"

    def port(d, n):
        server(d)["ports"][0]["containerPort"] = n

    cases = [
        # (what, change, checker)
        ("wrong liveness path", lambda d: liveness(d, "/health"),
         lambda d: probe_problems(d, lambda p: 200 if p in ("/healthz", "/readyz") else 404)),
        ("liveness on readiness", lambda d: liveness(d, "/readyz"),
         lambda d: probe_problems(d, lambda p: 200)),
        ("a path dockhand does not answer", lambda d: None,
         lambda d: probe_problems(d, lambda p: 404)),
        ("probe on the metrics port",
         lambda d: server(d)["readinessProbe"]["httpGet"].update(port="metrics"),
         lambda d: probe_problems(d, lambda p: 200)),
        ("unknown env var", unknown_env, lambda d: env_problems(d, known, {})),
        ("unknown ConfigMap setting", unknown_in_configmap, lambda d: env_problems(d, known, {})),
        ("unknown name in a comment", lambda d: None,
         lambda d: env_problems(d, known, {"x.yaml": "# set DOCKHAND_KEY_DIR=/keys"})),
        ("root", lambda d: pod(d)["securityContext"].update(runAsNonRoot=False),
         security_problems),
        ("writable root fs",
         lambda d: server(d)["securityContext"].update(readOnlyRootFilesystem=False),
         security_problems),
        ("privilege escalation in the Job",
         lambda d: pod(d, "Job")["containers"][0]["securityContext"].pop(
             "allowPrivilegeEscalation"), security_problems),
        ("a capability kept",
         lambda d: server(d)["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
         security_problems),
        ("no memory limit", lambda d: server(d)["resources"]["limits"].pop("memory"),
         security_problems),
        ("service links", lambda d: pod(d).pop("enableServiceLinks"), security_problems),
        ("short grace", lambda d: pod(d).update(terminationGracePeriodSeconds=12),
         grace_problems),
        ("Job runs serve", lambda d: pod(d, "Job")["containers"][0].update(args=["serve"]),
         job_problems),
        ("Job overrides the entrypoint",
         lambda d: pod(d, "Job")["containers"][0].update(command=["/bin/sh"]), job_problems),
        ("container port not exposed", lambda d: port(d, 8080),
         lambda d: image_problems(d, facts)),
        ("listen port differs",
         lambda d: [e.update(value="0.0.0.0:5002") for e in server(d)["env"]
                    if e["name"] == "DOCKHAND_LISTEN"],
         lambda d: image_problems(d, facts)),
        ("loopback listen",
         lambda d: [e.update(value="127.0.0.1:5001") for e in server(d)["env"]
                    if e["name"] == "DOCKHAND_LISTEN"],
         lambda d: image_problems(d, facts)),
        ("another image", lambda d: server(d).update(image="nginx:1.25"),
         lambda d: image_problems(d, facts)),
        ("keys mounted elsewhere",
         lambda d: server(d)["volumeMounts"][0].update(mountPath="/etc/keys"),
         lambda d: image_problems(d, facts)),
        ("Service selects nothing",
         lambda d: one(d, "Service")["spec"].update(selector={"app": "other"}), wiring_problems),
        ("Service selects the Job too",
         lambda d: one(d, "Service")["spec"].update(
             selector={"app.kubernetes.io/name": "dockhand"}), wiring_problems),
        ("one replica", lambda d: one(d, "HorizontalPodAutoscaler")["spec"].update(
            minReplicas=1), wiring_problems),
        ("replicas fixed", lambda d: one(d, "Deployment")["spec"].update(replicas=3),
         wiring_problems),
        ("metrics annotation port",
         lambda d: one(d, "Deployment")["spec"]["template"]["metadata"]["annotations"].update(
             {"prometheus.io/port": "5001"}), lambda d: metrics_problems(d, monitor_docs)),
        ("metrics on loopback",
         lambda d: [e.update(value="127.0.0.1:9464") for e in server(d)["env"]
                    if e["name"] == "DOCKHAND_METRICS_LISTEN"],
         lambda d: metrics_problems(d, monitor_docs)),
        ("no Service", lambda d: d.remove(one(d, "Service")),
         lambda d: kinds_problems(d, "", "")),
        ("undocumented Secret",
         lambda d: pod(d)["volumes"][0]["secret"].update(secretName="other-keys"),
         lambda d: kinds_problems(d, text(os.path.join(K8S, "kustomization.yaml")),
                                  text(README))),
    ]
    for what, change, checker in cases:
        assert checker(broken(change)), "a broken manifest passed its checker: " + what
    # ... and the unbroken ones pass each checker used above.
    assert probe_problems(docs, lambda p: 200) == []
    assert not (security_problems(docs) or grace_problems(docs) or job_problems(docs)
                or wiring_problems(docs) or image_problems(docs, facts)
                or metrics_problems(docs, monitor_docs) or env_problems(docs, known, {}))


def test_checkers_catch_a_broken_unit(dockhand_bin, known, facts, tmp_path):
    unit = text(UNIT)
    cases = [
        ("ProtectSystem=strict", "ProtectSystem=full"),
        ("NoNewPrivileges=yes", "NoNewPrivileges=no"),
        ("PrivateTmp=yes\n", ""),
        ("\nUser=dockhand", "\nUser=root"),
        ("ExecReload=/bin/kill -HUP $MAINPID", "ExecReload=/bin/kill -TERM $MAINPID"),
        ("TimeoutStopSec=20", "TimeoutStopSec=5"),
        ("Environment=DOCKHAND_KEYS_DIR=", "Environment=DOCKHAND_KEY_DIR="),
        ("#   DOCKHAND_LISTEN=", "#   DOCKHAND_LISTEN_ON="),
        ("ExecStart=/usr/local/bin/dockhand serve", "ExecStart=/usr/local/bin/dockhand"),
    ]
    for old, new in cases:
        assert old in unit, old
        assert unit_problems(unit.replace(old, new, 1), known, facts), \
            "a broken unit passed: %s -> %s" % (old, new)
    # systemd-analyze verify speaks up about a typo it would ignore at run time.
    status, out, _ = analyze_verify(unit.replace("ProtectSystem=strict", "ProtectSystem=strct"),
                                    dockhand_bin, tmp_path)
    assert "strct" in out, out
