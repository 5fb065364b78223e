/* Reading the run config's JSON Schema as pydantic v2 writes it: `$defs` + `$ref`, tagged
 * unions as `oneOf` with a `discriminator`, optional fields as `anyOf [..., {type: "null"}]`,
 * Literals as `const`/`enum`. These helpers resolve references and classify schema nodes; they
 * know nothing about optimizers or models, so new kinds reach the form when the schema grows. */

/** A `resolve(schema)` that follows `$ref` (keeping sibling keywords) and single-item `allOf`. */
export function makeResolver(root) {
  function lookup(ref) {
    if (!ref.startsWith("#/")) throw new Error("unsupported $ref " + ref);
    return ref
      .slice(2)
      .split("/")
      .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce((node, part) => (node ? node[part] : undefined), root);
  }
  return function resolve(schema) {
    let current = schema || {};
    for (let depth = 0; depth < 32; depth += 1) {
      if (current.$ref) {
        const { $ref, ...rest } = current;
        current = { ...lookup($ref), ...rest };
      } else if (Array.isArray(current.allOf) && current.allOf.length === 1) {
        const { allOf, ...rest } = current;
        current = { ...resolve(allOf[0]), ...rest };
      } else {
        return current;
      }
    }
    throw new Error("$ref cycle in the schema");
  };
}

export const isNullSchema = (s) => s && (s.type === "null" || (s.const === null && !s.type));
export const isNumericSchema = (s) => s && (s.type === "number" || s.type === "integer");

/** A tagged union (oneOf/anyOf + discriminator): {prop, variants: [{tag, schema}]} in
 * declaration order, or null for anything else. */
export function unionInfo(schema, resolve) {
  const members = schema.oneOf || schema.anyOf;
  if (!Array.isArray(members) || !schema.discriminator) return null;
  const prop = schema.discriminator.propertyName;
  const variants = [];
  for (const member of members) {
    const resolved = resolve(member);
    const tagSchema = resolve((resolved.properties || {})[prop] || {});
    const tag = tagSchema.const !== undefined ? tagSchema.const
      : Array.isArray(tagSchema.enum) ? tagSchema.enum[0] : undefined;
    if (tag !== undefined) variants.push({ tag: String(tag), schema: resolved });
  }
  return variants.length ? { prop, variants } : null;
}

/** An array of numbers (a list, or a fixed-length tuple of numbers). */
export function isNumberList(schema, resolve) {
  if (Array.isArray(schema.prefixItems)) return schema.prefixItems.every((s) => isNumericSchema(resolve(s)));
  return isNumericSchema(resolve(schema.items || {}));
}

/** An object with properties or a tagged union, possibly optional: shown as its own group. */
export function isComposite(schema, resolve) {
  let s = resolve(schema);
  const members = !s.discriminator && (s.anyOf || s.oneOf);
  if (Array.isArray(members)) {
    const nonNull = members.filter((m) => !isNullSchema(resolve(m)));
    if (nonNull.length === 1) s = resolve(nonNull[0]);
  }
  return Boolean(unionInfo(s, resolve)) || (s.type === "object" && s.properties);
}
