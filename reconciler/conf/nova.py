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

"""``[nova]``: how to reach Nova's compute API (keystoneauth1 options).

The same group as Cinder's own ``[nova]`` in cinder.conf (the credentials
cinder-volume uses for Nova's external events, usually Nova's service
user with the admin role): with the daemon pointed at cinder.conf first,
those are used as they are, Cinder's ``interface`` and ``region_name``
included; our own file may override any of them. The credentials need the
admin role: the cloud scope lists every project's servers. See
:mod:`.service_auth` for the options.
"""

from oslo_config import cfg

from reconciler.conf import service_auth

GROUP = cfg.OptGroup(
    'nova', help="Access to Nova's compute API for the cloud scope "
                 '([cloud]). The same group as cinder.conf\'s [nova]. The '
                 'credentials need the admin role.')

OPTS = [
    cfg.IntOpt('page_size', default=1000, min=1, max=10000,
               help='Servers requested per page; Nova caps it at its '
                    '[api] max_limit.'),
]

# No interface default: Cinder's [nova] interface (public by default) or
# valid_interfaces from our file, never both.
_ADAPTER_DEFAULTS = {'service_type': 'compute'}


def register_opts(conf):
    service_auth.register(conf, GROUP, OPTS, _ADAPTER_DEFAULTS)


def list_opts():
    return service_auth.list_opts(GROUP, OPTS, _ADAPTER_DEFAULTS)
