import { IncompatibleVersionError } from './errors';

/** Versions we read and answer in, oldest first. The reference takes 0.1.0–1.0.0; we add 1.1.0. */
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = '1.1.0';

export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Semver-ish comparison of dotted numeric versions; non-numeric parts compare as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function requireSupportedVersion(v: unknown): CniVersion {
  if (v === undefined || v === '') {
    throw new IncompatibleVersionError('config has no cniVersion', `supported: ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  if (!isSupportedVersion(v)) {
    throw new IncompatibleVersionError(
      `incompatible CNI version ${JSON.stringify(v)}`,
      `supported: ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  return v;
}

/** GC and STATUS exist from 1.1.0 on; earlier configs get code 1 for them. */
export function requireAtLeast(v: CniVersion, min: CniVersion, verb: string): void {
  if (compareVersions(v, min) < 0) {
    throw new IncompatibleVersionError(`${verb} requires cniVersion ${min} or later, config has ${v}`);
  }
}

export function versionResult(requested: unknown): { cniVersion: string; supportedVersions: string[] } {
  return {
    cniVersion: isSupportedVersion(requested) ? requested : LATEST_VERSION,
    supportedVersions: [...SUPPORTED_VERSIONS],
  };
}
