/**
 * Validation of a tool's arguments against its JSON Schema (draft 2020-12, via Ajv). Compiled once per schema object
 * and cached, so a tool built again for every call does not recompile. `format` is not checked (Ajv ships no formats
 * without ajv-formats); everything else Ajv supports is.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

/** Returns the problems with `args` (short, model-readable), or an empty list when they are valid. */
export type ArgumentsValidator = (args: unknown) => string[];

const MAX_PROBLEMS = 8;
const compiled = new WeakMap<object, ArgumentsValidator>();

function describe(error: ErrorObject): string {
  const where = error.instancePath === '' ? 'arguments' : error.instancePath;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${where} must have property "${String(params['missingProperty'])}"`;
    case 'additionalProperties':
      return `${where} must not have property "${String(params['additionalProperty'])}"`;
    case 'enum': {
      const allowed = Array.isArray(params['allowedValues']) ? params['allowedValues'].map((value) => JSON.stringify(value)) : [];
      return `${where} must be one of ${allowed.join(', ')}`;
    }
    default:
      return `${where} ${error.message ?? `fails "${error.keyword}"`}`;
  }
}

/**
 * Compiles `schema` (throws when it is not a schema Ajv can compile: check agent files with this at load time).
 * A top-level `$schema` is ignored so draft-07 style schemas written for other tools still compile as 2020-12.
 */
export function compileArgumentsValidator(schema: Record<string, unknown>): ArgumentsValidator {
  const cached = compiled.get(schema);
  if (cached !== undefined) return cached;
  const { $schema: _ignored, ...rest } = schema;
  // A fresh instance per schema: two tools may reuse the same `$id` without colliding.
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false, logger: false });
  const validate: ValidateFunction = ajv.compile(rest);
  const validator: ArgumentsValidator = (args) => {
    if (validate(args)) return [];
    const problems = (validate.errors ?? []).map(describe);
    const unique = [...new Set(problems)];
    return unique.length > MAX_PROBLEMS ? [...unique.slice(0, MAX_PROBLEMS), `and ${unique.length - MAX_PROBLEMS} more`] : unique;
  };
  compiled.set(schema, validator);
  return validator;
}
