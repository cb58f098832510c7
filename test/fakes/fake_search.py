#!/usr/bin/env python3
"""Strict local fake of the CloudSearch document + configuration services and OpenSearch `_bulk`.

For tests only (one Python process; not a benchmark peer).  Routes:
  POST /2013-01-01/documents/batch[?format=sdk]   CloudSearch upload (SigV4 service cloudsearch)
  POST / (Action=...)                             CloudSearch configuration API (Query protocol)
  POST /_bulk, POST /INDEX/_bulk                  OpenSearch bulk (SigV4 es/aoss, Basic, or none)
  PUT|GET /_index_template/NAME                   OpenSearch composable index templates (same auth)
  /_fake/...                                      control endpoints, never signed:
     POST /_fake/faults   {"status":507,"count":3} | {"reset":2} | {"delay_ms":3000,"count":1}
                          | {"bulk_item_status":429,"count":5} | {"reject_ids":["x"]}
                          optional "target": "upload" (default: both upload APIs), "cloudsearch",
                          "opensearch" or "config"; optional "retry_after" (seconds) for status faults;
                          "rst": true makes a reset abortive (TCP RST instead of FIN).
                          | {"body":"<html>..</html>","count":2} answers with that body instead of
                          handling the request (nothing is stored); optional "status" (default 200) and
                          "content_type" (default text/html): a proxy's page, a foreign answer.
                          | {"clear":true} drops every pending fault (reject_ids stay)
                          | {"rate":BYTES_PER_S,"burst":BYTES} a token bucket on upload bytes (per target):
                          a request finding fewer tokens than its body is answered "throttle_status"
                          (default 429; optional "retry_after") and takes none; {"rate":0} removes it
                          | {"load_ms":MS,"capacity":C,"throttle_above":M} latency that grows with the
                          uploads in flight: MS while at most C are, MS * (1 + in_flight - C) beyond;
                          429 when more than M are in flight (0: never); {"load_ms":0} removes it
     GET  /_fake/accepted {"cloudsearch":{"ids":[...],"adds":N,"deletes":D,"batches":B},
                           "opensearch":{...same...},"rejected":R,"rejected_batches":..,"rejected_items":..}
     GET  /_fake/stats    request/response counters, connections, max uploads in flight, faults fired,
                          "pacing": {TARGET: {"accepted_bytes","throttled","requests","first","last",
                          "accepted_at":[[s,bytes]..],"throttled_at":[[s,bytes,tokens]..]}} (s from the first)
     GET  /_fake/mappings {INDEX: {"template":NAME|null,"dynamic":..,"documents":N,
                           "fields":{PATH:{"type":T,"origin":"template"|"dynamic"}}}}
     POST /_fake/reset    forget accepted documents, stats, faults, reject_ids, OpenSearch mappings and templates
     GET  /_fake/health   200
Startup prints "LISTENING <port>" on stdout; SIGTERM stops the server.
Rules enforced: the CloudSearch Developer Guide and API reference, OpenSearch's `_bulk` API; see
cloudsearch_docs.py.
"""

import argparse
import base64
import hmac
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cloudsearch_docs  # noqa: E402
from cloudsearch_config import ConfigService  # noqa: E402
from opensearch_bulk import BulkRequestError, BulkService, TemplateError  # noqa: E402
from sigv4_check import AuthError, verify  # noqa: E402

DOC_BATCH_PATH = "/2013-01-01/documents/batch"
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_DRAIN_BYTES = 64 * 1024 * 1024   # bodies above this are not read before refusing
MAX_CONTROL_BYTES = 1024 * 1024
CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "us-ascii": "ascii", "ascii": "ascii",
            "iso-8859-1": "latin-1", "latin1": "latin-1", "iso8859-1": "latin-1"}
ITEM_ERROR_TYPES = {429: "es_rejected_execution_exception", 503: "unavailable_shards_exception"}


class Refusal(Exception):
    """Stop handling a request and answer with this status/body."""

    def __init__(self, status, body, content_type="application/json", headers=None, close=False):
        super().__init__(status)
        self.status, self.body, self.content_type = status, body, content_type
        self.headers, self.close = headers or {}, close


class _Dropped(Exception):
    """Injected reset: close the connection without answering."""


def cs_error(status, message, extra=None):
    body = {"status": "error", "adds": 0, "deletes": 0, "errors": [{"message": message}], "message": message}
    body.update(extra or {})
    return Refusal(status, json.dumps(body))


class FakeState:
    """Everything shared between handler threads, guarded by one lock."""

    def __init__(self, accepted_file):
        self.lock = threading.Lock()
        self.accepted_file = open(accepted_file, "a", encoding="utf-8") if accepted_file else None
        self.reset()

    def reset(self):
        with self.lock:
            self.accepted = {svc: {"ids": [], "seen": set(), "adds": 0, "deletes": 0, "batches": 0,
                                   "deleted_ids": []} for svc in ("cloudsearch", "opensearch")}
            self.rejected_batches = 0
            self.rejected_items = 0
            self.faults = []          # dicts: kind, count, status/delay_ms/rst, target
            self.item_faults = []     # dicts: status, count
            self.reject_ids = set()
            self.stats = {"requests": {}, "responses": {}, "bytes_in": 0, "connections": 0,
                          "in_flight": 0, "max_in_flight": 0, "auth_failures": 0, "faults_fired": {},
                          "pacing": {}}
            self.buckets = {}  # target -> {"rate", "burst", "tokens", "at", "status", "retry_after"}
            self.load = None   # {"ms", "capacity", "throttle_above", "target"}

    def count(self, group, key, amount=1):
        with self.lock:
            self.stats[group][str(key)] = self.stats[group].get(str(key), 0) + amount

    def bump(self, key, amount=1):
        with self.lock:
            self.stats[key] += amount
            if key == "in_flight":
                self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self.stats["in_flight"])

    def add_faults(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("fault spec must be a JSON object")
        target = spec.get("target", "upload")
        if target not in ("upload", "cloudsearch", "opensearch", "config"):
            raise ValueError(f"unknown target {target!r}")
        added = []
        with self.lock:
            if "delay_ms" in spec:
                added.append({"kind": "delay", "delay_ms": int(spec["delay_ms"]), "count": int(spec.get("count", 1)),
                              "target": target})
            if "body" in spec:
                added.append({"kind": "body", "status": int(spec.get("status", 200)), "body": str(spec["body"]),
                              "content_type": str(spec.get("content_type", "text/html")),
                              "count": int(spec.get("count", 1)), "target": target})
            elif "status" in spec:
                added.append({"kind": "status", "status": int(spec["status"]), "count": int(spec.get("count", 1)),
                              "target": target, "retry_after": spec.get("retry_after")})
            if "reset" in spec:
                added.append({"kind": "reset", "count": int(spec["reset"]), "rst": bool(spec.get("rst")),
                              "target": target})
            if "bulk_item_status" in spec:
                self.item_faults.append({"status": int(spec["bulk_item_status"]), "count": int(spec.get("count", 1))})
            if spec.get("clear"):
                self.faults, self.item_faults = [], []
                added.append({"kind": "clear", "count": 0})
            if "rate" in spec:
                rate = float(spec["rate"])
                if rate <= 0:
                    self.buckets.pop(target, None)
                else:
                    burst = float(spec.get("burst", rate))
                    self.buckets[target] = {"rate": rate, "burst": burst, "tokens": burst, "at": time.monotonic(),
                                            "status": int(spec.get("throttle_status", 429)),
                                            "retry_after": spec.get("retry_after")}
                added.append({"kind": "rate", "count": 0})
            if "load_ms" in spec:
                ms = float(spec["load_ms"])
                self.load = None if ms <= 0 else {"ms": ms, "capacity": int(spec.get("capacity", 1)),
                                                  "throttle_above": int(spec.get("throttle_above", 0)),
                                                  "target": target}
                added.append({"kind": "load", "count": 0})
            if "reject_ids" in spec:
                ids = spec["reject_ids"]
                if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                    raise ValueError("reject_ids must be a list of strings")
                self.reject_ids = set(ids) if not ids else self.reject_ids | set(ids)
            self.faults.extend(a for a in added if a["count"] > 0)
        if not added and not {"bulk_item_status", "reject_ids"} & set(spec):
            raise ValueError("no known fault in spec")

    def take_faults(self, service):
        """Consume the delay (if any) and the first status/reset fault that applies to service."""
        delay, outcome = 0, None
        with self.lock:
            for fault in self.faults:
                applies = fault["target"] == service or (fault["target"] == "upload" and service != "config")
                if not applies or fault["count"] <= 0:
                    continue
                if fault["kind"] == "delay" and not delay:
                    delay = fault["delay_ms"]
                    fault["count"] -= 1
                elif fault["kind"] != "delay" and outcome is None:
                    outcome = dict(fault)
                    fault["count"] -= 1
            self.faults = [f for f in self.faults if f["count"] > 0]
            for fired in (["delay"] if delay else []) + ([outcome["kind"]] if outcome else []):
                self.stats["faults_fired"][fired] = self.stats["faults_fired"].get(fired, 0) + 1
        return delay, outcome

    def pace(self, service, nbytes):
        """The byte-rate bucket of service (or "upload"): None when the request may go on, else the
        (status, retry_after) to throttle it with.  Counts what it sees per service."""
        now = time.monotonic()
        with self.lock:
            stats = self.stats["pacing"].setdefault(service, {"accepted_bytes": 0, "throttled": 0, "requests": 0,
                                                              "first": now, "last": now})
            stats["requests"] += 1
            stats["last"] = now
            bucket = self.buckets.get(service) or self.buckets.get("upload")
            if bucket:
                bucket["tokens"] = min(bucket["burst"], bucket["tokens"] + (now - bucket["at"]) * bucket["rate"])
                bucket["at"] = now
                if bucket["tokens"] < nbytes:
                    stats["throttled"] += 1
                    stats.setdefault("throttled_at", []).append([round(now - stats["first"], 3), nbytes,
                                                                 round(bucket["tokens"])])
                    return bucket["status"], bucket["retry_after"]
                bucket["tokens"] -= nbytes
            stats["accepted_bytes"] += nbytes
            stats.setdefault("accepted_at", []).append([round(now - stats["first"], 3), nbytes])
            return None

    def load_delay(self, service):
        """Seconds to wait before answering, and whether to throttle, from the load fault (the
        request is already counted in in_flight)."""
        with self.lock:
            load = self.load
            if not load or load["target"] not in ("upload", service):
                return 0.0, False
            in_flight = self.stats["in_flight"]
            if load["throttle_above"] and in_flight > load["throttle_above"]:
                return 0.0, True
            return load["ms"] * (1 + max(0, in_flight - load["capacity"])) / 1000.0, False

    def bulk_item_fault(self, doc_id):
        with self.lock:
            if doc_id in self.reject_ids:
                return 400, "mapper_parsing_exception", "document rejected by fault injection (reject_ids)"
            for fault in self.item_faults:
                if fault["count"] > 0:
                    fault["count"] -= 1
                    self.stats["faults_fired"]["bulk_item"] = self.stats["faults_fired"].get("bulk_item", 0) + 1
                    status = fault["status"]
                    return status, ITEM_ERROR_TYPES.get(status, "fake_fault_exception"), \
                        f"rejected execution of bulk item (injected fault, status {status})"
        return None

    def record(self, service, added_ids, deleted_ids, rejected_items=0):
        with self.lock:
            acc = self.accepted[service]
            acc["batches"] += 1
            acc["adds"] += len(added_ids)
            acc["deletes"] += len(deleted_ids)
            acc["deleted_ids"].extend(deleted_ids)
            for doc_id in added_ids:
                if doc_id not in acc["seen"]:
                    acc["seen"].add(doc_id)
                    acc["ids"].append(doc_id)
            self.rejected_items += rejected_items
            if self.accepted_file and added_ids:
                self.accepted_file.write("".join(i + "\n" for i in added_ids))
                self.accepted_file.flush()

    def snapshot_accepted(self):
        with self.lock:
            out = {svc: {k: v for k, v in acc.items() if k != "seen"} for svc, acc in self.accepted.items()}
            out.update(rejected=self.rejected_batches + self.rejected_items,
                       rejected_batches=self.rejected_batches, rejected_items=self.rejected_items)
            return json.loads(json.dumps(out))

    def snapshot_stats(self):
        with self.lock:
            out = json.loads(json.dumps(self.stats))
            out["pending_faults"] = [dict(f) for f in self.faults] + \
                [{"kind": "bulk_item", **f} for f in self.item_faults if f["count"] > 0]
            out["reject_ids"] = sorted(self.reject_ids)
            return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-search/1"

    # --- plumbing -------------------------------------------------------------------------
    def setup(self):
        super().setup()
        self.server.state.bump("connections")

    def log_message(self, fmt, *args):
        if self.server.options.verbose:
            sys.stderr.write("fake_search: " + (fmt % args) + "\n")

    def handle_expect_100(self):
        """Refuse an announced oversized upload before the client sends it."""
        route = self._route()
        limit = MAX_BATCH_BYTES if route == "cloudsearch" else self.server.options.max_bulk_bytes
        length = self.headers.get("Content-Length", "")
        if route in ("cloudsearch", "opensearch") and length.isdigit() and int(length) > limit:
            self.server.state.count("requests", route)
            self.close_connection = True
            self._answer(Refusal(413, json.dumps({"status": "error", "message": "The Content-Length is too long"}),
                                 close=True))
            return False
        return super().handle_expect_100()

    def _answer(self, refusal):
        body = refusal.body.encode("utf-8") if isinstance(refusal.body, str) else refusal.body
        self.send_response(refusal.status)
        self.send_header("Content-Type", refusal.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in refusal.headers.items():
            self.send_header(name, str(value))
        if refusal.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.state.count("responses", refusal.status)

    def _target(self):
        """The request-target exactly as sent, reduced to origin form."""
        if self.path.startswith(("http://", "https://")):
            parts = urlsplit(self.path)
            return (parts.path or "/") + ("?" + parts.query if parts.query else "")
        return self.path

    def _route(self):
        path = self._target().partition("?")[0]
        if path.startswith("/_fake/"):
            return "control"
        if path == DOC_BATCH_PATH or path.startswith("/2013-01-01/") or path.count("/") >= 3 and \
                path[1:5].isdigit() and path[5] == "-":
            return "cloudsearch"
        if path == "/_bulk" or (path.endswith("/_bulk") and path.count("/") == 2):
            return "opensearch"
        if path.startswith("/_index_template/") and path.count("/") == 2:
            return "template"
        if path == "/":
            return "root"
        return "other"

    def _read_body(self, limit, allow_chunked, too_long_message):
        encoding = self.headers.get("Transfer-Encoding")
        length = self.headers.get("Content-Length")
        if encoding:
            if not allow_chunked or encoding.strip().lower() != "chunked":
                raise Refusal(411, json.dumps({"status": "error", "message":
                              "Content-Length required; Transfer-Encoding is not accepted"}), close=True)
            return self._read_chunked(limit, too_long_message)
        if length is None:
            if self.command in ("POST", "PUT"):
                raise Refusal(411, json.dumps({"status": "error", "message": "Content-Length required"}), close=True)
            return b""
        if not length.isdigit():
            raise Refusal(400, json.dumps({"status": "error", "message": "Invalid Content-Length"}), close=True)
        size = int(length)
        if size > limit:
            if size <= MAX_DRAIN_BYTES:
                self._drain(size)
                raise Refusal(413, json.dumps({"status": "error", "message": too_long_message}))
            raise Refusal(413, json.dumps({"status": "error", "message": too_long_message}), close=True)
        body = self.rfile.read(size)
        if len(body) != size:
            raise Refusal(400, json.dumps({"status": "error", "message": "Body shorter than Content-Length"}),
                          close=True)
        self.server.state.bump("bytes_in", size)
        return body

    def _drain(self, size):
        while size > 0:
            chunk = self.rfile.read(min(size, 1 << 16))
            if not chunk:
                break
            size -= len(chunk)

    def _read_chunked(self, limit, too_long_message):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024).strip()
            try:
                size = int(line.split(b";")[0], 16)
            except ValueError:
                raise Refusal(400, json.dumps({"error": "bad chunk header"}), close=True) from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                break
            total += size
            if total > limit:
                raise Refusal(413, json.dumps({"status": "error", "message": too_long_message}), close=True)
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)
        self.server.state.bump("bytes_in", total)
        return b"".join(parts)

    def _header_list(self):
        return list(self.headers.items())

    def _check_sigv4(self, body, services, require_sha=False):
        opts = self.server.options
        try:
            return verify(self.command, self._target(), self._header_list(), body, access_key=opts.access_key,
                          secret_key=opts.secret_key, region=opts.region, services=services,
                          session_token=opts.session_token, require_content_sha256=require_sha)
        except AuthError:
            self.server.state.bump("auth_failures")
            raise

    # --- dispatch -------------------------------------------------------------------------
    def _dispatch(self):
        route = self._route()
        self.server.state.count("requests", route)
        handler = {"control": self._control, "cloudsearch": self._cloudsearch, "opensearch": self._opensearch,
                   "template": self._template, "root": self._root}.get(route)
        try:
            if handler is None:
                raise Refusal(404, json.dumps({"status": "error", "message": f"No route for {self._target()}"}))
            handler()
        except Refusal as refusal:
            self._answer(refusal)
        except (_Dropped, ConnectionError, socket.timeout):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

    def _apply_pacing(self, service, nbytes):
        """The load and rate faults: latency that grows with load, throttling beyond a byte rate."""
        state = self.server.state
        delay, overloaded = state.load_delay(service)
        if overloaded:
            self._throttle(service, 429, None)
        if delay:
            time.sleep(delay)
        verdict = state.pace(service, nbytes)
        if verdict:
            self._throttle(service, *verdict)

    def _throttle(self, service, status, retry_after):
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        if service == "opensearch":
            raise Refusal(status, json.dumps({"error": {"type": "es_rejected_execution_exception",
                                                        "reason": "rejected execution: too many requests"},
                                              "status": status}), headers=headers)
        raise Refusal(status, json.dumps({"status": "error", "message": "Rate exceeded (fake byte rate)"}),
                      headers=headers)

    def _apply_faults(self, service):
        """Run injected faults; returns normally when the request should proceed."""
        delay, outcome = self.server.state.take_faults(service)
        if delay:
            time.sleep(delay / 1000.0)
        if outcome is None:
            return
        if outcome["kind"] == "reset":
            if outcome.get("rst"):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            raise _Dropped()
        if outcome["kind"] == "body":
            raise Refusal(outcome["status"], outcome["body"], outcome["content_type"])
        status = outcome["status"]
        headers = {"Retry-After": outcome["retry_after"]} if outcome.get("retry_after") is not None else {}
        if service == "opensearch":
            etype = ITEM_ERROR_TYPES.get(status, "fake_fault_exception")
            raise Refusal(status, json.dumps({"error": {"type": etype, "reason": f"injected fault {status}"},
                                              "status": status}), headers=headers)
        if service == "config":
            raise Refusal(status, "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>"
                          f"<Message>injected fault {status}</Message></Error></ErrorResponse>",
                          "text/xml", headers=headers)
        raise Refusal(status, json.dumps({"status": "error", "message": f"injected fault {status}"}),
                      headers=headers)

    # --- CloudSearch documents ------------------------------------------------------------
    def _cloudsearch(self):
        path, _, query = self._target().partition("?")
        if path != DOC_BATCH_PATH:
            raise cs_error(404, f"Unknown path {path}: expected POST {DOC_BATCH_PATH}")
        if self.command != "POST":
            raise Refusal(405, json.dumps({"status": "error", "message": f"Method {self.command} not allowed"}),
                          headers={"Allow": "POST"})
        if query not in ("", "format=sdk"):
            raise cs_error(400, f"Unsupported query string {query!r} (only format=sdk)")
        state = self.server.state
        state.bump("in_flight")
        try:
            body = self._read_body(MAX_BATCH_BYTES, False, "The Content-Length is too long")
            try:
                if not self.server.options.no_auth:
                    self._check_sigv4(body, ("cloudsearch",))
            except AuthError as err:
                raise Refusal(err.status, json.dumps({"__type": err.code, "message": err.message}),
                              headers={"x-amzn-ErrorType": err.code}) from None
            is_xml, charset = self._cs_content_type()
            accept_xml = self._cs_accept(is_xml)
            try:
                self._apply_faults("cloudsearch")
                self._apply_pacing("cloudsearch", len(body))
                text = self._cs_decode(body, charset)
                operations = cloudsearch_docs.validate_batch(
                    text, is_xml, self.server.config.schema_for_host(self.headers.get("Host")),
                    frozenset(state.reject_ids), self.server.options.max_doc_bytes)
            except cloudsearch_docs.BatchError as err:
                with state.lock:
                    state.rejected_batches += 1
                raise self._cs_result(400, accept_xml, 0, 0, err.messages) from None
            adds = [doc_id for op, doc_id in operations if op == "add"]
            deletes = [doc_id for op, doc_id in operations if op == "delete"]
            state.record("cloudsearch", adds, deletes)
            raise self._cs_result(200, accept_xml, len(adds), len(deletes), [])
        finally:
            state.bump("in_flight", -1)

    def _cs_content_type(self):
        raw = self.headers.get("Content-Type")
        if not raw:
            raise cs_error(415, "Content-Type header must be one of ['application/xml', 'application/json'] "
                                "(was missing)")
        media, *params = [p.strip() for p in raw.split(";")]
        if media.lower() not in ("application/json", "application/xml"):
            raise cs_error(415, "Content-Type header must be one of ['application/xml', 'application/json'] "
                                f"(was {raw})")
        charset = "utf-8"
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                charset = CHARSETS.get(value.strip().strip('"').lower())
                if charset is None:
                    raise cs_error(415, f"Unsupported charset {value.strip()!r} (ASCII, ISO-8859-1 or UTF-8)")
        return media.lower() == "application/xml", charset

    def _cs_accept(self, is_xml):
        accept = self.headers.get("Accept")
        if not accept:
            return is_xml
        types = [a.split(";")[0].strip().lower() for a in accept.split(",")]
        if "application/json" in types:
            return False
        if "application/xml" in types:
            return True
        if "*/*" in types or "application/*" in types:
            return is_xml
        raise cs_error(406, f"Accept must be application/json or application/xml (was {accept})")

    @staticmethod
    def _cs_decode(body, charset):
        try:
            return body.decode(charset)
        except UnicodeDecodeError as err:
            raise cloudsearch_docs.BatchError(
                [f"Invalid {charset.upper()} in batch at byte offset {err.start} (Illegal Unicode character)"]) \
                from None

    @staticmethod
    def _cs_result(status, as_xml, adds, deletes, errors):
        if as_xml:
            kind = "error" if errors else "success"
            inner = "".join(f"<error>{escape(m)}</error>" for m in errors)
            body = (f"<response status={quoteattr(kind)} adds=\"{adds}\" deletes=\"{deletes}\">"
                    + (f"<errors>{inner}</errors>" if errors else "") + "</response>")
            return Refusal(status, body, "application/xml")
        if errors:
            return cs_error(status, errors[0], {"errors": [{"message": m} for m in errors]})
        return Refusal(status, json.dumps({"status": "success", "adds": adds, "deletes": deletes}))

    # --- CloudSearch configuration API and OpenSearch root --------------------------------
    def _root(self):
        query = self._target().partition("?")[2]
        if self.command == "POST" or "Action=" in query:
            return self._config(query)
        body = self._read_body(MAX_CONTROL_BYTES, True, "Request too large")
        self._opensearch_auth(body)
        raise Refusal(200, json.dumps({"name": "fake-search", "cluster_name": "fake",
                                       "version": {"distribution": "opensearch", "number": "2.11.0"},
                                       "tagline": "The OpenSearch Project: https://opensearch.org/"}))

    def _config(self, query):
        body = self._read_body(MAX_CONTROL_BYTES, False, "Request too large")
        if not self.server.options.no_auth:
            try:
                self._check_sigv4(body, ("cloudsearch",))
            except AuthError as err:
                raise Refusal(err.status, f"<ErrorResponse><Error><Type>Sender</Type><Code>{err.code}</Code>"
                              f"<Message>{escape(err.message)}</Message></Error></ErrorResponse>",
                              "text/xml") from None
        if self.command == "POST":
            media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if media != "application/x-www-form-urlencoded":
                raise Refusal(400, "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterValue</Code>"
                              "<Message>Content-Type must be application/x-www-form-urlencoded</Message>"
                              "</Error></ErrorResponse>", "text/xml")
        self._apply_faults("config")
        status, xml_text = self.server.config.handle(body.decode("utf-8", "replace"), query)
        raise Refusal(status, xml_text, "text/xml")

    # --- OpenSearch bulk --------------------------------------------------------------------
    def _opensearch_auth(self, body):
        opts = self.server.options
        if opts.no_auth or opts.os_auth == "none":
            return
        if opts.os_auth == "basic":
            expected = "Basic " + base64.b64encode(opts.basic.encode()).decode()
            if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
                self.server.state.bump("auth_failures")
                raise Refusal(401, json.dumps({"error": {"type": "security_exception",
                                                         "reason": "missing or wrong authentication credentials"},
                                               "status": 401}),
                              headers={"WWW-Authenticate": 'Basic realm="fake-search"'})
            return
        try:
            self._check_sigv4(body, ("es", "aoss"), require_sha=opts.os_service == "aoss")
        except AuthError as err:
            raise Refusal(err.status, json.dumps({"message": err.message, "__type": err.code}),
                          headers={"x-amzn-ErrorType": err.code}) from None

    def _opensearch(self):
        path = self._target().partition("?")[0]
        if self.command not in ("POST", "PUT"):
            raise Refusal(405, json.dumps({"error": f"Incorrect HTTP method for uri [{path}] and method "
                                                    f"[{self.command}], allowed: [POST, PUT]", "status": 405}))
        state = self.server.state
        state.bump("in_flight")
        try:
            body = self._read_body(self.server.options.max_bulk_bytes, True,
                                   "Request size exceeded the maximum HTTP payload size")
            self._opensearch_auth(body)
            media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if media not in ("application/x-ndjson", "application/json"):
                raise Refusal(406, json.dumps({"error": f"Content-Type header [{self.headers.get('Content-Type')}]"
                                                        " is not supported", "status": 406}))
            self._apply_faults("opensearch")
            self._apply_pacing("opensearch", len(body))
            path_index = path[1:-len("/_bulk")] or None
            try:
                response, outcomes = self.server.bulk.handle(body, path_index, state.bulk_item_fault)
            except BulkRequestError as err:
                with state.lock:
                    state.rejected_batches += 1
                raise Refusal(400, json.dumps({"error": {"type": err.etype, "reason": err.reason}, "status": 400}))
            added = [doc_id for op, _, doc_id, status in outcomes if op != "delete" and status < 300]
            deleted = [doc_id for op, _, doc_id, status in outcomes if op == "delete" and status < 300]
            failed = sum(1 for op, _, _, status in outcomes if status >= 300 and not (op == "delete" and status == 404))
            state.record("opensearch", added, deleted, failed)
            raise Refusal(200, json.dumps(response))
        finally:
            state.bump("in_flight", -1)

    def _template(self):
        name = self._target().partition("?")[0][len("/_index_template/"):]
        body = self._read_body(MAX_CONTROL_BYTES, True, "Request too large")
        self._opensearch_auth(body)
        bulk = self.server.bulk
        if self.command == "GET":
            found = bulk.get_template(name)
            if found is None:
                raise Refusal(404, json.dumps({"error": {"type": "resource_not_found_exception",
                                                         "reason": f"index template matching [{name}] not found"},
                                               "status": 404}))
            raise Refusal(200, json.dumps(found))
        if self.command not in ("PUT", "POST"):
            raise Refusal(405, json.dumps({"error": f"Incorrect HTTP method for uri [{self.path}] and method "
                                                    f"[{self.command}], allowed: [GET, PUT, POST]", "status": 405}))
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media != "application/json":
            raise Refusal(406, json.dumps({"error": f"Content-Type header [{self.headers.get('Content-Type')}]"
                                                    " is not supported", "status": 406}))
        try:
            bulk.put_template(name, json.loads(body))
        except ValueError as err:
            raise Refusal(400, json.dumps({"error": {"type": "parse_exception", "reason": str(err)},
                                           "status": 400})) from None
        except TemplateError as err:
            raise Refusal(400, json.dumps({"error": {"type": err.etype, "reason": err.reason}, "status": 400})) \
                from None
        raise Refusal(200, json.dumps({"acknowledged": True}))

    # --- control ----------------------------------------------------------------------------
    def _control(self):
        path = self._target().partition("?")[0]
        body = self._read_body(MAX_CONTROL_BYTES, True, "control request too large")
        state = self.server.state
        if path == "/_fake/health":
            raise Refusal(200, '{"status":"ok"}')
        if path == "/_fake/accepted" and self.command == "GET":
            raise Refusal(200, json.dumps(state.snapshot_accepted()))
        if path == "/_fake/stats" and self.command == "GET":
            raise Refusal(200, json.dumps(state.snapshot_stats()))
        if path == "/_fake/mappings" and self.command == "GET":
            raise Refusal(200, json.dumps(self.server.bulk.describe()))
        if path == "/_fake/reset" and self.command == "POST":
            state.reset()
            self.server.bulk.reset()
            raise Refusal(200, '{"reset":true}')
        if path == "/_fake/faults" and self.command == "POST":
            try:
                state.add_faults(json.loads(body or b"null"))
            except (ValueError, TypeError) as err:
                raise Refusal(400, json.dumps({"error": str(err)})) from None
            raise Refusal(200, json.dumps({"pending": state.snapshot_stats()["pending_faults"]}))
        raise Refusal(404, json.dumps({"error": f"unknown control endpoint {self.command} {path}"}))


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed as LISTENING <port>)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--access-key", default="AKIDFAKESEARCH000000")
    parser.add_argument("--secret-key", default="fake-search-secret")
    parser.add_argument("--session-token", default=None, help="if set, required as X-Amz-Security-Token")
    parser.add_argument("--no-auth", action="store_true", help="accept unsigned requests everywhere")
    parser.add_argument("--os-auth", choices=("sigv4", "basic", "none"), default=None,
                        help="OpenSearch auth (default sigv4, or basic when --basic is given)")
    parser.add_argument("--os-service", choices=("es", "aoss"), default="es",
                        help="aoss also requires x-amz-content-sha256")
    parser.add_argument("--basic", default=None, metavar="USER:PASS")
    parser.add_argument("--schema", default=None, help="JSON list of IndexField definitions")
    parser.add_argument("--domain", default="cloudtrail-1", help="domain pre-created for the config API")
    parser.add_argument("--advertise", default=None, help="HOST:PORT returned as DocService endpoint")
    parser.add_argument("--accepted-file", default=None, help="append each accepted id as a line")
    parser.add_argument("--max-doc-bytes", type=int, default=cloudsearch_docs.MAX_DOC_BYTES)
    parser.add_argument("--max-bulk-bytes", type=int, default=10 * 1024 * 1024)
    parser.add_argument("--verbose", action="store_true")
    options = parser.parse_args(argv)
    if options.os_auth is None:
        options.os_auth = "basic" if options.basic else "sigv4"
    if options.os_auth == "basic" and not (options.basic and ":" in options.basic):
        parser.error("--os-auth basic needs --basic USER:PASS")
    return options


def main(argv=None):
    options = parse_args(argv)
    schema = cloudsearch_docs.load_schema_file(options.schema) if options.schema else {}
    server = FakeServer((options.host, options.port), Handler)
    port = server.server_address[1]
    server.options = options
    server.state = FakeState(options.accepted_file)
    server.bulk = BulkService()
    server.config = ConfigService(options.region, options.advertise or f"{options.host}:{port}",
                                  options.domain, schema)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"LISTENING {port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
