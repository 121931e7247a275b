#!/usr/bin/env python3
"""A Git smart-HTTP server for tests: git http-backend behind HTTP Basic
authentication.  usage: http_git_server.py PORT PROJECT_ROOT USER TOKEN LOG [CERT KEY]
With CERT and KEY (PEM files) it speaks HTTPS (TLS, Python's ssl module).
It listens on 127.0.0.1, or on $BIND_ADDR when set (another loopback address).
Every request's path and Authorization header (ok, bad or none, and the
credentials it carried, decoded, as cred=USER:PASSWORD) are appended to
LOG, so a test can check what the client sent, and to whom."""
import base64, http.server, os, ssl, subprocess, sys

port, root, user, token, log = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
want = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a):
        pass
    def handle_any(self):
        auth = self.headers.get("Authorization")
        cred = ""
        if auth and auth.startswith("Basic "):
            try:
                cred = base64.b64decode(auth[6:]).decode("utf-8", "replace")
            except ValueError:
                cred = "?"
        with open(log, "a") as f:
            f.write(f"{self.command} {self.path} auth={'ok' if auth == want else ('bad' if auth else 'none')} cred={cred}\n")
        if auth != want:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", REQUEST_METHOD=self.command,
                   PATH_INFO=path, QUERY_STRING=query, CONTENT_TYPE=self.headers.get("Content-Type", ""),
                   CONTENT_LENGTH=str(len(body)), REMOTE_USER=user, REMOTE_ADDR="127.0.0.1",
                   HTTP_CONTENT_ENCODING=self.headers.get("Content-Encoding", ""))
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.split(b"\r\n"):
            k, _, v = line.decode().partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
    do_GET = do_POST = handle_any

srv = http.server.ThreadingHTTPServer((os.environ.get("BIND_ADDR", "127.0.0.1"), int(port)), H)
if len(sys.argv) > 7:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[6], sys.argv[7])
    srv.socket = tls.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
