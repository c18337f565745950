/**
 * One-time tokens that tie a Media Streams connection to the webhook that admitted it. The webhook issues one and
 * puts it in a `<Parameter>`; the stream presents it in `start.customParameters` and it is consumed. A stream
 * without a live token was not announced by a (signed) webhook of ours.
 */
import { OneTimeTokens, type OneTimeTokensOptions } from '../net/one-time-tokens.js';

export interface StreamTokenInfo {
  callSid: string;
  from: string;
  to: string;
  /** The agent that answers this stream (chosen by the webhook from the called number). */
  agentName?: string;
  /** Instructions for the agent's first words on a resumed stream (e.g. after a failed transfer). */
  resumeNote?: string;
  /** An outbound call we placed (its job knows the rest). */
  direction?: 'outbound';
  /** Variables given with an outbound call (`{{custom.NAME}}` in the agent's templates). */
  custom?: Readonly<Record<string, string>>;
}

export type StreamTokenRegistryOptions = OneTimeTokensOptions;

export class StreamTokenRegistry extends OneTimeTokens<StreamTokenInfo> {}
