/**
 * `/console/calls/:callSid`: one finished call's record — metadata and cost, the transcript as the caller heard it
 * (interrupted agent lines show what was heard and what was meant), the recording with a player that highlights the
 * line being heard, and the timeline picture.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { CallRecord, TranscriptLine } from '../../lib/api-types.js';
import { formatDateTime, formatDuration, formatMs, formatOffset, formatUsd, unsaidPart } from '../../lib/format.js';
import { BASE } from '../../lib/route.js';
import { layoutTimeline, lineAt } from '../../lib/timeline.js';
import { useApi, usePageTitle } from '../hooks.js';
import { LoadStatus } from '../load-status.js';
import { Link } from '../router.js';
import { TimelineSvg } from './timeline-svg.js';

export function CallPage({ callSid }: { callSid: string }) {
  const heading = usePageTitle(`Call ${callSid}`);
  const loaded = useApi<CallRecord>(`/api/calls/${encodeURIComponent(callSid)}`);
  return (
    <section>
      <p class="crumbs">
        <Link href={`${BASE}/history`}>← History</Link>
      </p>
      <h1 tabIndex={-1} ref={heading}>
        Call <code>{callSid}</code>
      </h1>
      <LoadStatus loaded={loaded} />
      {loaded.state === 'ok' ? <CallRecordView record={loaded.data} /> : null}
    </section>
  );
}

function CallRecordView({ record }: { record: CallRecord }) {
  const layout = useMemo(() => layoutTimeline(record), [record]);
  const audio = useRef<HTMLAudioElement>(null);
  const [positionMs, setPositionMs] = useState<number | null>(null);
  const activeSeq = positionMs === null ? null : lineAt(layout.segments, positionMs);

  // While playing, follow the audio every frame (timeupdate alone is ~4 Hz); when paused, on seek.
  useEffect(() => {
    const element = audio.current;
    if (element === null) return;
    let frame = 0;
    const read = (): void => setPositionMs(element.currentTime * 1000);
    const loop = (): void => {
      read();
      frame = requestAnimationFrame(loop);
    };
    const onPlay = (): void => {
      cancelAnimationFrame(frame);
      loop();
    };
    const onPause = (): void => {
      cancelAnimationFrame(frame);
      read();
    };
    element.addEventListener('play', onPlay);
    element.addEventListener('pause', onPause);
    element.addEventListener('ended', onPause);
    element.addEventListener('seeked', read);
    element.addEventListener('timeupdate', read);
    return () => {
      cancelAnimationFrame(frame);
      element.removeEventListener('play', onPlay);
      element.removeEventListener('pause', onPause);
      element.removeEventListener('ended', onPause);
      element.removeEventListener('seeked', read);
      element.removeEventListener('timeupdate', read);
    };
  }, [record.recording]);

  const seek = (ms: number): void => {
    const element = audio.current;
    if (element === null) return;
    element.currentTime = ms / 1000;
    setPositionMs(ms);
  };

  return (
    <>
      <Metadata record={record} />
      <section aria-labelledby="recording-heading">
        <h2 id="recording-heading">Recording</h2>
        {record.recording === null ? (
          <p class="muted">This call was not recorded.</p>
        ) : (
          <audio
            ref={audio}
            controls
            preload="metadata"
            src={`/api/calls/${encodeURIComponent(record.callSid)}/recording.wav`}
            data-testid="recording-player"
            aria-label="Call recording"
          />
        )}
      </section>
      <section aria-labelledby="timeline-heading">
        <h2 id="timeline-heading">Timeline</h2>
        <div class="timeline-wrap">
          <TimelineSvg layout={layout} playheadMs={positionMs} activeSeq={activeSeq} {...(record.recording === null ? {} : { onSeek: seek })} />
        </div>
        <p class="muted small">Hover for details. Speech lengths not measured by the bridge are estimated from the text (drawn lighter).</p>
      </section>
      <section aria-labelledby="transcript-heading">
        <h2 id="transcript-heading">Transcript</h2>
        {record.transcript.length === 0 ? <p class="empty">Nobody said anything.</p> : null}
        <ol class="transcript">
          {record.transcript.map((line) => (
            <TranscriptItem key={line.seq} line={line} active={line.seq === activeSeq} {...(record.recording === null ? {} : { onSeek: seek })} />
          ))}
        </ol>
      </section>
      <Details record={record} />
    </>
  );
}

function TranscriptItem({ line, active, onSeek }: { line: TranscriptLine; active: boolean; onSeek?: (ms: number) => void }) {
  const at = formatOffset(line.atMs);
  return (
    <li
      class={`line ${line.speaker}${line.interrupted ? ' interrupted' : ''}${active ? ' active' : ''}`}
      data-testid="call-transcript-line"
      data-seq={line.seq}
      data-speaker={line.speaker}
      data-active={active ? 'true' : undefined}
      aria-current={active ? 'true' : undefined}
    >
      {onSeek === undefined ? (
        <span class="at">{at}</span>
      ) : (
        <button type="button" class="at link-button" onClick={() => onSeek(line.atMs)} aria-label={`Play from ${at}`}>
          {at}
        </button>
      )}{' '}
      <span class="who">{line.speaker === 'agent' ? 'Agent' : 'Caller'}</span> <span class="text">{line.text}</span>
      {line.interrupted ? (
        <div class="cut">
          <span class="tag">interrupted</span>
          {line.heardMs === null ? null : <span> heard {(line.heardMs / 1000).toFixed(1)} s</span>}
          {line.fullText === null ? null : <MeantToSay heard={line.text} fullText={line.fullText} />}
        </div>
      ) : null}
    </li>
  );
}

function MeantToSay({ heard, fullText }: { heard: string; fullText: string }) {
  const unsaid = unsaidPart(heard, fullText);
  return (
    <span>
      {' '}
      — the agent meant to say:{' '}
      {unsaid === null ? (
        <q>{fullText}</q>
      ) : (
        <q>
          {heard.trim()}
          <del class="unsaid" title="not heard">
            {unsaid}
          </del>
        </q>
      )}
    </span>
  );
}

function Fact({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function Metadata({ record }: { record: CallRecord }) {
  const latencies = record.turns.map((turn) => turn.latencyMs).filter((ms): ms is number => ms !== null);
  const mean = latencies.length === 0 ? null : latencies.reduce((sum, ms) => sum + ms, 0) / latencies.length;
  return (
    <dl class="facts wide" data-testid="call-metadata">
      <Fact label="From">{record.from}</Fact>
      <Fact label="To">{record.to}</Fact>
      <Fact label="Direction">{record.direction}</Fact>
      <Fact label="Agent">
        {record.agent} ({record.provider}
        {record.model === null ? '' : `, ${record.model}`})
      </Fact>
      <Fact label="Started">{formatDateTime(record.startedAtEpochMs)}</Fact>
      <Fact label="Duration">{formatDuration(record.durationMs)}</Fact>
      <Fact label="End reason">{record.endReason}</Fact>
      {record.finalStatus === null ? null : <Fact label="Final status">{record.finalStatus}</Fact>}
      {record.answeredBy === null ? null : <Fact label="Answered by">{record.answeredBy}</Fact>}
      <Fact label="Cost">
        <span data-testid="call-cost">{formatUsd(record.cost.totalUsd)}</span>
        {record.cost.priceModel === null ? ' (no price for this model)' : ` (${record.cost.priceModel})`}
      </Fact>
      <Fact label="Turns">
        {record.turns.length}, mean latency {formatMs(mean)}
      </Fact>
      <Fact label="Barge-ins">{record.events.filter((event) => event.type === 'barge_in').length}</Fact>
    </dl>
  );
}

function Details({ record }: { record: CallRecord }) {
  return (
    <details>
      <summary>Turns, responses, tokens and counters</summary>
      <h3>Turns</h3>
      <table>
        <thead>
          <tr>
            <th scope="col">Turn</th>
            <th scope="col">Caller stopped</th>
            <th scope="col">First agent audio</th>
            <th scope="col" class="num">
              Latency
            </th>
          </tr>
        </thead>
        <tbody>
          {record.turns.map((turn) => (
            <tr key={turn.turn}>
              <td>{turn.turn}</td>
              <td>{formatOffset(turn.callerStoppedAtMs)}</td>
              <td>{turn.firstAudioAtMs === null ? 'never' : formatOffset(turn.firstAudioAtMs)}</td>
              <td class="num">{formatMs(turn.latencyMs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Tokens</h3>
      <p>
        {record.usage.inputTokens} in ({record.usage.inputAudioTokens} audio, {record.usage.cachedTokens} cached), {record.usage.outputTokens} out ({record.usage.outputAudioTokens} audio)
      </p>
      <h3>Counters</h3>
      <dl class="facts">
        {Object.entries(record.counters).map(([name, value]) => (
          <Fact key={name} label={name}>
            {value}
          </Fact>
        ))}
      </dl>
    </details>
  );
}
