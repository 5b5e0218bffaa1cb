"""A small dict-in, dict-out layer over the `kubernetes` client (TLS and kubeconfig handling are
the client's; the agent works on the API's JSON as the API server sends it)."""
import json
import logging
import threading
import time
from typing import Callable, Optional
from urllib.parse import urlparse

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

log = logging.getLogger("node.kube")
MERGE_PATCH = "application/merge-patch+json"


class Kube:
    def __init__(self, kubeconfig: str):
        configuration = client.Configuration()
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        configuration.connection_pool_maxsize = 64
        self.host = configuration.host
        self.api = client.ApiClient(configuration)

    @property
    def server_address(self) -> tuple[str, int]:
        url = urlparse(self.host)
        return url.hostname, url.port or 443

    def request(self, method: str, path: str, body=None, query: Optional[dict] = None,
                content_type: str = "application/json", timeout: float = 30):
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        resp = self.api.call_api(
            path, method, query_params=list((query or {}).items()), header_params=headers,
            body=body, auth_settings=["BearerToken"], _preload_content=False,
            _return_http_data_only=True, _request_timeout=timeout)
        data = resp.data
        return json.loads(data) if data else None

    def get(self, path, **query):
        return self.request("GET", path, query=query)

    def get_or_none(self, path):
        try:
            return self.get(path)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def post(self, path, body):
        return self.request("POST", path, body)

    def patch(self, path, body):
        return self.request("PATCH", path, body, content_type=MERGE_PATCH)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def delete(self, path, body=None):
        """Delete; an object already gone (404), or replaced by another of the same name (a
        failed uid precondition, 409), is no error."""
        try:
            return self.request("DELETE", path, body)
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise
            return None

    def watch(self, path: str, on_event: Callable[[str, dict], None], stop: threading.Event,
              on_list: Optional[Callable[[list], None]] = None, **query):
        """List, then watch from that list's resourceVersion; relist when the watch expires.
        on_list gets every object of each (re)list; on_event gets (type, object)."""
        while not stop.is_set():
            try:
                listing = self.get(path, **query)
                if on_list:
                    on_list(listing.get("items") or [])
                version = listing["metadata"]["resourceVersion"]
                self._watch_from(path, version, on_event, stop, query)
            except Exception as exc:  # noqa: BLE001 - the API server may restart; retry
                if stop.is_set():
                    return
                log.warning("watch %s: %s; relisting", path, exc)
                time.sleep(1)

    def _watch_from(self, path, version, on_event, stop, query):
        while not stop.is_set():
            params = dict(query, watch="true", resourceVersion=version, timeoutSeconds=60,
                          allowWatchBookmarks="true")
            resp = self.api.call_api(
                path, "GET", query_params=list(params.items()),
                header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
                _preload_content=False, _return_http_data_only=True, _request_timeout=90)
            try:
                for line in iter_resp_lines(resp):
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        raise RuntimeError(f"watch error: {obj.get('message')}")
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    if event.get("type") != "BOOKMARK":
                        on_event(event["type"], obj)
                    if stop.is_set():
                        return
            finally:
                resp.release_conn()
