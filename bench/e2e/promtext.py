"""Just enough of the Prometheus text format for the end-to-end benchmarks (stdlib only).

A metric spec is `name` or `name{label="value",...}`; its value is the sum of every sample of
that name whose labels include the given pairs, so `mailagent_log_lines_total` sums over all
`program` labels. A spec that matches no sample reads as None, which callers report rather
than treat as zero: a renamed metric must not look like a stalled one.
"""
import http.client
import re
import time
import urllib.parse

_SPEC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_spec(spec):
    m = _SPEC.match(spec.strip())
    if not m:
        raise ValueError(f"not a metric spec: {spec!r}")
    return m.group(1), dict(_LABEL.findall(m.group(2) or ""))


def samples(text):
    """Yield (name, labels, value) for every sample line."""
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        brace = line.find("{")
        if brace >= 0:
            close = line.rfind("}")
            name, labels, rest = line[:brace], dict(_LABEL.findall(line[brace + 1:close])), line[close + 1:]
        else:
            name, _, rest = line.partition(" ")
            labels = {}
        fields = rest.split()
        if fields:
            yield name, labels, float(fields[0])


def values(text, specs):
    """The value of each spec in `text` (None where no sample matched)."""
    parsed = [parse_spec(s) for s in specs]
    out = [None] * len(parsed)
    for name, labels, value in samples(text):
        for i, (want, want_labels) in enumerate(parsed):
            if name == want and all(labels.get(k) == v for k, v in want_labels.items()):
                out[i] = (out[i] or 0.0) + value
    return out


class Scraper:
    """Scrapes one /metrics URL over a single keep-alive connection, reconnecting on error."""

    def __init__(self, url, timeout=10.0):
        u = urllib.parse.urlsplit(url)
        self._host, self._port = u.hostname, u.port or 80
        self._path = u.path or "/metrics"
        self._timeout = timeout
        self._conn = None

    def get(self):
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
                self._conn.request("GET", self._path)
                resp = self._conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"GET {self._path}: HTTP {resp.status}")
                return body.decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def values(self, specs):
        return values(self.get(), specs)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def wait_ready(scraper, deadline_s=30.0):
    """Poll until the endpoint answers; raises after the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            return scraper.get()
        except (OSError, http.client.HTTPException, RuntimeError):
            if time.monotonic() > end:
                raise
            time.sleep(0.05)
