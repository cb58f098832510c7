"""moto_server that checks SigV4 signatures against the request line as it was sent.

moto 5.2 rebuilds the URL it verifies from werkzeug's decoded form, so a query value holding an
encoded '/' (ListObjectsV2 prefix=logs%2F or delimiter=%2F, which SigV4 requires encoded) is
verified as if it had been sent as a bare '/': every such request fails with
SignatureDoesNotMatch, boto3's own included.  This wrapper hands moto's signature check the raw
request URI instead; everything else is plain moto_server (same arguments).

Used through fakelib.MotoServer(raw_uri_signing=True)."""

import sys
from urllib.parse import urlsplit, urlunsplit

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.responses import BaseResponse
from moto.server import main

_setup_class = BaseResponse.setup_class
_authenticate = ActionAuthenticatorMixin._authenticate_and_authorize_action


def setup_class(self, request, full_url, headers, use_raw_body=False):
    _setup_class(self, request, full_url, headers, use_raw_body)
    raw = getattr(request, "environ", {}).get("RAW_URI")
    if raw:
        parts = urlsplit(full_url)
        path, _, query = raw.partition("?")
        self._ctindex_signed_uri = urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def authenticate(self, iam_request_cls, resource="*"):
    signed = getattr(self, "_ctindex_signed_uri", None)
    if signed is None:
        return _authenticate(self, iam_request_cls, resource)
    decoded, self.uri = self.uri, signed
    try:
        return _authenticate(self, iam_request_cls, resource)
    finally:
        self.uri = decoded


BaseResponse.setup_class = setup_class
ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
