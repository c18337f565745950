/**
 * A scripted function call as the response's one output item, sent whole and unpaced: the item added with no
 * arguments, the arguments in a few `response.function_call_arguments.delta` pieces, `.done`, the item done. The
 * streamer sends `response.done`; the client runs the function and answers with a `function_call_output` item.
 */
import type { RealtimeConversationItemFunctionCall } from 'openai/resources/realtime/realtime';
import type { ConversationStore } from './conversation.js';
import type { ScriptedResponse } from './replies.js';
import type { SessionContext, SimulatedResponseRecord } from './session-types.js';

export function emitFunctionCall(
  context: SessionContext,
  conversation: ConversationStore,
  record: SimulatedResponseRecord,
  scripted: Extract<ScriptedResponse, { kind: 'function_call' }>,
): RealtimeConversationItemFunctionCall {
  const callId = scripted.callId ?? context.newId('call');
  record.callId = callId;
  record.functionName = scripted.name;
  conversation.addFunctionCall(record.itemId, callId);
  const pending: RealtimeConversationItemFunctionCall = {
    id: record.itemId,
    object: 'realtime.item',
    type: 'function_call',
    status: 'in_progress',
    name: scripted.name,
    call_id: callId,
    arguments: '',
  };
  const ids = { response_id: record.id, item_id: record.itemId, output_index: 0, call_id: callId };
  context.emit({ type: 'response.output_item.added', response_id: record.id, output_index: 0, item: pending });
  context.emit({ type: 'conversation.item.added', previous_item_id: conversation.previousOf(record.itemId), item: pending });
  const pieceLength = Math.max(1, Math.ceil(scripted.arguments.length / 3));
  for (let offset = 0; offset < scripted.arguments.length; offset += pieceLength) {
    context.emit({ type: 'response.function_call_arguments.delta', ...ids, delta: scripted.arguments.slice(offset, offset + pieceLength) });
  }
  context.emit({ type: 'response.function_call_arguments.done', ...ids, name: scripted.name, arguments: scripted.arguments });
  const item: RealtimeConversationItemFunctionCall = { ...pending, status: 'completed', arguments: scripted.arguments };
  context.emit({ type: 'response.output_item.done', response_id: record.id, output_index: 0, item });
  context.emit({ type: 'conversation.item.done', previous_item_id: conversation.previousOf(record.itemId), item });
  return item;
}
