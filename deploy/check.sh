#!/usr/bin/env bash
# Static checks of the deployment files in deploy/. Needs no container engine.
#
#   bash deploy/check.sh
#
# 1. compose file: `docker compose config -q` (or `docker-compose config -q`) when a Compose
#    client is installed — it parses, interpolates and validates against the Compose schema
#    locally, without contacting an engine; otherwise a YAML syntax check (python3+PyYAML
#    or yq).
# 2. the required secrets: the file refuses to render without them.
# 3. every environment variable given to an ordersaga process is one the code reads
#    (and, as a warning only, one its cmd/<binary> package comment documents); services
#    are told apart by their Dockerfile: deploy/Dockerfile (ordersaga's) or
#    deploy/temporal/Dockerfile (Temporal's).
# 4. third-party images are pinned (a tag, never `latest`), none is Temporal's own, NATS's
#    is the nats-server version go.mod embeds and every service relays to it
#    (auto-setup or any temporalio/ image); bind-mounted files exist.
# 5. Dockerfiles: golang tag = go.mod's go major.minor, no ENTRYPOINT, a non-root USER;
#    ordersaga's: the packages it builds exist, and the same `CGO_ENABLED=0 go build`
#    succeeds here and yields cgo-free binaries; Temporal's: it installs the packages of
#    `make cluster-tools` under the same names, at the Makefile's TEMPORAL_SERVER_VERSION
#    and TEMPORAL_UI_VERSION, which exist.
# 6. the Temporal services are make run-cluster's (cmd/clusterstack): the image's build
#    args and tag carry the Makefile's versions; the server runs deploy/temporal/config.yaml
#    and dynamicconfig.yaml, bind-mounted, with only variables the template reads, listening
#    beyond loopback; the schema job runs clusterstack's setup-schema and update-schema on
#    both of the server's databases, as the server connects, and the server waits for it;
#    `starter provision` (temporalx.Provision) runs once the server is healthy, and the
#    worker and the API wait for it; the Web UI server runs a file of deploy/temporal/ui
#    with the settings of cluster.yaml, published on 127.0.0.1 only.
# 7. shell syntax of the scripts (and shellcheck when installed).
# 8. `docker build --check` of both Dockerfiles, only when a Docker engine answers.
#
# Exit status 0 when nothing failed. Skipped checks are reported as such.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
root=$PWD
compose_file=deploy/docker-compose.yml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0 failed=0 skipped=0
step() { printf '\n== %s\n' "$*"; }
ok() { echo "ok:      $*"; passed=$((passed + 1)); }
bad() { echo "FAIL:    $*"; failed=$((failed + 1)); }
skip() { echo "skipped: $*"; skipped=$((skipped + 1)); }
warn() { echo "warning: $*"; }

# Placeholder values for the required secrets, only so that the file can be rendered.
secrets=(POSTGRES_PASSWORD TEMPORAL_DB_PASSWORD ORDERSAGA_DB_PASSWORD SERVICE_TOKENS PAYLOAD_KEYS)
with_secrets() {
    env POSTGRES_PASSWORD=check-only TEMPORAL_DB_PASSWORD=check-only \
        ORDERSAGA_DB_PASSWORD=check-only SERVICE_TOKENS=check-only PAYLOAD_KEYS=check-only OPERATOR_TOKENS=check-only "$@"
}
# Never let a developer's deploy/.env leak into the checks.
no_env_file=(--env-file /dev/null)

# ---- 1. compose file ------------------------------------------------------------------
step "compose file: $compose_file"
compose=()
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
fi
config_json=""
if [ ${#compose[@]} -gt 0 ]; then
    echo "using: $("${compose[@]}" version 2>/dev/null | head -n1)"
    if docker info >/dev/null 2>&1; then
        echo "(a Docker engine answers)"
    else
        echo "(no Docker engine answers: compose config works without one)"
    fi
    if out=$(with_secrets "${compose[@]}" "${no_env_file[@]}" -f "$compose_file" config -q 2>&1); then
        ok "${compose[*]} config -q"
    else
        bad "${compose[*]} config -q: $out"
    fi
    if out=$(with_secrets "${compose[@]}" "${no_env_file[@]}" -f "$compose_file" --profile tools config -q 2>&1); then
        ok "${compose[*]} --profile tools config -q (with the starter)"
    else
        bad "${compose[*]} --profile tools config -q: $out"
    fi
    if with_secrets "${compose[@]}" "${no_env_file[@]}" -f "$compose_file" --profile tools config --format json >"$tmp/config.json" 2>"$tmp/config.err"; then
        config_json=$tmp/config.json
    else
        bad "render the compose file as JSON: $(cat "$tmp/config.err")"
    fi
else
    skip "docker compose config (no Compose client: neither \`docker compose\` nor docker-compose)"
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import yaml' 2>/dev/null; then
        if python3 - "$compose_file" >"$tmp/config.json" <<'PY'
import json, sys, yaml
with open(sys.argv[1]) as f:
    doc = yaml.safe_load(f)  # resolves anchors and << merge keys
if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
    sys.exit("no services mapping")
json.dump(doc, sys.stdout)
PY
        then
            ok "YAML syntax (python3 + PyYAML; not validated against the Compose schema)"
            config_json=$tmp/config.json
        else
            bad "YAML syntax (python3 + PyYAML)"
        fi
    elif command -v yq >/dev/null 2>&1; then
        if yq . "$compose_file" >/dev/null 2>&1; then
            ok "YAML syntax (yq; not validated against the Compose schema)"
        else
            bad "YAML syntax (yq)"
        fi
    else
        skip "YAML syntax (neither python3 with PyYAML nor yq is installed)"
    fi
fi

# ---- 2. required secrets --------------------------------------------------------------
step "required secrets have no defaults"
for s in "${secrets[@]}"; do
    if grep -Eq "\\\$\\{$s:\\?" "$compose_file" && ! grep -Eq "\\\$\\{$s:-[^}]" "$compose_file"; then
        ok "$s is required (\${$s:?...}) and has no default"
    else
        bad "$s must be used as \${$s:?...} and never given a default"
    fi
done
if grep -Eq '\$\{OPERATOR_TOKENS:-\}' "$compose_file" && ! grep -Eq '\$\{OPERATOR_TOKENS:-[^}]' "$compose_file"; then
    ok "OPERATOR_TOKENS comes from the environment, empty by default (operator endpoints then answer 403)"
else
    bad "OPERATOR_TOKENS must come from the environment with no default token"
fi
if [ ${#compose[@]} -gt 0 ]; then
    if env -u POSTGRES_PASSWORD -u TEMPORAL_DB_PASSWORD -u ORDERSAGA_DB_PASSWORD \
        "${compose[@]}" "${no_env_file[@]}" -f "$compose_file" config -q >/dev/null 2>&1; then
        bad "the compose file renders without the secrets"
    else
        ok "the compose file refuses to render without the secrets"
    fi
fi

# ---- 3, 4, 6. environment variables, images, mounts, the Temporal services ------------
step "environment variables, images, mounts, the Temporal services"
if [ -z "$config_json" ]; then
    skip "needs a rendered compose file (Compose client or python3 + PyYAML)"
elif ! command -v python3 >/dev/null 2>&1; then
    skip "needs python3"
else
    python3 - "$config_json" "$root" >"$tmp/analysis.txt" <<'PY'
import json, os, re, sys

config_path, root = sys.argv[1], sys.argv[2]
cfg = json.load(open(config_path))
services = cfg["services"]
names = ["order", "inventory", "payment", "shipping"]
NAMES = [n.upper() for n in names]

def read(path):
    with open(os.path.join(root, path)) as f:
        return f.read()

def go_files(*dirs):
    for d in dirs:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for fn in files:
                if fn.endswith(".go") and not fn.endswith("_test.go"):
                    yield os.path.join(dirpath, fn)

code = "\n".join(open(p).read() for p in go_files("cmd", "internal", "api", "app", "worker", "starter"))
literal_keys = set(re.findall(r'\.(?:String|Int|Int64|Float|Bool|Duration|List)\("([A-Z][A-Z0-9_]*)"', code))
suffixes = set(re.findall(r'EnvName\([A-Za-z.]+,\s*"([A-Z][A-Z0-9_]*)"\)', code))
processes = NAMES + ["API", "WORKER"]  # config.Port also reads API_PORT and WORKER_PORT
# The Temporal connection is read by the SDK's envconfig; internal/config names its variables.
envconfig_keys = set(re.findall(r"TEMPORAL_[A-Z0-9_]+", read("internal/config/config.go")))

def known(key):
    if key in literal_keys or key in envconfig_keys:
        return True
    for p in processes:
        if key.startswith(p + "_") and key[len(p) + 1:] in suffixes:
            return True
    return False

def documented(binary):
    path = os.path.join("cmd", binary, "main.go")
    text = read(path)
    doc = text.split("\npackage ", 1)[0]
    tokens = set(re.findall(r"[A-Z<>*][A-Z0-9_<>*]*", doc))
    out = set()
    for t in tokens:
        if t.startswith("<NAME>_"):
            out |= {n + t[6:] for n in NAMES}
        elif t.startswith("*_"):
            out |= {n + t[1:] for n in NAMES}
        else:
            out.add(t)
    return out

def emit(kind, msg):
    print(f"{kind}\t{msg}")

def environment(s):
    env = s.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}

def argv(s):
    def words(v):
        return v.split() if isinstance(v, str) else list(v or [])
    return words(s.get("entrypoint")) + words(s.get("command"))

def dockerfile(s):
    """The Dockerfile a service is built from, relative to the repository, or None."""
    b = s.get("build")
    if b is None:
        return None
    ctx, df = (b, "Dockerfile") if isinstance(b, str) else (b.get("context", "."), b.get("dockerfile", "Dockerfile"))
    ctx = ctx if os.path.isabs(ctx) else os.path.join(root, "deploy", ctx)
    return os.path.relpath(os.path.normpath(os.path.join(ctx, df)), root)

def mounts(s):
    """(host path, container path) of each bind mount (relative sources: from deploy/)."""
    out = []
    for v in s.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) < 2 or not (parts[0].startswith(".") or parts[0].startswith("/")):
                continue
            src, target = parts[0], parts[1]
        elif v.get("type") == "bind":
            src, target = v["source"], v["target"]
        else:
            continue
        host = src if os.path.isabs(src) else os.path.join(root, "deploy", src)
        out.append((os.path.normpath(host), target.rstrip("/") or "/"))
    return out

def host_path(s, path):
    """The repository file a container path of service s is, through its bind mounts."""
    best = None
    for host, target in mounts(s):
        if path == target or path.startswith(target + "/"):
            if best is None or len(target) > len(best[1]):
                best = (host, target)
    if best is None:
        return None
    return os.path.relpath(os.path.normpath(best[0] + path[len(best[1]):]), root)

def flag(args, name):
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None

def depends(s, other, condition):
    d = s.get("depends_on") or {}
    if isinstance(d, list):
        return False
    return (d.get(other) or {}).get("condition") == condition

def published_on_loopback(s):
    ports = s.get("ports") or []
    if not ports:
        return False
    for p in ports:
        host_ip = p.get("host_ip", "") if isinstance(p, dict) else (p.split(":")[0] if p.count(":") >= 2 else "")
        if host_ip != "127.0.0.1":
            return False
    return True

ORDERSAGA_DOCKERFILE = "deploy/Dockerfile"
TEMPORAL_DOCKERFILE = "deploy/temporal/Dockerfile"
ours, temporal = {}, {}
for name, s in services.items():
    df = dockerfile(s)
    if df == ORDERSAGA_DOCKERFILE:
        ours[name] = s
    elif df == TEMPORAL_DOCKERFILE:
        temporal[name] = s
    elif df is not None:
        emit("FAIL", f"{name}: built from {df}, neither {ORDERSAGA_DOCKERFILE} nor {TEMPORAL_DOCKERFILE}")
if not ours:
    emit("FAIL", f"no ordersaga services found (services built from {ORDERSAGA_DOCKERFILE})")

# ---- ordersaga's processes: a cmd/ binary, and only variables the code reads ----
for name, s in sorted(ours.items()):
    args = argv(s)
    binary = args[0] if args else "api"
    if not os.path.isdir(os.path.join(root, "cmd", binary)):
        emit("FAIL", f"{name}: runs {binary!r}, which is not a cmd/ binary")
        continue
    env = environment(s)
    unknown = [k for k in env if not known(k)]
    if unknown:
        emit("FAIL", f"{name} ({binary}): variables the code never reads: {', '.join(sorted(unknown))}")
    else:
        emit("ok", f"{name} ({binary}): all {len(env)} variables are read by the code")
    undocumented = [k for k in env if k not in documented(binary)]
    if undocumented:
        emit("warning", f"{name}: {', '.join(sorted(undocumented))} not in cmd/{binary}'s package comment")
    if binary == "services":
        for svc in args[1:]:
            want = svc.upper() + "_DATABASE_URL"
            if want in env:
                emit("ok", f"{name}: has its own database ({want})")
            else:
                emit("FAIL", f"{name}: missing {want}")
        if env.get("HOST") != "0.0.0.0":
            emit("FAIL", f"{name}: HOST must be 0.0.0.0 in a container")
    if binary in ("worker", "api"):
        urls = [n + "_URL" for n in NAMES]
        missing = [u for u in urls if u not in env]
        if missing:
            emit("FAIL", f"{name}: missing {', '.join(missing)} (would default to 127.0.0.1)")
        else:
            bad_host = [u for u in urls if "127.0.0.1" in env[u] or "localhost" in env[u]]
            if bad_host:
                emit("FAIL", f"{name}: {', '.join(bad_host)} point at loopback")
            else:
                emit("ok", f"{name}: service URLs point at the compose services")
        if "TEMPORAL_ADDRESS" not in env:
            emit("FAIL", f"{name}: missing TEMPORAL_ADDRESS")
    if binary == "services":
        if env.get("NATS_URL", "").startswith("nats://nats:"):
            emit("ok", f"{name}: relays its events to the nats service")
        else:
            emit("FAIL", f"{name}: NATS_URL must name the nats service (without it a service embeds a NATS of its own)")

# ---- NATS: the version make run embeds ---------------------------------------------------
gomod_nats = re.search(r"github.com/nats-io/nats-server/v2 v(\S+)", read("go.mod"))
nats_image = str(services.get("nats", {}).get("image", ""))
if not gomod_nats:
    emit("FAIL", "go.mod requires no github.com/nats-io/nats-server/v2 (the embedded NATS)")
elif nats_image.split(":")[-1].removesuffix("-alpine") != gomod_nats.group(1):
    emit("FAIL", f"nats: image {nats_image!r} is not the nats-server go.mod embeds (v{gomod_nats.group(1)})")
else:
    emit("ok", f"nats: image {nats_image} is the nats-server go.mod embeds")

# ---- third-party images: pinned; no Temporal image but ours --------------------------
for name, s in sorted(services.items()):
    if name in ours or name in temporal:
        continue
    image = str(s.get("image", ""))
    tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
    if not tag or tag == "latest":
        emit("FAIL", f"{name}: image {image!r} is not pinned to a tag")
    else:
        emit("ok", f"{name}: image pinned ({image})")
    if "auto-setup" in image or image.startswith("temporalio/"):
        emit("FAIL", f"{name}: runs {image}: Temporal must come from {TEMPORAL_DOCKERFILE}, at the Makefile's versions")
if not any("auto-setup" in str(s.get("image", "")) for s in services.values()):
    emit("ok", "no auto-setup image")

# ---- bind mounts exist -----------------------------------------------------------------
for name, s in sorted(services.items()):
    for host, _ in mounts(s):
        rel = os.path.relpath(host, root)
        if os.path.exists(host):
            emit("ok", f"{name}: bind-mounted {rel} exists")
        else:
            emit("FAIL", f"{name}: bind-mounted {rel} does not exist")

# ---- the Temporal image: the Makefile's versions ----------------------------------------
makefile = read("Makefile")
versions = dict(re.findall(r"^(TEMPORAL_(?:SERVER|UI)_VERSION)\s*:=\s*(\S+)", makefile, re.M))
if len(versions) != 2:
    emit("FAIL", "the Makefile lacks TEMPORAL_SERVER_VERSION or TEMPORAL_UI_VERSION")
for name, s in sorted(temporal.items()):
    b = s.get("build") or {}
    args = b.get("args") or {} if isinstance(b, dict) else {}
    if isinstance(args, list):
        args = dict(a.split("=", 1) for a in args)
    image = str(s.get("image", ""))
    wrong = [f"{k}={args.get(k)!r}" for k, v in versions.items() if str(args.get(k)) != v]
    wrong += [f"image {image!r} lacks {v}" for v in versions.values() if v not in image.rsplit(":", 1)[-1]]
    if wrong:
        emit("FAIL", f"{name}: the Temporal image differs from the Makefile's versions: {'; '.join(wrong)}")
    else:
        emit("ok", f"{name}: Temporal image at the Makefile's versions ({image})")

# ---- the Temporal server: deploy/temporal's configuration -------------------------------
template = read("deploy/temporal/config.yaml")
template_keys = set(re.findall(r'env "([A-Z][A-Z0-9_]*)"', template))
servers = {n: s for n, s in temporal.items() if argv(s)[:1] == ["temporal-server"]}
server = None
if len(servers) != 1:
    emit("FAIL", f"want one service running temporal-server, found {sorted(servers) or 'none'}")
else:
    server_name, server = next(iter(servers.items()))
    args, env = argv(server), environment(server)
    checks = [
        ("--config-file", flag(args, "--config-file"), "deploy/temporal/config.yaml"),
        ("TEMPORAL_DYNAMIC_CONFIG", env.get("TEMPORAL_DYNAMIC_CONFIG"), "deploy/temporal/dynamicconfig.yaml"),
    ]
    for what, path, want in checks:
        got = host_path(server, path) if path else None
        if got == want:
            emit("ok", f"{server_name}: {what} {path} is {want}, bind-mounted")
        else:
            emit("FAIL", f"{server_name}: {what} {path!r} must be {want} through a bind mount (is {got})")
    unknown = sorted(k for k in env if k not in template_keys)
    if unknown:
        emit("FAIL", f"{server_name}: variables deploy/temporal/config.yaml never reads: {', '.join(unknown)}")
    else:
        emit("ok", f"{server_name}: all {len(env)} variables are read by deploy/temporal/config.yaml")
    if env.get("TEMPORAL_BIND_ON_LOCALHOST") == "false" and env.get("TEMPORAL_BIND_ON_IP"):
        emit("ok", f"{server_name}: listens on {env['TEMPORAL_BIND_ON_IP']}, reachable from the other containers")
    else:
        emit("FAIL", f"{server_name}: needs TEMPORAL_BIND_ON_LOCALHOST=false and TEMPORAL_BIND_ON_IP (else it listens on loopback only)")
    metrics = env.get("TEMPORAL_METRICS_ADDRESS", "127.0.0.1:8239")
    if metrics.startswith("127.") or metrics.startswith("localhost"):
        emit("FAIL", f"{server_name}: TEMPORAL_METRICS_ADDRESS {metrics} cannot be scraped from another container")
    else:
        emit("ok", f"{server_name}: metrics on {metrics}")

# ---- the schema job: clusterstack's steps, on the server's databases --------------------
clusterstack = read("cmd/clusterstack/main.go")
schemas = re.findall(r'migrate\(ctx, cfg, \w+, "([^"]+)"', clusterstack)
setup = re.search(r'\{"setup-schema", "-v", "([^"]+)"\}', clusterstack)
plugin = re.search(r'"--plugin", "(\w+)"', clusterstack)
template_plugins = set(re.findall(r"pluginName:\s*(\S+)", template))
SQL_TOOL_ENV = {"SQL_HOST", "SQL_PORT", "SQL_USER", "SQL_PASSWORD", "SQL_DATABASE", "SQL_PLUGIN",
                "SQL_CONNECT_ATTRIBUTES", "SQL_TLS", "SQL_TLS_CERT_FILE", "SQL_TLS_KEY_FILE",
                "SQL_TLS_CA_FILE", "SQL_TLS_SERVER_NAME", "SQL_TLS_DISABLE_HOST_VERIFICATION"}
jobs = {n: s for n, s in temporal.items() if "temporal-sql-tool" in " ".join(argv(s))}
if len(jobs) != 1 or len(schemas) != 2 or not setup or not plugin:
    emit("FAIL", f"want one schema job ({sorted(jobs) or 'none'}) and clusterstack's two schemas ({schemas})")
elif server is not None:
    job_name, job = next(iter(jobs.items()))
    env, senv = environment(job), environment(server)
    # The tool's runs, one a line of the job's shell script: [temporal-sql-tool, flags..., step...].
    script = [line.split() for line in "\n".join(argv(job)).splitlines()]
    script = [w for w in script if w and w[0] == "temporal-sql-tool"]
    defaults = {"TEMPORAL_DB": "temporal", "TEMPORAL_VISIBILITY_DB": "temporal_visibility"}
    for schema in schemas:
        key = "TEMPORAL_VISIBILITY_DB" if schema.endswith("/visibility") else "TEMPORAL_DB"
        db = senv.get(key, defaults[key])
        steps = [" ".join(w[w.index("--database") + 2:]) for w in script if flag(w, "--database") == db]
        want = [f"setup-schema -v {setup.group(1)}", f"update-schema --schema-name {schema}"]
        if steps == want:
            emit("ok", f"{job_name}: {db} ({key} of {server_name}): {'; then '.join(want)}, as clusterstack")
        else:
            emit("FAIL", f"{job_name}: database {db} ({key} of {server_name}) gets {steps}, clusterstack runs {want}")
    if any("--quiet" in w or "-q" in w for w in script):
        emit("FAIL", f"{job_name}: --quiet makes the schema tool exit 0 on errors; the server would start on a broken schema")
    wrong = [f"{k}={env.get(k)!r} (server: {senv.get(v)!r})" for k, v in
             [("SQL_HOST", "TEMPORAL_DB_HOST"), ("SQL_PORT", "TEMPORAL_DB_PORT"), ("SQL_USER", "TEMPORAL_DB_USER"),
              ("SQL_PASSWORD", "TEMPORAL_DB_PASSWORD")] if env.get(k) != senv.get(v)]
    if env.get("SQL_PLUGIN") != plugin.group(1) or template_plugins != {plugin.group(1)}:
        wrong.append(f"SQL_PLUGIN={env.get('SQL_PLUGIN')!r} (clusterstack: {plugin.group(1)}, config.yaml: {sorted(template_plugins)})")
    wrong += [f"{k} is not the schema tool's" for k in env if k not in SQL_TOOL_ENV]
    if wrong:
        emit("FAIL", f"{job_name}: connects unlike the server: {'; '.join(wrong)}")
    else:
        emit("ok", f"{job_name}: connects as the server does ({env.get('SQL_USER')}@{env.get('SQL_HOST')}, {env.get('SQL_PLUGIN')})")
    if depends(server, job_name, "service_completed_successfully"):
        emit("ok", f"{server_name} starts after {job_name} exited 0")
    else:
        emit("FAIL", f"{server_name} must depend on {job_name} (condition: service_completed_successfully)")

# ---- provisioning: `starter provision` (temporalx.Provision) before the worker and API --
provisioners = {n: s for n, s in ours.items() if argv(s)[:2] == ["starter", "provision"]}
if len(provisioners) != 1:
    emit("FAIL", f"want one service running `starter provision`, found {sorted(provisioners) or 'none'}")
else:
    prov_name, prov = next(iter(provisioners.items()))
    if "temporalx.Provision(" in read("cmd/starter/main.go"):
        attrs = " ".join(n for n in re.findall(r'\{"(\w+)",\s*enumspb\.INDEXED_VALUE_TYPE_\w+', read("internal/temporalx/temporalx.go")))
        emit("ok", f"{prov_name}: provisions with temporalx.Provision, as clusterstack (search attributes {attrs})")
    else:
        emit("FAIL", f"{prov_name}: cmd/starter's provision no longer calls temporalx.Provision")
    if server is not None:
        if depends(prov, server_name, "service_healthy"):
            emit("ok", f"{prov_name} starts once {server_name} is healthy")
        else:
            emit("FAIL", f"{prov_name} must depend on {server_name} (condition: service_healthy)")
    for name, s in sorted(ours.items()):
        if argv(s)[:1] in (["worker"], ["api"]):
            if depends(s, prov_name, "service_completed_successfully"):
                emit("ok", f"{name} starts after {prov_name} exited 0")
            else:
                emit("FAIL", f"{name} must depend on {prov_name} (condition: service_completed_successfully)")

# ---- the Web UI server: a configuration of deploy/temporal/ui ----------------------------
uis = {n: s for n, s in temporal.items() if argv(s)[:1] == ["temporal-ui-server"]}
def ui_settings(path):
    """The settings of a UI configuration, as (key, value) lines; a value the template
    fills in, and where the server listens (host, port), count by their key only."""
    out = []
    for line in read(path).splitlines():
        m = re.match(r"^(\s*[A-Za-z]+):\s*(.*)$", line)
        if m:
            key, value = m.groups()
            out.append((key, "" if "{{" in value or key in ("host", "port") else value))
    return out
if len(uis) != 1:
    emit("FAIL", f"want one service running temporal-ui-server, found {sorted(uis) or 'none'}")
else:
    ui_name, ui = next(iter(uis.items()))
    args, env = argv(ui), environment(ui)
    ui_root, ui_config, ui_env = flag(args, "--root") or ".", flag(args, "--config") or "config", flag(args, "--env") or "development"
    ui_dir = host_path(ui, os.path.normpath(os.path.join(ui_root, ui_config)))
    ui_file = os.path.join(ui_dir, ui_env + ".yaml") if ui_dir else None
    if ui_file and ui_dir == "deploy/temporal/ui" and os.path.isfile(os.path.join(root, ui_file)):
        emit("ok", f"{ui_name}: configured by {ui_file}, bind-mounted")
        unknown = sorted(k for k in env if f'env "{k}"' not in read(ui_file))
        if unknown:
            emit("FAIL", f"{ui_name}: variables {ui_file} never reads: {', '.join(unknown)}")
        else:
            emit("ok", f"{ui_name}: all {len(env)} variables are read by {ui_file}")
        cluster_file = "deploy/temporal/ui/cluster.yaml"
        mine, theirs = ui_settings(ui_file), ui_settings(cluster_file)
        if mine == theirs:
            emit("ok", f"{ui_file} has the settings of {cluster_file} (apart from where it listens and the defaults)")
        else:
            diff = [f"{k.strip()}: {v}" for k, v in mine if (k, v) not in theirs]
            diff += [f"{k.strip()}: {v} (in {cluster_file} only)" for k, v in theirs if (k, v) not in mine]
            emit("FAIL", f"{ui_file} differs from {cluster_file} in: {'; '.join(diff) or 'the order of its settings'}")
    else:
        emit("FAIL", f"{ui_name}: its configuration {ui_file} must be a file of deploy/temporal/ui, bind-mounted")
    if published_on_loopback(ui):
        emit("ok", f"{ui_name}: published on 127.0.0.1 only (no login of its own)")
    else:
        emit("FAIL", f"{ui_name}: must be published on 127.0.0.1 only")
PY
    status=$?
    while IFS=$'\t' read -r kind msg; do
        case $kind in
        ok) ok "$msg" ;;
        FAIL) bad "$msg" ;;
        warning) warn "$msg" ;;
        esac
    done <"$tmp/analysis.txt"
    [ $status -eq 0 ] || bad "analysis script exited $status"
fi

# ---- 5. Dockerfiles -------------------------------------------------------------------
step "Dockerfiles"
gomod_go=$(awk '$1 == "go" {print $2; exit}' go.mod)
gomod_minor=$(echo "$gomod_go" | cut -d. -f1,2)
for dockerfile in deploy/Dockerfile deploy/temporal/Dockerfile; do
    docker_go=$(sed -nE 's/^FROM .*golang:([0-9]+\.[0-9]+)[^ ]* AS build.*/\1/p' "$dockerfile" | head -n1)
    if [ -n "$docker_go" ] && [ "$docker_go" = "$gomod_minor" ]; then
        ok "$dockerfile: build stage golang:$docker_go matches go.mod's go $gomod_go"
    else
        bad "$dockerfile: build stage golang:${docker_go:-?} does not match go.mod's go $gomod_go"
    fi
    if grep -Eq '^ENTRYPOINT' "$dockerfile"; then
        bad "$dockerfile sets an ENTRYPOINT (the binary is chosen with command:)"
    else
        ok "$dockerfile: no ENTRYPOINT, the command is the binary"
    fi
    if grep -Eq '^USER +[^0r]' "$dockerfile"; then
        ok "$dockerfile: runs as a non-root user ($(grep -E '^USER' "$dockerfile" | tail -n1))"
    else
        bad "$dockerfile: the final stage must set a non-root USER"
    fi
done

# ordersaga's image: the four binaries, built here as in the Dockerfile.
pkgs=$(grep -v '^#' deploy/Dockerfile | grep -oE '\./cmd/[a-z]+' | sort -u | tr '\n' ' ')
for want in api services worker starter; do
    case " $pkgs " in
    *" ./cmd/$want "*) ;;
    *) bad "deploy/Dockerfile does not build ./cmd/$want" ;;
    esac
done
for p in $pkgs; do
    if [ -d "$p" ]; then ok "deploy/Dockerfile builds $p (exists)"; else bad "deploy/Dockerfile builds $p, which does not exist"; fi
done
if command -v go >/dev/null 2>&1 && [ -n "$pkgs" ]; then
    # shellcheck disable=SC2086 # $pkgs is a list of packages
    if out=$(CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -o "$tmp/bin/" $pkgs 2>&1); then
        cgo=$(for b in "$tmp"/bin/*; do go version -m "$b" | awk '$2 == "CGO_ENABLED=0" {print "ok"}'; done | grep -c ok)
        count=$(find "$tmp/bin" -type f | wc -l | tr -d ' ')
        if [ "$cgo" = "$count" ]; then
            ok "CGO_ENABLED=0 go build of $count binaries: $(cd "$tmp/bin" && echo *)"
        else
            bad "binaries built, but not all with CGO_ENABLED=0"
        fi
    else
        bad "CGO_ENABLED=0 go build failed: $out"
    fi
else
    skip "CGO_ENABLED=0 go build (no go toolchain)"
fi

# The Temporal image: what `make cluster-tools` builds, at its versions and by its names.
# Each line is "name package version-variable": from the Makefile's $(BIN)/<name> rules
# and from the Dockerfile's `install_as <name> "<package>@${<variable>}"` lines.
awk '/^\$\(BIN\)\/temporal-[a-z-]+:/ {sub(/^\$\(BIN\)\//, ""); sub(/:.*/, ""); name = $0; next}
     name && / install / {for (i = 1; i <= NF; i++) if ($i ~ /@\$\([A-Z_]+\)$/) {
                              split($i, a, "@"); v = a[2]; gsub(/[$()]/, "", v); print name, a[1], v; name = ""}}' Makefile |
    sort >"$tmp/make-tools"
sed -nE 's/^ *install_as +([a-z-]+) +"([^"@]+)@\$\{([A-Z_]+)\}".*/\1 \2 \3/p' deploy/temporal/Dockerfile | sort >"$tmp/docker-tools"
if [ -s "$tmp/make-tools" ] && cmp -s "$tmp/make-tools" "$tmp/docker-tools"; then
    ok "deploy/temporal/Dockerfile installs what make cluster-tools does: $(awk '{printf "%s%s", sep, $1; sep=", "}' "$tmp/make-tools")"
else
    bad "deploy/temporal/Dockerfile and make cluster-tools differ: $(diff "$tmp/make-tools" "$tmp/docker-tools" | grep '^[<>]' | tr '\n' ' ')"
fi
for var in TEMPORAL_SERVER_VERSION TEMPORAL_UI_VERSION; do
    want=$(awk -v v="$var" '$1 == v && $2 == ":=" {print $3}' Makefile)
    got=$(sed -nE "s/^ARG +$var=([^ ]+).*/\\1/p" deploy/temporal/Dockerfile)
    if [ -n "$want" ] && [ "$got" = "$want" ]; then
        ok "deploy/temporal/Dockerfile: $var=$got, as the Makefile"
    else
        bad "deploy/temporal/Dockerfile: $var=${got:-unset}, the Makefile has ${want:-none}"
    fi
done
# That the pinned versions exist (from Go's module cache or the module proxy).
if command -v go >/dev/null 2>&1; then
    # The module of each package: the path up to /cmd/ (go.temporal.io/server/cmd/server).
    while read -r _ pkg var; do
        version=$(awk -v v="$var" '$1 == v && $2 == ":=" {print $3}' Makefile)
        echo "${pkg%%/cmd/*}@$version"
    done <"$tmp/make-tools" | sort -u >"$tmp/pins"
    while read -r mod; do
        if out=$(cd "$tmp" && GOFLAGS=-mod=mod go list -m "$mod" 2>&1); then
            ok "$mod resolves"
        elif echo "$out" | grep -Eqi 'unknown revision|not found|invalid version|no matching versions|not available'; then
            bad "$mod does not exist: $out"
        else
            skip "$mod: could not ask the module proxy ($out)"
        fi
    done <"$tmp/pins"
else
    skip "the Temporal versions resolve (no go toolchain)"
fi

# ---- 7. scripts -----------------------------------------------------------------------
step "scripts"
for f in deploy/postgres-init.sh deploy/check.sh; do
    shell="sh"
    [ "$f" = deploy/check.sh ] && shell="bash"
    if $shell -n "$f"; then ok "$shell -n $f"; else bad "$shell -n $f"; fi
done
if command -v shellcheck >/dev/null 2>&1; then
    if out=$(shellcheck deploy/*.sh 2>&1); then ok "shellcheck deploy/*.sh"; else bad "shellcheck: $out"; fi
else
    skip "shellcheck (not installed)"
fi

# ---- 8. Dockerfile lint by BuildKit (needs an engine) ------------------------------------
step "docker build --check"
if docker info >/dev/null 2>&1; then
    if out=$(docker build --check -f deploy/Dockerfile . 2>&1); then
        ok "docker build --check -f deploy/Dockerfile ."
    else
        bad "docker build --check -f deploy/Dockerfile .: $out"
    fi
    if out=$(docker build --check deploy/temporal 2>&1); then
        ok "docker build --check deploy/temporal"
    else
        bad "docker build --check deploy/temporal: $out"
    fi
else
    skip "docker build --check (no Docker engine answers)"
fi

printf '\ncheck.sh: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
