#!/usr/bin/env bash
# End-to-end check of flowkit on a real Kubernetes cluster: kind (Kubernetes in Docker) + Argo Workflows.
#
# Needs Docker and python3 with flowkit installed (pip install -e .). Installs kind and kubectl into
# ./.e2e/bin when they are missing, creates a kind cluster, installs Argo's quick-start manifests (server-side
# apply: Argo v4's full CRDs exceed the 256 KiB annotation a client-side apply would store), prepares the namespace
# with `flowkit cluster-setup` (service account, executor role, datastore claim), builds a small runtime image
# (Python + flowkit's runtime dependencies; no flowkit, no user code), then deploys a flow with a parameter, a
# foreach and a join, runs it, and stops as soon as it succeeds or fails.
#
# Usage: scripts/kind-e2e.sh            (KEEP_CLUSTER=1 keeps the cluster afterwards; ARGO_VERSION=... overrides;
#                                        WORKFLOW_TIMEOUT=seconds bounds the wait, POLL_SECONDS its pace)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${E2E_WORK:-$ROOT/.e2e}"
CLUSTER="${CLUSTER:-flowkit-e2e}"
NAMESPACE="argo"
ARGO_VERSION="${ARGO_VERSION:-v4.1.2}"
KIND_VERSION="${KIND_VERSION:-v0.24.0}"
KUBECTL_VERSION="${KUBECTL_VERSION:-v1.31.0}"
IMAGE="flowkit-runtime:e2e"
PYTHON="${PYTHON:-python3}"
WORKFLOW_TIMEOUT="${WORKFLOW_TIMEOUT:-600}"
POLL_SECONDS="${POLL_SECONDS:-5}"
# The pod's Python must match the client's: the package bootstrap refuses a different minor version.
PY_MINOR="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"

export PATH="$WORK/bin:$PATH"
mkdir -p "$WORK/bin"

log() { printf '\n==> %s\n' "$*"; }

install_tools() {
  local os arch
  os="$(uname -s | tr '[:upper:]' '[:lower:]')"
  arch="$(uname -m)"
  case "$arch" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; esac
  if ! command -v kind >/dev/null; then
    log "installing kind $KIND_VERSION"
    curl -fsSLo "$WORK/bin/kind" "https://kind.sigs.k8s.io/dl/$KIND_VERSION/kind-$os-$arch"
    chmod +x "$WORK/bin/kind"
  fi
  if ! command -v kubectl >/dev/null; then
    log "installing kubectl $KUBECTL_VERSION"
    curl -fsSLo "$WORK/bin/kubectl" "https://dl.k8s.io/release/$KUBECTL_VERSION/bin/$os/$arch/kubectl"
    chmod +x "$WORK/bin/kubectl"
  fi
}

create_cluster() {
  if kind get clusters | grep -qx "$CLUSTER"; then
    log "reusing kind cluster $CLUSTER"
  else
    log "creating kind cluster $CLUSTER"
    kind create cluster --name "$CLUSTER" --wait 120s
  fi
  kubectl config use-context "kind-$CLUSTER"
}

install_argo() {
  log "installing Argo Workflows $ARGO_VERSION (quick-start, server-side apply)"
  kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
  # Server-side: a client-side apply stores the whole object in an annotation, and Argo v4's full CRDs are larger
  # than the 256 KiB an annotation may hold. --force-conflicts takes over fields an earlier client-side apply owned.
  kubectl apply --server-side --force-conflicts -n "$NAMESPACE" \
    -f "https://github.com/argoproj/argo-workflows/releases/download/$ARGO_VERSION/quick-start-minimal.yaml"
  kubectl -n "$NAMESPACE" rollout status deployment/workflow-controller --timeout=300s
}

prepare_namespace() {
  log "preparing namespace $NAMESPACE: service account, executor role, datastore claim"
  # kind has one node, so a ReadWriteOnce claim (all its default storage class offers) serves every pod of a run.
  "$PYTHON" -c 'from flowkit.cli.main import main; main()' cluster-setup --namespace "$NAMESPACE" \
    --access-mode ReadWriteOnce --size 1Gi | kubectl apply -n "$NAMESPACE" -f -
}

build_image() {
  log "building $IMAGE (python:$PY_MINOR-slim + flowkit's runtime dependencies)"
  docker build -t "$IMAGE" - <<DOCKERFILE
FROM python:$PY_MINOR-slim
RUN pip install --no-cache-dir "pydantic>=2.6" "click>=8.1" "rich>=13.0" "PyYAML>=6.0" "pathspec>=0.11"
DOCKERFILE
  kind load docker-image "$IMAGE" --name "$CLUSTER"
}

write_flow() {
  mkdir -p "$WORK/flow"
  cat >"$WORK/flow/e2e_flow.py" <<'PYTHON'
from flowkit import Flow, Parameter, argo, kubernetes, step


@argo(namespace="argo", service_account="flowkit")
@kubernetes(image="flowkit-runtime:e2e", image_pull_policy="Never", cpu="100m", memory="256Mi")
class KindE2EFlow(Flow):
    greeting = Parameter("greeting", default="hello")

    @step
    def start(self):
        self.numbers = [1, 2, 3]
        self.next(self.square, foreach="numbers")

    @step
    def square(self):
        self.value = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.value for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(f"greeting={self.greeting} total={self.total}")


if __name__ == "__main__":
    KindE2EFlow()
PYTHON
}

run_flow() {
  local flow="$WORK/flow/e2e_flow.py" run
  log "argo-create (uploads the code package through a helper pod, applies the WorkflowTemplate)"
  "$PYTHON" "$flow" argo-create
  log "argo-create again (package already on the PVC: nothing sent; template updated in place)"
  "$PYTHON" "$flow" argo-create
  log "argo-trigger"
  run="$("$PYTHON" "$flow" argo-trigger --greeting "it's \"quoted\"" | tail -n 1)"
  echo "workflow: $run"
  wait_for_workflow "$run"
  kubectl -n "$NAMESPACE" logs -l "workflows.argoproj.io/workflow=$run" --all-containers --tail=-1 \
    | grep -F "greeting=it's \"quoted\" total=14"
  "$PYTHON" "$flow" argo-list-runs
  "$PYTHON" "$flow" argo-delete
}

# Poll the workflow's phase until it is final: Succeeded returns, Failed or Error stops the script at once (with the
# workflow and its pods' logs), and so does a workflow still running after WORKFLOW_TIMEOUT seconds.
wait_for_workflow() {
  local run="$1" phase="" waited=0
  while true; do
    phase="$(kubectl -n "$NAMESPACE" get workflow "$run" -o 'jsonpath={.status.phase}')"
    case "$phase" in
      Succeeded) return 0 ;;
      Failed | Error) break ;;
    esac
    if ((waited >= WORKFLOW_TIMEOUT)); then
      phase="${phase:-Pending} after ${WORKFLOW_TIMEOUT}s"
      break
    fi
    sleep "$POLL_SECONDS"
    waited=$((waited + POLL_SECONDS))
  done
  kubectl -n "$NAMESPACE" get workflow "$run" -o yaml || true
  kubectl -n "$NAMESPACE" logs -l "workflows.argoproj.io/workflow=$run" --all-containers --tail=50 || true
  echo "FAILED: workflow $run is $phase" >&2
  exit 1
}

cleanup() {
  if [[ "${KEEP_CLUSTER:-0}" != "1" ]]; then
    kind delete cluster --name "$CLUSTER" || true
  fi
}

main() {
  command -v docker >/dev/null || { echo "Docker is required" >&2; exit 2; }
  "$PYTHON" -c 'import flowkit' || { echo "install flowkit first: pip install -e ." >&2; exit 2; }
  install_tools
  trap cleanup EXIT
  create_cluster
  install_argo
  prepare_namespace
  build_image
  write_flow
  run_flow
  log "end-to-end run succeeded"
}

main "$@"
