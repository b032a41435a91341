#!/usr/bin/env python3
"""A camera's HTTP snapshot endpoint for tests, written apart from Mimamori's own client.

Serves one JPEG (--jpeg) on a free loopback port under three paths:
  /open/snapshot.jpg    no authentication
  /basic/snapshot.jpg   Basic authentication
  /digest/snapshot.jpg  Digest authentication only (RFC 7616, MD5, qop=auth), as most IP
                        cameras; a Basic header sent there is answered 400, so a client
                        that leaks the password in clear text fails.
The user is --user, the password comes from SNAPSHOT_PASSWORD. Prints "READY <port>".
"""

import argparse
import base64
import hashlib
import os
import re
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REALM = "Mimamori test camera"
PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jpeg", required=True)
    parser.add_argument("--user", required=True)
    args = parser.parse_args()
    password = os.environ["SNAPSHOT_PASSWORD"]
    with open(args.jpeg, "rb") as f:
        jpeg = f.read()
    nonces = set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def send_jpeg(self):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(jpeg)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(jpeg)

        def challenge(self, value):
            self.send_response(401)
            self.send_header("WWW-Authenticate", value)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()

        def digest_ok(self, text):
            p = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in PARAM.finditer(text)}
            if p.get("username") != args.user or p.get("nonce") not in nonces or p.get("uri") != self.path:
                return False
            if p.get("qop") != "auth" or not p.get("nc") or not p.get("cnonce"):
                return False
            ha1 = md5(f"{args.user}:{REALM}:{password}")
            ha2 = md5(f"GET:{self.path}")
            return p.get("response") == md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:auth:{ha2}")

        def do_GET(self):
            auth = self.headers.get("Authorization", "")
            if self.path == "/open/snapshot.jpg":
                return self.send_jpeg()
            if self.path == "/basic/snapshot.jpg":
                token = base64.b64encode(f"{args.user}:{password}".encode()).decode()
                if auth == f"Basic {token}":
                    return self.send_jpeg()
                return self.challenge(f'Basic realm="{REALM}"')
            if self.path == "/digest/snapshot.jpg":
                if auth.startswith("Basic"):
                    return self.send_error(400, "Basic authentication sent to a Digest endpoint")
                if auth.startswith("Digest ") and self.digest_ok(auth[len("Digest "):]):
                    return self.send_jpeg()
                nonce = secrets.token_hex(16)
                nonces.add(nonce)
                return self.challenge(f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", algorithm=MD5')
            self.send_error(404)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
