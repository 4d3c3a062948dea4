"""The example web application: a small HTTP service on Python's standard library.

    webapp.py serve CONFIG            answer HTTP: /, /health, /version
    webapp.py migrate CONFIG [--check] apply (or, with --check, list) pending
                                       migrations of ./migrations/*.sql

It keeps its data in the database service (dbserver.py), renders pages into its
cache directory, re-reads its configuration on SIGHUP (reload) and finishes the
requests it has accepted on SIGTERM before it exits (so a restart behind a
balancer fails no request).
"""

import configparser
import json
import os
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    parser = configparser.ConfigParser()
    with open(path) as f:
        parser.read_file(f)
    return dict(parser["app"])


def sql(conf, query, params=(), script=False):
    body = json.dumps({"sql": query, "params": list(params), "script": script}).encode()
    req = urllib.request.Request(conf["db"] + "/sql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())["rows"]


def migrations():
    folder = os.path.join(HERE, "migrations")
    return sorted(n for n in os.listdir(folder) if n.endswith(".sql"))


def migrate(conf, check):
    sql(conf, "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {row[0] for row in sql(conf, "SELECT name FROM schema_migrations")}
    pending = [m for m in migrations() if m not in done]
    if check:
        for m in pending:
            print("pending:", m)
        return 1 if pending else 0
    for m in pending:
        with open(os.path.join(HERE, "migrations", m)) as f:
            sql(conf, f.read(), script=True)
        sql(conf, "INSERT INTO schema_migrations VALUES (?, datetime('now'))", [m])
        print("applied", m)
    if not pending:
        print("nothing to migrate")
    return 0


def serve(path):
    # Imported here: `migrate --check` runs in every deploy's probe, and should not
    # pay for the server's modules.
    import http.server
    import signal
    import threading

    class App(http.server.ThreadingHTTPServer):
        daemon_threads = False  # server_close() waits for the requests in flight
        block_on_close = True
        allow_reuse_address = True

    state = {"conf": load(path)}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def answer(self, code, text):
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            conf = state["conf"]
            if self.path == "/health":
                if conf.get("broken") == "yes":
                    return self.answer(500, "broken on purpose (broken = yes in the configuration)\n")
                return self.answer(200, "ok %s\n" % conf["version"])
            if self.path == "/version":
                return self.answer(200, "%s %d %s\n" % (conf["version"], os.getpid(), conf["greeting"]))
            if self.path == "/":
                try:
                    rows = sql(conf, "SELECT text FROM greetings ORDER BY id DESC LIMIT 1")
                except Exception as e:  # the database is down or not migrated
                    return self.answer(503, "database: %s\n" % e)
                cached = os.path.join(conf["cache"], "page-%s.txt" % conf["version"])
                if not os.path.exists(cached):
                    with open(cached + ".tmp", "w") as f:
                        f.write("rendered by version %s\n" % conf["version"])
                    os.replace(cached + ".tmp", cached)
                db = rows[0][0] if rows else "-"
                return self.answer(200, "%s from %s (v%s), db says %s\n" % (conf["greeting"], conf["host"], conf["version"], db))
            return self.answer(404, "not found\n")

        def log_message(self, *args):
            pass

    conf = state["conf"]
    server = App((conf.get("listen", "127.0.0.1"), int(conf["port"])), Handler)

    def reload(*_):
        state["conf"] = load(path)
        print("reloaded", path, flush=True)

    def stop(*_):
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGHUP, reload)
    signal.signal(signal.SIGTERM, stop)
    print("serving on port", conf["port"], "pid", os.getpid(), flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    print("stopped", flush=True)


def main(argv):
    if len(argv) >= 3 and argv[1] == "serve":
        serve(argv[2])
        return 0
    if len(argv) >= 3 and argv[1] == "migrate":
        return migrate(load(argv[2]), "--check" in argv[3:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
