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

"""``[keystone]``: how to reach Keystone's identity API (keystoneauth1
options), for the cloud scope's list of projects.

The credentials need to list every project (the admin role). To use the
``[cinder]`` group's, set ``auth_section = cinder`` here (keystoneauth
reads the auth plugin's options from that group). See
:mod:`.service_auth` for the options.
"""

from oslo_config import cfg

from reconciler.conf import service_auth

GROUP = cfg.OptGroup(
    'keystone', help="Access to Keystone's identity API for the cloud "
                     "scope's project check ([cloud]). The credentials "
                     'need the admin role.')

OPTS = []

# Version discovery finds v3 under an unversioned catalog URL too.
_ADAPTER_DEFAULTS = {'service_type': 'identity', 'version': '3'}


def register_opts(conf):
    service_auth.register(conf, GROUP, OPTS, _ADAPTER_DEFAULTS)


def list_opts():
    return service_auth.list_opts(GROUP, OPTS, _ADAPTER_DEFAULTS)
