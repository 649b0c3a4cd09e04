"""keystoneauth1 options of a group that reaches an OpenStack API.

``[cinder]``, ``[nova]`` and ``[keystone]`` register keystoneauth's own
session, auth and adapter options, and their clients are loaded from them,
so every auth plugin and every session/adapter option (cafile, insecure,
timeout, region_name, interface or valid_interfaces, endpoint_override,
auth_section...) works as in other services. Unlike keystoneauth,
requests time out by default.
"""

import copy

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

# keystoneauth has no default: a stalled API would hold a pass.
DEFAULT_REQUEST_TIMEOUT = 60


def register(conf, group, opts, adapter_defaults):
    """Register ``group`` (an OptGroup), its ``opts`` and keystoneauth's."""
    # A group object of its own per ConfigOpts: registered objects share
    # their option list, and auth plugin options must not leak between them.
    conf.register_group(cfg.OptGroup(group.name, help=group.help))
    conf.register_opts(opts, group=group.name)
    ks_loading.register_session_conf_options(conf, group.name)
    ks_loading.register_auth_conf_options(conf, group.name)
    ks_loading.register_adapter_conf_options(conf, group.name)
    for name, value in adapter_defaults.items():
        conf.set_default(name, value, group=group.name)
    conf.set_default('timeout', DEFAULT_REQUEST_TIMEOUT, group=group.name)


def _session_opts():
    """keystoneauth's session options, showing our request timeout."""
    opts = []
    for opt in ks_loading.get_session_conf_options():
        if opt.dest == 'timeout':
            opt = copy.deepcopy(opt)
            opt.default = DEFAULT_REQUEST_TIMEOUT
        opts.append(opt)
    return opts


def list_opts(group, opts, adapter_defaults):
    """``{group: options}`` for the sample, with our defaults."""
    adapter = ks_loading.get_adapter_conf_options(include_deprecated=False)
    # New objects on each call: the sample shows the defaults we set.
    cfg.set_defaults(adapter, **adapter_defaults)
    return {group: (list(opts) + _session_opts()
                    + ks_loading.get_auth_common_conf_options()
                    + ks_loading.get_auth_plugin_conf_options('password')
                    + adapter)}
