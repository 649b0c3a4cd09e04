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

"""A whole synthetic cloud on 127.0.0.1, for the benchmark and churn tools.

A real cinder-api (:class:`~reconciler.simulators.cinder.CinderCloud`) and
one array per backend (the fake driver's file, the 3PAR WSAPI simulator, the
NEC iSMCLI simulator over SSH, or a real single-node Ceph cluster for RBD
where Ceph is installed), each HTTP service behind a
:class:`FaultProxy` that counts its traffic and injects faults, and the
reconciler configuration file that points the daemon's own code at all of
it. SSH has no proxy: the NEC simulator counts its own traffic and injects
its own faults; Ceph has no meter (the RBD driver counts its own requests).
"""

import contextlib
import json
import os

from reconciler.simulators import ceph
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import fake_array
from reconciler.simulators import faultproxy
from reconciler.simulators import hpe3par
from reconciler.simulators import lefthand
from reconciler.simulators import nec
from reconciler.simulators import scenario as scn

HOST = 'bench-host'
DRIVERS = ('fake', 'hpe3par', 'nec', 'rbd')
# Arrays an arrays-only cloud can also start (tools/bench.py --arrays).
ARRAY_DRIVERS = DRIVERS + ('hpelefthand',)
_3PAR_DRIVER = 'cinder.volume.drivers.hpe.hpe_3par_iscsi.HPE3PARISCSIDriver'
_LEFTHAND_DRIVER = ('cinder.volume.drivers.hpe.hpe_lefthand_iscsi.'
                    'HPELeftHandISCSIDriver')
_FAKE_DRIVER = 'cinder.tests.fake_driver.FakeLoggingVolumeDriver'
_NEC_DRIVER = 'cinder.volume.drivers.nec.volume.MStorageISCSIDriver'
_RBD_DRIVER = 'cinder.volume.drivers.rbd.RBDDriver'
# Volumes go to the first pool. NEC pools are numbers: volumes in every pool
# but the last (nec_pools), snapshots in the last (nec_backup_pools).
_POOLS = {'fake': ['pool1'], 'hpe3par': ['OpenStack'], 'nec': ['0', '1'],
          'rbd': ['volumes'], 'hpelefthand': ['cluster1']}


def unavailable(driver):
    """Why ``driver``'s array cannot run here (one line), or None."""
    return ceph.missing() if driver == 'rbd' else None


def synthetic(volumes, drivers, snapshot_every=10, attach_every=10):
    """``volumes`` volumes spread over one backend per entry of ``drivers``.

    Every ``snapshot_every``-th volume of each backend has a snapshot and
    every ``attach_every``-th is attached (an export on the array), so
    every backend has the same share of both.
    """
    s = scn.Scenario(backends=[
        scn.Backend('be%d' % i, host=HOST, driver=d, pools=list(_POOLS[d]))
        for i, d in enumerate(drivers)])
    for i in range(volumes):
        backend = s.backends[i % len(drivers)].name
        nth = i // len(drivers)         # this volume's rank on its backend
        attached = nth % attach_every == 1
        s.volumes.append(scn.Volume(
            id=scn.uid('v%d' % i), backend=backend,
            status='in-use' if attached else 'available',
            project='project-%d' % (i % 50),
            attached_to=['compute-%d' % (i % 40)] if attached else []))
        if nth % snapshot_every == 0:
            s.snapshots.append(scn.Snapshot(id=scn.uid('s%d' % i),
                                            volume=scn.uid('v%d' % i)))
    return s


def load_conf(path):
    """The reconciler's options from the file :meth:`write_conf` wrote."""
    from oslo_config import cfg

    from reconciler import conf as reconciler_conf
    conf = cfg.ConfigOpts()
    reconciler_conf.register(conf)
    conf(['--config-file', path], project='cinder-reconciler',
         default_config_files=[], default_config_dirs=[])
    return conf


class Array:
    """One backend's array: its config options and its way to change.

    ``proxy`` is the FaultProxy of an HTTP array, else None; ``meter``
    counts the array's traffic (``stats()``, ``reset_stats()``), if any.
    """

    def __init__(self, cloud, backend):
        self.backend = backend
        self.driver = backend.driver
        self.proxy = None
        if self.driver == 'fake':
            self.path = os.path.join(cloud.workdir, '%s.json' % backend.name)
            self.content = fake_array.render(cloud.scenario, backend.name)
            self.save()
        elif self.driver == 'hpe3par':
            self.sim = hpe3par.HPE3PARSimulator(cloud.scenario, backend.name)
        elif self.driver == 'hpelefthand':
            self.sim = lefthand.LeftHandSimulator.from_scenario(
                cloud.scenario, backend.name)
        elif self.driver == 'rbd':
            self.scenario = cloud.scenario
            self.cluster = ceph.Cluster(
                os.path.join(cloud.workdir, backend.name),
                pools=tuple(backend.pools))
            os.makedirs(self.cluster.base, exist_ok=True)
            self.op_timeout = None    # rados_connect_timeout, if set
        else:
            # Its own directory: the simulator writes a known_hosts file.
            workdir = os.path.join(cloud.workdir, backend.name)
            os.makedirs(workdir, exist_ok=True)
            self.sim = nec.Simulator(
                nec.Array.from_scenario(cloud.scenario, backend.name),
                workdir)

    @property
    def meter(self):
        return self.sim if self.driver == 'nec' else self.proxy

    def start(self, stack):
        if self.driver == 'rbd':
            stack.enter_context(self.cluster)
            self.cinder_rbd = ceph.CinderRBD(self.cluster,
                                             self.backend.pools[0])
            self.images = ceph.seed(self.cinder_rbd, self.scenario,
                                    self.backend.name)
        elif self.driver in ('hpe3par', 'hpelefthand'):
            self.sim.start()
            stack.callback(self.sim.stop)
            self.proxy = stack.enter_context(
                faultproxy.FaultProxy(self.sim.url))
        elif self.driver == 'nec':
            self.sim.start()
            stack.callback(self.sim.stop)

    def save(self):
        """Write the fake array's file atomically (readers never see half)."""
        tmp = self.path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(self.content, f)
        os.replace(tmp, self.path)

    def options(self):
        if self.driver == 'fake':
            return {'volume_driver': _FAKE_DRIVER,
                    'fake_array_file': self.path}
        if self.driver == 'rbd':
            # Cinder purges the trash it leaves: its entries are expected.
            options = {'volume_driver': _RBD_DRIVER,
                       'rbd_pool': self.backend.pools[0],
                       'rbd_ceph_conf': self.cluster.conf,
                       'enable_deferred_deletion': 'true',
                       'reconciler_command_timeout': '600'}
            if self.op_timeout:
                options['rados_connect_timeout'] = self.op_timeout
            return options
        if self.driver == 'nec':
            [(user, password)] = self.sim.users.items()
            pools = self.backend.pools
            # Each simulator is an array of its own: no shared command lock.
            return {'volume_driver': _NEC_DRIVER,
                    'nec_ismcli_fip': '127.0.0.1',
                    'nec_ssh_pool_port_number': self.sim.port,
                    'nec_ismcli_user': user, 'nec_ismcli_password': password,
                    'nec_ssh_known_hosts_file': self.sim.known_hosts,
                    'nec_diskarray_name': self.backend.name,
                    'nec_pools': ','.join(pools[:-1]),
                    'nec_backup_pools': pools[-1]}
        if self.driver == 'hpelefthand':
            return {'volume_driver': _LEFTHAND_DRIVER,
                    'hpelefthand_api_url': self.proxy.url,
                    'hpelefthand_username': self.sim.username,
                    'hpelefthand_password': self.sim.password,
                    'hpelefthand_clustername': self.backend.pools[0]}
        return {'volume_driver': _3PAR_DRIVER,
                'hpe3par_api_url': self.proxy.url,
                'hpe3par_username': self.sim.username,
                'hpe3par_password': self.sim.password,
                'hpe3par_cpg': self.backend.pools[0],
                'hpe3par_api_timeout': '120'}


class LoopbackCloud:
    """cinder-api, its proxy and the arrays of ``scenario``, started.

    ``cinder=False``: the arrays alone, for measuring the array side.
    """

    def __init__(self, workdir, scenario, page_size=1000, cinder=True):
        self.workdir = os.path.abspath(workdir)
        self.scenario = scenario
        os.makedirs(self.workdir, exist_ok=True)
        self.cinder = cinder_sim.CinderCloud(
            os.path.join(self.workdir, 'cinder'), scenario,
            page_size=page_size) if cinder else None
        self.arrays = {b.name: Array(self, b) for b in scenario.backends}
        self.proxy = None
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        stack = self._stack.__enter__()
        try:
            if self.cinder is not None:
                stack.enter_context(self.cinder)
                self.proxy = stack.enter_context(
                    faultproxy.FaultProxy(self.cinder.endpoint))
            for array in self.arrays.values():
                array.start(stack)
        except BaseException:
            stack.close()
            raise
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)

    def meters(self):
        """name -> what counts its traffic: ``cinder`` and every array.

        Each has ``stats()`` (requests or SSH commands, response bytes) and
        ``reset_stats()``; the fake driver's file has none.
        """
        found = {'cinder': self.proxy} if self.proxy else {}
        found.update((n, a.meter) for n, a in self.arrays.items() if a.meter)
        return found

    def write_conf(self, path, database, sightings=2, grace=0,
                   backends=None, **backend_options):
        """The reconciler's configuration file for this cloud.

        ``backend_options`` go to every backend group.
        """
        names = backends or list(self.arrays)
        lines = ['[DEFAULT]', 'host = %s' % HOST,
                 'enabled_backends = %s' % ','.join(names), '']
        if self.cinder is not None:
            lines += ['[cinder]', 'auth_type = admin_token',
                      'endpoint = %s' % self.proxy.url,
                      'token = %s' % cinder_sim.ADMIN_TOKEN,
                      'page_size = %d' % self.cinder.page_size, '']
        lines += ['[reconciler_database]',
                  'connection = sqlite:///%s' % database, '',
                  '[oslo_messaging_notifications]', 'driver = messagingv2',
                  'transport_url = fake:/', '']
        for name in names:
            options = dict(self.arrays[name].options(),
                           reconciler_sightings=sightings,
                           reconciler_grace_period=grace, **backend_options)
            lines += ['[%s]' % name] + ['%s = %s' % kv
                                        for kv in options.items()] + ['']
        with open(path, 'w') as f:
            f.write('\n'.join(lines))
        return path
