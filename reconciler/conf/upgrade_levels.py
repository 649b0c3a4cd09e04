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

"""``[upgrade_levels]``: the newest version each RPC API may send.

During a rolling upgrade, processes of two adjacent releases talk to each
other. As in Nova and Cinder, each client of an RPC API caps the version of
the messages it sends at this value, so a newer controller keeps talking to
older agents (and the reverse) until every process runs the new release;
then the cap is removed. Unset: the newest version this release knows.
"""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'upgrade_levels',
    help='Version caps of the RPC APIs, for rolling upgrades: set one to the '
         'version the oldest process still running understands (its '
         'release notes say it), and unset it once all are upgraded.')

_VERSION = cfg.types.String(regex=r'^\d+\.\d+$')


def _cap(name, what):
    return cfg.Opt(name, type=_VERSION,
                   help='Highest version of the %s RPC API this process '
                        'sends, e.g. 1.0. Unset: the newest it knows.' % what)


OPTS = [
    _cap('baseapi', 'base (ping), served by every controller and agent,'),
    _cap('host', 'host (agents report their scans to the controller)'),
    _cap('agent', 'agent (the controller asks an agent for a scan or a '
                  'disconnect)'),
    _cap('remediation', 'remediation (the API asks the controller for a '
                        'plan or an applied one)'),
]


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}
