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

"""``[agents]``: the controller's side of host agents.

Agents (``cinder-reconciler-agent``, on compute nodes) scan their host and
report to the controllers over RPC; the controller judges the scans
against Cinder's attachments, which it lists once per cycle for all hosts,
and records the history. See doc/source/admin/agents.rst.
"""

from oslo_config import cfg

GROUP = cfg.OptGroup('agents',
                     help='How the controller serves host agents.')

OPTS = [
    cfg.IntOpt('view_interval', default=300, min=10, max=86400,
               help="Seconds between two listings of Cinder's volumes and "
                    'attachments for the hosts whose agents report; the '
                    'listing is done once per interval, whatever the '
                    'number of agents, and only while agents report.'),
    cfg.IntOpt('full_listing_every', default=12, min=1, max=1000,
               help='Every this many listings, volumes and attachments are '
                    'listed in full; the others list what changed. 1 lists '
                    'in full every time.'),
    cfg.FloatOpt('stale_intervals', default=3, min=1, max=1000,
                 help="A host whose agent sent no scan for this many of its "
                      'scan intervals is shown stale ("runs list", the '
                      'cinder_reconciler_host_stale metric); its findings '
                      'are neither created nor resolved meanwhile.'),
    cfg.StrOpt('auth_key', secret=True,
               help='Secret from which each host\'s report key is derived '
                    '("cinder-reconciler-manage agent-key HOST" prints it, '
                    "for that host's [host_scan] report_key). Set: a "
                    'report is accepted only signed with the key of the '
                    'host it names. Unset: reports are not authenticated '
                    "(the host they name must be the sender's, which any "
                    'holder of the transport credentials can claim).'),
    cfg.IntOpt('signature_max_age', default=300, min=10,
               max=86400,
               help='Seconds a signed report stays acceptable after it was '
                    "sent (the agents' clocks may be this far off)."),
    cfg.IntOpt('lock_timeout', default=30, min=0, max=3600,
               help="Seconds a report waits for its host's lock (a "
                    'remediation of the host holds it) before it is '
                    'refused as busy and sent again at the next scan.'),
]


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}
