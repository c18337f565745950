/**
 * `/console`: the calls in progress, from the server-sent events of `/console/api/live` — a card per call with its
 * transcript growing line by line, barge-ins, tool calls and transfers, and a Hang up button.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { LiveCall } from '../../lib/api-types.js';
import { formatDuration, formatOffset } from '../../lib/format.js';
import { liveCallsFromSnapshot, withCallEnded, withCallEvent, withCallStarted, type FeedEntry, type LiveCalls, type LiveCallState } from '../../lib/live-merge.js';
import { callPath } from '../../lib/route.js';
import { api, errorText, loadSession, toSignIn } from '../api.js';
import { useNow, usePageTitle } from '../hooks.js';
import { Link } from '../router.js';

interface Ended {
  readonly callSid: string;
  readonly from: string;
  readonly agent: string;
  readonly endReason: string;
  readonly durationMs: number;
}

type Connection = 'connecting' | 'open' | 'retrying';

interface Board {
  readonly calls: LiveCalls;
  /** The last calls that ended here, newest first (links to their records). */
  readonly ended: readonly Ended[];
}

function boardAfterEnd(board: Board, data: { callSid: string; endReason: string; durationMs: number }): Board {
  const call = board.calls.get(data.callSid);
  if (call === undefined) return board;
  const entry: Ended = { callSid: data.callSid, from: call.info.from, agent: call.info.agent, endReason: data.endReason, durationMs: data.durationMs };
  return { calls: withCallEnded(board.calls, data.callSid), ended: [entry, ...board.ended.filter((item) => item.callSid !== data.callSid)].slice(0, 10) };
}

export function LivePage() {
  const heading = usePageTitle('Live calls');
  const [{ calls, ended }, setBoard] = useState<Board>({ calls: new Map(), ended: [] });
  const [connection, setConnection] = useState<Connection>('connecting');
  const [attempt, setAttempt] = useState(0);
  const now = useNow(1000);

  useEffect(() => {
    const source = new EventSource('/console/api/live');
    let retry: ReturnType<typeof setTimeout> | undefined;
    const on = (type: string, handle: (data: never) => void): void => {
      source.addEventListener(type, (event) => {
        try {
          handle(JSON.parse((event as MessageEvent<string>).data) as never);
        } catch {
          // a malformed message is skipped; the next snapshot puts things right
        }
      });
    };
    source.onopen = () => setConnection('open');
    on('snapshot', (data: { calls: LiveCall[] }) => setBoard((board) => ({ ...board, calls: liveCallsFromSnapshot(data.calls) })));
    on('call_started', (data: { call: LiveCall }) => setBoard((board) => ({ ...board, calls: withCallStarted(board.calls, data.call) })));
    on('call_event', (data: { callSid: string; event: LiveCall['events'][number] }) =>
      setBoard((board) => {
        const next = withCallEvent(board.calls, data.callSid, data.event);
        return next === board.calls ? board : { ...board, calls: next };
      }),
    );
    on('call_ended', (data: { callSid: string; endReason: string; durationMs: number }) => setBoard((board) => boardAfterEnd(board, data)));
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED) {
        setConnection('retrying'); // the browser reconnects by itself; a new snapshot follows
        return;
      }
      // Refused (not 200): signed out, or the server is gone. Ask which, then try again.
      setConnection('retrying');
      loadSession().then(
        (session) => {
          if (session === null) toSignIn();
          else retry = setTimeout(() => setAttempt((n) => n + 1), 3000);
        },
        () => {
          retry = setTimeout(() => setAttempt((n) => n + 1), 3000);
        },
      );
    };
    return () => {
      clearTimeout(retry);
      source.close();
    };
  }, [attempt]);

  const list = [...calls.values()];
  return (
    <section>
      <h1 tabIndex={-1} ref={heading}>
        Live calls <span class="count">{list.length}</span>
      </h1>
      <p class="muted" role="status" data-testid="live-connection">
        {connection === 'open' ? 'Live: updates as calls happen.' : connection === 'connecting' ? 'Connecting…' : 'Connection lost, reconnecting…'}
      </p>
      {list.length === 0 ? <p class="empty">No calls in progress.</p> : null}
      <div class="cards">
        {list.map((call) => (
          <LiveCallCard key={call.info.callSid} call={call} now={now} />
        ))}
      </div>
      {ended.length > 0 ? (
        <section aria-labelledby="ended-heading">
          <h2 id="ended-heading">Just ended</h2>
          <ul class="plain">
            {ended.map((item) => (
              <li key={item.callSid} data-testid="ended-call" data-call-sid={item.callSid}>
                <Link href={callPath(item.callSid)}>{item.from}</Link> with {item.agent}: {item.endReason}, {formatDuration(item.durationMs)}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </section>
  );
}

function LiveCallCard({ call, now }: { call: LiveCallState; now: number }) {
  const { info } = call;
  const [hangup, setHangup] = useState<{ state: 'idle' | 'busy' | 'sent' } | { state: 'error'; error: string }>({ state: 'idle' });
  const feedRef = useRef<HTMLOListElement>(null);
  const titleId = `call-${info.callSid}`;

  useEffect(() => {
    const feed = feedRef.current;
    if (feed !== null) feed.scrollTop = feed.scrollHeight;
  }, [call.feed]);

  const onHangUp = async (): Promise<void> => {
    setHangup({ state: 'busy' });
    try {
      await api(`/console/api/calls/${encodeURIComponent(info.callSid)}/hangup`, { method: 'POST', body: {} });
      setHangup({ state: 'sent' });
    } catch (error) {
      setHangup({ state: 'error', error: errorText(error) });
    }
  };

  return (
    <article class="card live-call" data-testid="live-call" data-call-sid={info.callSid} aria-labelledby={titleId}>
      <header class="card-head">
        <h2 id={titleId}>{info.from}</h2>
        <span class="duration" data-testid="live-duration">
          <span class="visually-hidden">Duration </span>
          {formatDuration(now - info.startedAtEpochMs)}
        </span>
      </header>
      <dl class="facts">
        <div>
          <dt>Agent</dt>
          <dd>{info.agent}</dd>
        </div>
        <div>
          <dt>Direction</dt>
          <dd>{info.direction}</dd>
        </div>
        <div>
          <dt>To</dt>
          <dd>{info.to}</dd>
        </div>
        <div>
          <dt>Barge-ins</dt>
          <dd data-testid="live-barge-ins">{call.bargeIns}</dd>
        </div>
        {info.instanceId === undefined ? null : (
          <div>
            <dt>Instance</dt>
            <dd data-testid="live-instance">{info.instanceId}</dd>
          </div>
        )}
        <div>
          <dt>Tool calls</dt>
          <dd data-testid="live-tool-calls">{call.toolCalls}</dd>
        </div>
        <div>
          <dt>Last latency</dt>
          <dd>{call.lastLatencyMs === null ? '—' : `${call.lastLatencyMs} ms`}</dd>
        </div>
      </dl>
      {call.transfer === null ? null : (
        <p class="banner" data-testid="live-transfer">
          Transferring{call.transfer.destination === null ? '' : ` to ${call.transfer.destination}`} ({call.transfer.reason})
        </p>
      )}
      <ol class="feed" ref={feedRef} aria-label="Transcript" aria-live="polite">
        {call.feed.map((entry) => (
          <FeedItem key={entry.key} entry={entry} />
        ))}
      </ol>
      <div class="actions">
        <button type="button" class="danger" data-testid="hangup-button" disabled={hangup.state === 'busy' || hangup.state === 'sent'} onClick={() => void onHangUp()}>
          {hangup.state === 'busy' ? 'Hanging up…' : hangup.state === 'sent' ? 'Hang-up sent' : 'Hang up'}
        </button>
        {hangup.state === 'error' ? (
          <span class="error" role="alert">
            {hangup.error}
          </span>
        ) : null}
      </div>
    </article>
  );
}

function FeedItem({ entry }: { entry: FeedEntry }) {
  const at = <span class="at">{formatOffset(entry.atMs)}</span>;
  switch (entry.kind) {
    case 'line':
      return (
        <li class={`line ${entry.speaker}${entry.final ? '' : ' interim'}${entry.interrupted ? ' interrupted' : ''}`} data-testid="live-transcript-line" data-speaker={entry.speaker} data-final={String(entry.final)}>
          {at} <span class="who">{entry.speaker === 'agent' ? 'Agent' : 'Caller'}</span> <span class="text">{entry.text}</span>
          {entry.interrupted ? <span class="tag">interrupted</span> : null}
        </li>
      );
    case 'barge_in':
      return (
        <li class="event barge" data-testid="live-barge-in">
          {at} Barge-in: the caller talked over the agent (heard {(entry.heardMs / 1000).toFixed(1)} s of {(entry.audioMs / 1000).toFixed(1)} s)
        </li>
      );
    case 'tool_call':
      return (
        <li class={`event tool${entry.ok ? '' : ' failed'}`} data-testid="live-tool-call">
          {at} Tool <code>{entry.name}</code>: {entry.ok ? 'ok' : 'failed'}, {entry.durationMs} ms
        </li>
      );
    case 'transfer':
      return (
        <li class="event transfer" data-testid="live-transfer-event">
          {at} Transfer{entry.destination === null ? '' : ` to ${entry.destination}`}: {entry.reason}
        </li>
      );
    case 'hang_up':
      return (
        <li class="event">
          {at} Ending: {entry.reason}
        </li>
      );
    case 'fault':
      return (
        <li class="event failed">
          {at} Fault: {entry.message} → {entry.recovery}
        </li>
      );
    case 'dtmf':
      return (
        <li class="event">
          {at} Key pressed: {entry.digit}
        </li>
      );
  }
}
