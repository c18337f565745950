/**
 * The OpenAPI 3.1 description of the HTTP API (`GET /api/openapi.json`): the call records routes and the
 * outbound-call route. Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect) and closed
 * (`additionalProperties: false`), so the test that validates a typed sample CallRecord against them fails as soon
 * as types.ts and this document drift apart.
 *
 * Served without authentication: it describes the API, it reveals no data.
 */

/** A JSON Schema (2020-12) object; loose on purpose, the validation test is what keeps it honest. */
export type JsonSchema = { readonly [keyword: string]: unknown };

export interface OpenApiParameter {
  readonly name: string;
  readonly in: 'query' | 'path' | 'header';
  readonly required?: boolean;
  readonly description: string;
  readonly schema: JsonSchema;
}

export interface OpenApiResponse {
  readonly description: string;
  readonly headers?: Readonly<Record<string, { readonly description: string; readonly schema: JsonSchema }>>;
  readonly content?: Readonly<Record<string, { readonly schema: JsonSchema; readonly examples?: Readonly<Record<string, { readonly value: unknown }>> }>>;
}

export interface OpenApiOperation {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  /** `[]` = no authentication (overrides the document's default). */
  readonly security?: ReadonlyArray<Readonly<Record<string, readonly string[]>>>;
  readonly parameters?: readonly OpenApiParameter[];
  readonly requestBody?: { readonly required: boolean; readonly content: Readonly<Record<string, { readonly schema: JsonSchema }>> };
  readonly responses: Readonly<Record<string, OpenApiResponse>>;
}

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly security: ReadonlyArray<Readonly<Record<string, readonly string[]>>>;
  readonly paths: Readonly<Record<string, Readonly<Partial<Record<'get' | 'post', OpenApiOperation>>>>>;
  readonly components: {
    readonly schemas: Readonly<Record<string, JsonSchema>>;
    readonly securitySchemes: Readonly<Record<string, JsonSchema>>;
  };
}

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, description?: string): JsonSchema => ({ type: [type, 'null'], ...(description === undefined ? {} : { description }) });
const integer = (description: string, minimum = 0): JsonSchema => ({ type: 'integer', minimum, description });
const closed = (description: string, properties: Readonly<Record<string, JsonSchema>>): JsonSchema => ({
  type: 'object',
  description,
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

/** An error response; the codes it can carry are listed as named examples. */
function errorResponse(description: string, codes: readonly string[]): OpenApiResponse {
  return {
    description: `${description} (codes: ${codes.join(', ')})`,
    content: {
      'application/json': {
        schema: ref('Error'),
        examples: Object.fromEntries(codes.map((code) => [code, { value: { error: { code, message: '…' } } }])),
      },
    },
  };
}

const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const unauthorized = errorResponse('Missing or wrong API key (with `WWW-Authenticate: Bearer`)', ['unauthorized']);
const internal = errorResponse('Unexpected server error (details are in the server log only)', ['internal']);
const recordsUnavailable = errorResponse('The records database is starting or unreachable; retry later (`Retry-After`)', ['records_unavailable']);
const apiOff = (others: readonly string[]) => errorResponse('Not found, or the API is off (CALLBRIDGE_API_KEY unset)', [...others, 'api_disabled']);

const callSidParameter: OpenApiParameter = {
  name: 'callSid',
  in: 'path',
  required: true,
  description: "Twilio's Call SID: `CA` and 32 lowercase hex digits.",
  schema: { type: 'string', pattern: '^(CA|WB)[0-9a-f]{32}$' },
};

const timeParameter = (name: string, description: string): OpenApiParameter => ({
  name,
  in: 'query',
  description: `${description} ISO 8601 with a time zone (\`2025-01-31T09:00:00Z\`, \`…+02:00\`), a date (\`2025-01-31\`, UTC midnight) or epoch ms.`,
  schema: { type: 'string' },
});

const listParameters: readonly OpenApiParameter[] = [
  timeParameter('from', 'Calls started at or after this time.'),
  timeParameter('to', 'Calls started before this time. Must not be before `from`.'),
  { name: 'agent', in: 'query', description: 'Only calls handled by this agent.', schema: { type: 'string', minLength: 1, maxLength: 200 } },
  {
    name: 'number',
    in: 'query',
    description: 'Only calls from or to this number (exact match, E.164). Encode `+` as `%2B`; an unencoded `+` (read as a space) is accepted too.',
    schema: { type: 'string', minLength: 1, maxLength: 64 },
  },
  { name: 'direction', in: 'query', description: 'Only calls of one direction (browser: the console phone and the terminal client).', schema: { type: 'string', enum: ['inbound', 'outbound', 'browser'] } },
  { name: 'endReason', in: 'query', description: 'Only calls that ended for this reason.', schema: { type: 'string', minLength: 1, maxLength: 100 } },
  { name: 'cursor', in: 'query', description: '`nextCursor` of the previous page.', schema: { type: 'string', minLength: 1 } },
  { name: 'limit', in: 'query', description: 'Calls per page.', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
];

const listItemProperties: Readonly<Record<string, JsonSchema>> = {
  callSid: { type: 'string', description: "Twilio's Call SID." },
  streamSid: nullable('string', "Twilio's Media Stream SID; null when the stream never started."),
  direction: { type: 'string', enum: ['inbound', 'outbound', 'browser'] },
  from: { type: 'string', description: "The caller's number (E.164, or `client:…`/`anonymous` as Twilio reports it)." },
  to: { type: 'string', description: 'The called number.' },
  agent: { type: 'string', description: 'The agent that handled the call.' },
  provider: { type: 'string', description: 'The voice provider that ran the agent (`openai`, `elevenlabs`, …).' },
  model: nullable('string', 'The model the provider ran, when known.'),
  startedAtEpochMs: integer('When the call started, ms since the epoch.'),
  answeredAtEpochMs: nullable('integer', 'Outbound: the callee answered; inbound: the stream started. Null when never answered.'),
  endedAtEpochMs: integer('When the call ended, ms since the epoch.'),
  durationMs: integer('startedAt → endedAt.'),
  endReason: { type: 'string', description: 'Why the call ended (`caller_hung_up`, `agent_hung_up`, `transferred`, …).' },
  finalStatus: nullable('string', "Outbound: Twilio's last call status (completed, busy, no-answer, …); null for inbound."),
  answeredBy: nullable('string', "Outbound: answering machine detection's verdict; null when not asked."),
  usage: ref('TokenUsage'),
  cost: ref('CostBreakdown'),
  recording: { oneOf: [ref('RecordingInfo'), { type: 'null' }], description: 'Null when the call was not recorded.' },
  counters: { type: 'object', additionalProperties: { type: 'number' }, description: 'Media counters (frames, underruns, gaps, …).' },
};

const schemas: Readonly<Record<string, JsonSchema>> = {
  Error: closed('Every API error.', {
    error: closed('What went wrong.', {
      code: { type: 'string', description: 'Stable, machine-readable.' },
      message: { type: 'string', description: 'For people; may change.' },
    }),
  }),
  TokenUsage: closed('Tokens the provider billed for the call.', {
    inputTokens: integer('All input tokens.'),
    outputTokens: integer('All output tokens.'),
    inputAudioTokens: integer('Input audio tokens.'),
    outputAudioTokens: integer('Output audio tokens.'),
    cachedTokens: integer('Cached input tokens.'),
  }),
  CostBreakdown: closed('What the call cost at the provider.', {
    totalUsd: { type: 'number', minimum: 0, description: 'USD, rounded to 1e-6.' },
    priceModel: nullable('string', 'The price table entry used; null when the model has no price (cost 0).'),
  }),
  RecordingInfo: closed('The call recording (WAV), downloadable at `/api/calls/{callSid}/recording.wav`.', {
    file: { type: 'string', description: 'File name in the recordings directory.' },
    durationMs: integer('Length of the audio.'),
    bytes: integer('File size.'),
  }),
  TranscriptLine: closed('One line of the transcript as the caller heard it. `atMs`: ms since the call started.', {
    seq: integer('Order within the call.'),
    atMs: integer('Caller lines: end of their turn; agent lines: first audio sent.'),
    speaker: { type: 'string', enum: ['caller', 'agent'] },
    itemId: { type: 'string', description: "The provider's item id." },
    text: { type: 'string', description: 'For an interrupted agent line: only what the caller heard.' },
    interrupted: { type: 'boolean', description: 'The caller talked over this answer.' },
    heardMs: nullable('integer', 'Agent lines: ms of audio the caller heard; null when not measured.'),
    fullText: nullable('string', 'Interrupted lines: what the agent meant to say; null otherwise.'),
  }),
  TurnRecord: closed('One caller turn and how fast the agent answered, measured at the bridge.', {
    turn: integer('1, 2, … in the call.', 1),
    callerStoppedAtMs: integer('End of the caller speech that ended the turn, ms since call start.'),
    firstAudioAtMs: nullable('integer', 'First agent audio of the answer sent to Twilio; null when never answered.'),
    latencyMs: nullable('integer', 'callerStoppedAtMs → firstAudioAtMs; null when never answered.'),
  }),
  ResponseRecord: closed('One agent response.', {
    responseId: { type: 'string' },
    startedAtMs: integer('ms since call start.'),
    firstAudioAtMs: nullable('integer', 'First audio sent to the caller; null when it said nothing.'),
    firstAudioLatencyMs: nullable('integer', 'startedAtMs → firstAudioAtMs (provider + bridge).'),
    status: nullable('string', "The provider's final status of the response."),
  }),
  RecordEvent: closed('Something else that happened, on the call time axis. `data` is redacted of secrets.', {
    seq: integer('Order within the call.'),
    atMs: integer('ms since call start.'),
    type: { type: 'string', enum: ['dtmf', 'tool_call', 'transfer', 'hang_up', 'barge_in', 'fault', 'provider_fallback', 'call_status', 'answered_by'] },
    data: { type: 'object' },
  }),
  CallListItem: closed('One call in a list: the record without transcript, turns, responses and events.', listItemProperties),
  CallRecord: closed('Everything kept about one finished call.', {
    ...listItemProperties,
    transcript: { type: 'array', items: ref('TranscriptLine') },
    turns: { type: 'array', items: ref('TurnRecord') },
    responses: { type: 'array', items: ref('ResponseRecord') },
    events: { type: 'array', items: ref('RecordEvent') },
  }),
  CallPage: closed('One page of calls, newest first.', {
    calls: { type: 'array', items: ref('CallListItem') },
    nextCursor: nullable('string', 'Pass as `cursor` for the next page; null on the last page.'),
  }),
  OutboundCallRequest: {
    type: 'object',
    description: 'A call to place.',
    properties: {
      to: { type: 'string', pattern: '^\\+[1-9][0-9]{6,14}$', description: 'The number to call, E.164.' },
      agent: { type: 'string', minLength: 1, description: 'The agent that talks to the callee.' },
      variables: {
        type: 'object',
        maxProperties: 32,
        propertyNames: { pattern: '^(?!__)[A-Za-z_][A-Za-z0-9_]{0,63}$' },
        additionalProperties: { type: 'string', maxLength: 1000 },
        description: "Values for the agent's `{{custom.NAME}}` variables (instructions, greeting, voicemail message).",
      },
    },
    required: ['to', 'agent'],
    additionalProperties: false,
  },
  OutboundCallAccepted: closed('The call was handed to Twilio, or waits for the rate limit.', {
    requestId: { type: 'string', pattern: '^OR[0-9a-f]{32}$', description: 'This request; follow it with GET /api/outbound/{id}.' },
    callSid: nullable('string', "Twilio's Call SID (the record appears under it when the call has ended); null while waiting for the rate limit."),
    status: { type: 'string', description: '`queued` (at Twilio) or `waiting` (for the rate limit here).' },
  }),
  OutboundProgress: closed('An outbound call as it happens.', {
    requestId: { type: 'string' },
    callSid: nullable('string'),
    to: { type: 'string' },
    agent: { type: 'string' },
    status: { type: 'string', description: '`waiting`, then Twilio statuses: queued, initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled.' },
    answeredBy: nullable('string', 'Answering-machine detection: human, machine_start, machine_end_beep, …'),
    durationS: nullable('integer'),
    history: { type: 'array', items: closed('A status and when it was reported.', { atEpochMs: integer('ms since the epoch'), status: { type: 'string' } }) },
  }),
};

export const openApiDocument: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'callbridge API',
    version: '1.0.0',
    description: 'Call records (transcripts, latencies, costs, recordings) and outbound calls. Authenticate with `Authorization: Bearer <CALLBRIDGE_API_KEY>`.',
  },
  security: [{ bearerAuth: [] }],
  paths: {
    '/api/calls': {
      get: {
        operationId: 'listCalls',
        summary: 'List finished calls, newest first',
        tags: ['records'],
        parameters: listParameters,
        responses: {
          '200': { description: 'One page of calls.', content: json(ref('CallPage')) },
          '400': errorResponse('A bad query parameter or cursor', ['bad_parameter', 'bad_cursor']),
          '401': unauthorized,
          '404': apiOff([]),
          '500': internal,
          '503': recordsUnavailable,
        },
      },
      post: {
        operationId: 'placeCall',
        summary: 'Place an outbound call with an agent',
        tags: ['calls'],
        requestBody: { required: true, content: json(ref('OutboundCallRequest')) },
        responses: {
          '202': { description: 'The call is queued at Twilio.', content: json(ref('OutboundCallAccepted')) },
          '400': errorResponse('A malformed body or number, or Twilio refused the call (its code in the message)', ['bad_request', 'invalid_number', 'twilio_rejected']),
          '401': unauthorized,
          '403': errorResponse('This destination may not be called', ['destination_not_allowed']),
          '404': apiOff(['unknown_agent']),
          '429': errorResponse('Too many calls waiting for the rate limit, or the daily spend cap is reached', ['rate_limited', 'spend_cap']),
          '500': internal,
          '503': errorResponse('Outbound calling is not configured, or this instance is draining', ['outbound_unavailable', 'draining']),
        },
      },
    },
    '/api/outbound/{id}': {
      get: {
        operationId: 'getOutboundProgress',
        summary: 'An outbound call’s progress, by request id or Call SID (kept 10 minutes after it ended)',
        tags: ['calls'],
        parameters: [{ name: 'id', in: 'path', required: true, description: 'The requestId or the callSid.', schema: { type: 'string' } }],
        responses: {
          '200': { description: 'The progress.', content: json(ref('OutboundProgress')) },
          '401': unauthorized,
          '404': apiOff(['not_found']),
        },
      },
    },
    '/api/calls/{callSid}': {
      get: {
        operationId: 'getCall',
        summary: 'One call with its transcript, turns, responses and events',
        tags: ['records'],
        parameters: [callSidParameter],
        responses: {
          '200': { description: 'The call record.', content: json(ref('CallRecord')) },
          '400': errorResponse('Not a Call SID', ['bad_parameter']),
          '401': unauthorized,
          '404': apiOff(['not_found']),
          '500': internal,
          '503': recordsUnavailable,
        },
      },
    },
    '/api/instances': {
      get: {
        operationId: 'listInstances',
        summary: 'Every instance of the cluster (this one alone when not clustered) with its calls, capacity and state',
        tags: ['operations'],
        responses: {
          '200': {
            description: 'The instances.',
            content: json({
              type: 'object',
              required: ['instances'],
              properties: {
                instances: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['instanceId', 'publicUrl', 'activeCalls', 'maxCalls', 'draining', 'alive'],
                    properties: {
                      instanceId: { type: 'string' },
                      publicUrl: { type: 'string' },
                      activeCalls: { type: 'integer' },
                      maxCalls: { type: 'integer' },
                      draining: { type: 'boolean' },
                      alive: { type: 'boolean', description: 'Heard from within three heartbeats.' },
                      startedAtEpochMs: { type: 'integer' },
                      heartbeatAtEpochMs: { type: 'integer' },
                    },
                  },
                },
              },
            }),
          },
          '401': unauthorized,
          '404': apiOff([]),
          '500': internal,
        },
      },
    },
    '/api/calls/{callSid}/recording.wav': {
      get: {
        operationId: 'getCallRecording',
        summary: 'The call recording (WAV); supports Range requests',
        tags: ['records'],
        parameters: [callSidParameter],
        responses: {
          '200': { description: 'The whole file.', content: { 'audio/wav': { schema: { type: 'string', contentMediaType: 'audio/wav' } } } },
          '206': {
            description: 'The requested byte range.',
            headers: { 'Content-Range': { description: '`bytes start-end/size`', schema: { type: 'string' } } },
            content: { 'audio/wav': { schema: { type: 'string', contentMediaType: 'audio/wav' } } },
          },
          '400': errorResponse('Not a Call SID', ['bad_parameter']),
          '401': unauthorized,
          '404': apiOff(['not_found', 'no_recording']),
          '416': errorResponse('The range is outside the file', ['range_not_satisfiable']),
          '500': internal,
          '503': recordsUnavailable,
        },
      },
    },
    '/api/openapi.json': {
      get: {
        operationId: 'getOpenApi',
        summary: 'This document',
        tags: ['meta'],
        security: [],
        responses: { '200': { description: 'The OpenAPI 3.1 document.', content: json({ type: 'object' }) } },
      },
    },
  },
  components: {
    schemas,
    securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'CALLBRIDGE_API_KEY' } },
  },
};
