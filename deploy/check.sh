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
#    (and, as a warning only, one its cmd/<binary> package comment documents).
# 4. images are pinned (a tag, never `latest`); bind-mounted files exist.
# 5. Dockerfile: golang tag = go.mod's go major.minor; the packages it builds exist; the
#    same `CGO_ENABLED=0 go build` succeeds here and yields cgo-free binaries.
# 6. the search attributes registered by the job = internal/temporalx.SearchAttributes.
# 7. shell syntax of the scripts (and shellcheck when installed).
# 8. `docker build --check` of the Dockerfile, only when a Docker engine answers.
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

# ---- 3, 4, 6. environment variables, images, mounts, search attributes ------------------
step "environment variables, images, mounts, search attributes"
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

ours = {n: s for n, s in services.items() if "build" in s or str(s.get("image", "")).startswith("ordersaga")}
if not ours:
    emit("FAIL", "no ordersaga services found (services built from deploy/Dockerfile)")
for name, s in sorted(ours.items()):
    argv = list(s.get("entrypoint") or []) + list(s.get("command") or [])
    binary = argv[0] if argv else "api"
    if not os.path.isdir(os.path.join(root, "cmd", binary)):
        emit("FAIL", f"{name}: runs {binary!r}, which is not a cmd/ binary")
        continue
    env = s.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    unknown = [k for k in env if not known(k)]
    if unknown:
        emit("FAIL", f"{name} ({binary}): variables the code never reads: {', '.join(sorted(unknown))}")
    else:
        emit("ok", f"{name} ({binary}): all {len(env)} variables are read by the code")
    undocumented = [k for k in env if k not in documented(binary)]
    if undocumented:
        emit("warning", f"{name}: {', '.join(sorted(undocumented))} not in cmd/{binary}'s package comment")
    if binary == "services":
        for svc in argv[1:]:
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

# images pinned
for name, s in sorted(services.items()):
    if name in ours:
        continue
    image = str(s.get("image", ""))
    tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
    if not tag or tag == "latest":
        emit("FAIL", f"{name}: image {image!r} is not pinned to a tag")
    else:
        emit("ok", f"{name}: image pinned ({image})")

# bind mounts exist (relative sources are relative to deploy/)
for name, s in sorted(services.items()):
    for v in s.get("volumes") or []:
        if isinstance(v, str):
            src = v.split(":", 1)[0]
            if not (src.startswith(".") or src.startswith("/")):
                continue
        elif v.get("type") == "bind":
            src = v["source"]
        else:
            continue
        path = src if os.path.isabs(src) else os.path.join(root, "deploy", src)
        if os.path.exists(path):
            emit("ok", f"{name}: bind-mounted {os.path.relpath(path, root)} exists")
        else:
            emit("FAIL", f"{name}: bind-mounted {src} does not exist")

# search attributes: register script = internal/temporalx.SearchAttributes
want = set(f"{n}={t}" for n, t in re.findall(
    r'\{"(\w+)",\s*enumspb\.INDEXED_VALUE_TYPE_\w+,\s*"(\w+)"\}', read("internal/temporalx/temporalx.go")))
m = re.search(r'^attributes="([^"]*)"', read("deploy/register-search-attributes.sh"), re.M)
got = set(m.group(1).split()) if m else set()
if want and want == got:
    emit("ok", f"search attributes registered = internal/temporalx.SearchAttributes ({' '.join(sorted(got))})")
else:
    emit("FAIL", f"search attributes: script registers {sorted(got)}, code needs {sorted(want)}")
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

# ---- 5. Dockerfile --------------------------------------------------------------------
step "Dockerfile"
gomod_go=$(awk '$1 == "go" {print $2; exit}' go.mod)
gomod_minor=$(echo "$gomod_go" | cut -d. -f1,2)
docker_go=$(sed -nE 's/^FROM .*golang:([0-9]+\.[0-9]+)[^ ]* AS build.*/\1/p' deploy/Dockerfile | head -n1)
if [ -n "$docker_go" ] && [ "$docker_go" = "$gomod_minor" ]; then
    ok "build stage golang:$docker_go matches go.mod's go $gomod_go"
else
    bad "build stage golang:${docker_go:-?} does not match go.mod's go $gomod_go"
fi
pkgs=$(grep -v '^#' deploy/Dockerfile | grep -oE '\./cmd/[a-z]+' | sort -u | tr '\n' ' ')
for want in api services worker starter; do
    case " $pkgs " in
    *" ./cmd/$want "*) ;;
    *) bad "the Dockerfile does not build ./cmd/$want" ;;
    esac
done
for p in $pkgs; do
    if [ -d "$p" ]; then ok "builds $p (exists)"; else bad "builds $p, which does not exist"; fi
done
if grep -Eq '^ENTRYPOINT' deploy/Dockerfile; then
    bad "the Dockerfile sets an ENTRYPOINT (the binary is chosen with command:)"
else
    ok "no ENTRYPOINT: the command is the binary"
fi
if grep -Eq '^USER +[^0r]' deploy/Dockerfile; then
    ok "runs as a non-root user ($(grep -E '^USER' deploy/Dockerfile | tail -n1))"
else
    bad "the final stage must set a non-root USER"
fi
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

# ---- 7. scripts -----------------------------------------------------------------------
step "scripts"
for f in deploy/postgres-init.sh deploy/register-search-attributes.sh deploy/check.sh; do
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
        ok "docker build --check"
    else
        bad "docker build --check: $out"
    fi
else
    skip "docker build --check (no Docker engine answers)"
fi

printf '\ncheck.sh: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
