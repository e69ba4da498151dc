"""A static nginx on 127.0.0.1 (one worker, `return 200`) that logs each request's `$request_time`, for the benchmarks."""

from __future__ import annotations

import time
from pathlib import Path

from loadtest.local.stack import nginx_binary
from loadtest.processes import free_port, spawn, stop_all

NGINX_CONF = """
worker_processes 1;
pid "{dir}/nginx.pid";
error_log "{dir}/error.log" warn;
events {{ worker_connections 65536; }}
http {{
    log_format timing '$request_time';
    access_log "{dir}/{log}" timing buffer=256k flush=1s;
    client_body_temp_path "{dir}/body"; proxy_temp_path "{dir}/proxy"; fastcgi_temp_path "{dir}/fcgi";
    uwsgi_temp_path "{dir}/uwsgi"; scgi_temp_path "{dir}/scgi";
    keepalive_requests 1000000;
    server {{ listen 127.0.0.1:{port} backlog=65535; location / {{ return 200 "ok"; }} }}
}}
"""


class Nginx:
    """One nginx; each row reads the access log lines written since it started (the log is buffered 1 s)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.conf = workdir / "nginx.conf"
        self.log = "access.log"
        self.conf.write_text(NGINX_CONF.format(dir=workdir, port=self.port, log=self.log))
        self.process = spawn([nginx_binary(), "-e", str(workdir / "error.log"), "-c", str(self.conf), "-g", "daemon off;"])
        self.offset = 0
        time.sleep(0.5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fresh_log(self) -> None:
        time.sleep(1.5)  # the previous row's last buffer reaches the file
        self.offset = self._size()

    def p95_ms(self) -> float | None:
        time.sleep(1.5)
        with open(self.workdir / self.log, "rb") as handle:
            handle.seek(self.offset)
            lines = handle.read().split()
        values = sorted(float(v) * 1000 for v in lines if v)
        return values[min(len(values) - 1, int(0.95 * len(values)))] if values else None

    def _size(self) -> int:
        path = self.workdir / self.log
        return path.stat().st_size if path.exists() else 0

    def stop(self) -> None:
        stop_all([self.process])
