"""``cinder-reconciler``: the periodic daemon."""

import sys

from oslo_config import cfg
from oslo_log import log as logging
from oslo_service import service

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler import exception
from reconciler import service as reconciler_service

LOG = logging.getLogger(__name__)


def main(argv=None):
    conf = cfg.CONF
    reconciler_conf.prepare(conf, sys.argv[1:] if argv is None else argv)
    try:
        # A compute node runs the host unit alone.
        if not backend_conf.enabled(conf) and not conf.host_scan.enabled:
            raise exception.ConfigError('[DEFAULT] enabled_backends is empty '
                                        'and [host_scan] is not enabled')
    except exception.ConfigError as e:
        LOG.error('Configuration error: %s', e)
        return 1
    launcher = service.launch(conf, reconciler_service.ReconcilerService(conf),
                              workers=1, restart_method='reload')
    launcher.wait()
    return 0
