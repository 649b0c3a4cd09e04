"""The daemon: one timer per backend, in native threads.

Each backend has its own dynamic timer (its own thread), so a slow or failing
backend never delays another. SIGTERM sets a stop event that a pass checks
between stages; SIGHUP makes the launcher re-read the configuration files and
restart this service the same way. Connections, the database engine,
the tooz coordinator and drivers are created in ``start()``, in the worker,
never before the launcher forks or spawns it. With several daemons for HA,
a backend another member owns is skipped, and the skip is not a run.

A worker that cannot start logs why in one line and ends the whole daemon
(the master exits non-zero, so systemd restarts it): oslo.service would
otherwise respawn it in a loop, or leave a master without a worker.
"""

import os
import random
import signal
import threading

from oslo_log import log as logging
from oslo_service import service

from reconciler.conf import validation
from reconciler import coordination
from reconciler import exception
from reconciler import history
from reconciler import manager
from reconciler import notifier

LOG = logging.getLogger(__name__)


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
        self._notifier = notifier.Notifier(self.conf)
        self._coordinator = coordination.Coordinator(self.conf)
        self._coordinator.start()
        self._backends = {
            b.name: b for b in validation.enabled_backends(self.conf)}
        fuzz = self.conf.reconciler.periodic_fuzzy_delay
        for name in self._backends:
            self.tg.add_dynamic_timer_args(
                self._tick, args=[name], initial_delay=random.uniform(0, fuzz),
                stop_on_exception=False)
        self.tg.add_timer_args(self.conf.reconciler.outbox_flush_interval,
                               self._flush, stop_on_exception=False)
        LOG.info('Reconciling backends: %s', ', '.join(self._backends))

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
        except Exception as e:
            error = exception.describe(e)
        else:
            return
        LOG.error('Backend %s: pass could not be recorded: %s',
                  backend.name, error)

    def _flush(self):
        try:
            self._notifier.flush(self._history)
        except Exception as e:
            error = exception.describe(e)
        else:
            return
        LOG.error('Notification outbox flush failed: %s', error)

    def stop(self, graceful=True):
        if hasattr(self, '_stop'):
            self._stop.set()
        super().stop(graceful)
        if hasattr(self, '_coordinator'):
            self._coordinator.stop()
        if hasattr(self, '_notifier'):
            self._notifier.close()
