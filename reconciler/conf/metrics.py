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

"""``[metrics]``: the daemon's Prometheus endpoint (off by default)."""

from oslo_config import cfg

GROUP = cfg.OptGroup('metrics',
                     help="The daemon's Prometheus metrics endpoint.")

OPTS = [
    cfg.PortOpt('port', default=0,
                help='TCP port of the Prometheus endpoint (GET /metrics). '
                     '0 disables it.'),
    cfg.HostAddressOpt('bind_host', default='127.0.0.1',
                       help='Address the endpoint listens on. The metrics '
                            'name backends and array objects: keep it on '
                            'loopback or a management network.'),
]


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}
