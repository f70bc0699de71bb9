"""An HTTPS upstream for the ssl-bump tests: answers 200 "received" to every request and
writes what it received (request line, then the body) to OUT/NNNN, one file per request.

    python3 https_upstream.py CERT KEY OUT   # prints its port, then serves
"""
import http.server
import os
import ssl
import sys

cert, key, out = sys.argv[1:4]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self):
        data = self.body()
        name = os.path.join(out, "%04d" % len(os.listdir(out)))
        with open(name + ".tmp", "wb") as f:
            f.write(("%s %s\n" % (self.command, self.path)).encode() + data)
        os.rename(name + ".tmp", name)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "8")
        self.end_headers()
        self.wfile.write(b"received")

    do_GET = do_POST = do_PUT = answer

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
