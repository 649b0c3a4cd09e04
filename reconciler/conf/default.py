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

"""``[DEFAULT]`` options, under the names Cinder itself uses there.

Besides the options the reconciler reads, this registers the Cinder options
that cinder.conf values interpolate (``lock_path = $state_path/tmp``,
``backend_url = file://$state_path``, ``target_ip_address = $my_ip``...), with
Cinder's defaults: an interpolated value must resolve as it does in Cinder.
"""

import socket

from oslo_config import cfg
from oslo_utils import netutils

# Referenced through ``$name`` by Cinder's own defaults and by shipped files.
INTERPOLATED_OPTS = [
    cfg.StrOpt('state_path', default='/var/lib/cinder',
               help="Cinder's top-level state directory: the default "
                    '[coordination] backend_url keeps its lock files there, '
                    'and values refer to it as $state_path.'),
    cfg.HostAddressOpt('my_ip', default=netutils.get_my_ipv4(),
                       sample_default='<HOST_IP_ADDRESS>',
                       help="This host's IP address, as Cinder knows it; "
                            'only used where a value refers to it as $my_ip.'),
]

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
    cfg.StrOpt('rootwrap_config', default='/etc/cinder/rootwrap.conf',
               help="Cinder's rootwrap configuration: a backend's default "
                    "root_helper is 'sudo cinder-rootwrap <this file>', as "
                    "Cinder's. Its filters_path must hold the reconciler's "
                    'cinder-reconciler.filters.'),
]


def register_opts(conf):
    conf.register_opts(OPTS + INTERPOLATED_OPTS)


def list_opts():
    return {'DEFAULT': OPTS + INTERPOLATED_OPTS}
