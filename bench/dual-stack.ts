/**
 * Dual-stack ADD through bridge beside IPv4-only ADD, and the reference's IPv4-only ADD, in one
 * run: `npx tsx bench/dual-stack.ts [rounds, default 30]` (root; dnsmasq, containernetworking-plugins,
 * a built dist/). One dnsmasq on the lab segment serves DHCPv4, DHCPv6 (a /64 range) and RAs; our
 * daemon and the reference daemon run side by side in the node namespace, each behind its own
 * CNI_PATH. Every round times one bridge ADD per mode, in an order rotated each round, each in a
 * fresh pod; the pods are deleted (IPAM DEL first, then the bridge DEL) between rounds, untimed.
 * Prints p50/p95/min/max per mode and the load average.
 *
 * `npx tsx bench/dual-stack.ts 0 1000` skips the rounds and instead holds 1000 dual-stack leases
 * (pods on veths, ADD through the dhcp shim, 20 at a time), then reads the daemon's RSS and its
 * CPU over 60 s of holding them (dnsmasq leases of 1 h: no renewals in the window).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../test/helpers/lab';
import { startProcess, waitFor } from '../test/helpers/sh';
import { CLK_TCK, REF_DHCP, sampleProc, timed } from './lab-extra';
import { p50, p95, pool, sleep } from './stats';

const PREFIX = '2001:db8:d6b::';
type Mode = 'ours v4-only' | 'ours dual-stack' | 'reference v4-only';
const MODES: Mode[] = ['ours v4-only', 'ours dual-stack', 'reference v4-only'];

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 30);
  const hold = Number(process.argv[3] ?? 0);
  const lab = await Lab.create('d6bn');
  try {
    await lab.inNs(lab.serverNs, 'sysctl', '-qw', 'net.ipv6.conf.srv0.accept_dad=0');
    await lab.inNs(lab.serverNs, 'ip', 'addr', 'add', `${PREFIX}1/64`, 'dev', 'srv0', 'nodad');
    await lab.startDnsmasq({ leaseTime: '1h', extra: [`--dhcp-range=${PREFIX}100,${PREFIX}fff,64,1h`, '--enable-ra'] });
    await lab.startDaemon();
    // the reference daemon beside ours, with its own socket and its own CNI_PATH holding its shim
    const refSock = path.join(lab.dir, 'ref', 'dhcp.sock');
    fs.mkdirSync(path.dirname(refSock), { recursive: true });
    const ref = startProcess('ip', ['netns', 'exec', lab.nodeNs, REF_DHCP, 'daemon', '-socketpath', refSock], path.join(lab.dir, 'ref-daemon.log'));
    lab.track(ref);
    await waitFor('the reference daemon socket', () => (fs.existsSync(refSock) ? true : undefined), 10_000);
    const refPath = path.join(lab.dir, 'ref-bin');
    fs.mkdirSync(refPath);
    for (const p of ['bridge', 'loopback']) fs.symlinkSync(path.join('/usr/lib/cni', p), path.join(refPath, p));
    fs.symlinkSync(REF_DHCP, path.join(refPath, 'dhcp'));

    const config = (mode: Mode) => {
      if (mode === 'reference v4-only') return { ...lab.bridgeConfig('1.0.0'), ipam: { type: 'dhcp', daemonSocketPath: refSock } };
      return lab.bridgeConfig('1.0.0', mode === 'ours dual-stack' ? { ipFamilies: ['ipv4', 'ipv6'] } : {});
    };
    const exec = (mode: Mode, command: string, pod: string, cfg: Record<string, unknown>, plugin = 'bridge') => timed('ip', ['netns', 'exec', lab.nodeNs, path.join(mode === 'reference v4-only' ? refPath : lab.cniPath, plugin)], {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_PATH: mode === 'reference v4-only' ? refPath : lab.cniPath,
      CNI_CONTAINERID: pod, CNI_NETNS: lab.podPath(pod), CNI_IFNAME: 'eth1',
    }, JSON.stringify(cfg));

    const ms = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
    const loads: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = MODES.map((_, i) => MODES[(i + r) % MODES.length]!);
      for (const mode of order) {
        const pod = await lab.addPod();
        const cfg = config(mode);
        const res = await exec(mode, 'ADD', pod, cfg);
        if (res.code !== 0) throw new Error(`${mode} ADD failed: ${res.stdout} ${res.stderr}`);
        ms.get(mode)!.push(res.ms);
        await exec(mode, 'DEL', pod, { cniVersion: '1.0.0', name: cfg.name, ipam: cfg.ipam }, 'dhcp');
        await exec(mode, 'DEL', pod, cfg);
        await lab.deletePod(pod);
      }
      loads.push(os.loadavg()[0]!);
    }
    const fmt = (v: number) => v.toFixed(1);
    if (hold > 0) await holdLeases(lab, hold);
    if (rounds === 0) return;
    process.stdout.write(`${rounds} rounds, load average ${fmt(Math.min(...loads))}-${fmt(Math.max(...loads))} (1 min), ${os.cpus().length} cores\n`);
    process.stdout.write('| mode | p50 ms | p95 ms | min | max |\n|---|---|---|---|---|\n');
    for (const m of MODES) {
      const v = ms.get(m)!;
      process.stdout.write(`| ${m} | ${fmt(p50(v))} | ${fmt(p95(v))} | ${fmt(Math.min(...v))} | ${fmt(Math.max(...v))} |\n`);
    }
  } finally {
    await lab.cleanup();
  }
}

/** `n` dual-stack leases through the dhcp shim, then the daemon's RSS and CPU holding them. */
async function holdLeases(lab: Lab, n: number): Promise<void> {
  const pid = lab.daemon!.pid!;
  const idle = sampleProc(pid);
  const pods: string[] = [];
  for (let i = 0; i < n; i++) {
    const pod = await lab.addPod();
    await lab.plugVeth(pod);
    pods.push(pod);
  }
  const cfg = { cniVersion: '1.0.0', name: `lab-${lab.id}`, ipam: lab.ipamConfig({ ipFamilies: ['ipv4', 'ipv6'] }) };
  const t0 = Date.now();
  const codes = await pool(pods, 20, async (pod) => (await lab.cni({ plugin: 'dhcp', command: 'ADD', pod, config: cfg })).code);
  const fillS = (Date.now() - t0) / 1000;
  const failed = codes.filter((c) => c !== 0).length;
  await sleep(5000);
  const full = sampleProc(pid);
  await sleep(60_000);
  const after = sampleProc(pid);
  const cpuPct = ((after.cpuTicks - full.cpuTicks) / CLK_TCK / 60) * 100;
  process.stdout.write(`${n} dual-stack leases (${failed} ADDs failed) filled in ${fillS.toFixed(0)} s, 20 at a time; load ${os.loadavg()[0]!.toFixed(1)}\n`);
  process.stdout.write(`daemon RSS idle ${(idle.rssKb / 1024).toFixed(1)} MB, holding ${n}: ${(full.rssKb / 1024).toFixed(1)} MB (anon ${(full.rssAnonKb / 1024).toFixed(1)} MB, PSS ${(full.pssKb / 1024).toFixed(1)} MB), fds ${full.fds}; CPU over 60 s holding them: ${cpuPct.toFixed(2)} %\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
