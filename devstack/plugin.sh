# shellcheck shell=bash
# devstack plugin: `enable_plugin cinder-reconciler <repo>` in local.conf.
#
# Installs cinder-reconciler. Beside cinder-volume, the controller: its own
# configuration file beside cinder.conf (one group per backend in
# CINDER_ENABLED_BACKENDS, Cinder API credentials, its own database,
# notifications and RPC on devstack's message bus), run as the
# devstack@cinder-reconciler systemd unit. Where volumes are attached
# (n-cpu, c-vol), the host agent: a file of its own with the message bus and
# [host_scan] only, run as devstack@cinder-reconciler-agent.
# And the API (cinder-reconciler-api) under uWSGI as
# devstack@cinder-reconciler-api, with its Keystone service user and catalog
# entry.

# Save trace setting: traced here, as devstack's own libraries are, and
# restored for whoever sourced us.
_XTRACE_CINDER_RECONCILER=$(set +o | grep xtrace)
set -o xtrace

# Reconciler driver for a devstack backend type (the part of a
# CINDER_ENABLED_BACKENDS entry before the colon).
function cinder_reconciler_driver_for {
    case $1 in
        lvm) echo lvm ;;
        ceph) echo rbd ;;
        *) echo manageable ;;
    esac
}

function install_cinder_reconciler {
    local venv=${PROJECT_VENV["cinder-reconciler"]:-}
    if [[ ${USE_VENV} = True && -n "$venv" ]]; then
        # What stack.sh does for the services it installs itself.
        rm -rf "$venv"
        # shellcheck disable=SC1091,SC2086
        source "$TOP_DIR/tools/build_venv.sh" "$venv" \
            ${ADDITIONAL_VENV_PACKAGES//,/ }
        export PIP_VIRTUAL_ENV=$venv
    fi
    setup_develop "$CINDER_RECONCILER_DIR" "$CINDER_RECONCILER_EXTRAS"
    if [[ ${USE_VENV} = True && -n "$venv" ]]; then
        unset PIP_VIRTUAL_ENV
    fi
}

# The LVM driver's commands go through Cinder's rootwrap (its default
# root_helper): add our filters, which allow the target listings Cinder's
# own filters refuse, beside Cinder's.
function configure_cinder_reconciler_rootwrap {
    sudo install -o root -g root -m 644 \
        "$CINDER_RECONCILER_DIR/etc/cinder-reconciler/rootwrap.d/cinder-reconciler.filters" \
        "$CINDER_CONF_DIR/rootwrap.d/cinder-reconciler.filters"
}

# Keystone user with the admin role in the service project, unless the
# reconciler was told to use devstack's admin.
function create_cinder_reconciler_accounts {
    if [[ "$CINDER_RECONCILER_SERVICE_USER" != "admin" ]]; then
        create_service_user "$CINDER_RECONCILER_SERVICE_USER" admin
    fi
}

function _configure_cinder_reconciler_auth {
    local conf=$CINDER_RECONCILER_CONF
    iniset "$conf" cinder auth_type password
    iniset "$conf" cinder auth_url "$KEYSTONE_SERVICE_URI"
    iniset "$conf" cinder region_name "$REGION_NAME"
    iniset "$conf" cinder username "$CINDER_RECONCILER_SERVICE_USER"
    if [[ "$CINDER_RECONCILER_SERVICE_USER" == "admin" ]]; then
        iniset "$conf" cinder password "$ADMIN_PASSWORD"
        iniset "$conf" cinder project_name admin
        iniset "$conf" cinder user_domain_name Default
        iniset "$conf" cinder project_domain_name Default
    else
        iniset "$conf" cinder password "$SERVICE_PASSWORD"
        iniset "$conf" cinder project_name "$SERVICE_PROJECT_NAME"
        iniset "$conf" cinder user_domain_name "$SERVICE_DOMAIN_NAME"
        iniset "$conf" cinder project_domain_name "$SERVICE_DOMAIN_NAME"
    fi
}

# The daemon reads cinder.conf first, so each backend group keeps Cinder's
# own options (volume_group, rbd_pool...); this file only adds ours.
function _configure_cinder_reconciler_backends {
    local conf=$CINDER_RECONCILER_CONF
    local entry be_type be_name names=""
    # A compute node without c-vol reconciles no backend, only its host.
    is_service_enabled c-vol || CINDER_ENABLED_BACKENDS=""
    for entry in ${CINDER_ENABLED_BACKENDS//,/ }; do
        be_type=${entry%%:*}
        be_name=${entry##*:}
        iniset "$conf" "$be_name" reconciler_driver \
            "$(cinder_reconciler_driver_for "$be_type")"
        names+=${names:+,}$be_name
    done
    iniset "$conf" DEFAULT enabled_backends "$names"
}

# How the controller judges the agents' scans, and their keys' secret.
function _configure_cinder_reconciler_host {
    local conf=$CINDER_RECONCILER_CONF
    [[ "$CINDER_RECONCILER_HOST_SCAN" == "True" ]] || return 0
    iniset "$conf" host_scan owned_targets "$CINDER_RECONCILER_OWNED_TARGETS"
    iniset "$conf" agents auth_key "$CINDER_RECONCILER_AGENT_AUTH_KEY"
}

# The host agent: this node's devices, reported to the controller over
# devstack's message bus. nova-compute and cinder-volume attach volumes here
# with os-brick, which devstack points at one lock_path; the scan takes the
# same lock. No database, no Cinder credentials.
function configure_cinder_reconciler_agent {
    local conf=$CINDER_RECONCILER_AGENT_CONF
    local key
    sudo install -d -o "$STACK_USER" -m 755 "$CINDER_RECONCILER_CONF_DIR"
    # Holds the transport URL and the report key.
    install -m 600 /dev/null "$conf"
    iniset "$conf" DEFAULT debug "$ENABLE_DEBUG_LOG_LEVEL"
    iniset_rpc_backend cinder-reconciler "$conf"
    iniset "$conf" host_scan lock_path "$CINDER_RECONCILER_BRICK_LOCK_PATH"
    # The stack user's sudo runs the read-only scan commands.
    iniset "$conf" host_scan root_helper sudo
    # This host's key, derived from the controllers' secret (never on the
    # command line: the secret goes through a file descriptor).
    key=$("$CINDER_RECONCILER_BIN_DIR/cinder-reconciler-manage" \
        --config-file <(printf '[agents]\nauth_key = %s\n' \
                        "$CINDER_RECONCILER_AGENT_AUTH_KEY") \
        agent-key "$(hostname)")
    iniset "$conf" host_scan report_key "$key"
}

function configure_cinder_reconciler {
    local conf=$CINDER_RECONCILER_CONF
    sudo install -d -o "$STACK_USER" -m 755 "$CINDER_RECONCILER_CONF_DIR"
    # Holds passwords: readable by the stack user only.
    install -m 600 /dev/null "$conf"
    iniset "$conf" DEFAULT debug "$ENABLE_DEBUG_LOG_LEVEL"
    _configure_cinder_reconciler_backends
    _configure_cinder_reconciler_host
    _configure_cinder_reconciler_auth
    iniset "$conf" reconciler_database connection \
        "$(database_connection_url cinder_reconciler)"
    iniset_rpc_backend cinder-reconciler "$conf"
    iniset "$conf" oslo_messaging_notifications driver messagingv2
}

# Both files, Cinder's first, as the daemon reads them: ours wins where
# both set an option. The history's database is [reconciler_database],
# never Cinder's [database].
function _cinder_reconciler_config_args {
    echo "--config-file $CINDER_CONF --config-file $CINDER_RECONCILER_CONF"
}

function init_cinder_reconciler {
    recreate_database cinder_reconciler
    # shellcheck disable=SC2046
    "$CINDER_RECONCILER_BIN_DIR/cinder-reconciler-manage" \
        $(_cinder_reconciler_config_args) db sync
}

function start_cinder_reconciler {
    run_process cinder-reconciler \
        "$CINDER_RECONCILER_BIN_DIR/cinder-reconciler $(_cinder_reconciler_config_args)"
}

function stop_cinder_reconciler {
    stop_process cinder-reconciler
}

function start_cinder_reconciler_agent {
    run_process cinder-reconciler-agent \
        "$CINDER_RECONCILER_BIN_DIR/cinder-reconciler-agent --config-file $CINDER_RECONCILER_AGENT_CONF"
}

function stop_cinder_reconciler_agent {
    stop_process cinder-reconciler-agent
}

# The API's service type in Keystone's catalog (what the openstack orphan
# commands look up).
CINDER_RECONCILER_API_SERVICE_TYPE=block-storage-reconciliation

# The API's accounts: keystonemiddleware's service user, the catalog's
# service and endpoints.
function create_cinder_reconciler_api_accounts {
    create_service_user cinder-reconciler-api
    get_or_create_service cinder-reconciler-api \
        "$CINDER_RECONCILER_API_SERVICE_TYPE" \
        "Orphan block-storage findings (cinder-reconciler)"
    get_or_create_endpoint "$CINDER_RECONCILER_API_SERVICE_TYPE" \
        "$REGION_NAME" \
        "$SERVICE_PROTOCOL://$SERVICE_HOST:$CINDER_RECONCILER_API_PORT"
}

# Its own file: the history's database and Keystone, nothing of Cinder's
# or the arrays'. Then uWSGI's, with the options devstack gives its own
# services' (write_uwsgi_config), serving HTTP on the API's port.
function configure_cinder_reconciler_api {
    local conf=$CINDER_RECONCILER_API_CONF ini=$CINDER_RECONCILER_API_UWSGI_CONF
    local opt
    install -m 600 /dev/null "$conf"
    iniset "$conf" DEFAULT debug "$ENABLE_DEBUG_LOG_LEVEL"
    iniset "$conf" api api_paste_config \
        "$CINDER_RECONCILER_DIR/etc/cinder-reconciler/api-paste.ini"
    iniset "$conf" reconciler_database connection \
        "$(database_connection_url cinder_reconciler)"
    configure_keystone_authtoken_middleware "$conf" cinder-reconciler-api
    rm -f "$ini"
    iniset "$ini" uwsgi module reconciler.wsgi.api:application
    iniset "$ini" uwsgi http-socket \
        "$SERVICE_LISTEN_ADDRESS:$CINDER_RECONCILER_API_PORT"
    iniset "$ini" uwsgi env "OS_CINDER_RECONCILER_API_CONFIG_FILES=$conf"
    iniset "$ini" uwsgi processes "$API_WORKERS"
    for opt in master die-on-term exit-on-reload enable-threads lazy-apps \
            need-app; do
        iniset "$ini" uwsgi "$opt" true
    done
    iniset "$ini" uwsgi buffer-size 65535
    iniset "$ini" uwsgi add-header "Connection: close"
    if [[ ${USE_VENV} = True && -n "${PROJECT_VENV["cinder-reconciler"]:-}" ]]; then
        iniset "$ini" uwsgi virtualenv "${PROJECT_VENV["cinder-reconciler"]}"
    fi
}

function start_cinder_reconciler_api {
    run_process cinder-reconciler-api \
        "$(command -v uwsgi) --procname-prefix cinder-reconciler-api --ini $CINDER_RECONCILER_API_UWSGI_CONF"
}

function cleanup_cinder_reconciler {
    sudo rm -rf "$CINDER_RECONCILER_CONF_DIR"
    sudo rm -f "$CINDER_CONF_DIR/rootwrap.d/cinder-reconciler.filters"
}

# The controller runs beside cinder-volume; a compute node runs the agent.
if is_service_enabled cinder-reconciler && is_service_enabled c-vol; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing cinder-reconciler"
        install_cinder_reconciler
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring cinder-reconciler"
        create_cinder_reconciler_accounts
        configure_cinder_reconciler
        configure_cinder_reconciler_rootwrap
        if is_service_enabled cinder-reconciler-api; then
            create_cinder_reconciler_api_accounts
            configure_cinder_reconciler_api
        fi
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting cinder-reconciler"
        init_cinder_reconciler
        start_cinder_reconciler
        if is_service_enabled cinder-reconciler-api; then
            start_cinder_reconciler_api
        fi
    fi
    if [[ "$1" == "unstack" ]]; then
        stop_cinder_reconciler
        if is_service_enabled cinder-reconciler-api; then
            stop_process cinder-reconciler-api
        fi
    fi
    if [[ "$1" == "clean" ]]; then
        cleanup_cinder_reconciler
    fi
fi

if is_service_enabled cinder-reconciler-agent; then
    if [[ "$1" == "stack" && "$2" == "install" ]] && ! { \
            is_service_enabled cinder-reconciler && is_service_enabled c-vol; }; then
        echo_summary "Installing cinder-reconciler (agent)"
        install_cinder_reconciler
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring cinder-reconciler-agent"
        configure_cinder_reconciler_agent
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting cinder-reconciler-agent"
        start_cinder_reconciler_agent
    fi
    if [[ "$1" == "unstack" ]]; then
        stop_cinder_reconciler_agent
    fi
    if [[ "$1" == "clean" ]]; then
        sudo rm -rf "$CINDER_RECONCILER_CONF_DIR"
    fi
fi

# Restore xtrace
$_XTRACE_CINDER_RECONCILER
