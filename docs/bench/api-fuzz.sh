#!/usr/bin/env bash
# Property-based testing of the API with schemathesis (docs/api.md#the-openapi-document,
# docs/benchmarks.md#api-fuzzing): starts a server on a temporary data dir, creates its bootstrap
# token (the loopback bypass is off, as in production), and runs schemathesis against the served document with that token and its default
# checks (no 5xx, answers match their schemas, status codes and content types documented).
#
#   docs/bench/api-fuzz.sh                 # the full pass: about 60 cases per operation
#   docs/bench/api-fuzz.sh --short         # CI: seeded, a few cases per operation
#
# Environment: GOFER_BIN (default: target/debug/gofer, brought up to date first), FUZZ_SEED (default
# 20261206), FUZZ_EXAMPLES (cases per operation), FUZZ_VENV (where schemathesis is installed,
# default target/api-fuzz-venv). Needs a Docker engine (the server needs one to start) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/../.."

short=0
[ "${1:-}" = "--short" ] && short=1
seed="${FUZZ_SEED:-20261206}"
if [ "$short" = 1 ]; then
    examples="${FUZZ_EXAMPLES:-4}"
else
    examples="${FUZZ_EXAMPLES:-60}"
fi
venv="${FUZZ_VENV:-target/api-fuzz-venv}"
bin="${GOFER_BIN:-${CARGO_TARGET_DIR:-target}/debug/gofer}"

# Dictionaries of existing ids (schemathesis.toml) need 4.32.
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(tuple(map(int, m.version("schemathesis").split(".")[:2])) < (4, 32))'; then
    # The newest Python there is: hypothesis trips over an AST bug of CPython 3.11 on some schemas.
    py=python3
    for candidate in python3.13 python3.12 $(ls -d "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null); do
        if "$candidate" -c 'import sys' >/dev/null 2>&1; then py="$candidate"; break; fi
    done
    if ! "$py" -m venv "$venv" 2>/dev/null; then
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        rm -rf "$venv"
        "$py" -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet 'schemathesis>=4.32,<5'
fi
"$venv/bin/python" -c 'import openapi_spec_validator' 2>/dev/null ||
    "$venv/bin/pip" install --quiet 'openapi-spec-validator>=0.7,<1'
# The committed document must be valid OpenAPI 3.1 as strict validators read it.
"$venv/bin/python" -m openapi_spec_validator assets/openapi.json
# A stale binary would serve the document of an older build: the default one is rebuilt when
# the sources changed (a no-op otherwise). A GOFER_BIN given is used as it is.
if [ -z "${GOFER_BIN:-}" ]; then
    cargo build -q -p gofer
fi

data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
GOFER_WEB_SERVER__BIND_ADDRESS="127.0.0.1:$port" \
GOFER_WEB_SERVER__DATA_DIR="$data" \
GOFER_WEB_EXTERNAL_EVENTS__ENABLE=false \
GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS=false \
GOFER_WEB_DEVELOPMENT__BYPASS_AUTH=false \
    "$bin" service start >"$data/server.log" 2>&1 &
server=$!
cleanup() {
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    docker rm -f gofer.extension.fuzzext gofer.extension.doomedext >/dev/null 2>&1 || true
    rm -rf "$data"
}
trap cleanup EXIT

for _ in $(seq 1 200); do
    curl -fsS "$base/api/health" >/dev/null 2>&1 && break
    sleep 0.1
done
token="$(curl -fsS -X POST "$base/api/tokens/bootstrap" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')"
# Something for the operations on existing records to find (the dictionaries of
# schemathesis.toml name them; about half of the generated path ids are taken from there): a
# namespace `fuzz` with a pipeline `fuzz` (three config versions, the first deployed, two runs
# whose task image does not exist, so they end at once), a pipeline secret and object `s` and
# `o`, an object `o` of each run, a global secret `g`, a role `fuzzer`, and an extension `fuzzext` the pipeline subscribes
# to as `tick`.
api() { # <method> <path> [json body]
    curl -fsS -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        ${3:+-d "$3"} "$base/api$2" >/dev/null
}
P=/namespaces/fuzz/pipelines/fuzz
api POST /namespaces '{"id": "fuzz", "name": "fuzz"}'
for v in 1 2 3; do
    api POST "$P/configs" '{"config": {"id": "fuzz", "name": "fuzz '"$v"'", "tasks": [{"id": "a", "image": "gofer-fuzz/none:1"}]}}'
done
api POST "$P/configs/1"
api POST "$P/runs" '{}'
api POST "$P/runs" '{}'
# What the delete_namespace and delete_pipeline operations delete (schemathesis.toml).
api POST /namespaces '{"id": "doomed", "name": "doomed"}'
api POST /namespaces/fuzz/pipelines/doomed/configs '{"config": {"id": "doomed", "name": "doomed", "tasks": [{"id": "a", "image": "gofer-fuzz/none:1"}]}}'
api POST "$P/secrets" '{"key": "s", "content": "fuzz secret"}'
curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/octet-stream' \
    --data-binary 'fuzz object' "$base/api$P/objects/o" >/dev/null
for r in 1 2; do
    curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/octet-stream' \
        --data-binary 'fuzz run object' "$base/api$P/runs/$r/objects/o" >/dev/null
done
api POST /secrets/global '{"key": "g", "content": "fuzz global", "namespaces": ["fuzz"]}'
api POST /roles '{"id": "fuzzer", "description": "made by api-fuzz.sh"}'
# A real extension container (the built-in interval image this binary builds at boot), with a
# subscription of the pipeline. A container left by an interrupted pass is removed first.
docker rm -f gofer.extension.fuzzext >/dev/null 2>&1 || true
for _ in $(seq 1 600); do
    docker image inspect gofer.local/extension-interval:latest >/dev/null 2>&1 && break
    sleep 0.1
done
api POST /extensions '{"id": "fuzzext", "image": "gofer.local/extension-interval:latest", "settings": {"MIN_INTERVAL": "1s"}}'
api POST "$P/subscriptions" '{"extension_id": "fuzzext", "subscription_id": "tick", "settings": {"every": "1h"}}'
# What uninstall_extension and delete_subscription delete (schemathesis.toml); config version 3
# is the one delete_config deletes.
docker rm -f gofer.extension.doomedext >/dev/null 2>&1 || true
api POST /extensions '{"id": "doomedext", "image": "gofer.local/extension-interval:latest", "settings": {"MIN_INTERVAL": "1s"}}'
api POST "$P/subscriptions" '{"extension_id": "fuzzext", "subscription_id": "doomed", "settings": {"every": "1h"}}'

report="${FUZZ_REPORT:-target/api-fuzz-report}"
mkdir -p "$report"
status=0
"$venv/bin/schemathesis" --config-file docs/bench/schemathesis.toml run "$base/api/openapi.json" \
    --url "$base" \
    -H "Authorization: Bearer $token" \
    --seed "$seed" \
    --max-examples "$examples" \
    --generation-deterministic \
    --exclude-tag 'External events' \
    --request-timeout 10 \
    --workers 2 \
    --no-color \
    --report junit,ndjson --report-dir "$report" \
    || status=$?

if grep -qiE 'panicked|internal error' "$data/server.log"; then
    echo "the server logged a panic or an internal error:" >&2
    grep -iE 'panicked|internal error' "$data/server.log" | head -20 >&2
    status=1
fi
exit "$status"
