/**
 * What an outbound-call request must be before anything is dialled: a JSON body `{ to, agent, variables? }`, an
 * E.164 destination, an agent of the roster whose allow-list covers the destination. Pure: a request in, the job or
 * one API error (status, stable code, one-line message) out.
 */
import { agentByName } from '../agents/routing.js';
import type { AgentDefinition, AgentRoster } from '../agents/types.js';

export const E164 = /^\+[1-9]\d{6,14}$/;
/** Letters, digits and _; never `__…` (`__proto__` would vanish from an object). */
const VARIABLE_NAME = /^(?!__)[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_VARIABLES = 32;
const MAX_VARIABLE_CHARS = 1_000;

export interface OutboundRequest {
  readonly to: string;
  readonly agent: AgentDefinition;
  readonly variables: Readonly<Record<string, string>>;
}

export interface ApiRefusal {
  readonly status: 400 | 403 | 404 | 429 | 503;
  readonly code: string;
  readonly message: string;
}

export function checkOutboundRequest(body: unknown, roster: AgentRoster): OutboundRequest | ApiRefusal {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('bad_request', 'the body must be a JSON object like {"to":"+15551234567","agent":"reminders"}');
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => key !== 'to' && key !== 'agent' && key !== 'variables');
  if (unknown !== undefined) return bad('bad_request', `unknown field "${unknown}" (allowed: to, agent, variables)`);
  if (typeof fields['to'] !== 'string') return bad('bad_request', 'to is required: an E.164 number like +15551234567');
  const to = fields['to'];
  if (!E164.test(to)) return bad('invalid_number', 'to must be an E.164 number like +15551234567');
  if (typeof fields['agent'] !== 'string' || fields['agent'] === '') return bad('bad_request', 'agent is required: the name of an agent in the agent file');
  const agent = agentByName(roster, fields['agent']);
  if (agent === null) return { status: 404, code: 'unknown_agent', message: `no agent named "${fields['agent'].slice(0, 64)}"` };
  const checked = checkVariables(fields['variables']);
  if (!checked.ok) return checked.refusal;
  const { variables } = checked;
  const { allowedPrefixes } = agent.outbound;
  if (!allowedPrefixes.some((prefix) => to.startsWith(prefix))) {
    const hint = allowedPrefixes.length === 0 ? 'the agent allows no destinations (set outbound.allowedPrefixes)' : `allowed prefixes: ${allowedPrefixes.join(', ')}`;
    return { status: 403, code: 'destination_not_allowed', message: `agent "${agent.name}" may not call ${to}: ${hint}` };
  }
  return { to, agent, variables };
}

function checkVariables(value: unknown): { ok: true; variables: Record<string, string> } | { ok: false; refusal: ApiRefusal } {
  const refuse = (message: string) => ({ ok: false as const, refusal: bad('bad_request', message) });
  if (value === undefined) return { ok: true, variables: {} };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return refuse('variables must be an object of text values');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_VARIABLES) return refuse(`variables may have at most ${MAX_VARIABLES} entries`);
  const variables: Record<string, string> = {};
  for (const [name, entry] of entries) {
    if (!VARIABLE_NAME.test(name)) return refuse(`variable name "${name.slice(0, 64)}" must be letters, digits and _`);
    if (typeof entry !== 'string') return refuse(`variables.${name} must be text`);
    if (entry.length > MAX_VARIABLE_CHARS) return refuse(`variables.${name} is longer than ${MAX_VARIABLE_CHARS} characters`);
    variables[name] = entry;
  }
  return { ok: true, variables };
}

function bad(code: string, message: string): ApiRefusal {
  return { status: 400, code, message };
}
