"""nginx (Debian's package) for end-to-end tests and benchmarks, unprivileged,
from a config written to a temp dir, on a free loopback port:

    with Nginx(keepalive_requests=10) as n:
        ... n.port, n.root (files served), n.access_lines() ...

Locations: / serves files from n.root (index.html, 1k.bin, 100k.bin), /gz/
the same gzip-compressed (chunked), /missing is a 404; with basic_auth =
{user: password}, /private/ the same files behind auth_basic. Stopped by
its process id. Nginx.available() says whether nginx is installed.
"""
import os
import shutil
import subprocess
import tempfile
import time

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONF = """
worker_processes %(workers)d;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log;
events { worker_connections 4096; }
http {
  access_log %(access)s;
  client_body_temp_path %(tmp)s/cb; proxy_temp_path %(tmp)s/px;
  fastcgi_temp_path %(tmp)s/fc; uwsgi_temp_path %(tmp)s/uw; scgi_temp_path %(tmp)s/sc;
  keepalive_requests %(keepalive_requests)d;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:%(port)d backlog=4096;
    %(tls_listen)s
    root %(root)s;
    location /gz/ {
      alias %(root)s/;
      gzip on; gzip_types *; gzip_min_length 0;
    }
    %(private)s
  }
}
"""


def _free_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    @staticmethod
    def available():
        return os.access(NGINX, os.X_OK)

    def __init__(self, keepalive_requests=1000, workers=1, access_log=True, tls=False,
                 basic_auth=None):
        """tls: also HTTPS on .tls_port, with a self-signed certificate for
        127.0.0.1 and localhost in .tls_ca (made with Debian's openssl).
        basic_auth: {user: password} for /private/, hashed with openssl's
        apr1 (MD5-crypt, which nginx reads itself: no libc crypt() needed)."""
        self.tmp = tempfile.mkdtemp(prefix="surge-nginx-")
        # nginx's workers run as another user (www-data) when started as root
        os.chmod(self.tmp, 0o755)
        self.root = os.path.join(self.tmp, "www")
        os.makedirs(self.root)
        with open(os.path.join(self.root, "index.html"), "w") as f:
            f.write("<html>hello from nginx</html>\n")
        for name, n in (("1k.bin", 1024), ("100k.bin", 100 * 1024)):
            with open(os.path.join(self.root, name), "wb") as f:
                f.write(b"surge " * (n // 6) + b"x" * (n % 6))
        self.port = _free_port()
        self.tls_port, self.tls_ca, tls_listen = None, None, ""
        if tls:
            self.tls_port = _free_port()
            self.tls_ca = os.path.join(self.tmp, "cert.pem")
            key = os.path.join(self.tmp, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                            "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                            "-keyout", key, "-out", self.tls_ca],
                           check=True, capture_output=True)
            os.chmod(key, 0o644)  # nginx's workers run as www-data
            tls_listen = ("listen 127.0.0.1:%d ssl; ssl_certificate %s; ssl_certificate_key %s;"
                          % (self.tls_port, self.tls_ca, key))
        private = ""
        if basic_auth:
            htpasswd = os.path.join(self.tmp, "htpasswd")
            with open(htpasswd, "w") as f:
                for user, password in basic_auth.items():
                    h = subprocess.run(["openssl", "passwd", "-apr1", "-stdin"],
                                       input=password + "\n", check=True, capture_output=True,
                                       text=True).stdout.strip()
                    f.write("%s:%s\n" % (user, h))
            os.chmod(htpasswd, 0o644)  # read by nginx's workers (www-data)
            private = ('location /private/ { alias %s/; auth_basic "surge"; '
                       'auth_basic_user_file %s; }' % (self.root, htpasswd))
        self.access = os.path.join(self.tmp, "access.log")
        conf = os.path.join(self.tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(CONF % dict(tmp=self.tmp, port=self.port, root=self.root, workers=workers,
                                keepalive_requests=keepalive_requests, tls_listen=tls_listen,
                                private=private,
                                access=self.access if access_log else "off"))
        self.log = open(os.path.join(self.tmp, "stdout.log"), "w+")
        self.proc = subprocess.Popen([NGINX, "-c", conf, "-g", "daemon off;"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        from tap import wait_port
        if not wait_port("127.0.0.1", self.port, timeout=10):
            self.stop()
            raise RuntimeError("nginx did not listen; see %s" % self.tmp)

    def access_lines(self):
        """The access log's lines as (status, request line) pairs."""
        out = []
        try:
            with open(self.access) as f:
                for line in f:
                    q = line.split('"')
                    if len(q) >= 3:
                        out.append((int(q[2].split()[0]), q[1]))
        except OSError:
            pass
        return out

    def clear_log(self):
        open(self.access, "w").close()
        # nginx writes with O_APPEND: truncating is enough
        time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: nginx's fast shutdown; its workers follow
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
