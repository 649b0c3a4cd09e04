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

"""The array side at scale: listings, steady passes and look-up rounds.

Run as ``tools/bench.py --arrays`` (see there). For each driver and size it
starts the arrays of a synthetic cloud alone (no Cinder: the array side is
what is measured) and measures, each in a fresh child process so that its
peak RSS is its own:

* ``full``: the driver's listing (``list_objects``): seconds, requests
  (HTTP requests through the counting proxy, the NEC simulator's SSH
  commands, the RBD driver's own count of librados/librbd operations),
  objects and peak RSS;
* ``lookups``: a listing, then the array side of a re-check round of N
  candidates, half of them listed volumes looked up again as an array-only
  re-check does (``refresh``), half volumes the array lacks looked up as a
  Cinder-only re-check does (``find_volume``): the round's requests;
* for RBD also ``before``, the pool listed as it was before header reads
  (every image opened with librbd, one after another), and steady passes
  (``list_objects_reusing`` on the headers kept by a full listing) with
  nothing changed and after 1% of the images changed: seconds, requests,
  images read in full, peak RSS. For each RBD listing the cluster's share:
  the CPU seconds of ceph-osd and ceph-mon, and the operations the OSD
  served (its ``perf dump``).

The listings alternate ``repeat`` times with ``before`` (the fastest run
of each is kept, every run's time is in the JSON).
"""

import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import reconciler.cmd  # noqa: E402,F401 oslo.service's threading backend

import bench_report  # noqa: E402
from reconciler.simulators import loopback  # noqa: E402
from reconciler.simulators import scenario as scn  # noqa: E402

DRIVERS = ('rbd', 'nec', 'hpe3par', 'hpelefthand')
CANDIDATES = (10, 100)
QUICK_CANDIDATES = (6,)
CHURN_PERCENT = 1
_CEPH = 'BENCH_CEPH'        # the cluster's daemons, for the children


# -- children: each prints one JSON line --------------------------------------

def _cpu_of(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def _cluster():
    """CPU seconds of each Ceph daemon and the OSD's operations, now;
    {} without a cluster.
    """
    ceph = json.loads(os.environ.get(_CEPH) or '{}')
    if not ceph:
        return {}
    out = {'%s_cpu_seconds' % name: _cpu_of(pid)
           for name, pid in ceph['pids'].items()}
    dump = subprocess.run(['ceph', '--admin-daemon', ceph['asok'], 'perf',
                           'dump'], capture_output=True, text=True)
    out['osd_ops'] = json.loads(dump.stdout)['osd']['op']
    return out


def _measured(work):
    """``work()`` timed: seconds, CPU, peak RSS and the cluster's share."""
    cluster = _cluster()
    base = bench_report.mark_rss()
    cpu, start = time.process_time(), time.monotonic()
    view = work()
    out = {'seconds': time.monotonic() - start,
           'cpu_seconds': time.process_time() - cpu, 'base_rss_mb': base,
           'peak_rss_mb': bench_report.memory_mb('VmHWM'),
           'requests': view.requests,
           'objects': len(view.objects), 'read_in_full': view.read_in_full,
           'full_listing': view.full_listing}
    after = _cluster()
    out.update((k, after[k] - v) for k, v in cluster.items())
    return out


def _backend(conf):
    from reconciler.conf import backend as backend_conf
    [backend] = backend_conf.enabled(conf)
    return backend


def child_full(conf):
    with _backend(conf).create_driver() as driver:
        return _measured(driver.list_objects)


def child_before(conf):
    with _backend(conf).create_driver() as driver:
        return _measured(driver.list_objects_opening_each)


def _churn_pool(backend, percent, rnd):
    """``percent`` of the pool's plain images changed as Cinder would:
    volumes created and deleted, snapshots taken, volumes extended (one
    in four each). Returns the operations by kind.
    """
    from reconciler.simulators import ceph
    rados, rbd = ceph.import_bindings()
    client = rados.Rados(conffile=backend.rbd_ceph_conf)
    client.connect()
    done = collections.Counter()
    try:
        with client.open_ioctx(backend.rbd_pool) as ioctx:
            api = rbd.RBD()
            names = sorted(api.list(ioctx))
            plain = [n for n in names if n.startswith('volume-')
                     and n.count('.') == 0]
            count = max(1, len(names) * percent // 100)
            for n, name in enumerate(rnd.sample(plain, count)):
                kind = ('create', 'delete', 'snapshot', 'extend')[n % 4]
                if kind == 'create':
                    api.create(ioctx, 'volume-%s' % scn.uid(
                        'bench-churn-%s' % name), ceph.GIB, old_format=False)
                elif kind == 'delete':
                    with rbd.Image(ioctx, name) as image:
                        has_snaps = bool(list(image.list_snaps()))
                    if has_snaps:       # Cinder deletes none with snapshots
                        kind = 'skipped'
                    else:
                        api.remove(ioctx, name)
                else:
                    with rbd.Image(ioctx, name) as image:
                        if kind == 'snapshot':
                            image.create_snap('snapshot-%s' % scn.uid(
                                'bench-churn-snap-%s' % name))
                        else:
                            image.resize(image.size() + ceph.GIB)
                done[kind] += 1
    finally:
        client.shutdown()
    return dict(done)


def child_steady(conf):
    """A full listing through the kept cache, a steady one with nothing
    changed, 1% churn, another steady one: one driver each, as passes.
    """
    from reconciler.inventory import incremental
    backend = _backend(conf)
    cache = incremental.ArrayCache(1000)
    out = {}
    for step in ('kept_full', 'steady_0', 'churn', 'steady_1'):
        if step == 'churn':
            out['churn'] = _churn_pool(backend, CHURN_PERCENT,
                                       random.Random(1))
            continue
        with backend.create_driver() as driver:
            out[step] = _measured(lambda: driver.list_objects_reusing(cache))
    return out


def child_lookups(conf, n):
    """A listing, then the array side of a re-check round of ``n``."""
    from reconciler import model
    with _backend(conf).create_driver() as driver:
        view = driver.list_objects()
        listed = [o for o in view.objects
                  if o.kind == model.ResourceType.VOLUME
                  and o.object_class == model.ObjectClass.CINDER]
        round_requests = getattr(getattr(driver, 'client', None),
                                 'requests', None)
        start = time.monotonic()
        with driver.lookup_round():
            found = sum(driver.refresh(o) is not None
                        for o in listed[:n - n // 2])
            missing = sum(driver.find_volume(scn.uid(
                'bench-missing-%d' % i)) is None for i in range(n // 2))
        seconds = time.monotonic() - start
        if round_requests is not None:      # RBD counts its own
            round_requests = driver.client.requests - round_requests
    return {'candidates': n, 'seconds': seconds, 'found': found,
            'missing': missing, 'listing_requests': view.requests,
            'round_requests': round_requests}


CHILDREN = {'full': child_full, 'before': child_before,
            'steady': child_steady}


def child_main(mode, conf_path):
    conf = loopback.load_conf(conf_path)
    if _backend(conf).driver_cls.__name__ == 'RBDDriver':
        from reconciler.simulators import ceph
        ceph.import_bindings()
    if mode.startswith('lookups-'):
        result = child_lookups(conf, int(mode.split('-')[1]))
    else:
        result = CHILDREN[mode](conf)
    print(json.dumps(result))
    return 0


# -- the parent ---------------------------------------------------------------

def run_child(mode, conf_path, cloud, env):
    for meter in cloud.meters().values():
        meter.reset_stats()
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), '--child', mode,
         conf_path], capture_output=True, text=True,
        env=dict(os.environ, **env))
    if proc.returncode:
        raise RuntimeError('%s child failed:\n%s'
                           % (mode, proc.stderr[-3000:]))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    meters = [m.stats() for m in cloud.meters().values()]
    if meters:      # HTTP requests or SSH commands, and response bytes
        result['array_requests'] = sum(s.requests for s in meters)
        result['array_bytes'] = sum(s.response_bytes for s in meters)
    return result


def _fastest(runs):
    return dict(min(runs, key=lambda m: m['seconds']),
                samples=[m['seconds'] for m in runs],
                peak_rss_mb=max(m['peak_rss_mb'] for m in runs))


def measure(driver, size, workdir, repeat, candidates=CANDIDATES):
    scenario = loopback.synthetic(size, [driver])
    out = {'driver': driver, 'volumes': size,
           'snapshots': len(scenario.snapshots),
           'load_average': [os.getloadavg()[0]]}
    start = time.monotonic()
    with loopback.LoopbackCloud(os.path.join(workdir, '%s-%d' % (
            driver, size)), scenario, cinder=False) as cloud:
        out['setup_seconds'] = time.monotonic() - start
        conf = cloud.write_conf(os.path.join(cloud.workdir, 'r.conf'),
                                os.path.join(cloud.workdir, 'r.sqlite'))
        [array] = cloud.arrays.values()
        env = {}
        if driver == 'rbd':
            out['images'] = array.images
            cluster = array.cluster
            env[_CEPH] = json.dumps({
                'pids': {n: p.pid for n, p in cluster.processes.items()},
                'asok': os.path.join(cluster.dir, 'run', 'osd.0.asok')})
        runs = collections.defaultdict(list)
        modes = ('full', 'before') if driver == 'rbd' else ('full',)
        for mode in modes * repeat:
            runs[mode].append(run_child(mode, conf, cloud, env))
            out['load_average'].append(os.getloadavg()[0])
        for mode in modes:
            out[mode] = _fastest(runs[mode])
        if driver == 'rbd':
            out.update(run_child('steady', conf, cloud, env))
            out['load_average'].append(os.getloadavg()[0])
        out['lookups'] = {}
        for n in candidates:
            r = run_child('lookups-%d' % n, conf, cloud, env)
            if r['round_requests'] is None:
                r['round_requests'] = (r['array_requests']
                                       - out['full'].get('array_requests',
                                                         0))
            out['lookups'][str(n)] = r
    return out


def _requests(m):
    return m.get('array_requests', m['requests'])


def _cluster_share(m):
    if 'osd_cpu_seconds' not in m:
        return ''
    return ('  cluster: ceph-osd %.2f s CPU, ceph-mon %.2f s, %d OSD ops; '
            'reconciler %.2f s CPU' % (m['osd_cpu_seconds'],
                                       m['mon_cpu_seconds'], m['osd_ops'],
                                       m['cpu_seconds']))


def summary(r):
    what = ('%d images' % r['images'] if 'images' in r else
            '%d volumes, %d snapshots' % (r['volumes'], r['snapshots']))
    lines = ['%s, %d volumes (%s): set up in %.1f s, load average %s' % (
        r['driver'], r['volumes'], what, r['setup_seconds'],
        ' '.join('%.1f' % x for x in r['load_average']))]
    rows = [('full', r['full']), ('before', r.get('before')),
            ('kept full', r.get('kept_full')),
            ('steady 0%', r.get('steady_0')),
            ('steady %d%%' % CHURN_PERCENT, r.get('steady_1'))]
    for label, m in rows:
        if m is None:
            continue
        lines.append('  %-10s %7.2f s  peak RSS %6.1f MB  %6d requests  '
                     '%5d objects%s%s%s' % (
                         label, m['seconds'], m['peak_rss_mb'], _requests(m),
                         m['objects'],
                         '  read in full %d' % m['read_in_full']
                         if m['read_in_full'] is not None else '',
                         _cluster_share(m),
                         '  (runs: %s s)' % ', '.join(
                             '%.2f' % x for x in m['samples'])
                         if len(m.get('samples', ())) > 1 else ''))
    if 'churn' in r:
        lines.append('  churn between the steady listings: %s' % ', '.join(
            '%s %d' % kv for kv in sorted(r['churn'].items())))
    for n, m in sorted(r['lookups'].items(), key=lambda kv: int(kv[0])):
        lines.append('  look-ups: %3s candidates, %d found and %d missing: '
                     '%d requests in the round (%.2f per candidate), %.2f s'
                     % (n, m['found'], m['missing'], m['round_requests'],
                        m['round_requests'] / int(n), m['seconds']))
    return lines


def rbd_line(r):
    """The benchmark's last line for RBD (issue 26)."""
    return ('rbd: images=%d full=%.2f s before=%.2f s speedup=%.1f '
            'steady_opens=%d' % (
                r['images'], r['full']['seconds'], r['before']['seconds'],
                r['before']['seconds'] / r['full']['seconds'],
                r['steady_1']['read_in_full']))


def markdown(results):
    candidates = sorted({int(n) for r in results for n in r['lookups']})
    rows = []
    rbd = [r for r in results if r['driver'] == 'rbd']
    if rbd:
        rows += ['| images | listing | s | requests | read in full | peak '
                 'RSS MB | reconciler CPU s | ceph-osd CPU s | OSD ops |',
                 '|' + '---|' * 9]
        for r in rbd:
            for label, key in (('before (open each)', 'before'),
                               ('full (headers)', 'full'),
                               ('steady, no change', 'steady_0'),
                               ('steady, 1% churn', 'steady_1')):
                m = r[key]
                rows.append('| %d | %s | %.2f | %d | %d | %.0f | %.2f | '
                            '%.2f | %d |' % (
                                r['images'], label, m['seconds'],
                                m['requests'], m['read_in_full'],
                                m['peak_rss_mb'], m['cpu_seconds'],
                                m['osd_cpu_seconds'], m['osd_ops']))
        rows.append('')
    rows += ['| driver | volumes | listing s | listing requests | peak RSS '
             'MB | ' + ' | '.join('round of %d: requests (per candidate)'
                                  % n for n in candidates) + ' |',
             '|' + '---|' * (5 + len(candidates))]
    for r in results:
        cells = []
        for n in candidates:
            m = r['lookups'].get(str(n))
            cells.append('%d (%.2f)' % (m['round_requests'],
                                        m['round_requests'] / n)
                         if m else '-')
        rows.append('| %s | %d | %.2f | %d | %.0f | %s |' % (
            r['driver'], r['volumes'], r['full']['seconds'],
            _requests(r['full']), r['full']['peak_rss_mb'],
            ' | '.join(cells)))
    return '\n'.join(rows)


def plot(results, path):
    """RBD listing time against images, and where a listing's time goes."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    rbd = sorted((r for r in results if r['driver'] == 'rbd'),
                 key=lambda r: r['images'])
    fig, (t, share) = pyplot.subplots(1, 2, figsize=(11, 4.2))
    images = [r['images'] for r in rbd]
    for key, label, style in (
            ('before', 'before: every image opened (librbd)', 'o--'),
            ('full', 'full: header objects read (librados)', 's-'),
            ('steady_0', 'steady, no change (header stats)', '^-'),
            ('steady_1', 'steady, %d%% churn' % CHURN_PERCENT, 'v:')):
        t.plot(images, [r[key]['seconds'] for r in rbd], style, label=label)
    t.set_xscale('log')
    t.set_yscale('log')
    t.set_xlabel('images in the pool')
    t.set_ylabel('listing wall time (s)')
    t.grid(True, which='both', alpha=0.3)
    t.legend(fontsize='small')
    big = rbd[-1]
    keys = ('before', 'full', 'steady_0', 'steady_1')
    labels = ['before', 'full', 'steady\n0%', 'steady\n%d%%' % CHURN_PERCENT]
    x = range(len(keys))
    width = 0.27
    for offset, (field, label) in enumerate((
            ('seconds', 'wall time'), ('cpu_seconds', 'reconciler CPU'),
            ('osd_cpu_seconds', 'ceph-osd CPU'))):
        share.bar([i + (offset - 1) * width for i in x],
                  [big[k][field] for k in keys], width, label=label)
    share.set_xticks(list(x))
    share.set_xticklabels(labels)
    share.set_yscale('log')
    share.set_ylabel('seconds')
    share.set_title('%d images: where the time goes' % big['images'])
    share.grid(True, axis='y', which='both', alpha=0.3)
    share.legend(fontsize='small')
    fig.suptitle('cinder-reconciler: listing an RBD pool (Ceph 16.2, '
                 '2 shared cores)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def check_sane(results):
    """--quick: the tool ran and its figures make sense (not speed)."""
    for r in results:
        assert r['full']['objects'] >= r['volumes'], r['full']
        for m in r['lookups'].values():
            assert m['found'] + m['missing'] == m['candidates'], m
            assert m['round_requests'] > 0, m
        if r['driver'] == 'rbd':
            assert r['before']['objects'] == r['full']['objects'], r
            assert r['steady_0']['read_in_full'] == 0, r['steady_0']
            assert 0 < r['steady_1']['read_in_full'] <= sum(
                r['churn'].values()), r


def main(args):
    """``tools/bench.py --arrays`` (its parsed arguments)."""
    sizes = [int(s) for s in args.sizes.split(',')]
    drivers = (args.drivers or ','.join(DRIVERS)).split(',')
    candidates, repeat = CANDIDATES, args.repeat
    if args.quick:
        sizes, drivers, repeat = [300], ['nec', 'hpe3par', 'hpelefthand',
                                         'rbd'], 1
        candidates = QUICK_CANDIDATES
    unknown = set(drivers) - set(loopback.ARRAY_DRIVERS)
    if unknown:
        raise SystemExit('unknown driver(s) %s; choose from %s' % (
            ', '.join(sorted(unknown)), ', '.join(loopback.ARRAY_DRIVERS)))
    for driver in sorted(set(drivers)):
        reason = loopback.unavailable(driver)
        if reason:
            print('bench: %s skipped: %s' % (driver, reason), flush=True)
            drivers.remove(driver)
    # RBD last, so that its line ends the output.
    drivers.sort(key=lambda d: d == 'rbd')

    def measure_all():
        with tempfile.TemporaryDirectory() as tmp:
            for driver in drivers:
                for size in sizes:
                    yield measure(driver, size, args.workdir or tmp, repeat,
                                  candidates)
    results = bench_report.report(args, measure_all, summary, plot=plot,
                                  markdown=markdown, check=check_sane,
                                  name='bench --arrays')
    for r in results:
        if r['driver'] == 'rbd':
            print(rbd_line(r))
    return 0


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == '--child':
        sys.exit(child_main(sys.argv[2], sys.argv[3]))
    sys.exit('run tools/bench.py --arrays')
