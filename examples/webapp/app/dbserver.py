"""The example's database service: one sqlite file, shared over HTTP by every app
host (a stand-in for a database server, in Python's standard library).

    dbserver.py PORT FILE       POST /sql {"sql", "params", "script"} -> {"rows"}
"""

import http.server
import json
import signal
import sqlite3
import sys
import threading

port, path = int(sys.argv[1]), sys.argv[2]
db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.reply(200, {"ok": True})

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        try:
            with lock:
                if req.get("script"):
                    db.executescript(req["sql"])
                    rows = []
                else:
                    rows = db.execute(req["sql"], req.get("params", [])).fetchall()
            self.reply(200, {"rows": rows})
        except sqlite3.Error as e:
            self.reply(400, {"error": str(e)})

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.allow_reuse_address = True
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print("database", path, "on port", port, flush=True)
server.serve_forever(poll_interval=0.1)
