#!/usr/bin/env python3
"""Proves the strict fakes (test/fakes/fake_search.py) and the moto helper (fakelib.py) behave:
every CloudSearch rule refused with the expected status and message, valid batches accepted,
SigV4 verified (botocore-signed requests pass, bad ones fail), config API usable from boto3,
OpenSearch bulk semantics, fault injection, and moto with signature checks on.
Exit 0 = all checks passed, 1 = failures, 77 = a needed module or program is missing."""

import datetime
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from unittest import mock

TEST_DIR = os.environ.get("CTINDEX_TEST_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(TEST_DIR, "fakes"))

try:
    import boto3
    import botocore.auth
    from botocore.exceptions import ClientError
except ImportError as missing:
    print(f"SKIP: {missing}")
    sys.exit(77)
if shutil.which("moto_server") is None:
    print("SKIP: moto_server not on PATH")
    sys.exit(77)

import fakelib  # noqa: E402

AKID, SECRET, REGION = "AKIDFAKETEST00000000", "fake/secret+key", "us-east-1"
BATCH = "/2013-01-01/documents/batch"
JSON_CT = {"Content-Type": "application/json"}
SCHEMA = [
    {"IndexFieldName": "event_name", "IndexFieldType": "literal"},
    {"IndexFieldName": "event_time", "IndexFieldType": "date"},
    {"IndexFieldName": "raw", "IndexFieldType": "text"},
    {"IndexFieldName": "count_i", "IndexFieldType": "int"},
    {"IndexFieldName": "ratio_d", "IndexFieldType": "double"},
    {"IndexFieldName": "tags", "IndexFieldType": "literal-array"},
    {"IndexFieldName": "*_l", "IndexFieldType": "literal"},
]

failures = []


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f"  -- {detail}"))
    if not condition:
        failures.append(name)


def doc(doc_id="id-1", **fields):
    return {"type": "add", "id": doc_id, "fields": fields or {"event_name": "ConsoleLogin"}}


class Peer:
    def __init__(self, fake):
        self.fake = fake

    def cs(self, body, headers=JSON_CT, path=BATCH, method="POST", service="cloudsearch", secret=SECRET,
           region=REGION, **kw):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        status, resp_headers, data = fakelib.sigv4_request(
            self.fake.url + path, method, body, headers, service=service, region=region,
            access_key=AKID, secret_key=secret, **kw)
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data.decode(errors="replace")
        return status, parsed, resp_headers

    def bulk(self, lines, path="/_bulk", content_type="application/x-ndjson", raw=None, service="es",
             secret=SECRET):
        body = raw if raw is not None else "".join(json.dumps(x) + "\n" for x in lines).encode()
        status, _, data = fakelib.sigv4_request(self.fake.url + path, "POST", body,
                                                {"Content-Type": content_type}, service=service,
                                                region=REGION, access_key=AKID, secret_key=secret)
        return status, json.loads(data)

    def template(self, name, body, method="PUT"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, _, answer = fakelib.sigv4_request(self.fake.url + "/_index_template/" + name, method, data,
                                                  {"Content-Type": "application/json"}, service="es",
                                                  region=REGION, access_key=AKID, secret_key=SECRET)
        return status, json.loads(answer)


def expect_refusal(peer, name, body, status, fragment, **kw):
    got, parsed, _ = peer.cs(body, **kw)
    message = parsed.get("message", "") if isinstance(parsed, dict) else str(parsed)
    good = got == status and fragment in message
    if isinstance(parsed, dict) and status == 400:
        good = good and parsed.get("status") == "error" and parsed.get("adds") == 0 \
            and parsed.get("deletes") == 0 and parsed.get("errors", [{}])[0].get("message") == message
    check(f"{name} -> {status}", good, f"got {got} {parsed!r}"[:400])


def test_cloudsearch_rules(peer):
    fake = peer.fake
    client = boto3.client("cloudsearchdomain", endpoint_url=fake.url, region_name=REGION,
                          aws_access_key_id=AKID, aws_secret_access_key=SECRET)
    batch = [doc("evt-1", event_name="ConsoleLogin", event_time="2024-05-01T10:00:00Z", count_i=3,
                 ratio_d=0.5, tags=["a", "b"], raw="{\"x\":1}\twith tab\nand newline \U0001F600"),
             doc("evt-2"), {"type": "delete", "id": "old-1"}]
    result = client.upload_documents(documents=json.dumps(batch).encode(), contentType="application/json")
    check("boto3 cloudsearchdomain upload (format=sdk, SigV4) accepted",
          (result["status"], result["adds"], result["deletes"]) == ("success", 2, 1), result)

    status, parsed, _ = peer.cs([doc("a=b#c;d:e/f?g@h&i_j-K9")])
    check("id with every allowed punctuation accepted", status == 200 and parsed.get("adds") == 1, parsed)
    status, parsed, _ = peer.cs(json.dumps([doc("latin-1", event_name="caf\u00e9")], ensure_ascii=False)
                                .encode("latin-1"), headers={"Content-Type": "application/json; charset=ISO-8859-1"})
    check("charset ISO-8859-1 accepted", status == 200, parsed)
    status, parsed, _ = peer.cs([doc("lit-4096", event_name="\u00e9" * 4096)])
    check("literal of exactly 4096 code points (8192 bytes) accepted", status == 200, parsed)
    status, parsed, _ = peer.cs(b"<batch><add id=\"xml-1\"><field name=\"tags\">a</field><field name=\"tags\">b</field>"
                                b"<field name=\"count_i\">7</field></add><delete id=\"xml-2\"/></batch>",
                                headers={"Content-Type": "application/xml"})
    check("XML batch accepted with XML response", status == 200 and 'status="success" adds="1" deletes="1"'
          in str(parsed), parsed)

    # HTTP-level rules
    expect_refusal(peer, "GET on documents/batch", [doc()], 405, "not allowed", method="GET")
    expect_refusal(peer, "wrong path", [doc()], 404, "Unknown path", path="/2013-01-01/documents/batches")
    expect_refusal(peer, "wrong API version", [doc()], 404, "Unknown path", path="/2011-02-01/documents/batch")
    expect_refusal(peer, "Content-Type text/plain", [doc()], 415, "(was text/plain)",
                   headers={"Content-Type": "text/plain"})
    expect_refusal(peer, "missing Content-Type", [doc()], 415, "was missing", headers={})
    expect_refusal(peer, "charset UTF-16", [doc()], 415, "Unsupported charset",
                   headers={"Content-Type": "application/json; charset=UTF-16"})
    expect_refusal(peer, "Accept text/html", [doc()], 406, "Accept must be",
                   headers={"Content-Type": "application/json", "Accept": "text/html"})
    expect_refusal(peer, "no Content-Length", b"", 411, "Content-Length required", omit_content_length=True)
    expect_refusal(peer, "Transfer-Encoding chunked", [doc()], 411, "Content-Length required",
                   extra_headers={"Transfer-Encoding": "chunked"})
    big = json.dumps([doc("big", raw="x" * (5 * 1024 * 1024))]).encode()
    expect_refusal(peer, "batch over 5 MB", big, 413, "The Content-Length is too long")
    expect_refusal(peer, "unknown query parameter", [doc()], 400, "Unsupported query", path=BATCH + "?pretty=1")

    # body and document rules
    cases = [
        ("invalid UTF-8", b'[{"type":"add","id":"u","fields":{"raw":"\xff"}}]', "Invalid UTF-8"),
        ("invalid JSON", b'[{"type":"add","id":"j1",}]', "Invalid JSON"),
        ("NaN is not JSON", b'[{"type":"add","id":"n1","fields":{"ratio_d":NaN}}]', "Invalid JSON"),
        ("not an array", {"type": "add", "id": "x"}, "JSON array"),
        ("empty array", [], "at least one document"),
        ("type update", [{"type": "update", "id": "t1", "fields": {"event_name": "x"}}], 'document "t1": "type"'),
        ("empty id", [doc("")], 'document "": invalid document id'),
        ("id of 129 characters", [doc("a" * 129)], "invalid document id"),
        ("id with a space", [doc("a b")], 'document "a b": invalid document id'),
        ("id not a string", [{"type": "add", "id": 5, "fields": {"event_name": "x"}}], "document #1: invalid document id"),
        ("add without fields", [{"type": "add", "id": "nf"}], 'document "nf": an add operation needs'),
        ("add with empty fields", [{"type": "add", "id": "ef", "fields": {}}], "at least one field"),
        ("201 fields", [doc("many", **{f"f{i:03d}_l": "v" for i in range(201)})], "201 fields, limit 200"),
        ("delete with fields", [{"type": "delete", "id": "d1", "fields": {"event_name": "x"}}], 'unexpected key "fields"'),
        ("upper-case field name", [doc("fn1", Event="x")], 'invalid field name "Event"'),
        ("2-character field name", [doc("fn2", ab="x")], 'invalid field name "ab"'),
        ("65-character field name", [doc("fn3", **{"a" * 63 + "_l": "x"})], "invalid field name"),
        ("field named score", [doc("fn4", score="x")], 'field name "score" is reserved'),
        ("undefined field", [doc("uf", not_in_schema="x")], 'field "not_in_schema": undefined field'),
        ("int given a string", [doc("i1", count_i="abc")], 'field "count_i": int value must be an integer'),
        ("int above 2^63-1", [doc("i2", count_i=2 ** 63)], "outside the signed 64-bit range"),
        ("int given a float", [doc("i3", count_i=1.5)], "int value must be an integer"),
        ("double given a string", [doc("dd", ratio_d="x")], "double value must be a number"),
        ("date not RFC 3339", [doc("d1", event_time="2024-05-01 10:00:00")], "is not RFC 3339 UTC"),
        ("date with offset, not UTC", [doc("d2", event_time="2024-05-01T10:00:00+02:00")], "is not RFC 3339 UTC"),
        ("date February 30", [doc("d3", event_time="2024-02-30T00:00:00Z")], "not a valid calendar date"),
        ("null value", [doc("nv", event_name=None)], 'document "nv": field "event_name": null is not allowed'),
        ("empty array value", [doc("ea", tags=[])], "empty arrays are not allowed"),
        ("1001 array values", [doc("av", tags=["t"] * 1001)], "1001 values, limit 1000"),
        ("array in a literal field", [doc("al", event_name=["a", "b"])], "cannot hold multiple values"),
        ("null inside an array", [doc("na", tags=["a", None])], 'field "tags"[1]: null is not allowed'),
        ("nested object value", [doc("no", raw={"a": 1})], "nested object"),
        ("boolean value", [doc("bv", raw=True)], "boolean values are not supported"),
        ("literal of 4097 code points", [doc("l1", event_name="x" * 4097)], "4097 code points, limit 4096"),
        ("document over 1 MB", [doc("huge", raw="y" * (1024 * 1024))], 'document "huge": document is'),
        ("C0 control U+0001", [doc("c0", raw="a\u0001b")], "Illegal Unicode character U+0001"),
        ("NUL character", [doc("c00", raw="a\u0000b")], "Illegal Unicode character U+0000"),
        ("U+FFFE", [doc("fffe", raw="a\ufffe")], "Illegal Unicode character U+FFFE"),
        ("U+FFFF in an id", [doc("id\uffff")], "invalid document id"),
        ("lone surrogate", b'[{"type":"add","id":"sur","fields":{"raw":"a\\ud800b"}}]', "Illegal Unicode character U+D800"),
        ("duplicate JSON key", b'[{"type":"add","id":"dup","fields":{"raw":"a","raw":"b"}}]', "duplicate key"),
        ("trailing data", b'[{"type":"delete","id":"t"}] x', "after the closing"),
    ]
    for name, body, fragment in cases:
        expect_refusal(peer, name, body, 400, fragment)

    before = set(fake.accepted()["cloudsearch"]["ids"])
    status, parsed, _ = peer.cs([doc("aon-good"), doc("aon-bad", event_name=None), doc("aon-bad2", count_i="z")])
    after = set(fake.accepted()["cloudsearch"]["ids"])
    check("all-or-nothing: one bad document fails the batch, nothing stored",
          status == 400 and "aon-good" not in after and before == after and len(parsed.get("errors", [])) == 2,
          parsed)


def test_signatures(peer):
    fake = peer.fake
    status, parsed, _ = peer.cs([doc()], headers={"Content-Type": "application/json"},
                                path=BATCH + "?format=sdk")
    check("signed with query string format=sdk accepted", status == 200, parsed)
    status, parsed, headers = peer.cs([doc()], secret="wrong")
    check("wrong secret -> 403 SignatureDoesNotMatch",
          status == 403 and parsed.get("__type") == "SignatureDoesNotMatch"
          and headers.get("x-amzn-ErrorType") == "SignatureDoesNotMatch", parsed)
    status, _, data = fakelib.raw_request(fake.url + BATCH, "POST", json.dumps([doc()]).encode(), JSON_CT)
    check("unsigned -> 403 MissingAuthenticationToken", status == 403 and b"MissingAuthentication" in data, data)
    status, parsed, _ = peer.cs([doc()], region="us-west-2")
    check("wrong region scope -> 403", status == 403 and "region" in parsed.get("message", ""), parsed)
    status, parsed, _ = peer.cs([doc()], service="es")
    check("wrong service scope -> 403", status == 403 and "service" in parsed.get("message", ""), parsed)
    stale = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=stale):
        status, parsed, _ = peer.cs([doc()])
    check("X-Amz-Date 20 minutes old -> 403 Signature expired",
          status == 403 and "Signature expired" in parsed.get("message", ""), parsed)
    # body changed after signing: sign one body, send another of the same length
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    body = json.dumps([doc("tamper-1")]).encode()
    request = AWSRequest("POST", fake.url + BATCH, data=body, headers=JSON_CT)
    SigV4Auth(Credentials(AKID, SECRET), "cloudsearch", REGION).add_auth(request)
    status, _, data = fakelib.raw_request(fake.url + BATCH, "POST", body.replace(b"tamper-1", b"tamper-2"),
                                          dict(request.headers.items()))
    check("body changed after signing -> 403", status == 403 and b"SignatureDoesNotMatch" in data, data)
    status, _, data = fakelib.raw_request(fake.url + BATCH, "POST", body,
                                          dict(request.headers.items()) | {"Host": "doc-other.example.com"})
    check("Host header changed after signing -> 403", status == 403, data)
    status, parsed, _ = peer.cs([doc("token-unsigned")], extra_headers={"X-Extra": "unsigned-header"})
    check("unsigned extra header is ignored (only SignedHeaders count)", status == 200, parsed)


def test_config_api(peer):
    fake = peer.fake
    cfg = boto3.client("cloudsearch", endpoint_url=fake.url, region_name=REGION,
                       aws_access_key_id=AKID, aws_secret_access_key=SECRET)
    domains = cfg.describe_domains(DomainNames=["cloudtrail-1"])["DomainStatusList"]
    check("DescribeDomains returns the fake as DocService endpoint",
          len(domains) == 1 and domains[0]["DocService"]["Endpoint"] == f"127.0.0.1:{fake.port}", domains)
    first = cfg.create_domain(DomainName="trail-two")["DomainStatus"]
    again = cfg.create_domain(DomainName="trail-two")["DomainStatus"]
    check("CreateDomain is idempotent", first["DomainId"] == again["DomainId"] and
          len(cfg.describe_domains()["DomainStatusList"]) == 2, (first, again))
    status, parsed, _ = peer.cs([doc("nf-1", new_field="x")])
    check("field not yet defined -> 400", status == 400 and "undefined field" in parsed.get("message", ""), parsed)
    cfg.define_index_field(DomainName="cloudtrail-1",
                           IndexField={"IndexFieldName": "new_field", "IndexFieldType": "literal",
                                       "LiteralOptions": {"FacetEnabled": True, "ReturnEnabled": True}})
    names = [f["Options"]["IndexFieldName"] for f in cfg.describe_index_fields(DomainName="cloudtrail-1")["IndexFields"]]
    check("DescribeIndexFields lists schema and new field", "new_field" in names and "event_name" in names, names)
    status, parsed, _ = peer.cs([doc("nf-2", new_field="x")])
    check("DefineIndexField updates the schema used for uploads", status == 200, parsed)
    check("RequiresIndexDocuments after DefineIndexField, cleared by IndexDocuments",
          cfg.describe_domains(DomainNames=["cloudtrail-1"])["DomainStatusList"][0]["RequiresIndexDocuments"]
          and "new_field" in cfg.index_documents(DomainName="cloudtrail-1")["FieldNames"]
          and not cfg.describe_domains(DomainNames=["cloudtrail-1"])["DomainStatusList"][0]["RequiresIndexDocuments"])
    for name, field, code in [("bad field name", {"IndexFieldName": "Bad", "IndexFieldType": "literal"}, "ValidationException"),
                              ("bad field type", {"IndexFieldName": "good_name", "IndexFieldType": "string"}, "ValidationException"),
                              ("LiteralOptions on a text field",
                               {"IndexFieldName": "good_name", "IndexFieldType": "text",
                                "LiteralOptions": {"FacetEnabled": True}}, "InvalidType")]:
        try:
            cfg.define_index_field(DomainName="cloudtrail-1", IndexField=field)
            check(f"DefineIndexField {name} refused", False, "accepted")
        except ClientError as err:
            check(f"DefineIndexField {name} -> {code}", err.response["Error"]["Code"] == code, err.response["Error"])
    try:
        cfg.describe_index_fields(DomainName="no-such-domain")
        check("unknown domain refused", False, "accepted")
    except ClientError as err:
        check("unknown domain -> ResourceNotFound", err.response["Error"]["Code"] == "ResourceNotFound", err.response)
    bad = boto3.client("cloudsearch", endpoint_url=fake.url, region_name=REGION,
                       aws_access_key_id=AKID, aws_secret_access_key="wrong")
    try:
        bad.describe_domains()
        check("config API with wrong secret refused", False, "accepted")
    except ClientError as err:
        check("config API with wrong secret -> SignatureDoesNotMatch",
              err.response["Error"]["Code"] == "SignatureDoesNotMatch", err.response["Error"])


def test_faults(peer):
    fake = peer.fake
    fake.fault(status=507, count=2)
    statuses = [peer.cs([doc(f"flt-{i}")])[0] for i in range(3)]
    check("status fault: next 2 uploads get 507, then 200", statuses == [507, 507, 200], statuses)
    fake.fault(reset=1)
    try:
        peer.cs([doc("reset-1")])
        check("reset fault closes the connection without answering", False, "got an answer")
    except (http.client.RemoteDisconnected, ConnectionError) as err:
        check("reset fault closes the connection without answering", True, err)
    check("reset batch was not recorded", "reset-1" not in fake.accepted()["cloudsearch"]["ids"])
    fake.fault(delay_ms=600, count=1)
    start = time.monotonic()
    status, _, _ = peer.cs([doc("slow-1")])
    check("delay fault delays the answer", status == 200 and time.monotonic() - start >= 0.6)
    fake.fault(reject_ids=["poison-1"])
    status, parsed, _ = peer.cs([doc("ok-x"), doc("poison-1")])
    check("reject_ids fails the batch naming the id", status == 400 and 'document "poison-1"' in parsed["message"], parsed)
    fake.fault(reject_ids=[])
    status, _, _ = peer.cs([doc("poison-1")])
    check("reject_ids [] clears the list", status == 200)

    # concurrency is visible in stats: two delayed uploads in flight at once
    fake.fault(delay_ms=500, count=2)
    threads = [threading.Thread(target=peer.cs, args=([doc(f"par-{i}")],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = fake.stats()
    check("stats: max_in_flight >= 2 and faults counted",
          stats["max_in_flight"] >= 2 and stats["faults_fired"].get("status") == 2
          and stats["faults_fired"].get("reset") == 1, stats)


def test_opensearch(peer):
    fake = peer.fake
    status, parsed = peer.bulk([{"index": {"_index": "trail", "_id": "e1"}}, {"eventName": "A", "n": 1},
                                {"create": {"_index": "trail", "_id": "e2"}}, {"eventName": "B", "n": 2},
                                {"index": {"_index": "trail", "_id": "e1"}}, {"eventName": "A2", "n": 3},
                                {"delete": {"_index": "trail", "_id": "e2"}}])
    results = [(op, r["status"], r.get("result")) for item in parsed.get("items", []) for op, r in item.items()]
    check("bulk index/create/reuse/delete", status == 200 and not parsed["errors"] and results ==
          [("index", 201, "created"), ("create", 201, "created"), ("index", 200, "updated"),
           ("delete", 200, "deleted")], parsed)
    status, parsed = peer.bulk([{"index": {"_id": "c1"}}, {"eventName": "x", "n": "not-a-number"},
                                {"index": {"_id": "c2"}}, {"eventName": "x", "eventTime": "2024-01-01T00:00:00Z"},
                                {"index": {"_id": "c3"}}, {"eventName": {"nested": 1}},
                                {"index": {"_id": "c4"}}, {"eventName": "ok", "n": "42"}],
                               path="/trail/_bulk")
    items = [item["index"] for item in parsed["items"]]
    check("bulk type conflict -> item 400 mapper_parsing_exception, others succeed",
          status == 200 and parsed["errors"] and [i["status"] for i in items] == [400, 201, 400, 201]
          and items[0]["error"]["type"] == "mapper_parsing_exception" and items[0]["_index"] == "trail", parsed)
    status, parsed = peer.bulk(None, raw=b'{"index":{"_index":"trail","_id":"j1"}}\n{"broken": \n')
    check("bulk invalid JSON source -> item 400 mapper_parsing_exception",
          status == 200 and parsed["items"][0]["index"]["status"] == 400
          and parsed["items"][0]["index"]["error"]["type"] == "mapper_parsing_exception", parsed)
    status, parsed = peer.bulk(None, raw=b'{"index":{"_index":"trail","_id":"j2"}}\n{"a":1}')
    check("bulk without final newline -> 400", status == 400 and "terminated by a newline" in
          parsed["error"]["reason"], parsed)
    status, parsed = peer.bulk([{"index": {"_index": "trail", "_id": "ct"}}, {"a": 1}], content_type="text/plain")
    check("bulk with text/plain -> 406", status == 406, parsed)
    fake.fault(bulk_item_status=429, count=2)
    status, parsed = peer.bulk([x for i in range(3) for x in ({"index": {"_index": "trail", "_id": f"r{i}"}}, {"v": i})])
    items = [item["index"] for item in parsed["items"]]
    check("bulk_item_status 429 fails the next 2 items individually",
          [i["status"] for i in items] == [429, 429, 201] and parsed["errors"]
          and items[0]["error"]["type"] == "es_rejected_execution_exception", parsed)
    status, parsed = peer.bulk([{"index": {"_index": "trail", "_id": "s1"}}, {"a": 1}], secret="wrong")
    check("bulk with wrong secret -> 403", status == 403 and parsed.get("__type") == "SignatureDoesNotMatch", parsed)
    status, parsed = peer.bulk([{"index": {"_index": "trail", "_id": "s2"}}, {"a": 1}], service="aoss")
    check("bulk signed for aoss accepted", status == 200, parsed)
    accepted = fake.accepted()["opensearch"]
    check("accepted report for opensearch", {"e1", "c2", "c4", "r2", "s2"} <= set(accepted["ids"])
          and "c1" not in accepted["ids"] and accepted["deletes"] == 1, accepted)


def test_index_templates(peer):
    fake = peer.fake
    props = {"when": {"type": "date"}, "n": {"type": "long"}, "flag": {"type": "boolean"},
             "name": {"type": "keyword", "ignore_above": 256}, "body": {"type": "text"}}
    good = {"index_patterns": ["tpl-*"], "priority": 10, "template": {"mappings": {"properties": props}}}
    refusals = [
        ("unknown field type", {"index_patterns": ["x-*"], "template": {"mappings": {"properties": {
            "a": {"type": "strng"}}}}}, "No handler for type [strng]"),
        ("parameter of another type", {"index_patterns": ["x-*"], "template": {"mappings": {"properties": {
            "a": {"type": "long", "ignore_above": 3}}}}}, "unknown parameter [ignore_above]"),
        ("unknown top-level key", dict(good, mapping={}), "unknown field [mapping]"),
        ("unknown mappings key", {"index_patterns": ["x-*"], "template": {"mappings": {"propertys": {}}}},
         "unsupported parameters"),
        ("no index_patterns", {"template": {}}, "index patterns are missing"),
        ("upper-case pattern", {"index_patterns": ["X-*"]}, "must be lowercase"),
        ("dynamic not a boolean", {"index_patterns": ["x-*"], "template": {"mappings": {"dynamic": "maybe"}}},
         "dynamic"),
    ]
    for what, body, fragment in refusals:
        status, parsed = peer.template("bad", body)
        check(f"template with {what} -> 400", status == 400 and fragment in parsed["error"]["reason"], parsed)
    status, parsed = peer.template("t1", good)
    check("valid template acknowledged", status == 200 and parsed == {"acknowledged": True}, parsed)
    status, parsed = peer.template("t2", dict(good, index_patterns=["tpl-a*"]))
    check("overlapping template with the same priority -> 400", status == 400 and "same priority" in
          parsed["error"]["reason"], parsed)
    status, parsed = peer.template("t1", None, method="GET")
    check("GET returns the template", status == 200 and parsed["index_templates"][0]["index_template"] == good, parsed)
    fine = {"when": "2024-05-01T10:00:00.123Z", "n": "42", "flag": "true", "name": 7, "body": "x", "extra": "e"}
    bad = [("n", "4x"), ("when", "yesterday"), ("flag", "yes"), ("name", {"a": 1}), ("n", True)]
    lines = [{"index": {"_index": "tpl-1", "_id": "ok1"}}, fine]
    for i, (field, value) in enumerate(bad):
        lines += [{"index": {"_index": "tpl-1", "_id": f"bad{i}"}}, dict(fine, **{field: value})]
    status, parsed = peer.bulk(lines)
    statuses = [item["index"]["status"] for item in parsed["items"]]
    reasons = [item["index"].get("error", {}).get("reason", "") for item in parsed["items"]]
    check("documents checked against the template's types", status == 200 and statuses == [201] + [400] * len(bad)
          and all(f"[{field}]" in reason for (field, _), reason in zip(bad, reasons[1:])), parsed)
    described = fake.mappings().get("tpl-1", {})
    fields = described.get("fields", {})
    check("index made from the template; unmapped fields reported as dynamic",
          described.get("template") == "t1" and fields.get("when") == {"type": "date", "origin": "template"}
          and fields.get("extra", {}).get("origin") == "dynamic" and described.get("documents") == 1, described)
    status, _ = peer.template("t3", {"index_patterns": ["strict-*"], "template": {"mappings": {
        "dynamic": "strict", "properties": {"a": {"type": "keyword"}}}}})
    status, parsed = peer.bulk([{"index": {"_index": "strict-1", "_id": "s1"}}, {"a": "x", "b": "y"},
                                {"index": {"_index": "strict-1", "_id": "s2"}}, {"a": "x"}])
    items = [item["index"] for item in parsed["items"]]
    check("dynamic strict refuses an unmapped field", [i["status"] for i in items] == [400, 201]
          and items[0]["error"]["type"] == "strict_dynamic_mapping_exception", parsed)
    status, parsed = peer.bulk([{"index": {"_index": "other", "_id": "o1"}}, {"when": "not a date"}])
    check("an index no template matches maps dynamically", parsed["items"][0]["index"]["status"] == 201
          and fake.mappings()["other"]["template"] is None, parsed)


def test_basic_auth_and_lifecycle():
    with fakelib.FakeSearch(basic="user:pass", access_key=AKID, secret_key=SECRET) as fake:
        body = b'{"index":{"_index":"t","_id":"b1"}}\n{"a":1}\n'
        ndjson = {"Content-Type": "application/x-ndjson"}
        import base64
        good = {"Authorization": "Basic " + base64.b64encode(b"user:pass").decode()} | ndjson
        status, _, _ = fakelib.raw_request(fake.url + "/_bulk", "POST", body, good)
        check("bulk with Basic auth accepted", status == 200)
        status, headers, _ = fakelib.raw_request(fake.url + "/_bulk", "POST", body,
                                                 {"Authorization": "Basic dXNlcjpubw=="} | ndjson)
        check("bulk with wrong Basic password -> 401", status == 401 and "WWW-Authenticate" in headers, headers)
        fake.proc.terminate()
        check("SIGTERM stops the fake with exit 0", fake.proc.wait(timeout=10) == 0)


def test_moto():
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        s3 = boto3.client("s3", **moto.client_kwargs(akid, secret))
        s3.create_bucket(Bucket="ct-fake-bucket")
        sqs = boto3.client("sqs", **moto.client_kwargs(akid, secret))
        queue = sqs.create_queue(QueueName="ct-fake-queue")["QueueUrl"]
        check("moto: bucket and queue created with the IAM key", "ct-fake-queue" in queue and
              "ct-fake-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]])
        try:
            boto3.client("s3", **moto.client_kwargs(akid, "wrong-secret")).list_buckets()
            check("moto: S3 wrong secret refused", False, "accepted")
        except ClientError as err:
            check("moto: S3 wrong secret -> SignatureDoesNotMatch",
                  err.response["Error"]["Code"] == "SignatureDoesNotMatch", err.response["Error"])
        try:
            boto3.client("sqs", **moto.client_kwargs(akid, "wrong-secret")).list_queues()
            check("moto: SQS wrong secret refused", False, "accepted")
        except ClientError as err:
            error = err.response["Error"]
            check("moto: SQS wrong secret -> 403 SignatureDoesNotMatch",
                  err.response["ResponseMetadata"]["HTTPStatusCode"] == 403 and
                  "SignatureDoesNotMatch" in error.get("Code", "") + error.get("Message", ""), error)


def main():
    workdir = tempfile.mkdtemp(prefix="fake-search-test-")
    schema_path = os.path.join(workdir, "schema.json")
    accepted_path = os.path.join(workdir, "accepted.txt")
    with open(schema_path, "w") as handle:
        json.dump(SCHEMA, handle)
    try:
        with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET, region=REGION, schema=schema_path,
                                accepted_file=accepted_path) as fake:
            peer = Peer(fake)
            for test in (test_cloudsearch_rules, test_signatures, test_config_api, test_faults, test_opensearch,
                         test_index_templates):
                try:
                    test(peer)
                except Exception as err:  # report and continue with the next group
                    check(f"{test.__name__} raised", False, repr(err))
            accepted = fake.accepted()
            with open(accepted_path) as handle:
                lines = handle.read().split()
            check("accepted file lists every accepted id",
                  set(lines) == set(accepted["cloudsearch"]["ids"]) | set(accepted["opensearch"]["ids"])
                  and "evt-1" in lines and "aon-good" not in lines, lines[:20])
            fake.reset()
            after = fake.accepted()
            check("reset clears accepted documents", after["cloudsearch"]["ids"] == [] and after["rejected"] == 0, after)
        for test in (test_basic_auth_and_lifecycle, test_moto):
            try:
                test()
            except Exception as err:
                check(f"{test.__name__} raised", False, repr(err))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{len(failures)} failure(s)" + (": " + ", ".join(failures) if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
