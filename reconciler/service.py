"""The daemon: one timer per backend, in native threads.

Each backend has its own dynamic timer (its own thread), so a slow or failing
backend never delays another. SIGTERM sets a stop event that a pass checks
between stages; SIGHUP makes the launcher re-read the configuration files and
restart this service the same way. Connections, the database engine,
the tooz coordinator and drivers are created in ``start()``, in the worker,
never before the launcher forks or spawns it. With several daemons for HA,
a backend another member owns is skipped, and the skip is not a run.
"""

import random
import threading

from oslo_log import log as logging
from oslo_service import service

from reconciler.conf import backend as backend_conf
from reconciler import coordination
from reconciler import history
from reconciler import manager
from reconciler import notifier

LOG = logging.getLogger(__name__)


class ReconcilerService(service.Service):

    def __init__(self, conf):
        super().__init__()
        self.conf = conf

    def start(self):
        super().start()
        self._stop = threading.Event()
        self._history = history.History.from_conf(self.conf)
        self._history.check_current()
        self._notifier = notifier.Notifier(self.conf)
        self._coordinator = coordination.Coordinator(self.conf)
        self._coordinator.start()
        self._backends = {b.name: b for b in backend_conf.enabled(self.conf)}
        fuzz = self.conf.reconciler.periodic_fuzzy_delay
        for name in self._backends:
            self.tg.add_dynamic_timer_args(
                self._tick, args=[name], initial_delay=random.uniform(0, fuzz),
                stop_on_exception=False)
        self.tg.add_timer_args(self.conf.reconciler.outbox_flush_interval,
                               self._flush, stop_on_exception=False)
        LOG.info('Reconciling backends: %s', ', '.join(self._backends))
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

    def _host_tick(self):
        """The host unit's timer: its own interval, no ring to share."""
        if not self._stop.is_set():
            try:
                self._host.run_pass(stop=self._stop)
            except Exception:
                LOG.exception('Host pass could not be recorded')
        return self.conf.host_scan.interval

    def _tick(self, name):
        backend = self._backends[name]
        if backend.reconciler_enabled and not self._stop.is_set():
            with self._coordinator.exclusive(name, stop=self._stop) as lease:
                if lease:
                    self._run_pass(backend, lease)
        return backend.reconciler_interval

    def _run_pass(self, backend, lease):
        try:
            manager.BackendReconciler(
                self.conf, backend, self._history,
                self._notifier).run_pass(stop=lease)
        except Exception:
            LOG.exception('Backend %s: pass could not be recorded',
                          backend.name)

    def _flush(self):
        try:
            self._notifier.flush(self._history)
        except Exception:
            LOG.exception('Notification outbox flush failed')

    def stop(self, graceful=True):
        if hasattr(self, '_stop'):
            self._stop.set()
        super().stop(graceful)
        if hasattr(self, '_coordinator'):
            self._coordinator.stop()
        if hasattr(self, '_notifier'):
            self._notifier.close()
