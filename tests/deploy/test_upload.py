"""Putting package files on the datastore PVC through a helper pod and the exec WebSocket, as `kubectl cp` does."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from flowkit.deploy.config import ApiClientFactory
from flowkit.deploy.errors import DeployError
from flowkit.deploy.pod_exec import HelperPodSpec
from flowkit.deploy.upload import FileUpload, upload_files
from tests.support.argo_schema import validate_kubernetes_object
from tests.support.fake_kube import FakeKube

CLAIM = "flowkit-datastore"
PACKAGE_ID = "ab" * 32
ARCHIVE = f"packages/sha256/{PACKAGE_ID}/code.tar.gz"
PAYLOAD = "packages/payloads/cd.pkl"
POD = HelperPodSpec(claim=CLAIM)


def file_upload(relpath: str, data: bytes) -> FileUpload:
    return FileUpload(relpath, data, hashlib.sha256(data).hexdigest())


@pytest.fixture(params=["v4.channel.k8s.io", "v5.channel.k8s.io"])
def exec_kube(request: pytest.FixtureRequest, kube: FakeKube) -> FakeKube:
    """The fake server speaking each exec protocol: v5 can close stdin, v4 cannot."""
    kube.exec_protocol = request.param
    return kube


def all_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def exec_requests(kube: FakeKube) -> list[list[str]]:
    return [r.query["command"] for r in kube.requests if r.path.endswith("/exec")]


def test_files_arrive_byte_identical_and_the_pod_is_deleted(exec_kube: FakeKube, factory: ApiClientFactory) -> None:
    archive = os.urandom(3 * 1024 * 1024 + 17)  # several stdin chunks and WebSocket frames
    payload = os.urandom(1000)

    stored = upload_files(factory, "default", [file_upload(ARCHIVE, archive), file_upload(PAYLOAD, payload)], POD)

    pvc = exec_kube.pvc_dir(CLAIM)
    assert (pvc / ARCHIVE).read_bytes() == archive
    assert (pvc / PAYLOAD).read_bytes() == payload
    assert all_files(pvc) == sorted([ARCHIVE, PAYLOAD])  # no temporary file left behind
    assert stored[ARCHIVE].written and stored[ARCHIVE].sha256 == hashlib.sha256(archive).hexdigest()
    # list, one stream per file (busybox `head -c` reads ahead, so two files must not share stdin), commit
    assert len(exec_requests(exec_kube)) == 4
    assert len(exec_kube.deleted_pods) == 1
    assert not [key for key in exec_kube.objects if key[0] == "pods"]


def test_the_helper_pod_mounts_the_claim_and_cannot_outlive_its_job(kube: FakeKube, factory: ApiClientFactory) -> None:
    security = {"runAsUser": 1000, "runAsNonRoot": True, "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    toleration = {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
    pod = HelperPodSpec(
        claim=CLAIM,
        mount_path="/data",
        image="registry.internal/mirror/busybox:1.36",
        security_context=security,
        image_pull_secrets=("internal-registry",),
        node_selector={"pool": "ml"},
        tolerations=(toleration,),
    )
    upload_files(factory, "default", [file_upload(ARCHIVE, b"x")], pod)

    created = next(r.body for r in kube.requests if r.method == "POST" and r.path.endswith("/pods"))
    spec = created["spec"]
    assert spec["volumes"] == [{"name": "datastore", "persistentVolumeClaim": {"claimName": CLAIM}}]
    (container,) = spec["containers"]
    assert container["volumeMounts"] == [{"name": "datastore", "mountPath": "/data"}]
    assert container["image"] == "registry.internal/mirror/busybox:1.36"
    assert container["resources"]["requests"] == container["resources"]["limits"]  # admitted under a ResourceQuota
    assert spec["activeDeadlineSeconds"] > 0 and spec["restartPolicy"] == "Never"
    assert spec["securityContext"] == security
    assert spec["imagePullSecrets"] == [{"name": "internal-registry"}]
    assert (spec["nodeSelector"], spec["tolerations"]) == ({"pool": "ml"}, [toleration])
    validate_kubernetes_object(created)


def test_a_second_upload_sends_nothing_and_changes_nothing(exec_kube: FakeKube, factory: ApiClientFactory) -> None:
    archive = os.urandom(5000)
    upload_files(factory, "default", [file_upload(ARCHIVE, archive)], POD)
    target = exec_kube.pvc_dir(CLAIM) / ARCHIVE
    before = target.stat()
    execs_before = len(exec_requests(exec_kube))

    stored = upload_files(factory, "default", [file_upload(ARCHIVE, archive)], POD)

    assert not stored[ARCHIVE].written
    assert len(exec_requests(exec_kube)) == execs_before + 1  # only the listing, no transfer
    assert (target.stat().st_ino, target.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(exec_kube.deleted_pods) == 2


def _archive(members: dict[str, bytes], level: int) -> bytes:
    """A gzipped tar of ``members``, compressed at ``level`` (another level: other bytes, same content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), compresslevel=level, mtime=0)


def test_an_earlier_archive_of_the_same_package_is_kept_and_its_own_hash_reported(
    kube: FakeKube, factory: ApiClientFactory
) -> None:
    manifest = b'{"files": []}'
    members = {"manifest.json": manifest, "code/flow.py": b"print('hi')\n"}
    earlier_build, this_build = _archive(members, 1), _archive(members, 9)
    assert earlier_build != this_build
    target = kube.pvc_dir(CLAIM) / ARCHIVE
    target.parent.mkdir(parents=True)
    target.write_bytes(earlier_build)
    upload = replace(
        file_upload(ARCHIVE, this_build), same_content=("manifest.json", hashlib.sha256(manifest).hexdigest())
    )

    stored = upload_files(factory, "default", [upload], POD)

    assert target.read_bytes() == earlier_build
    assert stored[ARCHIVE].sha256 == hashlib.sha256(earlier_build).hexdigest()


@pytest.mark.parametrize("same_content", [None, ("manifest.json", "0" * 64)])
def test_a_file_already_there_that_is_not_this_one_stops_the_upload(
    kube: FakeKube, factory: ApiClientFactory, same_content: tuple[str, str] | None
) -> None:
    target = kube.pvc_dir(CLAIM) / ARCHIVE
    target.parent.mkdir(parents=True)
    target.write_bytes(_archive({"manifest.json": b"another package"}, 6))
    upload = replace(file_upload(ARCHIVE, b"new bytes"), same_content=same_content)

    with pytest.raises(DeployError, match="already exists on the claim but is not what this deploy needs"):
        upload_files(factory, "default", [upload], POD)
    assert len(kube.deleted_pods) == 1  # the pod is gone all the same


@pytest.mark.parametrize(("corrupted_exec", "relpath"), [(1, ARCHIVE), (2, PAYLOAD)])
def test_a_corrupted_transfer_is_rejected_and_nothing_is_moved_into_place(
    exec_kube: FakeKube, factory: ApiClientFactory, corrupted_exec: int, relpath: str
) -> None:
    exec_kube.corrupt_execs = {corrupted_exec}  # exec 0 lists the PVC, then one exec per file
    files = [file_upload(ARCHIVE, os.urandom(4096)), file_upload(PAYLOAD, os.urandom(100))]

    with pytest.raises(DeployError, match=rf"{relpath}: .*received bytes have sha256 .* \(corrupted transfer\)"):
        upload_files(factory, "default", files, POD)

    assert all_files(exec_kube.pvc_dir(CLAIM)) == []  # neither file, nor a temporary one
    assert len(exec_kube.deleted_pods) == 1
    assert not [key for key in exec_kube.objects if key[0] == "pods"]


def test_a_pod_that_cannot_start_is_reported_and_deleted(kube: FakeKube, factory: ApiClientFactory) -> None:
    kube.pod_start_status = {
        "phase": "Failed",
        "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": 'pvc "x" not found'}
        ],
    }

    with pytest.raises(DeployError, match=r"did not start \(phase Failed: Unschedulable: pvc \"x\" not found\)"):
        upload_files(factory, "default", [file_upload(ARCHIVE, b"x")], POD)

    assert len(kube.deleted_pods) == 1
    assert exec_requests(kube) == []


def test_forbidden_exec_is_named_and_the_pod_deleted(kube: FakeKube, factory: ApiClientFactory) -> None:
    kube.fail("create", "pods/exec", 403)

    with pytest.raises(DeployError, match="may not create pods/exec in namespace 'default'"):
        upload_files(factory, "default", [file_upload(ARCHIVE, b"x")], POD)

    assert len(kube.deleted_pods) == 1


def test_a_missing_namespace_creates_no_pod(kube: FakeKube, factory: ApiClientFactory) -> None:
    with pytest.raises(DeployError, match="namespace 'nowhere' does not exist"):
        upload_files(factory, "nowhere", [file_upload(ARCHIVE, b"x")], POD)

    assert kube.objects == {}


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (FileUpload(ARCHIVE, b"bytes", "0" * 64), "have sha256"),
        (file_upload("../escape", b"x"), "must be relative"),
        (file_upload("/etc/passwd", b"x"), "must be relative"),
        (file_upload("a b", b"x"), "unusual characters"),
    ],
)
def test_bad_uploads_are_refused_before_any_request(
    kube: FakeKube, factory: ApiClientFactory, upload: FileUpload, message: str
) -> None:
    with pytest.raises(DeployError, match=message):
        upload_files(factory, "default", [upload], POD)

    assert kube.requests == []
