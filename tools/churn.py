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

"""Accuracy under churn: false positives and recall while the cloud changes.

Starts a small loopback cloud (a real cinder-api, the fake driver's array,
the 3PAR WSAPI simulator, the NEC iSMCLI simulator over SSH and, where Ceph
is installed, a real single-node Ceph cluster for RBD), then runs
the daemon's passes back to back on every backend while Cinder operations
churn the cloud, real orphans are planted and faults are injected (see
reconciler/simulators/churn.py).
Cinder's notifications of those operations reach the daemon's listener
(in-process by default, through a RabbitMQ with --cinder-broker), some lost,
late or sent while it is stopped. Prints the report as JSON; exits non-zero
on any false positive, a missed orphan (recall < 1), a failed pass that
changed findings, or an event neither lost nor recorded.

Usage::

    python tools/churn.py                       # 1,000 passes, ~20 ops/s
    python tools/churn.py --passes 5000 --rate 40 --volumes 400
"""

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import reconciler.cmd  # noqa: E402,F401 oslo.service's threading backend

from reconciler.simulators import churn  # noqa: E402
from reconciler.simulators import loopback  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--passes', type=int, default=1000,
                        help='passes to run under churn, all backends')
    parser.add_argument('--rate', type=float, default=24.0,
                        help='churn operations started per second (some '
                        'find no volume they fit: 24 gives about 20 done)')
    parser.add_argument('--volumes', type=int, default=200)
    parser.add_argument('--drivers', default='fake,hpe3par,nec,rbd',
                        help='one array driver per backend: %s (rbd only '
                        'where Ceph is installed)'
                        % ', '.join(loopback.DRIVERS))
    parser.add_argument('--sightings', type=int, default=2)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--incremental', type=int, default=12, metavar='N',
                        help='reconciler_full_listing_passes: steady passes '
                        'list only what changed in Cinder, in full on one '
                        'pass in N; 1 lists in full on every pass')
    parser.add_argument('--cinder-broker', metavar='URL',
                        help="transport of Cinder's notifications to the "
                        "reconciler's listener, e.g. a RabbitMQ's "
                        'rabbit://guest:guest@127.0.0.1:5672/ (default: '
                        "oslo.messaging's in-process fake:/)")
    args = parser.parse_args(argv)
    drivers = args.drivers.split(',')
    unknown = set(drivers) - set(loopback.DRIVERS)
    if unknown:
        parser.error('unknown driver(s) %s' % ', '.join(sorted(unknown)))
    for driver in sorted(set(drivers)):
        reason = loopback.unavailable(driver)
        if reason:      # stdout is the report
            print('churn: %s skipped: %s' % (driver, reason),
                  file=sys.stderr)
            drivers = [d for d in drivers if d != driver]
    if not drivers:
        parser.error('no driver left to churn')
    with tempfile.TemporaryDirectory() as tmp:
        with churn.start_cloud(tmp, args.volumes, drivers) as cloud:
            conf = loopback.load_conf(cloud.write_conf(
                os.path.join(tmp, 'r.conf'), os.path.join(tmp, 'r.sqlite'),
                sightings=args.sightings,
                reconciler_full_listing_passes=args.incremental))
            if args.cinder_broker:
                conf.set_override('transport_url', args.cinder_broker,
                                  group='cinder_notifications')
            report = churn.Churn(cloud, conf, rate=args.rate,
                                 seed=args.seed).run(args.passes)
    print(json.dumps(report, indent=1))
    bad = (report['false_positive_transitions']
           or report['false_positive_notifications']
           or report['false_positive_findings']
           or report['failed_passes_with_changes']
           or report['undelivered_notifications']
           or report['cinder_events_unrecorded']
           or report['recall'] < 1)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
