"""Running the app under uvicorn on a socket bound first (so that port 0 gives a free port whose number is known
before serving starts), in the foreground or in a background thread (tests, the load benchmark)."""
import ipaddress
import socket
import threading
import time

import uvicorn

from ..errors import UserError


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host):
    """The warning to print when the page is reachable from other machines (it has no login), or None."""
    if is_loopback(host):
        return None
    return (f"warning: --host {host} makes the page and API reachable from other machines, and they have no login: "
            f"anyone who can reach this port can use the models and upload photos")


def bind(host="127.0.0.1", port=0):
    """A listening TCP socket on host:port (port 0: a free one; its number is sock.getsockname()[1])."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another --port or --host") \
            from None
    sock.listen(128)
    return sock


def url_of(sock):
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(app, log_level):
    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=log_level == "info",
                                         timeout_graceful_shutdown=5))


def serve_forever(app, sock, log_level="info"):
    """Serve until Ctrl-C or SIGTERM: uvicorn finishes the requests under way, then raises the signal again (Ctrl-C
    arrives here as KeyboardInterrupt: a normal end, not a crash)."""
    try:
        _server(app, log_level).run(sockets=[sock])
    except KeyboardInterrupt:
        pass


class BackgroundServer:
    """The app under uvicorn in a daemon thread on a free loopback port: `with BackgroundServer(app) as url:`."""

    def __init__(self, app, host="127.0.0.1", log_level="warning"):
        self.sock = bind(host, 0)
        self.url = url_of(self.sock)
        self.server = _server(app, log_level)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
