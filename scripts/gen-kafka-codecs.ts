/**
 * Generates lib/kafka/protocol/generated/ from the tables in lib/kafka/protocol/apis/: for each API a
 * TypeScript interface per request, response and nested struct, and a decoder and an encoder for
 * each of the request and the response (the server decodes requests and encodes responses; tests
 * and load generators do the reverse). The generated files are committed; a test regenerates them
 * and fails if they differ, so a table edited without rerunning this cannot land.
 *
 *   node --import tsx scripts/gen-kafka-codecs.ts          writes the files
 *   node --import tsx scripts/gen-kafka-codecs.ts --check  exits 1 if any file is out of date
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ALL_APIS } from '../lib/kafka/protocol/apis';
import { type ApiSchema, type FieldSpec, type VersionRange, intersect, isEmpty, parseTable, parseVersions } from '../lib/kafka/protocol/schema';

const OUT_DIR = path.join(__dirname, '..', 'lib', 'kafka', 'protocol', 'generated');

type Kind = 'Request' | 'Response';

/** Everything the emitters need to know about one table. */
interface Table {
  api: ApiSchema;
  kind: Kind;
  range: VersionRange;
  flexible: VersionRange;
  /** Interface name per struct field, assigned once. */
  names: Map<FieldSpec, string>;
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** A condition on `v` true exactly for the versions of `r` inside the table's range ('' = always). */
function versionCond(r: VersionRange, table: VersionRange): string {
  const parts: string[] = [];
  if (r.from > table.from) parts.push(`v >= ${r.from}`);
  if (r.to < table.to) parts.push(`v <= ${r.to}`);
  return parts.join(' && ');
}

/** 'always', 'never' or a condition on v, for a property holding on `r` within `within`. */
function tri(r: VersionRange, within: VersionRange): 'always' | 'never' | string {
  const i = intersect(r, within);
  if (isEmpty(i)) return 'never';
  if (i.from <= within.from && i.to >= within.to) return 'always';
  return versionCond(i, within);
}

function present(f: FieldSpec, t: Table): VersionRange {
  return intersect(f.versions, t.range);
}

/** The table as seen from inside struct field `f`: only the versions in which `f` is present. */
function inside(f: FieldSpec, t: Table): Table {
  return { ...t, range: present(f, t) };
}

/** Whether the field can be null in a version where it is present. */
function nullableAnywhere(f: FieldSpec, t: Table): boolean {
  return !isEmpty(intersect(f.nullable, present(f, t)));
}

function tsPrimitive(type: string, kind: Kind): string {
  switch (type) {
    case 'bool':
      return 'boolean';
    case 'string':
      return 'string';
    case 'bytes':
    case 'uuid':
      return 'Buffer';
    case 'records':
      return kind === 'Request' ? 'Buffer' : 'RecordsValue';
    default:
      return 'number';
  }
}

function tsType(f: FieldSpec, t: Table): string {
  const base = f.struct ? t.names.get(f)! : tsPrimitive(f.type, t.kind);
  const ty = f.array ? `${base}[]` : base;
  return nullableAnywhere(f, t) && !(f.type === 'records' && t.kind === 'Response') ? `${ty} | null` : ty;
}

function defaultLiteral(f: FieldSpec, t: Table): string {
  if (f.default !== undefined) {
    if (f.default === null) return 'null';
    if (typeof f.default === 'string') return JSON.stringify(f.default);
    return String(f.default);
  }
  if (nullableAnywhere(f, t)) return 'null';
  if (f.array) return '[]';
  if (f.struct) return 'undefined'; // an optional struct (tagged, or not in every version) is absent
  switch (f.type) {
    case 'bool':
      return 'false';
    case 'string':
      return "''";
    case 'bytes':
    case 'records':
      return 'EMPTY';
    case 'uuid':
      return 'ZERO_UUID';
    default:
      return '0';
  }
}

/** The fewest bytes a struct can take on the wire in any version of the table (for count checks). */
function minStructBytes(fields: FieldSpec[], t: Table): number {
  let best = Infinity;
  for (let v = t.range.from; v <= t.range.to; v++) {
    const flex = v >= t.flexible.from && v <= t.flexible.to;
    let n = flex ? 1 : 0;
    for (const f of fields) {
      if (f.tag !== null || v < f.versions.from || v > f.versions.to) continue;
      n += minFieldBytes(f, flex, t);
    }
    best = Math.min(best, n);
  }
  return best;
}

function minFieldBytes(f: FieldSpec, flex: boolean, t: Table): number {
  if (f.array) return flex ? 1 : 4;
  if (f.struct) return minStructBytes(f.fields, inside(f, t));
  return minPrimitiveBytes(f.type, flex);
}

function minPrimitiveBytes(type: string, flex: boolean): number {
  switch (type) {
    case 'int8':
    case 'bool':
      return 1;
    case 'int16':
    case 'uint16':
      return 2;
    case 'int32':
      return 4;
    case 'int64':
    case 'float64':
      return 8;
    case 'uuid':
      return 16;
    case 'string':
      return flex ? 1 : 2;
    default:
      return flex ? 1 : 4;
  }
}

/** Assigns each struct an interface name: <Api><Kind><TypeName>, numbered when a name repeats. */
function nameStructs(fields: FieldSpec[], t: Table, used: Set<string>): void {
  for (const f of fields) {
    if (!f.struct) continue;
    let name = `${t.api.name}${t.kind}${f.type.startsWith(t.api.name + t.kind) ? f.type.slice(t.api.name.length + t.kind.length) : f.type}`;
    if (used.has(name)) {
      let i = 2;
      while (used.has(`${name}${i}`)) i++;
      name = `${name}${i}`;
    }
    used.add(name);
    t.names.set(f, name);
    nameStructs(f.fields, t, used);
  }
}

// ---- Decoders ----

/** The reader call for a primitive; `nul` says whether null is allowed ('always'/'never'/condition). */
function readPrimitive(type: string, nul: string, flex: string, r: string): string {
  const pick = (plain: string, nullable: string): string => {
    if (nul === 'always') return nullable;
    if (nul === 'never') return plain;
    return `(${nul} ? ${nullable} : ${plain})`;
  };
  const compactOr = (compact: string, plain: string): string => {
    if (flex === 'always') return compact;
    if (flex === 'never') return plain;
    return `(flex ? ${compact} : ${plain})`;
  };
  switch (type) {
    case 'string':
      return compactOr(pick(`${r}.compactString()`, `${r}.compactNullableString()`), pick(`${r}.string()`, `${r}.nullableString()`));
    case 'bytes':
      return compactOr(pick(`${r}.compactBytes()`, `${r}.compactNullableBytes()`), pick(`${r}.bytes()`, `${r}.nullableBytes()`));
    case 'records':
      return compactOr(`${r}.compactNullableBytes()`, `${r}.nullableBytes()`);
    default:
      return `${r}.${type}()`;
  }
}

function readExpr(f: FieldSpec, t: Table, r: string): string {
  const p = present(f, t);
  const flex = tri(t.flexible, p);
  const nul = tri(f.nullable, p);
  if (f.array) {
    const element = f.struct ? `read${t.names.get(f)}` : `READ_${f.type.toUpperCase()}`;
    const min = f.struct ? minStructBytes(f.fields, inside(f, t)) : minPrimitiveBytes(f.type, true);
    const plain = `readArray(${r}, v, flex, ${min}, ${element})`;
    const nullable = `readNullableArray(${r}, v, flex, ${min}, ${element})`;
    if (nul === 'never') return plain;
    if (nul === 'always') return nullable;
    return `(${nul} ? ${nullable} : ${plain})`;
  }
  if (f.struct) return `read${t.names.get(f)}(${r}, v, flex)`;
  return readPrimitive(f.type, nul, flex, r);
}

function emitReader(name: string, fields: FieldSpec[], t: Table, out: string[]): void {
  for (const f of fields) {
    if (f.struct && !f.array && nullableAnywhere(f, t)) throw new Error(`${t.api.name}${t.kind}: nullable struct ${f.name} (line ${f.line}) is not supported`);
  }
  const lines: string[] = [];
  lines.push(`function read${name}(r: Reader, v: number, flex: boolean): ${name} {`);
  const plain = fields.filter((f) => f.tag === null);
  const tagged = fields.filter((f) => f.tag !== null);
  for (const f of plain) {
    const cond = tri(f.versions, t.range);
    if (cond === 'never') continue;
    if (cond === 'always') lines.push(`  const ${f.name} = ${readExpr(f, t, 'r')};`);
    else lines.push(`  const ${f.name} = ${cond} ? ${readExpr(f, t, 'r')} : ${defaultLiteral(f, t)};`);
  }
  for (const f of tagged) lines.push(`  let ${f.name}: ${tsType(f, t)} | undefined;`);
  if (tagged.length === 0 && !isEmpty(t.flexible)) lines.push('  if (flex) skipTaggedFields(r);');
  if (tagged.length > 0) {
    lines.push('  if (flex) {');
    lines.push('    const n = r.uvarint();');
    lines.push('    for (let i = 0; i < n; i++) {');
    lines.push('      const tag = r.uvarint();');
    lines.push('      const size = r.uvarint();');
    {
      lines.push('      switch (tag) {');
      for (const f of tagged) {
        lines.push(`        case ${f.tag}: {`);
        lines.push('          const s = r.sub(size);');
        lines.push(`          ${f.name} = ${readExpr(f, t, 's')};`);
        lines.push('          break;');
        lines.push('        }');
      }
      lines.push('        default:');
      lines.push('          r.skip(size);');
      lines.push('      }');
    }
    lines.push('    }');
    lines.push('  }');
  }
  const members = fields.filter((f) => tri(f.versions, t.range) !== 'never' || f.tag !== null).map((f) => (f.tag === null || defaultLiteral(f, t) === 'undefined' ? f.name : `${f.name}: ${f.name} ?? ${defaultLiteral(f, t)}`));
  lines.push(`  return { ${members.join(', ')} };`);
  lines.push('}');
  out.push(lines.join('\n'));
  for (const f of fields) if (f.struct) emitReader(t.names.get(f)!, f.fields, inside(f, t), out);
}

// ---- Encoders ----

function writePrimitive(type: string, flex: string, w: string, value: string): string {
  const compactOr = (compact: string, plain: string): string => {
    if (flex === 'always') return compact;
    if (flex === 'never') return plain;
    return `if (flex) ${compact}; else ${plain}`;
  };
  switch (type) {
    case 'string':
      return compactOr(`${w}.compactNullableString(${value})`, `${w}.nullableString(${value})`);
    case 'bytes':
      return compactOr(`${w}.compactNullableBytes(${value})`, `${w}.nullableBytes(${value})`);
    case 'records':
      return `${w}.records(${value}, flex)`;
    default:
      return `${w}.${type}(${value})`;
  }
}

function writeStmt(f: FieldSpec, t: Table, w: string, value: string): string {
  const flex = tri(t.flexible, present(f, t));
  if (f.array) {
    const element = f.struct ? `write${t.names.get(f)}` : `WRITE_${f.type.toUpperCase()}`;
    return `writeArray(${w}, v, flex, ${value}, ${element})`;
  }
  if (f.struct) return `write${t.names.get(f)}(${w}, v, flex, ${value})`;
  return writePrimitive(f.type, flex, w, value);
}

function isRequired(f: FieldSpec, t: Table): boolean {
  return f.tag === null && tri(f.versions, t.range) === 'always';
}

function emitWriter(name: string, fields: FieldSpec[], t: Table, out: string[]): void {
  const lines: string[] = [];
  lines.push(`function write${name}(w: Writer, v: number, flex: boolean, m: ${name}): void {`);
  for (const f of fields) {
    if (f.tag !== null) continue;
    const cond = tri(f.versions, t.range);
    if (cond === 'never') continue;
    const value = isRequired(f, t) ? `m.${f.name}` : `m.${f.name} ?? ${defaultLiteral(f, t)}`;
    const stmt = writeStmt(f, t, 'w', value);
    if (cond === 'always') lines.push(`  ${stmt};`);
    else lines.push(`  if (${cond}) { ${stmt}; }`);
  }
  const tagged = fields.filter((f) => f.tag !== null).sort((a, b) => a.tag! - b.tag!);
  if (tagged.length === 0 && !isEmpty(t.flexible)) lines.push('  if (flex) w.uvarint(0);');
  if (tagged.length > 0) {
    lines.push('  if (flex) {');
    const set = (f: FieldSpec): string => {
      const cond = tri(f.versions, t.range);
      const inVersion = cond === 'always' ? '' : `${cond} && `;
      const v = `m.${f.name}`;
      // Written when it differs from what a reader assumes in its absence.
      let differs: string;
      if (f.array) differs = `${v} !== undefined && ${v} !== null && ${v}.length > 0`;
      else if (f.struct || ['bytes', 'records', 'uuid'].includes(f.type)) differs = `${v} !== undefined`;
      else differs = `${v} !== undefined && ${v} !== ${defaultLiteral(f, t)}`;
      return `${inVersion}${differs}`;
    };
    lines.push(`    w.uvarint(${tagged.map((f) => `(${set(f)} ? 1 : 0)`).join(' + ')});`);
    for (const f of tagged) {
      lines.push(`    if (${set(f)}) {`);
      lines.push('      const s = new Writer();');
      lines.push(`      ${writeStmt(f, t, 's', `m.${f.name}!`)};`);
      lines.push(`      w.uvarint(${f.tag});`);
      lines.push('      w.uvarint(s.length);');
      lines.push('      w.append(s);');
      lines.push('    }');
    }
    lines.push('  }');
  }
  lines.push('}');
  out.push(lines.join('\n'));
  for (const f of fields) if (f.struct) emitWriter(t.names.get(f)!, f.fields, inside(f, t), out);
}

// ---- Interfaces and the module ----

function emitInterface(name: string, fields: FieldSpec[], t: Table, out: string[]): void {
  const lines = [`export interface ${name} {`];
  for (const f of fields) {
    if (tri(f.versions, t.range) === 'never' && f.tag === null) continue;
    const p = present(f, t);
    const range = p.to === Infinity ? `v${p.from}+` : p.from === p.to ? `v${p.from}` : `v${p.from}-${p.to}`;
    const note = isRequired(f, t) ? '' : ` // ${range}${f.tag !== null ? `, tagged ${f.tag}` : ''}`;
    lines.push(`  ${f.name}${isRequired(f, t) ? '' : '?'}: ${tsType(f, t)};${note}`);
  }
  lines.push('}');
  out.push(lines.join('\n'));
  for (const f of fields) if (f.struct) emitInterface(t.names.get(f)!, f.fields, inside(f, t), out);
}

function emitTable(t: Table, fields: FieldSpec[], interfaces: string[], code: string[]): void {
  const top = `${t.api.name}${t.kind}`;
  nameStructs(fields, t, new Set([top]));
  emitInterface(top, fields, t, interfaces);
  const flexFrom = t.flexible.from;
  const flexExpr = isEmpty(t.flexible) ? 'false' : `version >= ${flexFrom}`;
  code.push(
    [
      `/** Decodes a ${t.api.name} ${t.kind.toLowerCase()} body (after its header) of \`version\`. */`,
      `export function decode${top}(r: Reader, version: number): ${top} {`,
      `  checkVersion('${t.api.name}', version, ${t.range.from}, ${t.range.to});`,
      `  return read${top}(r, version, ${flexExpr});`,
      '}',
      '',
      `/** Encodes a ${t.api.name} ${t.kind.toLowerCase()} body (without its header) in \`version\`. */`,
      `export function encode${top}(w: Writer, version: number, m: ${top}): void {`,
      `  checkVersion('${t.api.name}', version, ${t.range.from}, ${t.range.to});`,
      `  write${top}(w, version, ${flexExpr}, m);`,
      '}',
    ].join('\n'),
  );
  emitReader(top, fields, t, code);
  emitWriter(top, fields, t, code);
}

function generate(api: ApiSchema): string {
  const range = parseVersions(api.versions);
  // Only the flexible versions this table covers: a table wholly below them has no compact forms.
  const flexible = intersect(parseVersions(api.flexible), range);
  const interfaces: string[] = [];
  const code: string[] = [];
  for (const kind of ['Request', 'Response'] as const) {
    const t: Table = { api, kind, range, flexible, names: new Map() };
    let fields: FieldSpec[];
    try {
      fields = parseTable(kind === 'Request' ? api.request : api.response);
    } catch (e) {
      throw new Error(`${api.name}${kind}: ${(e as Error).message}`);
    }
    emitTable(t, fields, interfaces, code);
  }
  const body = [...interfaces, ...code].join('\n\n');
  const uses = (s: string): boolean => new RegExp(`\\b${s}\\b`).test(body);
  const support = ['checkVersion', 'readArray', 'readNullableArray', 'writeArray', 'skipTaggedFields', 'EMPTY', 'ZERO_UUID', ...['int8', 'int16', 'int32', 'int64', 'string', 'uuid'].flatMap((p) => [`READ_${p.toUpperCase()}`, `WRITE_${p.toUpperCase()}`])].filter(uses);
  const header = [
    `// Generated by scripts/gen-kafka-codecs.ts from lib/kafka/protocol/apis/${kebab(api.name)}.ts: do not edit.`,
    `// ${api.name} (API key ${api.key}), versions ${api.versions}, flexible ${api.flexible}.`,
    '/* eslint-disable */',
    "import { Reader } from '../reader';",
    uses('RecordsValue') ? "import { type RecordsValue, Writer } from '../writer';" : "import { Writer } from '../writer';",
    `import { ${support.join(', ')} } from '../codec-support';`,
    '',
    `export const ${api.name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}_KEY = ${api.key};`,
    '',
  ].join('\n');
  return `${header}${body}\n`;
}

function generateIndex(apis: readonly ApiSchema[]): string {
  const lines = ['// Generated by scripts/gen-kafka-codecs.ts: do not edit.', ''];
  for (const api of apis) lines.push(`export * from './${kebab(api.name)}';`);
  lines.push('');
  lines.push('/** Each API the tables describe: its key, the versions its codecs handle, the first flexible one. */');
  lines.push('export const API_TABLE = [');
  for (const api of apis) {
    const r = parseVersions(api.versions);
    const f = parseVersions(api.flexible);
    lines.push(`  { key: ${api.key}, name: '${api.name}', minVersion: ${r.from}, maxVersion: ${r.to}, firstFlexible: ${isEmpty(f) ? 'Infinity' : f.from} },`);
  }
  lines.push('] as const;');
  return `${lines.join('\n')}\n`;
}

function main(): void {
  const check = process.argv.includes('--check');
  const files = new Map<string, string>();
  for (const api of ALL_APIS) files.set(`${kebab(api.name)}.ts`, generate(api));
  files.set('index.ts', generateIndex(ALL_APIS));
  let stale = 0;
  if (!check) fs.mkdirSync(OUT_DIR, { recursive: true });
  for (const [name, text] of files) {
    const file = path.join(OUT_DIR, name);
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (current === text) continue;
    stale++;
    if (check) console.error(`${path.relative(process.cwd(), file)} is out of date`);
    else fs.writeFileSync(file, text);
  }
  if (check && stale > 0) process.exit(1);
  if (!check) console.log(`${files.size} files, ${stale} rewritten`);
}

main();
