/** `/console/agents`: the agents this server runs (read-only, from `GET /console/api/agents`). */
import type { AgentInfo } from '../../lib/api-types.js';
import { BASE } from '../../lib/route.js';
import { useApi, usePageTitle } from '../hooks.js';
import { LoadStatus } from '../load-status.js';
import { Link } from '../router.js';

export function AgentsPage() {
  const heading = usePageTitle('Agents');
  const loaded = useApi<{ agents: AgentInfo[] }>('/console/api/agents');
  return (
    <section>
      <h1 tabIndex={-1} ref={heading}>
        Agents
      </h1>
      <LoadStatus loaded={loaded} />
      {loaded.state === 'ok' && loaded.data.agents.length === 0 ? <p class="empty">No agents configured.</p> : null}
      <div class="cards">
        {loaded.state === 'ok'
          ? loaded.data.agents.map((agent) => (
              <article key={agent.name} class="card" data-testid="agent-card" data-agent={agent.name} aria-labelledby={`agent-${agent.name}`}>
                <h2 id={`agent-${agent.name}`}>{agent.name}</h2>
                <dl class="facts">
                  <div>
                    <dt>Provider</dt>
                    <dd>{agent.provider}</dd>
                  </div>
                  <div>
                    <dt>Numbers</dt>
                    <dd>{agent.numbers.length === 0 ? '—' : agent.numbers.join(', ')}</dd>
                  </div>
                  <div>
                    <dt>Recording</dt>
                    <dd>{agent.recording ? 'on' : 'off'}</dd>
                  </div>
                </dl>
                <h3>Tools</h3>
                {agent.tools.length === 0 ? (
                  <p class="muted">None.</p>
                ) : (
                  <ul class="plain">
                    {agent.tools.map((tool) => (
                      <li key={tool.name}>
                        <code>{tool.name}</code> — {tool.description}
                      </li>
                    ))}
                  </ul>
                )}
                <h3>Transfer destinations</h3>
                {agent.destinations.length === 0 ? (
                  <p class="muted">None.</p>
                ) : (
                  <ul class="plain">
                    {agent.destinations.map((destination) => (
                      <li key={destination.name}>
                        {destination.name}: {destination.number}
                      </li>
                    ))}
                  </ul>
                )}
                <p>
                  <Link href={`${BASE}/phone?agent=${encodeURIComponent(agent.name)}`}>Call it from the browser</Link>
                </p>
              </article>
            ))
          : null}
      </div>
    </section>
  );
}
