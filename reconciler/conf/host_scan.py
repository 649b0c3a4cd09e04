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

"""``[host_scan]``: this host's devices against Cinder's attachments.

Read by ``cinder-reconciler-agent`` on compute nodes (what to scan, how,
and its key) and by the controller (how to judge every host's scans), and
by the daemon's own host unit when ``enabled`` (a small cloud's all-in-one
mode); see doc/source/admin/agents.rst.
"""

import socket

from oslo_config import cfg

GROUP = cfg.OptGroup('host_scan',
                     help="This host's block devices against Cinder's "
                          'attachments to it.')

OPTS = [
    cfg.BoolOpt('enabled', default=False,
                help='The daemon (cinder-reconciler) scans this host '
                     'itself, on its own timer: the all-in-one mode, for '
                     "the controller's own host or a small cloud, where "
                     'the database and Cinder credentials are on the host '
                     'anyway. Compute nodes run cinder-reconciler-agent '
                     'instead (it ignores this option).'),
    cfg.StrOpt('connector_host', default=socket.gethostname(),
               sample_default='<host>',
               help="This host's name as os-brick's connector gives it to "
                    'Cinder (Nova: [DEFAULT] host of nova-compute; Cinder: '
                    'its [DEFAULT] host). Attachments Cinder shows with this '
                    'host_name are the ones compared.'),
    cfg.IntOpt('interval', default=600, min=10, max=86400,
               help='Seconds between two host passes.'),
    cfg.StrOpt('report_key', secret=True,
               help="The agent's key: it signs every scan it reports with "
                    'it. "cinder-reconciler-manage agent-key HOST", run '
                    "where the controllers' [agents] auth_key is, prints "
                    "the key of this host's connector_host. Needed when "
                    'the controllers set auth_key.'),
    cfg.IntOpt('sightings', default=3, min=1, max=1000,
               help='Consecutive successful host passes that must see a '
                    'finding (a faulty map, a leftover) before it is '
                    'confirmed.'),
    cfg.IntOpt('grace_period', default=1800, min=0, max=30 * 86400,
               help='Seconds a host finding must have been seen for before '
                    'it is confirmed.'),
    cfg.ListOpt('protocols', default=['iscsi', 'fc'],
                item_type=cfg.types.String(choices=['iscsi', 'fc',
                                                    'nvmeof']),
                help='Transports to scan. iscsi needs iscsiadm, nvmeof '
                     'needs nvme-cli (nvme list-subsys -o json).'),
    cfg.BoolOpt('multipath', default=True,
                help='Read multipathd\'s maps ("multipathd show maps '
                     'json"). Set to false on hosts without multipathd.'),
    cfg.ListOpt('owned_targets', default=[],
                help="Targets that are Cinder's alone, every LUN on them: "
                     'IQN or NQN prefixes ending in ":" (e.g. '
                     'iqn.2010-10.org.openstack:), exact IQNs/NQNs, target '
                     'port WWPNs, or portal addresses (ip:port or ip). '
                     'Besides these, a LUN is judged only when an '
                     "attachment to this host names it (now or in an "
                     'earlier pass), its target names a volume UUID, or '
                     'its WWID (NVMe: UUID or NGUID) is known to Cinder or '
                     'an earlier pass.'),
    cfg.IntOpt('remembered_luns', default=1000, min=0, max=100000,
               help='LUNs (target and LUN) of earlier attachments to this '
                    'host, and as many WWIDs of their devices with their '
                    'volumes, remembered in the history, so that a leftover '
                    "whose attachment is gone is still known to be Cinder's "
                    '(and, by its WWID, which volume it is).'),
    cfg.StrOpt('root_prefix', default='/',
               help='Where /dev, /sys and /proc are read from; only tests '
                    'and containers change it.'),
    cfg.StrOpt('root_helper',
               default='sudo cinder-reconciler-rootwrap '
                       '/etc/cinder-reconciler/rootwrap.conf',
               help='Prefix of the read-only scan commands (multipathd, '
                    'dmsetup, iscsiadm, nvme), as Nova and Cinder run '
                    "os-brick's commands. The shipped "
                    'rootwrap.d/host.filters allow exactly these.'),
    cfg.IntOpt('command_timeout', default=60, min=1, max=3600,
               help='Seconds a scan command may take before the pass fails.'),
    cfg.StrOpt('lock_path',
               help="os-brick's lock_path on this host ([os_brick] lock_path "
                    'of nova-compute and cinder-volume, else their '
                    '[oslo_concurrency] lock_path). A scan holds os-brick\'s '
                    '"connect_volume" lock there so that it never races an '
                    'attach or a detach. Required by the host unit.'),
    cfg.IntOpt('lock_timeout', default=120, min=0, max=3600,
               help='Seconds to wait for os-brick\'s lock; when an attach or '
                    'detach holds it longer, the pass is skipped (recorded '
                    'as failed, not announced) and no finding changes.'),
    cfg.IntOpt('remediation_min_age', default=86400, min=0,
               max=365 * 86400,
               help='Seconds a host finding must have been confirmed '
                    'before "remediate --host" may disconnect it.'),
    cfg.IntOpt('remediation_max_actions', default=5, min=1, max=1000,
               help='Most disconnects one "remediate --host" may take; a '
                    'plan with more does nothing and says so.'),
    cfg.IntOpt('max_shrink_percent', default=50, min=1, max=100,
               help="Cinder's attachment listing shrinking by more than "
                    'this since the last successful host pass fails the '
                    'pass as implausible.'),
]


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}
