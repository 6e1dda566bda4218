/** Reading and checking Kubernetes manifests in tests: YAML without surprises, and no unknown fields. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';

const ROOT = path.resolve(__dirname, '..', '..');
type Obj = Record<string, unknown>;

export function loadYaml(file: string): Obj[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'), { prettyErrors: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  return list.map((d, i) => {
    assert.deepEqual([...d.errors, ...d.warnings].map(String), [], `${path.basename(file)} document ${i}`);
    return d.toJS() as Obj;
  });
}

export /** TypeScript's excess-property check of the manifest against kubernetes-models' declarations. */
function typeProblems(manifest: IDaemonSet): string[] {
  return typeProblemsOf(manifest, 'apps/v1/DaemonSet', 'IDaemonSet');
}

/** the same check for any kind: `module` under kubernetes-models/ and its interface, e.g. ('rbac.authorization.k8s.io/v1/Role', 'IRole') */
export function typeProblemsOf(manifest: unknown, module: string, iface: string): string[] {
  const fileName = path.join(ROOT, '__manifest_fields_check.ts');
  const source = `import type { ${iface} } from 'kubernetes-models/${module}';\nexport const m: ${iface} = ${JSON.stringify(manifest, null, 1)};\n`;
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    target: ts.ScriptTarget.ES2022,
  };
  // The file exists only in memory; module resolution runs from the repository root.
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (f, v, ...rest) => (f === fileName ? ts.createSourceFile(f, source, v) : getSourceFile.call(host, f, v, ...rest));
  host.fileExists = (f) => f === fileName || fileExists.call(host, f);
  host.readFile = (f) => (f === fileName ? source : readFile.call(host, f));
  const program = ts.createProgram([fileName], options, host);
  return ts
    .getPreEmitDiagnostics(program, program.getSourceFile(fileName))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

