/**
 * `/console/phone`: call an agent from the browser (microphone and speakers, no phone line). The audio and the socket
 * live in PhoneSession (web/phone/phone-session.ts); this page picks the agent and shows the call.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AgentInfo, PhoneToken } from '../../lib/api-types.js';
import { PhoneSession, type PhoneView } from '../../phone/phone-session.js';
import { phoneSocketUrl } from '../../phone/protocol.js';
import { api } from '../api.js';
import { useApi, usePageTitle } from '../hooks.js';

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

/** Where the worklet modules are: next to this bundle (dist/web/assets/, served at /console/assets/). */
const ASSET_BASE = new URL('./', import.meta.url).href;

async function socketUrlFor(agent: string): Promise<string> {
  const token = await api<PhoneToken>('/console/api/phone-token', { method: 'POST', body: { agent } });
  return phoneSocketUrl(token.url, window.location.href);
}

export function PhonePage({ search }: { search: string }) {
  const heading = usePageTitle('Phone');
  const agents = useApi<{ agents: AgentInfo[] }>('/console/api/agents');
  const [agent, setAgent] = useState(new URLSearchParams(search).get('agent') ?? '');
  const [view, setView] = useState<PhoneView | null>(null);
  const [typed, setTyped] = useState('');
  const session = useRef<PhoneSession | null>(null);
  if (session.current === null) session.current = new PhoneSession(socketUrlFor, setView, ASSET_BASE);
  const phone = session.current;
  const current = view ?? phone.current;
  const active = current.state === 'connecting' || current.state === 'in-call';

  useEffect(() => {
    if (agents.state === 'ok' && agent === '' && agents.data.agents[0] !== undefined) setAgent(agents.data.agents[0].name);
  }, [agents.state]);
  // Leaving the page hangs up.
  useEffect(() => () => phone.hangUp(), []);

  const onTyped = (event: Event): void => {
    event.preventDefault();
    phone.sendText(typed);
    setTyped('');
  };

  return (
    <section>
      <h1 tabIndex={-1} ref={heading}>
        Phone
      </h1>
      <p class="muted">Talk to an agent with your microphone and speakers (headphones avoid echo).</p>
      <div class="phone-controls">
        <label>
          Agent{' '}
          <select value={agent} disabled={active || agents.state !== 'ok'} onChange={(event) => setAgent(event.currentTarget.value)} data-testid="phone-agent-select">
            {agents.state === 'ok' ? (
              agents.data.agents.map((item) => (
                <option key={item.name} value={item.name}>
                  {item.name} ({item.provider})
                </option>
              ))
            ) : (
              <option value="">{agents.state === 'loading' ? 'Loading…' : 'No agents'}</option>
            )}
          </select>
        </label>
        {active ? (
          <>
            <button type="button" class="danger" onClick={() => phone.hangUp()} data-testid="phone-hangup-button">
              Hang up
            </button>
            <button type="button" aria-pressed={current.muted} onClick={() => phone.setMuted(!current.muted)} data-testid="phone-mute-button">
              {current.muted ? 'Unmute' : 'Mute'}
            </button>
          </>
        ) : (
          <button type="button" class="primary" disabled={agent === ''} onClick={() => void phone.call(agent)} data-testid="phone-call-button">
            Call
          </button>
        )}
      </div>
      {agents.state === 'error' ? (
        <p class="error" role="alert">
          {agents.error}
        </p>
      ) : null}
      <p class={`status status-${current.state}`} role="status" data-testid="phone-status" data-state={current.state}>
        {statusText(current)}
      </p>
      {current.state === 'in-call' ? (
        <div class="phone-extras">
          <form onSubmit={onTyped} class="inline-form">
            <label for="phone-text">Type a line</label>
            <input id="phone-text" value={typed} onInput={(event) => setTyped(event.currentTarget.value)} data-testid="phone-text-input" />
            <button type="submit" disabled={typed.trim() === ''}>
              Send
            </button>
          </form>
          <div class="keypad" role="group" aria-label="Keypad">
            {KEYS.map((key) => (
              <button key={key} type="button" onClick={() => phone.sendDigit(key)} aria-label={`Key ${key}`}>
                {key}
              </button>
            ))}
          </div>
        </div>
      ) : null}
      <ol class="transcript" aria-label="Transcript" aria-live="polite">
        {current.transcript.map((line) => (
          <li key={`${line.speaker}:${line.itemId}`} class={`line ${line.speaker}${line.final ? '' : ' interim'}`} data-testid="phone-transcript-line" data-speaker={line.speaker} data-final={String(line.final)}>
            <span class="who">{line.speaker === 'agent' ? 'Agent' : 'You'}</span> <span class="text">{line.text}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

function statusText(view: PhoneView): string {
  switch (view.state) {
    case 'idle':
      return 'Ready.';
    case 'connecting':
      return view.detail;
    case 'in-call':
      return `In call with ${view.agent ?? 'the agent'}${view.callSid === null ? '' : ` (${view.callSid})`}.`;
    case 'ended':
    case 'error':
      return view.detail;
  }
}
