"""``cinder-reconciler``: the periodic daemon."""

import os
import sys

from oslo_log import log as logging
from oslo_service import service

from reconciler import conf as reconciler_conf
from reconciler.conf import validation
from reconciler import exception
from reconciler import service as reconciler_service

LOG = logging.getLogger(__name__)


def main(argv=None):
    # Not cfg.CONF: SIGHUP must reload only a configuration that validates.
    conf = validation.ReloadCheckedConf()
    reconciler_conf.prepare(conf, sys.argv[1:] if argv is None else argv)
    try:
        validation.enabled_backends(conf)
    except exception.ConfigError as e:
        LOG.error('Configuration error: %s', e)
        return 1
    launcher = service.launch(
        conf, reconciler_service.ReconcilerService(conf, master=os.getpid()),
        workers=1, restart_method='reload')
    launcher.wait()
    return 0
