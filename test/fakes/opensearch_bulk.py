"""OpenSearch/Elasticsearch `_bulk` semantics: NDJSON parsing, index templates, mappings, per-item results.

Composable index templates (`PUT _index_template/NAME`) are validated as OpenSearch 2.x and
Elasticsearch 8 validate them (known top-level keys, index patterns, known field types and the
parameters each type takes) and applied to an index when its first document arrives: the
highest-priority template whose pattern matches gives the index its explicit mapping and its
`dynamic` setting.  Every value is checked against the mapped type with the coercions
Elasticsearch applies by default (keyword/text take strings, numbers and booleans; long takes
numbers and numeric strings, not booleans; boolean takes true/false and "true"/"false"; date takes
strict_date_optional_time strings and epoch millis); a value that does not fit fails its item
with mapper_parsing_exception (status 400).  Fields a template did not map are mapped
dynamically (first type seen) and remembered as such, so a test can prove that every field a
client sends is in its template; `"dynamic": "strict"` refuses them instead.  The total-fields
(1000) and depth (20) limits are enforced because CloudTrail's requestParameters/responseElements
hit them on real clusters.
"""

import fnmatch
import json
import re
import threading
import uuid

MAX_TOTAL_FIELDS = 1000
MAX_DEPTH = 20
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$")
ACTIONS = ("index", "create", "delete", "update")
INDEX_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-.+]{0,254}$")
TEMPLATE_KEYS = {"index_patterns", "template", "composed_of", "priority", "version", "_meta", "data_stream",
                 "allow_auto_create"}
TEMPLATE_PARTS = {"settings", "mappings", "aliases"}
MAPPING_KEYS = {"properties", "dynamic", "_meta", "date_detection", "numeric_detection", "dynamic_templates",
                "_source", "_routing"}
COMMON_PARAMS = {"type", "index", "store", "doc_values", "copy_to", "meta", "fields"}
FIELD_PARAMS = {  # the parameters each field type takes, beside COMMON_PARAMS
    "keyword": {"ignore_above", "null_value", "normalizer", "eager_global_ordinals", "similarity", "norms",
                "index_options", "split_queries_on_whitespace"},
    "text": {"analyzer", "search_analyzer", "search_quote_analyzer", "norms", "index_options", "index_prefixes",
             "index_phrases", "position_increment_gap", "fielddata", "fielddata_frequency_filter", "similarity",
             "term_vector", "eager_global_ordinals"},
    "date": {"format", "locale", "ignore_malformed", "null_value"},
    "boolean": {"null_value", "boost"},
    "long": {"coerce", "ignore_malformed", "null_value"},
    "integer": {"coerce", "ignore_malformed", "null_value"},
    "double": {"coerce", "ignore_malformed", "null_value"},
    "float": {"coerce", "ignore_malformed", "null_value"},
    "object": {"properties", "dynamic", "enabled"},
}
DYNAMIC_VALUES = (True, False, "true", "false", "strict")
BAD_PATTERN_CHARS = set(' \\/"<>|,?#')


class BulkRequestError(Exception):
    """The whole request is refused (HTTP 400 with an Elasticsearch error body)."""

    def __init__(self, reason, etype="illegal_argument_exception"):
        super().__init__(reason)
        self.reason, self.etype = reason, etype


class MappingError(Exception):
    def __init__(self, reason, etype="mapper_parsing_exception"):
        super().__init__(reason)
        self.reason, self.etype = reason, etype


class TemplateError(Exception):
    """An index template refused (HTTP 400 with an Elasticsearch error body)."""

    def __init__(self, reason, etype="mapper_parsing_exception"):
        super().__init__(reason)
        self.reason, self.etype = reason, etype


def _check_properties(props, prefix, explicit):
    """Validate a mapping's properties; fill explicit {dotted path: type}."""
    if not isinstance(props, dict):
        raise TemplateError(f"[properties] of [{prefix or '_doc'}] must be an object")
    for name, spec in props.items():
        path = prefix + name
        if not isinstance(spec, dict):
            raise TemplateError(f"Expected map for property [fields] on field [{path}] but got a {type(spec).__name__}")
        ftype = spec.get("type", "object" if "properties" in spec else None)
        if ftype is None:
            raise TemplateError(f"No type specified for field [{path}]")
        if ftype not in FIELD_PARAMS:
            raise TemplateError(f"No handler for type [{ftype}] declared on field [{path}]")
        unknown = set(spec) - COMMON_PARAMS - FIELD_PARAMS[ftype]
        if unknown:
            raise TemplateError(f"unknown parameter [{sorted(unknown)[0]}] on mapper [{path}] of type [{ftype}]")
        if spec.get("dynamic", True) not in DYNAMIC_VALUES:
            raise TemplateError(f"Could not convert [{path}.dynamic] to boolean")
        explicit[path] = ftype
        if ftype == "object" and "properties" in spec:
            _check_properties(spec["properties"], path + ".", explicit)


def validate_template(name, body):
    """The parsed, checked template: {"patterns", "priority", "explicit", "dynamic", "body"}."""
    if not re.match(r"^[a-z0-9][a-z0-9_\-.+]*$", name or ""):
        raise TemplateError(f"Invalid index template name [{name}]", "invalid_index_template_exception")
    if not isinstance(body, dict):
        raise TemplateError("request body must be a JSON object", "parse_exception")
    unknown = set(body) - TEMPLATE_KEYS
    if unknown:
        raise TemplateError(f"[index_template] unknown field [{sorted(unknown)[0]}]", "x_content_parse_exception")
    patterns = body.get("index_patterns")
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise TemplateError("Validation Failed: 1: index patterns are missing;", "action_request_validation_exception")
    for pattern in patterns:
        if pattern.startswith("_") or pattern != pattern.lower() or BAD_PATTERN_CHARS & set(pattern):
            raise TemplateError(f"index_template [{name}] invalid, cause [Validation Failed: 1: index_pattern "
                                f"[{pattern}] must be lowercase, must not start with '_' and must not contain "
                                f"[ , \\, /, *, ?, \", <, >, |, #]", "invalid_index_template_exception")
    priority = body.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        raise TemplateError("priority must be a non-negative integer", "x_content_parse_exception")
    part = body.get("template", {})
    if not isinstance(part, dict) or set(part) - TEMPLATE_PARTS:
        raise TemplateError("[template] unknown field [%s]" % sorted(set(part) - TEMPLATE_PARTS)[0]
                            if isinstance(part, dict) else "[template] must be an object", "x_content_parse_exception")
    mappings = part.get("mappings", {})
    if not isinstance(mappings, dict):
        raise TemplateError("[mappings] must be an object")
    unknown = set(mappings) - MAPPING_KEYS
    if unknown:
        raise TemplateError(f"Root mapping definition has unsupported parameters:  [{sorted(unknown)[0]}]")
    dynamic = mappings.get("dynamic", True)
    if dynamic not in DYNAMIC_VALUES:
        raise TemplateError("Could not convert [dynamic] to boolean")
    explicit = {}
    _check_properties(mappings.get("properties", {}), "", explicit)
    return {"patterns": patterns, "priority": priority, "explicit": explicit, "dynamic": str(dynamic).lower(),
            "body": body}


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
    if mapped in ("text", "keyword"):
        return True
    if mapped in ("long", "integer", "float", "double"):  # coerce: numeric strings, fractions truncated
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
    def __init__(self, template_name=None, template=None):
        self.template = template_name
        self.mapping = dict(template["explicit"]) if template else {}  # dotted field path -> kind
        self.explicit = set(self.mapping)   # mapped by the template
        self.dynamic = template["dynamic"] if template else "true"
        self.docs = {}     # _id -> version

    def describe(self):
        return {"template": self.template, "dynamic": self.dynamic, "documents": len(self.docs),
                "fields": {path: {"type": kind, "origin": "template" if path in self.explicit else "dynamic"}
                           for path, kind in sorted(self.mapping.items())}}


class BulkService:
    def __init__(self):
        self.lock = threading.Lock()
        self.indices = {}
        self.templates = {}

    def reset(self):
        with self.lock:
            self.indices = {}
            self.templates = {}

    def put_template(self, name, body):
        """PUT _index_template/NAME: raises TemplateError; applies to indices created later."""
        template = validate_template(name, body)
        with self.lock:
            for other, existing in self.templates.items():
                overlap = [p for p in template["patterns"] for q in existing["patterns"]
                           if fnmatch.fnmatchcase(p, q) or fnmatch.fnmatchcase(q, p)]
                if other != name and overlap and existing["priority"] == template["priority"]:
                    raise TemplateError(f"index template [{name}] has index patterns {template['patterns']} matching "
                                        f"patterns from existing templates [{other}] with patterns ({other} => "
                                        f"{existing['patterns']}) that have the same priority "
                                        f"[{template['priority']}], multiple index templates may not match during "
                                        "index creation, please use a different priority", "illegal_argument_exception")
            self.templates[name] = template

    def get_template(self, name):
        with self.lock:
            template = self.templates.get(name)
            return None if template is None else {"index_templates": [{"name": name, "index_template":
                                                                       template["body"]}]}

    def describe(self):
        with self.lock:
            return {name: index.describe() for name, index in self.indices.items()}

    def _index(self, name):
        """The index, created from the best matching template on first use (lock held)."""
        index = self.indices.get(name)
        if index is None:
            matches = [(t["priority"], n) for n, t in self.templates.items()
                       if any(fnmatch.fnmatchcase(name, p) for p in t["patterns"])]
            best = max(matches)[1] if matches else None
            index = self.indices[name] = IndexState(best, self.templates.get(best))
        return index

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
                    if mapped is None and index.dynamic == "strict":
                        raise MappingError(f"mapping set to strict, dynamic introduction of [{key}] within "
                                           f"[{prefix[:-1] or '_doc'}] is not allowed",
                                           "strict_dynamic_mapping_exception")
                    if mapped is None and index.dynamic == "false":
                        continue  # kept in _source, not indexed
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
        index = self._index(index_name)
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
