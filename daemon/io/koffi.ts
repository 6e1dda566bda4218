/**
 * koffi, loaded straight from this platform's `koffi.node`. koffi's own index.js first loads
 * the tools it uses to download prebuilt binaries (https, zlib, crypto, and through them tls,
 * http and streams: 56 Node modules), only to pick the file name: 2 MB of the idle daemon's
 * anonymous memory and ~20 ms of its start (docs/packaging.md, "Daemon memory"). The addon
 * exports the same API (index.js adds only deprecated aliases), so this requires it directly,
 * and falls back to index.js for a platform whose file name it does not know.
 */
import type * as Koffi from 'koffi';

// process.arch → koffi's build directory suffix, for the 64-bit little-endian Linux that
// daemon/io/libc.ts accepts (riscv64: koffi ships the double-float ABI build)
const ARCH: Record<string, string> = { x64: 'x64', arm64: 'arm64', loong64: 'loong64', riscv64: 'riscv64d' };

function load(): typeof Koffi {
  const arch = ARCH[process.arch];
  if (process.platform === 'linux' && arch) {
    for (const libc of ['linux', 'musl']) {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return require(`koffi/build/koffi/${libc}_${arch}/koffi.node`) as typeof Koffi;
      } catch {
        // not installed, or built for the other libc: try the next, then koffi's own loader
      }
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('koffi') as typeof Koffi;
}

export const koffi = load();
