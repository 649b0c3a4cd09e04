#!/usr/bin/env python3
"""Listing cost of the RBD driver on a real Ceph cluster: binding vs CLI.

Starts the tests' single-node cluster (tests/ceph_fixtures.py: Debian's
ceph-mon, ceph-osd, python3-rados/rbd; one memstore OSD on 127.0.0.1),
creates N Cinder-named images (every 10th with a snapshot, every 50th
cloned through a clone_snap, every 100th moved to the trash, as Cinder's
driver does), then times the driver's ``list_objects`` through the
``rbd`` binding and through the ``rbd`` command line. Prints one JSON
document; figures only, no thresholds.

Usage::

    python tools/bench_rbd.py                  # 1k and 10k images
    python tools/bench_rbd.py --sizes 2000 --repeat 3
"""

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from oslo_config import cfg  # noqa: E402

from reconciler import conf as reconciler_conf  # noqa: E402
from reconciler.conf import backend as backend_conf  # noqa: E402
from tests import ceph_fixtures  # noqa: E402

POOL = 'volumes'


def populate(cluster, cinder, start, stop):
    """Images ``start..stop-1``: Cinder's names and layouts."""
    names = []
    for n in range(start, stop):
        name = 'volume-%08d-0000-4000-8000-%012d' % (n, n)
        if n % 50 == 49:
            cinder.create_cloned_volume(name, names[-1])
        else:
            cinder.create_volume(name)
        if n % 10 == 0:
            cinder.create_snapshot(name, 'snapshot-%08d-0000-4000-8000-'
                                   '%012d' % (n, n))
        if n % 100 == 99:
            cinder.rbd.RBD().trash_move(cinder.ioctx, name, 0)
        else:
            names.append(name)


def backend(cluster, cli):
    """The backend as the daemon builds it from a configuration file."""
    lines = ['[DEFAULT]', 'enabled_backends = rbd1', '[rbd1]',
             'volume_driver = cinder.volume.drivers.rbd.RBDDriver',
             'rbd_pool = %s' % POOL, 'rbd_ceph_conf = %s' % cluster.conf,
             'reconciler_command_timeout = 600']
    if cli:
        lines.append('reconciler_rbd_command = rbd')
    path = os.path.join(cluster.dir, 'bench.conf')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    conf = cfg.ConfigOpts()
    reconciler_conf.register(conf)
    conf([], project='bench-rbd', default_config_files=[path],
         default_config_dirs=[])
    [b] = backend_conf.enabled(conf)
    return b


def listing(cluster, cli, repeat):
    best = None
    for _ in range(repeat):
        driver = backend(cluster, cli).create_driver()
        start = time.monotonic()
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        driver.open()
        try:
            view = driver.list_objects()
        finally:
            driver.close()
        seconds = time.monotonic() - start
        run = {'seconds': round(seconds, 3), 'requests': view.requests,
               'objects': len(view.objects),
               'child_cpu_seconds': round(resource.getrusage(
                   resource.RUSAGE_CHILDREN).ru_utime - cpu, 3)}
        if best is None or run['seconds'] < best['seconds']:
            best = run
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='1000,10000')
    parser.add_argument('--repeat', type=int, default=2)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(','))
    cluster = ceph_fixtures.CephCluster(pools=(POOL,))
    cluster.setUp()
    results = {'ceph_start_seconds': round(cluster.start_seconds, 2),
               'sizes': []}
    try:
        cinder = ceph_fixtures.CinderRBD(cluster, POOL)
        made = 0
        for size in sizes:
            start = time.monotonic()
            populate(cluster, cinder, made, size)
            made = size
            results['sizes'].append({
                'images': size,
                'seed_seconds': round(time.monotonic() - start, 1),
                'binding': listing(cluster, False, args.repeat),
                'cli': listing(cluster, True, args.repeat)})
            print(json.dumps(results['sizes'][-1]), file=sys.stderr)
    finally:
        cluster.cleanUp()
    json.dump(results, sys.stdout, indent=1)
    print()


if __name__ == '__main__':
    main()
