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

"""``[cinder]``: how to reach Cinder's API (keystoneauth1 options).

Registered with keystoneauth's own loading helpers, and the client is
loaded from them too (see :mod:`.service_auth`): every auth plugin
(password, application credentials, admin_token for a noauth Cinder...)
and every session/adapter option works as it does in other services.
"""

from oslo_config import cfg

from reconciler.conf import service_auth

GROUP = cfg.OptGroup('cinder', help="Access to Cinder's block-storage API. "
                                    'The credentials need the admin role.')

OPTS = [
    cfg.IntOpt('page_size', default=1000, min=1, max=10000,
               help='Volumes and snapshots requested per page; Cinder caps '
                    'it at its osapi_max_limit.'),
    cfg.IntOpt('listing_timeout', default=600, min=1, max=86400,
               help="Seconds one Cinder listing (a backend's volumes and "
                    'snapshots, or its manageable resources) may take, all '
                    'pages and retries together; past it the pass fails. '
                    'Each request is also bounded by timeout.'),
    cfg.IntOpt('changes_margin', default=300, min=0, max=86400,
               help='Seconds subtracted from the time of the previous '
                    'listing (by the clock of cinder-api, from its Date '
                    "header) when a pass lists only what changed: rows "
                    'written by Cinder services whose clock is behind by '
                    'up to this much are still listed. A larger value '
                    'lists more rows again; it never makes a pass wrong.'),
    cfg.IntOpt('listing_workers', default=1, min=1, max=10,
               help='Parallel requests of one full listing. Above 1, a '
                    "backend's volumes and snapshots are split into "
                    'disjoint created_at windows fetched in parallel, each '
                    'page by page (volumes need microversion 3.60, else '
                    'one cursor is used). Worth it when cinder-api runs '
                    'several workers (osapi_volume_workers); 1 lists with '
                    'one cursor.'),
]

_ADAPTER_DEFAULTS = {'service_type': 'block-storage',
                     'valid_interfaces': ['internal', 'public']}


def register_opts(conf):
    service_auth.register(conf, GROUP, OPTS, _ADAPTER_DEFAULTS)


def list_opts():
    return service_auth.list_opts(GROUP, OPTS, _ADAPTER_DEFAULTS)
