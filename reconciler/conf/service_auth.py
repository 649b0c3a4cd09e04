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

"""keystoneauth1 options of a group that reaches an OpenStack API.

``[cinder]``, ``[nova]`` and ``[keystone]`` register keystoneauth's own
session, auth and adapter options, and their clients are loaded from them,
so every auth plugin and every session/adapter option (cafile, insecure,
timeout, region_name, interface or valid_interfaces, endpoint_override,
auth_section...) works as in other services. Unlike keystoneauth,
requests time out by default, and the numeric options have bounds (see
:mod:`.bounded`).
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from reconciler.conf import bounded

# keystoneauth has no default: a stalled API would hold a pass.
DEFAULT_REQUEST_TIMEOUT = 60

# keystoneauth's numeric options have no bounds: a request timeout of 0
# fails every request, retries by the million hold a pass for ever.
_LIBRARY_BOUNDS = {'timeout': (1, 3600), 'connect_retries': (0, 10),
                   'connect_retry_delay': (0, 60),
                   'status_code_retries': (0, 10),
                   'status_code_retry_delay': (0, 60)}


def register(conf, group, opts, adapter_defaults):
    """Register ``group`` (an OptGroup), its ``opts`` and keystoneauth's."""
    # A group object of its own per ConfigOpts: registered objects share
    # their option list, and auth plugin options must not leak between them.
    conf.register_group(cfg.OptGroup(group.name, help=group.help))
    conf.register_opts(opts, group=group.name)
    conf.register_opts(_session_opts(), group=group.name)
    ks_loading.register_auth_conf_options(conf, group.name)
    conf.register_opts(_adapter_opts(include_deprecated=True),
                       group=group.name)
    for name, value in adapter_defaults.items():
        conf.set_default(name, value, group=group.name)
    conf.set_default('timeout', DEFAULT_REQUEST_TIMEOUT, group=group.name)


def _session_opts():
    """keystoneauth's session options, bounded, with our request timeout."""
    opts = bounded.bounded(ks_loading.get_session_conf_options(),
                           _LIBRARY_BOUNDS)
    cfg.set_defaults(opts, timeout=DEFAULT_REQUEST_TIMEOUT)  # a copy
    return opts


def _adapter_opts(include_deprecated=False):
    """keystoneauth's adapter options, bounded."""
    return bounded.bounded(ks_loading.get_adapter_conf_options(
        include_deprecated=include_deprecated), _LIBRARY_BOUNDS)


def list_opts(group, opts, adapter_defaults):
    """``{group: options}`` for the sample, with our defaults."""
    adapter = _adapter_opts()
    # New objects on each call: the sample shows the defaults we set.
    cfg.set_defaults(adapter, **adapter_defaults)
    return {group: (list(opts) + _session_opts()
                    + ks_loading.get_auth_common_conf_options()
                    + ks_loading.get_auth_plugin_conf_options('password')
                    + adapter)}
