"""``[cinder]``: how to reach Cinder's API (keystoneauth1 options).

Registered with keystoneauth's own loading helpers, and the client is
loaded from them too, so every auth plugin (password, application
credentials, admin_token for a noauth Cinder...) and every session/adapter
option (cafile, insecure, timeout, region_name, service_name,
endpoint_override, connect_retries, status_code_retries, min_version...)
works as it does in other services. Unlike keystoneauth, requests time out
by default.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from reconciler.conf import bounded

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

# keystoneauth has no default: a stalled cinder-api would hold a pass.
DEFAULT_REQUEST_TIMEOUT = 60

_ADAPTER_DEFAULTS = {'service_type': 'block-storage',
                     'valid_interfaces': ['internal', 'public']}

# keystoneauth's numeric options have no bounds: a request timeout of 0
# fails every request, retries by the million hold a pass for ever.
_LIBRARY_BOUNDS = {'timeout': (1, 3600), 'connect_retries': (0, 10),
                   'connect_retry_delay': (0, 60),
                   'status_code_retries': (0, 10),
                   'status_code_retry_delay': (0, 60)}


def register_opts(conf):
    # A group object of its own per ConfigOpts: registered objects share
    # their option list, and auth plugin options must not leak between them.
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)
    conf.register_opts(_session_opts(), group=GROUP.name)
    ks_loading.register_auth_conf_options(conf, GROUP.name)
    conf.register_opts(_adapter_opts(include_deprecated=True),
                       group=GROUP.name)


def _session_opts():
    """keystoneauth's session options, bounded, with our request timeout."""
    opts = bounded.bounded(ks_loading.get_session_conf_options(),
                           _LIBRARY_BOUNDS)
    cfg.set_defaults(opts, timeout=DEFAULT_REQUEST_TIMEOUT)
    return opts


def _adapter_opts(include_deprecated=False):
    """keystoneauth's adapter options, bounded, with our defaults."""
    opts = bounded.bounded(ks_loading.get_adapter_conf_options(
        include_deprecated=include_deprecated), _LIBRARY_BOUNDS)
    cfg.set_defaults(opts, **_ADAPTER_DEFAULTS)
    return opts


def list_opts():
    opts = (OPTS
            + _session_opts()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options('password')
            + _adapter_opts())
    return {GROUP: opts}
