"""CloudSearch configuration API (Query protocol, 2013-01-01) over in-memory domains.

Actions: CreateDomain (idempotent), DescribeDomains, DefineIndexField, DescribeIndexFields,
IndexDocuments.  Responses use the XML shapes of the CloudSearch API reference, so botocore's
`cloudsearch` client parses them; errors use the generic Query ErrorResponse.
"""

import datetime
import re
import threading
import uuid
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from cloudsearch_docs import FIELD_TYPES

XMLNS = "http://cloudsearch.amazonaws.com/doc/2013-01-01/"
ACCOUNT = "123456789012"
DOMAIN_NAME_RE = re.compile(r"^[a-z][a-z0-9\-]{2,27}$")
INDEX_FIELD_NAME_RE = re.compile(r"^([a-z][a-z0-9_]{0,63}|\*[a-z0-9_]{1,63}|[a-z][a-z0-9_]{0,62}\*)$")
MAX_INDEX_FIELDS = 200


class ConfigError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _options_key(field_type):
    """'literal-array' -> 'LiteralArrayOptions'."""
    return "".join(part.capitalize() for part in field_type.split("-")) + "Options"


def _xml(value):
    """Render nested dicts as elements; keys are element names."""
    if isinstance(value, dict):
        return "".join(f"<{k}>{_xml(v)}</{k}>" for k, v in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nested_params(params, prefix):
    """{'IndexField.LiteralOptions.FacetEnabled': 'true'} -> {'LiteralOptions': {'FacetEnabled': 'true'}}."""
    tree = {}
    for key, value in params.items():
        if not key.startswith(prefix + "."):
            continue
        node = tree
        path = key[len(prefix) + 1:].split(".")
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(400, "ValidationException", f"Conflicting parameter {key}")
        node[path[-1]] = value
    return tree


class Domain:
    def __init__(self, name, endpoint):
        self.name = name
        self.domain_id = f"{ACCOUNT}/{name}"
        self.endpoint = endpoint
        self.fields = {}  # name -> (options dict, creation date, update date)
        self.requires_index = False
        self.created = _now()

    def schema(self):
        return {name: options["IndexFieldType"] for name, (options, _, _) in self.fields.items()}

    def status_xml(self, region):
        status = {
            "DomainId": self.domain_id, "DomainName": self.name,
            "ARN": f"arn:aws:cloudsearch:{region}:{ACCOUNT}:domain/{self.name}",
            "Created": True, "Deleted": False,
            "DocService": {"Endpoint": self.endpoint}, "SearchService": {"Endpoint": self.endpoint},
            "RequiresIndexDocuments": self.requires_index, "Processing": False,
            "SearchInstanceType": "search.small", "SearchPartitionCount": 1, "SearchInstanceCount": 1,
        }
        return _xml(status)


class ConfigService:
    def __init__(self, region, endpoint, default_domain, default_schema):
        self.region = region
        self.endpoint = endpoint
        self.lock = threading.Lock()
        self.domains = {}
        self.default_domain = default_domain
        domain = self._create(default_domain)
        for name, ftype in (default_schema or {}).items():
            domain.fields[name] = ({"IndexFieldName": name, "IndexFieldType": ftype}, _now(), _now())

    def _create(self, name):
        if name not in self.domains:
            self.domains[name] = Domain(name, self.endpoint)
        return self.domains[name]

    def schema_for_host(self, host):
        """Schema for a document upload: domain named by a doc-NAME-... host, else the default."""
        with self.lock:
            match = re.match(r"^doc-([a-z][a-z0-9\-]*)-[a-z0-9]{26}\.", host or "")
            domain = self.domains.get(match.group(1)) if match else None
            domain = domain or self.domains.get(self.default_domain)
            return domain.schema() if domain else {}

    def handle(self, form_body, query):
        """Return (status, xml_text) for one Query-protocol request."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(form_body, keep_blank_values=True))
        action = params.get("Action", "")
        request_id = str(uuid.uuid4())
        try:
            if params.get("Version") != "2013-01-01":
                raise ConfigError(400, "InvalidParameterValue", "Version must be 2013-01-01")
            handler = getattr(self, "_action_" + action, None)
            if handler is None:
                raise ConfigError(400, "InvalidAction", f"Could not find operation {action!r}")
            with self.lock:
                result = handler(params)
        except ConfigError as err:
            return err.status, (f"<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type>"
                                f"<Code>{err.code}</Code><Message>{escape(err.message)}</Message></Error>"
                                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
        return 200, (f"<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{result}</{action}Result>"
                     f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                     f"</{action}Response>")

    def _domain(self, params):
        name = params.get("DomainName", "")
        if not DOMAIN_NAME_RE.match(name):
            raise ConfigError(400, "ValidationException",
                              f"DomainName {name!r} must match [a-z][a-z0-9-]+ and be 3..28 characters")
        if name not in self.domains:
            raise ConfigError(409, "ResourceNotFound", f"Domain not found: {name}")
        return self.domains[name]

    def _action_CreateDomain(self, params):
        name = params.get("DomainName", "")
        if not DOMAIN_NAME_RE.match(name):
            raise ConfigError(400, "ValidationException",
                              f"DomainName {name!r} must match [a-z][a-z0-9-]+ and be 3..28 characters")
        return f"<DomainStatus>{self._create(name).status_xml(self.region)}</DomainStatus>"

    def _action_DescribeDomains(self, params):
        names = [v for k, v in sorted(params.items(), key=lambda kv: kv[0])
                 if re.fullmatch(r"DomainNames\.member\.\d+", k)]
        selected = [self.domains[n] for n in names if n in self.domains] if names else list(self.domains.values())
        members = "".join(f"<member>{d.status_xml(self.region)}</member>" for d in selected)
        return f"<DomainStatusList>{members}</DomainStatusList>"

    @staticmethod
    def _field_xml(domain, name):
        options, created, updated = domain.fields[name]
        status = {"CreationDate": created, "UpdateDate": updated, "UpdateVersion": 1,
                  "State": "RequiresIndexDocuments" if domain.requires_index else "Active"}
        return f"<Options>{_xml(options)}</Options><Status>{_xml(status)}</Status>"

    def _action_DefineIndexField(self, params):
        domain = self._domain(params)
        field = _nested_params(params, "IndexField")
        name, ftype = field.get("IndexFieldName", ""), field.get("IndexFieldType", "")
        if not INDEX_FIELD_NAME_RE.match(name) or name == "score":
            raise ConfigError(400, "ValidationException",
                              f"IndexFieldName {name!r} must match [a-z][a-z0-9_]* (or a dynamic *pattern), "
                              "be at most 64 characters and not be 'score'")
        if ftype not in FIELD_TYPES:
            raise ConfigError(400, "ValidationException", f"IndexFieldType {ftype!r} is not one of {FIELD_TYPES}")
        for key, value in field.items():
            if key.endswith("Options") and key != _options_key(ftype):
                raise ConfigError(409, "InvalidType", f"{key} cannot be used with a field of type {ftype}")
            if key.endswith("Options") and not isinstance(value, dict):
                raise ConfigError(400, "ValidationException", f"{key} must be a structure")
        options = field.get(_options_key(ftype), {})
        if ftype.startswith("text") and options.get("FacetEnabled") == "true":
            raise ConfigError(409, "InvalidType", "Text fields cannot be used for faceting")
        if ftype.endswith("-array") and options.get("SortEnabled") == "true":
            raise ConfigError(409, "InvalidType", "Array-type fields cannot be SortEnabled")
        if name not in domain.fields and len(domain.fields) >= MAX_INDEX_FIELDS:
            raise ConfigError(409, "LimitExceeded", f"A domain can have at most {MAX_INDEX_FIELDS} index fields")
        previous = domain.fields.get(name)
        domain.fields[name] = (field, previous[1] if previous else _now(), _now())
        domain.requires_index = True
        return f"<IndexField>{self._field_xml(domain, name)}</IndexField>"

    def _action_DescribeIndexFields(self, params):
        domain = self._domain(params)
        wanted = [v for k, v in params.items() if re.fullmatch(r"FieldNames\.member\.\d+", k)]
        names = [n for n in sorted(domain.fields) if not wanted or n in wanted]
        members = "".join(f"<member>{self._field_xml(domain, n)}</member>" for n in names)
        return f"<IndexFields>{members}</IndexFields>"

    def _action_IndexDocuments(self, params):
        domain = self._domain(params)
        domain.requires_index = False
        members = "".join(f"<member>{escape(n)}</member>" for n in sorted(domain.fields))
        return f"<FieldNames>{members}</FieldNames>"
