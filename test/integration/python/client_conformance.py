"""Drives the sandbox API server with the official Python client (Debian python3-kubernetes).

Run with the system /usr/bin/python3: python3 client_conformance.py KUBECONFIG
Prints one JSON object of observations; the vitest test judges them.
"""
import datetime
import json
import sys
import threading
import time

import kubernetes
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
coordination = client.CoordinationV1Api()
events_v1 = client.EventsV1Api()
NS = "default"
out = {"clientVersion": kubernetes.__version__}


def failure(call):
    """The status code and reason of a call that must fail."""
    try:
        call()
    except ApiException as e:
        return {"status": e.status, "reason": json.loads(e.body).get("reason")}
    return None


# ConfigMaps: create, read, replace, a stale replace, patch, list.
cm = core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-cm"), data={"a": "1"}))
stale = core.read_namespaced_config_map("py-cm", NS)
cm.data["a"] = "2"
out["cmReplaced"] = core.replace_namespaced_config_map("py-cm", NS, cm).data
stale.data["a"] = "3"
out["cmStaleReplace"] = failure(lambda: core.replace_namespaced_config_map("py-cm", NS, stale))
patched = core.patch_namespaced_config_map("py-cm", NS, {"metadata": {"labels": {"x": "y"}}})
out["cmLabels"] = patched.metadata.labels
out["cmNames"] = [c.metadata.name for c in core.list_namespaced_config_map(NS).items]

# Paging: limit and _continue, as the client's users page a long list.
for name in ["pg-c", "pg-a", "pg-b"]:
    core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"paged": "1"})))
paged, token, pages = [], None, 0
while True:
    page = core.list_namespaced_config_map(NS, label_selector="paged=1", limit=2, _continue=token)
    pages += 1
    paged += [c.metadata.name for c in page.items]
    token = page.metadata._continue
    if not token:
        break
out["paged"] = {"names": paged, "pages": pages}
for name in ["pg-a", "pg-b", "pg-c"]:
    core.delete_namespaced_config_map(name, NS)

# A watch from a resourceVersion sees what happens after it (the client sends watch=True).
seen = []
stream = watch.Watch()


def follow():
    for event in stream.stream(core.list_namespaced_config_map, NS, resource_version=patched.metadata.resource_version, field_selector="metadata.name=py-cm", timeout_seconds=10):
        seen.append([event["type"], (event["object"].data or {}).get("a")])
        if event["type"] == "DELETED":
            stream.stop()


watcher = threading.Thread(target=follow)
watcher.start()
time.sleep(0.3)
core.patch_namespaced_config_map("py-cm", NS, {"data": {"a": "9"}})
core.delete_namespaced_config_map("py-cm", NS)
watcher.join(15)
out["watch"] = seen

# Services: create, the status subresource, replace, delete.
svc = core.create_namespaced_service(NS, client.V1Service(
    metadata=client.V1ObjectMeta(name="py-svc"),
    spec=client.V1ServiceSpec(type="LoadBalancer", selector={"app": "py"}, ports=[client.V1ServicePort(port=80, target_port=8080)]),
))
out["svcClusterIP"] = svc.spec.cluster_ip
core.patch_namespaced_service_status("py-svc", NS, {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.50"}]}}})
out["svcStatusIngress"] = [i.ip for i in core.read_namespaced_service_status("py-svc", NS).status.load_balancer.ingress]
svc = core.read_namespaced_service("py-svc", NS)
svc.spec.ports[0].port = 8081
out["svcReplacedPort"] = core.replace_namespaced_service("py-svc", NS, svc).spec.ports[0].port
core.delete_namespaced_service("py-svc", NS)
out["svcAfterDelete"] = failure(lambda: core.read_namespaced_service("py-svc", NS))

# Leases (MicroTime): create, update, list, delete.
renew = datetime.datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=datetime.timezone.utc)
lease = coordination.create_namespaced_lease(NS, client.V1Lease(
    metadata=client.V1ObjectMeta(name="py-lease"),
    spec=client.V1LeaseSpec(holder_identity="node-a", lease_duration_seconds=15, renew_time=renew),
))
out["leaseRenewTime"] = lease.spec.renew_time.isoformat()
lease.spec.holder_identity = "node-b"
out["leaseHolder"] = coordination.replace_namespaced_lease("py-lease", NS, lease).spec.holder_identity
out["leaseNames"] = [item.metadata.name for item in coordination.list_namespaced_lease(NS).items]
coordination.delete_namespaced_lease("py-lease", NS)

# Events: create a core/v1 Event, read it as events.k8s.io/v1, delete it. The event has an
# eventTime: python3-kubernetes refuses events.k8s.io/v1 Events without one (also from a real
# cluster; kubernetes-client/python issue 1616).
core.create_namespaced_event(NS, client.CoreV1Event(
    metadata=client.V1ObjectMeta(name="py-event"),
    involved_object=client.V1ObjectReference(kind="Service", name="py-svc", namespace=NS),
    reason="Tested", message="hello from python", type="Normal", action="Testing",
    event_time=renew, reporting_component="py-test", reporting_instance="py-test-1",
))
out["eventNote"] = events_v1.read_namespaced_event("py-event", NS).note
out["eventReasons"] = [e.reason for e in core.list_namespaced_event(NS).items]
core.delete_namespaced_event("py-event", NS)
out["eventAfterDelete"] = failure(lambda: events_v1.read_namespaced_event("py-event", NS))

print(json.dumps(out))
