/**
 * Function tools the agent may call, provider-neutral. The provider advertises their schemas to the model; the call
 * runs the handler when the model asks (a `tool_calls` port event) and gives every output back at once, after which
 * the provider asks for exactly one follow-up response.
 */

export interface ToolContext {
  callSid: string;
  streamSid: string;
  /** The caller's number (E.164, as Twilio sends `From`), when the call has one. */
  callerNumber?: string;
  /** The number the caller dialled (`To`). */
  calledNumber?: string;
}

export interface ToolDefinition {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
  /** Returns the output given to the model (a string; objects are JSON-encoded). May throw: the error text is returned. */
  handler(args: unknown, context: ToolContext): Promise<unknown> | unknown;
}

/** Runs one call of a tool and always yields a string output; never throws. */
export async function runTool(
  tools: readonly ToolDefinition[],
  name: string,
  argumentsJson: string,
  context: ToolContext,
): Promise<{ output: string; ok: boolean }> {
  const tool = tools.find((candidate) => candidate.name === name);
  if (tool === undefined) return { output: JSON.stringify({ error: `unknown tool "${name}"` }), ok: false };
  let args: unknown;
  try {
    args = argumentsJson.trim() === '' ? {} : JSON.parse(argumentsJson);
  } catch {
    return { output: JSON.stringify({ error: 'arguments are not valid JSON' }), ok: false };
  }
  try {
    const result = await tool.handler(args, context);
    return { output: typeof result === 'string' ? result : JSON.stringify(result ?? null), ok: true };
  } catch (error) {
    return { output: JSON.stringify({ error: error instanceof Error ? error.message : String(error) }), ok: false };
  }
}
