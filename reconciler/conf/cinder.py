"""``[cinder]``: how to reach Cinder's API (keystoneauth1 options).

Registered with keystoneauth's own loading helpers, so every auth plugin
(password, application credentials, admin_token for a noauth Cinder...) and
every session/adapter option (cafile, insecure, timeout, region_name,
endpoint_override...) works as it does in other services.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = cfg.OptGroup('cinder', help="Access to Cinder's block-storage API. "
                                    'The credentials need the admin role.')

OPTS = [
    cfg.IntOpt('page_size', default=1000, min=1,
               help='Volumes and snapshots requested per page; Cinder caps '
                    'it at its osapi_max_limit.'),
]

_ADAPTER_DEFAULTS = {'service_type': 'block-storage',
                     'valid_interfaces': ['internal', 'public']}


def register_opts(conf):
    # A group object of its own per ConfigOpts: registered objects share
    # their option list, and auth plugin options must not leak between them.
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)
    ks_loading.register_session_conf_options(conf, GROUP.name)
    ks_loading.register_auth_conf_options(conf, GROUP.name)
    ks_loading.register_adapter_conf_options(conf, GROUP.name)
    conf.set_default('service_type', _ADAPTER_DEFAULTS['service_type'],
                     group=GROUP.name)
    conf.set_default('valid_interfaces',
                     _ADAPTER_DEFAULTS['valid_interfaces'], group=GROUP.name)


def list_opts():
    adapter = ks_loading.get_adapter_conf_options(include_deprecated=False)
    # New objects on each call: the sample shows the defaults we set.
    cfg.set_defaults(adapter, **_ADAPTER_DEFAULTS)
    opts = (OPTS
            + ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options('password')
            + adapter)
    return {GROUP: opts}
