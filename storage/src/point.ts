import { StorageError, StorageErrorCode } from './errors.ts';
import type { FieldValue, Point } from './lineProtocol.ts';
import { SCHEMA, type FieldOf, type FieldTypeOf, type InfluxType, type MeasurementDef, type Measurement, type TagOf } from './schema.ts';

/** The JavaScript value a field of each InfluxDB type takes. */
export type JsValueOf<T> = T extends 'float' ? number : T extends 'integer' ? number | bigint : T extends 'string' ? string : boolean;

type Def<M extends Measurement> = (typeof SCHEMA)[M];
type Listed<D, K extends string> = D extends { readonly [P in K]: readonly (infer O)[] } ? O : never;
type OptionalTag<M extends Measurement> = Listed<Def<M>, 'optionalTags'> & TagOf<M>;
type OptionalField<M extends Measurement> = Listed<Def<M>, 'optionalFields'> & FieldOf<M>;

/** The tags of a point of `M`: every required tag, the optional ones when known. */
export type TagsOf<M extends Measurement> = { [K in Exclude<TagOf<M>, OptionalTag<M>>]: string } & { [K in OptionalTag<M>]?: string | undefined };

/** The fields of a point of `M`, each as the JavaScript value of its schema type; an optional field left undefined is not written. */
export type FieldsOf<M extends Measurement> = { [K in Exclude<FieldOf<M>, OptionalField<M>>]: JsValueOf<FieldTypeOf<M, K>> } & {
  [K in OptionalField<M>]?: JsValueOf<FieldTypeOf<M, K>> | undefined;
};

interface Compiled {
  tags: Set<string>;
  requiredTags: string[];
  fields: Map<string, InfluxType>;
  requiredFields: string[];
}

const COMPILED = new Map<Measurement, Compiled>(
  (Object.entries(SCHEMA) as Array<[Measurement, MeasurementDef]>).map(([m, d]) => {
    const optTags = new Set(d.optionalTags ?? []);
    const optFields = new Set(d.optionalFields ?? []);
    return [
      m,
      {
        tags: new Set(d.tags),
        requiredTags: d.tags.filter((t) => !optTags.has(t)),
        fields: new Map(Object.entries(d.fields)),
        requiredFields: Object.keys(d.fields).filter((f) => !optFields.has(f)),
      },
    ];
  }),
);

const violation = (m: string, what: string) => new StorageError(StorageErrorCode.SCHEMA_VIOLATION, `${m}: ${what}`);

function fieldValue(m: string, name: string, type: InfluxType, v: unknown): FieldValue {
  switch (type) {
    case 'float':
      if (typeof v === 'number') return { t: 'float', v };
      break;
    case 'integer':
      if (typeof v === 'number' || typeof v === 'bigint') return { t: 'int', v };
      break;
    case 'string':
      if (typeof v === 'string') return { t: 'string', v };
      break;
    case 'boolean':
      if (typeof v === 'boolean') return { t: 'bool', v };
      break;
  }
  throw violation(m, `field ${name} is ${type} in the schema, not ${typeof v}`);
}

/**
 * A point of measurement `m`, with only the tags and fields the schema gives it, each field
 * typed as the schema says (at compile time, and checked again here for callers whose values
 * come from `unknown`). Fields keep the order given; `encodePoint` sorts the tags. A value line
 * protocol cannot carry (NaN, an integer beyond 64 bits, a control character in a tag) is
 * refused by `encodePoint`, not here.
 */
export function point<M extends Measurement>(m: M, tags: TagsOf<M>, fields: FieldsOf<M>, tsMs: number): Point {
  const c = COMPILED.get(m);
  if (!c) throw violation(m, 'not a measurement of the schema');
  const outTags: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags as Record<string, unknown>)) {
    if (v === undefined) continue;
    if (!c.tags.has(k)) throw violation(m, `has no tag ${k}`);
    if (typeof v !== 'string') throw violation(m, `tag ${k} must be a string, not ${typeof v}`);
    outTags[k] = v;
  }
  for (const k of c.requiredTags) if (!(k in outTags)) throw violation(m, `tag ${k} is required`);
  const outFields: Record<string, FieldValue> = {};
  for (const [k, v] of Object.entries(fields as Record<string, unknown>)) {
    if (v === undefined) continue;
    const type = c.fields.get(k);
    if (!type) throw violation(m, `has no field ${k}`);
    outFields[k] = fieldValue(m, k, type, v);
  }
  for (const k of c.requiredFields) if (!(k in outFields)) throw violation(m, `field ${k} is required`);
  return { measurement: m, tags: outTags, fields: outFields, tsMs };
}
