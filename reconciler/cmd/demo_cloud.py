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

"""The demo's cloud scope: Cinder against Nova and Keystone, and an
undeletable volume's runbook.

The demo's Keystone owns the scenario's projects (their volumes are given
to its project ids), and project-c is deleted: its volumes are
``orphan_project``. Its Nova (simulators/nova.py, in Keystone's catalog)
has a server for each of Cinder's attachments, but for one whose server
was deleted while Cinder kept the attachment (``stale_attachment``); it
also maps a volume Cinder has no attachment of (``dangling_bdm``) and
keeps a shelved-offloaded server's ``reserved`` attachment (consistent).
Two volumes are planted on fake1 beside the scenario's: one whose create
never finished (two days old, ``stuck_status``) and one whose delete the
array refused (``stuck_deleting``): it is still exported to compute-9, and
compute-9 still holds its LUN. The runbook then clears both (compute-9's
agent disconnects the LUN through os-brick, the driver removes the
export) and deletes it through Cinder's API; the stale attachment is
deleted through Cinder's attachments API.
"""

import datetime
import json
import time

from reconciler.cloud import manager as cloud_manager
from reconciler.cloud import scope
from reconciler.cmd import output
from reconciler.cmd import report
from reconciler.conf import backend as backend_conf
from reconciler import coordination
from reconciler.fleet import remediation as fleet_remediation
from reconciler.history import views
from reconciler import manager
from reconciler.remediation import cloud_remediator
from reconciler.simulators import keystone as keystone_sim
from reconciler.simulators import nova as nova_sim
from reconciler.simulators import scenario as scenario_mod

uid = scenario_mod.uid
PROJECTS = ('project-a', 'project-b', 'project-c')
GONE = 'project-c'
PLANTED = (
    ('stuck-creating', 'cloud, planted: creating for two days'),
    ('stuck-delete', 'cloud, planted: error_deleting, exported to '
                     'compute-9, its LUN there'),
    ('being-created', 'cloud: creating for seconds, never stuck'),
    ('nova-forgot', 'cloud, planted: attached to a server Nova deleted'),
    ('bdm-dangling', "cloud, planted: mapped by Nova, no Cinder "
                     "attachment"),
    ('shelved-data', 'cloud: reserved for a shelved-offloaded server, '
                     'consistent'),
)
#: compute-7: a Nova compute host without an agent in the demo.
NOVA_ONLY_HOST = 'compute-7'

CONF = """
[keystone]
auth_type = password
auth_url = {auth_url}
username = admin
password = {password}
project_name = admin
user_domain_id = default
project_domain_id = default

[nova]
auth_section = keystone

[cloud]
enabled = true
sightings = 2
grace_period = 0
remediation_min_age = 0
"""


def conf_text(keystone):
    """Our file's cloud groups: Keystone's admin reads Keystone and Nova."""
    return CONF.format(auth_url=keystone.url + '/v3',
                       password=keystone_sim.ADMIN_PASSWORD)


def start_nova(keystone, stack):
    """The demo's Nova, answering once Keystone is up (see populate)."""
    nova = nova_sim.Nova(keystone.url + '/v3').start()
    stack.callback(nova.stop)
    return nova


def populate(cloud, keystone, nova):
    """Once Keystone is up: the scenario's projects made in it (project-c
    then deleted), their volumes and snapshots given to its project ids;
    Nova in its catalog, with its servers (see servers).
    """
    keystone.wait_ready()
    for label in PROJECTS:
        project = keystone.create_project(label)
        cloud.rename_project(label, project)
        if label == GONE:
            keystone.admin.delete(keystone.auth_url + '/projects/%s'
                                  % project)
    keystone.register('compute', 'nova', nova.url)
    servers(cloud, nova)


def servers(cloud, nova):
    """Nova's servers as Nova made them: one for each of Cinder's live
    attachments, mapping its volume (a shelved-offloaded one for the
    ``reserved`` attachment); then what Nova and Cinder disagree on: the
    server of nova-forgot deleted, and a server on compute-7 mapping
    bdm-dangling, whose Cinder attachment is gone.
    """
    session = cloud.session()

    def get(path):
        return session.get(cloud.endpoint + path, headers={
            'OpenStack-API-Version': 'volume 3.27'}).json()
    volumes = {v['id']: v for v in get(
        '/volumes/detail?all_tenants=1&limit=1000')['volumes']}
    hosts = {a['attachment_id']: a['host_name'] for v in volumes.values()
             for a in v['attachments']}
    made = {}
    for a in get('/attachments?all_tenants=1&limit=1000')['attachments']:
        project = volumes[a['volume_id']]['os-vol-tenant-attr:tenant_id']
        server = made.setdefault(a['instance'], dict(
            host=hosts.get(a['id']) or NOVA_ONLY_HOST, project=project,
            volumes={}, shelved=a['status'] == 'reserved'))
        server['volumes'][a['volume_id']] = a['id']
    for server_id, s in made.items():
        nova.add_server(server_id, s['host'], s['project'], s['volumes'],
                        vm_state='shelved_offloaded' if s['shelved']
                        else 'active')
        if uid('nova-forgot') in s['volumes']:
            nova.delete_server(server_id)
    dangling = uid('bdm-dangling')
    nova.add_server(uid('vm-bdm'), NOVA_ONLY_HOST, volumes[dangling][
        'os-vol-tenant-attr:tenant_id'], {dangling: uid('gone-attachment')},
        name='vm-bdm')


def plant(cloud, node, array_path, portal, iqn, compute):
    """The planted volumes (each on fake1's array), their attachments in
    Cinder, the export and the LUN of the undeletable one.
    """
    creating, stuck = uid('stuck-creating'), uid('stuck-delete')
    forgot, dangling, shelved = (uid('nova-forgot'), uid('bdm-dangling'),
                                 uid('shelved-data'))
    cloud.add_volumes([
        scenario_mod.Volume(creating, 'fake1', status='creating'),
        scenario_mod.Volume(stuck, 'fake1', status='error_deleting',
                            project='project-b')] + [
        scenario_mod.Volume(v, 'fake1', project='project-a')
        for v in (forgot, dangling, shelved)])
    two_days = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
        days=2)
    cloud.update_volume(creating, updated_at=two_days.strftime(
        '%Y-%m-%d %H:%M:%S.%f'))
    cloud.add_attachment(forgot, NOVA_ONLY_HOST)
    cloud.add_attachment(shelved, NOVA_ONLY_HOST, attach_status='reserved')
    with open(array_path) as f:
        array = json.load(f)
    array['volumes'] += [{'name': 'volume-%s' % v, 'pool': 'pool1',
                          'size': 1}
                         for v in (stuck, forgot, dangling, shelved)]
    array['exports'].append({'volume': 'volume-%s' % stuck, 'host': compute,
                             'initiators': [scenario_mod.initiator(compute)]})
    # As Cinder's volume service keeps it: a delete of an exported volume
    # is refused ("volume is busy").
    array['track_volumes'] = True
    with open(array_path, 'w') as f:
        json.dump(array, f)
    node.add_disk('sdd', '5:0:0:1', '36001405aaaaaaaaaaaaaaaaaaaaaaaa3',
                  iscsi=(portal, iqn % stuck, 1))


def run_pass(conf, store, notifier):
    result = cloud_manager.CloudReconciler(conf, store, notifier).run_pass()
    notifier.flush(store)
    print(report.cloud_pass_text(result))
    return result


def remediate(conf, store, notifier, cloud, fleet, section):
    """The cloud scope's plan, then the runbook of the undeletable volume
    applied (compute-9's LUN disconnected by its agent, ``fleet``'s), and
    the passes that resolve what it cleared.
    """
    coordinator = coordination.Coordinator(conf, member=False)
    try:
        def agent(conf, store, notifier, actor, host):
            return fleet_remediation.AgentRemediator(
                conf, store, notifier, actor, host, fleet.transport,
                fleet.coordinator, fleet=fleet.controller.fleet)

        def remediation(**kwargs):
            return cloud_remediator.CloudRemediator(
                conf, store, notifier, 'demo', coordinator,
                host_remediator=agent).run(**kwargs)

        section('Remediation plan for the cloud scope (cinder-reconciler-'
                'manage remediate --cloud: a dry run, nothing changes)')
        print(report.outcome_text(remediation()))
        [stuck] = store.findings(backend=scope.NAME, state='confirmed',
                                 kind='stuck_deleting')
        [stale] = store.findings(backend=scope.NAME, state='confirmed',
                                 kind='stale_attachment')
        section('Applied: the stale attachment deleted, and the runbook of '
                'the undeletable volume (remediate --cloud --finding %d '
                "--finding %d --apply): compute-9's agent disconnects its "
                "LUN, the driver removes the export, Cinder's API resets and "
                'deletes it' % (stale.id, stuck.id))
        print(report.outcome_text(remediation(
            apply=True, finding_ids={stale.id, stuck.id})))
    finally:
        coordinator.stop()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and cloud.session().get(
            '%s/volumes/%s' % (cloud.endpoint, stuck.resource_id),
            raise_exc=False).status_code != 404:
        time.sleep(0.5)    # Cinder's volume service deletes it
    section('The next passes over fake1, compute-9 and the cloud resolve '
            'what remediation cleared')
    fake1 = [b for b in backend_conf.enabled(conf) if b.name == 'fake1'][0]
    result = manager.BackendReconciler(conf, fake1, store,
                                       notifier).run_pass()
    notifier.flush(store)
    print(report.pass_text(result))
    result = fleet.host_pass()
    notifier.flush(store)
    print(report.host_pass_text(result))
    run_pass(conf, store, notifier)
    section('The audit (cinder-reconciler-manage actions list --backend '
            'cloud, and the steps the runbook took on the other sides)')
    output.emit_list(output.TABLE, [
        views.action_dict(a) for a in store.actions() if a.applied
        and a.action in ('detach', 'disconnect', 'unexport', 'runbook')],
        views.ACTION_FIELDS)
