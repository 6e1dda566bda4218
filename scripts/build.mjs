// Bundles each executable with esbuild: one file per entry, so a CNI call loads one script
// (no module resolution walk) and the daemon's code is only read by `dhcp daemon`.
import { build } from 'esbuild';
import { chmodSync, cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

// An absolute node (runtimes exec plugins without PATH), started through env(1) so that
// NODE_EXTRA_CA_CERTS, which costs 50-90 ms per start and which a plugin that makes no TLS
// connection never needs, and NODE_OPTIONS, which a runtime's environment could abuse, are
// cleared before node reads them (docs/packaging.md has the measurements).
const node = process.env.CNI_DHCP_NODE ?? process.execPath;
// V8 flags for every process an executable starts, the daemons (`dhcp daemon`, `whereabouts
// daemon`) above all: new space capped at 1 MB per semi-space instead of growing to 16 MB, which
// a daemon holding 1000 leases otherwise keeps resident (docs/packaging.md, "Daemon memory").
// Only a command-line flag sizes the heap: v8.setFlagsFromString runs after it exists.
// scripts/install.sh copies these flags from this line into its launchers; the test and bench
// harnesses that start a daemon with `node FILE` read them from here too (test/helpers/lab.ts).
const nodeFlags = ['--max-semi-space-size=1'];
const shebang = `#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS -u NODE_OPTIONS ${[node, ...nodeFlags].join(' ')}`;
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  external: ['koffi'],
};
const entries = [
  // the CNI plugins are minified: every call parses the whole file (docs/packaging.md)
  { in: 'plugin/main.ts', out: 'dist/cni/dhcp', exec: true, minify: true },
  { in: 'static/main.ts', out: 'dist/cni/static', exec: true, minify: true },
  { in: 'cli/main.ts', out: 'dist/bin/cni-dhcp', exec: true },
  // prom-client is a bundle of its own, read only by a daemon started with --metrics-address
  // (daemon/metrics.ts): in daemon.js it was half the source and ~0.9 MB of idle memory
  { in: 'daemon/main.ts', out: 'dist/lib/daemon.js', exec: false, external: ['prom-client'] },
  { in: createRequire(import.meta.url).resolve('prom-client'), out: 'dist/lib/prom-client.js', exec: false },
  { in: 'plugin/whereabouts-main.ts', out: 'dist/cni/whereabouts', exec: true, minify: true },
  // @kubernetes/client-node is a bundle of its own too, read only when a network with
  // datastore "kubernetes" first reaches the daemon (daemon/whereabouts/kubernetes-client.ts)
  { in: 'daemon/whereabouts/main.ts', out: 'dist/lib/whereabouts-daemon.js', exec: false, external: ['@kubernetes/client-node'] },
  { in: createRequire(import.meta.url).resolve('@kubernetes/client-node'), out: 'dist/lib/kubernetes-client.js', exec: false, minify: true },
];

// Build beside dist/ and swap directories at the end, so a runtime exec'ing dist/cni/dhcp
// during a rebuild finds the old tree or the new one, never a missing file.
const staging = 'dist.staging';
rmSync(staging, { recursive: true, force: true });
for (const e of entries) {
  if (!existsSync(e.in)) continue;
  const out = e.out.replace(/^dist\//, `${staging}/`);
  mkdirSync(out.slice(0, out.lastIndexOf('/')), { recursive: true });
  await build({
    ...common,
    entryPoints: [e.in],
    outfile: out,
    minify: e.minify === true,
    external: [...common.external, ...(e.external ?? [])],
    banner: e.exec ? { js: shebang } : undefined,
    // the shim resolves the daemon bundle at run time; keep that require dynamic
    logOverride: { 'unsupported-require-call': 'silent' },
  });
  if (e.exec) chmodSync(out, 0o755);
  console.log(`built ${e.out}`);
}
// etcd3 loads its .proto files at run time from `${__dirname}/../proto`; in a bundle under
// dist/lib or dist/cni that is dist/proto
cpSync('node_modules/etcd3/proto', `${staging}/proto`, { recursive: true });
rmSync('dist.old', { recursive: true, force: true });
if (existsSync('dist')) renameSync('dist', 'dist.old');
renameSync(staging, 'dist');
rmSync('dist.old', { recursive: true, force: true });
