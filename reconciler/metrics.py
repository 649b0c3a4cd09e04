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

"""The daemon's Prometheus metrics: what an operator alerts on.

What must survive a restart (open findings, the last successful pass of each
backend, the notification outbox) is read from the history at each scrape,
so every daemon of an HA group reports the same truth: a dashboard takes
one daemon's value (``max``), never their sum. Pass results, durations,
stage timings, lock ownership and the process's own figures (``process_*``)
are this process's own. Backend and host passes alike are counted, a host
scope as ``host:<name>``. The alert to set is on
``cinder_reconciler_last_success_timestamp_seconds``: it stops moving when a
daemon is dead, stuck or failing.
"""

import contextlib
import socket
import socketserver
import threading
import time
from wsgiref import simple_server

from oslo_log import log as logging
import prometheus_client
from prometheus_client import core

from reconciler import version

LOG = logging.getLogger(__name__)

PREFIX = 'cinder_reconciler_'
# A pass lists whole backends: seconds to tens of minutes.
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600,
                    float('inf'))
# The stages a pass reports in its inventory, as seconds.
STAGES = {'array': 'array_seconds', 'cinder': 'cinder_seconds',
          'recheck': 'recheck_seconds'}


class _HistoryCollector(object):
    """Gauges read from the history when Prometheus scrapes."""

    def __init__(self, history, silences=None):
        self.history = history
        # (last runs, now) -> reconciler.fleet.staleness.Silence list.
        self.silences = silences

    def describe(self):
        return []  # read at each scrape, never at registration

    def collect(self):
        up = core.GaugeMetricFamily(
            PREFIX + 'history_up',
            'Whether the last scrape could read the history database.')
        try:
            snap = self.history.snapshot()
        except Exception as e:
            LOG.warning('Metrics: could not read the history: %s',
                        type(e).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        findings = core.GaugeMetricFamily(
            PREFIX + 'findings', 'Open findings.',
            labels=['backend', 'kind', 'state'])
        for (backend, kind, state), n in sorted(snap.findings.items()):
            findings.add_metric([backend, kind, state], n)
        yield findings
        last_ok = core.GaugeMetricFamily(
            PREFIX + 'last_success_timestamp_seconds',
            "When the backend's newest successful pass finished.",
            labels=['backend'])
        for backend, at in sorted(snap.last_ok.items()):
            last_ok.add_metric([backend], at)
        yield last_ok
        last = core.GaugeMetricFamily(
            PREFIX + 'last_pass_ok',
            "1 if the backend's newest finished pass succeeded, else 0.",
            labels=['backend'])
        for backend, run in sorted(snap.last_run.items()):
            last.add_metric([backend], int(run.status == 'ok'))
        yield last
        if self.silences is not None:
            yield from self._hosts(snap)
        for name, text, value in (
                ('outbox_depth', 'Notifications waiting to be sent.',
                 snap.outbox_depth),
                ('outbox_undelivered',
                 'Waiting notifications whose send already failed.',
                 snap.outbox_undelivered),
                ('outbox_oldest_age_seconds',
                 'Age of the oldest waiting notification (0: none).',
                 time.time() - snap.outbox_oldest
                 if snap.outbox_oldest else 0)):
            yield core.GaugeMetricFamily(PREFIX + name, text, value=value)

    def _hosts(self, snap):
        stale = core.GaugeMetricFamily(
            PREFIX + 'host_stale',
            "1 when no scan of the host came for [agents] stale_intervals "
            'of its scan interval: its findings are neither created nor '
            'resolved meanwhile.', labels=['backend'])
        age = core.GaugeMetricFamily(
            PREFIX + 'host_report_age_seconds',
            "Seconds since the host's newest report (run) began.",
            labels=['backend'])
        for silence in self.silences(snap.last_run, time.time()):
            stale.add_metric([silence.scope], int(silence.stale))
            age.add_metric([silence.scope], silence.age)
        yield stale
        yield age


class Metrics(object):
    """One process's metrics registry, and its HTTP endpoint."""

    def __init__(self, history, silences=None):
        self.registry = prometheus_client.CollectorRegistry()
        self.passes = prometheus_client.Counter(
            PREFIX + 'passes', 'Passes by backend and result.',
            ['backend', 'status'], registry=self.registry)
        self.duration = prometheus_client.Histogram(
            PREFIX + 'pass_duration_seconds', 'Duration of passes.',
            ['backend'], buckets=DURATION_BUCKETS, registry=self.registry)
        self.stage = prometheus_client.Gauge(
            PREFIX + 'pass_stage_seconds',
            "Seconds the backend's newest ok pass spent in each stage.",
            ['backend', 'stage'], registry=self.registry)
        self.lock = prometheus_client.Gauge(
            PREFIX + 'lock_held',
            "1 while this daemon holds the backend's coordination lock.",
            ['backend'], registry=self.registry)
        self.registry.register(_HistoryCollector(history, silences))
        # The process's CPU, memory and open files, and Python's own.
        prometheus_client.ProcessCollector(registry=self.registry)
        prometheus_client.PlatformCollector(registry=self.registry)
        prometheus_client.GCCollector(registry=self.registry)
        prometheus_client.Info(
            PREFIX + 'build', 'The running package.',
            registry=self.registry).info(
                {'version': version.version_string()})
        self._server = None
        self._thread = None
        self._mutex = threading.Lock()

    def observe(self, report, seconds):
        """Account one finished pass (a ``manager.PassReport``)."""
        self.passes.labels(report.backend, str(report.status)).inc()
        self.duration.labels(report.backend).observe(seconds)
        for stage, key in STAGES.items():
            if key in report.inventory:
                self.stage.labels(report.backend, stage).set(
                    report.inventory[key])

    @contextlib.contextmanager
    def holding(self, backend):
        gauge = self.lock.labels(backend)
        gauge.set(1)
        try:
            yield
        finally:
            gauge.set(0)

    def serve(self, host, port):
        """``/metrics`` on ``host:port``, in a thread; any other path 404s
        (prometheus_client's own server answers every path).
        """
        app = _only_metrics(prometheus_client.make_wsgi_app(self.registry))
        with self._mutex:
            self._server = simple_server.make_server(
                host, port, app, _server_class(host, port),
                handler_class=_QuietHandler)
            self._thread = threading.Thread(
                target=self._server.serve_forever, name='metrics',
                daemon=True)
            self._thread.start()
        LOG.info('Metrics served on http://%s:%d/metrics', host,
                 self._server.server_port)

    @property
    def port(self):
        return self._server.server_port if self._server else None

    def stop(self):
        with self._mutex:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


class _ThreadingServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


def _server_class(host, port):
    """A server of the address's family (``bind_host`` may be IPv6)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return type('MetricsServer', (_ThreadingServer,),
                {'address_family': family})


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass  # one line per scrape would flood the log


def _only_metrics(app):
    def only(environ, start_response):
        if environ.get('PATH_INFO') != '/metrics':
            start_response('404 Not Found',
                           [('Content-Type', 'text/plain; charset=utf-8')])
            return [b'Not Found: the metrics are at /metrics\n']
        return app(environ, start_response)
    return only
