"""Server-side SigV4 verification for the fakes, using botocore's signer as the oracle.

The received request is rebuilt exactly as the client sent it (method, Host header, raw path,
raw query, only the headers named in SignedHeaders, body bytes) and re-signed with botocore's
SigV4Auth at the client's X-Amz-Date; the signatures must match.  Two botocore behaviours are
overridden because they are client-side shortcuts, not the protocol:
  * headers_to_sign: botocore signs every header it holds except a blacklist; a server must use
    exactly the SignedHeaders list the client declared;
  * canonical_query_string: botocore trusts the URL's query encoding as-is; AWS decodes each
    key/value and re-encodes it with the unreserved set, so a client that sends non-canonical
    encoding (%7e, lower-case hex) must still verify, and one that signs wrongly must not.
"""

import datetime
import hashlib
import re
from urllib.parse import quote, unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

MAX_SKEW = datetime.timedelta(minutes=15)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]{64})\s*$")


class AuthError(Exception):
    """A refused request: code (AWS error code), message, HTTP status."""

    def __init__(self, code, message, status=403):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class _ServerSideSigV4(SigV4Auth):
    def __init__(self, credentials, service, region, signed_names, received_headers):
        super().__init__(credentials, service, region)
        self._signed_names = signed_names
        self._received = received_headers  # list of (name, value) in wire order

    def headers_to_sign(self, request):
        selected = HTTPHeaders()
        for name, value in self._received:
            if name.lower() in self._signed_names:
                selected[name.lower()] = value
        return selected

    def canonical_query_string(self, request):
        query = request.url.partition("?")[2]
        if not query:
            return ""
        pairs = []
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
        return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _parse_amz_date(text):
    try:
        return datetime.datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def verify(method, raw_target, headers, body, *, access_key, secret_key, region, services,
           session_token=None, require_content_sha256=False, now=None):
    """Raise AuthError unless the request carries a valid SigV4 signature.

    raw_target: the request-target exactly as received ("/path?query").
    headers: list of (name, value) pairs as received.
    services: accepted signing service names (e.g. ("es", "aoss")).
    Returns the service name the client signed for.
    """
    lower = {}
    for name, value in headers:
        lower.setdefault(name.lower(), []).append(value)
    auth = lower.get("authorization")
    if not auth:
        raise AuthError("MissingAuthenticationToken", "Missing Authentication Token")
    if len(auth) != 1:
        raise AuthError("IncompleteSignature", "More than one Authorization header")
    match = _AUTH_RE.match(auth[0].strip())
    if not match:
        raise AuthError("IncompleteSignature",
                        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                        "in the form AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...")
    credential, signed_headers, signature = match.groups()
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise AuthError("IncompleteSignature", f"Credential is malformed: {credential}")
    akid, scope_date, scope_region, scope_service, _ = parts
    if akid != access_key:
        raise AuthError("UnrecognizedClientException",
                        "The security token included in the request is invalid.")
    if scope_region != region:
        raise AuthError("SignatureDoesNotMatch",
                        f"Credential should be scoped to a valid region, not '{scope_region}'. "
                        f"expecting '{region}'")
    if scope_service not in services:
        raise AuthError("SignatureDoesNotMatch",
                        f"Credential should be scoped to correct service: '{services[0]}'.")
    signed_names = signed_headers.split(";")
    if signed_names != sorted(set(signed_names)) or any(n != n.lower() for n in signed_names):
        raise AuthError("SignatureDoesNotMatch", "SignedHeaders must be lower-case, sorted and unique")
    for required in ("host", "x-amz-date"):
        if required not in signed_names:
            raise AuthError("SignatureDoesNotMatch", f"'{required}' must be a signed header")
    for name in signed_names:
        if name not in lower:
            raise AuthError("SignatureDoesNotMatch", f"Signed header '{name}' is not in the request")
    amz_dates = lower.get("x-amz-date", [])
    stamp = _parse_amz_date(amz_dates[0]) if len(amz_dates) == 1 else None
    if stamp is None:
        raise AuthError("IncompleteSignature", "X-Amz-Date must be one value of the form YYYYMMDDTHHMMSSZ")
    if scope_date != amz_dates[0][:8]:
        raise AuthError("SignatureDoesNotMatch",
                        f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                        f"'{scope_date}' != '{amz_dates[0][:8]}'")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if abs(now - stamp) > MAX_SKEW:
        raise AuthError("InvalidSignatureException",
                        f"Signature expired: {amz_dates[0]} is now earlier than "
                        f"{(now - MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')} "
                        f"({now.strftime('%Y%m%dT%H%M%SZ')} - 15 min.)")
    if session_token is not None:
        token = lower.get("x-amz-security-token")
        if not token or token[0] != session_token or "x-amz-security-token" not in signed_names:
            raise AuthError("UnrecognizedClientException",
                            "The security token included in the request is invalid.")
    content_sha = lower.get("x-amz-content-sha256")
    if require_content_sha256 and not content_sha:
        raise AuthError("SignatureDoesNotMatch", "x-amz-content-sha256 header is required")
    if content_sha:
        actual = hashlib.sha256(body).hexdigest()
        if content_sha[0] != actual:
            raise AuthError("XAmzContentSHA256Mismatch",
                            f"The provided 'x-amz-content-sha256' header does not match what was computed "
                            f"(client {content_sha[0]}, server {actual})", status=400)

    host = lower.get("host", [""])[0]
    request = AWSRequest(method=method, url=f"http://{host}{raw_target}", data=body)
    # botocore uses X-Amz-Content-SHA256 from the request when present; checked above.
    if content_sha:
        request.headers["X-Amz-Content-SHA256"] = content_sha[0]
    request.context["timestamp"] = amz_dates[0]
    signer = _ServerSideSigV4(Credentials(access_key, secret_key, session_token), scope_service, region,
                              set(signed_names), headers)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != signature:
        raise AuthError("SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature you provided. "
                        "Check your AWS Secret Access Key and signing method. Consult the service "
                        "documentation for details.\n\nThe Canonical String for this request should have been\n'"
                        + canonical + "'\n")
    return scope_service
