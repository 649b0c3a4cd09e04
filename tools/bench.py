#!/usr/bin/env python3
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

"""Scale benchmark: one pass of the daemon's code over a synthetic cloud.

For each size it starts a loopback cloud (a real cinder-api seeded with N
volumes, one array per backend, a counting FaultProxy in front of every HTTP
service; the NEC simulator counts its SSH commands itself) and measures, each
in a fresh child process (so peak RSS is the measured step's own):

* ``floor``: the same listings downloaded with the same clients, no processing;
* ``first`` and ``steady``: ``manager.BackendReconciler.run_pass`` on every
  backend in parallel (as the daemon runs them), on an empty history and
  then again with nothing changed;
* ``naive``: what hand-written orphan scripts do, per backend one unscoped
  ``volumes.list(search_opts={'all_tenants': 1})`` diffed with the array;
* ``rbd``: for RBD backends (a real single-node Ceph cluster, seeded as
  Cinder's RBD driver leaves a pool), the driver's listing through the
  ``rbd`` binding and through the ``rbd`` command line.

RBD joins only where Ceph is installed (tools/install-debs.sh); elsewhere
it is skipped with a one-line reason.

``--arrays`` measures the array side alone instead (tools/bench_arrays.py):
per driver and size, full listings, RBD's steady listings and the listing
as it was before, and the requests of a re-check round's look-ups.

Usage::

    python tools/bench.py                       # 1k, 10k, 100k volumes
    python tools/bench.py --sizes 5000 --drivers fake,hpe3par,nec
    python tools/bench.py --sizes 30000 --drivers hpe3par,nec,rbd
    python tools/bench.py --quick               # CI smoke run, seconds
    python tools/bench.py --json out.json --plot doc/bench.png
    python tools/bench.py --arrays --drivers rbd --sizes 1000,10000
    python tools/bench.py --fleet               # host agents: N = 10, 50, 200
    python tools/bench.py --fleet --quick       # CI smoke run

``--plot`` needs matplotlib (``pip install -r tools/bench-requirements.txt``).
"""

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import reconciler.cmd  # noqa: E402,F401 oslo.service's threading backend

import bench_arrays  # noqa: E402
import bench_report  # noqa: E402
from reconciler.simulators import cinder as cinder_sim  # noqa: E402
from reconciler.simulators import loopback  # noqa: E402

import bench_fleet  # noqa: E402,H306 tools/, beside this file


# -- children: each prints one JSON line --------------------------------------

def _parallel(work, items):
    """work(item) for every item in its own thread; re-raises an error."""
    results, errors = {}, []

    def run(item):
        try:
            results[item.name] = work(item)
        except Exception as e:       # reported by the parent
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def child_pass(conf):
    from sqlalchemy import event

    from reconciler.conf import backend as backend_conf
    from reconciler import history
    from reconciler import manager
    from reconciler import notifier as notifier_mod

    store = history.History.from_conf(conf)
    store.sync()
    writes = collections.Counter()

    def count(conn, cursor, statement, params, context, executemany):
        verb = statement.split(None, 1)[0].upper()
        if verb in ('INSERT', 'UPDATE', 'DELETE'):
            writes[verb] += len(params) if executemany else 1
    event.listen(store._facade.writer.get_engine(), 'before_cursor_execute',
                 count)
    notifier = notifier_mod.Notifier(conf)
    backends = backend_conf.enabled(conf)
    base = bench_report.mark_rss()
    start = time.monotonic()
    reports = _parallel(lambda b: manager.BackendReconciler(
        conf, b, store, notifier).run_pass(), backends)
    seconds = time.monotonic() - start
    notifier.close()
    return {'seconds': seconds, 'base_rss_mb': base,
            'peak_rss_mb': bench_report.memory_mb('VmHWM'),
            'rows_written': sum(writes.values()), 'writes': dict(writes),
            'status': {n: str(r.status) for n, r in reports.items()},
            'errors': {n: r.error for n, r in reports.items() if r.error},
            'stages': {n: {k: v for k, v in r.inventory.items()
                           if k.endswith('seconds')}
                       for n, r in reports.items()},
            'findings': sum(len(r.candidates) for r in reports.values()),
            'transitions': sum(len(r.transitions)
                               for r in reports.values())}


def _download_array(driver):
    """The array's listings through the driver's own client, unprocessed."""
    if hasattr(driver, '_read'):                 # the fake driver's file
        data = driver._read()
        return sum(len(v) for v in data.values())
    if hasattr(driver, 'client'):                # RBD: pool and trash
        images, snaps, _kept = driver.client.listing()
        return (len(images) + sum(len(s) for s in snaps.values())
                + len(driver.client.trash()))
    if hasattr(driver, 'cli'):                   # NEC: one iSMCLI command
        out = driver.cli.run(driver.command)
        return out.count(b'<OBJECT name="Logical Disk">')
    cl = driver._client
    return sum(len(method().get('members', ())) for method in (
        cl.getCPGs, cl.getVolumes, cl.getVLUNs, cl.getHosts))


def child_floor(conf):
    from reconciler.conf import backend as backend_conf
    from reconciler.inventory import cinder as cinder_inventory

    def download(backend):
        inventory = cinder_inventory.CinderInventory(conf)
        with backend.create_driver() as driver:
            items = _download_array(driver)
        for path, key in (('/volumes/detail', 'volumes'),
                          ('/snapshots/detail', 'snapshots')):
            for _item in inventory._chain(path, key,
                                          {'host': backend.cinder_host}):
                items += 1
        return items
    base = bench_report.mark_rss()
    start = time.monotonic()
    items = _parallel(download, backend_conf.enabled(conf))
    return {'seconds': time.monotonic() - start, 'base_rss_mb': base,
            'peak_rss_mb': bench_report.memory_mb('VmHWM'),
            'items': sum(items.values())}


def child_naive(conf):
    """One unscoped all_tenants volume list per backend, as scripts do."""
    from reconciler.conf import backend as backend_conf
    from reconciler.inventory import cinder as cinder_inventory
    from reconciler import model

    base = bench_report.mark_rss()
    start = time.monotonic()
    found = 0
    for backend in backend_conf.enabled(conf):
        client = cinder_inventory.managers(
            cinder_inventory.CinderInventory(conf).client)
        volumes = client.volumes.list(search_opts={'all_tenants': 1})
        prefix = backend.cinder_host + '#'
        cinder = {getattr(v, 'os-vol-mig-status-attr:name_id', None) or v.id
                  for v in volumes
                  if (getattr(v, 'os-vol-host-attr:host', None) or ''
                      ).startswith(prefix)}
        with backend.create_driver() as driver:
            # Cinder-named volumes, as a script matching names sees them
            # (not RBD's trash or the .deleted parents of clones).
            array = {o.uuid for o in driver.list_objects().objects
                     if o.kind == model.ResourceType.VOLUME and o.uuid
                     and o.object_class == model.ObjectClass.CINDER}
        found += len(cinder ^ array)
    return {'seconds': time.monotonic() - start, 'base_rss_mb': base,
            'peak_rss_mb': bench_report.memory_mb('VmHWM'),
            'differences': found}


# -- RBD: listing through the binding and the command line ----------------

def _rbd_backends(conf):
    from reconciler.conf import backend as backend_conf
    from reconciler.drivers import rbd

    return [b for b in backend_conf.enabled(conf)
            if issubclass(b.driver_cls, rbd.RBDDriver)]


def _rbd_bindings(conf):
    """Debian's rados/rbd on the path, where the child lists RBD."""
    if _rbd_backends(conf):
        from reconciler.simulators import ceph
        ceph.import_bindings()


def child_rbd_listing(conf, cli):
    """Every RBD backend's ``list_objects``, through one path."""
    backends = _rbd_backends(conf)
    for b in backends:
        conf.set_override('reconciler_rbd_command', 'rbd' if cli else None,
                          group=b.name)

    def listing(backend):
        with backend.create_driver() as driver:
            client = type(driver.client).__name__
            view = driver.list_objects()
        return {'client': client, 'requests': view.requests,
                'objects': len(view.objects)}
    base = bench_report.mark_rss()
    start = time.monotonic()
    found = _parallel(listing, backends)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {'seconds': time.monotonic() - start, 'base_rss_mb': base,
            'peak_rss_mb': bench_report.memory_mb('VmHWM'), 'backends': found,
            'requests': sum(f['requests'] for f in found.values()),
            'objects': sum(f['objects'] for f in found.values()),
            'rbd_cpu_seconds': children.ru_utime + children.ru_stime,
            'rbd_peak_rss_mb': children.ru_maxrss / 1024.0 if cli else 0}


def measure_rbd(conf, cloud, repeat):
    """Binding and CLI listings, alternating; the fastest of each kept."""
    runs = {'binding': [], 'cli': []}
    for path in ('binding', 'cli') * repeat:
        runs[path].append(run_child('rbd-' + path, conf, cloud))
    out = {'images': sum(a.images for a in cloud.arrays.values()
                         if a.driver == 'rbd')}
    for path, results in runs.items():
        out[path] = dict(min(results, key=lambda m: m['seconds']),
                         samples=[m['seconds'] for m in results],
                         peak_rss_mb=max(m['peak_rss_mb'] for m in results))
    return out


def rbd_summary(r):
    m = r['rbd']
    lines = ['  rbd: %d images made, %d objects listed'
             % (m['images'], m['binding']['objects'])]
    for path in ('binding', 'cli'):
        p = m[path]
        lines.append('  rbd %-7s %6.2f s  peak RSS %6.1f MB  %d %s%s%s' % (
            path, p['seconds'], p['peak_rss_mb'], p['requests'],
            'commands' if path == 'cli' else 'requests',
            '  rbd processes: %.1f s CPU, peak RSS %.1f MB' % (
                p['rbd_cpu_seconds'], p['rbd_peak_rss_mb'])
            if path == 'cli' else '',
            '  (runs: %s s)' % ', '.join('%.2f' % x for x in p['samples'])
            if len(p['samples']) > 1 else ''))
    return lines


def rbd_markdown(results):
    rows = ['| volumes | RBD images made | objects listed | binding s | '
            'binding requests | binding peak RSS MB | CLI s | CLI commands '
            '| CLI peak RSS MB (reconciler / rbd) | rbd CPU s |',
            '|' + '---|' * 10]
    for r in results:
        if 'rbd' not in r:
            continue
        m = r['rbd']
        b, c = m['binding'], m['cli']
        rows.append('| %d | %d | %d | %.2f | %d | %.0f | %.2f | %d | '
                    '%.0f / %.0f | %.1f |' % (
                        r['volumes'], m['images'], b['objects'],
                        b['seconds'], b['requests'], b['peak_rss_mb'],
                        c['seconds'], c['requests'], c['peak_rss_mb'],
                        c['rbd_peak_rss_mb'], c['rbd_cpu_seconds']))
    return '\n'.join(rows) if len(rows) > 2 else ''


def check_rbd(r):
    m = r['rbd']
    assert m['binding']['objects'] == m['cli']['objects'] > 0, m
    assert {f['client'] for p in ('binding', 'cli')
            for f in m[p]['backends'].values()} == {
        'BindingClient', 'CLIClient'}, m


CHILDREN = {'pass': child_pass, 'floor': child_floor, 'naive': child_naive,
            'rbd-binding': lambda conf: child_rbd_listing(conf, False),
            'rbd-cli': lambda conf: child_rbd_listing(conf, True)}


# -- incremental steady passes: Cinder bytes and requests -----------------

def _churn_cinder(cloud, backend, volumes, parents, percent, deleted, rnd):
    """``percent`` of the backend's volumes change: status updates, and
    as many creations as deletions (one in five changes each); deletions
    go to ``deleted``, as the listener's delete events would.
    """
    from reconciler.simulators import scenario as scn
    n = int(len(volumes) * percent / 100)
    chosen = rnd.sample(sorted(volumes), n)
    for i, vid in enumerate(chosen):
        if i % 5 == 0 and vid not in parents:
            # Cinder deletes no volume with snapshots (but by cascade).
            cloud.cinder.soft_delete_volume(vid)
            volumes.discard(vid)
            deleted.add(vid)
        elif i % 5 == 1:
            new = scn.uid('bench-new-%s' % vid)
            cloud.cinder.add_volumes([scn.Volume(id=new, backend=backend)])
            volumes.add(new)
        else:
            cloud.cinder.update_volume(vid, status=rnd.choice(
                ('available', 'in-use', 'error', 'extending')))


def measure_changes(size, workdir, page_size, full_every=12):
    """Steady-pass Cinder traffic of one backend of ``size`` volumes.

    The Cinder stage of a pass (the only one incremental passes change),
    through the daemon's inventory and kept view, counted by the fault
    proxy in front of cinder-api (response bodies; requests): a full
    listing, then incremental passes with no change and with 1% churn
    (deletions reported as the listener reports them, and unreported,
    which the counts catch and list in full).
    """
    import random

    from reconciler.conf import backend as backend_conf
    from reconciler.inventory import cinder as cinder_inventory
    from reconciler.inventory import incremental

    scenario = loopback.synthetic(size, ['fake'])
    backend = scenario.backends[0].name
    out = {'volumes': size, 'snapshots': len(scenario.snapshots)}
    rnd = random.Random(1)
    with loopback.LoopbackCloud(os.path.join(workdir, 'changes-%d' % size),
                                scenario, page_size=page_size) as cloud:
        conf = loopback.load_conf(cloud.write_conf(
            os.path.join(cloud.workdir, 'r.conf'),
            os.path.join(cloud.workdir, 'r.sqlite')))
        [b] = backend_conf.enabled(conf)
        # A steady cloud: its rows were written long before (seeding wrote
        # them now); the margin is short, as passes here are seconds apart
        # (in a deployment, interval 600 s > margin 300 s).
        with cloud.cinder._db() as db:
            for table in ('volumes', 'snapshots'):
                db.execute("UPDATE %s SET created_at=strftime("
                           "'%%Y-%%m-%%d %%H:%%M:%%f', created_at, '-1 day'),"
                           " updated_at=strftime('%%Y-%%m-%%d %%H:%%M:%%f', "
                           "updated_at, '-1 day')" % table)
        conf.set_override('changes_margin', 2, group='cinder')
        # Bytes and requests are the figures here, not time: a loaded
        # machine must not time a page out.
        conf.set_override('timeout', 600, group='cinder')
        conf.set_override('listing_timeout', 3600, group='cinder')
        inventory = cinder_inventory.CinderInventory(conf)
        deleted, report = set(), {'events': True}

        def evidence(since):
            return False, (frozenset(deleted) if report['events']
                           else frozenset())
        cache = incremental.CinderCache(full_every, conf.cinder.changes_margin,
                                        evidence)
        volumes = {v.id for v in scenario.volumes}
        parents = {s.volume for s in scenario.snapshots}

        def one(name, events=True):
            report['events'] = events
            cloud.proxy.reset_stats()
            start = time.monotonic()
            view = inventory.view(b.cinder_host, cache=cache)
            stats = cloud.proxy.stats()
            out[name] = {'requests': stats.requests,
                         'bytes': stats.response_bytes,
                         'seconds': round(time.monotonic() - start, 3),
                         'full': cache.full, 'reason': cache.reason,
                         'volumes': len(view.volumes)}
        one('full')
        time.sleep(3)
        one('steady_0')
        time.sleep(3)
        _churn_cinder(cloud, backend, volumes, parents, 1, deleted, rnd)
        one('steady_1')
        time.sleep(3)
        _churn_cinder(cloud, backend, volumes, parents, 1, deleted, rnd)
        one('steady_1_unreported', events=False)
    return out


def changes_summary(r):
    full = r['full']['bytes']
    lines = ['%d volumes, %d snapshots on one backend: steady-pass Cinder '
             'traffic' % (r['volumes'], r['snapshots'])]
    for name, label in (('full', 'full listing'),
                        ('steady_0', 'incremental, no change'),
                        ('steady_1', 'incremental, 1% churn'),
                        ('steady_1_unreported', '1% churn, deletions '
                         'unreported')):
        m = r[name]
        lines.append('  %-34s %5d requests %10.3f MB (%5.2f%% of full) '
                     '%6.2f s%s' % (label, m['requests'], _mb(m['bytes']),
                                    100.0 * m['bytes'] / full, m['seconds'],
                                    ' [listed in full: %s]' % m['reason']
                                    if m['full'] and name != 'full' else ''))
    return lines


CHANGES_SERIES = (('full', 'full listing', 'o--'),
                  ('steady_0', 'incremental, no change', 's-'),
                  ('steady_1', 'incremental, 1% churn', '^-'),
                  ('steady_1_unreported', '1% churn, deletions unreported '
                   '(listed in full)', 'x:'))


def changes_plot(results, path):
    """Cinder bytes per steady pass against N, one line per series."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    sizes = [r['volumes'] for r in results]
    fig, ax = pyplot.subplots(figsize=(6.5, 4.5))
    for name, label, style in CHANGES_SERIES:
        ax.plot(sizes, [_mb(r[name]['bytes']) for r in results], style,
                label=label)
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlabel('volumes on the backend')
    ax.set_ylabel('Cinder response bytes per pass (MB)')
    ax.set_title('cinder-reconciler: steady-pass Cinder traffic')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize='small')
    fig.tight_layout()
    fig.savefig(path, dpi=100)


# -- the parent ------------------------------------------------------------

def run_child(mode, conf_path, cloud):
    for meter in cloud.meters().values():
        meter.reset_stats()
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), '--child', mode,
         conf_path], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError('%s child failed:\n%s'
                           % (mode, proc.stderr[-3000:]))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result['http'] = {name: meter.stats()._asdict()
                      for name, meter in cloud.meters().items()}
    return result


def measure(size, drivers, workdir, page_size, naive=True, repeat=2):
    scenario = loopback.synthetic(size, drivers)
    out = {'volumes': size, 'snapshots': len(scenario.snapshots),
           'backends': len(drivers), 'drivers': list(drivers)}
    start = time.monotonic()
    with loopback.LoopbackCloud(os.path.join(workdir, str(size)), scenario,
                                page_size=page_size) as cloud:
        out['setup_seconds'] = time.monotonic() - start
        conf = cloud.write_conf(os.path.join(cloud.workdir, 'r.conf'),
                                os.path.join(cloud.workdir, 'r.sqlite'))
        out['first'] = run_child('pass', conf, cloud)
        # Floor and steady pass alternate, on caches the first pass warmed.
        # The fastest run is kept, with every run's time and the highest
        # peak RSS.
        for name in ('floor', 'steady'):
            out[name] = []
        for name in ('floor', 'steady') * repeat:
            out[name].append(run_child(
                'pass' if name == 'steady' else 'floor', conf, cloud))
        for name in ('floor', 'steady'):
            runs = out[name]
            out[name] = dict(min(runs, key=lambda m: m['seconds']),
                             samples=[m['seconds'] for m in runs],
                             peak_rss_mb=max(m['peak_rss_mb'] for m in runs))
        if naive:
            out['naive'] = run_child('naive', conf, cloud)
        if 'rbd' in drivers:
            out['rbd'] = measure_rbd(conf, cloud, repeat)
    return out


def _mb(nbytes):
    return nbytes / 1e6


def summary(r):
    """One size's figures as printed lines."""
    floor, steady, first = r['floor'], r['steady'], r['first']
    lines = ['%d volumes, %d snapshots on %d backends (%s); cloud set up in '
             '%.1f s' % (r['volumes'], r['snapshots'], r['backends'],
                         ','.join(r['drivers']), r['setup_seconds'])]
    for name in ('floor', 'first', 'steady', 'naive'):
        m = r.get(name)
        if m is None:
            continue
        traffic = ', '.join('%s %d req %.1f MB' % (k, v['requests'],
                                                   _mb(v['response_bytes']))
                            for k, v in sorted(m['http'].items()))
        lines.append('  %-7s %7.2f s  peak RSS %6.1f MB  %s%s' % (
            name, m['seconds'], m['peak_rss_mb'], traffic,
            '  (runs: %s s)' % ', '.join('%.2f' % x for x in m['samples'])
            if len(m.get('samples', ())) > 1 else ''))
    lines.append('  pass/floor %.2f  naive/pass %s' % (
        steady['seconds'] / floor['seconds'],
        '%.2f' % (r['naive']['seconds'] / steady['seconds'])
        if 'naive' in r else '-'))
    lines.append('  history rows written: first pass %d %s, steady pass %d %s'
                 % (first['rows_written'], first['writes'],
                    steady['rows_written'], steady['writes']))
    lines.append('  status: %s; findings %d, transitions first %d steady %d'
                 % (sorted(set(steady['status'].values())),
                    steady['findings'], first['transitions'],
                    steady['transitions']))
    if 'rbd' in r:
        lines += rbd_summary(r)
    return lines


def markdown(results):
    """The figures as a Markdown table, for doc/benchmarks.md."""
    rows = ['| volumes | snapshots | floor s | pass s (first) | pass s '
            '(steady) | pass/floor | naive s | naive/pass | peak RSS MB '
            '(floor / pass / naive) | Cinder requests, MB (pass / naive) | '
            'array requests, MB (pass) | history rows (first / steady) |',
            '|' + '---|' * 12]
    for r in results:
        f, p, n = r['floor'], r['steady'], r.get('naive')
        arrays = [v for k, v in p['http'].items() if k != 'cinder']
        rows.append('| %d | %d | %.2f | %.2f | %.2f | %.2f | %s | %s | '
                    '%.0f / %.0f / %s | %d, %.1f / %s | %d, %.1f | %d / %d |'
                    % (r['volumes'], r['snapshots'], f['seconds'],
                       r['first']['seconds'], p['seconds'],
                       p['seconds'] / f['seconds'],
                       '%.2f' % n['seconds'] if n else '-',
                       '%.2f' % (n['seconds'] / p['seconds']) if n else '-',
                       f['peak_rss_mb'], p['peak_rss_mb'],
                       '%.0f' % n['peak_rss_mb'] if n else '-',
                       p['http']['cinder']['requests'],
                       _mb(p['http']['cinder']['response_bytes']),
                       '%d, %.1f' % (n['http']['cinder']['requests'], _mb(
                           n['http']['cinder']['response_bytes']))
                       if n else '-',
                       sum(a['requests'] for a in arrays),
                       _mb(sum(a['response_bytes'] for a in arrays)),
                       r['first']['rows_written'], p['rows_written']))
    return '\n'.join(rows)


def plot(results, path):
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    n = [r['volumes'] for r in results]
    fig, (t, m) = pyplot.subplots(1, 2, figsize=(11, 4.2))
    for name, style in (('floor', ':'), ('steady', '-'), ('first', '--'),
                        ('naive', '-.')):
        if all(name in r for r in results):
            t.plot(n, [r[name]['seconds'] for r in results], style,
                   marker='o', label=name)
            m.plot(n, [r[name]['peak_rss_mb'] for r in results], style,
                   marker='o', label=name)
    for ax, label in ((t, 'wall time (s)'), (m, 'peak RSS (MB)')):
        ax.set_xscale('log')
        ax.set_yscale('log')
        ax.set_xlabel('volumes in the cloud')
        ax.set_ylabel(label)
        ax.grid(True, which='both', alpha=0.3)
        ax.legend()
    fig.suptitle('cinder-reconciler: one pass over %d backends'
                 % results[0]['backends'])
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def check_sane(results):
    """--quick: the tool ran and its figures make sense (not speed)."""
    for r in results:
        for name in ('floor', 'first', 'steady', 'naive'):
            m = r[name]
            assert m['seconds'] > 0 and m['peak_rss_mb'] > 0, (name, m)
            assert m['http']['cinder']['requests'] > 0, (name, m)
        for name in ('first', 'steady'):
            assert set(r[name]['status'].values()) == {'ok'}, r[name]
        assert r['steady']['findings'] == 0, r['steady']
        assert r['naive']['differences'] == 0, r['naive']
        assert r['floor']['items'] >= r['volumes'], r['floor']
        if 'rbd' in r:
            check_rbd(r)


# -- full listings: one cursor vs created_at windows -------------------------
#
# A separate measurement (--listing): one backend's full Cinder listing
# (volumes and snapshots) timed against a cinder-api with 1, 2 and 4
# workers, through the inventory with [cinder] listing_workers 1 (one
# cursor) and LISTING_WINDOWS (created_at windows in parallel).

LISTING_WINDOWS = 4


def _tree_cpu(pid):
    """CPU seconds (user + system) of process ``pid`` and of each of its
    children (cinder-api's parent and its workers), by pid.
    """
    ticks = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if pid in (int(entry), int(fields[1])):
            ticks[int(entry)] = int(fields[11]) + int(fields[12])
    return {p: t / os.sysconf('SC_CLK_TCK') for p, t in ticks.items()}


def _cpu_spent(before, after, parent):
    """(all CPU seconds, the busiest worker's share of the workers')."""
    spent = {p: after[p] - before.get(p, 0.0) for p in after}
    workers = [v for p, v in spent.items() if p != parent]
    total = sum(workers)
    return sum(spent.values()), max(workers) / total if total else 1.0


def _listing_conf(path, cloud, page_size, workers):
    with open(path, 'w') as f:
        f.write('[cinder]\nauth_type = admin_token\nendpoint = %s\n'
                'token = %s\npage_size = %d\nlisting_workers = %d\n'
                % (cloud.endpoint, cinder_sim.ADMIN_TOKEN, page_size,
                   workers))
    return loopback.load_conf(path)


def measure_listing(size, workdir, page_size, api_workers, repeat):
    """Seconds and requests of one backend's full listing, per cinder-api
    worker count, one cursor and windows alternating (fastest kept); the
    windowed view is checked equal to the cursor's.
    """
    from reconciler.inventory import cinder as cinder_inventory

    scenario = loopback.synthetic(size, ['fake'])
    host = scenario.backends[0].backend_host
    out = {'volumes': size, 'snapshots': len(scenario.snapshots),
           'page_size': page_size, 'windows': LISTING_WINDOWS, 'runs': []}
    for workers in api_workers:
        where = os.path.join(workdir, 'listing-%d-%d' % (size, workers))
        os.makedirs(where, exist_ok=True)
        with cinder_sim.CinderCloud(where, scenario, page_size=page_size,
                                    api_workers=workers) as cloud:
            confs = {mode: _listing_conf(
                os.path.join(where, '%s.conf' % mode), cloud, page_size, n)
                for mode, n in (('cursor', 1), ('windows', LISTING_WINDOWS))}
            # Warm the API workers up (first requests import and connect):
            # a few small listings of an empty backend.
            for _ in range(workers):
                cinder_inventory.CinderInventory(confs['windows']).view(
                    'nohost@none')
            runs, views = collections.defaultdict(list), {}
            for mode in ('cursor', 'windows') * repeat:
                inventory = cinder_inventory.CinderInventory(confs[mode])
                api_cpu = _tree_cpu(cloud._proc.pid)
                client_cpu = time.process_time()
                start = time.monotonic()
                view = inventory.view(host)
                runs[mode].append((
                    time.monotonic() - start, view.requests,
                    *_cpu_spent(api_cpu, _tree_cpu(cloud._proc.pid),
                                cloud._proc.pid),
                    time.process_time() - client_cpu))
                views[mode] = view
            equal = (views['cursor'].volumes == views['windows'].volumes
                     and views['cursor'].snapshots
                     == views['windows'].snapshots)
            for mode, samples in runs.items():
                seconds, requests, api_cpu, busiest, client_cpu = min(
                    samples)
                out['runs'].append({
                    'api_workers': workers, 'mode': mode,
                    'seconds': seconds, 'requests': requests,
                    'api_cpu_seconds': api_cpu,
                    'busiest_worker_share': busiest,
                    'client_cpu_seconds': client_cpu,
                    'samples': [sample[0] for sample in samples],
                    'items': len(views[mode].volumes)
                    + len(views[mode].snapshots), 'equal': equal})
    return out


def _listing_seconds(r, workers, mode):
    for run in r['runs']:
        if run['api_workers'] == workers and run['mode'] == mode:
            return run['seconds']
    return None


def listing_summary(r):
    lines = ['full listing of %d volumes, %d snapshots (one backend, pages '
             'of %d; windows: %d)' % (r['volumes'], r['snapshots'],
                                      r['page_size'], r['windows'])]
    for run in r['runs']:
        cursor = _listing_seconds(r, run['api_workers'], 'cursor')
        lines.append('  %d api workers  %-7s %7.2f s  %4d requests  '
                     '%.2fx cursor  CPU s: cinder-api %.1f (busiest worker '
                     '%.1f) client %.1f  union %s  (runs: %s s)' % (
                         run['api_workers'], run['mode'], run['seconds'],
                         run['requests'], run['seconds'] / cursor,
                         run['api_cpu_seconds'],
                         run['api_cpu_seconds']
                         * run['busiest_worker_share'],
                         run['client_cpu_seconds'],
                         'equal' if run['equal'] else 'DIFFERENT',
                         ', '.join('%.2f' % x for x in run['samples'])))
    return lines


def listing_markdown(results):
    workers = sorted({run['api_workers'] for r in results
                      for run in r['runs']})
    rows = ['| volumes | snapshots | ' + ' | '.join(
        '%d workers: cursor s / windows s (ratio)' % w for w in workers)
        + ' | windows (%d) vs cursor at 1 worker |' % results[0]['windows'],
        '|' + '---|' * (len(workers) + 3)]
    for r in results:
        cells = []
        for w in workers:
            c, v = (_listing_seconds(r, w, m) for m in ('cursor', 'windows'))
            cells.append('%.2f / %.2f (%.2f)' % (c, v, v / c))
        best = _listing_seconds(r, workers[-1], 'windows')
        rows.append('| %d | %d | %s | %.2f |' % (
            r['volumes'], r['snapshots'], ' | '.join(cells),
            best / _listing_seconds(r, workers[0], 'cursor')))
    return '\n'.join(rows)


def listing_plot(results, path):
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    fig, axes = pyplot.subplots(1, len(results), figsize=(5.5 * len(
        results), 4.2), squeeze=False)
    for ax, r in zip(axes[0], results):
        workers = sorted({run['api_workers'] for run in r['runs']})
        for mode, style in (('cursor', '--'), ('windows', '-')):
            ax.plot(workers, [_listing_seconds(r, w, mode) for w in workers],
                    style, marker='o', label=mode if mode == 'cursor'
                    else '%d windows' % r['windows'])
        ax.set_xticks(workers)
        ax.set_ylim(bottom=0)
        ax.set_xlabel('cinder-api workers (osapi_volume_workers)')
        ax.set_ylabel('full listing wall time (s)')
        ax.set_title('%d volumes, %d snapshots'
                     % (r['volumes'], r['snapshots']))
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle('cinder-reconciler: one backend\'s full Cinder listing')
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def check_listing(results):
    for r in results:
        assert all(run['equal'] and run['items'] >= r['volumes']
                   for run in r['runs']), r


def listing_main(args):
    """--listing: full-listing times only; --json/--load/--plot/--markdown
    then hold and show these figures.
    """
    sizes = [int(s) for s in args.sizes.split(',')]
    api_workers = [int(w) for w in args.api_workers.split(',')]
    page_size, repeat = args.page_size, args.repeat
    if args.quick:
        sizes, api_workers, page_size, repeat = [300], [1, 2], 50, 1

    def measure_all():
        with tempfile.TemporaryDirectory() as tmp:
            for size in sizes:
                yield measure_listing(size, args.workdir or tmp, page_size,
                                      api_workers, repeat)
    bench_report.report(args, measure_all, listing_summary,
                        plot=listing_plot, markdown=listing_markdown,
                        check=check_listing, name='bench --listing')
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='1000,10000,100000',
                        help='total volumes per run, comma-separated')
    parser.add_argument('--drivers',
                        help='one array driver per backend: %s (default '
                        'fake,hpe3par,nec,hpe3par; with --arrays, one array '
                        'at a time, default %s)' % (
                            ', '.join(loopback.DRIVERS),
                            ','.join(bench_arrays.DRIVERS)))
    parser.add_argument('--page-size', type=int, default=1000)
    parser.add_argument('--repeat', type=int, default=2,
                        help='floor and steady runs per size (fastest kept)')
    parser.add_argument('--no-naive', action='store_true',
                        help='skip the naive all_tenants comparison')
    parser.add_argument('--quick', action='store_true',
                        help='a small run that checks the tool works (CI)')
    parser.add_argument('--json', help='write the figures to this file')
    parser.add_argument('--plot', help='write a PNG plot to this file')
    parser.add_argument('--markdown', action='store_true',
                        help='also print the figures as a Markdown table')
    parser.add_argument('--load', metavar='JSON',
                        help='no measuring: report the figures of --json')
    parser.add_argument('--workdir', help='keep the clouds here')
    parser.add_argument('--changes', action='store_true',
                        help='measure incremental steady passes instead: '
                        'Cinder bytes and requests, full vs changes, with '
                        '0 and 1%% churn, one backend per size')
    parser.add_argument('--listing', action='store_true',
                        help='measure only full Cinder listings: one cursor '
                        'vs created_at windows, per cinder-api workers')
    parser.add_argument('--api-workers', default='1,2,4',
                        help='--listing: cinder-api worker counts')
    parser.add_argument('--arrays', action='store_true',
                        help='measure the array side alone instead, one '
                        'driver at a time (rbd, nec, hpe3par, hpelefthand): '
                        'full listings, RBD steady listings, look-up rounds '
                        '(tools/bench_arrays.py)')
    parser.add_argument('--fleet', action='store_true',
                        help='measure host agents against one controller '
                        'instead (tools/bench_fleet.py): N hosts, both '
                        'designs')
    parser.add_argument('--hosts', default='10,50,200',
                        help='--fleet: numbers of hosts (agents)')
    parser.add_argument('--volumes', type=int, default=10000,
                        help='--fleet: volumes in Cinder')
    parser.add_argument('--attached', type=int, default=2500,
                        help='--fleet: attached volumes, spread over hosts')
    parser.add_argument('--concurrency', type=int, default=16,
                        help='--fleet: agents reporting at a time')
    parser.add_argument('--old-samples', type=int, default=3,
                        help="--fleet: hosts today's design is measured on")
    parser.add_argument('--child', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child and args.child[0] in bench_fleet.CHILDREN:
        return bench_fleet.CHILDREN[args.child[0]](*args.child[1:])
    if args.fleet:
        return bench_fleet.main(args)
    if args.listing:
        return listing_main(args)
    if args.arrays:
        return bench_arrays.main(args)
    if args.child:
        mode, conf_path = args.child
        conf = loopback.load_conf(conf_path)
        if mode != 'rbd-cli':     # a CLI-only daemon never loads librados
            _rbd_bindings(conf)
        print(json.dumps(CHILDREN[mode](conf)))
        return 0
    sizes = [int(s) for s in args.sizes.split(',')]
    drivers = (args.drivers or 'fake,hpe3par,nec,hpe3par').split(',')
    if args.quick:
        sizes, drivers, args.page_size = [400], list(loopback.DRIVERS), 100
    unknown = set(drivers) - set(loopback.DRIVERS)
    if unknown:
        parser.error('unknown driver(s) %s; choose from %s' % (
            ', '.join(sorted(unknown)), ', '.join(loopback.DRIVERS)))
    for driver in sorted(set(drivers)):
        reason = loopback.unavailable(driver)
        if reason:
            print('bench: %s skipped: %s' % (driver, reason), flush=True)
            drivers = [d for d in drivers if d != driver]
    if not drivers:
        parser.error('no driver left to measure')
    if args.changes:
        def measure_all():
            with tempfile.TemporaryDirectory() as tmp:
                for size in sizes:
                    yield measure_changes(size, args.workdir or tmp,
                                          args.page_size)
        bench_report.report(args, measure_all, changes_summary,
                            plot=changes_plot)
        return 0

    def measure_all():
        with tempfile.TemporaryDirectory() as tmp:
            for size in sizes:
                yield measure(size, drivers, args.workdir or tmp,
                              args.page_size,
                              naive=not args.no_naive or args.quick,
                              repeat=1 if args.quick else args.repeat)
    bench_report.report(args, measure_all, summary, plot=plot,
                        markdown=lambda results: '\n'.join(
                            filter(None, (markdown(results),
                                          rbd_markdown(results)))),
                        check=check_sane)
    return 0


if __name__ == '__main__':
    sys.exit(main())
