"""``[DEFAULT]`` options, under the names Cinder itself uses there."""

import socket

from oslo_config import cfg

OPTS = [
    cfg.ListOpt('enabled_backends', default=[],
                help='Backend groups to reconcile, as in cinder.conf: each '
                     'name is a config group selecting an array driver.'),
    cfg.StrOpt('host', default=socket.gethostname(), sample_default='<host>',
               help="Cinder's service host name; a backend's Cinder host is "
                    "'<backend_host or host>@<group name>'."),
    cfg.StrOpt('volume_name_template', default='volume-%s',
               help="Cinder's template of backend volume names."),
    cfg.StrOpt('snapshot_name_template', default='snapshot-%s',
               help="Cinder's template of backend snapshot names."),
    cfg.StrOpt('rootwrap_config', default='/etc/cinder/rootwrap.conf',
               help="Cinder's rootwrap configuration: a backend's default "
                    "root_helper is 'sudo cinder-rootwrap <this file>', as "
                    "Cinder's. Its filters_path must hold the reconciler's "
                    'cinder-reconciler.filters.'),
    cfg.StrOpt('state_path', default='/var/lib/cinder',
               help="Cinder's state directory; the default [coordination] "
                    "backend_url keeps its lock files there."),
]


def register_opts(conf):
    conf.register_opts(OPTS)


def list_opts():
    return {'DEFAULT': OPTS}
