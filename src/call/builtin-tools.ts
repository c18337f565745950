/**
 * The built-in call-control tools an agent may be given: `end_call` and `transfer_call`. Their schemas are offered to
 * the model like any function tool; their handlers only ask the call to end or transfer once the agent's last words
 * have played (the call decides when: see call-ending.ts). The model picks a transfer destination by name from the
 * agent file's list: it can never dial a number it invents or one the caller says.
 */
import type { StreamOutcome } from './after-stream.js';
import type { ToolDefinition } from './tools.js';

export type BuiltinToolName = 'end_call' | 'transfer_call';

export interface TransferTarget {
  readonly name: string;
  /** E.164 number or `sip:` URI. */
  readonly target: string;
  readonly description: string;
}

/** What the agent file allows one call's agent to do. */
export interface CallControlSettings {
  readonly agentName: string;
  readonly builtinTools: readonly BuiltinToolName[];
  readonly transferDestinations: readonly TransferTarget[];
  readonly transferTimeoutS: number;
  readonly transferCallerId: string | null;
}

/** What the handlers may ask of their call: end the stream this way once the agent's last words have played. */
export type EndStream = (outcome: StreamOutcome) => void;

export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
}

/** The schemas of the built-in tools an agent has (what the model sees). */
export function builtinToolSpecs(settings: CallControlSettings): ToolSpec[] {
  const specs: ToolSpec[] = [];
  if (settings.builtinTools.includes('end_call')) {
    specs.push({
      name: 'end_call',
      description: 'End the phone call. Use it when the conversation is over: say a brief goodbye, then call this. The line closes once your goodbye has played.',
      parameters: { type: 'object', properties: { reason: { type: 'string', description: 'Why the call ends, in a few words.' } }, additionalProperties: false },
    });
  }
  if (settings.builtinTools.includes('transfer_call') && settings.transferDestinations.length > 0) {
    const listed = settings.transferDestinations.map((destination) => `${destination.name}: ${destination.description}`).join('; ');
    specs.push({
      name: 'transfer_call',
      description: `Transfer the caller to a person. Destinations: ${listed}. Tell the caller in one short sentence where you are connecting them, then call this.`,
      parameters: {
        type: 'object',
        properties: {
          destination: { type: 'string', enum: settings.transferDestinations.map((destination) => destination.name), description: 'One of the named destinations.' },
          reason: { type: 'string', description: 'Why the caller is transferred, in a few words.' },
        },
        required: ['destination'],
        additionalProperties: false,
      },
    });
  }
  return specs;
}

function stringField(args: unknown, key: string): string | null {
  if (args === null || typeof args !== 'object') return null;
  const value = (args as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : null;
}

/** Tool definitions whose handlers end the stream through `endStream`. An invented destination is refused and the model told why. */
export function builtinTools(settings: CallControlSettings, endStream: EndStream): ToolDefinition[] {
  return builtinToolSpecs(settings).map((spec) => ({
    ...spec,
    handler: (args: unknown) => {
      if (spec.name === 'end_call') {
        endStream({ kind: 'hang_up', reason: stringField(args, 'reason') ?? 'agent ended the call' });
        return { ok: true, note: 'The call ends as soon as you have finished speaking. If you have not said goodbye yet, say a brief goodbye now.' };
      }
      const name = stringField(args, 'destination');
      const destination = settings.transferDestinations.find((candidate) => candidate.name === name);
      if (destination === undefined) {
        const known = settings.transferDestinations.map((candidate) => candidate.name).join(', ');
        throw new Error(`unknown destination ${JSON.stringify(name)}: choose one of ${known}. You cannot transfer to any other number.`);
      }
      endStream({
        kind: 'transfer',
        destinationName: destination.name,
        target: destination.target,
        timeoutS: settings.transferTimeoutS,
        callerId: settings.transferCallerId,
        agentName: settings.agentName,
      });
      return { ok: true, note: `Tell the caller in one short sentence that you are connecting them to ${destination.name}. The transfer starts when you have finished speaking.` };
    },
  }));
}
