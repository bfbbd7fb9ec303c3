#!/usr/bin/env python3
"""Checks the Kubernetes manifests under config/kubernetes.

  scripts/check-manifests.py [--root DIR] [--agent PATH]

Always (needs only Python and PyYAML):
  * every YAML file parses, and every one is used: a kustomization, a resource, a patch or a
    file a configMapGenerator reads;
  * every kustomization's resources, components, patches and generator files exist;
  * every object has apiVersion, kind and metadata.name, and metadata.namespace when the kind is
    namespaced; Deployments and StatefulSets select their own template's labels; containers have
    an image, args, liveness and readiness probes on a declared port, and mount only volumes the
    pod has; the agent's --config.file lies on a ConfigMap volume and its --storage.path on a
    volume (the root filesystem is read-only); a workload whose pod template a kustomization's
    `replacements` copies in (variants/sharded) is checked once rendered;
  * with the agent binary (--agent, $AGENT_BINARY or .build/debug/agent, when it exists): each
    entry point's agent configuration passes `agent config check --config.expand-env` with that
    entry point's environment (its configMapGenerator literals, the pod's env).
With kustomize (a `kustomize` v5 binary, or `kubectl kustomize` with kustomize v5; without one
this is an error, not a skip: scripts/install-deps.sh test installs kubectl):
  * `kustomize build` of the base, every overlay and variant, and the base with every component
    (through a small kustomization made for it), in a copy of the tree whose base `images:`
    points the agent's image at a probe name, succeeds and its output passes the object checks
    above plus:
    - cross-references: ConfigMaps, ServiceAccount, claims, Services' selectors, the
      ClusterRoleBinding's subject and role;
    - every container runs the probe image (one image setting reaches every variant);
    - the agent configuration's ConfigMap keeps its generator's name (no content hash: an edit
      is reloaded by --config.auto-reload-interval, which the agent must have), while the
      environment's ConfigMaps are hashed (a change rolls the pod);
    - the WAL's cap (wal.max_size, expanded) is at most 90 % of the WAL volume's size and at
      least half of it;
    - nodes/proxy is granted exactly when KUBELET_ROUTE=apiserver-proxy;
    - with the agent binary, the configuration in the rendered ConfigMap passes
      `agent config check --config.expand-env` with the rendered pod's environment.
Exits 0 when everything checked passes, 1 otherwise, 2 when it cannot run (no PyYAML).
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.stderr.write("check-manifests: PyYAML is missing (Debian: apt-get install python3-yaml; pip: PyYAML)\n")
    sys.exit(2)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    "APIService", "Node",
}
KUSTOMIZE_KINDS = {"Kustomization", "Component"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}


class Checker:
    def __init__(self):
        self.errors = []
        self.notes = []

    def error(self, where, message):
        self.errors.append(f"{where}: {message}")

    # --- files -----------------------------------------------------------------------------

    def load(self, path):
        """The documents of a YAML file (None entries dropped), or None after an error."""
        try:
            with open(path, encoding="utf-8") as f:
                return [d for d in yaml.safe_load_all(f) if d is not None]
        except (OSError, yaml.YAMLError) as e:
            self.error(path, f"does not parse: {e}")
            return None

    # --- objects ---------------------------------------------------------------------------

    def check_object(self, where, obj, partial=False, template_copied=False):
        """apiVersion, kind, metadata.name, namespace; workload checks unless a patch (and only
        the selector when the pod template is copied in by a replacement)."""
        if not isinstance(obj, dict):
            self.error(where, "a document that is not a mapping")
            return
        for key in ("apiVersion", "kind"):
            if not isinstance(obj.get(key), str) or not obj.get(key):
                self.error(where, f"missing {key}")
        meta = obj.get("metadata")
        kind = obj.get("kind", "?")
        if not isinstance(meta, dict) or not meta.get("name"):
            self.error(where, f"{kind}: missing metadata.name")
            return
        where = f"{where}: {kind}/{meta['name']}"
        if partial:
            return
        if kind not in CLUSTER_SCOPED and kind not in KUSTOMIZE_KINDS and not meta.get("namespace"):
            self.error(where, "namespaced kind without metadata.namespace")
        if kind in CLUSTER_SCOPED and meta.get("namespace"):
            self.error(where, "cluster-scoped kind with metadata.namespace")
        if kind in WORKLOADS:
            self.check_workload(where, obj, template_copied)

    def check_workload(self, where, obj, template_copied=False):
        spec = obj.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not selector:
            self.error(where, "no spec.selector.matchLabels")
        if template_copied:
            if template:
                self.error(where, "has a pod template of its own, and a replacement overwrites it")
            return
        for key, value in selector.items():
            if labels.get(key) != value:
                self.error(where, f"selector {key}={value} does not match the template's labels {labels}")
        pod = template.get("spec") or {}
        containers = pod.get("containers") or []
        if not containers:
            self.error(where, "no containers")
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        claims = {(c.get("metadata") or {}).get("name") for c in spec.get("volumeClaimTemplates") or []}
        pod_security = pod.get("securityContext") or {}
        for c in containers:
            cw = f"{where}: container {c.get('name')}"
            if not c.get("image"):
                self.error(cw, "no image")
            if not c.get("args"):
                self.error(cw, "no args")
            ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
            for probe in ("livenessProbe", "readinessProbe"):
                p = c.get(probe)
                if not p:
                    self.error(cw, f"no {probe}")
                    continue
                http = p.get("httpGet") or {}
                port = http.get("port")
                if isinstance(port, str) and port not in ports:
                    self.error(cw, f"{probe} port {port!r} is not a declared container port")
                if isinstance(port, int) and port not in ports.values():
                    self.error(cw, f"{probe} port {port} is not a declared container port")
            mounts = {}
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in volumes and m.get("name") not in claims:
                    self.error(cw, f"mounts volume {m.get('name')!r} the pod does not have")
                mounts[m.get("mountPath", "").rstrip("/")] = m.get("name")
            security = c.get("securityContext") or {}
            if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
                self.error(cw, "runAsNonRoot is not set")
            args = agent_args(c)
            if args is None:
                continue
            config_file, storage = args.get("--config.file"), args.get("--storage.path")
            if not config_file:
                self.error(cw, "agent without --config.file")
            else:
                directory = os.path.dirname(config_file)
                volume = volumes.get(mounts.get(directory))
                if not volume or "configMap" not in volume:
                    self.error(cw, f"--config.file={config_file}: {directory} is not a mounted ConfigMap")
            if not storage:
                self.error(cw, "agent without --storage.path")
            elif security.get("readOnlyRootFilesystem") and not any(
                storage == m or storage.startswith(m + "/") for m in mounts if m
            ):
                self.error(cw, f"--storage.path={storage} is on the read-only root filesystem")

    # --- rendered output -------------------------------------------------------------------

    def check_rendered(self, where, objects):
        for obj in objects:
            self.check_object(where, obj)
        by_kind = {}
        for obj in objects:
            meta = obj.get("metadata") or {}
            by_kind.setdefault(obj.get("kind"), {})[(meta.get("namespace"), meta.get("name"))] = obj
        names = lambda kind: by_kind.get(kind, {})  # noqa: E731
        namespaces = {name for (_, name) in names("Namespace")}
        for kind, objs in by_kind.items():
            for (ns, name) in objs:
                if ns and namespaces and ns not in namespaces:
                    self.error(where, f"{kind}/{name} in namespace {ns}, which the output does not create")
        for (_, name), binding in names("ClusterRoleBinding").items():
            role = (binding.get("roleRef") or {}).get("name")
            if (None, role) not in names("ClusterRole"):
                self.error(where, f"ClusterRoleBinding/{name} refers to ClusterRole {role!r}, not in the output")
            for s in binding.get("subjects") or []:
                if s.get("kind") == "ServiceAccount" and (s.get("namespace"), s.get("name")) not in names("ServiceAccount"):
                    self.error(where, f"ClusterRoleBinding/{name}: no ServiceAccount {s.get('namespace')}/{s.get('name')}")
        pod_labels = []
        for kind in WORKLOADS:
            for (ns, name), w in names(kind).items():
                ww = f"{where}: {kind}/{name}"
                template = (w.get("spec") or {}).get("template") or {}
                pod_labels.append((ns, (template.get("metadata") or {}).get("labels") or {}))
                pod = template.get("spec") or {}
                sa = pod.get("serviceAccountName")
                if sa and (ns, sa) not in names("ServiceAccount"):
                    self.error(ww, f"serviceAccountName {sa!r} is not in the output")
                for v in pod.get("volumes") or []:
                    cm = (v.get("configMap") or {}).get("name")
                    if cm and (ns, cm) not in names("ConfigMap"):
                        self.error(ww, f"volume {v.get('name')}: ConfigMap {cm!r} is not in the output")
                    claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
                    if claim and (ns, claim) not in names("PersistentVolumeClaim"):
                        self.error(ww, f"volume {v.get('name')}: PersistentVolumeClaim {claim!r} is not in the output")
                    if len([k for k in v if k != "name"]) != 1:
                        self.error(ww, f"volume {v.get('name')} has {len(v) - 1} sources")
                for c in pod.get("containers") or []:
                    for e in c.get("envFrom") or []:
                        cm = (e.get("configMapRef") or {}).get("name")
                        if cm and (ns, cm) not in names("ConfigMap"):
                            self.error(ww, f"envFrom ConfigMap {cm!r} is not in the output")
                if kind == "StatefulSet":
                    governing = (w.get("spec") or {}).get("serviceName")
                    if (ns, governing) not in names("Service"):
                        self.error(ww, f"serviceName {governing!r} is not in the output")
        for (ns, name), svc in names("Service").items():
            selector = (svc.get("spec") or {}).get("selector") or {}
            if selector and not any(
                pns == ns and all(labels.get(k) == v for k, v in selector.items()) for pns, labels in pod_labels
            ):
                self.error(where, f"Service/{name} selects {selector}, which no workload's pods carry")


def agent_args(container):
    """The agent's `--flag=value` arguments (from args, or a `sh -c` script), or None if the
    container does not run `agent run`."""
    words = list(container.get("command") or []) + list(container.get("args") or [])
    if len(words) >= 3 and words[0].endswith("sh") and words[1] == "-c":
        words = shlex.split(words[2])
    if "run" not in words or not any(w.startswith("--config.file") for w in words):
        return None
    flags = {}
    for w in words:
        if w.startswith("--"):
            key, _, value = w.partition("=")
            flags[key] = value
    return flags


# --- kustomizations ----------------------------------------------------------------------------

class Kustomization:
    """One kustomization.yaml and what it reads, resolved against the file system."""

    def __init__(self, checker, directory):
        self.directory = directory
        self.path = os.path.join(directory, "kustomization.yaml")
        docs = checker.load(self.path) or [{}]
        self.doc = docs[0] if isinstance(docs[0], dict) else {}
        self.kind = self.doc.get("kind", "Kustomization")
        self.resource_files, self.resource_dirs, self.patch_files, self.generator_files = [], [], [], []
        self.component_dirs = []
        # (kind, name) of the objects whose spec.template a replacement fills in.
        self.template_targets = set()
        for replacement in self.doc.get("replacements") or []:
            for target in replacement.get("targets") or []:
                select = target.get("select") or {}
                if "spec.template" in (target.get("fieldPaths") or []):
                    self.template_targets.add((select.get("kind"), select.get("name")))
        # Generators whose names keep no content hash.
        self.stable_generators = set()
        for generator in self.doc.get("configMapGenerator") or []:
            if ((generator.get("options") or {}).get("disableNameSuffixHash")
                    or (self.doc.get("generatorOptions") or {}).get("disableNameSuffixHash")):
                self.stable_generators.add(generator.get("name"))
        for entry in self.doc.get("resources") or []:
            target = os.path.normpath(os.path.join(directory, entry))
            if os.path.isdir(target):
                if not os.path.exists(os.path.join(target, "kustomization.yaml")):
                    checker.error(self.path, f"resource {entry}: a directory without kustomization.yaml")
                self.resource_dirs.append(target)
            elif os.path.isfile(target):
                self.resource_files.append(target)
            else:
                checker.error(self.path, f"resource {entry} does not exist")
        for entry in self.doc.get("components") or []:
            target = os.path.normpath(os.path.join(directory, entry))
            if not os.path.exists(os.path.join(target, "kustomization.yaml")):
                checker.error(self.path, f"component {entry} does not exist")
            else:
                self.component_dirs.append(target)
        for patch in self.doc.get("patches") or []:
            if "path" in patch:
                target = os.path.normpath(os.path.join(directory, patch["path"]))
                if os.path.isfile(target):
                    self.patch_files.append(target)
                else:
                    checker.error(self.path, f"patch {patch['path']} does not exist")
            elif "patch" in patch:
                try:
                    inline = yaml.safe_load(patch["patch"])
                except yaml.YAMLError as e:
                    checker.error(self.path, f"inline patch does not parse: {e}")
                    continue
                if isinstance(inline, dict):
                    checker.check_object(f"{self.path} (inline patch)", inline, partial=True)
            else:
                checker.error(self.path, "a patch with neither path nor patch")
        self.literals = {}  # generator name -> {key: value}
        self.behaviors = {}
        for generator in self.doc.get("configMapGenerator") or []:
            name = generator.get("name")
            self.behaviors[name] = generator.get("behavior", "create")
            values = self.literals.setdefault(name, {})
            for literal in generator.get("literals") or []:
                key, _, value = literal.partition("=")
                values[key] = value
            for entry in generator.get("files") or []:
                key, _, file = entry.rpartition("=")
                target = os.path.normpath(os.path.join(directory, file))
                if not os.path.isfile(target):
                    checker.error(self.path, f"configMapGenerator {name}: file {file} does not exist")
                    continue
                self.generator_files.append(target)
                values[key or os.path.basename(file)] = ("file", target)

    def env_and_files(self, all_kustomizations):
        """The generated ConfigMaps' contents through the resource chain (base first, merges
        applied), as {name: {key: value or ("file", path)}}."""
        merged = {}
        for d in self.resource_dirs + self.component_dirs:
            if d in all_kustomizations:
                for name, values in all_kustomizations[d].env_and_files(all_kustomizations).items():
                    merged.setdefault(name, {}).update(values)
        for name, values in self.literals.items():
            if self.behaviors.get(name) == "replace":
                merged[name] = dict(values)
            else:
                merged.setdefault(name, {}).update(values)
        return merged

    def objects(self, checker, all_kustomizations):
        """The raw objects of this kustomization and its bases (patches not applied)."""
        objs = []
        for d in self.resource_dirs + self.component_dirs:
            if d in all_kustomizations:
                objs += all_kustomizations[d].objects(checker, all_kustomizations)
        for f in self.resource_files:
            objs += checker.load(f) or []
        return objs


def find_kustomize():
    """(argv prefix, version) of a kustomize v5 builder, or (None, why not)."""
    if shutil.which("kustomize"):
        out = subprocess.run(["kustomize", "version"], capture_output=True, text=True).stdout
        match = re.search(r"v?(\d+)\.\d+\.\d+", out)
        if match and int(match.group(1)) >= 5:
            return ["kustomize", "build", "--load-restrictor", "LoadRestrictionsNone"], out.strip()
    if shutil.which("kubectl"):
        result = subprocess.run(["kubectl", "version", "--client", "-o", "json"], capture_output=True, text=True)
        try:
            version = json.loads(result.stdout).get("kustomizeVersion", "")
        except ValueError:
            version = ""
        match = re.match(r"v?(\d+)\.", version)
        if match and int(match.group(1)) >= 5:
            return ["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone"], f"kubectl kustomize {version}"
        return None, f"kubectl's kustomize is {version or 'unknown'}, not v5"
    return None, "neither kustomize nor kubectl is on PATH"


def pod_environment(objects, configmaps):
    """The environment of the first agent container in `objects`, as the kubelet would give it
    (downward-API fields as for replica 0), and the agent's flags. The last such workload
    wins: in a variant's raw objects, the variant's own comes after its base's."""
    for obj in reversed(objects):
        if obj.get("kind") not in WORKLOADS:
            continue
        pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for c in pod.get("containers") or []:
            args = agent_args(c)
            if args is None:
                continue
            env = {}
            for e in c.get("envFrom") or []:
                env.update(configmaps.get((e.get("configMapRef") or {}).get("name"), {}))
            name = obj["metadata"]["name"]
            fields = {
                "metadata.name": f"{name}-0", "metadata.namespace": obj["metadata"].get("namespace", "default"),
                "metadata.labels['apps.kubernetes.io/pod-index']": "0",
            }
            for e in c.get("env") or []:
                if "value" in e:
                    env[e["name"]] = str(e["value"])
                else:
                    path = ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
                    env[e["name"]] = fields.get(path, "x")
            return env, args
    return None, None


def run_agent_check(checker, agent, where, text, env):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "agent.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        full_env.update(env)
        result = subprocess.run([agent, "config", "check", "--config.expand-env", path],
                                capture_output=True, text=True, env=full_env, timeout=120)
    if result.returncode != 0:
        checker.error(where, f"agent config check failed ({result.returncode}) with env {env}:\n{result.stdout}{result.stderr}")
    else:
        checker.notes.append(f"ok    agent config check: {where}")


# --- the deployment's contract, on rendered output ----------------------------------------------

PROBE_IMAGE_NAME, PROBE_IMAGE_TAG = "registry.example.test/metrics-agent", "manifest-check"
QUANTITY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "": 1}
AGENT_SIZE = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "B": 1, "": 1}


def parse_quantity(text):
    """Bytes in a Kubernetes quantity (5Gi, 500M), or None."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|)", str(text).strip())
    return int(float(match.group(1)) * QUANTITY[match.group(2)]) if match else None


def parse_agent_size(text):
    """Bytes in an agent size (1GiB, 512MB, as AgentConfig's ByteSize reads them), or None."""
    match = re.fullmatch(r"(\d+)(KiB|MiB|GiB|TiB|KB|MB|GB|TB|B|)", str(text).strip())
    return int(match.group(1)) * AGENT_SIZE[match.group(2)] if match else None


def expand_env(text, env):
    """--config.expand-env's ${VAR} and ${VAR:-default} (and $$ → $)."""
    def one(match):
        if match.group(0) == "$$":
            return "$"
        value = env.get(match.group(1), "")
        return value if value or match.group(2) is None else match.group(2)
    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}", one, text)


def wal_max_size(config_text, env):
    """The expanded wal.max_size in bytes (the agent's default 1GiB without one)."""
    try:
        config = yaml.safe_load(expand_env(config_text, env)) or {}
    except yaml.YAMLError:
        return None
    value = (config.get("wal") or {}).get("max_size", "1GiB")
    return parse_agent_size(value)


def check_contract(checker, label, objects, env, args, stable_generators):
    """The deployment's own rules on one rendered output (see the module's docstring)."""
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj.get("kind"), []).append(obj)
    expected_image = f"{PROBE_IMAGE_NAME}:{PROBE_IMAGE_TAG}"
    for w in [o for kind in WORKLOADS for o in by_kind.get(kind, [])]:
        pod = ((w.get("spec") or {}).get("template") or {}).get("spec") or {}
        for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
            if c.get("image") != expected_image:
                checker.error(label, f"{w['kind']}/{w['metadata']['name']} container {c.get('name')} runs "
                              f"{c.get('image')!r}, not the configured image {expected_image!r}")
    workload = next((o for kind in WORKLOADS for o in by_kind.get(kind, [])
                     if any(agent_args(c) is not None for c in
                            ((o.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [])), None)
    if workload is None:
        return
    spec = workload.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    container = next(c for c in pod.get("containers") or [] if agent_args(c) is not None)
    mounts = {m.get("mountPath", "").rstrip("/"): m.get("name") for m in container.get("volumeMounts") or []}
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}

    # Configuration: a stable ConfigMap name and the agent polling it; environments hashed.
    config_volume = volumes.get(mounts.get(os.path.dirname(args.get("--config.file", "")))) or {}
    config_map = (config_volume.get("configMap") or {}).get("name", "")
    hashed_from = next((g for g in stable_generators | {"metrics-agent-config", "metrics-agent-env"}
                        if config_map.startswith(g + "-")), None)
    if hashed_from:
        checker.error(label, f"the configuration's ConfigMap {config_map!r} carries a content hash: an edit would "
                      f"roll the pod instead of being reloaded (options: disableNameSuffixHash: true)")
    interval = args.get("--config.auto-reload-interval", "")
    if not re.fullmatch(r"[1-9]\d*(ms|s|m|h)", interval):
        checker.error(label, f"the agent runs without --config.auto-reload-interval (got {interval!r}): "
                      f"an edited ConfigMap would never be applied")
    for e in container.get("envFrom") or []:
        name = (e.get("configMapRef") or {}).get("name", "")
        if name in stable_generators or not re.search(r"-[a-z0-9]{10}$", name):
            checker.error(label, f"envFrom ConfigMap {name!r} has no content hash: a change would not roll the pod")

    # The WAL's cap against its volume.
    text = next(((cm.get("data") or {}).get(os.path.basename(args.get("--config.file", "")))
                 for cm in by_kind.get("ConfigMap", []) if cm["metadata"]["name"] == config_map), None)
    data_volume = mounts.get(args.get("--storage.path", "").rstrip("/"))
    volume_size = None
    volume = volumes.get(data_volume) or {}
    if "emptyDir" in volume:
        volume_size = parse_quantity((volume.get("emptyDir") or {}).get("sizeLimit", ""))
    elif "persistentVolumeClaim" in volume:
        claim = volume["persistentVolumeClaim"].get("claimName")
        pvc = next((o for o in by_kind.get("PersistentVolumeClaim", []) if o["metadata"]["name"] == claim), {})
        volume_size = parse_quantity((((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", ""))
    else:
        template = next((t for t in spec.get("volumeClaimTemplates") or [] if t["metadata"]["name"] == data_volume), None)
        if template:
            volume_size = parse_quantity((((template.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", ""))
    cap = wal_max_size(text, env) if text is not None else None
    if volume_size is None or cap is None:
        checker.error(label, f"cannot compare the WAL's cap ({cap}) with its volume {data_volume!r} ({volume_size})")
    elif not volume_size // 2 <= cap <= volume_size * 9 // 10:
        checker.error(label, f"wal.max_size is {cap} bytes on a {volume_size}-byte volume {data_volume!r}: "
                      f"keep it between half and 90 % of the volume")

    # nodes/proxy exactly when the kubelets are scraped through the API server.
    route = env.get("KUBELET_ROUTE", "direct") or "direct"
    bound = {(b.get("roleRef") or {}).get("name") for b in by_kind.get("ClusterRoleBinding", [])}
    proxy = any(
        "nodes/proxy" in (rule.get("resources") or []) and "get" in (rule.get("verbs") or [])
        for role in by_kind.get("ClusterRole", []) if role["metadata"]["name"] in bound
        for rule in role.get("rules") or []
    )
    if route == "apiserver-proxy" and not proxy:
        checker.error(label, "KUBELET_ROUTE=apiserver-proxy without nodes/proxy get: every kubelet scrape would get 403")
    if route != "apiserver-proxy" and proxy:
        checker.error(label, f"nodes/proxy is granted although KUBELET_ROUTE={route} does not use it")


def probe_image(copy):
    """Points the copied base's image setting at the probe image."""
    path = os.path.join(copy, "base", "kustomization.yaml")
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    images = [i for i in doc.get("images") or [] if i.get("name") == "metrics-agent"]
    if not images:
        return False
    images[0].pop("digest", None)
    images[0].update({"newName": PROBE_IMAGE_NAME, "newTag": PROBE_IMAGE_TAG})
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--root", default=os.path.join(ROOT, "config", "kubernetes"))
    parser.add_argument("--agent", default=os.environ.get("AGENT_BINARY") or os.path.join(ROOT, ".build", "debug", "agent"))
    options = parser.parse_args()
    root = os.path.abspath(options.root)
    checker = Checker()

    files = sorted(
        os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith((".yaml", ".yml"))
    )
    kustomizations = {
        os.path.dirname(f): Kustomization(checker, os.path.dirname(f))
        for f in files if os.path.basename(f) == "kustomization.yaml"
    }
    template_targets = {t for k in kustomizations.values() for t in k.template_targets}
    stable_generators = {g for k in kustomizations.values() for g in k.stable_generators}
    used = set()
    for k in kustomizations.values():
        used.add(k.path)
        for f in k.resource_files:
            used.add(f)
            for i, doc in enumerate(checker.load(f) or []):
                copied = isinstance(doc, dict) and (doc.get("kind"), (doc.get("metadata") or {}).get("name")) in template_targets
                checker.check_object(f"{os.path.relpath(f, ROOT)}[{i}]", doc, template_copied=copied)
        for f in k.patch_files:
            used.add(f)
            for i, doc in enumerate(checker.load(f) or []):
                checker.check_object(f"{os.path.relpath(f, ROOT)}[{i}] (patch)", doc, partial=True)
        for f in k.generator_files:
            used.add(f)
            docs = checker.load(f)
            if docs is not None and (len(docs) != 1 or not isinstance(docs[0], dict)):
                checker.error(f, "a generator file that is not one YAML mapping")
    for f in files:
        if f not in used:
            checker.load(f)
            checker.error(os.path.relpath(f, ROOT), "not used by any kustomization")

    # Entry points: Kustomizations no other kustomization builds on, plus the base.
    referenced = {d for k in kustomizations.values() for d in k.resource_dirs + k.component_dirs}
    entries = sorted(d for d, k in kustomizations.items() if k.kind == "Kustomization" and (d not in referenced or d.endswith("/base")))
    components = sorted(d for d, k in kustomizations.items() if k.kind == "Component")

    # From the sources: the raw objects of each entry point, with generator names as written.
    agent = options.agent if os.access(options.agent, os.X_OK) else None
    if not agent:
        checker.notes.append(f"skip  agent config check: no agent binary at {options.agent}")
    for d in entries:
        k = kustomizations[d]
        generated = k.env_and_files(kustomizations)
        env_maps = {n: {key: v for key, v in vals.items() if isinstance(v, str)} for n, vals in generated.items()}
        env, args = pod_environment(k.objects(checker, kustomizations), env_maps)
        if agent and env is not None:
            key = os.path.basename(args.get("--config.file", ""))
            source = next((v for vals in generated.values() for kk, v in vals.items() if kk == key and isinstance(v, tuple)), None)
            if source is None:
                checker.error(k.path, f"no generated ConfigMap holds {key}")
            else:
                with open(source[1], encoding="utf-8") as f:
                    run_agent_check(checker, agent, f"{os.path.relpath(d, ROOT)} (from sources)", f.read(), env)

    builder, why = find_kustomize()
    if builder is None:
        checker.error("kustomize", f"cannot render the manifests: {why} (scripts/install-deps.sh test installs kubectl)")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            # Everything is built in a copy of the tree whose base sets the probe image, with
            # each component on top of the base in a kustomization made for it (kustomize wants
            # the overlay beside the base).
            copy = os.path.join(tmp, "kubernetes")
            shutil.copytree(root, copy)
            if not probe_image(copy):
                checker.error("base/kustomization.yaml", "no images: entry named metrics-agent")
            targets = [(os.path.relpath(d, ROOT), os.path.join(copy, os.path.relpath(d, root))) for d in entries]
            for c in components:
                name = os.path.basename(c)
                overlay = os.path.join(copy, "overlays", f"check-with-{name}")
                os.makedirs(overlay)
                with open(os.path.join(overlay, "kustomization.yaml"), "w") as f:
                    yaml.safe_dump({
                        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                        "resources": [os.path.relpath(os.path.join(copy, "base"), overlay)],
                        "components": [os.path.relpath(os.path.join(copy, os.path.relpath(c, root)), overlay)],
                    }, f)
                targets.append((f"base + {os.path.relpath(c, ROOT)}", overlay))
            for label, directory in targets:
                result = subprocess.run(builder + [directory], capture_output=True, text=True, timeout=300)
                if result.returncode != 0:
                    checker.error(label, f"kustomize build failed:\n{result.stderr}")
                    continue
                try:
                    objects = [o for o in yaml.safe_load_all(result.stdout) if o is not None]
                except yaml.YAMLError as e:
                    checker.error(label, f"kustomize build output does not parse: {e}")
                    continue
                before = len(checker.errors)
                checker.check_rendered(f"{label} (built)", objects)
                configmaps = {
                    o["metadata"]["name"]: o.get("data") or {} for o in objects if o.get("kind") == "ConfigMap"
                }
                env, args = pod_environment(objects, configmaps)
                if env is None:
                    checker.error(label, "the build has no workload running the agent")
                else:
                    check_contract(checker, f"{label} (built)", objects, env, args, stable_generators)
                    if agent:
                        key = os.path.basename(args.get("--config.file", ""))
                        text = next((data[key] for data in configmaps.values() if key in data), None)
                        if text is None:
                            checker.error(label, f"no ConfigMap in the build holds {key}")
                        else:
                            run_agent_check(checker, agent, f"{label} (built)", text, env)
                if len(checker.errors) == before:
                    checker.notes.append(f"ok    {' '.join(builder[:2])} {label}: {len(objects)} objects")

    for note in checker.notes:
        print(note)
    for e in checker.errors:
        print(f"error: {e}")
    checked = len(files)
    print(f"check-manifests: {checked} YAML files, {len(entries)} entry points, {len(components)} components: "
          + ("ok" if not checker.errors else f"{len(checker.errors)} errors"))
    return 1 if checker.errors else 0


if __name__ == "__main__":
    sys.exit(main())
