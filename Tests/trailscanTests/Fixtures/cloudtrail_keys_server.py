#!/usr/bin/env python3
"""CloudTrail's ListPublicKeys for the tests, on 127.0.0.1:PORT: it recomputes each request's SigV4
signature with botocore (an implementation independent of trailscan's) from the secret it is given,
refuses a wrong one as AWS does (400 InvalidSignatureException), and answers with KEYS.json in two pages
(the first empty, with a NextToken). Each request is logged to LOG as "region target body".

  cloudtrail_keys_server.py PORT KEYS.json ACCESS_KEY SECRET LOG
"""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

port, keys_file, access_key, secret, log = sys.argv[1:6]
keys = json.load(open(keys_file))


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        authorization = self.headers.get("Authorization", "")
        try:
            credential = authorization.split("Credential=")[1].split(",")[0]
            signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
            region, service = credential.split("/")[2:4]
            request = AWSRequest(method="POST", url="http://%s/" % self.headers["Host"], data=body,
                                 headers={name: self.headers[name] for name in signed})
            request.context["timestamp"] = self.headers["X-Amz-Date"]
            signer = SigV4Auth(Credentials(access_key, secret), service, region)
            expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
            valid = credential.startswith(access_key + "/") and service == "cloudtrail" and authorization.endswith("Signature=" + expected)
        except (IndexError, KeyError, ValueError):
            region, valid = "-", False
        target = self.headers.get("X-Amz-Target", "")
        with open(log, "a") as f:
            f.write("%s %s %s\n" % (region, target, body.decode()))
        if not valid:
            return self.answer(400, {"__type": "com.amazon.coral.service#InvalidSignatureException",
                                     "message": "The request signature we calculated does not match the signature you provided."})
        if target != "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListPublicKeys":
            return self.answer(400, {"__type": "UnknownOperationException"})
        if json.loads(body).get("NextToken") != "page-2":
            return self.answer(200, {"PublicKeyList": [], "NextToken": "page-2"})
        self.answer(200, keys)

    def answer(self, status, document):
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
