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

"""``[coordination]``: Cinder's group and option, read from cinder.conf too.

Several daemons pointed at the same ``backend_url`` split the backends among
themselves (see :mod:`reconciler.coordination`).
"""

from oslo_config import cfg

GROUP = cfg.OptGroup('coordination',
                     help='Coordination of several cinder-reconciler '
                          'daemons (tooz).')

OPTS = [
    cfg.StrOpt('backend_url', secret=True, default='file://$state_path',
               help='tooz coordination backend URL. Every backend pass holds '
                    'a lock of its own, which "cinder-reconciler-manage '
                    'check" takes too, so two passes of one backend never '
                    'overlap. The default, a directory of lock files, does '
                    'so on this host only. With a distributed backend (for '
                    'example redis://controller:6379?timeout=10) the lock '
                    'holds across hosts, and every daemon with the same URL '
                    'reconciles its share of the enabled backends and takes '
                    'over the share of a member that died.'),
]


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}
