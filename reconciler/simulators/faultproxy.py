#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""An HTTP reverse proxy on 127.0.0.1 that injects faults and counts traffic.

It fronts any HTTP(S) service of the test bed (Cinder, array simulators), so
tests can make chosen requests fail, hang up or slow down, and benchmarks can
count requests and bytes. Absolute URLs of the target in response bodies and
headers are rewritten to the proxy's, so paginated clients following "next"
links keep going through it. Responses are buffered (no streaming) and
forwarded uncompressed: ``Accept-Encoding`` is not passed on, so bodies can
be rewritten.
"""

import collections
import dataclasses
import email.utils
import http.client
import http.server
import json
import re
import socket
import ssl
import threading
import urllib.parse

# RFC 9110 7.6.1 hop-by-hop headers, plus those the proxy sets itself.
_REQUEST_SKIP = frozenset((
    'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
    'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length',
    'accept-encoding'))
_RESPONSE_SKIP = _REQUEST_SKIP - {'host', 'accept-encoding'}

# The fault names OpenStack services put around an error message.
_FAULT_NAMES = {400: 'badRequest', 401: 'unauthorized', 403: 'forbidden',
                404: 'itemNotFound', 405: 'badMethod',
                409: 'conflictingRequest', 413: 'overLimit',
                415: 'badMediaType', 429: 'overLimit', 501: 'notImplemented',
                503: 'serviceUnavailable'}

Stats = collections.namedtuple('Stats', 'requests response_bytes')


@dataclasses.dataclass
class Rule:
    """Matches requests whose target (path and query) ``re.search``es
    ``pattern``; lets the first ``after`` through, then acts on ``times``
    of them (None: on all). ``fired`` counts the requests it acted on.
    """

    action: str     # 'fail' | 'drop' | 'delay' | 'payload' | 'hold'
    pattern: re.Pattern
    times: int | None = 1
    after: int = 0
    status: int = 500
    seconds: float = 0.0
    body: bytes = b''
    seen: int = 0
    fired: int = 0
    # Set once a held request reached the target ('hold').
    forwarded: threading.Event = dataclasses.field(
        default_factory=threading.Event)

    def claims(self, target):
        """Count a request; True if this rule acts on it. Call under lock."""
        if not self.pattern.search(target):
            return False
        self.seen += 1
        if self.seen <= self.after or (self.times is not None
                                       and self.fired >= self.times):
            return False
        self.fired += 1
        return True


def error_body(status, message):
    """An error document shaped like an OpenStack service's."""
    return json.dumps({_FAULT_NAMES.get(status, 'computeFault'): {
        'code': status, 'message': message}}).encode()


class FaultProxy:

    def __init__(self, target_base_url):
        target = urllib.parse.urlsplit(target_base_url)
        if target.scheme not in ('http', 'https'):
            raise ValueError('not an http(s) URL: %s' % target_base_url)
        self._target = target
        self._target_origin = '%s://%s' % (target.scheme, target.netloc)
        self._lock = threading.Lock()
        self._rules = []
        self._stats = collections.defaultdict(lambda: [0, 0])
        self._date_shift = 0
        self._stopping = threading.Event()
        self._sockets = set()
        self._server = None
        self._origin = None
        self._thread = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def url(self):
        """The proxy's counterpart of ``target_base_url`` (same path)."""
        return self._origin + self._target.path

    def start(self):
        self._stopping.clear()
        self._server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', 0), _handler(self))
        self._origin = 'http://127.0.0.1:%d' % self._server.server_address[1]
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name='faultproxy', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop accepting, wake delayed requests, hang up idle clients."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join()
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- rules ---------------------------------------------------------------

    def _add(self, **kwargs):
        rule = Rule(pattern=re.compile(kwargs.pop('path_regex')), **kwargs)
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail(self, path_regex, status=500, times=1, after=0):
        """Answer matching requests with ``status`` and an error JSON body."""
        return self._add(action='fail', path_regex=path_regex, status=status,
                         times=times, after=after)

    def drop(self, path_regex, times=1, after=0):
        """Close the connection without any response."""
        return self._add(action='drop', path_regex=path_regex, times=times,
                         after=after)

    def delay(self, path_regex, seconds, times=None, after=0):
        """Hold matching requests ``seconds`` before forwarding them."""
        return self._add(action='delay', path_regex=path_regex,
                         seconds=seconds, times=times, after=after)

    def hold(self, path_regex, seconds, times=1, after=0):
        """Forward matching requests, then hold their answers ``seconds``
        (the target has acted; the client does not know yet): the rule's
        ``forwarded`` is set once one reached the target.
        """
        return self._add(action='hold', path_regex=path_regex,
                         seconds=seconds, times=times, after=after)

    def payload(self, path_regex, body, times=1, after=0):
        """Answer matching requests with 200 and the bytes ``body``."""
        return self._add(action='payload', path_regex=path_regex, body=body,
                         times=times, after=after)

    def shift_date(self, seconds):
        """Move the target's ``Date`` header by ``seconds`` (a skewed
        clock); 0 stops. ``clear`` leaves it.
        """
        with self._lock:
            self._date_shift = seconds

    def clear(self):
        with self._lock:
            self._rules.clear()

    def _actions(self, target):
        """The rules acting on a request: delays, then one fail, drop,
        payload or hold.
        """
        acting = []
        with self._lock:
            for rule in self._rules:
                if rule.claims(target):
                    acting.append(rule)
                    if rule.action != 'delay':
                        break
        return acting

    # -- counters ------------------------------------------------------------

    def stats(self, prefix='/'):
        """Requests received and response body bytes sent, summed over paths
        (without query) starting with ``prefix``.
        """
        with self._lock:
            found = [v for p, v in self._stats.items() if p.startswith(prefix)]
        return Stats(sum(v[0] for v in found), sum(v[1] for v in found))

    def reset_stats(self):
        with self._lock:
            self._stats.clear()

    def _count(self, path, nbytes):
        with self._lock:
            entry = self._stats[path.split('?', 1)[0]]
            entry[0] += 1
            entry[1] += nbytes

    # -- forwarding ----------------------------------------------------------

    def _forward(self, method, target, headers, body):
        """One request to the target: (status, reason, headers, body)."""
        if self._target.scheme == 'https':
            conn = http.client.HTTPSConnection(
                self._target.netloc, timeout=300,
                context=ssl._create_unverified_context())   # test arrays
        else:
            conn = http.client.HTTPConnection(self._target.netloc, timeout=300)
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()

    def _header(self, name, value):
        """A response header as the client gets it."""
        with self._lock:
            shift = self._date_shift
        if name.lower() == 'date' and shift:
            moment = email.utils.parsedate_to_datetime(value).timestamp()
            return email.utils.formatdate(moment + shift, usegmt=True)
        return self._rewrite(value)

    def _rewrite(self, value):
        """Point the target's absolute URLs in a str or bytes at the proxy."""
        if isinstance(value, bytes):
            return value.replace(self._target_origin.encode(),
                                 self._origin.encode())
        return value.replace(self._target_origin, self._origin)


def _handler(proxy):

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def setup(self):
            super().setup()
            with proxy._lock:
                proxy._sockets.add(self.connection)

        def finish(self):
            with proxy._lock:
                proxy._sockets.discard(self.connection)
            super().finish()

        def log_message(self, *args):
            pass

        def _reply(self, status, reason, headers, body):
            head = self.command == 'HEAD'
            self.send_response_only(status, reason)
            for name, value in headers:
                # HEAD: keep the target's Content-Length, there is no body.
                if (name.lower() not in _RESPONSE_SKIP
                        or head and name.lower() == 'content-length'):
                    self.send_header(name, value)
            if not head:
                self.send_header('Content-Length', str(len(body)))
            if self.close_connection:
                # The client asked to close (RFC 9112 9.6): say so, or it
                # may reuse the connection this reply closes.
                self.send_header('Connection', 'close')
            self.end_headers()
            if not head:
                self.wfile.write(body)
            proxy._count(self.path, len(body))

        def _fault(self, status, message):
            self._reply(status, None, [('Content-Type', 'application/json')],
                        error_body(status, message))

        def _handle(self):
            length = int(self.headers.get('Content-Length') or 0)
            body = self.rfile.read(length) if length else None
            held = None
            for rule in proxy._actions(self.path):
                if rule.action == 'hold':
                    held = rule
                elif rule.action == 'delay':
                    if proxy._stopping.wait(rule.seconds):
                        self.close_connection = True
                        return
                elif rule.action == 'drop':
                    proxy._count(self.path, 0)
                    self.close_connection = True
                    return
                elif rule.action == 'payload':
                    return self._reply(200, None, [
                        ('Content-Type', 'application/json')], rule.body)
                else:
                    return self._fault(rule.status, 'Injected fault: HTTP %d '
                                       'from the fault proxy' % rule.status)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in _REQUEST_SKIP}
            try:
                status, reason, resp_headers, data = proxy._forward(
                    self.command, self.path, headers, body)
            except (OSError, http.client.HTTPException) as e:
                return self._fault(502, 'Fault proxy: target unreachable: %s'
                                   % e)
            if held is not None:
                held.forwarded.set()
                if proxy._stopping.wait(held.seconds):
                    self.close_connection = True
                    return
            self._reply(status, reason,
                        [(k, proxy._header(k, v)) for k, v in resp_headers],
                        proxy._rewrite(data))

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = \
            do_OPTIONS = _handle

    return Handler
