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
    cfg.StrOpt('cluster',
               help="Cinder's cluster of its active/active cinder-volume "
                    "services; when set, a backend's Cinder view is the "
                    "volumes whose cluster_name is '<cluster>@<group "
                    "name>', whichever member's host they carry. Needs "
                    'Cinder 18 (Wallaby, API microversion 3.61) or later.'),
    cfg.StrOpt('volume_name_template', default='volume-%s',
               help="Cinder's template of backend volume names."),
    cfg.StrOpt('snapshot_name_template', default='snapshot-%s',
               help="Cinder's template of backend snapshot names."),
]


def register_opts(conf):
    conf.register_opts(OPTS)


def list_opts():
    return {'DEFAULT': OPTS}
