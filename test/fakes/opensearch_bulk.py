"""OpenSearch/Elasticsearch `_bulk` semantics: NDJSON parsing, dynamic mapping, per-item results.

Dynamic mapping is tracked per index with the first type seen for each field path (long, double,
boolean, date, text, object) and the coercions Elasticsearch applies by default; a value that
cannot be coerced fails its item with mapper_parsing_exception (status 400), as do invalid JSON
sources.  The total-fields (1000) and depth (20) limits are enforced because CloudTrail's
requestParameters/responseElements hit them on real clusters.
"""

import json
import re
import threading
import uuid

MAX_TOTAL_FIELDS = 1000
MAX_DEPTH = 20
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$")
ACTIONS = ("index", "create", "delete", "update")
INDEX_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-.+]{0,254}$")


class BulkRequestError(Exception):
    """The whole request is refused (HTTP 400 with an Elasticsearch error body)."""

    def __init__(self, reason, etype="illegal_argument_exception"):
        super().__init__(reason)
        self.reason, self.etype = reason, etype


class MappingError(Exception):
    def __init__(self, reason, etype="mapper_parsing_exception"):
        super().__init__(reason)
        self.reason, self.etype = reason, etype


def _kind_of(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "date" if DATE_RE.match(value) else "text"
    if isinstance(value, dict):
        return "object"
    return None


def _coerces(mapped, value):
    """Can a value be indexed into a field already mapped as `mapped`?"""
    if isinstance(value, dict):
        return mapped == "object"
    if mapped == "object":
        return False
    if mapped == "text":
        return True
    if mapped in ("long", "float"):
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return True
        try:
            float(value)
            return True
        except ValueError:
            return False
    if mapped == "boolean":
        return isinstance(value, bool) or value in ("true", "false", "")
    if mapped == "date":
        return (isinstance(value, int) and not isinstance(value, bool)) or \
            (isinstance(value, str) and bool(DATE_RE.match(value)))
    return False


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


class IndexState:
    def __init__(self):
        self.mapping = {}  # dotted field path -> kind
        self.docs = {}     # _id -> version


class BulkService:
    def __init__(self):
        self.lock = threading.Lock()
        self.indices = {}

    def reset(self):
        with self.lock:
            self.indices = {}

    def _map_document(self, index, source):
        """Check every field against (and extend) the index mapping; all-or-nothing per document."""
        additions = {}

        def walk(obj, prefix, depth):
            if depth > MAX_DEPTH:
                raise MappingError(f"The depth of the field has exceeded the allowed limit of [{MAX_DEPTH}]",
                                   "illegal_argument_exception")
            for key, value in obj.items():
                if key == "" or key.strip(".") == "" or ".." in key:
                    raise MappingError(f"field name cannot be an empty string or contain empty path parts: {key!r}")
                path = prefix + key
                for element in (value if isinstance(value, list) else [value]):
                    if element is None:
                        continue
                    if isinstance(element, list):
                        element_kinds = {_kind_of(e) for e in element if e is not None}
                        if "object" in element_kinds and len(element_kinds) > 1:
                            raise MappingError(f"failed to parse field [{path}]: mixed array")
                        continue  # nested arrays flatten; element types checked loosely
                    mapped = index.mapping.get(path) or additions.get(path)
                    if mapped is None:
                        additions[path] = mapped = _kind_of(element)
                    elif not _coerces(mapped, element):
                        if mapped == "object":
                            reason = (f"object mapping for [{path}] tried to parse field [{key}] as object, "
                                      "but found a concrete value")
                        else:
                            reason = (f"failed to parse field [{path}] of type [{mapped}] in document. "
                                      f"Preview of field's value: '{str(element)[:100]}'")
                        raise MappingError(reason)
                    if isinstance(element, dict):
                        walk(element, path + ".", depth + 1)

        walk(source, "", 1)
        if len(index.mapping) + len(additions) > MAX_TOTAL_FIELDS:
            raise MappingError(f"Limit of total fields [{MAX_TOTAL_FIELDS}] has been exceeded",
                               "illegal_argument_exception")
        index.mapping.update(additions)

    def handle(self, body, path_index, item_fault):
        """Process one bulk body (bytes).  path_index: INDEX from /INDEX/_bulk or None.
        item_fault(doc_id) returns an injected (status, error type, reason) or None.
        Returns (response dict, [(op, index, id, status)]); raises BulkRequestError."""
        if not body.endswith(b"\n"):
            raise BulkRequestError("The bulk request must be terminated by a newline [\\n]")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as err:
            raise BulkRequestError(f"Invalid UTF-8 in bulk body: {err}", "parse_exception") from None
        lines = text.split("\n")[:-1]
        items, outcomes = [], []
        position = 0
        with self.lock:
            while position < len(lines):
                line_no = position + 1
                action_line = lines[position]
                position += 1
                if action_line.strip() == "":
                    continue
                try:
                    action = json.loads(action_line)
                except ValueError:
                    raise BulkRequestError(f"Malformed action/metadata line [{line_no}], expected START_OBJECT",
                                           "x_content_parse_exception") from None
                if not isinstance(action, dict) or len(action) != 1:
                    raise BulkRequestError(f"Malformed action/metadata line [{line_no}], expected a single action")
                op, meta = next(iter(action.items()))
                if op not in ACTIONS:
                    raise BulkRequestError(f"Malformed action/metadata line [{line_no}], expected one of "
                                           f"[create, delete, index, update] but found [{op}]")
                if op == "update":
                    raise BulkRequestError("fake: the update action is not supported")
                if not isinstance(meta, dict):
                    raise BulkRequestError(f"Malformed action/metadata line [{line_no}]")
                unknown = set(meta) - {"_index", "_id", "routing", "version", "version_type",
                                       "if_seq_no", "if_primary_term", "pipeline", "require_alias"}
                if unknown:
                    raise BulkRequestError(f"Action/metadata line [{line_no}] contains an unknown parameter "
                                           f"[{sorted(unknown)[0]}]")
                index_name = meta.get("_index", path_index)
                if not index_name:
                    raise BulkRequestError(f"Validation Failed: 1: index is missing for line [{line_no}];",
                                           "action_request_validation_exception")
                doc_id = meta.get("_id")
                if op == "delete" and doc_id is None:
                    raise BulkRequestError(f"Validation Failed: 1: id is missing for line [{line_no}];",
                                           "action_request_validation_exception")
                if doc_id is not None and (not isinstance(doc_id, str) or not 0 < len(doc_id.encode()) <= 512):
                    raise BulkRequestError(f"Validation Failed: 1: id [{doc_id}] is too long or not a string "
                                           f"(line [{line_no}]);", "action_request_validation_exception")
                source_line = None
                if op in ("index", "create"):
                    if position >= len(lines):
                        raise BulkRequestError(f"The bulk request must be terminated by a newline [\\n] "
                                               f"(no source for line [{line_no}])")
                    source_line = lines[position]
                    position += 1
                doc_id = doc_id or uuid.uuid4().hex[:20]
                result = self._apply(op, index_name, doc_id, source_line, item_fault)
                items.append({op: result})
                outcomes.append((op, index_name, doc_id, result["status"]))
        return {"took": 1, "errors": any(o[3] >= 300 for o in outcomes), "items": items}, outcomes

    def _apply(self, op, index_name, doc_id, source_line, item_fault):
        result = {"_index": index_name, "_id": doc_id}
        injected = item_fault(doc_id)
        if injected is not None:
            status, etype, reason = injected
            result.update(status=status, error={"type": etype, "reason": reason})
            return result
        if not INDEX_NAME_RE.match(index_name) or index_name in (".", ".."):
            result.update(status=400, error={"type": "invalid_index_name_exception",
                                             "reason": f"Invalid index name [{index_name}]"})
            return result
        index = self.indices.setdefault(index_name, IndexState())
        if op == "delete":
            if doc_id in index.docs:
                del index.docs[doc_id]
                result.update(status=200, result="deleted")
            else:
                result.update(status=404, result="not_found")
            return result
        try:
            source = json.loads(source_line, parse_constant=_reject_constant)
            if not isinstance(source, dict):
                raise ValueError("the document source must be a JSON object")
        except ValueError as err:
            result.update(status=400, error={"type": "mapper_parsing_exception",
                                             "reason": f"failed to parse: {err}"})
            return result
        if op == "create" and doc_id in index.docs:
            result.update(status=409, error={"type": "version_conflict_engine_exception",
                                             "reason": f"[{doc_id}]: version conflict, document already exists"})
            return result
        try:
            self._map_document(index, source)
        except MappingError as err:
            result.update(status=400, error={"type": err.etype, "reason": err.reason})
            return result
        version = index.docs.get(doc_id, 0) + 1
        index.docs[doc_id] = version
        result.update(_version=version, result="created" if version == 1 else "updated",
                      status=201 if version == 1 else 200,
                      _shards={"total": 1, "successful": 1, "failed": 0})
        return result
