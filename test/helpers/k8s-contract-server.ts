/**
 * A contract-test API server: a small HTTPS server (its own throwaway CA) that speaks the part of the Kubernetes API
 * the `kubernetes` store and the pod lister rely on, so that @kubernetes/client-node talks to
 * it unchanged, through a kubeconfig, as it would to a kube-apiserver. No kube-apiserver can
 * run on these machines; this server is what the store's tests run against, and it enforces
 * exactly these semantics:
 *
 * - custom resources of the CRDs in deploy/whereabouts/crds/ (namespaced): create (409
 *   AlreadyExists), get (404 NotFound), list (limit/continue, one resourceVersion), update
 *   with metadata.resourceVersion (409 Conflict when stale, 422 when missing), JSON Patch
 *   (RFC 6902 with `test`: 422 on a failed test or a bad path; 409 when the patched
 *   resourceVersion is not the current one), delete with preconditions (409 on a mismatch),
 *   watch (?watch=1: one JSON event per line, from a resourceVersion or from ADDED for all);
 * - the CRD schema's structural pruning of unknown fields, and its `required` and `type`;
 * - one resourceVersion counter for everything, strictly increasing;
 * - core/v1 Pods from an in-memory set the test controls (setPod/deletePod): list in all
 *   namespaces or one (fieldSelector spec.nodeName=…, metadata.name=…), get, watch;
 * - a bearer token when one is set (401 otherwise).
 *
 * Its limits (what it cannot prove) are in docs/whereabouts-kubernetes.md: no etcd below it,
 * no admission, no API priority and fairness, no request timeouts of its own, no merge or
 * apply patches, watch without bookmarks and no 410 Gone on compaction, and it is evanphx's
 * JSON Patch only where RFC 6902 says the same (a `test` of a missing path fails here).
 */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { makeCerts, type TestCerts } from './tls-certs';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

interface Kind {
  group: string;
  version: string;
  plural: string;
  kind: string;
  listKind: string;
  schema: Schema;
}

interface Stored {
  obj: Obj;
}

interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  key: string;
  obj: Obj;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const ROOT = path.resolve(__dirname, '..', '..');
export const CRD_DIR = path.join(ROOT, 'deploy', 'whereabouts', 'crds');

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** ObjectMeta fields a real server keeps; anything else under metadata is dropped */
const META_FIELDS = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'generateName', 'managedFields']);

/** structural pruning as the API server applies a CRD's schema, plus `required` and `type` */
export function pruneAndValidate(value: Json, schema: Schema, at: string, problems: string[]): Json {
  if (schema.type === 'object' || schema.properties || schema.additionalProperties) {
    if (!isObj(value)) {
      problems.push(`${at}: Invalid value: must be of type object`);
      return value;
    }
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) {
      const sub = schema.properties?.[k] ?? (isObj(schema.additionalProperties) ? schema.additionalProperties : undefined);
      if (sub) out[k] = pruneAndValidate(v, sub, `${at}.${k}`, problems);
      else if (schema['x-kubernetes-preserve-unknown-fields'] || schema.additionalProperties === true) out[k] = v;
    }
    for (const r of schema.required ?? []) if (!(r in out)) problems.push(`${at}.${r}: Required value`);
    return out;
  }
  if (schema.type === 'string' && typeof value !== 'string') problems.push(`${at}: Invalid value: must be of type string`);
  if (schema.type === 'array') {
    if (!Array.isArray(value)) problems.push(`${at}: Invalid value: must be of type array`);
    else if (schema.items) return value.map((v, i) => pruneAndValidate(v, schema.items!, `${at}[${i}]`, problems));
  }
  return value;
}

// ---- JSON Patch (RFC 6902) ----
function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new HttpError(422, 'Invalid', `bad JSON pointer ${JSON.stringify(p)}`);
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function walk(doc: Json, parts: string[], p: string): { parent: Json; key: string } {
  let cur: Json = doc;
  for (const k of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(k)] as Json;
    else if (isObj(cur)) cur = cur[k] as Json;
    else cur = undefined as unknown as Json;
    if (cur === undefined) throw new HttpError(422, 'Invalid', `the path ${JSON.stringify(p)} does not exist`);
  }
  return { parent: cur, key: parts[parts.length - 1]! };
}

function getAt(doc: Json, p: string): Json | undefined {
  let cur: Json | undefined = doc;
  for (const k of parsePointer(p)) {
    if (Array.isArray(cur)) cur = cur[Number(k)];
    else if (isObj(cur)) cur = Object.prototype.hasOwnProperty.call(cur, k) ? cur[k] : undefined;
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

function canonical(v: Json | undefined): string {
  if (isObj(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return JSON.stringify(v);
}

export function applyJsonPatch(input: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw new HttpError(400, 'BadRequest', 'a JSON Patch is an array of operations');
  let doc = clone(input);
  for (const raw of ops) {
    if (!isObj(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw new HttpError(400, 'BadRequest', `bad operation ${JSON.stringify(raw)}`);
    const { op, path: p } = raw;
    const parts = parsePointer(p);
    const put = (value: Json, replace: boolean) => {
      if (parts.length === 0) {
        doc = clone(value);
        return;
      }
      const { parent, key } = walk(doc, parts, p);
      if (Array.isArray(parent)) {
        const i = key === '-' ? parent.length : Number(key);
        if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new HttpError(422, 'Invalid', `index ${key} out of range at ${p}`);
        if (replace) parent[i] = clone(value);
        else parent.splice(i, 0, clone(value));
      } else if (isObj(parent)) {
        if (replace && !(key in parent)) throw new HttpError(422, 'Invalid', `replace: the path ${JSON.stringify(p)} does not exist`);
        parent[key] = clone(value);
      } else throw new HttpError(422, 'Invalid', `the path ${JSON.stringify(p)} does not exist`);
    };
    const remove = (): Json => {
      const { parent, key } = walk(doc, parts, p);
      if (Array.isArray(parent)) {
        const i = Number(key);
        if (!(i >= 0 && i < parent.length)) throw new HttpError(422, 'Invalid', `remove: no index ${key} at ${p}`);
        return parent.splice(i, 1)[0] as Json;
      }
      if (!isObj(parent) || !(key in parent)) throw new HttpError(422, 'Invalid', `remove: the path ${JSON.stringify(p)} does not exist`);
      const v = parent[key] as Json;
      delete parent[key];
      return v;
    };
    switch (op) {
      case 'add':
        put(raw.value as Json, false);
        break;
      case 'replace':
        put(raw.value as Json, true);
        break;
      case 'remove':
        remove();
        break;
      case 'test': {
        const have = getAt(doc, p);
        if (have === undefined || canonical(have) !== canonical(raw.value as Json)) {
          throw new HttpError(422, 'Invalid', `the test operation at ${p} failed: have ${JSON.stringify(have ?? null)}, want ${JSON.stringify(raw.value)}`);
        }
        break;
      }
      case 'move':
      case 'copy': {
        if (typeof raw.from !== 'string') throw new HttpError(400, 'BadRequest', `${op} needs from`);
        const v = getAt(doc, raw.from);
        if (v === undefined) throw new HttpError(422, 'Invalid', `${op}: the path ${raw.from} does not exist`);
        if (op === 'move') {
          const fparts = parsePointer(raw.from);
          const { parent, key } = walk(doc, fparts, raw.from);
          if (isObj(parent)) delete parent[key];
          else if (Array.isArray(parent)) parent.splice(Number(key), 1);
        }
        put(clone(v), false);
        break;
      }
      default:
        throw new HttpError(400, 'BadRequest', `unknown operation ${op}`);
    }
  }
  return doc;
}

export interface ContractServerOptions {
  /** require `Authorization: Bearer <token>` */
  token?: string;
  /** runs before every request is handled (a test delays or inspects requests here) */
  onRequest?: (req: { method: string; path: string; body: string }) => Promise<void> | void;
  /** true: the request is carried out, then the connection is cut before the answer (a lost answer) */
  dropAnswer?: (req: { method: string; path: string; body: string }) => boolean;
}

export class K8sContractServer {
  private readonly server: https.Server;
  private readonly dropping = new WeakSet<http.ServerResponse>();
  private readonly certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'k8s-contract-'));
  readonly certs: TestCerts;
  private readonly kinds = new Map<string, Kind>();
  private readonly store = new Map<string, Stored>();
  private readonly pods = new Map<string, Obj>();
  private readonly log: WatchEvent[] = [];
  private readonly watchers = new Set<{ prefix: string; filter: (o: Obj) => boolean; res: http.ServerResponse }>();
  private rv = 1;
  url = '';
  /** requests served, by method and kind (tests read it) */
  readonly counts = new Map<string, number>();

  private constructor(private readonly opts: ContractServerOptions) {
    for (const f of fs.readdirSync(CRD_DIR).filter((n) => n.endsWith('.yaml')).sort()) {
      for (const d of parseAllDocuments(fs.readFileSync(path.join(CRD_DIR, f), 'utf8'))) {
        const crd = d.toJS() as { kind: string; spec: { group: string; names: { plural: string; kind: string; listKind: string }; versions: Array<{ name: string; schema: { openAPIV3Schema: Schema } }> } };
        if (crd.kind !== 'CustomResourceDefinition') continue;
        for (const v of crd.spec.versions) {
          this.kinds.set(`${crd.spec.group}/${v.name}/${crd.spec.names.plural}`, {
            group: crd.spec.group,
            version: v.name,
            plural: crd.spec.names.plural,
            kind: crd.spec.names.kind,
            listKind: crd.spec.names.listKind,
            schema: v.schema.openAPIV3Schema,
          });
        }
      }
    }
    this.certs = makeCerts(this.certDir);
    this.server = https.createServer({ cert: fs.readFileSync(this.certs.serverCert), key: fs.readFileSync(this.certs.serverKey) }, (req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
  }

  static async start(opts: ContractServerOptions = {}, port = 0): Promise<K8sContractServer> {
    const s = new K8sContractServer(opts);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(port, '127.0.0.1', () => resolve());
    });
    s.url = `https://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** a kubeconfig pointing at this server (namespace in the context when given) */
  writeKubeconfig(file: string, namespace?: string): string {
    const ctx: Record<string, string> = { cluster: 'contract', user: 'daemon' };
    if (namespace) ctx.namespace = namespace;
    const kc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'contract', cluster: { server: this.url, 'certificate-authority': this.certs.ca } }],
      users: [{ name: 'daemon', user: this.opts.token ? { token: this.opts.token } : {} }],
      contexts: [{ name: 'contract', context: ctx }],
      'current-context': 'contract',
    };
    fs.writeFileSync(file, JSON.stringify(kc, null, 2));
    return file;
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    fs.rmSync(this.certDir, { recursive: true, force: true });
  }

  // ---- what tests control and inspect ----
  /** adds or replaces a pod (uid and creationTimestamp are filled in when absent) */
  setPod(pod: Obj): Obj {
    const meta = pod.metadata as Obj;
    const key = `${String(meta.namespace)}/${String(meta.name)}`;
    const prev = this.pods.get(key);
    const stored = clone(pod);
    const m = stored.metadata as Obj;
    m.uid ??= randomUUID();
    m.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    m.resourceVersion = String(++this.rv);
    this.pods.set(key, stored);
    this.emit(`pods/${key}`, prev ? 'MODIFIED' : 'ADDED', stored);
    return clone(stored);
  }

  deletePod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const prev = this.pods.get(key);
    if (!prev) return;
    this.pods.delete(key);
    (prev.metadata as Obj).resourceVersion = String(++this.rv);
    this.emit(`pods/${key}`, 'DELETED', prev);
  }

  /** the stored object, or undefined */
  object(plural: string, namespace: string, name: string): Obj | undefined {
    const s = this.store.get(`${plural}/${namespace}/${name}`);
    return s ? clone(s.obj) : undefined;
  }

  objects(plural: string, namespace?: string): Obj[] {
    const prefix = namespace === undefined ? `${plural}/` : `${plural}/${namespace}/`;
    return [...this.store.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([, s]) => clone(s.obj));
  }

  /** writes an object as another client (Whereabouts itself) would, through the same rules */
  put(plural: string, obj: Obj): Obj {
    const kind = [...this.kinds.values()].find((k) => k.plural === plural)!;
    const meta = obj.metadata as Obj;
    return this.create(kind, String(meta.namespace), clone(obj));
  }

  // ---- HTTP ----
  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      const seen = { method: req.method ?? 'GET', path: url.pathname + url.search, body };
      await this.opts.onRequest?.(seen);
      if (this.opts.dropAnswer?.(seen)) this.dropping.add(res);
      if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) throw new HttpError(401, 'Unauthorized', 'Unauthorized');
      this.route(req.method ?? 'GET', url, body, req.headers['content-type'] ?? '', res);
    } catch (err) {
      if (res.headersSent) {
        res.end();
        return;
      }
      const e = err instanceof HttpError ? err : new HttpError(500, 'InternalError', (err as Error).message);
      this.send(res, e.code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: e.message, reason: e.reason, code: e.code });
    }
  }

  private send(res: http.ServerResponse, code: number, obj: unknown): void {
    if (this.dropping.has(res)) {
      res.socket?.destroy();
      return;
    }
    const text = JSON.stringify(obj);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private count(what: string): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
  }

  private route(method: string, url: URL, body: string, contentType: string, res: http.ServerResponse): void {
    const p = url.pathname.split('/').filter((s) => s !== '');
    const q = url.searchParams;
    const watching = q.get('watch') === '1' || q.get('watch') === 'true';
    // core/v1 pods
    if (p[0] === 'api' && p[1] === 'v1') {
      if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', 'pods are read-only here');
      let ns: string | undefined;
      let name: string | undefined;
      if (p[2] === 'pods' && p.length === 3) ns = undefined;
      else if (p[2] === 'namespaces' && p[4] === 'pods' && (p.length === 5 || p.length === 6)) {
        ns = p[3];
        name = p[5];
      } else throw new HttpError(404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);
      this.count(`${watching ? 'WATCH' : name ? 'GET' : 'LIST'} pods`);
      const filter = selector(q.get('fieldSelector'));
      if (name !== undefined) {
        const pod = this.pods.get(`${ns}/${name}`);
        if (!pod) throw new HttpError(404, 'NotFound', `pods "${name}" not found`);
        return this.send(res, 200, pod);
      }
      const prefix = ns === undefined ? 'pods/' : `pods/${ns}/`;
      const items = [...this.pods.entries()].filter(([k]) => `pods/${k}`.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v).filter(filter);
      if (watching) return this.watch(prefix, filter, items, q, res);
      const pg = this.page(items, q);
      return this.send(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: pg.meta, items: pg.items });
    }
    // custom resources: /apis/<group>/<version>/namespaces/<ns>/<plural>[/<name>]
    if (p[0] !== 'apis' || p[3] !== 'namespaces' || p.length < 6 || p.length > 7) throw new HttpError(404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);
    const kind = this.kinds.get(`${p[1]}/${p[2]}/${p[5]}`);
    if (!kind) throw new HttpError(404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);
    const ns = p[4]!;
    const name = p[6];
    const parse = (): Obj => {
      try {
        const v = JSON.parse(body) as unknown;
        if (!isObj(v)) throw new Error('not an object');
        return v;
      } catch (err) {
        throw new HttpError(400, 'BadRequest', `the body is not a JSON object: ${(err as Error).message}`);
      }
    };
    this.count(`${watching ? 'WATCH' : method === 'GET' && !name ? 'LIST' : method} ${kind.plural}`);
    if (method === 'GET' && name === undefined) {
      const prefix = `${kind.plural}/${ns}/`;
      const all = [...this.store.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([, s]) => s.obj);
      if (watching) return this.watch(prefix, () => true, all, q, res);
      const pg = this.page(all, q);
      return this.send(res, 200, { apiVersion: `${kind.group}/${kind.version}`, kind: kind.listKind, metadata: pg.meta, items: pg.items });
    }
    if (method === 'POST' && name === undefined) return this.send(res, 201, this.create(kind, ns, parse()));
    if (name === undefined) throw new HttpError(405, 'MethodNotAllowed', `${method} needs a name`);
    const key = `${kind.plural}/${ns}/${name}`;
    const cur = this.store.get(key);
    if (method === 'GET') {
      if (!cur) throw new HttpError(404, 'NotFound', `${kind.plural}.${kind.group} "${name}" not found`);
      return this.send(res, 200, cur.obj);
    }
    if (method === 'DELETE') {
      if (!cur) throw new HttpError(404, 'NotFound', `${kind.plural}.${kind.group} "${name}" not found`);
      const opts = body.trim() === '' ? {} : parse();
      const pre = isObj(opts.preconditions) ? opts.preconditions : {};
      const meta = cur.obj.metadata as Obj;
      if (typeof pre.uid === 'string' && pre.uid !== meta.uid) throw new HttpError(409, 'Conflict', `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(meta.uid)}`);
      if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== meta.resourceVersion) {
        throw new HttpError(409, 'Conflict', `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${String(meta.resourceVersion)}`);
      }
      this.store.delete(key);
      const gone = clone(cur.obj);
      (gone.metadata as Obj).resourceVersion = String(++this.rv);
      this.emit(key, 'DELETED', gone);
      return this.send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: kind.group, kind: kind.plural, uid: meta.uid } });
    }
    if (!cur) throw new HttpError(404, 'NotFound', `${kind.plural}.${kind.group} "${name}" not found`);
    let next: Obj;
    if (method === 'PUT') {
      next = parse();
      const rv = (next.metadata as Obj | undefined)?.resourceVersion;
      if (typeof rv !== 'string' || rv === '') throw new HttpError(422, 'Invalid', `${kind.kind}.${kind.group} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`);
    } else if (method === 'PATCH') {
      if (!contentType.startsWith('application/json-patch+json')) throw new HttpError(415, 'UnsupportedMediaType', `only application/json-patch+json is served here, not ${contentType}`);
      let ops: unknown;
      try {
        ops = JSON.parse(body);
      } catch {
        throw new HttpError(400, 'BadRequest', 'the patch is not JSON');
      }
      const patched = applyJsonPatch(cur.obj, ops);
      if (!isObj(patched)) throw new HttpError(422, 'Invalid', 'the patched object is not an object');
      next = patched;
    } else throw new HttpError(405, 'MethodNotAllowed', method);
    return this.send(res, 200, this.update(kind, ns, name, cur, next));
  }

  /** limit/continue; the continue token is an index into the name-sorted list (a real server's is opaque) */
  private page(all: Obj[], q: URLSearchParams): { items: Obj[]; meta: Obj } {
    const from = Number(q.get('continue') || '0');
    const limit = Number(q.get('limit') || '0');
    const items = limit > 0 ? all.slice(from, from + limit) : all.slice(from);
    const meta: Obj = { resourceVersion: String(this.rv) };
    if (limit > 0 && from + limit < all.length) meta.continue = String(from + limit);
    return { items, meta };
  }

  private admit(kind: Kind, obj: Obj, name: string): Obj {
    const problems: string[] = [];
    const { metadata, ...rest } = obj;
    const pruned = pruneAndValidate(rest as Json, { ...kind.schema, properties: { ...kind.schema.properties } }, kind.kind, problems) as Obj;
    if (problems.length > 0) throw new HttpError(422, 'Invalid', `${kind.kind}.${kind.group} "${name}" is invalid: ${problems.join(', ')}`);
    const meta: Obj = {};
    for (const [k, v] of Object.entries(isObj(metadata) ? metadata : {})) if (META_FIELDS.has(k)) meta[k] = v;
    const ann = meta.annotations;
    if (ann !== undefined) {
      if (!isObj(ann) || Object.values(ann).some((v) => typeof v !== 'string')) throw new HttpError(422, 'Invalid', `metadata.annotations: Invalid value: must be a map of strings`);
      const size = Object.entries(ann).reduce((n, [k, v]) => n + k.length + String(v).length, 0);
      if (size > 256 * 1024) throw new HttpError(422, 'Invalid', `metadata.annotations: Too long: must have at most 262144 bytes`);
    }
    return { ...pruned, apiVersion: `${kind.group}/${kind.version}`, kind: kind.kind, metadata: meta };
  }

  private create(kind: Kind, ns: string, obj: Obj): Obj {
    const meta = isObj(obj.metadata) ? obj.metadata : {};
    const name = meta.name;
    if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
      throw new HttpError(422, 'Invalid', `${kind.kind}.${kind.group} ${JSON.stringify(name)} is invalid: metadata.name: Invalid value: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
    }
    if (meta.namespace !== undefined && meta.namespace !== ns) throw new HttpError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    const key = `${kind.plural}/${ns}/${name}`;
    if (this.store.has(key)) throw new HttpError(409, 'AlreadyExists', `${kind.plural}.${kind.group} "${name}" already exists`);
    const stored = this.admit(kind, obj, name);
    const m = stored.metadata as Obj;
    m.namespace = ns;
    m.uid = randomUUID();
    m.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    m.generation = 1;
    m.resourceVersion = String(++this.rv);
    this.store.set(key, { obj: stored });
    this.emit(key, 'ADDED', stored);
    return clone(stored);
  }

  private update(kind: Kind, ns: string, name: string, cur: Stored, next: Obj): Obj {
    const curMeta = cur.obj.metadata as Obj;
    const nextMeta = isObj(next.metadata) ? next.metadata : {};
    if (nextMeta.resourceVersion !== undefined && nextMeta.resourceVersion !== curMeta.resourceVersion) {
      throw new HttpError(409, 'Conflict', `Operation cannot be fulfilled on ${kind.plural}.${kind.group} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    if (nextMeta.name !== undefined && nextMeta.name !== name) throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    const stored = this.admit(kind, next, name);
    const m = stored.metadata as Obj;
    // server-owned fields stay the server's
    for (const k of ['uid', 'creationTimestamp', 'generation'] as const) m[k] = curMeta[k] as Json;
    m.name = name;
    m.namespace = ns;
    m.resourceVersion = String(++this.rv);
    cur.obj = stored;
    this.emit(`${kind.plural}/${ns}/${name}`, 'MODIFIED', stored);
    return clone(stored);
  }

  private emit(key: string, type: WatchEvent['type'], obj: Obj): void {
    const ev: WatchEvent = { rv: this.rv, type, key, obj: clone(obj) };
    this.log.push(ev);
    for (const w of this.watchers) if (key.startsWith(w.prefix) && w.filter(ev.obj)) w.res.write(`${JSON.stringify({ type, object: ev.obj })}\n`);
  }

  private watch(prefix: string, filter: (o: Obj) => boolean, current: Obj[], q: URLSearchParams, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const from = q.get('resourceVersion');
    if (from === null || from === '' || from === '0') for (const o of current) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
    else for (const ev of this.log) if (ev.rv > Number(from) && ev.key.startsWith(prefix) && filter(ev.obj)) res.write(`${JSON.stringify({ type: ev.type, object: ev.obj })}\n`);
    const w = { prefix, filter, res };
    this.watchers.add(w);
    const timeout = Number(q.get('timeoutSeconds') || '0');
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on('close', () => {
      clearTimeout(timer);
      this.watchers.delete(w);
    });
  }
}

/** `a.b=c,d!=e` field selectors on dotted paths */
function selector(text: string | null): (o: Obj) => boolean {
  if (!text) return () => true;
  const terms = text.split(',').map((t) => {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(t.trim());
    if (!m) throw new HttpError(400, 'BadRequest', `bad field selector ${JSON.stringify(t)}`);
    return { path: m[1]!.split('.'), neg: m[2] === '!=', value: m[3]! };
  });
  return (o) =>
    terms.every((t) => {
      let cur: Json | undefined = o;
      for (const k of t.path) cur = isObj(cur) ? cur[k] : undefined;
      const v = cur === undefined || cur === null ? '' : String(cur);
      return t.neg ? v !== t.value : v === t.value;
    });
}
