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

"""``cinder-reconciler``: the periodic daemon."""

import os
import signal
import sys

from oslo_log import log as logging
from oslo_reports.generators import conf as conf_generator
from oslo_reports import guru_meditation_report as gmr
from oslo_reports import opts as gmr_opts
from oslo_service import service
import psutil

from reconciler import conf as reconciler_conf
from reconciler.conf import validation
from reconciler import service as reconciler_service
from reconciler import version

LOG = logging.getLogger(__name__)


def _report_from_the_worker(conf):
    """SIGUSR2 makes the worker write the Guru Meditation Report.

    The launcher's master only supervises: its threads say nothing of the
    passes. So the master passes the signal on to its workers (its direct
    children; not their commands, whose default action would end them), as
    it passes SIGHUP on, and each worker writes its report. Installed before
    the launcher forks, so a worker has it too: ``kill -USR2`` works on
    either pid.
    """
    master = os.getpid()
    log_dir = conf.oslo_reports.log_dir

    def on_signal(signum, frame):
        if os.getpid() != master:
            gmr.TextGuruMeditation.handle_signal(
                version, 'cinder-reconciler', log_dir, frame)
            return
        for worker in psutil.Process().children():
            try:
                os.kill(worker.pid, signal.SIGUSR2)
            except ProcessLookupError:
                pass  # ended meanwhile: the launcher starts another

    if not conf.oslo_reports.file_event_handler:
        signal.signal(signal.SIGUSR2, on_signal)


def main(argv=None):
    # Not cfg.CONF: SIGHUP must reload only a configuration that validates.
    conf = validation.ReloadCheckedConf()
    gmr_opts.set_defaults(conf)
    reconciler_conf.prepare(conf, sys.argv[1:] if argv is None else argv)
    # SIGUSR2 writes a Guru Meditation Report (threads, configuration) of
    # the worker to stderr, or to [oslo_reports] log_dir.
    # oslo.reports' own Configuration section shows cfg.CONF, which the
    # daemon does not use: its configuration gets a section of its own.
    gmr.TextGuruMeditation.register_section(
        'Configuration of cinder-reconciler',
        conf_generator.ConfigReportGenerator(conf))
    gmr.TextGuruMeditation.setup_autorun(
        version, service_name='cinder-reconciler', conf=conf,
        setup_signal=False)
    _report_from_the_worker(conf)
    # Validated apart: the service warns of each backend it leaves out when
    # it starts; a controller may serve agents alone.
    error = validation.problem(sys.argv[1:] if argv is None else argv,
                               'cinder-reconciler', strict=False)
    if error:
        LOG.error('Configuration error: %s', error)
        return 1
    launcher = service.launch(
        conf, reconciler_service.ReconcilerService(conf, master=os.getpid()),
        workers=1, restart_method='reload')
    launcher.wait()
    return 0
