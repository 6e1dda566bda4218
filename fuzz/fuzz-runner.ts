/**
 * The loop shared by the codec fuzz runs: `decode` either returns or throws
 * MalformedPacketError. Failures are counted rather than stopping the run; the first few inputs
 * are printed as hex to reproduce. Returns the exit code: 1 if any case failed.
 */
import fc from 'fast-check';
import { MalformedPacketError } from '../shared/errors';

const MAX_REPORTED = 5;

export function runFuzz(script: string, argv: string[], arb: fc.Arbitrary<Buffer>, decode: (bytes: Buffer) => void): number {
  const cases = argv[0] === undefined ? 1_000_000 : Number(argv[0]);
  const seed = argv[1] === undefined ? Date.now() ^ (Math.random() * 0x100000000) : Number(argv[1]);
  if (!Number.isInteger(cases) || cases <= 0 || !Number.isInteger(seed)) {
    process.stderr.write(`usage: ${script} [cases] [seed]\n`);
    return 2;
  }

  let failures = 0;
  const reported: string[] = [];
  const started = process.hrtime.bigint();
  const result = fc.check(
    fc.property(arb, (bytes) => {
      try {
        decode(bytes);
      } catch (err) {
        if (!(err instanceof MalformedPacketError)) {
          failures++;
          if (reported.length < MAX_REPORTED) reported.push(`${String(err)}\n  input: ${bytes.toString('hex')}`);
        }
      }
      return true;
    }),
    { numRuns: cases, seed },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  for (const r of reported) process.stderr.write(`FAILURE ${r}\n`);
  if (result.failed) process.stderr.write(`fast-check itself failed: ${String(result.errorInstance)}\n`);
  process.stdout.write(`seed ${seed}\n`);
  process.stdout.write(`${result.numRuns} cases, ${failures} failures, ${seconds.toFixed(1)} s\n`);
  return failures === 0 && !result.failed && result.numRuns === cases ? 0 : 1;
}
