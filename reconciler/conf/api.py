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

"""``[api]``: the REST API service (cinder-reconciler-api).

The API reads the history through ``[reconciler_database]`` and holds no
Cinder, Nova or array credentials: its configuration file is its own
(``cinder-reconciler-api.conf``), never cinder.conf or the daemon's. What
it asks to act on goes to a controller over ``[DEFAULT] transport_url``.
"""

from oslo_config import cfg

GROUP = cfg.OptGroup('api', help='The REST API service.')

OPTS = [
    cfg.StrOpt('api_paste_config', default='api-paste.ini',
               help='The paste.deploy file of the API pipeline: a path, or '
                    'a name looked for beside the configuration files and '
                    'in /etc/cinder-reconciler.'),
    cfg.IntOpt('max_limit', default=1000, min=1,
               help='The most items one page of a listing holds, whatever '
                    "'limit' a request asks for (Cinder's osapi_max_limit)."),
    cfg.StrOpt('auth_strategy', default='keystone',
               choices=[('keystone', 'Keystone tokens (keystonemiddleware '
                                     'auth_token)'),
                        ('noauth', 'no authentication: every request is an '
                                   'admin of project "noauth" (development '
                                   'only)')],
               help='How requests are authenticated.'),
    cfg.IntOpt('remediation_timeout', default=300, min=10,
               help='Seconds a remediation asked through the API may take '
                    'on the controller (over [DEFAULT] transport_url) '
                    'before the request fails with 504; the controller '
                    'waits for the pass of the backend that holds its '
                    'lock first.'),
    cfg.HostAddressOpt('bind_host', default='127.0.0.1',
                       help='Address the development server '
                            '(cinder-reconciler-api) listens on; uWSGI or '
                            "mod_wsgi take their own in production."),
    cfg.PortOpt('bind_port', default=8799,
                help='Port of the development server.'),
]


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}
