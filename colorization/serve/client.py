"""A small client of the HTTP API on the standard library (multipart forms over http.client): what the tests and
the load benchmark send, and an example for scripts."""
import http.client
import json
import uuid
from urllib.parse import urlsplit


def multipart(fields=None, files=None):
    """(body, content type) of a multipart/form-data form: fields name -> str, files name -> (filename, bytes)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in (fields or {}).items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in (files or {}).items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n")
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def error(self):
        """The {"error": ...} message of a failed request."""
        return self.json()["error"]


class Client:
    """One keep-alive connection to a server: Client("http://127.0.0.1:8000").post("/api/colorize", fields, files)."""

    def __init__(self, url, timeout=120):
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        try:
            self.connection.request(method, path, body=body, headers=headers or {})
            response = self.connection.getresponse()
        except (ConnectionError, http.client.HTTPException):
            self.connection.close()  # the server closed a kept-alive connection: one more try on a new one
            self.connection.request(method, path, body=body, headers=headers or {})
            response = self.connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, fields=None, files=None):
        body, content_type = multipart({k: str(v) for k, v in (fields or {}).items()}, files)
        return self.request("POST", path, body, {"Content-Type": content_type})

    def close(self):
        self.connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
