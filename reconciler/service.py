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

"""The daemon: one timer per backend, in native threads.

Each backend has its own dynamic timer (its own thread), so a slow or failing
backend never delays another, and the notification outbox is sent by a
thread of its own, woken after each pass, so no pass waits for the broker.
At start, runs of this host's dead processes are closed as abandoned.
SIGTERM sets a stop event that a pass checks between stages; SIGHUP makes
the launcher re-read the configuration files and restart this service the
same way. Connections, the database engine,
the tooz coordinator and drivers are created in ``start()``, in the worker,
never before the launcher forks or spawns it. With several daemons for HA,
a backend another member owns is skipped, and the skip is not a run.
With ``[cloud] enabled``, the cloud scope (reconciler.cloud) has a timer
and a coordination lock of its own, like a backend. The optional
Prometheus endpoint, the history retention and the listener
of Cinder's notifications (reconciler.listener) run beside the passes, in
their own threads; the listener stops with the service, and a SIGHUP
restarts it with the new configuration. Given ``[DEFAULT] transport_url``,
the controller's RPC server (reconciler.rpc.controller) serves agents and
the API in threads of its own too.

A worker that cannot start logs why in one line and ends the whole daemon
(the master exits non-zero, so systemd restarts it): oslo.service would
otherwise respawn it in a loop, or leave a master without a worker.
"""

import os
import random
import signal
import threading
import time

from oslo_log import log as logging
from oslo_service import service

from reconciler.cloud import scope as cloud_scope
from reconciler.conf import validation
from reconciler import coordination
from reconciler import exception
from reconciler.fleet import staleness
from reconciler import history
from reconciler import listener
from reconciler import manager
from reconciler import metrics
from reconciler import model
from reconciler import notifier
from reconciler import ownership
from reconciler.remediation import remediator
from reconciler.rpc import api as rpc_api
from reconciler.rpc import controller as rpc_controller

LOG = logging.getLogger(__name__)
DAY = 86400


class ReconcilerService(service.Service):

    def __init__(self, conf, master=None):
        """``master``: the pid of the launcher's process, if it forks us."""
        super().__init__()
        self.conf = conf
        self._master = master

    def start(self):
        super().start()
        try:
            return self._start()
        except Exception as e:
            error = exception.describe(e)
        # Logged outside the handler: oslo.log would append the exception.
        LOG.critical('Cannot start: %s', error)
        if self._master not in (None, os.getpid()):
            # cotyledon's master exits with status 1 on SIGINT.
            os.kill(self._master, signal.SIGINT)
        raise SystemExit(1)

    def _start(self):
        self._stop = threading.Event()
        self._history = history.History.from_conf(self.conf)
        self._history.check_current()
        ownership.close_abandoned(self._history, time.time())
        self._notifier = notifier.Notifier(self.conf)
        self._coordinator = coordination.Coordinator(self.conf)
        self._coordinator.start()
        self._backends = {b.name: b for b in validation.enabled_backends(
            self.conf, serving_agents=True)}
        self._reconcilers = {}
        # Before any timer: a pass's first tick may come at once.
        self._metrics = metrics.Metrics(
            self._history, lambda runs, now: staleness.silences(
                runs, now, self.conf))
        fuzz = self.conf.reconciler.periodic_fuzzy_delay
        for name in self._backends:
            self.tg.add_dynamic_timer_args(
                self._tick, args=[name], initial_delay=random.uniform(0, fuzz),
                stop_on_exception=False)
        self._flusher = notifier.Flusher(
            self._notifier, self._history,
            self.conf.reconciler.outbox_flush_interval)
        self._flusher.start()
        if self.conf.reconciler.history_retention_days:
            self.tg.add_timer_args(DAY, self._purge, stop_on_exception=False,
                                   initial_delay=random.uniform(0, fuzz))
        self.tg.add_timer_args(DAY, self._purge_events,
                               stop_on_exception=False,
                               initial_delay=random.uniform(0, fuzz))
        self._listener = None
        if self.conf.cinder_notifications.enabled:
            if listener.configured(self.conf):
                self._listener = listener.CinderListener(
                    self.conf, self._history, self._backends.values())
                self._listener.start()
            else:
                LOG.warning("No transport_url: Cinder's notifications are "
                            'not recorded ([cinder_notifications])')
        if self.conf.metrics.port:
            self._metrics.serve(self.conf.metrics.bind_host,
                                self.conf.metrics.port)
        self._start_rpc()
        LOG.info('Reconciling backends: %s', ', '.join(self._backends))
        self._cloud = None
        if self.conf.cloud.enabled:
            from reconciler.cloud import manager as cloud_manager
            self._cloud = cloud_manager.CloudReconciler(
                self.conf, self._history, self._notifier)
            self.tg.add_dynamic_timer_args(
                self._cloud_tick, initial_delay=random.uniform(0, fuzz),
                stop_on_exception=False)
            LOG.info('Reconciling the cloud scope against Nova and '
                     'Keystone (%s)', ', '.join(self.conf.cloud.checks))
        self._host = None
        if self.conf.host_scan.enabled:
            # Imported only here: os-brick is not needed without the unit.
            from reconciler.host import manager as host_manager
            self._host = host_manager.HostReconciler(
                self.conf, self._history, self._notifier)
            self.tg.add_dynamic_timer_args(
                self._host_tick, initial_delay=random.uniform(0, fuzz),
                stop_on_exception=False)
            LOG.info('Reconciling this host as %s', self._host.scope)
            if not self._backends:
                LOG.warning('This daemon only scans its host and holds the '
                            "history database's and Cinder's credentials "
                            'for it: on a compute node, run '
                            'cinder-reconciler-agent instead')

    def _start_rpc(self):
        """The controller's RPC server, given ``[DEFAULT] transport_url``
        (agents report to it, the API asks it to act).
        """
        self._rpc = self._transport = None
        if not rpc_api.configured(self.conf):
            LOG.info('No [DEFAULT] transport_url: no RPC server (agents '
                     'and the API cannot reach this controller)')
            return
        self._transport = rpc_api.get_transport(self.conf)
        self._rpc = rpc_controller.server(rpc_controller.Services(
            self.conf, self._history, self._notifier, self._coordinator,
            self._stop, self._transport))
        self._rpc.start()

    def _host_tick(self):
        """The host unit's timer: its own interval, no ring to share."""
        if not self._stop.is_set():
            started = time.monotonic()
            try:
                report = self._host.run_pass(stop=self._stop)
            except Exception:
                LOG.exception('Host pass could not be recorded')
            else:
                self._metrics.observe(report, time.monotonic() - started)
        return self.conf.host_scan.interval

    def _cloud_tick(self):
        """The cloud scope's timer: one pass per interval, under the
        scope's coordination lock (one member of a group runs it).
        """
        if not self._stop.is_set():
            with self._coordinator.exclusive(cloud_scope.NAME,
                                             stop=self._stop) as lease:
                if lease:
                    with self._metrics.holding(cloud_scope.NAME):
                        started = time.monotonic()
                        try:
                            report = self._cloud.run_pass(stop=lease)
                        except Exception as e:
                            LOG.error('Cloud: pass could not be recorded: '
                                      '%s', exception.describe(e))
                        else:
                            self._metrics.observe(
                                report, time.monotonic() - started)
                    self._flusher.wake()
        return self.conf.cloud.interval

    def _tick(self, name):
        backend = self._backends[name]
        if backend.reconciler_enabled and not self._stop.is_set():
            with self._coordinator.exclusive(name, stop=self._stop) as lease:
                if lease:
                    with self._metrics.holding(name):
                        self._run_pass(backend, lease)
                    self._flusher.wake()
        return backend.reconciler_interval

    def _run_pass(self, backend, lease):
        started = time.monotonic()
        try:
            # One reconciler per backend for the daemon's life: it keeps
            # the backend's Cinder view between passes.
            reconciler = self._reconcilers.get(backend.name)
            if reconciler is None:
                reconciler = self._reconcilers[backend.name] = (
                    manager.BackendReconciler(self.conf, backend,
                                              self._history, self._notifier))
            report = reconciler.run_pass(stop=lease)
        except Exception as e:
            LOG.error('Backend %s: pass could not be recorded: %s',
                      backend.name, exception.describe(e))
        else:
            self._metrics.observe(report, time.monotonic() - started)
            if (report.status == model.RunStatus.OK
                    and backend.reconciler_auto_remediate
                    and not lease.is_set()):
                self._auto_remediate(backend, lease.scope)

    def _auto_remediate(self, backend, lock):
        """The policy's actions, with every gate of the command, still
        under the pass's lock (of the ``lock`` ownership scope).
        """
        allowed = {tuple(p.split(':')) for p in
                   backend.reconciler_auto_remediate}
        try:
            remediator.Remediator(
                self.conf, backend, self._history, self._notifier,
                'cinder-reconciler@%s (policy)' % self.conf.host).run(
                    apply=True, kinds={k for k, _ in allowed},
                    allowed=allowed, lock=lock)
        except Exception:
            LOG.exception('Backend %s: automatic remediation failed',
                          backend.name)

    def _purge(self):
        days = self.conf.reconciler.history_retention_days
        try:
            purged = self._history.purge(time.time() - days * DAY)
        except Exception:
            LOG.exception('History retention: purge failed')
        else:
            LOG.info('History retention (%d days): purged %d runs and %d '
                     'resolved findings', days, purged['runs'],
                     purged['findings'])

    def _purge_events(self):
        days = self.conf.cinder_notifications.retention_days
        try:
            purged = self._history.purge_events(time.time() - days * DAY)
        except Exception:
            LOG.exception("Retention of Cinder's events: purge failed")
        else:
            LOG.info("Retention of Cinder's events (%d days): purged %d",
                     days, purged)

    def stop(self, graceful=True):
        if hasattr(self, '_stop'):
            self._stop.set()
        super().stop(graceful)
        if getattr(self, '_rpc', None):
            self._rpc.stop()
        if getattr(self, '_transport', None):
            self._transport.cleanup()
        if getattr(self, '_listener', None):
            self._listener.stop()
        if hasattr(self, '_flusher'):
            self._flusher.stop()
        if hasattr(self, '_metrics'):
            self._metrics.stop()
        if hasattr(self, '_coordinator'):
            self._coordinator.stop()
        if hasattr(self, '_notifier'):
            self._notifier.close()
