"""Validation of CloudSearch 2013-01-01 document batches (JSON and XML SDF), strictest reading.

Rules: the CloudSearch Developer Guide ("documents/batch", "Preparing your data", "Limits").
validate_batch() returns the list of operations or raises BatchError with one message per problem;
every message names the document (by id, or by position when the id itself is unusable) and the
problem.
"""

import datetime
import json
import math
import re
import xml.etree.ElementTree as ElementTree

MAX_DOC_BYTES = 1024 * 1024
MAX_FIELDS_PER_DOC = 200
MAX_VALUES_PER_FIELD = 1000
MAX_LITERAL_CODE_POINTS = 4096
MAX_ERRORS_REPORTED = 50
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1

ID_RE = re.compile(r"^[A-Za-z0-9_\-=#;:/?@&]{1,128}$")
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{2,63}$")
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$")
# XML 1.0 Char production: anything outside it is refused ("Illegal Unicode character").
XML_FORBIDDEN_RE = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_WS_RE = re.compile(r"[ \t\n\r]*")

FIELD_TYPES = ("int", "double", "literal", "text", "date", "latlon",
               "int-array", "double-array", "literal-array", "text-array", "date-array")


class BatchError(Exception):
    def __init__(self, messages):
        super().__init__(messages[0])
        self.messages = messages


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key \"{key}\"")
        result[key] = value
    return result


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)


def split_json_array(text):
    """Yield (item, raw_text) for each element of a top-level JSON array, strictly.

    raw_decode per element keeps each document's exact source span, so the 1 MB document limit
    is measured on the bytes the client sent, not on a re-serialisation."""
    pos = _WS_RE.match(text, 0).end()
    if pos >= len(text) or text[pos] != "[":
        raise BatchError(["The batch must be a JSON array of document operations"])
    pos = _WS_RE.match(text, pos + 1).end()
    if pos < len(text) and text[pos] == "]":
        raise BatchError(["The batch must contain at least one document operation"])
    items = []
    while True:
        try:
            item, end = _DECODER.raw_decode(text, pos)
        except ValueError as err:
            raise BatchError([f"Invalid JSON in document {len(items) + 1}: {err}"]) from None
        items.append((item, text[pos:end]))
        pos = _WS_RE.match(text, end).end()
        if pos < len(text) and text[pos] == ",":
            pos = _WS_RE.match(text, pos + 1).end()
            continue
        if pos < len(text) and text[pos] == "]":
            break
        raise BatchError([f"Invalid JSON after document {len(items)}: expected ',' or ']' at offset {pos}"])
    if _WS_RE.match(text, pos + 1).end() != len(text):
        raise BatchError(["Invalid JSON: unexpected data after the closing ']'"])
    return items


def parse_xml_batch(text):
    """Turn an XML SDF batch into the same item dicts as the JSON form (repeated fields -> list)."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as err:
        raise BatchError([f"Invalid XML: {err}"]) from None
    if root.tag != "batch":
        raise BatchError(["The XML root element must be <batch>"])
    items = []
    for element in root:
        if element.tag not in ("add", "delete"):
            raise BatchError([f"Unexpected XML element <{element.tag}> in batch"])
        item = {"type": element.tag, "id": element.get("id", "")}
        if element.tag == "add":
            fields = {}
            for field in element:
                if field.tag != "field":
                    raise BatchError([f"Unexpected XML element <{field.tag}> in document \"{item['id']}\""])
                name, value = field.get("name", ""), field.text or ""
                if name in fields:
                    fields[name] = (fields[name] if isinstance(fields[name], list) else [fields[name]]) + [value]
                else:
                    fields[name] = value
            item["fields"] = fields
        items.append((item, ElementTree.tostring(element, encoding="unicode")))
    if not items:
        raise BatchError(["The batch must contain at least one document operation"])
    return items


def field_type_for(schema, name):
    """Schema lookup with CloudSearch dynamic fields ("*_l", "prefix_*"); None if undefined."""
    if name in schema:
        return schema[name]
    best = None
    for pattern, ftype in schema.items():
        if pattern.startswith("*") and name.endswith(pattern[1:]) or \
           pattern.endswith("*") and name.startswith(pattern[:-1]):
            if best is None or len(pattern) > len(best[0]):
                best = (pattern, ftype)
    return best[1] if best else None


def _bad_chars(text):
    found = XML_FORBIDDEN_RE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def _check_scalar(value, ftype, where):
    """Return an error message for one scalar value of a field of type ftype (None = ok)."""
    base = ftype.replace("-array", "") if ftype else None
    if value is None:
        return f"{where}: null is not allowed (omit the field instead)"
    if isinstance(value, (dict, list)):
        return f"{where}: nested {'object' if isinstance(value, dict) else 'array'} is not a valid value"
    if isinstance(value, bool):
        return f"{where}: boolean values are not supported"
    if isinstance(value, str):
        bad = _bad_chars(value)
        if bad:
            return f"{where}: Illegal Unicode character {bad} (not allowed in XML 1.0)"
    if base in ("literal", "text"):
        if not isinstance(value, str):
            return f"{where}: {base} value must be a string, got {json.dumps(value)}"
        if base == "literal" and len(value) > MAX_LITERAL_CODE_POINTS:
            return f"{where}: literal value is {len(value)} code points, limit {MAX_LITERAL_CODE_POINTS}"
    elif base == "int":
        number = value
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value):
            number = int(value)  # XML batches carry every value as text
        if not isinstance(number, int):
            return f"{where}: int value must be an integer, got {json.dumps(value)}"
        if not INT64_MIN <= number <= INT64_MAX:
            return f"{where}: int value {number} is outside the signed 64-bit range"
    elif base == "double":
        number = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return f"{where}: double value must be a number, got {json.dumps(value)}"
        if not isinstance(number, (int, float)) or not math.isfinite(float(number)):
            return f"{where}: double value must be a finite number, got {json.dumps(value)}"
    elif base == "date":
        problem = _check_date(value)
        if problem:
            return f"{where}: {problem}"
    elif base == "latlon":
        if not isinstance(value, str) or not _valid_latlon(value):
            return f"{where}: latlon value must be \"LAT,LON\" in degrees, got {json.dumps(value)}"
    elif not isinstance(value, (str, int, float)):
        return f"{where}: unsupported value {json.dumps(value)}"
    return None


def _check_date(value):
    if not isinstance(value, str):
        return f"date value must be an RFC 3339 UTC string, got {json.dumps(value)}"
    match = DATE_RE.match(value)
    if not match:
        return f"date value {json.dumps(value)} is not RFC 3339 UTC (yyyy-mm-ddTHH:mm:ss[.SSS]Z)"
    try:
        datetime.datetime(*(int(g) for g in match.groups()[:6]))
    except ValueError:
        return f"date value {json.dumps(value)} is not a valid calendar date/time"
    return None


def _valid_latlon(value):
    try:
        lat, lon = (float(part) for part in value.split(","))
    except ValueError:
        return False
    return -90 <= lat <= 90 and -180 <= lon <= 180


def _check_field(name, value, schema, doc_label):
    where = f"document {doc_label}: field \"{name}\""
    if not isinstance(name, str) or not FIELD_NAME_RE.match(name):
        return [f"document {doc_label}: invalid field name \"{name}\" "
                "(must match [a-z][a-z0-9_]* and be 3..64 characters)"]
    if name == "score":
        return [f"document {doc_label}: field name \"score\" is reserved"]
    ftype = field_type_for(schema, name) if schema else None
    if schema and ftype is None:
        return [f"{where}: undefined field (the domain has no index field \"{name}\")"]
    if isinstance(value, list):
        if ftype and not ftype.endswith("-array"):
            return [f"{where}: field of type {ftype} cannot hold multiple values"]
        if not value:
            return [f"{where}: empty arrays are not allowed (multi-valued fields must contain at least one value)"]
        if len(value) > MAX_VALUES_PER_FIELD:
            return [f"{where}: {len(value)} values, limit {MAX_VALUES_PER_FIELD}"]
        errors = []
        for index, element in enumerate(value):
            problem = _check_scalar(element, ftype, f"{where}[{index}]")
            if problem:
                errors.append(problem)
        return errors
    problem = _check_scalar(value, ftype, where)
    return [problem] if problem else []


def validate_item(item, raw, position, schema, reject_ids, max_doc_bytes):
    """Return (operation, errors) for one batch element."""
    if not isinstance(item, dict):
        return None, [f"document {position}: each batch element must be a JSON object"]
    raw_id = item.get("id")
    doc_label = f"\"{raw_id}\"" if isinstance(raw_id, str) else f"#{position}"
    errors = []
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > max_doc_bytes:
        errors.append(f"document {doc_label}: document is {size} bytes, limit {max_doc_bytes}")
    op = item.get("type")
    if op not in ("add", "delete"):
        errors.append(f"document {doc_label}: \"type\" must be \"add\" or \"delete\", got {json.dumps(op)}")
    allowed_keys = {"type", "id", "fields"} if op == "add" else {"type", "id"}
    for key in item:
        if key not in allowed_keys:
            errors.append(f"document {doc_label}: unexpected key \"{key}\" for a {op} operation")
    if not isinstance(raw_id, str) or not ID_RE.match(raw_id):
        errors.append(f"document {doc_label}: invalid document id (1..128 characters of "
                      "A-Z a-z 0-9 _ - = # ; : / ? @ &)")
    elif raw_id in reject_ids:
        errors.append(f"document {doc_label}: rejected by fault injection (reject_ids)")
    if op == "add":
        fields = item.get("fields")
        if not isinstance(fields, dict):
            errors.append(f"document {doc_label}: an add operation needs a \"fields\" object")
        elif not fields:
            errors.append(f"document {doc_label}: \"fields\" must contain at least one field")
        elif len(fields) > MAX_FIELDS_PER_DOC:
            errors.append(f"document {doc_label}: {len(fields)} fields, limit {MAX_FIELDS_PER_DOC}")
        else:
            for name, value in fields.items():
                errors.extend(_check_field(name, value, schema, doc_label))
    return (op, raw_id), errors


def validate_batch(text, is_xml, schema, reject_ids=frozenset(), max_doc_bytes=MAX_DOC_BYTES):
    """Validate a decoded batch body.  Returns a list of (op, id); raises BatchError."""
    items = parse_xml_batch(text) if is_xml else split_json_array(text)
    operations, errors = [], []
    for position, (item, raw) in enumerate(items, start=1):
        operation, item_errors = validate_item(item, raw, position, schema, reject_ids, max_doc_bytes)
        operations.append(operation)
        errors.extend(item_errors)
    if errors:
        raise BatchError(errors[:MAX_ERRORS_REPORTED])
    return operations


def load_schema_file(path):
    """Read the field list printed by `ctindex schema` into {name: type}.

    Accepted shapes: a list of IndexField objects ({"IndexFieldName", "IndexFieldType", ...}),
    the same wrapped as {"IndexFields": [...]}, or DescribeIndexFields items ({"Options": {...}})."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if isinstance(data, dict):
        data = data.get("IndexFields", data.get("index_fields"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of IndexField definitions")
    schema = {}
    for entry in data:
        if isinstance(entry, dict) and "Options" in entry:
            entry = entry["Options"]
        if not isinstance(entry, dict) or "IndexFieldName" not in entry or "IndexFieldType" not in entry:
            raise ValueError(f"{path}: entry without IndexFieldName/IndexFieldType: {entry!r}")
        if entry["IndexFieldType"] not in FIELD_TYPES:
            raise ValueError(f"{path}: unknown IndexFieldType {entry['IndexFieldType']!r}")
        schema[entry["IndexFieldName"]] = entry["IndexFieldType"]
    return schema
