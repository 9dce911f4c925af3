/**
 * The notation the Kafka message tables in `apis/` are written in, and its parser. The code
 * generator (`scripts/gen-kafka-codecs.ts`) turns the parsed tables into the decoders and encoders
 * in `generated/`; nothing reads the notation at run time.
 *
 * A table is one field per line, children indented two spaces under their parent:
 *
 *     NAME TYPE [VERSIONS] [null:VERSIONS] [tag:N] [default:VALUE]
 *
 * - NAME: the field's name in camelCase (the wire does not carry names; they name the TS fields).
 * - TYPE: int8 int16 int32 int64 uint16 float64 bool string bytes uuid records (bytes kept raw,
 *   never parsed), `[]T` an array of a primitive T, `[]Name` an array of the struct whose fields
 *   follow indented, `Name` (capitalised) one struct whose fields follow indented.
 * - VERSIONS: the message versions the field is in: `0+`, `3+`, `3-7` (default: every version).
 * - null:VERSIONS: the versions in which the value may be null (strings, bytes, records, arrays,
 *   structs).
 * - tag:N: a tagged field (flexible versions only; absent unless set).
 * - default:VALUE: the value a decoder gives the field where a version lacks it or a tagged field
 *   is absent: a number, true, false, null or a quoted string. Without it: 0, false, '' or [] (a
 *   nullable field: null).
 *
 * Blank lines and lines starting with `#` are ignored. Versions outside a table's `versions` do not
 * exist for it: decoders refuse them.
 */

export type Primitive = 'int8' | 'int16' | 'int32' | 'int64' | 'uint16' | 'float64' | 'bool' | 'string' | 'bytes' | 'uuid' | 'records';

export const PRIMITIVES: ReadonlySet<string> = new Set<Primitive>(['int8', 'int16', 'int32', 'int64', 'uint16', 'float64', 'bool', 'string', 'bytes', 'uuid', 'records']);

/** An inclusive range of versions; `to` is Infinity for "N+". An empty range has from > to. */
export interface VersionRange {
  from: number;
  to: number;
}

export interface FieldSpec {
  name: string;
  /** A primitive, or the struct's type name for struct fields and struct arrays. */
  type: string;
  /** True for `[]T`. */
  array: boolean;
  /** True when the field (or each array element) is a struct with `fields`. */
  struct: boolean;
  fields: FieldSpec[];
  versions: VersionRange;
  nullable: VersionRange;
  tag: number | null;
  default: number | bigint | boolean | string | null | undefined;
  /** The table line, for error messages. */
  line: number;
}

/** One API: its key, the versions its tables describe and where flexible versions start. */
export interface ApiSchema {
  key: number;
  /** PascalCase, as Kafka names the API: the generated functions are decode<Name>Request etc. */
  name: string;
  /** The versions the tables describe, e.g. '0-8'. */
  versions: string;
  /** The first flexible version, e.g. '9+', or 'none'. */
  flexible: string;
  request: string;
  response: string;
}

export const NO_VERSIONS: VersionRange = { from: 1, to: 0 };

export function parseVersions(text: string): VersionRange {
  if (text === 'none') return NO_VERSIONS;
  let m = /^(\d+)\+$/.exec(text);
  if (m !== null) return { from: Number(m[1]), to: Infinity };
  m = /^(\d+)-(\d+)$/.exec(text);
  if (m !== null && Number(m[1]) <= Number(m[2])) return { from: Number(m[1]), to: Number(m[2]) };
  m = /^(\d+)$/.exec(text);
  if (m !== null) return { from: Number(m[1]), to: Number(m[1]) };
  throw new Error(`bad version range ${JSON.stringify(text)} (want N+, N-M, N or none)`);
}

export function inRange(v: number, r: VersionRange): boolean {
  return v >= r.from && v <= r.to;
}

/** The intersection of two ranges (possibly empty). */
export function intersect(a: VersionRange, b: VersionRange): VersionRange {
  return { from: Math.max(a.from, b.from), to: Math.min(a.to, b.to) };
}

export function isEmpty(r: VersionRange): boolean {
  return r.from > r.to;
}

function parseDefault(text: string, line: number): FieldSpec['default'] {
  if (text === 'null') return null;
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^'.*'$/.test(text)) return text.slice(1, -1);
  if (/^-?\d+$/.test(text)) return Number(text);
  throw new Error(`line ${line}: bad default ${JSON.stringify(text)}`);
}

function parseLine(text: string, line: number): FieldSpec {
  const words = text.trim().split(/\s+/);
  const [name, typeWord, ...rest] = words;
  if (typeWord === undefined) throw new Error(`line ${line}: want NAME TYPE, got ${JSON.stringify(text.trim())}`);
  if (!/^[a-z][A-Za-z0-9]*$/.test(name)) throw new Error(`line ${line}: field name ${JSON.stringify(name)} is not camelCase`);
  const array = typeWord.startsWith('[]');
  const type = array ? typeWord.slice(2) : typeWord;
  const struct = !PRIMITIVES.has(type);
  if (struct && !/^[A-Z][A-Za-z0-9]*$/.test(type)) throw new Error(`line ${line}: unknown type ${JSON.stringify(typeWord)}`);
  const field: FieldSpec = { name, type, array, struct, fields: [], versions: { from: 0, to: Infinity }, nullable: NO_VERSIONS, tag: null, default: undefined, line };
  for (const word of rest) {
    if (word.startsWith('null:')) field.nullable = parseVersions(word.slice(5));
    else if (word.startsWith('tag:')) field.tag = Number(word.slice(4));
    else if (word.startsWith('default:')) field.default = parseDefault(word.slice(8), line);
    else field.versions = parseVersions(word);
  }
  if (field.tag !== null && !(Number.isInteger(field.tag) && field.tag >= 0)) throw new Error(`line ${line}: bad tag`);
  return field;
}

/** Parses a table into its field tree; throws naming the line of a malformed one. */
export function parseTable(text: string): FieldSpec[] {
  const root: FieldSpec[] = [];
  const stack: { indent: number; fields: FieldSpec[]; owner: FieldSpec | null }[] = [{ indent: -1, fields: root, owner: null }];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    const indent = raw.length - raw.trimStart().length;
    if (indent % 2 !== 0) throw new Error(`line ${i + 1}: indent by two spaces`);
    while (stack[stack.length - 1].indent >= indent) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent.owner !== null && !parent.owner.struct) throw new Error(`line ${i + 1}: ${parent.owner.name} is not a struct`);
    if (indent !== parent.indent + 2 && parent.indent >= 0) throw new Error(`line ${i + 1}: indented too far`);
    const field = parseLine(raw, i + 1);
    parent.fields.push(field);
    stack.push({ indent, fields: field.fields, owner: field });
  }
  checkFields(root);
  return root;
}

function checkFields(fields: FieldSpec[]): void {
  const names = new Set<string>();
  const tags = new Set<number>();
  for (const f of fields) {
    if (names.has(f.name)) throw new Error(`line ${f.line}: field ${f.name} appears twice`);
    names.add(f.name);
    if (f.tag !== null) {
      if (tags.has(f.tag)) throw new Error(`line ${f.line}: tag ${f.tag} appears twice`);
      tags.add(f.tag);
    }
    if (f.struct && f.fields.length === 0) throw new Error(`line ${f.line}: struct ${f.name} has no fields`);
    if (!f.struct && f.fields.length > 0) throw new Error(`line ${f.line}: ${f.name} is a ${f.type}, not a struct`);
    checkFields(f.fields);
  }
}
