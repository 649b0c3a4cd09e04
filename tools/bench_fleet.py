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

"""tools/bench.py --fleet: a fleet of host agents against one controller.

For each number of hosts N it starts a real cinder-api with ``--volumes``
volumes, ``--attached`` of them attached (iSCSI, a target per volume, CHAP in
connection_info) spread evenly over N hosts, behind a counting proxy, and a
real RabbitMQ behind a counting relay (tests/servers.py). Every tenth host
also holds a LUN left behind by a detach. Then, in child processes of their
own (so CPU time and peak RSS are theirs alone):

* the controller: the host API's endpoint of the daemon (reconciler.fleet),
  on the broker, with its SQLite history; the cycle's Cinder listing is
  triggered by the parent (``refresh``), not a timer;
* the agents: N agents as threads, each with a host root of its own laid
  out as the kernel does (reconciler.simulators.host), reporting 16 at a
  time (``--concurrency``), as reconciler.agent does: scan, report, scan
  again and report both when the controller asks for a re-check.

Two cycles per N: the first (the controller lists Cinder in full) and a
steady one (it lists what changed). And today's design, where every host
lists all of Cinder itself (reconciler.host.cinder), measured on a few
hosts per N and counted N times per cycle (every host lists the same).

Printed per N and design: cinder-api requests and MB per cycle, MB per
agent (the agent's wire bytes through the broker, AMQP framing included),
controller CPU seconds and peak RSS per cycle, RPC round trip p50/p99 and
the cycle time; then the bytes per attachment an agent sends, a projection
for 1,000 agents from the measured figures, and the last line::

    fleet: N=<max> cinder MB per cycle old=<x> new=<y> ratio=<x/y>
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import bench_report

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
AUTH_KEY = 'bench-controllers-secret'
IQN = 'iqn.2010-10.org.openstack:volume-%s'
PORTAL = '127.0.0.1:3260'


def _host(i):
    return 'compute-%04d' % i


def _info(volume_id):
    """connection_info as Cinder's LVM driver stores it, CHAP included."""
    return {'driver_volume_type': 'iscsi', 'target_discovered': False,
            'target_iqn': IQN % volume_id, 'target_portal': PORTAL,
            'target_lun': 1, 'auth_method': 'CHAP',
            'auth_username': 'user-%s' % volume_id[:8],
            'auth_password': 'chap-secret-%s' % volume_id[:12],
            'volume_id': volume_id, 'access_mode': 'rw', 'encrypted': False}


def _wwid(n):
    return '3600140%025x' % n


# -- children: JSON lines on stdout, commands on stdin ------------------------

def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _say(value):
    print(json.dumps(value), flush=True)


def _load(path, log=False):
    """The configuration of ``path`` (and its logging set up, if ``log``).
    """
    from oslo_config import cfg
    from oslo_log import log as logging

    from reconciler import conf as reconciler_conf
    from reconciler.rpc import api
    conf = cfg.ConfigOpts()
    reconciler_conf.register(conf)
    if log:
        logging.register_options(conf)
    conf(['--config-file', path], project='cinder-reconciler',
         default_config_dirs=[])
    if log:
        logging.setup(conf, 'cinder-reconciler')
    api.configured(conf)
    return conf


def child_controller(conf_path):
    """The controller's host API, served until stdin says quit."""
    from reconciler import coordination
    from reconciler.fleet import endpoint
    from reconciler import history
    from reconciler import notifier as notifier_mod
    from reconciler.rpc import api
    from reconciler.rpc import controller

    conf = _load(conf_path, log=True)
    store = history.History.from_conf(conf)
    store.sync()
    notifier = notifier_mod.Notifier(conf)
    coordinator = coordination.Coordinator(conf)
    coordinator.start()
    transport = api.get_transport(conf)
    stop = threading.Event()
    host = endpoint.HostEndpoint(controller.Services(
        conf, store, notifier, coordinator, stop, transport))
    host.refresher.stop()     # the parent says when a cycle lists Cinder
    server = api.Server(transport, controller.TOPIC, conf.host, [host])
    server.start()
    server.started.wait(60)
    _say({'ready': True})
    cpu = _cpu()
    for line in sys.stdin:
        command = line.strip()
        if command == 'mark':
            bench_report.mark_rss()
            cpu = _cpu()
            _say({'rss_mb': bench_report.memory_mb('VmRSS', 0.0)})
        elif command == 'refresh':
            start = time.monotonic()
            cycle = host.fleet.refresh()
            _say({'seconds': time.monotonic() - start,
                  'error': host.fleet.error,
                  'attachments': len(cycle.attachments) if cycle else 0,
                  'full': cycle.full if cycle else None})
        elif command == 'stats':
            runs = store.runs(limit=None)
            _say({'cpu_seconds': _cpu() - cpu,
                  'peak_rss_mb': bench_report.memory_mb('VmHWM', 0.0),
                  'runs': len(runs),
                  'failed_runs': sum(1 for r in runs if r.status != 'ok'),
                  'findings': len(store.findings())})
        elif command == 'quit':
            break
    stop.set()
    server.stop()
    transport.cleanup()
    coordinator.stop()
    notifier.close()
    return 0


def _lay_out(root_dir, spec):
    """A host root with a boot disk and one LUN per attached volume (and
    the leftover, if any).
    """
    from reconciler.simulators import host as host_sim
    os.makedirs(root_dir)
    root = host_sim.HostRoot(root_dir)
    root.add_disk('sda', '0:0:0:0', model='BOOT')
    root.mount('/dev/sda', '/')
    for i, (volume_id, wwid) in enumerate(spec):
        # sdb..: two letters after sdz, as the kernel names them.
        name = 'sd' + (_letters(i + 1))
        root.add_disk(name, '%d:0:0:1' % (3 + i), wwid,
                      iscsi=(PORTAL, IQN % volume_id, 1))
    return root


def _letters(n):
    text = ''
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        text = chr(ord('a') + r) + text
    return text


class _Timed(object):
    """A HostAPI whose report calls are timed."""

    def __init__(self, client, times):
        self.client = client
        self.times = times

    def report(self, ctxt, body):
        start = time.monotonic()
        try:
            return self.client.report(ctxt, body)
        finally:
            self.times.append(time.monotonic() - start)


def child_agents(spec_path):
    """N agents in threads; each ``cycle`` on stdin runs all their passes.
    """
    import concurrent.futures

    from reconciler.agent import reporter as reporter_mod
    from reconciler.rpc import api
    from reconciler.rpc import host_api

    with open(spec_path) as f:
        spec = json.load(f)
    workdir = spec['workdir']
    start = time.monotonic()
    roots = {host: _lay_out(os.path.join(workdir, 'hosts', host), devices)
             for host, devices in spec['hosts'].items()}
    built = time.monotonic() - start
    transport = None
    reporters = []
    times = []
    for host in spec['hosts']:
        path = os.path.join(workdir, 'agents', host + '.conf')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lock_path = os.path.join(workdir, 'locks', host)
        os.makedirs(lock_path, exist_ok=True)
        with open(path, 'w') as f:
            f.write(spec['agent_conf'].format(
                host=host, root=roots[host].root, lock_path=lock_path,
                key=spec['keys'][host]))
        conf = _load(path)
        transport = transport or api.get_transport(conf)
        reporters.append(reporter_mod.Reporter(
            conf, _Timed(host_api.HostAPI(conf, transport), times),
            roots[host].runner))
    _say({'ready': True, 'layout_seconds': built})
    for line in sys.stdin:
        if line.strip() == 'quit':
            break
        del times[:]
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(
                spec['concurrency']) as pool:
            answers = list(pool.map(lambda r: r.run_pass(), reporters))
        seconds = time.monotonic() - start
        statuses = {}
        for a in answers:
            key = '%s/%s' % (a.get('status'), a.get('run_status'))
            statuses[key] = statuses.get(key, 0) + 1
        _say({'seconds': seconds, 'rtts': sorted(times),
              'statuses': statuses, 'calls': len(times)})
    transport.cleanup()
    return 0


def child_old(conf_path, host):
    """Today's design on one host: Cinder's whole view of it, listed."""
    from reconciler.host import cinder as host_cinder
    conf = _load(conf_path)
    bench_report.mark_rss()
    cpu = _cpu()
    start = time.monotonic()
    found = host_cinder.HostCinderInventory(conf).host_view(host)
    _say({'seconds': time.monotonic() - start, 'cpu_seconds': _cpu() - cpu,
          'peak_rss_mb': bench_report.memory_mb('VmHWM', 0.0),
          'attachments': len(found.attachments),
          'here': len(found.here()), 'requests': found.requests})
    return 0


CHILDREN = {'fleet-controller': child_controller,
            'fleet-agents': child_agents, 'fleet-old': child_old}


# -- the parent ---------------------------------------------------------------

_CONTROLLER = """
[DEFAULT]
host = bench-controller
transport_url = {url}
rpc_response_timeout = 300
executor_thread_pool_size = 64
state_path = {workdir}/state
log_file = {workdir}/controller.log

[cinder]
auth_type = admin_token
endpoint = {endpoint}
token = {token}
page_size = {page_size}
# Cycles here are seconds apart (in a deployment, view_interval 300 s is
# longer than the default 300 s margin): a short margin, or every cycle
# would list every volume this young cloud created.
changes_margin = 2

[reconciler_database]
connection = sqlite:///{workdir}/history.sqlite

[oslo_messaging_notifications]
driver = noop

[agents]
auth_key = {auth_key}
lock_timeout = 120

[host_scan]
owned_targets = iqn.2010-10.org.openstack:
"""

_AGENT = """
[DEFAULT]
transport_url = {url}
rpc_response_timeout = 300

[host_scan]
connector_host = {{host}}
root_prefix = {{root}}
lock_path = {{lock_path}}
report_key = {{key}}
"""


class _Child(object):
    """A child process speaking JSON lines."""

    def __init__(self, mode, *args, log=None):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(TOOLS, 'bench.py'), '--child',
             mode] + list(args), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL,
            text=True)
        self.first = self.read()

    def read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError('child %s ended (exit %s)'
                               % (self.proc.args[3], self.proc.wait()))
        return json.loads(line)

    def ask(self, command):
        self.proc.stdin.write(command + '\n')
        self.proc.stdin.flush()
        return self.read()

    def close(self):
        try:
            self.proc.stdin.write('quit\n')
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _percentile(values, share):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(n, args, broker, workdir):
    from reconciler.rpc import signing
    from reconciler.simulators import cinder as cinder_sim
    from reconciler.simulators import faultproxy
    from reconciler.simulators import scenario as scn
    from tests import servers

    workdir = os.path.join(workdir, 'n%d' % n)
    os.makedirs(workdir)
    volumes = [scn.Volume(scn.uid('fleet-%d' % i), 'lvm',
                          project='project-%d' % (i % 97))
               for i in range(args.volumes)]
    out = {'hosts': n, 'volumes': args.volumes, 'attached': args.attached,
           'concurrency': args.concurrency}
    start = time.monotonic()
    cloud = cinder_sim.CinderCloud(
        os.path.join(workdir, 'cinder'),
        scn.Scenario(backends=[scn.Backend('lvm', 'ctl', pools=['lvm'])],
                     volumes=volumes), page_size=args.page_size)
    cloud.start()
    proxy = faultproxy.FaultProxy(cloud.endpoint).start()
    relay = servers.Relay(broker.port, keep=False)
    relay.setUp()
    controller = agents = None
    try:
        hosts = {_host(i): [] for i in range(n)}
        attached = [(v.id, _host(i % n), _info(v.id))
                    for i, v in enumerate(volumes[:args.attached])]
        cloud.add_attachments(attached)
        for i, (volume_id, host, _info_) in enumerate(attached):
            hosts[host].append((volume_id, _wwid(i + 1)))
        # A LUN a detach left on every tenth host: those hosts' reports ask
        # for a re-check and a fresh view, as hosts with findings do.
        spare = volumes[args.attached:]
        for j, host in enumerate(sorted(hosts)[::10]):
            hosts[host].append((spare[j % len(spare)].id,
                                _wwid(10 ** 6 + j)))
        out['setup_seconds'] = time.monotonic() - start
        url = 'rabbit://guest:guest@127.0.0.1:%d/' % relay.port
        conf_path = os.path.join(workdir, 'controller.conf')
        with open(conf_path, 'w') as f:
            f.write(_CONTROLLER.format(
                url='rabbit://guest:guest@127.0.0.1:%d/' % broker.port,
                workdir=workdir, endpoint=proxy.url,
                token=cinder_sim.ADMIN_TOKEN, page_size=args.page_size,
                auth_key=AUTH_KEY))
        spec = os.path.join(workdir, 'agents.json')
        with open(spec, 'w') as f:
            json.dump({'workdir': workdir, 'hosts': hosts,
                       'concurrency': args.concurrency,
                       'agent_conf': _AGENT.format(url=url),
                       'keys': {h: signing.host_key(AUTH_KEY, h)
                                for h in hosts}}, f)
        log = open(os.path.join(workdir, 'children.log'), 'w')
        controller = _Child('fleet-controller', conf_path, log=log)
        agents = _Child('fleet-agents', spec, log=log)
        out['layout_seconds'] = agents.first['layout_seconds']
        for cycle in ('first', 'steady'):
            proxy.reset_stats()
            before = relay.count
            controller.ask('mark')
            listing = controller.ask('refresh')
            if listing['error']:
                raise RuntimeError('controller listing: %s'
                                   % listing['error'])
            passes = agents.ask('cycle')
            stats = controller.ask('stats')
            cinder = proxy.stats()
            out[cycle] = {
                'cinder_requests': cinder.requests,
                'cinder_mb': cinder.response_bytes / 1e6,
                'listing_seconds': listing['seconds'],
                'listing_full': listing['full'],
                'agent_wire_mb': (relay.count - before) / 1e6 / n,
                'controller_cpu_seconds': stats['cpu_seconds'],
                'controller_peak_rss_mb': stats['peak_rss_mb'],
                'rtt_p50': _percentile(passes['rtts'], 0.5),
                'rtt_p99': _percentile(passes['rtts'], 0.99),
                'rpc_calls': passes['calls'],
                'cycle_seconds': listing['seconds'] + passes['seconds'],
                'passes_seconds': passes['seconds'],
                'statuses': passes['statuses'],
                'runs': stats['runs'], 'failed_runs': stats['failed_runs'],
                'findings': stats['findings']}
        out['old'] = _measure_old(conf_path, proxy, args, n)
    finally:
        for child in (agents, controller):
            if child is not None:
                child.close()
        relay.cleanUp()
        proxy.stop()
        cloud.stop()
    return out


def _measure_old(conf_path, proxy, args, n):
    """Today's design: each host lists all of Cinder; measured on a few
    hosts, the same for every host of the cycle.
    """
    samples = []
    for i in range(min(n, args.old_samples)):
        proxy.reset_stats()
        proc = subprocess.run(
            [sys.executable, os.path.join(TOOLS, 'bench.py'), '--child',
             'fleet-old', conf_path, _host(i)], capture_output=True,
            text=True)
        if proc.returncode:
            raise RuntimeError('old-design child: %s' % proc.stderr[-2000:])
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        cinder = proxy.stats()
        result.update(cinder_requests=cinder.requests,
                      cinder_mb=cinder.response_bytes / 1e6)
        samples.append(result)
    mean = {k: statistics.mean(s[k] for s in samples)
            for k in ('seconds', 'cpu_seconds', 'peak_rss_mb',
                      'cinder_requests', 'cinder_mb')}
    return dict(mean, samples=len(samples),
                per_cycle_requests=mean['cinder_requests'] * n,
                per_cycle_mb=mean['cinder_mb'] * n,
                host_cpu_per_cycle=mean['cpu_seconds'] * n)


def summary(r):
    n = r['hosts']
    lines = ['N=%d hosts: %d volumes, %d attached (%.1f per host); cloud in '
             '%.1f s, host roots in %.1f s'
             % (n, r['volumes'], r['attached'], r['attached'] / n,
                r['setup_seconds'], r['layout_seconds'])]
    old = r['old']
    lines.append(
        '  old  (every host lists Cinder; measured on %d host(s), x%d): '
        'cinder-api %d requests %.1f MB per cycle, %.2f MB per host, '
        'host CPU %.2f s each (%.1f s per cycle), peak RSS %.0f MB per '
        'host, listing %.2f s per host'
        % (old['samples'], n, old['per_cycle_requests'], old['per_cycle_mb'],
           old['cinder_mb'], old['cpu_seconds'], old['host_cpu_per_cycle'],
           old['peak_rss_mb'], old['seconds']))
    for cycle in ('first', 'steady'):
        c = r[cycle]
        lines.append(
            '  new  %-6s: cinder-api %d requests %.2f MB per cycle (listing '
            '%s, %.2f s), %.4f MB per agent, controller CPU %.2f s, peak '
            'RSS %.0f MB, RPC round trip p50 %.0f ms p99 %.0f ms (%d '
            'calls), cycle %.1f s; %s'
            % (cycle, c['cinder_requests'], c['cinder_mb'],
               'full' if c['listing_full'] else 'changes',
               c['listing_seconds'], c['agent_wire_mb'],
               c['controller_cpu_seconds'], c['controller_peak_rss_mb'],
               c['rtt_p50'] * 1000, c['rtt_p99'] * 1000, c['rpc_calls'],
               c['cycle_seconds'],
               ', '.join('%s %d' % kv for kv in sorted(c['statuses'].items()))
               ))
    return lines


def per_attachment(results):
    """(bytes per attachment, fixed bytes) an agent's steady cycle costs:
    least squares over the runs' attachments per host.
    """
    points = [(r['attached'] / r['hosts'], r['steady']['agent_wire_mb'] * 1e6)
              for r in results]
    if len(points) < 2:
        x, y = points[0]
        return y / x if x else 0.0, 0.0
    mx = statistics.mean(x for x, _ in points)
    my = statistics.mean(y for _, y in points)
    slope = (sum((x - mx) * (y - my) for x, y in points)
             / sum((x - mx) ** 2 for x, _ in points))
    return slope, my - slope * mx


def projection(results, hosts=1000):
    """The controller's cost for ``hosts`` agents, from the measured
    growth of its CPU and RSS with N (least squares) and the steady
    cycle's Cinder traffic (independent of N).
    """
    def fit(key):
        points = [(r['hosts'], r['steady'][key]) for r in results]
        if len(points) < 2:
            return points[0][1] / points[0][0], 0.0
        mx = statistics.mean(x for x, _ in points)
        my = statistics.mean(y for _, y in points)
        slope = (sum((x - mx) * (y - my) for x, y in points)
                 / sum((x - mx) ** 2 for x, _ in points))
        return slope, my - slope * mx
    cpu_slope, cpu_base = fit('controller_cpu_seconds')
    rss_slope, rss_base = fit('controller_peak_rss_mb')
    last = max(results, key=lambda r: r['hosts'])
    # Passes per second the controller took at the largest N.
    rate = last['hosts'] / last['steady']['passes_seconds']
    return {
        'hosts': hosts,
        'cpu_per_agent': cpu_slope, 'cpu_base': cpu_base,
        'cpu_seconds': cpu_base + cpu_slope * hosts,
        'rss_per_agent_mb': rss_slope, 'rss_base_mb': rss_base,
        'rss_mb': rss_base + rss_slope * hosts,
        'passes_per_second': rate,
        'cycle_seconds': last['steady']['listing_seconds'] + hosts / rate,
        'cinder_mb_new': last['steady']['cinder_mb'],
        'cinder_mb_old': last['old']['cinder_mb'] * hosts}


def projection_lines(p):
    return [
        'projection for %d agents (least squares over the runs): controller '
        'CPU %.3f s per agent + %.2f s = %.1f s per cycle; peak RSS %.2f MB '
        'per agent + %.0f MB = %.0f MB; %.1f reports judged per second, so '
        'a cycle of %.0f s if they all came at once; cinder-api %.2f MB per '
        'cycle (steady, any N) against %.0f MB today'
        % (p['hosts'], p['cpu_per_agent'], p['cpu_base'], p['cpu_seconds'],
           p['rss_per_agent_mb'], p['rss_base_mb'], p['rss_mb'],
           p['passes_per_second'], p['cycle_seconds'], p['cinder_mb_new'],
           p['cinder_mb_old'])]


def markdown(results):
    rows = ['| N | design | cinder-api requests / MB per cycle | MB per '
            'agent | controller CPU s / peak RSS MB per cycle | RPC p50 / '
            'p99 ms | cycle s |', '|' + '---|' * 7]
    for r in results:
        o = r['old']
        rows.append('| %d | old (every host lists) | %d / %.1f | %.2f | - '
                    '(hosts: %.2f s each) | - | %.1f per host |'
                    % (r['hosts'], o['per_cycle_requests'], o['per_cycle_mb'],
                       o['cinder_mb'], o['cpu_seconds'], o['seconds']))
        for cycle in ('first', 'steady'):
            c = r[cycle]
            rows.append('| %d | agents, %s cycle | %d / %.2f | %.4f | %.2f '
                        '/ %.0f | %.0f / %.0f | %.1f |'
                        % (r['hosts'], cycle, c['cinder_requests'],
                           c['cinder_mb'], c['agent_wire_mb'],
                           c['controller_cpu_seconds'],
                           c['controller_peak_rss_mb'], c['rtt_p50'] * 1000,
                           c['rtt_p99'] * 1000, c['cycle_seconds']))
    return '\n'.join(rows)


def plot(results, path):
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot
    ns = [r['hosts'] for r in results]
    fig, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4))
    left.plot(ns, [r['old']['per_cycle_mb'] for r in results], 'o-',
              label='old: every host lists Cinder')
    left.plot(ns, [r['first']['cinder_mb'] for r in results], 's-',
              label='agents: first cycle (full listing)')
    left.plot(ns, [r['steady']['cinder_mb'] for r in results], '^-',
              label='agents: steady cycle')
    left.set_xscale('log')
    left.set_yscale('log')
    left.set_xlabel('hosts (agents)')
    left.set_ylabel('cinder-api MB per cycle')
    left.legend(fontsize=8)
    for cycle, mark in (('first', 's-'), ('steady', '^-')):
        right.plot(ns, [r[cycle]['controller_cpu_seconds'] for r in results],
                   mark, label='controller CPU s, %s cycle' % cycle)
    right.set_xlabel('hosts (agents)')
    right.set_ylabel('controller CPU seconds per cycle')
    wire = right.twinx()
    wire.plot(ns, [r['steady']['agent_wire_mb'] * 1000 for r in results],
              'o:', color='grey', label='KB per agent (wire)')
    wire.set_ylabel('KB per agent per cycle')
    lines = right.get_legend_handles_labels()
    extra = wire.get_legend_handles_labels()
    right.legend(lines[0] + extra[0], lines[1] + extra[1], fontsize=8)
    volumes = results[0]['volumes']
    fig.suptitle('Host agents: %d volumes, %d attached' % (
        volumes, results[0]['attached']))
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def check_sane(results):
    """--quick: every pass recorded, every cycle's Cinder traffic the same
    whatever N, the old design's growing with it.
    """
    for r in results:
        for cycle in ('first', 'steady'):
            c = r[cycle]
            assert c['statuses'] == {'recorded/ok': r['hosts']}, c
            assert c['failed_runs'] == 0, c
        assert r['first']['listing_full'] and not r['steady']['listing_full']
        assert r['steady']['cinder_mb'] < r['old']['per_cycle_mb'], r
    findings = [r['steady']['findings'] for r in results]
    assert all(f >= 1 for f in findings), findings


def main(args):
    sys.path.insert(0, REPO)
    from tests import servers
    ns = [int(x) for x in args.hosts.split(',')]
    if args.quick:
        ns, args.volumes, args.attached = [2, 4], 200, 40
        args.page_size, args.old_samples = 100, 1

    def measure_all():
        broker = servers.RabbitMQ()
        broker.setUp()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                for n in ns:
                    yield measure(n, args, broker, args.workdir or tmp)
        finally:
            broker.cleanUp()
    results = bench_report.report(args, measure_all, summary, plot=plot,
                                  markdown=markdown, check=check_sane,
                                  name='bench --fleet')
    slope, fixed = per_attachment(results)
    print('an agent sends and receives %.0f bytes per attachment of its '
          'host per cycle (+ %.0f bytes), AMQP framing included'
          % (slope, fixed))
    print('\n'.join(projection_lines(projection(results))))
    last = max(results, key=lambda r: r['hosts'])
    old, new = last['old']['per_cycle_mb'], last['steady']['cinder_mb']
    print('fleet: N=%d cinder MB per cycle old=%.2f new=%.2f ratio=%.1f'
          % (last['hosts'], old, new, old / new if new else float('inf')))
    return 0
